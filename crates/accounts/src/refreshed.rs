//! Instagram and Threads: one token model (a login's code, an hour's token, 60 days after an
//! exchange, refreshed after a day) on two platforms with their own hosts and grant types.
//! A login's code, or a pasted token, becomes a connected profile.

use chrono::Utc;
use freshtoken_core::{AccessToken, AccountKind, policy};
use freshtoken_meta::{
    BASIC_SCOPE, InstagramClient, LongLivedToken, MetaError, ShortLivedToken, THREADS_SCOPE,
    ThreadsClient,
};
use freshtoken_store::{NewAccount, TokenUpdate};

use crate::{ConnectError, Connected, Connector, LoginFor, Paste, Via};

/// What connecting needs of a platform whose tokens are refreshed.
pub(crate) trait RefreshedPlatform {
    const KIND: AccountKind;
    /// The permission without which the account's profile and posts cannot be read.
    const SCOPE: &'static str;
    fn has_app_secret(&self) -> bool;
    async fn exchange_code(&self, code: &str) -> Result<ShortLivedToken, MetaError>;
    async fn exchange_for_long_lived(
        &self,
        short: &AccessToken,
    ) -> Result<LongLivedToken, MetaError>;
    /// Who the token belongs to, as an account to store.
    async fn profile(&self, token: &AccessToken) -> Result<NewAccount, MetaError>;
}

impl RefreshedPlatform for InstagramClient {
    const KIND: AccountKind = AccountKind::Instagram;
    const SCOPE: &'static str = BASIC_SCOPE;

    fn has_app_secret(&self) -> bool {
        self.config().has_app_secret()
    }

    async fn exchange_code(&self, code: &str) -> Result<ShortLivedToken, MetaError> {
        InstagramClient::exchange_code(self, code).await
    }

    async fn exchange_for_long_lived(
        &self,
        short: &AccessToken,
    ) -> Result<LongLivedToken, MetaError> {
        InstagramClient::exchange_for_long_lived(self, short).await
    }

    async fn profile(&self, token: &AccessToken) -> Result<NewAccount, MetaError> {
        let profile = self.me(token).await?;
        Ok(NewAccount {
            kind: Self::KIND,
            provider_user_id: profile.id,
            username: profile.username,
            profile_picture_url: profile.profile_picture_url,
            linked_instagram_id: None,
        })
    }
}

impl RefreshedPlatform for ThreadsClient {
    const KIND: AccountKind = AccountKind::Threads;
    const SCOPE: &'static str = THREADS_SCOPE;

    fn has_app_secret(&self) -> bool {
        self.config().has_app_secret()
    }

    async fn exchange_code(&self, code: &str) -> Result<ShortLivedToken, MetaError> {
        ThreadsClient::exchange_code(self, code).await
    }

    async fn exchange_for_long_lived(
        &self,
        short: &AccessToken,
    ) -> Result<LongLivedToken, MetaError> {
        ThreadsClient::exchange_for_long_lived(self, short).await
    }

    async fn profile(&self, token: &AccessToken) -> Result<NewAccount, MetaError> {
        let profile = self.me(token).await?;
        Ok(NewAccount {
            kind: Self::KIND,
            provider_user_id: profile.id,
            username: profile.username,
            profile_picture_url: profile.threads_profile_picture_url,
            linked_instagram_id: None,
        })
    }
}

/// Exchanges the login's code, keeps the long-lived token, reads the profile, connects it.
pub(crate) async fn finish_login<P: RefreshedPlatform>(
    connector: &Connector,
    platform: &P,
    tenant_id: i64,
    code: &str,
    login: &LoginFor,
) -> Result<Connected, ConnectError> {
    let short = platform
        .exchange_code(code)
        .await
        .map_err(|error| match error {
            MetaError::Rejected { .. } | MetaError::Revoked { .. } => {
                ConnectError::CodeRefused(P::KIND)
            }
            other => ConnectError::meta(P::KIND, other),
        })?;
    if !short.permissions.is_empty() && !short.permissions.iter().any(|p| p == P::SCOPE) {
        return Err(ConnectError::MissingPermission {
            kind: P::KIND,
            permission: P::SCOPE,
        });
    }
    let now = Utc::now();
    let long = platform
        .exchange_for_long_lived(&short.token)
        .await
        .map_err(|error| ConnectError::meta(P::KIND, error))?;
    let account = platform
        .profile(&long.token)
        .await
        .map_err(|error| ConnectError::meta(P::KIND, error))?;
    if let Some(only) = &login.only
        && only.provider_user_id != account.provider_user_id
    {
        return Err(ConnectError::WrongAccount {
            kind: P::KIND,
            expected: only.name.clone(),
        });
    }
    let expires_at = expiry(now, &long);
    let token = TokenUpdate {
        token: long.token,
        issued_at: expires_at.map_or(now, |at| issued_at_from_expiry(now, at)),
        expires_at,
        scopes: short.permissions.join(","),
        refreshed_at: None,
    };
    connector
        .store(tenant_id, account, token, &login.presets, login.via)
        .await
}

/// Verifies a pasted token with its platform (the profile), upgrades a short-lived one when
/// the app secret is configured, and connects its profile.
pub(crate) async fn paste<P: RefreshedPlatform>(
    connector: &Connector,
    platform: &P,
    tenant_id: i64,
    paste: &Paste,
) -> Result<Connected, ConnectError> {
    let account = platform
        .profile(&paste.token)
        .await
        .map_err(|error| ConnectError::meta(P::KIND, error))?;
    let now = Utc::now();
    let mut token = TokenUpdate {
        token: paste.token.clone(),
        issued_at: now,
        // Unknown until the first refresh, which is scheduled at once for that reason.
        expires_at: None,
        scopes: String::new(),
        refreshed_at: None,
    };
    if platform.has_app_secret() {
        // Only a short-lived token can be exchanged; the platform refuses a long-lived one
        // with an invalid-parameter error, which tells us that it is one.
        match platform.exchange_for_long_lived(&paste.token).await {
            Ok(long) => {
                token.expires_at = expiry(now, &long);
                token.token = long.token;
            }
            Err(MetaError::Rejected { .. }) => {}
            Err(other) => return Err(ConnectError::meta(P::KIND, other)),
        }
    }
    connector
        .store(tenant_id, account, token, &paste.presets, Via::Member)
        .await
}

/// When a token handed out with `expires_at` was issued (see
/// [`policy::issued_at_from_expiry`]).
fn issued_at_from_expiry(
    now: chrono::DateTime<Utc>,
    expires_at: chrono::DateTime<Utc>,
) -> chrono::DateTime<Utc> {
    let issued = policy::issued_at_from_expiry(now.timestamp(), expires_at.timestamp());
    chrono::DateTime::from_timestamp(issued, 0).unwrap_or(now)
}

fn expiry(now: chrono::DateTime<Utc>, long: &LongLivedToken) -> Option<chrono::DateTime<Utc>> {
    chrono::Duration::from_std(long.expires_in)
        .ok()
        .map(|lifetime| now + lifetime)
}
