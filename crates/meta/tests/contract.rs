//! The client against the fake Instagram, over real HTTP: every call, every failure class.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_instagram::{FakeConfig, FakeInstagram, FaultKind, FaultMatch, MintKind, RateLimits};
use freshtoken_meta::{
    AccessToken, AppConfig, FacebookClient, InstagramClient, MetaError, ThreadsClient,
};
use url::Url;

const REDIRECT: &str = "https://freshtoken.test/connect/instagram/callback";
const DAY: Duration = Duration::from_secs(24 * 3600);

async fn setup() -> (FakeInstagram, InstagramClient) {
    let fake = FakeInstagram::start(FakeConfig::default()).await.unwrap();
    let client = client_for(&fake, Duration::from_secs(10));
    (fake, client)
}

fn client_for(fake: &FakeInstagram, timeout: Duration) -> InstagramClient {
    let base = Url::parse(fake.base_url()).unwrap();
    let config = AppConfig {
        timeout,
        ..AppConfig::instagram()
            .app(fake.app_id(), fake.app_secret(), REDIRECT)
            .at(&base)
    };
    InstagramClient::new(config).unwrap()
}

fn threads_for(fake: &FakeInstagram) -> ThreadsClient {
    let base = Url::parse(fake.base_url()).unwrap();
    let config = AppConfig::threads()
        .app(fake.app_id(), fake.app_secret(), REDIRECT)
        .at(&base);
    ThreadsClient::new(config).unwrap()
}

fn facebook_for(fake: &FakeInstagram) -> FacebookClient {
    let base = Url::parse(fake.base_url()).unwrap();
    let config = AppConfig::facebook()
        .app(fake.app_id(), fake.app_secret(), REDIRECT)
        .at(&base);
    FacebookClient::new(config).unwrap()
}

/// Follows the authorize URL as a browser would, with the fake approving as `username`.
async fn authorize(
    fake: &FakeInstagram,
    client: &InstagramClient,
    username: &str,
    state: &str,
) -> Url {
    follow(fake, client.authorize_url(state).unwrap(), username).await
}

