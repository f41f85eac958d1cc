//! A crowd of due accounts against the fake Instagram at 20 ms latency: refreshes per second on
//! SQLite and PostgreSQL, next to the fake's own capacity measured in the same run, with the
//! database round trips, the CPU time and the memory each refresh costs. See bench/README.md.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use fake_instagram::{FakeConfig, FakeInstagram};
use freshtoken_bench::{
    CLOCK_TICKS_PER_SECOND, FrontendStream, Tally, cpu_ticks, cpu_ticks_of_processes_named,
    cpu_ticks_since, env_or, memory_kb, statement_kind,
};
use freshtoken_core::AccessToken;
use freshtoken_meta::MetaClients;
use freshtoken_store::testing::{SeedAccount, TestDatabase, TestStore, seed_due_accounts};
use freshtoken_store::{ConnectSettings, KeyStore, Keyring, SecretKey, Store};
use freshtoken_worker::{Clock, Engine, Metrics, WorkerConfig};
use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::{ConnectionTrait, Statement};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, span};

const LATENCY: Duration = Duration::from_millis(20);
const ROLE_VAR: &str = "FRESHTOKEN_BENCH_ROLE";
/// Set by the orchestrator for a worker on SQLite, where there is no wire to count round
/// trips on: the worker counts the statements it runs instead (see `StatementCounter`).
const COUNT_STATEMENTS_VAR: &str = "BENCH_COUNT_STATEMENTS";
/// `1` for the round trips (or SQLite's statements) by statement, after the table.
const DETAIL_VAR: &str = "BENCH_ROUND_TRIPS_DETAIL";

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

fn detail_asked() -> bool {
    env_or(DETAIL_VAR, "") == "1"
}

/// A worker process: the real engine on the database and fake the orchestrator names, until
/// the orchestrator closes its stdin.
async fn worker() {
    let statements = (env_or(COUNT_STATEMENTS_VAR, "") == "1").then(|| {
        let statements = Arc::new(Tally::new(detail_asked()));
        tracing::subscriber::set_global_default(StatementCounter(statements.clone()))
            .expect("the worker's only tracing subscriber");
        statements
    });
    exit_when_stdin_closes(statements.clone());
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
    if statements.is_some() {
        log_every_statement(&store).await;
    }
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

/// Ends this process when the orchestrator closes its stdin, after writing the statements it
/// counted, if it counted any, to stdout: `statements=<total>`, then with detail one
/// `<count>\t<kind>` line per kind of statement.
fn exit_when_stdin_closes(statements: Option<Arc<Tally>>) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        if let Some(statements) = statements {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "statements={}", statements.total());
            for (kind, count) in statements.by_kind() {
                let _ = writeln!(out, "{count}\t{kind}");
            }
            let _ = out.flush();
        }
        std::process::exit(0);
    });
}

/// Turns sqlx's statement log, which the store turns off, back on for the SQLite pool that
/// the store and the job queues share, so that `StatementCounter` sees every statement. The
/// pool applies its options to the connections it opens from now on: the ones already open
/// are closed, and reopened as needed.
async fn log_every_statement(store: &Store) {
    let pool = store.connection().get_sqlite_connection_pool();
    // sqlx takes the `log` crate's level, which nothing here depends on; it parses from text.
    let level = || "debug".parse().expect("a log level");
    let options = (*pool.connect_options())
        .clone()
        .log_statements(level())
        // A slow statement is logged at its own level: the same, so that each is seen once.
        .log_slow_statements(level(), Duration::MAX);
    pool.set_connect_options(options);
    while let Some(connection) = pool.try_acquire() {
        let _ = connection.close().await;
    }
}

/// Counts the statements sqlx runs in this process, from its statement log: one event per
/// statement, under the target `sqlx::query`. Every other event and span is left disabled.
///
/// SQLite runs inside the worker, so it has no round trips to count, and nothing outside
/// the process sees its statements; this is the one view of them that needs no change to
/// the product (SQLite's own tracing hook would take unsafe FFI, which the workspace
/// forbids). It counts every statement the store and the job queues run through sqlx, but
/// not the BEGIN, COMMIT and ROLLBACK of sqlx's transactions, which it runs without logging.
/// Logging costs the worker a little CPU per statement: two small strings and the event.
struct StatementCounter(Arc<Tally>);

