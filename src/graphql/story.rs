//! Stories in the API: reading, writing, publishing, liking and deleting.

use std::borrow::Cow;

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::comment::Comment;
use super::context::{caller, connection, count_awards, parse_id, request_now};
use super::loaders::{loaders, shared_error};
use super::pagination::{IdCursor, PageRequest};
use super::user::{User, load_user};
use super::xp::XpAward;
use crate::domain::stories::likes::Likes;
use crate::domain::stories::{self, LikeRequest, StoryHeader, StoryOutcome, StoryRecord};
use crate::error::AppError;

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

/// A story. A published story is everyone's to read; a draft only its author's (to anyone
/// else it does not exist: `story` is null, mutations answer NOT_FOUND).
#[Object]
impl Story {
    /// The story's stable id, for `story(id)` and the story mutations.
    async fn id(&self) -> ID {
        ID(self.record.id.to_string())
    }
    /// 1 to 200 characters, trimmed.
    async fn title(&self) -> &str {
        &self.record.title
    }
    /// The text, up to 100,000 characters, as written (possibly empty).
    async fn content(&self, ctx: &Context<'_>) -> Result<Cow<'_, str>, AppError> {
        Ok(match &self.content {
            Some(content) => Cow::Borrowed(content),
            None => {
                let mut connection = connection(ctx).await?;
                Cow::Owned(stories::text(&mut connection, self.record.id).await?)
            }
        })
    }
    /// The user who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> Result<User, AppError> {
        load_user(ctx, self.record.author_id)
            .await?
            .ok_or_else(|| AppError::Internal(format!("story {} has no author", self.record.id)))
    }
    /// True once published (visible to everyone); false for a draft, seen only by its
    /// author. A published story stays published.
    async fn published(&self) -> bool {
        self.record.published
    }
    /// How many users like it now (the author's own like included; an unlike subtracts).
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
    /// All its comments, oldest first (not paginated).
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
    /// When the story was created (for a story imported from the old app, its original
    /// creation time when the import had one).
    async fn created_at(&self) -> DateTime<Utc> {
        self.record.created_at
    }
}

/// A story and what the action earned; `xpEarned` is null when nothing was earned.
#[derive(SimpleObject)]
pub struct StoryPayload {
    /// The story after the action.
    story: Story,
    /// The award this call made, and to whom the mutation says: createStory and
    /// publishStory the author (the caller), likeStory the story's author, readStory the
    /// reader, completeCollaboration the caller. Null when the call earned nothing.
    /// When it goes to the caller it also holds the caller's STREAK_BONUS of the call.
    xp_earned: Option<XpAward>,
    /// What the call earned the caller when xpEarned went to someone else: likeStory's
    /// liker (a STREAK_BONUS, the first activity of a local date with a streak of 2 or
    /// more days). Null when nothing, and on the mutations whose xpEarned is the
    /// caller's own.
    caller_xp_earned: Option<XpAward>,
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
            caller_xp_earned: outcome.caller_award.map(XpAward),
        }
    }
}

/// The result of unlikeStory.
#[derive(SimpleObject)]
pub struct UnlikeStoryPayload {
    /// The story, its likeCount without the caller's like.
    story: Story,
}

/// The result of deleteStory.
#[derive(SimpleObject)]
pub struct DeleteStoryPayload {
    /// The id of the story that was deleted; it no longer resolves.
    deleted_story_id: ID,
}

/// A new story; it starts as a draft.
#[derive(InputObject)]
pub struct CreateStoryInput {
    /// 1 to 200 characters, not blank; trimmed of surrounding whitespace. Otherwise
    /// BAD_USER_INPUT.
    title: String,
    /// Up to 100,000 characters (empty is fine), kept as written. Longer: BAD_USER_INPUT.
    content: String,
}

#[derive(Default)]
pub struct StoryQuery;

