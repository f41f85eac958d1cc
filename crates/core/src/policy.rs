//! When a token is refreshed: the rules every part of freshtoken agrees on.
//!
//! Times are Unix seconds, so that this stays free of any date library (the dashboard
//! compiles it to wasm32 too).

use crate::RefreshInterval;

/// Instagram and Threads refuse to refresh a token younger than this.
pub const MIN_REFRESH_AGE_SECS: i64 = 24 * 3600;
/// How long an Instagram or Threads long-lived token lives, from issue or refresh.
pub const LONG_LIVED_SECS: i64 = 60 * 24 * 3600;
/// A token this close to expiry is refreshed at once, whatever the interval says.
pub const REFRESH_URGENT_WITHIN_SECS: i64 = 10 * 24 * 3600;

/// When a long-lived token that was just handed out, and that expires at `expires_at`, was
/// issued: now, unless its remaining life is over an hour short of 60 days, which says it was
/// issued that much earlier (Meta answers a fresh one with a little under 60 days). Knowing
/// its age lets its first refresh run as soon as its platform allows, not a day from now.
pub fn issued_at_from_expiry(now: i64, expires_at: i64) -> i64 {
    let implied = expires_at.saturating_sub(LONG_LIVED_SECS);
    if now.saturating_sub(implied) > 3600 {
        implied
    } else {
        now
    }
}

/// When to refresh a token next, before jitter.
///
/// - Unknown expiry (a pasted or imported token): at once, since refreshing is what makes its
///   expiry known; if Instagram finds it too young, the worker tries again later.
/// - Otherwise after the tenant's interval, but never before the token is 24 hours old, and at
///   once (as soon as it is old enough) when it expires within 10 days.
pub fn next_refresh_at(
    now: i64,
    issued_at: i64,
    expires_at: Option<i64>,
    interval: RefreshInterval,
) -> i64 {
    let Some(expires_at) = expires_at else {
        return now;
    };
    let old_enough = issued_at.saturating_add(MIN_REFRESH_AGE_SECS);
    let urgent_from = expires_at.saturating_sub(REFRESH_URGENT_WITHIN_SECS);
    let planned = now.saturating_add(interval.seconds()).min(urgent_from);
    planned.max(old_enough).max(now)
}

/// When a "refresh now" can run: at once, unless the token is younger than 24 hours (then as
/// soon as it is a day old). A token of unknown expiry is tried at once: its age is unknown too.
pub fn earliest_refresh_at(now: i64, issued_at: i64, expires_at: Option<i64>) -> i64 {
    match expires_at {
        Some(_) => issued_at.saturating_add(MIN_REFRESH_AGE_SECS).max(now),
        None => now,
    }
}

/// The most a planned refresh is brought forward to spread a crowd: accounts connected
/// together would otherwise all come due in the same minute, week after week.
pub const MAX_JITTER_SECS: i64 = 12 * 3600;

/// [`next_refresh_at`], brought forward by up to a tenth of the wait (at most
/// [`MAX_JITTER_SECS`]) by `random` (uniform in `0.0..1.0`). Jitter only ever makes a refresh
/// earlier, never later, and never before the token is 24 hours old.
pub fn next_refresh_at_jittered(
    now: i64,
    issued_at: i64,
    expires_at: Option<i64>,
    interval: RefreshInterval,
    random: f64,
) -> i64 {
    let planned = next_refresh_at(now, issued_at, expires_at, interval);
    if expires_at.is_none() {
        // Unknown expiry: at once, as planned (its true age is unknown too).
        return planned;
    }
    let spread = ((planned - now) / 10).min(MAX_JITTER_SECS);
    let earliest = issued_at.saturating_add(MIN_REFRESH_AGE_SECS).max(now);
    (planned - (spread as f64 * random.clamp(0.0, 1.0)) as i64).max(earliest)
}

/// How failed refreshes are retried: the first retry after `base_secs`, doubling with each
/// failure up to `cap_secs`, then a random half of that taken off ("equal jitter") so that
/// accounts failing together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base_secs: i64,
    pub cap_secs: i64,
}

impl Backoff {
    /// Instagram hiccups (5xx, timeouts) and rate limits: 1 minute, 2, 4, ... up to an hour,
    /// so that a token near expiry still gets many tries.
    pub const TRANSIENT: Backoff = Backoff {
        base_secs: 60,
        cap_secs: 3600,
    };
    /// A refusal that retrying is unlikely to fix (a missing permission): 1 hour, 2, 4, ... up
    /// to 12 hours, while the tenant is told.
    pub const REJECTED: Backoff = Backoff {
        base_secs: 3600,
        cap_secs: 12 * 3600,
    };

