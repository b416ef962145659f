//! Admin operations in the API.

use async_graphql::{Context, ID, InputObject, Object};

use super::context::{caller, connection, parse_id};
use super::xp::XpAward;
use crate::admin::{self, ManualAward};
use crate::error::AppError;
use crate::xp::XpAction;

#[derive(InputObject)]
pub struct AwardXpInput {
    user_id: ID,
    #[graphql(default_with = "XpAction::Custom")]
    action: XpAction,
    /// 1 to 10000; defaults to the action's table value; required for CUSTOM.
    amount: Option<i32>,
    /// Shown in the user's xpHistory.
    reason: Option<String>,
    /// false: no notification is stored or pushed.
    #[graphql(default = true)]
    notify: bool,
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Awards XP by hand (admins only). Every call counts.
    async fn award_xp(&self, ctx: &Context<'_>, input: AwardXpInput) -> Result<XpAward, AppError> {
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
        Ok(XpAward(award))
    }
}
