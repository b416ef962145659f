//! The shared yardstick: storyxp against the fixed raw-SQL ceiling of `../shared/bench`,
//! measured the way its README says (`benches/yardstick/shared-README.md`).
//!
//! The ceiling's files are vendored byte for byte in `benches/yardstick/` (`ceiling/`:
//! schema, seed, like, create, me; `wrk/`: gql.lua and the three request bodies), so a
//! fresh clone runs; when `../shared/bench` sits beside the repository, the benchmark
//! refuses to run if the copies differ from it.
//!
//! On one throw-away cluster with PostgreSQL's default settings (fsync and
//! synchronous_commit on), for likeStory, createStory and me at 16 and 32 clients:
//! - the ceiling: a fresh copy of the seeded ceiling database (`seed.sql`, 2,000 users,
//!   5,000 stories, 20,000 likes), `VACUUM ANALYZE`, `CHECKPOINT`, 5 s of
//!   `pgbench -n -M prepared -j 2 -c N` as a warm-up, then the measured 15 s;
//! - storyxp: a fresh copy of storyxp's database (2,000 users, 5,000 published stories,
//!   seeded as `throughput.rs` does), the release binary started on it, `VACUUM
//!   ANALYZE`, `CHECKPOINT`, 5 s of `wrk -t1 -cN -s gql.lua` as a warm-up, then the
//!   measured 15 s (one JWT per user, a random (token, story) per request).
//!
//! Over the measured window it reads from /proc the CPU of the cluster's processes,
//! storyxp's and the load generator's (and the whole machine's), counts WAL flushes
//! (pg_stat_wal), samples `pg_stat_activity` every 100 ms (what the backends wait on)
//! and storyxp's `/metrics` every 250 ms (tasks waiting for a pooled connection).
//! Then, unless narrowed:
//! - `pools`: likeStory and createStory at the most clients with `STORYXP_POOL_SIZE`
//!   4, 16 and 32 (the default on 2 cores is 8), to show where requests wait;
//! - `two_instances`: likeStory with two `wrk -c16` at once, against one instance and
//!   then against two instances on the same database (one wrk each), and the level-up
//!   latency: 200 subscribers of `levelUps` (graphql-transport-ws) on one instance while
//!   an admin's `awardXp` (+500 XP, always a level-up) goes, 20 a second, through the
//!   other (through the same instance for the single one), under the likes' load and idle.
//!
//! Run with `cargo bench --bench yardstick`; needs `pgbench`, `psql` and `wrk` on PATH.
//! `STORYXP_BENCH_ONLY=side_by_side,pools,two_instances` picks phases,
//! `STORYXP_BENCH_OPS=likeStory,createStory,me`, `STORYXP_BENCH_CLIENTS=16,32` and
//! `STORYXP_BENCH_POOLS=4,16,32` narrow them. Before each cell it waits (up to 10
//! minutes, looking every 30 s) while a compiler or another cargo runs on the machine,
//! or it is busy; `STORYXP_BENCH_NO_WAIT=1` only warns (for a smoke run, not figures).
//! `STORYXP_BENCH_SERVER_ENV=STORYXP_WORKER_THREADS=2,...` starts every storyxp
//! instance with those variables too (the pool sweep's STORYXP_POOL_SIZE comes last).

#[path = "support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

const USERS: i64 = 2_000;
const STORIES: i64 = 5_000;
const LIKES: i64 = 20_000;
const WARM_UP: u64 = 5;
const MEASURE: u64 = 15;
const SECRET: &str = "bench-secret-bench-secret-bench-secret!!";
/// Users who receive nothing but the level-up awards of the two-instance phase.
const WATCHERS: i64 = 200;
const AWARDS_PER_SECOND: u64 = 20;
/// The vendored copies, and what they must equal in `../shared/bench`.
const FILES: [&str; 9] = [
    "ceiling/schema.sql",
    "ceiling/seed.sql",
    "ceiling/like.sql",
    "ceiling/create.sql",
    "ceiling/me.sql",
    "wrk/gql.lua",
    "wrk/like.json",
    "wrk/create.json",
    "wrk/me.json",
];
const CEILING_TEMPLATE: &str = "ceiling_seed";
/// The database `support::with_database` migrates: storyxp's seeded template.
const STORYXP_TEMPLATE: &str = "bench";
const CELL: &str = "cell";

#[derive(Clone, Copy, PartialEq)]
enum Operation {
    LikeStory,
    CreateStory,
    Me,
}

impl Operation {
    const ALL: [Operation; 3] = [Operation::LikeStory, Operation::CreateStory, Operation::Me];

    fn name(self) -> &'static str {
        match self {
            Operation::LikeStory => "likeStory",
            Operation::CreateStory => "createStory",
            Operation::Me => "me",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Operation::LikeStory => "like",
            Operation::CreateStory => "create",
            Operation::Me => "me",
        }
    }

    fn writes(self) -> bool {
        self != Operation::Me
    }
}

fn yardstick_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/yardstick")
}

/// The vendored files must exist, and equal `../shared/bench`'s when that is present.
fn check_files() -> Result<()> {
    let dir = yardstick_dir();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench");
    for file in FILES {
        let ours = std::fs::read(dir.join(file)).map_err(|error| {
            format!(
                "the yardstick's {file} is missing from {} ({error}); copy it from ../shared/bench/{file}",
                dir.display()
            )
        })?;
        if let Ok(theirs) = std::fs::read(shared.join(file)) {
            if theirs != ours {
                return Err(format!(
                    "benches/yardstick/{file} differs from {}: the yardstick is fixed there; copy it again (cp {} {})",
                    shared.join(file).display(),
                    shared.join(file).display(),
                    dir.join(file).display()
                )
                .into());
            }
        }
    }
    for tool in ["pgbench", "psql", "wrk"] {
        if tool_path(tool).is_none() {
            return Err(format!(
                "`{tool}` was not found on PATH (Debian: apt-get install -y wrk postgresql-client)"
            )
            .into());
        }
    }
    Ok(())
}

