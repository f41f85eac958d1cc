//! How the API writes a moment: RFC 3339 in UTC, to the second (`2025-01-31T12:00:00Z`). Every
//! view that shows a time (accounts, invitations, API keys, webhooks, the operator's lists, the
//! token URLs' `expires_at` and `synced_at`) writes it with [`rfc3339`], so all read alike.

use chrono::{DateTime, SecondsFormat, Utc};

pub(crate) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
