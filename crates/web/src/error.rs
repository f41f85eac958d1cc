use std::any::Any;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use freshtoken_accounts::ConnectError;
use freshtoken_accounts::demo::SceneRefused;
use freshtoken_core::AccountKind;
use freshtoken_meta::MetaError;
use freshtoken_store::{Duplicate, StoreError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// Everything a handler can answer with instead of success, mapped once to HTTP.
///
/// The client gets a stable `code` and a readable `message`; the log gets the whole chain of
/// server-side failures, which the client never sees.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, or not the caller's to see: the two are deliberately indistinguishable.
    #[error("not found")]
    NotFound,
    /// No valid session or API key; the message says which.
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    /// A request the client must fix; `code` is stable, `message` says how.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    /// It existed and is no more (an expired or revoked token): 410.
    #[error("{0}")]
    Gone(String),
    #[error("too many attempts; try again in {} seconds", retry_after.as_secs().max(1))]
    TooManyRequests { retry_after: Duration },
    /// Meta failed us: 502, or 503 with `Retry-After` when it asked us to wait.
    #[error("{message}")]
    Upstream {
        code: &'static str,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("the service is not ready: {0}")]
    NotReady(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code: "invalid_input",
            message: message.into(),
        }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(err))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Upstream {
                code,
                retry_after: None,
                ..
            } => (StatusCode::BAD_GATEWAY, code),
            ApiError::Upstream { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            ApiError::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Duplicate(duplicate) => ApiError::Conflict(duplicate.to_string()),
            StoreError::AccountLimit { .. } => ApiError::Forbidden(err.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<SceneRefused> for ApiError {
    fn from(err: SceneRefused) -> Self {
        match err {
            SceneRefused::Store(store) => store.into(),
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

impl From<ConnectError> for ApiError {
    fn from(err: ConnectError) -> Self {
        let bad_request = |code, err: &ConnectError| ApiError::BadRequest {
            code,
            message: err.to_string(),
        };
        match err {
            ConnectError::NotAToken(message) => ApiError::invalid(message),
            ConnectError::NotOffered(_) => bad_request("kind_not_offered", &err),
            ConnectError::KindMismatch { .. } => bad_request("kind_mismatch", &err),
            ConnectError::TokenRefused { kind, .. } => ApiError::BadRequest {
                code: "invalid_token",
                message: format!(
                    "{err}: generate a new one, or connect with {} instead",
                    kind.platform()
                ),
            },
            ConnectError::Unusable(_) => bad_request("invalid_token", &err),
            ConnectError::CodeRefused(_) => bad_request("invalid_code", &err),
            ConnectError::MissingPermission { .. } => bad_request("missing_permission", &err),
            ConnectError::NoSuchPage(_) => bad_request("no_such_page", &err),
            ConnectError::AppRefused(_) => ApiError::NotReady(err.to_string()),
            ConnectError::WrongAccount { .. } => bad_request("wrong_account", &err),
            ConnectError::InvalidLink(_) => bad_request("invalid_link", &err),
            ConnectError::LinkRefused(_) => ApiError::Gone(err.to_string()),
            ConnectError::Unavailable { kind, error } => upstream(kind, error),
            ConnectError::Store(err) => err.into(),
        }
    }
}

/// Meta could not be asked: nothing was saved, try again.
fn upstream(kind: AccountKind, error: MetaError) -> ApiError {
    let platform = kind.platform();
    match error {
        MetaError::RateLimited { retry_after, .. } => ApiError::Upstream {
            code: match kind {
                AccountKind::Instagram => "instagram_rate_limited",
                AccountKind::Threads => "threads_rate_limited",
                AccountKind::FacebookPage => "facebook_rate_limited",
            },
            message: format!(
                "{platform} asks us to slow down; nothing was saved, try again in {} minutes",
                minutes_to_wait(retry_after)
            ),
            retry_after: Some(retry_after),
        },
        other => ApiError::Upstream {
            code: match kind {
                AccountKind::Instagram => "instagram_unavailable",
                AccountKind::Threads => "threads_unavailable",
                AccountKind::FacebookPage => "facebook_unavailable",
            },
            message: format!(
                "{platform} did not answer properly ({other}); nothing was saved, try again in a few minutes"
            ),
            retry_after: None,
        },
    }
}

/// Whole minutes to tell a person to wait, at least one.
pub(crate) fn minutes_to_wait(retry_after: Duration) -> u64 {
    retry_after.as_secs().div_ceil(60).max(1)
}

impl From<Duplicate> for ApiError {
    fn from(duplicate: Duplicate) -> Self {
        ApiError::Conflict(duplicate.to_string())
    }
}

/// Every error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable, for programs: `not_found`, `invalid_input`, `rate_limited`, ...
    pub code: String,
    /// For people.
    pub message: String,
}

/// The one error body: `{"error": {"code": "...", "message": "..."}}`.
pub(crate) fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %display_chain(&self), "request failed");
        }
        let message = match &self {
            // Internal details stay in the log.
            ApiError::Internal(_) => {
                "something went wrong on our side; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = error_body(status, code, &message);
        if let ApiError::TooManyRequests { retry_after }
        | ApiError::Upstream {
            retry_after: Some(retry_after),
            ..
        } = &self
        {
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

pub(crate) fn display_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(crate) fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on our side; it has been logged",
    )
}
