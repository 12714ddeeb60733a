//! Organization roles: the predefined organization roles and the
//! organization's custom roles, the same roles the organization API shows.
//! A role's `permissions` are keys of the shared catalogue (capabilities,
//! admin API keys, keys the organization defined).

use super::error::AdminError;
use super::extract::{nullable, AJson, AQuery, Admin, Order};
use super::ids::parse_role;
use super::views::{deleted, list_b, page_after, role_out, DeletedOut, ListB, RoleOut};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::{need, Error, OrgId, ProjectId, Role, RoleId};
use roster_store::roles::{NewRole, RolePatch};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}

/// Store field names as this dialect names them.
pub(super) fn rename_fields(e: Error) -> Error {
    match e {
        Error::Validation(mut v) => {
            v.field = match v.field.as_str() {
                "name" => "role_name",
                "capabilities" | "denied_capabilities" => "permissions",
                f => f,
            }
            .to_owned();
            Error::Validation(v)
        }
        e => e,
    }
}

/// Pages roles (already in id order) for an RBAC list: `after`, `limit`
/// 0–1000 (default 1000), `order` (default asc).
pub(super) fn role_list(
    roles: Vec<Role>,
    q: &AQuery,
    org: OrgId,
    project: Option<ProjectId>,
) -> Result<ListB<RoleOut>, AdminError> {
    let limit = q.limit(1000, 0, 1000)?;
    let desc = q.order(Order::Asc)? == Order::Desc;
    let after = q
        .one("after")
        .map(|a| {
            parse_role(a, org, project)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let mut roles = roles;
    roles.sort_by_key(|r| r.id);
    if desc {
        roles.reverse();
    }
    let (items, has_more) = page_after(roles, |r| r.id, after, desc, limit);
    let data: Vec<RoleOut> = items.iter().map(|r| role_out(r, org, project)).collect();
    let cursor = data.last().map(|r| r.id.clone());
    Ok(list_b(data, cursor, has_more))
}

/// List the organization roles (predefined first, then custom roles by creation).
#[utoipa::path(get, path = "/v1/organization/roles", tag = "admin: roles",
    params(("after" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "0 to 1000, default 1000"),
        ("order" = Option<String>, Query, description = "asc (default) or desc")),
    responses((status = 200, body = ListB<RoleOut>)))]
async fn list_roles(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    q: AQuery,
) -> Result<Json<ListB<RoleOut>>, AdminError> {
    let roles: Vec<Role> = app.store.list_roles(&access, true).await?;
    Ok(Json(role_list(roles, &q, access.org(), None)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateRole {
    /// Unique in the organization (1 to 100 characters).
    pub role_name: String,
    /// Keys of the catalogue the role allows.
    pub permissions: Vec<String>,
    pub description: Option<String>,
}

/// Create a custom organization role (`manage_roles`; only keys the caller holds).
#[utoipa::path(post, path = "/v1/organization/roles", tag = "admin: roles", request_body = CreateRole,
    responses((status = 200, body = RoleOut)))]
async fn create_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageRoles>,
    AJson(b): AJson<CreateRole>,
) -> Result<Json<RoleOut>, AdminError> {
    let input = NewRole {
        name: b.role_name,
        description: b.description,
        allow: b.permissions,
        deny: Vec::new(),
        project: None,
    };
    let w = app
        .store
        .create_role(&caller.ctx, &access, input)
        .await
        .map_err(rename_fields)?;
    Ok(Json(role_out(&w.value, access.org(), None)))
}

/// Retrieve an organization role.
#[utoipa::path(get, path = "/v1/organization/roles/{role_id}", tag = "admin: roles",
    params(("role_id" = String, Path)), responses((status = 200, body = RoleOut)))]
async fn get_role(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
) -> Result<Json<RoleOut>, AdminError> {
    let role = parse_role(&raw, access.org(), None)?;
    let r = app
        .store
        .get_role(&access, role)
        .await
        .map_err(|e| AdminError::from(e).echo("role", &raw))?;
    Ok(Json(role_out(&r, access.org(), None)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateRole {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub role_name: Option<Option<String>>,
    /// Replaces the allowed keys.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub permissions: Option<Option<Vec<String>>>,
    /// `null` clears the description.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

impl UpdateRole {
    /// Absent or `null` name and permissions leave them unchanged; a `null`
    /// description clears it.
    pub fn patch(self) -> RolePatch {
        RolePatch {
            name: self.role_name.flatten(),
            description: self.description,
            allow: self.permissions.flatten(),
            deny: None,
        }
    }
}

/// Update a custom organization role (predefined roles are immutable).
#[utoipa::path(post, path = "/v1/organization/roles/{role_id}", tag = "admin: roles",
    params(("role_id" = String, Path)), request_body = UpdateRole,
    responses((status = 200, body = RoleOut)))]
async fn update_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageRoles>,
    Path(raw): Path<String>,
    AJson(b): AJson<UpdateRole>,
) -> Result<Json<RoleOut>, AdminError> {
    let role = parse_role(&raw, access.org(), None)?;
    let w = app
        .store
        .update_role(&caller.ctx, &access, role, b.patch())
        .await
        .map_err(|e| AdminError::from(rename_fields(e)).echo("role", &raw))?;
    Ok(Json(role_out(&w.value, access.org(), None)))
}

/// Delete a custom organization role with its assignments.
#[utoipa::path(delete, path = "/v1/organization/roles/{role_id}", tag = "admin: roles",
    params(("role_id" = String, Path)), responses((status = 200, body = DeletedOut)))]
async fn delete_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageRoles>,
    Path(raw): Path<String>,
) -> Result<Json<DeletedOut>, AdminError> {
    let role: RoleId = parse_role(&raw, access.org(), None)?;
    app.store
        .delete_role(&caller.ctx, &access, role, true)
        .await
        .map_err(|e| AdminError::from(e).echo("role", &raw))?;
    Ok(Json(deleted("role.deleted", Some(raw))))
}
