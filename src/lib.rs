//! storyxp: a GraphQL API server for the persistent XP and levels system of a
//! story-writing app. See ARCHITECTURE.md for the map.

pub mod app;
pub mod auth;
pub mod batching;
pub mod clock;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod live;
pub mod metrics;
pub mod xp;

pub use app::run;
