//! An organization's users: list (members and pending signups), add in a
//! batch (by user id or email; unknown emails are invited), remove one,
//! remove a batch.

use super::error::FaError;
use super::extract::{body_loc, Body, Check, FaOrg};
use super::roles::role_book;
use super::views::{assignment_out, member_out, UserOrganizationOut};
use crate::app::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_core::text::Email;
use roster_core::{need, Actor, Error, Member, Principal, ProjectId, RoleId, SystemRole, UserId};
use roster_store::batch::{AddEntry, Addee};
use roster_store::members::{MemberQuery, MemberRef, MemberSort};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_organization_users, add_users_to_organization))
        .routes(routes!(remove_users_from_organization))
        .routes(routes!(batch_remove_users_from_organization))
}

/// Parses a user id (Roster's `usr_` spelling); anything else names no user: 404.
pub(super) fn user_id(raw: &str) -> Result<UserId, FaError> {
    UserId::parse(raw.trim()).map_err(|_| Error::UserNotFound(UserId(uuid::Uuid::nil())).into())
}

/// Every live member of the organization, oldest first.
async fn all_members(
    app: &App,
    access: &roster_core::OrgAccess<need::AnyMember>,
) -> Result<Vec<Member>, Error> {
    let mut out = Vec::new();
    loop {
        let q = MemberQuery {
            skip: out.len() as i64,
            take: 500,
            search: None,
            role_id: None,
            status: None,
            sort_field: MemberSort::CreatedAt,
            descending: false,
            include_deleted: false,
        };
        let page = app.store.list_members(access, &q).await?;
        let done = page.items.is_empty() || (out.len() + page.items.len()) as i64 >= page.total;
        out.extend(page.items);
        if done {
            return Ok(out);
        }
    }
}

/// Renders members with their organization-level roles.
async fn render_members<N: roster_core::Need>(
    app: &App,
    access: &roster_core::OrgAccess<N>,
    members: &[Member],
) -> Result<Vec<UserOrganizationOut>, FaError> {
    let (roles, catalogue) = role_book(app, access).await?;
    let mut held: HashMap<UserId, Vec<roster_core::Assignment>> = HashMap::new();
    for a in app.store.org_role_holdings(&access.as_member()).await? {
        if let Principal::User(u) = a.principal {
            held.entry(u).or_default().push(a);
        }
    }
    Ok(members
        .iter()
        .map(|m| {
            let rs = held
                .get(&m.user.id)
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    roles
                        .get(&a.role_id)
                        .map(|r| assignment_out(a, m.user.id, r, &catalogue))
                })
                .collect();
            member_out(m, rs)
        })
        .collect())
}

/// An invitation waiting for its person to sign up, as a pending membership.
fn invitee_out(
    org: roster_core::OrgId,
    i: &roster_store::holdings::Invitee,
    by: Option<&roster_core::User>,
) -> UserOrganizationOut {
    UserOrganizationOut {
        id: i.invitation.uuid().to_string(),
        created_at: Some(i.created_at),
        updated_at: Some(i.updated_at),
        email: i.email.clone(),
        user_id: None,
        organization_id: org.uuid().to_string(),
        pending: true,
        invited_by_user_id: by.map(|u| u.id.to_string()),
        invited_by_user_email: by.map(|u| u.email.clone()),
        roles: Vec::new(),
    }
}

/// List Organization Users: members (Pending ones invited and not yet
/// joined) with their roles, then invitations of emails that have no user yet.
#[utoipa::path(get, path = "/api/v1/organizations/{organization_id}/users", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), responses((status = 200, body = Vec<UserOrganizationOut>)))]
async fn list_organization_users(
    State(app): State<App>,
    FaOrg { access, .. }: FaOrg<need::AnyMember>,
) -> Result<Json<Vec<UserOrganizationOut>>, FaError> {
    let members = all_members(&app, &access).await?;
    let mut out = render_members(&app, &access, &members).await?;
    for i in app.store.pending_invitees(&access).await? {
        out.push(invitee_out(access.org(), &i, None));
    }
    Ok(Json(out))
}

/// Schema for adding a user to an organization.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UserOrganizationCreate {
    /// An existing user's id.
    #[allow(dead_code)]
    user_id: Option<String>,
    /// An email: its user is added, or invited when no user has it.
    #[allow(dead_code)]
    email: Option<String>,
    /// Projects the user joins (null: none).
    #[allow(dead_code)]
    project_ids: Option<Vec<String>>,
    /// The user's organization role (default: Member).
    #[allow(dead_code)]
    #[schema(format = "uuid")]
    role_id: Option<String>,
}

