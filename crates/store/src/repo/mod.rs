//! One repository per aggregate. Each borrows the [`Store`](crate::Store) and returns plain
//! records; queries on tenant data always take the tenant id, so a caller cannot forget it,
//! and reads of one account's data take the [`TenantAccount`](crate::TenantAccount) proof that
//! only a read through its tenant (or its public id) gives.

pub mod accounts;
pub mod api_keys;
pub mod connect_links;
pub mod data_deletions;
pub mod delivery;
pub mod facebook_logins;
pub mod invites;
pub mod media;
pub mod memberships;
pub mod notifications;
pub mod oauth_states;
pub mod refresh_events;
pub mod refresh_queue;
pub mod sessions;
pub mod tenants;
pub mod tokens;
pub mod transfer;
pub mod users;
pub mod webhooks;

/// 16 random bytes as URL-safe base64 (22 characters): unguessable ids for public URLs.
pub(crate) fn random_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system has no randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims up to `limit` rows of `table` that are due (`status` is `waiting_status` and
/// `due_column` has come at `now`) and held by no live lease, soonest first: writes a new lease
/// id and `lease_until` on them and returns their ids with that lease id.
///
/// On PostgreSQL the candidates are locked with `SKIP LOCKED`, so claimers running at once split
/// the due rows between them instead of waiting on each other; on SQLite the statement runs
/// under the database's single write lock. `table`, `due_column` and `waiting_status` are our
/// own constants, never input.
pub(crate) async fn claim_due_rows(
    store: &crate::Store,
    table: &'static str,
    due_column: &'static str,
    waiting_status: &'static str,
    now: chrono::DateTime<chrono::Utc>,
    lease_until: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<(Vec<i64>, String), crate::StoreError> {
    use sea_orm::{ConnectionTrait, Statement, Value};
    let lease_id = random_id();
    let (p, skip_locked) = match store.backend() {
        crate::Backend::Postgres => ('$', " FOR UPDATE SKIP LOCKED"),
        crate::Backend::Sqlite => ('?', ""),
    };
    let sql = format!(
        "UPDATE {table} SET lease_id = {p}1, lease_until = {p}2 WHERE id IN (\
           SELECT id FROM {table} WHERE status = '{waiting_status}' AND {due_column} <= {p}3 \
           AND (lease_until IS NULL OR lease_until < {p}3) \
           ORDER BY {due_column} LIMIT {p}4{skip_locked}) \
         RETURNING id"
    );
    let statement = Statement::from_sql_and_values(
        store.db.get_database_backend(),
        sql,
        [
            Value::from(lease_id.clone()),
            Value::from(lease_until),
            Value::from(now),
            Value::from(i64::try_from(limit).unwrap_or(i64::MAX)),
        ],
    );
    let ids = store
        .db
        .query_all_raw(statement)
        .await?
        .into_iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((ids, lease_id))
}
