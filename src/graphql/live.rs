//! The levelUps and xpAwarded subscriptions.

use async_graphql::{Context, Object, Subscription};
use futures_util::stream::BoxStream;

use super::context::{caller, connection};
use super::notification::Notification;
use super::xp::XpAward;
use crate::domain::notifications;
use crate::error::AppError;
use crate::live::{self, AwardEvent, LiveHub};
use crate::xp::award::Award;
use crate::xp::rules::{AchievementKey, XpAction};

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
    /// The shop items this level-up unlocked: those whose minLevel is above
    /// previousLevel and at most level, in catalog order.
    async fn unlocked_items(&self) -> Vec<super::shop::ShopItem> {
        crate::xp::shop::unlocked_between(self.0.previous_level, self.0.level)
            .into_iter()
            .map(super::shop::ShopItem)
            .collect()
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
        Ok(hub(ctx)?.subscribe(user).map(LevelUpEvent).boxed())
    }

    /// Every award to the caller (likes received included, streak bonuses, quest
    /// rewards, achievements), one event per award as the ledger recorded it, pushed once
    /// it has committed, from any server instance. Anonymous: UNAUTHENTICATED.
    async fn xp_awarded(&self, ctx: &Context<'_>) -> Result<BoxStream<'static, XpAward>, AppError> {
        use futures_util::StreamExt;
        let user = caller(ctx).require_user()?;
        let stream = hub(ctx)?.subscribe_awards(user).await?;
        Ok(stream
            .filter_map(|event| async move { award(event) })
            .boxed())
    }
}

fn hub<'a>(ctx: &Context<'a>) -> Result<&'a LiveHub, AppError> {
    ctx.data_opt::<LiveHub>()
        .ok_or_else(|| AppError::Internal("no live hub in the schema".into()))
}

/// The award an announcement describes; None (logged) for one this build cannot read.
fn award(event: AwardEvent) -> Option<XpAward> {
    let Some(action) = XpAction::from_code(&event.action) else {
        tracing::error!(action = event.action, "an award of an unknown action");
        return None;
    };
    let awarded_at = chrono::DateTime::parse_from_rfc3339(&event.awarded_at)
        .map(|instant| instant.to_utc())
        .unwrap_or_else(|_| chrono::Utc::now());
    Some(XpAward(Award {
        recipient: event.user_id,
        action,
        xp_gained: event.xp_gained,
        total_xp: event.total_xp,
        level: event.level,
        previous_level: event.previous_level,
        achievements: event
            .unlocked
            .unwrap_or_default()
            .iter()
            .filter_map(|code| AchievementKey::from_code(code))
            .collect(),
        awarded_at,
        notification_id: None,
        entries: event.entries.unwrap_or_default(),
        folded: Vec::new(),
    }))
}
