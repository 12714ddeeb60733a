//! Organization API keys: a secret for machine callers that acts inside its
//! organization with one role. Only a SHA-256 of the secret and a short
//! prefix are stored; the secret itself exists once, in the response that
//! creates (or rotates) the key. Deleting is soft, and every refusal takes
//! effect at once because `Store::authenticate` reads the row on each request.

use crate::db::{conflict, db_err, now_micros, Tx};
use crate::rows::*;
use crate::{Ctx, Page, Store, Written};
use chrono::{DateTime, Utc};
use roster_core::access::need;
use roster_core::text::bounded;
use roster_core::*;
use serde_json::{json, Value};
use sqlx::any::AnyRow;

pub(crate) const KEY_COLS: &str =
    "id, org_id, name, prefix, role_id, is_active, is_paused, scopes, metadata, usage_limit, \
    created_by, created_at, last_used_at, expires_at";

/// How many characters of the secret are kept to recognise a key (`ak_` + 7).
const PREFIX_LEN: usize = 10;

/// An organization API key, without its secret.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub name: String,
    pub prefix: String,
    pub role_id: RoleId,
    pub is_active: bool,
    /// A paused key authenticates nothing until unpaused (401 `API_KEY_PAUSED`).
    pub is_paused: bool,
    pub scopes: Vec<String>,
    pub metadata: Value,
    pub usage_limit: Option<f64>,
    /// Who created it, spelled as audit events spell actors (`usr_…`, `key_…`, `platform`).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl KeyInfo {
    /// What audit events record of a key: never the secret or its hash.
    fn audit_json(&self) -> Value {
        json!({
            "key_name": self.name,
            "key_prefix": self.prefix,
            "role_id": self.role_id.to_string(),
            "is_active": self.is_active,
            "is_paused": self.is_paused,
            "scopes": self.scopes,
            "metadata": self.metadata,
            "usage_limit_chf": self.usage_limit,
            "expires_at": self.expires_at,
        })
    }
}

/// A key just made, with its secret (to be shown once).
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: KeyInfo,
    pub secret: String,
}

/// The fields of a new key.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: String,
    pub role: RoleId,
    pub usage_limit: Option<f64>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// A key's on/off switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySwitch {
    /// `is_active`: activate / deactivate.
    Active,
    /// `is_paused`: pause / unpause.
    Paused,
}

/// A partial update: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub role: Option<RoleId>,
    pub usage_limit: Option<f64>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
}

pub(crate) fn key_of(row: &AnyRow) -> Result<KeyInfo> {
    use sqlx::Row;
    let scopes: String = str_of(row, "scopes")?;
    let metadata: String = str_of(row, "metadata")?;
    Ok(KeyInfo {
        id: ApiKeyId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        name: str_of(row, "name")?,
        prefix: str_of(row, "prefix")?,
        role_id: RoleId(uuid_of(row, "role_id")?),
        is_active: bool_of(row, "is_active")?,
        is_paused: bool_of(row, "is_paused")?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        metadata: serde_json::from_str(&metadata).unwrap_or_else(|_| json!({})),
        usage_limit: row
            .try_get::<Option<f64>, _>("usage_limit")
            .map_err(db_err)?,
        created_by: opt_str_of(row, "created_by")?.unwrap_or_default(),
        created_at: ts_of(row, "created_at")?,
        last_used_at: opt_ts_of(row, "last_used_at")?,
        expires_at: opt_ts_of(row, "expires_at")?,
    })
}

fn check_name(name: &str) -> Result<String> {
    Ok(bounded("key_name", name, 1, 255)?)
}

fn check_limit(limit: Option<f64>) -> Result<()> {
    match limit {
        Some(v) if !(0.0..=1e12).contains(&v) => Err(Error::validation(
            "usage_limit_chf",
            "must be between 0 and 10^12",
        )),
        _ => Ok(()),
    }
}

fn check_scopes(scopes: &[String]) -> Result<()> {
    if scopes.len() > 100 {
        return Err(Error::validation("scopes", "at most 100 scopes"));
    }
    if scopes
        .iter()
        .any(|s| s.trim().is_empty() || s.chars().count() > 200)
    {
        return Err(Error::validation(
            "scopes",
            "every scope must be 1 to 200 characters",
        ));
    }
    Ok(())
}

fn check_expiry(at: Option<DateTime<Utc>>) -> Result<()> {
    match at {
        Some(t) if t.timestamp_micros() <= now_micros() => {
            Err(Error::validation("expires_at", "must be in the future"))
        }
        _ => Ok(()),
    }
}

/// A caller may hand a role to someone else (an invitee, a key) only when it
/// holds everything the role allows, and the Owner role only when it is an
/// Owner itself: otherwise inviting or minting a key would be a way up.
/// The role must be an organization role of `org` (system or custom).
pub(crate) async fn require_grantable(
    store: &Store,
    tx: &mut Tx,
    actor: &Actor,
    org: OrgId,
    role: RoleId,
) -> Result<()> {
    let r = crate::roles::fetch_role_for_scope(tx.conn(), org, role, Scope::Organization).await?;
    store.may_change_holders(actor, org, &r, true)
}

