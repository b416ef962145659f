//! Sessions: logging in (failed passwords counted per account), logging out, and
//! changing the password, which ends every earlier session of the user.
//!
//! Ending a session writes the database's record (`revoked_tokens`,
//! `users.session_generation`) and, in the same transaction, a `storyxp_sessions`
//! notification, which every instance's listener applies to its `Revocations`
//! (PostgreSQL delivers it at commit). The calling instance applies it at once too.
//! Failed passwords run on real time, never on the test clock.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bytea, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::auth::revocations::{Revocations, SessionEvent};
use crate::auth::{Session, password};
use crate::db::schema::users;
use crate::domain::accounts::{UserRecord, validate_password};
use crate::error::{AppError, ThrottleScope};

/// Failed passwords allowed per account within `FAILURE_WINDOW`, from any address.
pub const MAX_FAILURES: i64 = 10;
pub const FAILURE_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Longest login text kept as a failure key (longer ones cannot name an account).
const MAX_LOGIN_KEY: usize = 254;

fn wrong_login() -> AppError {
    AppError::Unauthenticated("wrong login or password".into())
}

/// A user and the session generation their new token belongs to.
pub struct SignedIn {
    pub user: UserRecord,
    pub generation: i32,
}

/// Logs in by username or email. A wrong password and an unknown login look the same,
/// and so does the refusal once either has failed `MAX_FAILURES` times.
pub async fn log_in(
    connection: &mut AsyncPgConnection,
    login: &str,
    password: String,
    now: DateTime<Utc>,
) -> Result<SignedIn, AppError> {
    let login = login.trim();
    let found: Option<(UserRecord, String, i32)> = users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(username) = lower(")
                .bind::<Text, _>(login)
                .sql(") OR lower(email) = lower(")
                .bind::<Text, _>(login)
                .sql(")"),
        )
        .select((
            UserRecord::as_select(),
            users::password_hash,
            users::session_generation,
        ))
        .first(connection)
        .await
        .optional()?;
    let Some((user, hash, generation)) = found else {
        let key: String = login.to_lowercase().chars().take(MAX_LOGIN_KEY).collect();
        reserve_attempt(connection, &format!("login:{key}"), now).await?;
        // Spend the same effort as a real check so timing does not reveal unknown logins.
        password::hash(password).await?;
        return Err(wrong_login());
    };
    let attempt = reserve_attempt(connection, &account_key(user.id), now).await?;
    if !password_matches(connection, user.id, &password, hash).await? {
        return Err(wrong_login());
    }
    attempt.succeeded(connection).await?;
    Ok(SignedIn { user, generation })
}

/// Changes the caller's password: a wrong current one counts as a failed login; a
/// right one starts a new session generation, so every earlier token is refused.
pub async fn change_password(
    connection: &mut AsyncPgConnection,
    revocations: &Revocations,
    user_id: i64,
    current_password: String,
    new_password: String,
    now: DateTime<Utc>,
) -> Result<SignedIn, AppError> {
    validate_password(&new_password)?;
    let (user, hash): (UserRecord, String) = users::table
        .find(user_id)
        .select((UserRecord::as_select(), users::password_hash))
        .first(connection)
        .await
        .optional()?
        .ok_or_else(|| AppError::not_found("user"))?;
    let attempt = reserve_attempt(connection, &account_key(user_id), now).await?;
    if !password_matches(connection, user_id, &current_password, hash).await? {
        return Err(AppError::Unauthenticated(
            "the current password is wrong".into(),
        ));
    }
    attempt.succeeded(connection).await?;
    let new_hash = password::hash(new_password).await?;
    #[derive(QueryableByName)]
    struct Started {
        #[diesel(sql_type = Integer)]
        generation: i32,
    }
    let started: Started = diesel::sql_query(
        "WITH changed AS (
             UPDATE users SET password_hash = $2, session_generation = session_generation + 1
             WHERE id = $1 RETURNING id, session_generation)
         SELECT session_generation AS generation,
                pg_notify('storyxp_sessions', json_build_object(
                    'kind', 'generation_started', 'user_id', id,
                    'generation', session_generation)::text)::text AS notified
         FROM changed",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<Text, _>(new_hash)
    .get_result(connection)
    .await?;
    revocations.start_generation(user_id, started.generation);
    Ok(SignedIn {
        user,
        generation: started.generation,
    })
}

/// Ends the session of `session`'s token, on every instance.
pub async fn log_out(
    connection: &mut AsyncPgConnection,
    revocations: &Revocations,
    session: &Session,
) -> Result<(), AppError> {
    let expires_at = DateTime::<Utc>::from_timestamp(
        i64::try_from(session.expires_at).unwrap_or(i64::MAX / 1_000_000),
        0,
    )
    .unwrap_or(DateTime::<Utc>::MAX_UTC);
    diesel::sql_query(
        "WITH ended AS (
             INSERT INTO revoked_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (token_hash) DO NOTHING RETURNING token_hash)
         SELECT pg_notify('storyxp_sessions', json_build_object(
                    'kind', 'token_ended', 'token_hash', encode(token_hash, 'hex'),
                    'expires_at', $4)::text)
         FROM ended",
    )
    .bind::<Bytea, _>(session.token_hash.as_slice())
    .bind::<BigInt, _>(session.user_id)
    .bind::<Timestamptz, _>(expires_at)
    .bind::<BigInt, _>(i64::try_from(session.expires_at).unwrap_or(i64::MAX))
    .execute(connection)
    .await?;
    revocations.end_token(
        session.token_hash,
        session.expires_at,
        crate::auth::token::now(),
    );
    Ok(())
}

