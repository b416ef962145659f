//! Economy statistics in the API (admins): xpStats.

use async_graphql::{Context, Object, SimpleObject};

use super::context::{caller, connection};
use crate::domain::stats::{self, XpStatsReport};
use crate::error::AppError;
use crate::xp::XpAction;

/// xpStats' report.
pub struct XpStats(XpStatsReport);

/// Users at one level.
#[derive(SimpleObject)]
pub struct LevelUsers {
    /// The level.
    level: i32,
    /// How many users are at it.
    users: i32,
}

/// An action's awards over the report's days.
#[derive(SimpleObject)]
pub struct XpActionStats {
    /// The action.
    action: XpAction,
    /// Ledger entries (awards) it made.
    awards: i32,
    /// XP they paid.
    xp: i32,
}

/// One UTC day.
#[derive(SimpleObject)]
pub struct XpDayStats {
    /// The UTC date, YYYY-MM-DD.
    date: String,
    /// Awards (ledger entries) made that day.
    awards: i32,
    /// XP paid that day.
    xp: i32,
    /// Users who received at least one award that day.
    active_users: i32,
}

/// A count as a GraphQL Int; beyond 2^31 - 1 an error, never a wrong number.
fn int(count: i64) -> Result<i32, AppError> {
    i32::try_from(count).map_err(|_| AppError::Internal(format!("{count} exceeds GraphQL's Int")))
}

/// How XP flows: users, their levels, and awards per action and per UTC day.
#[Object]
impl XpStats {
    /// Users in all.
    async fn users(&self) -> Result<i32, AppError> {
        int(self.0.users)
    }
    /// Users per level, lowest level first (levels nobody is at left out).
    async fn level_distribution(&self) -> Result<Vec<LevelUsers>, AppError> {
        self.0
            .levels
            .iter()
            .map(|&(level, users)| {
                Ok(LevelUsers {
                    level,
                    users: int(users)?,
                })
            })
            .collect()
    }
    /// Every action, in the order of xpRewards, with its awards and XP over the days.
    async fn actions(&self) -> Result<Vec<XpActionStats>, AppError> {
        self.0
            .actions
            .iter()
            .map(|row| {
                Ok(XpActionStats {
                    action: row.action,
                    awards: int(row.awards)?,
                    xp: int(row.xp)?,
                })
            })
            .collect()
    }
    /// One row per UTC day, oldest first, today last, days without awards included.
    async fn daily(&self) -> Result<Vec<XpDayStats>, AppError> {
        self.0
            .daily
            .iter()
            .map(|day| {
                Ok(XpDayStats {
                    date: day.date.to_string(),
                    awards: int(day.awards)?,
                    xp: int(day.xp)?,
                    active_users: int(day.active_users)?,
                })
            })
            .collect()
    }
}

#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// The economy's statistics over the last `days` UTC days (today included); exact at
    /// the instant of the call. Admins only (FORBIDDEN).
    async fn xp_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = 30,
            desc = "How many UTC days, today included: 1 to 365, otherwise BAD_USER_INPUT."
        )]
        days: i32,
    ) -> Result<XpStats, AppError> {
        let admin = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        Ok(XpStats(stats::report(&mut connection, admin, days).await?))
    }
}
