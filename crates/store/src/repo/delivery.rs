//! What the token URLs need from the database besides the accounts themselves: a feed of the
//! accounts whose answers changed (so each web process can serve from memory and forget just
//! those), and the per-day request counts those processes add up in memory.
//!
//! The feed comes from triggers (migration `m20261201_000005_delivery`): on PostgreSQL a
//! `LISTEN` on `freshtoken_delivery`, on SQLite a poll of the `delivery_changes` table.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement, Value,
};

use crate::entity::account_request_count;
use crate::error::StoreError;
use crate::{Backend, Store, TenantAccount};

/// The PostgreSQL channel the triggers notify.
const CHANNEL: &str = "freshtoken_delivery";
/// How long SQLite's change log keeps a row; a poller that falls further behind starts over.
const SQLITE_KEEP_SECS: i64 = 3600;
const SQLITE_PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Request counts written per statement: 4 parameters each, well under SQLite's 32,766 and
/// PostgreSQL's 65,535. [`RequestCounts::add`] of at most this many is one statement, so it
/// is written whole or not at all.
pub const COUNTS_PER_STATEMENT: usize = 1000;

/// What changed since the last call to [`ChangeFeed::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// These accounts' answers may differ now.
    Accounts(Vec<i64>),
    /// Changes may have been missed (the connection to PostgreSQL was lost, or the poller fell
    /// behind): forget everything.
    Unknown,
}

/// The accounts whose token URLs' answers changed, from any process.
pub struct ChangeFeed {
    source: Source,
}

enum Source {
    Postgres(Box<PgListener>),
    Sqlite {
        store: Store,
        last_seq: i64,
        every: Duration,
        pruned_at: Instant,
    },
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

impl ChangeFeed {
    /// Starts following changes: from now on, none is missed (or [`Change::Unknown`] says so).
    /// `sqlite_poll` is how often SQLite's change log is read.
    pub async fn start(store: &Store, sqlite_poll: Duration) -> Result<ChangeFeed, StoreError> {
        let source = match store.backend() {
            Backend::Postgres => {
                let pool = store.db.get_postgres_connection_pool();
                let mut listener = PgListener::connect_with(pool).await.map_err(listen_error)?;
                listener.listen(CHANNEL).await.map_err(listen_error)?;
                Source::Postgres(Box::new(listener))
            }
            Backend::Sqlite => {
                let last_seq = sqlite_max_seq(store).await?;
                Source::Sqlite {
                    store: store.clone(),
                    last_seq,
                    every: sqlite_poll,
                    pruned_at: Instant::now(),
                }
            }
        };
        Ok(ChangeFeed { source })
    }

    /// Waits for the next changes.
    pub async fn next(&mut self) -> Result<Change, StoreError> {
        match &mut self.source {
            Source::Postgres(listener) => match listener.try_recv().await.map_err(listen_error)? {
                Some(notification) => Ok(notification
                    .payload()
                    .parse()
                    .map(|id| Change::Accounts(vec![id]))
                    .unwrap_or(Change::Unknown)),
                // The connection dropped (it is reconnected on the next call): notifications
                // sent meanwhile are lost.
                None => Ok(Change::Unknown),
            },
            Source::Sqlite {
                store,
                last_seq,
                every,
                pruned_at,
            } => loop {
                tokio::time::sleep(*every).await;
                if pruned_at.elapsed() > SQLITE_PRUNE_EVERY {
                    *pruned_at = Instant::now();
                    sqlite_prune(store).await?;
                }
                if let Some(change) = sqlite_poll(store, last_seq).await? {
                    return Ok(change);
                }
            },
        }
    }
}

fn listen_error(err: sea_orm::sqlx::Error) -> StoreError {
    StoreError::Connect(format!("cannot listen for changes: {err}"))
}

async fn sqlite_max_seq(store: &Store) -> Result<i64, StoreError> {
    let row = store
        .db
        .query_one_raw(Statement::from_string(
            store.db.get_database_backend(),
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM delivery_changes",
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get::<i64>("", "seq"))
        .transpose()?
        .unwrap_or(0))
}

/// Drops change rows older than [`SQLITE_KEEP_SECS`].
async fn sqlite_prune(store: &Store) -> Result<(), StoreError> {
    store
        .db
        .execute_raw(Statement::from_sql_and_values(
            store.db.get_database_backend(),
            "DELETE FROM delivery_changes \
             WHERE changed_at < CAST(strftime('%s', 'now') AS INTEGER) - ?",
            [Value::from(SQLITE_KEEP_SECS)],
        ))
        .await?;
    Ok(())
}

/// The changes after `last_seq`, if any, moving it on.
async fn sqlite_poll(store: &Store, last_seq: &mut i64) -> Result<Option<Change>, StoreError> {
    let rows = store
        .db
        .query_all_raw(Statement::from_sql_and_values(
            store.db.get_database_backend(),
            "SELECT seq, account_id FROM delivery_changes WHERE seq > ? ORDER BY seq LIMIT 10000",
            [Value::from(*last_seq)],
        ))
        .await?;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let first_seq: i64 = rows[0].try_get("", "seq")?;
    let newest: i64 = last.try_get("", "seq")?;
    // Without gaps, the next row is the one after the last seen; a gap means rows were pruned
    // before this process read them.
    let gap = first_seq != *last_seq + 1;
    *last_seq = newest;
    if gap {
        return Ok(Some(Change::Unknown));
    }
    let ids = rows
        .iter()
        .map(|row| row.try_get::<i64>("", "account_id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Change::Accounts(ids)))
}

/// Requests to an account's token URLs on one UTC day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCount {
    /// Answered with a token, posts or a 304.
    pub served: u64,
    /// Refused: an origin not allowed, a paused account, an expired token, a rate limit.
    pub refused: u64,
    /// Of `refused`, those that carried neither `Origin` nor `Referer` (a server, or a page
    /// that hides its referrer): what would break if they relied on being served.
    pub refused_no_origin: u64,
}

impl std::ops::AddAssign for RequestCount {
    fn add_assign(&mut self, other: RequestCount) {
        self.served += other.served;
        self.refused += other.refused;
        self.refused_no_origin += other.refused_no_origin;
    }
}

/// One account's count on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyCount {
    pub day: NaiveDate,
    pub count: RequestCount,
}

pub struct RequestCounts<'a> {
    store: &'a Store,
}

