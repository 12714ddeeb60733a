//! Projects: a user's projects in an organization (list, add, remove), and
//! `/api/v1/projects` (list, create, upsert, current, get, update, delete).
//! Projects live in one organization; a request that names none works in
//! the caller's default organization, and a project id alone is looked up
//! among the caller's organizations only.

use super::error::FaError;
use super::extract::{body_loc, Body, Check, FaCaller, FaOrg, PathParams, Query};
use super::users::user_id;
use crate::app::{App, Caller};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::{need, Error, Need, OrgAccess, OrgId, ProjectId, SystemRole};
use roster_store::projects::{NewProject, Project, ProjectMember, ProjectPatch, ProjectQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_projects_by_user, add_user_to_project))
        .routes(routes!(remove_user_from_project))
        .routes(routes!(list_projects, create_project, upsert_project))
        .routes(routes!(get_current_project))
        .routes(routes!(
            get_project,
            update_existing_project,
            delete_project
        ))
}

/// Schema for a project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectOut {
    pub name: String,
    #[schema(format = "uuid")]
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Always null: Roster keeps no evaluation datasets.
    pub ad_hoc_eval_dataset_id: Option<String>,
    /// The organization the project is under.
    #[schema(format = "uuid")]
    pub organization_id: String,
    /// Whether this is the organization's default project.
    pub is_default: bool,
}

impl From<&Project> for ProjectOut {
    fn from(p: &Project) -> Self {
        ProjectOut {
            name: p.name.clone(),
            id: p.id.uuid().to_string(),
            created_at: Some(p.created_at),
            updated_at: Some(p.updated_at),
            ad_hoc_eval_dataset_id: None,
            organization_id: p.org_id.uuid().to_string(),
            is_default: p.is_default,
        }
    }
}

/// A user's membership in a project (the untyped answer of the add/remove endpoints).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectUserOut {
    #[schema(format = "uuid")]
    pub project_id: String,
    pub user_id: String,
    /// The project role's id.
    #[schema(format = "uuid")]
    pub role_id: String,
    pub role_name: String,
}

impl From<&ProjectMember> for ProjectUserOut {
    fn from(m: &ProjectMember) -> Self {
        ProjectUserOut {
            project_id: m.project_id.uuid().to_string(),
            user_id: m.user_id.to_string(),
            role_id: m.role_id.uuid().to_string(),
            role_name: m.role_name.clone(),
        }
    }
}

/// Every live project of the organization (optionally of one name), in id order.
async fn all_projects(
    app: &App,
    access: &OrgAccess<need::AnyMember>,
    name: Option<String>,
) -> Result<Vec<Project>, Error> {
    let mut out: Vec<Project> = Vec::new();
    loop {
        let q = ProjectQuery {
            after: out.last().map(|p| p.id),
            limit: 500,
            include_archived: false,
            name: name.clone(),
        };
        let chunk = app.store.list_projects(access, &q).await?;
        out.extend(chunk.items);
        if !chunk.has_more {
            return Ok(out);
        }
    }
}

/// List Projects By User: the projects a member of the organization belongs to.
#[utoipa::path(get, path = "/api/v1/organizations/{organization_id}/users/{member_user_id}/projects", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("member_user_id" = String, Path)),
    responses((status = 200, body = Vec<ProjectOut>)))]
async fn list_projects_by_user(
    State(app): State<App>,
    FaOrg { access, path, .. }: FaOrg<need::AnyMember>,
) -> Result<Json<Vec<ProjectOut>>, FaError> {
    let user = user_id(path.str("member_user_id"))?;
    let projects = app.store.user_projects(&access, user).await?;
    Ok(Json(projects.iter().map(|(p, _)| p.into()).collect()))
}

/// Add User To Project: makes a member of the organization a member of the
/// project (`?project_id=`, required) with the Project Member role. Adding a
/// user already in the project changes nothing.
#[utoipa::path(put, path = "/api/v1/organizations/{organization_id}/users/{member_user_id}/projects", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("member_user_id" = String, Path),
        ("project_id" = String, Query, description = "A UUID")),
    responses((status = 200, body = ProjectUserOut)))]
