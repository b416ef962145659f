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
pub mod social;
pub mod story;
pub mod user;
pub mod xp;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{MergedObject, Schema};

use std::sync::Arc;

use crate::auth::TokenKeys;
use crate::auth::throttle::AuthThrottle;
use crate::db::DbPool;
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
    story::StoryMutation,
    comment::CommentMutation,
    character::CharacterMutation,
    social::FriendMutation,
    collaboration::CollaborationMutation,
    admin::AdminMutation,
    notification::NotificationMutation,
);

pub type AppSchema = Schema<Query, Mutation, live::Subscription>;

/// The endpoint a schema serves. HTTP requests arrive parsed, depth-checked and
/// persisted-query-resolved (`documents::Documents`), so that schema has no extensions:
/// an extension would also wrap every field's resolver. WebSocket operations are parsed
/// by async-graphql and pass the same checks as extensions.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Http,
    /// HTTP queries whose document already passed full validation (`documents`):
    /// async-graphql's Fast mode, which still checks depth, complexity and fragment
    /// cycles; argument values from variables are checked as the fields parse them.
    HttpValidated,
    WebSocket,
}

/// Builds a schema once, with the server-wide data (pool, loaders, keys, hub, throttle);
/// per-request data (the caller, the client's address) is added per request.
pub fn build_schema(
    endpoint: Endpoint,
    pool: Option<DbPool>,
    loaders: Option<Loaders>,
    keys: Option<TokenKeys>,
    hub: Option<LiveHub>,
    throttle: Option<Arc<AuthThrottle>>,
) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), live::Subscription)
        .limit_complexity(limits::MAX_COMPLEXITY);
    if endpoint == Endpoint::HttpValidated {
        builder = builder.validation_mode(async_graphql::ValidationMode::Fast);
    }
    if endpoint == Endpoint::WebSocket {
        builder = builder
            .extension(limits::DepthLimit)
            .extension(ApolloPersistedQueries::new(LruCacheStorage::new(
                documents::PERSISTED_QUERIES,
            )));
    }
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
    build_schema(Endpoint::Http, None, None, None, None, None).sdl()
}
