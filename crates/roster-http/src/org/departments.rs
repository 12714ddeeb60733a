//! Departments: the flat list and the tree, CRUD, reparenting, direct
//! members (seed 004), and the roles bound to a department (a Roster
//! extension: a bound role reaches the members of the department and of all
//! its descendants).

use super::*;
use crate::app::{App, Authorized};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::{need, Department, DepartmentMember, DeptId, Error, RoleId, UserId};
use roster_store::departments::{DeptPatch, DeptRole, NewDept, Placement};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{HashMap, HashSet};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    // `/departments/tree` is a static segment, which the router prefers over
    // `/departments/{department_id}`.
    OpenApiRouter::new()
        .routes(routes!(list_departments, create_department))
        .routes(routes!(department_tree))
        .routes(routes!(
            get_department,
            update_department,
            delete_department
        ))
        .routes(routes!(reparent_department))
        .routes(routes!(list_department_members, add_department_member))
        .routes(routes!(remove_department_member))
        .routes(routes!(list_department_roles, bind_department_role))
        .routes(routes!(unbind_department_role))
}

/// A department id from a path or body (unknown → DEPARTMENT_NOT_FOUND echoing it).
fn dept_id(raw: &str, field: &str) -> Result<DeptId, ApiError> {
    parse_id(raw, field, |r| {
        unknown(Error::DeptNotFound(nil()), "department_id", r)
    })
}

/// Maps a store error, echoing the department ids the caller spelled in the 404 they cause.
fn echo(e: Error, spelled: &[(DeptId, &str)]) -> ApiError {
    if let Error::DeptNotFound(d) = &e {
        if let Some((_, raw)) = spelled.iter().find(|(x, _)| x == d) {
            return unknown(e, "department_id", raw);
        }
    }
    e.into()
}

/// Seed 004's MEMBER_NOT_FOUND carries its own system message.
fn seed_004_member_not_found(mut e: ApiError) -> ApiError {
    if e.code == "MEMBER_NOT_FOUND" {
        e.system_message = "User is not a member of this organization".to_owned();
    }
    e
}

