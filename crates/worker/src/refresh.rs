//! One refresh attempt: ask the account's platform for a new token (Instagram, Threads) or
//! whether its token still lives (a Facebook Page's, with `debug_token`), and decide from the
//! answer what the account becomes, when it is tried next, and who hears about it.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use freshtoken_accounts::notices::{account_json, needs_reconnect};
use freshtoken_core::policy::{Backoff, MIN_REFRESH_AGE_SECS, next_refresh_at_jittered};
use freshtoken_core::{AccessToken, AccountKind, AccountStatus, RefreshOutcome};
use freshtoken_meta::{LongLivedToken, MetaClients, MetaError};
use freshtoken_store::{
    Announcement, NewRefreshEvent, RefreshResult, RefreshWork, StoredToken, TokenUpdate,
};
use serde_json::json;

use crate::notify::expiring_email;
use crate::{Engine, WorkerError, random_unit};

/// A token this close to expiry and still failing warns the tenant (once per incident).
pub(crate) const EXPIRING_WARNING_SECS: i64 = 7 * 24 * 3600;

/// Refreshes the accounts of one job, which the lease `lease_id` holds: opened in one read,
/// asked of their platforms side by side, recorded in one transaction. An account the lease no
/// longer holds is skipped.
pub(crate) async fn refresh_batch(
    engine: &Engine,
    lease_id: &str,
    account_ids: &[i64],
) -> Result<(), WorkerError> {
    let store = engine.store();
    let works = store
        .refresh_queue()
        .open(lease_id, account_ids, engine.clock().now())
        .await?;
    if works.len() < account_ids.len() {
        tracing::debug!(
            skipped = account_ids.len() - works.len(),
            "refreshes skipped: the claim ran out, or the account was paused, disconnected or deleted"
        );
    }
    let answers =
        futures_util::future::join_all(works.iter().map(|work| ask_in_time(engine, work))).await;
    let now = engine.clock().now();
    let mut attempts = Vec::with_capacity(works.len());
    let results = works
        .iter()
        .zip(answers)
        .map(|(work, (answer, seconds))| {
            let result = decide(
                work,
                answer,
                now,
                engine.config().page_check_interval,
                engine.public_url(),
                engine.emails_enabled(),
            );
            attempts.push((
                work.account.id,
                result.event.outcome,
                result.event.attempt,
                seconds,
            ));
            result
        })
        .collect();
    let recorded = store
        .refresh_queue()
        .complete(lease_id, now, results)
        .await?;
    for (account_id, outcome, attempt, seconds) in attempts {
        engine.metrics().refresh_attempt(outcome, seconds);
        if recorded.contains(&account_id) {
            engine.account_changed(account_id);
            tracing::info!(
                account_id,
                outcome = outcome.as_str(),
                attempt,
                "refresh attempt recorded"
            );
        } else {
            tracing::warn!(
                account_id,
                "refresh result dropped: the account changed while Instagram answered"
            );
        }
    }
    Ok(())
}

/// Asks the account's platform, within half the lease (so that no other job can claim the
/// account while this one still waits), and how many seconds that took. `None` when the
/// account has no token.
async fn ask_in_time(
    engine: &Engine,
    work: &RefreshWork,
) -> (Option<Result<Answer, MetaError>>, f64) {
    let started = Instant::now();
    let Some(token) = &work.token else {
        return (None, 0.0);
    };
    let limit = engine.config().lease / 2;
    let answer = tokio::time::timeout(limit, ask(engine.meta(), work.account.kind, &token.token))
        .await
        .unwrap_or_else(|_| {
            Err(MetaError::Transient {
                reason: format!("no answer within {} ms", limit.as_millis()),
            })
        });
    (Some(answer), started.elapsed().as_secs_f64())
}

/// What the platform said of the account's token.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A new token, from a refresh (Instagram, Threads).
    Refreshed(LongLivedToken),
    /// The token still lives (a Facebook Page token, checked).
    StillValid,
}

