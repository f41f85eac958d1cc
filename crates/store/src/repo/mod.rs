//! One repository per aggregate. Each borrows the [`Store`](crate::Store) and returns plain
//! records; queries on tenant data always take the tenant id, so a caller cannot forget it.

pub mod accounts;
pub mod api_keys;
pub mod data_deletions;
pub mod invites;
pub mod media;
pub mod memberships;
pub mod notifications;
pub mod oauth_states;
pub mod refresh_events;
pub mod refresh_queue;
pub mod sessions;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod webhooks;

/// 16 random bytes as URL-safe base64 (22 characters): unguessable ids for public URLs.
pub(crate) fn random_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system has no randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
