//! Who is calling: a signed-in user (session cookie) or an API key (`Authorization: Bearer`),
//! and the sign-up, sign-in and sign-out endpoints.

pub mod password;
pub mod session_store;

use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use chrono::Utc;
use freshtoken_core::api::{MeResponse, SignInRequest, SignUpRequest, TenantView, UserView};
use freshtoken_store::{Duplicate, Joining, SignUp, SignUpRefused, StoreError, User};
use sha2::{Digest, Sha256};
use tower_sessions::{Expiry, Session};

use crate::client_address::ClientAddress;
use crate::json::ApiJson;
use crate::openapi::ErrorBody;
use crate::{ApiError, AppState, tenants};

const SESSION_USER_ID: &str = "user_id";
const SESSION_SIGNED_IN_AT: &str = "signed_in_at";
/// When the session was last written (Unix seconds): its row and cookie end an idle window
/// after that.
const SESSION_SAVED_AT: &str = "saved_at";
/// A session is written again once this part of the idle window has passed since it last
/// was: a request then keeps it alive for at least the rest (nine tenths) of the window, and
/// a busy client costs one write per tenth of the window, not one per request.
const SESSION_RESAVE_FRACTION: u32 = 10;
pub const API_KEY_PREFIX: &str = "ft_";
const SIGN_IN_FIRST: &str = "sign in first (or send an API key as Authorization: Bearer)";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(sign_up))
        .route("/auth/signin", post(sign_in))
        .route("/auth/signout", post(sign_out))
        .route("/me", get(me))
}

/// The caller of an API request.
#[derive(Debug, Clone)]
pub enum Principal {
    User(User),
    /// An API key acts inside its own tenant, as an editor.
    ApiKey {
        key_id: i64,
        tenant_id: i64,
    },
}

impl Principal {
    /// The person acting, if it is one.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User(user) => Some(user.id),
            Principal::ApiKey { .. } => None,
        }
    }
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(secret) = crate::bearer::bearer_secret(&parts.headers) {
            let key = crate::bearer::authenticate(state, secret).await?;
            // A `tokens:read` key reads tokens at the token URLs and does nothing else here.
            crate::bearer::require(&key, freshtoken_core::ApiKeyScope::Api)?;
            return Ok(Principal::ApiKey {
                key_id: key.id,
                tenant_id: key.tenant_id,
            });
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Unauthorized(SIGN_IN_FIRST))?;
        let user = signed_in_user(&session, state).await?;
        Ok(Principal::User(user))
    }
}

pub(crate) async fn signed_in_user(session: &Session, state: &AppState) -> Result<User, ApiError> {
    let user_id: Option<i64> = session
        .get(SESSION_USER_ID)
        .await
        .map_err(ApiError::internal)?;
    let signed_in_at: Option<i64> = session
        .get(SESSION_SIGNED_IN_AT)
        .await
        .map_err(ApiError::internal)?;
    let (Some(user_id), Some(signed_in_at)) = (user_id, signed_in_at) else {
        return Err(ApiError::Unauthorized(SIGN_IN_FIRST));
    };
    // Absolute expiry: however active, a session ends this long after sign-in.
    let now = Utc::now().timestamp();
    let age = now.saturating_sub(signed_in_at);
    if age > state.config.session_max_age.as_secs() as i64 {
        session.flush().await.map_err(ApiError::internal)?;
        return Err(ApiError::Unauthorized(SIGN_IN_FIRST));
    }
    let user = match state.store.users().by_id(user_id).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Err(ApiError::Unauthorized(SIGN_IN_FIRST)),
        Err(other) => return Err(other.into()),
    };
    if user.disabled_at.is_some() {
        session.flush().await.map_err(ApiError::internal)?;
        return Err(ApiError::Unauthorized(SIGN_IN_FIRST));
    }
    let saved_at: i64 = session
        .get(SESSION_SAVED_AT)
        .await
        .map_err(ApiError::internal)?
        .unwrap_or(signed_in_at);
    let resave_after = state.config.session_idle.as_secs() / u64::from(SESSION_RESAVE_FRACTION);
    if now.saturating_sub(saved_at) >= i64::try_from(resave_after).unwrap_or(i64::MAX) {
        slide(state, session, signed_in_at, now).await?;
    }
    Ok(user)
}

