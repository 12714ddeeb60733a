//! Role assignments of users at organization scope: the same assignments the
//! organization API makes (`/roles/{role_id}/members`), so a role given here
//! shows in that API's effective permissions and the reverse. A member's
//! primary role is listed too (it is an assignment in the one model), and so
//! are the roles a user reaches through their groups, each role once, with
//! the groups in `assignment_sources`.

use super::error::AdminError;
use super::extract::{AJson, AQuery, Admin, Order};
use super::ids::parse_role;
use super::users::{live_member, user_id};
use super::views::{
    assigned_role_out, deleted, list_b, page_after, role_out, AssignedRoleOut, AssignmentSource,
    DeletedOut, ListB, UserRoleOut,
};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::{need, OrgAccess, OrgId, Principal, ProjectId, Role, RoleId, Scope, UserId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_user_roles, assign_user_role))
        .routes(routes!(get_user_role, unassign_user_role))
}

/// The body of every role-assignment create.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct AssignBody {
    /// The role to assign (any accepted spelling).
    pub role_id: String,
}

impl AssignBody {
    pub fn role(&self, org: OrgId, project: Option<ProjectId>) -> Result<RoleId, AdminError> {
        if self.role_id.trim().is_empty() {
            return Err(AdminError::missing("role_id"));
        }
        parse_role(&self.role_id, org, project).map_err(|e| e.param("role_id"))
    }
}

/// A role as a role-assignment list shows it.
pub(super) struct Held {
    role: Role,
    /// When the principal received it (the earliest assignment giving it).
    at: DateTime<Utc>,
    /// The groups it is inherited from, if any.
    sources: Option<Vec<AssignmentSource>>,
}

/// The roles a principal holds directly at `scope`, in role-id order.
pub(super) async fn held(
    app: &App,
    access: &OrgAccess<need::AnyMember>,
    principal: Principal,
    scope: Scope,
) -> Result<Vec<Held>, AdminError> {
    let mut out: Vec<Held> = app
        .store
        .principal_assignments(access, principal, scope)
        .await?
        .into_iter()
        .map(|a| Held {
            role: a.role,
            at: a.assignment.created_at,
            sources: None,
        })
        .collect();
    out.sort_by_key(|h| h.role.id);
    Ok(out)
}

/// The roles a user holds at `scope` directly or through their groups, each
/// once, in role-id order; a role reached through groups lists them in
/// `assignment_sources` (`null` when it is held directly only).
pub(super) async fn held_by_user(
    app: &App,
    access: &OrgAccess<need::AnyMember>,
    user: UserId,
    scope: Scope,
) -> Result<Vec<Held>, AdminError> {
    let mut out = held(app, access, Principal::User(user), scope).await?;
    for a in app
        .store
        .group_assignments_of_user(access, user, scope)
        .await?
    {
        let Principal::Group(group) = a.assignment.principal else {
            continue;
        };
        let source = AssignmentSource {
            principal_id: group.to_string(),
            principal_type: "group".to_owned(),
        };
        match out.iter_mut().find(|h| h.role.id == a.role.id) {
            Some(h) => {
                h.at = h.at.min(a.assignment.created_at);
                let sources = h.sources.get_or_insert_with(Vec::new);
                if !sources
                    .iter()
                    .any(|s| s.principal_id == source.principal_id)
                {
                    sources.push(source);
                }
            }
            None => out.push(Held {
                role: a.role,
                at: a.assignment.created_at,
                sources: Some(vec![source]),
            }),
        }
    }
    out.sort_by_key(|h| h.role.id);
    Ok(out)
}

