//! Delivering notifications: webhooks (JSON, signed with HMAC-SHA256) and e-mail (SMTP).
//!
//! A webhook request carries `X-Freshtoken-Signature: t=UNIX,v1=HEX`, where HEX is the
//! HMAC-SHA256 of `"{t}.{body}"` under the webhook's secret: the receiver recomputes it, and
//! refuses an old `t` to stop replays (docs/api.md shows how).

use std::time::Duration;

use chrono::{DateTime, Utc};
use freshtoken_accounts::notices::name_with_label;
use freshtoken_core::policy::Backoff;
use freshtoken_store::{
    Account, Delivery, DeliveryOutcome, Destination, EmailMessage, RECONNECT_URL,
    render_reconnect_url,
};
use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Sha256;

use crate::refresh::rfc3339;
use crate::{Engine, WorkerError, random_unit};

/// Attempts before a notification is given up: with the backoff below, about a day and a half.
pub const MAX_DELIVERY_ATTEMPTS: i32 = 12;
/// 30 s, 1 min, 2, 4, ... up to 6 hours between attempts.
const DELIVERY_BACKOFF: Backoff = Backoff {
    base_secs: 30,
    cap_secs: 6 * 3600,
};

/// Sends e-mail through the SMTP server of `FRESHTOKEN_SMTP_URL`.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("invalid SMTP URL (expected smtp://user:pass@host:port or smtps://...): {0}")]
    Url(String),
    #[error("invalid sender address {0:?}")]
    From(String),
}

impl Mailer {
    /// `url` as lettre reads it: `smtp://host:25` (plain, for a local relay),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`.
    pub fn new(url: &str, from: &str) -> Result<Mailer, MailerError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            // The error may quote the URL, and with it the password.
            .map_err(|err| MailerError::Url(err.to_string().replace(url, "<smtp url>")))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|_| MailerError::From(from.to_owned()))?;
        Ok(Mailer { transport, from })
    }

    async fn send(&self, to: &str, message: &EmailMessage) -> Result<(), (bool, String)> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| (true, format!("invalid recipient address {to:?}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .body(message.body.clone())
            .map_err(|err| (true, err.to_string()))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|err| (err.is_permanent(), err.to_string()))
    }
}

/// Delivers the notification the lease holds; does nothing if it no longer does.
pub(crate) async fn deliver(engine: &Engine, id: i64, lease_id: &str) -> Result<(), WorkerError> {
    let store = engine.store();
    let Some(delivery) = store
        .notifications()
        .open(id, lease_id, engine.clock().now())
        .await?
    else {
        return Ok(());
    };
    let (delivery, link_secret) = with_reconnect_url(engine, delivery).await?;
    let (channel, mut result) = match &delivery.destination {
        Destination::Webhook { url, secret, .. } => (
            "webhook",
            post_webhook(engine, &delivery, url, secret).await,
        ),
        Destination::Email { recipient } => {
            ("email", send_email(engine, &delivery, recipient).await)
        }
    };
    // An endpoint that echoes what it got would put the live link into the delivery log.
    if let (Err(failure), Some(secret)) = (&mut result, &link_secret) {
        failure.error = failure.error.replace(secret.as_str(), "…");
    }
    let now = engine.clock().now();
    let attempts = delivery.attempts + 1;
    let outcome = match result {
        Ok(response_status) => DeliveryOutcome::Delivered { response_status },
        Err(failure) if failure.permanent || attempts >= MAX_DELIVERY_ATTEMPTS => {
            DeliveryOutcome::GaveUp {
                response_status: failure.status,
                error: failure.error,
            }
        }
        Err(failure) => {
            let failures = u32::try_from(attempts).unwrap_or(u32::MAX);
            let delay = DELIVERY_BACKOFF.delay_secs(failures, random_unit());
            DeliveryOutcome::Retry {
                at: now + chrono::Duration::seconds(delay),
                response_status: failure.status,
                error: failure.error,
            }
        }
    };
    let label = match &outcome {
        DeliveryOutcome::Delivered { .. } => "delivered",
        DeliveryOutcome::Retry { .. } => "retry",
        DeliveryOutcome::GaveUp { .. } => "failed",
    };
    engine.metrics().delivery(channel, label);
    tracing::info!(
        notification_id = id,
        channel,
        outcome = label,
        attempts,
        "notification attempt"
    );
    store
        .notifications()
        .finish(&delivery, now, outcome)
        .await?;
    Ok(())
}

