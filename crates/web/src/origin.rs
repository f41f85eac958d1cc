//! Cross-site request protection: a state-changing request that a browser could send with our
//! cookie must come from our own origin.
//!
//! Requests authenticated with `Authorization: Bearer` are exempt (browsers never attach that
//! header by themselves). Everything else that changes state needs an `Origin` equal to
//! `PUBLIC_URL`'s origin, or, without `Origin`, `Sec-Fetch-Site: same-origin`.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn require_same_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer "));
    if safe || bearer {
        return Ok(next.run(request).await);
    }
    let ours = state.config.public_url.origin().ascii_serialization();
    let allowed = match request.headers().get(header::ORIGIN) {
        Some(origin) => origin.to_str().is_ok_and(|origin| origin == ours),
        None => request
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|site| site == "same-origin"),
    };
    if !allowed {
        return Err(ApiError::Forbidden(format!(
            "cross-site request refused: state-changing requests must come from {ours} (or use an API key)"
        )));
    }
    Ok(next.run(request).await)
}
