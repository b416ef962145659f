//! Comments, reads and characters: exact XP, dedupe (also under concurrency), achievements.

use serde_json::json;

use crate::common::{TestApp, sign_up_many};

const COMMENT: &str = "mutation($id: ID!, $body: String!) { commentOnStory(storyId: $id, body: $body) { comment { body author { username } } xpEarned { action xpGained achievements { key } } } }";
const READ: &str = "mutation($id: ID!) { readStory(id: $id) { story { title } xpEarned { action xpGained totalXp achievements { key } } } }";
const CHARACTER: &str = "mutation($input: CreateCharacterInput!) { createCharacter(input: $input) { character { id name description } xpEarned { action xpGained achievements { key } } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_comment_earns_the_author_ten_once_per_commenter() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let id = app.create_published_story(&alice, "Dawn").await;
    let before = app.xp(&alice).await;
    let first = app
        .ok(
            Some(&bob.token),
            COMMENT,
            json!({ "id": id, "body": "Lovely" }),
        )
        .await;
    assert_eq!(
        first["commentOnStory"]["comment"],
        json!({ "body": "Lovely", "author": { "username": "bob" } })
    );
    assert_eq!(
        first["commentOnStory"]["xpEarned"],
        json!({ "action": "STORY_COMMENTED", "xpGained": 10, "achievements": [] })
    );
    let second = app
        .ok(
            Some(&bob.token),
            COMMENT,
            json!({ "id": id, "body": "Still lovely" }),
        )
        .await;
    assert_eq!(second["commentOnStory"]["xpEarned"], json!(null));
    let own = app
        .ok(
            Some(&alice.token),
            COMMENT,
            json!({ "id": id, "body": "Thanks!" }),
        )
        .await;
    assert_eq!(own["commentOnStory"]["xpEarned"], json!(null));
    assert_eq!(app.xp(&alice).await, before + 10);
    assert_eq!(app.xp(&bob).await, 0);
    let story = app
        .ok(
            None,
            "query($id: ID!) { story(id: $id) { comments { body } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        story["story"]["comments"],
        json!([{ "body": "Lovely" }, { "body": "Still lovely" }, { "body": "Thanks!" }])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_comments_from_ten_readers_unlock_conversation_starter() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let id = app.create_published_story(&alice, "Dawn").await;
    let before = app.xp(&alice).await;
    let readers = sign_up_many(&app, "reader", 10).await;
    let mut awards = Vec::new();
    for reader in &readers {
        let data = app
            .ok(
                Some(&reader.token),
                COMMENT,
                json!({ "id": id, "body": "Hi" }),
            )
            .await;
        awards.push(data["commentOnStory"]["xpEarned"].clone());
    }
    for award in &awards[..9] {
        assert_eq!(
            award,
            &json!({ "action": "STORY_COMMENTED", "xpGained": 10, "achievements": [] })
        );
    }
    assert_eq!(
        awards[9],
        json!({ "action": "STORY_COMMENTED", "xpGained": 40, "achievements": [{ "key": "CONVERSATION_STARTER" }] }),
        "the tenth comment unlocks it"
    );
    assert_eq!(app.xp(&alice).await, before + 10 * 10 + 30);
    let extra = app.sign_up("eleventh").await;
    let more = app
        .ok(
            Some(&extra.token),
            COMMENT,
            json!({ "id": id, "body": "Hi" }),
        )
        .await;
    assert_eq!(
        more["commentOnStory"]["xpEarned"],
        json!({ "action": "STORY_COMMENTED", "xpGained": 10, "achievements": [] }),
        "unlocked once only"
    );
    assert_eq!(app.xp(&alice).await, before + 11 * 10 + 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_parallel_identical_comments_and_reads_award_once() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let id = app.create_published_story(&alice, "Dawn").await;
    let before = app.xp(&alice).await;
    let comments = futures_util::future::join_all((0..10).map(|_| {
        app.ok(
            Some(&bob.token),
            COMMENT,
            json!({ "id": id, "body": "Same" }),
        )
    }))
    .await;
    assert_eq!(
        comments
            .iter()
            .filter(|data| !data["commentOnStory"]["xpEarned"].is_null())
            .count(),
        1
    );
    let reads = futures_util::future::join_all(
        (0..10).map(|_| app.ok(Some(&bob.token), READ, json!({ "id": id }))),
    )
    .await;
    assert_eq!(
        reads
            .iter()
            .filter(|data| !data["readStory"]["xpEarned"].is_null())
            .count(),
        1
    );
    assert_eq!(app.xp(&alice).await, before + 10);
    assert_eq!(app.xp(&bob).await, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_earns_the_reader_five_once_and_nothing_for_your_own() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let id = app.create_published_story(&alice, "Dawn").await;
    let first = app.ok(Some(&bob.token), READ, json!({ "id": id })).await;
    assert_eq!(first["readStory"]["story"]["title"], "Dawn");
    assert_eq!(
        first["readStory"]["xpEarned"],
        json!({ "action": "STORY_READ", "xpGained": 5, "totalXp": 5, "achievements": [] })
    );
    assert_eq!(
        app.ok(Some(&bob.token), READ, json!({ "id": id })).await["readStory"]["xpEarned"],
        json!(null)
    );
    let before = app.xp(&alice).await;
    assert_eq!(
        app.ok(Some(&alice.token), READ, json!({ "id": id })).await["readStory"]["xpEarned"],
        json!(null)
    );
    assert_eq!(app.xp(&alice).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn drafts_cannot_be_read_or_commented_on_by_others() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let draft = app.create_story(&alice, "Secret").await;
    let published = app.create_published_story(&alice, "Open").await;
    let refusal = async |token: Option<&str>, query: &str, variables: serde_json::Value| {
        let body = app.graphql(token, query, variables).await;
        assert_eq!(body["data"], json!(null), "{body}");
        (
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap()
                .to_string(),
            body["errors"][0]["message"].as_str().unwrap().to_string(),
        )
    };
    let refused = |code: &str, message: &str| (code.to_string(), message.to_string());
    assert_eq!(
        refusal(Some(&bob.token), READ, json!({ "id": draft })).await,
        refused("NOT_FOUND", "story not found")
    );
    assert_eq!(
        refusal(
            Some(&bob.token),
            COMMENT,
            json!({ "id": draft, "body": "hi" })
        )
        .await,
        refused("NOT_FOUND", "story not found")
    );
    assert_eq!(
        refusal(
            Some(&bob.token),
            COMMENT,
            json!({ "id": draft, "body": "   " })
        )
        .await,
        refused("BAD_USER_INPUT", "a comment cannot be empty")
    );
    assert_eq!(
        refusal(
            Some(&bob.token),
            COMMENT,
            json!({ "id": published, "body": "x".repeat(10_001) })
        )
        .await,
        refused("BAD_USER_INPUT", "a comment is at most 10000 characters")
    );
    assert_eq!(
        refusal(None, READ, json!({ "id": published })).await,
        refused("UNAUTHENTICATED", "you must be signed in to do this")
    );
    // The longest comment is allowed; none of the refused ones was written.
    app.ok(
        Some(&bob.token),
        COMMENT,
        json!({ "id": published, "body": "x".repeat(10_000) }),
    )
    .await;
    let story = app
        .ok(
            None,
            "query($id: ID!) { story(id: $id) { comments { author { username } } } }",
            json!({ "id": published }),
        )
        .await;
    assert_eq!(
        story["story"]["comments"],
        json!([{ "author": { "username": "bob" } }])
    );
    assert_eq!(app.xp(&bob).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_reads_unlock_bookworm() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let mut ids = Vec::new();
    for n in 0..11 {
        ids.push(
            app.create_published_story(&alice, &format!("Story {n}"))
                .await,
        );
    }
    let mut unlocked = Vec::new();
    for id in &ids {
        let data = app.ok(Some(&bob.token), READ, json!({ "id": id })).await;
        unlocked.push(data["readStory"]["xpEarned"]["achievements"].clone());
    }
    assert_eq!(unlocked[9], json!([{ "key": "BOOKWORM" }]));
    assert_eq!(
        unlocked.iter().filter(|keys| **keys != json!([])).count(),
        1
    );
    assert_eq!(app.xp(&bob).await, 11 * 5 + 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn characters_earn_25_each_and_five_unlock_character_designer() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let mut gains = Vec::new();
    for n in 0..5 {
        let data = app
            .ok(
                Some(&alice.token),
                CHARACTER,
                json!({ "input": { "name": format!("Hero {n}"), "description": "brave" } }),
            )
            .await;
        gains.push(
            data["createCharacter"]["xpEarned"]["xpGained"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(gains, [25, 25, 25, 25, 55]);
    assert_eq!(app.xp(&alice).await, 5 * 25 + 30);
    let me = app
        .ok(
            Some(&alice.token),
            "{ me { characters { name } achievements { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"]["characters"],
        json!([{ "name": "Hero 0" }, { "name": "Hero 1" }, { "name": "Hero 2" }, { "name": "Hero 3" }, { "name": "Hero 4" }])
    );
    assert_eq!(
        me["me"]["achievements"],
        json!([{ "key": "CHARACTER_DESIGNER" }])
    );
    for name in ["", &"n".repeat(101)] {
        let body = app
            .graphql(
                Some(&alice.token),
                CHARACTER,
                json!({ "input": { "name": name } }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(
            body["errors"][0]["message"],
            "a character's name must be 1 to 100 characters"
        );
    }
    assert_eq!(
        app.xp(&alice).await,
        5 * 25 + 30,
        "nothing more was created"
    );
}
