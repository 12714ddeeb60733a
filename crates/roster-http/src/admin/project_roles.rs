//! The RBAC routes under `/v1/projects/{project_id}`: the project's roles
//! (predefined project roles and custom roles made for every project or for
//! this one), and project-scope role assignments of users (the seed
//! endpoint) and of groups. A user must already be in the project and a
//! group attached to it: there is no implicit add (400 otherwise).

use super::assignments::{held, held_by_user, held_list, AssignBody};
use super::error::AdminError;
use super::extract::{AJson, AQuery, Admin};
use super::groups::{find_group, group_role_out, GroupRoleOut};
use super::ids::parse_role;
use super::projects::find_project;
use super::roles::{rename_fields, role_list, CreateRole, UpdateRole};
use super::users::{live_member, user_id};
use super::views::{
    assigned_role_out, deleted, role_out, AssignedRoleOut, DeletedOut, ListB, RoleOut, UserRoleOut,
};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::{need, Principal, Scope};
use roster_store::roles::NewRole;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_project_roles, create_project_role))
        .routes(routes!(
            get_project_role,
            update_project_role,
            delete_project_role
        ))
        .routes(routes!(list_project_user_roles, assign_project_user_role))
        .routes(routes!(get_project_user_role, unassign_project_user_role))
        .routes(routes!(list_project_group_roles, assign_project_group_role))
        .routes(routes!(get_project_group_role, unassign_project_group_role))
}

/// List the roles usable in a project (`limit` 0–1000, default 1000; `order` default asc).
#[utoipa::path(get, path = "/v1/projects/{project_id}/roles", tag = "admin: project roles",
    params(("project_id" = String, Path), ("after" = Option<String>, Query), ("limit" = Option<i64>, Query),
        ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<RoleOut>)))]
async fn list_project_roles(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListB<RoleOut>>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let roles = app.store.list_project_roles(&access, p.id).await?;
    Ok(Json(role_list(roles, &q, access.org(), Some(p.id))?))
}

/// Create a custom role for this project (`manage_roles`).
#[utoipa::path(post, path = "/v1/projects/{project_id}/roles", tag = "admin: project roles",
    params(("project_id" = String, Path)), request_body = CreateRole,
    responses((status = 200, body = RoleOut)))]
async fn create_project_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageRoles>,
    Path(raw): Path<String>,
    AJson(b): AJson<CreateRole>,
) -> Result<Json<RoleOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let input = NewRole {
        name: b.role_name,
        description: b.description,
        allow: b.permissions,
        deny: Vec::new(),
        project: Some(p.id),
    };
    let w = app
        .store
        .create_role(&caller.ctx, &access, input)
        .await
        .map_err(rename_fields)?;
    Ok(Json(role_out(&w.value, access.org(), Some(p.id))))
}

/// Retrieve a role of the project's catalogue.
#[utoipa::path(get, path = "/v1/projects/{project_id}/roles/{role_id}", tag = "admin: project roles",
    params(("project_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = RoleOut)))]
async fn get_project_role(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_role)): Path<(String, String)>,
) -> Result<Json<RoleOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let role = parse_role(&raw_role, access.org(), Some(p.id))?;
    let r = app
        .store
        .get_project_role(&access, p.id, role)
        .await
        .map_err(|e| AdminError::from(e).echo("role", &raw_role))?;
    Ok(Json(role_out(&r, access.org(), Some(p.id))))
}

/// Update a custom role of this project (`manage_roles`).
#[utoipa::path(post, path = "/v1/projects/{project_id}/roles/{role_id}", tag = "admin: project roles",
    params(("project_id" = String, Path), ("role_id" = String, Path)), request_body = UpdateRole,
    responses((status = 200, body = RoleOut)))]
