//! Reading what users earned: the ledger (XP history) and earned achievements.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::rules::AchievementKey;
use crate::db::schema::{user_achievements, xp_ledger};
use crate::error::AppError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = xp_ledger, check_for_backend(diesel::pg::Pg))]
pub struct LedgerEntry {
    pub id: i64,
    pub action: String,
    pub amount: i32,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// What the action paid before a boost; None in entries older than boosts.
    pub base_amount: Option<i32>,
    /// 100: no boost.
    pub multiplier_hundredths: i32,
    pub boost_id: Option<i64>,
}

/// A page of a user's ledger, newest first, after the entry `after` (its id).
pub async fn history(
    connection: &mut AsyncPgConnection,
    user: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<LedgerEntry>, AppError> {
    let mut query = xp_ledger::table
        .filter(xp_ledger::recipient_id.eq(user))
        .select(LedgerEntry::as_select())
        .order(xp_ledger::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(xp_ledger::id.lt(after));
    }
    Ok(query.load(connection).await?)
}

/// The achievements of the given users, each user's oldest first.
pub async fn earned_achievements(
    connection: &mut AsyncPgConnection,
    users: &[i64],
) -> Result<Vec<(i64, AchievementKey, DateTime<Utc>)>, AppError> {
    let rows: Vec<(i64, String, DateTime<Utc>)> = user_achievements::table
        .filter(user_achievements::user_id.eq_any(users))
        .order(user_achievements::id.asc())
        .select((
            user_achievements::user_id,
            user_achievements::achievement,
            user_achievements::earned_at,
        ))
        .load(connection)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(user, code, earned_at)| {
            Some((user, AchievementKey::from_code(&code)?, earned_at))
        })
        .collect())
}

/// The entries with these ids, in the order given (an award's `events`).
pub async fn entries(
    connection: &mut AsyncPgConnection,
    ids: &[i64],
) -> Result<Vec<LedgerEntry>, AppError> {
    let mut rows: Vec<LedgerEntry> = xp_ledger::table
        .filter(xp_ledger::id.eq_any(ids))
        .select(LedgerEntry::as_select())
        .load(connection)
        .await?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(rows)
}
