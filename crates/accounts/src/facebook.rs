//! Facebook Pages: a login's code, or a pasted user or Page token, to connected Pages, each
//! kept with its own Page token.
//!
//! Page tokens read with a long-lived user token never expire. The user token is not kept:
//! nothing needs it once the Page tokens are stored, and a user token opens every Page the
//! person manages, where a Page token opens one. (Between a login and the person's choice of
//! Pages, it waits sealed in the store: usable for ten minutes, then swept by the worker.)

use chrono::Utc;
use freshtoken_core::{AccessToken, AccountKind};
use freshtoken_meta::{FacebookClient, MetaError, Page};
use freshtoken_store::{NewAccount, OfferedPage, TokenUpdate};

use crate::{ConnectError, Connected, Connector, Login, LoginFor, Paste, Presets, Via};

const KIND: AccountKind = AccountKind::FacebookPage;

/// A Page the person may connect, for the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageChoice {
    pub id: String,
    pub name: String,
    pub category: Option<String>,
}

/// As the store keeps it while the person chooses.
impl From<&PageChoice> for OfferedPage {
    fn from(page: &PageChoice) -> OfferedPage {
        OfferedPage {
            id: page.id.clone(),
            name: page.name.clone(),
            category: page.category.clone(),
        }
    }
}

fn meta(error: MetaError) -> ConnectError {
    ConnectError::meta(KIND, error)
}

pub(crate) async fn finish_login(
    connector: &Connector,
    tenant_id: i64,
    code: &str,
    login: &LoginFor,
) -> Result<Login, ConnectError> {
    let facebook = &connector.meta.facebook;
    let short = facebook
        .exchange_code(code)
        .await
        .map_err(|error| match error {
            MetaError::Rejected { .. } | MetaError::Revoked { .. } => {
                ConnectError::CodeRefused(KIND)
            }
            other => meta(other),
        })?;
    let long = facebook
        .exchange_for_long_lived(&short)
        .await
        .map_err(meta)?;
    let mut pages = facebook.pages(&long.token).await.map_err(meta)?;
    if let Some(only) = &login.only {
        // A reconnect: that one Page, whichever others the person manages.
        let Some(at) = pages
            .iter()
            .position(|page| page.id == only.provider_user_id)
        else {
            return Err(ConnectError::WrongAccount {
                kind: KIND,
                expected: only.name.clone(),
            });
        };
        pages = vec![pages.swap_remove(at)];
    }
    match pages.len() {
        0 => Err(no_pages()),
        // Nothing to choose: the one Page is connected with the token just read.
        1 => {
            let (account, token) = page_account(facebook, pages.remove(0)).await?;
            let connected = connector
                .store(tenant_id, account, token, &login.presets, login.via)
                .await?;
            Ok(Login::Connected(Box::new(connected)))
        }
        _ => Ok(Login::Pages {
            user_token: long.token,
            pages: pages.iter().map(choice).collect(),
        }),
    }
}

fn no_pages() -> ConnectError {
    ConnectError::NoSuchPage(
        "this Facebook user manages no Page that was shared with freshtoken: choose at least one Page on Facebook's dialog".into(),
    )
}

fn choice(page: &Page) -> PageChoice {
    PageChoice {
        id: page.id.clone(),
        name: page.name.clone(),
        category: page.category.clone(),
    }
}

pub(crate) async fn connect_pages(
    connector: &Connector,
    tenant_id: i64,
    user_token: &AccessToken,
    page_ids: &[String],
    presets: &Presets,
    via: Via,
) -> Result<Vec<Connected>, ConnectError> {
    let facebook = &connector.meta.facebook;
    let pages = facebook.pages(user_token).await.map_err(meta)?;
    let chosen = chosen(pages, page_ids)?;
    // Every question to Facebook first, then every Page stored together: an outage or a full
    // workspace halfway leaves nothing connected.
    let mut accounts = Vec::with_capacity(chosen.len());
    for page in chosen {
        accounts.push(page_account(facebook, page).await?);
    }
    connector.store_all(tenant_id, accounts, presets, via).await
}

/// The pages named by `page_ids`, all of them if it is empty; an id the user does not manage
/// is refused before anything is stored.
fn chosen(pages: Vec<Page>, page_ids: &[String]) -> Result<Vec<Page>, ConnectError> {
    if pages.is_empty() {
        return Err(no_pages());
    }
    if page_ids.is_empty() {
        return Ok(pages);
    }
    if let Some(missing) = page_ids
        .iter()
        .find(|id| !pages.iter().any(|page| &page.id == *id))
    {
        return Err(ConnectError::NoSuchPage(format!(
            "this Facebook user does not manage Page {missing} (or did not share it with freshtoken)"
        )));
    }
    Ok(pages
        .into_iter()
        .filter(|page| page_ids.contains(&page.id))
        .collect())
}