/// Pages held roles for an RBAC list (`limit` 0–1000, default 1000; `order`).
pub(super) fn held_list(
    held: Vec<Held>,
    q: &AQuery,
    org: OrgId,
    project: Option<ProjectId>,
) -> Result<ListB<AssignedRoleOut>, AdminError> {
    let (after, limit, desc) = super::groups::rbac_page(q, 1000, 1000, Order::Asc, |a| {
        parse_role(a, org, project).ok()
    })?;
    let mut held = held;
    if desc {
        held.reverse();
    }
    let (items, has_more) = page_after(held, |h| h.role.id, after, desc, limit);
    let data: Vec<AssignedRoleOut> = items
        .into_iter()
        .map(|h| {
            let mut out = assigned_role_out(&h.role, org, project, h.at);
            out.assignment_sources = h.sources;
            out
        })
        .collect();
    let cursor = data.last().map(|r| r.id.clone());
    Ok(list_b(data, cursor, has_more))
}

/// List the organization roles a user holds.
#[utoipa::path(get, path = "/v1/organization/users/{user_id}/roles", tag = "admin: role assignments",
    params(("user_id" = String, Path), ("after" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "0 to 1000, default 1000"), ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<AssignedRoleOut>)))]
async fn list_user_roles(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListB<AssignedRoleOut>>, AdminError> {
    let user = user_id(&raw)?;
    live_member(&app, &access, user, &raw).await?;
    let held = held_by_user(&app, &access, user, Scope::Organization).await?;
    Ok(Json(held_list(held, &q, access.org(), None)?))
}

/// Assign an organization role to a user (`assign_roles`).
#[utoipa::path(post, path = "/v1/organization/users/{user_id}/roles", tag = "admin: role assignments",
    params(("user_id" = String, Path)), request_body = AssignBody,
    responses((status = 200, body = UserRoleOut)))]
async fn assign_user_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path(raw): Path<String>,
    AJson(b): AJson<AssignBody>,
) -> Result<Json<UserRoleOut>, AdminError> {
    let user = user_id(&raw)?;
    let role = b.role(access.org(), None)?;
    live_member(&app, &access, user, &raw).await?;
    let w = app
        .store
        .assign(
            &caller.ctx,
            &access,
            Principal::User(user),
            role,
            Scope::Organization,
        )
        .await
        .map_err(|e| AdminError::from(e).echo("role", &b.role_id))?;
    let member = live_member(&app, &access, user, &raw).await?;
    Ok(Json(UserRoleOut {
        object: "user.role",
        user: (&member).into(),
        role: role_out(&w.value.role, access.org(), None),
    }))
}

/// One organization role a user holds (404 when they do not hold it).
#[utoipa::path(get, path = "/v1/organization/users/{user_id}/roles/{role_id}", tag = "admin: role assignments",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = AssignedRoleOut)))]
async fn get_user_role(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_role)): Path<(String, String)>,
) -> Result<Json<AssignedRoleOut>, AdminError> {
    let user = user_id(&raw)?;
    let role = parse_role(&raw_role, access.org(), None)?;
    live_member(&app, &access, user, &raw).await?;
    let a = app
        .store
        .principal_assignment(&access, Principal::User(user), role, Scope::Organization)
        .await
        .map_err(|e| AdminError::from(e).echo("role assignment", &format!("{raw}/{raw_role}")))?;
    Ok(Json(assigned_role_out(
        &a.role,
        access.org(),
        None,
        a.assignment.created_at,
    )))
}

/// Take an organization role away from a user (`assign_roles`).
#[utoipa::path(delete, path = "/v1/organization/users/{user_id}/roles/{role_id}", tag = "admin: role assignments",
    params(("user_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn unassign_user_role(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::AssignRoles>,
    Path((raw, raw_role)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let user = user_id(&raw)?;
    let role = parse_role(&raw_role, access.org(), None)?;
    live_member(&app, &access, user, &raw).await?;
    app.store
        .unassign(
            &caller.ctx,
            &access,
            Principal::User(user),
            role,
            Scope::Organization,
        )
        .await
        .map_err(|e| AdminError::from(e).echo("role", &raw_role))?;
    Ok(Json(deleted("user.role.deleted", None)))
}
