use chrono::{DateTime, Utc};
use freshtoken_core::{Role, SignupMode};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use crate::entity::{invite, membership, tenant, user};
use crate::error::{Duplicate, StoreError, duplicate_as};
use crate::{Backend, InviteRefused, Store, Tenant};

/// The advisory lock sign-ups take on PostgreSQL ("ftsignup" in ASCII), so that the count of
/// users and the insert are one decision.
const SIGNUP_LOCK: i64 = 0x6674_7369_676e_7570;

pub type User = user::Model;

pub struct NewUser {
    pub email: String,
    /// An argon2id PHC string; the store never sees a password.
    pub password_hash: String,
    pub name: String,
    pub is_operator: bool,
}

/// Someone joining the instance: the user, and where they land.
#[derive(Debug, Clone)]
pub struct SignUp {
    pub email: String,
    /// An argon2id PHC string, hashed before the sign-up's transaction opens.
    pub password_hash: String,
    pub name: String,
    /// Who may join: the instance's sign-up mode, or `None` when the operator creates the user
    /// (`freshtoken admin create-user`), which no mode refuses.
    pub mode: Option<SignupMode>,
    /// The operator asks for another operator; the first user of an instance is one anyway.
    pub operator: bool,
    pub joining: Joining,
}

/// Where a new user lands.
#[derive(Debug, Clone)]
pub enum Joining {
    /// A workspace of their own, as owner, under the first of `slugs` that is free.
    NewWorkspace { name: String, slugs: Vec<String> },
    /// The workspace of the invitation whose secret hashes to this, with its role.
    Invite { secret_sha256: String },
    /// An existing workspace, as owner (the operator's choice).
    Workspace { tenant_id: i64 },
    /// No workspace.
    Nowhere,
}

/// A user who has just joined, and the workspace they landed in.
#[derive(Debug, Clone)]
pub struct SignedUp {
    pub user: User,
    pub tenant: Option<Tenant>,
}

/// Why a sign-up was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignUpRefused {
    #[error("sign-up is closed on this instance")]
    Closed,
    #[error("sign-up on this instance needs an invitation")]
    InviteNeeded,
    #[error(transparent)]
    Invite(InviteRefused),
    #[error("every slug offered for the new workspace is taken")]
    NoFreeSlug,
}

pub struct Users<'a> {
    store: &'a Store,
}

