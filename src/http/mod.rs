//! The HTTP surface: routes, the GraphQL endpoint, GraphiQL, subscriptions and the
//! health check, with the limits every request passes through.

mod admin;
mod graphiql;
mod health;
mod metrics;
mod negotiation;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{BatchRequest, BatchResponse, ServerError};
use async_graphql_axum::GraphQLProtocol;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, UPGRADE, WWW_AUTHENTICATE,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};
use tower_layer::Layer;
use tracing::Instrument;

use crate::auth::throttle::ClientAddress;
use crate::auth::{Authentication, TokenKeys};
use crate::db::DbPool;
use crate::error::{AppError, code_uncoded_errors};
use crate::graphql::AppSchema;
use crate::graphql::documents::{Document, Documents};
use crate::live::LiveHub;
use crate::metrics::{Metrics, OperationKind, Outcome};
use negotiation::{Accept, ResponseType};

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most operations in one batched request.
pub const MAX_BATCH: usize = 10;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The schema of POST /graphql (requests arrive parsed, see `documents`).
    pub schema: AppSchema,
    /// The same for query documents that passed its full validation once.
    pub validated_schema: AppSchema,
    /// The schema of WebSocket operations.
    pub websocket_schema: AppSchema,
    pub documents: Arc<Documents>,
    pub pool: DbPool,
    pub keys: TokenKeys,
    pub live: LiveHub,
    pub metrics: Metrics,
    pub cors_origins: Arc<Vec<String>>,
    pub clock: crate::clock::Clock,
}

/// The routes, wrapped as a whole in the CORS layer (`Router::layer` would wrap each
/// route instead: a boxed service and future per request). The one handler that reads
/// a body limits it itself (`read_body`).
pub fn app(state: AppState) -> App {
    let cors = cors(&state.cors_origins);
    let router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/admin", get(admin::page))
        .route("/admin/assets/{asset}", get(admin::asset))
        .route("/healthz", get(health::check))
        .route("/metrics", get(metrics::render))
        .with_state(state);
    cors.layer(router)
}

/// A file embedded in the binary (GraphiQL's, the dashboard's), with its content type,
/// caching and `nosniff`.
fn static_file(body: &'static [u8], content_type: &str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&format!("{content_type}; charset=utf-8"))
            .unwrap_or(HeaderValue::from_static("text/plain")),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The service `app` builds.
pub type App = Cors<Router>;

/// Browsers may call the API from the configured origins only (none by default).
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| origin.parse().ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            AUTHORIZATION,
            CONTENT_TYPE,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            HeaderName::from_static(crate::clock::NOW_HEADER),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// GET /graphql: a WebSocket upgrade for subscriptions, else GraphQL over HTTP's GET (or
/// GraphiQL for a browser, see `graphql_over_get`).
async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    let wants_websocket = parts
        .headers
        .get(UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !wants_websocket {
        return graphql_over_get(&state, client, &parts).await;
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return (
                status,
                "use the graphql-transport-ws or graphql-ws subprotocol\n",
            )
                .into_response();
        }
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // The default 128 KiB buffers would cost over 1 GB at 10,000 idle subscribers;
        // our messages are small and larger ones simply take more reads.
        .read_buffer_size(websocket::BUFFER_SIZE)
        .write_buffer_size(websocket::BUFFER_SIZE)
        .on_upgrade(move |socket| {
            websocket::serve(socket, protocol, state, ClientAddress(client.ip()))
        })
}

/// The parameters of a GET, URL-encoded in its query string (`variables` and
/// `extensions` as JSON text).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParameters {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

impl GetParameters {
    /// Whether the URL names something to run (a query text or a persisted query).
    fn names_an_operation(&self) -> bool {
        self.query.is_some() || self.extensions.is_some()
    }

    fn into_request(self) -> Result<async_graphql::Request, String> {
        let mut request = async_graphql::Request::new(self.query.unwrap_or_default());
        request.operation_name = self.operation_name;
        if let Some(variables) = self.variables {
            request.variables = serde_json::from_str(&variables)
                .map_err(|error| format!("`variables` is not a JSON object: {error}"))?;
        }
        if let Some(extensions) = self.extensions {
            request.extensions = serde_json::from_str(&extensions)
                .map_err(|error| format!("`extensions` is not a JSON object: {error}"))?;
        }
        Ok(request)
    }
}

/// GraphQL over HTTP's GET: one query from the URL, run as a POST's would be (same
/// documents, caller, throttle address and request id). GET must change nothing, so a
/// mutation or subscription answers 405 before it runs. A browser that names no
/// operation (it asks for `text/html` first) gets GraphiQL.
async fn graphql_over_get(state: &AppState, client: SocketAddr, parts: &Parts) -> Response {
    let started = Instant::now();
    let accept = Accept::from_headers(&parts.headers);
    let parameters = Query::<GetParameters>::try_from_uri(&parts.uri);
    if let Ok(Query(parameters)) = &parameters {
        if !parameters.names_an_operation() && accept.prefers_html() {
            return graphiql::page().await.into_response();
        }
    }
    let Some(response_type) = accept.response_type() else {
        return not_acceptable();
    };
    let request = match parameters {
        Ok(Query(parameters)) => parameters.into_request(),
        Err(rejection) => Err(format!("the URL's parameters cannot be read: {rejection}")),
    };
    let request = match request {
        Ok(request) => request,
        Err(message) => return request_error(StatusCode::BAD_REQUEST, response_type, &message),
    };
    if has_no_query(&request) {
        return request_error(StatusCode::BAD_REQUEST, response_type, NO_QUERY);
    }
    let request_id = new_request_id();
    let now = match request_now(state, &parts.headers) {
        Ok(now) => now,
        Err(message) => return request_error(StatusCode::BAD_REQUEST, response_type, &message),
    };
    let response = match authentication(state, &parts.headers) {
        Ok(authentication) => {
            let request = authentication
                .attach(request)
                .data(ClientAddress(client.ip()))
                .data(now);
            execute_query(state, request, response_type, started)
                .instrument(request_span(&request_id))
                .await
        }
        Err(error) => {
            request_span(&request_id).in_scope(|| refused(state, error, response_type, started))
        }
    };
    with_request_id(response, &request_id)
}

/// One operation, or a batch when the body is a JSON array. (BatchRequest's own
/// untagged deserialisation buffers the whole body before it tries either shape.)
fn parse_request(body: &[u8]) -> serde_json::Result<BatchRequest> {
    match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(body).map(BatchRequest::Batch),
        _ => serde_json::from_slice(body).map(BatchRequest::Single),
    }
}

