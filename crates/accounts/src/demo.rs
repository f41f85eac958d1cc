//! The demo's story, played on one account of a demo instance: what a token's life looks like
//! when time passes, the platform stumbles or the owner changes a password, within a minute
//! instead of weeks.
//!
//! Time moves for that account alone, on both sides: its token is made older in the store and
//! at the fake platform ([`DemoPlatform`]), so every clock stays the real one and no other
//! account (another visitor's) is touched. The worker then does what it always does.

use std::time::Duration;

use chrono::{DateTime, Utc};
use freshtoken_core::AccountStatus;
use freshtoken_core::api::DemoScene;
use freshtoken_store::{ScopedAccount, Store, StoreError, TokenUpdate};

/// What a scene needs of the demo's fake platform.
pub trait DemoPlatform: Send + Sync + std::fmt::Debug {
    /// Makes the token `by` older there: issued and expiring that much earlier.
    fn age_token(&self, token: &str, by: Duration) -> bool;
    /// Fails the next `times` refreshes of the token with a server error.
    fn fail_refreshes(&self, token: &str, times: u32);
    /// Revokes the token as a password change does.
    fn revoke_token(&self, token: &str) -> bool;
    /// Ends the failures [`DemoPlatform::fail_refreshes`] armed that are still to come, so
    /// that each scene starts from a platform that works.
    fn stop_failing(&self, token: &str);
}

/// How many of its refreshes the platform fails in [`DemoScene::ExpiringSoon`]: the worker's
/// first try warns, the retries 1 and 2 minutes later fail and succeed.
const FAILED_REFRESHES: u32 = 2;
const DAY: i64 = 24 * 3600;

/// Why a scene cannot be played on this account.
#[derive(Debug, thiserror::Error)]
pub enum SceneRefused {
    #[error(
        "the demo's scenes play on Instagram and Threads accounts; a Facebook Page token does not expire"
    )]
    NotRefreshed,
    #[error("this account is paused: resume it first")]
    Paused,
    #[error(
        "this account needs reconnecting first: press Reconnect and allow on the demo's consent page"
    )]
    NeedsReconnect,
    #[error("this account's token has no known expiry yet: refresh it once first")]
    NoExpiry,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a scene did: the account as it is now, and what to watch for, in words.
#[derive(Debug)]
pub struct ScenePlayed {
    pub account: ScopedAccount,
    pub message: String,
}

/// Plays `scene` on the account: moves its token's time (here and at the platform), arms the
/// platform, and makes the account due now. The caller asks the worker to run it at once.
pub async fn play(
    store: &Store,
    platform: &dyn DemoPlatform,
    account: &ScopedAccount,
    scene: DemoScene,
) -> Result<ScenePlayed, SceneRefused> {
    if !account.kind.is_refreshed() {
        return Err(SceneRefused::NotRefreshed);
    }
    match account.status {
        AccountStatus::Active => {}
        AccountStatus::Paused => return Err(SceneRefused::Paused),
        AccountStatus::NeedsReconnect => return Err(SceneRefused::NeedsReconnect),
    }
    let stored = store.tokens().read(account.id).await?;
    let token = stored.token.expose().to_owned();
    let expires_at = stored.expires_at.ok_or(SceneRefused::NoExpiry)?;
    platform.stop_failing(&token);
    let now = Utc::now();
    let name = account.display_name();
    let platform_name = account.kind.platform();
    let message = match scene {
        DemoScene::AWeekLater => {
            age(store, platform, &stored, &token, 7 * DAY).await?;
            format!(
                "A week has passed for {name}: its token is a week older and its weekly refresh is due. The worker refreshes it now; watch the history."
            )
        }
        DemoScene::ExpiringSoon => {
            let left = (expires_at - now).num_seconds();
            age(store, platform, &stored, &token, (left - 3 * DAY).max(0)).await?;
            platform.fail_refreshes(&token, FAILED_REFRESHES);
            format!(
                "{name}'s token now expires in 3 days, and {platform_name} is failing refreshes. The worker tries now, fails, and warns the workspace that the token is expiring (the token.expiring webhook and e-mail); it retries within a minute, then within two more, and that second retry saves the token."
            )
        }
        DemoScene::OwnerChangedPassword => {
            platform.revoke_token(&token);
            format!(
                "{name}'s owner changed their {platform_name} password, which ends the token. The worker finds out at the refresh it runs now: the account then needs reconnecting, and the workspace gets a reconnect link (webhook and e-mail)."
            )
        }
    };
    let account = store
        .accounts()
        .schedule_refresh(account.tenant_id, account.id, now)
        .await?;
    Ok(ScenePlayed { account, message })
}

/// Makes the token `seconds` older in the store and at the platform.
async fn age(
    store: &Store,
    platform: &dyn DemoPlatform,
    stored: &freshtoken_store::StoredToken,
    token: &str,
    seconds: i64,
) -> Result<(), StoreError> {
    let by = chrono::Duration::seconds(seconds);
    platform.age_token(token, Duration::from_secs(seconds.max(0).unsigned_abs()));
    store
        .tokens()
        .save(
            stored.account_id,
            &TokenUpdate {
                token: stored.token.clone(),
                issued_at: stored.issued_at - by,
                expires_at: stored.expires_at.map(|at: DateTime<Utc>| at - by),
                scopes: stored.scopes.clone(),
                refreshed_at: stored.last_refreshed_at,
            },
        )
        .await
}
