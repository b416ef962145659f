//! The xpAwarded subscription: every award of the subscriber, from any instance, after
//! commit, to that user alone, over both WebSocket subprotocols.

use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::common::{TestApp, TestUser, WsClient, WsEvent};

const XP_AWARDED: &str = "subscription { xpAwarded { action xpGained totalXp level leveledUp events { action xpGained } } }";

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Waits until `user` has `rows` registrations in live_award_subscribers (the point from
/// which every committed award reaches the subscriber).
async fn wait_for_registrations(app: &TestApp, user: &TestUser, rows: i64) {
    let mut connection = app.sql().await;
    for _ in 0..300 {
        let found: Count = diesel::sql_query(
            "SELECT count(*) AS count FROM live_award_subscribers WHERE user_id = $1",
        )
        .bind::<BigInt, _>(user.id.parse::<i64>().unwrap())
        .get_result(&mut connection)
        .await
        .unwrap();
        if found.count == rows {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never had {rows} xpAwarded registrations", user.id);
}

async fn subscribe(app: &TestApp, user: &TestUser, protocol: &str) -> WsClient {
    let mut client = app.websocket(protocol).await;
    match client.init(Some(&user.token)).await {
        WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
        other => panic!("{other:?}"),
    }
    let start = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    client
        .send(json!({ "id": "1", "type": start, "payload": { "query": XP_AWARDED } }))
        .await;
    client
}

/// The next xpAwarded event, whichever protocol the client speaks.
async fn next_award(client: &mut WsClient) -> Value {
    let message = tokio::time::timeout(Duration::from_secs(10), client.next_json())
        .await
        .expect("no xpAwarded event in 10 s");
    assert!(
        message["type"] == "next" || message["type"] == "data",
        "{message}"
    );
    message["payload"]["data"]["xpAwarded"].clone()
}

async fn like(app: &TestApp, user: &TestUser, story: &str) {
    app.ok(
        Some(&user.token),
        "mutation($id: ID!) { likeStory(id: $id) { story { id } } }",
        json!({ "id": story }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn awards_reach_their_own_user_alone_from_either_instance_over_both_protocols() {
    let app_a = TestApp::spawn().await;
    let app_b = TestApp::spawn_on(app_a.database_url.clone()).await;
    let alice = app_a.sign_up("alice").await;
    let bob = app_a.sign_up("bob").await;
    let carol = app_b.sign_up("carol").await;
    let first = app_a.create_published_story(&alice, "First").await;
    let second = app_a.create_published_story(&alice, "Second").await;
    let before = app_a.xp(&alice).await;

    let mut alice_client = subscribe(&app_a, &alice, "graphql-transport-ws").await;
    let mut bob_client = subscribe(&app_b, &bob, "graphql-ws").await;
    wait_for_registrations(&app_a, &alice, 1).await;
    wait_for_registrations(&app_a, &bob, 1).await;

    // A like made on B reaches alice's subscriber on A: the author's award, not carol's.
    like(&app_b, &carol, &first).await;
    assert_eq!(
        next_award(&mut alice_client).await,
        json!({ "action": "STORY_LIKED", "xpGained": 5, "totalXp": before + 5,
                "level": (before + 5) / 500 + 1, "leveledUp": false,
                "events": [{ "action": "STORY_LIKED", "xpGained": 5 }] })
    );

    // Bob's own award (on A) reaches bob's legacy-protocol subscriber on B, with its
    // achievement as a second entry; alice's like was never his.
    app_a.create_story(&bob, "Bob's").await;
    assert_eq!(
        next_award(&mut bob_client).await,
        json!({ "action": "STORY_CREATED", "xpGained": 130, "totalXp": 130,
                "level": 1, "leveledUp": false,
                "events": [{ "action": "STORY_CREATED", "xpGained": 100 },
                           { "action": "ACHIEVEMENT_EARNED", "xpGained": 30 }] })
    );
    // ... and bob's was never alice's: her next event is her next award.
    like(&app_a, &carol, &second).await;
    assert_eq!(next_award(&mut alice_client).await["totalXp"], before + 10);

    // A closed subscription is unregistered, so its user costs no more NOTIFYs.
    drop(alice_client);
    wait_for_registrations(&app_a, &alice, 0).await;
    wait_for_registrations(&app_a, &bob, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_parallel_likes_arrive_as_twenty_events_summing_to_the_xp() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let story = app.create_published_story(&alice, "Liked").await;
    let likers = crate::common::sign_up_many(&app, "liker", 20).await;
    let before = app.xp(&alice).await;
    let mut client = subscribe(&app, &alice, "graphql-transport-ws").await;
    wait_for_registrations(&app, &alice, 1).await;
    let likes = likers.iter().map(|liker| like(&app, liker, &story));
    futures_util::future::join_all(likes).await;
    let mut totals = Vec::new();
    for _ in 0..20 {
        let award = next_award(&mut client).await;
        assert_eq!(award["xpGained"], 5, "{award}");
        totals.push(award["totalXp"].as_i64().unwrap());
    }
    totals.sort_unstable();
    let expected: Vec<i64> = (1..=20).map(|n| before + 5 * n).collect();
    assert_eq!(
        totals, expected,
        "one event per award, each with its own total"
    );
    assert_eq!(app.xp(&alice).await, before + 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_xp_awarded_subscription_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let mut client = app.websocket("graphql-transport-ws").await;
    client.assert_unauthenticated(XP_AWARDED).await;
    let mut connection = app.sql().await;
    let rows: Count = diesel::sql_query("SELECT count(*) AS count FROM live_award_subscribers")
        .get_result(&mut connection)
        .await
        .unwrap();
    assert_eq!(rows.count, 0, "nothing registered for an anonymous caller");
}
