//! XP boosts: admins' time-boxed multipliers, applied by the award itself at the award's
//! instant (the test clock moves it), on every instance.

use serde_json::{Value, json};

use crate::common::{TestApp, TestUser};

const CREATE: &str = "mutation($input: CreateXpBoostInput!) { createXpBoost(input: $input) { id name multiplier actions startsAt endsAt active } }";
const END: &str = "mutation($id: ID!) { endXpBoost(id: $id) { id endsAt active } }";
const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { story { id } } }";
const HISTORY: &str = "{ me { xpHistory(first: 5) { edges { node { action xpGained baseXp multiplier boost { id name multiplier } } } } } }";

fn boost(name: &str, multiplier: f64, actions: &[&str], starts: &str, ends: &str) -> Value {
    json!({ "input": { "name": name, "multiplier": multiplier, "actions": actions,
                       "startsAt": starts, "endsAt": ends } })
}

async fn like_at(app: &TestApp, now: &str, liker: &TestUser, story: &str) {
    app.ok_at(now, Some(&liker.token), LIKE, json!({ "id": story }))
        .await;
}

/// The newest ledger entry of `user`.
async fn newest_entry(app: &TestApp, user: &TestUser) -> Value {
    let history = app.ok(Some(&user.token), HISTORY, json!({})).await;
    history["me"]["xpHistory"]["edges"][0]["node"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_boost_pays_round_half_up_inside_its_window_only() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let created = app
        .ok(
            Some(&admin.token),
            CREATE,
            boost(
                "Like Week",
                1.5,
                &["STORY_LIKED"],
                "2026-07-01T00:00:00Z",
                "2026-07-08T00:00:00Z",
            ),
        )
        .await["createXpBoost"]
        .clone();
    assert_eq!(created["multiplier"], 1.5);
    assert_eq!(created["actions"], json!(["STORY_LIKED"]));
    let id = created["id"].as_str().unwrap().to_string();
    let story = app.create_published_story(&alice, "Tale").await;
    let mut likers = Vec::new();
    for name in ["before", "inside", "last", "after"] {
        likers.push(app.sign_up(name).await);
    }
    // Just before the start, at the start, just before the end, at the end.
    let instants = [
        "2026-06-30T23:59:59Z",
        "2026-07-01T00:00:00Z",
        "2026-07-07T23:59:59Z",
        "2026-07-08T00:00:00Z",
    ];
    let mut paid = Vec::new();
    for (liker, now) in likers.iter().zip(instants) {
        let before = app.xp(&alice).await;
        like_at(&app, now, liker, &story).await;
        paid.push(app.xp(&alice).await - before);
    }
    // 5 * 1.5 = 7.5, rounded half up: 8.
    assert_eq!(paid, [5, 8, 8, 5]);
    let history = app.ok(Some(&alice.token), "{ me { xpHistory(first: 4) { edges { node { xpGained baseXp multiplier boost { id } } } } } }", json!({})).await;
    let nodes: Vec<Value> = history["me"]["xpHistory"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect();
    assert_eq!(
        nodes,
        [
            json!({ "xpGained": 5, "baseXp": 5, "multiplier": 1.0, "boost": null }),
            json!({ "xpGained": 8, "baseXp": 5, "multiplier": 1.5, "boost": { "id": id } }),
            json!({ "xpGained": 8, "baseXp": 5, "multiplier": 1.5, "boost": { "id": id } }),
            json!({ "xpGained": 5, "baseXp": 5, "multiplier": 1.0, "boost": null }),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_boosts_do_not_stack_and_only_boostable_actions_are_boosted() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let (starts, ends) = ("2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z");
    for (multiplier, actions) in [
        (1.5, vec!["STORY_LIKED"]),
        (2.25, vec![]),
        (2.0, vec!["STORY_CREATED"]),
    ] {
        app.ok(
            Some(&admin.token),
            CREATE,
            boost("Event", multiplier, &actions, starts, ends),
        )
        .await;
    }
    let active = app
        .ok_at(
            "2026-07-01T12:00:00Z",
            None,
            "{ xpBoosts(activeOnly: true) { multiplier active } }",
            json!({}),
        )
        .await;
    assert_eq!(active["xpBoosts"].as_array().unwrap().len(), 3);
    let none = app
        .ok_at(
            "2026-07-03T00:00:00Z",
            None,
            "{ xpBoosts(activeOnly: true) { id } all: xpBoosts { active } }",
            json!({}),
        )
        .await;
    assert_eq!(none["xpBoosts"], json!([]));
    assert_eq!(
        none["all"],
        json!([{ "active": false }, { "active": false }, { "active": false }])
    );
    // STORY_CREATED: 100 * 2.25 (the highest of 2.25 and 2) = 225; FIRST_STORY's 30 is
    // an achievement's XP, never boosted.
    let created = app
        .ok_at(
            "2026-07-01T12:00:00Z",
            Some(&alice.token),
            "mutation { createStory(input: { title: \"Tale\", content: \"Once.\" }) { xpEarned { xpGained } } }",
            json!({}),
        )
        .await;
    assert_eq!(created["createStory"]["xpEarned"]["xpGained"], 225 + 30);
    let entry = newest_entry(&app, &alice).await;
    assert_eq!(entry["action"], "ACHIEVEMENT_EARNED");
    assert_eq!(entry["multiplier"], 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ending_a_boost_stops_it_on_every_instance_and_parallel_likes_are_exact() {
    let app_a = TestApp::spawn().await;
    let app_b = TestApp::spawn_on(app_a.database_url.clone()).await;
    let admin = app_a.sign_up_admin("root").await;
    let alice = app_a.sign_up("alice").await;
    let story = app_a.create_published_story(&alice, "Tale").await;
    let now = chrono::Utc::now();
    let created = app_a
        .ok(
            Some(&admin.token),
            CREATE,
            boost(
                "Now",
                3.0,
                &[],
                &(now - chrono::Duration::minutes(1)).to_rfc3339(),
                &(now + chrono::Duration::hours(1)).to_rfc3339(),
            ),
        )
        .await;
    let id = created["createXpBoost"]["id"].as_str().unwrap().to_string();
    // 20 likes in parallel on instance B, all inside the window: 20 * 15, exactly.
    let mut likers = Vec::new();
    for n in 0..20 {
        likers.push(app_b.sign_up(&format!("fan{n}")).await);
    }
    let before = app_b.xp(&alice).await;
    let likes = likers
        .iter()
        .map(|liker| app_b.ok(Some(&liker.token), LIKE, json!({ "id": story })));
    futures_util::future::join_all(likes).await;
    assert_eq!(app_b.xp(&alice).await, before + 20 * 15);
    let ended = app_a.ok(Some(&admin.token), END, json!({ "id": id })).await;
    assert_eq!(ended["endXpBoost"]["active"], false);
    let late = app_b.sign_up("late").await;
    let before = app_b.xp(&alice).await;
    app_b
        .ok(Some(&late.token), LIKE, json!({ "id": story }))
        .await;
    assert_eq!(
        app_b.xp(&alice).await,
        before + 5,
        "instance B pays without the ended boost"
    );
    // Ending it again returns it as it is.
    let again = app_b.ok(Some(&admin.token), END, json!({ "id": id })).await;
    assert_eq!(again["endXpBoost"]["endsAt"], ended["endXpBoost"]["endsAt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_boosts_and_non_admins_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let (starts, ends) = ("2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z");
    let bad = [
        boost("Flat", 1.0, &[], starts, ends),
        boost("Huge", 5.01, &[], starts, ends),
        boost("Fine", 1.234, &[], starts, ends),
        boost("Negative", -2.0, &[], starts, ends),
        boost("Reversed", 2.0, &[], ends, starts),
        boost("Empty", 2.0, &[], starts, starts),
        boost(
            "Long",
            2.0,
            &[],
            "2026-07-01T00:00:00Z",
            "2026-08-01T00:00:01Z",
        ),
        boost("Streaks", 2.0, &["STREAK_BONUS"], starts, ends),
        boost("Achievements", 2.0, &["ACHIEVEMENT_EARNED"], starts, ends),
        boost("", 2.0, &[], starts, ends),
        boost(&"x".repeat(101), 2.0, &[], starts, ends),
    ];
    for variables in bad {
        let body = app
            .graphql(Some(&admin.token), CREATE, variables.clone())
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{variables}: {body}"
        );
        assert!(body["errors"][0]["message"].as_str().unwrap().len() > 10);
    }
    assert_eq!(
        app.error_code(
            Some(&alice.token),
            CREATE,
            boost("Mine", 2.0, &[], starts, ends)
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(None, CREATE, boost("Anon", 2.0, &[], starts, ends))
            .await,
        "UNAUTHENTICATED"
    );
    let listed = app.ok(None, "{ xpBoosts { id } }", json!({})).await;
    assert_eq!(listed["xpBoosts"], json!([]), "nothing stored");
    // Exactly 31 days and 5x are allowed.
    app.ok(
        Some(&admin.token),
        CREATE,
        boost(
            "Month",
            5.0,
            &[],
            "2026-07-01T00:00:00Z",
            "2026-08-01T00:00:00Z",
        ),
    )
    .await;
    assert_eq!(
        app.error_code(Some(&alice.token), END, json!({ "id": "1" }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&admin.token), END, json!({ "id": "999" }))
            .await,
        "NOT_FOUND"
    );
}
