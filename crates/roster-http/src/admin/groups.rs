//! Groups, their users and their organization roles: the core's groups, so a
//! role given to a group here reaches its members in every dialect.

use super::assignments::{held, held_list, AssignBody};
use super::error::AdminError;
use super::extract::{AJson, AQuery, Admin, Order};
use super::ids::{parse, parse_role};
use super::users::user_id;
use super::views::{
    assigned_role_out, deleted, display_name_of, list_b, role_out, secs, AssignedRoleOut,
    DeletedOut, ListB, RoleOut,
};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::{need, GroupId, OrgAccess, Principal, Scope, UserId};
use roster_store::groups::{Group, GroupMember};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(list_group_users, add_group_user))
        .routes(routes!(get_group_user, remove_group_user))
        .routes(routes!(list_group_roles, assign_group_role))
        .routes(routes!(get_group_role, unassign_group_role))
}

pub(super) fn group_id(raw: &str) -> Result<GroupId, AdminError> {
    parse(raw, "group")
}

/// A group (`group`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct GroupOut {
    /// Always `group`.
    object: &'static str,
    id: String,
    name: String,
    created_at: i64,
    is_scim_managed: bool,
    /// Always `group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    group_type: Option<&'static str>,
}

fn group_out(g: &Group) -> GroupOut {
    GroupOut {
        object: "group",
        id: g.id.to_string(),
        name: g.name.clone(),
        created_at: secs(g.created_at),
        is_scim_managed: false,
        group_type: Some("group"),
    }
}

/// Cursor and order of an RBAC list: `limit` in `0..=max` (default `default`).
pub(super) fn rbac_page<T>(
    q: &AQuery,
    default: i64,
    max: i64,
    order: Order,
    parse_after: impl Fn(&str) -> Option<T>,
) -> Result<(Option<T>, i64, bool), AdminError> {
    let limit = q.limit(default, 0, max)?;
    let desc = q.order(order)? == Order::Desc;
    let after = q
        .one("after")
        .map(|a| {
            parse_after(a)
                .ok_or_else(|| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    Ok((after, limit, desc))
}

/// List the organization's groups (`limit` 0–1000, default 100; `order` default asc).
#[utoipa::path(get, path = "/v1/organization/groups", tag = "admin: groups",
    params(("after" = Option<String>, Query), ("limit" = Option<i64>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<GroupOut>)))]
async fn list_groups(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    q: AQuery,
) -> Result<Json<ListB<GroupOut>>, AdminError> {
    let (after, limit, desc) = rbac_page(&q, 100, 1000, Order::Asc, |a| GroupId::parse(a).ok())?;
    let page = app.store.list_groups(&access, after, limit, desc).await?;
    let data: Vec<GroupOut> = page.items.iter().map(group_out).collect();
    let cursor = data.last().map(|g| g.id.clone());
    Ok(Json(list_b(data, cursor, page.has_more)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct GroupBody {
    /// 1 to 255 characters, unique in the organization.
    name: String,
}

/// Create a group (`api.groups.write`).
#[utoipa::path(post, path = "/v1/organization/groups", tag = "admin: groups", request_body = GroupBody,
    responses((status = 200, body = GroupOut)))]
async fn create_group(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageGroups>,
    AJson(b): AJson<GroupBody>,
) -> Result<Json<GroupOut>, AdminError> {
    let w = app
        .store
        .create_group(&caller.ctx, &access, &b.name)
        .await?;
    Ok(Json(group_out(&w.value)))
}

/// Retrieve a group.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}", tag = "admin: groups",
    params(("group_id" = String, Path)), responses((status = 200, body = GroupOut)))]
async fn get_group(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
) -> Result<Json<GroupOut>, AdminError> {
    let g = find_group(&app, &access, &raw).await?;
    Ok(Json(group_out(&g)))
}

pub(super) async fn find_group<N>(
    app: &App,
    access: &OrgAccess<N>,
    raw: &str,
) -> Result<Group, AdminError> {
    let group = group_id(raw)?;
    app.store
        .get_group(&access.as_member(), group)
        .await
        .map_err(|e| AdminError::from(e).echo("group", raw))
}

/// Rename a group (`api.groups.write`).
#[utoipa::path(post, path = "/v1/organization/groups/{group_id}", tag = "admin: groups",
    params(("group_id" = String, Path)), request_body = GroupBody,
    responses((status = 200, body = GroupOut)))]
