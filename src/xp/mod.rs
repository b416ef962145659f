//! Experience points: the rules table (and its copy in the database), the shop's
//! catalog, level math, and the one award function.

pub mod activity;
pub mod award;
pub mod ledger;
pub mod level;
pub mod rules;
pub mod rules_table;
pub mod shop;

pub use activity::record as record_activity;
pub use award::{Award, AwardRequest, award};
pub use rules::{Achievement, AchievementKey, XpAction};
