//! The daily loop: each writer's timezone, streaks (`streaks.rs`) and daily quests
//! (`quests.rs`). What moves them runs in SQL inside every action's transaction
//! (`xp::activity`); this reads them and changes the timezone. Every date is the
//! writer's local date at the clock's instant (`storyxp_now()`, `clock.rs`).

pub mod quests;
pub mod streaks;

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::error::AppError;

/// The longest IANA zone name accepted.
pub const TIMEZONE_MAX_CHARS: usize = 64;

#[derive(diesel::QueryableByName)]
struct TimezoneChange {
    #[diesel(sql_type = Bool)]
    known: bool,
    #[diesel(sql_type = Nullable<Text>)]
    current: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    next_change: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    changed: bool,
}

/// Sets the user's timezone (an IANA name PostgreSQL knows, such as `Europe/Berlin`).
/// It may change at most once per 24 hours (of the clock), so no one gains days by
/// hopping zones; setting the zone already set changes nothing and is allowed.
pub async fn set_timezone(
    connection: &mut AsyncPgConnection,
    user: i64,
    timezone: &str,
) -> Result<(), AppError> {
    let timezone = timezone.trim();
    if timezone.is_empty() || timezone.chars().count() > TIMEZONE_MAX_CHARS {
        return Err(AppError::BadUserInput(format!(
            "a timezone is an IANA name such as Europe/Berlin, 1 to {TIMEZONE_MAX_CHARS} characters"
        )));
    }
    let timezone = timezone.to_string();
    connection
        .transaction(async move |connection| {
            let change: TimezoneChange = diesel::sql_query(
                "WITH known AS (SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $2) AS known), \
                      me AS (SELECT u.timezone, u.timezone_changed_at FROM users u WHERE u.id = $1 FOR NO KEY UPDATE), \
                      changed AS ( \
                        UPDATE users u SET timezone = $2, timezone_changed_at = storyxp_now() \
                          FROM known, me \
                         WHERE u.id = $1 AND known.known AND me.timezone <> $2 \
                           AND (me.timezone_changed_at IS NULL \
                                OR me.timezone_changed_at <= storyxp_now() - INTERVAL '24 hours') \
                        RETURNING u.id) \
                 SELECT known.known, me.timezone AS current, \
                        me.timezone_changed_at + INTERVAL '24 hours' AS next_change, \
                        EXISTS (SELECT 1 FROM changed) AS changed \
                   FROM known LEFT JOIN me ON TRUE",
            )
            .bind::<BigInt, _>(user)
            .bind::<Text, _>(&timezone)
            .get_result(connection)
            .await?;
            if !change.known {
                return Err(AppError::BadUserInput(format!(
                    "`{timezone}` is not a timezone: give an IANA name such as Europe/Berlin or America/New_York"
                )));
            }
            let Some(current) = change.current else {
                return Err(AppError::not_found("user"));
            };
            if change.changed || current == timezone {
                return Ok(());
            }
            Err(AppError::BadUserInput(format!(
                "the timezone changes at most once per 24 hours; the next change is possible from {}",
                change
                    .next_change
                    .map_or_else(|| "now".to_string(), |at| at.to_rfc3339())
            )))
        })
        .await
}

/// The user's timezone.
pub async fn timezone(connection: &mut AsyncPgConnection, user: i64) -> Result<String, AppError> {
    use diesel::OptionalExtension;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        timezone: String,
    }
    let row: Option<Row> = diesel::sql_query("SELECT timezone FROM users WHERE id = $1")
        .bind::<BigInt, _>(user)
        .get_result(connection)
        .await
        .optional()?;
    Ok(row.ok_or_else(|| AppError::not_found("user"))?.timezone)
}
