//! Keyed rate limits, on governor's GCRA: `burst` requests at once per key, refilled steadily
//! (one every `period / burst`). One small wrapper for every limit of the web side (the token
//! URLs, sign-in, sign-up), so that each says only what it counts and how many.
//!
//! Counts live in this process's memory: behind several web processes each applies a limit on
//! its own share. Keys whose allowance is whole again carry no information and are swept out
//! now and then, so a limiter holds only recent clients however many pass by.

use std::fmt;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Checks between two looks at whether a sweep is due.
const SWEEP_EVERY: u32 = 4096;
/// The least time between two sweeps of keys that have nothing left to remember. A sweep walks
/// every key (a hundred thousand accounts' worth on a busy instance) on the request that
/// happens to do it: by count alone it ran several times a second under load, which cost a
/// quarter of the token URLs' throughput at 100,000 accounts and doubled their p99.
const SWEEP_PERIOD: Duration = Duration::from_secs(60);

type Inner<K, C> = RateLimiter<K, DefaultKeyedStateStore<K>, C, StateInformationMiddleware>;

/// One limit, per key `K`; a limit of `0` lets everything through.
pub struct Limiter<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    inner: Option<Inner<K, C>>,
    checks: AtomicU32,
    /// When the last sweep ran (`None`: never).
    last_sweep: Mutex<Option<C::Instant>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `per_minute` requests a minute, in bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::per(per_minute, Duration::from_secs(60))
    }

    /// `burst` requests at once, and `burst` per `period` sustained.
    pub fn per(burst: u32, period: Duration) -> Self {
        Self::with_clock(burst, period, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> Limiter<K, C> {
    pub fn with_clock(burst: u32, period: Duration, clock: C) -> Self {
        let quota = NonZeroU32::new(burst).and_then(|burst| {
            Quota::with_period(period / burst.get()).map(|quota| quota.allow_burst(burst))
        });
        Limiter {
            inner: quota
                .map(|quota| RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock)),
            checks: AtomicU32::new(0),
            last_sweep: Mutex::new(None),
        }
    }

    /// Counts a request of `key`, or `Err(wait)` when it must wait that long first (and the
    /// request is not counted).
    pub fn check(&self, key: impl Into<K>) -> Result<(), Duration> {
        self.check_left(key).map(|_| ())
    }

    /// [`Limiter::check`], saying how many more requests the key may make at once.
    pub fn check_left(&self, key: impl Into<K>) -> Result<u32, Duration> {
        let Some(limiter) = &self.inner else {
            return Ok(u32::MAX);
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep_if_due(limiter);
        }
        limiter
            .check_key(&key.into())
            .map(|snapshot| snapshot.remaining_burst_capacity())
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Sweeps out keys with nothing left to remember, unless a sweep ran less than
    /// [`SWEEP_PERIOD`] ago or another thread is sweeping now.
    fn sweep_if_due(&self, limiter: &Inner<K, C>) {
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return;
        };
        let now = limiter.clock().now();
        if last.is_some_and(|at| now.duration_since(at) < Nanos::from(SWEEP_PERIOD)) {
            return;
        }
        *last = Some(now);
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }

    /// Keys remembered now (an estimate under concurrent use).
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, RateLimiter::len)
    }
}

impl<K: Hash + Eq + Clone, C: Clock> fmt::Debug for Limiter<K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("enabled", &self.inner.is_some())
            .field("keys", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_for_the_steady_rate() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::<&str, _>::with_clock(60, Duration::from_secs(60), clock.clone());
        for left in (0..60).rev() {
            assert_eq!(limiter.check_left("a"), Ok(left));
        }
        assert_eq!(limiter.check("a"), Err(Duration::from_secs(1)));
        assert!(limiter.check("b").is_ok(), "other keys are not affected");
        clock.advance(Duration::from_secs(1));
        limiter.check("a").unwrap();
        assert!(limiter.check("a").is_err());
        // After a quiet minute the whole burst is back.
        clock.advance(Duration::from_secs(120));
        for _ in 0..60 {
            limiter.check("a").unwrap();
        }
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limiter = Limiter::<i64>::per_minute(0);
        for _ in 0..10_000 {
            limiter.check(1).unwrap();
        }
        assert_eq!(limiter.len(), 0);
    }

    #[test]
    fn keys_with_nothing_to_remember_are_swept_out() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::<u32, _>::with_clock(5, Duration::from_secs(60), clock.clone());
        for key in 0..SWEEP_EVERY - 1 {
            limiter.check(key).unwrap();
        }
        assert_eq!(limiter.len(), SWEEP_EVERY as usize - 1);
        clock.advance(Duration::from_secs(3600));
        limiter.check(u32::MAX).unwrap();
        assert!(limiter.len() <= 1, "{} keys left", limiter.len());

        // The next sweep waits for its period, however many checks pass meanwhile: keys
        // whose allowance is whole again (after 30 s) stay until a minute has passed.
        for key in 0..SWEEP_EVERY {
            limiter.check(key).unwrap();
        }
        clock.advance(Duration::from_secs(30));
        for _ in 0..SWEEP_EVERY {
            let _ = limiter.check(u32::MAX);
        }
        assert!(
            limiter.len() >= SWEEP_EVERY as usize,
            "swept within the period"
        );
        clock.advance(Duration::from_secs(60));
        for _ in 0..SWEEP_EVERY {
            let _ = limiter.check(u32::MAX);
        }
        assert!(limiter.len() <= 1, "{} keys left", limiter.len());
    }
}