async fn add_user_to_project(
    State(app): State<App>,
    FaOrg {
        caller,
        access,
        path,
    }: FaOrg<need::ManageProjects>,
    q: Query,
) -> Result<Json<ProjectUserOut>, FaError> {
    let project = ProjectId(q.uuid("project_id", true)?.unwrap_or_default());
    let user = user_id(path.str("member_user_id"))?;
    let member = match app
        .store
        .add_project_member(
            &caller.ctx,
            &access,
            project,
            user,
            SystemRole::ProjectMember.id(),
        )
        .await
    {
        Ok(w) => w.value,
        Err(Error::ProjectMemberDuplicate { .. }) => {
            app.store
                .get_project_member(&access.as_member(), project, user)
                .await?
        }
        Err(e) => return Err(FaError::from(e).at("query", &[])),
    };
    Ok(Json((&member).into()))
}

/// Remove User From Project: the user leaves the project with every role
/// they held there. Answers `{}`.
#[utoipa::path(delete, path = "/api/v1/organizations/{organization_id}/users/{member_user_id}/projects/{project_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("member_user_id" = String, Path),
        ("project_id" = String, Path, description = "A UUID")),
    responses((status = 200, body = Object)))]
async fn remove_user_from_project(
    State(app): State<App>,
    FaOrg {
        caller,
        access,
        path,
    }: FaOrg<need::ManageProjects>,
) -> Result<Json<Value>, FaError> {
    let project = ProjectId(path.uuid("project_id")?);
    let user = user_id(path.str("member_user_id"))?;
    app.store
        .remove_project_member(&caller.ctx, &access, project, user)
        .await?;
    Ok(Json(serde_json::json!({})))
}

/// The organization a `/api/v1/projects` request works in: `?organization_id=`,
/// else the caller's default organization.
pub(super) async fn project_org<N: Need>(
    app: &App,
    caller: &Caller,
    q: &Query,
) -> Result<OrgAccess<N>, FaError> {
    let org = match q.uuid("organization_id", false)? {
        Some(o) => OrgId(o),
        None => app.store.default_org(&caller.actor).await?.ok_or_else(|| {
            FaError::new(
                StatusCode::NOT_FOUND,
                "The caller has no default organization: name one with organization_id",
            )
        })?,
    };
    Ok(app.authorize::<N>(caller, org)?)
}

/// The organization holding `project`: the given one, else the project's own
/// organization when the caller is a member there (otherwise the project is
/// not found, as if it did not exist).
async fn org_of_project<N: Need>(
    app: &App,
    caller: &Caller,
    q: &Query,
    project: ProjectId,
) -> Result<OrgAccess<N>, FaError> {
    if q.str("organization_id").is_some() {
        return project_org(app, caller, q).await;
    }
    let org = app
        .store
        .project_home(project)
        .await?
        .filter(|o| app.authorize::<need::AnyMember>(caller, *o).is_ok())
        .ok_or(Error::ProjectNotFound(project))?;
    Ok(app.authorize::<N>(caller, org)?)
}

/// Schema for creating a project.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ProjectCreate {
    #[allow(dead_code)]
    name: String,
}

fn project_name(body: &Value) -> Result<String, FaError> {
    let mut c = Check::new();
    let name = c
        .object(body, &body_loc())
        .and_then(|o| c.string(o, &body_loc(), "name", true, (1, 3000)));
    c.finish()?;
    Ok(name.unwrap_or_default())
}

/// List Projects of an organization (`?organization_id=`, default: the
/// caller's default organization), optionally only those named `project_name`.
#[utoipa::path(get, path = "/api/v1/projects", tag = "Projects",
    params(("organization_id" = Option<String>, Query), ("project_name" = Option<String>, Query)),
    responses((status = 200, body = Vec<ProjectOut>)))]
async fn list_projects(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    q: Query,
) -> Result<Json<Vec<ProjectOut>>, FaError> {
    let access = project_org::<need::AnyMember>(&app, &caller, &q).await?;
    let name = q.str("project_name").map(str::to_owned);
    let projects = all_projects(&app, &access, name).await?;
    Ok(Json(projects.iter().map(Into::into).collect()))
}

async fn create(
    app: &App,
    caller: &Caller,
    access: &OrgAccess<need::ManageProjects>,
    name: String,
) -> Result<Project, FaError> {
    let w = app
        .store
        .create_project(
            &caller.ctx,
            access,
            NewProject {
                name,
                ..NewProject::default()
            },
        )
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(w.value)
}

/// Create Project in an organization (needs `api.organization.projects.write`).
#[utoipa::path(post, path = "/api/v1/projects", tag = "Projects",
    params(("organization_id" = Option<String>, Query)), request_body = ProjectCreate,
    responses((status = 200, body = ProjectOut)))]
