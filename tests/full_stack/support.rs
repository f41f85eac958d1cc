//! Starting the real binary, and what tests need around it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

/// The binary serving on a port of its own; killed when dropped.
pub struct Process {
    pub child: Child,
    pub base_url: String,
}

impl Process {
    /// Starts `freshtoken serve` and waits until `/healthz` answers.
    pub async fn serve(mut command: Command) -> Process {
        let port = free_port();
        let child = command
            .env("FRESHTOKEN_BIND", format!("127.0.0.1:{port}"))
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start freshtoken serve");
        let mut process = Process {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/healthz", process.base_url)).await
                && response.status().is_success()
            {
                return process;
            }
            if let Some(status) = process.child.try_wait().expect("poll the child") {
                let output = process.output_after_exit();
                panic!("freshtoken serve exited early with {status}:\n{output}");
            }
            assert!(
                Instant::now() < deadline,
                "freshtoken serve did not come up in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

    /// Everything the process wrote, once it has exited.
    pub fn output_after_exit(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if let Some(stdout) = self.child.stdout.as_mut() {
            let _ = stdout.read_to_string(&mut text);
        }
        if let Some(stderr) = self.child.stderr.as_mut() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
