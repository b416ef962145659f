//! The prepared SQL calls of the two hottest story actions, `create_story` and
//! `like_stories`: diesel plumbing, kept apart from the story rules in `mod.rs`.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types as sql;

use super::{StoryHeader, StoryOutcome};
use crate::xp::XpAction;
use crate::xp::award::{
    AchievementCandidates, MaybeAwardColumns, MaybeAwardSql, award_from_columns,
};
use crate::xp::rules::Subject;

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
}

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
        "id, author_id, title, published, created_at, recipient_id, xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id, like_count"
    };
}

const RETURNED: &str = concat!("SELECT ", story_action_columns!(), " FROM ");

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
        }
    }
}

impl QueryId for CreateCall {
    type QueryId = CreateCall;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for CreateCall {
    type SqlType = StoryActionSql;
}

impl QueryId for LikesCall {
    type QueryId = LikesCall;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// Each row: the position of its like in the call (1-based), then a story action row.
impl Query for LikesCall {
    type SqlType = (sql::BigInt, StoryActionSql);
}

impl QueryFragment<Pg> for CreateCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(RETURNED);
        out.push_sql("create_story(");
        out.push_bind_param::<sql::BigInt, _>(&self.author)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Text, _>(&self.title)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Text, _>(&self.content)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Text, _>(&Subject::STORY_PREFIX)?;
        out.push_sql(", ");
        self.candidates.push_last_bind(&mut out)
    }
}

impl QueryFragment<Pg> for LikesCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(concat!(
            "SELECT ord, ",
            story_action_columns!(),
            " FROM like_stories("
        ));
        out.push_bind_param::<sql::Array<sql::BigInt>, _>(&self.stories)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Array<sql::BigInt>, _>(&self.likers)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Array<sql::Text>, _>(&self.subjects)?;
        out.push_sql(", ");
        self.candidates.push_last_bind(&mut out)
    }
}
