use chrono::{DateTime, Utc};
use freshtoken_core::{AccountKind, AccountStatus, RefreshInterval};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::connect_links::{issue_reconnect_on, retire_reconnect_on};
use super::notifications::{Announcement, enqueue_on};
use super::random_id;
use super::tokens::{TokenUpdate, save_on};
use crate::entity::{account, tenant, token};
use crate::error::{Duplicate, StoreError, duplicate_as};
use crate::{Backend, Store};

/// A connected account: an Instagram or Threads profile, or a Facebook Page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub tenant_id: i64,
    pub kind: AccountKind,
    pub provider_user_id: String,
    pub username: String,
    pub label: String,
    pub public_id: String,
    pub allowed_origins: Vec<String>,
    pub allow_localhost: bool,
    /// Served to everyone, header-less requests included (an explicit choice; see
    /// [`AccountSettings::public`]).
    pub public: bool,
    pub js_constant: Option<String>,
    pub status: AccountStatus,
    pub refresh_interval: RefreshInterval,
    pub next_refresh_at: Option<DateTime<Utc>>,
    pub last_refresh_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub profile_picture_url: Option<String>,
    /// A Facebook Page's linked Instagram professional account, whose posts are its media.
    pub linked_instagram_id: Option<String>,
    /// The account owner's address (the client, often not a member here), told when the
    /// account needs them, with the reconnect link.
    pub owner_email: Option<String>,
    /// When the owner unsubscribed; no more e-mail goes to them until the address changes.
    pub owner_unsubscribed_at: Option<DateTime<Utc>>,
    /// The name an instatokend site knows the account by (`/token/{alias}`); unique.
    pub alias: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    /// How people know the account: `@user` for a profile, the Page's name for a Page.
    pub fn display_name(&self) -> String {
        match self.kind {
            AccountKind::FacebookPage => format!("\"{}\"", self.username),
            AccountKind::Instagram | AccountKind::Threads => format!("@{}", self.username),
        }
    }
}

impl TryFrom<account::Model> for Account {
    type Error = StoreError;

