//! "Connect": the OAuth round trips of Instagram, Threads and Facebook (whose Pages the person
//! then chooses from), and the callbacks Meta sends when a person removes our Instagram app or
//! asks for their data to be deleted.
//!
//! A round trip starts at `GET /connect/{instagram|threads|facebook}?tenant=ID&next=/path` (a
//! browser navigation from the dashboard) and ends at `GET /connect/{platform}/callback`. Its
//! `state` is random, recorded (as a hash, bound to the platform) with the user, the session
//! and the tenant, honoured once, and only for 10 minutes. Every way it can fail ends on a page
//! that says what happened and leads back, with nothing half-written. What is connected, and
//! how, is `freshtoken_accounts`'; this module only translates it to and from HTTP.
//!
//! A Facebook user who manages several Pages is sent back to the dashboard with
//! `?choose_pages=HANDLE`; the dashboard shows the Pages (`GET
//! /api/v1/tenants/{id}/facebook-login?login=HANDLE`) and connects the chosen ones (`POST`,
//! the handle in the body). The handle stays out of paths, which are logged.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Duration, Utc};
use freshtoken_accounts::{ConnectError, Login, LoginFor, Presets, Via};
use freshtoken_core::AccountKind;
use freshtoken_core::api::{
    ChoosePagesRequest, FacebookLoginView, OfferedPageView, PastedAccounts,
};
use freshtoken_meta::{MetaError, verify_signed_request};
use freshtoken_store::{FacebookLogin, OfferedPage, StartedBy, StoreError, User};
use serde_json::json;
use tower_sessions::Session;
use url::Url;

use crate::caller::{Access, Principal, SignedIn, signed_in_user};
use crate::error::{ApiError, ErrorBody, minutes_to_wait};
use crate::extract::{Path, Query};
use crate::json::ApiJson;
use crate::link_flow;
use crate::pages::Page;
use crate::round_trip::{
    self, STATE_LIFETIME_MINUTES, kind_of_segment, platform_segment, state_key,
};
use crate::secrets::{random_secret, sha256_hex};
use crate::state::AppState;
use crate::timestamps::rfc3339;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connect/{platform}", get(start))
        .route("/connect/{platform}/callback", get(callback))
        .route("/connect/{platform}/deauthorize", post(deauthorize))
        .route("/connect/{platform}/data-deletion", post(data_deletion))
        .route(
            "/connect/{platform}/data-deletion/{confirmation_code}",
            get(deletion_status),
        )
}

/// The JSON side of a Facebook login: the Pages to choose from, and the choice.
pub fn api_routes() -> Router<AppState> {
    Router::new().route(
        "/tenants/{tenant_id}/facebook-login",
        get(offered_pages).post(choose_pages),
    )
}

/// `?login=HANDLE`: a query string, as paths are logged and the handle is a secret.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
struct LoginQuery {
    /// The `choose_pages` handle Facebook's callback returned to the dashboard with.
    login: String,
}

/// A path on our own site to return to, or `None` if `next` would lead anywhere else.
fn own_path(public_url: &Url, next: &str) -> Option<String> {
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 1024
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if !plain {
        return None;
    }
    let url = public_url.join(next).ok()?;
    if url.origin() != public_url.origin() {
        return None;
    }
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    // `/.//evil.test` resolves to the path `//evil.test`, which a browser reads as another host.
    if path.starts_with("//") {
        return None;
    }
    Some(path.to_owned())
}

/// The pages this flow ends on.
struct Pages<'a> {
    state: &'a AppState,
    kind: AccountKind,
    back: String,
}

