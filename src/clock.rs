//! The one clock of everything a request does. Normally the real time (PostgreSQL's
//! `now()` in SQL); with the test clock (`STORYXP_TEST_CLOCK=1`) an HTTP request may name
//! its own instant in `X-Storyxp-Now`, and awards, streaks, quests, caps and timestamps
//! then happen at that instant: Rust hands it to SQL in the session setting
//! `storyxp.now`, which the SQL function `storyxp_now()` reads (migrations/). Token
//! expiry, the auth throttle and cross-instance propagation always run on real time.

use chrono::{DateTime, Utc};

use crate::error::AppError;

/// The header a request names its instant in (test clock only).
pub const NOW_HEADER: &str = "x-storyxp-now";

/// Whether requests may move time (`STORYXP_TEST_CLOCK=1`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    test: bool,
}

/// The instant a request runs at: None is the real clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestNow(pub Option<DateTime<Utc>>);

impl Clock {
    pub const fn real() -> Self {
        Self { test: false }
    }

    pub const fn test() -> Self {
        Self { test: true }
    }

    pub const fn is_test(self) -> bool {
        self.test
    }

    /// The instant a request's `X-Storyxp-Now` names (RFC 3339), under the test clock;
    /// without it the header is ignored. A malformed one is BAD_USER_INPUT.
    pub fn request_now(self, header: Option<&[u8]>) -> Result<RequestNow, AppError> {
        let Some(header) = header.filter(|_| self.test) else {
            return Ok(RequestNow(None));
        };
        let text = std::str::from_utf8(header).unwrap_or("");
        DateTime::parse_from_rfc3339(text.trim())
            .map(|instant| RequestNow(Some(instant.with_timezone(&Utc))))
            .map_err(|_| {
                AppError::BadUserInput(format!(
                    "X-Storyxp-Now must be an RFC 3339 instant such as 2026-03-08T06:30:00Z, not `{}`",
                    text.chars().take(64).collect::<String>()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_counts_only_under_the_test_clock() {
        let header = Some(&b"2026-03-08T06:30:00-05:00"[..]);
        assert_eq!(Clock::real().request_now(header).unwrap(), RequestNow(None));
        let now = Clock::test().request_now(header).unwrap().0.unwrap();
        assert_eq!(now.to_rfc3339(), "2026-03-08T11:30:00+00:00");
        assert_eq!(Clock::test().request_now(None).unwrap(), RequestNow(None));
        assert!(matches!(
            Clock::test().request_now(Some(b"yesterday")),
            Err(AppError::BadUserInput(_))
        ));
    }
}
