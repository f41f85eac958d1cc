//! Who is calling, and what they may do: a signed-in user (session cookie) or an API key
//! (`Authorization: Bearer`), as the extractors [`Principal`] and [`SignedIn`] find them, and
//! the caller's standing in a workspace ([`Access`]). Also the session's contents (who signed
//! in, when, and the sliding of its expiry) and the `/me` answer, which the sign-in routes, the
//! workspaces' routes and the connect flow share. The routes themselves live in `auth`,
//! `tenants` and the other areas; this module serves them all.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use freshtoken_core::Role;
use freshtoken_core::api::{MeResponse, TenantView, UserView};
use freshtoken_store::{StoreError, Tenant, User};
use tower_sessions::{Expiry, Session};

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) const SESSION_USER_ID: &str = "user_id";
pub(crate) const SESSION_SIGNED_IN_AT: &str = "signed_in_at";
/// When the session was last written (Unix seconds): its row and cookie end an idle window
/// after that.
const SESSION_SAVED_AT: &str = "saved_at";
/// A session is written again once this part of the idle window has passed since it last
/// was: a request then keeps it alive for at least the rest (nine tenths) of the window, and
/// a busy client costs one write per tenth of the window, not one per request.
const SESSION_RESAVE_FRACTION: u32 = 10;
const SIGN_IN_FIRST: &str = "sign in first (or send an API key as Authorization: Bearer)";

/// The caller of an API request.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    User(User),
    /// An API key acts inside its own tenant, as an editor.
    ApiKey {
        #[expect(
            dead_code,
            reason = "which key acts shows in the principal's `Debug`; no route reads it"
        )]
        key_id: i64,
        tenant_id: i64,
    },
}

impl Principal {
    /// The person acting, if it is one.
    pub(crate) fn user_id(&self) -> Option<i64> {
        match self {
            Principal::User(user) => Some(user.id),
            Principal::ApiKey { .. } => None,
        }
    }
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
pub(crate) async fn slide(
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
pub(crate) struct SignedIn(pub User);

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

pub(crate) async fn me_response(state: &AppState, user: &User) -> Result<MeResponse, ApiError> {
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

/// The caller's standing in one tenant.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    pub tenant: Tenant,
    pub role: Role,
    pub principal: Principal,
}

impl Access {
    /// Resolves the caller's role in `tenant_id`; no role at all is `NotFound`.
    pub(crate) async fn resolve(
        state: &AppState,
        principal: Principal,
        tenant_id: i64,
    ) -> Result<Access, ApiError> {
        let role = match &principal {
            Principal::User(user) => {
                state
                    .store
                    .memberships()
                    .role_of(tenant_id, user.id)
                    .await?
            }
            Principal::ApiKey { tenant_id: own, .. } => (*own == tenant_id).then_some(Role::Editor),
        };
        let role = role.ok_or(ApiError::NotFound)?;
        let tenant = state.store.tenants().by_id(tenant_id).await?;
        if tenant.disabled_at.is_some() {
            return Err(ApiError::Forbidden(
                "this workspace has been disabled by the operator".into(),
            ));
        }
        Ok(Access {
            tenant,
            role,
            principal,
        })
    }

    pub(crate) fn require_owner(&self) -> Result<(), ApiError> {
        if self.role == Role::Owner && matches!(self.principal, Principal::User(_)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only an owner of this workspace can do this".into(),
            ))
        }
    }
}