const SQLX_STATEMENT_LOG: &str = "sqlx::query";

impl tracing::Subscriber for StatementCounter {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == SQLX_STATEMENT_LOG
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        self.0.count_kind(|| {
            let mut sql = LoggedSql::default();
            event.record(&mut sql);
            statement_kind(if sql.statement.is_empty() {
                &sql.summary
            } else {
                &sql.statement
            })
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// The SQL in a sqlx statement log event: the first words in `summary`, and all of it in
/// `db.statement` unless the first words are all of it.
#[derive(Default)]
struct LoggedSql {
    summary: String,
    statement: String,
}

impl Visit for LoggedSql {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

/// A TCP proxy between the workers and PostgreSQL that counts the round trips of every
/// connection through it (see `FrontendStream`), the job queue's as well as the store's.
/// It reads only the headers of what the workers send, and copies the server's answers
/// untouched, in large buffers.
struct CountingProxy {
    /// The database's URL through the proxy.
    url: String,
    round_trips: Arc<Tally>,
    saw_tls: Arc<AtomicBool>,
    /// Dropped with the proxy, which then stops.
    _stop: tokio::sync::oneshot::Sender<()>,
}

const PROXY_BUFFER: usize = 64 * 1024;

impl CountingProxy {
    fn start(database_url: &str, detail: bool) -> CountingProxy {
        let mut url = url::Url::parse(database_url).expect("the database URL is a URL");
        let server = format!(
            "{}:{}",
            url.host_str().expect("PostgreSQL is reached over TCP"),
            url.port().unwrap_or(5432)
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the proxy listens");
        listener
            .set_nonblocking(true)
            .expect("the proxy's socket is non-blocking");
        let port = listener.local_addr().expect("the proxy's address").port();
        url.set_host(Some("127.0.0.1")).expect("an IP host");
        url.set_port(Some(port)).expect("a port");
        let round_trips = Arc::new(Tally::new(detail));
        let saw_tls = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // A thread of its own with a single-threaded runtime: each message crosses the proxy
        // without waking another thread, which costs more CPU than the copy itself.
        std::thread::spawn({
            let (round_trips, saw_tls) = (round_trips.clone(), saw_tls.clone());
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                    .expect("the proxy's runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("the proxy's listener");
                    let accepting = async {
                        while let Ok((client, _)) = listener.accept().await {
                            let (server, round_trips, saw_tls) =
                                (server.clone(), round_trips.clone(), saw_tls.clone());
                            tokio::spawn(async move {
                                if let Ok(server) = TcpStream::connect(&server).await {
                                    relay(client, server, &round_trips, &saw_tls).await;
                                }
                            });
                        }
                    };
                    tokio::select! {
                        () = accepting => {}
                        _ = stopped => {}
                    }
                });
            }
        });
        CountingProxy {
            url: url.to_string(),
            round_trips,
            saw_tls,
            _stop: stop,
        }
    }

    /// The round trips so far, unless a worker went on in TLS, where they cannot be read.
    fn round_trips(&self) -> Option<u64> {
        (!self.saw_tls.load(Ordering::Relaxed)).then(|| self.round_trips.total())
    }
}

/// Copies one connection both ways until the worker closes it, reading what the worker sends.
async fn relay(client: TcpStream, server: TcpStream, round_trips: &Tally, saw_tls: &AtomicBool) {
    // Small messages go out at once, without Nagle's wait, as sqlx and PostgreSQL send them.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut from_client, mut to_client) = client.into_split();
    let (from_server, mut to_server) = server.into_split();
    let answers = tokio::spawn(async move {
        let mut from_server = BufReader::with_capacity(PROXY_BUFFER, from_server);
        let _ = tokio::io::copy_buf(&mut from_server, &mut to_client).await;
    });
    let mut stream = FrontendStream::default();
    let mut buffer = vec![0; PROXY_BUFFER];
    while let Ok(read) = from_client.read(&mut buffer).await
        && read > 0
    {
        stream.feed(&buffer[..read], round_trips);
        if stream.is_encrypted() {
            saw_tls.store(true, Ordering::Relaxed);
        }
        if to_server.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to_server.shutdown().await;
    let _ = answers.await;
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

/// What one setup measured.
struct Measured {
    setup: &'static Setup,
    refreshed: u64,
    seconds: f64,
    peak_kb: Vec<u64>,
    /// Round trips to PostgreSQL, or statements run on SQLite; `None` when not counted.
    round_trips: Option<u64>,
    /// With detail: the same by kind of statement, the largest first.
    round_trips_by_kind: Vec<(String, u64)>,
    worker_cpu_ticks: u64,
    /// PostgreSQL's processes' CPU time; `None` on SQLite, which runs inside the worker.
    database_cpu_ticks: Option<u64>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.refreshed as f64 / self.seconds
    }

    fn per_refresh(&self, count: u64) -> f64 {
        count as f64 / self.refreshed.max(1) as f64
    }

    /// Round trips per refresh with one decimal, none when whole; `-` when not counted.
    fn round_trips_text(&self) -> String {
        match self.round_trips {
            Some(count) => {
                let tenths = (self.per_refresh(count) * 10.0).round();
                if tenths % 10.0 == 0.0 {
                    format!("{:.0}", tenths / 10.0)
                } else {
                    format!("{:.1}", tenths / 10.0)
                }
            }
            None => "-".to_owned(),
        }
    }

    /// CPU time per refresh in milliseconds, two decimals; `-` when not measured.
    fn cpu_ms_text(&self, ticks: Option<u64>) -> String {
        match ticks {
            Some(ticks) => format!(
                "{:.2}",
                self.per_refresh(ticks * 1000) / CLOCK_TICKS_PER_SECOND as f64
            ),
            None => "-".to_owned(),
        }
    }

    fn peak_mb(&self) -> Vec<u64> {
        self.peak_kb
            .iter()
            .map(|kb| (*kb as f64 / 1024.0).round() as u64)
            .collect()
    }
}

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
    let detail = detail_asked();
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
        "{:<32} {:>9} {:>8} {:>12} {:>8} {:>14} {:>13} {:>13} {:>13}",
        "setup",
        "accounts",
        "seconds",
        "refreshes/s",
        "of fake",
        "peak RSS (MB)",
        "DB trips",
        "worker CPU",
        "DB CPU"
    );
    println!(
        "{:<32} {:>9} {:>8} {:>12} {:>8} {:>14} {:>13} {:>13} {:>13}",
        "", "", "", "", "", "", "per refresh", "ms/refresh", "ms/refresh"
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

    let mut results = Vec::new();
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
        if setup.postgres {
            // A database that has served for a while has planner statistics (autovacuum gathers
            // them soon after a bulk import); one seeded a second ago has none, and its plans
            // would walk whole indexes for a few minutes. The former is what operators run.
            store
                .connection()
                .execute_unprepared("ANALYZE")
                .await
                .expect("ANALYZE");
        }

        // The workers reach PostgreSQL through the proxy; this process's own queries (the
        // count of refreshes below) go straight to it and are not counted as round trips,
        // though the server's CPU for them is in its figure.
        let proxy = if setup.postgres {
            Some(CountingProxy::start(&store.database.url, detail))
        } else {
            None
        };
        let worker_database_url = proxy
            .as_ref()
            .map_or(store.database.url.clone(), |proxy| proxy.url.clone());
        let database_cpu_before = setup
            .postgres
            .then(|| cpu_ticks_of_processes_named("postgres"));
        let started = Instant::now();
        let workers: Vec<WorkerProcess> = (0..setup.processes)
            .map(|_| {
                let mut child = Command::new(std::env::current_exe().unwrap())
                    .env(ROLE_VAR, "worker")
                    .env("BENCH_DATABASE_URL", &worker_database_url)
                    .env("BENCH_KEY", &key)
                    .env("BENCH_FAKE_URL", fake.base_url())
                    .env("BENCH_CONCURRENCY", concurrency.to_string())
                    .env(COUNT_STATEMENTS_VAR, if setup.postgres { "" } else { "1" })
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("start a worker");
                let mut stdout = child.stdout.take().expect("the worker's stdout");
                let output = std::thread::spawn(move || {
                    let mut output = String::new();
                    let _ = stdout.read_to_string(&mut output);
                    output
                });
                WorkerProcess { child, output }
            })
            .collect();
        let deadline = started + Duration::from_secs(3600);
        let mut peak_kb = vec![0u64; workers.len()];
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            for (worker, peak) in workers.iter().zip(peak_kb.iter_mut()) {
                *peak = (*peak).max(memory_kb(worker.child.id(), "VmHWM:"));
            }
            let done = refreshed(&store).await;
            if done >= accounts as i64 || Instant::now() > deadline {
                break;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let worker_cpu_ticks = workers
            .iter()
            .filter_map(|worker| cpu_ticks(worker.child.id()))
            .sum();
        let database_cpu_ticks = database_cpu_before
            .map(|before| cpu_ticks_since(&before, &cpu_ticks_of_processes_named("postgres")));
        let statements = stop(workers);
        let (round_trips, round_trips_by_kind) = match &proxy {
            Some(proxy) => (proxy.round_trips(), proxy.round_trips.by_kind()),
            None => statements,
        };
        drop(proxy);
        let measured = Measured {
            setup,
            refreshed: refreshed(&store).await.max(0) as u64,
            seconds,
            peak_kb,
            round_trips,
            round_trips_by_kind,
            worker_cpu_ticks,
            database_cpu_ticks,
        };
        let peaks: Vec<String> = measured.peak_mb().iter().map(u64::to_string).collect();
        println!(
            "{:<32} {:>9} {:>8.1} {:>12.0} {:>7.0}% {:>14} {:>13} {:>13} {:>13}",
            setup.label,
            measured.refreshed,
            seconds,
            measured.per_second(),
            100.0 * measured.per_second() / ceiling,
            peaks.join(" + "),
            measured.round_trips_text(),
            measured.cpu_ms_text(Some(worker_cpu_ticks)),
            measured.cpu_ms_text(database_cpu_ticks),
        );
        results.push(measured);
    }

    if results.iter().any(|m| !m.setup.postgres) {
        println!(
            "SQLite runs inside the worker: its DB trips are the statements it runs (not BEGIN, COMMIT, ROLLBACK), its CPU is the worker's."
        );
    }
    for measured in results.iter().filter(|m| detail && m.round_trips.is_some()) {
        println!();
        println!(
            "{} per refresh by statement, {}:",
            if measured.setup.postgres {
                "round trips"
            } else {
                "statements"
            },
            measured.setup.label
        );
        for (kind, count) in &measured.round_trips_by_kind {
            println!("{:>10.3} {count:>10}  {kind}", measured.per_refresh(*count));
        }
    }
    println!();
    for measured in &results {
        println!(
            "refresh setup={} accounts={} per_sec={:.0} round_trips={} peak_rss_mb={} cpu_ms={} db_cpu_ms={}",
            measured.setup.name,
            measured.refreshed,
            measured.per_second(),
            measured.round_trips_text(),
            measured.peak_mb().into_iter().max().unwrap_or(0),
            measured.cpu_ms_text(Some(measured.worker_cpu_ticks)),
            measured.cpu_ms_text(measured.database_cpu_ticks),
        );
    }
}

/// A worker process, and what it writes to stdout, read as it comes so that the pipe never
/// fills and holds the worker up.
struct WorkerProcess {
    child: Child,
    output: std::thread::JoinHandle<String>,
}

/// Stops the workers (each ends when its stdin closes) and adds up the statements they
/// counted: the total, `None` when none counted, and with detail the same by kind.
fn stop(workers: Vec<WorkerProcess>) -> (Option<u64>, Vec<(String, u64)>) {
    let mut outputs = Vec::new();
    for mut worker in workers {
        drop(worker.child.stdin.take());
        outputs.push((worker.child, worker.output));
    }
    let mut total = None;
    let mut by_kind: HashMap<String, u64> = HashMap::new();
    for (mut child, output) in outputs {
        let output = output.join().unwrap_or_default();
        let _ = child.wait();
        for line in output.lines() {
            if let Some(count) = line.strip_prefix("statements=") {
                *total.get_or_insert(0) += count.parse::<u64>().unwrap_or(0);
            } else if let Some((count, kind)) = line.split_once('\t')
                && let Ok(count) = count.parse::<u64>()
            {
                *by_kind.entry(kind.to_owned()).or_default() += count;
            }
        }
    }
    let mut by_kind: Vec<(String, u64)> = by_kind.into_iter().collect();
    by_kind.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (total, by_kind)
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