async fn update_group(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageGroups>,
    Path(raw): Path<String>,
    AJson(b): AJson<GroupBody>,
) -> Result<Json<GroupOut>, AdminError> {
    let group = group_id(&raw)?;
    let w = app
        .store
        .rename_group(&caller.ctx, &access, group, &b.name)
        .await
        .map_err(|e| AdminError::from(e).echo("group", &raw))?;
    let mut out = group_out(&w.value);
    out.group_type = None;
    Ok(Json(out))
}

/// Delete a group with its memberships and role assignments.
#[utoipa::path(delete, path = "/v1/organization/groups/{group_id}", tag = "admin: groups",
    params(("group_id" = String, Path)), responses((status = 200, body = DeletedOut)))]
async fn delete_group(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageGroups>,
    Path(raw): Path<String>,
) -> Result<Json<DeletedOut>, AdminError> {
    let group = group_id(&raw)?;
    app.store
        .delete_group(&caller.ctx, &access, group)
        .await
        .map_err(|e| AdminError::from(e).echo("group", &raw))?;
    Ok(Json(deleted("group.deleted", Some(raw))))
}

/// A user in a group list.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct GroupUserOut {
    id: String,
    name: String,
    email: Option<String>,
}

/// A user of a group, retrieved.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct GroupMemberOut {
    id: String,
    name: String,
    email: Option<String>,
    picture: Option<String>,
    is_service_account: bool,
    /// Always `user`.
    user_type: &'static str,
}

fn member_name(m: &GroupMember) -> String {
    display_name_of(m.name.as_deref(), &m.email)
}

/// List a group's users (`limit` 0–1000, default 100; `order` default desc).
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/users", tag = "admin: groups",
    params(("group_id" = String, Path), ("after" = Option<String>, Query), ("limit" = Option<i64>, Query),
        ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<GroupUserOut>)))]
async fn list_group_users(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListB<GroupUserOut>>, AdminError> {
    let group = group_id(&raw)?;
    let (after, limit, desc) = rbac_page(&q, 100, 1000, Order::Desc, |a| UserId::parse(a).ok())?;
    let page = app
        .store
        .list_group_members(&access, group, after, limit, desc)
        .await
        .map_err(|e| AdminError::from(e).echo("group", &raw))?;
    let data: Vec<GroupUserOut> = page
        .items
        .iter()
        .map(|m| GroupUserOut {
            id: m.user_id.to_string(),
            name: member_name(m),
            email: Some(m.email.clone()),
        })
        .collect();
    let cursor = data.last().map(|u| u.id.clone());
    Ok(Json(list_b(data, cursor, page.has_more)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UserBody {
    user_id: String,
}

/// A user added to a group.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct GroupUserAdded {
    /// Always `group.user`.
    object: &'static str,
    user_id: String,
    group_id: String,
}

/// Add an organization member to a group (`api.groups.write`).
#[utoipa::path(post, path = "/v1/organization/groups/{group_id}/users", tag = "admin: groups",
    params(("group_id" = String, Path)), request_body = UserBody,
    responses((status = 200, body = GroupUserAdded)))]
async fn add_group_user(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageGroups>,
    Path(raw): Path<String>,
    AJson(b): AJson<UserBody>,
) -> Result<Json<GroupUserAdded>, AdminError> {
    let group = group_id(&raw)?;
    if b.user_id.trim().is_empty() {
        return Err(AdminError::missing("user_id"));
    }
    let user = user_id(&b.user_id).map_err(|e| e.param("user_id"))?;
    find_group(&app, &access, &raw).await?;
    let w = app
        .store
        .add_group_member(&caller.ctx, &access, group, user)
        .await
        .map_err(|e| AdminError::from(e).echo("user", &b.user_id))?;
    Ok(Json(GroupUserAdded {
        object: "group.user",
        user_id: w.value.user_id.to_string(),
        group_id: w.value.group_id.to_string(),
    }))
}

/// Retrieve a user of a group.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/users/{user_id}", tag = "admin: groups",
    params(("group_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = GroupMemberOut)))]
async fn get_group_user(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_user)): Path<(String, String)>,
) -> Result<Json<GroupMemberOut>, AdminError> {
    let group = group_id(&raw)?;
    let user = user_id(&raw_user)?;
    let m = app
        .store
        .get_group_member(&access, group, user)
        .await
        .map_err(|e| AdminError::from(e).echo("group user", &format!("{raw_user} in {raw}")))?;
    Ok(Json(GroupMemberOut {
        id: m.user_id.to_string(),
        name: member_name(&m),
        email: Some(m.email.clone()),
        picture: None,
        is_service_account: false,
        user_type: "user",
    }))
}

/// Remove a user from a group (`api.groups.write`).
#[utoipa::path(delete, path = "/v1/organization/groups/{group_id}/users/{user_id}", tag = "admin: groups",
    params(("group_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn remove_group_user(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageGroups>,
    Path((raw, raw_user)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let group = group_id(&raw)?;
    let user = user_id(&raw_user)?;
    app.store
        .remove_group_member(&caller.ctx, &access, group, user)
        .await
        .map_err(|e| AdminError::from(e).echo("group user", &format!("{raw_user} in {raw}")))?;
    Ok(Json(deleted("group.user.deleted", None)))
}

/// The group inside a `group.role`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct GroupBrief {
    /// Always `group`.
    object: &'static str,
    id: String,
    name: String,
    created_at: i64,
    scim_managed: bool,
}

/// `group.role`: a role given to a group.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct GroupRoleOut {
    /// Always `group.role`.
    object: &'static str,
    group: GroupBrief,
    role: RoleOut,
}

pub(super) fn group_role_out(g: &Group, role: RoleOut) -> GroupRoleOut {
    GroupRoleOut {
        object: "group.role",
        group: GroupBrief {
            object: "group",
            id: g.id.to_string(),
            name: g.name.clone(),
            created_at: secs(g.created_at),
            scim_managed: false,
        },
        role,
    }
}

/// List the organization roles a group holds.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/roles", tag = "admin: groups",
    params(("group_id" = String, Path), ("after" = Option<String>, Query), ("limit" = Option<i64>, Query),
        ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<AssignedRoleOut>)))]
