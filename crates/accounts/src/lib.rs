//! What happens to accounts, whatever their kind: connecting them (by OAuth, by a pasted
//! token, by an import), reconnecting and disconnecting them, and when their tokens are next
//! refreshed or checked. The web routes, the CLI and the worker all call this crate; they only
//! translate its answers into HTTP, terminal output or job results.
//!
//! Every connection asks Meta first and writes afterwards, in one transaction per account:
//! a refusal or an outage leaves nothing half-written.

pub mod demo;
mod error;
mod facebook;
mod links;
pub mod notices;
mod refreshed;
pub mod schedule;
mod token;

use std::sync::Arc;

use chrono::Utc;
use freshtoken_core::origin::OriginPattern;
use freshtoken_core::{AccessToken, AccountKind, RefreshInterval};
use freshtoken_meta::{AppConfig, MetaClients};
use freshtoken_store::{
    Account, AccountSettings, Connection, DataDeletion, NewAccount, Presets as StorePresets,
    ScopedAccount, Store, TokenUpdate,
};
use url::Url;

pub use error::{ConnectError, LinkRefused};
pub use facebook::PageChoice;
pub use links::{DEFAULT_LINK_DAYS, LinkRequest, MAX_LINK_DAYS, OpenLink};
use notices::connected_announcement;
pub use token::{MAX_TOKEN_LEN, parse_token};

/// Settings given to what is connected, in place of the defaults (an account that already
/// exists keeps its own where none is given).
#[derive(Debug, Clone, Default)]
pub struct Presets {
    pub label: Option<String>,
    pub allowed_origins: Option<Vec<OriginPattern>>,
    /// The constant `token.js` defines, already checked.
    pub js_constant: Option<String>,
    pub refresh_interval: Option<RefreshInterval>,
    /// The account owner's contact address, already checked.
    pub owner_email: Option<String>,
    /// Serve every origin (instatokend's behaviour, kept only when asked for: `--public`).
    pub public: Option<bool>,
    /// The account's name at `/token/{alias}`, as instatokend's config named it (see
    /// [`check_alias`]).
    pub alias: Option<String>,
}

/// The longest alias: instatokend's config names are short words.
pub const MAX_ALIAS_LEN: usize = 64;

/// An alias is a name an instatokend site already has in a URL path: letters, digits, `-`,
/// `_` and `.`, at most [`MAX_ALIAS_LEN`], not starting with a dot.
pub fn check_alias(name: &str) -> Result<(), String> {
    let fine = !name.is_empty()
        && name.len() <= MAX_ALIAS_LEN
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if fine {
        Ok(())
    } else {
        Err(format!(
            "{name:?} cannot be a /token/ name: use 1 to {MAX_ALIAS_LEN} letters, digits, '-', '_' or '.'"
        ))
    }
}

impl Presets {
    /// As the store keeps them (on an account, or a connect link).
    pub(crate) fn stored(&self) -> StorePresets {
        StorePresets {
            label: self.label.clone(),
            allowed_origins: self
                .allowed_origins
                .as_ref()
                .map(|origins| origins.iter().map(ToString::to_string).collect()),
            js_constant: self.js_constant.clone(),
            refresh_interval: self.refresh_interval,
            owner_email: self.owner_email.clone(),
            public: self.public,
            alias: self.alias.clone(),
        }
    }

    /// Presets the store kept, which were checked before they were.
    pub(crate) fn from_stored(stored: &StorePresets) -> Presets {
        Presets {
            label: stored.label.clone(),
            allowed_origins: stored.allowed_origins.as_ref().map(|origins| {
                origins
                    .iter()
                    .filter_map(|origin| origin.parse().ok())
                    .collect()
            }),
            js_constant: stored.js_constant.clone(),
            refresh_interval: stored.refresh_interval,
            owner_email: stored.owner_email.clone(),
            public: stored.public,
            alias: stored.alias.clone(),
        }
    }
}

/// Who connects: a member of the workspace (signed in, or through the API or CLI), or the
/// holder of a connect link (the account's owner, who has no account here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Member,
    Link,
}

/// What a login may connect, and how.
#[derive(Debug, Clone)]
pub struct LoginFor {
    pub presets: Presets,
    /// A reconnect link's login: only this account's owner may log in through it.
    pub only: Option<OnlyAccount>,
    pub via: Via,
}

impl Default for LoginFor {
    fn default() -> Self {
        LoginFor {
            presets: Presets::default(),
            only: None,
            via: Via::Member,
        }
    }
}

