//! Roles, role assignments, effective permissions, UI access and the
//! organization's own permission keys.

use super::members::{echo_member, member_user_id, role_id};
use super::views::reason_json;
use super::*;
use crate::app::{App, Authorized};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::{need, Actor, Error, MemberStatus, PermissionDef, Role, UserId};
use roster_store::permissions::EffectivePermissions;
use roster_store::roles::{NewRole, RoleMember, RolePatch};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(list_role_members, assign_role))
        .routes(routes!(unassign_role))
        .routes(routes!(effective_permissions))
        .routes(routes!(ui_access))
        .routes(routes!(list_permissions, create_permission))
}

/// A role of the organization API.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RoleOut {
    id: String,
    name: String,
    description: Option<String>,
    /// The legacy permission map: always `{}`.
    #[schema(value_type = Object)]
    permissions: serde_json::Value,
    is_base_role: bool,
    is_custom: bool,
    is_system_role: bool,
    /// `null` for system roles, which are the same in every organization.
    organization_id: Option<String>,
    /// Allowed keys.
    capabilities: Vec<String>,
    /// Denied keys (a deny beats any allow the user gets from another role).
    denied_capabilities: Vec<String>,
    /// Live members holding the role at organization scope.
    member_count: i64,
    knowledge_slice_ids: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Role> for RoleOut {
    fn from(r: &Role) -> Self {
        let system = r.id.system();
        RoleOut {
            id: r.id.to_string(),
            name: r.name.clone(),
            description: r.description.clone(),
            permissions: serde_json::json!({}),
            is_base_role: system.is_some_and(|s| s.is_base()),
            is_custom: system.is_none(),
            is_system_role: system.is_some(),
            organization_id: r.org_id.map(|o| o.to_string()),
            capabilities: r.allowed_keys(),
            denied_capabilities: r.denied_keys(),
            member_count: r.member_count,
            knowledge_slice_ids: Vec::new(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// ROLE_NOT_FOUND and MEMBER_NOT_FOUND echo the ids as the caller spelled them.
fn echo(e: Error, raw_role: &str, raw_user: Option<&str>) -> ApiError {
    match (e, raw_user) {
        (e @ Error::RoleNotFound(_), _) => unknown(e, "role_id", raw_role),
        (e, Some(u)) => echo_member(e, u),
        (e, None) => e.into(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct ListRolesQuery {
    /// Include the system roles (default true).
    include_global: Option<bool>,
}

/// List roles: system roles first (Owner, Admin, Member, Department Manager,
/// Knowledge Manager, Billing Manager), then custom roles by name.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/roles", tag = "roles",
    params(("organization_id" = String, Path), ListRolesQuery), responses((status = 200, body = Vec<RoleOut>)))]
async fn list_roles(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OQuery(q): OQuery<ListRolesQuery>,
) -> Result<Json<Vec<RoleOut>>, ApiError> {
    let roles = app
        .store
        .list_roles(&access, q.include_global.unwrap_or(true))
        .await?;
    Ok(Json(roles.iter().map(Into::into).collect()))
}

/// Retrieve a role.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/roles/{role_id}", tag = "roles",
    params(("organization_id" = String, Path), ("role_id" = String, Path)), responses((status = 200, body = RoleOut)))]
async fn get_role(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<Json<RoleOut>, ApiError> {
    let role = role_id(&raw, "role_id")?;
    let r = app
        .store
        .get_role(&access, role)
        .await
        .map_err(|e| echo(e, &raw, None))?;
    Ok(Json((&r).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateRole {
    /// 1..100 characters, unique in the organization (case-insensitive).
    name: String,
    /// At most 500 characters.
    description: Option<String>,
    /// Allowed keys: built-in capabilities or defined permission keys. At least
    /// one, unless `denied_capabilities` is not empty.
    capabilities: Vec<String>,
    /// Denied keys.
    #[serde(default)]
    denied_capabilities: Vec<String>,
}

/// Create a custom role (`manage_roles`; the caller may grant only what it holds).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/roles", tag = "roles",
    params(("organization_id" = String, Path)), request_body = CreateRole, responses((status = 201, body = RoleOut)))]
async fn create_role(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::ManageRoles>,
    OJson(b): OJson<CreateRole>,
) -> Result<impl IntoResponse, ApiError> {
    let input = NewRole {
        name: b.name,
        description: b.description,
        allow: b.capabilities,
        deny: b.denied_capabilities,
        project: None,
    };
    let w = app.store.create_role(&caller.ctx, &access, input).await?;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(RoleOut::from(&w.value)),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateRole {
    name: Option<String>,
    description: Option<String>,
    /// Replaces the allowed keys.
    capabilities: Option<Vec<String>>,
    /// Replaces the denied keys.
    denied_capabilities: Option<Vec<String>>,
}

/// Update a custom role; given key lists replace the old ones. System roles are immutable.
#[utoipa::path(patch, path = "/v1/organizations/{organization_id}/roles/{role_id}", tag = "roles",
    params(("organization_id" = String, Path), ("role_id" = String, Path)), request_body = UpdateRole,
    responses((status = 200, body = RoleOut)))]
async fn update_role(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::ManageRoles>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<UpdateRole>,
) -> Result<impl IntoResponse, ApiError> {
    let role = role_id(&raw, "role_id")?;
    let patch = RolePatch {
        name: b.name,
        // A null or absent description leaves it unchanged here.
        description: b.description.map(Some),
        allow: b.capabilities,
        deny: b.denied_capabilities,
    };
    let w = app
        .store
        .update_role(&caller.ctx, &access, role, patch)
        .await
        .map_err(|e| echo(e, &raw, None))?;
    Ok((revision_header(w.revision), Json(RoleOut::from(&w.value))))
}

/// Delete a custom role that no member holds.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/roles/{role_id}", tag = "roles",
    params(("organization_id" = String, Path), ("role_id" = String, Path)), responses((status = 204)))]
async fn delete_role(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::ManageRoles>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let role = role_id(&raw, "role_id")?;
    let w = app
        .store
        .delete_role(&caller.ctx, &access, role, false)
        .await
        .map_err(|e| echo(e, &raw, None))?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct PageQuery {
    /// Default 0.
    #[serde(default)]
    skip: i64,
    /// 1..100, default 50.
    #[serde(default = "fifty")]
    limit: i64,
}

fn fifty() -> i64 {
    50
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RoleMemberOut {
    user_id: String,
    full_name: Option<String>,
    email: String,
    /// `active`, `deactivated` (Inactive) or `invited` (Pending).
    account_state: &'static str,
    avatar_url: Option<String>,
}

fn account_state(s: MemberStatus) -> &'static str {
    match s {
        MemberStatus::Active => "active",
        MemberStatus::Inactive => "deactivated",
        MemberStatus::Pending => "invited",
    }
}

impl From<&RoleMember> for RoleMemberOut {
    fn from(m: &RoleMember) -> Self {
        RoleMemberOut {
            user_id: m.user.id.to_string(),
            full_name: m.user.full_name.clone(),
            email: m.user.email.clone(),
            account_state: account_state(m.status),
            avatar_url: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RoleMembers {
    members: Vec<RoleMemberOut>,
    total: i64,
}

/// List the members holding a role (live memberships, organization scope).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/roles/{role_id}/members", tag = "roles",
    params(("organization_id" = String, Path), ("role_id" = String, Path), PageQuery),
    responses((status = 200, body = RoleMembers)))]
async fn list_role_members(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    Path((_org, raw)): Path<(String, String)>,
    OQuery(q): OQuery<PageQuery>,
) -> Result<Json<RoleMembers>, ApiError> {
    let role = role_id(&raw, "role_id")?;
    let skip = check_range("skip", q.skip, 0, i64::MAX)?;
    let limit = check_range("limit", q.limit, 1, 100)?;
    let page = app
        .store
        .list_role_members(&access, role, skip, limit)
        .await
        .map_err(|e| echo(e, &raw, None))?;
    Ok(Json(RoleMembers {
        members: page.items.iter().map(Into::into).collect(),
        total: page.total,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct AssignBody {
    /// A member of the organization (`usr_...`).
    user_id: String,
}

/// A role assignment.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AssignmentOut {
    id: String,
    user_id: String,
    role_id: String,
    organization_id: String,
    assigned_at: DateTime<Utc>,
}

/// Assign a role to a member (`assign_roles`).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/roles/{role_id}/members", tag = "roles",
    params(("organization_id" = String, Path), ("role_id" = String, Path)), request_body = AssignBody,
    responses((status = 201, body = AssignmentOut)))]
async fn assign_role(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::AssignRoles>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<AssignBody>,
) -> Result<impl IntoResponse, ApiError> {
    let role = role_id(&raw, "role_id")?;
    let user = member_user_id(&b.user_id)?;
    let w = app
        .store
        .assign_role(&caller.ctx, &access, role, user)
        .await
        .map_err(|e| echo(e, &raw, Some(&b.user_id)))?;
    let a = &w.value;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(AssignmentOut {
            id: a.id.to_string(),
            user_id: user.to_string(),
            role_id: a.role_id.to_string(),
            organization_id: a.org_id.to_string(),
            assigned_at: a.created_at,
        }),
    ))
}

/// Remove a role from a member (`assign_roles`). The last Owner cannot be removed.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/roles/{role_id}/members/{user_id}", tag = "roles",
    params(("organization_id" = String, Path), ("role_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204)))]
async fn unassign_role(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::AssignRoles>,
    Path((_org, raw, raw_user)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let role = role_id(&raw, "role_id")?;
    let user = parse_id::<UserId>(&raw_user, "user_id", |r| {
        let e = Error::AssignmentNotFound {
            org: nil(),
            user: nil(),
            role,
        };
        unknown(e, "user_id", r)
    })?;
    let w = app
        .store
        .unassign_role(&caller.ctx, &access, role, user)
        .await
        .map_err(|e| echo(e, &raw, None))?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

/// The effective permissions of `raw_user`: a member reads their own with
/// plain membership; reading someone else's needs `manage_users`,
/// `assign_roles` or `manage_roles`.
fn effective_for(
    app: &App,
    caller: &crate::app::Caller,
    access: &roster_core::OrgAccess<need::AnyMember>,
    raw_user: &str,
    explain: bool,
) -> Result<EffectivePermissions, ApiError> {
    let parsed = member_user_id(raw_user);
    let res = match parsed {
        Ok(user) if caller.actor == (Actor::User { user }) => {
            app.store.own_effective_permissions(access, explain)
        }
        // Someone else: check the caller may look before saying whether they exist.
        _ => {
            let other = app.authorize::<need::ViewPermissions>(caller, access.org())?;
            app.store.effective_permissions(&other, parsed?, explain)
        }
    };
    res.map_err(|e| echo_member(e, raw_user))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct ExplainQuery {
    /// Add `reasons`: for each allowed key, the assignments that allowed it.
    #[serde(default)]
    explain: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EffectiveOut {
    user_id: String,
    /// Allowed built-in capabilities (sorted, denials removed).
    capabilities: Vec<String>,
    /// `"global"` for holders of override_all_permissions, else department ids.
    #[schema(value_type = Object)]
    department_scope: serde_json::Value,
    role_ids: Vec<String>,
    resolved_at: DateTime<Utc>,
    /// Every allowed key, defined permission keys included.
    permissions: Vec<String>,
    /// Keys a deny removed.
    denied_permissions: Vec<String>,
    /// The index revision the answer was read from.
    revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    reasons: Option<BTreeMap<String, Vec<serde_json::Value>>>,
}

/// A member's effective permissions at organization scope.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/users/{user_id}/effective-permissions", tag = "roles",
    params(("organization_id" = String, Path), ("user_id" = String, Path), ExplainQuery),
    responses((status = 200, body = EffectiveOut)))]
async fn effective_permissions(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::AnyMember>,
    Path((_org, raw_user)): Path<(String, String)>,
    OQuery(q): OQuery<ExplainQuery>,
) -> Result<Json<EffectiveOut>, ApiError> {
    let e = effective_for(&app, &caller, &access, &raw_user, q.explain)?;
    let department_scope = match &e.department_scope {
        None => serde_json::json!("global"),
        Some(ds) => serde_json::json!(ds.iter().map(ToString::to_string).collect::<Vec<_>>()),
    };
    Ok(Json(EffectiveOut {
        user_id: e.user.to_string(),
        capabilities: e.capabilities(),
        department_scope,
        role_ids: e
            .effective
            .role_ids
            .iter()
            .map(ToString::to_string)
            .collect(),
        resolved_at: e.resolved_at,
        permissions: e.permissions(),
        denied_permissions: e.effective.denied.clone(),
        revision: e.revision,
        reasons: e.reasons.as_ref().map(|rs| {
            rs.iter()
                .map(|(k, r)| (k.clone(), r.iter().map(reason_json).collect()))
                .collect()
        }),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UiPages {
    organization: bool,
    my_team: bool,
    departments: bool,
    roles: bool,
    audit_log: bool,
    billing: bool,
    knowledge: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UiActions {
    invite_user: bool,
    deactivate_user: bool,
    remove_user: bool,
    manage_users: bool,
    manage_roles: bool,
    assign_roles: bool,
    manage_departments: bool,
    create_subdepartment: bool,
    reparent_department: bool,
    manage_knowledge: bool,
    manage_billing: bool,
    view_audit_log: bool,
    export_audit_log: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UiAccessOut {
    user_id: String,
    organization_id: String,
    pages: UiPages,
    actions: UiActions,
}

/// Which screens and actions a UI should offer the member (read-only; enforces nothing).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/users/{user_id}/ui-access", tag = "roles",
    params(("organization_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = UiAccessOut)))]
async fn ui_access(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::AnyMember>,
    Path((_org, raw_user)): Path<(String, String)>,
) -> Result<Json<UiAccessOut>, ApiError> {
    let e = effective_for(&app, &caller, &access, &raw_user, false)?;
    let has = |k: &str| e.has(k);
    Ok(Json(UiAccessOut {
        user_id: e.user.to_string(),
        organization_id: access.org().to_string(),
        pages: UiPages {
            organization: true,
            my_team: true,
            departments: true,
            roles: true,
            audit_log: has("view_audit_log"),
            billing: has("manage_billing"),
            knowledge: has("manage_knowledge_slices"),
        },
        actions: UiActions {
            invite_user: has("invite_users"),
            deactivate_user: has("deactivate_users"),
            remove_user: has("remove_users"),
            manage_users: has("manage_users"),
            manage_roles: has("manage_roles"),
            assign_roles: has("assign_roles"),
            manage_departments: has("manage_departments"),
            create_subdepartment: has("create_subdepartments"),
            reparent_department: has("reparent_departments"),
            manage_knowledge: has("manage_knowledge_slices"),
            manage_billing: has("manage_billing"),
            view_audit_log: has("view_audit_log"),
            export_audit_log: has("export_audit_log"),
        },
    }))
}

/// A permission key defined by the organization (or deployment-wide).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct PermissionOut {
    key: String,
    description: Option<String>,
    /// `null` for deployment-wide keys.
    organization_id: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<&PermissionDef> for PermissionOut {
    fn from(p: &PermissionDef) -> Self {
        PermissionOut {
            key: p.key.as_str().to_owned(),
            description: p.description.clone(),
            organization_id: p.org_id.map(|o| o.to_string()),
            created_at: p.created_at,
        }
    }
}

/// The organization's own permission keys and the deployment-wide ones (not the built-in capabilities).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/permissions", tag = "roles",
    params(("organization_id" = String, Path)), responses((status = 200, body = Vec<PermissionOut>)))]
async fn list_permissions(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
) -> Result<Json<Vec<PermissionOut>>, ApiError> {
    let defs = app.store.list_permissions(&access).await?;
    Ok(Json(defs.iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreatePermission {
    /// a-z, 0-9, `_ . : -`, at most 200 characters, e.g. `reports.export`.
    key: String,
    /// At most 500 characters.
    description: Option<String>,
}

/// Define a permission key for the organization (`manage_roles`); roles can then grant it.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/permissions", tag = "roles",
    params(("organization_id" = String, Path)), request_body = CreatePermission,
    responses((status = 201, body = PermissionOut)))]
async fn create_permission(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::ManageRoles>,
    OJson(b): OJson<CreatePermission>,
) -> Result<impl IntoResponse, ApiError> {
    let w = app
        .store
        .create_permission(&caller.ctx, &access, &b.key, b.description.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(PermissionOut::from(&w.value)),
    ))
}