async fn update_project_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageRoles>,
    Path((raw, raw_role)): Path<(String, String)>,
    AJson(b): AJson<UpdateRole>,
) -> Result<Json<RoleOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let role = parse_role(&raw_role, access.org(), Some(p.id))?;
    let w = app
        .store
        .update_project_role(&caller.ctx, &access, p.id, role, b.patch())
        .await
        .map_err(|e| AdminError::from(rename_fields(e)).echo("role", &raw_role))?;
    Ok(Json(role_out(&w.value, access.org(), Some(p.id))))
}

/// Delete a custom role of this project with its assignments (`manage_roles`).
#[utoipa::path(delete, path = "/v1/projects/{project_id}/roles/{role_id}", tag = "admin: project roles",
    params(("project_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn delete_project_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageRoles>,
    Path((raw, raw_role)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let role = parse_role(&raw_role, access.org(), Some(p.id))?;
    app.store
        .delete_project_role(&caller.ctx, &access, p.id, role)
        .await
        .map_err(|e| AdminError::from(e).echo("role", &raw_role))?;
    Ok(Json(deleted("role.deleted", Some(raw_role))))
}

/// List the project roles a user holds in the project (their membership's role
/// included, and roles reached through their groups, with the groups as `assignment_sources`).
#[utoipa::path(get, path = "/v1/projects/{project_id}/users/{user_id}/roles", tag = "admin: project roles",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("after" = Option<String>, Query),
        ("limit" = Option<i64>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<AssignedRoleOut>)))]
async fn list_project_user_roles(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_user)): Path<(String, String)>,
    q: AQuery,
) -> Result<Json<ListB<AssignedRoleOut>>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let user = user_id(&raw_user)?;
    live_member(&app, &access, user, &raw_user).await?;
    let held = held_by_user(&app, &access, user, Scope::Project(p.id)).await?;
    Ok(Json(held_list(held, &q, access.org(), Some(p.id))?))
}

/// Assign a project role to a project user (`assign_roles`). The seed endpoint.
#[utoipa::path(post, path = "/v1/projects/{project_id}/users/{user_id}/roles", tag = "admin: project roles",
    params(("project_id" = String, Path), ("user_id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = UserRoleOut)))]
async fn assign_project_user_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path((raw, raw_user)): Path<(String, String)>,
    AJson(b): AJson<AssignBody>,
) -> Result<Json<UserRoleOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let user = user_id(&raw_user)?;
    let role = b.role(access.org(), Some(p.id))?;
    live_member(&app, &access, user, &raw_user).await?;
    let w = app
        .store
        .assign(
            &caller.ctx,
            &access,
            Principal::User(user),
            role,
            Scope::Project(p.id),
        )
        .await
        .map_err(|e| AdminError::from(e).echo("role", &b.role_id))?;
    let member = live_member(&app, &access, user, &raw_user).await?;
    Ok(Json(UserRoleOut {
        object: "user.role",
        user: (&member).into(),
        role: role_out(&w.value.role, access.org(), Some(p.id)),
    }))
}

/// One project role a user holds in the project.
#[utoipa::path(get, path = "/v1/projects/{project_id}/users/{user_id}/roles/{role_id}", tag = "admin: project roles",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRoleOut)))]
async fn get_project_user_role(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_user, raw_role)): Path<(String, String, String)>,
) -> Result<Json<AssignedRoleOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let user = user_id(&raw_user)?;
    let role = parse_role(&raw_role, access.org(), Some(p.id))?;
    let a = app
        .store
        .principal_assignment(&access, Principal::User(user), role, Scope::Project(p.id))
        .await
        .map_err(|e| {
            AdminError::from(e).echo("role assignment", &format!("{raw_user}/{raw_role}"))
        })?;
    Ok(Json(assigned_role_out(
        &a.role,
        access.org(),
        Some(p.id),
        a.assignment.created_at,
    )))
}

