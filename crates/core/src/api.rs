//! Request and response bodies of the JSON API under `/api/v1`, shared by the server and the
//! dashboard so the two cannot drift apart. Timestamps are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};

use crate::{AccountKind, AccountStatus, RefreshInterval, Role};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignUpRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub name: String,
    /// Name of the workspace to create; ignored when joining through `invite`.
    #[serde(default)]
    pub workspace: Option<String>,
    /// The secret of an invitation link, to join its workspace instead of creating one.
    #[serde(default)]
    pub invite: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub is_operator: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantView {
    pub id: i64,
    pub name: String,
    pub slug: String,
    /// The caller's role in this workspace.
    pub role: Role,
    pub disabled: bool,
}

/// Who is signed in, and where they belong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    pub user: UserView,
    pub tenants: Vec<TenantView>,
}

/// `GET /api/v1/session`: who is signed in, if anyone. Always 200, so that a page that only
/// wants to know (the dashboard starting signed out) logs no failed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    /// `null` when nobody is signed in.
    pub me: Option<MeResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateTenantRequest {
    pub name: String,
    /// URL-friendly name; derived from `name` when absent.
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberView {
    pub user_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateMemberRequest {
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateInviteRequest {
    pub role: Role,
    /// How long the link stays valid, in days (1 to 30; 7 when absent).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InviteView {
    pub id: i64,
    pub role: Role,
    pub created_at: String,
    pub expires_at: String,
    pub used: bool,
}

/// A new invitation: the link is shown once and never again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedInvite {
    pub invite: InviteView,
    pub secret: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptInviteRequest {
    pub secret: String,
}

/// What an invitation offers, for the page its link opens (`POST /api/v1/invites/preview`
/// with the secret; no session needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitePreview {
    /// The workspace's name.
    pub workspace: String,
    /// Who made the invitation (their e-mail address), if they are still a user.
    pub invited_by: Option<String>,
    pub role: Role,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// What the key may do; `["api"]` when absent. `["tokens:read"]` for a key that only
    /// reads tokens at the token URLs.
    #[serde(default)]
    pub scopes: Option<Vec<crate::ApiKeyScope>>,
    /// When the key stops working (RFC 3339, in the future); never when absent.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The visible start of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    /// When the key was last used, to the minute (a key used all the time is not written on
    /// every request).
    pub last_used_at: Option<String>,
    pub revoked: bool,
    pub scopes: Vec<crate::ApiKeyScope>,
    pub expires_at: Option<String>,
    /// Whether the key works now: neither revoked nor expired.
    pub active: bool,
}

/// A new API key: the secret is shown once and only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    pub key: ApiKeyView,
    pub secret: String,
}

/// A tenant as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorTenantView {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub members: u64,
    pub accounts: u64,
    pub created_at: String,
    pub disabled: bool,
}

/// A user as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorUserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub is_operator: bool,
    pub tenants: u64,
    pub created_at: String,
    pub last_login_at: Option<String>,
    pub disabled: bool,
}

/// How the instance's background work stands, for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperatorHealthView {
    /// Accounts due for a refresh now and not yet refreshed: above zero for long means the
    /// workers do not keep up (or none runs).
    pub refreshes_due: u64,
    /// Notifications (webhooks, e-mails) waiting to be delivered.
    pub notifications_pending: u64,
    /// The earliest expiry of any stored token.
    pub soonest_expiry_at: Option<String>,
    pub accounts_active: u64,
    pub accounts_paused: u64,
    pub accounts_needing_reconnect: u64,
}

