//! Throughput benchmark: storyxp against the raw-SQL ceiling, side by side in one run.
//!
//! Starts a private PostgreSQL cluster and the release storyxp binary on it, seeds 2,000
//! users and 5,000 published stories, then for likeStory, createStory and me at 16, 32
//! and 64 concurrent keep-alive clients (1 s warm-up, 4 s measured) drives storyxp over
//! HTTP, and runs the same SQL straight against PostgreSQL with the same concurrency
//! (one connection per client, prepared statements, one statement per request): the
//! ceiling. likeStory is `like_story(...)` (which returns the like count too; storyxp
//! runs it inside `like_stories`, which gathers the likes of concurrent requests);
//! createStory is `create_story(...)`; me is one `SELECT ... FROM users WHERE id = ANY`
//! (storyxp gathers the ids of concurrent requests into one). Each side runs twice per
//! row (storyxp, ceiling, ceiling, storyxp). Prints one table, and CPU per request and
//! requests per WAL flush. Run with `cargo bench --bench throughput`.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const USERS: i64 = 2_000;
const STORIES: i64 = 5_000;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(4);
const CONCURRENCY: [usize; 3] = [16, 32, 64];
const SECRET: &str = "bench-secret-bench-secret-bench-secret!!";

#[derive(Clone, Copy, PartialEq)]
enum Operation {
    LikeStory,
    CreateStory,
    Me,
    /// `{ __typename }`: HTTP, auth and GraphQL with no database work at all, the
    /// floor under every storyxp operation.
    NoDatabase,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::LikeStory => "likeStory",
            Operation::CreateStory => "createStory",
            Operation::Me => "me",
            Operation::NoDatabase => "{ __typename }",
        }
    }

    /// The name STORYXP_BENCH_ONLY uses.
    fn key(self) -> &'static str {
        match self {
            Operation::NoDatabase => "floor",
            operation => operation.name(),
        }
    }
}

/// A small, fast PRNG (xorshift) per client: no shared state, no dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as i64
    }
}

#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    errors: u64,
    /// Successful requests of the whole run, warm-up included.
    completed: u64,
}

/// One run of one side: its clients' outcomes, the CPU used in the measured window,
/// and PostgreSQL's WAL flushes over the whole run.
struct Run {
    outcomes: Vec<Outcome>,
    cpu: CpuUse,
    wal_flushes: Option<f64>,
}

struct Row {
    operation: Operation,
    clients: usize,
    storyxp: Summary,
    ceiling: Summary,
}

struct Summary {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
    /// CPU per completed request: (server, PostgreSQL, clients).
    cpu: CpuUse,
    /// Requests per WAL flush: how many commits PostgreSQL's group commit made durable
    /// with one fsync (None for reads, or when pg_stat_wal is missing).
    per_flush: Option<f64>,
}

/// The runs of one side taken together.
fn summarise(runs: Vec<Run>) -> Summary {
    let mut latencies = Vec::new();
    let (mut errors, mut completed, mut flushes) = (0, 0, Some(0.0));
    let mut cpu = CpuUse::default();
    let measured = MEASURE.as_secs_f64() * runs.len() as f64;
    for run in runs {
        for outcome in run.outcomes {
            latencies.extend(outcome.latencies);
            errors += outcome.errors;
            completed += outcome.completed;
        }
        cpu = cpu.plus(&run.cpu);
        flushes = flushes.zip(run.wal_flushes).map(|(a, b)| a + b);
    }
    latencies.sort();
    let percentile = |p| support::percentile(&latencies, p);
    Summary {
        per_second: latencies.len() as f64 / measured,
        p50: percentile(0.50),
        p99: percentile(0.99),
        errors,
        cpu: cpu.per(latencies.len()),
        per_flush: flushes
            .filter(|flushes| *flushes >= 1.0)
            .map(|flushes| completed as f64 / flushes),
    }
}

