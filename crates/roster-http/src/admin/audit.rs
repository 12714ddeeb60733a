//! Audit logs: the core's audit events (one per write, whichever dialect made
//! it) rendered in OpenAI's event types. Events with no counterpart there
//! (departments, sessions, imports...) are not listed in this dialect.

use super::error::AdminError;
use super::extract::{AQuery, Admin};
use super::views::secs;
use super::views::ListA;
use crate::app::App;
use axum::extract::State;
use axum::Json;
use roster_core::{need, AuditEvent, EventId, ProjectId, UserId};
use roster_store::pages::EventFilter;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(super) fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(list_audit_logs))
}

/// Core action → admin API event type. The one place that decides which
/// events this dialect shows.
const TYPES: &[(&str, &str)] = &[
    ("api_key.created", "api_key.created"),
    ("api_key.updated", "api_key.updated"),
    ("api_key.activated", "api_key.updated"),
    ("api_key.deactivated", "api_key.updated"),
    ("api_key.paused", "api_key.updated"),
    ("api_key.unpaused", "api_key.updated"),
    ("api_key.rotated", "api_key.updated"),
    ("api_key.deleted", "api_key.deleted"),
    ("role.created", "role.created"),
    ("role.updated", "role.updated"),
    ("role.deleted", "role.deleted"),
    ("role.assigned", "role.assignment.created"),
    ("role.unassigned", "role.assignment.deleted"),
    ("member.added", "user.added"),
    ("member.joined", "user.added"),
    ("member.updated", "user.updated"),
    ("member.status_changed", "user.updated"),
    ("member.restored", "user.updated"),
    ("member.deleted", "user.deleted"),
    ("invitation.created", "invite.sent"),
    ("invitation.accepted", "invite.accepted"),
    ("invitation.cancelled", "invite.deleted"),
    ("organization.updated", "organization.updated"),
    ("project.created", "project.created"),
    ("project.updated", "project.updated"),
    ("project.archived", "project.archived"),
    ("project.deleted", "project.deleted"),
    ("project.member_added", "user.added"),
    ("project.member_updated", "user.updated"),
    ("project.member_removed", "user.deleted"),
    ("group.created", "group.created"),
    ("group.updated", "group.updated"),
    ("group.deleted", "group.deleted"),
    ("group.member_added", "tenant.group.member.added"),
    ("group.member_removed", "tenant.group.member.removed"),
    ("service_account.created", "service_account.created"),
    ("service_account.updated", "service_account.updated"),
    ("service_account.deleted", "service_account.deleted"),
    ("project_api_key.created", "api_key.created"),
    ("project_api_key.updated", "api_key.updated"),
    ("project_api_key.deleted", "api_key.deleted"),
];

fn type_of(action: &str) -> Option<&'static str> {
    TYPES.iter().find(|(a, _)| *a == action).map(|(_, t)| *t)
}

/// One audit log entry. The event's details sit under a key named like its type.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AuditLogOut {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    effective_at: i64,
    #[schema(value_type = Object)]
    actor: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    project: Option<Value>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    details: Map<String, Value>,
}

/// A canonical UUID in an event's JSON, re-spelled with `prefix`'s TypeID.
fn spell(prefix: &str, v: &Value) -> Value {
    let Some(s) = v.as_str() else {
        return Value::Null;
    };
    match uuid::Uuid::parse_str(s) {
        Ok(u) => Value::String(format!("{prefix}{}", roster_core::encode_suffix(u))),
        Err(_) => Value::String(s.to_owned()),
    }
}

fn role_spelled(v: &Value) -> Value {
    match v.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()) {
        Some(u) => Value::String(roster_core::RoleId(u).to_string()),
        None => v.clone(),
    }
}

