//! When an account's token is next refreshed (Instagram, Threads) or checked (Facebook Page),
//! from the rules of its kind in `freshtoken_core::policy`.

use chrono::{DateTime, TimeZone, Utc};
use freshtoken_core::{AccountKind, RefreshInterval, TokenRules, policy};
use freshtoken_store::{TokenLifetime, TokenUpdate};

/// When a token just connected is first refreshed (see [`next_refresh_at`]).
pub fn first_refresh_at(
    kind: AccountKind,
    now: DateTime<Utc>,
    token: &TokenUpdate,
    interval: RefreshInterval,
) -> DateTime<Utc> {
    let lifetime = TokenLifetime {
        issued_at: token.issued_at,
        expires_at: token.expires_at,
    };
    next_refresh_at(kind, now, Some(lifetime), interval)
}

/// When a token of this lifetime is next refreshed (a connect, a resume), with jitter so that
/// accounts connected together do not all come due together (see
/// [`policy::next_refresh_at_jittered`]). A Page token is checked at once, so that the first
/// check confirms straight away that Facebook still takes it. Without a lifetime: at once.
pub fn next_refresh_at(
    kind: AccountKind,
    now: DateTime<Utc>,
    lifetime: Option<TokenLifetime>,
    interval: RefreshInterval,
) -> DateTime<Utc> {
    match (kind.token_rules(), lifetime) {
        (TokenRules::Refreshed, Some(lifetime)) => from_unix(
            policy::next_refresh_at_jittered(
                now.timestamp(),
                lifetime.issued_at.timestamp(),
                lifetime.expires_at.map(|at| at.timestamp()),
                interval,
                random_unit(),
            ),
            now,
        ),
        _ => now,
    }
}

/// When a "refresh now" (a "check now", for a Page) can run: at once, unless a refreshed
/// token is younger than 24 hours (then as soon as it is a day old).
pub fn earliest_refresh(
    kind: AccountKind,
    now: DateTime<Utc>,
    lifetime: Option<TokenLifetime>,
) -> DateTime<Utc> {
    match (kind.token_rules(), lifetime) {
        (TokenRules::Refreshed, Some(lifetime)) => from_unix(
            policy::earliest_refresh_at(
                now.timestamp(),
                lifetime.issued_at.timestamp(),
                lifetime.expires_at.map(|at| at.timestamp()),
            ),
            now,
        )
        .max(now),
        _ => now,
    }
}

fn from_unix(seconds: i64, fallback: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or(fallback)
}

/// Uniform in `0.0..1.0`, from the operating system (0.5 if it has no randomness to give).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use freshtoken_core::AccessToken;

    /// Now, in whole seconds: what the policy's Unix times can name exactly.
    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap()
    }

    fn token(issued_at: DateTime<Utc>, expires_in_days: Option<i64>) -> TokenUpdate {
        TokenUpdate {
            token: AccessToken::new("t"),
            issued_at,
            expires_at: expires_in_days.map(|days| issued_at + Duration::days(days)),
            scopes: String::new(),
            refreshed_at: None,
        }
    }

    #[test]
    fn a_page_token_is_checked_at_once_and_a_fresh_60_day_token_waits_a_day_at_least() {
        let now = now();
        let fresh = token(now, Some(60));
        assert_eq!(
            first_refresh_at(
                AccountKind::FacebookPage,
                now,
                &fresh,
                RefreshInterval::Daily
            ),
            now
        );
        for kind in [AccountKind::Instagram, AccountKind::Threads] {
            let at = first_refresh_at(kind, now, &fresh, RefreshInterval::Weekly);
            assert!(at >= now + Duration::days(1), "{kind}: {at}");
            assert!(at <= now + Duration::days(7), "{kind}: {at}");
        }
        let unknown = token(now, None);
        assert_eq!(
            first_refresh_at(AccountKind::Threads, now, &unknown, RefreshInterval::Weekly),
            now
        );
    }

    #[test]
    fn refresh_now_waits_for_a_young_token_but_never_for_a_page_check() {
        let now = now();
        let young = TokenLifetime {
            issued_at: now - Duration::hours(2),
            expires_at: Some(now + Duration::days(59)),
        };
        assert_eq!(
            earliest_refresh(AccountKind::Instagram, now, Some(young)),
            now + Duration::hours(22)
        );
        assert_eq!(
            earliest_refresh(AccountKind::FacebookPage, now, Some(young)),
            now
        );
        assert_eq!(earliest_refresh(AccountKind::Threads, now, None), now);
    }
}