impl Pages<'_> {
    fn page(&self, status: StatusCode, title: &str, text: impl Into<String>) -> Page {
        Page::new(status, title)
            .paragraph(text)
            .back(self.back.clone(), "Back to freshtoken")
            .demo(self.state.config.demo)
    }

    fn internal(&self, err: impl Into<ApiError>) -> Page {
        let err: ApiError = err.into();
        tracing::error!(error = %crate::error::display_chain(&err), kind = self.kind.as_str(), "connecting an account failed");
        self.page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side",
            "Nothing was connected. The problem has been logged; please try again.",
        )
    }

    /// The page for a connection that did not happen.
    fn refused(&self, err: ConnectError) -> Page {
        let platform = self.kind.platform();
        match err {
            ConnectError::NotOffered(kind) => self.page(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{} is not set up here", kind.platform()),
                if kind.is_refreshed() {
                    format!("{err}. You can still paste a token.")
                } else {
                    // Checking a pasted Facebook token needs the app as well.
                    format!("{err}.")
                },
            ),
            ConnectError::Unavailable {
                error: MetaError::RateLimited { retry_after, .. },
                ..
            } => self.page(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{platform} asks us to wait"),
                format!(
                    "{platform} is limiting our requests right now. Nothing was saved; try again in {} minutes.",
                    minutes_to_wait(retry_after)
                ),
            ),
            ConnectError::Unavailable { .. } => self.page(
                StatusCode::BAD_GATEWAY,
                &format!("{platform} did not answer"),
                format!(
                    "{platform} could not be reached or answered with an error. Nothing was saved; try connecting again in a few minutes."
                ),
            ),
            ConnectError::CodeRefused(_) => self.page(
                StatusCode::BAD_REQUEST,
                &format!("{platform} did not accept this sign-in"),
                "The authorization code was refused: it may have been used already or have expired. Nothing was saved; press Connect again.",
            ),
            ConnectError::MissingPermission { permission, .. } => self.page(
                StatusCode::BAD_REQUEST,
                "Permission missing",
                format!(
                    "freshtoken needs the {permission} permission to read the profile and posts. Nothing was saved; press Connect again and allow it."
                ),
            ),
            ConnectError::NoSuchPage(message) => self.page(
                StatusCode::BAD_REQUEST,
                "No Page to connect",
                format!("{message}. Nothing was saved."),
            ),
            ConnectError::TokenRefused { message, .. } => self.page(
                StatusCode::BAD_GATEWAY,
                &format!("{platform} refused"),
                format!(
                    "{platform} refused to give us a lasting token ({message}). Nothing was saved; try connecting again."
                ),
            ),
            ConnectError::AppRefused(_) => self.page(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{platform} is not set up right here"),
                format!("{err}. Nothing was saved."),
            ),
            ConnectError::Store(StoreError::AccountLimit { .. }) => self.page(
                StatusCode::FORBIDDEN,
                "This workspace is full",
                format!("{err}. Remove an account first, or ask the operator for a higher limit."),
            ),
            ConnectError::Store(other) => self.internal(other),
            other @ (ConnectError::NotAToken(_)
            | ConnectError::KindMismatch { .. }
            | ConnectError::Unusable(_)
            | ConnectError::WrongAccount { .. }
            | ConnectError::InvalidLink(_)
            | ConnectError::LinkRefused(_)) => self.page(
                StatusCode::BAD_REQUEST,
                "Nothing was connected",
                format!("{other}."),
            ),
        }
    }
}

async fn start(
    State(state): State<AppState>,
    session: Session,
    Path(platform): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(kind) = kind_of_segment(&platform) else {
        return ApiError::NotFound.into_response();
    };
    let pages = Pages {
        state: &state,
        kind,
        back: "/".to_owned(),
    };
    match begin(&state, kind, &session, &query, &pages).await {
        Ok(authorize_url) => Redirect::to(authorize_url.as_str()).into_response(),
        Err(page) => page.into_response(),
    }
}

async fn begin(
    state: &AppState,
    kind: AccountKind,
    session: &Session,
    query: &HashMap<String, String>,
    pages: &Pages<'_>,
) -> Result<Url, Page> {
    if !state.connector.offers(kind) {
        return Err(pages.refused(ConnectError::NotOffered(kind)));
    }
    let return_to = match query.get("next") {
        None => "/".to_owned(),
        Some(next) => own_path(&state.config.public_url, next).ok_or_else(|| {
            pages.page(
                StatusCode::BAD_REQUEST,
                "This link is not valid",
                "The address to return to must be a page of this site.",
            )
        })?,
    };
    let pages = Pages {
        state,
        kind,
        back: return_to.clone(),
    };
    let user = current_user(state, session, &pages).await?;
    let tenant_id = choose_tenant(state, &user, query.get("tenant"), &pages).await?;
    let Some(session_id) = session.id() else {
        return Err(not_signed_in(&pages));
    };

    let started_by = StartedBy::Member {
        user_id: user.id,
        session_sha256: sha256_hex(&session_id.to_string()),
    };
    let state_value = round_trip::record(state, kind, started_by, tenant_id, return_to)
        .await
        .map_err(|err| pages.internal(err))?;
    state
        .connector
        .authorize_url(kind, &state_value)
        .map_err(|err| pages.refused(err))
}

