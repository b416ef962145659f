//! The HTTP surface: routes, the GraphQL endpoint, GraphiQL and the health check.

mod graphiql;
mod health;
pub mod websocket;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, UPGRADE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Caller, TokenKeys};
use crate::db::DbPool;
use crate::error::AppError;
use crate::graphql::AppSchema;
use crate::graphql::loaders::Loaders;
use crate::live::LiveHub;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub pool: DbPool,
    pub keys: TokenKeys,
    pub live: LiveHub,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/healthz", get(health::check))
        .with_state(state)
}

/// GET /graphql: a WebSocket upgrade for subscriptions, else GraphiQL.
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
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
        .on_upgrade(move |socket| websocket::serve(socket, protocol, state))
}

/// POST /graphql. A bad token refuses the whole request; no token is an anonymous caller.
async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let caller: Caller = match state.keys.caller_from_header(authorization) {
        Ok(caller) => caller,
        Err(error) => return refused(error),
    };
    let request = request
        .into_inner()
        .data(caller)
        .data(Loaders::new(&state.pool));
    state.schema.execute(request).await.into()
}

fn refused(error: AppError) -> GraphQLResponse {
    let error: async_graphql::Error = error.into();
    async_graphql::Response::from_errors(vec![
        error.into_server_error(async_graphql::Pos::default()),
    ])
    .into()
}