async fn fetch_key(tx: &mut Tx, org: OrgId, key: ApiKeyId) -> Result<KeyInfo> {
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLS} FROM api_keys WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    ))
    .bind(id(key))
    .bind(id(org))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?
    .ok_or(Error::ApiKeyNotFound(key))?;
    key_of(&row)
}

/// Inserts a key with a fresh secret.
async fn insert_key(tx: &mut Tx, org: OrgId, k: &NewKey) -> Result<CreatedKey> {
    let secret = crate::auth::new_api_key();
    let prefix: String = secret.chars().take(PREFIX_LEN).collect();
    let kid = ApiKeyId::new();
    let now = now_micros();
    let scopes = k.scopes.clone().unwrap_or_default();
    let metadata = Value::Object(k.metadata.clone().unwrap_or_default());
    let created_by = tx.ctx.actor.audit_name();
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, role_id, is_active, scopes, metadata, usage_limit, \
         created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(id(kid))
    .bind(id(org))
    .bind(&k.name)
    .bind(&prefix)
    .bind(crate::auth::hash_secret(&secret))
    .bind(id(k.role))
    .bind(true)
    .bind(Value::from(scopes.clone()).to_string())
    .bind(metadata.to_string())
    .bind(k.usage_limit)
    .bind(&created_by)
    .bind(now)
    .bind(k.expires_at.map(|t| t.timestamp_micros()))
    .execute(tx.conn())
    .await
    .map_err(|e| conflict(e, || Error::internal(std::io::Error::other("API key secret collision"))))?;
    Ok(CreatedKey {
        key: KeyInfo {
            id: kid,
            org_id: org,
            name: k.name.clone(),
            prefix,
            role_id: k.role,
            is_active: true,
            is_paused: false,
            scopes,
            metadata,
            usage_limit: k.usage_limit,
            created_by,
            created_at: ts(now),
            last_used_at: None,
            expires_at: k.expires_at.map(|t| ts(t.timestamp_micros())),
        },
        secret,
    })
}

impl Store {
    /// Creates a key acting with `input.role` (Admin or Owner; the caller must
    /// hold what the role allows). The secret is in the result, and nowhere else.
    pub async fn create_api_key(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        mut input: NewKey,
    ) -> Result<Written<CreatedKey>> {
        input.name = check_name(&input.name)?;
        check_limit(input.usage_limit)?;
        check_scopes(input.scopes.as_deref().unwrap_or_default())?;
        check_expiry(input.expires_at)?;
        if input
            .metadata
            .as_ref()
            .is_some_and(|m| Value::Object(m.clone()).to_string().len() > 16 * 1024)
        {
            return Err(Error::validation(
                "metadata",
                "must be at most 16 KiB of JSON",
            ));
        }
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        require_grantable(self, &mut tx, access.actor(), org, input.role).await?;
        let created = insert_key(&mut tx, org, &input).await?;
        tx.audit(
            Some(org),
            "api_key.created",
            "api_key",
            created.key.id,
            None,
            Some(created.key.audit_json()),
        );
        tx.commit(self, created).await
    }

