//! Project service accounts and project API keys (the keys of service
//! accounts). Kept by Roster for bookkeeping: the keys authenticate no Roster
//! endpoint (Roster serves no model API), see docs/admin-api.md.

use super::error::AdminError;
use super::extract::{AJson, AQuery, Admin};
use super::ids::parse;
use super::projects::project_id;
use super::views::{deleted, list_a, secs, DeletedOut, ListA};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::{need, ApiKeyId, Error, ServiceAccountId};
use roster_store::service_accounts::{
    CreatedProjectKey, NewProjectKey, ProjectKey, ServiceAccount,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account, delete_account))
        .routes(routes!(create_account_key))
        .routes(routes!(list_keys))
        .routes(routes!(get_key, update_key, delete_key))
}

fn account_id(raw: &str) -> Result<ServiceAccountId, AdminError> {
    parse(raw, "service account")
}

fn key_id(raw: &str) -> Result<ApiKeyId, AdminError> {
    parse(raw, "API key")
}

/// `expires_in_seconds` → an expiry time; `None` keeps no expiry.
pub(super) fn expiry(secs: Option<i64>) -> Result<Option<DateTime<Utc>>, AdminError> {
    match secs {
        None => Ok(None),
        Some(s) if s > 0 && s <= 10 * 365 * 24 * 3600 => {
            Ok(Some(Utc::now() + chrono::Duration::seconds(s)))
        }
        Some(s) => Err(AdminError::invalid(
            "expires_in_seconds",
            format!("Invalid 'expires_in_seconds': {s}. It must be between 1 and 315360000."),
        )),
    }
}

/// A project service account (`organization.project.service_account`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AccountOut {
    /// Always `organization.project.service_account`.
    object: &'static str,
    id: String,
    name: String,
    /// `member` or `owner`.
    role: String,
    created_at: i64,
    /// The first API key (only when the account is created with one).
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<Option<NewKeyOut>>,
}

fn account_out(a: &ServiceAccount) -> AccountOut {
    AccountOut {
        object: "organization.project.service_account",
        id: a.id.to_string(),
        name: a.name.clone(),
        role: a.role.clone(),
        created_at: secs(a.created_at),
        api_key: None,
    }
}

/// A service account's new API key, with its secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct NewKeyOut {
    /// Always `organization.project.service_account.api_key`.
    object: &'static str,
    id: String,
    name: String,
    value: String,
    created_at: i64,
    expires_at: Option<i64>,
}

fn new_key_out(k: &CreatedProjectKey) -> NewKeyOut {
    NewKeyOut {
        object: "organization.project.service_account.api_key",
        id: k.key.id.to_string(),
        name: k.key.name.clone(),
        value: k.secret.clone(),
        created_at: secs(k.key.created_at),
        expires_at: k.key.expires_at.map(secs),
    }
}

/// List a project's service accounts in id order.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/service_accounts", tag = "admin: service accounts",
    params(("project_id" = String, Path), ("after" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListA<AccountOut>)))]
