//! Session tokens: HS256 JWTs carrying the user id (`sub`) and an expiry (`exp`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
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

/// Most tokens `TokenKeys` remembers as verified (about 2 MB); it forgets them all
/// when full and verifies each again on its next use.
pub const MAX_VERIFIED_TOKENS: usize = 10_000;

/// Signing and verification keys, built once at start-up; cheap to clone (every
/// request's handler gets a copy of the server state).
#[derive(Clone)]
pub struct TokenKeys(Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens whose signature was checked, with their user and expiry: a client sends
    /// the same token with every request, and a lookup costs a fraction of the HMAC
    /// and the two JSON parses. Keyed by the whole token text, so a hit is a token
    /// verified before with these keys; the expiry is still checked on every use.
    verified: Mutex<HashMap<Box<str>, Session>>,
}

#[derive(Clone, Copy)]
struct Session {
    user_id: i64,
    exp: u64,
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
        validation.set_required_spec_claims(&["exp", "sub"]);
        // The expiry is checked by `verify_at`, for fresh and remembered tokens alike.
        validation.validate_exp = false;
        Ok(Self(Arc::new(Keys {
            encoding,
            decoding,
            validation,
            verified: Mutex::new(HashMap::new()),
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
        self.verify_at(token, now())
    }

    /// `verify` at `now` (seconds since the epoch): a token is valid up to and including
    /// the second of its `exp`.
    fn verify_at(&self, token: &str, now: u64) -> Result<Caller, AppError> {
        let session = match self.remembered(token) {
            Some(session) => session,
            None => {
                let session = self.check_signature(token)?;
                self.remember(token, session);
                session
            }
        };
        if session.exp < now {
            return Err(AppError::Unauthenticated(
                "your session has expired; log in again".into(),
            ));
        }
        Ok(Caller::User(session.user_id))
    }

    fn check_signature(&self, token: &str) -> Result<Session, AppError> {
        let invalid = || AppError::Unauthenticated("invalid authentication token".into());
        let data = jsonwebtoken::decode::<Claims>(token, &self.0.decoding, &self.0.validation)
            .map_err(|_| invalid())?;
        let user_id = data.claims.sub.parse().map_err(|_| invalid())?;
        Ok(Session {
            user_id,
            exp: data.claims.exp,
        })
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Session>> {
        // The map holds no invariant a panic could break halfway.
        self.0
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn remembered(&self, token: &str) -> Option<Session> {
        self.verified().get(token).copied()
    }

    fn remember(&self, token: &str, session: Session) {
        let mut verified = self.verified();
        if verified.len() >= MAX_VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(token.into(), session);
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
    fn a_remembered_token_still_expires() {
        let keys = keys();
        let exp = now() + 60;
        let token = keys.issue_with_expiry(42, exp).unwrap();
        assert_eq!(keys.verify_at(&token, exp).unwrap(), Caller::User(42));
        assert!(keys.remembered(&token).is_some());
        let error = keys.verify_at(&token, exp + 1).unwrap_err();
        assert!(error.to_string().contains("expired"), "{error}");
        assert_eq!(keys.verify_at(&token, exp - 30).unwrap(), Caller::User(42));
    }

    #[test]
    fn only_verified_tokens_are_remembered_and_the_memory_is_bounded() {
        let keys = keys();
        let token = keys.issue(42).unwrap();
        let (head, signature) = token.rsplit_once('.').unwrap();
        let other = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{head}.{other}{}", &signature[1..]);
        assert!(keys.verify(&forged).is_err());
        assert!(keys.verify(&forged).is_err());
        assert!(keys.remembered(&forged).is_none());
        for user_id in 0..=MAX_VERIFIED_TOKENS as i64 {
            let token = keys.issue(user_id).unwrap();
            assert_eq!(keys.verify(&token).unwrap(), Caller::User(user_id));
        }
        assert!(keys.verified().len() <= MAX_VERIFIED_TOKENS);
        // Forgotten tokens are verified again.
        assert_eq!(keys.verify(&token).unwrap(), Caller::User(42));
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
