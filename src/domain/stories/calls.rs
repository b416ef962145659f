//! The prepared SQL calls of the two hottest story actions, `create_story` and
//! `like_stories`: diesel plumbing, kept apart from the story rules in `mod.rs`.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types as sql;

use super::{StoryHeader, StoryOutcome};
use crate::xp::activity::streak_candidates;
use crate::xp::award::{
    AchievementCandidates, MaybeAwardColumns, MaybeAwardSql, award_from_columns,
};
use crate::xp::rules::{Activity, Subject};
use crate::xp::{Award, XpAction};

/// The two hottest actions run as one statement each: the SQL functions `create_story`
/// and `like_stories` (a batch of likes, `like_story` each; migrations/) do the writes,
/// read their rule from `xp_rules` (amount, recipient, own-story rule) and call
/// `award_xp` in the statement's own transaction, one round trip in all. Each call has
/// a static query id, so a connection prepares it once.
pub(super) struct CreateCall {
    pub author: i64,
    pub title: String,
    pub content: String,
    pub candidates: AchievementCandidates,
}

pub(super) struct LikesCall {
    pub stories: Vec<i64>,
    pub likers: Vec<i64>,
    pub subjects: Vec<String>,
    pub candidates: AchievementCandidates,
    /// Each like's instant (the test clock); None: the database's clock for all.
    pub nows: Option<Vec<Option<chrono::DateTime<chrono::Utc>>>>,
}

/// The quest an activity advances, as the SQL functions take it.
const fn quest_code(activity: Activity) -> Option<&'static str> {
    match activity.quest() {
        Some(quest) => Some(quest.as_str()),
        None => None,
    }
}

/// The streak-bonus columns of a like row: the liker's award (NULL when none).
type CallerAwardSql = (
    sql::Nullable<sql::Integer>,
    sql::Nullable<sql::Integer>,
    sql::Nullable<sql::Integer>,
    sql::Nullable<sql::Integer>,
    sql::Nullable<sql::Array<sql::Text>>,
    sql::Nullable<sql::Timestamptz>,
    sql::Nullable<sql::BigInt>,
    sql::Nullable<sql::Array<sql::BigInt>>,
);

type CallerAwardColumns = (
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<Vec<String>>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<i64>,
    Option<Vec<i64>>,
);

type StoryActionSql = (
    (
        sql::BigInt,
        sql::BigInt,
        sql::Text,
        sql::Bool,
        sql::Timestamptz,
    ),
    MaybeAwardSql,
    sql::BigInt,
);

macro_rules! story_action_columns {
    () => {
        "id, author_id, title, published, created_at, recipient_id, xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id, entries, like_count"
    };
}

macro_rules! caller_columns {
    () => {
        ", caller_xp_gained, caller_total_xp, caller_level, caller_previous_level, caller_unlocked, caller_awarded_at, caller_notification_id, caller_entries"
    };
}

const RETURNED_WITH_CALLER: &str = concat!(
    "SELECT ",
    story_action_columns!(),
    caller_columns!(),
    " FROM "
);

/// A row of `create_story` / `like_story`: the story without its text, the award
/// columns (the recipient and the award; NULL when nothing was earned), the story's
/// like count.
#[derive(Queryable)]
pub(super) struct StoryActionResult {
    story: StoryHeader,
    award: MaybeAwardColumns,
    like_count: i64,
}

impl StoryActionResult {
    pub fn into_outcome(self, action: XpAction, content: Option<String>) -> StoryOutcome {
        StoryOutcome {
            award: award_from_columns(action, self.award),
            story: self.story,
            content,
            like_count: Some(self.like_count),
            caller_award: None,
        }
    }
}

/// A row of `like_story`: a story action row, then the liker's streak bonus.
#[derive(Queryable)]
pub(super) struct LikeResultRow {
    action: StoryActionResult,
    caller: CallerAwardColumns,
}

impl LikeResultRow {
    /// A like's outcome: the author's award, and the liker's streak bonus apart.
    pub fn into_like_outcome(self, liker: i64) -> StoryOutcome {
        let mut outcome = self.action.into_outcome(XpAction::StoryLiked, None);
        outcome.caller_award = caller_award(liker, self.caller);
        outcome
    }

    /// A created story's outcome: the author's streak bonus and the story's award, one
    /// award of the call (both went to the author).
    pub fn into_create_outcome(self, author: i64, content: String) -> StoryOutcome {
        let mut outcome = self
            .action
            .into_outcome(XpAction::StoryCreated, Some(content));
        outcome.award = Award::combine(caller_award(author, self.caller), outcome.award);
        outcome
    }
}

fn caller_award(caller: i64, columns: CallerAwardColumns) -> Option<Award> {
    let (a, b, c, d, e, f, g, h) = columns;
    award_from_columns(
        XpAction::StreakBonus,
        (Some(caller), a, b, c, d, e, f, g, h),
    )
}

impl QueryId for CreateCall {
    type QueryId = CreateCall;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// A like row (the author's award, then the author's streak bonus as the caller's).
impl Query for CreateCall {
    type SqlType = (StoryActionSql, CallerAwardSql);
}

impl QueryId for LikesCall {
    type QueryId = LikesCall;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// Each row: the position of its like in the call (1-based), then a like row.
impl Query for LikesCall {
    type SqlType = (sql::BigInt, (StoryActionSql, CallerAwardSql));
}

impl QueryFragment<Pg> for CreateCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(RETURNED_WITH_CALLER);
        out.push_sql("create_story(");
        out.push_bind_param::<sql::BigInt, _>(&self.author)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Text, _>(&self.title)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Text, _>(&self.content)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Text, _>(&Subject::STORY_PREFIX)?;
        out.push_sql(", ");
        self.candidates.push_bind(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Nullable<sql::Text>, _>(&CREATE_QUEST)?;
        out.push_sql(", ");
        (*STREAK_CANDIDATES).push_bind(&mut out)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryFragment<Pg> for LikesCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(concat!(
            "SELECT ord, ",
            story_action_columns!(),
            caller_columns!(),
            " FROM like_stories("
        ));
        out.push_bind_param::<sql::Array<sql::BigInt>, _>(&self.stories)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Array<sql::BigInt>, _>(&self.likers)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Array<sql::Text>, _>(&self.subjects)?;
        out.push_sql(", ");
        self.candidates.push_bind(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Nullable<sql::Text>, _>(&LIKE_QUEST)?;
        out.push_sql(", ");
        (*STREAK_CANDIDATES).push_bind(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Nullable<sql::Array<sql::Nullable<sql::Timestamptz>>>, _>(
            &self.nows,
        )?;
        out.push_sql(")");
        Ok(())
    }
}

const CREATE_QUEST: Option<&str> = quest_code(Activity::CreateStory);
const LIKE_QUEST: Option<&str> = quest_code(Activity::LikeStory {
    story: 0,
    own: false,
});
static STREAK_CANDIDATES: std::sync::LazyLock<AchievementCandidates> =
    std::sync::LazyLock::new(streak_candidates);
