//! Connect links: a member makes one for a kind of account, sends it to the account's owner
//! (their client), and the owner connects the account through it without an account here; the
//! account lands in the workspace with the link's presets. Reconnect links do the same for one
//! account that needs reconnecting, and only for that account's owner.
//!
//! The store keeps the links (their secrets only hashed); this module decides what a link may
//! do: make one, open one, and finish a login started from one, counting the use before the
//! login's code is spent so that two people racing through a single-use link cannot both
//! connect an account.

use chrono::{DateTime, Duration, Utc};
use freshtoken_core::AccountKind;
use freshtoken_store::{Account, ConnectLink, LinkState, NewConnectLink, Tenant, User};

use crate::{ConnectError, Connector, LinkRefused, Login, LoginFor, OnlyAccount, Presets, Via};

/// A connect link works for this long unless its maker says otherwise...
pub const DEFAULT_LINK_DAYS: i64 = 7;
/// ...and for at most this long.
pub const MAX_LINK_DAYS: i64 = 30;

/// A connect link to make.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    pub kind: AccountKind,
    /// For the people of the workspace: whom the link is for.
    pub label: String,
    /// What the connected account gets (sites, label, JS constant, refresh interval, the
    /// owner's address): the account's owner is never asked for any of it.
    pub presets: Presets,
    pub reusable: bool,
    /// Default [`DEFAULT_LINK_DAYS`], at most [`MAX_LINK_DAYS`].
    pub expires_in: Option<Duration>,
    pub created_by: Option<i64>,
}

/// A link that opens, with what its page says: whose workspace, who sent it, and (for a
/// reconnect link) which account.
#[derive(Debug, Clone)]
pub struct OpenLink {
    pub link: ConnectLink,
    pub tenant: Tenant,
    pub sender: Option<User>,
    pub account: Option<Account>,
}

impl Connector {
    /// Makes a connect link; returns it with its secret, shown once.
    pub async fn create_link(
        &self,
        tenant_id: i64,
        request: LinkRequest,
    ) -> Result<(ConnectLink, String), ConnectError> {
        if !self.offers(request.kind) {
            return Err(ConnectError::NotOffered(request.kind));
        }
        let lifetime = request
            .expires_in
            .unwrap_or_else(|| Duration::days(DEFAULT_LINK_DAYS));
        if lifetime <= Duration::zero() || lifetime > Duration::days(MAX_LINK_DAYS) {
            return Err(ConnectError::InvalidLink(format!(
                "a link expires after at most {MAX_LINK_DAYS} days"
            )));
        }
        let now = Utc::now();
        let new = NewConnectLink {
            kind: request.kind,
            label: request.label,
            presets: request.presets.stored(),
            reusable: request.reusable,
            created_by: request.created_by,
            expires_at: now + lifetime,
        };
        Ok(self
            .store
            .connect_links()
            .create(tenant_id, new, now)
            .await?)
    }

    /// Issues a new reconnect link for the account (replacing any earlier one): what a member
    /// sends its owner. Returns the secret.
    pub async fn issue_reconnect_link(&self, account: &Account) -> Result<String, ConnectError> {
        Ok(self
            .store
            .connect_links()
            .issue_reconnect(account.tenant_id, account.id, account.kind, Utc::now())
            .await?)
    }

    /// The link a secret opens, if it can still connect an account.
    pub async fn open_link(&self, secret: &str) -> Result<OpenLink, ConnectError> {
        let link = self
            .store
            .connect_links()
            .by_secret(secret)
            .await?
            .ok_or(ConnectError::LinkRefused(LinkRefused::NotFound))?;
        self.usable(link).await
    }

    /// The link behind a round trip, if it can still connect an account.
    pub async fn link_by_id(&self, id: i64) -> Result<OpenLink, ConnectError> {
        let link = self
            .store
            .connect_links()
            .by_id(id)
            .await?
            .ok_or(ConnectError::LinkRefused(LinkRefused::NotFound))?;
        self.usable(link).await
    }

