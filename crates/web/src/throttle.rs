//! Throttling of failed sign-ins, per e-mail address and per client address.
//!
//! In memory, per process: cheap, and enough to make password guessing slow. Behind several
//! web processes each keeps its own count, so the limit is per process (documented).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures a key may have within `window` before it must wait.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    pub per_email: u32,
    pub per_address: u32,
    pub window: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_email: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Email(String),
    Address(IpAddr),
}

#[derive(Debug)]
struct Failures {
    count: u32,
    window_start: Instant,
}

#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    failures: Mutex<HashMap<Key, Failures>>,
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        LoginThrottle {
            limits,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` when either the e-mail or the address has used up its failures.
    pub fn check(&self, email: &str, address: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let blocked = |key: Key, limit: u32| {
            failures.get(&key).and_then(|entry| {
                let elapsed = now.duration_since(entry.window_start);
                (entry.count >= limit && elapsed < self.limits.window)
                    .then(|| self.limits.window - elapsed)
            })
        };
        match (
            blocked(Key::Email(email.to_owned()), self.limits.per_email),
            blocked(Key::Address(address), self.limits.per_address),
        ) {
            (None, None) => Ok(()),
            (a, b) => Err(a.into_iter().chain(b).max().unwrap_or(self.limits.window)),
        }
    }

    pub fn record_failure(&self, email: &str, address: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Forget stale windows now and then, so the map cannot grow without bound.
        if failures.len() > 10_000 {
            failures.retain(|_, entry| now.duration_since(entry.window_start) < self.limits.window);
        }
        for key in [Key::Email(email.to_owned()), Key::Address(address)] {
            let entry = failures.entry(key).or_insert(Failures {
                count: 0,
                window_start: now,
            });
            if now.duration_since(entry.window_start) >= self.limits.window {
                *entry = Failures {
                    count: 0,
                    window_start: now,
                };
            }
            entry.count += 1;
        }
    }

    /// A successful sign-in clears the e-mail's failures (not the address's).
    pub fn record_success(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&Key::Email(email.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_blocked_after_its_failures_and_freed_by_success() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_email: 2,
            per_address: 100,
            window: Duration::from_secs(60),
        });
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        throttle.record_failure("a@x", address);
        assert!(throttle.check("a@x", address).is_ok());
        throttle.record_failure("a@x", address);
        let wait = throttle.check("a@x", address).unwrap_err();
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        assert!(
            throttle.check("b@x", address).is_ok(),
            "other e-mails are not affected"
        );
        throttle.record_success("a@x");
        assert!(throttle.check("a@x", address).is_ok());
    }

    #[test]
    fn an_address_is_blocked_across_emails() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_email: 100,
            per_address: 3,
            window: Duration::from_secs(60),
        });
        let address: IpAddr = "10.0.0.1".parse().unwrap();
        for n in 0..3 {
            throttle.record_failure(&format!("user{n}@x"), address);
        }
        assert!(throttle.check("new@x", address).is_err());
        assert!(throttle.check("new@x", "10.0.0.2".parse().unwrap()).is_ok());
    }
}
