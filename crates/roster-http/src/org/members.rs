//! Members ("crew management"): list, ids, by-ids, status summary, get,
//! update (seed 002), soft delete, bulk delete, restore, bulk status, direct add.

use super::views::{parse_status, status_id, BulkOut, MemberOut};
use super::*;
use crate::app::{App, Authorized};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_core::{need, Error, MemberStatus, MembershipId, RoleId, UserId};
use roster_store::members::{MemberQuery, MemberRef, MemberSort};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(member_ids))
        .routes(routes!(members_by_ids))
        .routes(routes!(status_summary))
        .routes(routes!(get_member, update_member))
        .routes(routes!(delete_member))
        .routes(routes!(delete_bulk))
        .routes(routes!(restore_member))
        .routes(routes!(change_status_bulk))
        .routes(routes!(add_member))
}

/// A member path id: `usr_…` or the membership id `orgusr_…`.
pub(crate) fn member_ref(raw: &str) -> Result<MemberRef, ApiError> {
    let nf = |r: &str| {
        unknown(
            Error::MemberNotFound {
                org: nil(),
                user: nil(),
            },
            "user_id",
            r,
        )
    };
    if raw.starts_with(MembershipId::PREFIX) {
        parse_id::<MembershipId>(raw, "user_id", nf).map(MemberRef::Membership)
    } else if raw.starts_with(UserId::PREFIX) {
        parse_id::<UserId>(raw, "user_id", nf).map(MemberRef::User)
    } else {
        Err(ApiError::validation(
            "user_id",
            "must be an id starting with `usr_` or `orgusr_`",
        ))
    }
}

/// A user id in a body or path that must name an org member (unknown → MEMBER_NOT_FOUND).
pub(crate) fn member_user_id(raw: &str) -> Result<UserId, ApiError> {
    parse_id(raw, "user_id", |r| {
        unknown(
            Error::MemberNotFound {
                org: nil(),
                user: nil(),
            },
            "user_id",
            r,
        )
    })
}

/// A role id (unknown → ROLE_NOT_FOUND).
pub(crate) fn role_id(raw: &str, field: &str) -> Result<RoleId, ApiError> {
    parse_id(raw, field, |r| {
        unknown(Error::RoleNotFound(nil()), "role_id", r)
    })
}

pub(crate) fn status_of(raw: &str) -> Result<MemberStatus, ApiError> {
    if !raw.starts_with("status_") {
        return Err(ApiError::validation(
            "status_id",
            "must be an id starting with `status_`",
        ));
    }
    parse_status(raw).ok_or_else(|| Error::StatusNotFound(raw.to_owned()).into())
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ListBody {
    #[serde(default)]
    skip: i64,
    #[serde(default = "ten")]
    take: i64,
    search_term: Option<String>,
    role_id: Option<String>,
    status_id: Option<String>,
    /// full_name, email, role, status, created_at (default), last_modified_at
    sort_field: Option<String>,
    /// desc (default) or asc
    sort_direction: Option<String>,
    #[serde(default)]
    include_deleted: bool,
}

fn ten() -> i64 {
    10
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct MemberList {
    users: Vec<MemberOut>,
    total_users_count: i64,
    skip: i64,
    take: i64,
}

/// List members (a POST with a JSON body of filters, sorting and paging).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users", tag = "members",
    params(("organization_id" = String, Path)), request_body = ListBody, responses((status = 200, body = MemberList)))]