/// A present `null` is `Some(None)`; an absent key is `None` (with `#[serde(default)]`).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A key that must be present but may be `null`.
fn required_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DepartmentOut {
    id: String,
    name: String,
    description: Option<String>,
    parent_id: Option<String>,
    /// Materialised path of ids from the root, e.g. `/dept_a/dept_b`.
    path: String,
    /// 0 for top-level departments.
    depth: i32,
    organization_id: String,
    /// Direct members only.
    member_count: i64,
    is_active: bool,
    is_default: bool,
    color: Option<String>,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Department> for DepartmentOut {
    fn from(d: &Department) -> Self {
        DepartmentOut {
            id: d.id.to_string(),
            name: d.name.clone(),
            description: d.description.clone(),
            parent_id: d.parent_id.map(|p| p.to_string()),
            path: d.path.clone(),
            depth: d.depth,
            organization_id: d.org_id.to_string(),
            member_count: d.member_count,
            is_active: true,
            is_default: false,
            color: d.color.clone(),
            created_by: d.created_by.map(|u| u.to_string()),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A department with its sub-departments, recursively (a leaf has `children: []`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DepartmentTree {
    #[serde(flatten)]
    department: DepartmentOut,
    #[schema(no_recursion)]
    children: Vec<DepartmentTree>,
}

/// Nests a pre-ordered list: a node whose parent is not in the list is a root.
fn nest(depts: &[Department]) -> Vec<DepartmentTree> {
    let present: HashSet<DeptId> = depts.iter().map(|d| d.id).collect();
    let mut children: HashMap<DeptId, Vec<&Department>> = HashMap::new();
    let mut roots = Vec::new();
    for d in depts {
        match d.parent_id.filter(|p| present.contains(p)) {
            Some(p) => children.entry(p).or_default().push(d),
            None => roots.push(d),
        }
    }
    fn build(d: &Department, children: &HashMap<DeptId, Vec<&Department>>) -> DepartmentTree {
        DepartmentTree {
            department: d.into(),
            children: children
                .get(&d.id)
                .into_iter()
                .flatten()
                .map(|c| build(c, children))
                .collect(),
        }
    }
    roots.into_iter().map(|d| build(d, &children)).collect()
}

/// List every department of the organization, flat (tree pre-order), each with `parent_id`, `path` and `depth`.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/departments", tag = "departments",
    params(("organization_id" = String, Path)), responses((status = 200, body = Vec<DepartmentOut>)))]
async fn list_departments(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
) -> Result<Json<Vec<DepartmentOut>>, ApiError> {
    let all = app.store.list_departments(&access).await?;
    Ok(Json(all.iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct TreeQuery {
    /// Comma-separated department ids: only these departments (as roots) and their descendants.
    scope: Option<String>,
}

/// The department tree: top-level departments (or the scoped ones) with nested `children`.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/departments/tree", tag = "departments",
    params(("organization_id" = String, Path), TreeQuery), responses((status = 200, body = Vec<DepartmentTree>)))]
async fn department_tree(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OQuery(q): OQuery<TreeQuery>,
) -> Result<Json<Vec<DepartmentTree>>, ApiError> {
    let raw: Vec<&str> = q
        .scope
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let depts = if raw.is_empty() {
        app.store.list_departments(&access).await?
    } else {
        let mut spelled = Vec::new();
        for r in &raw {
            let id = dept_id(r, "scope")?;
            if !spelled.iter().any(|(x, _)| *x == id) {
                spelled.push((id, *r));
            }
        }
        let roots: Vec<DeptId> = spelled.iter().map(|(d, _)| *d).collect();
        app.store
            .department_subtrees(&access, &roots)
            .await
            .map_err(|e| echo(e, &spelled))?
    };
    Ok(Json(nest(&depts)))
}

/// Retrieve a department.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/departments/{department_id}", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)), responses((status = 200, body = DepartmentOut)))]
async fn get_department(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<Json<DepartmentOut>, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let d = app
        .store
        .get_department(&access, dept)
        .await
        .map_err(|e| echo(e, &[(dept, &raw)]))?;
    Ok(Json((&d).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateDepartment {
    /// 1..255 characters (trimmed), unique in the organization (case-insensitive).
    name: String,
    description: Option<String>,
    /// The parent department; omitted or null for a top-level department.
    parent_id: Option<String>,
}

/// Create a department: top level (`manage_departments`) or under a parent
/// (`manage_departments` or `create_subdepartments`).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/departments", tag = "departments",
    params(("organization_id" = String, Path)), request_body = CreateDepartment, responses((status = 201, body = DepartmentOut)))]
async fn create_department(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::CreateSubdepartment>,
    OJson(b): OJson<CreateDepartment>,
) -> Result<impl IntoResponse, ApiError> {
    let input = NewDept {
        name: b.name,
        description: b.description,
    };
    let w = match b.parent_id.as_deref() {
        None => {
            let top = app.authorize::<need::ManageDepartments>(&caller, access.org())?;
            app.store
                .create_department(&caller.ctx, Placement::TopLevel(&top), input)
                .await?
        }
        Some(raw) => {
            let parent = dept_id(raw, "parent_id")?;
            app.store
                .create_department(&caller.ctx, Placement::Under(&access, parent), input)
                .await
                .map_err(|e| echo(e, &[(parent, raw)]))?
        }
    };
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(DepartmentOut::from(&w.value)),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateDepartment {
    /// 1..255 characters; omitted or null leaves it unchanged.
    name: Option<String>,
    /// Omitted leaves it unchanged; null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
}

/// Update a department's name and/or description (it never moves; see reparent).
#[utoipa::path(patch, path = "/v1/organizations/{organization_id}/departments/{department_id}", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)), request_body = UpdateDepartment,
    responses((status = 200, body = DepartmentOut)))]
async fn update_department(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::ManageDepartments>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<UpdateDepartment>,
) -> Result<impl IntoResponse, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let patch = DeptPatch {
        name: b.name,
        description: b.description,
    };
    let w = app
        .store
        .update_department(&caller.ctx, &access, dept, patch)
        .await
        .map_err(|e| echo(e, &[(dept, &raw)]))?;
    Ok((
        revision_header(w.revision),
        Json(DepartmentOut::from(&w.value)),
    ))
}

/// Delete a department without children and members (its role bindings go with it).
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/departments/{department_id}", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)), responses((status = 204)))]
async fn delete_department(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::ManageDepartments>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let w = app
        .store
        .delete_department(&caller.ctx, &access, dept)
        .await
        .map_err(|e| echo(e, &[(dept, &raw)]))?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct Reparent {
    /// Required; null makes the department top-level.
    #[serde(deserialize_with = "required_nullable")]
    #[schema(required = true, value_type = Option<String>)]
    new_parent_id: Option<String>,
}

/// Move a department and its subtree under another department, or to the top level.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/departments/{department_id}/reparent", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)), request_body = Reparent,
    responses((status = 200, body = DepartmentOut)))]
async fn reparent_department(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::ReparentDepartments>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<Reparent>,
) -> Result<impl IntoResponse, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let parent = b
        .new_parent_id
        .as_deref()
        .map(|p| dept_id(p, "new_parent_id").map(|id| (id, p)))
        .transpose()?;
    let mut spelled = vec![(dept, raw.as_str())];
    spelled.extend(parent);
    let w = app
        .store
        .reparent_department(&caller.ctx, &access, dept, parent.map(|(p, _)| p))
        .await
        .map_err(|e| echo(e, &spelled))?;
    Ok((
        revision_header(w.revision),
        Json(DepartmentOut::from(&w.value)),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DepartmentMemberOut {
    user_id: String,
    full_name: Option<String>,
    email: String,
    added_at: DateTime<Utc>,
}

impl From<&DepartmentMember> for DepartmentMemberOut {
    fn from(m: &DepartmentMember) -> Self {
        DepartmentMemberOut {
            user_id: m.user.id.to_string(),
            full_name: m.user.full_name.clone(),
            email: m.user.email.clone(),
            added_at: m.added_at,
        }
    }
}

/// The department's direct members.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/departments/{department_id}/members", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)),
    responses((status = 200, body = Vec<DepartmentMemberOut>)))]
async fn list_department_members(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<Json<Vec<DepartmentMemberOut>>, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let members = app
        .store
        .list_department_members(&access, dept)
        .await
        .map_err(|e| echo(e, &[(dept, &raw)]))?;
    Ok(Json(members.iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct AddDepartmentMember {
    /// A member of the organization (`usr_…`).
    user_id: String,
}

/// Add an organization member to a department (seed 004).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/departments/{department_id}/members", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)), request_body = AddDepartmentMember,
    responses((status = 201, body = DepartmentMemberOut)))]
async fn add_department_member(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::DepartmentMembers>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<AddDepartmentMember>,
) -> Result<impl IntoResponse, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let user = parse_id::<UserId>(&b.user_id, "user_id", |r| {
        unknown(
            Error::MemberNotFound {
                org: nil(),
                user: nil(),
            },
            "user_id",
            r,
        )
    })
    .map_err(seed_004_member_not_found)?;
    let w = app
        .store
        .add_department_member(&caller.ctx, &access, dept, user)
        .await
        .map_err(|e| match e {
            e @ Error::MemberNotFound { .. } => {
                seed_004_member_not_found(unknown(e, "user_id", &b.user_id))
            }
            e => echo(e, &[(dept, &raw)]),
        })?;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(DepartmentMemberOut::from(&w.value)),
    ))
}

