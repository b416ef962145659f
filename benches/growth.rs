//! Growth benchmark (issue 19, part 2): does a request cost the same when the data is
//! 500 times bigger? Run with `cargo bench --bench growth`; target: every operation's
//! p50 and p99 on the grown data within 1.5x of the small data set's.
//!
//! One database, measured twice with the same requests:
//! 1. small: 2,000 users and 5,000 published stories (the throughput benchmark's data),
//!    user 1's story 1 without likes, user 1 with 50 mutual friends;
//! 2. grown, in bulk (triggers off, the ledger's indexes built after its rows, then the
//!    users' totals, action counts and story 1's like count computed from the rows):
//!    1,000,000 users, 10,000,000 ledger entries over the last year, 200,000 likes of
//!    story 1 (each with its author's STORY_LIKED entry), 100,000 notifications of user 1
//!    and 1,000,000 friendship rows among other users.
//!
//! Each operation runs 300 times in a row (after 30 unmeasured) over HTTP against the
//! server in this process (fsync off: the cost of the work, not the disk's flush; shared_buffers
//! 4GB, `STORYXP_BENCH_SHARED_BUFFERS` to change it):
//! likeStory of random stories by random users (first likes, each paying its author),
//! likeStory of story 1 (200,000 likes when grown), me, the global and the friends
//! leaderboard, and user 1's first notifications and xpHistory pages and the page after.
//! Beside each p50/p99, the WAL bytes per request (the WAL position before and after),
//! which tell a page's first change after a checkpoint (a full-page image) from the work.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

const SMALL_USERS: i64 = 2_000;
const STORIES: i64 = 5_000;
const USERS: i64 = 1_000_000;
const ENTRIES: i64 = 10_000_000;
const HOT_LIKES: i64 = 200_000;
const NOTIFICATIONS: i64 = 100_000;
const FRIEND_ROWS: i64 = 1_000_000;
const FRIENDS: i64 = 50;
const REQUESTS: usize = 300;
const WARM_UP: usize = 30;
const SECRET: &str = "bench-secret-bench-secret-bench-secret!!";

const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { story { likeCount } xpEarned { xpGained totalXp } } }";
const ME: &str = "{ me { id username experiencePoints level xpProgress xpBalance } }";
const LEADERBOARD: &str =
    "{ leaderboard(first: 50) { rank experiencePoints level user { id username } } }";
const FRIENDS_LEADERBOARD: &str = "{ leaderboard(scope: FRIENDS, first: 100) { rank experiencePoints level user { id username } } }";
const NOTIFICATIONS_PAGE: &str = "query($after: String) { notifications(first: 20, after: $after) { pageInfo { endCursor } nodes { id message } } }";
const HISTORY_PAGE: &str = "query($after: String) { me { xpHistory(first: 20, after: $after) { pageInfo { endCursor } nodes { id action xpGained } } } }";

fn main() -> support::BenchResult {
    // STORYXP_BENCH_SHARED_BUFFERS: PostgreSQL's buffer cache (default 4GB, which holds
    // the grown data's 2.7 GB as a server sized for it would; at PostgreSQL's own 128MB a
    // like on a random user of the million reads cold pages through the kernel).
    let buffers = format!(
        "shared_buffers={}",
        std::env::var("STORYXP_BENCH_SHARED_BUFFERS").unwrap_or_else(|_| "4GB".into())
    );
    support::with_database(
        "growth",
        &["fsync=off", "maintenance_work_mem=512MB", &buffers],
        run,
    )
}

