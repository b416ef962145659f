//! The GraphQL API: schema assembly from one object per concern.

pub mod admin;
pub mod balance;
pub mod boost;
pub mod character;
pub mod collaboration;
pub mod comment;
pub mod context;
pub mod daily;
pub mod documents;
pub mod friend;
pub mod leaderboard;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod notification;
pub mod pagination;
pub mod session;
pub mod shop;
pub mod stats;
pub mod story;
pub mod user;
pub mod xp;

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields, PageInfo};
use async_graphql::{MergedObject, Schema, SchemaBuilder};
use chrono::{DateTime, Utc};

use crate::auth::TokenKeys;
use crate::auth::throttle::AuthThrottle;
use crate::db::DbPool;
use crate::domain::stories::likes::Likes;
use crate::graphql::balance::AdminAction;
use crate::graphql::documents::Documents;
use crate::graphql::loaders::Loaders;
use crate::graphql::notification::Notification;
use crate::graphql::pagination::IdCursor;
use crate::graphql::shop::Purchase;
use crate::graphql::story::Story;
use crate::graphql::xp::XpEvent;
use crate::live::LiveHub;
use crate::metrics::Metrics;

/// Everything there is to read: the caller, users, stories, the XP rules, achievements,
/// leaderboards and the caller's notifications. Errors carry `extensions.code`
/// (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, INTERNAL_SERVER_ERROR).
#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    story::StoryQuery,
    xp::XpQuery,
    boost::BoostQuery,
    shop::ShopQuery,
    balance::BalanceQuery,
    stats::StatsQuery,
    leaderboard::LeaderboardQuery,
    notification::NotificationQuery,
);

/// Every change. All but signUp and logIn need a signed-in caller (`Authorization: Bearer
/// <token>`), else UNAUTHENTICATED. Errors carry `extensions.code` (UNAUTHENTICATED,
/// FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, INTERNAL_SERVER_ERROR). Repeating an action that
/// was already done succeeds and earns nothing: a payload's `xpEarned` is then null.
#[derive(MergedObject, Default)]
pub struct Mutation(
    user::AccountMutation,
    session::SessionMutation,
    daily::DailyMutation,
    story::StoryMutation,
    comment::CommentMutation,
    character::CharacterMutation,
    friend::FriendMutation,
    collaboration::CollaborationMutation,
    admin::AdminMutation,
    boost::BoostMutation,
    shop::ShopMutation,
    balance::BalanceMutation,
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
    /// The domain's like writer (likes of concurrent requests in one transaction).
    pub likes: Option<Likes>,
    pub keys: Option<TokenKeys>,
    pub hub: Option<LiveHub>,
    pub throttle: Option<Arc<AuthThrottle>>,
    pub documents: Option<Arc<Documents>>,
    pub metrics: Option<Metrics>,
    /// Whether requests may name their instant (the test clock).
    pub clock: crate::clock::Clock,
}

/// Builds a schema once, with the server-wide data; per-request data (the caller, the
/// client's address) is added per request.
pub fn build_schema(endpoint: Endpoint, data: ServerData) -> AppSchema {
    let mut builder = Schema::build(Query::default(), Mutation::default(), live::Subscription)
        .limit_complexity(limits::MAX_COMPLEXITY);
    builder = describe_generated_types(builder);
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
        likes,
        keys,
        hub,
        throttle,
        documents: _,
        metrics,
        clock,
    } = data;
    builder = builder.data(clock);
    if let Some(metrics) = metrics {
        builder = builder.data(metrics);
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
    if let Some(likes) = likes {
        builder = builder.data(likes);
    }
    if let Some(keys) = keys {
        builder = builder.data(keys);
    }
    builder.finish()
}

/// Descriptions of the types async-graphql generates for us (connections and edges,
/// which it leaves undescribed or describes generically, PageInfo, DateTime), so the
/// schema's docs are written for its readers.
fn describe_generated_types(
    builder: SchemaBuilder<Query, Mutation, live::Subscription>,
) -> SchemaBuilder<Query, Mutation, live::Subscription> {
    builder
        .override_output_type_description::<Connection<IdCursor, Story>>(
            "A page of stories, newest first. While `pageInfo.hasNextPage` is true, pass \
             `pageInfo.endCursor` as `after` to get the next page.",
        )
        .override_output_type_description::<Edge<IdCursor, Story, EmptyFields>>(
            "One story of a page, with its cursor: pass it as `after` to continue after it.",
        )
        .override_output_type_description::<Connection<IdCursor, Notification>>(
            "A page of the caller's notifications, newest first. While \
             `pageInfo.hasNextPage` is true, pass `pageInfo.endCursor` as `after` to get the \
             next page.",
        )
        .override_output_type_description::<Edge<IdCursor, Notification, EmptyFields>>(
            "One notification of a page, with its cursor: pass it as `after` to continue \
             after it.",
        )
        .override_output_type_description::<Connection<IdCursor, XpEvent>>(
            "A page of XP ledger entries, newest first. While `pageInfo.hasNextPage` is true, \
             pass `pageInfo.endCursor` as `after` to get the next page.",
        )
        .override_output_type_description::<Edge<IdCursor, XpEvent, EmptyFields>>(
            "One ledger entry of a page, with its cursor: pass it as `after` to continue \
             after it.",
        )
        .override_output_type_description::<Connection<IdCursor, Purchase>>(
            "A page of the user's purchases, newest first. While `pageInfo.hasNextPage` is \
             true, pass `pageInfo.endCursor` as `after` to get the next page.",
        )
        .override_output_type_description::<Edge<IdCursor, Purchase, EmptyFields>>(
            "One purchase of a page, with its cursor: pass it as `after` to continue after it.",
        )
        .override_output_type_description::<Connection<IdCursor, AdminAction>>(
            "A page of the admins' audit trail, newest first. While `pageInfo.hasNextPage` \
             is true, pass `pageInfo.endCursor` as `after` to get the next page.",
        )
        .override_output_type_description::<Edge<IdCursor, AdminAction, EmptyFields>>(
            "One admin action of a page, with its cursor: pass it as `after` to continue \
             after it.",
        )
        .override_output_type_description::<PageInfo>(
            "Where a page stands. Pages only go forwards (`first`, `after`): `hasNextPage` \
             says whether another page follows and `endCursor` (null on an empty page) is the \
             `after` that fetches it; `hasPreviousPage` is true whenever `after` was given.",
        )
        .override_output_type_description::<DateTime<Utc>>(
            "An instant, as an RFC 3339 string in UTC such as \
             `2026-11-28T09:30:00.123456+00:00` (fractional seconds only when not zero).",
        )
}

/// The SDL, as `storyxp print-schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    build_schema(Endpoint::Http, ServerData::default()).sdl()
}
