//! When a token is refreshed: the rules every part of freshtoken agrees on.
//!
//! Times are Unix seconds, so that this stays free of any date library (the dashboard
//! compiles it to wasm32 too).

use crate::RefreshInterval;

/// Instagram refuses to refresh a token younger than this.
pub const MIN_REFRESH_AGE_SECS: i64 = 24 * 3600;
/// A token this close to expiry is refreshed at once, whatever the interval says.
pub const REFRESH_URGENT_WITHIN_SECS: i64 = 10 * 24 * 3600;

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
}
