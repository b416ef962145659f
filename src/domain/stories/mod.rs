//! Stories and likes: writing, publishing, liking, deleting, and who may see what.

mod calls;

use calls::{CreateCall, LikeResultRow, LikesCall};
pub mod comments;
pub mod likes;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::auth::Caller;
use crate::clock::Clock;
use crate::db::schema::{stories, story_like_counts, story_likes, story_reads};
use crate::error::AppError;
use crate::xp::award::AchievementCandidates;
use crate::xp::rules::{Activity, Subject};
use crate::xp::{Award, AwardRequest, XpAction, award, record_activity};

pub const TITLE_MAX_CHARS: usize = 200;
pub const CONTENT_MAX_CHARS: usize = 100_000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stories, check_for_backend(diesel::pg::Pg))]
pub struct StoryRecord {
    pub id: i64,
    pub author_id: i64,
    pub title: String,
    pub content: String,
    pub published: bool,
    pub created_at: DateTime<Utc>,
}

impl StoryRecord {
    /// The story's columns, and its text apart.
    pub fn split(self) -> (StoryHeader, String) {
        let StoryRecord {
            id,
            author_id,
            title,
            content,
            published,
            created_at,
        } = self;
        let header = StoryHeader {
            id,
            author_id,
            title,
            published,
            created_at,
        };
        (header, content)
    }
}

/// A story's columns but its text (up to 100,000 characters), as `like_story` and
/// `create_story` return them: a like does not carry the text back and forth.
#[derive(Debug, Clone, Queryable)]
pub struct StoryHeader {
    pub id: i64,
    pub author_id: i64,
    pub title: String,
    pub published: bool,
    pub created_at: DateTime<Utc>,
}

/// A story and what the action earned (None when it earned nothing).
#[derive(Clone)]
pub struct StoryOutcome {
    pub story: StoryHeader,
    /// The story's text, unless the action's statement left it out (likeStory).
    pub content: Option<String>,
    pub award: Option<Award>,
    /// The story's like count, when the action's statement returned it.
    pub like_count: Option<i64>,
    /// What the call earned the caller when `award` went to someone else (a liker's
    /// streak bonus); None when nothing.
    pub caller_award: Option<Award>,
}

impl StoryOutcome {
    /// An outcome carrying the whole story, without a like count.
    pub fn whole(story: StoryRecord, award: Option<Award>) -> Self {
        let (story, content) = story.split();
        Self {
            story,
            content: Some(content),
            award,
            like_count: None,
            caller_award: None,
        }
    }
}

fn validate(title: &str, content: &str) -> Result<(), AppError> {
    if title.trim().is_empty() {
        return Err(AppError::BadUserInput("a story needs a title".into()));
    }
    if title.chars().count() > TITLE_MAX_CHARS {
        return Err(AppError::BadUserInput(format!(
            "the title is longer than {TITLE_MAX_CHARS} characters"
        )));
    }
    if content.chars().count() > CONTENT_MAX_CHARS {
        return Err(AppError::BadUserInput(format!(
            "the content is longer than {CONTENT_MAX_CHARS} characters"
        )));
    }
    Ok(())
}

/// Stories the caller may see: every published story, and their own drafts.
fn visible_to(
    caller: Caller,
) -> Box<dyn BoxableExpression<stories::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>> {
    match caller.user_id() {
        Some(user) => Box::new(stories::published.or(stories::author_id.eq(user))),
        None => Box::new(stories::published),
    }
}

/// The story if the caller may see it.
pub async fn find_visible(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    id: i64,
) -> Result<Option<StoryRecord>, AppError> {
    Ok(stories::table
        .find(id)
        .filter(visible_to(caller))
        .select(StoryRecord::as_select())
        .first(connection)
        .await
        .optional()?)
}

/// The story if the caller may see it, else NOT_FOUND.
pub async fn require_visible(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    id: i64,
) -> Result<StoryRecord, AppError> {
    find_visible(connection, caller, id)
        .await?
        .ok_or_else(|| AppError::not_found("story"))
}

