//! `/api/v1/organizations`: create, upsert, list, default, get, update,
//! delete, usage.

use super::error::FaError;
use super::extract::{body_loc, Body, Check, FaCaller, FaOrg, Query};
use super::views::OrganizationOut;
use crate::app::App;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use roster_core::{need, Actor, Error, OrgId, Organization};
use roster_store::orgs::{NewOrg, OrgPatch};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(
            list_organizations,
            create_organization,
            upsert_organization
        ))
        .routes(routes!(get_default_organization, set_default_organization))
        .routes(routes!(
            get_organization,
            update_organization,
            delete_organization
        ))
        .routes(routes!(get_organization_usage))
}

/// The longest organization name the schema allows.
const NAME_MAX: usize = 3000;

/// Schema for creating an organization.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct OrganizationCreate {
    /// A name for the organization (1 to 3000 characters).
    #[allow(dead_code)]
    name: String,
}

/// Schema for updating an organization.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct OrganizationUpdate {
    /// A new name; null or absent leaves it unchanged.
    #[allow(dead_code)]
    name: Option<String>,
}

/// Schema for choosing the default organization.
#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct DefaultOrganizationUpdate {
    /// The organization to make the default.
    #[allow(dead_code)]
    #[schema(format = "uuid")]
    organization_id: String,
}

/// Reads `{"name": ...}` (required or not).
fn name_of(body: &Value, required: bool) -> Result<Option<String>, FaError> {
    let mut c = Check::new();
    let name = c
        .object(body, &body_loc())
        .and_then(|o| c.string(o, &body_loc(), "name", required, (1, NAME_MAX)));
    c.finish()?;
    Ok(name)
}

/// Every organization the caller can see, oldest first.
pub(super) async fn caller_orgs(app: &App, actor: &Actor) -> Result<Vec<Organization>, Error> {
    let mut out = Vec::new();
    loop {
        let page = app
            .store
            .list_orgs(actor, out.len() as i64, 100, false)
            .await?;
        let done =
            page.items.is_empty() || out.len() as i64 + page.items.len() as i64 >= page.total;
        out.extend(page.items);
        if done {
            return Ok(out);
        }
    }
}

/// The organization this dialect creates: of type Work.
fn new_org(name: String, owner: Option<roster_core::UserId>) -> NewOrg {
    NewOrg {
        name,
        org_type: "Work".into(),
        owner,
        ..NewOrg::default()
    }
}

/// Creates an organization: a signed-in user becomes its Owner; the
/// platform key creates it without an owner; organization keys may not.
async fn create(
    app: &App,
    caller: &crate::app::Caller,
    name: String,
) -> Result<Organization, FaError> {
    let owner = roster_core::access::org_creator(&caller.actor)?;
    let w = app
        .store
        .create_org(&caller.ctx, new_org(name, owner))
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(w.value)
}

/// List organizations for a user: those the caller belongs to.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "Organizations",
    responses((status = 200, body = Vec<OrganizationOut>)))]
async fn list_organizations(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
) -> Result<Json<Vec<OrganizationOut>>, FaError> {
    let orgs = caller_orgs(&app, &caller.actor).await?;
    Ok(Json(orgs.iter().map(Into::into).collect()))
}

/// Create Organization. The signed-in caller becomes its Owner.
#[utoipa::path(post, path = "/api/v1/organizations", tag = "Organizations",
    request_body = OrganizationCreate, responses((status = 200, body = OrganizationOut)))]
async fn create_organization(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    Body(body): Body,
) -> Result<Json<OrganizationOut>, FaError> {
    let name = name_of(&body, true)?.unwrap_or_default();
    Ok(Json((&create(&app, &caller, name).await?).into()))
}

/// Upsert Organization: the caller's organization of that name (compared
/// trimmed and case-insensitively, the oldest if several), else a new one, in
/// one transaction (concurrent upserts of one caller create one organization).
#[utoipa::path(put, path = "/api/v1/organizations", tag = "Organizations",
    request_body = OrganizationCreate, responses((status = 200, body = OrganizationOut)))]
async fn upsert_organization(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    Body(body): Body,
) -> Result<Json<OrganizationOut>, FaError> {
    let name = name_of(&body, true)?.unwrap_or_default();
    let w = app
        .store
        .upsert_org(&caller.ctx, new_org(name, None))
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(Json((&w.value).into()))
}

/// Get Default Organization: the one chosen with `PUT`, else the oldest
/// organization the caller belongs to (an organization key's own).
#[utoipa::path(get, path = "/api/v1/organizations/default", tag = "Organizations",
    responses((status = 200, body = OrganizationOut), (status = 404, description = "The caller belongs to no organization")))]
