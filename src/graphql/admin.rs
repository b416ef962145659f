//! Admin operations in the API.

use async_graphql::{Context, ID, InputObject, Object};

use super::context::{caller, connection, count_awards, parse_id};
use super::xp::XpAward;
use crate::domain::admin::{self, ManualAward};
use crate::error::AppError;
use crate::xp::XpAction;

/// An admin's award by hand.
#[derive(InputObject)]
pub struct AwardXpInput {
    /// The user who receives the XP; an unknown user is NOT_FOUND.
    user_id: ID,
    /// What the award is recorded as in the ledger (CUSTOM unless given).
    #[graphql(default_with = "XpAction::Custom")]
    action: XpAction,
    /// 1 to 10000 (else BAD_USER_INPUT); defaults to the action's table value; required
    /// for CUSTOM.
    amount: Option<i32>,
    /// Shown in the user's xpHistory; at most 500 characters (more: BAD_USER_INPUT),
    /// trimmed, blank meaning none.
    reason: Option<String>,
    /// false: no notification (level-up or achievement) is stored and no levelUps event
    /// is pushed; the XP and achievements are awarded all the same.
    #[graphql(default = true)]
    notify: bool,
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Awards XP by hand; admins only (anyone else: FORBIDDEN). Every call counts, never
    /// deduplicated. Returns the target user's award.
    async fn award_xp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who receives how much, for what and why.")] input: AwardXpInput,
    ) -> Result<XpAward, AppError> {
        let admin = caller(ctx).require_user()?;
        let user = parse_id(&input.user_id, "user")?;
        let mut connection = connection(ctx).await?;
        let award = admin::award_manually(
            &mut connection,
            admin,
            ManualAward {
                user,
                action: input.action,
                amount: input.amount,
                reason: input.reason,
                notify: input.notify,
            },
        )
        .await?;
        count_awards(ctx, [&award]);
        Ok(XpAward(award))
    }
}
