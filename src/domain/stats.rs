//! Economy statistics for operators (xpStats): users, the level distribution, awards and
//! XP per action, and awards, XP and active users per UTC day.
//!
//! Read from rollups that the awards maintain (migration 000016): every ledger entry and
//! every new user appends a row to `xp_stats_pending` in its own transaction, and
//! [`compact`] (every second, one instance at a time) moves those rows into the rollups.
//! A report reads rollups and pending rows in one snapshot, so it is exact whether or
//! not a compaction ran, and its cost does not grow with the ledger or the users.

use std::time::Duration;

use chrono::NaiveDate;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Date, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::DbPool;
use crate::domain::admin::require_admin;
use crate::error::AppError;
use crate::xp::XpAction;

/// The days a report may cover.
pub const DAYS_RANGE: std::ops::RangeInclusive<i32> = 1..=365;

/// How often an instance moves pending rows into the rollups.
pub const COMPACTION_INTERVAL: Duration = Duration::from_secs(1);

/// A report: everything xpStats shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XpStatsReport {
    pub users: i64,
    /// (level, users) for every level someone is at, lowest first.
    pub levels: Vec<(i32, i64)>,
    /// Every action of the rule table, in its order, with its awards and XP over the days.
    pub actions: Vec<ActionTotals>,
    /// One row per UTC day, oldest first, today last, zeros included.
    pub daily: Vec<DayTotals>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionTotals {
    pub action: XpAction,
    pub awards: i64,
    pub xp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct DayTotals {
    #[diesel(sql_type = Date)]
    pub date: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub awards: i64,
    #[diesel(sql_type = BigInt)]
    pub xp: i64,
    #[diesel(sql_type = BigInt)]
    pub active_users: i64,
}

#[derive(QueryableByName)]
struct LevelRow {
    #[diesel(sql_type = Integer)]
    level: i32,
    #[diesel(sql_type = BigInt)]
    users: i64,
}

#[derive(QueryableByName)]
struct ActionRow {
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = BigInt)]
    awards: i64,
    #[diesel(sql_type = BigInt)]
    xp: i64,
}

#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = BigInt)]
    moved: i64,
}

// Each query adds what is still pending to what the rollups hold. $1: the report's
// days; the last is today (UTC) by storyxp_now().
const LEVELS: &str = "\
    SELECT c.level, sum(c.users)::BIGINT AS users FROM (
        SELECT level, users FROM xp_stats_levels
        UNION ALL
        SELECT level_to, count(*) FROM xp_stats_pending WHERE level_to IS NOT NULL GROUP BY level_to
        UNION ALL
        SELECT level_from, -count(*) FROM xp_stats_pending WHERE level_from IS NOT NULL GROUP BY level_from
    ) c GROUP BY c.level HAVING sum(c.users) > 0 ORDER BY c.level";

const ACTIONS: &str = "\
    SELECT t.action, sum(t.awards)::BIGINT AS awards, sum(t.xp)::BIGINT AS xp FROM (
        SELECT action, awards, xp FROM xp_stats_daily
         WHERE day BETWEEN (storyxp_now() AT TIME ZONE 'UTC')::DATE - ($1 - 1)
                       AND (storyxp_now() AT TIME ZONE 'UTC')::DATE
        UNION ALL
        SELECT action, count(*), sum(xp) FROM xp_stats_pending
         WHERE action IS NOT NULL
           AND day BETWEEN (storyxp_now() AT TIME ZONE 'UTC')::DATE - ($1 - 1)
                       AND (storyxp_now() AT TIME ZONE 'UTC')::DATE
         GROUP BY action
    ) t GROUP BY t.action";