/// Take a project role away from a user (not their membership's own role).
#[utoipa::path(delete, path = "/v1/projects/{project_id}/users/{user_id}/roles/{role_id}", tag = "admin: project roles",
    params(("project_id" = String, Path), ("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn unassign_project_user_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path((raw, raw_user, raw_role)): Path<(String, String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let user = user_id(&raw_user)?;
    let role = parse_role(&raw_role, access.org(), Some(p.id))?;
    app.store
        .unassign(
            &caller.ctx,
            &access,
            Principal::User(user),
            role,
            Scope::Project(p.id),
        )
        .await
        .map_err(|e| {
            AdminError::from(e).echo("role assignment", &format!("{raw_user}/{raw_role}"))
        })?;
    Ok(Json(deleted("user.role.deleted", None)))
}

/// List the project roles a group holds in the project (its attachment's role included).
#[utoipa::path(get, path = "/v1/projects/{project_id}/groups/{group_id}/roles", tag = "admin: project roles",
    params(("project_id" = String, Path), ("group_id" = String, Path), ("after" = Option<String>, Query),
        ("limit" = Option<i64>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<AssignedRoleOut>)))]
async fn list_project_group_roles(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_group)): Path<(String, String)>,
    q: AQuery,
) -> Result<Json<ListB<AssignedRoleOut>>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let g = find_group(&app, &access, &raw_group).await?;
    let held = held(&app, &access, Principal::Group(g.id), Scope::Project(p.id)).await?;
    Ok(Json(held_list(held, &q, access.org(), Some(p.id))?))
}

/// Assign a project role to a group attached to the project (`assign_roles`).
#[utoipa::path(post, path = "/v1/projects/{project_id}/groups/{group_id}/roles", tag = "admin: project roles",
    params(("project_id" = String, Path), ("group_id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = GroupRoleOut)))]
async fn assign_project_group_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path((raw, raw_group)): Path<(String, String)>,
    AJson(b): AJson<AssignBody>,
) -> Result<Json<GroupRoleOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let role = b.role(access.org(), Some(p.id))?;
    let g = find_group(&app, &access, &raw_group).await?;
    let w = app
        .store
        .assign(
            &caller.ctx,
            &access,
            Principal::Group(g.id),
            role,
            Scope::Project(p.id),
        )
        .await
        .map_err(|e| AdminError::from(e).echo("role", &b.role_id))?;
    Ok(Json(group_role_out(
        &g,
        role_out(&w.value.role, access.org(), Some(p.id)),
    )))
}

/// One project role a group holds in the project.
#[utoipa::path(get, path = "/v1/projects/{project_id}/groups/{group_id}/roles/{role_id}", tag = "admin: project roles",
    params(("project_id" = String, Path), ("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRoleOut)))]
async fn get_project_group_role(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_group, raw_role)): Path<(String, String, String)>,
) -> Result<Json<AssignedRoleOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let g = find_group(&app, &access, &raw_group).await?;
    let role = parse_role(&raw_role, access.org(), Some(p.id))?;
    let a = app
        .store
        .principal_assignment(&access, Principal::Group(g.id), role, Scope::Project(p.id))
        .await
        .map_err(|e| {
            AdminError::from(e).echo("role assignment", &format!("{raw_group}/{raw_role}"))
        })?;
    Ok(Json(assigned_role_out(
        &a.role,
        access.org(),
        Some(p.id),
        a.assignment.created_at,
    )))
}

/// Take a project role away from a group (not its attachment's own role).
#[utoipa::path(delete, path = "/v1/projects/{project_id}/groups/{group_id}/roles/{role_id}", tag = "admin: project roles",
    params(("project_id" = String, Path), ("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn unassign_project_group_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path((raw, raw_group, raw_role)): Path<(String, String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let p = find_project(&app, &access, &raw).await?;
    let g = find_group(&app, &access, &raw_group).await?;
    let role = parse_role(&raw_role, access.org(), Some(p.id))?;
    app.store
        .unassign(
            &caller.ctx,
            &access,
            Principal::Group(g.id),
            role,
            Scope::Project(p.id),
        )
        .await
        .map_err(|e| {
            AdminError::from(e).echo("role assignment", &format!("{raw_group}/{raw_role}"))
        })?;
    Ok(Json(deleted("group.role.deleted", None)))
}
