//! Getting a ready database: an explicit DATABASE_URL, or the managed cluster
//! (initialised, started, its database created and migrated), and the JWT secret.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::app::cli::DatabaseArgs;
use crate::auth::token::MIN_SECRET_LEN;
use crate::db::DbSetupError;
use crate::db::cluster::{ClusterError, ManagedCluster};
use crate::xp::rules_table;

/// The database storyxp creates in its managed cluster.
pub const MANAGED_DATABASE: &str = "storyxp";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error("{0}")]
    Config(String),
}

/// A database URL, and the managed cluster behind it when storyxp runs one.
pub struct Database {
    pub url: String,
    cluster: Option<ManagedCluster>,
    started_here: bool,
}

impl Database {
    /// Connects to DATABASE_URL, or starts the managed cluster; then migrates.
    pub async fn open(args: &DatabaseArgs) -> Result<Self, SetupError> {
        let database = match &args.database_url {
            Some(url) => Database {
                url: url.clone(),
                cluster: None,
                started_here: false,
            },
            None => {
                let data_dir = args.data_dir.clone();
                let (cluster, started_here) = tokio::task::spawn_blocking(move || {
                    let cluster = ManagedCluster::prepare(&data_dir, &[])?;
                    let started = cluster.start()?;
                    Ok::<_, ClusterError>((cluster, started))
                })
                .await
                .map_err(|error| SetupError::Config(format!("cluster start-up task: {error}")))??;
                let database = Database {
                    url: cluster.connection_string(MANAGED_DATABASE),
                    cluster: Some(cluster),
                    started_here,
                };
                if let Some(cluster) = &database.cluster {
                    crate::db::create_database(
                        &cluster.connection_string("postgres"),
                        MANAGED_DATABASE,
                        None,
                    )
                    .await?;
                }
                database
            }
        };
        let applied = migrate(&database.url).await?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
        Ok(database)
    }

    /// Stops the managed cluster if this process started it.
    pub fn close(self) {
        if let (Some(cluster), true) = (&self.cluster, self.started_here) {
            if let Err(error) = cluster.stop() {
                tracing::error!(%error, "stopping the managed PostgreSQL cluster");
            }
        }
    }
}

/// Migrates the database: `xp_level` from the Rust level size first (the migrations
/// use it), then the embedded migrations, then `xp_rules` from the Rust rules table.
/// Returns how many migrations were pending. Every start runs it, so the database
/// always has the running code's level size and default amounts.
pub async fn migrate(database_url: &str) -> Result<usize, DbSetupError> {
    let mut connection = AsyncPgConnection::establish(database_url).await?;
    rules_table::define_level_function(&mut connection).await?;
    let applied = crate::db::run_migrations(database_url).await?;
    rules_table::seed(&mut connection).await?;
    Ok(applied)
}

/// The JWT secret: JWT_SECRET when given (required with DATABASE_URL), else one
/// generated on first start and kept in the data dir (mode 0600).
pub fn jwt_secret(args: &DatabaseArgs, given: Option<&str>) -> Result<Vec<u8>, SetupError> {
    if let Some(secret) = given {
        if secret.len() < MIN_SECRET_LEN {
            return Err(SetupError::Config(format!(
                "JWT_SECRET must be at least {MIN_SECRET_LEN} bytes long"
            )));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    if args.database_url.is_some() {
        return Err(SetupError::Config(format!(
            "JWT_SECRET is required when DATABASE_URL is set (at least {MIN_SECRET_LEN} bytes)"
        )));
    }
    load_or_generate_secret(&args.data_dir.join("jwt_secret"))
}

fn load_or_generate_secret(path: &Path) -> Result<Vec<u8>, SetupError> {
    let config_error = |action: &str, error: std::io::Error| {
        SetupError::Config(format!("{action} {}: {error}", path.display()))
    };
    if let Ok(secret) = fs::read_to_string(path) {
        let secret = secret.trim();
        if secret.len() >= MIN_SECRET_LEN {
            return Ok(secret.as_bytes().to_vec());
        }
        return Err(SetupError::Config(format!(
            "{} holds a secret shorter than {MIN_SECRET_LEN} bytes",
            path.display()
        )));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| SetupError::Config(format!("no randomness for a JWT secret: {error}")))?;
    let secret: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|error| config_error("creating the directory of", error))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| config_error("creating", error))?;
    file.write_all(secret.as_bytes())
        .map_err(|error| config_error("writing", error))?;
    Ok(secret.into_bytes())
}