    async fn usable(&self, link: ConnectLink) -> Result<OpenLink, ConnectError> {
        refuse_unless_usable(&link, Utc::now())?;
        let tenant = self.store.tenants().by_id(link.tenant_id).await?;
        if tenant.disabled_at.is_some() {
            return Err(ConnectError::LinkRefused(LinkRefused::Revoked));
        }
        let sender = match link.created_by {
            Some(id) => self.store.users().by_id(id).await.ok(),
            None => None,
        };
        // A link speaks for the member who made it: once they are disabled or have left the
        // workspace, it no longer does.
        if let Some(user) = &sender {
            let member = self
                .store
                .memberships()
                .role_of(link.tenant_id, user.id)
                .await?
                .is_some_and(|role| role.can_edit());
            if user.disabled_at.is_some() || !member {
                return Err(ConnectError::LinkRefused(LinkRefused::Revoked));
            }
        }
        let account = match link.account_id {
            Some(id) => Some(self.store.accounts().by_id(id).await?),
            None => None,
        };
        Ok(OpenLink {
            link,
            tenant,
            sender,
            account,
        })
    }

    /// Finishes a login started from a link: counts the use, connects (a reconnect link:
    /// only its own account, with its own settings; a connect link: with its presets), and
    /// gives the use back if nothing was connected.
    ///
    /// A Facebook user with several Pages gets them to choose from; the use is given back
    /// until the choice ([`Connector::connect_pages_by_link`]).
    pub async fn finish_link_login(
        &self,
        link: &OpenLink,
        code: &str,
    ) -> Result<Login, ConnectError> {
        let links = self.store.connect_links();
        let id = link.link.id;
        if !links.claim(id, Utc::now()).await? {
            return Err(self.refusal_now(id).await);
        }
        let login = LoginFor {
            presets: Presets::from_stored(&link.link.presets),
            only: link.account.as_ref().map(|account| OnlyAccount {
                provider_user_id: account.provider_user_id.clone(),
                name: account.display_name(),
            }),
            via: Via::Link,
        };
        let result = self
            .finish_login(link.link.kind, link.link.tenant_id, code, &login)
            .await;
        if !matches!(result, Ok(Login::Connected(_))) {
            links.release(id).await?;
        }
        result
    }

    /// Connects the Pages the owner chose on a Facebook connect link's picker.
    pub async fn connect_pages_by_link(
        &self,
        link: &OpenLink,
        user_token: &freshtoken_core::AccessToken,
        page_ids: &[String],
    ) -> Result<Vec<crate::Connected>, ConnectError> {
        let links = self.store.connect_links();
        let id = link.link.id;
        if !links.claim(id, Utc::now()).await? {
            return Err(self.refusal_now(id).await);
        }
        let result = self
            .connect_pages(
                link.link.tenant_id,
                user_token,
                page_ids,
                &Presets::from_stored(&link.link.presets),
                Via::Link,
            )
            .await;
        if result.is_err() {
            links.release(id).await?;
        }
        result
    }

    /// Why a link that was usable a moment ago is not any more.
    async fn refusal_now(&self, id: i64) -> ConnectError {
        match self.store.connect_links().by_id(id).await {
            Ok(Some(link)) => match refuse_unless_usable(&link, Utc::now()) {
                Err(refused) => refused,
                Ok(()) => ConnectError::LinkRefused(LinkRefused::Used),
            },
            Ok(None) => ConnectError::LinkRefused(LinkRefused::NotFound),
            Err(err) => err.into(),
        }
    }
}

fn refuse_unless_usable(link: &ConnectLink, now: DateTime<Utc>) -> Result<(), ConnectError> {
    let refused = match link.state(now) {
        LinkState::Usable => return Ok(()),
        LinkState::Expired => LinkRefused::Expired,
        LinkState::Used => LinkRefused::Used,
        LinkState::Revoked => LinkRefused::Revoked,
    };
    Err(ConnectError::LinkRefused(refused))
}
