//! A PostgreSQL cluster that storyxp initialises, starts and stops itself (the embedded default).
//!
//! The cluster listens only on a unix socket in a private directory, so it never clashes
//! with another server's TCP port. PostgreSQL refuses to run as root; when storyxp is
//! root, the cluster runs as the `postgres` OS user.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::unistd::{Gid, Uid, User};

/// The port only names the socket file (`.s.PGSQL.5432`); no TCP port is opened.
const SOCKET_PORT: u16 = 5432;
/// Longest unix socket path the kernel accepts, minus a margin.
const MAX_SOCKET_PATH: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL's initdb and pg_ctl were not found (looked in PATH and /usr/lib/postgresql/*/bin). \
         Install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL."
    )]
    BinariesNotFound,
    #[error(
        "storyxp runs as root and PostgreSQL refuses to: it runs the cluster as the `postgres` OS user, \
         which does not exist here. Create it, run storyxp as another user, or set DATABASE_URL."
    )]
    NoPostgresUser,
    #[error(
        "the `postgres` OS user cannot reach {0}: every parent directory must be searchable by it \
         (chmod o+x), or choose another STORYXP_DATA_DIR"
    )]
    Unreachable(PathBuf),
    #[error("{action} failed: {detail}")]
    Command { action: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// A running (or startable) cluster under a data directory.
#[derive(Debug)]
pub struct ManagedCluster {
    pgdata: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<(Uid, Gid)>,
    settings: Vec<String>,
}

impl ManagedCluster {
    /// Prepares a cluster in `data_dir/pgdata`, initialising it when it does not exist yet.
    /// `settings` are extra `-c name=value` server settings (tests turn off fsync).
    pub fn prepare(data_dir: &Path, settings: &[&str]) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir().ok_or(ClusterError::BinariesNotFound)?;
        fs::create_dir_all(data_dir)
            .map_err(io_error(format!("creating {}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io_error(format!("resolving {}", data_dir.display())))?;
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or(ClusterError::NoPostgresUser)?;
            Some((user.uid, user.gid))
        } else {
            None
        };
        let pgdata = data_dir.join("pgdata");
        let socket_dir = socket_dir_for(&pgdata);
        for dir in [&pgdata, &socket_dir] {
            fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(io_error(format!("securing {}", dir.display())))?;
            if let Some((uid, gid)) = run_as {
                std::os::unix::fs::chown(dir, Some(uid.as_raw()), Some(gid.as_raw())).map_err(
                    io_error(format!("handing {} to the postgres user", dir.display())),
                )?;
            }
        }
        let cluster = Self {
            pgdata,
            socket_dir,
            bin_dir,
            run_as,
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        cluster.check_reachable()?;
        if !cluster.pgdata.join("PG_VERSION").exists() {
            tracing::info!(pgdata = %cluster.pgdata.display(), "initialising a new PostgreSQL cluster");
            cluster.run(
                "initdb",
                cluster
                    .command("initdb")
                    .arg("-D")
                    .arg(&cluster.pgdata)
                    .args([
                        "--auth=trust",
                        "--username=postgres",
                        "--encoding=UTF8",
                        "--locale=C",
                    ]),
            )?;
        }
        Ok(cluster)
    }

    /// Starts the server unless it already runs. Returns whether this call started it.
    pub fn start(&self) -> Result<bool, ClusterError> {
        if self.is_running() {
            tracing::info!(pgdata = %self.pgdata.display(), "reusing the PostgreSQL cluster that is already running");
            return Ok(false);
        }
        self.remove_stale_pid_file()?;
        let mut options = format!(
            "-c listen_addresses='' -k {} -p {SOCKET_PORT} -c max_connections=300",
            self.socket_dir.display()
        );
        for setting in &self.settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let log = self.pgdata.join("storyxp-postgres.log");
        let result = self.run(
            "starting PostgreSQL",
            self.command("pg_ctl")
                .arg("start")
                .arg("-D")
                .arg(&self.pgdata)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o"])
                .arg(options),
        );
        if let Err(error) = result {
            let tail = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(ClusterError::Command {
                action: "starting PostgreSQL".into(),
                detail: format!(
                    "{error}; log: {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ),
            });
        }
        tracing::info!(socket_dir = %self.socket_dir.display(), "PostgreSQL started");
        Ok(true)
    }

    /// Stops the server (fast shutdown: open sessions are ended, data is flushed).
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.run(
            "stopping PostgreSQL",
            self.command("pg_ctl")
                .arg("stop")
                .arg("-D")
                .arg(&self.pgdata)
                .args(["-m", "fast", "-w", "-t", "60"]),
        )?;
        tracing::info!("PostgreSQL stopped");
        Ok(())
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.pgdata)
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false)
    }

    /// A libpq-style connection string for `database` over the cluster's socket.
    pub fn connection_string(&self, database: &str) -> String {
        format!(
            "host={} port={SOCKET_PORT} user=postgres dbname={database}",
            self.socket_dir.display()
        )
    }

    /// After a crash, `postmaster.pid` may name a process that is gone or is not
    /// PostgreSQL any more (pid reuse), which would make PostgreSQL refuse to start.
    fn remove_stale_pid_file(&self) -> Result<(), ClusterError> {
        let pid_file = self.pgdata.join("postmaster.pid");
        let Ok(contents) = fs::read_to_string(&pid_file) else {
            return Ok(());
        };
        let pid = contents.lines().next().unwrap_or_default().trim();
        let command_name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if !matches!(command_name.trim(), "postgres" | "postmaster") {
            tracing::warn!(
                pid,
                "removing the stale postmaster.pid of a PostgreSQL that is gone"
            );
            fs::remove_file(&pid_file).map_err(io_error("removing a stale postmaster.pid"))?;
        }
        Ok(())
    }

    fn check_reachable(&self) -> Result<(), ClusterError> {
        if self.run_as.is_none() {
            return Ok(());
        }
        let reachable = self
            .command("test")
            .arg("-w")
            .arg(&self.pgdata)
            .status()
            .map(|status| status.success())
            .unwrap_or(false);
        if reachable {
            Ok(())
        } else {
            Err(ClusterError::Unreachable(self.pgdata.clone()))
        }
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        let mut command = Command::new(if path.exists() {
            path
        } else {
            PathBuf::from(program)
        });
        command.current_dir("/").env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid.as_raw()).gid(gid.as_raw());
        }
        command
    }

    fn run(&self, action: &str, command: &mut Command) -> Result<Output, ClusterError> {
        let output = command
            .output()
            .map_err(io_error(format!("running {action}")))?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(ClusterError::Command {
                action: action.to_string(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }
}

/// The socket lives in the data dir unless that path is too long for a unix socket;
/// then in a short private directory under the system temp dir, named after the data dir.
fn socket_dir_for(pgdata: &Path) -> PathBuf {
    let socket_file_len = pgdata.as_os_str().len() + "/.s.PGSQL.5432".len();
    if socket_file_len <= MAX_SOCKET_PATH {
        return pgdata.to_path_buf();
    }
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    pgdata.hash(&mut hasher);
    PathBuf::from(format!("/tmp/storyxp-{:016x}", hasher.finish()))
}

/// `pg_ctl` from PATH, else the newest /usr/lib/postgresql/*/bin.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir)) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_data_dirs_keep_the_socket_inside() {
        let pgdata = Path::new("/srv/storyxp/pgdata");
        assert_eq!(socket_dir_for(pgdata), pgdata);
    }

    #[test]
    fn long_data_dirs_get_a_short_socket_dir() {
        let pgdata = PathBuf::from(format!("/srv/{}/pgdata", "deep/".repeat(30)));
        let socket_dir = socket_dir_for(&pgdata);
        assert!(socket_dir.to_string_lossy().starts_with("/tmp/storyxp-"));
        assert_eq!(socket_dir, socket_dir_for(&pgdata), "stable across starts");
        assert!(socket_dir.as_os_str().len() + "/.s.PGSQL.5432".len() <= MAX_SOCKET_PATH);
    }
}