fn main() -> support::BenchResult {
    support::with_database("throughput", &[], run)
}

async fn run(url: String) -> support::BenchResult {
    let mut connection = AsyncPgConnection::establish(&url).await?;
    for statement in [
        format!(
            "INSERT INTO users (username, email, password_hash) SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {USERS}) g"
        ),
        format!(
            "INSERT INTO stories (author_id, title, content, published) SELECT 1 + g % {USERS}, 'Story ' || g, repeat('Once upon a time. ', 20), TRUE FROM generate_series(1, {STORIES}) g"
        ),
        // STORYXP_BENCH_BOOST=1: every run inside an active 2x boost of every boostable
        // action, to price the boost lookup of each award.
        if std::env::var_os("STORYXP_BENCH_BOOST").is_some() {
            "INSERT INTO xp_boosts (name, multiplier_hundredths, actions, starts_at, ends_at) VALUES ('bench', 200, '{}', now() - interval '1 hour', now() + interval '1 day')".to_string()
        } else {
            "SELECT 1".to_string()
        },
        // STORYXP_BENCH_SETUP_SQL: one more statement after the seed (an experiment's
        // schema change, say), run before the server starts.
        std::env::var("STORYXP_BENCH_SETUP_SQL").unwrap_or_else(|_| "SELECT 1".to_string()),
        "ANALYZE".to_string(),
    ] {
        diesel::sql_query(statement)
            .execute(&mut connection)
            .await?;
    }

    let (mut server, base) = support::start_server(&url, SECRET).await?;
    let server_pid = server.id();
    let keys = storyxp::auth::TokenKeys::new(SECRET.as_bytes())?;
    let tokens: Arc<Vec<String>> = Arc::new(
        (1..=USERS)
            .map(|user| keys.issue(user, 0))
            .collect::<Result<_, _>>()?,
    );

    // STORYXP_BENCH_ONLY=likeStory,createStory,me,floor and STORYXP_BENCH_CLIENTS=32 narrow a run while
    // profiling; the default is the whole table.
    let only = std::env::var("STORYXP_BENCH_ONLY").ok();
    let wanted = |operation: Operation| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|name| name.trim() == operation.key()))
    };
    let concurrency: Vec<usize> = match std::env::var("STORYXP_BENCH_CLIENTS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => CONCURRENCY.to_vec(),
    };
    let mut rows = Vec::new();
    for operation in [Operation::LikeStory, Operation::CreateStory, Operation::Me] {
        if !wanted(operation) {
            continue;
        }
        for &clients in &concurrency {
            let (mut storyxp, mut ceiling) = (Vec::new(), Vec::new());
            // Each side runs twice, in the order storyxp, ceiling, ceiling, storyxp: a run
            // leaves the tables bigger and autovacuum busier for the run after it, which
            // neither side should get alone.
            for storyxp_now in [true, false, false, true] {
                analyze(&url).await?;
                if storyxp_now {
                    storyxp.push(
                        drive(clients, server_pid, &url, |seed| {
                            storyxp_client(base.clone(), tokens.clone(), operation, seed)
                        })
                        .await,
                    );
                } else {
                    ceiling.push(
                        drive(clients, None, &url, |seed| {
                            ceiling_client(url.clone(), operation, seed)
                        })
                        .await,
                    );
                }
            }
            let (storyxp, ceiling) = (summarise(storyxp), summarise(ceiling));
            eprintln!(
                "{} x{clients}: {:.0}/s vs ceiling {:.0}/s",
                operation.name(),
                storyxp.per_second,
                ceiling.per_second
            );
            rows.push(Row {
                operation,
                clients,
                storyxp,
                ceiling,
            });
        }
    }
    let mut floors = Vec::new();
    for &clients in concurrency.iter().filter(|_| wanted(Operation::NoDatabase)) {
        let floor = summarise(vec![
            drive(clients, server_pid, &url, |seed| {
                storyxp_client(base.clone(), tokens.clone(), Operation::NoDatabase, seed)
            })
            .await,
        ]);
        floors.push(format!(
            "{clients} clients: {:.0} req/s (p50 {:.2} ms, server CPU {:.3} ms/req)",
            floor.per_second,
            support::ms(floor.p50),
            support::ms(floor.cpu.server),
        ));
    }
    let _ = server.kill().await;

    println!(
        "| operation | clients | storyxp req/s | p50 ms | p99 ms | errors | ceiling req/s | ceiling p50 ms | ceiling p99 ms | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let ms = support::ms;
    for row in &rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            row.operation.name(),
            row.clients,
            row.storyxp.per_second,
            ms(row.storyxp.p50),
            ms(row.storyxp.p99),
            row.storyxp.errors,
            row.ceiling.per_second,
            ms(row.ceiling.p50),
            ms(row.ceiling.p99),
            row.storyxp.per_second / row.ceiling.per_second.max(1.0),
        );
    }
    println!(
        "\nCPU per request in ms (user + system, from /proc), storyxp then ceiling: server / PostgreSQL / clients; and requests per WAL flush (group commit, pg_stat_wal)"
    );
    println!(
        "| operation | clients | storyxp: server | PostgreSQL | clients | per flush | ceiling: PostgreSQL | clients | per flush |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // Reads commit nothing; what little WAL a read run flushes is background work.
    let per_flush = |row: &Row, summary: &Summary| match summary.per_flush {
        Some(requests) if row.operation != Operation::Me => format!("{requests:.1}"),
        _ => "-".to_string(),
    };
    for row in &rows {
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {} | {:.3} | {:.3} | {} |",
            row.operation.name(),
            row.clients,
            ms(row.storyxp.cpu.server),
            ms(row.storyxp.cpu.postgres),
            ms(row.storyxp.cpu.clients),
            per_flush(row, &row.storyxp),
            ms(row.ceiling.cpu.postgres),
            ms(row.ceiling.cpu.clients),
            per_flush(row, &row.ceiling),
        );
    }
    println!(
        "\nstoryxp with no database work (`{{ __typename }}` over HTTP, same clients): {}",
        floors.join("; ")
    );
    Ok(())
}