/// Remove a user from a department; they remain a member of the organization.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/departments/{department_id}/members/{user_id}", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204)))]
async fn remove_department_member(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::DepartmentMembers>,
    Path((_org, raw, raw_user)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let user = parse_id::<UserId>(&raw_user, "user_id", |r| {
        unknown(
            Error::DeptMemberNotFound { dept, user: nil() },
            "user_id",
            r,
        )
    })?;
    let w = app
        .store
        .remove_department_member(&caller.ctx, &access, dept, user)
        .await
        .map_err(|e| match e {
            e @ Error::DeptMemberNotFound { .. } => unknown(e, "user_id", &raw_user),
            e => echo(e, &[(dept, &raw)]),
        })?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DepartmentRoleOut {
    /// The binding's role assignment id (`urol_…`).
    id: String,
    department_id: String,
    role_id: String,
    role_name: String,
    organization_id: String,
    assigned_at: DateTime<Utc>,
}

fn role_out(dept: DeptId, r: &DeptRole) -> DepartmentRoleOut {
    let a = &r.assignment;
    DepartmentRoleOut {
        id: a.id.to_string(),
        department_id: dept.to_string(),
        role_id: a.role_id.to_string(),
        role_name: r.role_name.clone(),
        organization_id: a.org_id.to_string(),
        assigned_at: a.created_at,
    }
}

/// The roles bound to a department (they reach its members and the members of its descendants).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/departments/{department_id}/roles", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)),
    responses((status = 200, body = Vec<DepartmentRoleOut>)))]
