//! The one award function every action goes through.
//!
//! It runs inside the caller's transaction and makes one call to the database's
//! `award_xp` function (migrations/), which appends the ledger entry (or does nothing
//! for a repeat), moves the counter, unlocks achievements, stores the level-up
//! notification and queues its NOTIFY for commit.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::rules::{AchievementKey, Subject, XpAction, achievement_candidates};
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

#[derive(diesel::QueryableByName)]
struct AwardRow {
    #[diesel(sql_type = Integer)]
    xp_gained: i32,
    #[diesel(sql_type = Integer)]
    total_xp: i32,
    #[diesel(sql_type = Integer)]
    level: i32,
    #[diesel(sql_type = Integer)]
    previous_level: i32,
    #[diesel(sql_type = Array<Text>)]
    unlocked: Vec<String>,
    #[diesel(sql_type = Timestamptz)]
    awarded_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<BigInt>)]
    notification_id: Option<i64>,
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
    let achievement_xp = XpAction::AchievementEarned.xp().unwrap_or_default();
    let row: Option<AwardRow> =
        diesel::sql_query("SELECT * FROM award_xp($1, $2, $3, $4, $5, $6, $7, $8::jsonb)")
            .bind::<BigInt, _>(request.recipient)
            .bind::<Text, _>(request.action.as_str())
            .bind::<Nullable<Text>, _>(request.subject.key())
            .bind::<Integer, _>(amount)
            .bind::<Nullable<Text>, _>(request.reason)
            .bind::<Bool, _>(request.notify)
            .bind::<Integer, _>(achievement_xp)
            .bind::<Text, _>(achievement_candidates(request.action).to_string())
            .get_result(connection)
            .await
            .map(Some)
            .or_else(|error| match error {
                diesel::result::Error::NotFound => Ok(None),
                error => Err(error),
            })?;
    Ok(row.map(|row| Award {
        recipient: request.recipient,
        action: request.action,
        xp_gained: row.xp_gained,
        total_xp: row.total_xp,
        level: row.level,
        previous_level: row.previous_level,
        achievements: row
            .unlocked
            .iter()
            .filter_map(|code| AchievementKey::from_code(code))
            .collect(),
        awarded_at: row.awarded_at,
        notification_id: row.notification_id,
    }))
}