fn allowed(role_json: Option<&Value>) -> Vec<String> {
    role_json
        .and_then(|r| r.get("grants"))
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .filter(|g| g.get("effect").and_then(Value::as_str) == Some("allow"))
                .filter_map(|g| {
                    g.get("permission")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn role_word(v: Option<&Value>) -> Value {
    v.and_then(Value::as_str)
        .and_then(|s| {
            roster_core::RoleId::parse(s)
                .ok()
                .or_else(|| uuid::Uuid::parse_str(s).ok().map(roster_core::RoleId))
        })
        .map(|r| Value::String(super::ids::org_role_word(r).to_owned()))
        .unwrap_or(Value::Null)
}

/// The payload object of an event, by its admin type.
fn details(kind: &str, e: &AuditEvent) -> Value {
    let id = Value::String(e.target_id.clone());
    let after = e.after.as_ref();
    let before = e.before.as_ref();
    let get = |v: Option<&Value>, k: &str| v.and_then(|x| x.get(k)).cloned().unwrap_or(Value::Null);
    // Project membership events target the project; the entry is about the user.
    if e.action.starts_with("project.member_") {
        let m = after.or(before);
        let user = spell("usr_", &get(m, "user_id"));
        let role = get(m, "role_name");
        return match kind {
            "user.added" => json!({"id": user, "data": {"role": role}}),
            "user.updated" => json!({"id": user, "changes_requested": {"role": role}}),
            _ => json!({"id": user}),
        };
    }
    match kind {
        "project.created" => {
            json!({"id": id, "data": {"name": get(after, "name"), "title": get(after, "name")}})
        }
        "project.updated" => json!({"id": id, "changes_requested": {"title": get(after, "name")}}),
        "group.created" => json!({"id": id, "data": {"group_name": get(after, "name")}}),
        "group.updated" => {
            json!({"id": id, "changes_requested": {"group_name": get(after, "name")}})
        }
        "tenant.group.member.added" | "tenant.group.member.removed" => {
            let m = after.or(before);
            json!({"id": id, "user_id": spell("usr_", &get(m, "user_id"))})
        }
        "service_account.created" => json!({"id": id, "data": {"role": get(after, "role")}}),
        "service_account.updated" => {
            json!({"id": id, "changes_requested": {"role": get(after, "role")}})
        }
        "api_key.created" => json!({"id": id, "data": {"scopes": get(after, "scopes")}}),
        "api_key.updated" => {
            json!({"id": id, "changes_requested": {"scopes": get(after, "scopes")}})
        }
        "role.created" => json!({
            "id": id, "role_name": get(after, "name"), "permissions": allowed(after),
            "resource_type": match get(after, "resource_type").as_str() { Some("project") => "api.project", _ => "api.organization" },
            "resource_id": spell("org_", &get(after, "org_id")),
        }),
        "role.updated" => {
            let (old, new) = (allowed(before), allowed(after));
            json!({"id": id, "changes_requested": {
                "role_name": get(after, "name"),
                "description": get(after, "description"),
                "permissions_added": new.iter().filter(|k| !old.contains(k)).collect::<Vec<_>>(),
                "permissions_removed": old.iter().filter(|k| !new.contains(k)).collect::<Vec<_>>(),
            }})
        }
        "role.assignment.created" | "role.assignment.deleted" => {
            let a = after.or(before);
            let principal = get(a, "principal");
            let scope = get(a, "scope");
            let ptype = principal
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("user");
            let pprefix = match ptype {
                "group" => "group_",
                "department" => "dept_",
                _ => "usr_",
            };
            let (rtype, rid) = match scope.get("type").and_then(Value::as_str) {
                Some("project") => (
                    "api.project",
                    spell("proj_", scope.get("id").unwrap_or(&Value::Null)),
                ),
                Some("department") => (
                    "department",
                    spell("dept_", scope.get("id").unwrap_or(&Value::Null)),
                ),
                _ => ("api.organization", spell("org_", &get(a, "org_id"))),
            };
            json!({
                "id": id,
                "role_id": role_spelled(&get(a, "role_id")),
                "principal_id": spell(pprefix, principal.get("id").unwrap_or(&Value::Null)),
                "principal_type": ptype,
                "resource_id": rid,
                "resource_type": rtype,
            })
        }
        "user.added" => {
            json!({"id": id, "data": {"role": role_word(after.and_then(|a| a.get("role_id")))}})
        }
        "user.updated" => {
            json!({"id": id, "changes_requested": {"role": role_word(after.and_then(|a| a.get("role_id")))}})
        }
        "invite.sent" => {
            json!({"id": id, "data": {"email": get(after, "email"), "role": role_word(after.and_then(|a| a.get("role_id")))}})
        }
        "organization.updated" => json!({"id": id, "changes_requested": {
            "name": get(after, "name"), "description": get(after, "description"),
        }}),
        _ => json!({"id": id}),
    }
}

/// The project an event is about, if any: its target, or the scope of a
/// project-scope assignment, or the project of a service account or key.
fn project_of(e: &AuditEvent) -> Option<Value> {
    let data = e.after.as_ref().or(e.before.as_ref());
    if e.target_type == "project" {
        let name = data
            .and_then(|d| d.get("name"))
            .filter(|_| !e.action.starts_with("project.member_"));
        return Some(json!({"id": e.target_id, "name": name}));
    }
    let scope = data.and_then(|d| d.get("scope"));
    if scope.and_then(|s| s.get("type")).and_then(Value::as_str) == Some("project") {
        return Some(
            json!({"id": spell("proj_", scope.and_then(|s| s.get("id")).unwrap_or(&Value::Null)), "name": null}),
        );
    }
    data.and_then(|d| d.get("project_id"))
        .map(|p| json!({"id": spell("proj_", p), "name": null}))
}

/// Who did it: a user's session or a key.
fn actor(actor: &str, emails: &HashMap<String, String>) -> Value {
    if actor.starts_with(UserId::PREFIX) {
        json!({"type": "session", "session": {"user": {"id": actor, "email": emails.get(actor)}, "ip_address": null}})
    } else {
        json!({"type": "api_key", "api_key": {"id": actor, "type": "user"}})
    }
}

fn ids<T>(
    q: &AQuery,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<Vec<T>>, AdminError> {
    q.list(key)
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    parse(v).ok_or_else(|| {
                        AdminError::invalid(
                            &format!("{key}[]"),
                            format!("Invalid id '{v}' in '{key}'."),
                        )
                    })
                })
                .collect()
        })
        .transpose()
}

