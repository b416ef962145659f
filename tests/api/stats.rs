//! xpStats: the rollups the awards maintain equal a full recount of the ledger and the
//! users, compacted or not, after concurrent awards on two instances; bad input.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Date, Integer, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::common::{TestApp, sign_up_many};

const STATS: &str = "query($days: Int!) { xpStats(days: $days) { users levelDistribution { level users } actions { action awards xp } daily { date awards xp activeUsers } } }";
const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { story { id } } }";
const CREATE: &str =
    "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }";

// Far from the real date, so only what the test does at these instants falls in the
// report's days; the last two straddle a UTC midnight.
const DAY_ONE: &str = "2027-03-10T08:00:00Z";
const LATE: &str = "2027-03-11T23:59:59.500Z";
const EARLY: &str = "2027-03-12T00:00:00.500Z";
const REPORT_AT: &str = "2027-03-12T12:00:00Z";

#[derive(QueryableByName)]
struct LevelRow {
    #[diesel(sql_type = Integer)]
    level: i32,
    #[diesel(sql_type = BigInt)]
    users: i64,
}

#[derive(QueryableByName)]
struct ActionRow {
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = BigInt)]
    awards: i64,
    #[diesel(sql_type = BigInt)]
    xp: i64,
}

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = Date)]
    day: chrono::NaiveDate,
    #[diesel(sql_type = BigInt)]
    awards: i64,
    #[diesel(sql_type = BigInt)]
    xp: i64,
    #[diesel(sql_type = BigInt)]
    active: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// xpStats(days: 3) at REPORT_AT as a full recount of xp_ledger and users says it must be.
async fn recount(app: &TestApp) -> Value {
    let mut sql = app.sql().await;
    let levels: Vec<LevelRow> = diesel::sql_query(
        "SELECT level, count(*) AS users FROM users GROUP BY level ORDER BY level",
    )
    .load(&mut sql)
    .await
    .unwrap();
    let window =
        "(created_at AT TIME ZONE 'UTC')::DATE BETWEEN DATE '2027-03-10' AND DATE '2027-03-12'";
    let actions: Vec<ActionRow> = diesel::sql_query(format!(
        "SELECT r.action, count(l.id) AS awards, coalesce(sum(l.amount), 0)::BIGINT AS xp
           FROM xp_rules r LEFT JOIN xp_ledger l ON l.action = r.action AND {window}
          GROUP BY r.action"
    ))
    .load(&mut sql)
    .await
    .unwrap();
    let days: Vec<DayRow> = diesel::sql_query(format!(
        "SELECT g.day::DATE AS day, count(l.id) AS awards, coalesce(sum(l.amount), 0)::BIGINT AS xp,
                count(DISTINCT l.recipient_id) AS active
           FROM generate_series(DATE '2027-03-10', DATE '2027-03-12', INTERVAL '1 day') g(day)
           LEFT JOIN xp_ledger l ON (l.created_at AT TIME ZONE 'UTC')::DATE = g.day::DATE AND {window}
          GROUP BY g.day ORDER BY g.day"
    ))
    .load(&mut sql)
    .await
    .unwrap();
    let order: Vec<&str> = storyxp::xp::XpAction::ALL
        .into_iter()
        .map(|action| action.as_str())
        .collect();
    let mut actions: Vec<ActionRow> = actions;
    actions.sort_by_key(|row| order.iter().position(|name| *name == row.action));
    json!({
        "users": levels.iter().map(|row| row.users).sum::<i64>(),
        "levelDistribution": levels.iter().map(|row| json!({ "level": row.level, "users": row.users })).collect::<Vec<_>>(),
        "actions": actions.iter().map(|row| json!({ "action": row.action, "awards": row.awards, "xp": row.xp })).collect::<Vec<_>>(),
        "daily": days.iter().map(|row| json!({ "date": row.day.to_string(), "awards": row.awards, "xp": row.xp, "activeUsers": row.active })).collect::<Vec<_>>(),
    })
}

async fn pending(app: &TestApp) -> i64 {
    let count: Count = diesel::sql_query("SELECT count(*) AS count FROM xp_stats_pending")
        .get_result(&mut app.sql().await)
        .await
        .unwrap();
    count.count
}