/// The one account a reconnect link's login may be.
#[derive(Debug, Clone)]
pub struct OnlyAccount {
    pub provider_user_id: String,
    /// How the people of the workspace and the owner know it (`@user`, a Page's name).
    pub name: String,
}

/// A token a person pasted (or an operator imported).
#[derive(Debug, Clone)]
pub struct Paste {
    pub token: AccessToken,
    /// The kind to connect when the token's text does not say (default: Instagram).
    pub kind: Option<AccountKind>,
    /// With a Facebook user token: connect only this Page (default: every Page).
    pub page_id: Option<String>,
    pub presets: Presets,
}

/// One account connected (or reconnected: `created` is false).
#[derive(Debug, Clone)]
pub struct Connected {
    pub account: ScopedAccount,
    pub created: bool,
}

/// How a finished login ends.
#[derive(Debug)]
pub enum Login {
    /// Instagram and Threads: the profile's account; Facebook: the person's one Page.
    Connected(Box<Connected>),
    /// Facebook, when the person manages several Pages: them, to choose from, with the
    /// long-lived user token that reads their Page tokens (see [`Connector::connect_pages`]).
    Pages {
        user_token: AccessToken,
        pages: Vec<PageChoice>,
    },
}

/// The one place accounts are connected and disconnected.
#[derive(Debug, Clone)]
pub struct Connector {
    store: Store,
    meta: Arc<MetaClients>,
    /// Whether this instance sends e-mail (`FRESHTOKEN_SMTP_URL`): announcements carry e-mails
    /// only then, so an instance without it keeps no undeliverable ones.
    emails: bool,
    /// The instance's public address, for the links in e-mails.
    public_url: String,
}

impl Connector {
    pub fn new(store: Store, meta: Arc<MetaClients>) -> Connector {
        Connector {
            store,
            meta,
            emails: false,
            public_url: String::new(),
        }
    }

    /// The same, announcing with e-mails (or not) whose links lead to `public_url`.
    pub fn with_notices(mut self, public_url: &str, emails: bool) -> Connector {
        self.public_url = public_url.trim_end_matches('/').to_owned();
        self.emails = emails;
        self
    }

    pub fn meta(&self) -> &MetaClients {
        &self.meta
    }

    /// The app this kind of account is connected through.
    pub fn app(&self, kind: AccountKind) -> &AppConfig {
        match kind {
            AccountKind::Instagram => self.meta.instagram.config(),
            AccountKind::Threads => self.meta.threads.config(),
            AccountKind::FacebookPage => self.meta.facebook.config(),
        }
    }

    /// Whether people can log in here to connect this kind: the operator set up its app.
    pub fn offers(&self, kind: AccountKind) -> bool {
        self.app(kind).has_app_credentials()
    }

    /// The kinds people can connect by logging in, in the order the dashboard shows them.
    pub fn offered(&self) -> Vec<AccountKind> {
        AccountKind::ALL
            .iter()
            .copied()
            .filter(|kind| self.offers(*kind))
            .collect()
    }

    /// Where to send a person to log in for this kind; `state` comes back with the redirect.
    pub fn authorize_url(&self, kind: AccountKind, state: &str) -> Result<Url, ConnectError> {
        if !self.offers(kind) {
            return Err(ConnectError::NotOffered(kind));
        }
        let url = match kind {
            AccountKind::Instagram => self.meta.instagram.authorize_url(state),
            AccountKind::Threads => self.meta.threads.authorize_url(state),
            AccountKind::FacebookPage => self.meta.facebook.authorize_url(state),
        };
        url.map_err(|error| ConnectError::meta(kind, error))
    }

    /// Finishes a login: exchanges the code, keeps a long-lived token, reads the profile, and
    /// connects the account (Instagram, Threads, a Facebook user's one Page) or lists the
    /// Pages to choose from (a Facebook user who manages several).
    pub async fn finish_login(
        &self,
        kind: AccountKind,
        tenant_id: i64,
        code: &str,
        login: &LoginFor,
    ) -> Result<Login, ConnectError> {
        if !self.offers(kind) {
            return Err(ConnectError::NotOffered(kind));
        }
        match kind {
            AccountKind::Instagram => Ok(Login::Connected(Box::new(
                refreshed::finish_login(self, &self.meta.instagram, tenant_id, code, login).await?,
            ))),
            AccountKind::Threads => Ok(Login::Connected(Box::new(
                refreshed::finish_login(self, &self.meta.threads, tenant_id, code, login).await?,
            ))),
            AccountKind::FacebookPage => facebook::finish_login(self, tenant_id, code, login).await,
        }
    }