#[Object]
impl StoryQuery {
    /// A story, if it is published or the caller wrote it; null otherwise (also when there
    /// is no such story).
    async fn story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The story's id; one that is not a positive integer is BAD_USER_INPUT.")]
        id: ID,
    ) -> Result<Option<Story>, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        Ok(stories::find_visible(&mut connection, caller(ctx), id)
            .await?
            .map(Story::from))
    }

    /// The stories the caller may see, newest first: every published story, and the
    /// caller's own drafts.
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn stories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many stories, 0 to 100 (null: 20); otherwise BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (`pageInfo.endCursor` of the previous page); null: \
                    from the newest. A string that is no cursor of ours: BAD_USER_INPUT."
        )]
        after: Option<String>,
        #[graphql(
            desc = "Only this user's stories (their drafts too when the caller is that user); \
                    null: everyone's. Not a valid id: BAD_USER_INPUT."
        )]
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
    /// Creates a draft story by the caller. The author earns STORY_CREATED, once per
    /// story, plus any achievement it unlocks (FIRST_STORY, STORYTELLER).
    async fn create_story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new story's title and content.")] input: CreateStoryInput,
    ) -> Result<StoryPayload, AppError> {
        let author = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        let outcome = stories::create(&mut connection, author, input.title, input.content).await?;
        count_awards(ctx, &outcome.award);
        Ok(outcome.into())
    }

    /// Publishes the caller's story: everyone can see it from now on. The first
    /// publication earns the author STORY_PUBLISHED (once per story, ever);
    /// publishing a published story succeeds and earns nothing. Another user's story:
    /// FORBIDDEN (NOT_FOUND if it is a draft).
    async fn publish_story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the caller's story.")] id: ID,
    ) -> Result<StoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        let outcome = stories::publish(&mut connection, caller(ctx), id).await?;
        count_awards(ctx, &outcome.award);
        Ok(outcome.into())
    }

    /// Likes a story the caller can see (published, or their own; else NOT_FOUND).
    /// `xpEarned` is the author's award: STORY_LIKED, once per liker, ever. Liking
    /// again, or liking your own story, succeeds and earns nothing.
    async fn like_story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the story to like.")] id: ID,
    ) -> Result<StoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let like = LikeRequest::new(id, caller(ctx).require_user()?, request_now(ctx));
        let likes = ctx
            .data_opt::<Likes>()
            .ok_or_else(|| AppError::Internal("no like writer in the schema".into()))?;
        let outcome = likes.like(like).await.map_err(shared_error)?;
        Ok(outcome.into())
    }

    /// Records that the caller read a story they can see (published, or their own; else
    /// NOT_FOUND). `xpEarned` is the reader's award: STORY_READ, once per story;
    /// reading your own story earns nothing.
    async fn read_story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the story read.")] id: ID,
    ) -> Result<StoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        let outcome = stories::read(&mut connection, caller(ctx), id).await?;
        count_awards(ctx, &outcome.award);
        Ok(outcome.into())
    }

    /// Takes back the caller's like of a story they can see (none: nothing changes).
    /// The XP the like earned the author stays.
    async fn unlike_story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the story to unlike.")] id: ID,
    ) -> Result<UnlikeStoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        let story = stories::unlike(&mut connection, caller(ctx), id).await?;
        Ok(UnlikeStoryPayload {
            story: Story::from(story),
        })
    }

    /// Deletes the caller's story with its likes, comments and collaborations; the XP they
    /// earned stays. Another user's story: FORBIDDEN (NOT_FOUND if it is a draft).
    async fn delete_story(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the caller's story.")] id: ID,
    ) -> Result<DeleteStoryPayload, AppError> {
        let id = parse_id(&id, "story")?;
        let mut connection = connection(ctx).await?;
        let deleted = stories::delete(&mut connection, caller(ctx), id).await?;
        Ok(DeleteStoryPayload {
            deleted_story_id: ID(deleted.to_string()),
        })
    }
}
