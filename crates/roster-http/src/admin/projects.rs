//! Projects, project users and the groups attached to projects: the core's
//! projects. A project user's `role` is the project role of their
//! membership (`owner`, `member`, `viewer`, or a custom project role's id).

use super::error::AdminError;
use super::extract::{nullable, AJson, AQuery, Admin, Order};
use super::groups::{group_id, rbac_page};
use super::ids::{parse, parse_role, role_id_out};
use super::users::user_id;
use super::views::{deleted, display_name_of, list_a, list_b, secs, DeletedOut, ListA, ListB};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::{need, OrgAccess, OrgId, ProjectId, RoleId, SystemRole, UserId};
use roster_store::projects::{
    NewProject, Project, ProjectGroup, ProjectMember, ProjectPatch, ProjectQuery,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project))
        .routes(routes!(archive_project))
        .routes(routes!(list_project_users, add_project_user))
        .routes(routes!(
            get_project_user,
            update_project_user,
            remove_project_user
        ))
        .routes(routes!(list_project_groups, add_project_group))
        .routes(routes!(get_project_group, remove_project_group))
}

pub(super) fn project_id(raw: &str) -> Result<ProjectId, AdminError> {
    parse(raw, "project")
}

/// The project named by the path, or 404.
pub(super) async fn find_project<N>(
    app: &App,
    access: &OrgAccess<N>,
    raw: &str,
) -> Result<Project, AdminError> {
    let project = project_id(raw)?;
    app.store
        .get_project(&access.as_member(), project)
        .await
        .map_err(|e| AdminError::from(e).echo("project", raw))
}

const RESIDENCIES: [&str; 15] = [
    "GLOBAL",
    "US_STORAGE_PROCESSING",
    "EU_STORAGE_PROCESSING",
    "JP_STORAGE",
    "JP_STORAGE_PROCESSING",
    "KR_STORAGE",
    "CA_STORAGE",
    "SG_STORAGE",
    "IN_STORAGE",
    "IN_STORAGE_PROCESSING",
    "AU_STORAGE",
    "AU_STORAGE_PROCESSING",
    "GB_STORAGE",
    "AE_STORAGE",
    "AE_STORAGE_PROCESSING",
];

/// A project (`organization.project`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProjectOut {
    /// Always `organization.project`.
    object: &'static str,
    id: String,
    name: String,
    created_at: i64,
    archived_at: Option<i64>,
    /// `active` or `archived`.
    status: &'static str,
    external_key_id: Option<String>,
    residency: Option<String>,
}

fn project_out(p: &Project) -> ProjectOut {
    ProjectOut {
        object: "organization.project",
        id: p.id.to_string(),
        name: p.name.clone(),
        created_at: secs(p.created_at),
        archived_at: p.archived_at.map(secs),
        status: if p.is_archived() {
            "archived"
        } else {
            "active"
        },
        external_key_id: p.external_key_id.clone(),
        residency: p.residency.clone(),
    }
}

/// List projects in id order; archived ones only with `include_archived=true`.
#[utoipa::path(get, path = "/v1/organization/projects", tag = "admin: projects",
    params(("after" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("include_archived" = Option<bool>, Query)),
    responses((status = 200, body = ListA<ProjectOut>)))]
