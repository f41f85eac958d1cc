//! The JSON API under `/api/v1`, typed by `freshtoken_core::api`. The session cookie rides along
//! on every call (same origin), and every failure becomes an [`ApiError`] with words to show.

use gloo_net::http::{Request, RequestBuilder};
use leptos::prelude::*;
use leptos::task::spawn_local;
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
    parse(&call(Request::get(&url(path)), None).await?)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    parse(&call(Request::post(&url(path)), Some(json(body)?)).await?)
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<T> {
    parse(&call(Request::patch(&url(path)), Some(json(body)?)).await?)
}

/// A POST whose answer the caller reads with [`parse`], maybe more than once: as an account and
/// as its extra fields, say, which costs less code than `serde(flatten)`.
pub async fn post_text<B: Serialize>(path: &str, body: &B) -> ApiResult<String> {
    call(Request::post(&url(path)), Some(json(body)?)).await
}

/// A POST whose answer has nothing to read (204, or a body the caller does not need).
pub async fn post_empty<B: Serialize>(path: &str, body: &B) -> ApiResult<()> {
    call(Request::post(&url(path)), Some(json(body)?))
        .await
        .map(drop)
}

/// A PATCH answered 204 (a member's role).
pub async fn patch_empty<B: Serialize>(path: &str, body: &B) -> ApiResult<()> {
    call(Request::patch(&url(path)), Some(json(body)?))
        .await
        .map(drop)
}

pub async fn delete(path: &str) -> ApiResult<()> {
    call(Request::delete(&url(path)), None).await.map(drop)
}

fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

fn json<B: Serialize>(body: &B) -> ApiResult<String> {
    serde_json::to_string(body).map_err(|err| ApiError {
        status: 0,
        message: err.to_string(),
    })
}

/// Reads a successful answer's body. Apart from this, the calls share one piece of code
/// whatever they send and read (`call`), which keeps the download small.
pub fn parse<T: DeserializeOwned>(text: &str) -> ApiResult<T> {
    serde_json::from_str(text).map_err(|err| ApiError {
        status: 200,
        message: format!("The server's answer could not be read: {err}"),
    })
}

/// Sends the request with its JSON body, if any, and returns the body of a successful answer.
async fn call(request: RequestBuilder, body: Option<String>) -> ApiResult<String> {
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body),
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
    let status = response.status();
    if response.ok() {
        return response.text().await.map_err(|err| ApiError {
            status,
            message: format!("The server's answer could not be read: {err}"),
        });
    }
    let message = match response.json::<ErrorBody>().await {
        Ok(body) => crate::widgets::sentence(&body.error.message),
        Err(_) => format!("The server answered {status} {}.", response.status_text()),
    };
    Err(ApiError { status, message })
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

/// Server data a page shows, fetched from `path` when the page is drawn, again whenever what
/// `path` reads changes, and on [`Remote::refetch`]; `None` until the first answer, the last
/// answer while a new one is on its way. A `LocalResource` would do, but takes several times
/// the code for each type it holds, and the first page's download has a budget.
pub struct Remote<T: 'static> {
    value: RwSignal<Option<ApiResult<T>>>,
    version: RwSignal<u32>,
}

impl<T> Clone for Remote<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Remote<T> {}

impl<T: DeserializeOwned + Clone + Send + Sync + 'static> Remote<T> {
    /// `path` under `/api/v1`; `None` (no such workspace in the address, say) shows as "not
    /// found".
    pub fn new(path: impl Fn() -> Option<String> + 'static) -> Remote<T> {
        let value = RwSignal::new(None);
        let version = RwSignal::new(0);
        // Only the answer to the latest request is shown, whatever order they come back in.
        let latest = std::rc::Rc::new(std::cell::Cell::new(0u32));
        Effect::new(move |_| {
            version.track();
            let path = path();
            let request = latest.get().wrapping_add(1);
            latest.set(request);
            let latest = latest.clone();
            load(
                path,
                Box::new(move |answer| {
                    if latest.get() == request {
                        value.try_set(Some(answer.and_then(|text| parse(&text))));
                    }
                }),
            );
        });
        Remote { value, version }
    }

    pub fn get(self) -> Option<ApiResult<T>> {
        self.value.get()
    }

    /// Asks again; what is shown stays until the answer.
    /// Asks again; what is shown stays until the answer.
    pub fn refetch(self) {
        self.try_refetch();
    }

    /// [`Remote::refetch`], answering `false` once the page that showed it is gone.
    pub fn try_refetch(self) -> bool {
        self.version
            .try_update(|version| *version = version.wrapping_add(1))
            .is_some()
    }
}

/// Fetches `path` and hands the answer to `done`: the part of [`Remote`] that is the same for
/// every type.
fn load(path: Option<String>, done: Box<dyn FnOnce(ApiResult<String>)>) {
    spawn_local(async move {
        done(match path {
            Some(path) => call(Request::get(&url(&path)), None).await,
            None => Err(ApiError {
                status: 404,
                message: "There is nothing at this address.".to_owned(),
            }),
        });
    });
}
