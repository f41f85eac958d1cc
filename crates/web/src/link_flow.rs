//! What the holder of a connect link sees: the account's owner (a web developer's client), who
//! has no account here, downloads no dashboard, and may read none of our vocabulary.
//!
//! `GET /c/{secret}` names the workspace and who sent the link, says in one paragraph what the
//! owner grants, and has one button, `GET /c/{secret}/connect`, which starts the platform's
//! round trip (recorded for the link and for this browser, by a cookie of its own, not for a
//! session). The platform's callback
//! (`/connect/{platform}/callback`, shared with the dashboard's Connect buttons) comes back
//! here through [`finish`]: "Done, you can close this page", or a page that says plainly what
//! went wrong. A Facebook user with several Pages chooses on `/c/pages`, a plain form.
//!
//! Nothing is written before the platform has answered, and a link's use is counted before the
//! code is spent (see `freshtoken_accounts::links`). Link secrets stay out of logs: the request
//! log shows `/c/…` (see `lib.rs`), and nothing here logs one.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use freshtoken_accounts::{ConnectError, LinkRefused, Login, OpenLink};
use freshtoken_core::AccountKind;
use freshtoken_meta::MetaError;
use freshtoken_store::{FacebookLogin, OauthState, OfferedPage, StartedBy};

use crate::client_address::AddressKey;
use crate::error::{ApiError, display_chain};
use crate::pages::{Form, Page};
use crate::round_trip::{self, STATE_LIFETIME_MINUTES};
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;

/// Where the owner chooses Pages, and where that choice is sent.
pub const PAGES_PATH: &str = "/c/pages";

fn page(state: &AppState, status: StatusCode, title: &str) -> Page {
    Page::new(status, title).demo(state.config.demo)
}

/// The page of a link that cannot be used, in the owner's words.
fn refused(state: &AppState, reason: LinkRefused) -> Page {
    let (status, title, text) = match reason {
        LinkRefused::NotFound => (
            StatusCode::NOT_FOUND,
            "This link does not work",
            "It may have been copied only in part. Ask whoever sent it to you for a new one.",
        ),
        LinkRefused::Expired => (
            StatusCode::GONE,
            "This link has expired",
            "Links like this one work for a limited time. Ask whoever sent it to you for a new one.",
        ),
        LinkRefused::Used => (
            StatusCode::GONE,
            "This link was used already",
            "It has connected an account already, and works only once. If that was not you, tell whoever sent it to you.",
        ),
        LinkRefused::Revoked => (
            StatusCode::GONE,
            "This link was withdrawn",
            "Whoever sent it has withdrawn it. Ask them for a new one if you still need it.",
        ),
    };
    page(state, status, title).paragraph(text)
}

/// The page of a connection that did not happen, in the owner's words. Nothing was saved in
/// any of these cases.
fn failed(state: &AppState, kind: AccountKind, err: ConnectError) -> Page {
    let platform = kind.platform();
    let again = "Nothing was saved. Open the link you were sent again to try once more.";
    match err {
        ConnectError::LinkRefused(reason) => refused(state, reason),
        ConnectError::NotOffered(_) => page(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "This link cannot be used right now",
        )
        .paragraph(format!(
            "Connecting {platform} is not set up on this service at the moment. Nothing was saved; tell whoever sent you the link."
        )),
        ConnectError::WrongAccount { expected, .. } => {
            page(state, StatusCode::FORBIDDEN, &format!("This link is for {expected}"))
                .paragraph(format!(
                    "You logged in to {platform} as another account. This link reconnects {expected} only, so nothing was changed."
                ))
                .paragraph(format!(
                    "Log out of {platform} (or switch accounts there), open the link again, and log in as {expected}."
                ))
        }
        ConnectError::MissingPermission { .. } => page(
            state,
            StatusCode::BAD_REQUEST,
            "Permission needed",
            )
        .paragraph(format!(
            "The website needs read access to your profile and posts, and {platform} did not grant it. {again} Then allow access on {platform}'s page."
        )),
        ConnectError::CodeRefused(_) => page(
            state,
            StatusCode::BAD_REQUEST,
            &format!("{platform} did not accept this log-in"),
        )
        .paragraph(format!("It may have taken too long. {again}")),
        ConnectError::NoSuchPage(_) => page(state, StatusCode::BAD_REQUEST, "No Page to connect")
            .paragraph(format!(
                "Facebook shared none of your Pages with us. {again} On Facebook's page, choose the Page the website shows."
            )),
        ConnectError::Unavailable {
            error: MetaError::RateLimited { .. },
            ..
        }
        | ConnectError::Unavailable { .. } => page(
            state,
            StatusCode::BAD_GATEWAY,
            &format!("{platform} did not answer"),
        )
        .paragraph(format!(
            "{platform} could not be reached just now. Nothing was saved; open the link you were sent again in a few minutes."
        )),
        ConnectError::Store(freshtoken_store::StoreError::AccountLimit { .. }) => page(
            state,
            StatusCode::FORBIDDEN,
            "This cannot be connected right now",
        )
        .paragraph(
            "The workspace that sent you this link is full. Nothing was saved; tell whoever sent it to you.",
        ),
        other => {
            tracing::error!(error = %display_chain(&ApiError::from(other)), kind = kind.as_str(), "connecting through a link failed");
            page(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
            )
            .paragraph(
                "Nothing was saved. The problem has been logged; open the link you were sent again in a few minutes.",
            )
        }
    }
}

