//! Ending sessions in the API: logOut and changePassword.

use async_graphql::{Context, InputObject, Object};
use chrono::Utc;

use super::context::{caller, connection, throttle_auth, token_keys};
use super::user::{AuthPayload, User};
use crate::auth::Session;
use crate::domain::accounts::sessions;
use crate::error::AppError;

/// The input of `changePassword`.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    /// The password in use now. A wrong one is UNAUTHENTICATED and counts as a failed
    /// login (at most 10 per account per 15 minutes).
    current_password: String,
    /// The new password: 8 to 256 characters.
    new_password: String,
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Ends the session of the token that made this call: that token is refused from
    /// then on, on every server instance within a second. Other tokens of the same user
    /// stay valid. Always true for a signed-in caller; UNAUTHENTICATED for anonymous
    /// callers.
    async fn log_out(&self, ctx: &Context<'_>) -> Result<bool, AppError> {
        caller(ctx).require_user()?;
        let session = ctx
            .data_opt::<Session>()
            .ok_or_else(AppError::sign_in_required)?;
        let keys = token_keys(ctx)?;
        let mut connection = connection(ctx).await?;
        sessions::log_out(&mut connection, keys.revocations(), session).await?;
        Ok(true)
    }

    /// Changes the caller's password and returns a new token: every token issued to the
    /// caller before is refused from then on (every instance, within a second), and the
    /// caller's open WebSockets are closed with 4403. Throttled like logIn.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current password and the new one.")] input: ChangePasswordInput,
    ) -> Result<AuthPayload, AppError> {
        let user_id = caller(ctx).require_user()?;
        throttle_auth(ctx)?;
        let keys = token_keys(ctx)?;
        let mut connection = connection(ctx).await?;
        let signed_in = sessions::change_password(
            &mut connection,
            keys.revocations(),
            user_id,
            input.current_password,
            input.new_password,
            Utc::now(),
        )
        .await?;
        let token = keys.issue(user_id, signed_in.generation)?;
        Ok(AuthPayload {
            token,
            user: User(signed_in.user),
        })
    }
}
