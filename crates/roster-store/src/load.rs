//! Loading the permission index's rows through sqlx: one organization (after
//! a write, or when following other replicas) or all of them at start-up (one
//! pass per table). On an SQLite file `fastload` reads the same rows.

use crate::db::db_err;
use crate::rows::*;
use roster_core::index::{OrgData, OrgIndex};
use roster_core::*;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The principal stored as (`principal_type`, `principal_id`); the inverse of [`principal_cols`].
pub(crate) fn principal_from(kind: &str, id: uuid::Uuid) -> Principal {
    match kind {
        "user" => Principal::User(UserId(id)),
        "group" => Principal::Group(GroupId(id)),
        _ => Principal::Department(DeptId(id)),
    }
}

/// The scope stored as (`scope_type`, `scope_id`); `scope_id` is read only
/// when the type needs it. The inverse of [`scope_cols`].
pub(crate) fn scope_from<E>(
    kind: &str,
    id: impl FnOnce() -> std::result::Result<uuid::Uuid, E>,
) -> std::result::Result<Scope, E> {
    Ok(match kind {
        "project" => Scope::Project(ProjectId(id()?)),
        "department" => Scope::Department(DeptId(id()?)),
        _ => Scope::Organization,
    })
}

pub(crate) fn assignment_of(row: &AnyRow) -> Result<Assignment> {
    let principal = principal_from(
        &str_of(row, "principal_type")?,
        uuid_of(row, "principal_id")?,
    );
    let scope = scope_from(&str_of(row, "scope_type")?, || uuid_of(row, "scope_id"))?;
    Ok(Assignment {
        id: AssignmentId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        role_id: RoleId(uuid_of(row, "role_id")?),
        principal,
        scope,
        is_primary: bool_of(row, "is_primary")?,
        created_at: ts_of(row, "created_at")?,
    })
}

pub(crate) fn principal_cols(p: Principal) -> (&'static str, String) {
    match p {
        Principal::User(u) => ("user", id(u)),
        Principal::Group(g) => ("group", id(g)),
        Principal::Department(d) => ("department", id(d)),
    }
}

pub(crate) fn scope_cols(s: Scope) -> (&'static str, String) {
    match s {
        Scope::Organization => ("organization", String::new()),
        Scope::Project(p) => ("project", id(p)),
        Scope::Department(d) => ("department", id(d)),
    }
}

pub(crate) fn grant_of(row: &AnyRow) -> Result<Grant> {
    grant_from(&str_of(row, "perm_key")?, &str_of(row, "effect")?)
}

/// A stored grant: its key must parse; an unknown effect reads as deny (the safe side).
pub(crate) fn grant_from(key: &str, effect: &str) -> Result<Grant> {
    Ok(Grant {
        permission: PermissionKey::parse(key).map_err(Error::internal)?,
        effect: Effect::parse(effect).unwrap_or(Effect::Deny),
    })
}

const ORG_FILTER: &str = "org_id = $1";

async fn rows(conn: &mut AnyConnection, sql: &str, org: Option<OrgId>) -> Result<Vec<AnyRow>> {
    let mut q = sqlx::query(sql);
    if let Some(o) = org {
        q = q.bind(id(o));
    }
    q.fetch_all(&mut *conn).await.map_err(db_err)
}

