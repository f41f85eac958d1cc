//! A crowd of due accounts against the fake Instagram at 20 ms latency: refreshes per second on
//! SQLite and PostgreSQL, next to the fake's own capacity measured in the same run. See
//! bench/README.md.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_instagram::{FakeConfig, FakeInstagram};
use freshtoken_bench::{env_or, memory_kb};
use freshtoken_core::AccessToken;
use freshtoken_meta::MetaClients;
use freshtoken_store::testing::{SeedAccount, TestDatabase, TestStore, seed_due_accounts};
use freshtoken_store::{ConnectSettings, KeyStore, Keyring, SecretKey, Store};
use freshtoken_worker::{Clock, Engine, Metrics, WorkerConfig};
use sea_orm::{ConnectionTrait, Statement};

const LATENCY: Duration = Duration::from_millis(20);
const ROLE_VAR: &str = "FRESHTOKEN_BENCH_ROLE";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var(ROLE_VAR).is_ok_and(|role| role == "worker") {
        runtime.block_on(worker());
    } else if std::env::args().any(|arg| arg == "--bench") {
        runtime.block_on(orchestrate());
    }
    // `cargo test` runs bench targets without `--bench`: nothing to do then.
}

/// A worker process: the real engine on the database and fake the orchestrator names.
async fn worker() {
    let key = SecretKey::from_base64(&env_or("BENCH_KEY", ""), "BENCH_KEY").expect("key");
    let keys = Arc::new(KeyStore::fixed(Keyring::new(key, [])));
    let settings = ConnectSettings {
        max_connections: std::env::var("BENCH_POOL")
            .ok()
            .and_then(|n| n.parse().ok()),
        ..ConnectSettings::default()
    };
    let store = Store::connect(&env_or("BENCH_DATABASE_URL", ""), keys, &settings)
        .await
        .expect("database");
    let fake = url::Url::parse(&env_or("BENCH_FAKE_URL", "")).expect("fake URL");
    let client = MetaClients::all_at(&fake, "", "", "").expect("clients");
    let config = WorkerConfig {
        concurrency: env_or("BENCH_CONCURRENCY", "64")
            .parse()
            .expect("concurrency"),
        poll_interval: Duration::from_millis(
            env_or("BENCH_POLL_MS", "100")
                .parse()
                .expect("BENCH_POLL_MS"),
        ),
        scheduler_interval: Duration::from_secs(1),
        ..WorkerConfig::default()
    };
    let engine = Engine::new(store, client, config, None, Clock::system(), Metrics::new())
        .expect("the worker's HTTP clients can be built");
    engine
        .run(std::future::pending())
        .await
        .expect("the worker runs");
}

struct Setup {
    name: &'static str,
    label: &'static str,
    postgres: bool,
    processes: usize,
}

const SETUPS: &[Setup] = &[
    Setup {
        name: "sqlite",
        label: "SQLite, 1 process",
        postgres: false,
        processes: 1,
    },
    Setup {
        name: "pg1",
        label: "PostgreSQL, 1 worker process",
        postgres: true,
        processes: 1,
    },
    Setup {
        name: "pg2",
        label: "PostgreSQL, 2 worker processes",
        postgres: true,
        processes: 2,
    },
];

