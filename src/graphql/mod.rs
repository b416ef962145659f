//! The GraphQL API: schema assembly from one object per concern.

pub mod admin;
pub mod character;
pub mod collaboration;
pub mod comment;
pub mod context;
pub mod documents;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod notification;
pub mod pagination;
pub mod session;
pub mod social;
pub mod story;
pub mod user;
pub mod xp;

use std::sync::Arc;

use async_graphql::{MergedObject, Schema};

use crate::auth::TokenKeys;
use crate::auth::throttle::AuthThrottle;
use crate::db::DbPool;
use crate::graphql::documents::Documents;
use crate::graphql::loaders::Loaders;
use crate::live::LiveHub;

#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    story::StoryQuery,
    xp::XpQuery,
    social::SocialQuery,
    notification::NotificationQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    user::AccountMutation,
    session::SessionMutation,
    story::StoryMutation,
    comment::CommentMutation,
    character::CharacterMutation,
    social::FriendMutation,
    collaboration::CollaborationMutation,
    admin::AdminMutation,
    notification::NotificationMutation,
);

pub type AppSchema = Schema<Query, Mutation, live::Subscription>;

/// The endpoint a schema serves. Every document, HTTP or WebSocket, is parsed,
/// depth-checked and persisted-query-resolved once by `documents::Documents`: HTTP hands
/// the schema parsed requests, and the WebSocket schema has one extension that does the
/// same in `prepare_request`. The HTTP schemas have no extension at all: an extension
/// would also wrap every field's resolver.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Http,
    /// HTTP queries whose document already passed full validation (`documents`):
    /// async-graphql's Fast mode, which still checks depth, complexity and fragment
    /// cycles; argument values from variables are checked as the fields parse them.
    HttpValidated,
    WebSocket,
}

/// The server-wide data resolvers read; `print-schema` builds a schema with none.
#[derive(Clone, Default)]
pub struct ServerData {
    pub pool: Option<DbPool>,
    pub loaders: Option<Loaders>,
    pub keys: Option<TokenKeys>,
    pub hub: Option<LiveHub>,
    pub throttle: Option<Arc<AuthThrottle>>,
    pub documents: Option<Arc<Documents>>,
}

/// Builds a schema once, with the server-wide data; per-request data (the caller, the
/// client's address) is added per request.
pub fn build_schema(endpoint: Endpoint, data: ServerData) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), live::Subscription)
        .limit_complexity(limits::MAX_COMPLEXITY);
    if endpoint == Endpoint::HttpValidated {
        builder = builder.validation_mode(async_graphql::ValidationMode::Fast);
    }
    if endpoint == Endpoint::WebSocket {
        let documents = data.documents.clone().unwrap_or_default();
        builder = builder.extension(documents::Prepare(documents));
    }
    let ServerData {
        pool,
        loaders,
        keys,
        hub,
        throttle,
        documents: _,
    } = data;
    if let Some(throttle) = throttle {
        builder = builder.data(throttle);
    }
    if let Some(hub) = hub {
        builder = builder.data(hub);
    }
    if let Some(pool) = pool {
        builder = builder.data(pool);
    }
    if let Some(loaders) = loaders {
        builder = builder.data(loaders);
    }
    if let Some(keys) = keys {
        builder = builder.data(keys);
    }
    builder.finish()
}

/// The SDL, as `storyxp print-schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    build_schema(Endpoint::Http, ServerData::default()).sdl()
}
