//! The dashboard: how `web` serves its files, and, in a real headless Chromium, the path of a
//! newcomer from sign-up to a token on their own site, every page on the way photographed at
//! desktop and phone widths.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use freshtoken_store::testing::TestDatabase;
use serde_json::json;

use crate::chromium::{self, Chromium, PATIENCE};
use crate::support::{Process, TestApp, freshtoken, http_endpoint};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Screenshots of every page, at desktop and phone widths, land here for people to look at
/// after a run.
fn screenshots() -> PathBuf {
    repository().join("test-output/screenshots")
}

/// A dashboard build of two files, as `cargo dashboard` lays them out.
fn tiny_build() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>shell</title><script type=module src=/assets/app-0123abcd.js></script>",
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/app-0123abcd.js"), "console.log(1)").unwrap();
    std::fs::write(
        dir.path().join("assets/app-0123abcd.js.gz"),
        b"gzipped bytes",
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn every_page_gets_the_never_cached_shell_and_assets_are_cached_forever() {
    let build = tiny_build();
    let dir = build.path().display().to_string();
    let app = TestApp::with_args(&["--dashboard-dir", &dir]).await;
    let http = reqwest::Client::new();

    for page in ["/", "/signin", "/w/1/accounts/2", "/invite?secret=abc"] {
        let response = http
            .get(format!("{}{page}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{page}");
        let headers = response.headers().clone();
        assert_eq!(headers["cache-control"], "no-cache", "{page}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{page}"
        );
        // The shell runs under the CSP that allows the dashboard's wasm and nothing inline.
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{page}"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("<title>shell</title>")
        );
    }

    let asset = format!("{}/assets/app-0123abcd.js", app.base_url);
    let plain = http.get(&asset).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        plain.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), "console.log(1)");

    let gzipped = http
        .get(&asset)
        .header("accept-encoding", "br, gzip;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["vary"], "accept-encoding");
    assert_eq!(&gzipped.bytes().await.unwrap()[..], b"gzipped bytes");

    // What is not a page stays a JSON 404.
    for (method, path) in [
        ("GET", "/assets/app-ffffffff.js"),
        ("GET", "/api/v1/no-such-thing"),
        ("GET", "/t/no-such-id/nothing"),
        ("GET", "/no/such/page"),
        ("GET", "/favicon.ico"),
        ("POST", "/"),
    ] {
        let response = http
            .request(method.parse().unwrap(), format!("{}{path}", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{method} {path}");
    }
}

#[tokio::test]
async fn without_a_build_pages_say_how_to_make_one_and_the_api_still_works() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().display().to_string();
    let app = TestApp::with_args(&["--dashboard-dir", &dir]).await;
    let response = reqwest::get(format!("{}/", app.base_url)).await.unwrap();
    assert_eq!(response.status(), 503);
    let html = response.text().await.unwrap();
    assert!(html.contains("cargo dashboard"), "{html}");
    let instance = reqwest::get(format!("{}/api/v1/instance", app.base_url))
        .await
        .unwrap();
    assert_eq!(instance.status(), 200);
}

/// Whether this machine can run the browser test: Chromium, and a dashboard built by
/// `cargo dashboard` (`.ci/run` makes sure of both). Elsewhere the test skips, unless
/// `FRESHTOKEN_TEST_REQUIRE_ALL=1` forbids it.
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    let dist = repository().join("frontend/dist");
    let missing = if !chromium::available() {
        Some("Debian's chromium and chromium-driver packages")
    } else if !dist.join("index.html").exists() {
        Some("a built dashboard (cargo dashboard)")
    } else {
        None
    };
    match missing {
        None => Some(dist),
        Some(what) => {
            assert!(
                !std::env::var("FRESHTOKEN_TEST_REQUIRE_ALL").is_ok_and(|value| value == "1"),
                "{test} needs {what} (FRESHTOKEN_TEST_REQUIRE_ALL=1 forbids skipping)"
            );
            eprintln!("skipping {test}: it needs {what}");
            None
        }
    }
}

