//! Security headers on every response that does not set its own (the connect pages set a
//! stricter policy; the token URLs set their own caching).
//!
//! The content security policy is the one the dashboard runs under: its own scripts and
//! WebAssembly (`'wasm-unsafe-eval'` allows compiling it, not `eval`), its own API, Instagram
//! profile pictures over https, and no framing by anyone (clickjacking). The token URLs are
//! loaded by other sites' pages, which this policy does not touch: a CSP applies to the
//! document it comes with, not to a script or JSON another page fetches.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
img-src 'self' https: data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
form-action 'self'; frame-ancestors 'none'";

/// Two years, the preload lists' minimum; subdomains are left to the operator's other sites.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000";

/// The headers of this instance.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    /// Whether the service is reached over https: only then is HSTS sent (a browser that saw
    /// it on a plain-http instance would refuse that instance for two years).
    https: bool,
    policy: HeaderValue,
}

impl SecurityHeaders {
    /// `demo_pictures`: the origin of the demo's fake pictures, served over plain http on a
    /// port of their own, which the dashboard shows as it would Instagram's.
    pub fn new(https: bool, demo_pictures: Option<&str>) -> SecurityHeaders {
        let policy = match demo_pictures {
            Some(origin) => HeaderValue::from_str(&CONTENT_SECURITY_POLICY.replace(
                "img-src 'self' https: data:",
                &format!("img-src 'self' https: data: {origin}"),
            ))
            .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
            None => HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        };
        SecurityHeaders { https, policy }
    }
}

pub async fn add(State(own): State<SecurityHeaders>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(own.policy);
    let https = own.https;
    let mut set = |name, value: &'static str| {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY);
    }
    response
}