/// Marks the session to be written again at the end of this request, so that its row and its
/// cookie end an idle window from `now`, or at its maximum age if that comes first.
async fn slide(
    state: &AppState,
    session: &Session,
    signed_in_at: i64,
    now: i64,
) -> Result<(), ApiError> {
    use tower_sessions::cookie::time::{Duration as TimeDuration, OffsetDateTime};
    let seconds = |duration: Duration| i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
    let idle = seconds(state.config.session_idle);
    // Ages count in whole seconds and a session lives while its age is at most the maximum
    // (see `signed_in_user`): it ends at the start of the second after.
    let ends_at = signed_in_at
        .saturating_add(seconds(state.config.session_max_age))
        .saturating_add(1);
    let expiry = if now.saturating_add(idle) < ends_at {
        Expiry::OnInactivity(TimeDuration::seconds(idle))
    } else {
        Expiry::AtDateTime(
            OffsetDateTime::from_unix_timestamp(ends_at).map_err(ApiError::internal)?,
        )
    };
    session.set_expiry(Some(expiry));
    session
        .insert(SESSION_SAVED_AT, now)
        .await
        .map_err(ApiError::internal)
}

/// A principal that must be a person, not an API key.
pub struct SignedIn(pub User);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::User(user) => Ok(SignedIn(user)),
            Principal::ApiKey { .. } => Err(ApiError::Forbidden(
                "API keys cannot do this: sign in as a person".into(),
            )),
        }
    }
}

fn check_email(email: &str) -> Result<(), ApiError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "email must be an e-mail address such as ada@example.com",
        ))
    }
}

/// Signs `user` in on this session and records the sign-in.
async fn start_session(state: &AppState, session: &Session, user: &User) -> Result<(), ApiError> {
    // A new id at sign-in, so an id planted before sign-in (session fixation) is worthless.
    session.cycle_id().await.map_err(ApiError::internal)?;
    session
        .insert(SESSION_USER_ID, user.id)
        .await
        .map_err(ApiError::internal)?;
    let now = Utc::now().timestamp();
    session
        .insert(SESSION_SIGNED_IN_AT, now)
        .await
        .map_err(ApiError::internal)?;
    slide(state, session, now, now).await?;
    state
        .store
        .users()
        .record_login(user.id, Utc::now())
        .await?;
    Ok(())
}

pub async fn me_response(state: &AppState, user: &User) -> Result<MeResponse, ApiError> {
    let tenants = state
        .store
        .memberships()
        .tenants_of(user.id)
        .await?
        .into_iter()
        .map(|membership| TenantView {
            id: membership.tenant.id,
            name: membership.tenant.name,
            slug: membership.tenant.slug,
            role: membership.role,
            disabled: membership.tenant.disabled_at.is_some(),
        })
        .collect();
    Ok(MeResponse {
        user: UserView {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            is_operator: user.is_operator,
        },
        tenants,
    })
}

