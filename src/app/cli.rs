//! Command-line arguments and environment variables of the `storyxp` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "storyxp",
    version,
    about = "GraphQL server for the storyxp XP and levels system"
)]
pub struct Cli {
    /// How log lines are written to stderr.
    #[arg(
        long,
        env = "STORYXP_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the GraphQL server (the default).
    Serve,
    /// Print the GraphQL schema (SDL).
    PrintSchema,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Make a user an admin (or, with --revoke, no longer one).
    GrantAdmin {
        username: String,
        #[arg(long)]
        revoke: bool,
    },
    /// Grant stories the STORY_CREATED / STORY_PUBLISHED XP they lack (idempotent).
    BackfillXp {
        /// Only report what would be granted.
        #[arg(long)]
        dry_run: bool,
        /// Stories per transaction.
        #[arg(long, default_value_t = crate::domain::legacy::backfill::DEFAULT_BATCH_SIZE)]
        batch_size: i64,
    },
    /// Import users and stories from `manage.py dumpdata auth.user storybook.story` output.
    ImportDjango { dump: PathBuf },
}

/// Where the database is: an explicit URL, or a managed local cluster.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection string. Absent: storyxp runs its own cluster in the data dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// What DATABASE_URL leads to: PostgreSQL itself (or a session-pooling PgBouncer), or
    /// a transaction-pooling PgBouncer; with `transaction` storyxp prepares no statements
    /// and STORYXP_LISTEN_DATABASE_URL is required.
    #[arg(
        long,
        env = "STORYXP_DATABASE_POOLER",
        value_enum,
        default_value_t = DatabasePooler::None,
        global = true
    )]
    pub database_pooler: DatabasePooler,
    /// PostgreSQL connection string of the one LISTEN connection (live level-ups, ended
    /// sessions). It needs a session of its own: behind a transaction-pooling PgBouncer,
    /// point it at PostgreSQL directly [default: DATABASE_URL].
    #[arg(
        long,
        env = "STORYXP_LISTEN_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub listen_database_url: Option<String>,
    /// Directory of the managed PostgreSQL cluster and the generated JWT secret.
    #[arg(
        long,
        env = "STORYXP_DATA_DIR",
        default_value = "./.storyxp",
        global = true
    )]
    pub data_dir: PathBuf,
}

/// A connection pooler between storyxp and PostgreSQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DatabasePooler {
    /// None, or one that keeps a session per client (PgBouncer's `pool_mode = session`).
    #[default]
    None,
    /// PgBouncer's `pool_mode = transaction`.
    Transaction,
}

impl From<DatabasePooler> for crate::db::Pooler {
    fn from(pooler: DatabasePooler) -> Self {
        match pooler {
            DatabasePooler::None => Self::None,
            DatabasePooler::Transaction => Self::Transaction,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "STORYXP_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub addr: SocketAddr,
    /// Origins (comma-separated) whose browser pages may call the API (CORS).
    #[arg(
        long,
        env = "STORYXP_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,
    /// logIn and signUp calls allowed per client address per minute.
    #[arg(long, env = "STORYXP_AUTH_ATTEMPTS_PER_MINUTE", default_value_t = crate::app::server::DEFAULT_AUTH_ATTEMPTS_PER_MINUTE, global = true)]
    pub auth_attempts_per_minute: u32,
    /// Most PostgreSQL connections the server holds at once [default: 4 per CPU core, 4 to 32].
    #[arg(long, env = "STORYXP_POOL_SIZE", value_parser = clap::value_parser!(u16).range(1..=1000), global = true)]
    pub pool_size: Option<u16>,
    /// Threads serving requests [default: one per CPU core; half of them (at least one)
    /// when PostgreSQL runs on this machine]. With one, the server runs on a single-thread
    /// runtime.
    #[arg(long, env = "STORYXP_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub worker_threads: Option<u16>,
    /// Secret for signing JWTs (at least 32 bytes). Required with DATABASE_URL.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// For tests only: let each HTTP request name its instant in `X-Storyxp-Now`
    /// (RFC 3339); awards, streaks, quests, caps and timestamps then happen then.
    #[arg(long, env = "STORYXP_TEST_CLOCK", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, global = true)]
    pub test_clock: bool,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, DatabasePooler};
    use crate::app::telemetry::LogFormat;

    #[test]
    fn the_log_format_is_text_json_or_a_clear_error() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["storyxp", "serve"], args].concat());
        assert_eq!(parse(&[]).unwrap().log_format, LogFormat::Text);
        assert_eq!(
            parse(&["--log-format", "json"]).unwrap().log_format,
            LogFormat::Json
        );
        let error = parse(&["--log-format", "xml"]).unwrap_err().to_string();
        assert!(
            error.contains("invalid value 'xml' for '--log-format <LOG_FORMAT>'")
                && error.contains("[possible values: text, json]"),
            "{error}"
        );
    }

    #[test]
    fn the_pooler_is_none_or_transaction_and_the_listen_url_is_optional() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["storyxp", "serve"], args].concat());
        let defaults = parse(&[]).unwrap().database;
        assert_eq!(defaults.database_pooler, DatabasePooler::None);
        assert_eq!(defaults.listen_database_url, None);
        let behind = parse(&[
            "--database-pooler",
            "transaction",
            "--listen-database-url",
            "host=/run/postgresql dbname=storyxp",
        ])
        .unwrap()
        .database;
        assert_eq!(behind.database_pooler, DatabasePooler::Transaction);
        assert_eq!(
            crate::db::Pooler::from(behind.database_pooler),
            crate::db::Pooler::Transaction
        );
        assert_eq!(
            behind.listen_database_url.as_deref(),
            Some("host=/run/postgresql dbname=storyxp")
        );
        let error = parse(&["--database-pooler", "statement"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("[possible values: none, transaction]"),
            "{error}"
        );
    }

    #[test]
    fn pool_size_and_worker_threads_are_optional_and_bounded() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["storyxp", "serve"], args].concat());
        assert_eq!(parse(&[]).unwrap().serve.pool_size, None);
        assert_eq!(
            parse(&["--pool-size", "8"]).unwrap().serve.pool_size,
            Some(8)
        );
        for refused in ["0", "1001", "many"] {
            let error = parse(&["--pool-size", refused]).unwrap_err().to_string();
            assert!(error.contains("--pool-size"), "{error}");
        }
        let default = crate::app::server::default_pool_size();
        assert!((4..=32).contains(&default), "{default}");
        assert_eq!(
            parse(&["--worker-threads", "3"])
                .unwrap()
                .serve
                .worker_threads,
            Some(3)
        );
        assert!(parse(&["--worker-threads", "0"]).is_err());
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(
            crate::app::server::default_worker_threads(Some("postgres://u@db.example.com/db")),
            cores
        );
        assert_eq!(
            crate::app::server::default_worker_threads(None),
            (cores / 2).max(1)
        );
    }
}