async fn list_accounts(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListA<AccountOut>>, AdminError> {
    let project = project_id(&raw)?;
    let limit = q.limit(20, 1, 100)?;
    let after = q
        .one("after")
        .map(|a| {
            ServiceAccountId::parse(a)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let page = app
        .store
        .list_service_accounts(&access, project, after, limit)
        .await
        .map_err(|e| AdminError::from(e).echo("project", &raw))?;
    let data = page.items.iter().map(account_out).collect();
    Ok(Json(list_a(
        data,
        |a: &AccountOut| a.id.clone(),
        page.has_more,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateAccount {
    name: String,
    /// `true`: no first API key.
    create_service_account_only: Option<bool>,
    /// Lifetime of the first API key.
    expires_in_seconds: Option<i64>,
}

/// Create a service account, with a first API key (`api.organization.projects.write`).
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/service_accounts", tag = "admin: service accounts",
    params(("project_id" = String, Path)), request_body = CreateAccount,
    responses((status = 200, body = AccountOut)))]
async fn create_account(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path(raw): Path<String>,
    AJson(b): AJson<CreateAccount>,
) -> Result<Json<AccountOut>, AdminError> {
    let project = project_id(&raw)?;
    let expires = expiry(b.expires_in_seconds)?;
    let with_key = !b.create_service_account_only.unwrap_or(false);
    let w = app
        .store
        .create_service_account(&caller.ctx, &access, project, &b.name, with_key, expires)
        .await
        .map_err(|e| AdminError::from(e).echo("project", &raw))?;
    let (account, key) = &w.value;
    let mut out = account_out(account);
    out.api_key = Some(key.as_ref().map(new_key_out));
    Ok(Json(out))
}

/// Retrieve a service account.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/service_accounts/{service_account_id}",
    tag = "admin: service accounts", params(("project_id" = String, Path), ("service_account_id" = String, Path)),
    responses((status = 200, body = AccountOut)))]
async fn get_account(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_sa)): Path<(String, String)>,
) -> Result<Json<AccountOut>, AdminError> {
    let project = project_id(&raw)?;
    let sa = account_id(&raw_sa)?;
    let a = app
        .store
        .get_service_account(&access, project, sa)
        .await
        .map_err(|e| echo(e, &raw, &raw_sa))?;
    Ok(Json(account_out(&a)))
}

/// 404s echo the ids as given.
fn echo(e: Error, raw_project: &str, raw_sa: &str) -> AdminError {
    match e {
        e @ Error::ProjectNotFound(_) => AdminError::from(e).echo("project", raw_project),
        e => AdminError::from(e).echo("service account", raw_sa),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateAccount {
    name: Option<String>,
    /// `member` or `owner`.
    role: Option<String>,
}

/// Rename a service account or change its role.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/service_accounts/{service_account_id}",
    tag = "admin: service accounts", params(("project_id" = String, Path), ("service_account_id" = String, Path)),
    request_body = UpdateAccount, responses((status = 200, body = AccountOut)))]
async fn update_account(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_sa)): Path<(String, String)>,
    AJson(b): AJson<UpdateAccount>,
) -> Result<Json<AccountOut>, AdminError> {
    let project = project_id(&raw)?;
    let sa = account_id(&raw_sa)?;
    let w = app
        .store
        .update_service_account(
            &caller.ctx,
            &access,
            project,
            sa,
            b.name.as_deref(),
            b.role.as_deref(),
        )
        .await
        .map_err(|e| echo(e, &raw, &raw_sa))?;
    Ok(Json(account_out(&w.value)))
}

/// Delete a service account and its keys.
#[utoipa::path(delete, path = "/v1/organization/projects/{project_id}/service_accounts/{service_account_id}",
    tag = "admin: service accounts", params(("project_id" = String, Path), ("service_account_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn delete_account(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_sa)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let project = project_id(&raw)?;
    let sa = account_id(&raw_sa)?;
    app.store
        .delete_service_account(&caller.ctx, &access, project, sa)
        .await
        .map_err(|e| echo(e, &raw, &raw_sa))?;
    Ok(Json(deleted(
        "organization.project.service_account.deleted",
        Some(raw_sa),
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateKey {
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    expires_in_seconds: Option<i64>,
}

/// Make another API key for a service account.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/service_accounts/{service_account_id}/api_keys",
    tag = "admin: service accounts", params(("project_id" = String, Path), ("service_account_id" = String, Path)),
    request_body = CreateKey, responses((status = 200, body = NewKeyOut)))]
async fn create_account_key(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_sa)): Path<(String, String)>,
    AJson(b): AJson<CreateKey>,
) -> Result<Json<NewKeyOut>, AdminError> {
    let project = project_id(&raw)?;
    let sa = account_id(&raw_sa)?;
    let expires = expiry(b.expires_in_seconds)?;
    let w = app
        .store
        .create_project_key(
            &caller.ctx,
            &access,
            project,
            sa,
            NewProjectKey {
                name: b.name,
                scopes: b.scopes,
                expires_at: expires,
            },
        )
        .await
        .map_err(|e| echo(e, &raw, &raw_sa))?;
    Ok(Json(new_key_out(&w.value)))
}

/// A service account owning a project API key.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct KeyOwnerAccount {
    id: String,
    name: String,
    role: String,
    created_at: i64,
}

/// The owner of a project API key: always a service account in Roster.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct KeyOwner {
    /// Always `service_account`.
    #[serde(rename = "type")]
    kind: &'static str,
    service_account: KeyOwnerAccount,
}

/// A project API key (`organization.project.api_key`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProjectKeyOut {
    /// Always `organization.project.api_key`.
    object: &'static str,
    id: String,
    name: String,
    redacted_value: String,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
    /// Always `active`.
    owner_project_access: &'static str,
    owner: KeyOwner,
    scopes: Vec<String>,
}