/// Writes the account's reconnect link into the notification, where its stored payload holds
/// the placeholder: the link exists only in what is sent. An account reconnected meanwhile
/// (its link retired) gets the dashboard's address instead. Returns the link's secret too, to
/// keep it out of what is recorded of the attempt.
async fn with_reconnect_url(
    engine: &Engine,
    mut delivery: Delivery,
) -> Result<(Delivery, Option<String>), WorkerError> {
    if !delivery.payload.contains(RECONNECT_URL) {
        return Ok((delivery, None));
    }
    let public_url = engine.public_url().trim_end_matches('/');
    let secret = match delivery.account_id {
        Some(account_id) => {
            engine
                .store()
                .connect_links()
                .reconnect_secret(account_id, engine.clock().now())
                .await?
        }
        None => None,
    };
    let url = match &secret {
        Some(secret) => format!("{public_url}/c/{secret}"),
        None => format!("{public_url}/"),
    };
    delivery.payload = render_reconnect_url(&delivery.payload, &url);
    Ok((delivery, secret))
}

struct Failure {
    status: Option<i32>,
    error: String,
    /// Retrying cannot help (the SMTP server refused the address for good).
    permanent: bool,
}

/// The signature header's value for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

async fn post_webhook(
    engine: &Engine,
    delivery: &Delivery,
    url: &str,
    secret: &str,
) -> Result<Option<i32>, Failure> {
    let timestamp = engine.clock().now().timestamp();
    let id = delivery.id.to_string();
    let signature = signature(secret, timestamp, &delivery.payload);
    let headers = [
        ("content-type", "application/json"),
        ("x-freshtoken-event", delivery.event.as_str()),
        ("x-freshtoken-delivery", id.as_str()),
        ("x-freshtoken-signature", signature.as_str()),
    ];
    let answer = engine
        .webhooks()
        .post(url, &headers, delivery.payload.clone())
        .await
        .map_err(|err| Failure {
            status: None,
            // Never the URL: it may hold credentials of the receiver.
            error: err.to_string(),
            // An address webhooks may not reach stays so: retrying would only try again.
            permanent: err.is_permanent(),
        })?;
    let status = i32::from(answer.status.as_u16());
    if answer.status.is_success() {
        return Ok(Some(status));
    }
    let mut error = format!("the endpoint answered {}", answer.status);
    if answer.status.is_redirection() {
        error.push_str(" (redirects are not followed)");
    } else if !answer.excerpt.is_empty() {
        error.push_str(": ");
        error.push_str(&answer.excerpt);
    }
    Err(Failure {
        status: Some(status),
        error,
        permanent: false,
    })
}

async fn send_email(
    engine: &Engine,
    delivery: &Delivery,
    to: &str,
) -> Result<Option<i32>, Failure> {
    let Some(mailer) = engine.mailer() else {
        return Err(Failure {
            status: None,
            error: "e-mail is not configured on this instance (FRESHTOKEN_SMTP_URL)".to_owned(),
            permanent: true,
        });
    };
    let message: EmailMessage = serde_json::from_str(&delivery.payload).map_err(|err| Failure {
        status: None,
        error: format!("unreadable e-mail: {err}"),
        permanent: true,
    })?;
    mailer
        .send(to, &message)
        .await
        .map(|()| None)
        .map_err(|(permanent, error)| Failure {
            status: None,
            error,
            permanent,
        })
}

pub(crate) fn expiring_email(
    account: &Account,
    expires_at: DateTime<Utc>,
    error: &str,
    public_url: &str,
) -> EmailMessage {
    let name = name_with_label(account);
    EmailMessage {
        subject: format!(
            "The {} token of {name} expires soon",
            account.kind.platform()
        ),
        body: format!(
            "The token of {name} expires at {} and refreshing it keeps failing: {error}\n\n\
             freshtoken keeps trying. If the problem lasts, connect the account again:\n\n  {public_url}/\n",
            rfc3339(expires_at)
        ),
    }
}