fn not_signed_in(pages: &Pages<'_>) -> Page {
    pages.page(
        StatusCode::UNAUTHORIZED,
        "Please sign in first",
        format!(
            "Connecting {} needs you to be signed in to freshtoken, in this browser. Sign in and press Connect again.",
            pages.kind.display_name()
        ),
    )
}

async fn current_user(
    state: &AppState,
    session: &Session,
    pages: &Pages<'_>,
) -> Result<User, Page> {
    match signed_in_user(session, state).await {
        Ok(user) => Ok(user),
        Err(ApiError::Unauthorized(_)) => Err(not_signed_in(pages)),
        Err(other) => Err(pages.internal(other)),
    }
}

/// The tenant named by `tenant`, or the user's only one where they may connect accounts.
async fn choose_tenant(
    state: &AppState,
    user: &User,
    requested: Option<&String>,
    pages: &Pages<'_>,
) -> Result<i64, Page> {
    let tenant_id = match requested {
        Some(text) => text.trim().parse::<i64>().map_err(|_| {
            pages.page(
                StatusCode::BAD_REQUEST,
                "This link is not valid",
                "The workspace in this link is not a workspace id.",
            )
        })?,
        None => {
            let editable: Vec<i64> = state
                .store
                .memberships()
                .tenants_of(user.id)
                .await
                .map_err(|err| pages.internal(err))?
                .into_iter()
                .filter(|membership| membership.role.can_edit())
                .map(|membership| membership.tenant.id)
                .collect();
            match editable[..] {
                [only] => only,
                _ => {
                    return Err(pages.page(
                        StatusCode::BAD_REQUEST,
                        "Which workspace?",
                        "Start connecting from the workspace the account should belong to.",
                    ));
                }
            }
        }
    };
    may_connect(state, user, tenant_id, pages).await?;
    Ok(tenant_id)
}

/// The user may connect accounts in the tenant: an owner or editor of an enabled tenant.
async fn may_connect(
    state: &AppState,
    user: &User,
    tenant_id: i64,
    pages: &Pages<'_>,
) -> Result<(), Page> {
    match Access::resolve(state, Principal::User(user.clone()), tenant_id).await {
        Ok(access) if access.role.can_edit() => Ok(()),
        Ok(_) => Err(pages.page(
            StatusCode::FORBIDDEN,
            "You can only look here",
            "Viewers cannot connect accounts to this workspace. Ask one of its owners for the editor role.",
        )),
        Err(ApiError::NotFound) => Err(pages.page(
            StatusCode::NOT_FOUND,
            "Workspace not found",
            "There is no such workspace, or you are not a member of it.",
        )),
        Err(ApiError::Forbidden(reason)) => Err(pages.page(
            StatusCode::FORBIDDEN,
            "This workspace is disabled",
            reason,
        )),
        Err(other) => Err(pages.internal(other)),
    }
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(platform): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(kind) = kind_of_segment(&platform) else {
        return ApiError::NotFound.into_response();
    };
    match finish(&state, kind, &session, &headers, &query).await {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(Finished::Page(page)) => page.into_response(),
        Err(Finished::Link(response)) => response,
    }
}

/// How a callback ends when it does not return to the dashboard: on one of this flow's pages,
/// or, for a round trip started from a connect link, wherever `link_flow` leads its holder.
enum Finished {
    Page(Page),
    Link(Response),
}

impl From<Page> for Finished {
    fn from(page: Page) -> Finished {
        Finished::Page(page)
    }
}