/// Refreshes the planner's statistics before a run, as autovacuum does on a live
/// database. The runs grow the like and ledger tables from empty by thousands of rows
/// a second, far faster than autovacuum (one look a minute) follows: without this, a
/// plan PostgreSQL cached while a table was nearly empty (a sequential scan) would stay
/// in use for a run on one side and not on the other, whose connections are newer.
/// ANALYZE invalidates the cached plans on both sides alike.
async fn analyze(url: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute("ANALYZE").await
}

/// Runs `clients` copies of a client for the warm-up and the measured window.
async fn drive<F, Fut>(clients: usize, server: Option<u32>, url: &str, client: F) -> Run
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    // Every client of every run draws its own sequence: were a run to repeat an earlier
    // run's (user, story) pairs, its likes would be repeats, which earn nothing and cost
    // PostgreSQL far less than the first-time likes the benchmark is about.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let flushes_before = wal_flushes(url).await;
    let (measure_from, until) = window();
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        // STORYXP_BENCH_PERF=<dir>: a system-wide perf profile of 3 s of each run.
        if let Ok(dir) = std::env::var("STORYXP_BENCH_PERF") {
            let label = if server.is_some() {
                "storyxp"
            } else {
                "ceiling"
            };
            let _ = std::process::Command::new("perf")
                .args([
                    "record",
                    "-a",
                    "-g",
                    "-e",
                    "cpu-clock",
                    "-F",
                    "499",
                    "-o",
                    &format!("{dir}/run{run}-{label}.data"),
                    "--",
                    "sleep",
                    "3",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
        let before = CpuUse::now(server);
        tokio::time::sleep_until(until.into()).await;
        CpuUse::now(server).since(&before)
    });
    let tasks: Vec<_> = (0..clients as u64)
        .map(|n| {
            tokio::spawn(client(
                0x9E37_79B9_7F4A_7C15 ^ ((run << 32 | n) + 1).wrapping_mul(0x1000_0001),
            ))
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap_or_default());
    }
    let cpu = sampler.await.unwrap_or_default();
    // A backend reports its statistics at most once a second, when it goes idle.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let wal_flushes = flushes_before
        .zip(wal_flushes(url).await)
        .map(|(before, after)| after - before);
    Run {
        outcomes,
        cpu,
        wal_flushes,
    }
}

