//! Roles: the organization's roles with their permissions, the caller's own
//! role, assigning a user's organization role (the seed endpoint) and, as
//! Roster's extensions on the same schemas, custom role create / update /
//! delete and taking a role away from a user.

use super::error::FaError;
use super::extract::{body_loc, Body, Check, FaOrg};
use super::users::user_id;
use super::views::{assignment_out, role_out, Catalogue, RoleOut, UserOrganizationRoleOut};
use crate::app::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_core::{need, Need, OrgAccess, OrgId, Role, RoleId};
use roster_store::members::MemberRef;
use roster_store::roles::{NewRole, RolePatch};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(update_role, delete_role))
        .routes(routes!(get_user_role, assign_role_to_user_in_organization))
        .routes(routes!(remove_role_from_user))
}

/// The store names role fields in the organization API's words.
const ROLE_FIELDS: &[(&str, &str)] = &[
    ("capabilities", "permissions"),
    ("denied_capabilities", "permissions"),
];

/// The organization's roles by id, and the descriptions of its permissions.
pub(super) async fn role_book<N: Need>(
    app: &App,
    access: &OrgAccess<N>,
) -> Result<(HashMap<RoleId, Role>, Catalogue), FaError> {
    let member = access.as_member();
    let roles = app.store.list_roles(&member, true).await?;
    let defined = app.store.list_permissions(&member).await?;
    Ok((
        roles.into_iter().map(|r| (r.id, r)).collect(),
        Catalogue::new(&defined),
    ))
}

/// List Roles: the built-in roles (`organization_id: null`) and the
/// organization's custom roles, each with its permissions.
#[utoipa::path(get, path = "/api/v1/organizations/{organization_id}/roles", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), responses((status = 200, body = Vec<RoleOut>)))]
async fn list_roles(
    State(app): State<App>,
    FaOrg { access, .. }: FaOrg<need::AnyMember>,
) -> Result<Json<Vec<RoleOut>>, FaError> {
    let roles = app.store.list_roles(&access, true).await?;
    let catalogue = Catalogue::new(&app.store.list_permissions(&access).await?);
    Ok(Json(
        roles.iter().map(|r| role_out(r, &catalogue)).collect(),
    ))
}

/// A permission of a role to create or update (Roster's extension).
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct PermissionGrant {
    /// The permission key, e.g. `manage_users`.
    #[allow(dead_code)]
    name: String,
    /// `true` grants it, `false` denies it explicitly (a deny beats any grant
    /// the user gets from another role).
    #[allow(dead_code)]
    access: bool,
}

/// A custom role to create (Roster's extension).
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct RoleCreate {
    #[allow(dead_code)]
    name: String,
    #[allow(dead_code)]
    description: Option<String>,
    #[allow(dead_code)]
    permissions: Vec<PermissionGrant>,
}

/// A partial update of a custom role (Roster's extension): a given
/// `permissions` list replaces the role's permissions.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct RoleUpdate {
    #[allow(dead_code)]
    name: Option<String>,
    #[allow(dead_code)]
    description: Option<String>,
    #[allow(dead_code)]
    permissions: Option<Vec<PermissionGrant>>,
}

/// The allowed and denied keys of a `permissions` list.
fn grants(c: &mut Check, v: &Value) -> (Vec<String>, Vec<String>) {
    let loc = vec![json!("body"), json!("permissions")];
    let (mut allow, mut deny) = (Vec::new(), Vec::new());
    for (i, p) in c.list(v, &loc).into_iter().flatten().enumerate() {
        let mut at = loc.clone();
        at.push(json!(i));
        if let Some(o) = c.object(p, &at) {
            let name = c.string(o, &at, "name", true, (1, 3000));
            let access = c.bool(o, &at, "access");
            match (name, access) {
                (Some(n), Some(true)) => allow.push(n),
                (Some(n), Some(false)) => deny.push(n),
                _ => {}
            }
        }
    }
    (allow, deny)
}