/// A connected Instagram account, as its tenant sees it. The token itself is never part of it:
/// websites fetch it from `token_json_url` or `token_js_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountView {
    pub id: i64,
    /// `instagram`, `facebook_page` or `threads`.
    pub kind: AccountKind,
    /// The id of the account on its platform (a Page's id, for a Facebook Page).
    pub provider_user_id: String,
    /// The username (a Page's name, for a Facebook Page).
    pub username: String,
    /// The tenant's own name for the account; may be empty.
    pub label: String,
    pub status: AccountStatus,
    pub profile_picture_url: Option<String>,
    /// When the stored token expires; absent when not yet known (a pasted token is refreshed
    /// as soon as Instagram or Threads allows, which makes it known) and for a Facebook Page,
    /// whose token never expires (it is checked every `FRESHTOKEN_PAGE_CHECK_INTERVAL`).
    pub token_expires_at: Option<String>,
    pub last_refresh_at: Option<String>,
    pub next_refresh_at: Option<String>,
    /// Why the last refresh failed, in words; absent after a success.
    pub last_error: Option<String>,
    pub refresh_interval: RefreshInterval,
    /// Origins allowed to load the token, e.g. `https://example.com` or `https://*.example.com`.
    /// Empty (and not `public`): only API keys of the workspace get the token.
    pub allowed_origins: Vec<String>,
    /// Also allow `localhost` and `127.0.0.1` on any port (http or https), for development.
    pub allow_localhost: bool,
    /// Served to every request, whatever its origin, header-less ones included: an explicit
    /// choice, never the default.
    pub public: bool,
    /// The name of the constant `token.js` defines (unless set: `InstagramToken`,
    /// `FacebookPageToken` or `ThreadsToken`, by kind).
    pub js_constant: String,
    /// The random id in the account's public URLs; rotating it retires the old URLs.
    pub public_id: String,
    pub token_json_url: String,
    pub token_js_url: String,
    /// The account's recent posts, behind the same origin lock.
    pub media_json_url: String,
    /// Requests to the token URLs today (UTC). Web processes write their counts every
    /// `FRESHTOKEN_REQUEST_COUNTS_INTERVAL`, so the latest are still on their way.
    pub requests_today: RequestCountView,
    pub created_at: String,
    /// The account owner's contact address (the client), told when the account needs them,
    /// with a link that reconnects it; `null` when none is set.
    #[serde(default)]
    pub owner_email: Option<String>,
    /// When the owner unsubscribed from those e-mails, if they did.
    #[serde(default)]
    pub owner_unsubscribed_at: Option<String>,
    /// The bare token as `text/plain`, where Instagram Token Agent's `/token` answered it
    /// (same origin lock as `token_json_url`).
    #[serde(default)]
    pub token_text_url: String,
    /// The name an instatokend site knows the account by (its config name), kept by
    /// `admin import-instatokend`; unique in the instance.
    #[serde(default)]
    pub alias: Option<String>,
    /// `/token/{alias}`, the URL an instatokend site already uses; `null` without an alias.
    #[serde(default)]
    pub instatokend_url: Option<String>,
}

/// The answer to "refresh now": the account, and when and why then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshNowAnswer {
    #[serde(flatten)]
    pub account: AccountView,
    /// When the refresh (a check, for a Facebook Page) runs: now, or as soon as the token is
    /// old enough for its platform to refresh it (24 hours).
    pub runs_at: String,
    /// Whether it waits for the token's age (`runs_at` is later than now).
    pub waits: bool,
    /// What happens, in a sentence for people (with the date when it waits).
    pub message: String,
}

/// A step of the demo's story, played on one demo account (demo mode only): time moves for
/// that account and the fake Meta alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DemoScene {
    /// A week passes: the token is a week older and its refresh falls due at once.
    AWeekLater,
    /// The token is three days from expiry and the platform fails its next two refreshes: the
    /// worker warns (`token.expiring`), retries, and saves it.
    ExpiringSoon,
    /// The owner changes their password: the platform revokes the token, the worker finds out
    /// at once and the account needs reconnecting.
    OwnerChangedPassword,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DemoSceneRequest {
    pub scene: DemoScene,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DemoSceneAnswer {
    pub account: AccountView,
    /// What happened and what to watch for next, in a sentence or two.
    pub message: String,
}

/// Requests to an account's token URLs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestCountView {
    /// Answered: a token, the posts, or "not modified".
    pub served: u64,
    /// Refused: an origin not allowed, a paused or disconnected account, an expired token, a
    /// rate limit.
    pub refused: u64,
    /// Of `refused`, requests that carried neither `Origin` nor `Referer`: a server fetching
    /// the token without an API key, or a page hiding its referrer.
    pub refused_no_origin: u64,
}

/// One UTC day of an account's requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailyRequestsView {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub served: u64,
    pub refused: u64,
    pub refused_no_origin: u64,
}

/// Connects an account by pasting a token it already has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasteTokenRequest {
    /// An access token, long- or short-lived: an Instagram user token (Instagram Login,
    /// `IG...`), a Threads user token (`TH...`), or a Facebook user or Page token (`EAA...`).
    pub token: String,
    /// The kind to connect when the token's text does not say (default `instagram`); a token
    /// that says another kind is refused (`kind_mismatch`).
    #[serde(default)]
    pub kind: Option<AccountKind>,
    /// With a Facebook user token: connect only this Page (default: every Page it manages).
    #[serde(default)]
    pub page_id: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
}

/// What a pasted token connected: one account (as `AccountView`, its token URLs at the top
/// level), or, for a Facebook user token that manages several Pages, `{"accounts": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum PastedAccounts {
    One(Box<AccountView>),
    Several { accounts: Vec<AccountView> },
}

/// A Facebook login waiting for the person's choice of Pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FacebookLoginView {
    pub pages: Vec<OfferedPageView>,
    /// The choice must be made before this (ten minutes after the login).
    pub expires_at: String,
}

/// A Page the person manages and shared with freshtoken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OfferedPageView {
    pub id: String,
    pub name: String,
    pub category: Option<String>,
}

/// The Pages to connect, by id, from those a Facebook login offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChoosePagesRequest {
    /// The `choose_pages` handle Facebook's callback returned to the dashboard with.
    pub login: String,
    pub page_ids: Vec<String>,
}

