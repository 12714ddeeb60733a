//! Service accounts of projects and their API keys (the admin API's project
//! service accounts and project API keys). A service account has a project
//! role word (`member` or `owner`); its keys are secrets shown once and kept
//! as a SHA-256 and a short prefix. They are not principals of the
//! permission model and their keys authenticate no Roster endpoint: Roster
//! keeps them for the organization's bookkeeping (see docs/admin-api.md).
//! Writes need a live (not archived) project.

use crate::db::{conflict, db_err, now_micros, Tx};
use crate::orgs::json;
use crate::projects::{fetch_project, writable_project, Chunk};
use crate::rows::*;
use crate::{Ctx, Store, Written};
use chrono::{DateTime, Utc};
use roster_core::access::need;
use roster_core::text::bounded;
use roster_core::*;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// A project's service account.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccount {
    pub id: ServiceAccountId,
    pub org_id: OrgId,
    pub project_id: ProjectId,
    pub name: String,
    /// `member` or `owner`.
    pub role: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A service account's API key, without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectKey {
    pub id: ApiKeyId,
    pub project_id: ProjectId,
    pub owner: ServiceAccount,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// A key just made, with its secret (shown once).
#[derive(Debug, Clone)]
pub struct CreatedProjectKey {
    pub key: ProjectKey,
    pub secret: String,
}