async fn list_members(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OJson(b): OJson<ListBody>,
) -> Result<Json<MemberList>, ApiError> {
    let skip = check_range("skip", b.skip, 0, i64::MAX)?;
    let take = check_range("take", b.take, 1, 100)?;
    let sort_field = match b.sort_field.as_deref() {
        None => MemberSort::CreatedAt,
        Some(s) => MemberSort::parse(s).ok_or_else(|| {
            ApiError::validation(
                "sort_field",
                "must be one of full_name, email, role, status, created_at, last_modified_at",
            )
        })?,
    };
    let descending = match b
        .sort_direction
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            return Err(ApiError::validation(
                "sort_direction",
                "must be asc or desc",
            ))
        }
    };
    let role_id = b
        .role_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|r| role_id(r, "role_id"))
        .transpose()?;
    let status = b
        .status_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(status_of)
        .transpose()?;
    let q = MemberQuery {
        skip,
        take,
        search: b.search_term,
        role_id,
        status,
        sort_field,
        descending,
        include_deleted: b.include_deleted,
    };
    let page = app.store.list_members(&access, &q).await?;
    Ok(Json(MemberList {
        users: page.items.iter().map(Into::into).collect(),
        total_users_count: page.total,
        skip,
        take,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct IdsQuery {
    #[serde(default)]
    include_deleted: bool,
}

/// The user ids of all members.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/ids", tag = "members",
    params(("organization_id" = String, Path), IdsQuery), responses((status = 200, body = Vec<String>)))]
async fn member_ids(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OQuery(q): OQuery<IdsQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        app.store
            .member_ids(&access, q.include_deleted)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ByIds {
    user_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ByIdsOut {
    users: Vec<MemberOut>,
    total: i64,
    requested_ids: Vec<String>,
    not_found_ids: Vec<String>,
}

/// Members by user ids (at most 1,000); ids that are not members are listed in `not_found_ids`.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/by-ids", tag = "members",
    params(("organization_id" = String, Path)), request_body = ByIds, responses((status = 200, body = ByIdsOut)))]
async fn members_by_ids(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OJson(b): OJson<ByIds>,
) -> Result<Json<ByIdsOut>, ApiError> {
    if b.user_ids.len() > 1000 {
        return Err(ApiError::validation(
            "user_ids",
            "at most 1000 ids per request",
        ));
    }
    let mut ids = Vec::new();
    for raw in &b.user_ids {
        if !raw.starts_with(UserId::PREFIX) {
            return Err(ApiError::validation(
                "user_ids",
                "every id must start with `usr_`",
            ));
        }
        if let Ok(u) = UserId::parse(raw) {
            ids.push(u);
        }
    }
    let members = app.store.members_by_ids(&access, &ids).await?;
    let found: Vec<String> = members.iter().map(|m| m.user.id.to_string()).collect();
    let not_found_ids = b
        .user_ids
        .iter()
        .filter(|r| !found.contains(r))
        .cloned()
        .collect();
    Ok(Json(ByIdsOut {
        total: members.len() as i64,
        users: members.iter().map(Into::into).collect(),
        requested_ids: b.user_ids,
        not_found_ids,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StatusCount {
    status_id: String,
    status_name: String,
    count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StatusSummary {
    status_counts: Vec<StatusCount>,
    total: i64,
}

/// Member counts per status.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/users/status-summary", tag = "members",
    params(("organization_id" = String, Path)), responses((status = 200, body = StatusSummary)))]
async fn status_summary(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
) -> Result<Json<StatusSummary>, ApiError> {
    let counts = app.store.status_summary(&access).await?;
    Ok(Json(StatusSummary {
        total: counts.iter().map(|(_, n)| n).sum(),
        status_counts: counts
            .into_iter()
            .map(|(s, count)| StatusCount {
                status_id: status_id(s),
                status_name: s.name().to_owned(),
                count,
            })
            .collect(),
    }))
}

/// Retrieve a member by `usr_` or `orgusr_` id (soft-deleted members included, flagged `is_deleted`).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/users/{user_id}", tag = "members",
    params(("organization_id" = String, Path), ("user_id" = String, Path)), responses((status = 200, body = MemberOut)))]
async fn get_member(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    Path((_org, user)): Path<(String, String)>,
) -> Result<Json<MemberOut>, ApiError> {
    let who = member_ref(&user)?;
    let m = app
        .store
        .get_member(&access, who)
        .await
        .map_err(|e| echo_member(e, &user))?;
    Ok(Json((&m).into()))
}

/// MEMBER_NOT_FOUND echoing the id as given.
pub(crate) fn echo_member(e: Error, raw: &str) -> ApiError {
    match e {
        e @ Error::MemberNotFound { .. } => unknown(e, "user_id", raw),
        e => e.into(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateMember {
    role_id: Option<String>,
    status_id: Option<String>,
}

/// The seed's result keys plus the full member object.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct UpdateMemberOut {
    success: bool,
    message: String,
    id: String,
    user_id: String,
    role_id: String,
    role_name: String,
    #[serde(flatten)]
    member: MemberOut,
}

/// Update a member's role and/or status (Admin or Owner). Making a member
/// Active again hands back their roles: 403 unless the caller may grant each.
#[utoipa::path(put, path = "/v1/organizations/{organization_id}/users/{user_id}", tag = "members",
    params(("organization_id" = String, Path), ("user_id" = String, Path)), request_body = UpdateMember,
    responses((status = 200, body = UpdateMemberOut)))]
async fn update_member(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    Path((_org, user)): Path<(String, String)>,
    OJson(b): OJson<UpdateMember>,
) -> Result<impl IntoResponse, ApiError> {
    let who = member_ref(&user)?;
    let role = b
        .role_id
        .as_deref()
        .map(|r| role_id(r, "role_id"))
        .transpose()?;
    let status = b.status_id.as_deref().map(status_of).transpose()?;
    let w = app
        .store
        .update_member(&caller.ctx, &access, who, role, status)
        .await
        .map_err(|e| echo_member(e, &user))?;
    let m = &w.value;
    let message = if role.is_some() {
        "Member role updated successfully"
    } else {
        "Member status updated successfully"
    };
    // The seed's `id` is the membership id, and so is the member object's `id`.
    Ok((
        revision_header(w.revision),
        Json(UpdateMemberOut {
            success: true,
            message: message.to_owned(),
            id: m.id.to_string(),
            user_id: m.user.id.to_string(),
            role_id: m.role_id.to_string(),
            role_name: m.role_name.clone(),
            member: m.into(),
        }),
    ))
}

/// Soft-delete a member (restorable). The owner cannot be deleted.
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}/users/{user_id}/delete", tag = "members",
    params(("organization_id" = String, Path), ("user_id" = String, Path)), responses((status = 204)))]