#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignUpRequest, responses((status = 201, description = "signed up and signed in", body = MeResponse), (status = 400, description = "invalid input or invite", body = ErrorBody), (status = 403, description = "sign-up closed or invite needed", body = ErrorBody), (status = 409, description = "e-mail taken", body = ErrorBody), (status = 429, description = "too many sign-ups from this address; see Retry-After", body = ErrorBody)))]
async fn sign_up(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<SignUpRequest>,
) -> Result<(StatusCode, axum::Json<MeResponse>), ApiError> {
    check_email(&request.email)?;
    password::check_rules(&request.password).map_err(ApiError::invalid)?;
    let name = request.name.trim().to_owned();
    if name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be at most 200 characters"));
    }
    let email = freshtoken_store::normalize_email(&request.email);
    let joining = match request.invite.as_deref() {
        Some(secret) => {
            let secret_sha256 = sha256_hex(secret);
            // A bad link is refused before any hashing.
            tenants::check_invite(&state, &secret_sha256).await?;
            Joining::Invite { secret_sha256 }
        }
        None => {
            let workspace = request
                .workspace
                .map(|w| w.trim().to_owned())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| {
                    let who = if name.is_empty() {
                        email.split('@').next().unwrap_or("My")
                    } else {
                        &name
                    };
                    format!("{who}'s workspace")
                });
            let workspace = tenants::check_name(&workspace)?.to_owned();
            Joining::NewWorkspace {
                slugs: tenants::slug_candidates(&workspace),
                name: workspace,
            }
        }
    };
    state
        .throttle
        .sign_up(client)
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    let mode = Some(state.config.signup_mode);
    // Refused at once when it is plain, without hashing; the store decides again below.
    if let Some(refused) = state.store.users().sign_up_refusal(mode, &joining).await? {
        return Err(sign_up_refused(refused));
    }

    // Hashed before the sign-up's transaction opens: it holds the sign-up lock.
    let password_hash = password::hash_blocking(request.password).await?;
    let signed_up = state
        .store
        .users()
        .sign_up(SignUp {
            email,
            password_hash,
            name,
            mode,
            operator: false,
            joining,
        })
        .await
        .map_err(|err| match err {
            StoreError::Duplicate(Duplicate::Email) => ApiError::Conflict(
                "an account with this e-mail address already exists: sign in instead".into(),
            ),
            StoreError::Duplicate(Duplicate::Membership) => {
                ApiError::Conflict("you are already a member of this workspace".into())
            }
            other => other.into(),
        })?
        .map_err(sign_up_refused)?;

    start_session(&state, &session, &signed_up.user).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(me_response(&state, &signed_up.user).await?),
    ))
}

fn sign_up_refused(refused: SignUpRefused) -> ApiError {
    match refused {
        SignUpRefused::Closed => ApiError::Forbidden(
            "sign-up is closed on this instance: ask its operator for an account".into(),
        ),
        SignUpRefused::InviteNeeded => {
            ApiError::Forbidden("sign-up on this instance needs an invitation link".into())
        }
        SignUpRefused::Invite(reason) => tenants::refused(reason),
        SignUpRefused::NoFreeSlug => tenants::no_free_slug(),
    }
}

#[utoipa::path(post, path = "/api/v1/auth/signin", tag = "auth", request_body = SignInRequest, responses((status = 200, description = "signed in", body = MeResponse), (status = 400, description = "wrong e-mail or password", body = ErrorBody), (status = 403, description = "account disabled", body = ErrorBody), (status = 429, description = "too many failures; see Retry-After", body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<axum::Json<MeResponse>, ApiError> {
    let email = freshtoken_store::normalize_email(&request.email);
    let delay = state
        .throttle
        .sign_in(&email, client)
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;
    // An e-mail address under attack from many places is slowed down, not locked.
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let user = state.store.users().by_email(&email).await?;
    let verified = password::verify_blocking(
        request.password,
        user.as_ref().map(|user| user.password_hash.clone()),
    )
    .await;
    let Some(user) = user.filter(|_| verified) else {
        return Err(ApiError::BadRequest {
            code: "wrong_credentials",
            message: "wrong e-mail address or password".into(),
        });
    };
    if user.disabled_at.is_some() {
        return Err(ApiError::Forbidden(
            "this account has been disabled by the operator".into(),
        ));
    }
    start_session(&state, &session, &user).await?;
    Ok(axum::Json(me_response(&state, &user).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/signout", tag = "auth", responses((status = 204, description = "signed out; the session is deleted on the server")))]
async fn sign_out(session: Session) -> Result<StatusCode, ApiError> {
    // Deletes the session on the server, not just the cookie.
    session.flush().await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/me", tag = "auth", responses((status = 200, description = "who is signed in", body = MeResponse), (status = 401, description = "not signed in", body = ErrorBody)))]
async fn me(
    State(state): State<AppState>,
    SignedIn(user): SignedIn,
) -> Result<axum::Json<MeResponse>, ApiError> {
    Ok(axum::Json(me_response(&state, &user).await?))
}
