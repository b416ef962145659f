//! The HTTP surface: routes, the GraphQL endpoint, GraphiQL and the health check.

mod graphiql;
mod health;

use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::routing::get;

use crate::auth::{Caller, TokenKeys};
use crate::db::DbPool;
use crate::error::AppError;
use crate::graphql::AppSchema;
use crate::graphql::loaders::Loaders;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub pool: DbPool,
    pub keys: TokenKeys,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql::page).post(graphql))
        .route("/graphiql/{asset}", get(graphiql::asset))
        .route("/healthz", get(health::check))
        .with_state(state)
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
