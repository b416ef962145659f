//! The levelUps subscription.

use async_graphql::{Context, Object, Subscription};
use futures_util::stream::BoxStream;

use super::context::{caller, connection};
use super::notification::Notification;
use crate::domain::notifications;
use crate::error::AppError;
use crate::live::{self, LiveHub};

/// A level-up of the subscribed user.
pub struct LevelUpEvent(pub live::LevelUpEvent);

/// A level-up of the subscribed user, pushed by levelUps.
#[Object]
impl LevelUpEvent {
    /// The level reached.
    async fn level(&self) -> i32 {
        self.0.level
    }
    /// The level before the award; more than one below `level` when the award spanned
    /// several levels.
    async fn previous_level(&self) -> i32 {
        self.0.previous_level
    }
    /// The user's experiencePoints right after the award.
    async fn total_xp(&self) -> i32 {
        self.0.total_xp
    }
    /// The stored level-up notification (type ACHIEVEMENT_EARNED, level set).
    async fn notification(&self, ctx: &Context<'_>) -> Result<Notification, AppError> {
        let mut connection = connection(ctx).await?;
        notifications::find(&mut connection, self.0.notification_id)
            .await?
            .map(Notification)
            .ok_or_else(|| AppError::not_found("notification"))
    }
}

#[derive(Default)]
pub struct Subscription;

/// Live events, over WebSocket at `/graphql` (subprotocol graphql-transport-ws, or the
/// legacy graphql-ws). Sign in with the connection_init payload
/// `{"authorization": "Bearer <token>"}`; an invalid or expired token closes the socket
/// with code 4403, and so does the end of its session (logOut, changePassword).
#[Subscription]
impl Subscription {
    /// The caller's own level-ups, pushed once the award has committed, from any
    /// server instance. One event per level-up, even when it spans several levels.
    /// Awards made with awardXp's `notify: false` push nothing. Anonymous: UNAUTHENTICATED.
    async fn level_ups(
        &self,
        ctx: &Context<'_>,
    ) -> Result<BoxStream<'static, LevelUpEvent>, AppError> {
        use futures_util::StreamExt;
        let user = caller(ctx).require_user()?;
        let hub = ctx
            .data_opt::<LiveHub>()
            .ok_or_else(|| AppError::Internal("no live hub in the schema".into()))?;
        Ok(hub.subscribe(user).map(LevelUpEvent).boxed())
    }
}