/// Checks the state, then lets `freshtoken_accounts` finish the login; returns where to send
/// the browser.
async fn finish(
    state: &AppState,
    kind: AccountKind,
    session: &Session,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<String, Finished> {
    let platform = kind.platform();
    let mut pages = Pages {
        state,
        kind,
        back: "/".to_owned(),
    };
    let denied = query.contains_key("error");
    let denied_page = |pages: &Pages<'_>| {
        pages.page(
            StatusCode::OK,
            "Nothing was connected",
            format!(
                "You declined on {platform}, so freshtoken received no access. Press Connect again whenever you like."
            ),
        )
    };
    let Some(state_value) = query.get("state").filter(|value| !value.is_empty()) else {
        if denied {
            return Err(denied_page(&pages).into());
        }
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            format!(
                "{platform}'s answer did not carry the state we sent. Start again from the Connect button."
            ),
        ).into());
    };
    let taken = state
        .store
        .oauth_states()
        .take(&state_key(kind, state_value))
        .await
        .map_err(|err| pages.internal(err))?;
    let Some(pending) = taken else {
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "This link has already been used",
            format!(
                "This answer from {platform} was already used, or it did not come from a Connect started here. Start again from the Connect button."
            ),
        ).into());
    };
    let (user_id, started_in) = match &pending.started_by {
        StartedBy::Member {
            user_id,
            session_sha256,
        } => (*user_id, session_sha256.clone()),
        StartedBy::Link {
            connect_link_id,
            browser_sha256,
        } => {
            // The account's owner, through a connect link: no session here, their own pages.
            return Err(Finished::Link(
                link_flow::finish(
                    state,
                    kind,
                    (*connect_link_id, browser_sha256),
                    &pending,
                    headers,
                    query,
                )
                .await,
            ));
        }
    };
    pages.back = pending.return_to.clone();
    if pending.expires_at <= Utc::now() {
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "This link has expired",
            format!(
                "More than {STATE_LIFETIME_MINUTES} minutes passed since you pressed Connect. Nothing was saved; press Connect again."
            ),
        ).into());
    }
    let user = current_user(state, session, &pages).await?;
    let session_sha256 = session.id().map(|id| sha256_hex(&id.to_string()));
    if user.id != user_id || session_sha256.as_deref() != Some(&started_in) {
        return Err(pages.page(
            StatusCode::FORBIDDEN,
            "This connection was started elsewhere",
            format!(
                "This answer from {platform} belongs to a Connect started in another session. Nothing was saved; press Connect again here."
            ),
        ).into());
    }
    if denied {
        return Err(denied_page(&pages).into());
    }
    let Some(code) = query.get("code").filter(|code| !code.is_empty()) else {
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            &format!("{platform} sent no code"),
            format!(
                "{platform}'s answer carried no authorization code. Nothing was saved; press Connect again."
            ),
        ).into());
    };
    may_connect(state, &user, pending.tenant_id, &pages).await?;

    let login = state
        .connector
        .finish_login(kind, pending.tenant_id, code, &LoginFor::default())
        .await
        .map_err(|err| pages.refused(err))?;
    let (param, value) = match login {
        Login::Connected(connected) => {
            // Its token URLs change at once.
            state.delivery.forget_account(connected.account.id);
            ("connected", connected.account.id.to_string())
        }
        Login::Pages {
            user_token,
            pages: offered,
        } => {
            // Several Pages: the person chooses in the dashboard. The user token waits sealed.
            let handle = random_secret();
            let now = Utc::now();
            let login = FacebookLogin {
                started_by: pending.started_by.clone(),
                tenant_id: pending.tenant_id,
                return_to: pending.return_to.clone(),
                pages: offered.iter().map(OfferedPage::from).collect(),
                user_token,
                created_at: now,
                expires_at: now + Duration::minutes(STATE_LIFETIME_MINUTES),
            };
            state
                .store
                .facebook_logins()
                .create(&sha256_hex(&handle), &login)
                .await
                .map_err(|err| pages.internal(err))?;
            ("choose_pages", handle)
        }
    };
    let mut to = state
        .config
        .public_url
        .join(&pending.return_to)
        .map_err(|err| pages.internal(ApiError::internal(err)))?;
    to.query_pairs_mut().append_pair(param, &value);
    Ok(to[url::Position::BeforePath..url::Position::AfterQuery].to_owned())
}

