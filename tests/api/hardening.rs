//! Limits, hostile input, Apollo conveniences, and faults.

use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::common::{ALLOWED_ORIGIN, TestApp};

/// A request of exactly `bytes` bytes: the query padded with a comment.
fn request_of(bytes: usize) -> Vec<u8> {
    let empty = serde_json::to_vec(&json!({ "query": "{ xpRewards { xp } } #" })).unwrap();
    let query = format!(
        "{{ xpRewards {{ xp }} }} #{}",
        "x".repeat(bytes - empty.len())
    );
    let body = serde_json::to_vec(&json!({ "query": query })).unwrap();
    assert_eq!(body.len(), bytes);
    body
}

/// A request refused before GraphQL runs: one BAD_USER_INPUT error, no `data`.
fn refusal(message: &str) -> serde_json::Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }] })
}

fn refusal_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_one_mebibyte_is_413() {
    let app = TestApp::spawn().await;
    let (status, text) = app
        .post_raw("application/json", request_of(1024 * 1024))
        .await;
    assert_eq!(status, 200, "exactly one mebibyte is accepted");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["data"]["xpRewards"][0]["xp"], 100, "{answer}");
    let (status, text) = app
        .post_raw("application/json", request_of(1024 * 1024 + 1))
        .await;
    assert_eq!(status, 413);
    assert_eq!(
        refusal_of(&text),
        refusal("a request body holds at most 1048576 bytes")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_body_over_one_mebibyte_is_413_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // No Content-Length: the server learns the size only by reading. Send 64 KiB
    // chunks until it answers (it may close before the last ones are written).
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
    for _ in 0..17 {
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("at most 1048576 bytes"), "{answer}");
}