/// The whole body, up to MAX_BODY_BYTES (413 beyond, whatever Content-Length says).
async fn read_body(body: Body, response_type: ResponseType) -> Result<Bytes, Response> {
    use http_body_util::{BodyExt, LengthLimitError, Limited};
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(request_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            response_type,
            &format!("a request body holds at most {MAX_BODY_BYTES} bytes"),
        )),
        Err(error) => Err(request_error(
            StatusCode::BAD_REQUEST,
            response_type,
            &format!("the body could not be read: {error}"),
        )),
    }
}

/// Reads and drops the body of a request refused before its body was read (up to
/// MAX_BODY_BYTES). Unread, it would make the connection close with data pending, which
/// resets it: a client still sending its body would get the reset, not the refusal.
async fn discard_body(body: Body) {
    use http_body_util::{BodyExt, Limited};
    let mut body = Limited::new(body, MAX_BODY_BYTES);
    while let Some(Ok(_)) = body.frame().await {}
}

const NO_QUERY: &str = "the request has no `query` (nor a persisted query's hash)";

/// No query text and no persisted query to run: a malformed request (400), not a
/// document that fails to parse.
fn has_no_query(request: &async_graphql::Request) -> bool {
    request.query.is_empty() && !request.extensions.contains_key("persistedQuery")
}

/// POST /graphql (JSON; one operation or a batch of up to MAX_BATCH). A bad token
/// refuses the whole request; no token is an anonymous caller.
async fn graphql(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let Some(response_type) = Accept::from_headers(&headers).response_type() else {
        discard_body(body).await;
        return not_acceptable();
    };
    if !negotiation::is_json(headers.get(CONTENT_TYPE)) {
        discard_body(body).await;
        return request_error(
            StatusCode::BAD_REQUEST,
            response_type,
            "Content-Type must be application/json",
        );
    }
    let body = match read_body(body, response_type).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let request: BatchRequest = match parse_request(&body) {
        Ok(request) => request,
        Err(error) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                response_type,
                &format!("the body is not a GraphQL request in JSON: {error}"),
            );
        }
    };
    match &request {
        BatchRequest::Single(operation) if has_no_query(operation) => {
            return request_error(StatusCode::BAD_REQUEST, response_type, NO_QUERY);
        }
        BatchRequest::Batch(operations)
            if operations.is_empty() || operations.len() > MAX_BATCH =>
        {
            return request_error(
                StatusCode::BAD_REQUEST,
                response_type,
                &format!("a batch holds 1 to {MAX_BATCH} operations"),
            );
        }
        _ => {}
    }
    let request_id = new_request_id();
    let now = match request_now(&state, &headers) {
        Ok(now) => now,
        Err(message) => return request_error(StatusCode::BAD_REQUEST, response_type, &message),
    };
    let response = match authentication(&state, &headers) {
        Ok(authentication) => {
            let request = authentication
                .attach_to_batch(request)
                .data(ClientAddress(client.ip()))
                .data(now);
            graphql_response(
                response_type,
                execute(&state, request, started)
                    .instrument(request_span(&request_id))
                    .await,
            )
        }
        Err(error) => {
            request_span(&request_id).in_scope(|| refused(&state, error, response_type, started))
        }
    };
    with_request_id(response, &request_id)
}

