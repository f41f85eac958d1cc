//! The dashboard's files, as `cargo dashboard` builds them into `frontend/dist/`: an HTML shell
//! answered for every page of the app (never cached, so a new build shows at once) and assets
//! named by their content hash (cached for a year, never revalidated). Everything is read into
//! memory at start: a few files, well under 2 MB, each with its gzip copy made at build time.
//! Paths outside the dashboard's sections stay JSON 404s, so a mistyped API path never gets
//! an HTML page.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;

/// Where `cargo dashboard` writes, relative to the repository: the default of
/// `FRESHTOKEN_DASHBOARD_DIR` when run from a checkout.
pub const DEFAULT_DIR: &str = "frontend/dist";

/// One file with its gzip copy.
#[derive(Debug)]
struct File {
    content_type: &'static str,
    body: Bytes,
    gzip: Option<Bytes>,
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("cannot read the dashboard in {dir}: {source}")]
    Read {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// The built dashboard, or where it was looked for.
#[derive(Debug)]
pub struct Dashboard {
    dir: PathBuf,
    shell: Option<File>,
    assets: HashMap<String, File>,
}

impl Dashboard {
    /// No dashboard: every page says how to build one (the API works regardless).
    pub fn missing(dir: impl Into<PathBuf>) -> Dashboard {
        Dashboard {
            dir: dir.into(),
            shell: None,
            assets: HashMap::new(),
        }
    }

    /// Reads `dir/index.html` and `dir/assets/*`; a directory without `index.html` is a
    /// dashboard not built yet, not an error.
    pub fn load(dir: &Path) -> Result<Dashboard, DashboardError> {
        let read_error = |source| DashboardError::Read {
            dir: dir.to_owned(),
            source,
        };
        let shell_path = dir.join("index.html");
        if !shell_path.exists() {
            return Ok(Dashboard::missing(dir));
        }
        let shell = read_file(&shell_path).map_err(read_error)?;
        let mut assets = HashMap::new();
        let asset_dir = dir.join("assets");
        if asset_dir.is_dir() {
            for entry in std::fs::read_dir(&asset_dir).map_err(read_error)? {
                let name = entry.map_err(read_error)?.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.ends_with(".gz") {
                    continue;
                }
                let file = read_file(&asset_dir.join(name)).map_err(read_error)?;
                assets.insert(name.to_owned(), file);
            }
        }
        Ok(Dashboard {
            dir: dir.to_owned(),
            shell: Some(shell),
            assets,
        })
    }

    pub fn is_built(&self) -> bool {
        self.shell.is_some()
    }
}

fn read_file(path: &Path) -> std::io::Result<File> {
    let body = Bytes::from(std::fs::read(path)?);
    let mut gzip_path = path.as_os_str().to_owned();
    gzip_path.push(".gz");
    let gzip = match std::fs::read(PathBuf::from(gzip_path)) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    Ok(File {
        content_type: content_type(path),
        body,
        gzip,
    })
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// The file, gzipped when the browser takes gzip.
fn answer(file: &File, request_headers: &HeaderMap, cache_control: &'static str) -> Response {
    let takes_gzip = request_headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| coding.split(';').next().unwrap_or("").trim() == "gzip");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    match (&file.gzip, takes_gzip) {
        (Some(gzip), true) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (headers, gzip.clone()).into_response()
        }
        _ => (headers, file.body.clone()).into_response(),
    }
}

/// `GET /assets/{name}`, and every page of the dashboard as the fallback of paths no other
/// route answers. The handlers take only the dashboard's files, from any state that holds them.
pub(crate) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<Dashboard>: FromRef<S>,
{
    Router::new()
        .route("/assets/{name}", get(asset))
        .fallback(page)
}

/// `GET /assets/{name}`: a hashed file, the same forever.
async fn asset(
    State(dashboard): State<Arc<Dashboard>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    match dashboard.assets.get(&name) {
        Some(file) => answer(file, &headers, "public, max-age=31536000, immutable"),
        None => ApiError::NotFound.into_response(),
    }
}

/// A GET of one of the dashboard's pages (see [`freshtoken_core::DASHBOARD_SECTIONS`]): the
/// shell, whose app routes the path itself. Every other unknown path is a JSON 404.
async fn page(
    State(dashboard): State<Arc<Dashboard>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !matches!(method, Method::GET | Method::HEAD)
        || !freshtoken_core::is_dashboard_page(uri.path())
    {
        return ApiError::NotFound.into_response();
    }
    match &dashboard.shell {
        Some(shell) => answer(shell, &headers, "no-cache"),
        None => not_built(&dashboard.dir),
    }
}

fn not_built(dir: &Path) -> Response {
    let text = format!(
        "The dashboard is not built: no index.html in {}. Run `cargo dashboard` in the \
         repository (or set FRESHTOKEN_DASHBOARD_DIR), then restart. The JSON API under \
         /api/v1 works without it.",
        dir.display()
    );
    crate::pages::Page::new(StatusCode::SERVICE_UNAVAILABLE, "Dashboard not built")
        .paragraph(text)
        .into_response()
}
