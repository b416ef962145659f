//! Throttling of logIn, signUp and changePassword per client address, against
//! password guessing and mass sign-ups, on every transport (the HTTP handler and the
//! WebSocket connection both attach the `ClientAddress`). Failed passwords are also
//! counted per account, across addresses and instances, by `accounts::failures`.
//!
//! governor does the rate arithmetic (GCRA); its state lives in a bounded LRU map, so
//! a flood of distinct addresses costs at most `MAX_TRACKED_ADDRESSES` entries: the
//! least recently seen address is forgotten first (it starts afresh if it returns).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex, PoisonError};

use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use lru::LruCache;

use crate::error::{AppError, ThrottleScope};

/// Most client addresses remembered at once (about 6 MB).
pub const MAX_TRACKED_ADDRESSES: usize = 65_536;

/// A governor state store that holds at most a fixed number of keys; clones share it.
pub struct BoundedStore<K: Hash + Eq>(Arc<Mutex<LruCache<K, InMemoryState>>>);

impl<K: Hash + Eq> Clone for BoundedStore<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K: Hash + Eq> BoundedStore<K> {
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self(Arc::new(Mutex::new(LruCache::new(capacity))))
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq + Clone> StateStore for BoundedStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // The map holds no invariant a panic could break halfway.
        let mut states = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        states
            .get_or_insert(key.clone(), InMemoryState::default)
            .measure_and_replace(&NotKeyed::NonKey, f)
    }
}

/// The address a throttle counts: IPv4 addresses as they are, IPv6 addresses by their
/// /64 network (one host usually owns a whole /64, and would otherwise have 2^64 keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(u128);

impl From<IpAddr> for AddressKey {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => AddressKey(u128::from(v4.to_bits())),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(u128::from(v4.to_bits())),
                None => AddressKey((v6.to_bits() >> 64 << 64) | 1),
            },
        }
    }
}

pub struct AuthThrottle {
    limiter: RateLimiter<AddressKey, BoundedStore<AddressKey>, DefaultClock>,
    addresses: BoundedStore<AddressKey>,
}

/// The client address of a request, as request data.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl AuthThrottle {
    /// Allows `attempts` per minute per address (and bursts of that size).
    pub fn per_minute(attempts: u32) -> Self {
        Self::with_capacity(attempts, MAX_TRACKED_ADDRESSES)
    }

    fn with_capacity(attempts: u32, addresses: usize) -> Self {
        let attempts = NonZeroU32::new(attempts).unwrap_or(NonZeroU32::MIN);
        let addresses = BoundedStore::new(addresses);
        Self {
            limiter: RateLimiter::new(
                Quota::per_minute(attempts),
                addresses.clone(),
                DefaultClock::default(),
            ),
            addresses,
        }
    }

    pub fn check(&self, address: IpAddr) -> Result<(), AppError> {
        self.limiter
            .check_key(&AddressKey::from(address))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                AppError::Throttled {
                    scope: ThrottleScope::Address,
                    retry_after_seconds: wait.as_secs().max(1),
                }
            })
    }

    /// Addresses currently remembered.
    pub fn tracked_addresses(&self) -> usize {
        self.addresses.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn an_address_is_refused_past_its_quota_and_others_are_not() {
        let throttle = AuthThrottle::per_minute(3);
        let first = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        for _ in 0..3 {
            throttle.check(first).unwrap();
        }
        let refused = throttle.check(first).unwrap_err();
        assert_eq!(refused.code(), "FORBIDDEN");
        assert!(
            refused
                .to_string()
                .starts_with("too many attempts from your address; try again in "),
            "{refused}"
        );
        throttle
            .check(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
            .unwrap();
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_a_quota() {
        let throttle = AuthThrottle::per_minute(2);
        let host = |last: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
        throttle.check(host(1)).unwrap();
        throttle.check(host(2)).unwrap();
        assert!(throttle.check(host(3)).is_err());
        throttle
            .check(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1)))
            .unwrap();
    }

    #[test]
    fn a_hundred_thousand_addresses_stay_within_the_bound() {
        let throttle = AuthThrottle::per_minute(20);
        for n in 0..100_000u32 {
            throttle.check(IpAddr::V4(Ipv4Addr::from(n))).unwrap();
        }
        assert_eq!(throttle.tracked_addresses(), MAX_TRACKED_ADDRESSES);
        // The most recent address is still counted: its 21st attempt is refused.
        let recent = IpAddr::V4(Ipv4Addr::from(99_999u32));
        for _ in 1..20 {
            throttle.check(recent).unwrap();
        }
        assert!(throttle.check(recent).is_err());
    }
}
