//! The database: connection pool, embedded migrations and the managed cluster.

pub mod cluster;
pub mod schema;

use diesel::connection::CacheSize;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConnection = Object<AsyncPgConnection>;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migrations(String),
    #[error("building the connection pool: {0}")]
    Pool(String),
}

/// What sits between storyxp and PostgreSQL (`STORYXP_DATABASE_POOLER`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pooler {
    /// Nothing, or a pooler that gives each client a session of its own (PgBouncer's
    /// session mode): a connection prepares each statement once and keeps it (the hot
    /// paths' static query ids).
    #[default]
    None,
    /// PgBouncer's transaction mode: a client's consecutive transactions may run in
    /// different PostgreSQL sessions, so nothing may outlive one. No statement is
    /// prepared: each is parsed, bound and executed in one round trip, as PostgreSQL's
    /// unnamed statement (see `connect`). Session state (LISTEN) must go elsewhere.
    Transaction,
}

/// `storyxp_now()`, the SQL clock (the test clock's instant when one is set), as a
/// value to write into a timestamp column.
pub fn clock_now()
-> diesel::expression::SqlLiteral<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>> {
    diesel::dsl::sql("storyxp_now()")
}

/// Sets the instant `storyxp_now()` returns on this connection (its session; None: the
/// real clock). Only the test clock calls it; a pooled connection keeps it until the
/// next checkout sets it again.
pub async fn set_clock(
    connection: &mut AsyncPgConnection,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> diesel::QueryResult<()> {
    let text = now.map(|now| now.to_rfc3339()).unwrap_or_default();
    diesel::sql_query("SELECT set_config('storyxp.now', $1, false)")
        .bind::<diesel::sql_types::Text, _>(text)
        .execute(connection)
        .await?;
    Ok(())
}

/// One connection to `database_url`, set up for the pooler in between.
pub async fn connect(
    database_url: &str,
    pooler: Pooler,
) -> diesel::ConnectionResult<AsyncPgConnection> {
    let mut connection = AsyncPgConnection::establish(database_url).await?;
    if pooler == Pooler::Transaction {
        // With the cache disabled, diesel-async (as patched in vendor/diesel-async) sends
        // each statement as Parse, Bind, Describe, Execute and one Sync: nothing named
        // stays behind in a PostgreSQL session that the next transaction may not get.
        connection.set_prepared_statement_cache_size(CacheSize::Disabled);
    }
    Ok(connection)
}

/// A pool of at most `max_size` connections straight to PostgreSQL; connections are
/// opened lazily.
pub fn pool(database_url: &str, max_size: usize) -> Result<DbPool, DbSetupError> {
    pool_through(database_url, max_size, Pooler::None)
}

/// A pool of at most `max_size` connections to `database_url`, set up for `pooler`.
pub fn pool_through(
    database_url: &str,
    max_size: usize,
    pooler: Pooler,
) -> Result<DbPool, DbSetupError> {
    // Fast recycling: a pooled connection is reused unless it is known to be broken
    // (closed socket, failed transaction); the default would ping PostgreSQL with a
    // `SELECT 1` on every checkout, a round trip per request.
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    if pooler != Pooler::None {
        config.custom_setup = Box::new(move |url| connect(url, pooler).boxed());
    }
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        // Reuse the most recently returned connection: under light load a few warm
        // PostgreSQL backends serve everything instead of all of them in turn.
        .queue_mode(deadpool::managed::QueueMode::Lifo)
        .build()
        .map_err(|error| DbSetupError::Pool(error.to_string()))
}

/// Whether `database_url` names a PostgreSQL server on this machine (a Unix socket,
/// localhost or a loopback address); an unreadable URL counts as remote.
pub fn is_on_this_machine(database_url: &str) -> bool {
    let Ok(config) = database_url.parse::<tokio_postgres::Config>() else {
        return false;
    };
    let hosts = config.get_hosts();
    // No host at all means the default Unix socket.
    hosts.is_empty()
        || hosts.iter().all(|host| match host {
            tokio_postgres::config::Host::Unix(_) => true,
            tokio_postgres::config::Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|address| address.is_loopback())
            }
        })
}

/// Applies the embedded migrations; returns how many were pending. Only a part of
/// migrating: `setup::migrate` also writes what the Rust code defines in the database
/// (the level function the migrations use, the rules table). diesel-async's harness
/// needs a multi-thread runtime (it blocks in place), so it runs on one of its own, on a
/// blocking thread: callers may be on any runtime, the server's current-thread one too.
pub(crate) async fn run_migrations(database_url: &str) -> Result<usize, DbSetupError> {
    let database_url = database_url.to_string();
    let migrations = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|error| DbSetupError::Migrations(error.to_string()))?;
        runtime.block_on(async {
            let mut connection = AsyncPgConnection::establish(&database_url).await?;
            // Migrations run once: nothing to gain from prepared statements, and
            // DATABASE_URL may lead to a transaction-pooling PgBouncer.
            connection.set_prepared_statement_cache_size(CacheSize::Disabled);
            let mut harness = AsyncMigrationHarness::new(connection);
            let applied = harness
                .run_pending_migrations(MIGRATIONS)
                .map_err(|error| DbSetupError::Migrations(error.to_string()))?;
            Ok(applied.len())
        })
    });
    migrations
        .await
        .map_err(|error| DbSetupError::Migrations(error.to_string()))?
}

/// Creates `database` (optionally as a copy of `template`) unless it exists.
pub async fn create_database(
    admin_url: &str,
    database: &str,
    template: Option<&str>,
) -> Result<(), DbSetupError> {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let mut connection = AsyncPgConnection::establish(admin_url).await?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(database)
            .get_result(&mut connection)
            .await?;
    if !found.exists {
        let mut statement = format!("CREATE DATABASE {}", quote_identifier(database));
        if let Some(template) = template {
            statement.push_str(&format!(" TEMPLATE {}", quote_identifier(template)));
        }
        diesel::sql_query(statement)
            .execute(&mut connection)
            .await?;
    }
    Ok(())
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::is_on_this_machine;

    #[test]
    fn tells_a_database_on_this_machine_from_a_remote_one() {
        for local in [
            "postgres://storyxp@localhost/storyxp",
            "postgresql://u:p@127.0.0.1:5433/db",
            "postgresql://u@[::1]/db",
            "postgresql:///db?host=/var/run/postgresql",
            "host=/tmp/storyxp port=5432 dbname=db",
            "dbname=db",
        ] {
            assert!(is_on_this_machine(local), "{local}");
        }
        for remote in [
            "postgres://u@db.example.com/db",
            "postgresql://u@10.0.0.5/db",
            "host=localhost,db.example.com dbname=db",
            "not a url at all ::",
        ] {
            assert!(!is_on_this_machine(remote), "{remote}");
        }
    }
}