    fn try_from(row: account::Model) -> Result<Self, StoreError> {
        let allowed_origins = serde_json::from_str(&row.allowed_origins).map_err(|err| {
            StoreError::Corrupt(format!("allowed_origins of account {}: {err}", row.id))
        })?;
        Ok(Account {
            id: row.id,
            tenant_id: row.tenant_id,
            kind: row.kind.parse()?,
            provider_user_id: row.provider_user_id,
            username: row.username,
            label: row.label,
            public_id: row.public_id,
            allowed_origins,
            allow_localhost: row.allow_localhost,
            public: row.is_public,
            js_constant: row.js_constant,
            status: row.status.parse()?,
            refresh_interval: row.refresh_interval.parse()?,
            next_refresh_at: row.next_refresh_at,
            last_refresh_at: row.last_refresh_at,
            last_error: row.last_error,
            profile_picture_url: row.profile_picture_url,
            linked_instagram_id: row.linked_instagram_id,
            owner_email: row.owner_email,
            owner_unsubscribed_at: row.owner_unsubscribed_at,
            alias: row.alias,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Proof that account `account_id` belongs to tenant `tenant_id`: what the reads of an
/// account's token lifetime, media, refresh history and request counts take instead of a bare
/// account id, so a handler cannot read them without first finding the account in its tenant.
///
/// Only the store makes one, and only from an account it has just found through a tenant
/// ([`Accounts::get`], [`Accounts::list`], [`Accounts::connect`] and the other reads and
/// changes that take a tenant id) or through its unguessable public id
/// ([`Accounts::by_public_id`], for the token URLs). Its fields are private and it has no
/// public constructor, no `Default` and no `From`: nothing outside this crate can make one
/// from a raw id. It is `Copy` and small, so it can be kept (the token URLs' cache does).
///
/// ```no_run
/// # use freshtoken_store::{Store, StoreError};
/// # async fn handler(store: &Store, tenant_id: i64, account_id: i64) -> Result<(), StoreError> {
/// // Another tenant's account (or a missing one) is `NotFound` here, before any proof
/// // exists, so the reads below cannot be reached with it.
/// let account = store.accounts().get(tenant_id, account_id).await?;
/// let events = store.refresh_events().recent(account.proof(), 50).await?;
/// let lifetime = store.tokens().lifetime(account.proof()).await?;
/// # let _ = (events, lifetime);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantAccount {
    tenant_id: i64,
    account_id: i64,
}

impl TenantAccount {
    pub fn tenant_id(&self) -> i64 {
        self.tenant_id
    }

    pub fn account_id(&self) -> i64 {
        self.account_id
    }
}

/// An account found through its tenant (or its public id), with the [`TenantAccount`] that
/// proves it. Reads as the [`Account`] it holds (`account.username`, `&account` where an
/// `&Account` is wanted); [`ScopedAccount::proof`] is what the scoped reads take.
///
/// Unscoped reads ([`Accounts::by_id`], [`Accounts::due`]) return a plain [`Account`], which
/// proves nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedAccount {
    proof: TenantAccount,
    account: Account,
}

impl ScopedAccount {
    /// Only for rows read with a filter on their tenant, or by public id.
    fn found(row: account::Model) -> Result<ScopedAccount, StoreError> {
        let account = Account::try_from(row)?;
        Ok(ScopedAccount {
            proof: TenantAccount {
                tenant_id: account.tenant_id,
                account_id: account.id,
            },
            account,
        })
    }

    pub fn proof(&self) -> &TenantAccount {
        &self.proof
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The record alone, giving up the proof.
    pub fn into_account(self) -> Account {
        self.account
    }
}

impl std::ops::Deref for ScopedAccount {
    type Target = Account;

    fn deref(&self) -> &Account {
        &self.account
    }
}

/// Who the account is on its platform, as read from the profile at connect time.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub kind: AccountKind,
    /// The platform's id: the Instagram or Threads user id, or the Facebook Page id.
    pub provider_user_id: String,
    /// The username (a Page's name).
    pub username: String,
    pub profile_picture_url: Option<String>,
    /// A Facebook Page's linked Instagram professional account, if any.
    pub linked_instagram_id: Option<String>,
}

/// An account to connect, with its token, when it is first refreshed or checked, and the
/// settings to give it.
#[derive(Debug, Clone)]
pub struct Connection {
    pub account: NewAccount,
    pub token: TokenUpdate,
    pub next_refresh_at: Option<DateTime<Utc>>,
    pub presets: Presets,
}

/// Settings given to what is connected; an account that already exists keeps its own where
/// none is given. (A connect link keeps its presets as this, in JSON.)
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Presets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Origin patterns, already checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub js_constant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<RefreshInterval>,
    /// The account owner's contact address, already checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    /// Serve every request, whatever its origin (an explicit choice: `--public`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// The account's name at `/token/{alias}`, already checked; refused with
    /// [`Duplicate::Alias`] when another account has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// What a tenant may change about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    pub label: String,
    pub allowed_origins: Vec<String>,
    pub allow_localhost: bool,
    /// Serve every request, whatever its origin, header-less ones included. Never the
    /// default: an account with no allowed origins serves nobody but API keys until its owner
    /// adds a site or chooses this.
    pub public: bool,
    pub js_constant: Option<String>,
    pub refresh_interval: RefreshInterval,
}

pub struct Accounts<'a> {
    store: &'a Store,
}

fn origins_json(origins: &[String]) -> String {
    serde_json::Value::from(origins.to_vec()).to_string()
}