/// The fields of a new project API key.
#[derive(Debug, Clone, Default)]
pub struct NewProjectKey {
    /// Default: `Secret key`.
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The roles a service account may have.
pub const SERVICE_ACCOUNT_ROLES: [&str; 2] = ["member", "owner"];

const SA_COLS: &str = "id, org_id, project_id, name, role, created_at, updated_at";

fn account_of(row: &AnyRow) -> Result<ServiceAccount> {
    Ok(ServiceAccount {
        id: ServiceAccountId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        project_id: ProjectId(uuid_of(row, "project_id")?),
        name: str_of(row, "name")?,
        role: str_of(row, "role")?,
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

async fn fetch_account(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
    sa: ServiceAccountId,
) -> Result<ServiceAccount> {
    let row = sqlx::query(&format!(
        "SELECT {SA_COLS} FROM service_accounts WHERE id = $1 AND org_id = $2 AND project_id = $3 AND deleted_at IS NULL"
    ))
    .bind(id(sa))
    .bind(id(org))
    .bind(id(project))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::ServiceAccountNotFound(sa))?;
    account_of(&row)
}

const KEY_SELECT: &str = "SELECT k.id, k.project_id, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, \
    k.last_used_at, s.id AS sa_id, s.org_id AS sa_org, s.project_id AS sa_project, s.name AS sa_name, \
    s.role AS sa_role, s.created_at AS sa_created, s.updated_at AS sa_updated \
    FROM project_api_keys k JOIN service_accounts s ON s.id = k.service_account_id";

fn key_of(row: &AnyRow) -> Result<ProjectKey> {
    let scopes: String = str_of(row, "scopes")?;
    Ok(ProjectKey {
        id: ApiKeyId(uuid_of(row, "id")?),
        project_id: ProjectId(uuid_of(row, "project_id")?),
        owner: ServiceAccount {
            id: ServiceAccountId(uuid_of(row, "sa_id")?),
            org_id: OrgId(uuid_of(row, "sa_org")?),
            project_id: ProjectId(uuid_of(row, "sa_project")?),
            name: str_of(row, "sa_name")?,
            role: str_of(row, "sa_role")?,
            created_at: ts_of(row, "sa_created")?,
            updated_at: ts_of(row, "sa_updated")?,
        },
        name: str_of(row, "name")?,
        prefix: str_of(row, "prefix")?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        created_at: ts_of(row, "created_at")?,
        expires_at: opt_ts_of(row, "expires_at")?,
        last_used_at: opt_ts_of(row, "last_used_at")?,
    })
}

async fn fetch_key(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
    key: ApiKeyId,
) -> Result<ProjectKey> {
    let row = sqlx::query(&format!(
        "{KEY_SELECT} WHERE k.id = $1 AND k.org_id = $2 AND k.project_id = $3 AND k.deleted_at IS NULL"
    ))
    .bind(id(key))
    .bind(id(org))
    .bind(id(project))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::ApiKeyNotFound(key))?;
    key_of(&row)
}

fn check_scopes(scopes: &[String]) -> Result<()> {
    if scopes.len() > 100 || scopes.iter().any(|s| s.trim().is_empty() || s.len() > 200) {
        return Err(Error::validation(
            "scopes",
            "at most 100 scopes of 1 to 200 characters",
        ));
    }
    Ok(())
}

fn check_expiry(at: Option<DateTime<Utc>>) -> Result<()> {
    match at {
        Some(t) if t.timestamp_micros() <= now_micros() => Err(Error::validation(
            "expires_in_seconds",
            "must be in the future",
        )),
        _ => Ok(()),
    }
}

/// Inserts a key for `sa` with a fresh secret.
async fn insert_key(
    tx: &mut Tx,
    sa: &ServiceAccount,
    name: &str,
    scopes: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedProjectKey> {
    let secret = crate::auth::new_secret("sk-svcacct-");
    let prefix: String = secret.chars().take(15).collect();
    let kid = ApiKeyId::new();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO project_api_keys (id, org_id, project_id, service_account_id, name, prefix, secret_hash, scopes, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id(kid))
    .bind(id(sa.org_id))
    .bind(id(sa.project_id))
    .bind(id(sa.id))
    .bind(name)
    .bind(&prefix)
    .bind(crate::auth::hash_secret(&secret))
    .bind(serde_json::Value::from(scopes.to_vec()).to_string())
    .bind(now)
    .bind(expires_at.map(|t| t.timestamp_micros()))
    .execute(tx.conn())
    .await
    .map_err(|e| conflict(e, || Error::internal(std::io::Error::other("key secret collision"))))?;
    let key = ProjectKey {
        id: kid,
        project_id: sa.project_id,
        owner: sa.clone(),
        name: name.to_owned(),
        prefix,
        scopes: scopes.to_vec(),
        created_at: ts(now),
        expires_at: expires_at.map(|t| ts(t.timestamp_micros())),
        last_used_at: None,
    };
    tx.audit(
        Some(sa.org_id),
        "project_api_key.created",
        "project_api_key",
        kid,
        None,
        Some(
            serde_json::json!({"name": name, "scopes": scopes, "project_id": sa.project_id,
            "service_account_id": sa.id.to_string(), "prefix": key.prefix}),
        ),
    );
    Ok(CreatedProjectKey { key, secret })
}

impl Store {
    /// Creates a service account (role `member`) in a live project, with a
    /// first API key unless `with_key` is false.
    pub async fn create_service_account(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        name: &str,
        with_key: bool,
        key_expires_at: Option<DateTime<Utc>>,
    ) -> Result<Written<(ServiceAccount, Option<CreatedProjectKey>)>> {
        let name = bounded("name", name, 1, 255)?;
        check_expiry(key_expires_at)?;
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        writable_project(tx.conn(), org, project).await?;
        let now = now_micros();
        let sa = ServiceAccount {
            id: ServiceAccountId::new(),
            org_id: org,
            project_id: project,
            name,
            role: "member".to_owned(),
            created_at: ts(now),
            updated_at: ts(now),
        };
        sqlx::query(
            "INSERT INTO service_accounts (id, org_id, project_id, name, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id(sa.id))
        .bind(id(org))
        .bind(id(project))
        .bind(&sa.name)
        .bind(&sa.role)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        tx.audit(
            Some(org),
            "service_account.created",
            "service_account",
            sa.id,
            None,
            json(&sa),
        );
        let key = if with_key {
            Some(insert_key(&mut tx, &sa, "Secret key", &[], key_expires_at).await?)
        } else {
            None
        };
        tx.commit(self, (sa, key)).await
    }

    /// A project's live service accounts in id order.
    pub async fn list_service_accounts(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        after: Option<ServiceAccountId>,
        limit: i64,
    ) -> Result<Chunk<ServiceAccount>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, org, project).await?;
        let after = after.map(id).unwrap_or_default();
        let rows = sqlx::query(&format!(
            "SELECT {SA_COLS} FROM service_accounts WHERE org_id = $1 AND project_id = $2 AND deleted_at IS NULL \
             AND id > $3 ORDER BY id LIMIT $4"
        ))
        .bind(id(org))
        .bind(id(project))
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let items = rows.iter().map(account_of).collect::<Result<Vec<_>>>()?;
        Ok(Chunk::of(items, limit))
    }

    pub async fn get_service_account(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        sa: ServiceAccountId,
    ) -> Result<ServiceAccount> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, access.org(), project).await?;
        fetch_account(&mut conn, access.org(), project, sa).await
    }

