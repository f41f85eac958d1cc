//! Moving in from the tools we replace: `admin import-token` and `admin import-instatokend`,
//! run as the real binary against a fake Instagram.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use fake_instagram::{FakeConfig, FakeInstagram, MintKind};

use crate::support::{Browser, Process, freshtoken, freshtoken_with, run};

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// How many accounts the workspace has, as the instance's operator (the first to sign up)
/// sees it.
async fn accounts_in(data_dir: &Path, slug: &str) -> serde_json::Value {
    let server = Process::serve(freshtoken(data_dir)).await;
    let mut operator = Browser::new(&server.base_url);
    operator.sign_up("op@example.com").await;
    let tenants = operator.get("/api/v1/admin/tenants").await.body;
    tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|tenant| tenant["slug"] == slug)
        .unwrap_or_else(|| panic!("no workspace {slug}: {tenants}"))["accounts"]
        .clone()
}

// Several threads: the fake answers on the runtime while the test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_token_verifies_the_token_creates_the_workspace_and_prints_its_urls() {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = fake.mint_token("corner_bakery", Duration::from_secs(3600));

    let output = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-token",
        "--tenant",
        "bakery",
        "--token",
        &token.access_token,
        "--label",
        "Shop",
        "--origin",
        "https://bakery.example",
    ]));
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("created workspace bakery"), "{stdout}");
    assert!(
        stdout.contains("connected bakery: @corner_bakery"),
        "{stdout}"
    );
    assert!(stdout.contains("/token.json"), "{stdout}");
    assert!(stdout.contains("/token.js"), "{stdout}");
    assert!(!stdout.contains(&token.access_token) && !stderr.contains(&token.access_token));

    // Again, with the token on standard input (kept out of the shell's history): the same
    // account, reconnected.
    let mut child = freshtoken_with(dir.path(), &fake)
        .args([
            "admin",
            "import-token",
            "--tenant",
            "bakery",
            "--token",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", token.access_token).unwrap();
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("reconnected bakery: @corner_bakery"),
        "{stdout}"
    );
    assert!(!stdout.contains("created workspace"), "{stdout}");

    let refused = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-token",
        "--tenant",
        "bakery",
        "--token",
        "IGAAnot-a-token",
    ]));
    let (stdout, stderr) = text(&refused);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("Instagram refused this token"),
        "{stdout}{stderr}"
    );

    assert_eq!(accounts_in(dir.path(), "bakery").await, 1);
}

// Several threads: the fake answers on the runtime while the test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_instatokend_brings_every_account_and_names_the_ones_it_could_not() {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shop = fake.mint_token("corner_bakery", Duration::from_secs(3600));
    let studio = fake.mint_token("studio_two", Duration::from_secs(3600));
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{
  "port": 8080, // where instatokend listened
  "refresh_freq": "monthly",
  "shop": {{"token": "{}"}},
  "studio": {{"token": "{}"}},
  "expired": {{"token": "IGAAlong-gone"}}
}}"#,
            shop.access_token, studio.access_token
        ),
    )
    .unwrap();

    let output = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-instatokend",
        config.to_str().unwrap(),
        "--tenant",
        "agency",
    ]));
    let (stdout, stderr) = text(&output);
    assert!(
        !output.status.success(),
        "one account failed: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("connected shop: @corner_bakery"),
        "{stdout}"
    );
    assert!(stdout.contains("connected studio: @studio_two"), "{stdout}");
    assert!(stderr.contains("not imported expired"), "{stderr}");
    assert!(
        stdout.contains("imported 2 of 3 account(s) into workspace agency, refreshed monthly"),
        "{stdout}"
    );

    let not_a_config = dir.path().join("broken.json");
    std::fs::write(&not_a_config, "port = 8080").unwrap();
    let output = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-instatokend",
        not_a_config.to_str().unwrap(),
        "--tenant",
        "agency",
    ]));
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("is not an instatokend configuration"),
        "{stderr}"
    );

    assert_eq!(accounts_in(dir.path(), "agency").await, 2);
}

/// The path of the URL printed after `label` (`token.json:`, ...) in an import's output.
fn printed_path(stdout: &str, label: &str) -> String {
    let line = stdout
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} in {stdout}"));
    let url = line.split_whitespace().last().unwrap();
    url::Url::parse(url).unwrap().path().to_owned()
}

