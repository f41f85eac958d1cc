//! `freshtoken fake-instagram`: the fake as a process of its own, as demos and benchmarks use it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Process, free_port, freshtoken};

#[tokio::test]
async fn the_fake_runs_standalone_with_demo_users_and_its_control_plane() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = freshtoken(dir.path())
        // A PostgreSQL URL without a key would stop `serve`; the fake needs none of it.
        .env("DATABASE_URL", "postgres://127.0.0.1:1/unused")
        .args([
            "fake-instagram",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--latency-ms",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut process = Process::of(child, format!("http://127.0.0.1:{port}"));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let users: Value = loop {
        if let Ok(response) = client
            .get(format!("{}/__fake/users", process.base_url))
            .send()
            .await
        {
            break response.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the fake did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["demo_bakery", "demo_studio", "demo_travels"]);

    let minted: Value = client
        .post(format!("{}/__fake/tokens", process.base_url))
        .json(&json!({"username": "demo_bakery", "age_secs": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(minted["access_token"].as_str().unwrap().starts_with("IGAA"));

    assert!(process.terminate().success());
    let output = process.output_after_exit();
    assert!(
        output.contains("fake Instagram at http://127.0.0.1:"),
        "{output}"
    );
    assert!(
        !output.contains(minted["access_token"].as_str().unwrap()),
        "the fake must not log tokens"
    );
}
