//! Experience points: the rules table, level math, and the one award function.

pub mod award;
pub mod ledger;
pub mod level;
pub mod rules;

pub use award::{Award, AwardRequest, award};
pub use rules::{Achievement, AchievementKey, XpAction};
