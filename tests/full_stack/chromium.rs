//! Debian's headless Chromium, driven through chromedriver with fantoccini, and the steps the
//! browser tests are written in: open a page, wait for an element or a text, click, type, run
//! a script, and screenshot a page at desktop and phone widths.
//!
//! Every step waits for what it needs (up to [`PATIENCE`]) instead of sleeping, and retries
//! what a loaded machine makes fail for a moment: a renderer that did not answer in time, an
//! element redrawn between finding and clicking it. A step that still fails panics with the
//! address, the page's text and its console, and leaves `failure-desktop.png` with the
//! screenshots.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::key::Key;
use fantoccini::wd::{Capabilities, TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a step waits for what it expects. Generous: during a whole test run on two cores
/// Chromium's renderer can stall for seconds, and waiting longer costs nothing when the page
/// is quick.
pub const PATIENCE: Duration = Duration::from_secs(90);
/// How long a page may take to load before chromedriver gives up on it.
const PAGE_LOAD: Duration = Duration::from_secs(120);

/// The sizes every screenshot is taken at, with the suffix of its file name.
pub const WIDTHS: [(&str, u32, u32); 2] = [("desktop", 1280, 900), ("390", 390, 844)];

/// Whether this machine has the browser (`.ci/run` installs it; elsewhere the tests skip
/// unless `FRESHTOKEN_TEST_REQUIRE_ALL` is set).
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// A headless Chromium with a profile of its own, writing its screenshots to one folder;
/// the browser quits when this is dropped.
pub struct Chromium {
    client: Client,
    driver: Child,
    /// `http://127.0.0.1:{port}/session/{id}`, to end the session from `Drop`.
    session: String,
    screenshots: PathBuf,
    /// How much wider and taller the window is than the page in it.
    frame: Mutex<(u32, u32)>,
    /// The screenshots whose page was wider than its window, with what stuck out.
    too_wide: Mutex<Vec<String>>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn start(screenshots: &Path) -> Chromium {
        let port = crate::support::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{base}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("a browser profile directory");
        // As the machine's notes say: without the background-networking flags Chromium keeps
        // trying hosts this closed network refuses. The rest keep the renderer answering on a
        // loaded machine: no GPU process, no /dev/shm (small in containers), no throttling of
        // a window Chromium thinks is hidden, no hang monitor killing a slow renderer.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
            "--disable-renderer-backgrounding",
            "--disable-hang-monitor",
            "--disable-ipc-flooding-protection",
            "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--mute-audio",
            "--password-store=basic",
            "--force-device-scale-factor=1",
            "--window-size=1280,900",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities: Capabilities = serde_json::from_value(json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        }))
        .expect("capabilities");
        // Plain HTTP to the driver on this machine: no TLS connector.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut attempts = 0;
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&base)
                .await
            {
                Ok(client) => break client,
                // Chromium can be slow to hand its DevTools port to the driver on a loaded
                // machine; a second try usually gets it.
                Err(error) if attempts < 2 => {
                    attempts += 1;
                    eprintln!("chromedriver: no session yet ({error}), trying again");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(error) => panic!("no browser session: {error}"),
            }
        };
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(PATIENCE),
                Some(PAGE_LOAD),
                Some(Duration::ZERO),
            ))
            .await
            .expect("set the session's timeouts");
        let id = client
            .session_id()
            .await
            .expect("the session id")
            .expect("a session");
        std::fs::create_dir_all(screenshots).expect("the screenshot folder");
        let browser = Chromium {
            client,
            driver,
            session: format!("{base}/session/{id}"),
            screenshots: screenshots.to_owned(),
            frame: Mutex::new((0, 0)),
            too_wide: Mutex::new(Vec::new()),
            _profile: profile,
        };
        browser.resize(WIDTHS[0].1, WIDTHS[0].2).await;
        browser
    }

    /// Retries `attempt` until it returns `Some`, through the errors a loaded machine causes
    /// for a moment, for up to [`PATIENCE`]; then panics saying it waited for `what`.
    async fn retry<T>(
        &self,
        what: &str,
        mut attempt: impl AsyncFnMut() -> Result<Option<T>, CmdError>,
    ) -> T {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        loop {
            match attempt().await {
                Ok(Some(value)) => return value,
                Ok(None) => {}
                Err(error) if transient(&error) => last = format!(" (last: {error})"),
                Err(error) => panic!("{what}: {error}\n{}", self.state().await),
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {PATIENCE:?} for {what}{last}\n{}",
                    self.state().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where the browser is and what it shows, for a failure's message; also saves what it
    /// shows as `failure-desktop.png`.
    async fn state(&self) -> String {
        let url = match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(error) => format!("(unknown: {error})"),
        };
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
            .map(|text| text.as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|error| format!("(unreadable: {error})"));
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.screenshots.join("failure-desktop.png"), png);
        }
        format!(
            "at {url}; the page says:\n{text}\nthe console:\n{}",
            self.console().await
        )
    }

    /// Opens `url` and waits for it to load.
    pub async fn open(&self, url: &str) {
        self.retry(&format!("{url} to load"), async || {
            self.client.goto(url).await.map(Some)
        })
        .await;
    }

    pub async fn current_url(&self) -> String {
        self.retry("the current address", async || {
            self.client.current_url().await.map(|url| Some(url.into()))
        })
        .await
    }

    /// Waits until the page's path (`location.pathname`) matches the regular expression
    /// `pattern`, e.g. `^/w/\d+$`.
    pub async fn wait_for_path(&self, pattern: &str) {
        let quoted = serde_json::to_string(pattern).expect("a pattern as JSON");
        self.wait_until(
            &format!("new RegExp({quoted}).test(location.pathname)"),
            &format!("a path like {pattern}"),
        )
        .await;
    }

    /// Waits until `condition` (a JavaScript expression) is true in the page.
    pub async fn wait_until(&self, condition: &str, what: &str) {
        let script = format!("return !!({condition});");
        self.retry(what, async || {
            let value = self.client.execute(&script, vec![]).await?;
            Ok((value == Value::Bool(true)).then_some(()))
        })
        .await;
    }

    /// Waits until the page shows `text` somewhere (keep it short: the words may change).
    pub async fn wait_for_text(&self, text: &str) {
        let quoted = serde_json::to_string(text).expect("text as JSON");
        self.wait_until(
            &format!("document.body && document.body.innerText.includes({quoted})"),
            &format!("the text {text:?}"),
        )
        .await;
    }

    /// Waits until an element matching the CSS selector shows `text`.
    pub async fn wait_for_text_in(&self, css: &str, text: &str) {
        let css_quoted = serde_json::to_string(css).expect("a selector as JSON");
        let quoted = serde_json::to_string(text).expect("text as JSON");
        self.wait_until(
            &format!(
                "[...document.querySelectorAll({css_quoted})].some((element) => element.textContent.includes({quoted}))"
            ),
            &format!("{css} saying {text:?}"),
        )
        .await;
    }

    /// Waits until the page has pictures matching the CSS selector and every one has loaded
    /// (a picture that failed has no width: that panics at once, naming it). Brings the first
    /// into view, since lazy pictures load only near the window. Answers how many there are.
    pub async fn wait_for_pictures(&self, css: &str) -> usize {
        let quoted = serde_json::to_string(css).expect("a selector as JSON");
        let script = format!(
            "const pictures = [...document.querySelectorAll({quoted})];
             pictures[0]?.scrollIntoView({{ block: 'center' }});
             const broken = pictures.filter((img) => img.complete && img.naturalWidth === 0);
             if (broken.length) return 'broken: ' + broken.map((img) => img.currentSrc || img.src).join(' ');
             return pictures.length && pictures.every((img) => img.complete) ? pictures.length : null;"
        );
        let answer = self
            .retry(&format!("the pictures {css} to load"), async || {
                let value = self.client.execute(&script, vec![]).await?;
                Ok((!value.is_null()).then_some(value))
            })
            .await;
        match answer.as_u64() {
            Some(count) => count as usize,
            None => panic!(
                "{css}: pictures that did not load: {answer}\n{}",
                self.state().await
            ),
        }
    }

    /// The text the page shows.
    pub async fn text(&self) -> String {
        self.run("return document.body ? document.body.innerText : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching the CSS selector, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.find_by(Locator::Css(css), &format!("an element {css}"))
            .await
    }

    /// The first `tag` (a button, a link, `*`...) whose text contains `text`, waiting for it.
    pub async fn find_text(&self, tag: &str, text: &str) -> Element {
        let xpath = format!(
            "//{tag}[contains(normalize-space(.), {})]",
            xpath_literal(text)
        );
        self.find_by(Locator::XPath(&xpath), &format!("a {tag} saying {text:?}"))
            .await
    }

    async fn find_by(&self, locator: Locator<'_>, what: &str) -> Element {
        self.retry(what, async || match self.client.find(locator).await {
            Ok(element) => Ok(Some(element)),
            Err(error) if error.is_no_such_element() => Ok(None),
            Err(error) => Err(error),
        })
        .await
    }

    /// Clicks the first element matching the CSS selector, once it is there and clickable.
    pub async fn click(&self, css: &str) {
        self.click_by(Locator::Css(css), &format!("a click on {css}"))
            .await;
    }

    /// Clicks the button whose text contains `text`.
    pub async fn click_button(&self, text: &str) {
        self.click_text("button", text).await;
    }

    /// Clicks the link whose text contains `text`.
    pub async fn click_link(&self, text: &str) {
        self.click_text("a", text).await;
    }

    /// Clicks the first `tag` whose text contains `text` (a label, say).
    pub async fn click_text(&self, tag: &str, text: &str) {
        let xpath = format!(
            "//{tag}[contains(normalize-space(.), {})]",
            xpath_literal(text)
        );
        self.click_by(
            Locator::XPath(&xpath),
            &format!("a click on the {tag} saying {text:?}"),
        )
        .await;
    }

    /// Finds and clicks again when the page redrew the element in between, or something
    /// (a banner sliding in) covered it for a moment.
    async fn click_by(&self, locator: Locator<'_>, what: &str) {
        self.retry(what, async || {
            let element = match self.client.find(locator).await {
                Ok(element) => element,
                Err(error) if error.is_no_such_element() => return Ok(None),
                Err(error) => return Err(error),
            };
            match element.click().await {
                Ok(()) => Ok(Some(())),
                Err(error) if retry_on_element(&error) => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await;
    }

    /// Types `text` into the first element matching the CSS selector.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.retry(&format!("typing into {css}"), async || {
            let element = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element,
                Err(error) if error.is_no_such_element() => return Ok(None),
                Err(error) => return Err(error),
            };
            match element.send_keys(text).await {
                Ok(()) => Ok(Some(())),
                Err(error) if retry_on_element(&error) => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await;
    }

    /// Presses `key` where the focus is.
    pub async fn press(&self, key: Key) {
        self.retry(&format!("pressing {key:?}"), async || {
            let element = self.client.active_element().await?;
            match element.send_keys(&key).await {
                Ok(()) => Ok(Some(())),
                Err(error) if retry_on_element(&error) => Ok(None),
                Err(error) => Err(error),
            }
        })
        .await;
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.retry("a script", async || {
            self.client.execute(script, vec![]).await.map(Some)
        })
        .await
    }

    /// Like [`Chromium::run`], for a script that calls `arguments[arguments.length - 1]` with
    /// its result when done (a promise, say).
    pub async fn run_async(&self, script: &str) -> Value {
        self.retry("a script", async || {
            self.client.execute_async(script, vec![]).await.map(Some)
        })
        .await
    }

    /// Grants the page's origin a permission (e.g. `clipboard-read`).
    pub async fn grant(&self, permission: &str) {
        let command = SessionCommand::post(
            "permissions",
            json!({ "descriptor": { "name": permission }, "state": "granted" }),
        );
        self.retry(&format!("the {permission} permission"), async || {
            self.client
                .issue_cmd(command.clone())
                .await
                .map(|_| Some(()))
        })
        .await;
    }

    /// What the page wrote to the console so far (chromedriver's log extension).
    pub async fn console(&self) -> String {
        let command = SessionCommand::post("se/log", json!({ "type": "browser" }));
        match self.client.issue_cmd(command).await {
            Ok(entries) => entries
                .as_array()
                .map(|entries| {
                    entries
                        .iter()
                        .map(|entry| format!("{} {}", entry["level"], entry["message"]))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            Err(error) => format!("(unreadable: {error})"),
        }
    }

    /// Sizes the window so that the page gets `width` × `height` pixels: the window has a
    /// frame even when headless, measured at the first resize.
    pub async fn resize(&self, width: u32, height: u32) {
        for _ in 0..3 {
            let (frame_width, frame_height) = *self.frame.lock().unwrap();
            self.retry(&format!("a {width}×{height} window"), async || {
                self.client
                    .set_window_size(width + frame_width, height + frame_height)
                    .await
                    .map(|()| Some(()))
            })
            .await;
            let inner = self.run("return [innerWidth, innerHeight]").await;
            let inner = |index: usize| inner[index].as_u64().unwrap_or_default() as u32;
            let (inner_width, inner_height) = (inner(0), inner(1));
            if (inner_width, inner_height) == (width, height) {
                return;
            }
            *self.frame.lock().unwrap() = (
                (width + frame_width).saturating_sub(inner_width),
                (height + frame_height).saturating_sub(inner_height),
            );
        }
        panic!("the page never got {width}×{height} pixels");
    }

    /// Screenshots the page at each of [`WIDTHS`], as `{name}-desktop.png` and
    /// `{name}-390.png`, then goes back to the desktop width.
    pub async fn screenshot(&self, name: &str) {
        self.screenshot_showing(name, None).await;
    }

    /// Like [`Chromium::screenshot`], with the element `css` scrolled to the top at each width
    /// (a section further down the page).
    pub async fn screenshot_at(&self, name: &str, css: &str) {
        self.screenshot_showing(name, Some(css)).await;
    }

    /// The screenshots so far whose page was wider than its window (which a phone scrolls
    /// sideways), with what stuck out.
    pub fn too_wide(&self) -> Vec<String> {
        self.too_wide.lock().unwrap().clone()
    }

    async fn screenshot_showing(&self, name: &str, css: Option<&str>) {
        for (suffix, width, height) in WIDTHS {
            self.resize(width, height).await;
            if let Some(css) = css {
                let quoted = serde_json::to_string(css).expect("a selector as JSON");
                self.run(&format!(
                    "document.querySelector({quoted})?.scrollIntoView({{ block: 'start' }})"
                ))
                .await;
            }
            // Two frames, so that the page is laid out and painted at the new width.
            self.run_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            )
            .await;
            let png = self
                .retry(&format!("a screenshot of {name}"), async || {
                    self.client.screenshot().await.map(Some)
                })
                .await;
            let path = self.screenshots.join(format!("{name}-{suffix}.png"));
            std::fs::write(&path, png).expect("write the screenshot");
            // A page wider than the window scrolls sideways on a phone: noted here, and
            // asserted by the test when it is done (`too_wide`), so that one such page does not
            // hide what the rest of the journey finds.
            let widths = self
                .run("const root = document.documentElement; return [root.scrollWidth, root.clientWidth]")
                .await;
            if widths[0].as_u64() > widths[1].as_u64() {
                let note = format!(
                    "{name}-{suffix}: the page is {} px wide, its window {} px; sticking out: {}",
                    widths[0],
                    widths[1],
                    self.run(STICKING_OUT).await
                );
                eprintln!("{note}");
                self.too_wide.lock().unwrap().push(note);
            }
        }
        let (_, width, height) = WIDTHS[0];
        self.resize(width, height).await;
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Ending the session quits the browser (killing the driver alone would leave it
        // running). Drop cannot await, and fantoccini's own farewell may not run once the
        // test's runtime is going away (after a panic), so this one request is written by
        // hand.
        use std::io::{Read, Write};
        if let Some(rest) = self.session.strip_prefix("http://")
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

/// The elements that reach past the window's right edge, to say what makes a page wider than
/// its window: the outermost ones (inside no scrolling box), and positioned ones, which
/// escape a scrolling box that is not positioned itself.
const STICKING_OUT: &str = "const width = document.documentElement.clientWidth;
    const out = (element) => element.getBoundingClientRect().right > width + 0.5;
    const name = (element) => element.tagName.toLowerCase() + (element.id ? '#' + element.id : '')
        + [...element.classList].map((class_) => '.' + class_).join('');
    const positioned = (element) => ['absolute', 'fixed'].includes(getComputedStyle(element).position);
    return [...document.body.querySelectorAll('*')]
        .filter((element) => out(element) && (positioned(element) || !out(element.parentElement)
            && getComputedStyle(element.parentElement).overflowX === 'visible'))
        .slice(0, 5)
        .map((element) => name(element.parentElement) + ' > ' + name(element)
            + ' (' + Math.round(element.getBoundingClientRect().right) + ' px)')
        .join(', ');";

/// What a loaded machine makes fail for a moment: chromedriver's "Timed out receiving message
/// from renderer", a script or a navigation cut short, a script that ran into a navigation.
fn transient(error: &CmdError) -> bool {
    const NAVIGATING: [&str; 3] = [
        "Execution context was destroyed",
        "Cannot find context",
        "frame detached",
    ];
    error.is_timeout()
        || error.is_script_timeout()
        || retry_on_element(error)
        || matches!(error, CmdError::Standard(error)
            if NAVIGATING.iter().any(|words| error.message.contains(words)))
}

/// An element redrawn (stale), covered or not yet interactive: find it again.
fn retry_on_element(error: &CmdError) -> bool {
    error.is_stale_element_reference()
        || error.is_element_not_interactable()
        || matches!(error, CmdError::Standard(error) if error.error == ErrorStatus::ElementClickIntercepted)
}

/// `text` as an XPath string literal, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('"') {
        format!("\"{text}\"")
    } else if !text.contains('\'') {
        format!("'{text}'")
    } else {
        let parts: Vec<String> = text.split('"').map(|part| format!("\"{part}\"")).collect();
        format!("concat({})", parts.join(", '\"', "))
    }
}

/// A chromedriver command fantoccini has no method for, under the session's path.
#[derive(Debug, Clone)]
struct SessionCommand {
    path: &'static str,
    body: Value,
}

impl SessionCommand {
    fn post(path: &'static str, body: Value) -> SessionCommand {
        SessionCommand { path, body }
    }
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(self.body.to_string()))
    }
}
