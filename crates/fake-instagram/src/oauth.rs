//! The logins: www.instagram.com/oauth/authorize and threads.net/oauth/authorize (one path:
//! told apart by the scope asked for), www.facebook.com/{version}/dialog/oauth (routed here
//! from the Graph catch-all), each with a consent page; and the code exchange of Instagram
//! (api.instagram.com) and Threads (graph.threads.net) at `POST /oauth/access_token`, told
//! apart by the code. Facebook's code exchange is a Graph call (`graph.rs`).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use url::Url;

use crate::Shared;
use crate::state::{CODE_LIFETIME_SECS, Code, Platform, State as World, TokenKind, random_string};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/oauth/authorize", get(authorize).post(decide))
        .route("/oauth/access_token", post(access_token))
}

pub fn issue_code(
    state: &mut World,
    platform: Platform,
    username: &str,
    redirect_uri: &str,
) -> String {
    state.user(username);
    let code = format!("AQ{}", random_string(180));
    let issued_at = state.now();
    state.codes.insert(
        code.clone(),
        Code {
            platform,
            username: username.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            issued_at,
            used: false,
        },
    );
    code
}

/// An error of the OAuth endpoints: `{"error_type", "code", "error_message"}`.
struct OAuthError(String);

fn oauth_error(message: &str) -> OAuthError {
    OAuthError(message.to_owned())
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error_type": "OAuthException", "code": 400, "error_message": self.0}),
            ),
        )
            .into_response()
    }
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return oauth_error("Invalid redirect_uri").into_response();
    };
    url.query_pairs_mut().extend_pairs(pairs);
    // Instagram appends `#_` to the redirect; clients must not take it as part of the code.
    url.set_fragment(Some("_"));
    Redirect::to(url.as_str()).into_response()
}

fn check_app(shared: &Shared, params: &HashMap<String, String>) -> Result<(), OAuthError> {
    if params.get("client_id").map(String::as_str) != Some(shared.config.app_id.as_str()) {
        return Err(oauth_error("Invalid platform app"));
    }
    if params
        .get("redirect_uri")
        .is_none_or(|uri| Url::parse(uri).is_err())
    {
        return Err(oauth_error("Invalid redirect_uri"));
    }
    Ok(())
}

/// Threads and Instagram share the authorize path; the scope asked for says which is meant.
fn platform_of(params: &HashMap<String, String>) -> Platform {
    match params.get("platform").map(String::as_str) {
        Some("facebook") => return Platform::Facebook,
        Some("threads") => return Platform::Threads,
        Some("instagram") => return Platform::Instagram,
        _ => {}
    }
    if params
        .get("scope")
        .is_some_and(|scope| scope.contains("threads_"))
    {
        Platform::Threads
    } else {
        Platform::Instagram
    }
}

fn platform_param(platform: Platform) -> &'static str {
    match platform {
        Platform::Instagram => "instagram",
        Platform::Threads => "threads",
        Platform::Facebook => "facebook",
    }
}

async fn authorize(
    State(shared): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let platform = platform_of(&params);
    login_page(&shared, params, platform, "/oauth/authorize")
}

/// The start of a login on `platform`: an immediate code when a test set an auto-approving
/// user, else the consent page.
pub(crate) fn login_page(
    shared: &Shared,
    params: HashMap<String, String>,
    platform: Platform,
    path: &str,
) -> Response {
    if let Err(response) = check_app(shared, &params) {
        shared.lock().record("GET", path, &params, None, 400);
        return response.into_response();
    }
    if params.get("response_type").map(String::as_str) != Some("code") {
        return oauth_error("Invalid response_type: only code is supported").into_response();
    }
    let redirect_uri = &params["redirect_uri"];
    let state_param = params.get("state").cloned().unwrap_or_default();
    let mut world = shared.lock();
    world.record("GET", path, &params, None, 200);
    if let Some(username) = world.auto_approve.clone() {
        let code = issue_code(&mut world, platform, &username, redirect_uri);
        return redirect_with(redirect_uri, &[("code", &code), ("state", &state_param)]);
    }
    let mut usernames: Vec<String> = world.users.keys().cloned().collect();
    usernames.sort();
    drop(world);
    consent_page(&params, platform, &usernames).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn consent_page(
    params: &HashMap<String, String>,
    platform: Platform,
    usernames: &[String],
) -> Html<String> {
    let mut hidden: String = [
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "response_type",
    ]
    .iter()
    .filter_map(|name| params.get(*name).map(|value| (name, value)))
    .map(|(name, value)| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    })
    .collect();
    hidden.push_str(&format!(
        r#"<input type="hidden" name="platform" value="{}">"#,
        platform_param(platform)
    ));
    let name = platform.name();
    let asks = match platform {
        Platform::Facebook => format!(
            "An app asks to see the Pages you manage and their linked Instagram accounts (<code>{}</code>).",
            escape(
                params
                    .get("scope")
                    .map(String::as_str)
                    .unwrap_or("pages_show_list")
            )
        ),
        _ => format!(
            "An app asks to access your {name} profile (<code>{}</code>).",
            escape(
                params
                    .get("scope")
                    .map(String::as_str)
                    .unwrap_or("instagram_business_basic")
            )
        ),
    };
    let options: String = usernames
        .iter()
        .map(|name| format!(r#"<option value="{0}">{0}</option>"#, escape(name)))
        .collect();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fake {name}: allow access?</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
.card{{border:1px solid #ccc;border-radius:12px;padding:1.5rem}}button{{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem}}
.note{{color:#555;font-size:.9rem}}code{{overflow-wrap:anywhere}}</style></head>
<body><div class="card">
<h1>Fake {name}</h1>
<p>{asks}</p>
<form method="post" action="/oauth/authorize">
{hidden}
<label for="username">Log in as</label>
<input id="username" name="username" list="known-users" value="{first}" required>
<datalist id="known-users">{options}</datalist>
<p><button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>
<p class="note">This is freshtoken's stand-in for {name}, for demos and tests. Any user name works.</p>
</div></body></html>"#,
        first = usernames
            .first()
            .map(|name| escape(name))
            .unwrap_or_else(|| "demo_user".to_owned()),
    ))
}

async fn decide(
    State(shared): State<Shared>,
    axum::Form(params): axum::Form<HashMap<String, String>>,
) -> Response {
    if let Err(error) = check_app(&shared, &params) {
        return error.into_response();
    }
    let redirect_uri = &params["redirect_uri"];
    let state_param = params.get("state").cloned().unwrap_or_default();
    let mut world = shared.lock();
    world.record(
        "POST",
        "/oauth/authorize",
        &params,
        params.get("username").map(String::as_str),
        302,
    );
    if params.get("decision").map(String::as_str) != Some("allow") {
        return redirect_with(
            redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_reason", "user_denied"),
                ("error_description", "The user denied your request"),
                ("state", &state_param),
            ],
        );
    }
    let username = params
        .get("username")
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .unwrap_or("demo_user");
    let code = issue_code(&mut world, platform_of(&params), username, redirect_uri);
    redirect_with(redirect_uri, &[("code", &code), ("state", &state_param)])
}

/// Reads a form body, url-encoded or multipart, as Instagram accepts both.
async fn form_params(request: Request) -> Result<HashMap<String, String>, OAuthError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|_| oauth_error("Invalid multipart body"))?;
        let mut params = HashMap::new();
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or("").to_owned();
            let value = field
                .text()
                .await
                .map_err(|_| oauth_error("Invalid multipart body"))?;
            params.insert(name, value);
        }
        Ok(params)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let axum::Form(params) = axum::Form::<HashMap<String, String>>::from_request(request, &())
            .await
            .map_err(|_| oauth_error("Invalid form body"))?;
        Ok(params)
    } else {
        // JSON and anything else: the parameters are simply not found.
        Ok(HashMap::new())
    }
}