/// What the owner grants, and how to take it back, per platform.
fn grant(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Instagram => {
            "You give read-only access to your Instagram profile (name and picture) and your posts, so that the website can show them. It cannot post, send messages or change anything. You can remove it at any time in Instagram: Settings, then Apps and websites."
        }
        AccountKind::Threads => {
            "You give read-only access to your Threads profile and posts, so that the website can show them. It cannot post, reply or change anything. You can remove it at any time in Threads: Settings, then Account, then Website permissions."
        }
        AccountKind::FacebookPage => {
            "You give read-only access to the Facebook Pages you choose (their name and posts), so that the website can show them. It cannot post or change anything. You can remove it at any time in Facebook: Settings, then Business integrations."
        }
    }
}

/// Who is asking: "Ana Lima of Bakery Sites", or the workspace's name alone.
fn asker(open: &OpenLink) -> String {
    let workspace = &open.tenant.name;
    match &open.sender {
        Some(user) if !user.name.trim().is_empty() => {
            format!("{} of {workspace}", user.name.trim())
        }
        Some(user) => format!("{} of {workspace}", user.email),
        None => workspace.clone(),
    }
}

/// Counts an opening of a link page against the client's address; the answer to one too many
/// says how long to wait, in words and in `Retry-After`.
fn allowed(state: &AppState, client: AddressKey) -> Result<(), Box<Response>> {
    state.link_limits.opening.check(client).map_err(|wait| {
        let seconds = wait.as_secs().max(1);
        let mut response = page(state, StatusCode::TOO_MANY_REQUESTS, "Please wait a moment")
            .paragraph(format!(
                "This link was opened many times from here in a short while. Try again in {seconds} seconds."
            ))
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        Box::new(response)
    })
}

/// `GET /c/{secret}`: the link's page.
pub async fn landing(state: &AppState, client: AddressKey, secret: &str) -> Response {
    if let Err(response) = allowed(state, client) {
        return *response;
    }
    let open = match state.connector.open_link(secret).await {
        Ok(open) => open,
        Err(err) => return failed(state, AccountKind::Instagram, err).into_response(),
    };
    let kind = open.link.kind;
    let platform = kind.platform();
    let connect = format!("/c/{secret}/connect");
    let page = match &open.account {
        Some(account) => {
            let name = account.display_name();
            page(state, StatusCode::OK, &format!("Log in to {platform} again for {name}"))
                .paragraph(format!(
                    "{} asks you to log in to {platform} again as {name}, so that the website keeps showing your posts. Nothing else changes.",
                    asker(&open)
                ))
                .paragraph(grant(kind))
                .action(connect, format!("Log in to {platform}"))
        }
        None => page(
            state,
            StatusCode::OK,
            &format!("Connect your {} account", kind.display_name()),
        )
        .paragraph(format!(
            "{} asks you to connect your {} account, so that the website they look after can show your posts and keep showing them.",
            asker(&open),
            kind.display_name()
        ))
        .paragraph(grant(kind))
        .action(connect, format!("Connect with {platform}")),
    };
    page.note(format!(
        "You will log in on {platform}'s own page: we never see your password. This link works until {}.",
        open.link.expires_at.format("%-d %B %Y")
    ))
    .into_response()
}

