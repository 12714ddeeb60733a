//! The permission check: `POST .../check`, `POST .../check/batch`, and
//! who-can (`GET .../permissions/{permission}/users`). Answered from the
//! in-memory index, never from the database.

use super::views::reason_json;
use super::*;
use crate::app::{App, Authorized};
use axum::extract::{Path, State};
use axum::Json;
use roster_core::index::Snapshot;
use roster_core::{need, DeptId, Error, OrgId, ProjectId, Scope, UserId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(check_batch))
        .routes(routes!(who_can))
}

/// How long a check waits for the index to reach `at_least_revision`.
const FRESHNESS_WAIT: Duration = Duration::from_secs(2);

/// The current snapshot, once it is at least `at_least` (bounded wait).
async fn snapshot_at_least(app: &App, at_least: Option<i64>) -> Result<Arc<Snapshot>, ApiError> {
    let Some(want) = at_least else {
        return Ok(app.store.index().load_full());
    };
    app.store
        .snapshot_at_least(want, FRESHNESS_WAIT)
        .await
        .map_err(|revision| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "INDEX_BEHIND",
                Kind::Server,
                format!(
                    "The permission index is at revision {revision}, behind the requested {want}."
                ),
                "index behind requested revision",
                serde_json::json!({"revision": revision, "at_least_revision": want}),
            )
        })
}

/// The scope of a question: organization, or one project, or one department subtree.
fn scope_of(project_id: Option<&str>, department_id: Option<&str>) -> Result<Scope, ApiError> {
    match (project_id, department_id) {
        (Some(_), Some(_)) => Err(ApiError::validation(
            "project_id",
            "give project_id or department_id, not both",
        )),
        (Some(p), None) => ProjectId::parse(p)
            .map(Scope::Project)
            .map_err(|_| ApiError::validation("project_id", "must be a project id (`proj_...`)")),
        (None, Some(d)) => DeptId::parse(d).map(Scope::Department).map_err(|_| {
            ApiError::validation("department_id", "must be a department id (`dept_...`)")
        }),
        (None, None) => Ok(Scope::Organization),
    }
}

/// A user id of a question; one that cannot exist is simply not allowed.
fn question_user(raw: &str, field: &str) -> Result<Option<UserId>, ApiError> {
    match UserId::parse(raw) {
        Ok(u) => Ok(Some(u)),
        Err(roster_core::IdError::Unknown) => Ok(None),
        Err(roster_core::IdError::WrongPrefix { .. }) => {
            Err(ApiError::validation(field, "must be a user id (`usr_...`)"))
        }
    }
}

fn permission_of(raw: &str, field: &str) -> Result<(), ApiError> {
    roster_core::PermissionKey::parse(raw)
        .map(|_| ())
        .map_err(|e| ApiError::validation(field, e.message))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct CheckBody {
    user_id: String,
    permission: String,
    project_id: Option<String>,
    department_id: Option<String>,
    /// Include the assignments that decided.
    #[serde(default)]
    explain: bool,
    /// Answer from an index at least this fresh (a write's `Roster-Revision`).
    at_least_revision: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CheckOut {
    allowed: bool,
    revision: i64,
    /// Why (with `explain: true`): `override`, `allowed`, `denied`, `no_grant`, `not_a_member`, `inactive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    reasons: Option<Vec<serde_json::Value>>,
}

fn org_index(snap: &Snapshot, org: OrgId) -> Result<&roster_core::index::OrgIndex, ApiError> {
    snap.org(org)
        .map(|a| a.as_ref())
        .ok_or_else(|| Error::OrgNotFound(org).into())
}

/// May this user do this, here? A user who is not an Active member is simply not allowed.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/check", tag = "permissions",
    params(("organization_id" = String, Path)), request_body = CheckBody, responses((status = 200, body = CheckOut)))]