/// Every session ended in the database, as `Revocations` events (for a listener that
/// just (re)connected and may have missed notifications).
pub async fn ended_sessions(
    client: &tokio_postgres::Client,
) -> Result<Vec<SessionEvent>, tokio_postgres::Error> {
    let mut events = Vec::new();
    for row in client
        .query(
            "SELECT encode(token_hash, 'hex'), extract(epoch FROM expires_at)::bigint
             FROM revoked_tokens WHERE expires_at > now()",
            &[],
        )
        .await?
    {
        events.push(SessionEvent::TokenEnded {
            token_hash: row.get(0),
            expires_at: u64::try_from(row.get::<_, i64>(1)).unwrap_or_default(),
        });
    }
    for row in client
        .query(
            "SELECT id, session_generation FROM users WHERE session_generation > 0",
            &[],
        )
        .await?
    {
        events.push(SessionEvent::GenerationStarted {
            user_id: row.get(0),
            generation: row.get(1),
        });
    }
    Ok(events)
}

fn account_key(user_id: i64) -> String {
    format!("user:{user_id}")
}

/// Whether `password` matches the stored hash; an old Django hash that matches is
/// replaced with argon2id.
async fn password_matches(
    connection: &mut AsyncPgConnection,
    user_id: i64,
    password: &str,
    hash: String,
) -> Result<bool, AppError> {
    if password::is_django_hash(&hash) {
        if !password::verify_django(password.to_string(), hash).await? {
            return Ok(false);
        }
        // First login after the import: replace the old hash with argon2id.
        let rehashed = password::hash(password.to_string()).await?;
        diesel::update(users::table.find(user_id))
            .set(users::password_hash.eq(rehashed))
            .execute(connection)
            .await?;
        return Ok(true);
    }
    password::verify(password.to_string(), hash).await
}

/// A password check allowed to run, recorded as a failure until it succeeds.
struct Attempt {
    id: i64,
}

impl Attempt {
    async fn succeeded(self, connection: &mut AsyncPgConnection) -> Result<(), AppError> {
        diesel::sql_query("DELETE FROM login_failures WHERE id = $1")
            .bind::<BigInt, _>(self.id)
            .execute(connection)
            .await?;
        Ok(())
    }
}

/// Records a password check of `account` before it runs, or refuses it when the
/// account already has `MAX_FAILURES` within the window. The account's advisory lock
/// makes the count exact under any concurrency (20 parallel guesses run 10 checks).
async fn reserve_attempt(
    connection: &mut AsyncPgConnection,
    account: &str,
    now: DateTime<Utc>,
) -> Result<Attempt, AppError> {
    #[derive(QueryableByName)]
    struct Reserved {
        #[diesel(sql_type = Nullable<BigInt>)]
        id: Option<i64>,
        #[diesel(sql_type = Nullable<Timestamptz>)]
        oldest: Option<DateTime<Utc>>,
    }
    let window_start = now - FAILURE_WINDOW;
    let account = account.to_string();
    let reserved: Reserved = connection
        .transaction::<_, AppError, _>(async move |connection| {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
                .bind::<Text, _>(&account)
                .execute(connection)
                .await?;
            // Old failures of this account go; a few old ones of others go with them,
            // so keys that never come back do not stay forever.
            diesel::sql_query(
                "DELETE FROM login_failures WHERE id IN (
                     SELECT id FROM login_failures WHERE failed_at <= $1 LIMIT 20)
                 OR (account = $2 AND failed_at <= $1)",
            )
            .bind::<Timestamptz, _>(window_start)
            .bind::<Text, _>(&account)
            .execute(connection)
            .await?;
            let reserved = diesel::sql_query(
                "WITH recent AS (
                     SELECT count(*) AS failures, min(failed_at) AS oldest
                     FROM login_failures WHERE account = $1 AND failed_at > $2),
                 inserted AS (
                     INSERT INTO login_failures (account, failed_at)
                     SELECT $1, $3 FROM recent WHERE failures < $4
                     RETURNING id)
                 SELECT (SELECT id FROM inserted) AS id, oldest FROM recent",
            )
            .bind::<Text, _>(&account)
            .bind::<Timestamptz, _>(window_start)
            .bind::<Timestamptz, _>(now)
            .bind::<BigInt, _>(MAX_FAILURES)
            .get_result(connection)
            .await?;
            Ok(reserved)
        })
        .await?;
    match reserved.id {
        Some(id) => Ok(Attempt { id }),
        None => {
            let free_at = reserved.oldest.unwrap_or(now) + FAILURE_WINDOW;
            Err(AppError::Throttled {
                scope: ThrottleScope::Account,
                retry_after_seconds: u64::try_from((free_at - now).num_seconds())
                    .unwrap_or(0)
                    .max(1),
            })
        }
    }
}
