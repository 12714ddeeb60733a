//! Cursor-paged reads: a page is the rows after (or before) a given id, in id
//! order, plus whether more follow. Ids are UUIDv7 stored as canonical text,
//! so text order is creation order and a cursor stays valid while rows are
//! added or removed around it. The lists here are those the admin dialect
//! pages that have no cursor read of their own in their area's module.

use crate::db::db_err;
use crate::keys::KeyInfo;
use crate::rows::*;
use crate::{Chunk, Store};
use roster_core::access::need;
use roster_core::*;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::Any;

/// A value bound to a placeholder of a query built at run time.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// Builds a WHERE clause and its binds with `$n` placeholders in order.
#[derive(Debug, Default)]
struct Where {
    sql: String,
    binds: Vec<Bind>,
}

impl Where {
    fn next(&self) -> usize {
        self.binds.len() + 1
    }
    /// `AND <col> <op> $n`.
    fn cmp(&mut self, col: &str, op: &str, b: Bind) {
        self.sql
            .push_str(&format!(" AND {col} {op} ${}", self.next()));
        self.binds.push(b);
    }
    /// `AND <col> IN ($n, ...)`; an empty list matches nothing.
    fn any_of(&mut self, col: &str, values: &[String]) {
        if values.is_empty() {
            self.sql.push_str(" AND 1 = 0");
            return;
        }
        let marks: Vec<String> = (0..values.len())
            .map(|i| format!("${}", self.next() + i))
            .collect();
        self.sql
            .push_str(&format!(" AND {col} IN ({})", marks.join(", ")));
        self.binds.extend(values.iter().cloned().map(Bind::Text));
    }
    fn bind<'q>(
        &self,
        mut q: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for b in &self.binds {
            q = match b {
                Bind::Text(s) => q.bind(s.clone()),
                Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// Runs `SELECT ... WHERE ... ORDER BY <col> LIMIT n+1` and splits off `has_more`.
async fn page<T>(
    store: &Store,
    select: &str,
    w: &Where,
    order: &str,
    limit: i64,
    decode: impl Fn(&AnyRow) -> Result<T>,
) -> Result<Chunk<T>> {
    let sql = format!(
        "{select} WHERE 1 = 1{} ORDER BY {order} LIMIT {}",
        w.sql,
        limit.max(0) + 1
    );
    let rows = w
        .bind(sqlx::query(&sql))
        .fetch_all(&store.pool)
        .await
        .map_err(db_err)?;
    let items = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
    Ok(Chunk::of(items, limit))
}

/// Filters of an audit-event page. Times are microseconds; `None` lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Core actions to include (e.g. `role.created`); `None`: every action.
    pub actions: Option<Vec<String>>,
    /// Actors as events spell them (`usr_…`, `key_…`, `platform`).
    pub actors: Option<Vec<String>>,
    /// Target ids as events spell them.
    pub targets: Option<Vec<String>>,
    /// Events about these projects (their target, or named in their data).
    pub projects: Option<Vec<ProjectId>>,
    pub from: Option<i64>,
    pub until: Option<i64>,
    /// Newest first: `after` gives older events, `before` newer ones.
    pub after: Option<EventId>,
    pub before: Option<EventId>,
    pub limit: i64,
}

impl Store {
    /// Live, non-pending members of the organization in user-id order, after
    /// `after`, optionally only those whose email is one of `emails`.
    pub async fn member_page(
        &self,
        access: &OrgAccess<need::AnyMember>,
        after: Option<UserId>,
        limit: i64,
        emails: Option<&[String]>,
    ) -> Result<Chunk<Member>> {
        let mut w = Where::default();
        w.cmp("m.org_id", "=", Bind::Text(id(access.org())));
        w.sql.push_str(" AND m.deleted_at IS NULL");
        w.cmp(
            "m.status",
            "<>",
            Bind::Text(MemberStatus::Pending.as_str().to_owned()),
        );
        if let Some(a) = after {
            w.cmp("m.user_id", ">", Bind::Text(id(a)));
        }
        if let Some(emails) = emails {
            let keys: Vec<String> = emails.iter().map(|e| e.trim().to_lowercase()).collect();
            w.any_of("u.email_key", &keys);
        }
        page(
            self,
            crate::members::MEMBER_SELECT,
            &w,
            "m.user_id",
            limit,
            crate::members::member_of,
        )
        .await
    }

    /// The organization's invitations that were not cancelled, in id order,
    /// each with the time it was accepted (if it was).
    pub async fn invitation_page(
        &self,
        access: &OrgAccess<need::InviteUsers>,
        after: Option<InvitationId>,
        limit: i64,
    ) -> Result<Chunk<(Invitation, Option<Timestamp>)>> {
        let mut w = Where::default();
        w.cmp("i.org_id", "=", Bind::Text(id(access.org())));
        w.cmp(
            "i.state",
            "<>",
            Bind::Text(InvitationState::Cancelled.as_str().to_owned()),
        );
        if let Some(a) = after {
            w.cmp("i.id", ">", Bind::Text(id(a)));
        }
        let select = crate::invitations::INV_SELECT.replace("SELECT ", "SELECT i.updated_at, ");
        page(self, &select, &w, "i.id", limit, invitation_with_acceptance).await
    }

    /// One invitation (not cancelled) with the time it was accepted.
    pub async fn invitation_by_id(
        &self,
        access: &OrgAccess<need::InviteUsers>,
        inv: InvitationId,
    ) -> Result<(Invitation, Option<Timestamp>)> {
        let mut w = Where::default();
        w.cmp("i.org_id", "=", Bind::Text(id(access.org())));
        w.cmp("i.id", "=", Bind::Text(id(inv)));
        w.cmp(
            "i.state",
            "<>",
            Bind::Text(InvitationState::Cancelled.as_str().to_owned()),
        );
        let select = crate::invitations::INV_SELECT.replace("SELECT ", "SELECT i.updated_at, ");
        page(self, &select, &w, "i.id", 1, invitation_with_acceptance)
            .await?
            .items
            .pop()
            .ok_or(Error::InvitationNotFound)
    }

    /// Live API keys of the organization in id order (or reversed).
    pub async fn key_page(
        &self,
        access: &OrgAccess<need::Admin>,
        after: Option<ApiKeyId>,
        limit: i64,
        descending: bool,
    ) -> Result<Chunk<KeyInfo>> {
        let mut w = Where::default();
        w.cmp("org_id", "=", Bind::Text(id(access.org())));
        w.sql.push_str(" AND deleted_at IS NULL");
        if let Some(a) = after {
            w.cmp("id", if descending { "<" } else { ">" }, Bind::Text(id(a)));
        }
        let select = format!("SELECT {} FROM api_keys", crate::keys::KEY_COLS);
        let order = if descending { "id DESC" } else { "id" };
        page(self, &select, &w, order, limit, crate::keys::key_of).await
    }

    /// The organization's audit events, newest first, filtered.
    pub async fn event_page(
        &self,
        access: &OrgAccess<need::ViewAuditLog>,
        f: &EventFilter,
    ) -> Result<Chunk<AuditEvent>> {
        let mut w = Where::default();
        w.cmp("org_id", "=", Bind::Text(id(access.org())));
        if let Some(actions) = &f.actions {
            w.any_of("action", actions);
        }
        if let Some(actors) = &f.actors {
            w.any_of("actor", actors);
        }
        if let Some(targets) = &f.targets {
            w.any_of("target_id", targets);
        }
        if let Some(projects) = &f.projects {
            // A project is the event's target, or is named in its data (by
            // either spelling: JSON of the core carries canonical UUIDs).
            let mut alts = Vec::new();
            for p in projects {
                for needle in [p.to_string(), id(*p)] {
                    alts.push(format!("target_id = ${}", w.next()));
                    w.binds.push(Bind::Text(needle.clone()));
                    let like = format!("%{needle}%");
                    alts.push(format!("after_json LIKE ${}", w.next()));
                    w.binds.push(Bind::Text(like.clone()));
                    alts.push(format!("before_json LIKE ${}", w.next()));
                    w.binds.push(Bind::Text(like));
                }
            }
            if alts.is_empty() {
                w.sql.push_str(" AND 1 = 0");
            } else {
                w.sql.push_str(&format!(" AND ({})", alts.join(" OR ")));
            }
        }
        if let Some(t) = f.from {
            w.cmp("created_at", ">=", Bind::Int(t));
        }
        if let Some(t) = f.until {
            w.cmp("created_at", "<", Bind::Int(t));
        }
        let (order, before) = match (f.after, f.before) {
            (_, Some(b)) => ("id", Some(b)),
            _ => ("id DESC", None),
        };
        if let Some(a) = f.after {
            w.cmp("id", "<", Bind::Text(id(a)));
        }
        if let Some(b) = before {
            w.cmp("id", ">", Bind::Text(id(b)));
        }
        let select =
            "SELECT id, revision, org_id, actor, action, target_type, target_id, before_json, \
            after_json, trace_id, created_at FROM audit_events";
        let mut slice = page(self, select, &w, order, f.limit, crate::audit::event_of).await?;
        if before.is_some() {
            // Read oldest-first to take the events right before the cursor; show newest first.
            slice.items.reverse();
        }
        Ok(slice)
    }

    /// The user ids (as events spell actors) of the given emails; unknown emails are skipped.
    pub async fn user_ids_by_email(&self, emails: &[String]) -> Result<Vec<UserId>> {
        let keys: Vec<String> = emails.iter().map(|e| e.trim().to_lowercase()).collect();
        let mut w = Where::default();
        w.any_of("email_key", &keys);
        let rows = w
            .bind(sqlx::query(&format!(
                "SELECT id FROM users WHERE 1 = 1{}",
                w.sql
            )))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| uuid_of(r, "id").map(UserId)).collect()
    }

    /// Users by id (any organization's: callers pass ids they found in their own data).
    pub async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>> {
        let keys: Vec<String> = ids.iter().map(|u| id(*u)).collect();
        let mut w = Where::default();
        w.any_of("id", &keys);
        let rows = w
            .bind(sqlx::query(&format!(
                "SELECT id, email, full_name, username, created_at, updated_at FROM users WHERE 1 = 1{}",
                w.sql
            )))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    id: UserId(uuid_of(r, "id")?),
                    email: str_of(r, "email")?,
                    full_name: opt_str_of(r, "full_name")?,
                    username: opt_str_of(r, "username")?,
                    created_at: ts_of(r, "created_at")?,
                    updated_at: ts_of(r, "updated_at")?,
                })
            })
            .collect()
    }
}

fn invitation_with_acceptance(row: &AnyRow) -> Result<(Invitation, Option<Timestamp>)> {
    let inv = crate::invitations::invitation_of(row)?;
    let accepted = (inv.state == InvitationState::Accepted)
        .then(|| ts_of(row, "updated_at"))
        .transpose()?;
    Ok((inv, accepted))
}
