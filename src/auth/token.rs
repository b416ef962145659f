//! Session tokens: HS256 JWTs carrying the user id (`sub`), an expiry (`exp`) and the
//! session generation they were issued in (`gen`; a password change starts a new one).
//! A token is valid while its signature checks, it has not expired, and
//! `auth::revocations` does not know it as ended.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lru::LruCache;
use serde::{Deserialize, Serialize};

use super::revocations::{Revocations, TokenHash, token_hash};
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
    /// The session generation; tokens issued before sessions could end have none (0).
    #[serde(default)]
    pub r#gen: i32,
    /// A random id, so that two tokens issued in the same second differ (logOut ends
    /// one token, not every token with the same claims).
    #[serde(default)]
    pub jti: String,
}

/// Most tokens `TokenKeys` remembers as verified (about 3 MB); the least recently used
/// is forgotten first and verified again on its next use.
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
    /// verified before with these keys; expiry and revocation are still checked on
    /// every use.
    verified: Mutex<LruCache<Box<str>, Session>>,
    revocations: Revocations,
}

/// A verified token: whose it is, until when, of which generation, and its hash (what
/// logOut records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub user_id: i64,
    /// Seconds since the epoch.
    pub expires_at: u64,
    pub generation: i32,
    pub token_hash: TokenHash,
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

/// Who a request's credentials name: the caller and, for a signed-in one, the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authentication {
    pub caller: Caller,
    pub session: Option<Session>,
}

impl Authentication {
    pub const ANONYMOUS: Authentication = Authentication {
        caller: Caller::Anonymous,
        session: None,
    };

    /// Attaches the caller and the session as request data (what resolvers read).
    pub fn attach(self, request: async_graphql::Request) -> async_graphql::Request {
        let request = request.data(self.caller);
        match self.session {
            Some(session) => request.data(session),
            None => request,
        }
    }

    /// `attach` for every operation of a batch.
    pub fn attach_to_batch(
        self,
        request: async_graphql::BatchRequest,
    ) -> async_graphql::BatchRequest {
        let request = request.data(self.caller);
        match self.session {
            Some(session) => request.data(session),
            None => request,
        }
    }

    /// The same as connection data of a WebSocket.
    pub fn insert_into(self, data: &mut async_graphql::Data) {
        data.insert(self.caller);
        if let Some(session) = self.session {
            data.insert(session);
        }
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        Self::with_revocations(secret, Revocations::default())
    }

    /// Keys that refuse the sessions `revocations` knows as ended.
    pub fn with_revocations(secret: &[u8], revocations: Revocations) -> Result<Self, String> {
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
        let capacity = NonZeroUsize::new(MAX_VERIFIED_TOKENS).unwrap_or(NonZeroUsize::MIN);
        Ok(Self(Arc::new(Keys {
            encoding,
            decoding,
            validation,
            verified: Mutex::new(LruCache::new(capacity)),
            revocations,
        })))
    }

    /// The ended sessions these keys refuse.
    pub fn revocations(&self) -> &Revocations {
        &self.0.revocations
    }

    /// A token for `user_id` in session `generation` (the user's `session_generation`).
    pub fn issue(&self, user_id: i64, generation: i32) -> Result<String, AppError> {
        self.issue_with_expiry(user_id, generation, now() + TOKEN_LIFETIME.as_secs())
    }

    /// A token expiring at `exp` (seconds since the epoch).
    pub fn issue_with_expiry(
        &self,
        user_id: i64,
        generation: i32,
        exp: u64,
    ) -> Result<String, AppError> {
        let claims = Claims {
            sub: user_id.to_string(),
            exp,
            iat: now(),
            r#gen: generation,
            jti: token_id()?,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.0.encoding)
            .map_err(|error| AppError::Internal(format!("signing a token: {error}")))
    }

    /// Verifies a bearer token; an invalid, expired or ended one is an error, never
    /// anonymous.
    pub fn verify(&self, token: &str) -> Result<Session, AppError> {
        self.verify_at(token, now())
    }

    /// `verify` at `now` (seconds since the epoch): a token is valid up to and including
    /// the second of its `exp`.
    fn verify_at(&self, token: &str, now: u64) -> Result<Session, AppError> {
        let session = match self.remembered(token) {
            Some(session) => session,
            None => {
                let session = self.check_signature(token)?;
                self.remember(token, session);
                session
            }
        };
        if session.expires_at < now {
            return Err(AppError::Unauthenticated(
                "your session has expired; log in again".into(),
            ));
        }
        if self
            .0
            .revocations
            .is_ended(session.user_id, session.generation, &session.token_hash)
        {
            return Err(AppError::Unauthenticated(
                "this session has ended; log in again".into(),
            ));
        }
        Ok(session)
    }

