//! Writers together: friendships, collaborations on a story, and the leaderboard.

pub mod collaborations;
pub mod friends;
pub mod leaderboard;