impl<'a> Accounts<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Accounts { store }
    }

    /// Connects an account and stores its token, in one transaction.
    ///
    /// Connecting the same platform user again in the same tenant updates that account (new
    /// token, profile, status active) instead of adding a second one. Returns the account and
    /// whether it was created.
    pub async fn connect(
        &self,
        tenant_id: i64,
        new: NewAccount,
        token: &TokenUpdate,
        next_refresh_at: Option<DateTime<Utc>>,
    ) -> Result<(ScopedAccount, bool), StoreError> {
        let connection = Connection {
            account: new,
            token: token.clone(),
            next_refresh_at,
            presets: Presets::default(),
        };
        let mut connected = self
            .connect_all(tenant_id, vec![connection], |_, _| None)
            .await?;
        Ok(connected.remove(0))
    }

    /// Connects several accounts (a Facebook user's Pages) with their tokens and presets in
    /// one transaction: all of them, or, when one cannot be (the tenant's account limit, say),
    /// none. Returns each account and whether it was created, in order. `announce` says what
    /// to tell the tenant of each (webhooks, e-mail), in the same transaction.
    pub async fn connect_all(
        &self,
        tenant_id: i64,
        connections: Vec<Connection>,
        announce: impl Fn(&Account, bool) -> Option<Announcement>,
    ) -> Result<Vec<(ScopedAccount, bool)>, StoreError> {
        let txn = self.store.begin_write().await?;
        let mut connected = Vec::with_capacity(connections.len());
        let now = Utc::now();
        for connection in connections {
            let (account, created) = self.connect_on(&txn, tenant_id, connection).await?;
            if let Some(announcement) = announce(account.account(), created) {
                enqueue_on(
                    &txn,
                    tenant_id,
                    Some(account.account().id),
                    &announcement,
                    now,
                )
                .await?;
            }
            connected.push((account, created));
        }
        txn.commit().await?;
        Ok(connected)
    }

    async fn connect_on(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        tenant_id: i64,
        connection: Connection,
    ) -> Result<(ScopedAccount, bool), StoreError> {
        let Connection {
            account: new,
            token,
            next_refresh_at,
            presets,
        } = connection;
        let now = Utc::now();
        let existing = account::Entity::find()
            .filter(account::Column::TenantId.eq(tenant_id))
            .filter(account::Column::Kind.eq(new.kind.as_str()))
            .filter(account::Column::ProviderUserId.eq(new.provider_user_id.as_str()))
            .one(txn)
            .await?;
        let created = existing.is_none();
        if created {
            // On PostgreSQL, concurrent connects into one tenant take turns on its row, so
            // each counts the accounts the others added (SQLite's write lock already does).
            let mut tenant_row = tenant::Entity::find_by_id(tenant_id);
            if self.store.backend() == Backend::Postgres {
                tenant_row = tenant_row.lock_exclusive();
            }
            let limit = tenant_row
                .one(txn)
                .await?
                .ok_or(StoreError::NotFound)?
                .max_accounts;
            if let Some(max) = limit {
                let count = account::Entity::find()
                    .filter(account::Column::TenantId.eq(tenant_id))
                    .count(txn)
                    .await?;
                if count >= u64::try_from(max).unwrap_or(0) {
                    return Err(StoreError::AccountLimit {
                        max: u32::try_from(max).unwrap_or(0),
                    });
                }
            }
        }
        let mut active = match existing {
            Some(row) => {
                let mut active: account::ActiveModel = row.into();
                active.username = Set(new.username);
                active.profile_picture_url = Set(new.profile_picture_url);
                active.linked_instagram_id = Set(new.linked_instagram_id);
                active.status = Set(AccountStatus::Active.as_str().to_owned());
                active.last_error = Set(None);
                active.next_refresh_at = Set(next_refresh_at);
                // A reconnect ends whatever incident the account was in.
                active.failure_count = Set(0);
                active.expiring_notified_at = Set(None);
                active.lease_id = Set(None);
                active.lease_until = Set(None);
                active.updated_at = Set(now);
                active
            }
            None => account::ActiveModel {
                tenant_id: Set(tenant_id),
                kind: Set(new.kind.as_str().to_owned()),
                provider_user_id: Set(new.provider_user_id),
                username: Set(new.username),
                label: Set(String::new()),
                public_id: Set(random_id()),
                allowed_origins: Set("[]".to_owned()),
                allow_localhost: Set(false),
                is_public: Set(false),
                js_constant: Set(None),
                status: Set(AccountStatus::Active.as_str().to_owned()),
                refresh_interval: Set(RefreshInterval::default().as_str().to_owned()),
                next_refresh_at: Set(next_refresh_at),
                last_refresh_at: Set(None),
                last_error: Set(None),
                profile_picture_url: Set(new.profile_picture_url),
                linked_instagram_id: Set(new.linked_instagram_id),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            },
        };
        if let Some(label) = presets.label {
            active.label = Set(label);
        }
        if let Some(origins) = &presets.allowed_origins {
            active.allowed_origins = Set(origins_json(origins));
        }
        if let Some(interval) = presets.refresh_interval {
            active.refresh_interval = Set(interval.as_str().to_owned());
        }
        if let Some(constant) = presets.js_constant {
            active.js_constant = Set(Some(constant));
        }
        if let Some(public) = presets.public {
            active.is_public = Set(public);
        }
        if let Some(alias) = presets.alias {
            let mut holder = account::Entity::find().filter(account::Column::Alias.eq(&alias));
            if let ActiveValue::Unchanged(id) = &active.id {
                holder = holder.filter(account::Column::Id.ne(*id));
            }
            if holder.count(txn).await? > 0 {
                return Err(StoreError::Duplicate(Duplicate::Alias));
            }
            active.alias = Set(Some(alias));
        }
        if let Some(email) = presets.owner_email {
            let same =
                matches!(&active.owner_email, ActiveValue::Unchanged(Some(old)) if *old == email);
            if !same {
                active.owner_unsubscribe_token = Set(Some(random_id()));
                active.owner_unsubscribed_at = Set(None);
                active.owner_email = Set(Some(email));
            }
        }
        let row = if created {
            active
                .insert(txn)
                .await
                .map_err(duplicate_as(Duplicate::Account))?
        } else {
            active
                .update(txn)
                .await
                .map_err(duplicate_as(Duplicate::Alias))?
        };
        save_on(txn, &self.store.keys, row.id, &token).await?;
        // Reconnected, however: a reconnect link still out there has nothing left to do.
        retire_reconnect_on(txn, row.id).await?;
        Ok((ScopedAccount::found(row)?, created))
    }

    /// How many accounts of the whole instance are in each status, for the operator.
    pub async fn count_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(account::Entity::find()
            .select_only()
            .column(account::Column::Status)
            .column_as(account::Column::Id.count(), "count")
            .group_by(account::Column::Status)
            .into_tuple()
            .all(&self.store.db)
            .await?)
    }

    /// The tenant's account; another tenant's account is `NotFound`, exactly like a missing one.
    pub async fn get(&self, tenant_id: i64, id: i64) -> Result<ScopedAccount, StoreError> {
        ScopedAccount::found(self.row(tenant_id, id).await?)
    }

    async fn row(&self, tenant_id: i64, id: i64) -> Result<account::Model, StoreError> {
        account::Entity::find_by_id(id)
            .filter(account::Column::TenantId.eq(tenant_id))
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Any tenant's account by id, for the worker (whose jobs name accounts the scheduler
    /// claimed) and operator tools (which act on every tenant). A plain [`Account`]: it proves
    /// no tenant, so it opens none of the scoped reads; a handler of a tenant uses [`get`].
    ///
    /// [`get`]: Accounts::get
    pub async fn by_id(&self, id: i64) -> Result<Account, StoreError> {
        account::Entity::find_by_id(id)
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()
    }

    /// The public id of the account known at `/token/` by this alias (instatokend's name for
    /// it), if any. An alias is no secret (it came from a config file): the token URL it
    /// leads to is held to the account's origin lock like any other.
    pub async fn public_id_by_alias(&self, alias: &str) -> Result<Option<String>, StoreError> {
        Ok(account::Entity::find()
            .select_only()
            .column(account::Column::PublicId)
            .filter(account::Column::Alias.eq(alias))
            .into_tuple::<String>()
            .one(&self.store.db)
            .await?)
    }

    /// The account a token URL names. Its proof is sound: the public id is an unguessable
    /// capability the account's tenant handed out, and the account belongs to the tenant it
    /// names. The token URLs use it to read the account's media.
    pub async fn by_public_id(&self, public_id: &str) -> Result<Option<ScopedAccount>, StoreError> {
        account::Entity::find()
            .filter(account::Column::PublicId.eq(public_id))
            .one(&self.store.db)
            .await?
            .map(ScopedAccount::found)
            .transpose()
    }

    /// The tenant's account of this provider user, if connected.
    pub async fn find_connected(
        &self,
        tenant_id: i64,
        kind: AccountKind,
        provider_user_id: &str,
    ) -> Result<Option<ScopedAccount>, StoreError> {
        account::Entity::find()
            .filter(account::Column::TenantId.eq(tenant_id))
            .filter(account::Column::Kind.eq(kind.as_str()))
            .filter(account::Column::ProviderUserId.eq(provider_user_id))
            .one(&self.store.db)
            .await?
            .map(ScopedAccount::found)
            .transpose()
    }

    pub async fn list(&self, tenant_id: i64) -> Result<Vec<ScopedAccount>, StoreError> {
        account::Entity::find()
            .filter(account::Column::TenantId.eq(tenant_id))
            .order_by_asc(account::Column::Id)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(ScopedAccount::found)
            .collect()
    }

    pub async fn count(&self, tenant_id: i64) -> Result<u64, StoreError> {
        Ok(account::Entity::find()
            .filter(account::Column::TenantId.eq(tenant_id))
            .count(&self.store.db)
            .await?)
    }

    /// Sets (or, with `None`, removes) the account owner's contact address. A new address
    /// gets a new unsubscribe token and is subscribed; the same address keeps its choice.
    pub async fn set_owner_email(
        &self,
        tenant_id: i64,
        id: i64,
        email: Option<String>,
    ) -> Result<ScopedAccount, StoreError> {
        let row = self.row(tenant_id, id).await?;
        if row.owner_email == email {
            return ScopedAccount::found(row);
        }
        let mut active: account::ActiveModel = row.into();
        active.owner_unsubscribe_token = Set(email.as_ref().map(|_| random_id()));
        active.owner_email = Set(email);
        active.owner_unsubscribed_at = Set(None);
        active.updated_at = Set(Utc::now());
        ScopedAccount::found(active.update(&self.store.db).await?)
    }

    /// The account whose owner an unsubscribe link is for, if any.
    pub async fn owner_by_unsubscribe_token(
        &self,
        token: &str,
    ) -> Result<Option<Account>, StoreError> {
        account::Entity::find()
            .filter(account::Column::OwnerUnsubscribeToken.eq(token))
            .one(&self.store.db)
            .await?
            .map(Account::try_from)
            .transpose()
    }

    /// The owner behind an unsubscribe link stops getting e-mail about their account. Returns
    /// the account, or `None` for a token that names none (the address changed since).
    pub async fn unsubscribe_owner(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>, StoreError> {
        let Some(row) = account::Entity::find()
            .filter(account::Column::OwnerUnsubscribeToken.eq(token))
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        if row.owner_unsubscribed_at.is_some() {
            return Account::try_from(row).map(Some);
        }
        let mut active: account::ActiveModel = row.into();
        active.owner_unsubscribed_at = Set(Some(now));
        Account::try_from(active.update(&self.store.db).await?).map(Some)
    }

    pub async fn update_settings(
        &self,
        tenant_id: i64,
        id: i64,
        settings: &AccountSettings,
    ) -> Result<ScopedAccount, StoreError> {
        let mut active: account::ActiveModel = self.row(tenant_id, id).await?.into();
        active.label = Set(settings.label.clone());
        active.allowed_origins = Set(origins_json(&settings.allowed_origins));
        active.allow_localhost = Set(settings.allow_localhost);
        active.is_public = Set(settings.public);
        active.js_constant = Set(settings.js_constant.clone());
        active.refresh_interval = Set(settings.refresh_interval.as_str().to_owned());
        active.updated_at = Set(Utc::now());
        ScopedAccount::found(active.update(&self.store.db).await?)
    }

    /// Gives the account a new public id: its old token URLs stop working at once.
    pub async fn rotate_public_id(
        &self,
        tenant_id: i64,
        id: i64,
    ) -> Result<ScopedAccount, StoreError> {
        let mut active: account::ActiveModel = self.row(tenant_id, id).await?.into();
        active.public_id = Set(random_id());
        active.updated_at = Set(Utc::now());
        ScopedAccount::found(active.update(&self.store.db).await?)
    }

    /// Records where the account stands after a refresh attempt or a tenant's action.
    pub async fn set_status(
        &self,
        id: i64,
        status: AccountStatus,
        last_error: Option<String>,
        next_refresh_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let result = account::Entity::update_many()
            .set(account::ActiveModel {
                status: Set(status.as_str().to_owned()),
                last_error: Set(last_error),
                next_refresh_at: Set(next_refresh_at),
                updated_at: Set(Utc::now()),
                ..Default::default()
            })
            .filter(account::Column::Id.eq(id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Pauses an active account (its token is no longer refreshed or served) or resumes a
    /// paused one, with its next refresh at `resume_refresh_at`. Any other account (one that
    /// needs reconnecting) is left as it is: only a reconnect revives it.
    pub async fn set_paused(
        &self,
        tenant_id: i64,
        id: i64,
        paused: bool,
        resume_refresh_at: Option<DateTime<Utc>>,
    ) -> Result<ScopedAccount, StoreError> {
        let (from, to, next_refresh_at) = if paused {
            (AccountStatus::Active, AccountStatus::Paused, None)
        } else {
            (
                AccountStatus::Paused,
                AccountStatus::Active,
                resume_refresh_at,
            )
        };
        self.update_while(
            tenant_id,
            id,
            from,
            account::ActiveModel {
                status: Set(to.as_str().to_owned()),
                next_refresh_at: Set(next_refresh_at),
                updated_at: Set(Utc::now()),
                ..Default::default()
            },
        )
        .await
    }

    /// Brings an active account's next refresh forward to `at`; other accounts are left alone
    /// (a paused one stays paused, one that needs reconnecting cannot be refreshed).
    pub async fn schedule_refresh(
        &self,
        tenant_id: i64,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<ScopedAccount, StoreError> {
        self.update_while(
            tenant_id,
            id,
            AccountStatus::Active,
            account::ActiveModel {
                next_refresh_at: Set(Some(at)),
                updated_at: Set(Utc::now()),
                ..Default::default()
            },
        )
        .await
    }

    /// Writes `changes` to the account only if its status is still `expected` (checked in the
    /// same statement, so a deauthorize landing meanwhile is never overwritten), and returns
    /// the account as it is afterwards.
    async fn update_while(
        &self,
        tenant_id: i64,
        id: i64,
        expected: AccountStatus,
        changes: account::ActiveModel,
    ) -> Result<ScopedAccount, StoreError> {
        account::Entity::update_many()
            .set(changes)
            .filter(account::Column::Id.eq(id))
            .filter(account::Column::TenantId.eq(tenant_id))
            .filter(account::Column::Status.eq(expected.as_str()))
            .exec(&self.store.db)
            .await?;
        ScopedAccount::found(self.row(tenant_id, id).await?)
    }

    /// Marks every account of this provider user, in every tenant, as needing a reconnect and
    /// deletes its token at once, so nothing more is served or refreshed (the user removed our
    /// app on Instagram). Each account that was not waiting for a reconnect already gets a
    /// reconnect link and `announce`'s announcement, in the same transaction. Returns how many
    /// accounts it touched.
    pub async fn disconnect_provider_user(
        &self,
        kind: AccountKind,
        provider_user_id: &str,
        reason: &str,
        announce: impl Fn(&Account) -> Announcement,
    ) -> Result<u64, StoreError> {
        let txn = self.store.begin_write().await?;
        let rows = account::Entity::find()
            .filter(account::Column::Kind.eq(kind.as_str()))
            .filter(account::Column::ProviderUserId.eq(provider_user_id))
            .all(&txn)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        token::Entity::delete_many()
            .filter(token::Column::AccountId.is_in(ids.clone()))
            .exec(&txn)
            .await?;
        let now = Utc::now();
        account::Entity::update_many()
            .set(account::ActiveModel {
                status: Set(AccountStatus::NeedsReconnect.as_str().to_owned()),
                last_error: Set(Some(reason.to_owned())),
                next_refresh_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(account::Column::Id.is_in(ids.clone()))
            .exec(&txn)
            .await?;
        for row in rows {
            if row.status == AccountStatus::NeedsReconnect.as_str() {
                continue;
            }
            let account = Account::try_from(row)?;
            issue_reconnect_on(
                &txn,
                &self.store.keys,
                account.tenant_id,
                account.id,
                account.kind,
                now,
            )
            .await?;
            enqueue_on(
                &txn,
                account.tenant_id,
                Some(account.id),
                &announce(&account),
                now,
            )
            .await?;
        }
        txn.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Deletes the account and, through the foreign key, its token and history.
    pub async fn delete(&self, tenant_id: i64, id: i64) -> Result<(), StoreError> {
        let result = account::Entity::delete_many()
            .filter(account::Column::Id.eq(id))
            .filter(account::Column::TenantId.eq(tenant_id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Active accounts of every tenant whose refresh is due at `now`, soonest first: plain
    /// records, proving no tenant.
    pub async fn due(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<Account>, StoreError> {
        account::Entity::find()
            .filter(account::Column::Status.eq(AccountStatus::Active.as_str()))
            .filter(account::Column::NextRefreshAt.lte(now))
            .order_by_asc(account::Column::NextRefreshAt)
            .limit(limit)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(Account::try_from)
            .collect()
    }
}
