//! GraphQL over HTTP as its spec says: media types chosen from Accept, request errors
//! told apart from field errors, GET for queries only, and GraphiQL for browsers.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::common::TestApp;

const JSON: &str = "application/json; charset=utf-8";
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const GRAPHQL_RESPONSE_JSON_ONLY: &str = "application/graphql-response+json";
/// What Chromium sends when it opens a page.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

/// An answer: status, Content-Type and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    async fn from(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.expect("a response body");
        Answer {
            status,
            content_type,
            headers,
            text,
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {self:?}"))
    }

    /// The body's keys, to tell `{"errors"}` from `{"data", "errors"}`.
    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .json()
            .as_object()
            .unwrap_or_else(|| panic!("not a JSON object: {self:?}"))
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    }
}

async fn post(app: &TestApp, accept: Option<&str>, body: Value) -> Answer {
    post_with(app, accept, None, body).await
}

async fn post_with(
    app: &TestApp,
    accept: Option<&str>,
    token: Option<&str>,
    body: Value,
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Answer::from(request.send().await.expect("sending a POST")).await
}

/// GET /graphql with `parameters` URL-encoded into the query string.
async fn get(
    app: &TestApp,
    accept: Option<&str>,
    token: Option<&str>,
    parameters: &[(&str, &str)],
) -> Answer {
    let url = reqwest::Url::parse_with_params(&format!("{}/graphql", app.base_url), parameters)
        .expect("a URL");
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    Answer::from(request.send().await.expect("sending a GET")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_json_any_or_none_answers_application_json_in_utf8() {
    let app = TestApp::spawn().await;
    let query = json!({ "query": "{ __typename }" });
    for accept in [
        Some("application/json"),
        Some("*/*"),
        None,
        Some("application/*"),
        Some("application/json, application/graphql-response+json"),
        Some("application/graphql-response+json;q=0.5, application/json"),
    ] {
        let answer = post(&app, accept, query.clone()).await;
        assert_eq!(answer.status, 200, "{accept:?}: {answer:?}");
        assert_eq!(answer.content_type, JSON, "{accept:?}");
        assert_eq!(answer.json(), json!({ "data": { "__typename": "Query" } }));
    }
    for accept in [
        GRAPHQL_RESPONSE_JSON_ONLY,
        "application/graphql-response+json, application/json;q=0.9",
        "application/json;q=0.9, application/graphql-response+json",
    ] {
        let answer = post(&app, Some(accept), query.clone()).await;
        assert_eq!(answer.status, 200, "{accept}: {answer:?}");
        assert_eq!(answer.content_type, GRAPHQL_RESPONSE_JSON, "{accept}");
        assert_eq!(answer.json(), json!({ "data": { "__typename": "Query" } }));
    }
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ xpRewards { xp } }" }]);
    let answer = post(&app, None, batch).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, JSON);
    assert_eq!(
        answer.json()[0],
        json!({ "data": { "__typename": "Query" } })
    );
    assert_eq!(answer.json()[1]["data"]["xpRewards"][0]["xp"], 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_accept_allowing_neither_json_type_is_406() {
    let app = TestApp::spawn().await;
    for accept in [
        "text/plain",
        "application/xml, text/html",
        "application/json;q=0, application/graphql-response+json;q=0",
    ] {
        let answer = post(&app, Some(accept), json!({ "query": "{ __typename }" })).await;
        assert_eq!(answer.status, 406, "{accept}: {answer:?}");
        assert_eq!(
            answer.text,
            "Accept must allow application/graphql-response+json or application/json\n"
        );
        let answer = get(&app, Some(accept), None, &[("query", "{ __typename }")]).await;
        assert_eq!(answer.status, 406, "GET, {accept}: {answer:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_response_json_answers_parse_validation_and_variable_failures_400_without_data() {
    let app = TestApp::spawn().await;
    let failures = [
        ("parse", json!({ "query": "{" })),
        ("validation", json!({ "query": "{ noSuchField }" })),
        (
            "variables",
            json!({ "query": "query($id: ID!) { user(id: $id) { id } }", "variables": { "id": null } }),
        ),
        (
            "depth",
            json!({ "query": format!("{}id{}", "{ a ".repeat(13), " }".repeat(13)) }),
        ),
    ];
    for (failure, body) in &failures {
        let answer = post(&app, Some(GRAPHQL_RESPONSE_JSON_ONLY), body.clone()).await;
        assert_eq!(answer.status, 400, "{failure}: {answer:?}");
        assert_eq!(answer.content_type, GRAPHQL_RESPONSE_JSON, "{failure}");
        assert_eq!(answer.keys(), ["errors"], "{failure}: no data entry");
        assert!(
            answer.json()["errors"][0]["message"].is_string(),
            "{failure}"
        );
    }
    let validation = post(
        &app,
        Some(GRAPHQL_RESPONSE_JSON_ONLY),
        failures[1].1.clone(),
    )
    .await;
    assert_eq!(
        validation.json()["errors"][0]["message"],
        "Unknown field \"noSuchField\" on type \"Query\"."
    );
    // With application/json the same failures are 200, with errors and null data.
    for (failure, body) in &failures {
        let answer = post(&app, Some("application/json"), body.clone()).await;
        assert_eq!(answer.status, 200, "{failure}: {answer:?}");
        assert_eq!(answer.content_type, JSON, "{failure}");
        assert_eq!(answer.keys(), ["data", "errors"], "{failure}");
        assert_eq!(answer.json()["data"], Value::Null, "{failure}");
    }
    // A field error (it has a path) stays 200 with its data entry, even when null.
    let answer = post(
        &app,
        Some(GRAPHQL_RESPONSE_JSON_ONLY),
        json!({ "query": "{ notifications { nodes { id } } }" }),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, GRAPHQL_RESPONSE_JSON);
    assert_eq!(answer.keys(), ["data", "errors"]);
    assert_eq!(answer.json()["errors"][0]["path"], json!(["notifications"]));
    assert_eq!(
        answer.json()["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_and_requests_without_a_query_are_400_with_json_errors() {
    let app = TestApp::spawn().await;
    let no_query = "the request has no `query` (nor a persisted query's hash)";
    for (body, message) in [
        (json!({}), no_query),
        (json!({ "variables": { "id": 1 } }), no_query),
        (json!({ "qeury": "{ __typename }" }), no_query),
        (json!({ "query": "" }), no_query),
    ] {
        for (accept, content_type) in [
            (None, JSON),
            (Some(GRAPHQL_RESPONSE_JSON_ONLY), GRAPHQL_RESPONSE_JSON),
        ] {
            let answer = post(&app, accept, body.clone()).await;
            assert_eq!(answer.status, 400, "{body}: {answer:?}");
            assert_eq!(answer.content_type, content_type);
            assert_eq!(
                answer.json(),
                json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }] })
            );
        }
    }
    for body in [
        json!({ "query": { "obj": "ect" } }),
        json!({ "query": 0 }),
        json!({ "query": "{ __typename }", "operationName": false }),
        json!({ "query": "{ __typename }", "variables": "string" }),
        json!({ "query": "{ __typename }", "extensions": ["array"] }),
    ] {
        let answer = post(&app, None, body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {answer:?}");
        assert_eq!(answer.content_type, JSON);
        assert_eq!(answer.keys(), ["errors"], "{body}");
        let message = answer.json()["errors"][0]["message"].to_string();
        assert!(
            message.contains("the body is not a GraphQL request in JSON"),
            "{message}"
        );
    }
    let answer = get(
        &app,
        Some("application/json"),
        None,
        &[("operationName", "Q")],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.json()["errors"][0]["message"], no_query);
    let answer = get(
        &app,
        None,
        None,
        &[("query", "{ __typename }"), ("variables", "{not json")],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    let message = answer.json()["errors"][0]["message"].to_string();
    assert!(
        message.contains("`variables` is not a JSON object"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_query_runs_with_url_encoded_variables_operation_name_and_token() {
    let app = TestApp::spawn().await;
    let alice = app.sign_up("alice").await;
    let query = "query Named($id: ID!) { user(id: $id) { username } }";
    let variables = json!({ "id": alice.id }).to_string();
    // Before the text ever ran cleanly (later runs skip full validation, and a bad
    // variable is then the field's error).
    let bad_variables = json!({ "id": null }).to_string();
    let answer = get(
        &app,
        Some(GRAPHQL_RESPONSE_JSON_ONLY),
        None,
        &[("query", query), ("variables", &bad_variables)],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.keys(), ["errors"]);
    let answer = get(
        &app,
        Some("application/json"),
        None,
        &[("query", query), ("variables", &variables)],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, JSON);
    assert_eq!(
        answer.json(),
        json!({ "data": { "user": { "username": "alice" } } })
    );
    assert!(answer.headers.get("x-request-id").is_some());

    let document = "query Mine { me { username } } query Rewards { xpRewards { xp } }";
    let answer = get(
        &app,
        None,
        Some(&alice.token),
        &[("query", document), ("operationName", "Mine")],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, JSON);
    assert_eq!(
        answer.json(),
        json!({ "data": { "me": { "username": "alice" } } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_runs_a_persisted_query_by_its_hash() {
    use sha2::Digest;
    let app = TestApp::spawn().await;
    let query = "{ xpRewards { action xp } }";
    let hash: String = sha2::Sha256::digest(query.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let by_hash = [("extensions", extensions.to_string())];
    let by_hash: Vec<(&str, &str)> = by_hash
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let unknown = get(&app, None, None, &by_hash).await;
    assert_eq!(unknown.status, 200, "{unknown:?}");
    assert_eq!(
        unknown.json()["errors"][0]["message"],
        "PersistedQueryNotFound"
    );
    let register = post(
        &app,
        None,
        json!({ "query": query, "extensions": extensions }),
    )
    .await;
    assert_eq!(register.status, 200, "{register:?}");
    let answer = get(&app, None, None, &by_hash).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json()["data"]["xpRewards"][0],
        json!({ "action": "STORY_CREATED", "xp": 100 })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_get_mutation_or_subscription_is_405_allow_post_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let sign_up = "mutation { signUp(input: { username: \"mallory\", email: \"m@example.com\", password: \"correct horse\" }) { token } }";
    let both = format!("query Rewards {{ xpRewards {{ xp }} }} {sign_up}");
    let both = both.replacen("mutation {", "mutation Join {", 1);
    for (parameters, accept) in [
        (vec![("query", sign_up)], Some("application/json")),
        (vec![("query", sign_up)], Some(GRAPHQL_RESPONSE_JSON_ONLY)),
        (
            vec![("query", both.as_str()), ("operationName", "Join")],
            None,
        ),
        (vec![("query", "subscription { levelUps { level } }")], None),
    ] {
        let answer = get(&app, accept, None, &parameters).await;
        assert_eq!(answer.status, 405, "{parameters:?}: {answer:?}");
        assert_eq!(answer.headers["allow"], "POST");
        assert_eq!(
            answer.json(),
            json!({ "errors": [{
                "message": "a GET runs queries only: send mutations with POST, subscriptions over WebSocket",
                "extensions": { "code": "BAD_USER_INPUT" },
            }] })
        );
    }
    let answer = get(
        &app,
        None,
        None,
        &[("query", both.as_str()), ("operationName", "Rewards")],
    )
    .await;
    assert_eq!(answer.status, 200, "the document's query runs: {answer:?}");
    assert_eq!(answer.json()["data"]["xpRewards"][0]["xp"], 100);
    // The refused sign-up never ran: the name is still free.
    let data = app.ok(None, sign_up, json!({})).await;
    assert!(data["signUp"]["token"].is_string(), "{data}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_get_without_a_query_still_gets_graphiql() {
    let app = TestApp::spawn().await;
    let page = get(&app, Some(BROWSER_ACCEPT), None, &[]).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(page.text.contains("<title>storyxp GraphiQL</title>"));
    // The same browser following a link with a query gets the JSON answer.
    let answer = get(
        &app,
        Some(BROWSER_ACCEPT),
        None,
        &[("query", "{ __typename }")],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, JSON);
    assert_eq!(answer.json(), json!({ "data": { "__typename": "Query" } }));
    // A GET that asks for JSON and sends no query is a request without a query.
    for accept in [Some("application/json"), Some("*/*"), None] {
        let answer = get(&app, accept, None, &[]).await;
        assert_eq!(answer.status, 400, "{accept:?}: {answer:?}");
        assert_eq!(answer.content_type, JSON);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_is_401_with_graphql_response_json_and_200_with_json() {
    let app = TestApp::spawn().await;
    let query = json!({ "query": "{ me { id } }" });
    let unauthenticated =
        |answer: &Answer| answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED";
    let answer = post_with(
        &app,
        Some("application/json"),
        Some("not-a-jwt"),
        query.clone(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.keys(), ["data", "errors"]);
    assert!(unauthenticated(&answer), "{answer:?}");
    let answer = post_with(
        &app,
        Some(GRAPHQL_RESPONSE_JSON_ONLY),
        Some("not-a-jwt"),
        query,
    )
    .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.headers["www-authenticate"], "Bearer");
    assert_eq!(answer.content_type, GRAPHQL_RESPONSE_JSON);
    assert_eq!(answer.keys(), ["errors"]);
    assert!(unauthenticated(&answer), "{answer:?}");
}