/// The instant `X-Storyxp-Now` names under the test clock (None: the real clock); a
/// malformed one is a bad request.
fn request_now(state: &AppState, headers: &HeaderMap) -> Result<crate::clock::RequestNow, String> {
    state
        .clock
        .request_now(
            headers
                .get(crate::clock::NOW_HEADER)
                .map(HeaderValue::as_bytes),
        )
        .map_err(|error| error.to_string())
}

/// Who the Authorization header names (none: anonymous); a bad or ended token is an
/// error.
fn authentication(state: &AppState, headers: &HeaderMap) -> Result<Authentication, AppError> {
    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    state.keys.authenticate(authorization)
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The span of one HTTP request's log lines: its id, and the operation's name once its
/// document is known (`select_operation`).
fn request_span(request_id: &str) -> tracing::Span {
    tracing::info_span!(
        "graphql",
        request_id = %request_id,
        operation = tracing::field::Empty
    )
}

/// Runs each operation of a POST; each of a batch names itself in a span of its own.
async fn execute(state: &AppState, request: BatchRequest, started: Instant) -> BatchResponse {
    match request {
        BatchRequest::Single(request) => BatchResponse::Single(run(state, request, started).await),
        BatchRequest::Batch(requests) => BatchResponse::Batch(
            futures_util::future::join_all(requests.into_iter().map(|request| {
                let span = tracing::info_span!("operation", operation = tracing::field::Empty);
                run(state, request, started).instrument(span)
            }))
            .await,
        ),
    }
}

/// Runs one operation with its document from `Documents` (parsed, depth-checked); an
/// operation whose document is refused answers with that error alone.
async fn run(
    state: &AppState,
    mut request: async_graphql::Request,
    started: Instant,
) -> async_graphql::Response {
    let (kind, response) = match state.documents.prepare(&mut request) {
        Ok(document) => {
            let kind = select_operation(&request, &document);
            (kind, run_prepared(state, request, &document).await)
        }
        Err(error) => (
            OperationKind::Unknown,
            async_graphql::Response::from_errors(vec![error]),
        ),
    };
    finished(state, kind, Outcome::of(&response), started);
    response
}

/// Runs a GET's operation if it is a query (405 otherwise, before anything runs). One
/// that selects no operation runs: async-graphql answers with the reason.
async fn execute_query(
    state: &AppState,
    mut request: async_graphql::Request,
    response_type: ResponseType,
    started: Instant,
) -> Response {
    let (kind, response) = match state.documents.prepare(&mut request) {
        Ok(document) => match select_operation(&request, &document) {
            kind @ (OperationKind::Mutation | OperationKind::Subscription) => {
                finished(state, kind, Outcome::Error, started);
                return method_not_allowed(response_type);
            }
            kind => (kind, run_prepared(state, request, &document).await),
        },
        Err(error) => (
            OperationKind::Unknown,
            async_graphql::Response::from_errors(vec![error]),
        ),
    };
    finished(state, kind, Outcome::of(&response), started);
    graphql_response(response_type, BatchResponse::Single(response))
}

/// The kind of operation `request` selects from its document; names the operation in
/// the current span (the request's) as the request names it, else as the document does.
fn select_operation(request: &async_graphql::Request, document: &Document) -> OperationKind {
    let selected = document.operation(request.operation_name.as_deref());
    let name = request
        .operation_name
        .as_deref()
        .or(selected.and_then(|(_, name)| name));
    if let Some(name) = name {
        tracing::Span::current().record("operation", name);
    }
    OperationKind::from(selected.map(|(operation_type, _)| operation_type))
}

/// Counts a finished operation (the time since its HTTP request arrived) and logs it at
/// debug level: an info line per request would be too many at tens of thousands a
/// second.
fn finished(state: &AppState, kind: OperationKind, outcome: Outcome, started: Instant) {
    let latency = started.elapsed();
    state.metrics.count_request(kind, outcome, latency);
    tracing::debug!(
        operation_type = kind.label(),
        outcome = outcome.label(),
        seconds = latency.as_secs_f64(),
        "graphql request"
    );
}

/// Runs an operation whose document `Documents` set: on the validation-light schema once
/// a query document ran cleanly, else fully validated.
async fn run_prepared(
    state: &AppState,
    request: async_graphql::Request,
    document: &Document,
) -> async_graphql::Response {
    if document.is_validated() {
        return state.validated_schema.execute(request).await;
    }
    let response = state.schema.execute(request).await;
    if response.errors.is_empty() {
        document.validated();
    }
    response
}

/// A response body of errors alone: the request ran nothing, so it has no `data`.
#[derive(Serialize)]
struct Errors<'a> {
    errors: &'a [ServerError],
}