async fn create_project(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    q: Query,
    Body(body): Body,
) -> Result<Json<ProjectOut>, FaError> {
    let access = project_org::<need::ManageProjects>(&app, &caller, &q).await?;
    let name = project_name(&body)?;
    Ok(Json((&create(&app, &caller, &access, name).await?).into()))
}

/// Upsert Project: the organization's live project of that exact name, else
/// a new one (in one transaction: concurrent upserts create one project).
#[utoipa::path(put, path = "/api/v1/projects", tag = "Projects",
    params(("organization_id" = Option<String>, Query)), request_body = ProjectCreate,
    responses((status = 200, body = ProjectOut)))]
async fn upsert_project(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    q: Query,
    Body(body): Body,
) -> Result<Json<ProjectOut>, FaError> {
    let access = project_org::<need::ManageProjects>(&app, &caller, &q).await?;
    let name = project_name(&body)?;
    let w = app
        .store
        .upsert_project(&caller.ctx, &access, &name)
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(Json((&w.value).into()))
}

/// Get Current Project: `?project_id=` if given, else the organization's
/// default project, else its oldest.
#[utoipa::path(get, path = "/api/v1/projects/current", tag = "Projects",
    params(("project_id" = Option<String>, Query), ("organization_id" = Option<String>, Query)),
    responses((status = 200, body = ProjectOut)))]
async fn get_current_project(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    q: Query,
) -> Result<Json<ProjectOut>, FaError> {
    if let Some(p) = q.uuid("project_id", false)? {
        let project = ProjectId(p);
        let access = org_of_project::<need::AnyMember>(&app, &caller, &q, project).await?;
        return Ok(Json(
            (&app.store.get_project(&access, project).await?).into(),
        ));
    }
    let access = project_org::<need::AnyMember>(&app, &caller, &q).await?;
    let projects = all_projects(&app, &access, None).await?;
    let current = projects
        .iter()
        .find(|p| p.is_default)
        .or(projects.first())
        .ok_or_else(|| FaError::new(StatusCode::NOT_FOUND, "The organization has no project"))?;
    Ok(Json(current.into()))
}

/// Get Project.
#[utoipa::path(get, path = "/api/v1/projects/{project_id}", tag = "Projects",
    params(("project_id" = String, Path, description = "A UUID"), ("organization_id" = Option<String>, Query)),
    responses((status = 200, body = ProjectOut)))]
async fn get_project(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    path: PathParams,
    q: Query,
) -> Result<Json<ProjectOut>, FaError> {
    let project = ProjectId(path.uuid("project_id")?);
    let access = org_of_project::<need::AnyMember>(&app, &caller, &q, project).await?;
    Ok(Json(
        (&app.store.get_project(&access, project).await?).into(),
    ))
}

/// Update Existing Project: renames it (needs `api.organization.projects.write`).
#[utoipa::path(put, path = "/api/v1/projects/{project_id}", tag = "Projects",
    params(("project_id" = String, Path, description = "A UUID"), ("organization_id" = Option<String>, Query)),
    request_body = ProjectCreate, responses((status = 200, body = ProjectOut)))]
async fn update_existing_project(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    path: PathParams,
    q: Query,
    Body(body): Body,
) -> Result<Json<ProjectOut>, FaError> {
    let project = ProjectId(path.uuid("project_id")?);
    let access = org_of_project::<need::ManageProjects>(&app, &caller, &q, project).await?;
    let name = project_name(&body)?;
    let patch = ProjectPatch {
        name: Some(name),
        ..ProjectPatch::default()
    };
    let w = app
        .store
        .update_project(&caller.ctx, &access, project, patch)
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(Json((&w.value).into()))
}

/// Delete Project with its memberships and the roles made for it: 204.
#[utoipa::path(delete, path = "/api/v1/projects/{project_id}", tag = "Projects",
    params(("project_id" = String, Path, description = "A UUID"), ("organization_id" = Option<String>, Query)),
    responses((status = 204)))]
async fn delete_project(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    path: PathParams,
    q: Query,
) -> Result<impl IntoResponse, FaError> {
    let project = ProjectId(path.uuid("project_id")?);
    let access = org_of_project::<need::ManageProjects>(&app, &caller, &q, project).await?;
    app.store
        .delete_project(&caller.ctx, &access, project)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