/// Asks the platform of this kind of account to keep its token alive.
async fn ask(
    meta: &MetaClients,
    kind: AccountKind,
    token: &AccessToken,
) -> Result<Answer, MetaError> {
    match kind {
        AccountKind::Instagram => meta.instagram.refresh(token).await.map(Answer::Refreshed),
        AccountKind::Threads => meta.threads.refresh(token).await.map(Answer::Refreshed),
        AccountKind::FacebookPage => {
            // A 190 here is about our app's own token (a wrong app secret), not the Page's:
            // it must not mark every Page of the instance dead.
            let info = meta
                .facebook
                .debug_token(token)
                .await
                .map_err(|error| match error {
                    MetaError::Revoked { message, .. } => {
                        // The operator's to fix, and every Page waits for it: say so loudly.
                        tracing::error!(
                            %message,
                            "Facebook refused this instance's app credentials: check FRESHTOKEN_FACEBOOK_APP_ID and FRESHTOKEN_FACEBOOK_APP_SECRET"
                        );
                        MetaError::Rejected {
                            code: 190,
                            message: format!(
                                "Facebook refused this instance's app credentials ({message}): check FRESHTOKEN_FACEBOOK_APP_ID and FRESHTOKEN_FACEBOOK_APP_SECRET"
                            ),
                        }
                    }
                    other => other,
                })?;
            if info.is_valid {
                Ok(Answer::StillValid)
            } else {
                // debug_token answers a dead token rather than failing on it: it is as dead
                // as a refresh's code 190 would say.
                Err(MetaError::Revoked {
                    subcode: info.error_subcode,
                    message: info.error_message.unwrap_or_else(|| {
                        "Facebook says the Page token is no longer valid".into()
                    }),
                })
            }
        }
    }
}

/// What an attempt means for the account. `answer` is `None` when the account has no token.
pub(crate) fn decide(
    work: &RefreshWork,
    answer: Option<Result<Answer, MetaError>>,
    now: DateTime<Utc>,
    page_check_interval: std::time::Duration,
    public_url: &str,
    with_email: bool,
) -> RefreshResult {
    let account = &work.account;
    let attempt = work.failure_count + 1;
    let event = |outcome, error: Option<&MetaError>, new_expires_at| NewRefreshEvent {
        account_id: account.id,
        at: now,
        outcome,
        attempt,
        error_code: error.map(MetaError::code),
        message: error.map(ToString::to_string),
        new_expires_at,
    };
    let (token, answer) = match (&work.token, answer) {
        (Some(token), Some(answer)) => (token, answer),
        _ => {
            let reason = "no token is stored for this account; connect it again".to_owned();
            return RefreshResult {
                status: AccountStatus::NeedsReconnect,
                last_error: Some(reason.clone()),
                next_refresh_at: None,
                failure_count: attempt,
                new_token: None,
                expiring_notified: None,
                event: NewRefreshEvent {
                    error_code: Some("no_token".to_owned()),
                    message: Some(reason.clone()),
                    ..event(RefreshOutcome::Revoked, None, None)
                },
                announcements: vec![needs_reconnect(account, &reason, public_url, with_email)],
            };
        }
    };
    match answer {
        Ok(Answer::StillValid) => {
            // Checked again after the interval, brought forward by up to a tenth so that Pages
            // connected together are not all checked together.
            let interval = Duration::from_std(page_check_interval).unwrap_or(Duration::days(1));
            let spread = interval.num_seconds() / 10;
            let next = now + interval - Duration::seconds((spread as f64 * random_unit()) as i64);
            RefreshResult {
                status: AccountStatus::Active,
                last_error: None,
                next_refresh_at: Some(next),
                failure_count: 0,
                new_token: None,
                expiring_notified: None,
                event: event(RefreshOutcome::Checked, None, None),
                announcements: Vec::new(),
            }
        }
        Ok(Answer::Refreshed(fresh)) => {
            let expires_at =
                now + Duration::from_std(fresh.expires_in).unwrap_or(Duration::days(60));
            let next = next_refresh_at_jittered(
                now.timestamp(),
                now.timestamp(),
                Some(expires_at.timestamp()),
                account.refresh_interval,
                random_unit(),
            );
            let next = DateTime::from_timestamp(next, 0).unwrap_or(now);
            RefreshResult {
                status: AccountStatus::Active,
                last_error: None,
                next_refresh_at: Some(next),
                failure_count: 0,
                new_token: Some(TokenUpdate {
                    token: fresh.token,
                    issued_at: now,
                    expires_at: Some(expires_at),
                    scopes: token.scopes.clone(),
                    refreshed_at: Some(now),
                }),
                expiring_notified: Some(false),
                event: event(RefreshOutcome::Refreshed, None, Some(expires_at)),
                announcements: vec![Announcement {
                    event: "token.refreshed".to_owned(),
                    data: json!({
                        "account": account_json(account),
                        "expires_at": rfc3339(expires_at),
                        "next_refresh_at": rfc3339(next),
                    }),
                    email: None,
                    owner_email: None,
                }],
            }
        }
        Err(error @ MetaError::Revoked { .. }) => {
            let reason = error.to_string();
            RefreshResult {
                status: AccountStatus::NeedsReconnect,
                last_error: Some(reason.clone()),
                next_refresh_at: None,
                failure_count: attempt,
                new_token: None,
                expiring_notified: None,
                event: event(RefreshOutcome::Revoked, Some(&error), None),
                announcements: vec![needs_reconnect(account, &reason, public_url, with_email)],
            }
        }
        Err(error) => {
            let (outcome, backoff, at_least) = match &error {
                MetaError::RateLimited { retry_after, .. } => (
                    RefreshOutcome::RateLimited,
                    Backoff::TRANSIENT,
                    i64::try_from(retry_after.as_secs()).unwrap_or(i64::MAX),
                ),
                MetaError::Rejected { .. } => (RefreshOutcome::Rejected, Backoff::REJECTED, 0),
                _ => (RefreshOutcome::Transient, Backoff::TRANSIENT, 0),
            };
            let failures = u32::try_from(attempt).unwrap_or(u32::MAX);
            let delay = backoff.delay_secs(failures, random_unit()).max(at_least);
            let next = retry_at(now, token, &error, delay);
            // Shown to people as it is (the account page, e-mails): a date in words.
            let last_error = format!(
                "{error}; next attempt at {}",
                next.format("%-d %b %Y, %H:%M:%S UTC")
            );
            let mut announcements = Vec::new();
            let expiring = token
                .expires_at
                .is_some_and(|at| (at - now).num_seconds() <= EXPIRING_WARNING_SECS);
            let warn_now = expiring && !work.expiring_notified;
            if warn_now {
                let expires_at = token.expires_at.unwrap_or(now);
                announcements.push(Announcement {
                    event: "token.expiring".to_owned(),
                    data: json!({
                        "account": account_json(account),
                        "expires_at": rfc3339(expires_at),
                        "last_error": last_error,
                        "next_attempt_at": rfc3339(next),
                    }),
                    email: with_email
                        .then(|| expiring_email(account, expires_at, &last_error, public_url)),
                    owner_email: None,
                });
            }
            RefreshResult {
                status: AccountStatus::Active,
                last_error: Some(last_error),
                next_refresh_at: Some(next),
                failure_count: attempt,
                new_token: None,
                expiring_notified: warn_now.then_some(true),
                event: event(outcome, Some(&error), None),
                announcements,
            }
        }
    }
}

