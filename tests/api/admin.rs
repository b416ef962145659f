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
    assert_eq!(liked["awardXp"]["xpGained"], 5);
    for input in [
        json!({ "userId": alice.id }),
        json!({ "userId": alice.id, "amount": 0 }),
        json!({ "userId": alice.id, "amount": 10001 }),
        json!({ "userId": alice.id, "amount": 5, "reason": "r".repeat(501) }),
    ] {
        assert_eq!(
            app.error_code(Some(&root.token), AWARD, json!({ "input": input }))
                .await,
            "BAD_USER_INPUT",
            "{input}"
        );
    }
    let nobody = app
        .error_code(
            Some(&root.token),
            AWARD,
            json!({ "input": { "userId": "99999", "amount": 5 } }),
        )
        .await;
    assert_eq!(nobody, "NOT_FOUND");
    assert_eq!(app.xp(&alice).await, 5);
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
    assert_eq!(
        app.error_code(Some(&alice.token), AWARD, input.clone())
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(None, AWARD, input.clone()).await,
        "UNAUTHENTICATED"
    );
    let root = admin(&app, "root").await;
    let output = storyxp_command(&app, &["grant-admin", "root", "--revoke"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        app.error_code(Some(&root.token), AWARD, input).await,
        "FORBIDDEN"
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
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("there is no user named ghost"));
}
