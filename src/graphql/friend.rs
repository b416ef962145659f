//! Friends in the API: addFriend and removeFriend.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::context::{caller, connection, count_awards, parse_id};
use super::user::User;
use super::xp::XpAward;
use crate::domain::social::friends::{self, FriendshipStatus};
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