/// The cookie that ties a link's round trip to the browser that pressed its button: a link
/// is shared by e-mail, so a platform's answer must come back to the browser that asked, or
/// someone could hand out a started round trip and collect whoever finishes it.
const BROWSER_COOKIE: &str = "freshtoken_link";

/// This browser's link cookie, if it sent a well-formed one.
fn browser_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BROWSER_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| {
            value.len() == 32
                && value
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

/// `GET /c/{secret}/connect`: starts the platform's round trip for the link, from this browser.
pub async fn start(
    state: &AppState,
    client: AddressKey,
    headers: &HeaderMap,
    secret: &str,
) -> Response {
    if let Err(response) = allowed(state, client) {
        return *response;
    }
    let open = match state.connector.open_link(secret).await {
        Ok(open) => open,
        Err(err) => return failed(state, AccountKind::Instagram, err).into_response(),
    };
    let kind = open.link.kind;
    // One cookie per browser, kept across round trips (two tabs share it).
    let browser = browser_cookie(headers).unwrap_or_else(random_secret);
    let started_by = StartedBy::Link {
        connect_link_id: open.link.id,
        browser_sha256: sha256_hex(&browser),
    };
    let recorded =
        round_trip::record(state, kind, started_by, open.link.tenant_id, String::new()).await;
    let authorize = recorded
        .map_err(ConnectError::from)
        .and_then(|state_value| state.connector.authorize_url(kind, &state_value));
    match authorize {
        Ok(url) => {
            let secure = if state.config.public_url.scheme() == "https" {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{BROWSER_COOKIE}={browser}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600{secure}"
            );
            let mut response = Redirect::to(url.as_str()).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(err) => failed(state, kind, err).into_response(),
    }
}

/// Whether this browser is the one that started a link's round trip.
fn same_browser(headers: &HeaderMap, browser_sha256: &str) -> bool {
    browser_cookie(headers).is_some_and(|cookie| sha256_hex(&cookie) == browser_sha256)
}

fn other_browser(state: &AppState) -> Response {
    page(state, StatusCode::FORBIDDEN, "Please use the same browser")
        .paragraph("This answer belongs to a connection started in another browser. Nothing was saved; open the link you were sent again, in the browser you will log in with.")
        .into_response()
}

/// The platform's callback for a round trip started from link `link_id` in the browser whose
/// cookie hashes to `browser_sha256`.
pub async fn finish(
    state: &AppState,
    kind: AccountKind,
    (link_id, browser_sha256): (i64, &str),
    pending: &OauthState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Response {
    let platform = kind.platform();
    if !same_browser(headers, browser_sha256) {
        return other_browser(state);
    }
    if query.contains_key("error") {
        return page(state, StatusCode::OK, "Nothing was connected")
            .paragraph(format!(
                "You declined on {platform}, so nothing was shared. If you change your mind, open the link you were sent again."
            ))
            .into_response();
    }
    if pending.expires_at <= Utc::now() {
        return page(state, StatusCode::BAD_REQUEST, "This took too long")
            .paragraph(format!(
                "More than {STATE_LIFETIME_MINUTES} minutes passed since you pressed the button. Nothing was saved; open the link you were sent again."
            ))
            .into_response();
    }
    let Some(code) = query.get("code").filter(|code| !code.is_empty()) else {
        return failed(state, kind, ConnectError::CodeRefused(kind)).into_response();
    };
    let open = match state.connector.link_by_id(link_id).await {
        Ok(open) => open,
        Err(err) => return failed(state, kind, err).into_response(),
    };
    match state.connector.finish_link_login(&open, code).await {
        Ok(Login::Connected(connected)) => {
            state
                .delivery
                .forget_account(connected.account.account().id);
            done(state, &open, &[connected.account.account().display_name()]).into_response()
        }
        Ok(Login::Pages { user_token, pages }) => {
            let handle = random_secret();
            let now = Utc::now();
            let login = FacebookLogin {
                started_by: pending.started_by.clone(),
                tenant_id: open.link.tenant_id,
                return_to: String::new(),
                pages: pages.iter().map(OfferedPage::from).collect(),
                user_token,
                created_at: now,
                expires_at: now + Duration::minutes(STATE_LIFETIME_MINUTES),
            };
            match state
                .store
                .facebook_logins()
                .create(&sha256_hex(&handle), &login)
                .await
            {
                // The handle in a query string: paths are logged, queries are not.
                Ok(()) => Redirect::to(&format!("{PAGES_PATH}?login={handle}")).into_response(),
                Err(err) => failed(state, kind, err.into()).into_response(),
            }
        }
        Err(err) => failed(state, kind, err).into_response(),
    }
}

/// "Done, you can close this page."
fn done(state: &AppState, open: &OpenLink, names: &[String]) -> Page {
    let connected = names.join(", ");
    page(state, StatusCode::OK, "Done, you can close this page")
        .paragraph(format!(
            "Thank you: {connected} {} connected. {} can show your posts on the website now, and keeps them showing.",
            if names.len() == 1 { "is" } else { "are" },
            open.tenant.name
        ))
        .note(format!(
            "To stop it one day, remove the access in {}'s settings.",
            open.link.kind.platform()
        ))
}

/// A Facebook login from a link, if the handle names one of this browser's that has not
/// expired.
async fn link_login(
    state: &AppState,
    headers: &HeaderMap,
    handle: &str,
) -> Result<Option<(FacebookLogin, i64)>, ConnectError> {
    let login = state
        .store
        .facebook_logins()
        .get(&sha256_hex(handle))
        .await?;
    Ok(login.and_then(|login| match &login.started_by {
        StartedBy::Link {
            connect_link_id,
            browser_sha256,
        } if login.expires_at > Utc::now() && same_browser(headers, browser_sha256) => {
            let id = *connect_link_id;
            Some((login, id))
        }
        _ => None,
    }))
}

fn login_gone(state: &AppState) -> Page {
    page(state, StatusCode::NOT_FOUND, "This choice has expired").paragraph(format!(
        "Choosing Pages works for {STATE_LIFETIME_MINUTES} minutes after logging in to Facebook, once. Nothing was saved; open the link you were sent again."
    ))
}

/// `GET /c/pages?login=HANDLE`: the Pages to choose from.
pub async fn pages(
    state: &AppState,
    client: AddressKey,
    headers: &HeaderMap,
    handle: &str,
) -> Response {
    if let Err(response) = allowed(state, client) {
        return *response;
    }
    let kind = AccountKind::FacebookPage;
    let (login, _) = match link_login(state, headers, handle).await {
        Ok(Some(found)) => found,
        Ok(None) => return login_gone(state).into_response(),
        Err(err) => return failed(state, kind, err).into_response(),
    };
    let checkboxes = login
        .pages
        .iter()
        .map(|offered| {
            let label = match &offered.category {
                Some(category) => format!("{} ({category})", offered.name),
                None => offered.name.clone(),
            };
            ("page_id".to_owned(), offered.id.clone(), label, true)
        })
        .collect();
    page(state, StatusCode::OK, "Which Pages does the website show?")
        .paragraph("You manage several Facebook Pages. Choose the ones whose posts the website shows; only those are shared.")
        .form(Form {
            action: Some(PAGES_PATH),
            hidden: vec![("login".to_owned(), handle.to_owned())],
            checkboxes,
            submit: "Connect these Pages".to_owned(),
        })
        .into_response()
}

/// `POST /c/pages` (a form: `login`, `page_id`...): connects the chosen Pages.
pub async fn choose_pages(
    state: &AppState,
    client: AddressKey,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(response) = allowed(state, client) {
        return *response;
    }
    let kind = AccountKind::FacebookPage;
    let mut handle = String::new();
    let mut page_ids = Vec::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        match name.as_ref() {
            "login" => handle = value.into_owned(),
            "page_id" => page_ids.push(value.into_owned()),
            _ => {}
        }
    }
    if page_ids.is_empty() {
        return page(state, StatusCode::BAD_REQUEST, "Choose at least one Page")
            .paragraph("Nothing was saved. Go back, tick the Pages the website shows, and press the button again.")
            .into_response();
    }
    let handle_sha256 = sha256_hex(&handle);
    let (peeked, link_id) = match link_login(state, headers, &handle).await {
        Ok(Some(found)) => found,
        Ok(None) => return login_gone(state).into_response(),
        Err(err) => return failed(state, kind, err).into_response(),
    };
    if page_ids
        .iter()
        .any(|id| !peeked.pages.iter().any(|offered| &offered.id == id))
    {
        return page(state, StatusCode::BAD_REQUEST, "Choose among your Pages")
            .paragraph("One of the Pages chosen was not among those Facebook shared. Nothing was saved; open the link you were sent again.")
            .into_response();
    }
    let login = match state.store.facebook_logins().take(&handle_sha256).await {
        Ok(Some(login)) => login,
        Ok(None) => return login_gone(state).into_response(),
        Err(err) => return failed(state, kind, err.into()).into_response(),
    };
    let result = match state.connector.link_by_id(link_id).await {
        Ok(open) => state
            .connector
            .connect_pages_by_link(&open, &login.user_token, &page_ids)
            .await
            .map(|connected| (open, connected)),
        Err(err) => Err(err),
    };
    match result {
        Ok((open, connected)) => {
            let names: Vec<String> = connected
                .iter()
                .map(|one| {
                    state.delivery.forget_account(one.account.account().id);
                    one.account.account().display_name()
                })
                .collect();
            done(state, &open, &names).into_response()
        }
        Err(err) => {
            // Nothing was connected: the choice can be made again, until the login expires.
            if let Err(put_back) = state
                .store
                .facebook_logins()
                .create(&handle_sha256, &login)
                .await
            {
                tracing::warn!(error = %put_back, "could not keep a Facebook login for another try");
            }
            failed(state, kind, err).into_response()
        }
    }
}

fn unknown_unsubscribe(state: &AppState) -> Response {
    page(state, StatusCode::NOT_FOUND, "This link does not work")
        .paragraph("It may be from an older e-mail: the address it was for has changed since, and gets no e-mail from here.")
        .into_response()
}

/// Whether `token` has the shape of the tokens we make (22 URL-safe characters): nothing else
/// is looked up, nor shown back.
fn is_unsubscribe_token(token: &str) -> bool {
    token.len() == 22
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// `GET /unsubscribe/{token}`: asks before unsubscribing (mail scanners follow links). The
/// form posts to the page's own address.
pub async fn unsubscribe_page(state: &AppState, client: AddressKey, token: &str) -> Response {
    if let Err(response) = allowed(state, client) {
        return *response;
    }
    if !is_unsubscribe_token(token) {
        return unknown_unsubscribe(state);
    }
    match state
        .store
        .accounts()
        .owner_by_unsubscribe_token(token)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return unknown_unsubscribe(state),
        Err(err) => return ApiError::from(err).into_response(),
    }
    page(state, StatusCode::OK, "Stop these e-mails?")
        .paragraph("You get an e-mail when an account whose owner you are needs you to log in again, so that a website can keep showing its posts. Without them, you may only learn of it from the website.")
        .form(Form {
            action: None,
            hidden: Vec::new(),
            checkboxes: Vec::new(),
            submit: "Stop these e-mails".to_owned(),
        })
        .into_response()
}

/// `POST /unsubscribe/{token}`.
pub async fn unsubscribe(state: &AppState, client: AddressKey, token: &str) -> Response {
    if let Err(response) = allowed(state, client) {
        return *response;
    }
    if !is_unsubscribe_token(token) {
        return unknown_unsubscribe(state);
    }
    match state
        .store
        .accounts()
        .unsubscribe_owner(token, Utc::now())
        .await
    {
        Ok(Some(account)) => page(state, StatusCode::OK, "You will get no more of these e-mails")
            .paragraph(format!(
                "No more e-mails about {} will reach you from here. The people who look after the website still get theirs.",
                account.display_name()
            ))
            .into_response(),
        Ok(None) => unknown_unsubscribe(state),
        Err(err) => ApiError::from(err).into_response(),
    }
}