/// E-mail addresses are compared case-insensitively: stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl<'a> Users<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Users { store }
    }

    pub async fn create(&self, new: NewUser) -> Result<User, StoreError> {
        user::ActiveModel {
            email: Set(normalize_email(&new.email)),
            password_hash: Set(new.password_hash),
            name: Set(new.name),
            is_operator: Set(new.is_operator),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&self.store.db)
        .await
        .map_err(duplicate_as(Duplicate::Email))
    }

    /// Signs someone up: decides whether they may join and whether they run the instance, and
    /// writes the user, their workspace or invitation, and their membership, all in one
    /// transaction that holds the database's sign-up lock (an advisory lock on PostgreSQL,
    /// SQLite's write lock), so that however many race on a fresh instance exactly one becomes
    /// its operator, and a closed or invite-only instance admits no one past its first user.
    ///
    /// The first user of an instance always may join and always runs it; after that `mode`
    /// decides. A taken e-mail address is `Err(Duplicate(Email))`.
    pub async fn sign_up(
        &self,
        new: SignUp,
    ) -> Result<Result<SignedUp, SignUpRefused>, StoreError> {
        let txn = match self.store.backend() {
            Backend::Postgres => {
                let txn = self.store.db.begin().await?;
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SIGNUP_LOCK})"))
                    .await?;
                txn
            }
            Backend::Sqlite => self.store.begin_write().await?,
        };
        let now = Utc::now();
        let first = user::Entity::find().count(&txn).await? == 0;
        if let Some(refused) = refusal(first, new.mode, &new.joining) {
            return Ok(Err(refused));
        }
        let user = user::ActiveModel {
            email: Set(normalize_email(&new.email)),
            password_hash: Set(new.password_hash),
            name: Set(new.name),
            // The first user of a fresh instance runs it.
            is_operator: Set(new.operator || first),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(duplicate_as(Duplicate::Email))?;
        let (tenant_id, role) = match new.joining {
            Joining::NewWorkspace { name, slugs } => {
                let Some(tenant) = create_tenant(&txn, &name, &slugs).await? else {
                    return Ok(Err(SignUpRefused::NoFreeSlug));
                };
                (Some(tenant.id), Role::Owner)
            }
            Joining::Invite { secret_sha256 } => {
                match claim_invite(&txn, &secret_sha256, user.id, now).await? {
                    Ok(invite) => (Some(invite.tenant_id), invite.role.parse()?),
                    Err(refused) => return Ok(Err(SignUpRefused::Invite(refused))),
                }
            }
            Joining::Workspace { tenant_id } => (Some(tenant_id), Role::Owner),
            Joining::Nowhere => (None, Role::Owner),
        };
        let tenant = match tenant_id {
            Some(tenant_id) => {
                membership::ActiveModel {
                    tenant_id: Set(tenant_id),
                    user_id: Set(user.id),
                    role: Set(role.as_str().to_owned()),
                    created_at: Set(now),
                }
                .insert(&txn)
                .await
                .map_err(duplicate_as(Duplicate::Membership))?;
                Some(
                    tenant::Entity::find_by_id(tenant_id)
                        .one(&txn)
                        .await?
                        .ok_or(StoreError::NotFound)?,
                )
            }
            None => None,
        };
        txn.commit().await?;
        Ok(Ok(SignedUp { user, tenant }))
    }

    /// Whether [`Users::sign_up`] would refuse for the instance's mode, read without taking the
    /// sign-up lock: a cheap early answer before hashing a password. Only `sign_up` decides.
    pub async fn sign_up_refusal(
        &self,
        mode: Option<SignupMode>,
        joining: &Joining,
    ) -> Result<Option<SignUpRefused>, StoreError> {
        let first = user::Entity::find().count(&self.store.db).await? == 0;
        Ok(refusal(first, mode, joining))
    }

    /// Whether nobody has signed up yet: the next to sign up runs the instance.
    pub async fn none_yet(&self) -> Result<bool, StoreError> {
        Ok(user::Entity::find().one(&self.store.db).await?.is_none())
    }

    pub async fn by_id(&self, id: i64) -> Result<User, StoreError> {
        user::Entity::find_by_id(id)
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub async fn by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(normalize_email(email)))
            .one(&self.store.db)
            .await?)
    }

    pub async fn count(&self) -> Result<u64, StoreError> {
        Ok(user::Entity::find().count(&self.store.db).await?)
    }

    pub async fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(&self.store.db)
            .await?)
    }

    pub async fn record_login(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.update(id, |user| user.last_login_at = Set(Some(at)))
            .await
    }

    pub async fn set_password_hash(
        &self,
        id: i64,
        password_hash: String,
    ) -> Result<(), StoreError> {
        self.update(id, |user| user.password_hash = Set(password_hash))
            .await
    }

    pub async fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        let at = disabled.then(Utc::now);
        self.update(id, |user| user.disabled_at = Set(at)).await
    }

    pub async fn set_operator(&self, id: i64, is_operator: bool) -> Result<(), StoreError> {
        self.update(id, |user| user.is_operator = Set(is_operator))
            .await
    }

    async fn update(
        &self,
        id: i64,
        change: impl FnOnce(&mut user::ActiveModel),
    ) -> Result<(), StoreError> {
        let mut active = user::ActiveModel {
            id: Set(id),
            ..Default::default()
        };
        change(&mut active);
        let result = user::Entity::update_many()
            .set(active)
            .filter(user::Column::Id.eq(id))
            .exec(&self.store.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// The instance's rule: its first user may always join; after that the mode decides.
fn refusal(first: bool, mode: Option<SignupMode>, joining: &Joining) -> Option<SignUpRefused> {
    match mode {
        _ if first => None,
        Some(SignupMode::Closed) => Some(SignUpRefused::Closed),
        Some(SignupMode::Invite) if !matches!(joining, Joining::Invite { .. }) => {
            Some(SignUpRefused::InviteNeeded)
        }
        _ => None,
    }
}

/// Creates the workspace under the first free slug of `slugs`, each tried in a savepoint so
/// that a taken one does not abort the transaction (PostgreSQL would).
async fn create_tenant(
    txn: &DatabaseTransaction,
    name: &str,
    slugs: &[String],
) -> Result<Option<Tenant>, StoreError> {
    for slug in slugs {
        let savepoint = txn.begin().await?;
        let created = tenant::ActiveModel {
            name: Set(name.to_owned()),
            slug: Set(slug.clone()),
            max_accounts: Set(None),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&savepoint)
        .await
        .map_err(duplicate_as(Duplicate::TenantSlug));
        match created {
            Ok(tenant) => {
                savepoint.commit().await?;
                return Ok(Some(tenant));
            }
            Err(StoreError::Duplicate(Duplicate::TenantSlug)) => savepoint.rollback().await?,
            Err(other) => return Err(other),
        }
    }
    Ok(None)
}

/// Marks the invitation used by `user_id`, unless it is unknown, used or expired. The
/// `used_at IS NULL` condition makes it single-use even against another transaction.
async fn claim_invite(
    txn: &DatabaseTransaction,
    secret_sha256: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Result<invite::Model, InviteRefused>, StoreError> {
    let Some(found) = invite::Entity::find()
        .filter(invite::Column::SecretSha256.eq(secret_sha256))
        .one(txn)
        .await?
    else {
        return Ok(Err(InviteRefused::Unknown));
    };
    if found.used_at.is_some() {
        return Ok(Err(InviteRefused::Used));
    }
    if found.expires_at <= now {
        return Ok(Err(InviteRefused::Expired));
    }
    let claimed = invite::Entity::update_many()
        .set(invite::ActiveModel {
            used_at: Set(Some(now)),
            used_by: Set(Some(user_id)),
            ..Default::default()
        })
        .filter(invite::Column::Id.eq(found.id))
        .filter(invite::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(Err(InviteRefused::Used));
    }
    Ok(Ok(found))
}
