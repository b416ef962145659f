//! The one award function every action goes through.
//!
//! It runs inside the caller's transaction and makes one call to the database's
//! `award_xp` function (migrations/), which appends the ledger entry (or does nothing
//! for a repeat), moves the counter, unlocks achievements, stores the level-up
//! notification and queues its NOTIFY for commit.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel::{OptionalExtension, QueryResult};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::rules::{AchievementKey, Subject, XpAction, achievement_candidates_json};
use crate::error::AppError;

/// One award to one user.
#[derive(Debug, Clone)]
pub struct AwardRequest {
    pub recipient: i64,
    pub action: XpAction,
    pub subject: Subject,
    /// Overrides the table amount (admin awards); required for CUSTOM.
    pub amount: Option<i32>,
    pub reason: Option<String>,
    /// Store (and push) level-up and achievement notifications.
    pub notify: bool,
}

impl AwardRequest {
    /// The usual award: the table amount, with notifications.
    pub fn new(recipient: i64, action: XpAction, subject: Subject) -> Self {
        Self {
            recipient,
            action,
            subject,
            amount: None,
            reason: None,
            notify: true,
        }
    }
}

/// What one award earned its recipient (the contract's `XpAward`).
#[derive(Debug, Clone)]
pub struct Award {
    pub recipient: i64,
    pub action: XpAction,
    /// The action's amount plus the bonus of every achievement it unlocked.
    pub xp_gained: i32,
    pub total_xp: i32,
    pub level: i32,
    pub previous_level: i32,
    pub achievements: Vec<AchievementKey>,
    pub awarded_at: DateTime<Utc>,
    /// The stored level-up notification, when the level rose and notify was set.
    pub notification_id: Option<i64>,
}

impl Award {
    pub fn leveled_up(&self) -> bool {
        self.level > self.previous_level
    }
}

type AwardRow = (i32, i32, i32, i32, Vec<String>, DateTime<Utc>, Option<i64>);

/// `SELECT ... FROM award_xp(...)` as a query with a static id, so each connection
/// prepares it once and then only binds and executes it (`sql_query` would be parsed
/// and planned again on every call).
struct AwardCall {
    recipient: i64,
    action: &'static str,
    subject: Option<String>,
    reason: Option<String>,
    notify: bool,
    parameters: AwardParameters,
}

impl QueryId for AwardCall {
    type QueryId = AwardCall;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for AwardCall {
    type SqlType = (
        Integer,
        Integer,
        Integer,
        Integer,
        Array<Text>,
        Timestamptz,
        Nullable<BigInt>,
    );
}

impl QueryFragment<Pg> for AwardCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id FROM award_xp(",
        );
        out.push_bind_param::<BigInt, _>(&self.recipient)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.subject)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.parameters.amount)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.reason)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.notify)?;
        out.push_sql(", ");
        self.parameters.push_achievements(&mut out)
    }
}

/// What every call of `award_xp` (direct, or inside `create_story` / `like_story`)
/// passes from `xp/rules.rs`: the amount, the XP per achievement and the achievements
/// the action may unlock.
pub(crate) struct AwardParameters {
    pub amount: i32,
    achievement_xp: i32,
    candidates: &'static str,
}

impl AwardParameters {
    /// The table amount of an action (0 for CUSTOM, whose caller gives it).
    pub fn for_action(action: XpAction) -> Self {
        Self::with_amount(action, action.xp().unwrap_or_default())
    }

    fn with_amount(action: XpAction, amount: i32) -> Self {
        Self {
            amount,
            achievement_xp: XpAction::AchievementEarned.xp().unwrap_or_default(),
            candidates: achievement_candidates_json(action),
        }
    }

    /// Binds the amount, the achievement XP and the candidates as the last arguments of
    /// a call, and closes it.
    pub fn push_binds<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<Integer, _>(&self.amount)?;
        out.push_sql(", ");
        self.push_achievements(out)
    }

    fn push_achievements<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<Integer, _>(&self.achievement_xp)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.candidates)?;
        out.push_sql("::jsonb)");
        Ok(())
    }
}

/// The award columns of a row that may carry no award (then all NULL), as the SQL
/// functions of single-statement actions return them after their domain columns.
pub(crate) type MaybeAwardColumns = (
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<Vec<String>>,
    Option<DateTime<Utc>>,
    Option<i64>,
);

/// The SQL types of `MaybeAwardColumns`.
pub(crate) type MaybeAwardSql = (
    Nullable<Integer>,
    Nullable<Integer>,
    Nullable<Integer>,
    Nullable<Integer>,
    Nullable<Array<Text>>,
    Nullable<Timestamptz>,
    Nullable<BigInt>,
);

/// The award in such columns, if any.
pub(crate) fn award_from_columns(
    recipient: i64,
    action: XpAction,
    columns: MaybeAwardColumns,
) -> Option<Award> {
    let (xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id) =
        columns;
    Some(Award {
        recipient,
        action,
        xp_gained: xp_gained?,
        total_xp: total_xp?,
        level: level?,
        previous_level: previous_level?,
        achievements: unlocked
            .unwrap_or_default()
            .iter()
            .filter_map(|code| AchievementKey::from_code(code))
            .collect(),
        awarded_at: awarded_at?,
        notification_id,
    })
}

/// Awards XP; `Ok(None)` when this award was already made (nothing earned).
/// Call it inside the action's transaction, recipients in ascending id order when a
/// transaction awards several users (the user rows are locked until commit).
pub async fn award(
    connection: &mut AsyncPgConnection,
    request: AwardRequest,
) -> Result<Option<Award>, AppError> {
    let amount = match (request.amount, request.action.xp()) {
        (Some(amount), _) | (None, Some(amount)) => amount,
        (None, None) => {
            return Err(AppError::BadUserInput(format!(
                "an amount is required for {} awards",
                request.action.as_str()
            )));
        }
    };
    let call = AwardCall {
        recipient: request.recipient,
        action: request.action.as_str(),
        subject: request.subject.key(),
        reason: request.reason,
        notify: request.notify,
        parameters: AwardParameters::with_amount(request.action, amount),
    };
    let row: Option<AwardRow> = call.get_result(connection).await.optional()?;
    Ok(row.map(
        |(xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id)| {
            Award {
                recipient: request.recipient,
                action: request.action,
                xp_gained,
                total_xp,
                level,
                previous_level,
                achievements: unlocked
                    .iter()
                    .filter_map(|code| AchievementKey::from_code(code))
                    .collect(),
                awarded_at,
                notification_id,
            }
        },
    ))
}