async fn stats(app: &TestApp, admin: &str) -> Value {
    app.ok_at(REPORT_AT, Some(admin), STATS, json!({ "days": 3 }))
        .await["xpStats"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn xp_stats_equal_a_full_recount_after_concurrent_awards_on_two_instances() {
    let app_a = TestApp::spawn().await;
    let app_b = TestApp::spawn_on(app_a.database_url.clone()).await;
    let admin = app_a.sign_up_admin("root").await;
    let writers = sign_up_many(&app_a, "writer", 3).await;
    let fans = sign_up_many(&app_b, "fan", 30).await;
    // Today by the real clock: outside the report's days, inside its users and levels.
    let mut stories = Vec::new();
    for writer in &writers {
        stories.push(app_a.create_published_story(writer, "Tale").await);
    }
    // Day one: a burst of 20 parallel createStory calls by one writer, split between the
    // instances (the daily cap pays 10 of them).
    let creates = (0..20).map(|n| {
        let app = if n % 2 == 0 { &app_a } else { &app_b };
        let token = writers[0].token.clone();
        async move {
            app.ok_at(
                DAY_ONE,
                Some(&token),
                CREATE,
                json!({ "input": { "title": format!("Burst {n}"), "content": "x" } }),
            )
            .await
        }
    });
    futures_util::future::join_all(creates).await;
    // 30 fans like three stories in parallel on both instances, on both sides of a UTC
    // midnight: the authors' XP per day, active users per day, level-ups.
    let (a, b, stories_ref) = (&app_a, &app_b, &stories);
    let likes = fans.iter().enumerate().flat_map(|(n, fan)| {
        stories_ref.iter().enumerate().map(move |(s, story)| {
            let app = if (n + s) % 2 == 0 { a } else { b };
            let now = if n % 3 == 0 { LATE } else { EARLY };
            let token = fan.token.clone();
            async move {
                app.ok_at(now, Some(&token), LIKE, json!({ "id": story }))
                    .await
            }
        })
    });
    futures_util::future::join_all(likes).await;

    // Right after the awards most rows may still be pending: the report is exact anyway.
    let expected = recount(&app_a).await;
    assert_eq!(stats(&app_b, &admin.token).await, expected);
    assert_eq!(expected["daily"].as_array().unwrap().len(), 3);
    assert_eq!(expected["users"], 34);
    let liked = expected["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["action"] == "STORY_LIKED")
        .unwrap();
    assert_eq!(liked["awards"], 90, "30 fans x 3 stories: {expected:#}");
    // Likes pay the authors: the three writers, on each side of midnight.
    assert_eq!(expected["daily"][1]["activeUsers"], 3, "{expected:#}");
    assert_eq!(expected["daily"][2]["activeUsers"], 3, "{expected:#}");

    // Once the instances' compactors have moved every pending row into the rollups,
    // the rollups alone give the same report.
    wait_for_compaction(&app_a).await;
    assert_eq!(stats(&app_a, &admin.token).await, expected);

    // More awards after the compaction, a new active user among them: rollups + pending,
    // then rollups compacted twice.
    let late = app_a.sign_up("late").await;
    let story = app_a
        .ok_at(
            EARLY,
            Some(&late.token),
            CREATE,
            json!({ "input": { "title": "Late", "content": "x" } }),
        )
        .await["createStory"]["story"]["id"]
        .clone();
    app_a
        .ok_at(
            EARLY,
            Some(&late.token),
            "mutation($id: ID!) { publishStory(id: $id) { story { id } } }",
            json!({ "id": story }),
        )
        .await;
    app_b
        .ok_at(EARLY, Some(&fans[0].token), LIKE, json!({ "id": story }))
        .await;
    let expected = recount(&app_a).await;
    // The late writer, and fan0, whose like before midnight and this one make a
    // two-day streak (STREAK_BONUS), join the three.
    assert_eq!(expected["daily"][2]["activeUsers"], 5, "{expected:#}");
    assert_eq!(stats(&app_a, &admin.token).await, expected);
    wait_for_compaction(&app_a).await;
    assert_eq!(stats(&app_b, &admin.token).await, expected);
}

/// Waits until the instances' compactors have moved every pending row.
async fn wait_for_compaction(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while pending(app).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the pending rows were never compacted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn xp_stats_refuses_bad_days_and_anyone_but_admins() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let writer = app.sign_up("writer").await;
    for days in [0, 366, -1] {
        let body = app
            .graphql(Some(&admin.token), STATS, json!({ "days": days }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("between 1 and 365"),
            "{body}"
        );
    }
    assert_eq!(
        app.error_code(Some(&writer.token), STATS, json!({ "days": 7 }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(None, STATS, json!({ "days": 7 })).await,
        "UNAUTHENTICATED"
    );
    // The default is 30 days, today last.
    let data = app
        .ok(
            Some(&admin.token),
            "{ xpStats { users daily { date } } }",
            json!({}),
        )
        .await;
    let daily = data["xpStats"]["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    assert_eq!(
        daily[29]["date"],
        chrono::Utc::now().date_naive().to_string()
    );
    assert_eq!(data["xpStats"]["users"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_page_and_its_local_assets_are_served_with_a_strict_policy() {
    let app = TestApp::spawn().await;
    let page = reqwest::get(format!("{}/admin", app.base_url))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    // Every script and style is one of storyxp's own files.
    for asset in [
        "/admin/assets/admin.js",
        "/admin/assets/admin.css",
        "/admin/assets/chart.umd.min.js",
    ] {
        assert!(html.contains(asset), "{asset} in the page");
        let response = reqwest::get(format!("{}{asset}", app.base_url))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(!response.bytes().await.unwrap().is_empty());
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no outside URL in the page"
    );
    let missing = reqwest::get(format!("{}/admin/assets/../Cargo.toml", app.base_url))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing = reqwest::get(format!("{}/admin/assets/nope.js", app.base_url))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// xpStats and setXpReward over both WebSocket subprotocols, in an HTTP batch and as a
/// persisted query: the same answers, the same refusals.
#[tokio::test(flavor = "multi_thread")]
async fn stats_and_tuning_work_alike_over_every_transport() {
    use crate::common::WsEvent;
    use sha2::Digest;
    const SET: &str =
        "mutation($input: SetXpRewardInput!) { setXpReward(input: $input) { action xp } }";
    const USERS: &str = "query($days: Int!) { xpStats(days: $days) { users daily { date } } }";
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let writer = app.sign_up("writer").await;
    for (protocol, start, xp) in [
        ("graphql-transport-ws", "subscribe", 6),
        ("graphql-ws", "start", 7),
    ] {
        for (who, token) in [("admin", &admin.token), ("writer", &writer.token)] {
            let mut client = app.websocket(protocol).await;
            match client.init(Some(token)).await {
                WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
                other => panic!("{other:?}"),
            }
            let operations = [
                (USERS, json!({ "days": 2 })),
                (
                    SET,
                    json!({ "input": { "action": "STORY_LIKED", "xp": xp } }),
                ),
                (USERS, json!({ "days": 400 })),
            ];
            for (id, (query, variables)) in operations.into_iter().enumerate() {
                client
                    .send(json!({ "id": id.to_string(), "type": start, "payload": { "query": query, "variables": variables } }))
                    .await;
                let answer = client.next_json().await;
                let payload = &answer["payload"];
                match (who, id) {
                    ("admin", 0) => {
                        assert_eq!(
                            payload["data"]["xpStats"]["users"], 2,
                            "{protocol}: {answer}"
                        );
                        assert_eq!(
                            payload["data"]["xpStats"]["daily"]
                                .as_array()
                                .unwrap()
                                .len(),
                            2
                        );
                    }
                    ("admin", 1) => assert_eq!(
                        payload["data"]["setXpReward"]["xp"], xp,
                        "{protocol}: {answer}"
                    ),
                    ("admin", _) => assert_eq!(
                        payload["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                        "{protocol}: {answer}"
                    ),
                    _ => assert_eq!(
                        payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
                        "{protocol}: {answer}"
                    ),
                }
                let done = client.next_json().await;
                assert_eq!(done["type"], "complete", "{protocol}: {done}");
            }
        }
    }
    let rewards = app.ok(None, "{ xpRewards { action xp } }", json!({})).await;
    assert!(
        rewards["xpRewards"]
            .as_array()
            .unwrap()
            .contains(&json!({ "action": "STORY_LIKED", "xp": 7 })),
        "the last tuning over WebSocket is in force: {rewards}"
    );

    let post = |body: Value, token: String| {
        let url = format!("{}/graphql", app.base_url);
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let batch = json!([
        { "query": USERS, "variables": { "days": 3 } },
        { "query": SET, "variables": { "input": { "action": "STORY_LIKED", "xp": 1001 } } },
        { "query": SET, "variables": { "input": { "action": "STREAK_BONUS", "xp": 10 } } },
        { "query": USERS, "variables": { "days": 0 } },
    ]);
    let answers = post(batch, admin.token.clone()).await;
    assert_eq!(
        answers[0]["data"]["xpStats"]["daily"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{answers}"
    );
    for n in 1..=3 {
        assert_eq!(
            answers[n]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{answers}"
        );
    }

    let hash = hex::encode(sha2::Sha256::digest(USERS.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let first = post(
        json!({ "query": USERS, "variables": { "days": 5 }, "extensions": persisted }),
        admin.token.clone(),
    )
    .await;
    assert_eq!(
        first["data"]["xpStats"]["daily"].as_array().unwrap().len(),
        5,
        "{first}"
    );
    let again = post(
        json!({ "variables": { "days": 4 }, "extensions": persisted }),
        admin.token.clone(),
    )
    .await;
    assert_eq!(
        again["data"]["xpStats"]["daily"].as_array().unwrap().len(),
        4,
        "{again}"
    );
    let refused = post(
        json!({ "variables": { "days": 4 }, "extensions": persisted }),
        writer.token.clone(),
    )
    .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}