fn key_out(k: &ProjectKey) -> ProjectKeyOut {
    ProjectKeyOut {
        object: "organization.project.api_key",
        id: k.id.to_string(),
        name: k.name.clone(),
        redacted_value: format!("{}...", k.prefix),
        created_at: secs(k.created_at),
        last_used_at: k.last_used_at.map(secs),
        expires_at: k.expires_at.map(secs),
        owner_project_access: "active",
        owner: KeyOwner {
            kind: "service_account",
            service_account: KeyOwnerAccount {
                id: k.owner.id.to_string(),
                name: k.owner.name.clone(),
                role: k.owner.role.clone(),
                created_at: secs(k.owner.created_at),
            },
        },
        scopes: k.scopes.clone(),
    }
}

/// List a project's API keys in id order (`owner_project_access`: `active`, `inactive` or `any`).
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/api_keys", tag = "admin: service accounts",
    params(("project_id" = String, Path), ("after" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("owner_project_access" = Option<String>, Query)),
    responses((status = 200, body = ListA<ProjectKeyOut>)))]
async fn list_keys(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListA<ProjectKeyOut>>, AdminError> {
    let project = project_id(&raw)?;
    let limit = q.limit(20, 1, 100)?;
    let inactive_only = match q.one("owner_project_access") {
        None | Some("active" | "any") => false,
        Some("inactive") => true,
        Some(v) => {
            return Err(AdminError::invalid(
                "owner_project_access",
                format!(
                    "Invalid 'owner_project_access': '{v}'. It must be active, inactive or any."
                ),
            ))
        }
    };
    let after = q
        .one("after")
        .map(|a| {
            ApiKeyId::parse(a)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let page = app
        .store
        .list_project_keys(&access, project, after, limit)
        .await
        .map_err(|e| AdminError::from(e).echo("project", &raw))?;
    // Service-account owners never lose project access: nothing is inactive.
    let data = if inactive_only {
        Vec::new()
    } else {
        page.items.iter().map(key_out).collect()
    };
    let has_more = page.has_more && !inactive_only;
    Ok(Json(list_a(
        data,
        |k: &ProjectKeyOut| k.id.clone(),
        has_more,
    )))
}

fn echo_key(e: Error, raw_project: &str, raw_key: &str) -> AdminError {
    match e {
        e @ Error::ProjectNotFound(_) => AdminError::from(e).echo("project", raw_project),
        e => AdminError::from(e).echo("API key", raw_key),
    }
}

/// Retrieve a project API key.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/api_keys/{key_id}", tag = "admin: service accounts",
    params(("project_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = ProjectKeyOut)))]
async fn get_key(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_key)): Path<(String, String)>,
) -> Result<Json<ProjectKeyOut>, AdminError> {
    let project = project_id(&raw)?;
    let key = key_id(&raw_key)?;
    let k = app
        .store
        .get_project_key(&access, project, key)
        .await
        .map_err(|e| echo_key(e, &raw, &raw_key))?;
    Ok(Json(key_out(&k)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateKey {
    /// Replaces the scopes (`[]`: all permissions).
    scopes: Option<Vec<String>>,
    expires_in_seconds: Option<i64>,
}

/// Change a project API key's scopes or expiry (at least one).
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/api_keys/{key_id}", tag = "admin: service accounts",
    params(("project_id" = String, Path), ("key_id" = String, Path)), request_body = UpdateKey,
    responses((status = 200, body = ProjectKeyOut)))]
async fn update_key(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_key)): Path<(String, String)>,
    AJson(b): AJson<UpdateKey>,
) -> Result<Json<ProjectKeyOut>, AdminError> {
    let project = project_id(&raw)?;
    let key = key_id(&raw_key)?;
    if b.scopes.is_none() && b.expires_in_seconds.is_none() {
        return Err(AdminError::missing("scopes"));
    }
    let expires = expiry(b.expires_in_seconds)?;
    let w = app
        .store
        .update_project_key(
            &caller.ctx,
            &access,
            project,
            key,
            b.scopes.as_deref(),
            expires,
        )
        .await
        .map_err(|e| echo_key(e, &raw, &raw_key))?;
    Ok(Json(key_out(&w.value)))
}

/// Delete a project API key.
#[utoipa::path(delete, path = "/v1/organization/projects/{project_id}/api_keys/{key_id}", tag = "admin: service accounts",
    params(("project_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn delete_key(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_key)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let project = project_id(&raw)?;
    let key = key_id(&raw_key)?;
    app.store
        .delete_project_key(&caller.ctx, &access, project, key)
        .await
        .map_err(|e| echo_key(e, &raw, &raw_key))?;
    Ok(Json(deleted(
        "organization.project.api_key.deleted",
        Some(raw_key),
    )))
}