/// `freshtoken serve --demo` on the run's database (SQLite, or PostgreSQL when the run targets
/// it), serving the built dashboard.
struct DemoServer {
    process: Process,
    _data: tempfile::TempDir,
    _database: TestDatabase,
}

impl DemoServer {
    async fn start(dist: &Path) -> DemoServer {
        let database = TestDatabase::new().await;
        let data = tempfile::tempdir().unwrap();
        let key = freshtoken_store::SecretKey::generate()
            .to_base64()
            .to_string();
        let mut command = freshtoken(data.path());
        command
            .env("FRESHTOKEN_DEMO", "true")
            .env("FRESHTOKEN_DASHBOARD_DIR", dist)
            .env("FRESHTOKEN_DATABASE_URL", &database.url)
            .env("FRESHTOKEN_SECRET_KEY", &key);
        let process = Process::serve(command).await;
        DemoServer {
            process,
            _data: data,
            _database: database,
        }
    }
}

/// A failing journey shows the server's last log lines.
impl Drop for DemoServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let output = self.process.output_so_far();
            let lines: Vec<&str> = output.lines().collect();
            let last = &lines[lines.len().saturating_sub(80)..];
            eprintln!("the server's last log lines:\n{}", last.join("\n"));
        }
    }
}

/// The journey's browser, server and what earlier steps made that later ones need.
struct Journey {
    browser: Chromium,
    base: String,
}

impl Journey {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// An account page's path.
const ACCOUNT_PAGE: &str = r"^/w/\d+/accounts/\d+$";
/// A workspace's accounts list.
const ACCOUNTS: &str = r"^/w/\d+$";

#[tokio::test]
async fn a_newcomer_connects_in_demo_mode_and_the_snippet_works_only_on_allowed_sites() {
    let Some(dist) = browser_or_skip("the dashboard browser test") else {
        return;
    };
    let server = DemoServer::start(&dist).await;
    // The folder shows this run's pages only.
    let shots = screenshots();
    if let Ok(entries) = std::fs::read_dir(&shots) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|ext| ext == "png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let journey = Journey {
        browser: Chromium::start(&shots).await,
        base: server.process.base_url.clone(),
    };

    sign_up(&journey).await;
    let instagram = connect_instagram(&journey).await;
    refresh_now_runs_at_once(&journey).await;
    the_account_shows_its_pictures(&journey).await;
    let snippets = copy_the_snippets(&journey).await;
    let sites = Sites::serve(&snippets, &instagram.fake).await;
    allow_a_site(&journey, &sites).await;
    let invitation = tour_the_workspace(&journey).await;
    the_token_reaches_only_the_allowed_site(&journey, &sites).await;
    the_feed_shows_the_posts(&journey, &sites).await;
    the_demo_story(&journey, &instagram.page).await;
    irreversible_actions_ask_first(&journey, &instagram.page).await;
    let page = connect_a_facebook_page(&journey).await;
    a_connect_link_for_a_client(&journey).await;
    a_revoked_page_gets_a_reconnect_link(&journey, &page).await;
    an_invited_colleague_signs_up(&journey, &invitation).await;
    let too_wide = journey.browser.too_wide();
    assert!(
        too_wide.is_empty(),
        "pages wider than their window:\n{}",
        too_wide.join("\n")
    );
}

/// A fresh instance opens on sign-up (whoever signs up first runs it); sign-in leads there
/// too, and the form checks its fields before sending anything.
async fn sign_up(journey: &Journey) {
    let browser = &journey.browser;
    browser.open(&journey.url("/")).await;
    browser.wait_for_path("^/signup$").await;
    browser.open(&journey.url("/signin")).await;
    browser.find("#email").await;
    browser.find("main h1").await;
    browser.screenshot("sign-in").await;
    browser.click("a[href^='/signup']").await;
    browser.wait_for_path("^/signup$").await;
    browser.find("#workspace").await;
    browser.screenshot("sign-up").await;

    browser.click("button[type=submit]").await;
    browser.find("#email[aria-invalid=true]").await;
    browser.wait_for_text("name@example.com").await;
    browser.type_into("#email", "newcomer@example.com").await;
    browser
        .type_into("#password", "a long enough password")
        .await;
    browser.type_into("#workspace", "Bakery sites").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(ACCOUNTS).await;
    browser.find("main .empty").await;
    browser.find(".demo-banner").await;
    browser.screenshot("accounts-empty").await;

    // Pasting a token opens a form in place.
    browser.click("main button[aria-expanded]").await;
    browser.find("#paste-token").await;
    browser.screenshot("accounts-paste").await;
    browser.click("main button[aria-expanded=true]").await;
}

