//! Change logs: the audit trail of an organization, or of one member, newest
//! first. Each entry's `changes` are the top-level fields whose values differ
//! between the event's before and after records.

use super::keys::parse_time;
use super::*;
use crate::app::{App, Authorized};
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use roster_core::*;
use roster_store::audit::{AuditEntry, AuditQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(org_change_logs))
        .routes(routes!(member_change_logs))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(super) struct ChangeLogBody {
    /// Entries to skip (default 0).
    #[serde(default)]
    skip: i64,
    /// Entries to return, 1..100 (default 20).
    #[serde(default = "twenty")]
    take: i64,
    /// Only entries at or after this time.
    start_date: Option<String>,
    /// Only entries at or before this time.
    end_date: Option<String>,
    /// The target type, e.g. `member` (alias `organization_user`), `role`,
    /// `department`, `organization`, `api_key`, `invitation`.
    resource_type: Option<String>,
    /// A verb (`updated`) or a full action (`member.updated`).
    action: Option<String>,
}

fn twenty() -> i64 {
    20
}

impl ChangeLogBody {
    fn query(&self) -> Result<AuditQuery, ApiError> {
        let skip = check_range("skip", self.skip, 0, i64::MAX)?;
        let take = check_range("take", self.take, 1, 100)?;
        let time = |field: &str, v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_time(field, s))
                .transpose()
        };
        let start = time("start_date", &self.start_date)?;
        let end = time("end_date", &self.end_date)?;
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(ApiError::validation(
                    "start_date",
                    "must not be after end_date",
                ));
            }
        }
        let target_type = self.resource_type.as_deref().map(|t| match t.trim() {
            "organization_user" => "member".to_owned(),
            t => t.to_owned(),
        });
        Ok(AuditQuery {
            skip,
            take,
            start,
            end,
            target_type,
            action: self.action.as_deref().map(|a| a.trim().to_owned()),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ChangeOut {
    field: String,
    /// The value before, as text (JSON text for numbers, booleans and objects).
    old_value: Option<String>,
    new_value: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ChangeLogOut {
    /// `evt_…`
    id: String,
    /// Who did it: `usr_…`, `key_…` or `platform`.
    user_id: String,
    user_name: String,
    /// Empty when the actor is not a user.
    user_email: String,
    /// The verb: created, updated, deleted, added, …
    action: String,
    /// The full action, e.g. `member.updated`.
    event: String,
    timestamp: DateTime<Utc>,
    resource_type: String,
    resource_id: String,
    resource_name: String,
    changes: Vec<ChangeOut>,
    trace_id: String,
    revision: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ChangeLogList {
    logs: Vec<ChangeLogOut>,
    total_count: i64,
    skip: i64,
    take: i64,
}

/// A UUID found in a recorded field, spelled as this dialect spells the id
/// the field names (records written from core entities hold bare UUIDs).
fn spell(field: &str, target_type: &str, v: &Value) -> Value {
    let Some(u) = v.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        return v.clone();
    };
    let kind = match field {
        "id" => target_type,
        f => f.strip_suffix("_id").unwrap_or(f),
    };
    let spelled = match kind {
        "role" => RoleId(u).to_string(),
        "user" | "owner" | "created_by" => UserId(u).to_string(),
        "org" | "organization" => OrgId(u).to_string(),
        "dept" | "department" | "parent" => DeptId(u).to_string(),
        "member" | "membership" => MembershipId(u).to_string(),
        "api_key" | "key" => ApiKeyId(u).to_string(),
        "invitation" => InvitationId(u).to_string(),
        "project" => ProjectId(u).to_string(),
        "group" => GroupId(u).to_string(),
        "assignment" => AssignmentId(u).to_string(),
        _ => return v.clone(),
    };
    Value::String(spelled)
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// The fields whose values differ between before and after, in key order.
fn changes(target_type: &str, before: Option<&Value>, after: Option<&Value>) -> Vec<ChangeOut> {
    let empty = serde_json::Map::new();
    let fields = |v: Option<&Value>| v.and_then(Value::as_object).unwrap_or(&empty).clone();
    let (b, a) = (fields(before), fields(after));
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| ChangeOut {
            field: k.clone(),
            old_value: b.get(k).and_then(|v| text(spell(k, target_type, v))),
            new_value: a.get(k).and_then(|v| text(spell(k, target_type, v))),
        })
        .collect()
}

impl From<AuditEntry> for ChangeLogOut {
    fn from(e: AuditEntry) -> Self {
        let ev = e.event;
        let changes = changes(&ev.target_type, ev.before.as_ref(), ev.after.as_ref());
        ChangeLogOut {
            id: ev.id.to_string(),
            user_id: ev.actor,
            user_name: e.actor_name,
            user_email: e.actor_email,
            action: ev.action.rsplit('.').next().unwrap_or_default().to_owned(),
            event: ev.action,
            timestamp: ev.created_at,
            resource_type: ev.target_type,
            resource_id: ev.target_id,
            resource_name: e.target_name,
            changes,
            trace_id: ev.trace_id,
            revision: ev.revision,
        }
    }
}

fn list(page: roster_store::Page<AuditEntry>, q: &AuditQuery) -> ChangeLogList {
    ChangeLogList {
        logs: page.items.into_iter().map(Into::into).collect(),
        total_count: page.total,
        skip: q.skip,
        take: q.take,
    }
}

/// The organization's change log, newest first (view_audit_log).
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/dashboard/change-logs", tag = "change logs",
    params(("organization_id" = String, Path)), request_body = ChangeLogBody,
    responses((status = 200, body = ChangeLogList)))]
async fn org_change_logs(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::ViewAuditLog>,
    OJson(b): OJson<ChangeLogBody>,
) -> Result<Json<ChangeLogList>, ApiError> {
    let q = b.query()?;
    let page = app.store.change_logs(&access, &q).await?;
    Ok(Json(list(page, &q)))
}

/// The change log of one member (`usr_…` or `orgusr_…`, deleted members
/// included): the events whose target is that user.
#[utoipa::path(post, path = "/v1/organizations/{organization_id}/users/{user_id}/change-logs", tag = "change logs",
    params(("organization_id" = String, Path), ("user_id" = String, Path)), request_body = ChangeLogBody,
    responses((status = 200, body = ChangeLogList)))]
async fn member_change_logs(
    State(app): State<App>,
    Authorized { access, .. }: Authorized<need::ViewAuditLog>,
    Path((_org, raw)): Path<(String, String)>,
    OJson(b): OJson<ChangeLogBody>,
) -> Result<Json<ChangeLogList>, ApiError> {
    let who = super::members::member_ref(&raw)?;
    let q = b.query()?;
    let page = app
        .store
        .member_change_logs(&access, who, &q)
        .await
        .map_err(|e| super::members::echo_member(e, &raw))?;
    Ok(Json(list(page, &q)))
}
