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

/// Whether `encoded` is a password hash of the old Django app (`pbkdf2_sha256$...`).
pub fn is_django_hash(encoded: &str) -> bool {
    encoded.starts_with("pbkdf2_sha256$")
}

/// Verifies a Django `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` hash.
pub async fn verify_django(password: String, encoded: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || django_pbkdf2_matches(&password, &encoded))
        .await
        .map_err(|error| AppError::Internal(format!("password verification task: {error}")))
}

/// Django caps iterations far below this; a bigger number is a hostile or broken dump.
const DJANGO_MAX_ITERATIONS: u32 = 10_000_000;

pub fn django_pbkdf2_matches(password: &str, encoded: &str) -> bool {
    use base64::Engine;
    let mut parts = encoded.split('$');
    let (Some("pbkdf2_sha256"), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > DJANGO_MAX_ITERATIONS {
        return false;
    }
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(expected) else {
        return false;
    };
    if expected.len() != 32 {
        return false;
    }
    let derived = pbkdf2::pbkdf2_hmac_array::<sha2::Sha256, 32>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
    );
    use subtle::ConstantTimeEq;
    derived.as_slice().ct_eq(expected.as_slice()).into()
}

/// Builds a Django-format hash (used by tests and tools that make legacy dumps).
pub fn django_pbkdf2_hash(password: &str, salt: &str, iterations: u32) -> String {
    use base64::Engine;
    let derived = pbkdf2::pbkdf2_hmac_array::<sha2::Sha256, 32>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
    );
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        base64::engine::general_purpose::STANDARD.encode(derived)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_django_hash_verifies() {
        // Computed independently with Python's hashlib.pbkdf2_hmac, which Django uses.
        let encoded = "pbkdf2_sha256$1000$seasalt$TaIYvm9R3hX2L4RROeaHcVUkQW0pd6SfCvJajR5HCNk=";
        assert!(django_pbkdf2_matches("storybook", encoded));
        assert!(!django_pbkdf2_matches("storybook!", encoded));
        assert_eq!(django_pbkdf2_hash("storybook", "seasalt", 1000), encoded);
    }

    #[test]
    fn malformed_django_hashes_never_verify() {
        for encoded in [
            "",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$x$salt$abc",
            "pbkdf2_sha256$0$salt$abc",
            "md5$1$salt$abc",
            "!unusable",
        ] {
            assert!(!django_pbkdf2_matches("anything", encoded), "{encoded}");
        }
    }
}
