//! Memory of the auth throttle after 100,000 distinct client addresses (and 200,000):
//! the state is a bounded LRU map, so it stops growing at MAX_TRACKED_ADDRESSES.
//! Run with `cargo bench --bench throttle_memory`.

use std::net::{IpAddr, Ipv4Addr};

use storyxp::auth::throttle::{AuthThrottle, MAX_TRACKED_ADDRESSES};

/// Resident memory of this process, in bytes (Linux).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let throttle = AuthThrottle::per_minute(20);
    let before = resident_bytes();
    let report = |addresses: u32| {
        for n in 0..addresses {
            // 10.x.y.z and beyond: every address distinct.
            let _ = throttle.check(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
        }
        let grown = resident_bytes().saturating_sub(before);
        println!(
            "after {addresses:>7} addresses: {} tracked, resident memory +{:.1} MiB",
            throttle.tracked_addresses(),
            grown as f64 / (1024.0 * 1024.0)
        );
    };
    report(100_000);
    report(200_000);
    println!("bound: {MAX_TRACKED_ADDRESSES} addresses");
}
