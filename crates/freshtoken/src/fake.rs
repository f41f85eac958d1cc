//! `freshtoken fake-instagram`: the fake Instagram as a process of its own, so a person can try
//! freshtoken without a Meta app and benchmarks have an Instagram to call.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use fake_instagram::{DEMO_USERS, FakeConfig};

use crate::cli::FakeArgs;
use crate::logging;

pub fn run(args: &FakeArgs) -> ExitCode {
    let latency_ms = args.latency_ms;
    if let Err(err) = logging::init(args.logs.log_format, &args.logs.log) {
        eprintln!("freshtoken: {err}");
        return ExitCode::from(2);
    }
    let Ok(bind) = args.bind.trim().parse::<SocketAddr>() else {
        eprintln!(
            "freshtoken: invalid configuration: FRESHTOKEN_BIND (--bind): expected an address and port such as 127.0.0.1:9090, got {:?}",
            args.bind
        );
        return ExitCode::from(2);
    };
    let runtime = match crate::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let config = FakeConfig {
        latency: Duration::from_millis(latency_ms),
        seed_demo_users: true,
        ..FakeConfig::default()
    };
    let result = runtime.block_on(async {
        // Before the address is printed: whoever reads it may stop us at once.
        let stop_requested = crate::server::shutdown_signal();
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let address = listener.local_addr()?;
        println!(
            "fake Instagram at http://{address} (app id {}, app secret {}; demo users {}; latency {latency_ms} ms)",
            config.app_id,
            config.app_secret,
            DEMO_USERS.join(", ")
        );
        fake_instagram::serve(listener, config, stop_requested).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("freshtoken: fake Instagram stopped: {err}");
            ExitCode::FAILURE
        }
    }
}
