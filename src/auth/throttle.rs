//! Throttling of logIn and signUp per client address, against password guessing
//! and mass sign-ups.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

pub struct AuthThrottle {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// The client address of a request, as request data.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl AuthThrottle {
    /// Allows `attempts` per minute per address (and bursts of that size).
    pub fn per_minute(attempts: u32) -> Self {
        let attempts = NonZeroU32::new(attempts).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(attempts)),
        }
    }

    pub fn check(&self, address: IpAddr) -> Result<(), AppError> {
        self.limiter.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::Throttled {
                retry_after_seconds: wait.as_secs().max(1),
            }
        })
    }
}
