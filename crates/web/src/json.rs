//! `ApiJson<T>`: axum's `Json` with our error shape for malformed, mistyped or oversized
//! bodies, so a client always gets `{"error": {...}}` with a message that says what was wrong.
//! Strings holding a control character (NUL above all, which PostgreSQL refuses in text while
//! SQLite stores it; tab and line breaks pass, as the white space of pasted text) are refused
//! here, before any handler or database sees them, so both engines answer alike.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::error_body;
use crate::input::has_control_character_in_body as has_control_character;

pub struct ApiJson<T>(pub T);

/// Why a JSON body was refused.
pub enum JsonError {
    Rejected(JsonRejection),
    /// A string at this path (`name`, `allowed_origins[2]`) holds a control character.
    ControlCharacter(String),
    /// Well-formed JSON of the wrong shape: what serde said, with the field's path.
    Shape(String),
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let rejection = match self {
            JsonError::Rejected(rejection) => rejection,
            JsonError::ControlCharacter(path) => {
                let at = if path.is_empty() {
                    "the body".to_owned()
                } else {
                    path
                };
                return error_body(
                    StatusCode::BAD_REQUEST,
                    "invalid_input",
                    &format!("{at} holds a control character"),
                );
            }
            JsonError::Shape(message) => {
                return error_body(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    &format!("Failed to deserialize the JSON body into the target type: {message}"),
                );
            }
        };
        let (status, code) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            JsonRejection::BytesRejection(_)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (rejection.status(), "bad_request"),
        };
        // axum's text names the field and the expected type, and never echoes the value.
        error_body(status, code, &rejection.body_text())
    }
}

/// The path of the first string (or object key) holding a control character, if any.
fn control_character_at(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(text) => has_control_character(text).then(|| path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| control_character_at(item, &format!("{path}[{index}]"))),
        Value::Object(fields) => fields.iter().find_map(|(name, item)| {
            let here = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            if has_control_character(name) {
                return Some(path.to_owned());
            }
            control_character_at(item, &here)
        }),
        _ => None,
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = JsonError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<Value>::from_request(request, state)
            .await
            .map_err(JsonError::Rejected)?;
        if let Some(path) = control_character_at(&value, "") {
            return Err(JsonError::ControlCharacter(path));
        }
        serde_path_to_error::deserialize(value)
            .map(ApiJson)
            .map_err(|err| JsonError::Shape(err.to_string()))
    }
}
