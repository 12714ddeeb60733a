//! Admin API keys: the organization API keys of the organization API, the
//! same rows. A key made here acts with the creator's standing: the Owner
//! role for the platform key and for Owners, the creating key's own role for
//! a key, Admin for an Admin's session. It works as soon as it is made and
//! stops the moment it is deleted.

use super::error::AdminError;
use super::extract::{AJson, AQuery, Admin, Order};
use super::ids::{org_role_word, parse};
use super::views::{deleted, list_a, secs, DeletedOut, ListA};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::{need, Actor, ApiKeyId, Error, OrgId, RoleId, SystemRole};
use roster_store::keys::{KeyInfo, NewKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(get_key, delete_key))
}

/// Who made an admin API key.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct KeyOwner {
    /// `user` (a person's session), `api_key` (another key) or `platform`.
    #[serde(rename = "type")]
    kind: &'static str,
    object: Option<&'static str>,
    id: String,
    /// The role the key acts with: `owner`, `reader` or a role id.
    role: String,
}

/// An admin API key (`organization.admin_api_key`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AdminKeyOut {
    /// Always `organization.admin_api_key`.
    object: &'static str,
    id: String,
    name: Option<String>,
    /// The key's first characters and an ellipsis.
    redacted_value: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    owner: KeyOwner,
    /// The secret: only in the answer that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

fn role_word(role: RoleId, org: OrgId) -> String {
    match role.system() {
        Some(SystemRole::Owner | SystemRole::Admin | SystemRole::Member) => {
            org_role_word(role).to_owned()
        }
        _ => super::ids::role_id_out(role, org, None),
    }
}

fn key_out(k: &KeyInfo, value: Option<String>) -> AdminKeyOut {
    let (kind, object) = if k.created_by.starts_with("usr_") {
        ("user", Some("organization.user"))
    } else if k.created_by.starts_with("key_") {
        ("api_key", Some("organization.admin_api_key"))
    } else {
        ("platform", None)
    };
    AdminKeyOut {
        object: "organization.admin_api_key",
        id: k.id.to_string(),
        name: Some(k.name.clone()),
        redacted_value: format!("{}...", k.prefix),
        created_at: secs(k.created_at),
        expires_at: k.expires_at.map(secs),
        last_used_at: k.last_used_at.map(secs),
        owner: KeyOwner {
            kind,
            object,
            id: k.created_by.clone(),
            role: role_word(k.role_id, k.org_id),
        },
        value,
    }
}

/// List the organization's API keys (cursor: the last key's id).
#[utoipa::path(get, path = "/v1/organization/admin_api_keys", tag = "admin: keys",
    params(("after" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = ListA<AdminKeyOut>)))]
async fn list_keys(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::Admin>,
    q: AQuery,
) -> Result<Json<ListA<AdminKeyOut>>, AdminError> {
    let limit = q.limit(20, 1, 100)?;
    let desc = q.order(Order::Asc)? == Order::Desc;
    let after = q
        .one("after")
        .map(|a| {
            ApiKeyId::parse(a)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let page = app.store.key_page(&access, after, limit, desc).await?;
    let data = page.items.iter().map(|k| key_out(k, None)).collect();
    Ok(Json(list_a(
        data,
        |k: &AdminKeyOut| k.id.clone(),
        page.has_more,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateKey {
    /// 1 to 255 characters.
    name: String,
    /// Lifetime in seconds (default: no expiry).
    expires_in_seconds: Option<i64>,
}

/// Create an admin API key; its `value` is shown only here.
#[utoipa::path(post, path = "/v1/organization/admin_api_keys", tag = "admin: keys", request_body = CreateKey,
    responses((status = 200, body = AdminKeyOut)))]
async fn create_key(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::Admin>,
    AJson(b): AJson<CreateKey>,
) -> Result<Json<AdminKeyOut>, AdminError> {
    let expires_at = super::service_accounts::expiry(b.expires_in_seconds)?;
    let org = access.org();
    let role = match &caller.actor {
        Actor::Platform => SystemRole::Owner.id(),
        Actor::OrgKey { role, .. } => *role,
        Actor::User { user } => {
            let owner = app
                .store
                .index()
                .load()
                .org(org)
                .is_some_and(|ix| ix.holds_role(*user, SystemRole::Owner.id()));
            if owner {
                SystemRole::Owner.id()
            } else {
                SystemRole::Admin.id()
            }
        }
    };
    let input = NewKey {
        name: b.name,
        role,
        usage_limit: None,
        scopes: None,
        expires_at,
        metadata: None,
    };
    let w = app
        .store
        .create_api_key(&caller.ctx, &access, input)
        .await
        .map_err(|e| match e {
            Error::Validation(mut v) if v.field == "key_name" => {
                v.field = "name".into();
                Error::Validation(v)
            }
            e => e,
        })?;
    Ok(Json(key_out(&w.value.key, Some(w.value.secret.clone()))))
}

/// Retrieve an admin API key.
#[utoipa::path(get, path = "/v1/organization/admin_api_keys/{key_id}", tag = "admin: keys",
    params(("key_id" = String, Path)), responses((status = 200, body = AdminKeyOut)))]
async fn get_key(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::Admin>,
    Path(raw): Path<String>,
) -> Result<Json<AdminKeyOut>, AdminError> {
    let key: ApiKeyId = parse(&raw, "API key")?;
    let k = app
        .store
        .get_api_key(&access, key)
        .await
        .map_err(|e| AdminError::from(e).echo("API key", &raw))?;
    Ok(Json(key_out(&k, None)))
}

/// Delete an admin API key: it stops working at once.
#[utoipa::path(delete, path = "/v1/organization/admin_api_keys/{key_id}", tag = "admin: keys",
    params(("key_id" = String, Path)), responses((status = 200, body = DeletedOut)))]
async fn delete_key(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::Admin>,
    Path(raw): Path<String>,
) -> Result<Json<DeletedOut>, AdminError> {
    let key: ApiKeyId = parse(&raw, "API key")?;
    app.store
        .delete_api_key(&caller.ctx, &access, key)
        .await
        .map_err(|e| AdminError::from(e).echo("API key", &raw))?;
    Ok(Json(deleted(
        "organization.admin_api_key.deleted",
        Some(raw),
    )))
}
