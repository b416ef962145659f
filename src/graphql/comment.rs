//! Comments in the API.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{caller, connection, count_awards, parse_id};
use super::user::{User, load_user};
use super::xp::XpAward;
use crate::domain::stories::comments::{self, CommentRecord};
use crate::error::AppError;

pub struct Comment(pub CommentRecord);

/// A comment on a story, visible to whoever can see the story.
#[Object]
impl Comment {
    /// The comment's stable id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The text: 1 to 10,000 characters, trimmed.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// The user who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        load_user(ctx, self.0.author_id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("comment {} has no author", self.0.id)))
    }
    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A comment and the story author's award (null when nothing was earned).
#[derive(SimpleObject)]
pub struct CommentPayload {
    /// The new comment.
    comment: Comment,
    /// The story author's STORY_COMMENTED award, once per commenter and story; null for a
    /// comment on your own story or a further comment of yours on that story.
    xp_earned: Option<XpAward>,
    /// What the call earned the commenter: a STREAK_BONUS (the first activity of a
    /// local date with a streak of 2 or more days); null when nothing.
    caller_xp_earned: Option<XpAward>,
}

#[derive(Default)]
pub struct CommentMutation;

#[Object]
impl CommentMutation {
    /// Comments on a published story (or your own; else NOT_FOUND); `xpEarned` is the
    /// author's award.
    async fn comment_on_story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the story to comment on.")] story_id: ID,
        #[graphql(
            desc = "The comment: 1 to 10,000 characters once trimmed; blank or longer is \
                    BAD_USER_INPUT."
        )]
        body: String,
    ) -> Result<CommentPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let mut connection = connection(ctx).await?;
        let commented = comments::comment(&mut connection, caller(ctx), story_id, body).await?;
        count_awards(ctx, commented.award.iter().chain(&commented.caller_award));
        Ok(CommentPayload {
            comment: Comment(commented.comment),
            xp_earned: commented.award.map(XpAward),
            caller_xp_earned: commented.caller_award.map(XpAward),
        })
    }
}