    /// Seconds to wait after the `failures`-th failure in a row (1 for the first), given
    /// `random` uniform in `0.0..1.0`.
    pub fn delay_secs(self, failures: u32, random: f64) -> i64 {
        let doublings = failures.saturating_sub(1).min(30);
        let full = self
            .base_secs
            .saturating_mul(1_i64 << doublings)
            .min(self.cap_secs);
        full - ((full / 2) as f64 * random.clamp(0.0, 1.0)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 3600;
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_fresh_60_day_token_waits_for_its_interval() {
        let expires = NOW + 60 * DAY;
        assert_eq!(
            next_refresh_at(NOW, NOW, Some(expires), RefreshInterval::Weekly),
            NOW + 7 * DAY
        );
        assert_eq!(
            next_refresh_at(NOW, NOW, Some(expires), RefreshInterval::Monthly),
            NOW + 30 * DAY
        );
    }

    #[test]
    fn never_before_the_token_is_a_day_old() {
        let expires = NOW + 5 * DAY;
        assert_eq!(
            next_refresh_at(NOW, NOW, Some(expires), RefreshInterval::Daily),
            NOW + DAY
        );
    }

    #[test]
    fn a_token_expiring_within_ten_days_is_refreshed_as_soon_as_allowed() {
        let issued = NOW - 55 * DAY;
        let expires = issued + 60 * DAY;
        assert_eq!(
            next_refresh_at(NOW, issued, Some(expires), RefreshInterval::Monthly),
            NOW
        );
    }

    #[test]
    fn a_monthly_interval_never_runs_past_the_urgent_window() {
        let issued = NOW - 40 * DAY;
        let expires = issued + 60 * DAY;
        assert_eq!(
            next_refresh_at(NOW, issued, Some(expires), RefreshInterval::Monthly),
            expires - 10 * DAY
        );
    }

    #[test]
    fn a_token_of_unknown_expiry_is_tried_at_once() {
        assert_eq!(
            next_refresh_at(NOW, NOW, None, RefreshInterval::Weekly),
            NOW
        );
    }

    #[test]
    fn jitter_only_brings_a_refresh_forward_by_a_tenth_of_the_wait() {
        let expires = NOW + 60 * DAY;
        let plan = |random| {
            next_refresh_at_jittered(NOW, NOW, Some(expires), RefreshInterval::Weekly, random)
        };
        assert_eq!(plan(0.0), NOW + 7 * DAY);
        assert_eq!(plan(1.0), NOW + 7 * DAY - 12 * 3600);
        assert!(plan(0.5) < NOW + 7 * DAY && plan(0.5) > NOW + 6 * DAY);
    }

    #[test]
    fn jitter_never_goes_below_the_24_hour_minimum() {
        let expires = NOW + 60 * DAY;
        assert_eq!(
            next_refresh_at_jittered(NOW, NOW, Some(expires), RefreshInterval::Daily, 1.0),
            NOW + DAY
        );
    }

    #[test]
    fn jitter_leaves_a_token_of_unknown_expiry_due_at_once() {
        assert_eq!(
            next_refresh_at_jittered(NOW, NOW, None, RefreshInterval::Weekly, 1.0),
            NOW
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_takes_at_most_half() {
        let backoff = Backoff::TRANSIENT;
        assert_eq!(backoff.delay_secs(1, 0.0), 60);
        assert_eq!(backoff.delay_secs(2, 0.0), 120);
        assert_eq!(backoff.delay_secs(3, 0.0), 240);
        assert_eq!(backoff.delay_secs(100, 0.0), 3600);
        assert_eq!(backoff.delay_secs(100, 1.0), 1800);
    }

    #[test]
    fn a_token_handed_out_with_less_than_60_days_left_is_as_old_as_its_expiry_says() {
        let now = 1_000_000_000;
        // Instagram's fresh long-lived token: 5,183,944 seconds, a minute short of 60 days.
        assert_eq!(issued_at_from_expiry(now, now + 5_183_944), now);
        assert_eq!(issued_at_from_expiry(now, now + LONG_LIVED_SECS), now);
        let two_days = 2 * 24 * 3600;
        assert_eq!(
            issued_at_from_expiry(now, now + LONG_LIVED_SECS - two_days),
            now - two_days
        );
    }
}