async fn check(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OJson(b): OJson<CheckBody>,
) -> Result<Json<CheckOut>, ApiError> {
    let scope = scope_of(b.project_id.as_deref(), b.department_id.as_deref())?;
    permission_of(&b.permission, "permission")?;
    let user = question_user(&b.user_id, "user_id")?;
    let snap = snapshot_at_least(&app, b.at_least_revision).await?;
    let ix = org_index(&snap, access.org())?;
    let Some(user) = user else {
        return Ok(Json(CheckOut {
            allowed: false,
            revision: snap.revision,
            outcome: b.explain.then(|| "not_a_member".into()),
            reasons: b.explain.then(Vec::new),
        }));
    };
    if !b.explain {
        return Ok(Json(CheckOut {
            allowed: ix.allowed(user, &b.permission, scope),
            revision: snap.revision,
            outcome: None,
            reasons: None,
        }));
    }
    let d = ix.check(user, &b.permission, scope);
    let outcome = serde_json::to_value(d.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    Ok(Json(CheckOut {
        allowed: d.allowed,
        revision: snap.revision,
        outcome,
        reasons: Some(d.reasons.iter().map(reason_json).collect()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct BatchQuestion {
    user_id: String,
    permission: String,
    project_id: Option<String>,
    department_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct BatchBody {
    /// 1 to 1,000 questions.
    checks: Vec<BatchQuestion>,
    at_least_revision: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct BatchAnswer {
    allowed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct BatchOut {
    results: Vec<BatchAnswer>,
    revision: i64,
}

/// Up to 1,000 questions answered from one snapshot, in order.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/check/batch", tag = "permissions",
    params(("organization_id" = String, Path)), request_body = BatchBody, responses((status = 200, body = BatchOut)))]
async fn check_batch(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    OJson(b): OJson<BatchBody>,
) -> Result<Json<BatchOut>, ApiError> {
    if b.checks.is_empty() || b.checks.len() > 1000 {
        return Err(ApiError::validation(
            "checks",
            "must hold 1 to 1000 questions",
        ));
    }
    let mut questions = Vec::with_capacity(b.checks.len());
    for (i, q) in b.checks.iter().enumerate() {
        let scope = scope_of(q.project_id.as_deref(), q.department_id.as_deref())
            .map_err(|e| ApiError::validation(&format!("checks[{i}]"), e.message))?;
        permission_of(&q.permission, &format!("checks[{i}].permission"))?;
        questions.push((
            question_user(&q.user_id, &format!("checks[{i}].user_id"))?,
            q.permission.as_str(),
            scope,
        ));
    }
    let snap = snapshot_at_least(&app, b.at_least_revision).await?;
    let ix = org_index(&snap, access.org())?;
    let results = questions
        .into_iter()
        .map(|(u, p, s)| BatchAnswer {
            allowed: u.is_some_and(|u| ix.allowed(u, p, s)),
        })
        .collect();
    Ok(Json(BatchOut {
        results,
        revision: snap.revision,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct WhoCanQuery {
    #[serde(default)]
    skip: i64,
    /// 1..1000, default 100.
    #[serde(default = "hundred")]
    limit: i64,
    project_id: Option<String>,
    department_id: Option<String>,
}

fn hundred() -> i64 {
    100
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct WhoCanOut {
    permission: String,
    user_ids: Vec<String>,
    total: i64,
    skip: i64,
    limit: i64,
    revision: i64,
}

/// Every Active member allowed `permission` (complete and paginated, in user id order).
#[utoipa::path(get, path = "/v1/organizations/{organization_id}/permissions/{permission}/users", tag = "permissions",
    params(("organization_id" = String, Path), ("permission" = String, Path), WhoCanQuery), responses((status = 200, body = WhoCanOut)))]
async fn who_can(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::AnyMember>,
    Path((_org, permission)): Path<(String, String)>,
    OQuery(q): OQuery<WhoCanQuery>,
) -> Result<Json<WhoCanOut>, ApiError> {
    permission_of(&permission, "permission")?;
    let skip = check_range("skip", q.skip, 0, i64::MAX)?;
    let limit = check_range("limit", q.limit, 1, 1000)?;
    let scope = scope_of(q.project_id.as_deref(), q.department_id.as_deref())?;
    let snap = snapshot_at_least(&app, None).await?;
    let ix = org_index(&snap, access.org())?;
    let allowed: Vec<UserId> = ix
        .members()
        .into_iter()
        .map(|(u, _)| u)
        .filter(|u| ix.allowed(*u, &permission, scope))
        .collect();
    let total = allowed.len() as i64;
    let page = allowed
        .iter()
        .skip(skip as usize)
        .take(limit as usize)
        .map(ToString::to_string)
        .collect();
    Ok(Json(WhoCanOut {
        permission,
        user_ids: page,
        total,
        skip,
        limit,
        revision: snap.revision,
    }))
}
