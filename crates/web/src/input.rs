//! Input hygiene at the door, before any handler or database sees a request: control
//! characters (NUL above all, which PostgreSQL refuses in text and SQLite stores) are refused
//! in the path (404: no id contains one) and the query string (400), and a client's
//! `X-Request-Id` is kept only when it is short and printable (it is echoed and logged). The
//! largest body accepted and the request id's header are here too, for the middleware that
//! the router puts in front of every route.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use crate::error::ApiError;

/// Largest request body accepted anywhere; routes may set a smaller one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-chosen request id kept; a UUID is 36 characters.
const MAX_REQUEST_ID: usize = 64;

/// Whether `text` holds a character no identifier, name or address of ours may hold.
pub(crate) fn has_control_character(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// The same for a string in a JSON body, where tab, line feed and carriage return pass: they
/// are the white space of a pasted token or a multi-line list, which the fields trim or
/// refuse themselves.
pub(crate) fn has_control_character_in_body(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// Refuses a request whose path or query string, once decoded, holds a control character.
pub(crate) async fn refuse_control_characters(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let decoded_path = percent_decode_str(uri.path()).decode_utf8_lossy();
    if has_control_character(&decoded_path) {
        return ApiError::NotFound.into_response();
    }
    if let Some(query) = uri.query()
        && url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, value)| has_control_character(&name) || has_control_character(&value))
    {
        return ApiError::invalid("the query string holds a control character").into_response();
    }
    next.run(request).await
}

/// Drops an `X-Request-Id` that is too long or not printable ASCII, so that a new one is made
/// for the request instead of echoing and logging what a client wrote.
pub(crate) async fn keep_request_id_if_sane(mut request: Request) -> Request {
    let sane = |value: &HeaderValue| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID
            && bytes.iter().all(|byte| byte.is_ascii_graphic())
    };
    if let Some(value) = request.headers().get(&REQUEST_ID)
        && !sane(value)
    {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}