const DAILY: &str = "\
    WITH span AS (
        SELECT (storyxp_now() AT TIME ZONE 'UTC')::DATE - ($1 - 1) AS first,
               (storyxp_now() AT TIME ZONE 'UTC')::DATE AS last
    ), awards AS (
        SELECT t.day, sum(t.awards) AS awards, sum(t.xp) AS xp FROM (
            SELECT d.day, d.awards, d.xp FROM xp_stats_daily d, span
             WHERE d.day BETWEEN span.first AND span.last
            UNION ALL
            SELECT p.day, count(*), sum(p.xp) FROM xp_stats_pending p, span
             WHERE p.action IS NOT NULL AND p.day BETWEEN span.first AND span.last
             GROUP BY p.day
        ) t GROUP BY t.day
    ), active AS (
        SELECT t.day, sum(t.users) AS users FROM (
            SELECT d.day, d.active_users AS users FROM xp_stats_days d, span
             WHERE d.day BETWEEN span.first AND span.last
            UNION ALL
            SELECT p.day, count(DISTINCT p.user_id) FROM xp_stats_pending p, span
             WHERE p.action IS NOT NULL AND p.day BETWEEN span.first AND span.last
               AND NOT EXISTS (SELECT 1 FROM xp_stats_active a
                                WHERE a.day = p.day AND a.user_id = p.user_id)
             GROUP BY p.day
        ) t GROUP BY t.day
    )
    SELECT g.day::DATE AS date, coalesce(a.awards, 0)::BIGINT AS awards,
           coalesce(a.xp, 0)::BIGINT AS xp, coalesce(u.users, 0)::BIGINT AS active_users
      FROM span, generate_series(span.first, span.last, INTERVAL '1 day') AS g(day)
      LEFT JOIN awards a ON a.day = g.day::DATE
      LEFT JOIN active u ON u.day = g.day::DATE
     ORDER BY g.day";

/// The report over the last `days` UTC days (today included); admins only.
pub async fn report(
    connection: &mut AsyncPgConnection,
    admin_id: i64,
    days: i32,
) -> Result<XpStatsReport, AppError> {
    require_admin(connection, admin_id).await?;
    if !DAYS_RANGE.contains(&days) {
        return Err(AppError::BadUserInput(format!(
            "days must be between {} and {}, not {days}",
            DAYS_RANGE.start(),
            DAYS_RANGE.end()
        )));
    }
    // One snapshot for every part, so that they agree with each other.
    connection
        .build_transaction()
        .repeatable_read()
        .read_only()
        .run(async move |connection| {
            let levels: Vec<LevelRow> = diesel::sql_query(LEVELS).load(connection).await?;
            let rows: Vec<ActionRow> = diesel::sql_query(ACTIONS)
                .bind::<Integer, _>(days)
                .load(connection)
                .await?;
            let daily: Vec<DayTotals> = diesel::sql_query(DAILY)
                .bind::<Integer, _>(days)
                .load(connection)
                .await?;
            let actions = XpAction::ALL
                .into_iter()
                .map(|action| {
                    let row = rows.iter().find(|row| row.action == action.as_str());
                    ActionTotals {
                        action,
                        awards: row.map_or(0, |row| row.awards),
                        xp: row.map_or(0, |row| row.xp),
                    }
                })
                .collect();
            Ok::<_, AppError>(XpStatsReport {
                users: levels.iter().map(|row| row.users).sum(),
                levels: levels
                    .into_iter()
                    .map(|row| (row.level, row.users))
                    .collect(),
                actions,
                daily,
            })
        })
        .await
}

/// Moves the pending rows into the rollups; how many moved (0 when another instance
/// was moving them).
pub async fn compact(connection: &mut AsyncPgConnection) -> Result<i64, diesel::result::Error> {
    let moved: Moved = diesel::sql_query("SELECT xp_stats_compact() AS moved")
        .get_result(connection)
        .await?;
    Ok(moved.moved)
}

/// Compacts every [`COMPACTION_INTERVAL`] for as long as the task runs.
pub async fn compact_forever(pool: DbPool) {
    let mut interval = tokio::time::interval(COMPACTION_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let result = match pool.get().await {
            Ok(mut connection) => compact(&mut connection).await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = result {
            tracing::debug!(%error, "compacting the xpStats rollups failed; retrying");
        }
    }
}