async fn list_projects(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    q: AQuery,
) -> Result<Json<ListA<ProjectOut>>, AdminError> {
    let limit = q.limit(20, 1, 100)?;
    let include_archived = q.bool("include_archived", false)?;
    let after = q
        .one("after")
        .map(|a| {
            ProjectId::parse(a)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let page = app
        .store
        .list_projects(
            &access,
            &ProjectQuery {
                after,
                limit,
                include_archived,
                name: None,
            },
        )
        .await?;
    let data = page.items.iter().map(project_out).collect();
    Ok(Json(list_a(
        data,
        |p: &ProjectOut| p.id.clone(),
        page.has_more,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateProject {
    name: String,
    external_key_id: Option<String>,
    /// Deprecated by OpenAI; accepted and ignored.
    geography: Option<String>,
    /// One of OpenAI's residency values (e.g. `GLOBAL`, `EU_STORAGE_PROCESSING`).
    residency: Option<String>,
}

fn check_residency(r: Option<String>) -> Result<Option<String>, AdminError> {
    match r {
        Some(v) if !RESIDENCIES.contains(&v.as_str()) => Err(AdminError::invalid(
            "residency",
            format!(
                "Invalid 'residency': '{v}'. It must be one of {}.",
                RESIDENCIES.join(", ")
            ),
        )),
        r => Ok(r),
    }
}

/// Create a project (`api.organization.projects.write`).
#[utoipa::path(post, path = "/v1/organization/projects", tag = "admin: projects", request_body = CreateProject,
    responses((status = 200, body = ProjectOut)))]
async fn create_project(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    AJson(b): AJson<CreateProject>,
) -> Result<Json<ProjectOut>, AdminError> {
    let _deprecated = b.geography;
    let input = NewProject {
        name: b.name,
        external_key_id: b.external_key_id,
        residency: check_residency(b.residency)?,
        is_default: false,
    };
    let w = app
        .store
        .create_project(&caller.ctx, &access, input)
        .await
        .map_err(AdminError::from)?;
    Ok(Json(project_out(&w.value)))
}

/// Retrieve a project (archived ones too).
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}", tag = "admin: projects",
    params(("project_id" = String, Path)), responses((status = 200, body = ProjectOut)))]
async fn get_project(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
) -> Result<Json<ProjectOut>, AdminError> {
    Ok(Json(project_out(&find_project(&app, &access, &raw).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateProject {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    external_key_id: Option<Option<String>>,
    /// Deprecated by OpenAI; accepted and ignored.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    geography: Option<Option<String>>,
}

/// Rename a project or change its external key id (archived projects refuse).
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}", tag = "admin: projects",
    params(("project_id" = String, Path)), request_body = UpdateProject,
    responses((status = 200, body = ProjectOut)))]
async fn update_project(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path(raw): Path<String>,
    AJson(b): AJson<UpdateProject>,
) -> Result<Json<ProjectOut>, AdminError> {
    let _deprecated = b.geography;
    let project = project_id(&raw)?;
    let patch = ProjectPatch {
        name: b.name.flatten(),
        external_key_id: b.external_key_id,
    };
    let w = app
        .store
        .update_project(&caller.ctx, &access, project, patch)
        .await
        .map_err(|e| AdminError::from(e).echo("project", &raw))?;
    Ok(Json(project_out(&w.value)))
}

/// Archive a project (no body). Projects are never deleted in this dialect.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/archive", tag = "admin: projects",
    params(("project_id" = String, Path)), responses((status = 200, body = ProjectOut)))]
async fn archive_project(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path(raw): Path<String>,
) -> Result<Json<ProjectOut>, AdminError> {
    let project = project_id(&raw)?;
    let w = app
        .store
        .archive_project(&caller.ctx, &access, project)
        .await
        .map_err(|e| AdminError::from(e).echo("project", &raw))?;
    Ok(Json(project_out(&w.value)))
}

/// How a project role shows as a project user's `role`: `owner`, `member`,
/// `viewer`, or the custom role's id.
pub(super) fn project_role_word(role: RoleId, org: OrgId, project: ProjectId) -> String {
    match role.system() {
        Some(SystemRole::ProjectOwner) => "owner".into(),
        Some(SystemRole::ProjectMember) => "member".into(),
        Some(SystemRole::ProjectViewer) => "viewer".into(),
        _ => role_id_out(role, org, Some(project)),
    }
}

/// A project role named by `owner`/`member`/`viewer` or by a role id.
fn project_role_of(
    raw: &str,
    org: OrgId,
    project: ProjectId,
    param: &str,
) -> Result<RoleId, AdminError> {
    match raw {
        "" => Err(AdminError::missing(param)),
        "owner" => Ok(SystemRole::ProjectOwner.id()),
        "member" => Ok(SystemRole::ProjectMember.id()),
        "viewer" => Ok(SystemRole::ProjectViewer.id()),
        other => parse_role(other, org, Some(project)).map_err(|e| e.param(param)),
    }
}

/// A user in a project (`organization.project.user`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProjectUserOut {
    /// Always `organization.project.user`.
    object: &'static str,
    /// The user's id.
    id: String,
    name: String,
    email: String,
    /// `owner`, `member`, `viewer` or a custom project role's id.
    role: String,
    added_at: i64,
}

fn project_user_out(m: &ProjectMember, org: OrgId) -> ProjectUserOut {
    ProjectUserOut {
        object: "organization.project.user",
        id: m.user_id.to_string(),
        name: display_name_of(m.name.as_deref(), &m.email),
        email: m.email.clone(),
        role: project_role_word(m.role_id, org, m.project_id),
        added_at: secs(m.added_at),
    }
}

/// List a project's users in id order.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/users", tag = "admin: projects",
    params(("project_id" = String, Path), ("after" = Option<String>, Query),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListA<ProjectUserOut>)))]
