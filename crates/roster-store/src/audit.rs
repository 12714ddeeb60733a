//! Reading the audit trail back: an organization's events, newest first,
//! filtered and paged, with the names of their actors and targets resolved.
//! Events are written by [`crate::db::Tx::commit`]; nothing here writes.

use crate::db::db_err;
use crate::members::MemberRef;
use crate::rows::*;
use crate::{Page, Store};
use chrono::{DateTime, Utc};
use roster_core::access::need;
use roster_core::*;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Filters and paging of a change-log read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub skip: i64,
    pub take: i64,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The target type, e.g. `member`.
    pub target_type: Option<String>,
    /// A full action (`member.updated`) or just its verb (`updated`).
    pub action: Option<String>,
}

/// An audit event with the names a reader wants beside the ids.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub event: AuditEvent,
    pub actor_name: String,
    /// Empty when the actor is not a user (a key or the platform).
    pub actor_email: String,
    /// The target's name when it was recorded or still exists, else its id.
    pub target_name: String,
}

pub(crate) fn event_of(row: &AnyRow) -> Result<AuditEvent> {
    let json = |col: &str| -> Result<Option<serde_json::Value>> {
        Ok(opt_str_of(row, col)?.and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(AuditEvent {
        id: EventId(uuid_of(row, "id")?),
        revision: i64_of(row, "revision")?,
        org_id: opt_uuid_of(row, "org_id")?.map(OrgId),
        actor: str_of(row, "actor")?,
        action: str_of(row, "action")?,
        target_type: str_of(row, "target_type")?,
        target_id: str_of(row, "target_id")?,
        before: json("before_json")?,
        after: json("after_json")?,
        trace_id: str_of(row, "trace_id")?,
        created_at: ts_of(row, "created_at")?,
    })
}

/// `LIKE` pattern text with its wildcards escaped (`\` is the escape).
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The name an event's own JSON gives its target, if any.
fn recorded_name(e: &AuditEvent) -> Option<String> {
    let pick = |v: &serde_json::Value| -> Option<String> {
        ["name", "key_name", "full_name", "email"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned))
            .or_else(|| {
                let u = v.get("user")?;
                u.get("full_name")
                    .and_then(|x| x.as_str())
                    .or_else(|| u.get("email").and_then(|x| x.as_str()))
                    .map(str::to_owned)
            })
    };
    e.after
        .as_ref()
        .and_then(pick)
        .or_else(|| e.before.as_ref().and_then(pick))
}

async fn one_name(conn: &mut AnyConnection, sql: &str, key: String) -> Result<Option<String>> {
    let row = sqlx::query(sql)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.map(|r| opt_str_of(&r, "n"))
        .transpose()
        .map(Option::flatten)
}

/// The current name of whatever a TypeID-spelled id names, if it still exists.
async fn current_name(conn: &mut AnyConnection, spelled: &str) -> Result<Option<String>> {
    if let Ok(u) = UserId::parse(spelled) {
        return one_name(
            conn,
            "SELECT COALESCE(full_name, email) AS n FROM users WHERE id = $1",
            id(u),
        )
        .await;
    }
    if let Ok(r) = RoleId::parse(spelled) {
        if let Some(sys) = r.system() {
            return Ok(Some(sys.name().to_owned()));
        }
        return one_name(conn, "SELECT name AS n FROM roles WHERE id = $1", id(r)).await;
    }
    if let Ok(d) = DeptId::parse(spelled) {
        return one_name(
            conn,
            "SELECT name AS n FROM departments WHERE id = $1",
            id(d),
        )
        .await;
    }
    if let Ok(o) = OrgId::parse(spelled) {
        return one_name(
            conn,
            "SELECT name AS n FROM organizations WHERE id = $1",
            id(o),
        )
        .await;
    }
    if let Ok(k) = ApiKeyId::parse(spelled) {
        return one_name(conn, "SELECT name AS n FROM api_keys WHERE id = $1", id(k)).await;
    }
    if let Ok(i) = InvitationId::parse(spelled) {
        return one_name(
            conn,
            "SELECT email AS n FROM invitations WHERE id = $1",
            id(i),
        )
        .await;
    }
    Ok(None)
}

/// An actor's display name and email, as audit events spell actors.
async fn actor_names(conn: &mut AnyConnection, actor: &str) -> Result<(String, String)> {
    if let Ok(u) = UserId::parse(actor) {
        let row = sqlx::query("SELECT full_name, email FROM users WHERE id = $1")
            .bind(id(u))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        if let Some(r) = row {
            let email = str_of(&r, "email")?;
            let name = opt_str_of(&r, "full_name")?.unwrap_or_else(|| email.clone());
            return Ok((name, email));
        }
    } else if let Ok(k) = ApiKeyId::parse(actor) {
        if let Some(name) =
            one_name(conn, "SELECT name AS n FROM api_keys WHERE id = $1", id(k)).await?
        {
            return Ok((format!("API key {name}"), String::new()));
        }
    } else if actor == "platform" {
        return Ok(("Platform".to_owned(), String::new()));
    }
    Ok((actor.to_owned(), String::new()))
}

impl Store {
    /// The organization's change log.
    pub async fn change_logs(
        &self,
        access: &OrgAccess<need::ViewAuditLog>,
        q: &AuditQuery,
    ) -> Result<Page<AuditEntry>> {
        self.read_events(access.org(), None, q).await
    }

    /// The change log of one member: events whose target is that user.
    pub async fn member_change_logs(
        &self,
        access: &OrgAccess<need::ViewAuditLog>,
        who: MemberRef,
        q: &AuditQuery,
    ) -> Result<Page<AuditEntry>> {
        let org = access.org();
        let (col, val, user) = match who {
            MemberRef::User(u) => ("user_id", id(u), Some(u)),
            MemberRef::Membership(m) => ("id", id(m), None),
        };
        // Soft-deleted members keep their history.
        let row = sqlx::query(&format!(
            "SELECT user_id FROM memberships WHERE org_id = $1 AND {col} = $2"
        ))
        .bind(id(org))
        .bind(val)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(Error::MemberNotFound {
            org,
            user: user.unwrap_or(UserId(uuid::Uuid::nil())),
        })?;
        let user = UserId(uuid_of(&row, "user_id")?);
        self.read_events(org, Some(user.to_string()), q).await
    }

    async fn read_events(
        &self,
        org: OrgId,
        target: Option<String>,
        q: &AuditQuery,
    ) -> Result<Page<AuditEntry>> {
        let mut wher = String::from(" WHERE org_id = $1");
        let mut texts: Vec<String> = vec![id(org)];
        let mut times: Vec<i64> = Vec::new();
        if let Some(t) = target {
            texts.push(t);
            wher.push_str(&format!(" AND target_id = ${}", texts.len()));
        }
        if let Some(t) = q.target_type.as_deref().filter(|s| !s.is_empty()) {
            texts.push(t.to_owned());
            wher.push_str(&format!(" AND target_type = ${}", texts.len()));
        }
        if let Some(a) = q.action.as_deref().filter(|s| !s.is_empty()) {
            texts.push(a.to_owned());
            texts.push(format!("%.{}", like_literal(a)));
            wher.push_str(&format!(
                " AND (action = ${} OR action LIKE ${} ESCAPE '\\')",
                texts.len() - 1,
                texts.len()
            ));
        }
        // Times are bound after the texts, so their placeholders follow.
        let mut time_sql = String::new();
        if let Some(s) = q.start {
            times.push(s.timestamp_micros());
            time_sql.push_str(&format!(
                " AND created_at >= ${}",
                texts.len() + times.len()
            ));
        }
        if let Some(e) = q.end {
            times.push(e.timestamp_micros());
            time_sql.push_str(&format!(
                " AND created_at <= ${}",
                texts.len() + times.len()
            ));
        }
        wher.push_str(&time_sql);
        let n = texts.len() + times.len();
        let list_sql = format!(
            "SELECT id, revision, org_id, actor, action, target_type, target_id, before_json, after_json, trace_id, created_at \
             FROM audit_events{wher} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM audit_events{wher}");
        let mut lq = sqlx::query(&list_sql);
        let mut cq = sqlx::query(&count_sql);
        for t in &texts {
            lq = lq.bind(t.clone());
            cq = cq.bind(t.clone());
        }
        for t in &times {
            lq = lq.bind(*t);
            cq = cq.bind(*t);
        }
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let rows = lq
            .bind(q.take)
            .bind(q.skip)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let total = i64_of(&cq.fetch_one(&mut *conn).await.map_err(db_err)?, "n")?;
        let mut actors: HashMap<String, (String, String)> = HashMap::new();
        let mut targets: HashMap<String, Option<String>> = HashMap::new();
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let event = event_of(row)?;
            if !actors.contains_key(&event.actor) {
                let names = actor_names(&mut conn, &event.actor).await?;
                actors.insert(event.actor.clone(), names);
            }
            let (actor_name, actor_email) = actors.get(&event.actor).cloned().unwrap_or_default();
            let target_name = match recorded_name(&event) {
                Some(n) => n,
                None => {
                    if !targets.contains_key(&event.target_id) {
                        let n = current_name(&mut conn, &event.target_id).await?;
                        targets.insert(event.target_id.clone(), n);
                    }
                    targets
                        .get(&event.target_id)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| event.target_id.clone())
                }
            };
            items.push(AuditEntry {
                event,
                actor_name,
                actor_email,
                target_name,
            });
        }
        Ok(Page { items, total })
    }
}