    /// Connects the chosen Pages of a Facebook user, each with its own Page token.
    pub async fn connect_pages(
        &self,
        tenant_id: i64,
        user_token: &AccessToken,
        page_ids: &[String],
        presets: &Presets,
        via: Via,
    ) -> Result<Vec<Connected>, ConnectError> {
        facebook::connect_pages(self, tenant_id, user_token, page_ids, presets, via).await
    }

    /// Connects what a pasted token belongs to: its Instagram or Threads profile, its Facebook
    /// Page, or (a Facebook user token) the user's Pages. Returns every account connected.
    pub async fn paste(
        &self,
        tenant_id: i64,
        paste: Paste,
    ) -> Result<Vec<Connected>, ConnectError> {
        let kind = token::kind_of(&paste.token, paste.kind)?;
        match kind {
            AccountKind::Instagram => Ok(vec![
                refreshed::paste(self, &self.meta.instagram, tenant_id, &paste).await?,
            ]),
            AccountKind::Threads => Ok(vec![
                refreshed::paste(self, &self.meta.threads, tenant_id, &paste).await?,
            ]),
            AccountKind::FacebookPage => facebook::paste(self, tenant_id, &paste).await,
        }
    }

    /// Meta says a person removed our app: their tokens stop working, so every account of
    /// theirs, in every workspace, stops being served and asks for a reconnect, with a
    /// reconnect link in its announcement, as when a refresh is refused for good.
    pub async fn disconnect_platform_user(
        &self,
        kind: AccountKind,
        platform_user_id: &str,
    ) -> Result<u64, ConnectError> {
        let reason = format!(
            "The account owner removed freshtoken's access on {}: reconnect to resume.",
            kind.platform()
        );
        Ok(self
            .store
            .accounts()
            .disconnect_provider_user(kind, platform_user_id, &reason, |account| {
                notices::needs_reconnect(account, &reason, &self.public_url, self.emails)
            })
            .await?)
    }

    /// Meta relays a person's request to delete their data: their accounts and tokens go,
    /// everywhere.
    pub async fn delete_platform_user_data(
        &self,
        kind: AccountKind,
        platform_user_id: &str,
        confirmation_code: &str,
    ) -> Result<DataDeletion, ConnectError> {
        Ok(self
            .store
            .data_deletions()
            .delete_user_data(kind, platform_user_id, confirmation_code)
            .await?)
    }

    /// Stores a connected account with its token and its first refresh or check scheduled,
    /// and the presets. A reconnect keeps the account's own settings where the presets name
    /// none, and revives it.
    async fn store(
        &self,
        tenant_id: i64,
        new: NewAccount,
        token: TokenUpdate,
        presets: &Presets,
        via: Via,
    ) -> Result<Connected, ConnectError> {
        let mut connected = self
            .store_all(tenant_id, vec![(new, token)], presets, via)
            .await?;
        Ok(connected.remove(0))
    }

    /// [`Connector::store`] for several accounts (a Facebook user's Pages), in one
    /// transaction: all of them or none.
    async fn store_all(
        &self,
        tenant_id: i64,
        accounts: Vec<(NewAccount, TokenUpdate)>,
        presets: &Presets,
        via: Via,
    ) -> Result<Vec<Connected>, ConnectError> {
        let now = Utc::now();
        let mut connections = Vec::with_capacity(accounts.len());
        for (account, token) in accounts {
            let interval = match presets.refresh_interval {
                Some(interval) => interval,
                None => self
                    .store
                    .accounts()
                    .find_connected(tenant_id, account.kind, &account.provider_user_id)
                    .await?
                    .map(|existing| existing.refresh_interval)
                    .unwrap_or_default(),
            };
            let first = schedule::first_refresh_at(account.kind, now, &token, interval);
            connections.push(Connection {
                account,
                token,
                next_refresh_at: Some(first),
                presets: presets.stored(),
            });
        }
        let connected = self
            .store
            .accounts()
            .connect_all(tenant_id, connections, |account, created| {
                Some(connected_announcement(account, created, via, self.emails))
            })
            .await?;
        Ok(connected
            .into_iter()
            .map(|(account, created)| {
                tracing::info!(
                    tenant_id,
                    account_id = account.id,
                    kind = account.kind.as_str(),
                    created,
                    "connected an account"
                );
                Connected { account, created }
            })
            .collect())
    }
}

/// An account's settings as they stand, to change some of them.
pub fn settings_of(account: &Account) -> AccountSettings {
    AccountSettings {
        label: account.label.clone(),
        allowed_origins: account.allowed_origins.clone(),
        allow_localhost: account.allow_localhost,
        public: account.public,
        js_constant: account.js_constant.clone(),
        refresh_interval: account.refresh_interval,
    }
}
