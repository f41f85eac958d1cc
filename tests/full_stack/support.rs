//! Starting the real binary, and what tests need around it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_freshtoken");

/// A `freshtoken` command with a clean environment: only what the test sets counts.
pub fn freshtoken(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars() {
        if name.starts_with("FRESHTOKEN_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
        .env("FRESHTOKEN_DATA_DIR", data_dir)
        .env("NO_COLOR", "1");
    command
}

/// `freshtoken` on a data directory, with Instagram, Threads and Facebook at the fake (one
/// address for every host, as scripts run it) and the fake's app for all three.
pub fn freshtoken_with(data_dir: &Path, fake: &fake_instagram::FakeInstagram) -> Command {
    let mut command = freshtoken(data_dir);
    for name in [
        "FRESHTOKEN_INSTAGRAM_OAUTH_URL",
        "FRESHTOKEN_INSTAGRAM_API_URL",
        "FRESHTOKEN_INSTAGRAM_GRAPH_URL",
        "FRESHTOKEN_THREADS_OAUTH_URL",
        "FRESHTOKEN_THREADS_GRAPH_URL",
        "FRESHTOKEN_FACEBOOK_OAUTH_URL",
        "FRESHTOKEN_FACEBOOK_GRAPH_URL",
    ] {
        command.env(name, fake.base_url());
    }
    for (id, secret) in [
        (
            "FRESHTOKEN_INSTAGRAM_CLIENT_ID",
            "FRESHTOKEN_INSTAGRAM_CLIENT_SECRET",
        ),
        (
            "FRESHTOKEN_THREADS_CLIENT_ID",
            "FRESHTOKEN_THREADS_CLIENT_SECRET",
        ),
        (
            "FRESHTOKEN_FACEBOOK_APP_ID",
            "FRESHTOKEN_FACEBOOK_APP_SECRET",
        ),
    ] {
        command
            .env(id, fake.app_id())
            .env(secret, fake.app_secret());
    }
    command
}

pub fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("run freshtoken")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// An HTTP endpoint of the test's own on `127.0.0.1:{port}` (a website, a webhook receiver):
/// answers every request 200 with `body`, and hands over each request it got, head and body,
/// as text.
pub async fn http_endpoint(
    content_type: &'static str,
    body: String,
) -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sender = sender.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // The head, then as much body as Content-Length says.
                loop {
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, received)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|line| {
                                let (name, value) = line.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if received.len() >= length {
                            let _ = sender.send(text);
                            break;
                        }
                    }
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (port, receiver)
}

/// The binary serving on a port of its own; killed when dropped.
pub struct Process {
    pub child: Child,
    pub base_url: String,
    /// What it writes, read as it comes: a pipe nobody reads fills after 64 kB of request
    /// logs, and the server then stalls on its next log line.
    output: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Process {
    /// Starts `freshtoken serve` and waits until `/healthz` answers.
    pub async fn serve(command: Command) -> Process {
        Process::start(command, "serve").await
    }

    /// Starts `freshtoken SUBCOMMAND` (`serve`, `web` or `worker`) and waits until `/healthz`
    /// answers.
    pub async fn start(mut command: Command, subcommand: &str) -> Process {
        let port = free_port();
        let child = command
            .env("FRESHTOKEN_BIND", format!("127.0.0.1:{port}"))
            .arg(subcommand)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start freshtoken serve");
        let mut process = Process::of(child, format!("http://127.0.0.1:{port}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/healthz", process.base_url)).await
                && response.status().is_success()
            {
                return process;
            }
            if let Some(status) = process.child.try_wait().expect("poll the child") {
                let output = process.output_after_exit();
                panic!("freshtoken {subcommand} exited early with {status}:\n{output}");
            }
            assert!(
                Instant::now() < deadline,
                "freshtoken {subcommand} did not come up in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the process outright (SIGKILL), as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill the child");
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "freshtoken did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A process started with piped output, serving at `base_url`.
    pub fn of(child: Child, base_url: String) -> Process {
        let mut process = Process {
            child,
            base_url,
            output: Arc::default(),
            readers: Vec::new(),
        };
        process.read_output();
        process
    }

    /// Reads standard output and error into `output`, line by line, until the process ends.
    fn read_output(&mut self) {
        use std::io::{BufRead, BufReader, Read};
        let pipes: [Option<Box<dyn Read + Send>>; 2] = [
            self.child
                .stdout
                .take()
                .map(|out| Box::new(out) as Box<dyn Read + Send>),
            self.child
                .stderr
                .take()
                .map(|err| Box::new(err) as Box<dyn Read + Send>),
        ];
        for pipe in pipes.into_iter().flatten() {
            let output = Arc::clone(&self.output);
            self.readers.push(std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut output = output.lock().unwrap_or_else(|e| e.into_inner());
                    output.push_str(&line);
                    output.push('\n');
                }
            }));
        }
    }

    /// What the process has written so far.
    pub fn output_so_far(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Everything the process wrote, once it has exited.
    pub fn output_after_exit(&mut self) -> String {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.output_so_far()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The application served in this process, from a real configuration, on a fresh database.
pub struct TestApp {
    pub base_url: String,
    /// The metrics listener's base URL, when started with `--metrics-bind`.
    pub metrics_url: Option<String>,
    // Held for the test's lifetime: the server runs on the test's runtime, and the database
    // (a PostgreSQL one is dropped with this) must outlive it.
    _server: freshtoken::server::RunningServer,
    pub database: freshtoken_store::testing::TestDatabase,
    /// The instance's secret key, base64.
    key: String,
    _data_dir: tempfile::TempDir,
}

/// The configuration of a process on `database_url` with `key`, from real arguments.
fn test_config(
    database_url: &str,
    key: &str,
    data_dir: &Path,
    extra: &[&str],
) -> freshtoken::config::Config {
    use clap::Parser;
    let data_dir = data_dir.display().to_string();
    let mut args = vec![
        "freshtoken",
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        &data_dir,
        "--database-url",
        database_url,
        "--secret-key",
        key,
    ];
    args.extend_from_slice(extra);
    let cli = freshtoken::cli::Cli::try_parse_from(args).expect("test arguments parse");
    freshtoken::config::Config::from_settings(cli.settings()).expect("valid test configuration")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::with_args(&[]).await
    }

    /// Starts the app with extra command-line settings, e.g. `["--signup", "closed"]`.
    pub async fn with_args(extra: &[&str]) -> TestApp {
        // The web side only: tests that need the worker drive it themselves, or ask for it.
        TestApp::with_mode(extra, freshtoken::server::Mode::Web).await
    }

    /// Starts the app as `mode` (`Serve` runs the worker too) with extra settings.
    pub async fn with_mode(extra: &[&str], mode: freshtoken::server::Mode) -> TestApp {
        let database = freshtoken_store::testing::TestDatabase::new().await;
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let key = freshtoken_store::SecretKey::generate()
            .to_base64()
            .to_string();
        let config = test_config(&database.url, &key, data_dir.path(), extra);
        let server = freshtoken::server::start(&config, mode)
            .await
            .expect("the app starts");
        TestApp {
            base_url: format!("http://{}", server.local_addr),
            metrics_url: server
                .metrics_addr
                .map(|address| format!("http://{address}")),
            _server: server,
            database,
            key,
            _data_dir: data_dir,
        }
    }

    /// Another process of the same instance (same database and key) as `mode`, configured
    /// with `extra` settings instead of the first one's: a worker set up differently, say.
    pub async fn another(
        &self,
        extra: &[&str],
        mode: freshtoken::server::Mode,
    ) -> (freshtoken::server::RunningServer, tempfile::TempDir) {
        let data_dir = tempfile::tempdir().expect("temporary directory");
        let config = test_config(&self.database.url, &self.key, data_dir.path(), extra);
        let server = freshtoken::server::start(&config, mode)
            .await
            .expect("the other process starts");
        (server, data_dir)
    }

    /// Runs SQL on the app's database (the statement for its engine), with `values` bound as
    /// `$1`/`?1`...: for what no API does, such as moving a date into the past.
    pub async fn sql(&self, sql_postgres: &str, sql_sqlite: &str, values: Vec<sea_orm::Value>) {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(self.database.url.as_str())
            .await
            .unwrap();
        let sql = if self.database.is_postgres() {
            sql_postgres
        } else {
            sql_sqlite
        };
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap();
    }

    /// A browser on our own site: sends `Origin` like a page of the dashboard would, and keeps
    /// the session cookie.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base_url)
    }
}

/// What a test sees of one response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A cookie-keeping client, written out by hand so tests can look at and replay cookies.
#[derive(Clone)]
pub struct Browser {
    pub base_url: String,
    pub origin: Option<String>,
    pub cookie: Option<String>,
    client: reqwest::Client,
}

impl Browser {
    /// A browser on a page of the site at `base_url`, not signed in.
    pub fn new(base_url: &str) -> Browser {
        Browser {
            base_url: base_url.to_owned(),
            origin: Some(base_url.to_owned()),
            cookie: None,
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(origin) = &self.origin {
            request = request.header("origin", origin);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", format!("freshtoken_session={cookie}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(cookie) = session_cookie(&headers) {
            self.cookie = cookie;
        }
        let text = response.text().await.expect("body read");
        let body = if text.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, body: serde_json::Value) -> Reply {
        self.send("POST", path, Some(body)).await
    }

    /// Signs up with a fresh address; returns the `/me` body.
    pub async fn sign_up(&mut self, email: &str) -> serde_json::Value {
        let reply = self
            .post(
                "/api/v1/auth/signup",
                serde_json::json!({"email": email, "password": "a long enough password", "name": "Test"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }
}

/// `Some(Some(value))` when the response sets the session cookie, `Some(None)` when it
/// removes it, `None` when it leaves it alone.
pub fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<Option<String>> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let pair = value.split(';').next()?.trim();
            let cookie_value = pair.strip_prefix("freshtoken_session=")?;
            let removed = cookie_value.is_empty() || value.contains("Max-Age=0");
            Some((!removed).then(|| cookie_value.to_owned()))
        })
}
