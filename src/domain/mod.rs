//! The domain: what writers do (write, like, comment, read, befriend, collaborate) and
//! what it means, each action one transaction that calls `xp::award` for its XP. One
//! folder per idea; nothing here knows GraphQL, HTTP or the command line.

pub mod accounts;
pub mod admin;
pub mod balance;
pub mod boosts;
pub mod characters;
pub mod daily;
pub mod legacy;
pub mod notifications;
pub mod shop;
pub mod social;
pub mod stats;
pub mod stories;
