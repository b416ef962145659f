//! The leaderboard in the API.

use async_graphql::{Context, Object, SimpleObject};

use super::context::{caller, connection};
use super::user::User;
use crate::domain::social::leaderboard::{self, LeaderboardScope};
use crate::error::AppError;

/// One row of a leaderboard.
#[derive(SimpleObject)]
pub struct LeaderboardEntry {
    /// 1 for the most XP; users with equal XP share a rank and the next rank skips
    /// (1, 2, 2, 4).
    rank: i32,
    /// The user ranked.
    user: User,
    /// The user's total XP, as User.experiencePoints.
    experience_points: i32,
    /// The user's level, as User.level.
    level: i32,
}

pub const LEADERBOARD_DEFAULT: i32 = 10;
pub const LEADERBOARD_MAX: i32 = 100;

#[derive(Default)]
pub struct LeaderboardQuery;

#[Object]
impl LeaderboardQuery {
    /// Users by XP (most first), then username; ties share a rank. FRIENDS: the caller and
    /// their mutual friends.
    #[graphql(complexity = "super::pagination::page_complexity(Some(first), child_complexity)")]
    async fn leaderboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default_with = "LeaderboardScope::Global",
            desc = "Whom to rank: GLOBAL, everyone; FRIENDS, the caller and their mutual \
                    friends (signed-in callers only, else UNAUTHENTICATED)."
        )]
        scope: LeaderboardScope,
        #[graphql(
            default = 10,
            desc = "How many rows, 0 to 100; otherwise BAD_USER_INPUT."
        )]
        first: i32,
    ) -> Result<Vec<LeaderboardEntry>, AppError> {
        if !(0..=LEADERBOARD_MAX).contains(&first) {
            return Err(AppError::BadUserInput(format!(
                "`first` must be between 0 and {LEADERBOARD_MAX}"
            )));
        }
        let caller = caller(ctx).user_id();
        if scope == LeaderboardScope::Friends && caller.is_none() {
            return Err(AppError::sign_in_required());
        }
        let mut connection = connection(ctx).await?;
        let rows = leaderboard::top(&mut connection, scope, caller, i64::from(first)).await?;
        Ok(rows
            .into_iter()
            .map(|row| LeaderboardEntry {
                rank: i32::try_from(row.rank).unwrap_or(i32::MAX),
                experience_points: row.user.experience_points,
                level: row.user.level,
                user: User(row.user),
            })
            .collect())
    }
}
