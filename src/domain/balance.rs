//! Balancing the economy while it runs: rewards tuned by admins (`xp_rules.tuned_xp`,
//! read by every award in its own transaction, so every instance follows at once), their
//! audit trail, and streak repairs.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::xp_reward_changes;
use crate::domain::accounts;
use crate::domain::admin::{self, AdminActionKind, require_admin};
use crate::error::AppError;
use crate::xp::XpAction;
use crate::xp::rules::STREAK;

/// What setXpReward accepts.
pub const REWARD_RANGE: std::ops::RangeInclusive<i32> = 0..=1000;

/// Whether admins may tune `action`'s amount: the table's first eight actions (the
/// boostable ones), not the derived ones (achievements, streaks, quests) nor CUSTOM.
pub fn is_tunable(action: XpAction) -> bool {
    action.rule().boostable
}

#[derive(QueryableByName)]
struct Amount {
    #[diesel(sql_type = Integer)]
    xp: i32,
}

/// Sets what `action` pays from now on; admins only. Returns the amount before.
pub async fn set_reward(
    connection: &mut AsyncPgConnection,
    admin_id: i64,
    action: XpAction,
    xp: i32,
) -> Result<i32, AppError> {
    require_admin(connection, admin_id).await?;
    if !is_tunable(action) {
        return Err(AppError::BadUserInput(format!(
            "{} cannot be tuned; tunable actions: {}",
            action.as_str(),
            XpAction::ALL
                .into_iter()
                .filter(|action| is_tunable(*action))
                .map(XpAction::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if !REWARD_RANGE.contains(&xp) {
        return Err(AppError::BadUserInput(format!(
            "xp must be between {} and {}, not {xp}",
            REWARD_RANGE.start(),
            REWARD_RANGE.end()
        )));
    }
    connection
        .transaction(async move |connection| {
            let before: Amount =
                diesel::sql_query("SELECT xp FROM xp_rules WHERE action = $1 FOR UPDATE")
                    .bind::<Text, _>(action.as_str())
                    .get_result(connection)
                    .await?;
            diesel::sql_query("UPDATE xp_rules SET tuned_xp = $2 WHERE action = $1")
                .bind::<Text, _>(action.as_str())
                .bind::<Integer, _>(xp)
                .execute(connection)
                .await?;
            diesel::insert_into(xp_reward_changes::table)
                .values((
                    xp_reward_changes::action.eq(action.as_str()),
                    xp_reward_changes::previous_xp.eq(before.xp),
                    xp_reward_changes::xp.eq(xp),
                    xp_reward_changes::changed_by.eq(admin_id),
                ))
                .execute(connection)
                .await?;
            admin::record(
                connection,
                Some(admin_id),
                AdminActionKind::SetXpReward,
                None,
                format!("{} {} -> {}", action.as_str(), before.xp, xp),
            )
            .await?;
            Ok(before.xp)
        })
        .await
}

/// What every action pays now (the tuned amount, else the default); None for CUSTOM.
pub async fn amounts_in_force(
    connection: &mut AsyncPgConnection,
) -> Result<Vec<(String, Option<i32>)>, AppError> {
    use diesel::sql_types::Nullable;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        action: String,
        #[diesel(sql_type = Nullable<Integer>)]
        xp: Option<i32>,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT action, xp FROM xp_rules")
        .load(connection)
        .await?;
    Ok(rows.into_iter().map(|row| (row.action, row.xp)).collect())
}

/// One change of a reward.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = xp_reward_changes, check_for_backend(diesel::pg::Pg))]
pub struct RewardChange {
    pub id: i64,
    pub action: String,
    pub previous_xp: i32,
    pub xp: i32,
    pub changed_by: i64,
    pub changed_at: DateTime<Utc>,
}

/// The changes, newest first (at most 500); admins only.
pub async fn reward_changes(
    connection: &mut AsyncPgConnection,
    admin_id: i64,
) -> Result<Vec<RewardChange>, AppError> {
    require_admin(connection, admin_id).await?;
    Ok(xp_reward_changes::table
        .select(RewardChange::as_select())
        .order(xp_reward_changes::id.desc())
        .limit(500)
        .load(connection)
        .await?)
}

/// An operator's streak repair.
pub struct StreakRepair {
    pub user: i64,
    pub current: i32,
    pub freezes: i32,
}

/// Restores a user's streak (an outage, travel): current >= 0, freezes 0 to the most
/// held; lastActiveDate becomes the user's local date now when current > 0, longest
/// covers current. Admins only; recorded in the audit trail.
pub async fn repair_streak(
    connection: &mut AsyncPgConnection,
    admin_id: i64,
    repair: StreakRepair,
) -> Result<(), AppError> {
    require_admin(connection, admin_id).await?;
    if repair.current < 0 {
        return Err(AppError::BadUserInput("current must be 0 or more".into()));
    }
    if !(0..=STREAK.max_freezes).contains(&repair.freezes) {
        return Err(AppError::BadUserInput(format!(
            "freezes must be between 0 and {}",
            STREAK.max_freezes
        )));
    }
    connection
        .transaction(async move |connection| {
            accounts::find(connection, repair.user)
                .await?
                .ok_or_else(|| AppError::not_found("user"))?;
            diesel::sql_query(
                "UPDATE users SET streak_current = $2, streak_freezes = $3, \
                        streak_longest = greatest(streak_longest, $2), \
                        streak_last_date = CASE WHEN $2 > 0 THEN xp_local_date(timezone) \
                                                ELSE streak_last_date END \
                  WHERE id = $1",
            )
            .bind::<BigInt, _>(repair.user)
            .bind::<Integer, _>(repair.current)
            .bind::<Integer, _>(repair.freezes)
            .execute(connection)
            .await?;
            admin::record(
                connection,
                Some(admin_id),
                AdminActionKind::RepairStreak,
                Some(repair.user),
                format!("streak {} with {} freezes", repair.current, repair.freezes),
            )
            .await
        })
        .await
}
