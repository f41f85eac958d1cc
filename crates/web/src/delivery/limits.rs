//! Rate limits of the token URLs, per client address and per account.
//!
//! Each limit allows `n` requests a minute, in bursts of up to `n`, refilled steadily (GCRA, in
//! [`crate::rate_limit`]). Who the client is (behind a reverse proxy too) is
//! [`crate::client_address`]'s rule, the same as for signing in; IPv6 clients count by /64.
//! Counts live in this process's memory: behind several web processes each applies the limit
//! on its own share.

/// The token URLs' limits; `0` turns a rate limit off.
#[derive(Debug, Clone)]
pub struct DeliveryLimits {
    /// Requests a minute from one client address, to any account.
    pub per_address: u32,
    /// Requests a minute to one account, from anywhere.
    pub per_account: u32,
    /// Accounts whose ready answers the process keeps in memory (at least one).
    pub cache_entries: usize,
}

/// Requests a minute one address may make by default: generous for people (a page view
/// loads a token once), tight for a script hammering the service.
pub const DEFAULT_PER_ADDRESS: u32 = 600;
/// Requests a minute to one account by default, per web process.
pub const DEFAULT_PER_ACCOUNT: u32 = 60_000;