async fn get_default_organization(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
) -> Result<Json<OrganizationOut>, FaError> {
    let org = app.store.default_org(&caller.actor).await?.ok_or_else(|| {
        FaError::new(
            StatusCode::NOT_FOUND,
            "The caller has no default organization",
        )
    })?;
    let access = app.authorize::<need::AnyMember>(&caller, org)?;
    Ok(Json((&app.store.get_org(&access).await?).into()))
}

/// Set Default Organization (members only; signed-in users only).
#[utoipa::path(put, path = "/api/v1/organizations/default", tag = "Organizations",
    request_body = DefaultOrganizationUpdate, responses((status = 200, body = OrganizationOut)))]
async fn set_default_organization(
    State(app): State<App>,
    FaCaller(caller): FaCaller,
    Body(body): Body,
) -> Result<Json<OrganizationOut>, FaError> {
    let mut c = Check::new();
    let org = c
        .object(&body, &body_loc())
        .and_then(|o| c.uuid(o, &body_loc(), "organization_id", true));
    c.finish()?;
    let org = OrgId(org.unwrap_or_default());
    let access = app.authorize::<need::AnyMember>(&caller, org)?;
    let w = app
        .store
        .set_default_org(&caller.ctx, &access)
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(Json((&w.value).into()))
}

/// Get Organization (members only).
#[utoipa::path(get, path = "/api/v1/organizations/{organization_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), responses((status = 200, body = OrganizationOut)))]
async fn get_organization(
    State(app): State<App>,
    FaOrg { access, .. }: FaOrg<need::AnyMember>,
) -> Result<Json<OrganizationOut>, FaError> {
    Ok(Json((&app.store.get_org(&access).await?).into()))
}

/// Update Organization (Admin or Owner). A null or absent name changes nothing.
#[utoipa::path(put, path = "/api/v1/organizations/{organization_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), request_body = OrganizationUpdate,
    responses((status = 200, body = OrganizationOut)))]
async fn update_organization(
    State(app): State<App>,
    FaOrg { caller, access, .. }: FaOrg<need::Admin>,
    Body(body): Body,
) -> Result<Json<OrganizationOut>, FaError> {
    let Some(name) = name_of(&body, false)? else {
        return Ok(Json(
            (&app.store.get_org(&access.as_member()).await?).into(),
        ));
    };
    let patch = OrgPatch {
        name: Some(name),
        ..OrgPatch::default()
    };
    let w = app
        .store
        .update_org(&caller.ctx, &access, patch)
        .await
        .map_err(|e| FaError::from(e).at("body", &[]))?;
    Ok(Json((&w.value).into()))
}

/// Delete Organization (Owner only): 204, and it is gone from every dialect.
#[utoipa::path(delete, path = "/api/v1/organizations/{organization_id}", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID")), responses((status = 204)))]
async fn delete_organization(
    State(app): State<App>,
    FaOrg { caller, access, .. }: FaOrg<need::Owner>,
) -> Result<impl IntoResponse, FaError> {
    app.store.delete_org(&caller.ctx, &access).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Get Organization Usage (members only). Roster bills nothing: a free plan
/// without limits, and the member count as `total_users`.
#[utoipa::path(get, path = "/api/v1/organizations/{organization_id}/usage", tag = "Organizations",
    params(("organization_id" = String, Path, description = "A UUID"), ("get_current_invoice_total" = Option<bool>, Query)),
    responses((status = 200, body = Object)))]
async fn get_organization_usage(
    State(app): State<App>,
    FaOrg { access, .. }: FaOrg<need::AnyMember>,
    q: Query,
) -> Result<Json<Value>, FaError> {
    let invoice = q.bool("get_current_invoice_total")?.unwrap_or(false);
    let users = app.store.member_ids(&access, false).await?.len();
    Ok(Json(json!({
        "plan": {
            "id": null,
            "name": "free",
            "metronome_plan_type": "plan",
            "metronome_rate_card_alias": null,
            "limits": {
                "allow_pay_as_you_go": false,
                "subscription_cost_usd": 0,
                "mfa_enabled": false,
                "sso_enabled": false
            },
            "recurring_credits": null,
            "plan_frequency": "MONTHLY",
            "metronome_customer_id": null,
            "starting_on": null,
            "ending_before": null,
            "current_billing_period": null,
            "is_payment_failed": false
        },
        "usage": {
            "active_free_credits_usage": null,
            "total_users": users,
            "total_indexes": 0,
            "total_indexed_pages": 0,
            "active_alerts": [],
            "current_invoice_total_usd_cents": if invoice { json!(0) } else { Value::Null },
            "total_extraction_agents": 0
        }
    })))
}