/// Adds the rows of the query results to per-organization data.
async fn fill(
    conn: &mut AnyConnection,
    org: Option<OrgId>,
    data: &mut HashMap<OrgId, OrgData>,
) -> Result<()> {
    let filter = |table: &str, cols: &str, extra: &str| {
        let wher = match (org.is_some(), extra.is_empty()) {
            (true, true) => format!(" WHERE {ORG_FILTER}"),
            (true, false) => format!(" WHERE {ORG_FILTER} AND {extra}"),
            (false, true) => String::new(),
            (false, false) => format!(" WHERE {extra}"),
        };
        format!("SELECT {cols} FROM {table}{wher}")
    };
    let org_of = |r: &AnyRow| uuid_of(r, "org_id").map(OrgId);

    for r in rows(
        conn,
        &filter(
            "memberships",
            "org_id, user_id, status",
            "deleted_at IS NULL",
        ),
        org,
    )
    .await?
    {
        let status = MemberStatus::parse(&str_of(&r, "status")?).unwrap_or(MemberStatus::Inactive);
        if let Some(d) = data.get_mut(&org_of(&r)?) {
            d.members.push((UserId(uuid_of(&r, "user_id")?), status));
        }
    }
    let mut grants: HashMap<RoleId, Vec<Grant>> = HashMap::new();
    let grant_sql = match org {
        Some(_) => "SELECT g.role_id, g.perm_key, g.effect FROM role_grants g JOIN roles r ON r.id = g.role_id WHERE r.org_id = $1",
        None => "SELECT role_id, perm_key, effect FROM role_grants",
    };
    for r in rows(conn, grant_sql, org).await? {
        grants
            .entry(RoleId(uuid_of(&r, "role_id")?))
            .or_default()
            .push(grant_of(&r)?);
    }
    for r in rows(conn, &filter("roles", "id, org_id, name", ""), org).await? {
        let rid = RoleId(uuid_of(&r, "id")?);
        if let Some(d) = data.get_mut(&org_of(&r)?) {
            d.roles.push((
                rid,
                str_of(&r, "name")?,
                grants.remove(&rid).unwrap_or_default(),
            ));
        }
    }
    let cols = "id, org_id, role_id, principal_type, principal_id, scope_type, scope_id, is_primary, created_at";
    for r in rows(conn, &filter("role_assignments", cols, ""), org).await? {
        let a = assignment_of(&r)?;
        if let Some(d) = data.get_mut(&a.org_id) {
            d.assignments.push(a);
        }
    }
    for r in rows(
        conn,
        &filter("department_members", "org_id, dept_id, user_id", ""),
        org,
    )
    .await?
    {
        if let Some(d) = data.get_mut(&org_of(&r)?) {
            d.dept_members.push((
                DeptId(uuid_of(&r, "dept_id")?),
                UserId(uuid_of(&r, "user_id")?),
            ));
        }
    }
    for r in rows(
        conn,
        &filter("group_members", "org_id, group_id, user_id", ""),
        org,
    )
    .await?
    {
        if let Some(d) = data.get_mut(&org_of(&r)?) {
            d.group_members.push((
                GroupId(uuid_of(&r, "group_id")?),
                UserId(uuid_of(&r, "user_id")?),
            ));
        }
    }
    for r in rows(
        conn,
        &filter("departments", "id, org_id, parent_id, name", ""),
        org,
    )
    .await?
    {
        if let Some(d) = data.get_mut(&org_of(&r)?) {
            d.departments.push((
                DeptId(uuid_of(&r, "id")?),
                opt_uuid_of(&r, "parent_id")?.map(DeptId),
                str_of(&r, "name")?,
            ));
        }
    }
    Ok(())
}

/// The index rows of one live organization, or `None` if it is gone.
pub(crate) async fn org_data(conn: &mut AnyConnection, org: OrgId) -> Result<Option<OrgData>> {
    let exists = sqlx::query("SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL")
        .bind(id(org))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    if exists.is_none() {
        return Ok(None);
    }
    let mut data = HashMap::from([(
        org,
        OrgData {
            org: Some(org),
            ..Default::default()
        },
    )]);
    fill(conn, Some(org), &mut data).await?;
    Ok(data.remove(&org))
}

/// Every live organization's index.
pub(crate) async fn all_orgs(conn: &mut AnyConnection) -> Result<Vec<(OrgId, OrgIndex)>> {
    let mut data = HashMap::new();
    for r in sqlx::query("SELECT id FROM organizations WHERE deleted_at IS NULL")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
    {
        let o = OrgId(uuid_of(&r, "id")?);
        data.insert(
            o,
            OrgData {
                org: Some(o),
                ..Default::default()
            },
        );
    }
    let started = std::time::Instant::now();
    fill(conn, None, &mut data).await?;
    build_all(data, started.elapsed())
}

/// Builds every organization's index from its rows, split across the cores,
/// and logs how long reading (`loaded`) and building took.
pub(crate) fn build_all(
    data: HashMap<OrgId, OrgData>,
    loaded: std::time::Duration,
) -> Result<Vec<(OrgId, OrgIndex)>> {
    let started = std::time::Instant::now();
    // One pass over every key first, so the parallel builds share one key table.
    roster_core::index::intern_keys(data.values());
    // Building is CPU work on plain data: split it across the cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut parts: Vec<Vec<(OrgId, OrgData)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, entry) in data.into_iter().enumerate() {
        parts[i % threads].push(entry);
    }
    let built: Vec<(OrgId, OrgIndex)> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .map(|(o, d)| (o, OrgIndex::build(d)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            let part = h.join().map_err(|_| {
                Error::internal(std::io::Error::other(
                    "building the permission index panicked",
                ))
            })?;
            all.extend(part);
        }
        Ok::<_, Error>(all)
    })?;
    tracing::info!(
        organizations = built.len(),
        load_ms = loaded.as_millis() as u64,
        build_ms = started.elapsed().as_millis() as u64,
        "permission index built from the database"
    );
    Ok(built)
}
