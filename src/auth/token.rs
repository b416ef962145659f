//! Session tokens: HS256 JWTs carrying the user id (`sub`) and an expiry (`exp`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;
/// How long a token from signUp/logIn stays valid.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
}

/// Signing and verification keys, built once at start-up; cheap to clone (every
/// request's handler gets a copy of the server state).
#[derive(Clone)]
pub struct TokenKeys(Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// The identity a request runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    User(i64),
}

impl Caller {
    pub fn user_id(self) -> Option<i64> {
        match self {
            Caller::User(id) => Some(id),
            Caller::Anonymous => None,
        }
    }

    pub fn require_user(self) -> Result<i64, AppError> {
        self.user_id().ok_or_else(AppError::sign_in_required)
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(format!(
                "JWT_SECRET must be at least {MIN_SECRET_LEN} bytes long (it is {})",
                secret.len()
            ));
        }
        let encoding = EncodingKey::from_secret(secret).map_err(|error| error.to_string())?;
        let decoding = DecodingKey::from_secret(secret).map_err(|error| error.to_string())?;
        // Only HS256 is accepted: a token claiming `none` or any other algorithm fails.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self(Arc::new(Keys {
            encoding,
            decoding,
            validation,
        })))
    }

    pub fn issue(&self, user_id: i64) -> Result<String, AppError> {
        self.issue_with_expiry(user_id, now() + TOKEN_LIFETIME.as_secs())
    }

    /// A token expiring at `exp` (seconds since the epoch).
    pub fn issue_with_expiry(&self, user_id: i64, exp: u64) -> Result<String, AppError> {
        let claims = Claims {
            sub: user_id.to_string(),
            exp,
            iat: now(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.0.encoding)
            .map_err(|error| AppError::Internal(format!("signing a token: {error}")))
    }

    /// Verifies a bearer token; an invalid or expired one is an error, never anonymous.
    pub fn verify(&self, token: &str) -> Result<Caller, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.0.decoding, &self.0.validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AppError::Unauthenticated("your session has expired; log in again".into())
                }
                _ => AppError::Unauthenticated("invalid authentication token".into()),
            })?;
        data.claims
            .sub
            .parse()
            .map(Caller::User)
            .map_err(|_| AppError::Unauthenticated("invalid authentication token".into()))
    }

    /// The caller named by an `Authorization` header value (`Bearer <jwt>`), if any.
    pub fn caller_from_header(&self, header: Option<&str>) -> Result<Caller, AppError> {
        let Some(header) = header.map(str::trim).filter(|value| !value.is_empty()) else {
            return Ok(Caller::Anonymous);
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                AppError::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`".into(),
                )
            })?;
        self.verify(token.trim())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_fresh_token_names_its_user() {
        let keys = keys();
        let token = keys.issue(42).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), Caller::User(42));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKeys::new(b"too short").is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = keys();
        let token = keys.issue_with_expiry(42, now() - 10).unwrap();
        assert_eq!(keys.verify(&token).unwrap_err().code(), "UNAUTHENTICATED");
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        use base64_free::encode;
        let header = encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = encode(format!(r#"{{"sub":"1","exp":{}}}"#, now() + 60).as_bytes());
        let token = format!("{header}.{claims}.");
        assert!(keys().verify(&token).is_err());
    }

    /// URL-safe base64 without padding, enough to forge a token in a test.
    mod base64_free {
        pub fn encode(bytes: &[u8]) -> String {
            const TABLE: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                    << (8 * (3 - chunk.len()));
                for i in 0..=chunk.len() {
                    out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        }
    }
}
