//! Catalogues: member statuses and capabilities.

use super::views::status_id;
use super::*;
use crate::app::{App, Authorized, Caller};
use axum::extract::State;
use axum::Json;
use roster_core::{need, MemberStatus, CAPABILITIES};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_statuses))
        .routes(routes!(list_capabilities))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StatusOut {
    id: String,
    name: String,
    description: Option<String>,
    color: Option<String>,
    is_base_status: bool,
    order: i32,
    organization_id: String,
    selectable_in_ui: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct StatusQuery {
    /// Accepted for compatibility; base statuses are always active.
    #[allow(dead_code)]
    active_only: Option<bool>,
}

/// The member statuses of an organization: Active, Inactive, Pending.
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/statuses", tag = "members",
    params(("organization_id" = String, Path), StatusQuery), responses((status = 200, body = Vec<StatusOut>)))]
async fn list_statuses(
    _: State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OQuery(_q): OQuery<StatusQuery>,
) -> Result<Json<Vec<StatusOut>>, ApiError> {
    Ok(Json(
        MemberStatus::ALL
            .iter()
            .map(|s| StatusOut {
                id: status_id(*s),
                name: s.name().to_owned(),
                description: Some(s.description().to_owned()),
                color: Some(s.color().to_owned()),
                is_base_status: true,
                order: s.order(),
                organization_id: access.org().to_string(),
                selectable_in_ui: s.selectable_in_ui(),
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CapabilityOut {
    key: &'static str,
    label: &'static str,
    description: &'static str,
    group: &'static str,
}

/// The 14 built-in capabilities.
#[utoipa::path(get, path = "/v1/capabilities", tag = "roles", responses((status = 200, body = Vec<CapabilityOut>)))]
async fn list_capabilities(_caller: Caller) -> Json<Vec<CapabilityOut>> {
    Json(
        CAPABILITIES
            .iter()
            .map(|c| CapabilityOut {
                key: c.key,
                label: c.label,
                description: c.description,
                group: c.group,
            })
            .collect(),
    )
}