    /// Live keys of the organization, newest first.
    pub async fn list_api_keys(
        &self,
        access: &OrgAccess<need::Admin>,
        skip: i64,
        take: i64,
    ) -> Result<Page<KeyInfo>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE org_id = $1 AND deleted_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(id(access.org()))
        .bind(take)
        .bind(skip)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let total = sqlx::query(
            "SELECT COUNT(*) AS n FROM api_keys WHERE org_id = $1 AND deleted_at IS NULL",
        )
        .bind(id(access.org()))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(Page {
            items: rows.iter().map(key_of).collect::<Result<_>>()?,
            total: i64_of(&total, "n")?,
        })
    }

    /// The live organization a live organization key belongs to, for routing a
    /// request that names only the key. It grants nothing: the caller must
    /// still be authorized in that organization.
    pub async fn api_key_home(&self, key: ApiKeyId) -> Result<Option<OrgId>> {
        let row = sqlx::query(
            "SELECT k.org_id FROM api_keys k JOIN organizations o ON o.id = k.org_id \
             WHERE k.id = $1 AND k.deleted_at IS NULL AND o.deleted_at IS NULL",
        )
        .bind(id(key))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| uuid_of(&r, "org_id").map(OrgId)).transpose()
    }

    pub async fn get_api_key(
        &self,
        access: &OrgAccess<need::Admin>,
        key: ApiKeyId,
    ) -> Result<KeyInfo> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
        ))
        .bind(id(key))
        .bind(id(access.org()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(Error::ApiKeyNotFound(key))?;
        key_of(&row)
    }

    /// Renames, re-limits, re-scopes, re-dates or re-roles a key.
    pub async fn update_api_key(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        key: ApiKeyId,
        patch: KeyPatch,
    ) -> Result<Written<KeyInfo>> {
        let name = patch.name.as_deref().map(check_name).transpose()?;
        check_limit(patch.usage_limit)?;
        if let Some(s) = &patch.scopes {
            check_scopes(s)?;
        }
        check_expiry(patch.expires_at)?;
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        let before = fetch_key(&mut tx, org, key).await?;
        if let Some(role) = patch.role {
            require_grantable(self, &mut tx, access.actor(), org, role).await?;
        }
        tx.credentials_changed();
        sqlx::query(
            "UPDATE api_keys SET name = COALESCE($1, name), role_id = COALESCE($2, role_id), \
             usage_limit = COALESCE($3, usage_limit), scopes = COALESCE($4, scopes), expires_at = COALESCE($5, expires_at) \
             WHERE id = $6",
        )
        .bind(name)
        .bind(patch.role.map(id))
        .bind(patch.usage_limit)
        .bind(patch.scopes.map(|s| Value::from(s).to_string()))
        .bind(patch.expires_at.map(|t| t.timestamp_micros()))
        .bind(id(key))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let after = fetch_key(&mut tx, org, key).await?;
        tx.audit(
            Some(org),
            "api_key.updated",
            "api_key",
            key,
            Some(before.audit_json()),
            Some(after.audit_json()),
        );
        tx.commit(self, after).await
    }

    /// Turns a key on or off (`Switch::Active`), or pauses and unpauses it
    /// (`Switch::Paused`); an inactive or paused key authenticates nothing,
    /// from the next request on (here and on every replica).
    pub async fn set_api_key_switch(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        key: ApiKeyId,
        switch: KeySwitch,
        on: bool,
    ) -> Result<Written<KeyInfo>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        let before = fetch_key(&mut tx, org, key).await?;
        tx.credentials_changed();
        let (column, action, was) = match (switch, on) {
            (KeySwitch::Active, true) => ("is_active", "api_key.activated", before.is_active),
            (KeySwitch::Active, false) => ("is_active", "api_key.deactivated", before.is_active),
            (KeySwitch::Paused, true) => ("is_paused", "api_key.paused", before.is_paused),
            (KeySwitch::Paused, false) => ("is_paused", "api_key.unpaused", before.is_paused),
        };
        sqlx::query(&format!("UPDATE api_keys SET {column} = $1 WHERE id = $2"))
            .bind(on)
            .bind(id(key))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        let after = fetch_key(&mut tx, org, key).await?;
        tx.audit(
            Some(org),
            action,
            "api_key",
            key,
            Some(json!({ column: was })),
            Some(json!({ column: on })),
        );
        tx.commit(self, after).await
    }

    /// Soft-deletes a key: it stops authenticating at once and leaves every listing.
    pub async fn delete_api_key(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        key: ApiKeyId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        let before = fetch_key(&mut tx, org, key).await?;
        soft_delete(&mut tx, key).await?;
        tx.audit(
            Some(org),
            "api_key.deleted",
            "api_key",
            key,
            Some(before.audit_json()),
            None,
        );
        tx.commit(self, ()).await
    }

    /// Replaces a key by a new one with the same settings (the old one is
    /// deleted in the same transaction, so exactly one of them works at any time).
    pub async fn rotate_api_key(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        key: ApiKeyId,
    ) -> Result<Written<CreatedKey>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        let old = fetch_key(&mut tx, org, key).await?;
        // The rotating caller becomes the new key's creator, so it must be
        // allowed to hand out the key's role itself.
        require_grantable(self, &mut tx, access.actor(), org, old.role_id).await?;
        soft_delete(&mut tx, key).await?;
        let metadata = match &old.metadata {
            Value::Object(m) => Some(m.clone()),
            _ => None,
        };
        let new = NewKey {
            name: old.name.clone(),
            role: old.role_id,
            usage_limit: old.usage_limit,
            scopes: Some(old.scopes.clone()),
            expires_at: old.expires_at,
            metadata,
        };
        let mut created = insert_key(&mut tx, org, &new).await?;
        if !old.is_active || old.is_paused {
            sqlx::query("UPDATE api_keys SET is_active = $1, is_paused = $2 WHERE id = $3")
                .bind(old.is_active)
                .bind(old.is_paused)
                .bind(id(created.key.id))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
            created.key.is_active = old.is_active;
            created.key.is_paused = old.is_paused;
        }
        tx.audit(
            Some(org),
            "api_key.rotated",
            "api_key",
            key,
            Some(old.audit_json()),
            Some(
                json!({"new_key_id": created.key.id.to_string(), "key_prefix": created.key.prefix}),
            ),
        );
        tx.audit(
            Some(org),
            "api_key.created",
            "api_key",
            created.key.id,
            None,
            Some(created.key.audit_json()),
        );
        tx.commit(self, created).await
    }
}

async fn soft_delete(tx: &mut Tx, key: ApiKeyId) -> Result<()> {
    tx.credentials_changed();
    sqlx::query(
        "UPDATE api_keys SET deleted_at = $1, is_active = $2 WHERE id = $3 AND deleted_at IS NULL",
    )
    .bind(now_micros())
    .bind(false)
    .bind(id(key))
    .execute(tx.conn())
    .await
    .map_err(db_err)?;
    Ok(())
}