/// Create a custom role (Roster's extension; needs `manage_roles`).
#[utoipa::path(post, path = "/api/v1/organizations/{organization_id}/roles", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), request_body = RoleCreate,
    responses((status = 200, body = RoleOut)))]
async fn create_role(
    State(app): State<App>,
    FaOrg { caller, access, .. }: FaOrg<need::ManageRoles>,
    Body(body): Body,
) -> Result<Json<RoleOut>, FaError> {
    let mut c = Check::new();
    let mut input = NewRole::default();
    if let Some(o) = c.object(&body, &body_loc()) {
        input.name = c
            .string(o, &body_loc(), "name", true, (1, 3000))
            .unwrap_or_default();
        input.description = c.string(o, &body_loc(), "description", false, (0, 3000));
        if let Some(p) = c.present(o, &body_loc(), "permissions") {
            (input.allow, input.deny) = grants(&mut c, p);
        }
    }
    c.finish()?;
    let w = app
        .store
        .create_role(&caller.ctx, &access, input)
        .await
        .map_err(|e| FaError::from(e).at("body", ROLE_FIELDS))?;
    let catalogue = Catalogue::new(&app.store.list_permissions(&access.as_member()).await?);
    Ok(Json(role_out(&w.value, &catalogue)))
}

/// Update a custom role (Roster's extension; needs `manage_roles`). Built-in roles are read-only.
#[utoipa::path(patch, path = "/api/v1/organizations/{organization_id}/roles/{role_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("role_id" = String, Path, description = "A UUID")), request_body = RoleUpdate,
    responses((status = 200, body = RoleOut)))]
async fn update_role(
    State(app): State<App>,
    FaOrg {
        caller,
        access,
        path,
    }: FaOrg<need::ManageRoles>,
    Body(body): Body,
) -> Result<Json<RoleOut>, FaError> {
    let role = RoleId(path.uuid("role_id")?);
    let mut c = Check::new();
    let mut patch = RolePatch::default();
    if let Some(o) = c.object(&body, &body_loc()) {
        patch.name = c.string(o, &body_loc(), "name", false, (1, 3000));
        patch.description = c
            .string(o, &body_loc(), "description", false, (0, 3000))
            .map(Some);
        if let Some(p) = o.get("permissions").filter(|p| !p.is_null()) {
            let (allow, deny) = grants(&mut c, p);
            patch.allow = Some(allow);
            patch.deny = Some(deny);
        }
    }
    c.finish()?;
    let w = app
        .store
        .update_role(&caller.ctx, &access, role, patch)
        .await
        .map_err(|e| FaError::from(e).at("body", ROLE_FIELDS))?;
    let catalogue = Catalogue::new(&app.store.list_permissions(&access.as_member()).await?);
    Ok(Json(role_out(&w.value, &catalogue)))
}

