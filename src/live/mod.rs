//! Live level-ups: PostgreSQL NOTIFY (sent by `award_xp` at commit) -> one listener per
//! process -> the hub, which routes each event to that user's subscribers only.

pub mod hub;
pub mod listener;

pub use hub::{LevelUpEvent, LiveHub};

/// The channel `award_xp` notifies on.
pub const CHANNEL: &str = "storyxp_level_up";
