//! `/api/v1/api-keys`: list, create, rename, delete. LlamaCloud's keys act
//! as their user; Roster's keys belong to an organization and act with a
//! role, so a key made here belongs to `?organization_id=` (default: the
//! caller's default organization) and acts with the creator's own
//! organization role unless `role_id` names another. Managing keys needs
//! Admin or Owner, as in the organization API; they are the same keys.

use super::error::FaError;
use super::extract::{body_loc, Body, Check, FaCaller, PathParams, Query};
use super::projects::project_org;
use crate::app::{App, Caller};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::{need, ApiKeyId, Error, OrgAccess, RoleId, SystemRole};
use roster_store::keys::{KeyInfo, KeyPatch, NewKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, generate_key))
        .routes(routes!(update_existing_api_key, delete_api_key))
}

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    #[schema(format = "uuid")]
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub name: Option<String>,
    /// The creator, when a user made it.
    pub user_id: Option<String>,
    /// Always null: Roster's keys belong to an organization, not a project.
    pub project_id: Option<String>,
    #[schema(format = "uuid")]
    pub organization_id: String,
    /// The role the key acts with.
    #[schema(format = "uuid")]
    pub role_id: String,
    /// The secret's first characters, then asterisks.
    pub redacted_api_key: String,
    /// The whole secret: only in the answer that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

fn key_out(k: &KeyInfo, secret: Option<String>) -> ApiKeyOut {
    ApiKeyOut {
        id: k.id.uuid().to_string(),
        created_at: Some(k.created_at),
        updated_at: Some(k.created_at),
        name: Some(k.name.clone()),
        user_id: k
            .created_by
            .starts_with("usr_")
            .then(|| k.created_by.clone()),
        project_id: None,
        organization_id: k.org_id.uuid().to_string(),
        role_id: k.role_id.uuid().to_string(),
        redacted_api_key: format!("{}{}", k.prefix, "*".repeat(8)),
        api_key: secret,
    }
}

/// Every live key of the organization, newest first.
async fn all_keys(app: &App, access: &OrgAccess<need::Admin>) -> Result<Vec<KeyInfo>, Error> {
    let mut out = Vec::new();
    loop {
        let page = app
            .store
            .list_api_keys(access, out.len() as i64, 500)
            .await?;
        let done = page.items.is_empty() || (out.len() + page.items.len()) as i64 >= page.total;
        out.extend(page.items);
        if done {
            return Ok(out);
        }
    }
}

/// The organization holding `key`: the given one, else the key's own
/// organization when the caller is Admin there (otherwise the key is not
/// found, as if it did not exist).
async fn org_of_key(
    app: &App,
    caller: &Caller,
    q: &Query,
    key: ApiKeyId,
) -> Result<OrgAccess<need::Admin>, FaError> {
    if q.str("organization_id").is_some() {
        return project_org(app, caller, q).await;
    }
    let org = app
        .store
        .api_key_home(key)
        .await?
        .ok_or(Error::ApiKeyNotFound(key))?;
    app.authorize::<need::Admin>(caller, org)
        .map_err(|_| Error::ApiKeyNotFound(key).into())
}

/// List Keys of an organization (Admin or Owner).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "API Keys",
    params(("organization_id" = Option<String>, Query)), responses((status = 200, body = Vec<ApiKeyOut>)))]
async fn list_keys(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    q: Query,
) -> Result<Json<Vec<ApiKeyOut>>, FaError> {
    let access = project_org::<need::Admin>(&app, &caller, &q).await?;
    let keys = all_keys(&app, &access).await?;
    Ok(Json(keys.iter().map(|k| key_out(k, None)).collect()))
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ApiKeyCreate {
    /// A name (default `API key`).
    #[allow(dead_code)]
    name: Option<String>,
    /// The role the key acts with (Roster's extension; default: the creator's own).
    #[allow(dead_code)]
    #[schema(format = "uuid")]
    role_id: Option<String>,
}

/// Generate Key (Admin or Owner): the answer carries the secret, once.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "API Keys",
    params(("organization_id" = Option<String>, Query)), request_body = ApiKeyCreate,
    responses((status = 200, body = ApiKeyOut)))]
async fn generate_key(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    q: Query,
    Body(body): Body,
) -> Result<Json<ApiKeyOut>, FaError> {
    let access = project_org::<need::Admin>(&app, &caller, &q).await?;
    let mut c = Check::new();
    let (mut name, mut role) = (None, None);
    if let Some(o) = c.object(&body, &body_loc()) {
        name = c.string(o, &body_loc(), "name", false, (1, 255));
        role = c.uuid(o, &body_loc(), "role_id", false).map(RoleId);
    }
    c.finish()?;
    let role = match (role, caller.actor.user_id()) {
        (Some(r), _) => r,
        (None, Some(user)) => {
            app.store
                .primary_assignment(&access.as_member(), user)
                .await?
                .role_id
        }
        (None, None) => SystemRole::Member.id(),
    };
    let w = app
        .store
        .create_api_key(
            &caller.ctx,
            &access,
            NewKey {
                name: name.unwrap_or_else(|| "API key".to_owned()),
                role,
                usage_limit: None,
                scopes: None,
                expires_at: None,
                metadata: None,
            },
        )
        .await
        .map_err(|e| FaError::from(e).at("body", &[("key_name", "name")]))?;
    Ok(Json(key_out(&w.value.key, Some(w.value.secret))))
}

/// Update Existing Api Key: renames it (Admin or Owner).
#[utoipa::path(put, path = "/api/v1/api-keys/{api_key_id}", tag = "API Keys",
    params(("api_key_id" = String, Path, description = "A UUID"), ("organization_id" = Option<String>, Query)),
    request_body = ApiKeyCreate, responses((status = 200, body = ApiKeyOut)))]
async fn update_existing_api_key(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    path: PathParams,
    q: Query,
    Body(body): Body,
) -> Result<Json<ApiKeyOut>, FaError> {
    let key = ApiKeyId(path.uuid("api_key_id")?);
    let access = org_of_key(&app, &caller, &q, key).await?;
    let mut c = Check::new();
    let mut patch = KeyPatch::default();
    if let Some(o) = c.object(&body, &body_loc()) {
        patch.name = c.string(o, &body_loc(), "name", false, (1, 255));
        patch.role = c.uuid(o, &body_loc(), "role_id", false).map(RoleId);
    }
    c.finish()?;
    let k = if patch.name.is_none() && patch.role.is_none() {
        app.store.get_api_key(&access, key).await?
    } else {
        app.store
            .update_api_key(&caller.ctx, &access, key, patch)
            .await
            .map_err(|e| FaError::from(e).at("body", &[("key_name", "name")]))?
            .value
    };
    Ok(Json(key_out(&k, None)))
}

/// Delete Api Key: it stops authenticating at once (Admin or Owner).
#[utoipa::path(delete, path = "/api/v1/api-keys/{api_key_id}", tag = "API Keys",
    params(("api_key_id" = String, Path, description = "A UUID"), ("organization_id" = Option<String>, Query)),
    responses((status = 204)))]
async fn delete_api_key(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    path: PathParams,
    q: Query,
) -> Result<impl IntoResponse, FaError> {
    let key = ApiKeyId(path.uuid("api_key_id")?);
    let access = org_of_key(&app, &caller, &q, key).await?;
    app.store.delete_api_key(&caller.ctx, &access, key).await?;
    Ok(StatusCode::NO_CONTENT)
}