/// The login a handle names, if it belongs to this user, this session and this tenant and has
/// not expired; anything else is `NotFound`, whoever asks.
fn check_login(
    login: Option<FacebookLogin>,
    user: &User,
    session: &Session,
    tenant_id: i64,
) -> Result<FacebookLogin, ApiError> {
    let session_sha256 = session.id().map(|id| sha256_hex(&id.to_string()));
    match login {
        Some(login)
            if matches!(&login.started_by, StartedBy::Member { user_id, session_sha256: started_in }
                if *user_id == user.id && session_sha256.as_deref() == Some(started_in))
                && login.tenant_id == tenant_id
                && login.expires_at > Utc::now() =>
        {
            Ok(login)
        }
        _ => Err(ApiError::NotFound),
    }
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant_id}/facebook-login", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id"), LoginQuery), responses((status = 200, description = "the Pages to choose from", body = FacebookLoginView), (status = 403, description = "API keys cannot: a Facebook login belongs to a signed-in person's session", body = ErrorBody), (status = 404, description = "no such login in this session (used, expired, or another person's)", body = ErrorBody)))]
async fn offered_pages(
    State(state): State<AppState>,
    session: Session,
    SignedIn(user): SignedIn,
    Path(tenant_id): Path<i64>,
    Query(query): Query<LoginQuery>,
) -> Result<axum::Json<FacebookLoginView>, ApiError> {
    // Someone removed from the workspace since, or in a disabled one, sees nothing either.
    Access::resolve(&state, Principal::User(user.clone()), tenant_id).await?;
    let login = state
        .store
        .facebook_logins()
        .get(&sha256_hex(&query.login))
        .await?;
    let login = check_login(login, &user, &session, tenant_id)?;
    Ok(axum::Json(FacebookLoginView {
        pages: login
            .pages
            .into_iter()
            .map(|page| OfferedPageView {
                id: page.id,
                name: page.name,
                category: page.category,
            })
            .collect(),
        expires_at: rfc3339(login.expires_at),
    }))
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant_id}/facebook-login", tag = "accounts", params(("tenant_id" = i64, Path, description = "workspace id")), request_body = ChoosePagesRequest, responses((status = 201, description = "the chosen Pages, connected: `{\"accounts\": [...]}`", body = PastedAccounts), (status = 400, description = "no Page chosen, or one this login did not offer (`no_such_page`)", body = ErrorBody), (status = 403, description = "API keys and viewers cannot connect, or the workspace is at its account limit", body = ErrorBody), (status = 404, description = "no such login in this session (used, expired, or another person's)", body = ErrorBody), (status = 502, description = "Facebook did not answer; nothing was saved", body = ErrorBody), (status = 503, description = "Facebook asks us to wait (`Retry-After`); nothing was saved", body = ErrorBody)))]
async fn choose_pages(
    State(state): State<AppState>,
    session: Session,
    SignedIn(user): SignedIn,
    Path(tenant_id): Path<i64>,
    ApiJson(request): ApiJson<ChoosePagesRequest>,
) -> Result<(StatusCode, axum::Json<PastedAccounts>), ApiError> {
    let access = Access::resolve(&state, Principal::User(user.clone()), tenant_id).await?;
    if !access.role.can_edit() {
        return Err(ApiError::Forbidden(
            "viewers cannot connect accounts: ask an owner for the editor role".into(),
        ));
    }
    if request.page_ids.is_empty() {
        return Err(ApiError::invalid("choose at least one Page (page_ids)"));
    }
    let handle_sha256 = sha256_hex(&request.login);
    // Checked before it is taken, so that another person's request cannot spend the login.
    let peeked = state.store.facebook_logins().get(&handle_sha256).await?;
    let login = check_login(peeked, &user, &session, tenant_id)?;
    if let Some(unknown) = request
        .page_ids
        .iter()
        .find(|id| !login.pages.iter().any(|page| &&page.id == id))
    {
        return Err(ApiError::BadRequest {
            code: "no_such_page",
            message: format!("Page {unknown:?} was not offered by this Facebook login"),
        });
    }
    let taken = state.store.facebook_logins().take(&handle_sha256).await?;
    let login = check_login(taken, &user, &session, tenant_id)?;
    let connected = match state
        .connector
        .connect_pages(
            tenant_id,
            &login.user_token,
            &request.page_ids,
            &Presets::default(),
            Via::Member,
        )
        .await
    {
        Ok(connected) => connected,
        Err(err) => {
            // Nothing was connected: the login is put back, until its own expiry, so that the
            // person can try again (after an outage, or once the workspace has room).
            state
                .store
                .facebook_logins()
                .create(&handle_sha256, &login)
                .await?;
            return Err(err.into());
        }
    };
    let mut accounts = Vec::with_capacity(connected.len());
    for one in &connected {
        state.delivery.forget_account(one.account.id);
        accounts.push(crate::account_views::account_view(&state, &one.account).await?);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(PastedAccounts::Several { accounts }),
    ))
}

/// Whose app a deauthorize or data-deletion callback comes from. Instagram's and Threads'
/// name the person their accounts are keyed by; Facebook's would name the Facebook user, while
/// a Page account is keyed by its Page, so Facebook has none (a removed app shows at the
/// Pages' next check instead).
fn callback_kind(platform: &str) -> Result<AccountKind, ApiError> {
    match kind_of_segment(platform) {
        Some(kind @ (AccountKind::Instagram | AccountKind::Threads)) => Ok(kind),
        _ => Err(ApiError::NotFound),
    }
}

