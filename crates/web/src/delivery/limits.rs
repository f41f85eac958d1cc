//! Rate limits of the token URLs, per client address and per account, and who the client is
//! behind a reverse proxy.
//!
//! Each limit allows `n` requests a minute, in bursts of up to `n`, refilled steadily (the
//! generic cell rate algorithm: one instant per key, no timers). Counts live in this process's
//! memory: behind several web processes each applies the limit on its own share.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The token URLs' limits; `0` turns one off.
#[derive(Debug, Clone, Default)]
pub struct DeliveryLimits {
    /// Requests a minute from one client address, to any account.
    pub per_address: u32,
    /// Requests a minute to one account, from anywhere.
    pub per_account: u32,
    /// Proxies whose `X-Forwarded-For` is believed; the peer address counts otherwise.
    pub trusted_proxies: Vec<Network>,
}

/// Requests a minute one address may make by default: generous for people (a page view
/// loads a token once), tight for a script hammering the service.
pub const DEFAULT_PER_ADDRESS: u32 = 600;
/// Requests a minute to one account by default, per web process.
pub const DEFAULT_PER_ACCOUNT: u32 = 60_000;

/// An IP network (`10.0.0.0/8`, `fd00::/8`) or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (self.address, address) {
            // IPv4 sits in the top 32 of 128 bits, so one prefix comparison serves both.
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(ip)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(u128::from(net), u128::from(ip), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    prefix == 0 || (a ^ b) >> (128 - u32::from(prefix)) == 0
}

/// IPv4 addresses that arrive mapped into IPv6 (`::ffff:10.0.0.1`) count as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address = canonical(
            address
                .parse::<IpAddr>()
                .map_err(|_| format!("{text:?} is not an IP address or network"))?,
        );
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Network { address, prefix })
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the nearest
/// address in `X-Forwarded-For` that is not one (so a client cannot pose as another by
/// sending the header itself).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Network]) -> IpAddr {
    let is_trusted = |address: IpAddr| trusted.iter().any(|network| network.contains(address));
    let peer = canonical(peer);
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(address) => {
                client = canonical(address);
                if !is_trusted(client) {
                    break;
                }
            }
            // Garbage: trust nothing further left.
            Err(_) => break,
        }
    }
    client
}

const SHARDS: usize = 16;

/// One limit: `per_minute` requests a minute per key.
#[derive(Debug)]
pub struct Limiter<K> {
    /// The steady spacing between requests, and how far ahead of it a key may run.
    interval: Duration,
    tolerance: Duration,
    enabled: bool,
    hasher: RandomState,
    /// Per key, when its allowance is used up to (the "theoretical arrival time").
    shards: [Mutex<HashMap<K, Instant>>; SHARDS],
}

impl<K: Hash + Eq> Limiter<K> {
    pub fn new(per_minute: u32) -> Limiter<K> {
        let interval = Duration::from_secs(60) / per_minute.max(1);
        Limiter {
            interval,
            tolerance: Duration::from_secs(60).saturating_sub(interval),
            enabled: per_minute > 0,
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    /// Counts a request; `Err(wait)` when the key must wait that long first.
    pub fn check(&self, key: K, now: Instant) -> Result<(), Duration> {
        if !self.enabled {
            return Ok(());
        }
        let shard = &self.shards[self.hasher.hash_one(&key) as usize % SHARDS];
        let mut keys = shard.lock().unwrap_or_else(|e| e.into_inner());
        let used_to = keys.get(&key).copied().unwrap_or(now).max(now);
        let ahead = used_to - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        // Keys whose allowance is whole again carry no information: sweep them out now and
        // then, so the map holds only recent clients.
        if keys.len() >= 50_000 {
            keys.retain(|_, used_to| *used_to > now);
        }
        keys.insert(key, used_to + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_for_the_steady_rate() {
        let limiter = Limiter::new(60);
        let start = Instant::now();
        for _ in 0..60 {
            limiter.check("a", start).unwrap();
        }
        let wait = limiter.check("a", start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(
            limiter.check("b", start).is_ok(),
            "other keys are not affected"
        );
        limiter.check("a", start + Duration::from_secs(1)).unwrap();
        assert!(limiter.check("a", start + Duration::from_secs(1)).is_err());
        // After a quiet minute the whole burst is back.
        let later = start + Duration::from_secs(120);
        for _ in 0..60 {
            limiter.check("a", later).unwrap();
        }
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limiter = Limiter::new(0);
        let now = Instant::now();
        for _ in 0..10_000 {
            limiter.check(1, now).unwrap();
        }
    }

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let trusted: Vec<Network> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let spoofed = headers("203.0.113.9");
        assert_eq!(
            client_address(ip("198.51.100.7"), &spoofed, &trusted),
            ip("198.51.100.7"),
            "a direct client cannot name another address"
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), &spoofed, &trusted),
            ip("203.0.113.9")
        );
        // The client wrote a fake first hop; the proxy appended the real one.
        let chain = headers("1.2.3.4, 203.0.113.9, 10.0.0.5");
        assert_eq!(
            client_address(ip("10.1.2.3"), &chain, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("::1"), &headers("garbage"), &trusted),
            ip("::1")
        );
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), &spoofed, &trusted),
            ip("203.0.113.9"),
            "IPv4 mapped into IPv6 is IPv4"
        );
        assert_eq!(client_address(ip("10.1.2.3"), &chain, &[]), ip("10.1.2.3"));
    }

    #[test]
    fn networks_parse_and_match_by_prefix() {
        let net: Network = "192.168.0.0/16".parse().unwrap();
        assert!(net.contains("192.168.44.1".parse().unwrap()));
        assert!(!net.contains("192.169.0.1".parse().unwrap()));
        assert!(!net.contains("fd00::1".parse().unwrap()));
        let v6: Network = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.com".parse::<Network>().is_err());
    }
}
