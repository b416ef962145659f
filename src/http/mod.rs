//! The HTTP surface: routes, the GraphQL endpoint, GraphiQL, subscriptions and the
//! health check, with the limits every request passes through.

mod graphiql;
mod health;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{BatchRequest, BatchResponse};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, UPGRADE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};
use tower_layer::Layer;
use tracing::Instrument;

use crate::auth::TokenKeys;
use crate::auth::throttle::ClientAddress;
use crate::db::DbPool;
use crate::error::AppError;
use crate::graphql::AppSchema;
use crate::graphql::documents::Documents;
use crate::live::LiveHub;

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
    pub cors_origins: Arc<Vec<String>>,
}

/// The routes, wrapped as a whole in the CORS layer (`Router::layer` would wrap each
/// route instead: a boxed service and future per request). The one handler that reads
/// a body limits it itself (`read_body`).
pub fn app(state: AppState) -> App {
    let cors = cors(&state.cors_origins);
    let router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/healthz", get(health::check))
        .with_state(state);
    cors.layer(router)
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
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// GET /graphql: a WebSocket upgrade for subscriptions, else GraphiQL.
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| ClientAddress(address.ip()));
    let wants_websocket = parts
        .headers
        .get(UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !wants_websocket {
        return graphiql::page().await.into_response();
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
        .on_upgrade(move |socket| websocket::serve(socket, protocol, state, client))
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
async fn read_body(body: Body) -> Result<Bytes, Response> {
    use http_body_util::{BodyExt, LengthLimitError, Limited};
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a request body holds at most {MAX_BODY_BYTES} bytes\n"),
        )
            .into_response()),
        Err(error) => Err(bad_request(&format!("the body could not be read: {error}"))),
    }
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

/// POST /graphql (JSON; one operation or a batch of up to MAX_BATCH). A bad token
/// refuses the whole request; no token is an anonymous caller.
async fn graphql(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime_guess_free::Mime>().ok())
        .is_some_and(|mime| mime.is_json());
    if !is_json {
        return bad_request("Content-Type must be application/json");
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let request: BatchRequest = match parse_request(&body) {
        Ok(request) => request,
        Err(error) => {
            return bad_request(&format!(
                "the body is not a GraphQL request in JSON: {error}"
            ));
        }
    };
    if let BatchRequest::Batch(operations) = &request {
        if operations.is_empty() || operations.len() > MAX_BATCH {
            return bad_request(&format!("a batch holds 1 to {MAX_BATCH} operations"));
        }
    }
    let request_id = new_request_id();
    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let mut response = match state.keys.authenticate(authorization) {
        Ok(authentication) => {
            let request = authentication
                .attach_to_batch(request)
                .data(ClientAddress(client.ip()));
            let span = tracing::info_span!("graphql", request_id = %request_id);
            GraphQLResponse::from(execute(&state, request).instrument(span).await).into_response()
        }
        Err(error) => refused(error).into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Runs each operation with its document from `Documents` (parsed, depth-checked); an
/// operation whose document is refused answers with that error alone.
async fn execute(state: &AppState, request: BatchRequest) -> BatchResponse {
    let run = async |mut request: async_graphql::Request| {
        let document = match state.documents.prepare(&mut request) {
            Ok(document) => document,
            Err(error) => return async_graphql::Response::from_errors(vec![error]),
        };
        if document.is_validated() {
            return state.validated_schema.execute(request).await;
        }
        let response = state.schema.execute(request).await;
        if response.errors.is_empty() {
            document.validated();
        }
        response
    };
    match request {
        BatchRequest::Single(request) => BatchResponse::Single(run(request).await),
        BatchRequest::Batch(requests) => BatchResponse::Batch(
            futures_util::future::join_all(requests.into_iter().map(run)).await,
        ),
    }
}

fn refused(error: AppError) -> GraphQLResponse {
    let error: async_graphql::Error = error.into();
    async_graphql::Response::from_errors(vec![
        error.into_server_error(async_graphql::Pos::default()),
    ])
    .into()
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

/// Just enough media-type parsing to accept `application/json; charset=utf-8` and
/// `application/graphql-response+json`.
mod mime_guess_free {
    pub struct Mime(String);

    impl std::str::FromStr for Mime {
        type Err = ();
        fn from_str(value: &str) -> Result<Self, ()> {
            let essence = value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            Ok(Mime(essence))
        }
    }

    impl Mime {
        pub fn is_json(&self) -> bool {
            self.0 == "application/json"
                || (self.0.starts_with("application/") && self.0.ends_with("+json"))
        }
    }
}
