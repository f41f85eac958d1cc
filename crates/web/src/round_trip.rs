//! What the two ways into a platform's consent page share, the dashboard's Connect buttons
//! (`connect`) and connect links (`link_flow`): the platforms' segments in our addresses, and
//! the round trip's `state`, kept as a hash bound to the platform, honoured once, for ten
//! minutes.

use chrono::{Duration, Utc};
use freshtoken_core::AccountKind;
use freshtoken_store::{OauthState, StartedBy, StoreError};
use url::Url;

use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;

/// How long a person has to get through a platform's consent page, and to choose Pages.
pub const STATE_LIFETIME_MINUTES: i64 = 10;

/// The platform's segment in `/connect/...`.
pub fn platform_segment(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Instagram => "instagram",
        AccountKind::Threads => "threads",
        AccountKind::FacebookPage => "facebook",
    }
}

pub fn kind_of_segment(segment: &str) -> Option<AccountKind> {
    AccountKind::ALL
        .iter()
        .copied()
        .find(|kind| platform_segment(*kind) == segment)
}

/// The redirect URI to register with Meta for this kind:
/// `{PUBLIC_URL}/connect/{instagram|threads|facebook}/callback`.
pub fn redirect_uri(public_url: &Url, kind: AccountKind) -> String {
    public_url
        .join(&format!("connect/{}/callback", platform_segment(kind)))
        .map(String::from)
        .unwrap_or_default()
}

/// The key a round trip's state is kept under: bound to the platform, so that a state sent to
/// one platform's callback is unknown at another's.
pub fn state_key(kind: AccountKind, state: &str) -> String {
    sha256_hex(&format!("{}:{state}", kind.as_str()))
}

/// Records a round trip for `tenant_id`, started by `started_by`, returning to `return_to`;
/// returns the `state` to send to the platform.
pub async fn record(
    state: &AppState,
    kind: AccountKind,
    started_by: StartedBy,
    tenant_id: i64,
    return_to: String,
) -> Result<String, StoreError> {
    let state_value = random_secret();
    let now = Utc::now();
    let pending = OauthState {
        started_by,
        tenant_id,
        return_to,
        created_at: now,
        expires_at: now + Duration::minutes(STATE_LIFETIME_MINUTES),
    };
    state
        .store
        .oauth_states()
        .create(&state_key(kind, &state_value), &pending)
        .await?;
    Ok(state_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_uri_sits_under_the_public_url() {
        let ours = Url::parse("https://tokens.example.com/").unwrap();
        assert_eq!(
            redirect_uri(&ours, AccountKind::Instagram),
            "https://tokens.example.com/connect/instagram/callback"
        );
        assert_eq!(
            redirect_uri(&ours, AccountKind::Threads),
            "https://tokens.example.com/connect/threads/callback"
        );
        assert_eq!(
            redirect_uri(&ours, AccountKind::FacebookPage),
            "https://tokens.example.com/connect/facebook/callback"
        );
    }
}
