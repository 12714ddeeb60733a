//! Organization users: the organization's live members (invited ones show as
//! invites until they accept). Update changes the primary role; delete
//! removes the member from the organization (the same soft delete as the
//! organization API's).

use super::error::AdminError;
use super::extract::{nullable, AJson, AQuery, Admin};
use super::ids::{org_role_of_word, parse, parse_role};
use super::views::{deleted, list_a, DeletedOut, ListA, UserOut};
use crate::app::App;
use axum::extract::{Path, State};
use axum::Json;
use roster_core::{need, Member, MemberStatus, OrgAccess, UserId};
use roster_store::members::MemberRef;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user, update_user, delete_user))
}

/// A user id of the path or body: unknown spellings are 404 `No such user`.
pub(super) fn user_id(raw: &str) -> Result<UserId, AdminError> {
    parse(raw, "user")
}

/// A live, non-pending member, or 404.
pub(super) async fn live_member<N>(
    app: &App,
    access: &OrgAccess<N>,
    user: UserId,
    raw: &str,
) -> Result<Member, AdminError> {
    let m = app
        .store
        .get_member(&access.as_member(), MemberRef::User(user))
        .await
        .map_err(|e| AdminError::from(e).echo("user", raw))?;
    if m.deleted || m.status == MemberStatus::Pending {
        return Err(AdminError::not_found("user", raw));
    }
    Ok(m)
}

/// List the organization's users, in id order.
#[utoipa::path(get, path = "/v1/organization/users", tag = "admin: users",
    params(("after" = Option<String>, Query, description = "A user id: list the users after it"),
        ("emails[]" = Option<Vec<String>>, Query, description = "Only users with these emails (`emails` works too)"),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20")),
    responses((status = 200, body = ListA<UserOut>)))]
async fn list_users(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    q: AQuery,
) -> Result<Json<ListA<UserOut>>, AdminError> {
    let limit = q.limit(20, 1, 100)?;
    let after = q
        .one("after")
        .map(|a| {
            UserId::parse(a)
                .map_err(|_| AdminError::invalid("after", format!("Invalid cursor '{a}'.")))
        })
        .transpose()?;
    let emails = q.list("emails");
    let page = app
        .store
        .member_page(&access, after, limit, emails.as_deref())
        .await?;
    let data = page.items.iter().map(UserOut::from).collect();
    Ok(Json(list_a(
        data,
        |u: &UserOut| u.id.clone(),
        page.has_more,
    )))
}

/// Retrieve a user.
#[utoipa::path(get, path = "/v1/organization/users/{user_id}", tag = "admin: users",
    params(("user_id" = String, Path)), responses((status = 200, body = UserOut)))]
async fn get_user(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::AnyMember>,
    Path(raw): Path<String>,
) -> Result<Json<UserOut>, AdminError> {
    let user = user_id(&raw)?;
    let m = live_member(&app, &access, user, &raw).await?;
    Ok(Json((&m).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateUser {
    /// `owner` or `reader` (the Owner or Member role).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    role: Option<Option<String>>,
    /// Any organization role id (predefined or custom); wins over `role`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    role_id: Option<Option<String>>,
    /// Accepted and ignored (Roster keeps no such field).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    developer_persona: Option<Option<String>>,
    /// Accepted and ignored (Roster keeps no such field).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    technical_level: Option<Option<String>>,
}

/// Change a user's organization role (Admin or Owner; Owner only by Owners).
#[utoipa::path(post, path = "/v1/organization/users/{user_id}", tag = "admin: users",
    params(("user_id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserOut)))]
async fn update_user(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::Admin>,
    Path(raw): Path<String>,
    AJson(b): AJson<UpdateUser>,
) -> Result<Json<UserOut>, AdminError> {
    let _ignored = (&b.developer_persona, &b.technical_level);
    let user = user_id(&raw)?;
    let role = match (b.role_id.flatten(), b.role.flatten()) {
        (Some(id), _) => Some(parse_role(&id, access.org(), None).map_err(|e| e.param("role_id"))?),
        (None, Some(word)) => Some(org_role_of_word(&word, "role")?),
        (None, None) => None,
    };
    let before = live_member(&app, &access, user, &raw).await?;
    let Some(role) = role else {
        return Ok(Json((&before).into()));
    };
    // The role the member holds already too: the store applies the same
    // rules (Owner only by Owners, no escalation) before answering unchanged.
    let m = app
        .store
        .set_primary_role(&caller.ctx, &access, MemberRef::User(user), role)
        .await
        .map_err(|e| AdminError::from(e).echo("user", &raw))?
        .value;
    Ok(Json((&m).into()))
}

/// Remove a user from the organization.
#[utoipa::path(delete, path = "/v1/organization/users/{user_id}", tag = "admin: users",
    params(("user_id" = String, Path)), responses((status = 200, body = DeletedOut)))]
async fn delete_user(
    State(app): State<App>,
    Admin { caller, access }: Admin<need::RemoveUsers>,
    Path(raw): Path<String>,
) -> Result<Json<DeletedOut>, AdminError> {
    let user = user_id(&raw)?;
    live_member(&app, &access, user, &raw).await?;
    app.store
        .delete_member(&caller.ctx, &access, MemberRef::User(user))
        .await
        .map_err(|e| AdminError::from(e).echo("user", &raw))?;
    Ok(Json(deleted(
        "organization.user.deleted",
        Some(user.to_string()),
    )))
}
