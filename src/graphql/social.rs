//! Friends and leaderboards in the API.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::context::{caller, connection, parse_id};
use super::user::User;
use super::xp::XpAward;
use crate::error::AppError;
use crate::friends::{self, FriendshipStatus};
use crate::leaderboard::{self, LeaderboardScope};

#[derive(SimpleObject)]
pub struct AddFriendPayload {
    user: User,
    status: FriendshipStatus,
    /// The caller's award, when this call made the friendship for the first time.
    xp_earned: Option<XpAward>,
}

#[derive(SimpleObject)]
pub struct RemoveFriendPayload {
    user: User,
}

#[derive(SimpleObject)]
pub struct LeaderboardEntry {
    rank: i32,
    user: User,
    experience_points: i32,
    level: i32,
}

pub const LEADERBOARD_DEFAULT: i32 = 10;
pub const LEADERBOARD_MAX: i32 = 100;

#[derive(Default)]
pub struct SocialQuery;

#[Object]
impl SocialQuery {
    /// Users by XP, then username; ties share a rank. FRIENDS: the caller and mutual friends.
    #[graphql(complexity = "super::pagination::page_complexity(Some(first), child_complexity)")]
    async fn leaderboard(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "LeaderboardScope::Global")] scope: LeaderboardScope,
        #[graphql(default = 10)] first: i32,
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

#[derive(Default)]
pub struct FriendMutation;

#[Object]
impl FriendMutation {
    /// Asks to be friends; when the other user has asked too, you are friends and both earn.
    async fn add_friend(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> Result<AddFriendPayload, AppError> {
        let me = caller(ctx).require_user()?;
        let other = parse_id(&user_id, "user")?;
        let mut connection = connection(ctx).await?;
        let outcome = friends::add(&mut connection, me, other).await?;
        Ok(AddFriendPayload {
            user: User(outcome.user),
            status: outcome.status,
            xp_earned: outcome.award.map(XpAward),
        })
    }

    /// Ends the friendship or request for both; it forms again only when both add again.
    async fn remove_friend(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
    ) -> Result<RemoveFriendPayload, AppError> {
        let me = caller(ctx).require_user()?;
        let other = parse_id(&user_id, "user")?;
        let mut connection = connection(ctx).await?;
        let user = friends::remove(&mut connection, me, other).await?;
        Ok(RemoveFriendPayload { user: User(user) })
    }
}
