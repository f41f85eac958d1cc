//! The JSON API under `/api/v1`, typed by `freshtoken_core::api`. The session cookie rides along
//! on every call (same origin), and every failure becomes an [`ApiError`] with words to show.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

const BASE: &str = "/api/v1";

/// A failed call, as the person at the screen should read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status; 0 when the server could not be reached.
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub async fn get<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    decode(send(Request::get(&url(path)), None::<&()>).await?).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    decode(send(Request::post(&url(path)), Some(body)).await?).await
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    decode(send(Request::patch(&url(path)), Some(body)).await?).await
}

/// A POST whose answer has nothing to read (204, or a body the caller does not need).
pub async fn post_empty<B: Serialize>(path: &str, body: &B) -> ApiResult<()> {
    send(Request::post(&url(path)), Some(body)).await.map(drop)
}

pub async fn delete(path: &str) -> ApiResult<()> {
    send(Request::delete(&url(path)), None::<&()>)
        .await
        .map(drop)
}

fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

async fn send<B: Serialize>(request: RequestBuilder, body: Option<&B>) -> ApiResult<Response> {
    let request = match body {
        Some(body) => request.json(body),
        None => request.build(),
    }
    .map_err(|err| ApiError {
        status: 0,
        message: err.to_string(),
    })?;
    let response = request.send().await.map_err(|_| ApiError {
        status: 0,
        message: "The server did not answer. Check your connection and try again.".to_owned(),
    })?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let message = match response.json::<ErrorBody>().await {
        Ok(body) => body.error.message,
        Err(_) => format!("The server answered {status} {}.", response.status_text()),
    };
    Err(ApiError { status, message })
}

async fn decode<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    response.json::<T>().await.map_err(|err| ApiError {
        status: response.status(),
        message: format!("The server's answer could not be read: {err}"),
    })
}

/// The one error body of the API: `{"error": {"code": "...", "message": "..."}}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    message: String,
}