/// GraphQL's answer in the negotiated type. It is 200 (errors or not), except that with
/// `application/graphql-response+json` a request error (async-graphql answers a
/// document, validation or variable failure with null data and errors that have no
/// path; a field error has one) is 400 with the errors alone.
fn graphql_response(response_type: ResponseType, mut response: BatchResponse) -> Response {
    match &mut response {
        BatchResponse::Single(single) => code_uncoded_errors(&mut single.errors),
        BatchResponse::Batch(responses) => responses
            .iter_mut()
            .for_each(|single| code_uncoded_errors(&mut single.errors)),
    }
    let (status, body) = match &response {
        BatchResponse::Single(single)
            if response_type == ResponseType::GraphQLResponseJson && is_request_error(single) =>
        {
            let errors = Errors {
                errors: &single.errors,
            };
            (StatusCode::BAD_REQUEST, serde_json::to_vec(&errors))
        }
        _ => (StatusCode::OK, serde_json::to_vec(&response)),
    };
    let mut http = json_response(status, response_type, body);
    if status == StatusCode::OK && response.is_ok() {
        if let Some(value) = response
            .cache_control()
            .value()
            .and_then(|value| HeaderValue::from_str(&value).ok())
        {
            http.headers_mut().insert(CACHE_CONTROL, value);
        }
    }
    match response {
        BatchResponse::Single(single) => http.headers_mut().extend(single.http_headers),
        BatchResponse::Batch(responses) => {
            for single in responses {
                http.headers_mut().extend(single.http_headers);
            }
        }
    }
    http
}

fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn json_response(
    status: StatusCode,
    response_type: ResponseType,
    body: serde_json::Result<Vec<u8>>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "a response could not be written as JSON");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, response_type.content_type());
    response
}

/// A request refused before GraphQL runs (malformed, too large, wrong method): `status`
/// and one error with code BAD_USER_INPUT, without `data`, in the negotiated type.
fn request_error(status: StatusCode, response_type: ResponseType, message: &str) -> Response {
    let errors = [server_error(AppError::BadUserInput(message.to_string()))];
    json_response(
        status,
        response_type,
        serde_json::to_vec(&Errors { errors: &errors }),
    )
}

fn method_not_allowed(response_type: ResponseType) -> Response {
    let mut response = request_error(
        StatusCode::METHOD_NOT_ALLOWED,
        response_type,
        "a GET runs queries only: send mutations with POST, subscriptions over WebSocket",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
    response
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        "Accept must allow application/graphql-response+json or application/json\n",
    )
        .into_response()
}

/// A bad token runs nothing. With `application/json` that answers 200 with the error
/// (UNAUTHENTICATED), as any GraphQL error; `application/graphql-response+json` has no
/// `data` to answer with, so 401. It counts once, as an operation of unknown type.
fn refused(
    state: &AppState,
    error: AppError,
    response_type: ResponseType,
    started: Instant,
) -> Response {
    finished(state, OperationKind::Unknown, Outcome::Error, started);
    let errors = vec![server_error(error)];
    match response_type {
        ResponseType::Json => graphql_response(
            response_type,
            BatchResponse::Single(async_graphql::Response::from_errors(errors)),
        ),
        ResponseType::GraphQLResponseJson => {
            let mut response = json_response(
                StatusCode::UNAUTHORIZED,
                response_type,
                serde_json::to_vec(&Errors { errors: &errors }),
            );
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// One of our errors as a GraphQL error, with its `extensions.code` (and no location:
/// it concerns the request, not a place in its document).
fn server_error(error: AppError) -> ServerError {
    let error: async_graphql::Error = error.into();
    let mut server_error = ServerError::new(error.message, None);
    server_error.extensions = error.extensions;
    server_error
}

/// A short id tying a response to its log lines: unique within the process (a counter
/// scrambled by an odd multiplier, a bijection) and unlike other processes' (a random
/// start), without a system call per request.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static START: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}", *START ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
