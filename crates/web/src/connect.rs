//! "Connect Instagram": the OAuth round trip, and the callbacks Meta sends when a person
//! removes our app or asks for their data to be deleted.
//!
//! The round trip starts at `GET /connect/instagram?tenant=ID&next=/path` (a browser
//! navigation from the dashboard) and ends at `GET /connect/instagram/callback`. Its `state`
//! is random, recorded (as a hash) with the user, the session and the tenant, honoured once,
//! and only for 10 minutes. Every way it can fail ends on a page that says what happened and
//! leads back, with nothing half-written: the account is stored in one transaction after
//! Instagram has answered every call.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Duration, Utc};
use freshtoken_core::Provider;
use freshtoken_instagram::{BASIC_SCOPE, InstagramError, verify_signed_request};
use freshtoken_store::{OauthState, StoreError, TokenUpdate, User};
use serde_json::json;
use tower_sessions::Session;
use url::Url;

use crate::accounts::{minutes_to_wait, store_connected};
use crate::auth::{Principal, sha256_hex, signed_in_user};
use crate::extract::{Path, Query};
use crate::pages::Page;
use crate::tenants::{Access, rfc3339};
use crate::{ApiError, AppState, random_secret};

/// How long a person has to get through Instagram's consent page.
const STATE_LIFETIME_MINUTES: i64 = 10;
const CALLBACK_PATH: &str = "connect/instagram/callback";
const DATA_DELETION_PATH: &str = "connect/instagram/data-deletion";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connect/instagram", get(start))
        .route("/connect/instagram/callback", get(callback))
        .route("/connect/instagram/deauthorize", post(deauthorize))
        .route("/connect/instagram/data-deletion", post(data_deletion))
        .route(
            "/connect/instagram/data-deletion/{confirmation_code}",
            get(deletion_status),
        )
}

/// The redirect URI to register with Meta: `{PUBLIC_URL}/connect/instagram/callback`.
pub fn redirect_uri(public_url: &Url) -> String {
    public_url
        .join(CALLBACK_PATH)
        .map(String::from)
        .unwrap_or_default()
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
    Some(url[url::Position::BeforePath..url::Position::AfterQuery].to_owned())
}

/// The pages this flow ends on.
struct Pages<'a> {
    state: &'a AppState,
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
        tracing::error!(error = %crate::error::display_chain(&err), "connecting Instagram failed");
        self.page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side",
            "Nothing was connected. The problem has been logged; please try again.",
        )
    }

    fn instagram(&self, err: InstagramError) -> Page {
        match err {
            InstagramError::RateLimited { retry_after, .. } => self.page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Instagram asks us to wait",
                format!(
                    "Instagram is limiting our requests right now. Nothing was saved; try again in {} minutes.",
                    minutes_to_wait(retry_after)
                ),
            ),
            InstagramError::Transient { .. } => self.page(
                StatusCode::BAD_GATEWAY,
                "Instagram did not answer",
                "Instagram could not be reached or answered with an error. Nothing was saved; try connecting again in a few minutes.",
            ),
            InstagramError::Revoked { message, .. } | InstagramError::Rejected { message, .. } => {
                self.page(
                    StatusCode::BAD_GATEWAY,
                    "Instagram refused",
                    format!(
                        "Instagram refused to give us a lasting token ({message}). Nothing was saved; try connecting again."
                    ),
                )
            }
        }
    }
}

async fn start(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let pages = Pages {
        state: &state,
        back: "/".to_owned(),
    };
    match begin(&state, &session, &query, &pages).await {
        Ok(authorize_url) => Redirect::to(authorize_url.as_str()).into_response(),
        Err(page) => page.into_response(),
    }
}