/// The WAL flushes (fsyncs) PostgreSQL has made so far, from pg_stat_wal (PostgreSQL
/// 14 and later); None when it cannot be read.
async fn wal_flushes(url: &str) -> Option<f64> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT wal_sync::float8 FROM pg_stat_wal", &[])
        .await
        .ok()?;
    row.try_get(0).ok()
}

/// CPU time (user + system, from /proc) of the storyxp server, of all PostgreSQL
/// processes, and of this benchmark process (the clients).
#[derive(Default, Clone, Copy)]
struct CpuUse {
    server: Duration,
    postgres: Duration,
    clients: Duration,
}

impl CpuUse {
    fn now(server: Option<u32>) -> CpuUse {
        let mut cpu = CpuUse {
            server: server.map(process_cpu).unwrap_or_default(),
            clients: process_cpu(std::process::id()),
            ..CpuUse::default()
        };
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
            else {
                continue;
            };
            if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
            {
                cpu.postgres += process_cpu(pid);
            }
        }
        cpu
    }

    fn per(&self, requests: usize) -> CpuUse {
        let requests = requests.max(1) as u32;
        CpuUse {
            server: self.server / requests,
            postgres: self.postgres / requests,
            clients: self.clients / requests,
        }
    }

    fn plus(&self, other: &CpuUse) -> CpuUse {
        CpuUse {
            server: self.server + other.server,
            postgres: self.postgres + other.postgres,
            clients: self.clients + other.clients,
        }
    }

    fn since(&self, earlier: &CpuUse) -> CpuUse {
        CpuUse {
            server: self.server.saturating_sub(earlier.server),
            postgres: self.postgres.saturating_sub(earlier.postgres),
            clients: self.clients.saturating_sub(earlier.clients),
        }
    }
}

