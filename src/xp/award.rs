//! The one award function every action goes through.
//!
//! It runs inside the caller's transaction and makes one call to the database's
//! `award_xp` function (migrations/), which takes the amount from `xp_rules` (unless an
//! admin gave one), appends the ledger entry (or does nothing for a repeat), moves the
//! counter, unlocks achievements, stores the level-up notification and queues its
//! NOTIFY for commit.

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
    /// Overrides the amount of the rules table (admin awards); required for CUSTOM.
    /// None: what `xp_rules` says the action pays now, read by `award_xp`.
    pub amount: Option<i32>,
    pub reason: Option<String>,
    /// Store (and push) level-up and achievement notifications.
    pub notify: bool,
    /// Apply the action's daily cap (false only for backfill-xp: caps are for live
    /// actions).
    pub caps: bool,
}

impl AwardRequest {
    /// The usual award: the rules table's amount, with notifications.
    pub fn new(recipient: i64, action: XpAction, subject: Subject) -> Self {
        Self {
            recipient,
            action,
            subject,
            amount: None,
            reason: None,
            notify: true,
            caps: true,
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
    /// The ledger entries written (the action's, then each achievement's).
    pub entries: Vec<i64>,
    /// Awards of other actions this one includes (`then`: a streak bonus before the
    /// action's award, a friend bonus after it). Their XP and achievements are in this
    /// award's totals; metrics count them apart, by their own actions.
    pub folded: Vec<Award>,
}

impl Award {
    pub fn leveled_up(&self) -> bool {
        self.level > self.previous_level
    }

    /// One award of a call out of two to the same user, made in this order (a streak
    /// bonus then the action's award, the action's award then a friend bonus): the XP
    /// of both; the action is the first's, unless that is a streak bonus, whose call's
    /// own action it is (contract, "What a call earned"). The award of the other
    /// action goes into `folded`.
    pub fn then(mut self, mut later: Award) -> Award {
        debug_assert_eq!(self.recipient, later.recipient);
        let mut achievements = self.achievements.clone();
        achievements.extend(later.achievements.iter().copied());
        let mut entries = self.entries.clone();
        entries.extend(later.entries.iter().copied());
        let mut folded = std::mem::take(&mut self.folded);
        folded.append(&mut later.folded);
        let action = if self.action == XpAction::StreakBonus {
            let action = later.action;
            folded.push(self.clone());
            action
        } else {
            if later.action != self.action {
                folded.push(later.clone());
            }
            self.action
        };
        Award {
            recipient: later.recipient,
            action,
            xp_gained: self.xp_gained + later.xp_gained,
            total_xp: later.total_xp,
            level: later.level,
            previous_level: self.previous_level,
            achievements,
            awarded_at: later.awarded_at,
            notification_id: later.notification_id.or(self.notification_id),
            entries,
            folded,
        }
    }

    /// `first` then `later`, either possibly missing.
    pub fn combine(first: Option<Award>, later: Option<Award>) -> Option<Award> {
        match (first, later) {
            (Some(first), Some(later)) => Some(first.then(later)),
            (first, later) => first.or(later),
        }
    }
}

/// The columns `award_xp` (and `xp_activity`, which returns its streak bonus's) returns,
/// in order: xp_gained, total_xp, level, previous_level, unlocked, awarded_at,
/// notification_id, entries.
pub(crate) type AwardSql = (
    Integer,
    Integer,
    Integer,
    Integer,
    Array<Text>,
    Timestamptz,
    Nullable<BigInt>,
    Array<BigInt>,
);

/// A row of `AwardSql`.
pub(crate) type AwardRow = (
    i32,
    i32,
    i32,
    i32,
    Vec<String>,
    DateTime<Utc>,
    Option<i64>,
    Vec<i64>,
);

/// The award such a row describes, paid to `recipient` for `action`.
pub(crate) fn award_from_row(recipient: i64, action: XpAction, row: AwardRow) -> Award {
    let (
        xp_gained,
        total_xp,
        level,
        previous_level,
        unlocked,
        awarded_at,
        notification_id,
        entries,
    ) = row;
    Award {
        recipient,
        action,
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
        entries,
        folded: Vec::new(),
    }
}

/// `SELECT ... FROM award_xp(...)` as a query with a static id, so each connection
/// prepares it once and then only binds and executes it (`sql_query` would be parsed
/// and planned again on every call).
struct AwardCall {
    recipient: i64,
    action: &'static str,
    subject: Option<String>,
    /// None: what `xp_rules` says the action pays now.
    amount: Option<i32>,
    reason: Option<String>,
    notify: bool,
    caps: bool,
    candidates: AchievementCandidates,
}

impl QueryId for AwardCall {
    type QueryId = AwardCall;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for AwardCall {
    type SqlType = AwardSql;
}

impl QueryFragment<Pg> for AwardCall {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id, entries FROM award_xp(",
        );
        out.push_bind_param::<BigInt, _>(&self.recipient)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.subject)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.amount)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.reason)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.notify)?;
        out.push_sql(", ");
        self.candidates.push_bind(&mut out)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.caps)?;
        out.push_sql(")");
        Ok(())
    }
}

