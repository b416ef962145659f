//! Collaborations: invite, accept, complete; +50 to every participant once per story.

use serde_json::json;

use crate::common::TestApp;

const INVITE: &str = "mutation($story: ID!, $user: ID!) { inviteCollaborator(storyId: $story, userId: $user) { story { id } } }";
const ACCEPT: &str =
    "mutation($story: ID!) { acceptCollaboration(storyId: $story) { story { title } } }";
const COMPLETE: &str = "mutation($story: ID!) { completeCollaboration(storyId: $story) { story { id } xpEarned { action xpGained achievements { key } } } }";

#[tokio::test(flavor = "multi_thread")]
async fn completing_rewards_the_author_and_accepted_collaborators_once() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let dave = app.sign_up("dave").await;
    let story = app.create_story(&alice, "Together").await;
    for user in [&bob, &carol, &dave] {
        app.ok(
            Some(&alice.token),
            INVITE,
            json!({ "story": story, "user": user.id }),
        )
        .await;
    }
    let accepted = app
        .ok(Some(&bob.token), ACCEPT, json!({ "story": story }))
        .await;
    assert_eq!(
        accepted["acceptCollaboration"]["story"]["title"], "Together",
        "invitees see the draft"
    );
    app.ok(Some(&carol.token), ACCEPT, json!({ "story": story }))
        .await;
    let before = app.xp(&alice).await;
    let done = app
        .ok(Some(&alice.token), COMPLETE, json!({ "story": story }))
        .await;
    assert_eq!(
        done["completeCollaboration"]["xpEarned"],
        json!({ "action": "COLLABORATION_COMPLETED", "xpGained": 80, "achievements": [{ "key": "TEAM_PLAYER" }] })
    );
    assert_eq!(app.xp(&alice).await, before + 80);
    assert_eq!(app.xp(&bob).await, 80);
    assert_eq!(app.xp(&carol).await, 80);
    assert_eq!(app.xp(&dave).await, 0, "never accepted");
    let again = app
        .ok(Some(&alice.token), COMPLETE, json!({ "story": story }))
        .await;
    assert_eq!(again["completeCollaboration"]["xpEarned"], json!(null));
    assert_eq!(app.xp(&bob).await, 80);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wrong_caller_is_forbidden() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let eve = app.sign_up("eve").await;
    let story = app.create_published_story(&alice, "Together").await;
    assert_eq!(
        app.error_code(
            Some(&eve.token),
            INVITE,
            json!({ "story": story, "user": bob.id })
        )
        .await,
        "FORBIDDEN"
    );
    app.ok(
        Some(&alice.token),
        INVITE,
        json!({ "story": story, "user": bob.id }),
    )
    .await;
    assert_eq!(
        app.error_code(Some(&eve.token), ACCEPT, json!({ "story": story }))
            .await,
        "FORBIDDEN"
    );
    app.ok(Some(&bob.token), ACCEPT, json!({ "story": story }))
        .await;
    assert_eq!(
        app.error_code(Some(&bob.token), COMPLETE, json!({ "story": story }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            Some(&alice.token),
            INVITE,
            json!({ "story": story, "user": alice.id })
        )
        .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(
            Some(&alice.token),
            INVITE,
            json!({ "story": story, "user": "99999" })
        )
        .await,
        "NOT_FOUND"
    );
    let lonely = app.create_story(&alice, "Alone").await;
    assert_eq!(
        app.error_code(Some(&alice.token), COMPLETE, json!({ "story": lonely }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(Some(&eve.token), ACCEPT, json!({ "story": lonely }))
            .await,
        "NOT_FOUND"
    );
}

/// FRIEND_COLLABORATION: +25 more to each participant who is a mutual friend of another
/// participant (alice and bob); carol, a friend of nobody there, and dave, a friend
/// who never accepted, earn none of it; once per story.
#[tokio::test(flavor = "multi_thread")]
async fn friends_who_complete_a_collaboration_earn_the_friend_bonus_once() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let carol = app.sign_up("carol").await;
    let dave = app.sign_up("dave").await;
    let add = "mutation($id: ID!) { addFriend(userId: $id) { status } }";
    for (one, two) in [
        (&alice, &bob),
        (&bob, &alice),
        (&alice, &dave),
        (&dave, &alice),
    ] {
        app.ok(Some(&one.token), add, json!({ "id": two.id })).await;
    }
    // Only one way: carol and alice are not friends.
    app.ok(Some(&carol.token), add, json!({ "id": alice.id }))
        .await;
    let story = app.create_story(&alice, "Together").await;
    for user in [&bob, &carol, &dave] {
        app.ok(
            Some(&alice.token),
            INVITE,
            json!({ "story": story, "user": user.id }),
        )
        .await;
    }
    for user in [&bob, &carol] {
        app.ok(Some(&user.token), ACCEPT, json!({ "story": story }))
            .await;
    }
    let before: Vec<i64> = xp_of(&app, [&alice, &bob, &carol, &dave]).await;
    let done = app
        .ok(Some(&alice.token), COMPLETE, json!({ "story": story }))
        .await;
    // 50 + 25 + TEAM_PLAYER's 30.
    assert_eq!(
        done["completeCollaboration"]["xpEarned"],
        json!({ "action": "COLLABORATION_COMPLETED", "xpGained": 105, "achievements": [{ "key": "TEAM_PLAYER" }] })
    );
    let after: Vec<i64> = xp_of(&app, [&alice, &bob, &carol, &dave]).await;
    let gained: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(gained, [105, 105, 80, 0]);
    let again = app
        .ok(Some(&alice.token), COMPLETE, json!({ "story": story }))
        .await;
    assert_eq!(again["completeCollaboration"]["xpEarned"], json!(null));
    assert_eq!(xp_of(&app, [&alice, &bob, &carol, &dave]).await, after);
    let history = app
        .ok(
            Some(&bob.token),
            "{ me { xpHistory(first: 10) { edges { node { action xpGained baseXp multiplier boost { id } } } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = history["me"]["xpHistory"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"FRIEND_COLLABORATION"), "{history}");
}

async fn xp_of(app: &TestApp, users: [&crate::common::TestUser; 4]) -> Vec<i64> {
    let mut xp = Vec::new();
    for user in users {
        xp.push(app.xp(user).await);
    }
    xp
}
