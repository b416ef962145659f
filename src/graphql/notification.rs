//! Notifications in the API.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::context::{caller, connection, parse_id};
use super::pagination::{IdCursor, PageRequest};
use super::xp::Achievement;
use crate::domain::notifications::{self, NotificationRecord};
use crate::error::AppError;
use crate::xp::AchievementKey;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum NotificationType {
    /// A level-up (level is set) or an achievement (achievement is set).
    AchievementEarned,
}

pub struct Notification(pub NotificationRecord);

/// A message to one user about their own progress: a level-up or an achievement. Only
/// that user can read it.
#[Object]
impl Notification {
    /// The notification's stable id, for markNotificationsRead.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// ACHIEVEMENT_EARNED, for level-ups and achievements alike: which of `level` and
    /// `achievement` is set tells them apart.
    #[graphql(name = "type")]
    async fn kind(&self) -> NotificationType {
        NotificationType::AchievementEarned
    }
    /// Text ready to show, such as "Level up! You reached level 3." or "Achievement
    /// unlocked: First Story!".
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The level reached, for a level-up; null for an achievement.
    async fn level(&self) -> Option<i32> {
        self.0.level
    }
    /// The achievement earned (earnedAt: when), for an achievement; null for a level-up.
    async fn achievement(&self) -> Option<Achievement> {
        let key = AchievementKey::from_code(self.0.achievement.as_deref()?)?;
        Some(Achievement::earned(key, self.0.created_at))
    }
    /// Whether markNotificationsRead marked it read; false when new.
    async fn read(&self) -> bool {
        self.0.read
    }
    /// When it was stored: when the level or achievement was reached.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The caller's notifications, newest first. Anonymous: UNAUTHENTICATED.
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many notifications, 0 to 100 (null: 20); otherwise BAD_USER_INPUT.")]
        first: Option<i32>,
        #[graphql(
            desc = "Start after this cursor (`pageInfo.endCursor` of the previous page); null: \
                    from the newest. A string that is no cursor of ours: BAD_USER_INPUT."
        )]
        after: Option<String>,
        #[graphql(desc = "Only unread ones (null: false).")] unread_only: Option<bool>,
    ) -> Result<Connection<IdCursor, Notification>, AppError> {
        let user = caller(ctx).require_user()?;
        let page = PageRequest::parse(first, after)?;
        let mut connection = connection(ctx).await?;
        let rows = notifications::list(
            &mut connection,
            user,
            unread_only.unwrap_or(false),
            page.after,
            page.fetch_limit(),
        )
        .await?;
        Ok(page.connection(rows, |row| row.id, Notification))
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the caller's notifications read; returns how many changed (ids of others'
    /// notifications, unknown ids and ones already read are ignored).
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Ids of the caller's notifications, at most 1000 (more: BAD_USER_INPUT)."
        )]
        ids: Vec<ID>,
    ) -> Result<i32, AppError> {
        let user = caller(ctx).require_user()?;
        let ids = ids
            .iter()
            .map(|id| parse_id(id, "notification"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut connection = connection(ctx).await?;
        let changed = notifications::mark_read(&mut connection, user, &ids).await?;
        Ok(i32::try_from(changed).unwrap_or(i32::MAX))
    }
}