/// `effective_at[gt|gte|lt|lte]` (unix seconds) → [from, until) in microseconds.
fn window(q: &AQuery) -> Result<(Option<i64>, Option<i64>), AdminError> {
    let get = |op: &str| -> Result<Option<i64>, AdminError> {
        let key = format!("effective_at[{op}]");
        q.int(&key)
    };
    const M: i64 = 1_000_000;
    // Saturating: any absurd second count is simply "before everything" or "after everything".
    let at = |s: i64| s.saturating_mul(M);
    let next = |s: i64| s.saturating_add(1).saturating_mul(M);
    let from = [get("gt")?.map(next), get("gte")?.map(at)]
        .into_iter()
        .flatten()
        .max();
    let until = [get("lt")?.map(at), get("lte")?.map(next)]
        .into_iter()
        .flatten()
        .min();
    Ok((from, until))
}

/// List audit log entries, newest first (`view_audit_log`).
#[utoipa::path(get, path = "/v1/organization/audit_logs", tag = "admin: audit logs",
    params(("after" = Option<String>, Query, description = "An entry id: list older entries"),
        ("before" = Option<String>, Query, description = "An entry id: list newer entries"),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("event_types[]" = Option<Vec<String>>, Query), ("actor_ids[]" = Option<Vec<String>>, Query),
        ("actor_emails[]" = Option<Vec<String>>, Query), ("project_ids[]" = Option<Vec<String>>, Query),
        ("resource_ids[]" = Option<Vec<String>>, Query),
        ("effective_at[gt]" = Option<i64>, Query), ("effective_at[gte]" = Option<i64>, Query),
        ("effective_at[lt]" = Option<i64>, Query), ("effective_at[lte]" = Option<i64>, Query),
        ("tenant_only" = Option<bool>, Query, description = "Accepted; every entry belongs to the organization")),
    responses((status = 200, body = ListA<AuditLogOut>)))]
async fn list_audit_logs(
    State(app): State<App>,
    Admin { access, .. }: Admin<need::ViewAuditLog>,
    q: AQuery,
) -> Result<Json<ListA<AuditLogOut>>, AdminError> {
    let limit = q.limit(20, 1, 100)?;
    let _tenant_only = q.bool("tenant_only", false)?;
    let cursor = |key: &str| -> Result<Option<EventId>, AdminError> {
        q.one(key)
            .map(|a| {
                EventId::parse(a)
                    .map_err(|_| AdminError::invalid(key, format!("Invalid cursor '{a}'.")))
            })
            .transpose()
    };
    let (after, before) = (cursor("after")?, cursor("before")?);
    let (from, until) = window(&q)?;
    let actions = match q.list("event_types") {
        None => TYPES.iter().map(|(a, _)| (*a).to_owned()).collect(),
        Some(types) => TYPES
            .iter()
            .filter(|(_, t)| types.iter().any(|x| x == t))
            .map(|(a, _)| (*a).to_owned())
            .collect(),
    };
    let mut actors: Option<Vec<String>> = q.list("actor_ids");
    if let Some(emails) = q.list("actor_emails") {
        let found = app.store.user_ids_by_email(&emails).await?;
        actors
            .get_or_insert_with(Vec::new)
            .extend(found.iter().map(ToString::to_string));
    }
    let filter = EventFilter {
        actions: Some(actions),
        actors,
        targets: q.list("resource_ids"),
        projects: ids(&q, "project_ids", |v| ProjectId::parse(v).ok())?,
        from,
        until,
        after,
        before,
        limit,
    };
    let page = app.store.event_page(&access, &filter).await?;
    let user_ids: Vec<UserId> = page
        .items
        .iter()
        .filter_map(|e| UserId::parse(&e.actor).ok())
        .collect();
    let emails: HashMap<String, String> = app
        .store
        .users_by_ids(&user_ids)
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.email))
        .collect();
    let data: Vec<AuditLogOut> = page
        .items
        .iter()
        .filter_map(|e| {
            let kind = type_of(&e.action)?;
            let mut details = Map::new();
            details.insert(kind.to_owned(), self::details(kind, e));
            Some(AuditLogOut {
                id: e.id.to_string(),
                kind,
                effective_at: secs(e.created_at),
                actor: actor(&e.actor, &emails),
                project: project_of(e),
                details,
            })
        })
        .collect();
    Ok(Json(super::views::list_a(
        data,
        |l: &AuditLogOut| l.id.clone(),
        page.has_more,
    )))
}
