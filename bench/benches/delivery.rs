//! The token URLs under `wrk`, beside nginx serving a static file of the same size, in the same
//! run on loopback: requests per second, p50 and p99 for both, their ratio, and the web
//! process's memory. See bench/README.md (`bench/delivery.sh` installs wrk and nginx).
//!
//! It ends with one line per account count for scripts to read:
//! `delivery accounts=N ratio=R p99_ms=P nginx_p99_ms=Q rss_mb=M hit_ratio=H req_s=… nginx_req_s=…`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use freshtoken_bench::{env_or, memory_kb};
use freshtoken_core::AccessToken;
use freshtoken_store::testing::{SeedAccount, seed_due_accounts};
use freshtoken_store::{KeyStore, Keyring, SecretKey, Store};
use sea_orm::{ConnectionTrait, Statement};

const ROLE_VAR: &str = "FRESHTOKEN_BENCH_ROLE";
/// What a browser on a tenant's site sends.
const ORIGIN: &str = "https://shop.example";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var(ROLE_VAR).is_ok_and(|role| role == "web") {
        runtime.block_on(web());
    } else if std::env::args().any(|arg| arg == "--bench") {
        runtime.block_on(orchestrate());
    }
    // `cargo test` runs bench targets without `--bench`: nothing to do then.
}

/// The web process: `freshtoken web` itself, configured as an operator would, from the
/// environment the orchestrator sets.
async fn web() {
    use clap::Parser;
    let cli = freshtoken::cli::Cli::parse_from(["freshtoken"]);
    let config = freshtoken::config::Config::from_settings(&cli.settings).expect("configuration");
    freshtoken::server::run(config, freshtoken::server::Mode::Web)
        .await
        .expect("the web process runs");
}

/// One wrk run's figures.
struct Figures {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
}

async fn orchestrate() {
    for tool in ["wrk", "nginx"] {
        if Command::new(tool).arg("-v").output().is_err() {
            eprintln!("{tool} is missing: run bench/delivery.sh, which installs wrk and nginx");
            std::process::exit(1);
        }
    }
    let sizes: Vec<usize> = env_or("BENCH_ACCOUNTS", "1,100000")
        .split(',')
        .map(|n| n.trim().parse().expect("BENCH_ACCOUNTS: numbers"))
        .collect();
    let connections = env_or("BENCH_CONNECTIONS", "64");
    let seconds = env_or("BENCH_SECONDS", "10");
    println!(
        "token.json under wrk ({connections} connections, {seconds} s, 2 threads) beside nginx serving a static file of the same size\n"
    );
    println!(
        "{:<34} {:>10} {:>8} {:>8} {:>7} {:>9} {:>9}",
        "setup", "req/s", "p50 ms", "p99 ms", "ratio", "RSS MB", "peak MB"
    );
    let mut summaries = Vec::new();
    for accounts in sizes {
        summaries.push(run_setup(accounts, &connections, &seconds).await);
    }
    // Last, one line per setup, for scripts.
    println!();
    for summary in summaries {
        println!("{summary}");
    }
}

