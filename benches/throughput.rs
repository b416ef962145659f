//! Throughput benchmark: storyxp against the raw-SQL ceiling, side by side in one run.
//!
//! Starts a private PostgreSQL cluster and the release storyxp binary on it, seeds 2,000
//! users and 5,000 published stories, then for likeStory, createStory and me at 16, 32
//! and 64 concurrent keep-alive clients (1 s warm-up, 4 s measured) drives storyxp over
//! HTTP, and then runs the same SQL statements straight against PostgreSQL with the same
//! concurrency (one connection per client, prepared statements): what a perfect server
//! could not beat. likeStory is `like_story(...)` then the like count; createStory is
//! `create_story(...)`; me is one `SELECT ... FROM users`. Prints one table. Run with `cargo bench --bench throughput`.

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
}

fn summarise(mut outcomes: Vec<Outcome>) -> Summary {
    let mut latencies: Vec<Duration> = outcomes
        .iter_mut()
        .flat_map(|outcome| outcome.latencies.drain(..))
        .collect();
    latencies.sort();
    let percentile = |p| support::percentile(&latencies, p);
    Summary {
        per_second: latencies.len() as f64 / MEASURE.as_secs_f64(),
        p50: percentile(0.50),
        p99: percentile(0.99),
        errors: outcomes.iter().map(|outcome| outcome.errors).sum(),
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
        "ANALYZE".to_string(),
    ] {
        diesel::sql_query(statement)
            .execute(&mut connection)
            .await?;
    }

    let (mut server, base) = support::start_server(&url, SECRET).await?;
    let keys = storyxp::auth::TokenKeys::new(SECRET.as_bytes())?;
    let tokens: Arc<Vec<String>> = Arc::new(
        (1..=USERS)
            .map(|user| keys.issue(user))
            .collect::<Result<_, _>>()?,
    );

    let mut rows = Vec::new();
    for operation in [Operation::LikeStory, Operation::CreateStory, Operation::Me] {
        for clients in CONCURRENCY {
            let storyxp = summarise(
                drive(clients, |seed| {
                    storyxp_client(base.clone(), tokens.clone(), operation, seed)
                })
                .await,
            );
            let ceiling = summarise(
                drive(clients, |seed| ceiling_client(url.clone(), operation, seed)).await,
            );
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
    for clients in CONCURRENCY {
        let floor = summarise(
            drive(clients, |seed| {
                storyxp_client(base.clone(), tokens.clone(), Operation::NoDatabase, seed)
            })
            .await,
        );
        floors.push(format!(
            "{clients} clients: {:.0} req/s (p50 {:.2} ms)",
            floor.per_second,
            floor.p50.as_secs_f64() * 1000.0
        ));
    }
    let _ = server.kill().await;

    println!(
        "| operation | clients | storyxp req/s | p50 ms | p99 ms | errors | ceiling req/s | ceiling p50 ms | ceiling p99 ms | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let ms = support::ms;
    for row in rows {
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
        "\nstoryxp with no database work (`{{ __typename }}` over HTTP, same clients): {}",
        floors.join("; ")
    );
    Ok(())
}

/// Runs `clients` copies of a client for the warm-up and the measured window.
async fn drive<F, Fut>(clients: usize, client: F) -> Vec<Outcome>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            tokio::spawn(client(
                0x9E37_79B9_7F4A_7C15 ^ ((n as u64 + 1) * 0x1000_0001),
            ))
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap_or_default());
    }
    outcomes
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
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("http client");
    let endpoint = format!("{base}/graphql");
    let mut random = Random(seed);
    let mut outcome = Outcome::default();
    let (measure_from, until) = window();
    let mut n = 0u64;
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
        let result = http
            .post(&endpoint)
            .bearer_auth(&tokens[user])
            .json(&body)
            .send()
            .await;
        let ok = match result {
            Ok(response) if response.status().is_success() => {
                match response.json::<serde_json::Value>().await {
                    Ok(value) => value.get("errors").is_none() && !value["data"].is_null(),
                    Err(_) => false,
                }
            }
            _ => false,
        };
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
    let prepare = |sql: &'static str| client.prepare(sql);
    let (Ok(like), Ok(like_count), Ok(create), Ok(find_users)) = (
        prepare("SELECT id, author_id, title, content, published, created_at, xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id FROM like_story($1, $2, $3, $4, $5, $6::text::jsonb)").await,
        prepare("SELECT story_id, count(*) FROM story_likes WHERE story_id = ANY($1) GROUP BY story_id").await,
        prepare("SELECT id, author_id, title, content, published, created_at, xp_gained, total_xp, level, previous_level, unlocked, awarded_at, notification_id FROM create_story($1, $2, $3, $4, $5, $6::text::jsonb)").await,
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
                    let subject = format!("story:{story}:by:{user}");
                    client
                        .query(
                            &like,
                            &[&story, &user, &subject, &5i32, &30i32, &candidates_like],
                        )
                        .await?;
                    client.query(&like_count, &[&vec![story]]).await?;
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
                                &100i32,
                                &30i32,
                                &candidates_create,
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
        if started >= measure_from {
            match result {
                Ok(()) => outcome.latencies.push(started.elapsed()),
                Err(_) => outcome.errors += 1,
            }
        }
    }
    outcome
}
