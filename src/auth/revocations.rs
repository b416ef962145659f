//! Ended sessions, as every instance must know them within a second: tokens ended by
//! logOut (by their SHA-256) and, per user, the session generation a password change
//! started (tokens of older generations are refused).
//!
//! The database holds the truth (`revoked_tokens`, `users.session_generation`); each
//! process keeps this copy, filled by `live::listener` from the `storyxp_sessions`
//! notifications and reloaded whenever it (re)connects, so a check costs two hash
//! lookups and no query. The instance that ends a session also records it here at
//! once, so its own next request is already refused.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Deserialize;
use tokio::sync::watch;

/// The notification channel of ended sessions.
pub const CHANNEL: &str = "storyxp_sessions";

/// A SHA-256 of a token's text.
pub type TokenHash = [u8; 32];

/// Cheap to clone; clones share the same state.
#[derive(Clone)]
pub struct Revocations(Arc<Inner>);

struct Inner {
    state: RwLock<State>,
    /// Bumped on every change, so open WebSockets re-check their token.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// Logged-out tokens and their expiry (seconds since the epoch).
    ended_tokens: HashMap<TokenHash, u64>,
    /// Per user, the oldest session generation still valid (users absent: 0).
    generations: HashMap<i64, i32>,
    /// When `ended_tokens` is next swept of expired entries.
    next_sweep: u64,
}

/// One `storyxp_sessions` notification.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionEvent {
    /// logOut: this token is refused from now on.
    TokenEnded { token_hash: String, expires_at: u64 },
    /// changePassword: this user's tokens of older generations are refused.
    GenerationStarted { user_id: i64, generation: i32 },
}

impl Default for Revocations {
    fn default() -> Self {
        Self(Arc::new(Inner {
            state: RwLock::new(State::default()),
            changed: watch::channel(0).0,
        }))
    }
}

/// Sweep expired logged-out tokens at most this often (seconds).
const SWEEP_INTERVAL: u64 = 60;

impl Revocations {
    /// Whether a token of `user_id`, issued in `generation`, with this hash, has ended.
    pub fn is_ended(&self, user_id: i64, generation: i32, hash: &TokenHash) -> bool {
        let state = self.0.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .generations
            .get(&user_id)
            .is_some_and(|valid_from| generation < *valid_from)
            || state.ended_tokens.contains_key(hash)
    }

    /// The oldest generation of `user_id` still valid, as far as this process knows.
    pub fn generation(&self, user_id: i64) -> i32 {
        let state = self.0.state.read().unwrap_or_else(PoisonError::into_inner);
        state.generations.get(&user_id).copied().unwrap_or(0)
    }

    pub fn end_token(&self, hash: TokenHash, expires_at: u64, now: u64) {
        {
            let mut state = self.0.state.write().unwrap_or_else(PoisonError::into_inner);
            if now >= state.next_sweep {
                state.ended_tokens.retain(|_, expiry| *expiry >= now);
                state.next_sweep = now + SWEEP_INTERVAL;
            }
            state.ended_tokens.insert(hash, expires_at);
        }
        self.changed();
    }

    pub fn start_generation(&self, user_id: i64, generation: i32) {
        {
            let mut state = self.0.state.write().unwrap_or_else(PoisonError::into_inner);
            let valid_from = state.generations.entry(user_id).or_insert(0);
            *valid_from = (*valid_from).max(generation);
        }
        self.changed();
    }

    /// Applies a notification; false when it cannot be read.
    pub fn apply(&self, event: SessionEvent, now: u64) -> bool {
        match event {
            SessionEvent::TokenEnded {
                token_hash,
                expires_at,
            } => {
                let mut hash = [0u8; 32];
                if hex::decode_to_slice(&token_hash, &mut hash).is_err() {
                    return false;
                }
                self.end_token(hash, expires_at, now);
            }
            SessionEvent::GenerationStarted {
                user_id,
                generation,
            } => self.start_generation(user_id, generation),
        }
        true
    }

    /// A receiver that sees every change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.0.changed.subscribe()
    }

    fn changed(&self) {
        self.0.changed.send_modify(|version| *version += 1);
    }
}

/// The SHA-256 of a token's text.
pub fn token_hash(token: &str) -> TokenHash {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_token_and_older_generations_are_refused() {
        let revocations = Revocations::default();
        let hash = token_hash("a.b.c");
        assert!(!revocations.is_ended(7, 0, &hash));
        revocations.end_token(hash, 2_000, 1_000);
        assert!(revocations.is_ended(7, 0, &hash));
        assert!(!revocations.is_ended(7, 0, &token_hash("a.b.d")));
        revocations.start_generation(8, 2);
        assert!(revocations.is_ended(8, 1, &token_hash("x")));
        assert!(!revocations.is_ended(8, 2, &token_hash("x")));
        // A late, older notification never lowers the generation.
        revocations.start_generation(8, 1);
        assert_eq!(revocations.generation(8), 2);
    }

    #[test]
    fn expired_ended_tokens_are_swept() {
        let revocations = Revocations::default();
        revocations.end_token(token_hash("old"), 100, 50);
        revocations.end_token(token_hash("new"), 10_000, 5_000);
        assert!(!revocations.is_ended(1, 0, &token_hash("old")));
        assert!(revocations.is_ended(1, 0, &token_hash("new")));
    }

    #[test]
    fn notifications_are_read_from_json() {
        let revocations = Revocations::default();
        let hash = token_hash("t");
        let event: SessionEvent = serde_json::from_str(&format!(
            r#"{{"kind":"token_ended","token_hash":"{}","expires_at":99999999999}}"#,
            hex::encode(hash)
        ))
        .unwrap();
        assert!(revocations.apply(event, 1));
        assert!(revocations.is_ended(1, 0, &hash));
        let event: SessionEvent =
            serde_json::from_str(r#"{"kind":"generation_started","user_id":3,"generation":1}"#)
                .unwrap();
        assert!(revocations.apply(event, 1));
        assert_eq!(revocations.generation(3), 1);
        let broken = SessionEvent::TokenEnded {
            token_hash: "zz".into(),
            expires_at: 1,
        };
        assert!(!revocations.apply(broken, 1));
    }
}
