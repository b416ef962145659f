//! Live level-ups over WebSocket, and notifications.

use diesel_async::AsyncConnection;
use serde_json::json;

use crate::common::{LEVEL_UPS, TestApp, TestUser, WsEvent};

const AWARD: &str =
    "mutation($input: AwardXpInput!) { awardXp(input: $input) { totalXp leveledUp } }";

async fn award(app: &TestApp, admin: &TestUser, user: &TestUser, amount: i32, notify: bool) {
    app.ok(
        Some(&admin.token),
        AWARD,
        json!({ "input": { "userId": user.id, "amount": amount, "notify": notify } }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_level_up_arrives_once_with_its_notification() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let mut client = app.level_up_subscriber(&alice).await;
    award(&app, &admin, &alice, 400, true).await; // no level-up: nothing pushed
    award(&app, &admin, &alice, 200, true).await; // 600: level 2
    assert_eq!(
        client.next_level_up().await,
        json!({ "level": 2, "previousLevel": 1, "totalXp": 600,
                "notification": { "type": "ACHIEVEMENT_EARNED", "level": 2, "message": "Level up! You reached level 2.", "read": false } })
    );
    // A jump over two levels is one event; the next event proves nothing came in between.
    award(&app, &admin, &alice, 1000, true).await; // 1600: level 4
    assert_eq!(
        client.next_level_up().await,
        json!({ "level": 4, "previousLevel": 2, "totalXp": 1600,
                "notification": { "type": "ACHIEVEMENT_EARNED", "level": 4, "message": "Level up! You reached level 4.", "read": false } })
    );
    let notifications = app
        .ok(
            Some(&alice.token),
            "{ notifications { nodes { level } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        notifications["notifications"]["nodes"],
        json!([{ "level": 4 }, { "level": 2 }]),
        "one notification per level-up, none for levels jumped over"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_event_for_notify_false_or_for_another_user() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let mut client = app.level_up_subscriber(&alice).await;
    award(&app, &admin, &alice, 500, false).await; // level 2, silently
    award(&app, &admin, &bob, 500, true).await; // bob's level-up
    award(&app, &admin, &alice, 500, true).await; // level 3: the first event alice sees
    assert_eq!(
        client.next_level_up().await,
        json!({ "level": 3, "previousLevel": 2, "totalXp": 1000,
                "notification": { "type": "ACHIEVEMENT_EARNED", "level": 3, "message": "Level up! You reached level 3.", "read": false } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_award_on_one_instance_reaches_a_subscriber_on_another() {
    let app_a = TestApp::spawn().await;
    let app_b = TestApp::spawn_on(app_a.database_url.clone()).await;
    let admin = app_a.sign_up_admin("root").await;
    let alice = app_a.sign_up("alice").await;
    let mut client = app_a.level_up_subscriber(&alice).await;
    award(&app_b, &admin, &alice, 500, true).await;
    assert_eq!(
        client.next_level_up().await,
        json!({ "level": 2, "previousLevel": 1, "totalXp": 500,
                "notification": { "type": "ACHIEVEMENT_EARNED", "level": 2, "message": "Level up! You reached level 2.", "read": false } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolled_back_award_pushes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let mut client = app.level_up_subscriber(&alice).await;
    let mut connection = app.sql().await;
    let alice_id: i64 = alice.id.parse().unwrap();
    let rolled_back = connection
        .transaction::<(), storyxp::error::AppError, _>(async |connection| {
            let request = storyxp::xp::AwardRequest {
                amount: Some(900),
                ..storyxp::xp::AwardRequest::new(
                    alice_id,
                    storyxp::xp::XpAction::Custom,
                    storyxp::xp::rules::Subject::Unique,
                )
            };
            let award = storyxp::xp::award(connection, request)
                .await?
                .expect("an award");
            assert!(award.leveled_up());
            Err(storyxp::error::AppError::Internal("roll back".into()))
        })
        .await;
    assert!(
        matches!(&rolled_back, Err(storyxp::error::AppError::Internal(reason)) if reason == "roll back"),
        "the transaction ended with the error that rolled it back: {rolled_back:?}"
    );
    award(&app, &admin, &alice, 500, true).await;
    let event = client.next_level_up().await;
    assert_eq!(
        (
            event["level"].clone(),
            event["previousLevel"].clone(),
            event["totalXp"].clone()
        ),
        (json!(2), json!(1), json!(500)),
        "the rolled-back 900 never existed"
    );
    assert_eq!(app.xp(&alice).await, 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listener_reconnects_after_postgresql_restarts() {
    // A cluster of its own: restarting the shared one would disturb the other tests.
    // Stopped and removed when the test ends, however it ends.
    let dir = crate::common::Scratch::new("restart");
    let cluster =
        storyxp::db::cluster::ManagedCluster::prepare(dir.path(), &["fsync=off"]).unwrap();
    cluster.start().unwrap();
    storyxp::db::create_database(&cluster.connection_string("postgres"), "restart", None)
        .await
        .unwrap();
    storyxp::app::setup::migrate(&cluster.connection_string("restart"))
        .await
        .unwrap();
    let app = TestApp::spawn_on(cluster.connection_string("restart")).await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let mut client = app.level_up_subscriber(&alice).await;

    cluster.stop().unwrap();
    let down = reqwest::get(format!("{}/healthz", app.base_url))
        .await
        .unwrap();
    assert_eq!(down.status(), 503);
    // Operations fail at once with a generic error, neither hanging nor panicking.
    let failed = app
        .graphql(Some(&alice.token), "{ me { experiencePoints } }", json!({}))
        .await;
    assert_eq!(
        failed["errors"][0]["extensions"]["code"], "INTERNAL_SERVER_ERROR",
        "{failed}"
    );
    assert_eq!(failed["errors"][0]["message"], "internal server error");

    cluster.start().unwrap();
    app.wait_for_listener(2).await;
    let up = reqwest::get(format!("{}/healthz", app.base_url))
        .await
        .unwrap();
    assert_eq!(up.status(), 200, "recovered without a restart");
    award(&app, &admin, &alice, 500, true).await;
    assert_eq!(
        client.next_level_up().await,
        json!({ "level": 2, "previousLevel": 1, "totalXp": 500,
                "notification": { "type": "ACHIEVEMENT_EARNED", "level": 2, "message": "Level up! You reached level 2.", "read": false } })
    );
    drop(app);
    cluster.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_closes_the_socket_with_4403() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let keys = storyxp::auth::TokenKeys::new(crate::common::SECRET).unwrap();
    let expired = keys
        .issue_with_expiry(alice.id.parse().unwrap(), 0, 1_000_000)
        .unwrap();
    for token in ["not-a-token", expired.as_str()] {
        let mut client = app.websocket("graphql-transport-ws").await;
        match client.init(Some(token)).await {
            WsEvent::Closed(code) => assert_eq!(code, Some(4403)),
            other => panic!("expected close 4403, got {other:?}"),
        }
    }
    let mut legacy = app.websocket("graphql-ws").await;
    match legacy.init(Some("not-a-token")).await {
        WsEvent::Closed(code) => assert_eq!(code, Some(4403)),
        other => panic!("expected close 4403, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_subscription_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let mut client = app.websocket("graphql-transport-ws").await;
    client.assert_unauthenticated(LEVEL_UPS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_legacy_graphql_ws_protocol_delivers_too() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let mut client = app.websocket("graphql-ws").await;
    match client.init(Some(&alice.token)).await {
        WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
        other => panic!("{other:?}"),
    }
    client
        .send(json!({ "id": "7", "type": "start", "payload": { "query": LEVEL_UPS } }))
        .await;
    app.wait_for_subscriptions(1).await;
    award(&app, &admin, &alice, 500, true).await;
    assert_eq!(
        client.next_json().await,
        json!({ "type": "data", "id": "7", "payload": { "data": { "levelUps": {
            "level": 2, "previousLevel": 1, "totalXp": 500,
            "notification": { "type": "ACHIEVEMENT_EARNED", "level": 2, "message": "Level up! You reached level 2.", "read": false } } } } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_completes_open_subscriptions_and_closes_the_socket() {
    let mut app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut client = app.level_up_subscriber(&alice).await;
    let shutdown = async { app.shut_down().await };
    let observed = async {
        let complete = client.next_json().await;
        assert_eq!(complete, json!({ "id": "1", "type": "complete" }));
        match client.next().await {
            WsEvent::Closed(code) => assert_eq!(code, Some(1001)),
            other => panic!("expected the socket to close, got {other:?}"),
        }
    };
    tokio::join!(shutdown, observed);
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_page_newest_first_and_only_the_owner_marks_them_read() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    award(&app, &admin, &alice, 500, true).await;
    award(&app, &admin, &alice, 500, true).await;
    award(&app, &admin, &bob, 500, true).await;
    let query = "query($unread: Boolean) { notifications(unreadOnly: $unread) { nodes { id level read } } }";
    let mine = app
        .ok(Some(&alice.token), query, json!({ "unread": false }))
        .await;
    let nodes = mine["notifications"]["nodes"].as_array().unwrap().clone();
    assert_eq!(
        nodes
            .iter()
            .map(|node| node["level"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [3, 2]
    );
    let bobs = app
        .ok(Some(&bob.token), query, json!({ "unread": false }))
        .await;
    let bobs_id = bobs["notifications"]["nodes"][0]["id"].clone();
    let mark = "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }";
    let changed = app
        .ok(
            Some(&alice.token),
            mark,
            json!({ "ids": [nodes[1]["id"], bobs_id] }),
        )
        .await;
    assert_eq!(
        changed["markNotificationsRead"], 1,
        "bob's notification is not alice's to mark"
    );
    let again = app
        .ok(Some(&alice.token), mark, json!({ "ids": [nodes[1]["id"]] }))
        .await;
    assert_eq!(again["markNotificationsRead"], 0);
    let unread = app
        .ok(Some(&alice.token), query, json!({ "unread": true }))
        .await;
    assert_eq!(
        unread["notifications"]["nodes"],
        json!([{ "id": nodes[0]["id"], "level": 3, "read": false }])
    );
    assert_eq!(
        app.ok(Some(&bob.token), query, json!({ "unread": true }))
            .await["notifications"]["nodes"],
        json!([{ "id": bobs_id, "level": 2, "read": false }]),
        "alice's mark left bob's notification unread"
    );
    let anonymous = app.graphql(None, query, json!({})).await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        anonymous["errors"][0]["message"],
        "you must be signed in to do this"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_completes_subscriptions_and_stops_the_managed_cluster() {
    // The binary on its embedded default: its own cluster in a fresh data dir.
    // Its cluster is stopped and the directory removed even when the test fails (the
    // server is then killed, which leaves the cluster running).
    let scratch = crate::common::Scratch::new("sigterm");
    let data_dir = scratch.path();
    let port = crate::common::free_port();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_storyxp"))
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env("STORYXP_DATA_DIR", data_dir)
        .env("STORYXP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = crate::common::wait_until_healthy(&base, 60).await;
    assert!(ready, "the server came up on its managed cluster");
    let secret = std::fs::read_to_string(data_dir.join("jwt_secret")).unwrap();
    assert_eq!(secret.len(), 64);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(data_dir.join("jwt_secret"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    let signed_up: serde_json::Value = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "mutation { signUp(input: { username: \"alice\", email: \"a@example.com\", password: \"correct horse\" }) { token } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_up["data"]["signUp"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut client = crate::common::websocket_at(&base, "graphql-transport-ws").await;
    client.subscribe_level_ups(&token).await;
    // The subscription is registered once a query on the same socket has answered.
    client.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ achievements { key } }" } })).await;
    assert_eq!(client.next_json().await["id"], "2");
    assert_eq!(
        client.next_json().await,
        json!({ "id": "2", "type": "complete" })
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(
        client.next_json().await,
        json!({ "id": "1", "type": "complete" })
    );
    match client.next().await {
        WsEvent::Closed(code) => assert_eq!(code, Some(1001)),
        other => panic!("expected the socket to close, got {other:?}"),
    }
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        !data_dir.join("pgdata/postmaster.pid").exists(),
        "the managed cluster was stopped"
    );
}