fn tool_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path().join("bin")),
        )
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

fn list_env<T: std::str::FromStr + Clone>(name: &str, default: &[T]) -> Vec<T> {
    match std::env::var(name) {
        Ok(list) => list
            .split(',')
            .filter_map(|item| item.trim().parse().ok())
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn main() -> support::BenchResult {
    check_files().map_err(|error| error as Box<dyn std::error::Error>)?;
    support::with_database("yardstick", &[], |url| async move {
        run(url)
            .await
            .map_err(|error| error as Box<dyn std::error::Error>)
    })
}

/// What every phase needs: the cluster, the tokens and the files wrk reads.
struct Bench {
    /// `host=... port=... user=postgres` (no dbname).
    cluster: String,
    host: String,
    postmaster: Option<u32>,
    admin: tokio_postgres::Client,
    work: PathBuf,
    tokens: PathBuf,
    ids: PathBuf,
}

impl Bench {
    fn url(&self, database: &str) -> String {
        format!("{} dbname={database}", self.cluster)
    }

    fn file(&self, name: &str) -> PathBuf {
        yardstick_dir().join(name)
    }

    /// A fresh copy of `template` as the cell's database.
    async fn fresh_copy(&self, template: &str) -> Result<String> {
        self.admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {CELL} WITH (FORCE)"))
            .await?;
        self.admin
            .batch_execute(&format!("CREATE DATABASE {CELL} TEMPLATE {template}"))
            .await?;
        Ok(self.url(CELL))
    }

    async fn drop_copy(&self) -> Result<()> {
        self.admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {CELL} WITH (FORCE)"))
            .await?;
        Ok(())
    }

    fn psql(&self, database: &str, file: &Path, variables: &[(&str, String)]) -> Result<()> {
        let mut command = std::process::Command::new(tool_path("psql").ok_or("no psql")?);
        command
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", &self.host])
            .args(["-p", "5432", "-U", "postgres", "-d", database]);
        for (name, value) in variables {
            command.arg("-v").arg(format!("{name}={value}"));
        }
        let output = command.arg("-f").arg(file).output()?;
        if !output.status.success() {
            return Err(format!(
                "psql -f {} failed: {}",
                file.display(),
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(())
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// `VACUUM ANALYZE` and `CHECKPOINT` on the cell's database, as the protocol says.
async fn settle(url: &str) -> Result<()> {
    let client = connect(url).await?;
    client.batch_execute("VACUUM ANALYZE").await?;
    client.batch_execute("CHECKPOINT").await?;
    Ok(())
}

async fn run(url: String) -> Result<()> {
    let cluster: String = url
        .split_whitespace()
        .filter(|part| !part.starts_with("dbname="))
        .collect::<Vec<_>>()
        .join(" ");
    let host = cluster
        .split_whitespace()
        .find_map(|part| part.strip_prefix("host="))
        .ok_or("the cluster's connection string names no host")?
        .to_string();
    let admin = connect(&format!("{cluster} dbname=postgres")).await?;
    // The postmaster is the checkpointer's parent: the CPU of this cluster alone is
    // that of the postmaster and its children.
    let checkpointer: Option<i32> = admin
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'",
            &[],
        )
        .await?
        .map(|row| row.get(0));
    let postmaster = checkpointer.and_then(|pid| support::parent_pid(pid as u32));
    let settings = admin
        .query(
            "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_sync_method', 'server_version') ORDER BY name",
            &[],
        )
        .await?;
    let settings: Vec<String> = settings
        .iter()
        .map(|row| format!("{}={}", row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect();
    let commit = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .unwrap_or_default();
    let dirty = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "status",
            "--porcelain",
            "src",
            "migrations",
        ])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).lines().count())
        .unwrap_or(0);
    println!(
        "yardstick: storyxp {commit} ({dirty} changed paths under src/ and migrations/ compiled in); PostgreSQL {}; postmaster {postmaster:?}; storyxp env: {}",
        settings.join(" "),
        std::env::var("STORYXP_BENCH_SERVER_ENV").unwrap_or_else(|_| "defaults".to_string())
    );

    // The ceiling's seeded template, with the yardstick's own files.
    admin
        .batch_execute(&format!("CREATE DATABASE {CEILING_TEMPLATE}"))
        .await?;
    let work = std::env::temp_dir().join(format!("storyxp-yardstick-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let bench = Bench {
        cluster,
        host,
        postmaster,
        admin,
        tokens: work.join("tokens.txt"),
        ids: work.join("ids.txt"),
        work,
    };
    bench.psql(CEILING_TEMPLATE, &bench.file("ceiling/schema.sql"), &[])?;
    bench.psql(
        CEILING_TEMPLATE,
        &bench.file("ceiling/seed.sql"),
        &[
            ("users", USERS.to_string()),
            ("stories", STORIES.to_string()),
            ("likes", LIKES.to_string()),
        ],
    )?;

    // storyxp's template, seeded as throughput.rs seeds it; one JWT per user.
    {
        let client = connect(&url).await?;
        client
            .batch_execute(&format!(
                "INSERT INTO users (username, email, password_hash) SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {USERS}) g;
                 INSERT INTO stories (author_id, title, content, published) SELECT 1 + g % {USERS}, 'Story ' || g, repeat('Once upon a time. ', 20), TRUE FROM generate_series(1, {STORIES}) g;"
            ))
            .await?;
        let users: Vec<i64> = client
            .query("SELECT id FROM users ORDER BY id", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let stories: Vec<i64> = client
            .query("SELECT id FROM stories ORDER BY id", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let keys = storyxp::auth::TokenKeys::new(SECRET.as_bytes())?;
        let mut tokens = String::new();
        for user in &users {
            tokens.push_str(&keys.issue(*user, 0)?);
            tokens.push('\n');
        }
        std::fs::write(&bench.tokens, tokens)?;
        let ids: Vec<String> = stories.iter().map(i64::to_string).collect();
        std::fs::write(&bench.ids, ids.join("\n") + "\n")?;
        println!(
            "seeded: ceiling {USERS} users / {STORIES} stories / {LIKES} likes (seed.sql); storyxp {} users / {} stories; {} tokens",
            users.len(),
            stories.len(),
            users.len()
        );
    }
    // The template must have no sessions left when it is copied.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let phases: Vec<String> = list_env(
        "STORYXP_BENCH_ONLY",
        &[
            "side_by_side".to_string(),
            "pools".to_string(),
            "two_instances".to_string(),
        ],
    );
    let wanted_ops: Vec<String> = list_env(
        "STORYXP_BENCH_OPS",
        &Operation::ALL.map(|op| op.name().to_string()),
    );
    let operations: Vec<Operation> = Operation::ALL
        .into_iter()
        .filter(|op| wanted_ops.iter().any(|name| name == op.name()))
        .collect();
    let clients: Vec<usize> = list_env("STORYXP_BENCH_CLIENTS", &[16, 32]);
    let pools: Vec<u16> = list_env("STORYXP_BENCH_POOLS", &[4, 16, 32]);
    let phase = |name: &str| phases.iter().any(|phase| phase == name);

    let mut rows = Vec::new();
    if phase("side_by_side") {
        for &operation in &operations {
            for &n in &clients {
                let ceiling = ceiling_cell(&bench, operation, n).await?;
                let storyxp = storyxp_cell(&bench, operation, n, None).await?;
                eprintln!(
                    "{} x{n}: ceiling {:.0}/s, storyxp {:.0}/s ({:.2}x), storyxp p99 {:.1} ms",
                    operation.name(),
                    ceiling.per_second,
                    storyxp.per_second,
                    storyxp.per_second / ceiling.per_second.max(1.0),
                    storyxp.p99_ms.unwrap_or_default()
                );
                rows.push((operation, n, ceiling, storyxp));
            }
        }
        print_side_by_side(&rows);
    }

    if phase("pools") {
        let n = clients.iter().copied().max().unwrap_or(32);
        let mut sweep = Vec::new();
        for &operation in operations.iter().filter(|op| op.writes()) {
            // The default pool's cell from the table above, when it ran.
            if let Some((_, _, _, storyxp)) = rows
                .iter()
                .find(|(op, clients, _, _)| *op == operation && *clients == n)
            {
                sweep.push((operation, None, storyxp.clone()));
            }
            for &pool in &pools {
                let measured = storyxp_cell(&bench, operation, n, Some(pool)).await?;
                eprintln!(
                    "{} x{n} pool {pool}: {:.0}/s, p99 {:.1} ms",
                    operation.name(),
                    measured.per_second,
                    measured.p99_ms.unwrap_or_default()
                );
                sweep.push((operation, Some(pool), measured));
            }
        }
        print_pools(n, &sweep);
    }

    if phase("two_instances") {
        let one = instances_cell(&bench, 1).await?;
        let two = instances_cell(&bench, 2).await?;
        print_instances(&[one, two]);
    }
    let _ = std::fs::remove_dir_all(&bench.work);
    Ok(())
}

/// What one side of one cell measured.
#[derive(Clone, Default)]
struct Measured {
    requests: u64,
    per_second: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// pgbench's average latency.
    average_ms: Option<f64>,
    errors: u64,
    window: Window,
    /// Requests per WAL flush (pg_stat_wal's wal_sync over the measured run).
    per_flush: Option<f64>,
    /// The one-minute load average before the cell.
    load: f64,
}

/// What the measured window saw, from /proc, pg_stat_activity and /metrics.
#[derive(Clone, Default)]
struct Window {
    seconds: f64,
    postgres: Duration,
    /// Per storyxp instance.
    servers: Vec<Duration>,
    load_generator: Duration,
    /// Busy CPU of the whole machine (all cores).
    machine: Duration,
    /// Average number of the database's client backends in each state.
    backends: Vec<(String, f64)>,
    /// Per instance: average tasks waiting for a pooled connection, and connections in use.
    pool_waiting: Vec<f64>,
    pool_in_use: Vec<f64>,
}

impl Window {
    fn percent(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() / self.seconds.max(0.001) * 100.0
    }

    fn server_total(&self) -> Duration {
        self.servers.iter().sum()
    }

    /// CPU ms per request of `cpu`, at `per_second`.
    fn per_request(&self, cpu: Duration, per_second: f64) -> f64 {
        cpu.as_secs_f64() * 1000.0 / (per_second * self.seconds).max(1.0)
    }

    fn other(&self) -> Duration {
        self.machine
            .saturating_sub(self.postgres + self.server_total() + self.load_generator)
    }

    fn backends_text(&self) -> String {
        let total: f64 = self.backends.iter().map(|(_, n)| n).sum();
        let parts: Vec<String> = self
            .backends
            .iter()
            .filter(|(_, n)| *n >= 0.05)
            .take(6)
            .map(|(state, n)| format!("{state} {n:.1}"))
            .collect();
        format!("{total:.1}: {}", parts.join(", "))
    }
}

/// A storyxp instance started for a cell.
struct Server {
    child: tokio::process::Child,
    pid: u32,
    base: String,
}

async fn start(url: &str, pool: Option<u16>) -> Result<Server> {
    let extra = std::env::var("STORYXP_BENCH_SERVER_ENV").unwrap_or_default();
    let mut env: Vec<(&str, String)> = extra
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.trim(), value.trim().to_string()))
        .collect();
    env.extend(pool.map(|pool| ("STORYXP_POOL_SIZE", pool.to_string())));
    let (child, base) = support::start_server_with(url, SECRET, &env)
        .await
        .map_err(|error| error.to_string())?;
    let pid = child.id().ok_or("storyxp has no pid")?;
    Ok(Server { child, pid, base })
}

async fn stop(mut server: Server) {
    let _ = server.child.kill().await;
}

/// Waits, up to 10 minutes and looking every 30 s, while a build runs on the machine (a
/// compiler, a linker, or a cargo that is not this benchmark's own) or the machine is
/// busy (over half a core for a second before a cell). Returns the 1-minute load average.
async fn wait_for_quiet() -> f64 {
    let started = Instant::now();
    let patient = std::env::var_os("STORYXP_BENCH_NO_WAIT").is_none();
    loop {
        let builds = builds_running();
        let before = support::machine_cpu();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = support::machine_cpu();
        // Ticks are 1/100 s, summed over the cores: a second of one whole core is 100.
        let busy = (after.0 - before.0) as f64;
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        if builds.is_empty() && busy < 50.0 {
            return load;
        }
        if !patient || started.elapsed() > Duration::from_secs(600) {
            eprintln!(
                "warning: measuring although the machine is not quiet (load {load}, {busy:.0}% busy, {builds:?})"
            );
            return load;
        }
        eprintln!(
            "waiting for a quiet machine (load {load}, {busy:.0}% of a core busy, running: {builds:?})"
        );
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

fn builds_running() -> Vec<String> {
    let mut ours = Vec::new();
    let mut pid = Some(std::process::id());
    while let Some(current) = pid.filter(|pid| *pid > 1) {
        ours.push(current);
        pid = support::parent_pid(current);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = comm.trim();
        if matches!(
            comm,
            "rustc" | "cargo" | "clippy-driver" | "cc1" | "cc1plus" | "ld" | "rust-lld"
        ) && !ours.contains(&pid)
        {
            found.push(format!("{comm}[{pid}]"));
        }
    }
    found
}

async fn wal_flushes(url: &str) -> Option<f64> {
    let client = connect(url).await.ok()?;
    let row = client
        .query_one("SELECT wal_sync::float8 FROM pg_stat_wal", &[])
        .await
        .ok()?;
    row.try_get(0).ok()
}

/// Observes the measured run of `load_generators` (started just before) for its 15 s,
/// less half a second at each end.
async fn observe(
    bench: &Bench,
    url: &str,
    servers: &[&Server],
    load_generators: &[u32],
) -> Result<Window> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let until = Instant::now() + Duration::from_millis(MEASURE * 1000 - 1000);
    let backends = tokio::spawn(sample_backends(url.to_string(), until));
    let pools: Vec<_> = servers
        .iter()
        .map(|server| tokio::spawn(sample_pool(server.base.clone(), until)))
        .collect();
    let cpu = |servers: &[&Server]| {
        (
            support::postgres_cpu(bench.postmaster),
            servers
                .iter()
                .map(|server| support::process_cpu(server.pid))
                .collect::<Vec<_>>(),
            load_generators
                .iter()
                .map(|pid| support::process_cpu(*pid))
                .sum::<Duration>(),
            support::machine_cpu(),
        )
    };
    let before = cpu(servers);
    let started = Instant::now();
    tokio::time::sleep_until(until.into()).await;
    let after = cpu(servers);
    let seconds = started.elapsed().as_secs_f64();
    let mut window = Window {
        seconds,
        postgres: after.0.saturating_sub(before.0),
        servers: after
            .1
            .iter()
            .zip(&before.1)
            .map(|(after, before)| after.saturating_sub(*before))
            .collect(),
        load_generator: after.2.saturating_sub(before.2),
        machine: Duration::from_millis((after.3.0 - before.3.0) * 10),
        backends: backends.await.unwrap_or_default(),
        ..Window::default()
    };
    for pool in pools {
        let (waiting, in_use) = pool.await.unwrap_or_default();
        window.pool_waiting.push(waiting);
        window.pool_in_use.push(in_use);
    }
    Ok(window)
}

/// Every 100 ms until `until`: the states of the database's client backends (this
/// sampler's own and storyxp's LISTEN connections left out: the listener's last
/// statement is its LISTEN or its reload of ended sessions), averaged, commonest first.
/// `running` is an active backend waiting on nothing (on the CPU, or ready to be).
async fn sample_backends(url: String, until: Instant) -> Vec<(String, f64)> {
    let Ok(client) = connect(&url).await else {
        return Vec::new();
    };
    let Ok(statement) = client
        .prepare(
            "SELECT CASE WHEN state = 'active' THEN coalesce(wait_event_type || ':' || wait_event, 'running') ELSE coalesce(state, '?') END
               FROM pg_stat_activity
              WHERE datname = current_database() AND backend_type = 'client backend'
                AND pid <> pg_backend_pid() AND query NOT ILIKE 'listen%'
                AND query NOT LIKE '%session_generation > 0%'",
        )
        .await
    else {
        return Vec::new();
    };
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    let mut samples = 0u32;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    while Instant::now() < until {
        ticker.tick().await;
        let Ok(rows) = client.query(&statement, &[]).await else {
            break;
        };
        samples += 1;
        for row in rows {
            *counts.entry(row.get(0)).or_default() += 1.0;
        }
    }
    let mut counts: Vec<(String, f64)> = counts
        .into_iter()
        .map(|(state, n)| (state, n / f64::from(samples.max(1))))
        .collect();
    counts.sort_by(|a, b| b.1.total_cmp(&a.1));
    counts
}

/// Every 250 ms until `until`: storyxp's pool gauges from /metrics, averaged (tasks
/// waiting for a connection, connections in use).
async fn sample_pool(base: String, until: Instant) -> (f64, f64) {
    let client = reqwest::Client::new();
    let (mut waiting, mut in_use, mut samples) = (0.0, 0.0, 0u32);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    while Instant::now() < until {
        ticker.tick().await;
        let Ok(response) = client.get(format!("{base}/metrics")).send().await else {
            continue;
        };
        let Ok(text) = response.text().await else {
            continue;
        };
        let gauge = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|value| value.trim().parse::<f64>().ok())
        };
        if let (Some(wait), Some(open), Some(available)) = (
            gauge("storyxp_db_pool_waiting"),
            gauge("storyxp_db_pool_connections"),
            gauge("storyxp_db_pool_available_connections"),
        ) {
            waiting += wait;
            in_use += open - available;
            samples += 1;
        }
    }
    let samples = f64::from(samples.max(1));
    (waiting / samples, in_use / samples)
}

fn pgbench(
    bench: &Bench,
    operation: Operation,
    clients: usize,
    seconds: u64,
) -> Result<tokio::process::Child> {
    Ok(
        tokio::process::Command::new(tool_path("pgbench").ok_or("no pgbench")?)
            .args([
                "-n",
                "-M",
                "prepared",
                "-j",
                "2",
                "-c",
                &clients.to_string(),
            ])
            .args(["-T", &seconds.to_string(), "-f"])
            .arg(bench.file(&format!("ceiling/{}.sql", operation.file())))
            .args(["-h", &bench.host, "-p", "5432", "-U", "postgres", CELL])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?,
    )
}

async fn finished(child: tokio::process::Child, what: &str) -> Result<String> {
    let output = child.wait_with_output().await?;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    if !output.status.success() {
        return Err(format!(
            "{what} failed ({}): {stdout} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(stdout)
}

async fn ceiling_cell(bench: &Bench, operation: Operation, clients: usize) -> Result<Measured> {
    let load = wait_for_quiet().await;
    let url = bench.fresh_copy(CEILING_TEMPLATE).await?;
    settle(&url).await?;
    finished(
        pgbench(bench, operation, clients, WARM_UP)?,
        "pgbench (warm-up)",
    )
    .await?;
    let flushes_before = wal_flushes(&url).await;
    let child = pgbench(bench, operation, clients, MEASURE)?;
    let pid = child.id().ok_or("pgbench has no pid")?;
    let window = observe(bench, &url, &[], &[pid]).await?;
    let output = finished(child, "pgbench").await?;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let flushes = flushes_before
        .zip(wal_flushes(&url).await)
        .map(|(before, after)| after - before);
    bench.drop_copy().await?;
    let field = |prefix: &str| {
        output.lines().find_map(|line| {
            line.trim()
                .strip_prefix(prefix)?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
    };
    let requests = field("number of transactions actually processed:").unwrap_or(0.0) as u64;
    Ok(Measured {
        requests,
        per_second: field("tps =")
            .ok_or_else(|| format!("no tps in pgbench's output: {output}"))?,
        average_ms: field("latency average ="),
        errors: field("number of failed transactions:").unwrap_or(0.0) as u64,
        per_flush: flushes
            .filter(|flushes| operation.writes() && *flushes >= 1.0)
            .map(|flushes| requests as f64 / flushes),
        window,
        load,
        ..Measured::default()
    })
}

fn wrk(
    bench: &Bench,
    base: &str,
    operation: Operation,
    clients: usize,
    seconds: u64,
    label: &str,
) -> Result<tokio::process::Child> {
    let ids = if operation == Operation::LikeStory {
        bench.ids.clone()
    } else {
        PathBuf::from("-")
    };
    Ok(
        tokio::process::Command::new(tool_path("wrk").ok_or("no wrk")?)
            .args([
                "-t1",
                &format!("-c{clients}"),
                &format!("-d{seconds}s"),
                "-s",
            ])
            .arg(bench.file("wrk/gql.lua"))
            .arg(format!("{base}/graphql"))
            .arg("--")
            .arg(bench.file(&format!("wrk/{}.json", operation.file())))
            .arg(&bench.tokens)
            .arg(ids)
            .arg(bench.work.join(format!("errors-{label}.txt")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?,
    )
}

/// wrk's `WRKRESULT requests rps p50_us p99_us non2xx socket_errors bad_responses`.
fn parse_wrk(output: &str, bench: &Bench, label: &str) -> Result<Measured> {
    let line = output
        .lines()
        .find_map(|line| line.strip_prefix("WRKRESULT "))
        .ok_or_else(|| format!("no WRKRESULT line in wrk's output: {output}"))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    if fields.len() != 7 {
        return Err(format!("unexpected WRKRESULT line: {line}").into());
    }
    let errors = (fields[5] + fields[6]) as u64;
    if errors > 0 {
        let sample = std::fs::read_to_string(bench.work.join(format!("errors-{label}.txt")))
            .unwrap_or_default();
        eprintln!(
            "{label}: {errors} errors (non-2xx {}, socket {}, bad {}); first: {}",
            fields[4],
            fields[5],
            fields[6],
            sample.lines().next().unwrap_or("-")
        );
    }
    Ok(Measured {
        requests: fields[0] as u64,
        per_second: fields[1],
        p50_ms: Some(fields[2] / 1000.0),
        p99_ms: Some(fields[3] / 1000.0),
        errors,
        ..Measured::default()
    })
}

async fn storyxp_cell(
    bench: &Bench,
    operation: Operation,
    clients: usize,
    pool: Option<u16>,
) -> Result<Measured> {
    let load = wait_for_quiet().await;
    let url = bench.fresh_copy(STORYXP_TEMPLATE).await?;
    let server = start(&url, pool).await?;
    settle(&url).await?;
    let label = format!(
        "{}-{clients}-{}",
        operation.file(),
        pool.map_or("default".to_string(), |pool| pool.to_string())
    );
    let warm = wrk(
        bench,
        &server.base,
        operation,
        clients,
        WARM_UP,
        &format!("{label}-warm"),
    )?;
    finished(warm, "wrk (warm-up)").await?;
    let flushes_before = wal_flushes(&url).await;
    let child = wrk(bench, &server.base, operation, clients, MEASURE, &label)?;
    let pid = child.id().ok_or("wrk has no pid")?;
    let window = observe(bench, &url, &[&server], &[pid]).await?;
    let output = finished(child, "wrk").await?;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let flushes = flushes_before
        .zip(wal_flushes(&url).await)
        .map(|(before, after)| after - before);
    stop(server).await;
    bench.drop_copy().await?;
    let mut measured = parse_wrk(&output, bench, &label)?;
    measured.per_flush = flushes
        .filter(|flushes| operation.writes() && *flushes >= 1.0)
        .map(|flushes| measured.requests as f64 / flushes);
    measured.window = window;
    measured.load = load;
    Ok(measured)
}

fn print_side_by_side(rows: &[(Operation, usize, Measured, Measured)]) {
    println!(
        "\n| operation | clients | ceiling req/s | storyxp req/s | ratio | storyxp p50 ms | storyxp p99 ms | ceiling avg ms | errors (ceiling / storyxp) | ceiling CPU %: PG / pgbench / machine | storyxp CPU %: PG / storyxp / wrk / machine |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (operation, clients, ceiling, storyxp) in rows {
        let (c, s) = (&ceiling.window, &storyxp.window);
        println!(
            "| {} | {clients} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} / {} | {:.0} / {:.0} / {:.0} | {:.0} / {:.0} / {:.0} / {:.0} |",
            operation.name(),
            ceiling.per_second,
            storyxp.per_second,
            storyxp.per_second / ceiling.per_second.max(1.0),
            storyxp.p50_ms.unwrap_or_default(),
            storyxp.p99_ms.unwrap_or_default(),
            ceiling.average_ms.unwrap_or_default(),
            ceiling.errors,
            storyxp.errors,
            c.percent(c.postgres),
            c.percent(c.load_generator),
            c.percent(c.machine),
            s.percent(s.postgres),
            s.percent(s.server_total()),
            s.percent(s.load_generator),
            s.percent(s.machine),
        );
    }
    println!(
        "\nCPU % is of one core over the measured window (the machine has 200%). Where the time goes: CPU ms per request (PG / server / load generator), requests per WAL flush, the database's client backends by state (average of 100 ms samples of pg_stat_activity: `running` = active on no wait event; `idle` = waiting for its client), and storyxp's pool (tasks waiting for a connection / connections in use, /metrics every 250 ms)"
    );
    println!(
        "| operation | clients | side | CPU ms/req: PG / server / client | other CPU % | per flush | backends (avg) | pool waiting / in use | load before |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (operation, clients, ceiling, storyxp) in rows {
        for (side, measured) in [("ceiling", ceiling), ("storyxp", storyxp)] {
            println!("{}", wait_row(operation.name(), *clients, side, measured));
        }
    }
}

fn wait_row(operation: &str, clients: usize, side: &str, measured: &Measured) -> String {
    let w = &measured.window;
    let pool = if w.pool_waiting.is_empty() {
        "-".to_string()
    } else {
        w.pool_waiting
            .iter()
            .zip(&w.pool_in_use)
            .map(|(waiting, in_use)| format!("{waiting:.1} / {in_use:.1}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "| {operation} | {clients} | {side} | {:.3} / {} / {:.3} | {:.0} | {} | {} | {pool} | {:.2} |",
        w.per_request(w.postgres, measured.per_second),
        if w.servers.is_empty() {
            "-".to_string()
        } else {
            format!(
                "{:.3}",
                w.per_request(w.server_total(), measured.per_second)
            )
        },
        w.per_request(w.load_generator, measured.per_second),
        w.percent(w.other()),
        measured
            .per_flush
            .map_or("-".to_string(), |per_flush| format!("{per_flush:.1}")),
        w.backends_text(),
        measured.load,
    )
}

fn print_pools(clients: usize, sweep: &[(Operation, Option<u16>, Measured)]) {
    println!(
        "\nstoryxp at {clients} clients by pool size (STORYXP_POOL_SIZE; default: 4 per core, 8 here)"
    );
    println!(
        "| operation | pool | req/s | p50 ms | p99 ms | errors | CPU %: PG / storyxp / wrk / machine | per flush | backends (avg) | pool waiting / in use |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (operation, pool, measured) in sweep {
        let w = &measured.window;
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.0} / {:.0} / {:.0} / {:.0} | {} | {} | {} |",
            operation.name(),
            pool.map_or("8 (default)".to_string(), |pool| pool.to_string()),
            measured.per_second,
            measured.p50_ms.unwrap_or_default(),
            measured.p99_ms.unwrap_or_default(),
            measured.errors,
            w.percent(w.postgres),
            w.percent(w.server_total()),
            w.percent(w.load_generator),
            w.percent(w.machine),
            measured
                .per_flush
                .map_or("-".to_string(), |per_flush| format!("{per_flush:.1}")),
            w.backends_text(),
            w.pool_waiting
                .iter()
                .zip(&w.pool_in_use)
                .map(|(waiting, in_use)| format!("{waiting:.1} / {in_use:.1}"))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
}

/// The two-instance phase's result for one or two instances.
struct Instances {
    count: usize,
    /// Per wrk process (16 clients each).
    parts: Vec<Measured>,
    window: Window,
    per_flush: Option<f64>,
    under_load: Delivery,
    idle: Delivery,
}

#[derive(Default)]
struct Delivery {
    sent: usize,
    failed: usize,
    delivered: Vec<Duration>,
    answered: Vec<Duration>,
}

type Pending = Arc<Mutex<HashMap<i64, Instant>>>;
type Delivered = Arc<Mutex<Vec<Duration>>>;

/// likeStory from two `wrk -c16` at once against `count` instances (one wrk each when
/// two), with level-up awards through the first instance to subscribers of the last.
async fn instances_cell(bench: &Bench, count: usize) -> Result<Instances> {
    let load = wait_for_quiet().await;
    let url = bench.fresh_copy(STORYXP_TEMPLATE).await?;
    let (watchers, admin_token) = {
        let client = connect(&url).await?;
        let watchers: Vec<i64> = client
            .query(
                &format!(
                    "INSERT INTO users (username, email, password_hash) SELECT 'watcher' || g, 'watcher' || g || '@example.com', 'x' FROM generate_series(1, {WATCHERS}) g RETURNING id"
                ),
                &[],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let admin: i64 = client
            .query_one(
                "INSERT INTO users (username, email, password_hash, is_admin) VALUES ('yardstick_admin', 'yardstick_admin@example.com', 'x', TRUE) RETURNING id",
                &[],
            )
            .await?
            .get(0);
        let keys = storyxp::auth::TokenKeys::new(SECRET.as_bytes())?;
        (watchers, keys.issue(admin, 0)?)
    };
    let mut servers = Vec::new();
    for _ in 0..count {
        servers.push(start(&url, None).await?);
    }
    let (awarder, subscribed) = (&servers[0], &servers[count - 1]);
    let pending: Pending = Arc::default();
    let delivered: Delivered = Arc::default();
    let subscribers = subscribe(&subscribed.base, &watchers, &pending, &delivered).await?;
    settle(&url).await?;
    let bases: Vec<&str> = (0..2).map(|n| servers[n % count].base.as_str()).collect();
    let label = |n: usize, phase: &str| format!("instances{count}-{n}{phase}");
    let warm: Vec<_> = bases
        .iter()
        .enumerate()
        .map(|(n, base)| {
            wrk(
                bench,
                base,
                Operation::LikeStory,
                16,
                WARM_UP,
                &label(n, "-warm"),
            )
        })
        .collect::<Result<_>>()?;
    for child in warm {
        finished(child, "wrk (warm-up)").await?;
    }
    let flushes_before = wal_flushes(&url).await;
    let children: Vec<_> = bases
        .iter()
        .enumerate()
        .map(|(n, base)| {
            wrk(
                bench,
                base,
                Operation::LikeStory,
                16,
                MEASURE,
                &label(n, ""),
            )
        })
        .collect::<Result<_>>()?;
    let pids: Vec<u32> = children.iter().filter_map(|child| child.id()).collect();
    let awards = tokio::spawn(award_levelups(
        awarder.base.clone(),
        admin_token.clone(),
        watchers.clone(),
        pending.clone(),
        Duration::from_secs(MEASURE - 2),
    ));
    let server_refs: Vec<&Server> = servers.iter().collect();
    let window = observe(bench, &url, &server_refs, &pids).await?;
    let mut parts = Vec::new();
    for (n, child) in children.into_iter().enumerate() {
        let output = finished(child, "wrk").await?;
        let mut part = parse_wrk(&output, bench, &label(n, ""))?;
        part.load = load;
        parts.push(part);
    }
    let mut under_load = awards.await.map_err(|error| error.to_string())?;
    drain(&pending).await;
    under_load.delivered = std::mem::take(&mut *delivered.lock().unwrap());
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let flushes = flushes_before
        .zip(wal_flushes(&url).await)
        .map(|(before, after)| after - before);
    let requests: u64 = parts.iter().map(|part| part.requests).sum();
    // The same awards with nothing else running.
    let mut idle = award_levelups(
        awarder.base.clone(),
        admin_token,
        watchers,
        pending.clone(),
        Duration::from_secs(10),
    )
    .await;
    drain(&pending).await;
    idle.delivered = std::mem::take(&mut *delivered.lock().unwrap());
    for subscriber in subscribers {
        subscriber.abort();
    }
    for server in servers {
        stop(server).await;
    }
    bench.drop_copy().await?;
    let result = Instances {
        count,
        parts,
        window,
        per_flush: flushes
            .filter(|flushes| *flushes >= 1.0)
            .map(|flushes| requests as f64 / flushes),
        under_load,
        idle,
    };
    eprintln!(
        "{count} instance(s): likeStory {:.0}/s in all; level-up p99 {:.1} ms under load, {:.1} ms idle",
        result.parts.iter().map(|part| part.per_second).sum::<f64>(),
        ms_at(&result.under_load.delivered, 0.99),
        ms_at(&result.idle.delivered, 0.99)
    );
    Ok(result)
}

/// Waits (up to 5 s) until every award sent has been delivered, then forgets the rest.
async fn drain(pending: &Pending) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pending.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pending.lock().unwrap().clear();
}

/// One graphql-transport-ws socket per watcher on `base`, subscribed to `levelUps`;
/// each `next` for a watcher with an award pending records its latency.
async fn subscribe(
    base: &str,
    watchers: &[i64],
    pending: &Pending,
    delivered: &Delivered,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let keys = storyxp::auth::TokenKeys::new(SECRET.as_bytes())?;
    let mut tasks = Vec::new();
    for &user in watchers {
        let token = keys.issue(user, 0)?;
        let mut request =
            format!("{}/graphql", base.replace("http://", "ws://")).into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let init = serde_json::json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
        socket.send(Message::Text(init.to_string().into())).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
                Some(Ok(_)) => continue,
                other => {
                    return Err(format!("no connection_ack for watcher {user}: {other:?}").into());
                }
            }
        }
        let subscribe = serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { levelUps { level totalXp } }" } });
        socket
            .send(Message::Text(subscribe.to_string().into()))
            .await?;
        let (pending, delivered) = (pending.clone(), delivered.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    if text.contains("\"next\"") {
                        let sent = pending.lock().unwrap().remove(&user);
                        if let Some(sent) = sent {
                            delivered.lock().unwrap().push(sent.elapsed());
                        }
                    }
                }
            }
        }));
    }
    // Let the last subscriptions register before the first award.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(tasks)
}

/// AWARDS_PER_SECOND admin awards of +500 XP (always a level-up) through `base` for
/// `duration`, each to the next watcher in turn; each started on time, whatever the
/// ones before it are doing.
async fn award_levelups(
    base: String,
    admin_token: String,
    watchers: Vec<i64>,
    pending: Pending,
    duration: Duration,
) -> Delivery {
    let client = reqwest::Client::new();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / AWARDS_PER_SECOND));
    let total = (AWARDS_PER_SECOND * duration.as_secs()) as usize;
    let mut tasks = Vec::new();
    for n in 0..total {
        ticker.tick().await;
        let user = watchers[n % watchers.len()];
        let (client, base, token, pending) = (
            client.clone(),
            base.clone(),
            admin_token.clone(),
            pending.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let body = serde_json::json!({
                "query": "mutation($input: AwardXpInput!) { awardXp(input: $input) { leveledUp level } }",
                "variables": { "input": { "userId": user.to_string(), "amount": 500, "reason": "yardstick" } },
            });
            let sent = Instant::now();
            pending.lock().unwrap().insert(user, sent);
            let answer = client
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await;
            let ok = match answer {
                Ok(response) => response
                    .text()
                    .await
                    .is_ok_and(|text| text.contains("\"leveledUp\":true") && !text.contains("\"errors\"")),
                Err(_) => false,
            };
            if !ok {
                pending.lock().unwrap().remove(&user);
            }
            (ok, sent.elapsed())
        }));
    }
    let mut delivery = Delivery {
        sent: total,
        ..Delivery::default()
    };
    for task in tasks {
        match task.await {
            Ok((true, answered)) => delivery.answered.push(answered),
            _ => delivery.failed += 1,
        }
    }
    delivery
}

fn ms_at(durations: &[Duration], p: f64) -> f64 {
    let mut sorted = durations.to_vec();
    sorted.sort();
    support::ms(support::percentile(&sorted, p))
}

fn print_instances(results: &[Instances]) {
    println!(
        "\nlikeStory, two `wrk -t1 -c16` at once (32 clients in all): against one instance, then one wrk per instance of two on the same database (default pool of 8 each)"
    );
    println!(
        "| instances | req/s (sum) | per wrk req/s | p50 ms per wrk | p99 ms per wrk | errors | CPU %: PG / storyxp (each) / wrk / machine | CPU ms/req: PG / storyxp | per flush | backends (avg) | pool waiting / in use (each) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for result in results {
        let w = &result.window;
        let total: f64 = result.parts.iter().map(|part| part.per_second).sum();
        let join = |f: &dyn Fn(&Measured) -> String| {
            result.parts.iter().map(f).collect::<Vec<_>>().join(" + ")
        };
        println!(
            "| {} | {total:.0} | {} | {} | {} | {} | {:.0} / {} / {:.0} / {:.0} | {:.3} / {:.3} | {} | {} | {} |",
            result.count,
            join(&|part| format!("{:.0}", part.per_second)),
            join(&|part| format!("{:.2}", part.p50_ms.unwrap_or_default())),
            join(&|part| format!("{:.2}", part.p99_ms.unwrap_or_default())),
            result.parts.iter().map(|part| part.errors).sum::<u64>(),
            w.percent(w.postgres),
            w.servers
                .iter()
                .map(|cpu| format!("{:.0}", w.percent(*cpu)))
                .collect::<Vec<_>>()
                .join(" + "),
            w.percent(w.load_generator),
            w.percent(w.machine),
            w.per_request(w.postgres, total),
            w.per_request(w.server_total(), total),
            result
                .per_flush
                .map_or("-".to_string(), |per_flush| format!("{per_flush:.1}")),
            w.backends_text(),
            w.pool_waiting
                .iter()
                .zip(&w.pool_in_use)
                .map(|(waiting, in_use)| format!("{waiting:.1} / {in_use:.1}"))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    println!(
        "\nLevel-up latency: {WATCHERS} levelUps subscribers (graphql-transport-ws) on the last instance, awardXp (+500 XP) through the first, {AWARDS_PER_SECOND}/s; from sending the award to the subscriber's `next` (and to awardXp's answer)"
    );
    println!(
        "| instances | path | while | sent | delivered | failed | p50 ms | p99 ms | max ms | awardXp answer p50 / p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for result in results {
        let path = if result.count == 1 {
            "same instance"
        } else {
            "A -> B"
        };
        for (phase, delivery) in [
            ("likes at 32 clients", &result.under_load),
            ("idle", &result.idle),
        ] {
            println!(
                "| {} | {path} | {phase} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} |",
                result.count,
                delivery.sent,
                delivery.delivered.len(),
                delivery.failed,
                ms_at(&delivery.delivered, 0.50),
                ms_at(&delivery.delivered, 0.99),
                ms_at(&delivery.delivered, 1.0),
                ms_at(&delivery.answered, 0.50),
                ms_at(&delivery.answered, 0.99),
            );
        }
    }
}