    fn check_signature(&self, token: &str) -> Result<Session, AppError> {
        let invalid = || AppError::Unauthenticated("invalid authentication token".into());
        let data = jsonwebtoken::decode::<Claims>(token, &self.0.decoding, &self.0.validation)
            .map_err(|_| invalid())?;
        let user_id = data.claims.sub.parse().map_err(|_| invalid())?;
        Ok(Session {
            user_id,
            expires_at: data.claims.exp,
            generation: data.claims.r#gen,
            token_hash: token_hash(token),
        })
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, LruCache<Box<str>, Session>> {
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
        self.verified().put(token.into(), session);
    }

    /// Who an `Authorization` header value (`Bearer <jwt>`) names: anonymous without one.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Authentication, AppError> {
        let Some(header) = header.map(str::trim).filter(|value| !value.is_empty()) else {
            return Ok(Authentication::ANONYMOUS);
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                AppError::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`".into(),
                )
            })?;
        let session = self.verify(token.trim())?;
        Ok(Authentication {
            caller: Caller::User(session.user_id),
            session: Some(session),
        })
    }

    /// The caller named by an `Authorization` header value, if any.
    pub fn caller_from_header(&self, header: Option<&str>) -> Result<Caller, AppError> {
        Ok(self.authenticate(header)?.caller)
    }
}

/// 128 random bits, URL-safe base64.
fn token_id() -> Result<String, AppError> {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| AppError::Internal(format!("no randomness for a token id: {error}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Seconds since the epoch, on real time (token expiry never follows the test clock).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32]).unwrap()
    }

    fn user(keys: &TokenKeys, token: &str) -> i64 {
        keys.verify(token).unwrap().user_id
    }

    #[test]
    fn a_fresh_token_names_its_user_and_generation() {
        let keys = keys();
        let token = keys.issue(42, 3).unwrap();
        let session = keys.verify(&token).unwrap();
        assert_eq!((session.user_id, session.generation), (42, 3));
        assert_eq!(session.token_hash, token_hash(&token));
    }

    #[test]
    fn two_tokens_of_one_second_differ() {
        let keys = keys();
        let first = keys.issue_with_expiry(42, 0, now() + 60).unwrap();
        let second = keys.issue_with_expiry(42, 0, now() + 60).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(
            TokenKeys::new(b"too short").err().unwrap(),
            "JWT_SECRET must be at least 32 bytes long (it is 9)"
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = keys();
        let token = keys.issue_with_expiry(42, 0, now() - 10).unwrap();
        let error = keys.verify(&token).unwrap_err();
        assert_eq!(error.code(), "UNAUTHENTICATED");
        assert_eq!(error.to_string(), "your session has expired; log in again");
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let keys = keys();
        let exp = now() + 60;
        let token = keys.issue_with_expiry(42, 0, exp).unwrap();
        assert_eq!(keys.verify_at(&token, exp).unwrap().user_id, 42);
        assert!(keys.remembered(&token).is_some());
        let error = keys.verify_at(&token, exp + 1).unwrap_err();
        assert_eq!(error.to_string(), "your session has expired; log in again");
        assert_eq!(keys.verify_at(&token, exp - 30).unwrap().user_id, 42);
    }

    #[test]
    fn ended_sessions_are_refused_even_when_remembered() {
        let keys = keys();
        let first = keys.issue(42, 0).unwrap();
        let second = keys.issue_with_expiry(42, 0, now() + 100).unwrap();
        assert_eq!(user(&keys, &first), 42);
        keys.revocations()
            .end_token(token_hash(&first), now() + 1000, now());
        let error = keys.verify(&first).unwrap_err();
        assert_eq!(error.code(), "UNAUTHENTICATED");
        assert_eq!(error.to_string(), "this session has ended; log in again");
        assert_eq!(user(&keys, &second), 42, "only the logged-out token ends");
        keys.revocations().start_generation(42, 1);
        assert!(keys.verify(&second).is_err());
        let fresh = keys.issue(42, 1).unwrap();
        assert_eq!(user(&keys, &fresh), 42);
    }

    #[test]
    fn only_verified_tokens_are_remembered_and_the_least_recent_is_forgotten() {
        let keys = keys();
        let token = keys.issue(42, 0).unwrap();
        let (head, signature) = token.rsplit_once('.').unwrap();
        let other = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{head}.{other}{}", &signature[1..]);
        assert_eq!(
            keys.verify(&forged).unwrap_err().to_string(),
            "invalid authentication token"
        );
        assert!(keys.remembered(&forged).is_none());
        assert_eq!(user(&keys, &token), 42);
        for user_id in 0..MAX_VERIFIED_TOKENS as i64 {
            let other = keys.issue(1_000 + user_id, 0).unwrap();
            assert_eq!(keys.verify(&other).unwrap().user_id, 1_000 + user_id);
            if user_id % 1_000 == 0 {
                // Used now and then, so it stays among the most recent.
                assert_eq!(user(&keys, &token), 42);
            }
        }
        assert_eq!(keys.verified().len(), MAX_VERIFIED_TOKENS);
        assert!(keys.remembered(&token).is_some(), "recently used: kept");
        let oldest = keys.issue(1_000, 0).unwrap();
        assert!(
            keys.remembered(&oldest).is_none(),
            "least recent: forgotten"
        );
        // Forgotten tokens are verified again.
        assert_eq!(user(&keys, &oldest), 1_000);
    }

    #[test]
    fn unsigned_and_foreign_tokens_are_refused_as_invalid() {
        let keys = keys();
        let claims = format!(r#"{{"sub":"1","exp":{}}}"#, now() + 60);
        let forge = |header: &str, signature: &str| {
            format!(
                "{}.{}.{signature}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(&claims)
            )
        };
        for token in [
            forge(r#"{"alg":"none","typ":"JWT"}"#, ""),
            forge(r#"{"alg":"HS512","typ":"JWT"}"#, "c2lnbmF0dXJl"),
            TokenKeys::new(&[8u8; 32]).unwrap().issue(1, 0).unwrap(),
        ] {
            let error = keys.verify(&token).unwrap_err();
            assert_eq!(error.code(), "UNAUTHENTICATED", "{token}");
            assert_eq!(error.to_string(), "invalid authentication token", "{token}");
        }
        // The same claims signed with the right key are accepted: the refusals above
        // are the header's and the signature's doing.
        assert_eq!(user(&keys, &keys.issue(1, 0).unwrap()), 1);
    }
}
