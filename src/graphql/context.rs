//! What resolvers take from the request context: the caller, a connection, the keys.

use async_graphql::{Context, ID};

use crate::auth::{Caller, TokenKeys};
use crate::clock::{Clock, RequestNow};
use crate::db::{DbConnection, DbPool};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::xp::Award;

pub fn caller(ctx: &Context<'_>) -> Caller {
    ctx.data_opt::<Caller>()
        .copied()
        .unwrap_or(Caller::Anonymous)
}

pub fn pool<'a>(ctx: &Context<'a>) -> Result<&'a DbPool, AppError> {
    ctx.data_opt::<DbPool>()
        .ok_or_else(|| AppError::Internal("no database pool in the schema".into()))
}

/// A pooled connection on the request's clock: under the test clock, the request's
/// instant (or the real clock) is set on it first (`db::set_clock`), since a pooled
/// connection may carry the previous request's.
pub async fn connection(ctx: &Context<'_>) -> Result<DbConnection, AppError> {
    let mut connection = pool(ctx)?.get().await?;
    if ctx.data_opt::<Clock>().is_some_and(|clock| clock.is_test()) {
        crate::db::set_clock(&mut connection, request_now(ctx)).await?;
    }
    Ok(connection)
}

/// The request's instant under the test clock; None: the real clock.
pub fn request_now(ctx: &Context<'_>) -> Option<chrono::DateTime<chrono::Utc>> {
    ctx.data_opt::<RequestNow>().and_then(|now| now.0)
}

pub fn token_keys<'a>(ctx: &Context<'a>) -> Result<&'a TokenKeys, AppError> {
    ctx.data_opt::<TokenKeys>()
        .ok_or_else(|| AppError::Internal("no token keys in the schema".into()))
}

/// Counts awards that have committed in the server's metrics (a schema without them, as
/// print-schema's, counts nothing). Likes are counted by their batch (`domain::stories::likes`).
pub fn count_awards<'a>(ctx: &Context<'_>, awards: impl IntoIterator<Item = &'a Award>) {
    if let Some(metrics) = ctx.data_opt::<Metrics>() {
        metrics.count_awards(awards);
    }
}

/// Parses a GraphQL ID of ours (a positive integer).
pub fn parse_id(id: &ID, what: &str) -> Result<i64, AppError> {
    id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        AppError::BadUserInput(format!("`{}` is not a valid {what} id", id.as_str()))
    })
}

/// Counts a logIn/signUp/changePassword attempt against the caller's address. Every
/// transport attaches the address; a request without one (none should exist) is
/// counted against one shared address rather than not at all.
pub fn throttle_auth(ctx: &Context<'_>) -> Result<(), AppError> {
    let Some(throttle) = ctx.data_opt::<std::sync::Arc<crate::auth::throttle::AuthThrottle>>()
    else {
        return Ok(());
    };
    let address = ctx
        .data_opt::<crate::auth::throttle::ClientAddress>()
        .map_or(
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            |address| address.0,
        );
    throttle.check(address)
}
