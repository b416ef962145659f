//! Comments in the API.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{caller, connection, parse_id};
use super::user::{User, load_user};
use super::xp::XpAward;
use crate::comments::{self, CommentRecord};
use crate::error::AppError;

pub struct Comment(pub CommentRecord);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        load_user(ctx, self.0.author_id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("comment {} has no author", self.0.id)))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A comment and the story author's award (null when nothing was earned).
#[derive(SimpleObject)]
pub struct CommentPayload {
    comment: Comment,
    xp_earned: Option<XpAward>,
}

#[derive(Default)]
pub struct CommentMutation;

#[Object]
impl CommentMutation {
    /// Comments on a published story (or your own); `xpEarned` is the author's award.
    async fn comment_on_story(
        &self,
        ctx: &Context<'_>,
        story_id: ID,
        body: String,
    ) -> Result<CommentPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let mut connection = connection(ctx).await?;
        let (comment, award) =
            comments::comment(&mut connection, caller(ctx), story_id, body).await?;
        Ok(CommentPayload {
            comment: Comment(comment),
            xp_earned: award.map(XpAward),
        })
    }
}
