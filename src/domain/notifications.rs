//! Notifications: stored by the award function, read and marked read by their owner.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::notifications;
use crate::error::AppError;

/// Most ids one markNotificationsRead call accepts.
pub const MARK_READ_MAX_IDS: usize = 1000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NotificationRecord {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub message: String,
    pub level: Option<i32>,
    pub achievement: Option<String>,
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

/// A page of the user's notifications, newest first.
pub async fn list(
    connection: &mut AsyncPgConnection,
    user: i64,
    unread_only: bool,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<NotificationRecord>, AppError> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user))
        .select(NotificationRecord::as_select())
        .order(notifications::id.desc())
        .limit(limit)
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read.eq(false));
    }
    if let Some(after) = after {
        query = query.filter(notifications::id.lt(after));
    }
    Ok(query.load(connection).await?)
}

pub async fn find(
    connection: &mut AsyncPgConnection,
    id: i64,
) -> Result<Option<NotificationRecord>, AppError> {
    Ok(notifications::table
        .find(id)
        .select(NotificationRecord::as_select())
        .first(connection)
        .await
        .optional()?)
}

/// Marks the user's own notifications among `ids` read; returns how many changed.
pub async fn mark_read(
    connection: &mut AsyncPgConnection,
    user: i64,
    ids: &[i64],
) -> Result<usize, AppError> {
    if ids.len() > MARK_READ_MAX_IDS {
        return Err(AppError::BadUserInput(format!(
            "at most {MARK_READ_MAX_IDS} ids per call"
        )));
    }
    Ok(diesel::update(
        notifications::table
            .filter(notifications::user_id.eq(user))
            .filter(notifications::id.eq_any(ids))
            .filter(notifications::read.eq(false)),
    )
    .set(notifications::read.eq(true))
    .execute(connection)
    .await?)
}
