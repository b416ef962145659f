//! Password hashing with argon2id (OWASP's recommended parameters, the crate default).

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::AppError;

/// Hashes on a blocking thread: argon2 is deliberately slow.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| AppError::Internal(format!("hashing a password: {error}")))
    })
    .await
    .map_err(|error| AppError::Internal(format!("password hashing task: {error}")))?
}

/// Whether `password` matches the stored argon2 `hash` (false for anything unparsable).
pub async fn verify(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|error| AppError::Internal(format!("password verification task: {error}")))
}