/// A page of visible stories, newest first, after the story `after` (its id).
pub async fn list(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    author: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<StoryRecord>, AppError> {
    let mut query = stories::table
        .filter(visible_to(caller))
        .select(StoryRecord::as_select())
        .order(stories::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(author) = author {
        query = query.filter(stories::author_id.eq(author));
    }
    if let Some(after) = after {
        query = query.filter(stories::id.lt(after));
    }
    Ok(query.load(connection).await?)
}

pub async fn create(
    connection: &mut AsyncPgConnection,
    author: i64,
    title: String,
    content: String,
) -> Result<StoryOutcome, AppError> {
    validate(&title, &content)?;
    let call = CreateCall {
        author,
        title: title.trim().to_string(),
        content,
        candidates: AchievementCandidates::for_action(XpAction::StoryCreated),
    };
    let row = (&call)
        .get_result::<LikeResultRow>(connection)
        .await
        .optional()?
        .ok_or_else(|| AppError::Internal("create_story returned no row".into()))?;
    // The statement does not send back the text it was given.
    Ok(row.into_create_outcome(author, call.content))
}

/// A story's text, read apart from the story when an action left it out.
pub async fn text(connection: &mut AsyncPgConnection, id: i64) -> Result<String, AppError> {
    stories::table
        .find(id)
        .select(stories::content)
        .first(connection)
        .await
        .optional()?
        .ok_or_else(|| AppError::not_found("story"))
}

/// Publishes the caller's story; the first publication ever earns STORY_PUBLISHED.
pub async fn publish(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    id: i64,
) -> Result<StoryOutcome, AppError> {
    let user = caller.require_user()?;
    connection
        .transaction(async move |connection| {
            let story = require_visible(connection, caller, id).await?;
            if story.author_id != user {
                return Err(AppError::Forbidden(
                    "only the author can publish this story".into(),
                ));
            }
            let story: StoryRecord = diesel::update(stories::table.find(id))
                .set(stories::published.eq(true))
                .returning(StoryRecord::as_returning())
                .get_result(connection)
                .await?;
            let bonus = record_activity(connection, user, Activity::PublishStory).await?;
            let award = award(
                connection,
                AwardRequest::new(user, XpAction::StoryPublished, Subject::Story(id)),
            )
            .await?;
            Ok(StoryOutcome::whole(story, Award::combine(bonus, award)))
        })
        .await
}

/// One like in a batch of likes. The ticket tells two likes of the same pair apart, so
/// each gets its own answer (the first one earns, the second earns nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LikeRequest {
    pub story: i64,
    pub liker: i64,
    /// The request's instant under the test clock; None: the database's clock.
    pub now: Option<DateTime<Utc>>,
    ticket: u64,
}

impl LikeRequest {
    pub fn new(story: i64, liker: i64, now: Option<DateTime<Utc>>) -> Self {
        static TICKETS: AtomicU64 = AtomicU64::new(0);
        Self {
            story,
            liker,
            now,
            ticket: TICKETS.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// The most likes one transaction writes: a bigger batch is written in several, so
/// that no transaction holds many authors' rows for long.
pub const MAX_LIKES_PER_TRANSACTION: usize = 64;

/// What one like of a batch came to: its outcome, or the error that stopped it (shared,
/// as a batch's answers are).
pub type LikeResult = Result<StoryOutcome, Arc<AppError>>;

/// Likes stories (`likes::Likes` gathers concurrent ones): their authors
/// earn STORY_LIKED once per liker, ever (own likes earn nothing). One statement and one
/// transaction (`like_stories`) per MAX_LIKES_PER_TRANSACTION likes, so one commit makes
/// them all durable. A like of a story its liker may not see has no entry.
///
/// A like that fails fails alone: an error undoes its whole transaction, so the likes of
/// a failed transaction are written again one by one, and only the one at fault (say,
/// its author's XP would overflow) answers with the error. Likes are idempotent, so
/// writing one again never awards twice.
pub async fn like_many(
    connection: &mut AsyncPgConnection,
    likes: &[LikeRequest],
    clock: Clock,
) -> HashMap<LikeRequest, LikeResult> {
    let mut outcomes = HashMap::with_capacity(likes.len());
    for likes in likes.chunks(MAX_LIKES_PER_TRANSACTION) {
        let error = match like_in_one_transaction(connection, likes, clock).await {
            Ok(written) => {
                outcomes.extend(written.map(|(like, outcome)| (like, Ok(outcome))));
                continue;
            }
            Err(error) => Arc::new(error),
        };
        if let [like] = likes {
            outcomes.insert(*like, Err(error));
            continue;
        }
        tracing::warn!(%error, likes = likes.len(), "a batch of likes failed; writing each alone");
        for like in likes {
            match like_in_one_transaction(connection, std::slice::from_ref(like), clock).await {
                Ok(written) => {
                    outcomes.extend(written.map(|(like, outcome)| (like, Ok(outcome))));
                }
                Err(error) => {
                    outcomes.insert(*like, Err(Arc::new(error)));
                }
            }
        }
    }
    outcomes
}

/// `like_stories` for at most MAX_LIKES_PER_TRANSACTION likes: each visible story's
/// like with its outcome.
async fn like_in_one_transaction(
    connection: &mut AsyncPgConnection,
    likes: &[LikeRequest],
    clock: Clock,
) -> Result<impl Iterator<Item = (LikeRequest, StoryOutcome)>, AppError> {
    let call = LikesCall {
        stories: likes.iter().map(|like| like.story).collect(),
        likers: likes.iter().map(|like| like.liker).collect(),
        subjects: likes
            .iter()
            .map(|like| {
                Subject::StoryBy {
                    story: like.story,
                    user: like.liker,
                }
                .key()
                .unwrap_or_default()
            })
            .collect(),
        candidates: AchievementCandidates::for_action(XpAction::StoryLiked),
        // Under the test clock every like sets its own instant (or the real clock's),
        // whatever the pooled connection carried before.
        nows: clock
            .is_test()
            .then(|| likes.iter().map(|like| like.now).collect()),
    };
    let rows: Vec<(i64, LikeResultRow)> = call.load(connection).await?;
    Ok(rows.into_iter().filter_map(|(position, row)| {
        let like = *likes.get(usize::try_from(position).ok()?.checked_sub(1)?)?;
        Some((like, row.into_like_outcome(like.liker)))
    }))
}

/// Reads a story; the reader earns STORY_READ once per story (reading your own earns
/// nothing, as the rule says).
pub async fn read(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    id: i64,
) -> Result<StoryOutcome, AppError> {
    let user = caller.require_user()?;
    connection
        .transaction(async move |connection| {
            let story = require_visible(connection, caller, id).await?;
            let own = story.author_id == user;
            let bonus =
                record_activity(connection, user, Activity::ReadStory { story: id, own }).await?;
            let rule = XpAction::StoryRead.rule();
            let Some(recipient) = rule.story_recipient(story.author_id, user)? else {
                return Ok(StoryOutcome::whole(story, bonus));
            };
            diesel::insert_into(story_reads::table)
                .values((story_reads::story_id.eq(id), story_reads::user_id.eq(user)))
                .on_conflict_do_nothing()
                .execute(connection)
                .await?;
            let award = award(
                connection,
                AwardRequest::new(recipient, XpAction::StoryRead, Subject::Story(id)),
            )
            .await?;
            // STORY_READ pays the reader (ACTOR): one award of the call.
            Ok(if recipient == user {
                StoryOutcome::whole(story, Award::combine(bonus, award))
            } else {
                let mut outcome = StoryOutcome::whole(story, award);
                outcome.caller_award = bonus;
                outcome
            })
        })
        .await
}

/// Removes the caller's like; the author keeps the XP it earned.
pub async fn unlike(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    id: i64,
) -> Result<StoryRecord, AppError> {
    let user = caller.require_user()?;
    connection
        .transaction(async move |connection| {
            let story = require_visible(connection, caller, id).await?;
            // The story's like count first, as a like does: a like transaction holds the
            // count row and may then insert this very like again (ON CONFLICT waits for
            // a deletion in flight), so deleting first and then waiting for the count
            // row (in story_likes' trigger) would deadlock with it.
            story_like_counts::table
                .find(id)
                .select(story_like_counts::story_id)
                .for_update()
                .load::<i64>(connection)
                .await?;
            diesel::delete(story_likes::table.find((id, user)))
                .execute(connection)
                .await?;
            Ok(story)
        })
        .await
}

/// Deletes the caller's own story (its likes go with it; the XP stays).
pub async fn delete(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    id: i64,
) -> Result<i64, AppError> {
    let user = caller.require_user()?;
    let story = require_visible(connection, caller, id).await?;
    if story.author_id != user {
        return Err(AppError::Forbidden(
            "only the author can delete this story".into(),
        ));
    }
    diesel::delete(stories::table.find(id))
        .execute(connection)
        .await?;
    Ok(id)
}

/// Like counts of the given stories (stories without likes may be absent): the counts
/// story_likes' triggers keep, one key lookup per story whatever its number of likes.
pub async fn like_counts(
    connection: &mut AsyncPgConnection,
    ids: &[i64],
) -> Result<Vec<(i64, i64)>, AppError> {
    Ok(story_like_counts::table
        .filter(story_like_counts::story_id.eq_any(ids))
        .select((story_like_counts::story_id, story_like_counts::likes))
        .load(connection)
        .await?)
}
