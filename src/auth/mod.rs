//! Who is calling: JWT session tokens and password hashing.

pub mod password;
pub mod throttle;
pub mod token;

pub use token::{Caller, TokenKeys};
