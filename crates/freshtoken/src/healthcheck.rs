//! `freshtoken healthcheck`: asks the process serving at `--bind` whether it is ready
//! (`GET /readyz`), for container health checks where no HTTP client is installed.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Exits 0 when `/readyz` answers 200 within 5 seconds, 1 otherwise (saying why).
pub fn run(bind: &str) -> ExitCode {
    let Ok(mut address) = bind.trim().parse::<SocketAddr>() else {
        eprintln!("freshtoken healthcheck: FRESHTOKEN_BIND is not an address and port");
        return ExitCode::from(2);
    };
    // A process bound to every interface is reached on loopback.
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        });
    }
    let runtime = match crate::runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let answer = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), status_line(address)).await
    });
    match answer {
        Ok(Ok(line)) if line.split_whitespace().nth(1) == Some("200") => ExitCode::SUCCESS,
        Ok(Ok(line)) => {
            eprintln!("freshtoken healthcheck: {address}/readyz answered {line:?}");
            ExitCode::FAILURE
        }
        Ok(Err(err)) => {
            eprintln!("freshtoken healthcheck: cannot reach {address}: {err}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("freshtoken healthcheck: {address}/readyz did not answer within 5 s");
            ExitCode::FAILURE
        }
    }
}

/// The first line of the answer to `GET /readyz` (HTTP/1.0: the server closes when done).
async fn status_line(address: SocketAddr) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    stream.take(4096).read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}