/// Runs one setup; returns its summary line.
async fn run_setup(accounts: usize, connections: &str, seconds: &str) -> String {
    let work = tempfile::tempdir().expect("temporary directory");
    // nginx's workers run as another user: they must be able to read the file.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let key = SecretKey::generate().to_base64().as_str().to_owned();
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        work.path().join("freshtoken.db").display()
    );
    let public_ids = seed(&database_url, &key, accounts).await;

    let port = free_port();
    let metrics_port = free_port();
    let mut web = Command::new(std::env::current_exe().unwrap())
        .env(ROLE_VAR, "web")
        .env("FRESHTOKEN_DATABASE_URL", &database_url)
        .env("FRESHTOKEN_SECRET_KEY", &key)
        .env("FRESHTOKEN_DATA_DIR", work.path())
        .env("FRESHTOKEN_BIND", format!("127.0.0.1:{port}"))
        .env("FRESHTOKEN_LOG", "warn")
        // The cache's hits and misses are read there, before and after the run.
        .env(
            "FRESHTOKEN_METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        )
        // The limits stay on (their cost is part of the answer) but out of the way of one
        // client address sending everything.
        .env("FRESHTOKEN_RATE_LIMIT_PER_ADDRESS", "1000000000")
        .env("FRESHTOKEN_RATE_LIMIT_PER_ACCOUNT", "1000000000")
        .env(
            "FRESHTOKEN_REQUEST_COUNTS_INTERVAL",
            env_or("BENCH_COUNTS_INTERVAL", "30s"),
        )
        // An allocator to try on the web process alone (e.g. Debian's libjemalloc2 or
        // libmimalloc), leaving wrk and nginx as they are.
        .envs(
            std::env::var("BENCH_WEB_PRELOAD")
                .ok()
                .filter(|path| !path.is_empty())
                .map(|path| ("LD_PRELOAD", path)),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the web process");
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/healthz")).await;

    let client = reqwest::Client::new();
    assert_locked(&client, &base, &public_ids[0]).await;
    // Every account once (up to BENCH_WARM, 150,000 by default: what the cache holds by
    // default), so that all are in memory, as on a busy instance.
    let warm_count = env_or("BENCH_WARM", "150000")
        .parse::<usize>()
        .expect("BENCH_WARM: a number")
        .min(accounts);
    let first = warm(&client, &base, &public_ids[..warm_count.max(1)]).await;
    let body_size = first.len();
    let idle_rss = memory_kb(web.id(), "VmRSS:");
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let before = cache_counts(&client, &metrics_url).await;

    let ids_file = work.path().join("ids.txt");
    std::fs::write(&ids_file, public_ids.join("\n")).expect("write ids");
    let script = wrk_script(work.path(), &ids_file, accounts);

    let profile = std::env::var_os("BENCH_PROFILE_DIR").map(PathBuf::from);
    let perf = profile
        .as_deref()
        .map(|dir| start_perf(dir, web.id(), accounts));
    let web_cpu_before = cpu_seconds(web.id());
    let ours = wrk(
        &format!("{base}/t/{}/token.json", public_ids[0]),
        script.as_deref(),
        connections,
        seconds,
    );
    let web_cpu = cpu_seconds(web.id()) - web_cpu_before;
    if let Some(perf) = perf {
        stop_perf(perf);
    }
    let rss = memory_kb(web.id(), "VmRSS:");
    let peak = memory_kb(web.id(), "VmHWM:");
    let after = cache_counts(&client, &metrics_url).await;
    if let Some(dir) = &profile {
        for file in ["smaps_rollup", "status"] {
            let _ = std::fs::copy(
                format!("/proc/{}/{file}", web.id()),
                dir.join(format!("{file}-{accounts}.txt")),
            );
        }
    }
    let _ = web.kill();
    let _ = web.wait();

    let nginx_port = free_port();
    let mut nginx = start_nginx(work.path(), nginx_port, &first);
    wait_for(&format!("http://127.0.0.1:{nginx_port}/t/x/token.json")).await;
    let nginx_cpu_before = children_cpu_seconds(nginx.id());
    let theirs = wrk(
        &format!(
            "http://127.0.0.1:{nginx_port}/t/{}/token.json",
            public_ids[0]
        ),
        script.as_deref(),
        connections,
        seconds,
    );
    let nginx_cpu = children_cpu_seconds(nginx.id()) - nginx_cpu_before;
    // SIGTERM, not SIGKILL: the master then stops its workers, which SIGKILL would orphan
    // (still holding their port and memory).
    let _ = Command::new("kill")
        .args(["-TERM", &nginx.id().to_string()])
        .status();
    let _ = nginx.wait();

    let label = format!("{accounts} account(s), {body_size} B body");
    println!(
        "{:<34} {:>10.0} {:>8.2} {:>8.2} {:>7.2} {:>9.1} {:>9.1}",
        format!("freshtoken, {label}"),
        ours.requests_per_sec,
        ours.p50_ms,
        ours.p99_ms,
        ours.requests_per_sec / theirs.requests_per_sec,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
    println!(
        "{:<34} {:>10.0} {:>8.2} {:>8.2} {:>7} {:>9} {:>9}",
        "nginx, the same body as a file",
        theirs.requests_per_sec,
        theirs.p50_ms,
        theirs.p99_ms,
        "1.00",
        "",
        ""
    );
    println!(
        "{:<34} {:>10} {:>8} {:>8} {:>7} {:>9.1}",
        "  (freshtoken idle after warm-up)",
        "",
        "",
        "",
        "",
        idle_rss as f64 / 1024.0
    );
    if ours.non_2xx + theirs.non_2xx > 0 {
        println!(
            "  non-2xx answers: freshtoken {}, nginx {} (the figures above are not comparable)",
            ours.non_2xx, theirs.non_2xx
        );
    }
    let hits = after.0.saturating_sub(before.0);
    let misses = after.1.saturating_sub(before.1);
    let hit_ratio = if hits + misses == 0 {
        f64::NAN
    } else {
        hits as f64 / (hits + misses) as f64
    };
    // CPU time per answer: what other builds on the machine move least.
    let run_seconds: f64 = seconds.parse().unwrap_or(f64::NAN);
    let cpu_us = |cpu: f64, figures: &Figures| cpu * 1e6 / (figures.requests_per_sec * run_seconds);
    format!(
        "delivery accounts={accounts} ratio={:.2} p99_ms={:.2} nginx_p99_ms={:.2} rss_mb={:.1} hit_ratio={hit_ratio:.3} req_s={:.0} nginx_req_s={:.0} cpu_us_per_req={:.1} nginx_cpu_us_per_req={:.1} p50_ms={:.2} nginx_p50_ms={:.2} peak_mb={:.1} idle_mb={:.1} non_2xx={}",
        ours.requests_per_sec / theirs.requests_per_sec,
        ours.p99_ms,
        theirs.p99_ms,
        rss as f64 / 1024.0,
        ours.requests_per_sec,
        theirs.requests_per_sec,
        cpu_us(web_cpu, &ours),
        cpu_us(nginx_cpu, &theirs),
        ours.p50_ms,
        theirs.p50_ms,
        peak as f64 / 1024.0,
        idle_rss as f64 / 1024.0,
        ours.non_2xx + theirs.non_2xx,
    )
}

/// The benchmark measures the locked path (an account a site's page loads, not a public one,
/// no API key): without an `Origin`, or with another site's, the token is refused.
async fn assert_locked(client: &reqwest::Client, base: &str, public_id: &str) {
    let url = format!("{base}/t/{public_id}/token.json");
    let headerless = client.get(&url).send().await.expect("request");
    let elsewhere = client
        .get(&url)
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .expect("request");
    let allowed = client
        .get(&url)
        .header("origin", ORIGIN)
        .send()
        .await
        .expect("request");
    assert_eq!(headerless.status(), 403, "the account must not be public");
    assert_eq!(elsewhere.status(), 403, "the account must be locked");
    assert!(allowed.status().is_success(), "{ORIGIN} must be allowed");
}

/// The CPU time (user and system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The fields after the command's closing parenthesis: utime and stime are the
            // 12th and 13th of them, in clock ticks (100 a second on Linux).
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// The CPU time of a process's live children (nginx's workers), in seconds.
fn children_cpu_seconds(parent: u32) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    stat.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(parent)
        })
        .map(cpu_seconds)
        .sum()
}

