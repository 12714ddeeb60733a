//! Invites: the organization API's invitations, shown as OpenAI's invites.
//! `owner` invites with the Owner role, `reader` with Member. Deleting an
//! invite cancels it (an accepted invite cannot be deleted); cancelled
//! invites are gone from this dialect. An invite may name projects, each
//! with `member` or `owner` (OpenAI's two words; the SDK's Invite model takes
//! no other): accepting it adds the user to them. Without `projects` it names
//! none (Roster has no implicit default project).

use super::error::AdminError;
use super::extract::{AJson, AQuery, Admin};
use super::ids::{org_role_of_word, org_role_word, parse};
use super::projects::project_role_word;
use super::views::{deleted, list_a, secs, DeletedOut, ListA};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::text::Email;
use roster_core::{
    need, Error, Invitation, InvitationId, InvitationState, OrgId, ProjectId, SystemRole, Timestamp,
};
use roster_store::invitations::InvitedProject;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_invites, create_invite))
        .routes(routes!(get_invite, delete_invite))
}

/// A project an invite grants access to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(super) struct InviteProject {
    /// The project's id (`proj_...`).
    pub id: String,
    /// `member` or `owner`.
    pub role: String,
}

fn invite_project_out(p: &InvitedProject, org: OrgId) -> InviteProject {
    InviteProject {
        id: p.project_id.to_string(),
        role: project_role_word(p.role_id, org, p.project_id),
    }
}

/// An invite (`organization.invite`).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct InviteOut {
    /// Always `organization.invite`.
    object: &'static str,
    id: String,
    email: String,
    /// `owner` or `reader`.
    role: &'static str,
    /// `pending`, `accepted` or `expired`.
    status: &'static str,
    created_at: i64,
    expires_at: Option<i64>,
    accepted_at: Option<i64>,
    /// The projects accepting the invite joins (deleted projects left out).
    projects: Vec<InviteProject>,
}

fn invite_out(
    i: &Invitation,
    accepted_at: Option<Timestamp>,
    projects: &[InvitedProject],
) -> InviteOut {
    InviteOut {
        object: "organization.invite",
        id: i.id.to_string(),
        email: i.email.clone(),
        role: org_role_word(i.role_id),
        status: match i.state {
            InvitationState::Accepted => "accepted",
            InvitationState::Expired => "expired",
            InvitationState::Pending | InvitationState::Cancelled => "pending",
        },
        created_at: secs(i.created_at),
        expires_at: Some(secs(i.expires_at)),
        accepted_at: accepted_at.map(secs),
        projects: projects
            .iter()
            .map(|p| invite_project_out(p, i.org_id))
            .collect(),
    }
}

/// List the organization's invites, in id order.
#[utoipa::path(get, path = "/v1/organization/invites", tag = "admin: invites",
    params(("after" = Option<String>, Query), ("limit" = Option<i64>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListA<InviteOut>)))]