async fn orchestrate() {
    let accounts: usize = env_or("BENCH_ACCOUNTS", "100000")
        .parse()
        .expect("BENCH_ACCOUNTS");
    let concurrency: usize = env_or("BENCH_CONCURRENCY", "64")
        .parse()
        .expect("BENCH_CONCURRENCY");
    let postgres = env_or(
        "BENCH_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let chosen = env_or("BENCH_SETUPS", "sqlite,pg1,pg2");
    let fake = FakeInstagram::start(FakeConfig {
        latency: LATENCY,
        ..FakeConfig::default()
    })
    .await
    .expect("the fake starts");

    println!(
        "refresh benchmark: {accounts} accounts due at once, fake Instagram at {} ms latency",
        LATENCY.as_millis()
    );
    let ceiling = fake_capacity(&fake, concurrency * 2, Duration::from_secs(5)).await;
    println!(
        "baseline: the fake answers {ceiling:.0} refreshes/s at {} concurrent requests (its ceiling here)",
        concurrency * 2
    );
    println!();
    println!(
        "{:<32} {:>9} {:>10} {:>12} {:>10} {:>16}",
        "setup", "accounts", "seconds", "refreshes/s", "of fake", "peak RSS (MB)"
    );

    let tokens: Vec<(String, AccessToken, String)> = (0..accounts)
        .map(|n| {
            let username = format!("bench_{n}");
            let minted = fake.mint_token(&username, Duration::from_secs(2 * 24 * 3600));
            (
                username,
                AccessToken::new(minted.access_token),
                minted.user_id.to_string(),
            )
        })
        .collect();

    for setup in SETUPS
        .iter()
        .filter(|s| chosen.split(',').any(|c| c.trim() == s.name))
    {
        let database = if setup.postgres {
            TestDatabase::new_postgres(&postgres).await
        } else {
            TestDatabase::new_sqlite()
        };
        let key = SecretKey::generate().to_base64().as_str().to_owned();
        let keys = Arc::new(KeyStore::fixed(Keyring::new(
            SecretKey::from_base64(&key, "bench").unwrap(),
            [],
        )));
        let store = TestStore::on(database, keys).await;
        freshtoken_worker::setup_queues(&store)
            .await
            .expect("queues");
        let tenant = store.tenants().create("Bench", "bench").await.unwrap().id;
        let now = Utc::now();
        let seeds = tokens
            .iter()
            .map(|(username, token, user_id)| SeedAccount {
                username: username.clone(),
                provider_user_id: user_id.clone(),
                token: token.clone(),
            })
            .collect();
        seed_due_accounts(
            &store,
            tenant,
            seeds,
            now - chrono::Duration::days(2),
            now + chrono::Duration::days(58),
            now,
        )
        .await
        .expect("seed");

        let started = Instant::now();
        let mut workers: Vec<Child> = (0..setup.processes)
            .map(|_| {
                Command::new(std::env::current_exe().unwrap())
                    .env(ROLE_VAR, "worker")
                    .env("BENCH_DATABASE_URL", &store.database.url)
                    .env("BENCH_KEY", &key)
                    .env("BENCH_FAKE_URL", fake.base_url())
                    .env("BENCH_CONCURRENCY", concurrency.to_string())
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("start a worker")
            })
            .collect();
        let deadline = started + Duration::from_secs(3600);
        let mut peak_kb = vec![0u64; workers.len()];
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            for (worker, peak) in workers.iter().zip(peak_kb.iter_mut()) {
                *peak = (*peak).max(memory_kb(worker.id(), "VmHWM:"));
            }
            let done = refreshed(&store).await;
            if done >= accounts as i64 || Instant::now() > deadline {
                break;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        for worker in &mut workers {
            let _ = worker.kill();
            let _ = worker.wait();
        }
        let done = refreshed(&store).await;
        let rate = done as f64 / seconds;
        let peaks: Vec<String> = peak_kb
            .iter()
            .map(|kb| format!("{:.0}", *kb as f64 / 1024.0))
            .collect();
        println!(
            "{:<32} {:>9} {:>10.1} {:>12.0} {:>9.0}% {:>16}",
            setup.label,
            done,
            seconds,
            rate,
            100.0 * rate / ceiling,
            peaks.join(" + ")
        );
    }
}

async fn refreshed(store: &Store) -> i64 {
    let connection = store.connection();
    connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT COUNT(*) FROM refresh_events WHERE outcome = 'refreshed'",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0)
}

/// Refreshes per second the fake answers with `concurrency` requests in flight, on tokens of
/// its own users (not the benchmark's).
async fn fake_capacity(fake: &FakeInstagram, concurrency: usize, duration: Duration) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|n| {
            let token = fake
                .mint_token(&format!("capacity_{n}"), Duration::from_secs(2 * 24 * 3600))
                .access_token;
            let url = format!(
                "{}/refresh_access_token?grant_type=ig_refresh_token&access_token={token}",
                fake.base_url()
            );
            let client = client.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while Instant::now() < until {
                    if let Ok(response) = client.get(&url).send().await
                        && response.status().is_success()
                        && response.bytes().await.is_ok()
                    {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
}