/// The web process's cache hits and misses so far, from its `/metrics`.
async fn cache_counts(client: &reqwest::Client, metrics_url: &str) -> (u64, u64) {
    let text = client
        .get(metrics_url)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics");
    let value = |name: &str| {
        text.lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|n| n.parse::<f64>().ok())
            .map_or(0, |n| n as u64)
    };
    (
        value("freshtoken_delivery_cache_hits_total"),
        value("freshtoken_delivery_cache_misses_total"),
    )
}

/// `perf record -g` on the web process for the length of the run (BENCH_PROFILE_DIR), into
/// `perf-{accounts}.data` there; read it with `perf report -i ... --no-children --stdio`.
fn start_perf(dir: &Path, pid: u32, accounts: usize) -> Child {
    std::fs::create_dir_all(dir).expect("BENCH_PROFILE_DIR");
    Command::new("perf")
        .args(["record", "-g", "-F", "999", "-p", &pid.to_string(), "-o"])
        .arg(dir.join(format!("perf-{accounts}.data")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("perf is installed (linux-perf)")
}

fn stop_perf(mut perf: Child) {
    // perf writes its file on SIGINT.
    let _ = Command::new("kill")
        .args(["-INT", &perf.id().to_string()])
        .status();
    let _ = perf.wait();
}

/// Creates `accounts` accounts with realistic tokens (about 180 characters), locked to the
/// origin the benchmark sends (as a real site's account is: the lock is closed by default);
/// returns their public ids.
async fn seed(database_url: &str, key: &str, accounts: usize) -> Vec<String> {
    let keyring = Keyring::new(SecretKey::from_base64(key, "key").unwrap(), []);
    let store = Store::connect(
        database_url,
        Arc::new(KeyStore::fixed(keyring)),
        &Default::default(),
    )
    .await
    .expect("database");
    store.migrate().await.expect("migrate");
    let tenant = store.tenants().create("Bench", "bench").await.unwrap().id;
    let now = Utc::now();
    let seeds = (0..accounts)
        .map(|n| SeedAccount {
            username: format!("shop{n}"),
            provider_user_id: format!("{}", 17_841_400_000_000_000u64 + n as u64),
            token: AccessToken::new(format!("IGAA{n:0>12}{}", "x7Kq2".repeat(34))),
        })
        .collect();
    seed_due_accounts(
        &store,
        tenant,
        seeds,
        now,
        now + chrono::Duration::days(60),
        now + chrono::Duration::days(30),
    )
    .await
    .expect("seed");
    let connection = store.connection();
    connection
        .execute_raw(Statement::from_string(
            connection.get_database_backend(),
            format!("UPDATE accounts SET allowed_origins = '[\"{ORIGIN}\"]'"),
        ))
        .await
        .expect("lock the accounts to the benchmark's origin");
    connection
        .query_all_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT public_id FROM accounts ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "public_id").unwrap())
        .collect()
}