/// An account's page, and the origin of the fake platform that serves it.
struct Connected {
    page: String,
    fake: String,
}

/// Connect, and allow on the fake Instagram's consent page: back on the dashboard, on the new
/// account's page, which asks for the website first.
async fn connect_instagram(journey: &Journey) -> Connected {
    let browser = &journey.browser;
    browser.click("a[href^='/connect/instagram']").await;
    browser.find("button[value=allow]").await;
    let fake = browser.run("return location.origin").await;
    let fake = fake.as_str().unwrap().to_owned();
    browser.screenshot("fake-consent").await;
    browser.click("button[value=allow]").await;

    browser.wait_for_path(ACCOUNT_PAGE).await;
    browser.find_text("h1", "@demo_bakery").await;
    browser.find(".badge.ok").await;
    // No origins yet: no website gets the token, and the page asks for the site first.
    browser
        .find("section[aria-labelledby=origins-title] .callout.warn")
        .await;
    browser
        .wait_until(
            "document.activeElement?.id === 'origins'",
            "the focus on the origins",
        )
        .await;
    browser.screenshot("account").await;
    Connected {
        page: browser.current_url().await,
        fake,
    }
}

/// A demo login hands out a token two days old, so "Refresh now" runs at once: the page says
/// so in the server's words, and the refresh arrives in the history without a reload.
async fn refresh_now_runs_at_once(journey: &Journey) {
    let browser = &journey.browser;
    browser.find(HISTORY_EMPTY).await;
    browser.click_button("Refresh now").await;
    browser
        .wait_for_text_in("section[aria-labelledby=actions-title] p", "running now")
        .await;
    shows_without_a_reload(
        browser,
        &history_has("Refreshed", 1),
        "a refresh in the history",
        REFRESH_WATCH,
    )
    .await;
    browser
        .wait_for_text_in(".account-facts span", "last refresh")
        .await;
    browser
        .screenshot_at("account-refresh-now", "#actions-title")
        .await;
    browser
        .screenshot_at("account-refreshed", "#history-title")
        .await;
}

/// How long the account page watches for what the worker does after "Refresh now", and after
/// a demo scene (the account and the history fetched every 2 seconds).
const REFRESH_WATCH: Duration = Duration::from_secs(20);
const SCENE_WATCH: Duration = Duration::from_secs(60);

