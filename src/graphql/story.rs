//! Stories in the API: reading, writing, publishing, liking and deleting.

use std::borrow::Cow;

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::comment::Comment;
use super::context::{caller, connection, parse_id};
use super::loaders::{loaders, shared_error};
use super::pagination::{IdCursor, PageRequest};
use super::user::{User, load_user};
use super::xp::XpAward;
use crate::error::AppError;
use crate::stories::{self, LikeRequest, StoryHeader, StoryOutcome, StoryRecord};

pub struct Story {
    record: StoryHeader,
    /// The text; None when the statement that produced the story left it out
    /// (likeStory): read only if `content` is asked for.
    content: Option<String>,
    /// The like count when the statement that produced the story already counted them
    /// (likeStory, createStory): no second query for `likeCount`.
    like_count: Option<i64>,
}

impl From<StoryRecord> for Story {
    fn from(record: StoryRecord) -> Self {
        let (record, content) = record.split();
        Self {
            record,
            content: Some(content),
            like_count: None,
        }
    }
}

#[Object]
impl Story {
    async fn id(&self) -> ID {
        ID(self.record.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.record.title
    }
    async fn content(&self, ctx: &Context<'_>) -> Result<Cow<'_, str>, AppError> {
        Ok(match &self.content {
            Some(content) => Cow::Borrowed(content),
            None => {
                let mut connection = connection(ctx).await?;
                Cow::Owned(stories::text(&mut connection, self.record.id).await?)
            }
        })
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        load_user(ctx, self.record.author_id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("story {} has no author", self.record.id)))
    }
    async fn published(&self) -> bool {
        self.record.published
    }
    async fn like_count(&self, ctx: &Context<'_>) -> Result<i32, AppError> {
        let count = match self.like_count {
            Some(count) => count,
            None => loaders(ctx)?
                .like_counts()
                .load_one(self.record.id)
                .await
                .map_err(shared_error)?
                .unwrap_or(0),
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
    /// Comments, oldest first.
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<Comment>, AppError> {
        let comments = loaders(ctx)?
            .comments()
            .load_one(self.record.id)
            .await
            .map_err(shared_error)?;
        Ok(comments
            .unwrap_or_default()
            .into_iter()
            .map(Comment)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
}

/// A story and what the action earned; `xpEarned` is null when nothing was earned.
#[derive(SimpleObject)]
pub struct StoryPayload {
    story: Story,
    xp_earned: Option<XpAward>,
}

impl From<StoryOutcome> for StoryPayload {
    fn from(outcome: StoryOutcome) -> Self {
        Self {
            story: Story {
                record: outcome.story,
                content: outcome.content,
                like_count: outcome.like_count,
            },
            xp_earned: outcome.award.map(XpAward),
        }
    }
}

#[derive(SimpleObject)]
pub struct UnlikeStoryPayload {
    story: Story,
}

#[derive(SimpleObject)]
pub struct DeleteStoryPayload {
    deleted_story_id: ID,
}

#[derive(InputObject)]
pub struct CreateStoryInput {
    /// 1 to 200 characters.
    title: String,
    /// Up to 100,000 characters.
    content: String,
}

#[derive(Default)]
pub struct StoryQuery;

#[Object]
impl StoryQuery {
    /// A story, if it is published or the caller wrote it.
    async fn story(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Story>, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        Ok(stories::find_visible(&mut connection, caller(ctx), id)
            .await?
            .map(Story::from))
    }

    /// Published stories (and the caller's own drafts), newest first.
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn stories(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        author_id: Option<ID>,
    ) -> Result<Connection<IdCursor, Story>, AppError> {
        let page = PageRequest::parse(first, after)?;
        let author = author_id.map(|id| parse_id(&id, "user")).transpose()?;
        let mut connection = connection(ctx).await?;
        let rows = stories::list(
            &mut connection,
            caller(ctx),
            author,
            page.after,
            page.fetch_limit(),
        )
        .await?;
        Ok(page.connection(rows, |row| row.id, Story::from))
    }
}

#[derive(Default)]
pub struct StoryMutation;

#[Object]
impl StoryMutation {
    async fn create_story(
        &self,
        ctx: &Context<'_>,
        input: CreateStoryInput,
    ) -> Result<StoryPayload, AppError> {
        let author = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        Ok(
            stories::create(&mut connection, author, input.title, input.content)
                .await?
                .into(),
        )
    }

    async fn publish_story(&self, ctx: &Context<'_>, id: ID) -> Result<StoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        Ok(stories::publish(&mut connection, caller(ctx), id)
            .await?
            .into())
    }

    /// Likes a story; `xpEarned` is the author's award.
    async fn like_story(&self, ctx: &Context<'_>, id: ID) -> Result<StoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let like = LikeRequest::new(id, caller(ctx).require_user()?);
        let outcome = loaders(ctx)?
            .likes()
            .load_one(like)
            .await
            .map_err(shared_error)?
            .ok_or_else(|| AppError::not_found("story"))?
            .map_err(shared_error)?;
        Ok(outcome.into())
    }

    /// Reads a story; `xpEarned` is the reader's award.
    async fn read_story(&self, ctx: &Context<'_>, id: ID) -> Result<StoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        Ok(stories::read(&mut connection, caller(ctx), id)
            .await?
            .into())
    }

    async fn unlike_story(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<UnlikeStoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        let story = stories::unlike(&mut connection, caller(ctx), id).await?;
        Ok(UnlikeStoryPayload {
            story: Story::from(story),
        })
    }

    /// Deletes the caller's story. XP it earned stays.
    async fn delete_story(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<DeleteStoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        let deleted = stories::delete(&mut connection, caller(ctx), id).await?;
        Ok(DeleteStoryPayload {
            deleted_story_id: ID(deleted.to_string()),
        })
    }
}