async fn list_group_roles(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListB<AssignedRoleOut>>, AdminError> {
    let g = find_group(&app, &access, &raw).await?;
    let held = held(&app, &access, Principal::Group(g.id), Scope::Organization).await?;
    Ok(Json(held_list(held, &q, access.org(), None)?))
}

/// Assign an organization role to a group (`assign_roles`).
#[utoipa::path(post, path = "/v1/organization/groups/{group_id}/roles", tag = "admin: groups",
    params(("group_id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = GroupRoleOut)))]
async fn assign_group_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path(raw): Path<String>,
    AJson(b): AJson<AssignBody>,
) -> Result<Json<GroupRoleOut>, AdminError> {
    let role = b.role(access.org(), None)?;
    let g = find_group(&app, &access, &raw).await?;
    let w = app
        .store
        .assign(
            &caller.ctx,
            &access,
            Principal::Group(g.id),
            role,
            Scope::Organization,
        )
        .await
        .map_err(|e| AdminError::from(e).echo("role", &b.role_id))?;
    Ok(Json(group_role_out(
        &g,
        role_out(&w.value.role, access.org(), None),
    )))
}

/// One organization role a group holds.
#[utoipa::path(get, path = "/v1/organization/groups/{group_id}/roles/{role_id}", tag = "admin: groups",
    params(("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRoleOut)))]
async fn get_group_role(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_role)): Path<(String, String)>,
) -> Result<Json<AssignedRoleOut>, AdminError> {
    let g = find_group(&app, &access, &raw).await?;
    let role = parse_role(&raw_role, access.org(), None)?;
    let a = app
        .store
        .principal_assignment(&access, Principal::Group(g.id), role, Scope::Organization)
        .await
        .map_err(|e| AdminError::from(e).echo("role assignment", &format!("{raw}/{raw_role}")))?;
    Ok(Json(assigned_role_out(
        &a.role,
        access.org(),
        None,
        a.assignment.created_at,
    )))
}

/// Take an organization role away from a group (`assign_roles`).
#[utoipa::path(delete, path = "/v1/organization/groups/{group_id}/roles/{role_id}", tag = "admin: groups",
    params(("group_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn unassign_group_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path((raw, raw_role)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let g = find_group(&app, &access, &raw).await?;
    let role = parse_role(&raw_role, access.org(), None)?;
    app.store
        .unassign(
            &caller.ctx,
            &access,
            Principal::Group(g.id),
            role,
            Scope::Organization,
        )
        .await
        .map_err(|e| AdminError::from(e).echo("role assignment", &format!("{raw}/{raw_role}")))?;
    Ok(Json(deleted("group.role.deleted", None)))
}
