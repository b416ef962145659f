//! The API tests: the real server on a real PostgreSQL, through GraphQL.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod actions;
mod admin;
mod balance;
mod boosts;
mod cluster;
mod collaborations;
mod daily;
mod fuzz;
mod hardening;
mod http_conformance;
mod legacy;
mod live;
mod live_awards;
mod logs;
mod metrics;
mod pooler;
mod rules;
mod schema;
mod sessions;
mod shop;
mod social;
mod stats;
mod stories;
mod xp;