async fn step(connection: &mut AsyncPgConnection, what: &str, sql: &str) -> support::BenchResult {
    let start = Instant::now();
    diesel::sql_query(sql).execute(connection).await?;
    println!("  {what}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// A small deterministic generator, so both phases draw the same kind of requests.
struct Random(u64);

impl Random {
    fn below(&mut self, n: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as i64
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// One phase's figures: (operation, p50, p99, WAL bytes per request), and a connection
/// of its own that reads the WAL position around each operation's requests.
struct Figures {
    rows: Vec<(&'static str, Duration, Duration, i64)>,
    wal: AsyncPgConnection,
}

impl Figures {
    /// The WAL position in bytes (`pg_current_wal_lsn()`): exact, unlike pg_stat_wal,
    /// whose counters backends report at most once a second.
    async fn wal_position(&mut self) -> Result<i64, String> {
        let position: Count =
            diesel::sql_query("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::BIGINT AS n")
                .get_result(&mut self.wal)
                .await
                .map_err(|error| error.to_string())?;
        Ok(position.n)
    }
}

struct Client {
    http: reqwest::Client,
    endpoint: String,
    keys: storyxp::auth::TokenKeys,
}

impl Client {
    async fn call(&self, user: i64, query: &str, variables: Value) -> Result<Value, String> {
        let token = self
            .keys
            .issue(user, 0)
            .map_err(|error| error.to_string())?;
        let response: Value = self
            .http
            .post(&self.endpoint)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|error| error.to_string())?
            .json()
            .await
            .map_err(|error| error.to_string())?;
        if response.get("errors").is_some() || response["data"].is_null() {
            return Err(format!("{query}: {response}"));
        }
        Ok(response["data"].clone())
    }
}

/// Runs `request` WARM_UP + REQUESTS times (the n-th call gets n), timing the last REQUESTS.
async fn measure<F, Fut>(
    figures: &mut Figures,
    name: &'static str,
    mut request: F,
) -> support::BenchResult
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut timings = Vec::with_capacity(REQUESTS);
    let mut wal_start = 0;
    for n in 0..WARM_UP + REQUESTS {
        if n == WARM_UP {
            wal_start = figures.wal_position().await?;
        }
        let start = Instant::now();
        request(n).await?;
        if n >= WARM_UP {
            timings.push(start.elapsed());
        }
    }
    // WAL written per request: a page's first change after a checkpoint writes the
    // whole page (full_page_writes), so a request touching many distinct pages (a
    // random user of a million) writes more than one touching the same few.
    let wal = (figures.wal_position().await? - wal_start) / REQUESTS as i64;
    timings.sort();
    let (p50, p99) = (
        support::percentile(&timings, 0.50),
        support::percentile(&timings, 0.99),
    );
    println!(
        "  {name}: p50 {:.2} ms, p99 {:.2} ms, {wal} WAL bytes per request",
        support::ms(p50),
        support::ms(p99)
    );
    figures.rows.push((name, p50, p99, wal));
    Ok(())
}

/// The phase's requests. `users` bounds the random likers; `likers` is the first user id
/// of a range no earlier phase used for liking story 1.
async fn phase(
    client: &Client,
    url: &str,
    users: i64,
    likers: i64,
    seed: u64,
) -> Result<Figures, String> {
    let mut figures = Figures {
        rows: Vec::new(),
        wal: AsyncPgConnection::establish(url)
            .await
            .map_err(|error| error.to_string())?,
    };
    let mut random = Random(seed);
    let mut pairs = Vec::new();
    for _ in 0..WARM_UP + REQUESTS {
        // Stories are by users 1..=2,000; a liker from the whole set, never the author.
        pairs.push((2 + random.below(users - 1), 2 + random.below(STORIES - 1)));
    }
    let bench = async |figures: &mut Figures| -> support::BenchResult {
        measure(figures, "likeStory (random story)", |n| {
            let (liker, story) = pairs[n];
            async move {
                let data = client
                    .call(liker, LIKE, json!({ "id": story.to_string() }))
                    .await?;
                let like = &data["likeStory"];
                if like["story"]["likeCount"].as_i64() < Some(1) {
                    return Err(format!("no like count: {data}"));
                }
                Ok(())
            }
        })
        .await?;
        measure(figures, "likeStory (story 1)", |n| async move {
            let liker = likers + n as i64;
            let data = client.call(liker, LIKE, json!({ "id": "1" })).await?;
            if data["likeStory"]["xpEarned"]["xpGained"].as_i64() < Some(5) {
                return Err(format!("story 1's like did not pay its author: {data}"));
            }
            Ok(())
        })
        .await?;
        measure(figures, "me", |n| async move {
            client
                .call(1 + (n as i64 * 7919) % SMALL_USERS, ME, json!({}))
                .await?;
            Ok(())
        })
        .await?;
        measure(figures, "leaderboard (global, first 50)", |_| async {
            let data = client.call(1, LEADERBOARD, json!({})).await?;
            if data["leaderboard"].as_array().map(Vec::len) != Some(50) {
                return Err(format!("leaderboard: {data}"));
            }
            Ok(())
        })
        .await?;
        measure(figures, "leaderboard (friends)", |_| async {
            let data = client.call(1, FRIENDS_LEADERBOARD, json!({})).await?;
            if data["leaderboard"].as_array().map(Vec::len) != Some(FRIENDS as usize + 1) {
                return Err(format!("friends leaderboard: {data}"));
            }
            Ok(())
        })
        .await?;
        for (name, query, path) in [
            (
                ["notifications (first page)", "notifications (next page)"],
                NOTIFICATIONS_PAGE,
                &["notifications"][..],
            ),
            (
                ["xpHistory (first page)", "xpHistory (next page)"],
                HISTORY_PAGE,
                &["me", "xpHistory"][..],
            ),
        ] {
            let page = |data: &Value| path.iter().fold(data, |value, key| &value[*key]).clone();
            measure(figures, name[0], |_| async move {
                let data = client.call(1, query, json!({})).await?;
                if page(&data)["nodes"].as_array().map(Vec::len) != Some(20) {
                    return Err(format!("{}: {data}", name[0]));
                }
                Ok(())
            })
            .await?;
            let first = client.call(1, query, json!({})).await?;
            let cursor = page(&first)["pageInfo"]["endCursor"].clone();
            measure(figures, name[1], |_| {
                let cursor = cursor.clone();
                async move {
                    let data = client.call(1, query, json!({ "after": cursor })).await?;
                    if page(&data)["nodes"].as_array().map(Vec::len) != Some(20) {
                        return Err(format!("{}: {data}", name[1]));
                    }
                    Ok(())
                }
            })
            .await?;
        }
        Ok(())
    };
    bench(&mut figures)
        .await
        .map_err(|error| error.to_string())?;
    Ok(figures)
}

async fn run(url: String) -> support::BenchResult {
    let mut connection = AsyncPgConnection::establish(&url).await?;
    println!("small data set: {SMALL_USERS} users, {STORIES} stories, {FRIENDS} friends of user 1");
    for (what, sql) in [
        (
            "users",
            format!(
                "INSERT INTO users (username, email, password_hash) \
             SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {SMALL_USERS}) g"
            ),
        ),
        (
            "stories",
            format!(
                "INSERT INTO stories (author_id, title, content, published) \
             SELECT 1 + (g - 1) % {SMALL_USERS}, 'Story ' || g, repeat('Once upon a time. ', 20), TRUE \
               FROM generate_series(1, {STORIES}) g"
            ),
        ),
        (
            "user 1's friends",
            format!(
                "INSERT INTO friend_requests (requester_id, addressee_id) \
             SELECT a, b FROM generate_series(2, {FRIENDS} + 1) f, LATERAL (VALUES (1, f), (f, 1)) p(a, b)"
            ),
        ),
        // Enough notifications and ledger entries of user 1 for two pages.
        (
            "user 1's notifications",
            "INSERT INTO notifications (user_id, kind, message, level) \
             SELECT 1, 'ACHIEVEMENT_EARNED', 'Seeded ' || g, 2 + g % 40 FROM generate_series(1, 60) g"
                .to_string(),
        ),
        ("analyze", "ANALYZE".to_string()),
    ] {
        step(&mut connection, what, &sql).await?;
    }
    // User 1's history: 60 likes of their stories (through the triggers, as the app writes).
    step(
        &mut connection,
        "user 1's ledger",
        "INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason) \
         SELECT 1, 'STORY_LIKED', 'story:1:by:seed' || g, 5, NULL FROM generate_series(1, 60) g",
    )
    .await?;
    // Both phases start right after a checkpoint: each page's first change writes its
    // full image to the WAL in both.
    step(&mut connection, "checkpoint", "CHECKPOINT").await?;

    let state = storyxp::app::server::state_for(&url, SECRET.as_bytes())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(storyxp::app::server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let client = Client {
        http: reqwest::Client::new(),
        endpoint: format!("http://{addr}/graphql"),
        keys: storyxp::auth::TokenKeys::new(SECRET.as_bytes())?,
    };
    println!("measuring the small data set");
    // Story 1's likers: users 2..=331 (the small set), then users above the grown likes.
    let small = phase(&client, &url, SMALL_USERS, 2, 1).await?;

    let seeding = Instant::now();
    println!(
        "growing to {USERS} users, {ENTRIES} ledger entries, {HOT_LIKES} likes of story 1, \
         {NOTIFICATIONS} notifications of user 1, {FRIEND_ROWS} friendship rows"
    );
    let hot_first = SMALL_USERS + 1;
    let hot_last = SMALL_USERS + HOT_LIKES;
    for (what, sql) in [
        ("triggers off", "SET session_replication_role = replica".to_string()),
        ("users", format!(
            "INSERT INTO users (username, email, password_hash) \
             SELECT 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series({SMALL_USERS} + 1, {USERS}) g"
        )),
        ("drop ledger indexes", "DROP INDEX xp_ledger_once_key, xp_ledger_history_idx".to_string()),
        ("ledger", format!(
            "INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason, base_amount, created_at) \
             SELECT 1 + (g * 7919) % {USERS}, a.action, 'seed:' || g, a.xp, 'seed', a.xp, \
                    now() - (g % 365) * INTERVAL '1 day' - (g % 86400) * INTERVAL '1 second' \
               FROM generate_series(1::BIGINT, {ENTRIES} - {HOT_LIKES}) g \
               JOIN (VALUES (0, 'STORY_LIKED', 5), (1, 'STORY_LIKED', 5), (2, 'STORY_LIKED', 5), \
                            (3, 'STORY_READ', 2), (4, 'STORY_READ', 2), (5, 'STORY_COMMENTED', 10), \
                            (6, 'STORY_CREATED', 100), (7, 'STORY_PUBLISHED', 50), \
                            (8, 'ACHIEVEMENT_EARNED', 30), (9, 'STREAK_BONUS', 10)) a(k, action, xp) \
                 ON a.k = g % 10"
        )),
        ("story 1's likes", format!(
            "INSERT INTO story_likes (story_id, user_id) SELECT 1, g FROM generate_series({hot_first}, {hot_last}) g"
        )),
        ("story 1's likes' ledger entries", format!(
            "INSERT INTO xp_ledger (recipient_id, action, subject, amount, base_amount) \
             SELECT 1, 'STORY_LIKED', 'story:1:by:' || g, 5, 5 FROM generate_series({hot_first}, {hot_last}) g"
        )),
        ("ledger key index", "CREATE UNIQUE INDEX xp_ledger_once_key ON xp_ledger (recipient_id, action, subject)".to_string()),
        ("ledger history index", "CREATE INDEX xp_ledger_history_idx ON xp_ledger (recipient_id, id DESC)".to_string()),
        ("story 1's like count", "INSERT INTO story_like_counts (story_id, likes) \
             SELECT story_id, count(*) FROM story_likes GROUP BY story_id \
             ON CONFLICT (story_id) DO UPDATE SET likes = excluded.likes".to_string()),
        ("user 1's notifications", format!(
            "INSERT INTO notifications (user_id, kind, message, level) \
             SELECT 1, 'ACHIEVEMENT_EARNED', 'Seeded ' || g, 2 + g % 40 FROM generate_series(1, {NOTIFICATIONS}) g"
        )),
        ("friendships", format!(
            "INSERT INTO friend_requests (requester_id, addressee_id) \
             SELECT a, b FROM generate_series(1::BIGINT, {FRIEND_ROWS} / 2) g, \
                    LATERAL (SELECT {hot_last} + g AS x, {hot_last} + 1 + (g * 104729) % ({USERS} - {hot_last} - 1) AS y) p, \
                    LATERAL (VALUES (p.x, p.y), (p.y, p.x)) r(a, b) \
              WHERE p.x <> p.y ON CONFLICT DO NOTHING"
        )),
        ("users' XP", "UPDATE users u SET experience_points = t.xp, level = xp_level(t.xp) \
             FROM (SELECT recipient_id, sum(amount)::INTEGER AS xp FROM xp_ledger GROUP BY recipient_id) t \
            WHERE u.id = t.recipient_id AND u.experience_points <> t.xp".to_string()),
        ("action counts", "INSERT INTO user_action_counts (user_id, action, count) \
             SELECT recipient_id, action, count(*) FROM xp_ledger GROUP BY recipient_id, action \
             ON CONFLICT (user_id, action) DO UPDATE SET count = excluded.count".to_string()),
        ("triggers on", "SET session_replication_role = DEFAULT".to_string()),
        ("vacuum analyze", "VACUUM ANALYZE".to_string()),
        // The load's dirty pages written out now, not by the checkpointer while measuring.
        ("checkpoint", "CHECKPOINT".to_string()),
    ] {
        step(&mut connection, what, &sql).await?;
    }
    println!("grown in {:.1} s", seeding.elapsed().as_secs_f64());
    // Autovacuum's look at the new rows (the insert thresholds) done before measuring:
    // no autovacuum worker for 5 s in a row (at most 5 minutes).
    let quiet = Instant::now();
    let mut idle_since = Instant::now();
    while quiet.elapsed() < Duration::from_secs(300)
        && idle_since.elapsed() < Duration::from_secs(5)
    {
        let workers: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        )
        .get_result(&mut connection)
        .await?;
        if workers.n > 0 {
            idle_since = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "autovacuum quiet after {:.1} s",
        quiet.elapsed().as_secs_f64()
    );
    println!("measuring the grown data set");
    let grown = phase(&client, &url, USERS, hot_last + 1, 2).await?;

    println!();
    println!(
        "| operation | small p50 / p99 ms | grown p50 / p99 ms | ratio p50 / p99 | WAL bytes per request small / grown |"
    );
    println!("|---|---|---|---|---|");
    let mut over = Vec::new();
    for ((name, small_p50, small_p99, small_wal), (_, grown_p50, grown_p99, grown_wal)) in
        small.rows.iter().zip(&grown.rows)
    {
        let ratio = |grown: &Duration, small: &Duration| grown.as_secs_f64() / small.as_secs_f64();
        let (p50, p99) = (ratio(grown_p50, small_p50), ratio(grown_p99, small_p99));
        println!(
            "| {name} | {:.2} / {:.2} | {:.2} / {:.2} | {p50:.2} / {p99:.2} | {small_wal} / {grown_wal} |",
            support::ms(*small_p50),
            support::ms(*small_p99),
            support::ms(*grown_p50),
            support::ms(*grown_p99),
        );
        if p50 > 1.5 || p99 > 1.5 {
            over.push(*name);
        }
    }
    if over.is_empty() {
        println!("target met: every operation within 1.5x of the small data set");
    } else {
        println!("target missed (over 1.5x): {}", over.join(", "));
    }
    Ok(())
}
