//! Who is calling: JWT session tokens and password hashing.

pub mod password;
pub mod revocations;
pub mod throttle;
pub mod token;

pub use token::{Authentication, Caller, Session, TokenKeys};