/// utime + stime of a process, in Linux's 100 Hz clock ticks; zero if it is gone.
fn process_cpu(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The fields after the parenthesised command name; utime and stime are the 14th
    // and 15th fields of the whole line.
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

/// The window a client measures in: after the warm-up, for MEASURE.
fn window() -> (Instant, Instant) {
    let start = Instant::now() + WARM_UP;
    (start, start + MEASURE)
}

async fn storyxp_client(
    base: String,
    tokens: Arc<Vec<String>>,
    operation: Operation,
    seed: u64,
) -> Outcome {
    let address = base.trim_start_matches("http://").to_string();
    let mut random = Random(seed);
    let mut outcome = Outcome::default();
    let (measure_from, until) = window();
    let mut n = 0u64;
    let mut connection = None;
    while Instant::now() < until {
        let user = random.below(USERS) as usize;
        let body = match operation {
            Operation::LikeStory => serde_json::json!({
                "query": "mutation Like($id: ID!) { likeStory(id: $id) { story { id likeCount } xpEarned { xpGained totalXp level } } }",
                "variables": { "id": (1 + random.below(STORIES)).to_string() },
            }),
            Operation::CreateStory => {
                n += 1;
                serde_json::json!({
                    "query": "mutation Create($input: CreateStoryInput!) { createStory(input: $input) { story { id title } xpEarned { xpGained totalXp level } } }",
                    "variables": { "input": { "title": format!("Bench {seed} {n}"), "content": "Once upon a time." } },
                })
            }
            Operation::Me => {
                serde_json::json!({ "query": "query Me { me { id username experiencePoints level xpProgress } }" })
            }
            Operation::NoDatabase => serde_json::json!({ "query": "{ __typename }" }),
        };
        let started = Instant::now();
        let ok = support::post(&mut connection, &address, &tokens[user], body.to_string())
            .await
            .unwrap_or(false);
        outcome.completed += u64::from(ok);
        if started >= measure_from {
            if ok {
                outcome.latencies.push(started.elapsed());
            } else {
                outcome.errors += 1;
            }
        }
    }
    outcome
}

/// The same statements storyxp runs for each operation, without storyxp.
async fn ceiling_client(url: String, operation: Operation, seed: u64) -> Outcome {
    let mut outcome = Outcome::default();
    let Ok((client, connection)) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await
    else {
        outcome.errors += 1;
        return outcome;
    };
    tokio::spawn(connection);
    let candidates_like =
        storyxp::xp::rules::achievement_candidates(storyxp::xp::XpAction::StoryLiked).to_string();
    let candidates_create =
        storyxp::xp::rules::achievement_candidates(storyxp::xp::XpAction::StoryCreated).to_string();
    // What the daily loop adds to both calls: the quest the action advances and the
    // achievements a streak bonus may unlock, as storyxp passes them.
    let candidates_streak =
        storyxp::xp::rules::achievement_candidates(storyxp::xp::XpAction::StreakBonus).to_string();
    use storyxp::xp::rules::Activity;
    let quest_like = Activity::LikeStory {
        story: 0,
        own: false,
    }
    .quest()
    .map(|quest| quest.as_str());
    let quest_create = Activity::CreateStory.quest().map(|quest| quest.as_str());
    let prepare = |sql: &'static str| client.prepare(sql);
    let (Ok(like), Ok(create), Ok(find_users)) = (
        prepare("SELECT id, author_id, title, published, created_at, xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id, like_count FROM like_story($1, $2, $3, $4::text::jsonb, $5, $6::text::jsonb)").await,
        prepare("SELECT id, author_id, title, published, created_at, xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id, like_count FROM create_story($1, $2, $3, $4, $5::text::jsonb, $6, $7::text::jsonb)").await,
        prepare("SELECT id, username, email, experience_points, level, is_admin, created_at FROM users WHERE id = ANY($1)").await,
    ) else {
        outcome.errors += 1;
        return outcome;
    };
    let mut random = Random(seed);
    let (measure_from, until) = window();
    let mut n = 0u64;
    while Instant::now() < until {
        let user = 1 + random.below(USERS);
        let started = Instant::now();
        let result: Result<(), tokio_postgres::Error> = async {
            match operation {
                Operation::LikeStory => {
                    let story = 1 + random.below(STORIES);
                    let subject = storyxp::xp::rules::Subject::StoryBy { story, user }
                        .key()
                        .unwrap_or_default();
                    client
                        .query(
                            &like,
                            &[
                                &story,
                                &user,
                                &subject,
                                &candidates_like,
                                &quest_like,
                                &candidates_streak,
                            ],
                        )
                        .await?;
                }
                Operation::CreateStory => {
                    n += 1;
                    let title = format!("Ceiling {seed} {n}");
                    client
                        .query(
                            &create,
                            &[
                                &user,
                                &title,
                                &"Once upon a time.",
                                &storyxp::xp::rules::Subject::STORY_PREFIX,
                                &candidates_create,
                                &quest_create,
                                &candidates_streak,
                            ],
                        )
                        .await?;
                }
                Operation::Me | Operation::NoDatabase => {
                    client.query(&find_users, &[&vec![user]]).await?;
                }
            }
            Ok(())
        }
        .await;
        outcome.completed += u64::from(result.is_ok());
        if started >= measure_from {
            match result {
                Ok(()) => outcome.latencies.push(started.elapsed()),
                Err(_) => outcome.errors += 1,
            }
        }
    }
    outcome
}
