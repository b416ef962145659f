//! GET /metrics: each server's own counters, in Prometheus' text format, moved by
//! exactly what that server did (the tests' servers run side by side in one process).

use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::common::TestApp;

const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { xpEarned { xpGained } } }";
const AWARD: &str =
    "mutation($input: AwardXpInput!) { awardXp(input: $input) { totalXp leveledUp } }";

/// One scrape, parsed: the value of each sample line.
struct Scrape(std::collections::HashMap<String, f64>);

impl Scrape {
    /// The value of a series, written as the text has it: `name{label="value",...}`
    /// with the labels in name order. Every series of ours is there from the start.
    fn value(&self, series: &str) -> f64 {
        *self
            .0
            .get(series)
            .unwrap_or_else(|| panic!("no series {series} in the scrape"))
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    let text = scrape_text(app).await;
    Scrape(
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_string(), value.parse().ok()?))
            })
            .collect(),
    )
}

async fn scrape_text(app: &TestApp) -> String {
    let response = reqwest::get(format!("{}/metrics", app.base_url))
        .await
        .expect("scraping /metrics");
    assert_eq!(response.status(), 200);
    response.text().await.expect("the metrics text")
}

fn requests(kind: &str, outcome: &str) -> String {
    format!("storyxp_graphql_requests_total{{outcome=\"{outcome}\",type=\"{kind}\"}}")
}

fn latency_count(kind: &str) -> String {
    format!("storyxp_graphql_request_duration_seconds_count{{type=\"{kind}\"}}")
}

fn awards(action: &str) -> String {
    format!("storyxp_xp_awards_total{{action=\"{action}\"}}")
}

fn xp(action: &str) -> String {
    format!("storyxp_xp_awarded_total{{action=\"{action}\"}}")
}

/// What changed between two scrapes, for every series of `names`.
fn deltas(before: &Scrape, after: &Scrape, names: &[String]) -> Vec<(String, f64)> {
    names
        .iter()
        .map(|name| (name.clone(), after.value(name) - before.value(name)))
        .collect()
}

fn every_request_series() -> Vec<String> {
    let mut names = Vec::new();
    for kind in ["query", "mutation", "subscription", "unknown"] {
        for outcome in ["ok", "error"] {
            names.push(requests(kind, outcome));
        }
        names.push(latency_count(kind));
    }
    names
}

fn every_award_series() -> Vec<String> {
    let mut names = Vec::new();
    for rule in storyxp::xp::rules::rules() {
        names.push(awards(rule.name));
        names.push(xp(rule.name));
    }
    names.push("storyxp_level_ups_total".to_string());
    names
}