async fn begin(
    state: &AppState,
    session: &Session,
    query: &HashMap<String, String>,
    pages: &Pages<'_>,
) -> Result<Url, Page> {
    if !state.instagram.config().has_app_credentials() {
        return Err(pages.page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Instagram is not set up here",
            "The operator of this instance has not configured an Instagram app (FRESHTOKEN_INSTAGRAM_CLIENT_ID and FRESHTOKEN_INSTAGRAM_CLIENT_SECRET; see docs/instagram-app.md). You can still paste a token.",
        ));
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
        back: return_to.clone(),
    };
    let user = current_user(state, session, &pages).await?;
    let tenant_id = choose_tenant(state, &user, query.get("tenant"), &pages).await?;
    let Some(session_id) = session.id() else {
        return Err(not_signed_in(&pages));
    };

    let state_value = random_secret();
    let now = Utc::now();
    let pending = OauthState {
        user_id: user.id,
        session_sha256: sha256_hex(&session_id.to_string()),
        tenant_id,
        return_to,
        created_at: now,
        expires_at: now + Duration::minutes(STATE_LIFETIME_MINUTES),
    };
    state
        .store
        .oauth_states()
        .create(&sha256_hex(&state_value), &pending)
        .await
        .map_err(|err| pages.internal(err))?;
    state
        .instagram
        .authorize_url(&state_value)
        .map_err(|err| pages.internal(ApiError::internal(err)))
}

fn not_signed_in(pages: &Pages<'_>) -> Page {
    pages.page(
        StatusCode::UNAUTHORIZED,
        "Please sign in first",
        "Connecting an Instagram account needs you to be signed in to freshtoken, in this browser. Sign in and press Connect again.",
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
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match finish(&state, &session, &query).await {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(page) => page.into_response(),
    }
}

/// Checks the state, then exchanges the code, upgrades the token, reads the profile and
/// stores the account; returns where to send the browser.
async fn finish(
    state: &AppState,
    session: &Session,
    query: &HashMap<String, String>,
) -> Result<String, Page> {
    let mut pages = Pages {
        state,
        back: "/".to_owned(),
    };
    let denied = query.contains_key("error");
    let denied_page = |pages: &Pages<'_>| {
        pages.page(
            StatusCode::OK,
            "Nothing was connected",
            "You declined on Instagram, so freshtoken received no access. Press Connect again whenever you like.",
        )
    };
    let Some(state_value) = query.get("state").filter(|value| !value.is_empty()) else {
        if denied {
            return Err(denied_page(&pages));
        }
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "This link is incomplete",
            "Instagram's answer did not carry the state we sent. Start again from the Connect button.",
        ));
    };
    let taken = state
        .store
        .oauth_states()
        .take(&sha256_hex(state_value))
        .await
        .map_err(|err| pages.internal(err))?;
    let Some(pending) = taken else {
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "This link has already been used",
            "This answer from Instagram was already used, or it did not come from a Connect started here. Start again from the Connect button.",
        ));
    };
    pages.back = pending.return_to.clone();
    if pending.expires_at <= Utc::now() {
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "This link has expired",
            format!(
                "More than {STATE_LIFETIME_MINUTES} minutes passed since you pressed Connect. Nothing was saved; press Connect again."
            ),
        ));
    }
    let user = current_user(state, session, &pages).await?;
    let same_session = session
        .id()
        .is_some_and(|id| sha256_hex(&id.to_string()) == pending.session_sha256);
    if user.id != pending.user_id || !same_session {
        return Err(pages.page(
            StatusCode::FORBIDDEN,
            "This connection was started elsewhere",
            "This answer from Instagram belongs to a Connect started in another session. Nothing was saved; press Connect again here.",
        ));
    }
    if denied {
        return Err(denied_page(&pages));
    }
    let Some(code) = query.get("code").filter(|code| !code.is_empty()) else {
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "Instagram sent no code",
            "Instagram's answer carried no authorization code. Nothing was saved; press Connect again.",
        ));
    };
    may_connect(state, &user, pending.tenant_id, &pages).await?;

    let instagram = &state.instagram;
    let short = instagram.exchange_code(code).await.map_err(|err| match err {
        InstagramError::Rejected { .. } | InstagramError::Revoked { .. } => pages.page(
            StatusCode::BAD_REQUEST,
            "Instagram did not accept this sign-in",
            "The authorization code was refused: it may have been used already or have expired. Nothing was saved; press Connect again.",
        ),
        other => pages.instagram(other),
    })?;
    if !short.permissions.is_empty() && !short.permissions.iter().any(|p| p == BASIC_SCOPE) {
        return Err(pages.page(
            StatusCode::BAD_REQUEST,
            "Permission missing",
            format!(
                "freshtoken needs the {BASIC_SCOPE} permission to read the profile and media. Nothing was saved; press Connect again and allow it."
            ),
        ));
    }
    let now = Utc::now();
    let long = instagram
        .exchange_for_long_lived(&short.token)
        .await
        .map_err(|err| pages.instagram(err))?;
    let profile = instagram
        .me(&long.token)
        .await
        .map_err(|err| pages.instagram(err))?;
    let token = TokenUpdate {
        token: long.token,
        issued_at: now,
        expires_at: chrono::Duration::from_std(long.expires_in)
            .ok()
            .map(|lifetime| now + lifetime),
        scopes: short.permissions.join(","),
        refreshed_at: None,
    };
    let (account, created) = store_connected(&state.store, pending.tenant_id, &profile, &token)
        .await
        .map_err(|err| match err {
            StoreError::AccountLimit { .. } => pages.page(
                StatusCode::FORBIDDEN,
                "This workspace is full",
                format!("{err}. Remove an account first, or ask the operator for a higher limit."),
            ),
            other => pages.internal(other),
        })?;
    state.delivery.forget_account(account.id);
    tracing::info!(
        tenant_id = pending.tenant_id,
        account_id = account.id,
        created,
        "connected an Instagram account"
    );
    let mut to = state
        .config
        .public_url
        .join(&pending.return_to)
        .map_err(|err| pages.internal(ApiError::internal(err)))?;
    to.query_pairs_mut()
        .append_pair("connected", &account.id.to_string());
    Ok(to[url::Position::BeforePath..url::Position::AfterQuery].to_owned())
}

