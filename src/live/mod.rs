//! Live level-ups and awards: PostgreSQL NOTIFY (sent by `award_xp`, delivered at
//! commit) -> one listener per process -> the hub, which routes each event to that
//! user's subscribers only.

pub mod hub;
pub mod listener;

pub use hub::{AwardEvent, LevelUpEvent, LiveHub};

/// The channel `award_xp` notifies on.
pub const CHANNEL: &str = "storyxp_level_up";

/// The channel `award_xp` announces awards on, for users in `live_award_subscribers`.
pub const AWARDS_CHANNEL: &str = "storyxp_xp_awarded";
