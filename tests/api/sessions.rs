//! Sessions that end (logOut, changePassword) and auth throttling that no transport
//! side-steps: per client address on HTTP, batches, persisted queries and both
//! WebSocket subprotocols, and per account whatever the address.

use serde_json::{Value, json};
use sha2::Digest;

use crate::common::{TestApp, WsClient, WsEvent, fresh_database};

const LOG_IN: &str = "mutation($input: LogInInput!) { logIn(input: $input) { token } }";
const CHANGE_PASSWORD: &str = "mutation($input: ChangePasswordInput!) { changePassword(input: $input) { token user { id } } }";

fn wrong_log_in(login: &str) -> Value {
    json!({ "input": { "login": login, "password": "wrong password" } })
}

async fn throttled_app(attempts_per_minute: u32) -> TestApp {
    let options = storyxp::app::server::ServerOptions {
        auth_attempts_per_minute: attempts_per_minute,
        ..Default::default()
    };
    TestApp::spawn_with(fresh_database().await, options).await
}

/// Runs one operation over a WebSocket of either subprotocol; returns its payload.
async fn over_websocket(
    client: &mut WsClient,
    protocol: &str,
    id: &str,
    query: &str,
    variables: Value,
) -> Value {
    let start = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    client
        .send(json!({ "id": id, "type": start, "payload": { "query": query, "variables": variables } }))
        .await;
    let mut payload = None;
    loop {
        let message = client.next_json().await;
        assert_eq!(message["id"], id, "{message}");
        match message["type"].as_str() {
            Some("next" | "data") => payload = Some(message["payload"].clone()),
            // graphql-transport-ws ends an operation that failed before it ran with
            // `error` alone; every other ends with `complete`.
            Some("error") => return json!({ "errors": message["payload"] }),
            Some("complete") => return payload.expect("a result before complete"),
            other => panic!("unexpected {other:?}: {message}"),
        }
    }
}