/// Delete a custom role that no member holds (Roster's extension; needs `manage_roles`).
#[utoipa::path(delete, path = "/api/v1/organizations/{organization_id}/roles/{role_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("role_id" = String, Path, description = "A UUID")), responses((status = 204)))]
async fn delete_role(
    State(app): State<App>,
    FaOrg {
        caller,
        access,
        path,
    }: FaOrg<need::ManageRoles>,
) -> Result<impl IntoResponse, FaError> {
    let role = RoleId(path.uuid("role_id")?);
    app.store
        .delete_role(&caller.ctx, &access, role, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's primary role assignment, rendered.
async fn primary_out<N: Need>(
    app: &App,
    access: &OrgAccess<N>,
    user: roster_core::UserId,
) -> Result<UserOrganizationRoleOut, FaError> {
    let a = app
        .store
        .primary_assignment(&access.as_member(), user)
        .await?;
    let (roles, catalogue) = role_book(app, access).await?;
    let role = roles
        .get(&a.role_id)
        .ok_or(roster_core::Error::RoleNotFound(a.role_id))?;
    Ok(assignment_out(&a, user, role, &catalogue))
}

/// Get User Role: the caller's own organization role (their primary role);
/// null for API keys, which are no user.
#[utoipa::path(get, path = "/api/v1/organizations/{organization_id}/users/roles", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), responses((status = 200, body = Option<UserOrganizationRoleOut>)))]
async fn get_user_role(
    State(app): State<App>,
    FaOrg { caller, access, .. }: FaOrg<need::AnyMember>,
) -> Result<Json<Option<UserOrganizationRoleOut>>, FaError> {
    match caller.actor.user_id() {
        Some(user) => Ok(Json(Some(primary_out(&app, &access, user).await?))),
        None => Ok(Json(None)),
    }
}

/// Schema for assigning a role to a user in an organization.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UserOrganizationRoleCreate {
    /// The user's ID.
    #[allow(dead_code)]
    user_id: String,
    /// The organization's ID (must be the path's).
    #[allow(dead_code)]
    #[schema(format = "uuid")]
    organization_id: String,
    /// The role's ID.
    #[allow(dead_code)]
    #[schema(format = "uuid")]
    role_id: String,
}

/// Assign Role To User In Organization: makes the role the member's
/// organization role (their primary role), replacing the previous one.
/// Repeating it changes nothing. Admin or Owner; the Owner role only by
/// Owners, no role stronger than the caller's own, never the last Owner's.
#[utoipa::path(put, path = "/api/v1/organizations/{organization_id}/users/roles", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), request_body = UserOrganizationRoleCreate,
    responses((status = 200, body = UserOrganizationRoleOut)))]
async fn assign_role_to_user_in_organization(
    State(app): State<App>,
    FaOrg { caller, access, .. }: FaOrg<need::Admin>,
    Body(body): Body,
) -> Result<Json<UserOrganizationRoleOut>, FaError> {
    let mut c = Check::new();
    let mut fields = (None, None, None);
    if let Some(o) = c.object(&body, &body_loc()) {
        fields = (
            c.string(o, &body_loc(), "user_id", true, (0, usize::MAX)),
            c.uuid(o, &body_loc(), "organization_id", true),
            c.uuid(o, &body_loc(), "role_id", true),
        );
        if let Some(org) = fields.1.filter(|o| OrgId(*o) != access.org()) {
            c.value_error(
                vec![json!("body"), json!("organization_id")],
                "must be the organization of the path",
                &json!(org.to_string()),
            );
        }
    }
    c.finish()?;
    let (Some(raw_user), Some(_), Some(role)) = fields else {
        return Err(roster_core::Error::validation("body", "invalid").into());
    };
    let user = user_id(&raw_user)?;
    // Holding the role already writes nothing, after the same rules as a change.
    app.store
        .set_primary_role(&caller.ctx, &access, MemberRef::User(user), RoleId(role))
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(Json(primary_out(&app, &access, user).await?))
}

/// Take an organization role away from a user (Roster's extension; needs
/// `assign_roles`). Taking away a user's primary role leaves them Member;
/// the last Owner keeps the Owner role.
#[utoipa::path(delete, path = "/api/v1/organizations/{organization_id}/users/{member_user_id}/roles/{role_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("member_user_id" = String, Path), ("role_id" = String, Path, description = "A UUID")),
    responses((status = 204)))]
async fn remove_role_from_user(
    State(app): State<App>,
    FaOrg {
        caller,
        access,
        path,
    }: FaOrg<need::AssignRoles>,
) -> Result<impl IntoResponse, FaError> {
    let role = RoleId(path.uuid("role_id")?);
    let user = user_id(path.str("member_user_id"))?;
    app.store
        .unassign_role(&caller.ctx, &access, role, user)
        .await
        .map_err(|e| FaError::from(e).at("path", &[]))?;
    Ok(StatusCode::NO_CONTENT)
}
