//! Admin awards and the grant-admin command.

use serde_json::json;

use crate::common::{TestApp, TestUser, storyxp_command};

const AWARD: &str = "mutation($input: AwardXpInput!) { awardXp(input: $input) { action xpGained totalXp level leveledUp achievements { key } } }";

async fn admin(app: &TestApp, name: &str) -> TestUser {
    let user = app.sign_up(name).await;
    let output = storyxp_command(app, &["grant-admin", name])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("{name} is now an admin")
    );
    user
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_award_counts_every_call_and_shows_its_reason() {
    let app = TestApp::spawn().await;
    let root = admin(&app, "root").await;
    let alice = app.sign_up("alice").await;
    let input =
        json!({ "input": { "userId": alice.id, "amount": 1200, "reason": "Contest winner" } });
    let first = app.ok(Some(&root.token), AWARD, input.clone()).await;
    assert_eq!(
        first["awardXp"],
        json!({ "action": "CUSTOM", "xpGained": 1200, "totalXp": 1200, "level": 3, "leveledUp": true, "achievements": [] })
    );
    let second = app.ok(Some(&root.token), AWARD, input).await;
    assert_eq!(second["awardXp"]["totalXp"], 2400 + 30);
    assert_eq!(
        second["awardXp"]["xpGained"],
        1200 + 30,
        "level 5 unlocks RISING_STAR"
    );
    assert_eq!(
        second["awardXp"]["achievements"],
        json!([{ "key": "RISING_STAR" }])
    );
    let history = app
        .ok(
            Some(&alice.token),
            "{ me { xpHistory(first: 3) { nodes { action xpGained reason } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        history["me"]["xpHistory"]["nodes"],
        json!([
            { "action": "ACHIEVEMENT_EARNED", "xpGained": 30, "reason": "Achievement unlocked: Rising Star" },
            { "action": "CUSTOM", "xpGained": 1200, "reason": "Contest winner" },
            { "action": "CUSTOM", "xpGained": 1200, "reason": "Contest winner" }
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_award_defaults_to_the_table_amount_and_validates_input() {
    let app = TestApp::spawn().await;
    let root = admin(&app, "root").await;
    let alice = app.sign_up("alice").await;
    let liked = app
        .ok(
            Some(&root.token),
            AWARD,
            json!({ "input": { "userId": alice.id, "action": "STORY_LIKED" } }),
        )
        .await;
    assert_eq!(
        liked["awardXp"],
        json!({ "action": "STORY_LIKED", "xpGained": 5, "totalXp": 5, "level": 1, "leveledUp": false, "achievements": [] })
    );
    for (input, code, message) in [
        (
            json!({ "userId": alice.id }),
            "BAD_USER_INPUT",
            "an amount is required for CUSTOM awards",
        ),
        (
            json!({ "userId": alice.id, "amount": 0 }),
            "BAD_USER_INPUT",
            "amount must be between 1 and 10000",
        ),
        (
            json!({ "userId": alice.id, "amount": 10001 }),
            "BAD_USER_INPUT",
            "amount must be between 1 and 10000",
        ),
        (
            json!({ "userId": alice.id, "amount": 5, "reason": "r".repeat(501) }),
            "BAD_USER_INPUT",
            "reason is at most 500 characters",
        ),
        (
            json!({ "userId": "99999", "amount": 5 }),
            "NOT_FOUND",
            "user not found",
        ),
    ] {
        let body = app
            .graphql(Some(&root.token), AWARD, json!({ "input": input }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{input}");
        assert_eq!(body["errors"][0]["message"], message, "{input}");
        assert_eq!(body["data"], json!(null), "{input}");
    }
    // The bounds themselves are allowed: 1, then 10000 (level 21, so RISING_STAR too).
    let bound = |amount: i32| json!({ "input": { "userId": alice.id, "amount": amount, "reason": "r".repeat(500) } });
    let least = app.ok(Some(&root.token), AWARD, bound(1)).await;
    assert_eq!(
        least["awardXp"],
        json!({ "action": "CUSTOM", "xpGained": 1, "totalXp": 6, "level": 1, "leveledUp": false, "achievements": [] })
    );
    let most = app.ok(Some(&root.token), AWARD, bound(10_000)).await;
    assert_eq!(
        most["awardXp"],
        json!({ "action": "CUSTOM", "xpGained": 10_030, "totalXp": 10_036, "level": 21, "leveledUp": true, "achievements": [{ "key": "RISING_STAR" }] })
    );
    assert_eq!(app.xp(&alice).await, 10_036);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notify_false_award_stores_no_notification() {
    let app = TestApp::spawn().await;
    let root = admin(&app, "root").await;
    let alice = app.sign_up("alice").await;
    app.ok(
        Some(&root.token),
        AWARD,
        json!({ "input": { "userId": alice.id, "amount": 1000, "notify": false } }),
    )
    .await;
    app.ok(
        Some(&root.token),
        AWARD,
        json!({ "input": { "userId": alice.id, "amount": 500 } }),
    )
    .await;
    let notifications = app
        .ok(
            Some(&alice.token),
            "{ notifications { nodes { level } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        notifications["notifications"]["nodes"],
        json!([{ "level": 4 }]),
        "only the notified level-up (3 -> 4)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn non_admins_and_anonymous_callers_cannot_award() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let input = json!({ "input": { "userId": alice.id, "amount": 100 } });
    let refusal = |body: serde_json::Value| {
        assert_eq!(body["data"], json!(null), "{body}");
        (
            body["errors"][0]["extensions"]["code"].clone(),
            body["errors"][0]["message"].clone(),
        )
    };
    let forbidden = (json!("FORBIDDEN"), json!("only admins can do this"));
    assert_eq!(
        refusal(app.graphql(Some(&alice.token), AWARD, input.clone()).await),
        forbidden
    );
    assert_eq!(
        refusal(app.graphql(None, AWARD, input.clone()).await),
        (
            json!("UNAUTHENTICATED"),
            json!("you must be signed in to do this")
        )
    );
    let root = admin(&app, "root").await;
    let output = storyxp_command(&app, &["grant-admin", "root", "--revoke"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "root is no longer an admin\n"
    );
    assert_eq!(
        refusal(app.graphql(Some(&root.token), AWARD, input).await),
        forbidden,
        "revoked at once, with the same token"
    );
    assert_eq!(app.xp(&alice).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn grant_admin_fails_clearly_for_an_unknown_user() {
    let app = TestApp::spawn().await;
    let output = storyxp_command(&app, &["grant-admin", "ghost"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "storyxp: there is no user named ghost\n"
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
}
