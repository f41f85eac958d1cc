//! What the API shows of a connected account ([`AccountView`]): its settings and status, its
//! public URLs under the service's address, its token's expiry and today's request counts
//! (what the store holds plus what this process counted and has not written yet). The
//! accounts' routes answer with it, and so does the connect flow for the Pages a person
//! chooses.

use chrono::{DateTime, NaiveDate, Utc};
use freshtoken_core::api::{AccountView, RequestCountView};
use freshtoken_store::{Account, RequestCount, ScopedAccount};
use url::Url;

use crate::error::ApiError;
use crate::state::AppState;
use crate::timestamps::rfc3339;

/// One of the account's public URLs (`token.json`, `token.js`, `media.json`), under the
/// service's public address.
pub fn public_url_of(public_url: &Url, public_id: &str, file: &str) -> String {
    public_url
        .join(&format!("t/{public_id}/{file}"))
        .map(String::from)
        .unwrap_or_default()
}

/// instatokend's URL of an account, `/token/{name}`, where `name` is its alias or public id.
pub fn instatokend_url_of(public_url: &Url, name: &str) -> String {
    public_url
        .join(&format!("token/{name}"))
        .map(String::from)
        .unwrap_or_default()
}

pub(crate) fn view(
    public_url: &Url,
    account: &Account,
    token_expires_at: Option<DateTime<Utc>>,
    requests_today: RequestCount,
) -> AccountView {
    let url = |file| public_url_of(public_url, &account.public_id, file);
    AccountView {
        id: account.id,
        kind: account.kind,
        provider_user_id: account.provider_user_id.clone(),
        username: account.username.clone(),
        label: account.label.clone(),
        status: account.status,
        profile_picture_url: account.profile_picture_url.clone(),
        token_expires_at: token_expires_at.map(rfc3339),
        last_refresh_at: account.last_refresh_at.map(rfc3339),
        next_refresh_at: account.next_refresh_at.map(rfc3339),
        last_error: account.last_error.clone(),
        refresh_interval: account.refresh_interval,
        allowed_origins: account.allowed_origins.clone(),
        allow_localhost: account.allow_localhost,
        public: account.public,
        js_constant: account
            .js_constant
            .clone()
            .unwrap_or_else(|| account.kind.default_constant().to_owned()),
        public_id: account.public_id.clone(),
        token_json_url: url("token.json"),
        token_js_url: url("token.js"),
        media_json_url: url("media.json"),
        requests_today: RequestCountView {
            served: requests_today.served,
            refused: requests_today.refused,
            refused_no_origin: requests_today.refused_no_origin,
        },
        created_at: rfc3339(account.created_at),
        owner_email: account.owner_email.clone(),
        owner_unsubscribed_at: account.owner_unsubscribed_at.map(rfc3339),
        token_text_url: url("token"),
        alias: account.alias.clone(),
        instatokend_url: account
            .alias
            .as_deref()
            .map(|alias| instatokend_url_of(public_url, alias)),
    }
}

pub(crate) async fn account_view(
    state: &AppState,
    account: &ScopedAccount,
) -> Result<AccountView, ApiError> {
    let lifetime = state.store.tokens().lifetime(account.proof()).await?;
    let today = Utc::now().date_naive();
    let stored = state
        .store
        .request_counts()
        .on_day(std::slice::from_ref(account.proof()), today)
        .await?;
    Ok(view(
        &state.config.public_url,
        account,
        lifetime.and_then(|lifetime| lifetime.expires_at),
        with_pending(state, account.id, today, stored.get(&account.id)),
    ))
}

/// The stored count plus what this process counted and has not written yet.
pub(crate) fn with_pending(
    state: &AppState,
    account_id: i64,
    day: NaiveDate,
    stored: Option<&RequestCount>,
) -> RequestCount {
    let mut count = stored.copied().unwrap_or_default();
    count += state.delivery.counts.pending(account_id, day);
    count
}
