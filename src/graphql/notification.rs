//! Notifications in the API.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::context::{caller, connection, parse_id};
use super::pagination::{IdCursor, PageRequest};
use super::xp::Achievement;
use crate::error::AppError;
use crate::notifications::{self, NotificationRecord};
use crate::xp::AchievementKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum NotificationType {
    /// A level-up (level is set) or an achievement (achievement is set).
    AchievementEarned,
}

pub struct Notification(pub NotificationRecord);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> NotificationType {
        NotificationType::AchievementEarned
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The level reached, for a level-up.
    async fn level(&self) -> Option<i32> {
        self.0.level
    }
    /// The achievement earned, for an achievement.
    async fn achievement(&self) -> Option<Achievement> {
        let key = AchievementKey::from_code(self.0.achievement.as_deref()?)?;
        Some(Achievement::earned(key, self.0.created_at))
    }
    async fn read(&self) -> bool {
        self.0.read
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The caller's notifications, newest first.
    #[graphql(complexity = "super::pagination::page_complexity(first, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
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
    /// Marks the caller's notifications read; returns how many changed (others' ids are ignored).
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
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