/// Waits until `condition` (JavaScript) holds on the account page, which watches for `watch`
/// after an action. A worker slower than that on a loaded machine is no fault of the page:
/// past it, the page is opened again until the condition holds, and the output says so.
async fn shows_without_a_reload(browser: &Chromium, condition: &str, what: &str, watch: Duration) {
    let script = format!("return !!({condition});");
    let watched = Instant::now() + watch;
    while Instant::now() < watched {
        if browser.run(&script).await == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{what}: not shown while the page watched ({watch:?}); the worker was slow, opening the page again"
    );
    let page = browser.current_url().await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        browser.open(&page).await;
        browser.find("main h1").await;
        if browser.run(&script).await == json!(true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}\n{}",
            browser.text().await
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The history's note while it is empty.
const HISTORY_EMPTY: &str = "section[aria-labelledby=history-title] p.muted";

/// A script that is true once the history holds at least `count` rows whose outcome starts
/// with `outcome`.
fn history_has(outcome: &str, count: usize) -> String {
    format!(
        "[...document.querySelectorAll('section[aria-labelledby=history-title] tbody tr')]\
         .filter((row) => row.cells[1]?.textContent.startsWith({})).length >= {count}",
        serde_json::to_string(outcome).unwrap()
    )
}

/// The profile picture and the recent posts, as the fake's CDN serves them: loaded, not
/// broken.
async fn the_account_shows_its_pictures(journey: &Journey) {
    let browser = &journey.browser;
    browser.wait_for_pictures(".page-head img.avatar").await;
    // The worker syncs the posts shortly after the connect; until then the preview offers to
    // look again.
    let deadline = Instant::now() + PATIENCE;
    while browser
        .run("return !document.querySelector('ul.media img')")
        .await
        == json!(true)
    {
        assert!(
            Instant::now() < deadline,
            "no posts in the preview:\n{}",
            browser.text().await
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        browser
            .run("document.querySelector('section[aria-labelledby=media-title] button')?.click()")
            .await;
    }
    let posts = browser.wait_for_pictures("ul.media img").await;
    assert!(posts >= 3, "{posts} posts in the preview");
    browser.screenshot_at("account-posts", "#media-title").await;
}

/// The snippets a person copies from the account's page.
struct Snippets {
    token_js: String,
    instafeed: String,
}

/// Copies the token.js and instafeed.js snippets, as a person would, and reads each back from
/// the clipboard.
async fn copy_the_snippets(journey: &Journey) -> Snippets {
    let browser = &journey.browser;
    browser.grant("clipboard-read").await;
    browser.grant("clipboard-write").await;
    let copy = async |which: &str| {
        browser
            .click(&format!(
                "button[aria-label^='Copy: '][aria-label*='{which}']"
            ))
            .await;
        browser.wait_for_text("Copied").await;
        let snippet = browser
            .run_async(
                "const done = arguments[arguments.length - 1];
                 navigator.clipboard.readText().then(done, (error) => done('refused: ' + error));",
            )
            .await;
        snippet.as_str().unwrap().to_owned()
    };
    let token_js = copy("token.js").await;
    assert!(
        token_js.starts_with(&format!("<script src=\"{}/t/", journey.base))
            && token_js.ends_with("/token.js\"></script>"),
        "the copied snippet: {token_js}"
    );
    let instafeed = copy("instafeed.js").await;
    assert!(
        instafeed.contains(INSTAFEED_CDN) && instafeed.contains(&token_js),
        "the copied instafeed.js snippet: {instafeed}"
    );
    Snippets {
        token_js,
        instafeed,
    }
}

/// Where the instafeed.js snippet loads the library from, and the library itself (the npm
/// package's build, kept here since the test machine reaches no CDN).
const INSTAFEED_CDN: &str = "https://cdn.jsdelivr.net/npm/instafeed.js@2/dist/instafeed.min.js";
const INSTAFEED: &str = include_str!("vendor/instafeed.min.js");

/// Websites with the snippets: one the account allows, one it does not, an allowed one whose
/// page hides its referrer, and an allowed one showing the feed with instafeed.js.
struct Sites {
    allowed: u16,
    refused: u16,
    hidden: u16,
    feed: u16,
}

impl Sites {
    async fn serve(snippets: &Snippets, fake: &str) -> Sites {
        let snippet = &snippets.token_js;
        // The first two are different sites (127.0.0.1 and localhost), as two customers' sites
        // would be: Chromium keeps a separate HTTP cache per site, so the second cannot reuse
        // the first one's answer.
        let page = format!(
            "<!doctype html><html><head><title>site</title>{snippet}</head><body>a site</body></html>"
        );
        let (allowed, _) = http_endpoint("text/html; charset=utf-8", page.clone()).await;
        let (refused, _) = http_endpoint("text/html; charset=utf-8", page).await;
        // A page of an allowed origin that hides its referrer (as any page can): the browser
        // sends neither Origin nor Referer, so nothing proves where it runs and it gets no
        // token, only the reason in the console (collected here, as a developer would read
        // it).
        let hidden_page = format!(
            "<!doctype html><html><head><title>site</title><meta name=\"referrer\" content=\"no-referrer\">\
             <script>window.logged = []; const log = console.error.bind(console); \
             console.error = (...words) => {{ window.logged.push(words.join(' ')); log(...words); }};</script>\
             {snippet}</head><body>a site that hides its referrer</body></html>"
        );
        let (hidden, _) = http_endpoint("text/html; charset=utf-8", hidden_page).await;
        // The instafeed.js snippet as copied, but for two things this closed network needs:
        // the library inline instead of from its CDN, and the fake answering what instafeed.js
        // asks graph.instagram.com (which it names in full).
        let feed_snippet = snippets.instafeed.replace(
            &format!("<script src=\"{INSTAFEED_CDN}\"></script>"),
            &format!("<script>{INSTAFEED}</script>"),
        );
        let feed_page = format!(
            "<!doctype html><html><head><title>Our bakery</title><meta name=\"viewport\" content=\"width=device-width\">\
             <script>const open = XMLHttpRequest.prototype.open; \
             XMLHttpRequest.prototype.open = function (method, url, ...rest) {{ \
             return open.call(this, method, String(url).replace('https://graph.instagram.com/', '{fake}/'), ...rest); }};</script>\
             <style>body {{ font-family: sans-serif; margin: 1rem; }} #instafeed {{ display: grid; \
             grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }} \
             #instafeed img {{ width: 100%; aspect-ratio: 1; object-fit: cover; display: block; }}</style>\
             </head><body><h1>Our bakery on Instagram</h1>{feed_snippet}</body></html>"
        );
        let (feed, _) = http_endpoint("text/html; charset=utf-8", feed_page).await;
        Sites {
            allowed,
            refused,
            hidden,
            feed,
        }
    }
}

async fn allow_a_site(journey: &Journey, sites: &Sites) {
    let browser = &journey.browser;
    browser
        .type_into(
            "#origins",
            &format!(
                "http://127.0.0.1:{}\nhttp://127.0.0.1:{}\nhttp://127.0.0.1:{}",
                sites.allowed, sites.hidden, sites.feed
            ),
        )
        .await;
    browser
        .click("section[aria-labelledby=origins-title] button[type=submit]")
        .await;
    browser.wait_for_text("Saved").await;
    browser
        .screenshot_at("account-sites", "#origins-title")
        .await;
}

/// The workspace's other pages: the team with an API key and an invitation made, webhooks,
/// the operator's page (the first user of an instance is its operator), a new workspace, and
/// the page for an address that is none.
/// Returns the invitation's link.
async fn tour_the_workspace(journey: &Journey) -> String {
    let browser = &journey.browser;
    browser.click("nav a[href$='/team']").await;
    browser.find("#members-title").await;
    browser.find("#keys-title").await;
    browser.screenshot("team").await;

    browser.type_into("#key-name", "Bakery server").await;
    browser
        .click("section[aria-labelledby=keys-title] button[type=submit]")
        .await;
    browser
        .find("section[aria-labelledby=keys-title] .callout.ok code")
        .await;
    browser.screenshot_at("api-keys", "#keys-title").await;

    browser
        .click("section[aria-labelledby=invites-title] button[type=submit]")
        .await;
    let code = browser
        .find("section[aria-labelledby=invites-title] .callout.ok code")
        .await;
    let invitation = code.text().await.unwrap();
    assert!(
        invitation.starts_with(&journey.url("/invite?")),
        "the invitation: {invitation}"
    );
    browser.screenshot_at("invitations", "#invites-title").await;

    browser.click("nav a[href$='/webhooks']").await;
    browser.find("#endpoints-title").await;
    browser.find("#log-title").await;
    browser.screenshot("webhooks").await;

    browser.click("nav a[href='/operator']").await;
    browser.find("#health-title").await;
    browser
        .find("section[aria-labelledby=health-title] dt")
        .await;
    browser.find("#users-title").await;
    browser.screenshot("operator").await;

    browser.open(&journey.url("/workspaces/new")).await;
    browser.find("#workspace-name").await;
    browser.screenshot("workspace-new").await;
    browser.open(&journey.url("/workspaces/no-such-page")).await;
    browser.find_text("h1", "not found").await;
    // Still within the frame: the demo banner, and the way home.
    browser.find(".demo-banner").await;
    browser.find("header.top a.brand[href='/']").await;
    browser.screenshot("not-found").await;
    invitation
}

/// The snippet on each site: the token is defined on the allowed site's page only.
async fn the_token_reaches_only_the_allowed_site(journey: &Journey, sites: &Sites) {
    let browser = &journey.browser;
    let token_on = async |host: &str, port: u16| {
        browser.open(&format!("http://{host}:{port}/")).await;
        browser
            .wait_until("document.readyState === 'complete'", "the site to load")
            .await;
        browser
            .run("return typeof InstagramToken === 'undefined' ? null : InstagramToken;")
            .await
    };
    let token = token_on("127.0.0.1", sites.allowed).await;
    assert!(
        token.as_str().is_some_and(|token| !token.is_empty()),
        "the allowed site has the token: {token}"
    );
    assert_eq!(
        token_on("localhost", sites.refused).await,
        serde_json::Value::Null,
        "a site not allowed gets no token"
    );
    // Same site as the allowed page, so the same HTTP cache: `Vary: Origin, Referer` keeps
    // the allowed page's copy from being handed to a request without a Referer.
    assert_eq!(
        token_on("127.0.0.1", sites.hidden).await,
        serde_json::Value::Null,
        "a page without Origin or Referer gets no token"
    );
    let logged = browser.run("return window.logged;").await;
    assert!(
        logged
            .as_array()
            .is_some_and(|lines| lines.iter().any(|line| line
                .as_str()
                .unwrap_or_default()
                .starts_with("freshtoken: the request carries neither Origin nor Referer"))),
        "the console says why: {logged}"
    );
}

/// The instafeed.js snippet on an allowed site: the feed shows the account's posts, every
/// picture loaded from the fake's CDN.
async fn the_feed_shows_the_posts(journey: &Journey, sites: &Sites) {
    let browser = &journey.browser;
    browser
        .open(&format!("http://127.0.0.1:{}/", sites.feed))
        .await;
    let posts = browser.wait_for_pictures("#instafeed img").await;
    assert!(posts >= 3, "{posts} posts in the feed");
    browser.screenshot("instafeed").await;
}

/// The demo's story on the account, each step a button of its "Demo: move time" panel: a week
/// later its weekly refresh runs; three days before expiry with Instagram failing, the page
/// warns; after the owner changes their password, it needs reconnecting.
async fn the_demo_story(journey: &Journey, account: &str) {
    let browser = &journey.browser;
    browser.open(account).await;
    browser.find("section.demo #demo-title").await;
    let refreshed = browser
        .run(
            "return [...document.querySelectorAll('section[aria-labelledby=history-title] tbody tr')]\
             .filter((row) => row.cells[1]?.textContent.startsWith('Refreshed')).length",
        )
        .await
        .as_u64()
        .unwrap_or_default() as usize;

    browser.click_button("A week later").await;
    browser.wait_for_text("A week has passed").await;
    shows_without_a_reload(
        browser,
        &history_has("Refreshed", refreshed + 1),
        "the week-later refresh in the history",
        SCENE_WATCH,
    )
    .await;
    browser
        .screenshot_at("demo-week-later", "#demo-title")
        .await;

    browser.click_button("Three days before expiry").await;
    shows_without_a_reload(
        browser,
        &format!(
            "{} && [...document.querySelectorAll('main .callout.warn[role=alert]')]\
             .some((warning) => warning.textContent.includes('the last refresh failed'))",
            history_has("Failed", 1)
        ),
        "a failed refresh in the history and the expiry warning",
        SCENE_WATCH,
    )
    .await;
    browser.screenshot_at("demo-expiring", ".page-head").await;
    browser
        .screenshot_at("demo-expiring-history", "#history-title")
        .await;

    browser
        .click_button("The owner changes their password")
        .await;
    shows_without_a_reload(
        browser,
        &format!(
            "document.querySelector('#needs-you') && {}",
            history_has("Revoked", 1)
        ),
        "the account needing reconnecting, and the revocation in the history",
        SCENE_WATCH,
    )
    .await;
    browser.find(".account-facts .badge.bad").await;
    browser
        .wait_for_text_in(".account-facts span", "next refresh after reconnecting")
        .await;
    browser
        .screenshot_at("demo-password-changed", ".page-head")
        .await;
    browser.open(&journey.url("/")).await;
    browser
        .wait_for_text_in("main .overview", "needs reconnecting")
        .await;
    browser.screenshot("accounts-reconnect").await;
}

/// Rotating asks first, with the focus on Cancel, and Escape backs out; deleting after
/// confirmation lands on the empty list.
async fn irreversible_actions_ask_first(journey: &Journey, account: &str) {
    let browser = &journey.browser;
    browser.open(account).await;
    browser.click_button("Rotate URLs").await;
    browser.find("[role=alertdialog]").await;
    browser
        .wait_until(
            "document.activeElement?.closest('[role=alertdialog]') \
             && document.activeElement.textContent.trim() === 'Cancel'",
            "the focus on Cancel",
        )
        .await;
    browser
        .screenshot_at("account-confirm", "#actions-title")
        .await;
    browser.press(Key::Escape).await;
    browser
        .wait_until(
            "!document.querySelector('[role=alertdialog]')",
            "the question to close",
        )
        .await;
    browser.click_button("Delete…").await;
    browser.click("[role=alertdialog] button.danger").await;
    browser.wait_for_path(ACCOUNTS).await;
    browser.find("main .empty").await;
}

/// A Facebook Page's account: its page's address, and the fake Facebook's origin.
struct FacebookPage {
    page: String,
    fake: String,
}

/// A Facebook user who manages two Pages: after Facebook's consent, the dashboard asks which
/// to keep, and the chosen one's page says how its token lives. Returns the page's address.
async fn connect_a_facebook_page(journey: &Journey) -> FacebookPage {
    let browser = &journey.browser;
    browser.click("a[href^='/connect/facebook']").await;
    browser.find("button[value=allow]").await;
    browser.find_text("h1", "Facebook").await;
    let fake = browser.run("return location.origin").await;
    let fake = fake.as_str().unwrap().to_owned();
    browser.screenshot("fake-consent-facebook").await;
    browser.click("button[value=allow]").await;
    browser.find("#pages-title").await;
    browser.find_text("label", "Demo Bakery Café").await;
    browser.screenshot("page-picker").await;
    browser.click_text("label", "Demo Bakery Café").await;
    browser
        .click("form[aria-labelledby=pages-title] button[type=submit]")
        .await;
    browser.wait_for_path(ACCOUNT_PAGE).await;
    browser.find_text("h1", "Demo Bakery Café").await;
    let page = browser.current_url().await;
    browser.wait_for_text("never expires").await;
    browser.screenshot("account-facebook-page").await;

    browser.open(&journey.url("/")).await;
    browser.find_text("a", "Demo Bakery Café").await;
    browser.screenshot("accounts").await;
    FacebookPage { page, fake }
}

/// A connect link for a client, made with the settings their account should get; the client
/// opens it (no session needed: the link is enough), connects on the platform's own page,
/// and the account arrives with the link's label, sites and owner, the link used up.
async fn a_connect_link_for_a_client(journey: &Journey) {
    let browser = &journey.browser;
    browser.click("nav a[href$='/links']").await;
    browser.find("#link-label").await;
    browser.screenshot("links-empty").await;
    browser.type_into("#link-label", "Rosa bakery site").await;
    browser
        .type_into(
            "#link-sites",
            "https://rosa.example, https://www.rosa.example",
        )
        .await;
    browser.type_into("#link-email", "rosa@example.com").await;
    browser.click_button("Create the link").await;
    browser
        .find("button[aria-label='Copy: Connect link']")
        .await;
    let link = browser.find(".callout.ok code").await.text().await.unwrap();
    assert!(link.starts_with(&journey.url("/c/")), "the link: {link}");
    browser.find_text("strong", "Rosa bakery site").await;
    browser.find(".badge.ok").await;
    browser
        .wait_until(
            "document.activeElement?.getAttribute('aria-label') === 'Copy: Connect link'",
            "the focus on the new link's Copy button",
        )
        .await;
    browser.screenshot("links").await;
    browser.screenshot_at("links-list", "#links-title").await;

    browser.open(&link).await;
    browser.find_text("h1", "Instagram").await;
    browser.screenshot("link-client").await;
    browser.click_link("Connect with").await;
    browser.click("button[value=allow]").await;
    browser.find_text("h1", "Done").await;
    browser.screenshot("link-done").await;

    browser.open(&journey.url("/")).await;
    browser.wait_for_text("Rosa bakery site").await;
    browser.click_text("a", "@demo_bakery").await;
    browser
        .wait_until(
            "document.getElementById('owner-email')?.value === 'rosa@example.com' \
             && document.getElementById('origins')?.value === 'https://rosa.example\\nhttps://www.rosa.example'",
            "the link's presets on the account",
        )
        .await;
    // Who is told when it needs reconnecting: its owner too.
    browser.wait_for_text("(rosa@example.com)").await;
    browser
        .screenshot_at("account-contact", "#contact-title")
        .await;
    browser.click("nav a[href$='/links']").await;
    browser.find_text("span", "Used").await;
}

/// The Page's token dies: its page offers a reconnect link for whoever can log in to it, and
/// the link opens the page that asks them to.
async fn a_revoked_page_gets_a_reconnect_link(journey: &Journey, facebook: &FacebookPage) {
    let browser = &journey.browser;
    let page = &facebook.page;
    browser.open(page).await;
    let revoked = reqwest::Client::new()
        .post(format!("{}/__fake/revoke", facebook.fake))
        .json(&json!({ "username": "demo_bakery" }))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    browser.click_button("Refresh now").await;
    // The server's answer, before leaving the page (a reload would cancel the request).
    browser
        .wait_until(
            "[...document.querySelectorAll('main p.note')].some((note) => note.textContent.trim())",
            "the answer to Refresh now",
        )
        .await;
    // The check runs in the background and the page watches for a while; past that, look
    // again every two seconds.
    let deadline = Instant::now() + PATIENCE;
    loop {
        browser.find_text("h1", "Demo Bakery Café").await;
        if browser
            .run("return !!document.querySelector('main .callout.bad')")
            .await
            == json!(true)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Page never needed reconnecting:\n{}",
            browser.text().await
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        browser.open(page).await;
    }
    // What happened, beside the status: not "no check yet".
    browser
        .wait_for_text_in(".account-facts span", "last check failed")
        .await;
    browser.click_button("Get a reconnect link").await;
    browser
        .find("button[aria-label='Copy: Reconnect link']")
        .await;
    let reconnect = browser.find(".callout.ok code").await.text().await.unwrap();
    assert!(reconnect.starts_with(&journey.url("/c/")), "{reconnect}");
    browser.screenshot("account-reconnect").await;
    browser.open(&reconnect).await;
    browser.find_text("h1", "Demo Bakery Café").await;
    browser.screenshot("link-reconnect").await;
}

/// The invitation made on the team page, opened signed out: the colleague creates an account
/// and lands in the workspace.
async fn an_invited_colleague_signs_up(journey: &Journey, invitation: &str) {
    let browser = &journey.browser;
    browser.open(&journey.url("/")).await;
    browser.wait_for_path(ACCOUNTS).await;
    browser.click("header.top .who button").await;
    browser.wait_for_path("^/signin$").await;
    browser.open(invitation).await;
    browser.find("a[href^='/signup?invite=']").await;
    browser.screenshot("invite").await;
    browser.click("a[href^='/signup?invite=']").await;
    browser.wait_for_path("^/signup$").await;
    browser.find("#email").await;
    browser.screenshot("sign-up-invited").await;
    browser.type_into("#email", "colleague@example.com").await;
    browser
        .type_into("#password", "another long password")
        .await;
    browser.click("button[type=submit]").await;
    browser.wait_for_path(ACCOUNTS).await;
    browser.find("ul.accounts .account-name").await;
}