async fn list_department_roles(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    Path((_org, raw)): Path<(String, String)>,
) -> Result<Json<Vec<DepartmentRoleOut>>, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let roles = app
        .store
        .list_department_roles(&access, dept)
        .await
        .map_err(|e| echo(e, &[(dept, &raw)]))?;
    Ok(Json(roles.iter().map(|r| role_out(dept, r)).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct BindRole {
    /// An organization role (`role_…`); the Owner role cannot be bound.
    role_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DepartmentRoleBinding {
    id: String,
    department_id: String,
    role_id: String,
    organization_id: String,
    assigned_at: DateTime<Utc>,
}

/// Bind a role to a department (`assign_roles`; the caller must hold what the role allows).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/departments/{department_id}/roles", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path)), request_body = BindRole,
    responses((status = 201, body = DepartmentRoleBinding)))]
async fn bind_department_role(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::AssignRoles>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<BindRole>,
) -> Result<impl IntoResponse, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let role = parse_id::<RoleId>(&b.role_id, "role_id", |r| {
        unknown(Error::RoleNotFound(nil()), "role_id", r)
    })?;
    let w = app
        .store
        .bind_department_role(&caller.ctx, &access, dept, role)
        .await
        .map_err(|e| match e {
            e @ Error::RoleNotFound(_) => unknown(e, "role_id", &b.role_id),
            e => echo(e, &[(dept, &raw)]),
        })?;
    let a = &w.value;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(DepartmentRoleBinding {
            id: a.id.to_string(),
            department_id: dept.to_string(),
            role_id: a.role_id.to_string(),
            organization_id: a.org_id.to_string(),
            assigned_at: a.created_at,
        }),
    ))
}

/// Unbind a role from a department.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/departments/{department_id}/roles/{role_id}", tag = "departments",
    params(("organization_id" = String, Path), ("department_id" = String, Path), ("role_id" = String, Path)),
    responses((status = 204)))]
async fn unbind_department_role(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::AssignRoles>,
    Path((_org, raw, raw_role)): Path<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let dept = dept_id(&raw, "department_id")?;
    let role = parse_id::<RoleId>(&raw_role, "role_id", |r| {
        unknown(Error::DeptRoleNotFound { dept, role: nil() }, "role_id", r)
    })?;
    let w = app
        .store
        .unbind_department_role(&caller.ctx, &access, dept, role)
        .await
        .map_err(|e| match e {
            e @ Error::DeptRoleNotFound { .. } => unknown(e, "role_id", &raw_role),
            e => echo(e, &[(dept, &raw)]),
        })?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}
