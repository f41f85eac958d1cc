//! Just enough of the W3C WebDriver protocol to drive Debian's headless Chromium through
//! chromedriver: open pages, find, type, click, run a script, take screenshots. Plain JSON over
//! reqwest, so the browser tests need no client library.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key WebDriver names element references by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether this machine has the browser (`.ci/run` installs it; elsewhere the tests skip
/// unless `FRESHTOKEN_TEST_REQUIRE_ALL` is set).
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// A headless Chromium with a profile of its own; quit when dropped.
pub struct Chromium {
    driver: Child,
    endpoint: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn start() -> Chromium {
        let port = crate::support::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("a browser profile directory");
        // As the machine's notes say: without the background-networking flags Chromium keeps
        // trying hosts this closed network refuses.
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                "goog:loggingPrefs": { "browser": "ALL" },
            }}
        });
        let session = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("create a browser session")
            .json::<Value>()
            .await
            .expect("the session answer");
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        Chromium {
            driver,
            endpoint: format!("{base}/session/{id}"),
            http,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.endpoint));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("chromedriver's JSON");
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!("webdriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    pub async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and returns its value.
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Like [`Chromium::run`], for a script that calls `arguments[arguments.length - 1]` with
    /// its result when done (a promise, say).
    pub async fn run_async(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Waits until `condition` (a JavaScript expression) is true in the page.
    pub async fn wait_for(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let script = format!("return !!({condition});");
        loop {
            if self.run(&script, json!([])).await == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                let text = self.run("return document.body.innerText", json!([])).await;
                panic!(
                    "waited 30 s for {what} ({condition}) at {}; the page says:\n{}\nthe console:\n{}",
                    self.current_url().await,
                    text.as_str().unwrap_or_default(),
                    self.console().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the page wrote to the console so far (chromedriver's log extension).
    pub async fn console(&self) -> String {
        let entries = self
            .command(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|entry| format!("{} {}", entry["level"], entry["message"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// The first element matching the CSS selector, waiting for it to appear.
    pub async fn find(&self, selector: &str) -> String {
        let quoted = serde_json::to_string(selector).expect("a selector as JSON");
        let present = format!("document.querySelector({quoted})");
        self.locate(
            "css selector",
            selector,
            &present,
            &format!("an element {selector}"),
        )
        .await
    }

    /// The element (a button, a link, ...) whose text is `text`, waiting for it to appear.
    pub async fn find_by_text(&self, tag: &str, text: &str) -> String {
        let quoted = serde_json::to_string(text).expect("text as JSON");
        let xpath = format!("//{tag}[normalize-space(.)={quoted}]");
        let quoted_xpath = serde_json::to_string(&xpath).expect("an xpath as JSON");
        let present =
            format!("document.evaluate({quoted_xpath}, document, null, 9, null).singleNodeValue");
        self.locate(
            "xpath",
            &xpath,
            &present,
            &format!("a {tag} saying {text:?}"),
        )
        .await
    }

    /// Waits until `present` (JavaScript) is true, then asks for the element `value` names.
    async fn locate(&self, using: &str, value: &str, present: &str, what: &str) -> String {
        self.wait_for(present, what).await;
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": using, "value": value })),
            )
            .await;
        found[ELEMENT].as_str().expect("an element id").to_owned()
    }

    pub async fn click(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, element: &str, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Grants the page's origin a permission (e.g. `clipboard-read`).
    pub async fn grant(&self, permission: &str) {
        self.command(
            reqwest::Method::POST,
            "/permissions",
            Some(json!({ "descriptor": { "name": permission }, "state": "granted" })),
        )
        .await;
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Saves a PNG of the window as `folder/name.png`.
    pub async fn screenshot(&self, folder: &Path, name: &str) -> PathBuf {
        use base64::Engine;
        let png = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("a PNG");
        std::fs::create_dir_all(folder).expect("the screenshot folder");
        let path = folder.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("write the screenshot");
        path
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Ending the session quits the browser (killing the driver alone would leave it
        // running). Drop cannot await, so this one request is written by hand.
        use std::io::{Read, Write};
        if let Some(rest) = self.endpoint.strip_prefix("http://")
            && let Some((host, path)) = rest.split_once('/')
            && let Ok(mut stream) = std::net::TcpStream::connect(host)
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                stream,
                "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
