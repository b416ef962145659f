//! What every benchmark needs: a private PostgreSQL cluster with a migrated database,
//! and percentiles.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use storyxp::db::cluster::ManagedCluster;

pub type BenchResult = Result<(), Box<dyn std::error::Error>>;

/// Runs `bench` with the connection string of a fresh, migrated database in a cluster
/// of its own (extra server `settings`), then stops and removes the cluster.
pub fn with_database<F, Fut>(name: &str, settings: &[&str], bench: F) -> BenchResult
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = BenchResult>,
{
    let dir = std::env::temp_dir().join(format!("storyxp-bench-{name}-{}", std::process::id()));
    // STORYXP_BENCH_STATEMENTS=1: pg_stat_statements over every statement, nested ones
    // (inside the SQL functions) included; the costliest are printed at the end.
    let statements = std::env::var_os("STORYXP_BENCH_STATEMENTS").is_some();
    let mut settings = settings.to_vec();
    if statements {
        settings.extend([
            "shared_preload_libraries=pg_stat_statements",
            "pg_stat_statements.track=all",
        ]);
    }
    let cluster = ManagedCluster::prepare(&dir, &settings)?;
    cluster.start()?;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            storyxp::db::create_database(&cluster.connection_string("postgres"), "bench", None)
                .await?;
            let url = cluster.connection_string("bench");
            storyxp::app::setup::migrate(&url).await?;
            if statements {
                statement_profile(&url, "CREATE EXTENSION pg_stat_statements").await?;
            }
            bench(url.clone()).await?;
            if statements {
                statement_profile(&url, "").await?;
            }
            Ok(())
        });
    let _ = cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Runs `setup`, or (empty) prints the 25 statements that took the most time, with
/// calls and mean time, to stderr.
async fn statement_profile(url: &str, setup: &str) -> BenchResult {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    if !setup.is_empty() {
        client.batch_execute(setup).await?;
        return Ok(());
    }
    let rows = client
        .query(
            "SELECT calls, total_exec_time, mean_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 160)
               FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25",
            &[],
        )
        .await?;
    eprintln!("| calls | total ms | mean ms | statement |\n|---|---|---|---|");
    for row in rows {
        let (calls, total, mean, query): (i64, f64, f64, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        eprintln!("| {calls} | {total:.0} | {mean:.3} | {query} |");
    }
    Ok(())
}

/// The `p` quantile (0..=1) of sorted durations; zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The release storyxp binary serving `database_url` on a free 127.0.0.1 port, once it
/// answers /healthz; killed when the returned child is dropped. Returns it and its base URL.
pub async fn start_server(
    database_url: &str,
    secret: &str,
) -> Result<(tokio::process::Child, String), Box<dyn std::error::Error>> {
    start_server_with(database_url, secret, &[]).await
}

/// What the client checks of a GraphQL response: data, and no errors (read without
/// building a JSON tree, to keep the client's own CPU use small).
#[derive(serde::Deserialize)]
struct Answer {
    data: Option<serde::de::IgnoredAny>,
    errors: Option<serde::de::IgnoredAny>,
}

pub type Connection =
    hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>;

/// POSTs one GraphQL request on the client's keep-alive connection (made, or made
/// again after a failure, here): whether it answered 200 with data and no errors.
/// A bare HTTP/1.1 connection (hyper) rather than a full client: the clients share
/// the machine with what they measure, so they should cost it as little as they can.
pub async fn post(
    connection: &mut Option<Connection>,
    address: &str,
    token: &str,
    body: String,
) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    use http_body_util::BodyExt;
    if connection.as_ref().is_none_or(|sender| sender.is_closed()) {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (sender, driver) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(driver);
        *connection = Some(sender);
    }
    let Some(sender) = connection.as_mut() else {
        return Ok(false);
    };
    let request = hyper::Request::post("/graphql")
        .header(hyper::header::HOST, address)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))?;
    let result = sender.send_request(request).await;
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            *connection = None;
            return Err(error.into());
        }
    };
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(status.is_success()
        && serde_json::from_slice::<Answer>(&body)
            .is_ok_and(|answer| answer.errors.is_none() && answer.data.is_some()))
}

// --- yardstick ---
// Helpers of `benches/yardstick.rs` (the shared raw-SQL yardstick, wrk, two instances).

/// The release storyxp binary serving `database_url` on a free 127.0.0.1 port with the
/// extra environment `env` (STORYXP_POOL_SIZE, ...), once it answers /healthz; killed
/// when the returned child is dropped. Returns it and its base URL.
pub async fn start_server_with(
    database_url: &str,
    secret: &str,
    env: &[(&str, String)],
) -> Result<(tokio::process::Child, String), Box<dyn std::error::Error>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_storyxp"));
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", secret)
        .env("STORYXP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut server = command.spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        if let Some(status) = server.try_wait()? {
            return Err(format!("storyxp exited before it answered /healthz: {status}").into());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("storyxp did not answer /healthz within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((server, base))
}

/// utime + stime of a process (all its threads), from /proc/<pid>/stat in Linux's
/// 100 Hz clock ticks; zero if it is gone.
pub fn process_cpu(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The fields after the parenthesised command name: state is the 3rd field of the
    // line (index 0 here), ppid the 4th (1), utime and stime the 14th and 15th (11, 12).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The parent process id of `pid`, from /proc; None if it is gone.
pub fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// CPU used so far by one PostgreSQL cluster: its postmaster (`postmaster`, the first
/// line of postmaster.pid) and every process it forked (backends, walwriter,
/// checkpointer, autovacuum...). With no postmaster known, every process named
/// `postgres` on the machine.
pub fn postgres_cpu(postmaster: Option<u32>) -> Duration {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = match postmaster {
            Some(postmaster) => pid == postmaster || parent_pid(pid) == Some(postmaster),
            None => std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres"),
        };
        if ours {
            total += process_cpu(pid);
        }
    }
    total
}

/// The whole machine's CPU so far, from the first line of /proc/stat: (busy, all), in
/// clock ticks summed over the cores (busy: everything but idle and iowait).
pub fn machine_cpu() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let all: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (all.saturating_sub(idle), all)
}
