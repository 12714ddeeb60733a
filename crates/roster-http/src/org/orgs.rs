//! `/v1/organizations`: list, create, get, update, delete.

use super::views::OrganizationOut;
use super::*;
use crate::app::{App, Authorized, Caller};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_core::{need, Actor, Error, OrgId, UserId};
use roster_store::orgs::{NewOrg, OrgPatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, update_org, delete_org))
}

/// Parses an organization path id (unknown → 404 ORGANIZATION_NOT_FOUND).
pub fn org_id(raw: &str) -> Result<OrgId, ApiError> {
    parse_id(raw, "organization_id", |r| {
        unknown(Error::OrgNotFound(nil()), "organization_id", r)
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct ListQuery {
    /// Rows to skip (default 0).
    #[serde(default)]
    skip: i64,
    /// Page size, 1..100 (default 100).
    #[serde(default = "default_limit")]
    limit: i64,
    /// Only active organizations (default true).
    #[serde(default = "yes")]
    active_only: bool,
}

fn default_limit() -> i64 {
    100
}
fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct OrganizationList {
    organizations: Vec<OrganizationOut>,
    total: i64,
    skip: i64,
    limit: i64,
}

/// List the organizations the caller belongs to.
#[utoipa::path(get, path = "/v1/organizations", tag = "organizations", params(ListQuery),
    responses((status = 200, body = OrganizationList)))]
async fn list_orgs(
    State(app): State<App>,
    caller: Caller,
    OQuery(q): OQuery<ListQuery>,
) -> Result<Json<OrganizationList>, ApiError> {
    let skip = check_range("skip", q.skip, 0, i64::MAX)?;
    let limit = check_range("limit", q.limit, 1, 100)?;
    let page = app
        .store
        .list_orgs(&caller.actor, skip, limit, q.active_only)
        .await?;
    Ok(Json(OrganizationList {
        organizations: page.items.iter().map(Into::into).collect(),
        total: page.total,
        skip,
        limit,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CreateOrg {
    name: String,
    /// `Work`, `Personal` or `School`.
    #[serde(rename = "type")]
    org_type: String,
    description: Option<String>,
    website: Option<String>,
    industry: Option<String>,
    company_size: Option<String>,
    logo_image: Option<String>,
    #[allow(dead_code)]
    use_system_provider_keys: Option<bool>,
    domains: Option<Vec<String>>,
    /// Platform key only: the user who becomes the owner.
    owner_user_id: Option<String>,
}

/// Create an organization. A user becomes its owner; a platform key may name
/// `owner_user_id` (or create it without an owner).
#[utoipa::path(post, path = "/v1/organizations", tag = "organizations", request_body = CreateOrg,
    responses((status = 201, body = OrganizationOut)))]
async fn create_org(
    State(app): State<App>,
    caller: Caller,
    OJson(body): OJson<CreateOrg>,
) -> Result<impl IntoResponse, ApiError> {
    let creator = roster_core::access::org_creator(&caller.actor)?;
    let owner = match (&caller.actor, body.owner_user_id.as_deref()) {
        (Actor::User { .. }, Some(_)) => {
            return Err(ApiError::validation(
                "owner_user_id",
                "only a platform key may name the owner",
            ))
        }
        (Actor::Platform, Some(raw)) => Some(parse_id::<UserId>(raw, "owner_user_id", |r| {
            unknown(Error::UserNotFound(nil()), "user_id", r)
        })?),
        _ => creator,
    };
    let w = app
        .store
        .create_org(
            &caller.ctx,
            NewOrg {
                name: body.name,
                org_type: body.org_type,
                description: body.description,
                website: body.website,
                industry: body.industry,
                company_size: body.company_size,
                logo_image: body.logo_image,
                domains: body.domains.unwrap_or_default(),
                owner,
                external_id: None,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        revision_header(w.revision),
        Json(OrganizationOut::from(&w.value)),
    ))
}

/// Retrieve an organization (members only).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}", tag = "organizations",
    params(("organization_id" = String, Path)), responses((status = 200, body = OrganizationOut)))]
async fn get_org(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
) -> Result<Json<OrganizationOut>, ApiError> {
    Ok(Json((&app.store.get_org(&access).await?).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct UpdateOrg {
    name: Option<String>,
    description: Option<String>,
    website: Option<String>,
    industry: Option<String>,
    company_size: Option<String>,
    logo_image: Option<String>,
    image_url: Option<String>,
    is_active: Option<bool>,
    api_usage_limit: Option<f64>,
    #[allow(dead_code)]
    api_key_usage_limit: Option<f64>,
    domains: Option<Vec<String>>,
}

/// Update an organization (Admin or Owner). Absent or null fields are unchanged.
#[utoipa::path(patch, path = "/v1/organizations/{organization_id}", tag = "organizations",
    params(("organization_id" = String, Path)), request_body = UpdateOrg, responses((status = 200, body = OrganizationOut)))]
async fn update_org(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Admin>,
    OJson(b): OJson<UpdateOrg>,
) -> Result<impl IntoResponse, ApiError> {
    let patch = OrgPatch {
        name: b.name,
        description: b.description,
        website: b.website,
        industry: b.industry,
        company_size: b.company_size,
        logo_image: b.logo_image,
        image_url: b.image_url,
        is_active: b.is_active,
        api_usage_limit: b.api_usage_limit,
        domains: b.domains,
    };
    let w = app.store.update_org(&caller.ctx, &access, patch).await?;
    Ok((
        revision_header(w.revision),
        Json(OrganizationOut::from(&w.value)),
    ))
}

/// Delete an organization (Owner only; soft delete: it disappears everywhere).
#[utoipa::path(delete, path = "/v1/organizations/{organization_id}", tag = "organizations",
    params(("organization_id" = String, Path)), responses((status = 204)))]
async fn delete_org(
    State(app): State<App>,
    Authorized { caller, access }: Authorized<need::Owner>,
) -> Result<impl IntoResponse, ApiError> {
    let w = app.store.delete_org(&caller.ctx, &access).await?;
    Ok((StatusCode::NO_CONTENT, revision_header(w.revision)))
}
