//! Subscription benchmark: 10,000 idle levelUps subscribers on one storyxp process
//! (its RSS), then 200 level-ups per second for 10 s (delivery latency, from just
//! before the award's commit to the subscriber). Run with
//! `cargo bench --bench subscriptions`; targets: RSS under 300 MB, p99 under 100 ms.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SUBSCRIBERS: i64 = 10_000;
const RATE: u64 = 200;
const SECONDS: u64 = 10;
const SECRET: &str = "bench-secret-bench-secret-bench-secret!!";

type Pending = Arc<Mutex<HashMap<i64, Instant>>>;

fn main() -> support::BenchResult {
    support::with_database("subscriptions", &["fsync=off"], run)
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn run(url: String) -> support::BenchResult {
    let mut connection = AsyncPgConnection::establish(&url).await?;
    diesel::sql_query(format!(
        "INSERT INTO users (username, email, password_hash) \
         SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {SUBSCRIBERS}) g"
    ))
    .execute(&mut connection)
    .await?;

    let (mut server, base) = support::start_server(&url, SECRET).await?;
    let pid = server.id().ok_or("server has no pid")?;
    let baseline = rss_mb(pid);

    let keys = storyxp::auth::TokenKeys::new(SECRET.as_bytes())?;
    let pending: Pending = Arc::default();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let connecting = Instant::now();
    let mut tasks = Vec::new();
    for user in 1..=SUBSCRIBERS {
        let token = keys.issue(user, 0)?;
        let (pending, latencies) = (pending.clone(), latencies.clone());
        let mut request =
            format!("{}/graphql", base.replace("http://", "ws://")).into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        let init = serde_json::json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
        socket.send(Message::Text(init.to_string().into())).await?;
        let subscribe = serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { levelUps { level totalXp } }" } });
        socket
            .send(Message::Text(subscribe.to_string().into()))
            .await?;
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    if text.contains("\"next\"") {
                        let sent = pending.lock().unwrap().remove(&user);
                        if let Some(sent) = sent {
                            latencies.lock().unwrap().push(sent.elapsed());
                        }
                    }
                }
            }
        }));
    }
    // Let the last subscriptions register, then measure the idle footprint.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = rss_mb(pid);
    println!(
        "{SUBSCRIBERS} subscribers connected in {:.1} s; server RSS {idle:.0} MB (before: {baseline:.0} MB; target: under 300 MB)",
        connecting.elapsed().as_secs_f64()
    );

    // 200 level-ups per second, each to a different subscriber (+500 XP is always a level-up).
    let award_pool = storyxp::db::pool(&url, 8)?;
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    let total = RATE * SECONDS;
    let mut awards = Vec::new();
    for n in 0..total {
        ticker.tick().await;
        let user = (n as i64 * 7919) % SUBSCRIBERS + 1;
        let (pool, pending) = (award_pool.clone(), pending.clone());
        awards.push(tokio::spawn(async move {
            let mut connection = pool.get().await.map_err(|error| error.to_string())?;
            pending.lock().unwrap().insert(user, Instant::now());
            let request = storyxp::xp::AwardRequest {
                amount: Some(500),
                ..storyxp::xp::AwardRequest::new(
                    user,
                    storyxp::xp::XpAction::Custom,
                    storyxp::xp::rules::Subject::Unique,
                )
            };
            storyxp::xp::award(&mut connection, request)
                .await
                .map_err(|error| error.to_string())?;
            Ok::<_, String>(())
        }));
    }
    let mut failed = 0;
    for award in awards {
        if !matches!(award.await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pending.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = rss_mb(pid);
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let lost = pending.lock().unwrap().len();
    let (percentile, ms) = (|p| support::percentile(&latencies, p), support::ms);
    println!(
        "{total} level-ups at {RATE}/s: delivered {}, lost {lost}, failed awards {failed}; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99: under 100 ms); server RSS {busy:.0} MB",
        latencies.len(),
        ms(percentile(0.50)),
        ms(percentile(0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    let _ = server.kill().await;
    for task in tasks {
        task.abort();
    }
    Ok(())
}