/// When to try again after a failure: `delay_secs` after `now` (the backoff), except that
///
/// - a refused token that may be younger than a day (Instagram's "too young" is a refusal)
///   waits until it is surely a day old, as asking sooner would only be refused again;
/// - no retry is planned after the token's known expiry (there would be nothing left to
///   save), and a token of unknown expiry (pasted or imported, never refreshed here) may die
///   at any moment, so it waits at most the transient backoff's cap, whatever the failure
///   (a too-young one is then asked hourly until it is old enough: cheap, and safe if the
///   refusal meant something else);
/// - at least a minute passes between tries.
///
/// A transient failure or a rate limit never waits for the token's 24th hour: it says nothing
/// about the token's age, and a pasted token's `issued_at` is when it was pasted, not when
/// Instagram issued it.
fn retry_at(
    now: DateTime<Utc>,
    token: &StoredToken,
    error: &MetaError,
    delay_secs: i64,
) -> DateTime<Utc> {
    let surely_old_enough = token.issued_at + Duration::seconds(MIN_REFRESH_AGE_SECS);
    let mut next = now + Duration::seconds(delay_secs);
    if matches!(error, MetaError::Rejected { .. }) && now < surely_old_enough {
        next = next.max(surely_old_enough);
    }
    match token.expires_at {
        Some(expires_at) => next = next.min(expires_at - Duration::minutes(10)),
        None => next = next.min(now + Duration::seconds(Backoff::TRANSIENT.cap_secs)),
    }
    next.max(now + Duration::minutes(1))
}

pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
