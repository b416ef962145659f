//! Comments on stories; the story's author earns STORY_COMMENTED once per commenter.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::auth::Caller;
use crate::db::schema::comments;
use crate::domain::stories::require_visible;
use crate::error::AppError;
use crate::xp::activity::lock_users;
use crate::xp::rules::{Activity, Subject};
use crate::xp::{Award, AwardRequest, XpAction, award, record_activity};

pub const BODY_MAX_CHARS: usize = 10_000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = comments, check_for_backend(diesel::pg::Pg))]
pub struct CommentRecord {
    pub id: i64,
    pub story_id: i64,
    pub author_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// What a comment came to: the story author's award (none for commenting on your own
/// story or commenting again) and the commenter's own (a streak bonus).
pub struct Commented {
    pub comment: CommentRecord,
    pub award: Option<Award>,
    pub caller_award: Option<Award>,
}

/// Comments on a visible story (published, or the caller's own).
pub async fn comment(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    story_id: i64,
    body: String,
) -> Result<Commented, AppError> {
    let user = caller.require_user()?;
    let body = body.trim().to_string();
    if body.is_empty() {
        return Err(AppError::BadUserInput("a comment cannot be empty".into()));
    }
    if body.chars().count() > BODY_MAX_CHARS {
        return Err(AppError::BadUserInput(format!(
            "a comment is at most {BODY_MAX_CHARS} characters"
        )));
    }
    connection
        .transaction(async move |connection| {
            let story = require_visible(connection, caller, story_id).await?;
            let comment: CommentRecord = diesel::insert_into(comments::table)
                .values((
                    comments::story_id.eq(story_id),
                    comments::author_id.eq(user),
                    comments::body.eq(&body),
                ))
                .returning(CommentRecord::as_returning())
                .get_result(connection)
                .await?;
            lock_users(connection, &[user, story.author_id]).await?;
            let own = story.author_id == user;
            let caller_award = record_activity(
                connection,
                user,
                Activity::CommentOnStory {
                    story: story_id,
                    own,
                },
            )
            .await?;
            let rule = XpAction::StoryCommented.rule();
            let award = match rule.story_recipient(story.author_id, user)? {
                None => None,
                Some(recipient) => {
                    let subject = Subject::StoryBy {
                        story: story_id,
                        user,
                    };
                    award(
                        connection,
                        AwardRequest::new(recipient, XpAction::StoryCommented, subject),
                    )
                    .await?
                }
            };
            Ok(Commented {
                comment,
                award,
                caller_award,
            })
        })
        .await
}

/// The comments of the given stories, oldest first.
pub async fn for_stories(
    connection: &mut AsyncPgConnection,
    stories: &[i64],
) -> Result<Vec<CommentRecord>, AppError> {
    Ok(comments::table
        .filter(comments::story_id.eq_any(stories))
        .order(comments::id.asc())
        .select(CommentRecord::as_select())
        .load(connection)
        .await?)
}