/// One entry of an add batch, after validation.
struct Entry {
    user_id: Option<String>,
    email: Option<Email>,
    role: RoleId,
    projects: Vec<ProjectId>,
}

fn entries(body: &Value) -> Result<Vec<Entry>, FaError> {
    let mut c = Check::new();
    let mut out = Vec::new();
    for (i, v) in c.list(body, &body_loc()).into_iter().flatten().enumerate() {
        let loc = vec![json!("body"), json!(i)];
        let Some(o) = c.object(v, &loc) else { continue };
        let user_id = c.string(o, &loc, "user_id", false, (1, 200));
        let email = c.string(o, &loc, "email", false, (1, 320)).and_then(|e| {
            let mut at = loc.clone();
            at.push(json!("email"));
            Email::parse("email", &e)
                .map_err(|err| {
                    c.value_error(
                        at,
                        &format!("value is not a valid email address: {}", err.message),
                        &json!(e),
                    )
                })
                .ok()
        });
        let role = c.uuid(o, &loc, "role_id", false).map(RoleId);
        let mut projects = Vec::new();
        if let Some(p) = o.get("project_ids").filter(|p| !p.is_null()) {
            let mut at = loc.clone();
            at.push(json!("project_ids"));
            for (j, pv) in c.list(p, &at).into_iter().flatten().enumerate() {
                let mut pat = at.clone();
                pat.push(json!(j));
                projects.extend(c.uuid_value(pv, &pat).map(ProjectId));
            }
        }
        if c_is_clean(o) {
            c.value_error(loc.clone(), "either user_id or email is required", v);
        }
        out.push(Entry {
            user_id,
            email,
            role: role.unwrap_or(SystemRole::Member.id()),
            projects,
        });
    }
    c.finish()?;
    Ok(out)
}

/// Add Users To Organization (Admin or Owner). Each entry names a user by
/// id or by email; a user that exists becomes an Active member with the
/// entry's role (Member by default), one already a member stays as is, and
/// an email without a user is invited. `project_ids` makes an existing user
/// a Project Member of those projects. Members, project memberships and
/// invitations are written in one transaction: a refusal anywhere changes
/// nothing. Returns one membership per entry, in order.
#[utoipa::path(put, path = "/api/v1/organizations/{organization_id}/users", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), request_body = Vec<UserOrganizationCreate>,
    responses((status = 200, body = Vec<UserOrganizationOut>)))]
async fn add_users_to_organization(
    State(app): State<App>,
    FaOrg { caller, access, .. }: FaOrg<need::Admin>,
    Body(body): Body,
) -> Result<Json<Vec<UserOrganizationOut>>, FaError> {
    let wanted = entries(&body)?;
    // Resolve every entry before writing anything.
    enum Target {
        User(UserId),
        Invite(Email),
    }
    let mut targets = Vec::with_capacity(wanted.len());
    for e in &wanted {
        let t = match (&e.user_id, &e.email) {
            (Some(raw), _) => Target::User(user_id(raw)?),
            (None, Some(email)) => match app.store.find_user_by_email(email.as_str()).await? {
                Some(u) => Target::User(u.id),
                None => Target::Invite(email.clone()),
            },
            (None, None) => {
                return Err(Error::validation("body", "either user_id or email is required").into())
            }
        };
        targets.push(t);
    }
    let needs_invites = targets.iter().any(|t| matches!(t, Target::Invite(_)));
    let invite_access = if needs_invites {
        Some(app.authorize::<need::InviteUsers>(&caller, access.org())?)
    } else {
        None
    };
    let needs_projects = targets
        .iter()
        .zip(&wanted)
        .any(|(t, e)| matches!(t, Target::User(_)) && !e.projects.is_empty());
    let project_access = if needs_projects {
        Some(app.authorize::<need::ManageProjects>(&caller, access.org())?)
    } else {
        None
    };
    // Members, their projects and the invitations: one transaction.
    let batch: Vec<AddEntry> = targets
        .iter()
        .zip(&wanted)
        .map(|(t, e)| AddEntry {
            who: match t {
                Target::User(u) => Addee::User(*u),
                Target::Invite(email) => Addee::Email(email.clone()),
            },
            role: e.role,
            projects: e.projects.clone(),
        })
        .collect();
    app.store
        .add_members_batch(
            &caller.ctx,
            &access,
            invite_access.as_ref(),
            project_access.as_ref(),
            SystemRole::ProjectMember.id(),
            &batch,
        )
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    // Render in request order.
    let ids: Vec<UserId> = targets
        .iter()
        .filter_map(|t| match t {
            Target::User(u) => Some(*u),
            Target::Invite(_) => None,
        })
        .collect();
    let members = app.store.members_by_ids(&access.as_member(), &ids).await?;
    let rendered = render_members(&app, &access, &members).await?;
    let by_user: HashMap<String, UserOrganizationOut> = rendered
        .into_iter()
        .filter_map(|m| m.user_id.clone().map(|u| (u, m)))
        .collect();
    let invitees = app.store.pending_invitees(&access.as_member()).await?;
    let inviter = match caller.actor {
        Actor::User { user } => Some(app.store.get_user(user).await?),
        _ => None,
    };
    let mut out = Vec::with_capacity(targets.len());
    for t in &targets {
        match t {
            Target::User(u) => {
                if let Some(m) = by_user.get(&u.to_string()) {
                    out.push(m.clone());
                }
            }
            Target::Invite(email) => {
                if let Some(i) = invitees
                    .iter()
                    .find(|i| i.email.eq_ignore_ascii_case(email.as_str()))
                {
                    out.push(invitee_out(access.org(), i, inviter.as_ref()));
                }
            }
        }
    }
    Ok(Json(out))
}

