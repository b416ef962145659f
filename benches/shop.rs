//! Shop benchmark: `buyItem` over HTTP at 32 clients, each purchase a real one (every
//! user buys the catalog's seven items and a second streak freeze, in turn), then a
//! check that every balance is exact: experiencePoints - xp_spent = the seeded XP minus
//! the user's purchases, never negative. Target: 1,000 purchases/s at 32 clients.
//! Run with `cargo bench --bench shop`.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const USERS: i64 = 20_000;
const XP: i32 = 100_000;
const CLIENTS: usize = 32;
const WARM_UP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
const SECRET: &str = "bench-secret-bench-secret-bench-secret!!";
/// What each user buys, in order: every item once and a second freeze.
const BASKET: [&str; 8] = [
    "STREAK_FREEZE",
    "FRAME_BRONZE",
    "TITLE_WORDSMITH",
    "FRAME_SILVER",
    "TITLE_LOREMASTER",
    "FRAME_GOLD",
    "TITLE_LEGEND",
    "STREAK_FREEZE",
];

fn main() -> support::BenchResult {
    support::with_database("shop", &[], run)
}

async fn run(url: String) -> support::BenchResult {
    let mut connection = AsyncPgConnection::establish(&url).await?;
    for statement in [
        format!(
            "INSERT INTO users (username, email, password_hash) SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {USERS}) g"
        ),
        format!(
            "INSERT INTO xp_ledger (recipient_id, action, amount, reason) SELECT id, 'CUSTOM', {XP}, 'seed' FROM users"
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
            .map(|user| keys.issue(user, 0))
            .collect::<Result<_, _>>()?,
    );
    // Purchases are handed out in order: purchase n is user n / 8's item n % 8.
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + WARM_UP;
    let until = start + MEASURE;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (tokens, next, base) = (tokens.clone(), next.clone(), base.clone());
            tokio::spawn(async move {
                let address = base.trim_start_matches("http://").to_string();
                let mut connection = None;
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let (user, item) = (n / BASKET.len(), BASKET[n % BASKET.len()]);
                    let Some(token) = tokens.get(user) else { break };
                    let body = serde_json::json!({
                        "query": "mutation Buy($key: String!) { buyItem(key: $key) { item { key } user { xpBalance } } }",
                        "variables": { "key": item },
                    });
                    let began = Instant::now();
                    let ok = support::post(&mut connection, &address, token, body.to_string())
                        .await
                        .unwrap_or(false);
                    if began >= start {
                        if ok {
                            latencies.push(began.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for client in clients {
        let (mine, failed) = client.await?;
        latencies.extend(mine);
        errors += failed;
    }
    let _ = server.kill().await;
    latencies.sort();

    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        purchases: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        wrong: i64,
    }
    let check: Check = diesel::sql_query(format!(
        "SELECT (SELECT count(*) FROM purchases) AS purchases, count(*) AS wrong FROM users u \
          WHERE u.experience_points - u.xp_spent < 0 \
             OR u.xp_spent <> coalesce((SELECT sum(p.price) FROM purchases p WHERE p.user_id = u.id), 0) \
             OR u.experience_points <> {XP}"
    ))
    .get_result(&mut connection)
    .await?;
    println!(
        "buyItem x{CLIENTS}: {:.0} purchases/s, p50 {:.2} ms, p99 {:.2} ms, {errors} errors; {} purchases in all, {} users with a wrong balance",
        latencies.len() as f64 / MEASURE.as_secs_f64(),
        support::ms(support::percentile(&latencies, 0.50)),
        support::ms(support::percentile(&latencies, 0.99)),
        check.purchases,
        check.wrong,
    );
    if check.wrong > 0 {
        return Err("balances are not exact".into());
    }
    Ok(())
}
