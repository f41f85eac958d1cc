//! `ApiJson<T>`: axum's `Json` with our error shape for malformed, mistyped or oversized
//! bodies, so a client always gets `{"error": {...}}` with a message that says what was wrong.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::error_body;

pub struct ApiJson<T>(pub T);

/// Why a JSON body was refused.
pub struct JsonError(JsonRejection);

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            JsonRejection::BytesRejection(_)
                if self.0.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (self.0.status(), "bad_request"),
        };
        // axum's text names the field and the expected type, and never echoes the value.
        error_body(status, code, &self.0.body_text())
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
{
    type Rejection = JsonError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| ApiJson(value))
            .map_err(JsonError)
    }
}
