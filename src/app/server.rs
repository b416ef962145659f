//! Running the HTTP server: state assembly, listening, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::ServiceExt;
use axum::extract::Request;
use tokio::net::TcpListener;

use crate::auth::TokenKeys;
use crate::auth::throttle::AuthThrottle;
use crate::db;
use crate::domain::stats;
use crate::domain::stories::likes::Likes;
use crate::graphql::documents::Documents;
use crate::graphql::loaders::Loaders;
use crate::graphql::{Endpoint, ServerData, build_schema};
use crate::http::{AppState, app};
use crate::live::{LiveHub, listener};
use crate::metrics::Metrics;

/// The default most PostgreSQL connections per process: four per CPU core, from 4 to
/// 32. Every action is a short statement, so a few connections per core keep
/// PostgreSQL busy; more would only add runnable backends, and a backend descheduled
/// while it holds a lock stalls the others (at 32 connections on 2 cores, createStory's
/// p99 was twice that at 8: BENCHMARKS.md). Requests beyond it wait for a connection.
pub fn default_pool_size() -> u16 {
    u16::try_from(cores().saturating_mul(4).clamp(4, 32)).unwrap_or(32)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The default number of runtime threads: one per core, or half the cores (at least
/// one) when PostgreSQL runs on this machine (no DATABASE_URL: the managed cluster; or a
/// URL naming a Unix socket or loopback address). The server and PostgreSQL then share
/// the cores, and a runtime with a thread per core keeps parking and waking its threads
/// (futex calls, cross-core wake-ups) as PostgreSQL takes the cores from it: with half
/// the threads the server spent 20-35% less CPU per request on 2 cores (BENCHMARKS.md).
pub fn default_worker_threads(database_url: Option<&str>) -> usize {
    if database_url.is_none_or(db::is_on_this_machine) {
        (cores() / 2).max(1)
    } else {
        cores()
    }
}

/// What an operator may tune.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Origins browsers may call the API from (CORS).
    pub cors_origins: Vec<String>,
    /// logIn and signUp calls allowed per client address per minute.
    pub auth_attempts_per_minute: u32,
    /// Most PostgreSQL connections at once; further requests wait for one.
    pub pool_size: u16,
    /// What the pool's database URL leads to (`STORYXP_DATABASE_POOLER`).
    pub pooler: db::Pooler,
    /// Where the one LISTEN connection goes (`STORYXP_LISTEN_DATABASE_URL`); it needs a
    /// session of its own. None: the pool's database URL, refused behind a
    /// transaction-pooling PgBouncer, which cannot carry LISTEN.
    pub listen_database_url: Option<String>,
    /// The real clock, or the test clock (`STORYXP_TEST_CLOCK`).
    pub clock: crate::clock::Clock,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            auth_attempts_per_minute: DEFAULT_AUTH_ATTEMPTS_PER_MINUTE,
            pool_size: default_pool_size(),
            pooler: db::Pooler::None,
            listen_database_url: None,
            clock: crate::clock::Clock::real(),
        }
    }
}

impl ServerOptions {
    /// Refuses options that cannot work together (before anything is started).
    pub fn check(&self) -> Result<(), String> {
        if self.pooler == db::Pooler::Transaction && self.listen_database_url.is_none() {
            return Err(
                "STORYXP_DATABASE_POOLER=transaction needs STORYXP_LISTEN_DATABASE_URL: LISTEN \
                 needs a session of its own, which a transaction-pooling PgBouncer does not \
                 keep; point it at PostgreSQL directly"
                    .to_string(),
            );
        }
        Ok(())
    }
}

pub const DEFAULT_AUTH_ATTEMPTS_PER_MINUTE: u32 = 20;

/// Builds the state with default options and starts the level-up listener.
pub fn state_for(database_url: &str, secret: &[u8]) -> Result<AppState, String> {
    state_with(database_url, secret, ServerOptions::default())
}

/// Builds the state and starts the level-up listener (so: call inside a runtime): the
/// pool on `database_url`, the listener on `options.listen_database_url` (default: the
/// same).
pub fn state_with(
    database_url: &str,
    secret: &[u8],
    options: ServerOptions,
) -> Result<AppState, String> {
    options.check()?;
    let listen_database_url = options
        .listen_database_url
        .clone()
        .unwrap_or_else(|| database_url.to_string());
    let pool = db::pool_through(
        database_url,
        usize::from(options.pool_size.max(1)),
        options.pooler,
    )
    .map_err(|error| error.to_string())?;
    let keys = TokenKeys::new(secret)?;
    let live = LiveHub::registering(pool.clone());
    let throttle = Arc::new(AuthThrottle::per_minute(options.auth_attempts_per_minute));
    let metrics = Metrics::new().map_err(|error| format!("setting up metrics: {error}"))?;
    tokio::spawn(listener::listen(
        listen_database_url,
        live.clone(),
        keys.revocations().clone(),
        metrics.clone(),
    ));
    // One set of loaders and documents for the three schemas, so their requests batch
    // together and a persisted query registered over HTTP runs over WebSocket too.
    let documents = Arc::new(Documents::default());
    let data = ServerData {
        pool: Some(pool.clone()),
        loaders: Some(Loaders::new(&pool)),
        likes: Some(Likes::new(&pool, &metrics, options.clock)),
        keys: Some(keys.clone()),
        hub: Some(live.clone()),
        throttle: Some(throttle),
        documents: Some(documents.clone()),
        metrics: Some(metrics.clone()),
        clock: options.clock,
    };
    Ok(AppState {
        schema: build_schema(Endpoint::Http, data.clone()),
        validated_schema: build_schema(Endpoint::HttpValidated, data.clone()),
        websocket_schema: build_schema(Endpoint::WebSocket, data),
        documents,
        pool,
        keys,
        live,
        metrics,
        cors_origins: Arc::new(options.cors_origins),
        clock: options.clock,
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
    // The xpStats rollups follow the awards (domain::stats), for as long as this serves.
    let _compactor = AbortOnDrop(tokio::spawn(stats::compact_forever(state.pool.clone())));
    let signal = {
        let live = live.clone();
        async move {
            shutdown.await;
            live.shut_down();
        }
    };
    // The client's address for the handlers (ConnectInfo); `app` serves any body type,
    // so the request type is named.
    let service =
        ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app(state));
    axum::serve(listener, service)
        .with_graceful_shutdown(signal)
        .await?;
    live.wait_for_sockets(SOCKET_DRAIN).await;
    live.unregister_all().await;
    Ok(())
}

/// Aborts a background task when dropped (when `serve` returns, however it returns).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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

#[cfg(test)]
mod tests {
    use super::ServerOptions;
    use crate::db::Pooler;

    #[test]
    fn a_transaction_pooler_needs_a_listen_url_of_its_own() {
        let behind = |listen: Option<&str>| ServerOptions {
            pooler: Pooler::Transaction,
            listen_database_url: listen.map(str::to_string),
            ..Default::default()
        };
        let error = behind(None).check().unwrap_err();
        assert!(error.contains("STORYXP_LISTEN_DATABASE_URL"), "{error}");
        assert_eq!(
            behind(Some("host=/run/postgresql dbname=storyxp")).check(),
            Ok(())
        );
        assert_eq!(ServerOptions::default().check(), Ok(()));
    }
}
