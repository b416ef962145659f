//! Friends and leaderboards in the API.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::context::{caller, connection, count_awards, parse_id};
use super::user::User;
use super::xp::XpAward;
use crate::domain::social::friends::{self, FriendshipStatus};
use crate::domain::social::leaderboard::{self, LeaderboardScope};
use crate::error::AppError;

/// The result of addFriend.
#[derive(SimpleObject)]
pub struct AddFriendPayload {
    /// The user asked to be friends.
    user: User,
    /// PENDING until that user asks back; FRIENDS once both have asked.
    status: FriendshipStatus,
    /// The caller's FRIEND_ADDED award, when this call made the pair friends for the
    /// first time ever; null otherwise.
    xp_earned: Option<XpAward>,
}

/// The result of removeFriend.
#[derive(SimpleObject)]
pub struct RemoveFriendPayload {
    /// The user no longer a friend (or no longer asked).
    user: User,
}

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
pub struct SocialQuery;

#[Object]
impl SocialQuery {
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

#[derive(Default)]
pub struct FriendMutation;

#[Object]
impl FriendMutation {
    /// Asks to be friends; when the other user has asked too, you are friends and both earn
    /// FRIEND_ADDED (once per pair, ever). Asking again changes nothing. Yourself:
    /// BAD_USER_INPUT; an unknown user: NOT_FOUND.
    async fn add_friend(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the user to befriend.")] user_id: ID,
    ) -> Result<AddFriendPayload, AppError> {
        let me = caller(ctx).require_user()?;
        let other = parse_id(&user_id, "user")?;
        let mut connection = connection(ctx).await?;
        let outcome = friends::add(&mut connection, me, other).await?;
        count_awards(ctx, outcome.award.iter().chain(&outcome.friend_award));
        Ok(AddFriendPayload {
            user: User(outcome.user),
            status: outcome.status,
            xp_earned: outcome.award.map(XpAward),
        })
    }

    /// Ends the friendship or request for both; it forms again only when both add again,
    /// and then earns nothing. The XP it earned stays.
    async fn remove_friend(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the friend, or of the user asked.")] user_id: ID,
    ) -> Result<RemoveFriendPayload, AppError> {
        let me = caller(ctx).require_user()?;
        let other = parse_id(&user_id, "user")?;
        let mut connection = connection(ctx).await?;
        let user = friends::remove(&mut connection, me, other).await?;
        Ok(RemoveFriendPayload { user: User(user) })
    }
}