/// Changes to an account; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateAccountRequest {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default)]
    pub allow_localhost: Option<bool>,
    /// Serve everyone, header-less requests included. Say so deliberately: anyone can then
    /// read the token.
    #[serde(default)]
    pub public: Option<bool>,
    /// Removed: requests with neither `Origin` nor `Referer` are refused by every locked
    /// account. `true` is refused with an explanation; servers use a `tokens:read` API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_no_origin: Option<bool>,
    /// An empty string goes back to the default, `InstagramToken`.
    #[serde(default)]
    pub js_constant: Option<String>,
    #[serde(default)]
    pub refresh_interval: Option<RefreshInterval>,
    /// Pause (neither refresh nor serve) or resume.
    #[serde(default)]
    pub paused: Option<bool>,
    /// The account owner's contact address; an empty string removes it.
    #[serde(default)]
    pub owner_email: Option<String>,
}

/// What this instance offers, for the dashboard before anyone signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceView {
    pub version: String,
    /// Demo mode: Instagram, Threads and Facebook are the built-in fake; nothing reaches the
    /// real ones.
    pub demo: bool,
    /// Whether "Connect Instagram" works (an Instagram app is configured, or demo mode).
    pub instagram_connect: bool,
    /// The kinds of account people can connect by logging in: those whose Meta app the
    /// operator configured (all three in demo mode).
    pub connect_kinds: Vec<AccountKind>,
    pub signup: crate::SignupMode,
    /// Nobody has signed up yet: whoever does first runs the instance (the dashboard opens on
    /// sign-up rather than sign-in).
    #[serde(default)]
    pub first_user: bool,
}

/// One refresh attempt of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshEventView {
    pub at: String,
    pub outcome: crate::RefreshOutcome,
    /// 1 for the first try, counting up through retries.
    pub attempt: i32,
    /// Instagram's error code, when it gave one.
    pub error_code: Option<String>,
    pub message: Option<String>,
    pub new_expires_at: Option<String>,
}

/// The events a webhook can subscribe to.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "token.refreshed",
    "account.needs_reconnect",
    "token.expiring",
    "account.connected",
];

/// What a connect link gives the account connected through it; each is optional, and the
/// account owner who uses the link is asked for none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkPresetsView {
    /// The account's label (default: the link's label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The sites that may load the token, as in [`UpdateAccountRequest::allowed_origins`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub js_constant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<RefreshInterval>,
    /// The account owner's contact address: told when the account needs them again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
}

/// Asking for a connect link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateConnectLinkRequest {
    /// The kind of account it connects (default `instagram`).
    #[serde(default)]
    pub kind: Option<AccountKind>,
    /// Whom the link is for, for the workspace's people (at most 100 characters).
    #[serde(default)]
    pub label: Option<String>,
    /// 1 to 30; default 7.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Connects any number of accounts until it expires; default: one.
    #[serde(default)]
    pub reusable: bool,
    #[serde(default)]
    pub presets: LinkPresetsView,
}

/// A connect link. Its address is shown once, when it is made ([`CreatedConnectLink`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectLinkView {
    pub id: i64,
    pub kind: AccountKind,
    pub label: String,
    pub presets: LinkPresetsView,
    pub reusable: bool,
    /// Times it connected accounts (several Facebook Pages chosen at once count as one).
    pub uses: i32,
    /// `active`, `expired`, `used` or `revoked`.
    pub state: String,
    /// Who made it (name or e-mail); `null` when made with an API key or the CLI.
    pub created_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
}

/// A new connect link, with its address: send it to the account's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedConnectLink {
    pub link: ConnectLinkView,
    /// `{public URL}/c/{secret}`: shown this once.
    pub url: String,
}

/// A reconnect link for one account: its owner reconnects it through it without signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconnectLinkView {
    pub url: String,
    pub expires_at: String,
}

/// A webhook endpoint. Its signing secret is not part of it: it is shown once, on creation
/// ([`CreatedWebhook`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_at: String,
}

/// A new webhook endpoint with its signing secret (`whsec_...`), which signs every delivery
/// (`X-Freshtoken-Signature`). This answer is the only one that carries it: it is stored
/// encrypted and never listed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    pub secret: String,
}

impl std::fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedWebhook")
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateWebhookRequest {
    /// Where to POST events: an http(s) URL.
    pub url: String,
    /// Which events; all of them when omitted.
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

/// One notification, webhook call or e-mail, with how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationView {
    pub id: i64,
    pub event: String,
    /// `webhook` or `email`.
    pub channel: String,
    pub webhook_id: Option<i64>,
    pub recipient: Option<String>,
    pub account_id: Option<i64>,
    /// `pending`, `delivered` or `failed` (no more attempts).
    pub status: String,
    pub attempts: i32,
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}