impl<'a> RequestCounts<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        RequestCounts { store }
    }

    /// Adds counts (kept in memory since the last call) to the stored ones, a few hundred rows
    /// per statement (databases cap a statement's parameters). Counts of accounts deleted
    /// meanwhile are dropped.
    pub async fn add(
        &self,
        counts: &HashMap<(i64, NaiveDate), RequestCount>,
    ) -> Result<(), StoreError> {
        let counts: Vec<_> = counts.iter().collect();
        // One statement at a time, not one transaction: SQLite's other writers (the worker)
        // wait for a statement, never for the whole flush.
        for batch in counts.chunks(COUNTS_PER_STATEMENT) {
            add_batch(&self.store.db, batch).await?;
        }
        Ok(())
    }

    /// The account's counts from `since` on, oldest first; days without requests are absent.
    pub async fn since(
        &self,
        account: &TenantAccount,
        since: NaiveDate,
    ) -> Result<Vec<DailyCount>, StoreError> {
        account_request_count::Entity::find()
            .filter(account_request_count::Column::AccountId.eq(account.account_id()))
            .filter(account_request_count::Column::Day.gte(since.to_string()))
            .order_by_asc(account_request_count::Column::Day)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(|row| {
                let day = row
                    .day
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("request count day {:?}", row.day)))?;
                Ok(DailyCount {
                    day,
                    count: RequestCount {
                        served: u64::try_from(row.served).unwrap_or(0),
                        refused: u64::try_from(row.refused).unwrap_or(0),
                        refused_no_origin: u64::try_from(row.refused_no_origin).unwrap_or(0),
                    },
                })
            })
            .collect()
    }

    /// Every account's count on `day`, by account id, for a list of accounts.
    pub async fn on_day(
        &self,
        accounts: &[TenantAccount],
        day: NaiveDate,
    ) -> Result<HashMap<i64, RequestCount>, StoreError> {
        let account_ids: Vec<i64> = accounts.iter().map(TenantAccount::account_id).collect();
        let mut counts = HashMap::new();
        for batch in account_ids.chunks(COUNTS_PER_STATEMENT) {
            let rows = account_request_count::Entity::find()
                .filter(account_request_count::Column::AccountId.is_in(batch.to_vec()))
                .filter(account_request_count::Column::Day.eq(day.to_string()))
                .all(&self.store.db)
                .await?;
            counts.extend(rows.into_iter().map(|row| {
                let count = RequestCount {
                    served: u64::try_from(row.served).unwrap_or(0),
                    refused: u64::try_from(row.refused).unwrap_or(0),
                    refused_no_origin: u64::try_from(row.refused_no_origin).unwrap_or(0),
                };
                (row.account_id, count)
            }));
        }
        Ok(counts)
    }
}

/// One statement: the rows of accounts that still exist are added to what is stored. The
/// values are numbers and dates this function formats itself, written into the SQL text
/// (which both engines parse fastest); nothing in it comes from a request.
async fn add_batch(
    db: &impl ConnectionTrait,
    counts: &[(&(i64, NaiveDate), &RequestCount)],
) -> Result<(), StoreError> {
    let rows = counts
        .iter()
        .map(|((id, day), count)| {
            format!(
                "({id}, '{}', {}, {}, {})",
                day.format("%Y-%m-%d"),
                i64::try_from(count.served).unwrap_or(i64::MAX),
                i64::try_from(count.refused).unwrap_or(i64::MAX),
                i64::try_from(count.refused_no_origin).unwrap_or(i64::MAX)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    // `columnN` is what both SQLite and PostgreSQL call a VALUES list's columns.
    let sql = format!(
        "INSERT INTO account_request_counts (account_id, day, served, refused, refused_no_origin) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES {rows}) AS v \
         WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = v.column1) \
         ON CONFLICT (account_id, day) DO UPDATE SET \
         served = account_request_counts.served + excluded.served, \
         refused = account_request_counts.refused + excluded.refused, \
         refused_no_origin = account_request_counts.refused_no_origin + excluded.refused_no_origin"
    );
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(())
}