async fn delete_member(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::RemoveUsers>,
    Path((_org, user)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let who = member_ref(&user)?;
    let w = app
        .store
        .delete_member(&caller.ctx, &access, who)
        .await
        .map_err(|e| echo_member(e, &user))?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct BulkIds {
    user_ids: Vec<String>,
}

fn bulk_refs(ids: &[String]) -> Result<Vec<(String, Option<MemberRef>)>, ApiError> {
    if ids.is_empty() || ids.len() > 1000 {
        return Err(ApiError::validation("user_ids", "must hold 1 to 1000 ids"));
    }
    ids.iter()
        .map(|raw| match member_ref(raw) {
            Ok(r) => Ok((raw.clone(), Some(r))),
            Err(e) if e.status == StatusCode::NOT_FOUND => Ok((raw.clone(), None)),
            Err(_) => Err(ApiError::validation(
                "user_ids",
                format!("`{raw}` is not a user or membership id"),
            )),
        })
        .collect()
}

/// Soft-delete many members; the owner is skipped and reported.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/delete-bulk", tag = "members",
    params(("organization_id" = String, Path)), request_body = BulkIds, responses((status = 200, body = BulkOut)))]
async fn delete_bulk(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::RemoveUsers>,
    OJson(b): OJson<BulkIds>,
) -> Result<impl IntoResponse, ApiError> {
    let refs = bulk_refs(&b.user_ids)?;
    let w = app
        .store
        .delete_members_bulk(&caller.ctx, &access, &refs)
        .await?;
    Ok((revision_header(w.revision), Json(BulkOut::from(&w.value))))
}

/// Restore a soft-deleted member (422 MEMBER_NOT_DELETED otherwise).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/{user_id}/restore", tag = "members",
    params(("organization_id" = String, Path), ("user_id" = String, Path)), responses((status = 204)))]
async fn restore_member(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::RemoveUsers>,
    Path((_org, user)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let who = member_ref(&user)?;
    let w = app
        .store
        .restore_member(&caller.ctx, &access, who)
        .await
        .map_err(|e| echo_member(e, &user))?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct BulkStatus {
    user_ids: Vec<String>,
    status_id: String,
}

/// Set the status of many members; owners are skipped when deactivating, and
/// members holding roles the caller may not grant when reactivating.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/change-status-bulk", tag = "members",
    params(("organization_id" = String, Path)), request_body = BulkStatus, responses((status = 200, body = BulkOut)))]
async fn change_status_bulk(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    OJson(b): OJson<BulkStatus>,
) -> Result<impl IntoResponse, ApiError> {
    let status = status_of(&b.status_id)?;
    let refs = bulk_refs(&b.user_ids)?;
    let w = app
        .store
        .change_status_bulk(&caller.ctx, &access, &refs, status)
        .await?;
    Ok((revision_header(w.revision), Json(BulkOut::from(&w.value))))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct AddMember {
    user_id: String,
    /// Default: the Member role.
    role_id: Option<String>,
    /// Default: status_active.
    status_id: Option<String>,
}

/// Add an existing user to the organization directly (Owner/Admin or platform key).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/members", tag = "members",
    params(("organization_id" = String, Path)), request_body = AddMember, responses((status = 201, body = MemberOut)))]
async fn add_member(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    OJson(b): OJson<AddMember>,
) -> Result<impl IntoResponse, ApiError> {
    let user = parse_id::<UserId>(&b.user_id, "user_id", |r| {
        unknown(Error::UserNotFound(nil()), "user_id", r)
    })?;
    let role = b
        .role_id
        .as_deref()
        .map(|r| role_id(r, "role_id"))
        .transpose()?;
    let status = b.status_id.as_deref().map(status_of).transpose()?;
    let w = app
        .store
        .add_member(&caller.ctx, &access, user, role, status)
        .await?;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(MemberOut::from(&w.value)),
    ))
}