/// Remove Users From Organization: removes one member (needs
/// `remove_users`); the organization's owner cannot be removed.
#[utoipa::path(delete, path = "/api/v1/organizations/{organization_id}/users/{member_user_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("member_user_id" = String, Path)), responses((status = 204)))]
async fn remove_users_from_organization(
    State(app): State<App>,
    FaOrg {
        caller,
        access,
        path,
    }: FaOrg<need::RemoveUsers>,
) -> Result<impl IntoResponse, FaError> {
    let user = user_id(path.str("member_user_id"))?;
    app.store
        .delete_member(&caller.ctx, &access, MemberRef::User(user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Schema for removing a user from an organization.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UserOrganizationDelete {
    #[allow(dead_code)]
    user_id: Option<String>,
    #[allow(dead_code)]
    email: Option<String>,
}

/// Batch Remove Users From Organization: every listed member (by user id or
/// email) is removed, or none is when one of them cannot be (unknown, not a
/// member, the owner).
#[utoipa::path(put, path = "/api/v1/organizations/{organization_id}/users/remove", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), request_body = Vec<UserOrganizationDelete>,
    responses((status = 204)))]
async fn batch_remove_users_from_organization(
    State(app): State<App>,
    FaOrg { caller, access, .. }: FaOrg<need::RemoveUsers>,
    Body(body): Body,
) -> Result<impl IntoResponse, FaError> {
    let mut c = Check::new();
    let mut named = Vec::new();
    for (i, v) in c.list(&body, &body_loc()).into_iter().flatten().enumerate() {
        let loc = vec![json!("body"), json!(i)];
        let Some(o) = c.object(v, &loc) else { continue };
        let user = c.string(o, &loc, "user_id", false, (1, 200));
        let email = c.string(o, &loc, "email", false, (1, 320));
        if c_is_clean(o) {
            c.value_error(loc, "either user_id or email is required", v);
        }
        named.push((user, email));
    }
    c.finish()?;
    let mut users = Vec::with_capacity(named.len());
    for (user, email) in named {
        let u = match (user, email) {
            (Some(raw), _) => user_id(&raw)?,
            (None, Some(e)) => app
                .store
                .find_user_by_email(&e)
                .await?
                .map(|u| u.id)
                .ok_or(Error::UserNotFound(UserId(uuid::Uuid::nil())))?,
            (None, None) => continue,
        };
        users.push(u);
    }
    app.store
        .remove_members_strict(&caller.ctx, &access, &users)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// True when the entry names nobody: neither `user_id` nor `email` holds a
/// value (a wrongly typed one is reported as a type error already).
fn c_is_clean(o: &serde_json::Map<String, Value>) -> bool {
    ["user_id", "email"]
        .iter()
        .all(|k| matches!(o.get(*k), None | Some(Value::Null)))
}