fn code_of(body: &Value) -> (&str, &str) {
    let error = &body["errors"][0];
    (
        error["extensions"]["code"].as_str().unwrap_or("none"),
        error["extensions"]["reason"].as_str().unwrap_or("none"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn log_in_over_either_websocket_subprotocol_is_throttled_per_address() {
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let app = throttled_app(3).await;
        let mut client = app.websocket(protocol).await;
        match client.init(None).await {
            WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
            other => panic!("{protocol}: expected connection_ack, got {other:?}"),
        }
        let mut outcomes = Vec::new();
        for attempt in 0..6 {
            let body = over_websocket(
                &mut client,
                protocol,
                &attempt.to_string(),
                LOG_IN,
                wrong_log_in("nobody"),
            )
            .await;
            let (code, reason) = code_of(&body);
            outcomes.push(format!("{code}/{reason}"));
            assert!(
                body["data"].is_null() || body["data"]["logIn"].is_null(),
                "{body}"
            );
        }
        assert_eq!(
            outcomes,
            [
                "UNAUTHENTICATED/none",
                "UNAUTHENTICATED/none",
                "UNAUTHENTICATED/none",
                "FORBIDDEN/TOO_MANY_ATTEMPTS",
                "FORBIDDEN/TOO_MANY_ATTEMPTS",
                "FORBIDDEN/TOO_MANY_ATTEMPTS",
            ],
            "{protocol}"
        );
        // The WebSocket's attempts count for the address over HTTP too.
        let body = app.graphql(None, LOG_IN, wrong_log_in("nobody")).await;
        assert_eq!(code_of(&body), ("FORBIDDEN", "TOO_MANY_ATTEMPTS"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batched_and_persisted_log_ins_count_against_the_address() {
    let app = throttled_app(3).await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.base_url);
    let batch: Vec<Value> = (0..5)
        .map(|_| json!({ "query": LOG_IN, "variables": wrong_log_in("nobody") }))
        .collect();
    let answers: Vec<Value> = client
        .post(&url)
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let codes: Vec<_> = answers.iter().map(|answer| code_of(answer).0).collect();
    let throttled = codes.iter().filter(|code| **code == "FORBIDDEN").count();
    let evaluated = codes
        .iter()
        .filter(|code| **code == "UNAUTHENTICATED")
        .count();
    assert_eq!((evaluated, throttled), (3, 2), "{answers:?}");

    // A persisted query (registered by another address's request is not needed: the
    // hash-with-text form registers and runs it) is throttled the same way.
    let app = throttled_app(2).await;
    let url = format!("{}/graphql", app.base_url);
    let hash = hex::encode(sha2::Sha256::digest(LOG_IN.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let mut codes = Vec::new();
    for attempt in 0..4 {
        let body = if attempt == 0 {
            json!({ "query": LOG_IN, "variables": wrong_log_in("nobody"), "extensions": persisted })
        } else {
            json!({ "variables": wrong_log_in("nobody"), "extensions": persisted })
        };
        let answer: Value = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        codes.push(code_of(&answer).0.to_string());
    }
    assert_eq!(
        codes,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "FORBIDDEN",
            "FORBIDDEN"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_takes_ten_failed_passwords_per_window_whatever_the_address() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let attempts = (0..20).map(|_| app.graphql(None, LOG_IN, wrong_log_in("alice")));
    let answers = futures_util::future::join_all(attempts).await;
    let mut unauthenticated = 0;
    let mut locked = Vec::new();
    for answer in &answers {
        match code_of(answer) {
            ("UNAUTHENTICATED", "none") => {
                assert_eq!(answer["errors"][0]["message"], "wrong login or password");
                unauthenticated += 1;
            }
            ("FORBIDDEN", "TOO_MANY_ATTEMPTS") => locked.push(answer.clone()),
            other => panic!("unexpected {other:?}: {answer}"),
        }
    }
    assert_eq!((unauthenticated, locked.len()), (10, 10));
    assert_eq!(
        locked[0]["errors"][0]["extensions"]["throttledBy"],
        "ACCOUNT"
    );
    // The right password is refused too while the account is locked, and by email.
    for login in ["alice", "ALICE@example.com"] {
        let body = app
            .graphql(
                None,
                LOG_IN,
                json!({ "input": { "login": login, "password": "correct horse" } }),
            )
            .await;
        assert_eq!(code_of(&body), ("FORBIDDEN", "TOO_MANY_ATTEMPTS"), "{body}");
    }
    // A second instance (another address, as far as it knows) refuses it as well.
    let other = TestApp::spawn_on(app.database_url.clone()).await;
    let body = other.graphql(None, LOG_IN, wrong_log_in("alice")).await;
    assert_eq!(code_of(&body), ("FORBIDDEN", "TOO_MANY_ATTEMPTS"), "{body}");
    // An unknown login is limited alike, with the same words.
    for _ in 0..10 {
        let body = app.graphql(None, LOG_IN, wrong_log_in("nobody")).await;
        assert_eq!(code_of(&body).0, "UNAUTHENTICATED", "{body}");
    }
    let unknown = app.graphql(None, LOG_IN, wrong_log_in("nobody")).await;
    let without_digits = |body: &Value| {
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .replace(|c: char| c.is_ascii_digit(), "")
    };
    assert_eq!(without_digits(&unknown), without_digits(&locked[0]));
    assert_eq!(
        without_digits(&unknown),
        "too many failed attempts for this account; try again in  seconds"
    );
    // Alice's existing session is untouched.
    assert_eq!(app.xp(&alice).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_log_in_does_not_count_as_a_failure() {
    let app = TestApp::spawn().await;
    app.sign_up("alice").await;
    let right = json!({ "input": { "login": "alice", "password": "correct horse" } });
    for _ in 0..15 {
        app.ok(None, LOG_IN, right.clone()).await;
    }
    for _ in 0..10 {
        let body = app.graphql(None, LOG_IN, wrong_log_in("alice")).await;
        assert_eq!(code_of(&body).0, "UNAUTHENTICATED", "{body}");
    }
    let body = app.graphql(None, LOG_IN, right).await;
    assert_eq!(code_of(&body), ("FORBIDDEN", "TOO_MANY_ATTEMPTS"), "{body}");
}

/// Polls `app` with `token` until `me` is refused; panics after one second.
async fn refused_within_a_second(app: &TestApp, token: &str) {
    let started = std::time::Instant::now();
    loop {
        let body = app.graphql(Some(token), "{ me { id } }", json!({})).await;
        if body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" {
            assert_eq!(
                body["errors"][0]["message"],
                "this session has ended; log in again"
            );
            assert!(body.get("data").is_none_or(Value::is_null), "{body}");
            return;
        }
        assert!(body["data"]["me"]["id"].is_string(), "{body}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "still accepted after a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn log_out_ends_that_token_on_every_instance_and_no_other() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_on(first.database_url.clone()).await;
    let alice = first.sign_up("alice").await;
    let other_session = first
        .ok(
            None,
            LOG_IN,
            json!({ "input": { "login": "alice", "password": "correct horse" } }),
        )
        .await["logIn"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Both instances know (and remember) the token before it ends.
    assert_eq!(second.xp(&alice).await, 0);
    let logged_out = first
        .ok(Some(&alice.token), "mutation { logOut }", json!({}))
        .await;
    assert_eq!(logged_out["logOut"], true);
    refused_within_a_second(&first, &alice.token).await;
    refused_within_a_second(&second, &alice.token).await;
    let me = second
        .ok(Some(&other_session), "{ me { username } }", json!({}))
        .await;
    assert_eq!(me["me"]["username"], "alice");
    // A third instance started afterwards loads the ended session from the database.
    let third = TestApp::spawn_on(first.database_url.clone()).await;
    refused_within_a_second(&third, &alice.token).await;
    assert_eq!(
        first
            .error_code(None, "mutation { logOut }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn changing_the_password_ends_every_earlier_session_and_closes_its_sockets() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_on(first.database_url.clone()).await;
    let alice = first.sign_up("alice").await;
    let bob = first.sign_up("bob").await;
    let mut alice_socket = second.level_up_subscriber(&alice).await;
    let mut bob_socket = second.level_up_subscriber(&bob).await;
    second.wait_for_subscriptions(2).await;

    let wrong = first
        .graphql(
            Some(&alice.token),
            CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": "not it", "newPassword": "battery staple" } }),
        )
        .await;
    assert_eq!(code_of(&wrong).0, "UNAUTHENTICATED", "{wrong}");
    assert_eq!(
        wrong["errors"][0]["message"],
        "the current password is wrong"
    );
    let short = first
        .graphql(
            Some(&alice.token),
            CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": "correct horse", "newPassword": "short" } }),
        )
        .await;
    assert_eq!(code_of(&short).0, "BAD_USER_INPUT", "{short}");
    assert_eq!(second.xp(&alice).await, 0, "a refused change ends nothing");

    let changed = first
        .ok(
            Some(&alice.token),
            CHANGE_PASSWORD,
            json!({ "input": { "currentPassword": "correct horse", "newPassword": "battery staple" } }),
        )
        .await;
    let new_token = changed["changePassword"]["token"].as_str().unwrap();
    assert_eq!(changed["changePassword"]["user"]["id"], alice.id.as_str());
    refused_within_a_second(&first, &alice.token).await;
    refused_within_a_second(&second, &alice.token).await;
    match alice_socket.next().await {
        WsEvent::Closed(code) => assert_eq!(code, Some(4403)),
        other => panic!("expected the socket to close with 4403, got {other:?}"),
    }
    let me = second
        .ok(Some(new_token), "{ me { username } }", json!({}))
        .await;
    assert_eq!(me["me"]["username"], "alice");
    // Bob's socket stays open and his subscription with it.
    second.wait_for_subscriptions(1).await;
    bob_socket.send(json!({ "type": "ping" })).await;
    match bob_socket.next().await {
        WsEvent::Json(pong) => assert_eq!(pong["type"], "pong"),
        other => panic!("bob's socket closed: {other:?}"),
    }

    let old = first
        .graphql(
            None,
            LOG_IN,
            json!({ "input": { "login": "alice", "password": "correct horse" } }),
        )
        .await;
    assert_eq!(code_of(&old).0, "UNAUTHENTICATED", "{old}");
    let logged_in = first
        .ok(
            None,
            LOG_IN,
            json!({ "input": { "login": "alice", "password": "battery staple" } }),
        )
        .await;
    let fresh = logged_in["logIn"]["token"].as_str().unwrap();
    let me = second
        .ok(Some(fresh), "{ me { username } }", json!({}))
        .await;
    assert_eq!(me["me"]["username"], "alice");
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_introspection_is_refused_over_http_and_websocket_without_data() {
    let app = TestApp::spawn().await;
    let mut inner = "name".to_string();
    for _ in 0..16 {
        inner = format!("ofType {{ {inner} }}");
    }
    let query = format!("{{ __schema {{ types {{ fields {{ type {{ {inner} }} }} }} }} }}");
    let body = app.graphql(None, &query, json!({})).await;
    assert_eq!(
        body["errors"][0]["message"],
        "the introspection query nests 21 levels deep; at most 16 are allowed",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(body.get("data").is_none_or(Value::is_null), "{body}");

    let mut client = app.websocket("graphql-transport-ws").await;
    match client.init(None).await {
        WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
        other => panic!("expected connection_ack, got {other:?}"),
    }
    let payload = over_websocket(&mut client, "graphql-transport-ws", "1", &query, json!({})).await;
    assert_eq!(
        payload["errors"][0]["message"],
        "the introspection query nests 21 levels deep; at most 16 are allowed",
        "{payload}"
    );
    assert!(payload.get("data").is_none_or(Value::is_null), "{payload}");

    // A wide one is refused by the complexity limit, introspection or not.
    let wide: String = (0..3_000)
        .map(|n| format!("t{n}: queryType {{ name }} "))
        .collect();
    let body = app
        .graphql(None, &format!("{{ __schema {{ {wide} }} }}"), json!({}))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert_eq!(message, "Query is too complex.", "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_persisted_query_registered_over_http_runs_over_websocket() {
    let app = TestApp::spawn().await;
    let query = "{ xpRewards { action xp } }";
    let hash = hex::encode(sha2::Sha256::digest(query.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let registered: Value = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .json(&json!({ "query": query, "extensions": persisted }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        registered["data"]["xpRewards"][0]["xp"], 100,
        "{registered}"
    );
    let mut client = app.websocket("graphql-transport-ws").await;
    match client.init(None).await {
        WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
        other => panic!("expected connection_ack, got {other:?}"),
    }
    client
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "", "extensions": persisted } }))
        .await;
    let answer = client.next_json().await;
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["payload"]["data"], registered["data"]);
}