/// The `signed_request` of one of Meta's callbacks, verified with that app's secret.
fn verified_user(state: &AppState, kind: AccountKind, body: &Bytes) -> Result<String, ApiError> {
    let app = state.connector.app(kind);
    let secret = &app.client_secret;
    if !app.has_app_secret() {
        return Err(ApiError::NotReady(format!(
            "no {} app secret is configured (FRESHTOKEN_{}_CLIENT_SECRET)",
            kind.platform(),
            kind.platform().to_uppercase()
        )));
    }
    let signed_request = url::form_urlencoded::parse(body)
        .find(|(name, _)| name == "signed_request")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| ApiError::invalid("expected a form field signed_request"))?;
    let request = verify_signed_request(&signed_request, secret)
        .and_then(|request| {
            request
                .check_fresh(Utc::now().timestamp())
                .map(|()| request)
        })
        .map_err(|err| {
            tracing::warn!(error = %err, "refused a callback from Meta");
            ApiError::BadRequest {
                code: "invalid_signed_request",
                message: err.to_string(),
            }
        })?;
    Ok(request.user_id)
}

/// Meta tells us a person removed our app: their tokens stop working, so stop serving them
/// at once and ask the tenant to reconnect.
async fn deauthorize(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let kind = callback_kind(&platform)?;
    let user_id = verified_user(&state, kind, &body)?;
    let accounts = state
        .connector
        .disconnect_platform_user(kind, &user_id)
        .await?;
    state.delivery.forget_all();
    tracing::info!(
        accounts,
        kind = kind.as_str(),
        "deauthorized on Meta's request"
    );
    Ok(axum::Json(json!({ "received": true })))
}

/// Meta relays a person's request to delete their data: delete their accounts and tokens
/// everywhere, and answer with a status page and a code to quote.
async fn data_deletion(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let kind = callback_kind(&platform)?;
    let user_id = verified_user(&state, kind, &body)?;
    let confirmation_code = random_secret();
    let deletion = state
        .connector
        .delete_platform_user_data(kind, &user_id, &confirmation_code)
        .await?;
    state.delivery.forget_all();
    tracing::info!(
        accounts = deletion.accounts_deleted,
        kind = kind.as_str(),
        "deleted a user's data on Meta's request"
    );
    let url = state
        .config
        .public_url
        .join(&format!(
            "connect/{}/data-deletion/{confirmation_code}",
            platform_segment(kind)
        ))
        .map_err(ApiError::internal)?;
    Ok(axum::Json(json!({
        "url": url.as_str(),
        "confirmation_code": confirmation_code,
    })))
}

async fn deletion_status(
    State(state): State<AppState>,
    Path((platform, confirmation_code)): Path<(String, String)>,
) -> Response {
    if callback_kind(&platform).is_err() {
        return ApiError::NotFound.into_response();
    }
    let page = |status, title: &str| Page::new(status, title).demo(state.config.demo);
    match state
        .store
        .data_deletions()
        .by_code(&confirmation_code)
        .await
    {
        Ok(Some(deletion)) => {
            let done = match deletion.completed_at {
                Some(at) => format!("It was completed on {}.", rfc3339(at)),
                None => "It is in progress.".to_owned(),
            };
            let mut response = page(StatusCode::OK, "Data deletion request")
                .paragraph(format!(
                    "Request {} was received on {}. {done}",
                    deletion.confirmation_code,
                    rfc3339(deletion.requested_at)
                ))
                .paragraph(format!(
                    "{} connected account(s), with their access tokens and refresh history, were deleted from this service.",
                    deletion.accounts_deleted
                ))
                .into_response();
            response
                .headers_mut()
                .insert("x-robots-tag", header::HeaderValue::from_static("noindex"));
            response
        }
        Ok(None) => page(StatusCode::NOT_FOUND, "Unknown confirmation code")
            .paragraph("No data deletion request has this confirmation code.")
            .into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_on_our_own_site_are_return_addresses() {
        let ours = Url::parse("https://tokens.example.com/").unwrap();
        assert_eq!(
            own_path(&ours, "/accounts?tab=new").as_deref(),
            Some("/accounts?tab=new")
        );
        assert_eq!(own_path(&ours, "/").as_deref(), Some("/"));
        for foreign in [
            "https://evil.test/",
            "//evil.test/",
            "/\\evil.test",
            "evil.test",
            "javascript:alert(1)",
            "/\u{0}x",
            "",
            " /accounts",
            "/.//evil.test",
            "/a/..//evil.test",
            "/%2e//evil.test",
        ] {
            assert_eq!(own_path(&ours, foreign), None, "{foreign:?}");
        }
        // Fragments are dropped: they never reach the server anyway.
        assert_eq!(own_path(&ours, "/a#b").as_deref(), Some("/a"));
    }
}