async fn list_invites(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::InviteUsers>,
    q: AQuery,
) -> Result<Json<ListA<InviteOut>>, AdminError> {
    let limit = q.limit(20, 1, 100)?;
    let after = q
        .one("after")
        .map(|a| {
            InvitationId::parse(a)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let page = app.store.invitation_page(&access, after, limit).await?;
    let ids: Vec<InvitationId> = page.items.iter().map(|(i, _)| i.id).collect();
    let projects = app.store.invitation_projects(&access, &ids).await?;
    let data = page
        .items
        .iter()
        .map(|(i, at)| invite_out(i, *at, projects.get(&i.id).map_or(&[], Vec::as_slice)))
        .collect();
    Ok(Json(list_a(
        data,
        |i: &InviteOut| i.id.clone(),
        page.has_more,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateInvite {
    email: String,
    /// `owner` or `reader`.
    role: String,
    /// The projects accepting the invite joins, each once. Absent or `[]`:
    /// none. Naming projects also needs `api.organization.projects.write`.
    #[serde(default)]
    projects: Option<Vec<InviteProject>>,
}

/// The invite's projects as the store takes them.
fn invited_projects(raw: &[InviteProject]) -> Result<Vec<InvitedProject>, AdminError> {
    raw.iter()
        .map(|p| {
            if p.id.trim().is_empty() {
                return Err(AdminError::missing("projects"));
            }
            let project: ProjectId = parse(&p.id, "project").map_err(|e| e.param("projects"))?;
            let role = match p.role.trim() {
                "member" => SystemRole::ProjectMember.id(),
                "owner" => SystemRole::ProjectOwner.id(),
                "" => return Err(AdminError::missing("projects")),
                other => {
                    return Err(AdminError::invalid(
                        "projects",
                        format!("Invalid project role '{other}'. It must be 'member' or 'owner'."),
                    ))
                }
            };
            Ok(InvitedProject {
                project_id: project,
                role_id: role,
            })
        })
        .collect()
}

/// Errors about the invite's projects name `projects`.
fn about_projects(e: Error) -> AdminError {
    let projects = matches!(
        e,
        Error::ProjectNotFound(_)
            | Error::ProjectArchived(_)
            | Error::RoleNotFound(_)
            | Error::RoleScopeMismatch(_)
    );
    let a = AdminError::from(e);
    if projects {
        a.param("projects")
    } else {
        a
    }
}

/// Invite an email into the organization.
#[utoipa::path(post, path = "/v1/organization/invites", tag = "admin: invites", request_body = CreateInvite,
    responses((status = 200, body = InviteOut)))]
async fn create_invite(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::InviteUsers>,
    AJson(b): AJson<CreateInvite>,
) -> Result<Json<InviteOut>, AdminError> {
    let email = Email::parse("email", &b.email)
        .map_err(|e| AdminError::invalid("email", format!("Invalid 'email': {}.", e.message)))?;
    let role = org_role_of_word(&b.role, "role")?;
    let projects = invited_projects(b.projects.as_deref().unwrap_or_default())?;
    let w = app
        .store
        .invite_with_projects(&caller.ctx, &access, email, role, &projects)
        .await
        .map_err(about_projects)?;
    Ok(Json(invite_out(
        &w.value.invitation,
        None,
        &w.value.projects,
    )))
}

/// Retrieve an invite.
#[utoipa::path(get, path = "/v1/organization/invites/{invite_id}", tag = "admin: invites",
    params(("invite_id" = String, Path)), responses((status = 200, body = InviteOut)))]
async fn get_invite(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::InviteUsers>,
    Path(raw): Path<String>,
) -> Result<Json<InviteOut>, AdminError> {
    let inv: InvitationId = parse(&raw, "invite")?;
    let (i, at) = app
        .store
        .invitation_by_id(&access, inv)
        .await
        .map_err(|e| AdminError::from(e).echo("invite", &raw))?;
    let projects = app.store.invitation_projects(&access, &[i.id]).await?;
    Ok(Json(invite_out(
        &i,
        at,
        projects.get(&i.id).map_or(&[], Vec::as_slice),
    )))
}

/// Delete (cancel) an invite that was not accepted.
#[utoipa::path(delete, path = "/v1/organization/invites/{invite_id}", tag = "admin: invites",
    params(("invite_id" = String, Path)), responses((status = 200, body = DeletedOut)))]
async fn delete_invite(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::InviteUsers>,
    Path(raw): Path<String>,
) -> Result<Json<DeletedOut>, AdminError> {
    let inv: InvitationId = parse(&raw, "invite")?;
    // Cancelled invites are gone in this dialect: 404, not "not pending".
    app.store
        .invitation_by_id(&access, inv)
        .await
        .map_err(|e| AdminError::from(e).echo("invite", &raw))?;
    app.store
        .cancel_invitation(&caller.ctx, &access, inv)
        .await
        .map_err(|e| AdminError::from(e).echo("invite", &raw))?;
    Ok(Json(deleted("organization.invite.deleted", Some(raw))))
}
