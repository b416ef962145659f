//! Balancing while running: setXpReward (every instance, from the call on, what was paid
//! stays), its changes, repairStreak, and the audit trail of every admin action.

use serde_json::{Value, json};

use crate::common::TestApp;

const SET: &str =
    "mutation($input: SetXpRewardInput!) { setXpReward(input: $input) { action xp } }";
const LIKE: &str = "mutation($id: ID!) { likeStory(id: $id) { story { id } } }";
const REPAIR: &str = "mutation($input: RepairStreakInput!) { repairStreak(input: $input) { id streak { current longest freezes activeToday } } }";
const TRAIL: &str = "{ adminActions(first: 20) { edges { node { kind detail admin { username } target { username } } } } }";

fn reward(action: &str, xp: i64) -> Value {
    json!({ "input": { "action": action, "xp": xp } })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tuned_reward_pays_from_the_call_on_on_every_instance_and_paid_xp_stays() {
    let app_a = TestApp::spawn().await;
    let app_b = TestApp::spawn_on(app_a.database_url.clone()).await;
    let admin = app_a.sign_up_admin("root").await;
    let alice = app_a.sign_up("alice").await;
    let story = app_a.create_published_story(&alice, "Tale").await;
    let fans: Vec<_> = {
        let mut fans = Vec::new();
        for name in ["one", "two", "three"] {
            fans.push(app_a.sign_up(name).await);
        }
        fans
    };
    let start = app_a.xp(&alice).await;
    app_a
        .ok(Some(&fans[0].token), LIKE, json!({ "id": story }))
        .await;
    assert_eq!(app_a.xp(&alice).await, start + 5);
    let set = app_a
        .ok(Some(&admin.token), SET, reward("STORY_LIKED", 7))
        .await;
    assert_eq!(
        set["setXpReward"],
        json!({ "action": "STORY_LIKED", "xp": 7 })
    );
    // Instance B pays the new amount at once; the 5 paid before stays.
    app_b
        .ok(Some(&fans[1].token), LIKE, json!({ "id": story }))
        .await;
    assert_eq!(app_b.xp(&alice).await, start + 5 + 7);
    let rewards = app_b
        .ok(None, "{ xpRewards { action xp } }", json!({}))
        .await;
    let liked = rewards["xpRewards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["action"] == "STORY_LIKED")
        .unwrap()
        .clone();
    assert_eq!(liked["xp"], 7, "xpRewards shows the amount in force");
    // 0 pays nothing and records nothing.
    app_a
        .ok(Some(&admin.token), SET, reward("STORY_LIKED", 0))
        .await;
    app_b
        .ok(Some(&fans[2].token), LIKE, json!({ "id": story }))
        .await;
    assert_eq!(app_b.xp(&alice).await, start + 12);
    let changes = app_a
        .ok(
            Some(&admin.token),
            "{ xpRewardChanges { action previousXp xp changedBy { username } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        changes["xpRewardChanges"],
        json!([
            { "action": "STORY_LIKED", "previousXp": 7, "xp": 0, "changedBy": { "username": "root" } },
            { "action": "STORY_LIKED", "previousXp": 5, "xp": 7, "changedBy": { "username": "root" } },
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_rewards_and_non_admins_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    for variables in [
        reward("STORY_LIKED", -1),
        reward("STORY_LIKED", 1001),
        reward("ACHIEVEMENT_EARNED", 10),
        reward("STREAK_BONUS", 10),
        reward("CUSTOM", 10),
    ] {
        let body = app
            .graphql(Some(&admin.token), SET, variables.clone())
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{variables}: {body}"
        );
    }
    assert_eq!(
        app.error_code(Some(&alice.token), SET, reward("STORY_LIKED", 7))
            .await,
        "FORBIDDEN"
    );
    for query in ["{ xpRewardChanges { xp } }", TRAIL] {
        assert_eq!(
            app.error_code(Some(&alice.token), query, json!({})).await,
            "FORBIDDEN"
        );
    }
    let changes = app
        .ok(Some(&admin.token), "{ xpRewardChanges { xp } }", json!({}))
        .await;
    assert_eq!(changes["xpRewardChanges"], json!([]));
    let rewards = app.ok(None, "{ xpRewards { action xp } }", json!({})).await;
    assert!(
        rewards["xpRewards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row == &json!({ "action": "STORY_LIKED", "xp": 5 }))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_repairs_a_streak_and_every_admin_action_is_in_the_trail() {
    let app = TestApp::spawn().await;
    let admin = app.sign_up_admin("root").await;
    let alice = app.sign_up("alice").await;
    let repaired = app
        .ok(
            Some(&admin.token),
            REPAIR,
            json!({ "input": { "userId": alice.id, "current": 12, "freezes": 2 } }),
        )
        .await;
    assert_eq!(
        repaired["repairStreak"]["streak"],
        json!({ "current": 12, "longest": 12, "freezes": 2, "activeToday": true })
    );
    for input in [
        json!({ "userId": alice.id, "current": -1, "freezes": 0 }),
        json!({ "userId": alice.id, "current": 3, "freezes": 3 }),
    ] {
        let body = app
            .graphql(Some(&admin.token), REPAIR, json!({ "input": input }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }
    assert_eq!(
        app.error_code(
            Some(&alice.token),
            REPAIR,
            json!({ "input": { "userId": alice.id, "current": 99, "freezes": 0 } })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            Some(&admin.token),
            REPAIR,
            json!({ "input": { "userId": "999", "current": 1, "freezes": 0 } })
        )
        .await,
        "NOT_FOUND"
    );
    app.ok(
        Some(&admin.token),
        "mutation($input: AwardXpInput!) { awardXp(input: $input) { xpGained } }",
        json!({ "input": { "userId": alice.id, "amount": 40 } }),
    )
    .await;
    app.ok(Some(&admin.token), SET, reward("STORY_READ", 6))
        .await;
    let now = chrono::Utc::now();
    let boost = app
        .ok(
            Some(&admin.token),
            "mutation($input: CreateXpBoostInput!) { createXpBoost(input: $input) { id } }",
            json!({ "input": { "name": "Week", "multiplier": 2, "startsAt": now.to_rfc3339(),
                               "endsAt": (now + chrono::Duration::days(7)).to_rfc3339() } }),
        )
        .await;
    app.ok(
        Some(&admin.token),
        "mutation($id: ID!) { endXpBoost(id: $id) { id } }",
        json!({ "id": boost["createXpBoost"]["id"] }),
    )
    .await;
    let trail = app.ok(Some(&admin.token), TRAIL, json!({})).await;
    let entries: Vec<(String, Value)> = trail["adminActions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                node["kind"].as_str().unwrap().to_string(),
                node["target"]["username"].clone(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("END_XP_BOOST".to_string(), json!(null)),
            ("CREATE_XP_BOOST".to_string(), json!(null)),
            ("SET_XP_REWARD".to_string(), json!(null)),
            ("AWARD_XP".to_string(), json!("alice")),
            ("REPAIR_STREAK".to_string(), json!("alice")),
            // sign_up_admin sets the flag in SQL, not through the command line.
        ]
    );
    assert!(
        trail["adminActions"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|edge| edge["node"]["admin"]["username"] == "root")
    );
    assert_eq!(
        trail["adminActions"]["edges"][2]["node"]["detail"],
        "STORY_READ 5 -> 6"
    );
}

/// The command line's grant-admin is in the trail too, with no admin.
#[tokio::test(flavor = "multi_thread")]
async fn grant_admin_from_the_command_line_is_in_the_trail() {
    let app = TestApp::spawn().await;
    let root = app.sign_up("root").await;
    for args in [
        &["grant-admin", "root"][..],
        &["grant-admin", "ROOT", "--revoke"],
        &["grant-admin", "root"],
    ] {
        let output = crate::common::storyxp_command(&app, args)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let trail = app
        .ok(
            Some(&root.token),
            "{ adminActions { edges { node { kind admin { id } target { username } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        trail["adminActions"]["edges"],
        json!([
            { "node": { "kind": "GRANT_ADMIN", "admin": null, "target": { "username": "root" } } },
            { "node": { "kind": "REVOKE_ADMIN", "admin": null, "target": { "username": "root" } } },
            { "node": { "kind": "GRANT_ADMIN", "admin": null, "target": { "username": "root" } } },
        ])
    );
}