async fn access_token(State(shared): State<Shared>, request: Request) -> Response {
    let params = match form_params(request).await {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let (fault, code_owner) = {
        let mut world = shared.lock();
        let code_owner = params
            .get("code")
            .and_then(|code| world.codes.get(code))
            .map(|code| code.username.clone());
        (
            world.take_fault("/oauth/access_token", None, code_owner.as_deref()),
            code_owner,
        )
    };
    // A fault answers instead of the exchange (which then does not use up the code); a delay
    // only postpones it.
    if let Some(fault) = fault
        && let Some(response) = crate::graph::fault_response(fault, None).await
    {
        shared.lock().record(
            "POST",
            "/oauth/access_token",
            &params,
            code_owner.as_deref(),
            response.status().as_u16(),
        );
        return response;
    }
    let mut world = shared.lock();
    let result = exchange(&shared, &mut world, &params);
    let status = if result.is_ok() { 200 } else { 400 };
    world.record(
        "POST",
        "/oauth/access_token",
        &params,
        code_owner.as_deref(),
        status,
    );
    result.into_response_or_error()
}

trait IntoResponseOrError {
    fn into_response_or_error(self) -> Response;
}

impl IntoResponseOrError for Result<serde_json::Value, OAuthError> {
    fn into_response_or_error(self) -> Response {
        match self {
            Ok(body) => axum::Json(body).into_response(),
            Err(error) => error.into_response(),
        }
    }
}

fn exchange(
    shared: &Shared,
    world: &mut World,
    params: &HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    let get = |name: &str| params.get(name).map(String::as_str);
    for name in [
        "client_id",
        "client_secret",
        "grant_type",
        "redirect_uri",
        "code",
    ] {
        if get(name).is_none() {
            return Err(oauth_error(&format!("Missing required field {name}")));
        }
    }
    if get("client_id") != Some(shared.config.app_id.as_str()) {
        return Err(oauth_error("Invalid platform app"));
    }
    if get("client_secret") != Some(shared.config.app_secret.as_str()) {
        return Err(oauth_error("Error validating client secret."));
    }
    if get("grant_type") != Some("authorization_code") {
        return Err(oauth_error("Unsupported grant_type"));
    }
    let now = world.now();
    let code_value = get("code").unwrap_or_default();
    let Some(code) = world.codes.get_mut(code_value) else {
        return Err(oauth_error(
            "Matching code was not found or was already used",
        ));
    };
    if code.used || (now - code.issued_at).num_seconds() > CODE_LIFETIME_SECS {
        return Err(oauth_error(
            "Matching code was not found or was already used",
        ));
    }
    if Some(code.redirect_uri.as_str()) != get("redirect_uri") {
        return Err(oauth_error(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        ));
    }
    let platform = code.platform;
    if platform == Platform::Facebook {
        // Facebook's codes are exchanged with a Graph GET (`graph.rs`), not here.
        return Err(oauth_error(
            "Matching code was not found or was already used",
        ));
    }
    code.used = true;
    let username = code.username.clone();
    if platform == Platform::Threads {
        let (token, _) = world.issue_token(&username, TokenKind::ThreadsShort, now);
        let user_id = world.user(&username).threads_id;
        return Ok(json!({"access_token": token, "user_id": user_id}));
    }
    let (token, _) = world.issue_token(&username, TokenKind::ShortLived, now);
    let user_id = world.user(&username).id;
    Ok(if world.documented_code_shape {
        json!({"data": [{"access_token": token, "user_id": user_id.to_string(), "permissions": "instagram_business_basic"}]})
    } else {
        json!({"access_token": token, "user_id": user_id, "permissions": ["instagram_business_basic"]})
    })
}