/// The `signed_request` of one of Meta's callbacks, verified with the app secret.
fn verified_user(state: &AppState, body: &Bytes) -> Result<String, ApiError> {
    let secret = &state.instagram.config().client_secret;
    if !state.instagram.config().has_app_secret() {
        return Err(ApiError::NotReady(
            "no Instagram app secret is configured (FRESHTOKEN_INSTAGRAM_CLIENT_SECRET)".into(),
        ));
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
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let user_id = verified_user(&state, &body)?;
    let accounts = state
        .store
        .accounts()
        .disconnect_provider_user(
            Provider::Instagram,
            &user_id,
            "The account owner removed freshtoken's access on Instagram: reconnect to resume.",
        )
        .await?;
    state.delivery.forget_all();
    tracing::info!(accounts, "deauthorized on Instagram");
    Ok(axum::Json(json!({ "received": true })))
}

/// Meta relays a person's request to delete their data: delete their accounts and tokens
/// everywhere, and answer with a status page and a code to quote.
async fn data_deletion(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let user_id = verified_user(&state, &body)?;
    let confirmation_code = random_secret();
    let deletion = state
        .store
        .data_deletions()
        .delete_user_data(Provider::Instagram, &user_id, &confirmation_code)
        .await?;
    state.delivery.forget_all();
    tracing::info!(
        accounts = deletion.accounts_deleted,
        "deleted an Instagram user's data on request"
    );
    let url = state
        .config
        .public_url
        .join(&format!("{DATA_DELETION_PATH}/{confirmation_code}"))
        .map_err(ApiError::internal)?;
    Ok(axum::Json(json!({
        "url": url.as_str(),
        "confirmation_code": confirmation_code,
    })))
}

async fn deletion_status(
    State(state): State<AppState>,
    Path(confirmation_code): Path<String>,
) -> Response {
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
                    "{} connected Instagram account(s), with their access tokens and refresh history, were deleted from this service.",
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
        ] {
            assert_eq!(own_path(&ours, foreign), None, "{foreign:?}");
        }
        // Fragments are dropped: they never reach the server anyway.
        assert_eq!(own_path(&ours, "/a#b").as_deref(), Some("/a"));
    }

    #[test]
    fn the_redirect_uri_sits_under_the_public_url() {
        let ours = Url::parse("https://tokens.example.com/").unwrap();
        assert_eq!(
            redirect_uri(&ours),
            "https://tokens.example.com/connect/instagram/callback"
        );
    }
}