// Several threads: the fake answers on the runtime while the test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instatokend_site_keeps_its_urls_after_the_import_locked_to_its_origin() {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let shop = fake.mint_token("corner_bakery", Duration::from_secs(3600));
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"my-instagram-1": {{"token": "{}"}}}}"#,
            shop.access_token
        ),
    )
    .unwrap();
    let import = |tenant: &str, extra: &[&str]| {
        let mut command = freshtoken_with(dir.path(), &fake);
        command.args([
            "admin",
            "import-instatokend",
            config.to_str().unwrap(),
            "--tenant",
            tenant,
        ]);
        command.args(extra);
        let output = run(&mut command);
        let (stdout, stderr) = text(&output);
        (output.status.success(), stdout, stderr)
    };

    let (ok, stdout, stderr) = import("agency", &["--origin", "https://bakery.example"]);
    assert!(ok, "{stdout}{stderr}");
    // Every URL a site can use is printed, the instatokend one under its old name.
    assert_eq!(
        printed_path(&stdout, "instatokend's shape:"),
        "/token/my-instagram-1"
    );
    let json_path = printed_path(&stdout, "token.json:");
    let text_path = printed_path(&stdout, "the token as text:");
    assert_eq!(text_path, json_path.replace("/token.json", "/token"));
    assert!(stdout.contains("token.js:"), "{stdout}");

    // The same name for an account in another workspace: refused, saying why.
    let (ok, stdout, stderr) = import("someone-else", &[]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("already answers at /token/my-instagram-1"),
        "{stderr}"
    );

    let server = Process::serve(freshtoken_with(dir.path(), &fake)).await;
    let http = reqwest::Client::new();
    let get = |path: &str, origin: Option<&str>| {
        let mut request = http.get(format!("{}{path}", server.base_url));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        request.send()
    };
    let site = Some("https://bakery.example");
    let answer = get("/token/my-instagram-1", site).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["access-control-allow-origin"],
        "https://bakery.example"
    );
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"token": shop.access_token}));
    // Locked: another site, or no site at all, gets nothing.
    for origin in [Some("https://elsewhere.example"), None] {
        let refused = get("/token/my-instagram-1", origin).await.unwrap();
        assert_eq!(refused.status(), 403, "{origin:?}");
    }
    assert_eq!(
        get("/token/no-such-name", site).await.unwrap().status(),
        404
    );

    // Token Agent's shape: the bare token as text.
    let plain = get(&text_path, site).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(
        plain.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(plain.text().await.unwrap(), shop.access_token);
    assert_eq!(get(&text_path, None).await.unwrap().status(), 403);
}

// Several threads: the fake answers on the runtime while the test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_instatokend_with_public_keeps_instatokends_open_urls_and_warns() {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let studio = fake.mint_token("studio_two", Duration::from_secs(3600));
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"studio": {{"token": "{}"}}, "not a name!": {{"token": "IGAAx"}}}}"#,
            studio.access_token
        ),
    )
    .unwrap();
    let output = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-instatokend",
        config.to_str().unwrap(),
        "--tenant",
        "agency",
        "--public",
    ]));
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "one name is refused: {stdout}");
    assert!(stderr.contains("warning: --public"), "{stderr}");
    assert!(
        stderr.contains("not imported not a name!") && stderr.contains("cannot be a /token/ name"),
        "{stderr}"
    );
    assert!(!stdout.contains("no allowed origins yet"), "{stdout}");

    let server = Process::serve(freshtoken_with(dir.path(), &fake)).await;
    let answer = reqwest::get(format!("{}/token/studio", server.base_url))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["token"], studio.access_token);
}

// Several threads: the fake answers on the runtime while the test waits for the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_token_of_a_facebook_user_prints_a_token_url_per_page_serving_that_pages_token() {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let east = fake.add_page("corner_bakery", "Corner Bakery East");
    let user = fake.mint(MintKind::FacebookUser, "corner_bakery", Duration::ZERO);

    let output = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-token",
        "--tenant",
        "bakery",
        "--kind",
        "facebook-page",
        "--token",
        &user.access_token,
        "--origin",
        "https://bakery.example",
    ]));
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("connected bakery: Facebook Page \"corner_bakery page\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("connected bakery: Facebook Page \"Corner Bakery East\""),
        "{stdout}"
    );
    let urls: Vec<&str> = stdout
        .split_whitespace()
        .filter(|word| word.ends_with("/token.json"))
        .collect();
    assert_eq!(urls.len(), 2, "{stdout}");
    assert!(!stdout.contains(&user.access_token) && !stderr.contains(&user.access_token));

    // Each URL serves its own Page's token to the allowed origin, as Facebook confirms.
    let server = Process::serve(freshtoken_with(dir.path(), &fake)).await;
    let pages = [fake.page_id("corner_bakery"), east];
    for (url, page_id) in urls.iter().zip(&pages) {
        let path = &url[url.find("/t/").unwrap()..];
        let served: serde_json::Value = reqwest::Client::new()
            .get(format!("{}{path}", server.base_url))
            .header("origin", "https://bakery.example")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(served["kind"], "facebook_page", "{served}");
        let info: serde_json::Value = reqwest::get(format!(
            "{}/debug_token?input_token={}&access_token={}|{}",
            fake.base_url(),
            served["token"].as_str().unwrap(),
            fake.app_id(),
            fake.app_secret()
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(info["data"]["type"], "PAGE", "{info}");
        assert_eq!(&info["data"]["profile_id"], page_id, "{info}");
    }

    // `--page` picks one; `facebook_page`, as JSON spells it, is accepted too.
    let one = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-token",
        "--tenant",
        "bakery",
        "--kind",
        "facebook_page",
        "--page",
        &pages[1],
        "--token",
        &user.access_token,
    ]));
    let (stdout, stderr) = text(&one);
    assert!(one.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.matches("/token.json").count(), 1, "{stdout}");
    assert!(stdout.contains("reconnected bakery"), "{stdout}");

    let wrong_kind = run(freshtoken_with(dir.path(), &fake).args([
        "admin",
        "import-token",
        "--tenant",
        "bakery",
        "--kind",
        "threads",
        "--token",
        &user.access_token,
    ]));
    let (_, stderr) = text(&wrong_kind);
    assert!(!wrong_kind.status.success());
    assert!(
        stderr.contains("this is a Facebook token, not a Threads one"),
        "{stderr}"
    );
}
