//! The webhook client against real HTTP servers on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use freshtoken_egress::{AllowedHosts, Refused, SendError, WebhookClient};

/// A server on 127.0.0.1 that answers `answer` to every request and counts them.
async fn sink(
    answer: impl Fn() -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (u16, Arc<Mutex<usize>>) {
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        let answer = answer.clone();
        async move {
            *counted.lock().unwrap() += 1;
            answer()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, calls)
}

fn ok() -> axum::response::Response {
    "ok".into_response()
}

fn client(allowed: &[&str]) -> WebhookClient {
    WebhookClient::new(
        AllowedHosts::parse(allowed.iter().copied()).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap()
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_on_connecting_and_nothing_is_sent() {
    let (port, calls) = sink(ok).await;
    let err = client(&[])
        .post(&format!("http://localhost:{port}/hook"), &[], "{}".into())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Refused(Refused::Resolves { host, .. }) if host == "localhost"),
        "{err:?}"
    );
    assert!(err.is_permanent());
    assert!(err.to_string().contains("loopback"), "{err}");
    assert_eq!(*calls.lock().unwrap(), 0);
}

#[tokio::test]
async fn literal_addresses_are_checked_before_sending() {
    let (port, calls) = sink(ok).await;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
    ] {
        let err = client(&[]).post(&url, &[], "{}".into()).await.unwrap_err();
        assert!(
            matches!(err, SendError::Refused(Refused::Address(_))),
            "{url}: {err:?}"
        );
    }
    assert_eq!(*calls.lock().unwrap(), 0);
}

#[tokio::test]
async fn an_allowed_host_is_reached_whatever_it_resolves_to() {
    let (port, calls) = sink(ok).await;
    let answer = client(&["localhost"])
        .post(
            &format!("http://localhost:{port}/hook"),
            &[("x-test", "1")],
            "{}".into(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(*calls.lock().unwrap(), 1);
}

#[tokio::test]
async fn redirects_are_answers_not_directions() {
    let (target, target_calls) = sink(ok).await;
    let elsewhere = format!("http://localhost:{target}/elsewhere");
    let (port, calls) =
        sink(move || (StatusCode::FOUND, [(header::LOCATION, elsewhere.clone())]).into_response())
            .await;
    let answer = client(&["localhost"])
        .post(&format!("http://localhost:{port}/hook"), &[], "{}".into())
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(*calls.lock().unwrap(), 1);
    assert_eq!(*target_calls.lock().unwrap(), 0);
}

#[tokio::test]
async fn only_the_start_of_a_long_answer_is_read() {
    let (port, _) = sink(|| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("database\n down {}", "x".repeat(1_000_000)),
        )
            .into_response()
    })
    .await;
    let answer = client(&["localhost"])
        .post(&format!("http://localhost:{port}/hook"), &[], "{}".into())
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        answer.excerpt.starts_with("database down xxx"),
        "{}",
        answer.excerpt
    );
    assert!(answer.excerpt.chars().count() <= 201, "{}", answer.excerpt);
}