/// Loads every account's token once, 32 at a time; returns the first body.
async fn warm(client: &reqwest::Client, base: &str, public_ids: &[String]) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(public_ids.to_vec());
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (client, base, next, ids) =
                (client.clone(), base.to_owned(), next.clone(), ids.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(id) = ids.get(n) else { break };
                    let answer = client
                        .get(format!("{base}/t/{id}/token.json"))
                        .header("origin", ORIGIN)
                        .send()
                        .await
                        .expect("request");
                    assert!(answer.status().is_success(), "warm-up: {}", answer.status());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    client
        .get(format!("{base}/t/{}/token.json", public_ids[0]))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// With more than one account, a Lua script that asks for a random one on every request (the
/// same script drives nginx, which maps every path to its one file).
fn wrk_script(dir: &Path, ids_file: &Path, accounts: usize) -> Option<PathBuf> {
    if accounts < 2 {
        return None;
    }
    let path = dir.join("random.lua");
    let script = format!(
        r#"local ids = {{}}
for line in io.lines("{}") do ids[#ids + 1] = line end
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  return wrk.format("GET", "/t/" .. ids[math.random(#ids)] .. "/token.json")
end
"#,
        ids_file.display()
    );
    std::fs::File::create(&path)
        .and_then(|mut file| file.write_all(script.as_bytes()))
        .expect("write the wrk script");
    Some(path)
}

fn wrk(url: &str, script: Option<&Path>, connections: &str, seconds: &str) -> Figures {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        "-c",
        connections,
        "-d",
        &format!("{seconds}s"),
        "--latency",
    ]);
    command.args(["-H", &format!("Origin: {ORIGIN}")]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.split_whitespace().nth(1).map(str::to_owned))
            .unwrap_or_else(|| panic!("wrk printed no {prefix:?}:\n{text}"))
    };
    let non_2xx = text
        .lines()
        .find(|line| line.trim().starts_with("Non-2xx"))
        .and_then(|line| line.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Figures {
        requests_per_sec: field("Requests/sec:").parse().unwrap(),
        p50_ms: millis(&field("50%")),
        p99_ms: millis(&field("99%")),
        non_2xx,
    }
}

/// wrk's latencies (`812.00us`, `1.20ms`, `2.01s`) in milliseconds.
fn millis(text: &str) -> f64 {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().unwrap_or(f64::NAN) * factor
}

/// nginx with as many workers as cores, no access log, answering every `/t/...` path with one
/// static file holding `body`.
fn start_nginx(dir: &Path, port: u16, body: &str) -> Child {
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("token.json"), body).unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            r#"worker_processes auto;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /t/ {{ rewrite ^ /token.json break; }}
    }}
}}
"#,
            dir = dir.display(),
            root = root.display(),
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    Command::new("nginx")
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx")
}

async fn wait_for(url: &str) {
    for _ in 0..200 {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not come up");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