/// `expected` for the named series, zero for every other one of `names`.
fn only(names: &[String], expected: &[(String, f64)]) -> Vec<(String, f64)> {
    names
        .iter()
        .map(|name| {
            let value = expected
                .iter()
                .find(|(series, _)| series == name)
                .map_or(0.0, |(_, value)| *value);
            (name.clone(), value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_prometheus_text_with_every_series_from_the_start() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(format!("{}/metrics", app.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4"
    );
    let text = response.text().await.unwrap();
    for (name, kind) in [
        ("storyxp_graphql_requests_total", "counter"),
        ("storyxp_graphql_request_duration_seconds", "histogram"),
        ("storyxp_xp_awards_total", "counter"),
        ("storyxp_xp_awarded_total", "counter"),
        ("storyxp_level_ups_total", "counter"),
        ("storyxp_websocket_connections", "gauge"),
        ("storyxp_subscriptions", "gauge"),
        ("storyxp_listener_reconnects_total", "counter"),
        ("storyxp_db_pool_max_connections", "gauge"),
        ("storyxp_db_pool_connections", "gauge"),
        ("storyxp_db_pool_available_connections", "gauge"),
        ("storyxp_db_pool_waiting", "gauge"),
    ] {
        assert!(
            text.contains(&format!("\n# TYPE {name} {kind}\n")),
            "{name} {kind}:\n{text}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
    }
    let fresh = scrape(&app).await;
    let mut names = every_request_series();
    names.extend(every_award_series());
    for name in &names {
        assert_eq!(fresh.value(name), 0.0, "{name}");
    }
    assert_eq!(fresh.value("storyxp_websocket_connections"), 0.0);
    assert_eq!(fresh.value("storyxp_subscriptions"), 0.0);
    assert_eq!(fresh.value("storyxp_listener_reconnects_total"), 0.0);
    assert_eq!(
        fresh.value("storyxp_db_pool_max_connections"),
        f64::from(storyxp::app::server::default_pool_size())
    );

    // After a request the pool holds its connection, idle again.
    app.sign_up("alice").await;
    let idle = scrape(&app).await;
    assert!(idle.value("storyxp_db_pool_connections") >= 1.0);
    assert_eq!(
        idle.value("storyxp_db_pool_available_connections"),
        idle.value("storyxp_db_pool_connections")
    );
    assert_eq!(idle.value("storyxp_db_pool_waiting"), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_like_moves_the_request_award_and_xp_counters_by_exactly_one_like() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let story = app.create_published_story(&alice, "Liked").await;
    let mut names = every_request_series();
    names.extend(every_award_series());

    let before = scrape(&app).await;
    app.ok(Some(&bob.token), LIKE, json!({ "id": story })).await;
    let after = scrape(&app).await;
    assert_eq!(
        deltas(&before, &after, &names),
        only(
            &names,
            &[
                (requests("mutation", "ok"), 1.0),
                (latency_count("mutation"), 1.0),
                (awards("STORY_LIKED"), 1.0),
                (xp("STORY_LIKED"), 5.0),
            ]
        )
    );

    // A repeat earns nothing: a request, no award.
    app.ok(Some(&bob.token), LIKE, json!({ "id": story })).await;
    let again = scrape(&app).await;
    assert_eq!(
        deltas(&after, &again, &names),
        only(
            &names,
            &[
                (requests("mutation", "ok"), 1.0),
                (latency_count("mutation"), 1.0),
            ]
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_requests_count_as_errors_of_their_operation_type() {
    let app = TestApp::spawn().await;
    let names = every_request_series();
    let before = scrape(&app).await;
    // A field error (the id is no id), a document that does not parse, a bad token,
    // a mutation sent by GET (405).
    app.error_code(None, "{ story(id: \"x\") { id } }", json!({}))
        .await;
    app.graphql(None, "{ story(id: 1) { id }", json!({})).await;
    app.graphql(Some("not-a-token"), "{ xpRewards { xp } }", json!({}))
        .await;
    let get = reqwest::get(format!(
        "{}/graphql?query=mutation%20%7B%20logOut%20%7D",
        app.base_url
    ))
    .await
    .unwrap();
    assert_eq!(get.status(), 405);
    app.ok(None, "{ xpRewards { xp } }", json!({})).await;
    let after = scrape(&app).await;
    assert_eq!(
        deltas(&before, &after, &names),
        only(
            &names,
            &[
                (requests("query", "error"), 1.0),
                (requests("query", "ok"), 1.0),
                (latency_count("query"), 2.0),
                (requests("unknown", "error"), 2.0),
                (latency_count("unknown"), 2.0),
                (requests("mutation", "error"), 1.0),
                (latency_count("mutation"), 1.0),
            ]
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn achievements_count_as_awards_of_their_own_and_level_ups_once() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let names = every_award_series();

    let before = scrape(&app).await;
    app.create_story(&alice, "First").await;
    let created = scrape(&app).await;
    assert_eq!(
        deltas(&before, &created, &names),
        only(
            &names,
            &[
                (awards("STORY_CREATED"), 1.0),
                (xp("STORY_CREATED"), 100.0),
                (awards("ACHIEVEMENT_EARNED"), 1.0),
                (xp("ACHIEVEMENT_EARNED"), 30.0),
            ]
        )
    );

    // 130 + 500 XP: level 2.
    let awarded = app
        .ok(
            Some(&admin.token),
            AWARD,
            json!({ "input": { "userId": alice.id, "amount": 500 } }),
        )
        .await;
    assert_eq!(awarded["awardXp"]["leveledUp"], true);
    let leveled = scrape(&app).await;
    assert_eq!(
        deltas(&created, &leveled, &names),
        only(
            &names,
            &[
                (awards("CUSTOM"), 1.0),
                (xp("CUSTOM"), 500.0),
                ("storyxp_level_ups_total".to_string(), 1.0),
            ]
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_award_of_a_friendship_and_a_collaboration_counts() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let story = app.create_story(&alice, "Together").await;
    for user in [&bob, &carol] {
        app.ok(
            Some(&alice.token),
            "mutation($story: ID!, $user: ID!) { inviteCollaborator(storyId: $story, userId: $user) { story { id } } }",
            json!({ "story": story, "user": user.id }),
        )
        .await;
        app.ok(
            Some(&user.token),
            "mutation($story: ID!) { acceptCollaboration(storyId: $story) { story { id } } }",
            json!({ "story": story }),
        )
        .await;
    }
    let names = every_award_series();
    let add_friend = "mutation($id: ID!) { addFriend(userId: $id) { status } }";

    let before = scrape(&app).await;
    app.ok(Some(&bob.token), add_friend, json!({ "id": carol.id }))
        .await;
    app.ok(Some(&carol.token), add_friend, json!({ "id": bob.id }))
        .await;
    let friends = scrape(&app).await;
    assert_eq!(
        deltas(&before, &friends, &names),
        only(
            &names,
            &[(awards("FRIEND_ADDED"), 2.0), (xp("FRIEND_ADDED"), 40.0)]
        )
    );

    // The author and both collaborators: 50 each, and TEAM_PLAYER each; bob and carol,
    // friends, FRIEND_COLLABORATION's 25 each too.
    app.ok(
        Some(&alice.token),
        "mutation($story: ID!) { completeCollaboration(storyId: $story) { story { id } } }",
        json!({ "story": story }),
    )
    .await;
    let completed = scrape(&app).await;
    assert_eq!(
        deltas(&friends, &completed, &names),
        only(
            &names,
            &[
                (awards("COLLABORATION_COMPLETED"), 3.0),
                (xp("COLLABORATION_COMPLETED"), 150.0),
                (awards("FRIEND_COLLABORATION"), 2.0),
                (xp("FRIEND_COLLABORATION"), 50.0),
                (awards("ACHIEVEMENT_EARNED"), 3.0),
                (xp("ACHIEVEMENT_EARNED"), 90.0),
            ]
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_connections_and_subscriptions_are_gauges() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let client = app.level_up_subscriber(&alice).await;
    let open = scrape(&app).await;
    assert_eq!(open.value("storyxp_websocket_connections"), 1.0);
    assert_eq!(open.value("storyxp_subscriptions"), 1.0);

    drop(client);
    app.wait_for_subscriptions(0).await;
    let mut closed = scrape(&app).await;
    for _ in 0..100 {
        if closed.value("storyxp_websocket_connections") == 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        closed = scrape(&app).await;
    }
    assert_eq!(closed.value("storyxp_websocket_connections"), 0.0);
    assert_eq!(closed.value("storyxp_subscriptions"), 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_listener_connection_counts_one_reconnect() {
    let app = TestApp::spawn().await;
    // Ends every other connection to this test's database: the listener's among them.
    diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut app.sql().await)
    .await
    .unwrap();
    app.wait_for_listener(2).await;
    assert_eq!(
        scrape(&app)
            .await
            .value("storyxp_listener_reconnects_total"),
        1.0
    );
}