/// A request refused on its headers alone (a wrong Content-Type, an Accept the server
/// cannot answer) while its body is still arriving: the server reads the rest before
/// answering, so the client gets the refusal (not a reset connection) and the same
/// connection serves the next request.
#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_on_headers_waits_for_the_body_and_keeps_the_connection() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let app = TestApp::spawn().await;
    let address = app.base_url.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut stream = BufReader::new(stream);
    let body = format!(
        "{{\"query\":\"{{ xpRewards {{ xp }} }} #{}\"}}",
        "x".repeat(400_000)
    );
    for (headers, status) in [
        ("Content-Type: text/plain", "400"),
        ("Content-Type: application/json\r\nAccept: text/csv", "406"),
        ("Content-Type: application/json", "200"),
    ] {
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {address}\r\n{headers}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.get_mut().write_all(head.as_bytes()).await.unwrap();
        // The body in pieces, after the server has had time to answer the headers.
        for piece in body.as_bytes().chunks(16 * 1024) {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            stream
                .get_mut()
                .write_all(piece)
                .await
                .unwrap_or_else(|error| panic!("{headers}: the body broke off: {error}"));
        }
        let mut status_line = String::new();
        stream
            .read_line(&mut status_line)
            .await
            .unwrap_or_else(|error| panic!("{headers}: no answer: {error}"));
        assert!(
            status_line.starts_with(&format!("HTTP/1.1 {status}")),
            "{headers}: {status_line:?}"
        );
        let mut length = 0;
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            assert!(!lower.starts_with("connection: close"), "{headers}: {line}");
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut answer = vec![0; length];
        stream.read_exact(&mut answer).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_wrong_content_type_and_big_batches_are_400() {
    let app = TestApp::spawn().await;
    let (status, text) = app
        .post_raw("application/json", b"{\"query\": ".to_vec())
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refusal_of(&text),
        refusal(
            "the body is not a GraphQL request in JSON: EOF while parsing a value at line 1 column 10"
        )
    );
    let (status, text) = app
        .post_raw("text/plain", br#"{"query":"{ me { id } }"}"#.to_vec())
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refusal_of(&text),
        refusal("Content-Type must be application/json")
    );
    for size in [0, 11] {
        let batch: Vec<_> = (0..size)
            .map(|_| json!({ "query": "{ xpRewards { xp } }" }))
            .collect();
        let (status, text) = app
            .post_raw("application/json", serde_json::to_vec(&batch).unwrap())
            .await;
        assert_eq!(status, 400, "a batch of {size}");
        assert_eq!(
            refusal_of(&text),
            refusal("a batch holds 1 to 10 operations"),
            "a batch of {size}"
        );
    }
    let largest: Vec<_> = (0..10)
        .map(|n| json!({ "query": format!("{{ a{n}: achievements {{ key }} }}") }))
        .collect();
    let (status, text) = app
        .post_raw(
            "application/json; charset=utf-8",
            serde_json::to_vec(&largest).unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    let answers: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(answers.len(), 10);
    for (n, answer) in answers.iter().enumerate() {
        let keys = answer["data"][format!("a{n}")].as_array().unwrap();
        assert_eq!(
            keys.len(),
            storyxp::xp::AchievementKey::ALL.len(),
            "answer {n} answers operation {n}: {answer}"
        );
        assert_eq!(keys[0]["key"], "FIRST_STORY");
    }
}

/// `{ a { a { ... id } } }`: `depth` levels of fields. The depth check runs before
/// validation, so the field names need not exist.
fn nested_query(depth: usize) -> String {
    let mut query = "id".to_string();
    for _ in 1..depth {
        query = format!("a {{ {query} }}");
    }
    format!("{{ {query} }}")
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_deeper_than_twelve_are_refused_before_running() {
    let app = TestApp::spawn().await;
    let twelve = app.graphql(None, &nested_query(12), json!({})).await;
    assert_eq!(
        twelve["errors"][0]["message"], "Unknown field \"a\" on type \"Query\".",
        "{twelve}"
    );
    let deep = app.graphql(None, &nested_query(13), json!({})).await;
    assert_eq!(
        deep,
        json!({ "data": null, "errors": [{
            "message": "the query nests 13 levels deep; at most 12 are allowed",
            "extensions": { "code": "BAD_USER_INPUT" }
        }] })
    );
    let deepest_real = "{ stories { edges { node { comments { author { xpHistory { edges { node { id } } } } } } } } }";
    let allowed = app.graphql(None, deepest_real, json!({})).await;
    assert_eq!(allowed, json!({ "data": { "stories": { "edges": [] } } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_too_deep_query_stays_refused_and_websocket_operations_are_limited_too() {
    let app = TestApp::spawn().await;
    for attempt in 0..2 {
        let deep = app.graphql(None, &nested_query(13), json!({})).await;
        assert_eq!(
            deep["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "attempt {attempt}: {deep}"
        );
        assert_eq!(
            deep["errors"][0]["message"], "the query nests 13 levels deep; at most 12 are allowed",
            "attempt {attempt}"
        );
        assert_eq!(deep["data"], json!(null), "attempt {attempt}");
    }
    let mut client = app.websocket("graphql-transport-ws").await;
    match client.init(None).await {
        crate::common::WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
        other => panic!("expected connection_ack, got {other:?}"),
    }
    client
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": nested_query(13) } }))
        .await;
    let answer = client.next_json().await;
    assert_eq!(answer["type"], "next", "{answer}");
    assert_eq!(answer["id"], "1", "{answer}");
    assert_eq!(answer["payload"]["data"], json!(null), "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["message"],
        "the query nests 13 levels deep; at most 12 are allowed",
        "{answer}"
    );
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

/// Brackets nested thousands deep are refused before the parser (which recurses once
/// per level) sees them, also after a `"""` that never ends, which the parser reads as
/// empty strings (`""""`) and the first nesting check took for the rest of the document
/// (the fuzzer found it: a stack overflow that aborted the server).
#[tokio::test(flavor = "multi_thread")]
async fn brackets_nested_thousands_deep_are_refused_after_any_strings() {
    let app = TestApp::spawn().await;
    let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    for query in [
        format!("{{ user(id: {deep}) {{ id }} }}"),
        format!("{{ user(id: [\"\"\"\"]) @skip(if: {deep}) {{ id }} }}"),
        format!(
            "{{ a: user(id: \"\"\"a\\\"\"\"b\"\"\") b: user(id: [\"\"\"\"], c: {deep}) {{ id }} }}"
        ),
    ] {
        let body = app.graphql(None, &query, json!({})).await;
        assert_eq!(body["data"], json!(null), "{body}");
        assert_eq!(
            body["errors"][0]["message"], "the document nests brackets more than 64 levels deep",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    // WebSocket operations pass the same check, on both subprotocols.
    let query = format!("{{ user(id: [\"\"\"\"]) @skip(if: {deep}) {{ id }} }}");
    for (protocol, start, result) in [
        ("graphql-transport-ws", "subscribe", "next"),
        ("graphql-ws", "start", "data"),
    ] {
        let mut client = app.websocket(protocol).await;
        match client.init(None).await {
            crate::common::WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
            other => panic!("{protocol}: expected connection_ack, got {other:?}"),
        }
        client
            .send(json!({ "id": "1", "type": start, "payload": { "query": query } }))
            .await;
        let answer = client.next_json().await;
        assert_eq!(answer["type"], result, "{protocol}: {answer}");
        assert_eq!(
            answer["payload"]["data"],
            json!(null),
            "{protocol}: {answer}"
        );
        assert_eq!(
            answer["payload"]["errors"][0]["message"],
            "the document nests brackets more than 64 levels deep",
            "{protocol}: {answer}"
        );
        assert_eq!(
            answer["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{protocol}: {answer}"
        );
    }
    let still = app.graphql(None, "{ xpRewards { xp } }", json!({})).await;
    assert_eq!(still["data"]["xpRewards"][0]["xp"], 100, "{still}");
}

/// Documents are parsed once per query text; each request still applies its own
/// variables (here to @skip) to its own copy.
#[tokio::test(flavor = "multi_thread")]
async fn one_query_text_with_different_variables_answers_each_request_by_its_own() {
    let app = TestApp::spawn().await;
    let query = "query($skip: Boolean!) { xpRewards @skip(if: $skip) { xp } levelThresholds: xpRewards { action } }";
    let actions: Vec<serde_json::Value> = [
        "STORY_CREATED",
        "STORY_PUBLISHED",
        "COLLABORATION_COMPLETED",
        "STORY_LIKED",
        "STORY_COMMENTED",
        "FRIEND_ADDED",
        "CHARACTER_CREATED",
        "STORY_READ",
        "ACHIEVEMENT_EARNED",
        "CUSTOM",
        "STREAK_BONUS",
        "QUEST_COMPLETED",
        "DAILY_QUESTS_CLEARED",
        "FRIEND_COLLABORATION",
    ]
    .iter()
    .map(|action| json!({ "action": action }))
    .collect();
    let amounts: Vec<serde_json::Value> = [100, 50, 50, 5, 10, 20, 25, 5, 30, 0, 50, 25, 50, 25]
        .iter()
        .map(|xp| json!({ "xp": xp }))
        .collect();
    let skipped = app.ok(None, query, json!({ "skip": true })).await;
    assert_eq!(skipped, json!({ "levelThresholds": actions }));
    let kept = app.ok(None, query, json!({ "skip": false })).await;
    assert_eq!(
        kept,
        json!({ "xpRewards": amounts, "levelThresholds": actions })
    );
    let skipped_again = app.ok(None, query, json!({ "skip": true })).await;
    assert_eq!(skipped_again, skipped);
}

#[tokio::test(flavor = "multi_thread")]
async fn graphiqls_introspection_query_is_not_counted_as_deep() {
    let app = TestApp::spawn().await;
    let type_ref = "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";
    let query = format!(
        "query IntrospectionQuery {{ __schema {{ queryType {{ name }} types {{ ...FullType }} }} }} \
         fragment FullType on __Type {{ kind name fields(includeDeprecated: true) {{ name args {{ name type {{ ...TypeRef }} }} type {{ ...TypeRef }} }} }} \
         fragment TypeRef on __Type {{ {type_ref} }}"
    );
    let body = app.graphql(None, &query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let schema = &body["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    // Every type of schema.graphql, the built-in scalars and introspection's own.
    let mut named: Vec<String> = storyxp::graphql::sdl()
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match words.next()? {
                "type" | "input" | "enum" | "scalar" | "interface" | "union" => {
                    words.next().map(str::to_string)
                }
                _ => None,
            }
        })
        .chain(
            [
                "Boolean",
                "Float",
                "ID",
                "Int",
                "String",
                "__Directive",
                "__DirectiveLocation",
                "__EnumValue",
                "__Field",
                "__InputValue",
                "__Schema",
                "__Type",
                "__TypeKind",
            ]
            .map(str::to_string),
        )
        .collect();
    named.sort();
    named.dedup();
    let mut served: Vec<String> = schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ty| ty["name"].as_str().unwrap().to_string())
        .collect();
    served.sort();
    assert_eq!(served, named);
    // The deepest type reference resolved in full: markNotificationsRead(ids: [ID!]!).
    let mutation = schema["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ty| ty["name"] == "Mutation")
        .unwrap();
    let mark = mutation["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|field| field["name"] == "markNotificationsRead")
        .unwrap();
    assert_eq!(
        mark["args"][0]["type"],
        json!({ "kind": "NON_NULL", "name": null, "ofType": { "kind": "LIST", "name": null, "ofType": {
            "kind": "NON_NULL", "name": null, "ofType": { "kind": "SCALAR", "name": "ID", "ofType": null } } } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_over_complex_query_is_refused() {
    let app = TestApp::spawn().await;
    let fields: String = (0..20)
        .map(|n| format!("s{n}: stories(first: 100) {{ nodes {{ id title content author {{ id username }} }} }} "))
        .collect();
    let body = app
        .graphql(None, &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_eq!(
        body,
        json!({ "data": null, "errors": [{ "message": "Query is too complex.", "extensions": { "code": "BAD_USER_INPUT" } }] })
    );
    // Each of those fields alone is fine: it is their sum that is refused.
    let one = app
        .ok(
            None,
            "{ s0: stories(first: 100) { nodes { id title content author { id username } } } }",
            json!({}),
        )
        .await;
    assert_eq!(one, json!({ "s0": { "nodes": [] } }));
}

#[tokio::test(flavor = "multi_thread")]
async fn log_in_and_sign_up_are_throttled_per_address() {
    let database = crate::common::fresh_database().await;
    let options = storyxp::app::server::ServerOptions {
        cors_origins: vec![],
        auth_attempts_per_minute: 3,
        ..Default::default()
    };
    let app = TestApp::spawn_with(database, options).await;
    let first_attempt = std::time::Instant::now();
    app.sign_up("alice").await;
    let log_in =
        "mutation { logIn(input: { login: \"alice\", password: \"wrong horse\" }) { token } }";
    assert_eq!(
        app.error_code(None, log_in, json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.error_code(None, log_in, json!({})).await,
        "UNAUTHENTICATED"
    );
    let throttled = app.graphql(None, log_in, json!({})).await;
    assert_eq!(
        throttled["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{throttled}"
    );
    // 3 a minute: the next attempt is allowed 20 s after the first (whole seconds).
    let retry_after = throttled["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap();
    let since_first = first_attempt.elapsed().as_secs();
    assert!(
        retry_after <= 20 && retry_after + since_first + 1 >= 20,
        "retry after {retry_after} s, {since_first} s after the first attempt: {throttled}"
    );
    assert_eq!(
        throttled["errors"][0]["message"],
        format!("too many attempts from your address; try again in {retry_after} seconds")
    );
    let sign_up = app
        .error_code(
            None,
            "mutation { signUp(input: { username: \"bob\", email: \"bob@example.com\", password: \"correct horse\" }) { token } }",
            json!({}),
        )
        .await;
    assert_eq!(sign_up, "FORBIDDEN", "signUp shares the address's budget");
    let other = app.ok(None, "{ xpRewards { xp } }", json!({})).await;
    assert_eq!(
        other["xpRewards"][0]["xp"], 100,
        "other operations are not throttled"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn automatic_persisted_queries_follow_apollos_protocol() {
    use sha2::Digest;
    let app = TestApp::spawn().await;
    let query = "{ xpRewards { action xp } }";
    let hash: String = sha2::Sha256::digest(query.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let unknown = app
        .post_raw(
            "application/json",
            serde_json::to_vec(&json!({ "extensions": extensions })).unwrap(),
        )
        .await;
    assert_eq!(unknown.0, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&unknown.1).unwrap(),
        json!({ "data": null, "errors": [{ "message": "PersistedQueryNotFound", "extensions": { "code": "BAD_USER_INPUT" } }] })
    );
    let register = app
        .post_raw(
            "application/json",
            serde_json::to_vec(&json!({ "query": query, "extensions": extensions })).unwrap(),
        )
        .await;
    assert_eq!(register.0, 200);
    let registered: serde_json::Value = serde_json::from_str(&register.1).unwrap();
    assert_eq!(
        registered["data"]["xpRewards"][0],
        json!({ "action": "STORY_CREATED", "xp": 100 })
    );
    let by_hash = app
        .post_raw(
            "application/json",
            serde_json::to_vec(&json!({ "extensions": extensions })).unwrap(),
        )
        .await;
    let body: serde_json::Value = serde_json::from_str(&by_hash.1).unwrap();
    assert_eq!(
        body["data"]["xpRewards"][0],
        json!({ "action": "STORY_CREATED", "xp": 100 })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_the_configured_origins_only() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    for (origin, allowed) in [(ALLOWED_ORIGIN, true), ("http://evil.example", false)] {
        let response = client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/graphql", app.base_url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        let header = response
            .headers()
            .get("access-control-allow-origin")
            .map(|value| value.to_str().unwrap().to_string());
        assert_eq!(header, allowed.then(|| origin.to_string()), "{origin}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_errors_say_nothing_about_internals() {
    let app = TestApp::spawn().await;
    let mut connection = app.sql().await;
    diesel::sql_query("ALTER TABLE stories RENAME TO stories_elsewhere")
        .execute(&mut connection)
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .json(&json!({ "query": "{ stories { nodes { id } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 16);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"],
        json!({ "code": "INTERNAL_SERVER_ERROR" })
    );
    assert_eq!(body["errors"][0]["message"], "internal server error");
    assert!(
        !body.to_string().contains("stories_elsewhere") && !body.to_string().contains("relation"),
        "{body}"
    );
}

#[derive(diesel::QueryableByName)]
struct Calls {
    #[diesel(sql_type = BigInt)]
    calls: i64,
}

async fn statements_run(app: &TestApp) -> i64 {
    let mut connection = app.sql().await;
    let row: Calls = diesel::sql_query(
        "SELECT coalesce(sum(calls), 0)::int8 AS calls FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'SET %'",
    )
    .get_result(&mut connection)
    .await
    .unwrap();
    row.calls
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_reads_do_not_grow_with_the_page() {
    // On the real clock: under the test clock each checkout also sets the instant.
    let options = storyxp::app::server::ServerOptions {
        auth_attempts_per_minute: 100_000,
        ..Default::default()
    };
    let app = TestApp::spawn_with(crate::common::fresh_database().await, options).await;
    let authors = crate::common::sign_up_many(&app, "writer", 5).await;
    let reader = app.sign_up("reader").await;
    for (n, author) in authors.iter().cycle().take(30).enumerate() {
        let id = app
            .create_published_story(author, &format!("Story {n}"))
            .await;
        app.ok(
            Some(&reader.token),
            "mutation($id: ID!) { likeStory(id: $id) { story { id } } }",
            json!({ "id": id }),
        )
        .await;
    }
    let query = "query($first: Int) { stories(first: $first) { nodes { title likeCount author { username level } } } }";
    let mut counts = Vec::new();
    for first in [3, 30] {
        let before = statements_run(&app).await;
        let data = app.ok(None, query, json!({ "first": first })).await;
        assert_eq!(data["stories"]["nodes"].as_array().unwrap().len(), first);
        counts.push(statements_run(&app).await - before);
    }
    assert_eq!(
        counts[0], counts[1],
        "statements for 3 and for 30 stories: {counts:?}"
    );
    assert_eq!(
        counts[1], 3,
        "one query for the page, one per loader (authors, like counts)"
    );

    // Deeper nesting: comments with their authors, the authors' achievements and characters.
    let page = app
        .ok(None, "{ stories(first: 10) { nodes { id } } }", json!({}))
        .await;
    for (n, story) in page["stories"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let comment = "mutation($id: ID!, $body: String!) { commentOnStory(storyId: $id, body: $body) { comment { id } } }";
        app.ok(
            Some(&reader.token),
            comment,
            json!({ "id": story["id"], "body": format!("Nice {n}") }),
        )
        .await;
    }
    let deep = "query($first: Int) { stories(first: $first) { nodes { title comments { body author { username } } \
                author { username achievements { key } characters { name } } } } }";
    let mut deep_counts = Vec::new();
    for first in [3, 30] {
        let before = statements_run(&app).await;
        let data = app.ok(None, deep, json!({ "first": first })).await;
        assert_eq!(data["stories"]["nodes"].as_array().unwrap().len(), first);
        deep_counts.push(statements_run(&app).await - before);
    }
    // Loads of one loader at different levels (story authors, comment authors) may or may
    // not land in one batch, so the count may differ by one; it never grows with the page
    // (N+1 would be 30 or more here).
    assert!(
        deep_counts.iter().all(|count| (5..=6).contains(count)),
        "the page, then one query per loader: {deep_counts:?}"
    );
}

/// A query text that ran cleanly once skips async-graphql's document-only validation
/// rules afterwards; a bad variable is still refused, by the field that parses it.
/// Mutations are fully validated every time, so a bad one runs none of its fields.
#[tokio::test(flavor = "multi_thread")]
async fn validated_documents_still_refuse_bad_variables() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let query = "query($id: ID!) { user(id: $id) { username } }";
    for _ in 0..2 {
        let data = app.ok(None, query, json!({ "id": alice.id })).await;
        assert_eq!(data, json!({ "user": { "username": "alice" } }));
    }
    for (bad, message) in [
        (
            json!({ "id": { "not": "an id" } }),
            "Expected input type \"ID\", found {not: \"an id\"}.",
        ),
        (json!({}), "Variable id is not defined."),
    ] {
        let body = app.graphql(None, query, bad.clone()).await;
        assert_eq!(body["errors"][0]["message"], message, "{bad}: {body}");
        assert_eq!(body["errors"][0]["path"], json!(["user"]), "{bad}: {body}");
        assert_eq!(body["data"], json!(null), "{bad}: {body}");
    }

    let create =
        "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }";
    let input = json!({ "input": { "title": "Dawn", "content": "" } });
    app.ok(Some(&alice.token), create, input).await;
    let before = app.xp(&alice).await;
    let bad = json!({ "input": { "title": 5, "content": "" } });
    let body = app.graphql(Some(&alice.token), create, bad).await;
    assert_eq!(
        body["errors"][0]["message"],
        "Invalid value for argument \"input.title\", expected type \"String\"",
        "{body}"
    );
    assert_eq!(
        body["errors"][0].get("path"),
        None,
        "refused by validation, before any field ran: {body}"
    );
    assert_eq!(body["data"], json!(null), "{body}");
    assert_eq!(app.xp(&alice).await, before, "nothing was created");
}

/// PostgreSQL's text cannot hold a NUL character: a text with one must be refused as
/// bad input, not fail inside the database.
#[tokio::test(flavor = "multi_thread")]
async fn a_nul_character_in_a_text_is_bad_user_input() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let bob = app.sign_up("bob").await;
    let story = app.create_published_story(&alice, "Dawn").await;
    let (alice_before, bob_before) = (app.xp(&alice).await, app.xp(&bob).await);
    let nul = "a\u{0}b";
    let cases: [(&str, Option<&str>, serde_json::Value); 7] = [
        (
            "mutation($v: String!) { logIn(input: { login: $v, password: \"correct horse\" }) { token } }",
            None,
            json!({ "v": nul }),
        ),
        (
            "mutation($v: String!) { signUp(input: { username: \"carol\", email: $v, password: \"correct horse\" }) { token } }",
            None,
            json!({ "v": "carol\u{0}@example.com" }),
        ),
        (
            "mutation($v: String!) { createStory(input: { title: $v, content: \"\" }) { story { id } } }",
            Some(&alice.token),
            json!({ "v": nul }),
        ),
        (
            "mutation($v: String!) { createStory(input: { title: \"Dusk\", content: $v }) { story { id } } }",
            Some(&alice.token),
            json!({ "v": nul }),
        ),
        (
            "mutation($id: ID!, $v: String!) { commentOnStory(storyId: $id, body: $v) { comment { id } } }",
            Some(&bob.token),
            json!({ "id": story, "v": nul }),
        ),
        (
            "mutation($v: String!) { createCharacter(input: { name: $v }) { character { id } } }",
            Some(&bob.token),
            json!({ "v": nul }),
        ),
        (
            "mutation($v: String!) { createCharacter(input: { name: \"Hero\", description: $v }) { character { id } } }",
            Some(&bob.token),
            json!({ "v": nul }),
        ),
    ];
    for (query, token, variables) in cases {
        let body = app.graphql(token, query, variables).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {body}"
        );
    }
    assert_eq!(
        (app.xp(&alice).await, app.xp(&bob).await),
        (alice_before, bob_before),
        "nothing was written"
    );
}

/// A literal nested thousands deep must be refused, not crash the process. pest,
/// under async-graphql's parser, refuses input nested deeper than the stack it has left
/// allows, but what async-graphql then does with an accepted one needs more: depths
/// just below pest's refusal overflow the stack (with 2 MiB of stack, about 2,000 to
/// 6,600 levels of a list in a debug build; more with more stack). Every depth from 500
/// to 30,000 (60 KB) is tried, to hit that window whatever the stack and build. The
/// server runs as a process of its own here, so that a crash is its death, not the
/// test's.
#[tokio::test(flavor = "multi_thread")]
async fn literals_nested_thousands_deep_are_refused_without_crashing_the_server() {
    let app = TestApp::spawn().await;
    let port = crate::common::free_port();
    let mut server = crate::common::storyxp_command(&app, &["serve"])
        .env("STORYXP_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "JWT_SECRET",
            String::from_utf8(crate::common::SECRET.to_vec()).unwrap(),
        )
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = crate::common::wait_until_healthy(&base, 30).await;
    assert!(ready, "the server came up");
    for depth in (1..=60).map(|n| n * 500) {
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let query = format!(
                "{{ user(id: {}1{}) {{ id }} }}",
                open.repeat(depth),
                close.repeat(depth)
            );
            let answer = http
                .post(format!("{base}/graphql"))
                .json(&json!({ "query": query }))
                .send()
                .await;
            assert!(
                server.try_wait().unwrap().is_none(),
                "the server died of a literal nested {depth} deep in {open}{close}"
            );
            let body: serde_json::Value = answer.unwrap().json().await.unwrap();
            assert_eq!(body["data"], json!(null), "{depth} {open}{close}: {body}");
            assert!(body["errors"][0]["message"].is_string(), "{body}");
        }
    }
    let _ = server.kill().await;
}

/// Errors async-graphql makes itself (parse, validation, variables, complexity, an
/// unknown persisted query) carry `extensions.code` like every other error.
#[tokio::test(flavor = "multi_thread")]
async fn request_errors_carry_a_code_over_http_and_websocket() {
    let app = TestApp::spawn().await;
    let unknown_hash = json!({ "persistedQuery": { "version": 1, "sha256Hash": "00" } });
    let cases = [
        (json!({ "query": "{ me { id }" }), "parse"),
        (json!({ "query": "{ nosuchfield }" }), "validation"),
        (
            json!({ "query": "query($id: ID!) { user(id: $id) { id } }", "variables": { "id": [1] } }),
            "variables",
        ),
        (json!({ "extensions": unknown_hash }), "persisted query"),
    ];
    let http = reqwest::Client::new();
    let mut socket = app.websocket("graphql-transport-ws").await;
    match socket.init(None).await {
        crate::common::WsEvent::Json(ack) => assert_eq!(ack["type"], "connection_ack"),
        other => panic!("expected connection_ack, got {other:?}"),
    }
    for (id, (payload, what)) in cases.iter().enumerate() {
        let body: serde_json::Value = http
            .post(format!("{}/graphql", app.base_url))
            .json(payload)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{what} over HTTP: {body}"
        );
        let mut payload = payload.clone();
        if payload.get("query").is_none() {
            payload["query"] = json!("");
        }
        socket
            .send(json!({ "id": id.to_string(), "type": "subscribe", "payload": payload }))
            .await;
        let answer = socket.next_json().await;
        let errors = match answer["type"].as_str() {
            Some("error") => answer["payload"].clone(),
            _ => answer["payload"]["errors"].clone(),
        };
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{what} over WebSocket: {answer}"
        );
        if answer["type"] == "next" {
            assert_eq!(socket.next_json().await["type"], "complete");
        }
    }
}