async fn list_project_users(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListA<ProjectUserOut>>, AdminError> {
    let project = project_id(&raw)?;
    let limit = q.limit(20, 1, 100)?;
    let after = q
        .one("after")
        .map(|a| {
            UserId::parse(a)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let page = app
        .store
        .list_project_members(&access, project, after, limit)
        .await
        .map_err(|e| AdminError::from(e).echo("project", &raw))?;
    let data = page
        .items
        .iter()
        .map(|m| project_user_out(m, access.org()))
        .collect();
    Ok(Json(list_a(
        data,
        |u: &ProjectUserOut| u.id.clone(),
        page.has_more,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct AddProjectUser {
    /// `owner`, `member`, `viewer` or a project role id.
    role: String,
    /// The user, by id ...
    user_id: Option<String>,
    /// ... or by email.
    email: Option<String>,
}

/// Add an organization member to a project (`api.organization.projects.write`).
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/users", tag = "admin: projects",
    params(("project_id" = String, Path)), request_body = AddProjectUser,
    responses((status = 200, body = ProjectUserOut)))]
async fn add_project_user(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path(raw): Path<String>,
    AJson(b): AJson<AddProjectUser>,
) -> Result<Json<ProjectUserOut>, AdminError> {
    let project = project_id(&raw)?;
    let role = project_role_of(&b.role, access.org(), project, "role")?;
    let (user, shown) = match (b.user_id.as_deref(), b.email.as_deref()) {
        (Some(u), _) if !u.trim().is_empty() => {
            (user_id(u).map_err(|e| e.param("user_id"))?, u.to_owned())
        }
        (_, Some(email)) if !email.trim().is_empty() => {
            let u = app
                .store
                .find_user_by_email(email)
                .await?
                .ok_or_else(|| AdminError::not_found("user", email).param("email"))?;
            (u.id, email.to_owned())
        }
        _ => return Err(AdminError::missing("user_id")),
    };
    find_project(&app, &access, &raw).await?;
    let w = app
        .store
        .add_project_member(&caller.ctx, &access, project, user, role)
        .await
        .map_err(|e| AdminError::from(e).echo("user", &shown))?;
    Ok(Json(project_user_out(&w.value, access.org())))
}

/// Retrieve a project user.
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/users/{user_id}", tag = "admin: projects",
    params(("project_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = ProjectUserOut)))]
async fn get_project_user(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_user)): Path<(String, String)>,
) -> Result<Json<ProjectUserOut>, AdminError> {
    let project = project_id(&raw)?;
    let user = user_id(&raw_user)?;
    let m = app
        .store
        .get_project_member(&access, project, user)
        .await
        .map_err(|e| AdminError::from(e).echo("project user", &format!("{raw_user} in {raw}")))?;
    Ok(Json(project_user_out(&m, access.org())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateProjectUser {
    /// `owner`, `member`, `viewer` or a project role id.
    role: String,
}

/// Change a project user's role.
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/users/{user_id}", tag = "admin: projects",
    params(("project_id" = String, Path), ("user_id" = String, Path)), request_body = UpdateProjectUser,
    responses((status = 200, body = ProjectUserOut)))]
async fn update_project_user(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_user)): Path<(String, String)>,
    AJson(b): AJson<UpdateProjectUser>,
) -> Result<Json<ProjectUserOut>, AdminError> {
    let project = project_id(&raw)?;
    let user = user_id(&raw_user)?;
    let role = project_role_of(&b.role, access.org(), project, "role")?;
    let w = app
        .store
        .set_project_member_role(&caller.ctx, &access, project, user, role)
        .await
        .map_err(|e| AdminError::from(e).echo("project user", &format!("{raw_user} in {raw}")))?;
    Ok(Json(project_user_out(&w.value, access.org())))
}

/// Remove a user from a project (with every role they held there).
#[utoipa::path(delete, path = "/v1/organization/projects/{project_id}/users/{user_id}", tag = "admin: projects",
    params(("project_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn remove_project_user(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_user)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let project = project_id(&raw)?;
    let user = user_id(&raw_user)?;
    app.store
        .remove_project_member(&caller.ctx, &access, project, user)
        .await
        .map_err(|e| AdminError::from(e).echo("project user", &format!("{raw_user} in {raw}")))?;
    Ok(Json(deleted(
        "organization.project.user.deleted",
        Some(raw_user),
    )))
}

/// A group attached to a project (`project.group`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProjectGroupOut {
    /// Always `project.group`.
    object: &'static str,
    project_id: String,
    group_id: String,
    group_name: String,
    /// Always `group`.
    group_type: &'static str,
    /// The project role the group holds through the attachment.
    role: String,
    created_at: i64,
}

fn project_group_out(g: &ProjectGroup, org: OrgId) -> ProjectGroupOut {
    ProjectGroupOut {
        object: "project.group",
        project_id: g.project_id.to_string(),
        group_id: g.group_id.to_string(),
        group_name: g.group_name.clone(),
        group_type: "group",
        role: role_id_out(g.role_id, org, Some(g.project_id)),
        created_at: secs(g.created_at),
    }
}

/// List the groups attached to a project (`limit` 0–100, default 20; `order` default asc).
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/groups", tag = "admin: projects",
    params(("project_id" = String, Path), ("after" = Option<String>, Query), ("limit" = Option<i64>, Query),
        ("order" = Option<String>, Query)),
    responses((status = 200, body = ListB<ProjectGroupOut>)))]
async fn list_project_groups(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
    q: AQuery,
) -> Result<Json<ListB<ProjectGroupOut>>, AdminError> {
    let project = project_id(&raw)?;
    let (after, limit, desc) = rbac_page(&q, 20, 100, Order::Asc, |a| {
        roster_core::GroupId::parse(a).ok()
    })?;
    let page = app
        .store
        .list_project_groups(&access, project, after, limit, desc)
        .await
        .map_err(|e| AdminError::from(e).echo("project", &raw))?;
    let data: Vec<ProjectGroupOut> = page
        .items
        .iter()
        .map(|g| project_group_out(g, access.org()))
        .collect();
    let cursor = data.last().map(|g| g.group_id.clone());
    Ok(Json(list_b(data, cursor, page.has_more)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct AddProjectGroup {
    group_id: String,
    /// The project role the group gets (e.g. `role-api-project-member`).
    role: String,
}

/// Attach a group to a project with a project role (`api.organization.projects.write`).
#[utoipa::path(post, path = "/v1/organization/projects/{project_id}/groups", tag = "admin: projects",
    params(("project_id" = String, Path)), request_body = AddProjectGroup,
    responses((status = 200, body = ProjectGroupOut)))]
async fn add_project_group(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path(raw): Path<String>,
    AJson(b): AJson<AddProjectGroup>,
) -> Result<Json<ProjectGroupOut>, AdminError> {
    let project = project_id(&raw)?;
    if b.group_id.trim().is_empty() {
        return Err(AdminError::missing("group_id"));
    }
    let role = project_role_of(&b.role, access.org(), project, "role")?;
    let group = group_id(&b.group_id).map_err(|e| e.param("group_id"))?;
    find_project(&app, &access, &raw).await?;
    let w = app
        .store
        .add_project_group(&caller.ctx, &access, project, group, role)
        .await
        .map_err(|e| AdminError::from(e).echo("group", &b.group_id))?;
    Ok(Json(project_group_out(&w.value, access.org())))
}

/// Retrieve a group attached to a project (`group_type` may be `group` or `tenant_group`).
#[utoipa::path(get, path = "/v1/organization/projects/{project_id}/groups/{group_id}", tag = "admin: projects",
    params(("project_id" = String, Path), ("group_id" = String, Path), ("group_type" = Option<String>, Query)),
    responses((status = 200, body = ProjectGroupOut)))]
async fn get_project_group(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path((raw, raw_group)): Path<(String, String)>,
    q: AQuery,
) -> Result<Json<ProjectGroupOut>, AdminError> {
    match q.one("group_type") {
        None | Some("group") => {}
        Some("tenant_group") => {
            return Err(AdminError::not_found(
                "project group",
                &format!("{raw_group} in {raw}"),
            ))
        }
        Some(v) => {
            return Err(AdminError::invalid(
                "group_type",
                format!("Invalid 'group_type': '{v}'. It must be 'group' or 'tenant_group'."),
            ))
        }
    }
    let project = project_id(&raw)?;
    let group = group_id(&raw_group)?;
    let g = app
        .store
        .get_project_group(&access, project, group)
        .await
        .map_err(|e| AdminError::from(e).echo("project group", &format!("{raw_group} in {raw}")))?;
    Ok(Json(project_group_out(&g, access.org())))
}

/// Detach a group from a project (with every role it held there).
#[utoipa::path(delete, path = "/v1/organization/projects/{project_id}/groups/{group_id}", tag = "admin: projects",
    params(("project_id" = String, Path), ("group_id" = String, Path)),
    responses((status = 200, body = DeletedOut)))]
async fn remove_project_group(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::ManageProjects>,
    Path((raw, raw_group)): Path<(String, String)>,
) -> Result<Json<DeletedOut>, AdminError> {
    let project = project_id(&raw)?;
    let group = group_id(&raw_group)?;
    app.store
        .remove_project_group(&caller.ctx, &access, project, group)
        .await
        .map_err(|e| AdminError::from(e).echo("project group", &format!("{raw_group} in {raw}")))?;
    Ok(Json(deleted("project.group.deleted", None)))
}
