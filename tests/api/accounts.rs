//! Signing up, logging in, tokens and privacy.

use serde_json::json;

use crate::common::{SECRET, TestApp};

const SIGN_UP: &str =
    "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id username } } }";
const LOG_IN: &str =
    "mutation($input: LogInInput!) { logIn(input: $input) { token user { username } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_starts_at_level_one_and_me_knows_them() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let data = app
        .ok(
            Some(&alice.token),
            "{ me { id username email experiencePoints level xpForNextLevel xpProgress xpProgressPercentage achievements { key } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["me"],
        json!({
            "id": alice.id, "username": "alice", "email": "alice@example.com", "experiencePoints": 0,
            "level": 1, "xpForNextLevel": 500, "xpProgress": 0, "xpProgressPercentage": 0.0, "achievements": []
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_caller_has_no_me() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.ok(None, "{ me { id } }", json!({})).await,
        json!({ "me": null })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn log_in_accepts_username_or_email_in_any_case() {
    let app = TestApp::spawn().await;
    app.sign_up("Alice_1").await;
    for login in ["alice_1", "ALICE_1", "Alice_1@Example.com"] {
        let data = app
            .ok(
                None,
                LOG_IN,
                json!({ "input": { "login": login, "password": "correct horse" } }),
            )
            .await;
        assert_eq!(
            data["logIn"]["user"]["username"], "Alice_1",
            "login {login}"
        );
        let token = data["logIn"]["token"].as_str().unwrap();
        let me = app.ok(Some(token), "{ me { username } }", json!({})).await;
        assert_eq!(me["me"]["username"], "Alice_1");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unknown_login_are_the_same_refusal() {
    let app = TestApp::spawn().await;
    app.sign_up("alice").await;
    let wrong_password = app
        .graphql(
            None,
            LOG_IN,
            json!({ "input": { "login": "alice", "password": "wrong horse" } }),
        )
        .await;
    let unknown = app
        .graphql(
            None,
            LOG_IN,
            json!({ "input": { "login": "nobody", "password": "wrong horse" } }),
        )
        .await;
    assert_eq!(
        wrong_password["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    assert_eq!(
        wrong_password["errors"][0]["message"],
        "wrong login or password"
    );
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(
        wrong_password["errors"][0]["extensions"],
        unknown["errors"][0]["extensions"]
    );
    assert_eq!(wrong_password["data"], json!(null));
}

#[tokio::test(flavor = "multi_thread")]
async fn usernames_are_unique_regardless_of_case() {
    let app = TestApp::spawn().await;
    app.sign_up("alice").await;
    let body = app
        .graphql(None, SIGN_UP, json!({ "input": { "username": "ALICE", "email": "other@example.com", "password": "correct horse" } }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["message"],
        "the username ALICE is already taken"
    );
    let email_taken = app
        .graphql(None, SIGN_UP, json!({ "input": { "username": "bob", "email": "Alice@example.com", "password": "correct horse" } }))
        .await;
    assert_eq!(
        email_taken["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(
        email_taken["errors"][0]["message"], "an account with this email already exists",
        "emails are unique regardless of case too"
    );
    let board = app
        .ok(
            None,
            "{ leaderboard(first: 10) { user { username } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        board["leaderboard"],
        json!([{ "user": { "username": "alice" } }]),
        "neither ALICE nor bob was created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_sign_up_input_is_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "al",
            "al@example.com",
            "correct horse",
            "username must be 3 to 32 characters: letters, digits or _",
        ),
        (
            "al ice",
            "al@example.com",
            "correct horse",
            "username must be 3 to 32 characters: letters, digits or _",
        ),
        (
            &"a".repeat(33),
            "al@example.com",
            "correct horse",
            "username must be 3 to 32 characters: letters, digits or _",
        ),
        (
            "alice",
            "not-an-email",
            "correct horse",
            "email must be a valid address like name@example.com",
        ),
        (
            "alice",
            "al@example.com",
            "short",
            "password must be 8 to 256 characters long",
        ),
        (
            "alice",
            "al@example.com",
            &"p".repeat(257),
            "password must be 8 to 256 characters long",
        ),
    ];
    for (username, email, password, message) in cases {
        let body = app
            .graphql(
                None,
                SIGN_UP,
                json!({ "input": { "username": username, "email": email, "password": password } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{username} {email}"
        );
        assert_eq!(body["errors"][0]["message"], message);
    }
    let board = app
        .ok(
            None,
            "{ leaderboard(first: 10) { user { username } } }",
            json!({}),
        )
        .await;
    assert_eq!(board["leaderboard"], json!([]), "no user was created");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_expired_and_malformed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let keys = storyxp::auth::TokenKeys::new(SECRET).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = keys
        .issue_with_expiry(alice.id.parse().unwrap(), 0, now - 60)
        .unwrap();
    let forged = storyxp::auth::TokenKeys::new(&[9u8; 40])
        .unwrap()
        .issue(alice.id.parse().unwrap(), 0)
        .unwrap();
    let mut tampered = alice.token.clone();
    tampered.push('x');
    // The whole request is refused with one error, whatever it holds.
    let refusal = |body: &serde_json::Value| {
        assert_eq!(body["data"], json!(null), "{body}");
        assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{body}");
        (
            body["errors"][0]["message"].clone(),
            body["errors"][0]["extensions"].clone(),
        )
    };
    let unauthenticated = |message: &str| (json!(message), json!({ "code": "UNAUTHENTICATED" }));
    for (token, message) in [
        (expired.as_str(), "your session has expired; log in again"),
        (forged.as_str(), "invalid authentication token"),
        (tampered.as_str(), "invalid authentication token"),
        ("not-a-jwt", "invalid authentication token"),
    ] {
        // A mutation too: nothing of the request runs.
        let body = app
            .graphql(
                Some(token),
                "mutation { createStory(input: { title: \"Sneaky\", content: \"\" }) { story { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(refusal(&body), unauthenticated(message), "token {token}");
    }
    assert_eq!(app.xp(&alice).await, 0, "no story was created");
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .header("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        refusal(&body),
        unauthenticated("the Authorization header must be `Bearer <token>`")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn email_and_xp_history_are_private_to_their_owner() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    app.create_story(&alice, "Mine").await;
    let query = "query($id: ID!) { user(id: $id) { username email xpHistory { nodes { action xpGained } } } }";
    let as_bob = app
        .ok(Some(&bob.token), query, json!({ "id": alice.id }))
        .await;
    assert_eq!(
        as_bob["user"],
        json!({ "username": "alice", "email": null, "xpHistory": null })
    );
    let anonymous = app.ok(None, query, json!({ "id": alice.id })).await;
    assert_eq!(
        anonymous["user"],
        json!({ "username": "alice", "email": null, "xpHistory": null })
    );
    let as_alice = app
        .ok(Some(&alice.token), query, json!({ "id": alice.id }))
        .await;
    assert_eq!(as_alice["user"]["email"], "alice@example.com");
    assert_eq!(
        as_alice["user"]["xpHistory"]["nodes"],
        json!([{ "action": "ACHIEVEMENT_EARNED", "xpGained": 30 }, { "action": "STORY_CREATED", "xpGained": 100 }])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_ids() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.ok(None, "{ user(id: \"999\") { id } }", json!({}))
            .await,
        json!({ "user": null })
    );
    let malformed = app
        .graphql(None, "{ user(id: \"abc\") { id } }", json!({}))
        .await;
    assert_eq!(
        malformed["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert_eq!(
        malformed["errors"][0]["message"],
        "`abc` is not a valid user id"
    );
    assert_eq!(malformed["data"], json!(null));
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_answers_when_the_database_does() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(format!("{}/healthz", app.base_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_and_its_assets_are_served_locally() {
    let app = TestApp::spawn().await;
    // As a browser asks for it (a GET without a query and without `text/html` is a
    // GraphQL request with no query: 400, see http_conformance).
    let page = reqwest::Client::new()
        .get(format!("{}/graphql", app.base_url))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/graphiql/graphiql.min.js"));
    assert!(!html.contains("https://"), "no CDN");
    for (asset, content_type) in [
        ("graphiql.min.js", "text/javascript; charset=utf-8"),
        ("graphiql.min.css", "text/css; charset=utf-8"),
        ("react.production.min.js", "text/javascript; charset=utf-8"),
        (
            "react-dom.production.min.js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let response = reqwest::get(format!("{}/graphiql/{asset}", app.base_url))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(response.headers()["content-type"], content_type, "{asset}");
        let vendored = std::fs::read(format!(
            "{}/assets/graphiql/{asset}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(
            response.bytes().await.unwrap() == vendored,
            "{asset} is the vendored file"
        );
    }
    let unknown = reqwest::get(format!("{}/graphiql/other.js", app.base_url))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

/// The server's user loader batches the `me`s of concurrent requests into one query;
/// each request still gets its own user (and a stranger's token nothing else).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_each_get_their_own_me() {
    let app = TestApp::spawn().await;
    let users = crate::common::sign_up_many(&app, "reader", 24).await;
    let query = "{ me { id username } }";
    for _ in 0..3 {
        let answers = futures_util::future::join_all(
            users
                .iter()
                .map(|user| app.ok(Some(&user.token), query, json!({}))),
        )
        .await;
        for (user, answer) in users.iter().zip(answers) {
            assert_eq!(
                answer,
                json!({ "me": { "id": user.id, "username": user.username } })
            );
        }
    }
}