/// Follows a login URL as a browser would, the fake approving as `username`; returns where
/// the platform sends the browser back.
async fn follow(fake: &FakeInstagram, url: Url, username: &str) -> Url {
    fake.set_auto_approve(Some(username));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn the_whole_login_flow_yields_a_long_lived_token_and_a_profile() {
    let (fake, client) = setup().await;
    let authorize_url = client.authorize_url("state-123").unwrap();
    assert_eq!(
        param(&authorize_url, "client_id").as_deref(),
        Some(fake.app_id())
    );
    assert_eq!(
        param(&authorize_url, "redirect_uri").as_deref(),
        Some(REDIRECT)
    );
    assert_eq!(
        param(&authorize_url, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        param(&authorize_url, "scope").as_deref(),
        Some("instagram_business_basic")
    );

    let callback = authorize(&fake, &client, "ada_shop", "state-123").await;
    assert!(callback.as_str().starts_with(REDIRECT));
    assert_eq!(param(&callback, "state").as_deref(), Some("state-123"));
    assert_eq!(callback.fragment(), Some("_"));
    // A pasted callback URL may carry the `#_` into the code: it must still work.
    let code = format!("{}#_", param(&callback, "code").unwrap());

    let short = client.exchange_code(&code).await.unwrap();
    assert_eq!(
        short.user_id,
        fake.user_id("ada_shop").to_string(),
        "ids above 2^53 survive exactly"
    );
    assert!(fake.user_id("ada_shop") > 1 << 53);
    assert_eq!(short.permissions, ["instagram_business_basic"]);

    let long = client.exchange_for_long_lived(&short.token).await.unwrap();
    assert_eq!(long.expires_in, Duration::from_secs(5_183_944));
    let profile = client.me(&long.token).await.unwrap();
    assert_eq!(profile.username, "ada_shop");
    assert_eq!(profile.id, short.user_id);
    assert!(profile.user_id.unwrap().starts_with("1784"));
    assert_eq!(profile.account_type.as_deref(), Some("BUSINESS"));
}

#[tokio::test]
async fn codes_work_once_and_only_with_their_redirect_uri() {
    let (fake, client) = setup().await;
    let callback = authorize(&fake, &client, "ada", "s").await;
    let code = param(&callback, "code").unwrap();
    client.exchange_code(&code).await.unwrap();
    let replay = client.exchange_code(&code).await.unwrap_err();
    assert!(
        matches!(&replay, MetaError::Rejected { code: 400, message } if message.contains("already used")),
        "{replay:?}"
    );

    let other_code = fake.issue_code("ada", "https://elsewhere.test/cb");
    let err = client.exchange_code(&other_code).await.unwrap_err();
    assert!(
        matches!(err, MetaError::Rejected { code: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_documented_code_exchange_shape_is_understood_too() {
    let (fake, client) = setup().await;
    fake.set_documented_code_shape(true);
    let code = fake.issue_code("ada", REDIRECT);
    let short = client.exchange_code(&code).await.unwrap();
    assert_eq!(short.user_id, fake.user_id("ada").to_string());
    assert_eq!(short.permissions, ["instagram_business_basic"]);
}

#[tokio::test]
async fn denied_consent_comes_back_as_an_error_with_the_state() {
    let (fake, client) = setup().await;
    let url = client.authorize_url("s-9").unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Allow") && page.contains("Deny"));
    let form: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .chain([
            ("username".into(), "ada".into()),
            ("decision".into(), "deny".into()),
        ])
        .collect();
    let response = browser
        .post(format!("{}/oauth/authorize", fake.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(
        param(&location, "error_reason").as_deref(),
        Some("user_denied")
    );
    assert_eq!(param(&location, "state").as_deref(), Some("s-9"));
}

#[tokio::test]
async fn refresh_waits_for_24_hours_then_gives_60_more_days() {
    let (fake, client) = setup().await;
    let minted = fake.mint_token("ada", Duration::ZERO);
    let token = AccessToken::new(minted.access_token);
    let too_young = client.refresh(&token).await.unwrap_err();
    assert!(
        matches!(too_young, MetaError::Rejected { code: 100, .. }),
        "{too_young:?}"
    );

    fake.advance_clock(DAY + Duration::from_secs(60));
    let refreshed = client.refresh(&token).await.unwrap();
    assert_eq!(refreshed.expires_in, Duration::from_secs(5_183_944));
    assert_ne!(refreshed.token, token);
    // The old token stays valid until its own expiry; the new one works at once.
    client.me(&token).await.unwrap();
    client.me(&refreshed.token).await.unwrap();
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_revoked_with_their_subcode() {
    let (fake, client) = setup().await;
    let token = AccessToken::new(fake.mint_token("ada", Duration::ZERO).access_token);
    fake.advance_clock(61 * DAY);
    let expired = client.refresh(&token).await.unwrap_err();
    assert_eq!(
        expired,
        MetaError::Revoked {
            subcode: Some(463),
            message: "Error validating access token: Session has expired.".into()
        }
    );

    let other = AccessToken::new(fake.mint_token("bob", 2 * DAY).access_token);
    fake.revoke_user("bob", 460);
    let revoked = client.me(&other).await.unwrap_err();
    assert!(
        matches!(
            revoked,
            MetaError::Revoked {
                subcode: Some(460),
                ..
            }
        ),
        "{revoked:?}"
    );
    assert_eq!(revoked.code(), "190/460");

    let unknown = client
        .me(&AccessToken::new("IGAAnot-a-token"))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, MetaError::Revoked { subcode: None, .. }),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn media_comes_in_pages_until_the_last() {
    let (fake, client) = setup().await;
    let token = AccessToken::new(fake.mint_token("ada", Duration::ZERO).access_token);
    let first = client.media(&token, None, 2).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.items[0].media_url.is_some() && first.items[0].permalink.is_some());
    let video = first
        .items
        .iter()
        .find(|m| m.media_type.as_deref() == Some("VIDEO"))
        .unwrap();
    assert!(video.thumbnail_url.is_some());
    let after = first.after.expect("a second page");
    let second = client.media(&token, Some(&after), 2).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.after, None);
}

#[tokio::test]
async fn rate_limits_come_back_with_the_wait_the_headers_name() {
    let (fake, client) = setup().await;
    let token = AccessToken::new(fake.mint_token("ada", Duration::ZERO).access_token);
    fake.inject_fault(
        FaultMatch::default(),
        1,
        FaultKind::RateLimit {
            code: 4,
            regain_minutes: 19,
        },
    );
    let limited = client.me(&token).await.unwrap_err();
    assert_eq!(
        limited,
        MetaError::RateLimited {
            code: 4,
            retry_after: Duration::from_secs(19 * 60)
        }
    );

    fake.set_rate_limits(RateLimits {
        per_user_per_hour: Some(2),
        per_app_per_hour: None,
    });
    client.me(&token).await.unwrap();
    client.me(&token).await.unwrap();
    let limited = client.me(&token).await.unwrap_err();
    assert!(
        matches!(limited, MetaError::RateLimited { code: 17, .. }),
        "{limited:?}"
    );
    fake.advance_clock(Duration::from_secs(3601));
    client.me(&token).await.unwrap();
}

#[tokio::test]
async fn every_kind_of_outage_is_transient() {
    let (fake, _) = setup().await;
    let client = client_for(&fake, Duration::from_millis(500));
    let token = AccessToken::new(fake.mint_token("ada", 2 * DAY).access_token);
    for kind in [
        FaultKind::ServerError,
        FaultKind::Html,
        FaultKind::Empty,
        FaultKind::Reset,
        FaultKind::Delay { ms: 2000 },
    ] {
        fake.inject_fault(
            FaultMatch {
                path: Some("refresh_access_token".into()),
                ..Default::default()
            },
            1,
            kind.clone(),
        );
        let err = client.refresh(&token).await.unwrap_err();
        assert!(
            matches!(err, MetaError::Transient { .. }),
            "{kind:?} gave {err:?}"
        );
    }
    // And the next call works again.
    client.refresh(&token).await.unwrap();
}

#[tokio::test]
async fn other_refusals_are_rejected_with_their_code() {
    let (fake, client) = setup().await;
    let token = AccessToken::new(fake.mint_token("ada", Duration::ZERO).access_token);
    fake.inject_fault(
        FaultMatch {
            username: Some("ada".into()),
            ..Default::default()
        },
        1,
        FaultKind::Error {
            code: 10,
            message: "Application does not have permission for this action".into(),
        },
    );
    let err = client.me(&token).await.unwrap_err();
    assert_eq!(
        err,
        MetaError::Rejected {
            code: 10,
            message: "Application does not have permission for this action".into()
        }
    );
}

#[tokio::test]
async fn facebook_login_leads_to_a_page_token_and_the_instagram_account() {
    let (fake, _) = setup().await;
    let client = facebook_for(&fake);
    let short = AccessToken::new(fake.mint_facebook_token("ada"));
    let long = client.exchange_for_long_lived(&short).await.unwrap();
    let user = client.me(&long.token).await.unwrap();
    assert!(!user.id.is_empty());
    let pages = client.pages(&long.token).await.unwrap();
    assert_eq!(pages.len(), 1);
    assert!(pages[0].tasks.contains(&"MANAGE".to_owned()));
    let instagram = client
        .page_instagram_account(&pages[0].id, &pages[0].access_token)
        .await
        .unwrap();
    assert_eq!(instagram, Some(fake.professional_id("ada")));

    let info = client.debug_token(&pages[0].access_token).await.unwrap();
    assert!(info.is_valid);
    assert_eq!(info.kind.as_deref(), Some("PAGE"));
    assert_eq!(info.expires_at, None, "page tokens never expire");
    let invalid = client
        .debug_token(&AccessToken::new("EAAbogus"))
        .await
        .unwrap();
    assert!(!invalid.is_valid);
}

#[tokio::test]
async fn threads_login_gives_a_60_day_token_a_profile_posts_and_refreshes_after_a_day() {
    let (fake, _) = setup().await;
    let client = threads_for(&fake);
    let authorize_url = client.authorize_url("s-th").unwrap();
    assert_eq!(
        param(&authorize_url, "scope").as_deref(),
        Some("threads_basic")
    );
    let callback = follow(&fake, authorize_url, "ada").await;
    assert_eq!(param(&callback, "state").as_deref(), Some("s-th"));
    let short = client
        .exchange_code(&param(&callback, "code").unwrap())
        .await
        .unwrap();
    assert!(short.token.expose().starts_with("TH"));
    assert_eq!(short.user_id, fake.threads_id("ada").to_string());
    assert!(
        fake.threads_id("ada") > 1 << 53,
        "ids above 2^53 survive exactly"
    );
    let long = client.exchange_for_long_lived(&short.token).await.unwrap();
    assert_eq!(long.expires_in, Duration::from_secs(5_183_944));
    let profile = client.me(&long.token).await.unwrap();
    assert_eq!(profile.username, "ada");
    assert_eq!(profile.id, fake.threads_id("ada").to_string());
    assert!(profile.threads_profile_picture_url.is_some());
    let posts = client.posts(&long.token, None, 2).await.unwrap();
    assert_eq!(posts.items.len(), 2);
    assert!(posts.items[0].text.as_deref().unwrap().contains("ada"));
    let rest = client
        .posts(&long.token, posts.after.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!((rest.items.len(), rest.after), (1, None));

    // An Instagram endpoint does not take a Threads token, nor the other way round.
    let instagram = client_for(&fake, Duration::from_secs(10));
    assert!(instagram.refresh(&long.token).await.is_err());
    let ig = AccessToken::new(fake.mint_token("ada", 2 * DAY).access_token);
    assert!(client.refresh(&ig).await.is_err());

    let too_young = client.refresh(&long.token).await.unwrap_err();
    assert!(
        matches!(too_young, MetaError::Rejected { .. }),
        "{too_young:?}"
    );
    fake.advance_clock(DAY + Duration::from_secs(60));
    let refreshed = client.refresh(&long.token).await.unwrap();
    assert_eq!(refreshed.expires_in, Duration::from_secs(5_183_944));
    assert!(refreshed.token.expose().starts_with("TH"));
}

#[tokio::test]
async fn a_minted_threads_token_is_revoked_like_any_other() {
    let (fake, _) = setup().await;
    let client = threads_for(&fake);
    let minted = fake.mint(MintKind::Threads, "bo", 2 * DAY);
    let token = AccessToken::new(minted.access_token);
    assert_eq!(client.me(&token).await.unwrap().username, "bo");
    fake.revoke_user("bo", 460);
    let err = client.me(&token).await.unwrap_err();
    assert!(
        matches!(
            err,
            MetaError::Revoked {
                subcode: Some(460),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn facebook_login_dialog_code_and_page_tokens_that_die_with_a_revoked_user() {
    let (fake, _) = setup().await;
    let client = facebook_for(&fake);
    let dialog = client.authorize_url("s-fb").unwrap();
    assert!(dialog.path().ends_with("/dialog/oauth"), "{dialog}");
    assert!(
        param(&dialog, "scope").unwrap().contains("pages_show_list"),
        "{dialog}"
    );
    let callback = follow(&fake, dialog, "cy").await;
    let short = client
        .exchange_code(&param(&callback, "code").unwrap())
        .await
        .unwrap();
    let reused = client
        .exchange_code(&param(&callback, "code").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(reused, MetaError::Rejected { .. }), "{reused:?}");
    let long = client.exchange_for_long_lived(&short).await.unwrap();
    let user = client.debug_token(&long.token).await.unwrap();
    assert!(user.is_user_token() && user.is_valid);
    let pages = client.pages(&long.token).await.unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].id, fake.page_id("cy"));
    assert_eq!(pages[0].name, "cy page");
    let page_token = &pages[0].access_token;
    assert_eq!(client.me(page_token).await.unwrap().id, fake.page_id("cy"));
    let page = client.debug_token(page_token).await.unwrap();
    assert!(page.is_page_token());
    assert_eq!(page.profile_id, Some(fake.page_id("cy")));
    let linked = client
        .page_instagram_account(&pages[0].id, page_token)
        .await
        .unwrap()
        .unwrap();
    let media = client
        .instagram_media(&linked, page_token, None, 10)
        .await
        .unwrap();
    assert_eq!(media.items.len(), 3);

    fake.revoke_user("cy", 460);
    let revoked = client.debug_token(page_token).await.unwrap();
    assert!(!revoked.is_valid, "a revoked user's Page token is invalid");
}

/// A tracing writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_error_debug_output_or_log_line_ever_contains_a_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (fake, _) = setup().await;
    let client = client_for(&fake, Duration::from_millis(300));
    let minted = fake.mint_token("ada", 2 * DAY);
    let secret = minted.access_token.clone();
    let token = AccessToken::new(minted.access_token);
    let mut shown = Vec::new();
    let faults = [
        FaultKind::ServerError,
        FaultKind::Html,
        FaultKind::Empty,
        FaultKind::Reset,
        FaultKind::Delay { ms: 1000 },
        FaultKind::Revoked { subcode: 463 },
        FaultKind::RateLimit {
            code: 17,
            regain_minutes: 5,
        },
        FaultKind::Error {
            code: 100,
            message: "Invalid parameter".into(),
        },
    ];
    for kind in faults {
        fake.inject_fault(FaultMatch::default(), 1, kind);
        let err = client.refresh(&token).await.unwrap_err();
        shown.push(format!("{err} {err:?}"));
        fake.inject_fault(FaultMatch::default(), 1, FaultKind::ServerError);
        let err = client.media(&token, None, 5).await.unwrap_err();
        shown.push(format!("{err} {err:?}"));
    }
    // A connection refused: reqwest's own error would name the URL, token and all.
    let dead = {
        let base = Url::parse("http://127.0.0.1:9").unwrap();
        InstagramClient::new(AppConfig::instagram().app("1", "s", REDIRECT).at(&base)).unwrap()
    };
    let err = dead.refresh(&token).await.unwrap_err();
    shown.push(format!("{err} {err:?} {token:?} {:?}", client.config()));
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        !logs.is_empty(),
        "the test must capture something to mean anything"
    );
    for text in shown.iter().chain([&logs]) {
        assert!(!text.contains(&secret), "a token leaked into: {text}");
        assert!(
            !text.contains(fake.app_secret()),
            "the app secret leaked into: {text}"
        );
    }
}

mod signed_requests {
    use fake_instagram::{DEMO_APP_SECRET, sign_request};
    use freshtoken_meta::{SignedRequestError, verify_signed_request};
    use serde_json::json;

    fn payload(user_id: serde_json::Value) -> serde_json::Value {
        json!({"algorithm": "HMAC-SHA256", "issued_at": 1_700_000_000, "user_id": user_id})
    }

    #[test]
    fn a_request_signed_with_the_app_secret_is_accepted() {
        let signed = sign_request(&payload(json!("27640875392278831")), DEMO_APP_SECRET);
        let request = verify_signed_request(&signed, DEMO_APP_SECRET).unwrap();
        assert_eq!(request.user_id, "27640875392278831");
        assert_eq!(request.issued_at, Some(1_700_000_000));
        // A numeric user id is read exactly, never through a float.
        let signed = sign_request(&payload(json!(27640875392278831_u64)), DEMO_APP_SECRET);
        let request = verify_signed_request(&signed, DEMO_APP_SECRET).unwrap();
        assert_eq!(request.user_id, "27640875392278831");
    }

    #[test]
    fn forgeries_are_refused() {
        let genuine = sign_request(&payload(json!("1")), DEMO_APP_SECRET);
        let (signature, _) = genuine.split_once('.').unwrap();
        let other_secret = sign_request(&payload(json!("1")), "not-the-app-secret");
        // A genuine signature on another user's payload.
        let (_, other_payload) = sign_request(&payload(json!("2")), DEMO_APP_SECRET)
            .split_once('.')
            .map(|(s, p)| (s.to_owned(), p.to_owned()))
            .unwrap();
        let swapped = format!("{signature}.{other_payload}");
        for forged in [other_secret.as_str(), swapped.as_str()] {
            assert_eq!(
                verify_signed_request(forged, DEMO_APP_SECRET),
                Err(SignedRequestError::BadSignature),
                "{forged}"
            );
        }
        for malformed in ["", "no-dot", "!!!.???", ".", "abc."] {
            assert!(
                verify_signed_request(malformed, DEMO_APP_SECRET).is_err(),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn an_empty_app_secret_verifies_nothing() {
        let signed = sign_request(&payload(json!("1")), "");
        assert_eq!(
            verify_signed_request(&signed, ""),
            Err(SignedRequestError::NoAppSecret)
        );
    }

    #[test]
    fn a_replayed_old_request_is_stale() {
        let signed = sign_request(&payload(json!("1")), DEMO_APP_SECRET);
        let request = verify_signed_request(&signed, DEMO_APP_SECRET).unwrap();
        let issued = 1_700_000_000;
        assert_eq!(request.check_fresh(issued + 60), Ok(()));
        assert_eq!(
            request.check_fresh(issued - 60),
            Ok(()),
            "a little clock skew"
        );
        assert_eq!(
            request.check_fresh(issued + 2 * 24 * 3600),
            Err(SignedRequestError::Stale)
        );
        assert_eq!(
            request.check_fresh(issued - 3600),
            Err(SignedRequestError::Stale),
            "from the future"
        );
    }

    #[test]
    fn another_algorithm_is_refused_even_when_signed() {
        let signed = sign_request(
            &json!({"algorithm": "none", "user_id": "1"}),
            DEMO_APP_SECRET,
        );
        assert!(matches!(
            verify_signed_request(&signed, DEMO_APP_SECRET),
            Err(SignedRequestError::UnsupportedAlgorithm(_))
        ));
        let without_user = sign_request(&json!({"algorithm": "HMAC-SHA256"}), DEMO_APP_SECRET);
        assert!(matches!(
            verify_signed_request(&without_user, DEMO_APP_SECRET),
            Err(SignedRequestError::Malformed(_))
        ));
    }
}