    /// Renames a service account or changes its role (`member` or `owner`).
    pub async fn update_service_account(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        sa: ServiceAccountId,
        name: Option<&str>,
        role: Option<&str>,
    ) -> Result<Written<ServiceAccount>> {
        let name = name.map(|n| bounded("name", n, 1, 255)).transpose()?;
        if let Some(r) = role {
            if !SERVICE_ACCOUNT_ROLES.contains(&r) {
                return Err(Error::validation("role", "must be member or owner"));
            }
        }
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        writable_project(tx.conn(), org, project).await?;
        let before = fetch_account(tx.conn(), org, project, sa).await?;
        sqlx::query(
            "UPDATE service_accounts SET name = COALESCE($1, name), role = COALESCE($2, role), updated_at = $3 WHERE id = $4",
        )
        .bind(name)
        .bind(role)
        .bind(now_micros())
        .bind(id(sa))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let after = fetch_account(tx.conn(), org, project, sa).await?;
        tx.audit(
            Some(org),
            "service_account.updated",
            "service_account",
            sa,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Deletes a service account and its keys.
    pub async fn delete_service_account(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        sa: ServiceAccountId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        writable_project(tx.conn(), org, project).await?;
        let before = fetch_account(tx.conn(), org, project, sa).await?;
        let now = now_micros();
        sqlx::query("UPDATE project_api_keys SET deleted_at = $1 WHERE service_account_id = $2 AND deleted_at IS NULL")
            .bind(now)
            .bind(id(sa))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE service_accounts SET deleted_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id(sa))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        tx.audit(
            Some(org),
            "service_account.deleted",
            "service_account",
            sa,
            json(&before),
            None,
        );
        tx.commit(self, ()).await
    }

    /// Makes another API key for a service account.
    pub async fn create_project_key(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        sa: ServiceAccountId,
        input: NewProjectKey,
    ) -> Result<Written<CreatedProjectKey>> {
        let name = bounded(
            "name",
            input.name.as_deref().unwrap_or("Secret key"),
            1,
            255,
        )?;
        check_scopes(&input.scopes)?;
        check_expiry(input.expires_at)?;
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        writable_project(tx.conn(), org, project).await?;
        let account = fetch_account(tx.conn(), org, project, sa).await?;
        let created = insert_key(&mut tx, &account, &name, &input.scopes, input.expires_at).await?;
        tx.commit(self, created).await
    }

    /// A project's live API keys in id order.
    pub async fn list_project_keys(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        after: Option<ApiKeyId>,
        limit: i64,
    ) -> Result<Chunk<ProjectKey>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, org, project).await?;
        let rows = sqlx::query(&format!(
            "{KEY_SELECT} WHERE k.org_id = $1 AND k.project_id = $2 AND k.deleted_at IS NULL AND k.id > $3 \
             ORDER BY k.id LIMIT $4"
        ))
        .bind(id(org))
        .bind(id(project))
        .bind(after.map(id).unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let items = rows.iter().map(key_of).collect::<Result<Vec<_>>>()?;
        Ok(Chunk::of(items, limit))
    }

    pub async fn get_project_key(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        key: ApiKeyId,
    ) -> Result<ProjectKey> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, access.org(), project).await?;
        fetch_key(&mut conn, access.org(), project, key).await
    }

    /// Replaces a key's scopes and/or expiry.
    pub async fn update_project_key(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        key: ApiKeyId,
        scopes: Option<&[String]>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Written<ProjectKey>> {
        if let Some(s) = scopes {
            check_scopes(s)?;
        }
        check_expiry(expires_at)?;
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        writable_project(tx.conn(), org, project).await?;
        let before = fetch_key(tx.conn(), org, project, key).await?;
        sqlx::query(
            "UPDATE project_api_keys SET scopes = COALESCE($1, scopes), expires_at = COALESCE($2, expires_at) WHERE id = $3",
        )
        .bind(scopes.map(|s| serde_json::Value::from(s.to_vec()).to_string()))
        .bind(expires_at.map(|t| t.timestamp_micros()))
        .bind(id(key))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let after = fetch_key(tx.conn(), org, project, key).await?;
        tx.audit(
            Some(org),
            "project_api_key.updated",
            "project_api_key",
            key,
            Some(serde_json::json!({"scopes": before.scopes, "project_id": project})),
            Some(serde_json::json!({"scopes": after.scopes, "project_id": project})),
        );
        tx.commit(self, after).await
    }

    /// Deletes a project API key.
    pub async fn delete_project_key(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        key: ApiKeyId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        writable_project(tx.conn(), org, project).await?;
        let before = fetch_key(tx.conn(), org, project, key).await?;
        sqlx::query("UPDATE project_api_keys SET deleted_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(id(key))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        tx.audit(
            Some(org),
            "project_api_key.deleted",
            "project_api_key",
            key,
            Some(serde_json::json!({"name": before.name, "project_id": project})),
            None,
        );
        tx.commit(self, ()).await
    }
}
