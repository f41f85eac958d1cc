//! Who is calling: a signed-in user (session cookie) or an API key (`Authorization: Bearer`),
//! and the sign-up, sign-in and sign-out endpoints.

pub mod password;
pub mod session_store;

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use chrono::Utc;
use freshtoken_core::api::{MeResponse, SignInRequest, SignUpRequest, TenantView, UserView};
use freshtoken_core::{Role, SignupMode};
use freshtoken_store::{Duplicate, NewUser, StoreError, User};
use sha2::{Digest, Sha256};
use tower_sessions::Session;

use crate::json::ApiJson;
use crate::openapi::ErrorBody;
use crate::{ApiError, AppState, tenants};

const SESSION_USER_ID: &str = "user_id";
const SESSION_SIGNED_IN_AT: &str = "signed_in_at";
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
    let age = Utc::now().timestamp().saturating_sub(signed_in_at);
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
    Ok(user)
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

/// The address the request came from (the TCP peer), for throttling.
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientAddress(address))
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
    session
        .insert(SESSION_SIGNED_IN_AT, Utc::now().timestamp())
        .await
        .map_err(ApiError::internal)?;
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

#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignUpRequest, responses((status = 201, description = "signed up and signed in", body = MeResponse), (status = 400, description = "invalid input or invite", body = ErrorBody), (status = 403, description = "sign-up closed or invite needed", body = ErrorBody), (status = 409, description = "e-mail taken", body = ErrorBody)))]
async fn sign_up(
    State(state): State<AppState>,
    session: Session,
    ApiJson(request): ApiJson<SignUpRequest>,
) -> Result<(StatusCode, axum::Json<MeResponse>), ApiError> {
    check_email(&request.email)?;
    password::check_rules(&request.password).map_err(ApiError::invalid)?;
    let name = request.name.trim().to_owned();
    if name.chars().count() > 200 {
        return Err(ApiError::invalid("name must be at most 200 characters"));
    }

    let first_user = state.store.users().count().await? == 0;
    let invite_hash = request.invite.as_deref().map(sha256_hex);
    if !first_user {
        match (state.config.signup_mode, &invite_hash) {
            (SignupMode::Closed, _) => {
                return Err(ApiError::Forbidden(
                    "sign-up is closed on this instance: ask its operator for an account".into(),
                ));
            }
            (SignupMode::Invite, None) => {
                return Err(ApiError::Forbidden(
                    "sign-up on this instance needs an invitation link".into(),
                ));
            }
            _ => {}
        }
    }
    // Check the invite before creating anything, so a bad link leaves nothing behind.
    if let Some(hash) = &invite_hash {
        tenants::check_invite(&state, hash).await?;
    }

    let password_hash = password::hash_blocking(request.password).await?;
    let user = state
        .store
        .users()
        .create(NewUser {
            email: request.email,
            password_hash,
            name: name.clone(),
            // The first user of a fresh instance runs it.
            is_operator: first_user,
        })
        .await
        .map_err(|err| match err {
            StoreError::Duplicate(Duplicate::Email) => ApiError::Conflict(
                "an account with this e-mail address already exists: sign in instead".into(),
            ),
            other => other.into(),
        })?;

    match &invite_hash {
        Some(hash) => {
            tenants::accept_invite(&state, hash, user.id).await?;
        }
        None => {
            let workspace = request
                .workspace
                .map(|w| w.trim().to_owned())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| {
                    let who = if name.is_empty() {
                        user.email.split('@').next().unwrap_or("My")
                    } else {
                        &name
                    };
                    format!("{who}'s workspace")
                });
            let tenant = tenants::create_tenant(&state, &workspace, None).await?;
            state
                .store
                .memberships()
                .add(tenant.id, user.id, Role::Owner)
                .await?;
        }
    }

    start_session(&state, &session, &user).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(me_response(&state, &user).await?),
    ))
}

#[utoipa::path(post, path = "/api/v1/auth/signin", tag = "auth", request_body = SignInRequest, responses((status = 200, description = "signed in", body = MeResponse), (status = 400, description = "wrong e-mail or password", body = ErrorBody), (status = 403, description = "account disabled", body = ErrorBody), (status = 429, description = "too many failures; see Retry-After", body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<axum::Json<MeResponse>, ApiError> {
    let email = freshtoken_store::normalize_email(&request.email);
    state
        .throttle
        .check(&email, address)
        .map_err(|retry_after| ApiError::TooManyRequests { retry_after })?;

    let user = state.store.users().by_email(&email).await?;
    let verified = password::verify_blocking(
        request.password,
        user.as_ref().map(|user| user.password_hash.clone()),
    )
    .await;
    let Some(user) = user.filter(|_| verified) else {
        state.throttle.record_failure(&email, address);
        return Err(ApiError::BadRequest {
            code: "wrong_credentials",
            message: "wrong e-mail address or password".into(),
        });
    };
    state.throttle.record_success(&email);
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
