//! How many refreshes per second the fake answers on loopback, next to a baseline measured in
//! the same run (a plain Graph read, `GET /me`, through the same stack and latency), so later
//! refresh benchmarks can show that the fake is not their bottleneck.
//!
//! `cargo bench -p fake-instagram`. Bounded: each phase runs `FAKE_BENCH_SECS` (default 5) with
//! `FAKE_BENCH_CONCURRENCY` (default 64) keep-alive connections, on 127.0.0.1 only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fake_instagram::{FakeConfig, FakeInstagram};

const USERS: usize = 1000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `concurrency` loops of requests for `duration`; returns answered requests per second.
async fn drive(urls: Arc<Vec<String>>, concurrency: usize, duration: Duration) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, urls, done, failed) =
            (client.clone(), urls.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while Instant::now() < deadline {
                let url = &urls[n % urls.len()];
                n += concurrency;
                match client.get(url).send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(response) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            let status = response.status();
                            let body = response.text().await.unwrap_or_default();
                            eprintln!("  first failure: {status} {}", &body[..body.len().min(200)]);
                        }
                    }
                    Err(err) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("  first failure: {}", err.without_url());
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let failures = failed.load(Ordering::Relaxed);
    if failures > 0 {
        eprintln!("  ({failures} requests failed)");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn phase(latency: Duration, concurrency: usize, duration: Duration) {
    let config = FakeConfig {
        latency,
        ..FakeConfig::default()
    };
    let fake = FakeInstagram::start(config).await.expect("fake starts");
    // Refresh hands out a new token while the old one stays valid and two days old, so the
    // same tokens can be refreshed again and again without moving the clock.
    let two_days = Duration::from_secs(2 * 24 * 3600);
    let tokens: Vec<String> = (0..USERS)
        .map(|n| {
            fake.mint_token(&format!("bench_user_{n}"), two_days)
                .access_token
        })
        .collect();
    let base = fake.base_url().to_owned();
    let url = |path: &str, token: &str| format!("{base}/{path}&access_token={token}");
    let reads = tokens
        .iter()
        .map(|t| url("me?fields=username", t))
        .collect();
    let refreshes = tokens
        .iter()
        .map(|t| url("refresh_access_token?grant_type=ig_refresh_token", t))
        .collect();
    let baseline = drive(Arc::new(reads), concurrency, duration).await;
    let refresh = drive(Arc::new(refreshes), concurrency, duration).await;
    println!(
        "latency {:>3} ms, {concurrency:>3} connections: baseline (GET /me) {baseline:>7.0} req/s, refresh {refresh:>7.0} req/s, ratio {:.2}",
        latency.as_millis(),
        refresh / baseline
    );
}

fn main() {
    let seconds = env_number("FAKE_BENCH_SECS", 5);
    let concurrency = env_number("FAKE_BENCH_CONCURRENCY", 64) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        println!("fake-instagram refresh benchmark ({seconds} s per phase, {USERS} users, loopback; client and fake share the machine)");
        phase(Duration::ZERO, concurrency, Duration::from_secs(seconds)).await;
        // With 20 ms of latency per answer, throughput is bounded by concurrency / latency.
        phase(
            Duration::from_millis(20),
            concurrency * 4,
            Duration::from_secs(seconds),
        )
        .await;
    });
}