/// A Page as an account to store, with its token and its linked Instagram account.
async fn page_account(
    facebook: &FacebookClient,
    page: Page,
) -> Result<(NewAccount, TokenUpdate), ConnectError> {
    let linked_instagram_id = facebook
        .page_instagram_account(&page.id, &page.access_token)
        .await
        .map_err(meta)?;
    let account = NewAccount {
        kind: KIND,
        provider_user_id: page.id.clone(),
        username: page.name.clone(),
        profile_picture_url: None,
        linked_instagram_id,
    };
    let token = TokenUpdate {
        token: page.access_token,
        issued_at: Utc::now(),
        expires_at: None,
        scopes: page.tasks.join(","),
        refreshed_at: None,
    };
    Ok((account, token))
}

/// A pasted Facebook token: a user token connects the user's Pages (or the one `page_id`
/// names), a Page token its Page. Which one it is, and whether it lives, only `debug_token`
/// can tell, and that needs our app's credentials.
pub(crate) async fn paste(
    connector: &Connector,
    tenant_id: i64,
    paste: &Paste,
) -> Result<Vec<Connected>, ConnectError> {
    if !connector.offers(KIND) {
        return Err(ConnectError::NotOffered(KIND));
    }
    let facebook = &connector.meta.facebook;
    // A 190 here is about our app's own token (`app-id|app-secret`), not the pasted one:
    // debug_token answers an invalid pasted token with `is_valid: false`.
    let info = facebook
        .debug_token(&paste.token)
        .await
        .map_err(|error| match error {
            MetaError::Revoked { .. } => ConnectError::AppRefused(KIND),
            other => meta(other),
        })?;
    if !info.is_valid {
        return Err(ConnectError::TokenRefused {
            kind: KIND,
            message: "the token is not valid: expired, revoked or mistyped".into(),
        });
    }
    let app_id = &facebook.config().client_id;
    if info.app_id.as_ref() != Some(app_id) {
        return Err(ConnectError::Unusable(
            "this token was made for another Facebook app: freshtoken can only keep tokens of its own app. Generate one with this instance's app, or connect with Facebook".into(),
        ));
    }
    if info.is_page_token() {
        if info.expires_at.is_some() {
            return Err(ConnectError::Unusable(
                "this Page token expires, because it was read with a short-lived user token: paste the user token instead, and freshtoken reads a Page token that does not expire".into(),
            ));
        }
        // Asked with a Page token, `/me` is the Page.
        let me = facebook.me(&paste.token).await.map_err(meta)?;
        let page_id = info.profile_id.clone().unwrap_or(me.id);
        if paste
            .page_id
            .as_ref()
            .is_some_and(|asked| asked != &page_id)
        {
            return Err(ConnectError::NoSuchPage(format!(
                "this is the Page token of Page {page_id}, not of the Page asked for"
            )));
        }
        let page = Page {
            id: page_id,
            name: me.name,
            category: None,
            tasks: Vec::new(),
            access_token: paste.token.clone(),
        };
        let (account, token) = page_account(facebook, page).await?;
        return Ok(vec![
            connector
                .store(tenant_id, account, token, &paste.presets, Via::Member)
                .await?,
        ]);
    }
    if !info.is_user_token() {
        return Err(ConnectError::Unusable(format!(
            "this is a Facebook {} token: paste a user token (to connect its Pages) or a Page token",
            info.kind.as_deref().unwrap_or("unknown").to_lowercase()
        )));
    }
    // A user token that expires within the day is a short-lived one: its Page tokens would
    // die with it, so it is exchanged first. A long-lived one is used as it is.
    let user_token = match info.expires_at {
        Some(at) if at - Utc::now().timestamp() < 24 * 3600 => {
            facebook
                .exchange_for_long_lived(&paste.token)
                .await
                .map_err(meta)?
                .token
        }
        _ => paste.token.clone(),
    };
    let page_ids: Vec<String> = paste.page_id.iter().cloned().collect();
    connect_pages(
        connector,
        tenant_id,
        &user_token,
        &page_ids,
        &paste.presets,
        Via::Member,
    )
    .await
}
