//! Throttling of sign-in and sign-up, built so that it cannot be turned against the people it
//! protects.
//!
//! Clients are told apart by [`crate::client_address`]'s rule (behind a trusted proxy, by
//! `X-Forwarded-For`; IPv6 by /64), so one client using up its allowance never refuses
//! another. Sign-in attempts count:
//! - per e-mail address *and* client: a few, then 429 with `Retry-After`. Guessing one
//!   person's password from one place stops; the person, elsewhere, is not refused;
//! - per client, to any e-mail address: more, then 429 (one client trying many people);
//! - per e-mail address, from anywhere: past a few in the window, every attempt on it is
//!   *delayed* before it is answered, growing with the attempts up to a bound. Many addresses
//!   guessing one password are slowed; the real user waits a few seconds and signs in.
//!
//! Attempts count before the password is checked (a right password from a client that has used
//! up its allowance waits too, so a 429 says nothing about the password), and a successful
//! sign-in counts like any other: governor's limiters cannot give a cell back, and a person
//! signs in a handful of times a month. Sign-ups count per client.
//!
//! In memory, per process (see [`crate::rate_limit`]): behind several web processes each
//! applies the limits to its own share.

use std::net::IpAddr;
use std::time::Duration;

use crate::client_address::AddressKey;
use crate::rate_limit::Limiter;

/// The limits; a count of `0` turns that limit off.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    /// Sign-in attempts on one e-mail address from one client per `window`.
    pub per_email_and_address: u32,
    /// Sign-in attempts from one client, to any e-mail address, per `window`.
    pub per_address: u32,
    /// Sign-in attempts on one e-mail address from anywhere per `window` before each is
    /// delayed.
    pub per_email_before_delay: u32,
    /// The longest a sign-in is delayed.
    pub max_delay: Duration,
    pub window: Duration,
    /// Sign-ups from one client per `signup_window` (`FRESHTOKEN_SIGNUP_LIMIT_PER_ADDRESS`).
    pub signups_per_address: u32,
    pub signup_window: Duration,
}

/// Sign-ups one client may make in ten minutes by default: a family or an office behind one
/// address signs up comfortably, a script does not fill the instance.
pub const DEFAULT_SIGNUPS_PER_ADDRESS: u32 = 10;

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_email_and_address: 5,
            per_address: 20,
            per_email_before_delay: 10,
            max_delay: Duration::from_secs(4),
            window: Duration::from_secs(15 * 60),
            signups_per_address: DEFAULT_SIGNUPS_PER_ADDRESS,
            signup_window: Duration::from_secs(10 * 60),
        }
    }
}

/// The first delay past the free attempts; each further attempt doubles it, up to the bound.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// Attempts past the free ones that the e-mail's limiter tells apart (enough doublings of
/// [`FIRST_DELAY`] to pass any sensible bound); beyond them every attempt waits the bound.
const DELAY_STEPS: u32 = 8;

#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    per_email_and_address: Limiter<(String, AddressKey)>,
    per_address: Limiter<AddressKey>,
    per_email: Limiter<String>,
    signups: Limiter<AddressKey>,
}

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        let per_email_burst = if limits.per_email_before_delay == 0 {
            0
        } else {
            limits.per_email_before_delay + DELAY_STEPS
        };
        LoginThrottle {
            limits,
            per_email_and_address: Limiter::per(limits.per_email_and_address, limits.window),
            per_address: Limiter::per(limits.per_address, limits.window),
            per_email: Limiter::per(per_email_burst, limits.window),
            signups: Limiter::per(limits.signups_per_address, limits.signup_window),
        }
    }

    /// Counts a sign-in attempt on `email` (normalized) from `client`: `Ok(delay)` to wait
    /// before checking the password, or `Err(retry_after)` to refuse it.
    pub fn sign_in(&self, email: &str, client: IpAddr) -> Result<Duration, Duration> {
        let client = AddressKey::from(client);
        // The client first: one client cannot make the others remember many e-mail addresses.
        self.per_address.check(client)?;
        self.per_email_and_address
            .check((email.to_owned(), client))?;
        Ok(match self.per_email.check_left(email.to_owned()) {
            Ok(left) => self.delay(left),
            Err(_) => self.limits.max_delay,
        })
    }

    /// How long an attempt on an e-mail address waits when its limiter has `left` attempts.
    fn delay(&self, left: u32) -> Duration {
        let free = self.limits.per_email_before_delay;
        let used = (free + DELAY_STEPS).saturating_sub(left);
        match used.checked_sub(free + 1) {
            None => Duration::ZERO,
            Some(doublings) => FIRST_DELAY
                .saturating_mul(1 << doublings.min(16))
                .min(self.limits.max_delay),
        }
    }

    /// Counts a sign-up from `client`: `Err(retry_after)` when it has made too many.
    pub fn sign_up(&self, client: IpAddr) -> Result<(), Duration> {
        self.signups.check(AddressKey::from(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            per_email_and_address: 3,
            per_address: 100,
            per_email_before_delay: 5,
            max_delay: Duration::from_secs(2),
            ..ThrottleLimits::default()
        }
    }

    #[test]
    fn one_client_guessing_one_password_is_refused_and_no_one_else_is() {
        let throttle = LoginThrottle::new(limits());
        for _ in 0..3 {
            throttle.sign_in("ada@x", ip("192.0.2.1")).unwrap();
        }
        let wait = throttle.sign_in("ada@x", ip("192.0.2.1")).unwrap_err();
        assert!(wait > Duration::from_secs(60), "{wait:?}");
        assert!(throttle.sign_in("ada@x", ip("192.0.2.2")).is_ok());
        assert!(throttle.sign_in("bob@x", ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn many_clients_on_one_email_slow_it_down_up_to_a_bound_but_never_refuse() {
        let throttle = LoginThrottle::new(limits());
        let delays: Vec<Duration> = (0..20)
            .map(|n| {
                throttle
                    .sign_in("ada@x", ip(&format!("192.0.2.{n}")))
                    .unwrap()
            })
            .collect();
        assert!(delays[..5].iter().all(Duration::is_zero), "{delays:?}");
        assert_eq!(delays[5], FIRST_DELAY);
        assert_eq!(delays[6], FIRST_DELAY * 2);
        assert!(
            delays.windows(2).all(|pair| pair[0] <= pair[1]),
            "{delays:?}"
        );
        assert_eq!(delays[19], Duration::from_secs(2));
    }

    #[test]
    fn a_client_is_refused_across_emails_and_ipv6_counts_by_64() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_address: 3,
            ..limits()
        });
        for n in 0..3 {
            throttle
                .sign_in(&format!("user{n}@x"), ip(&format!("2001:db8::{n}")))
                .unwrap();
        }
        assert!(throttle.sign_in("new@x", ip("2001:db8::ffff")).is_err());
        assert!(throttle.sign_in("new@x", ip("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn sign_ups_count_per_client() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            signups_per_address: 2,
            ..limits()
        });
        throttle.sign_up(ip("192.0.2.1")).unwrap();
        throttle.sign_up(ip("192.0.2.1")).unwrap();
        assert!(throttle.sign_up(ip("192.0.2.1")).is_err());
        assert!(throttle.sign_up(ip("192.0.2.2")).is_ok());
    }
}
