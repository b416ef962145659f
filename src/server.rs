//! Running the HTTP server: state assembly, listening, and graceful shutdown.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::auth::TokenKeys;
use crate::db;
use crate::graphql::build_schema;
use crate::http::{AppState, router};
use crate::live::{LiveHub, listener};

/// Connections per process; PostgreSQL is the limit, not the pool.
pub const POOL_SIZE: usize = 32;

/// Builds the state and starts the level-up listener (so: call inside a runtime).
pub fn state_for(database_url: &str, secret: &[u8]) -> Result<AppState, String> {
    let pool = db::pool(database_url, POOL_SIZE).map_err(|error| error.to_string())?;
    let keys = TokenKeys::new(secret)?;
    let live = LiveHub::default();
    tokio::spawn(listener::listen(database_url.to_string(), live.clone()));
    Ok(AppState {
        schema: build_schema(Some(pool.clone()), Some(keys.clone()), Some(live.clone())),
        pool,
        keys,
        live,
    })
}

/// How long shutdown waits for subscriptions to complete and sockets to close.
const SOCKET_DRAIN: Duration = Duration::from_secs(5);

/// Serves until `shutdown` resolves, then lets in-flight requests finish, completes
/// every subscription and closes every WebSocket.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let live = state.live.clone();
    let signal = {
        let live = live.clone();
        async move {
            shutdown.await;
            live.shut_down();
        }
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(signal)
        .await?;
    live.wait_for_sockets(SOCKET_DRAIN).await;
    Ok(())
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