/// What every call of `award_xp` (direct, or inside `create_story` / `like_story`)
/// passes from `xp/rules.rs`: the achievements the action may unlock. Amounts,
/// recipients and the level size the SQL reads itself (`xp_rules`, `xp_level`).
pub(crate) struct AchievementCandidates(&'static str);

impl AchievementCandidates {
    pub fn for_action(action: XpAction) -> Self {
        Self(achievement_candidates_json(action))
    }

    /// Binds the candidates as an argument of a call.
    pub fn push_bind<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<Text, _>(&self.0)?;
        out.push_sql("::jsonb");
        Ok(())
    }
}

/// The award columns of a row that may carry no award (then all NULL), as the SQL
/// functions of single-statement actions return them after their domain columns: the
/// recipient (whom `xp_rules` names), then what `award_xp` returned.
pub(crate) type MaybeAwardColumns = (
    Option<i64>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<Vec<String>>,
    Option<DateTime<Utc>>,
    Option<i64>,
    Option<Vec<i64>>,
);

/// The SQL types of `MaybeAwardColumns`.
pub(crate) type MaybeAwardSql = (
    Nullable<BigInt>,
    Nullable<Integer>,
    Nullable<Integer>,
    Nullable<Integer>,
    Nullable<Integer>,
    Nullable<Array<Text>>,
    Nullable<Timestamptz>,
    Nullable<BigInt>,
    Nullable<Array<BigInt>>,
);

/// The award in such columns, if any.
pub(crate) fn award_from_columns(action: XpAction, columns: MaybeAwardColumns) -> Option<Award> {
    let (
        recipient,
        xp_gained,
        total_xp,
        level,
        previous_level,
        unlocked,
        awarded_at,
        notification_id,
        entries,
    ) = columns;
    Some(Award {
        recipient: recipient?,
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
        entries: entries.unwrap_or_default(),
        folded: Vec::new(),
    })
}

/// Awards XP; `Ok(None)` when this award was already made (nothing earned).
/// Call it inside the action's transaction, recipients in ascending id order when a
/// transaction awards several users (the user rows are locked until commit).
pub async fn award(
    connection: &mut AsyncPgConnection,
    request: AwardRequest,
) -> Result<Option<Award>, AppError> {
    if request.amount.is_none() && request.action.xp().is_none() {
        return Err(AppError::BadUserInput(format!(
            "an amount is required for {} awards",
            request.action.as_str()
        )));
    }
    let call = AwardCall {
        recipient: request.recipient,
        action: request.action.as_str(),
        subject: request.subject.key(),
        amount: request.amount,
        reason: request.reason,
        notify: request.notify,
        caps: request.caps,
        candidates: AchievementCandidates::for_action(request.action),
    };
    let row: Option<AwardRow> = call.get_result(connection).await.optional()?;
    Ok(row.map(|row| award_from_row(request.recipient, request.action, row)))
}
