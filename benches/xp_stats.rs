//! xpStats benchmark: 1,000,000 users and 10,000,000 ledger entries over the last 365
//! days, `xpStats(days: 30)` and `xpStats(days: 365)` over HTTP, as an admin.
//! Run with `cargo bench --bench xp_stats`; target: p99 under 100 ms.
//!
//! Seeded in bulk (triggers off, indexes built after the rows, then the rollups
//! rebuilt by `xp_stats_rebuild()`, as migration 000016 does), then measured twice:
//! with everything compacted, and with 10,000 awards still pending (about five seconds
//! of likes at the throughput benchmark's rate, held back by taking the compactor's lock).

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const USERS: i64 = 1_000_000;
const ENTRIES: i64 = 10_000_000;
const PENDING: i64 = 10_000;
const REQUESTS: usize = 300;

fn main() -> support::BenchResult {
    support::with_database(
        "xp_stats",
        &["fsync=off", "maintenance_work_mem=512MB"],
        run,
    )
}

async fn step(connection: &mut AsyncPgConnection, what: &str, sql: &str) -> support::BenchResult {
    let start = Instant::now();
    diesel::sql_query(sql).execute(connection).await?;
    println!("  {what}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

async fn run(url: String) -> support::BenchResult {
    let seeding = Instant::now();
    let mut connection = AsyncPgConnection::establish(&url).await?;
    println!("seeding {USERS} users and {ENTRIES} ledger entries");
    // Bulk load: no per-row triggers (the ledger's, the users' and the foreign keys');
    // the users' totals and the rollups are computed afterwards, in bulk.
    step(
        &mut connection,
        "triggers off",
        "SET session_replication_role = replica",
    )
    .await?;
    step(
        &mut connection,
        "users",
        &format!(
            "INSERT INTO users (username, email, password_hash) \
             SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {USERS}) g"
        ),
    )
    .await?;
    step(
        &mut connection,
        "drop ledger indexes",
        "DROP INDEX xp_ledger_once_key, xp_ledger_history_idx",
    )
    .await?;
    step(
        &mut connection,
        "ledger",
        &format!(
            "INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason, base_amount, created_at) \
             SELECT 1 + (g * 7919) % {USERS}, a.action, 'seed:' || g, a.xp, 'seed', a.xp, \
                    now() - (g % 365) * INTERVAL '1 day' - (g % 86400) * INTERVAL '1 second' \
               FROM generate_series(1::BIGINT, {ENTRIES}) g \
               JOIN (VALUES (0, 'STORY_LIKED', 5), (1, 'STORY_LIKED', 5), (2, 'STORY_LIKED', 5), \
                            (3, 'STORY_READ', 2), (4, 'STORY_READ', 2), (5, 'STORY_COMMENTED', 10), \
                            (6, 'STORY_CREATED', 100), (7, 'STORY_PUBLISHED', 50), \
                            (8, 'ACHIEVEMENT_EARNED', 30), (9, 'STREAK_BONUS', 10)) a(k, action, xp) \
                 ON a.k = g % 10"
        ),
    )
    .await?;
    step(
        &mut connection,
        "ledger key index",
        "CREATE UNIQUE INDEX xp_ledger_once_key ON xp_ledger (recipient_id, action, subject)",
    )
    .await?;
    step(
        &mut connection,
        "ledger history index",
        "CREATE INDEX xp_ledger_history_idx ON xp_ledger (recipient_id, id DESC)",
    )
    .await?;
    step(
        &mut connection,
        "users' XP",
        "UPDATE users u SET experience_points = t.xp, level = xp_level(t.xp) \
           FROM (SELECT recipient_id, sum(amount)::INTEGER AS xp FROM xp_ledger GROUP BY recipient_id) t \
          WHERE u.id = t.recipient_id",
    )
    .await?;
    step(
        &mut connection,
        "triggers on",
        "SET session_replication_role = DEFAULT",
    )
    .await?;
    step(
        &mut connection,
        "rollups (xp_stats_rebuild)",
        "SELECT xp_stats_rebuild()",
    )
    .await?;
    step(&mut connection, "vacuum analyze", "VACUUM ANALYZE").await?;
    println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

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
    let signed_up: serde_json::Value = client
        .post(&endpoint)
        .json(&serde_json::json!({
            "query": "mutation { signUp(input: { username: \"operator\", email: \"operator@example.com\", password: \"correct horse\" }) { token user { id } } }"
        }))
        .send()
        .await?
        .json()
        .await?;
    let token = signed_up["data"]["signUp"]["token"]
        .as_str()
        .ok_or_else(|| format!("signUp failed: {signed_up}"))?
        .to_string();
    diesel::sql_query("UPDATE users SET is_admin = TRUE WHERE username = 'operator'")
        .execute(&mut connection)
        .await?;

    let measure = async |label: &str, days: i32| -> support::BenchResult {
        let body = serde_json::json!({
            "query": "query($days: Int!) { xpStats(days: $days) { users levelDistribution { level users } actions { action awards xp } daily { date awards xp activeUsers } } }",
            "variables": { "days": days },
        });
        let mut timings = Vec::with_capacity(REQUESTS);
        for round in 0..REQUESTS + 20 {
            let start = Instant::now();
            let response: serde_json::Value = client
                .post(&endpoint)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await?
                .json()
                .await?;
            if round >= 20 {
                timings.push(start.elapsed());
            }
            let stats = &response["data"]["xpStats"];
            let rows = stats["daily"].as_array().map_or(0, Vec::len);
            if rows != days as usize || stats["users"].as_i64() < Some(USERS) {
                return Err(format!("unexpected answer: {response}").into());
            }
        }
        timings.sort();
        let (percentile, ms) = (|p| support::percentile(&timings, p), support::ms);
        println!(
            "xpStats(days: {days}), {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {REQUESTS} requests (target: p99 under 100 ms)",
            ms(percentile(0.50)),
            ms(percentile(0.99)),
            ms(*timings.last().unwrap_or(&Duration::ZERO))
        );
        Ok(())
    };
    // Let the server's first compaction move the operator's sign-up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    measure("all compacted", 30).await?;
    measure("all compacted", 365).await?;

    // Hold the compactor off (its advisory lock, on a session of our own) and add
    // PENDING awards as the ledger trigger would.
    let mut holder = AsyncPgConnection::establish(&url).await?;
    diesel::sql_query("SELECT pg_advisory_lock(hashtext('xp_stats_compact'))")
        .execute(&mut holder)
        .await?;
    diesel::sql_query(format!(
        "INSERT INTO xp_stats_pending (day, action, user_id, xp, level_from, level_to) \
         SELECT (now() AT TIME ZONE 'UTC')::DATE, 'STORY_LIKED', 1 + (g * 104729) % {USERS}, 5, \
                CASE WHEN g % 50 = 0 THEN 3 END, CASE WHEN g % 50 = 0 THEN 4 END \
           FROM generate_series(1::BIGINT, {PENDING}) g"
    ))
    .execute(&mut connection)
    .await?;
    diesel::sql_query("ANALYZE xp_stats_pending")
        .execute(&mut connection)
        .await?;
    measure(&format!("{PENDING} awards pending"), 30).await?;
    measure(&format!("{PENDING} awards pending"), 365).await?;
    Ok(())
}
