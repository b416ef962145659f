//! The API tests: the real server on a real PostgreSQL, through GraphQL.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod schema;
mod stories;
mod xp;
