//! The sign-up, sign-in and sign-out endpoints, and `/me`. Who is calling (a signed-in user
//! or an API key) is found by the `caller` module, which every area's routes share.

pub mod password;
pub mod session_store;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::Utc;
use freshtoken_core::api::{MeResponse, SessionView, SignInRequest, SignUpRequest};
use freshtoken_store::{Duplicate, Joining, SignUp, SignUpRefused, StoreError, User};
use tower_sessions::Session;

use crate::caller::{SESSION_SIGNED_IN_AT, SESSION_USER_ID, SignedIn, me_response, slide};
use crate::client_address::ClientAddress;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
pub use crate::secrets::sha256_hex;
use crate::state::AppState;
use crate::workspaces;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(sign_up))
        .route("/auth/signin", post(sign_in))
        .route("/auth/signout", post(sign_out))
        .route("/me", get(me))
        .route("/session", get(session_probe))
}

fn check_email(email: &str) -> Result<(), ApiError> {
    if freshtoken_core::is_email_address(email) {
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
            workspaces::check_invite(&state, &secret_sha256).await?;
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
            let workspace = workspaces::check_name(&workspace)?.to_owned();
            Joining::NewWorkspace {
                slugs: workspaces::slug_candidates(&workspace),
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
        SignUpRefused::Invite(reason) => workspaces::refused(reason),
        SignUpRefused::NoFreeSlug => workspaces::no_free_slug(),
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

/// Whether anyone is signed in, always with a 200: the dashboard asks before it knows, and a
/// 401 there would be a failed request in every signed-out visitor's console.
#[utoipa::path(get, path = "/api/v1/session", tag = "auth", responses((status = 200, description = "`me` is who is signed in, `null` for nobody", body = SessionView)))]
async fn session_probe(
    State(state): State<AppState>,
    session: Session,
) -> Result<axum::Json<SessionView>, ApiError> {
    let me = match crate::caller::signed_in_user(&session, &state).await {
        Ok(user) => Some(me_response(&state, &user).await?),
        Err(ApiError::Unauthorized(_)) => None,
        Err(other) => return Err(other),
    };
    Ok(axum::Json(SessionView { me }))
}
