//! The dashboard: how `web` serves its files, and, in a real headless Chromium, the path of a
//! newcomer from sign-up to a token on their own site.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::{Process, TestApp, freshtoken, http_endpoint};
use crate::webdriver::{self, Chromium};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Screenshots of the main pages land here, for people to look at after a run.
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
    let missing = if !webdriver::available() {
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

#[tokio::test]
async fn a_newcomer_connects_in_demo_mode_and_the_snippet_works_only_on_allowed_sites() {
    let Some(dist) = browser_or_skip("the dashboard browser test") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut command = freshtoken(data.path());
    command
        .env("FRESHTOKEN_DEMO", "true")
        .env("FRESHTOKEN_DASHBOARD_DIR", &dist);
    let server = Process::serve(command).await;
    let base = &server.base_url;
    let shots = screenshots();
    let browser = Chromium::start().await;

    // Signed out, the dashboard sends the newcomer to sign in; they go on to sign up.
    browser.open(&format!("{base}/")).await;
    browser
        .wait_for("location.pathname === '/signin'", "the sign-in page")
        .await;
    browser.find_by_text("h1", "Sign in to freshtoken").await;
    browser.screenshot(&shots, "sign-in").await;
    let create = browser.find_by_text("a", "Create an account").await;
    browser.click(&create).await;

    // The form checks its fields before sending anything.
    let submit = browser.find_by_text("button", "Create account").await;
    browser.click(&submit).await;
    browser
        .find_by_text("p", "Enter an e-mail address like name@example.com.")
        .await;
    let email = browser.find("#email").await;
    browser.type_into(&email, "newcomer@example.com").await;
    let password = browser.find("#password").await;
    browser.type_into(&password, "a long enough password").await;
    let workspace = browser.find("#workspace").await;
    browser.type_into(&workspace, "Bakery sites").await;
    browser.click(&submit).await;
    browser
        .wait_for("location.pathname.startsWith('/w/')", "the new workspace")
        .await;
    browser.find_by_text("p", "No accounts yet. Connect an Instagram account, a Facebook Page or a Threads profile, or paste a token you already have; freshtoken keeps it alive from then on.").await;
    assert!(
        browser
            .run("return document.body.innerText", json!([]))
            .await
            .as_str()
            .unwrap()
            .contains("Demo mode"),
        "the demo says it is one"
    );
    browser.screenshot(&shots, "accounts-empty").await;

    // Connect, and allow on the fake Instagram's consent page.
    let connect = browser.find_by_text("a", "Connect Instagram").await;
    browser.click(&connect).await;
    let allow = browser.find("button[value=allow]").await;
    browser.screenshot(&shots, "fake-consent").await;
    browser.click(&allow).await;

    // Back on the dashboard, on the new account's page.
    browser
        .wait_for(
            "/^\\/w\\/\\d+\\/accounts\\/\\d+$/.test(location.pathname)",
            "the account page",
        )
        .await;
    browser.find_by_text("h1", "@demo_bakery").await;
    let account_page = browser.current_url().await;
    browser.find_by_text("span", "Active").await;
    // No origins yet: no website gets the token, and the page asks for the site first.
    browser
        .find_by_text("h2", "Which website shows this feed?")
        .await;
    browser
        .find_by_text("p", "Not served to any website yet. Add the site that shows this feed (e.g. https://example.com): only its pages will get the token. Servers use an API key with the tokens:read scope.")
        .await;
    browser
        .wait_for(
            "document.activeElement && document.activeElement.id === 'origins'",
            "the focus on the origins",
        )
        .await;
    browser.screenshot(&shots, "account").await;

    // Copy the token.js snippet, as a person would, and read it back from the clipboard.
    browser.grant("clipboard-read").await;
    browser.grant("clipboard-write").await;
    let copy = browser
        .find("button[aria-label='Copy: Script tag (token.js)']")
        .await;
    browser.click(&copy).await;
    browser.find_by_text("span", "Copied").await;
    let snippet = browser
        .run_async(
            "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, (error) => done('refused: ' + error));",
        )
        .await;
    let snippet = snippet.as_str().unwrap().to_owned();
    assert!(
        snippet.starts_with(&format!("<script src=\"{base}/t/"))
            && snippet.ends_with("/token.js\"></script>"),
        "the copied snippet: {snippet}"
    );

    // Two websites with the snippet; the account allows only the first. They are different
    // sites (127.0.0.1 and localhost), as two customers' sites would be: Chromium keeps a
    // separate HTTP cache per site, so the second cannot reuse the first one's answer.
    let page = format!(
        "<!doctype html><html><head><title>site</title>{snippet}</head><body>a site</body></html>"
    );
    let (allowed, _) = http_endpoint("text/html; charset=utf-8", page.clone()).await;
    let (refused, _) = http_endpoint("text/html; charset=utf-8", page).await;
    // A page of an allowed origin that hides its referrer (as any page can): the browser
    // sends neither Origin nor Referer, so nothing proves where it runs and it gets no
    // token, only the reason in the console (collected here, as a developer would read it).
    let hidden_page = format!(
        "<!doctype html><html><head><title>site</title><meta name=\"referrer\" content=\"no-referrer\">\
         <script>window.logged = []; const log = console.error.bind(console); \
         console.error = (...words) => {{ window.logged.push(words.join(' ')); log(...words); }};</script>\
         {snippet}</head><body>a site that hides its referrer</body></html>"
    );
    let (hidden, _) = http_endpoint("text/html; charset=utf-8", hidden_page).await;
    let origins = browser.find("#origins").await;
    browser
        .type_into(
            &origins,
            &format!("http://127.0.0.1:{allowed}\nhttp://127.0.0.1:{hidden}"),
        )
        .await;
    let save = browser.find_by_text("button", "Save origins").await;
    browser.click(&save).await;
    browser.find_by_text("span", "Saved").await;

    browser.resize(390, 844).await;
    browser.screenshot(&shots, "account-phone").await;
    browser.resize(1280, 900).await;
    let team = browser.find_by_text("a", "Team & API keys").await;
    browser.click(&team).await;
    browser.find_by_text("h2", "API keys").await;
    browser.screenshot(&shots, "team").await;
    let webhooks = browser.find_by_text("a", "Webhooks").await;
    browser.click(&webhooks).await;
    browser.find_by_text("h2", "Delivery log").await;
    browser.screenshot(&shots, "webhooks").await;
    // The first user of an instance is its operator.
    let operator = browser.find_by_text("a", "Operator").await;
    browser.click(&operator).await;
    browser.find_by_text("dt", "Accounts active").await;
    browser.screenshot(&shots, "operator").await;

    let token_on = |host: &'static str, port: u16| {
        let browser = &browser;
        async move {
            browser.open(&format!("http://{host}:{port}/")).await;
            browser
                .wait_for("document.readyState === 'complete'", "the site to load")
                .await;
            browser
                .run(
                    "return typeof InstagramToken === 'undefined' ? null : InstagramToken;",
                    json!([]),
                )
                .await
        }
    };
    let token = token_on("127.0.0.1", allowed).await;
    assert!(
        token.as_str().is_some_and(|token| !token.is_empty()),
        "the allowed site has the token: {token}"
    );
    assert_eq!(
        token_on("localhost", refused).await,
        serde_json::Value::Null,
        "a site not allowed gets no token"
    );
    // Same site as the allowed page, so the same HTTP cache: `Vary: Origin, Referer` keeps
    // the allowed page's copy from being handed to a request without a Referer.
    assert_eq!(
        token_on("127.0.0.1", hidden).await,
        serde_json::Value::Null,
        "a page without Origin or Referer gets no token"
    );
    let logged = browser.run("return window.logged;", json!([])).await;
    assert!(
        logged
            .as_array()
            .is_some_and(|lines| lines.iter().any(|line| line
                .as_str()
                .unwrap_or_default()
                .starts_with("freshtoken: the request carries neither Origin nor Referer"))),
        "the console says why: {logged}"
    );

    // Irreversible actions ask first, with the focus on Cancel; Escape backs out.
    browser.open(&account_page).await;
    let rotate = browser.find_by_text("button", "Rotate URLs…").await;
    browser.click(&rotate).await;
    browser.find_by_text("button", "Rotate the URLs").await;
    browser
        .wait_for(
            "document.activeElement && document.activeElement.textContent === 'Cancel'",
            "the focus on Cancel",
        )
        .await;
    let cancel = browser.find_by_text("button", "Cancel").await;
    browser.type_into(&cancel, "\u{E00C}").await;
    browser
        .wait_for(
            "!document.querySelector('[role=alertdialog]')",
            "the question to close",
        )
        .await;
    let delete = browser.find_by_text("button", "Delete…").await;
    browser.click(&delete).await;
    let confirm = browser.find_by_text("button", "Delete for good").await;
    browser.click(&confirm).await;
    browser
        .find_by_text("p", "No accounts yet. Connect an Instagram account, a Facebook Page or a Threads profile, or paste a token you already have; freshtoken keeps it alive from then on.")
        .await;

    // A Facebook user who manages two Pages: after Facebook's consent, the dashboard asks
    // which to keep, and the chosen one's page says how its token lives.
    let connect = browser.find_by_text("a", "Connect Facebook Page").await;
    browser.click(&connect).await;
    browser.find_by_text("h1", "Fake Facebook").await;
    let fake = browser.run("return location.origin", json!([])).await;
    let fake = fake.as_str().unwrap().to_owned();
    browser.screenshot(&shots, "fake-consent-facebook").await;
    let allow = browser.find("button[value=allow]").await;
    browser.click(&allow).await;
    browser
        .find_by_text("h2", "Which Pages should freshtoken keep?")
        .await;
    let cafe = browser
        .find_by_text("label", "Demo Bakery Café · Brand")
        .await;
    browser.screenshot(&shots, "page-picker").await;
    browser.click(&cafe).await;
    let chosen = browser
        .find_by_text("button", "Connect the chosen Pages")
        .await;
    browser.click(&chosen).await;
    browser
        .wait_for(
            "/^\\/w\\/\\d+\\/accounts\\/\\d+$/.test(location.pathname)",
            "the Page's account page",
        )
        .await;
    browser.find_by_text("h1", "Demo Bakery Café").await;
    let page_account = browser.current_url().await;
    browser
        .find_by_text("span", "never expires · checked regularly")
        .await;
    browser.screenshot(&shots, "account-facebook-page").await;
    browser.open(&format!("{base}/")).await;
    browser.find_by_text("span", "Facebook Page").await;
    browser.screenshot(&shots, "accounts").await;

    // A connect link for a client, made with the settings their account should get.
    let links = browser.find_by_text("a", "Connect links").await;
    browser.click(&links).await;
    browser.find_by_text("h2", "New link").await;
    let label = browser.find("#link-label").await;
    browser.type_into(&label, "Rosa bakery site").await;
    let sites = browser.find("#link-sites").await;
    browser
        .type_into(&sites, "https://rosa.example, https://www.rosa.example")
        .await;
    let email = browser.find("#link-email").await;
    browser.type_into(&email, "rosa@example.com").await;
    let create = browser.find_by_text("button", "Create the link").await;
    browser.click(&create).await;
    browser
        .find("button[aria-label='Copy: Connect link']")
        .await;
    let link = browser
        .run(
            "return document.querySelector('.callout.ok code').textContent",
            json!([]),
        )
        .await;
    let link = link.as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{base}/c/")), "the link: {link}");
    browser.find_by_text("strong", "Rosa bakery site").await;
    browser.find_by_text("span", "Active").await;
    browser
        .wait_for(
            "document.activeElement?.getAttribute('aria-label') === 'Copy: Connect link'",
            "the focus on the new link's Copy button",
        )
        .await;
    browser.screenshot(&shots, "links").await;
    browser.resize(390, 844).await;
    browser
        .run(
            "document.getElementById('links-title').scrollIntoView()",
            json!([]),
        )
        .await;
    browser.screenshot(&shots, "links-phone").await;
    browser.resize(1280, 900).await;

    // The client opens it (no session needed: the link is enough), connects on the
    // platform's own page, and is done.
    browser.open(&link).await;
    browser
        .find_by_text("h1", "Connect your Instagram account")
        .await;
    browser.screenshot(&shots, "link-client").await;
    browser.resize(390, 844).await;
    browser.screenshot(&shots, "link-client-phone").await;
    browser.resize(1280, 900).await;
    let connect = browser.find_by_text("a", "Connect with Instagram").await;
    browser.click(&connect).await;
    let allow = browser.find("button[value=allow]").await;
    browser.click(&allow).await;
    browser
        .find_by_text("h1", "Done, you can close this page")
        .await;
    browser.screenshot(&shots, "link-done").await;

    // The account is in the workspace with the link's label, sites and owner; the link is
    // used up.
    browser.open(&format!("{base}/")).await;
    browser.find_by_text("span", "· Rosa bakery site").await;
    let connected = browser.find_by_text("a", "@demo_bakery").await;
    browser.click(&connected).await;
    browser
        .wait_for(
            "document.getElementById('owner-email')?.value === 'rosa@example.com' \
             && document.getElementById('origins')?.value === 'https://rosa.example\\nhttps://www.rosa.example'",
            "the link's presets on the account",
        )
        .await;
    browser
        .find_by_text(
            "p",
            "The workspace's owners, by e-mail (if this instance sends e-mail), and the webhooks subscribed to its events. When it needs reconnecting, its owner's contact too (rosa@example.com), with a link that reconnects it.",
        )
        .await;
    browser
        .run(
            "document.getElementById('contact-title').scrollIntoView()",
            json!([]),
        )
        .await;
    browser.screenshot(&shots, "account-contact").await;
    let links = browser.find_by_text("a", "Connect links").await;
    browser.click(&links).await;
    browser.find_by_text("span", "Used").await;

    // The Page's token dies: its page offers a reconnect link for whoever can log in to it.
    let revoked = reqwest::Client::new()
        .post(format!("{fake}/__fake/revoke"))
        .json(&json!({ "username": "demo_bakery" }))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    browser.open(&page_account).await;
    let refresh = browser.find_by_text("button", "Refresh now").await;
    browser.click(&refresh).await;
    let mut tries = 0;
    loop {
        browser.open(&page_account).await;
        browser.find_by_text("h1", "Demo Bakery Café").await;
        let text = browser
            .run("return document.body.innerText", json!([]))
            .await;
        if text.as_str().unwrap().contains("This account needs you.") {
            break;
        }
        tries += 1;
        assert!(tries < 60, "the Page never needed reconnecting:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let get_link = browser.find_by_text("button", "Get a reconnect link").await;
    browser.click(&get_link).await;
    browser
        .find("button[aria-label='Copy: Reconnect link']")
        .await;
    let reconnect = browser
        .run(
            "return document.querySelector('.callout.ok code').textContent",
            json!([]),
        )
        .await;
    let reconnect = reconnect.as_str().unwrap().to_owned();
    assert!(reconnect.starts_with(&format!("{base}/c/")), "{reconnect}");
    browser.screenshot(&shots, "account-reconnect").await;
    browser.open(&reconnect).await;
    browser
        .wait_for(
            "document.querySelector('h1')?.textContent === 'Log in to Facebook again for \"Demo Bakery Café\"'",
            "the reconnect link's page",
        )
        .await;
}
