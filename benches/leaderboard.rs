//! Leaderboard benchmark: 100,000 users, `leaderboard(first: 50)` over HTTP.
//! Run with `cargo bench --bench leaderboard`; target: under 20 ms per answer.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const USERS: i64 = 100_000;
const REQUESTS: usize = 500;
const QUERY: &str = "{ leaderboard(scope: GLOBAL, first: 50) { rank experiencePoints level user { id username } } }";

fn main() -> support::BenchResult {
    support::with_database("leaderboard", &["fsync=off"], run)
}

async fn run(url: String) -> support::BenchResult {
    let seeding = Instant::now();
    let mut connection = AsyncPgConnection::establish(&url).await?;
    diesel::sql_query(format!(
        "INSERT INTO users (username, email, password_hash) \
         SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {USERS}) g"
    ))
    .execute(&mut connection)
    .await?;
    // XP only ever arrives through the ledger; many users share a total, so ties are common.
    diesel::sql_query("INSERT INTO xp_ledger (recipient_id, action, amount, reason) SELECT id, 'CUSTOM', 1 + (id * 7919) % 20000, 'seed' FROM users")
        .execute(&mut connection)
        .await?;
    diesel::sql_query("ANALYZE")
        .execute(&mut connection)
        .await?;
    println!(
        "seeded {USERS} users in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let state = storyxp::app::server::state_for(&url, b"bench-secret-bench-secret-bench-secret!!")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(storyxp::app::server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let endpoint = format!("http://{addr}/graphql");
    let body = serde_json::json!({ "query": QUERY });
    for _ in 0..50 {
        client
            .post(&endpoint)
            .json(&body)
            .send()
            .await?
            .bytes()
            .await?;
    }
    let mut timings = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let start = Instant::now();
        let response: serde_json::Value = client
            .post(&endpoint)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        timings.push(start.elapsed());
        let entries = response["data"]["leaderboard"]
            .as_array()
            .map_or(0, Vec::len);
        if entries != 50 {
            return Err(format!("expected 50 entries, got {response}").into());
        }
    }
    timings.sort();
    let (percentile, ms) = (|p| support::percentile(&timings, p), support::ms);
    println!(
        "leaderboard(first: 50) over HTTP with {USERS} users, {REQUESTS} requests: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target: under 20 ms)",
        ms(percentile(0.50)),
        ms(percentile(0.99)),
        ms(*timings.last().unwrap_or(&Duration::ZERO))
    );
    Ok(())
}
