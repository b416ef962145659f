//! Running the HTTP server: state assembly, listening, and graceful shutdown.

use std::future::Future;

use tokio::net::TcpListener;

use crate::auth::TokenKeys;
use crate::db::{self, DbPool};
use crate::graphql::build_schema;
use crate::http::{AppState, router};

/// Connections per process; PostgreSQL is the limit, not the pool.
pub const POOL_SIZE: usize = 32;

pub fn state(pool: DbPool, keys: TokenKeys) -> AppState {
    AppState {
        schema: build_schema(Some(pool.clone()), Some(keys.clone())),
        pool,
        keys,
    }
}

pub fn state_for(database_url: &str, secret: &[u8]) -> Result<AppState, String> {
    let pool = db::pool(database_url, POOL_SIZE).map_err(|error| error.to_string())?;
    let keys = TokenKeys::new(secret)?;
    Ok(state(pool, keys))
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
