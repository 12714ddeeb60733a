//! Reading the permission index's rows from an SQLite file through rusqlite
//! on a blocking thread: every organization at start-up, and the
//! organizations a write touched, after its commit.
//!
//! Why not sqlx: its SQLite driver hands every row from the connection's
//! worker thread to the async caller, and the `Any` driver converts each
//! value once more; for W1's 550,000 assignment rows that alone took about
//! 2.5 s, against about 0.3 s here. Only these read-only index loads use
//! rusqlite (it links the same SQLite library as sqlx); every other query,
//! and every write, goes through the one sqlx store.

use roster_core::index::OrgData;
use roster_core::*;
use rusqlite::{Connection, OpenFlags, Row};
use std::collections::HashMap;
use std::path::PathBuf;
use uuid::Uuid;

/// The file behind an `sqlite:` URL, or `None` for an in-memory database.
pub(crate) fn sqlite_path(url: &str) -> Option<PathBuf> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn internal(e: rusqlite::Error) -> Error {
    Error::internal(e)
}

fn uuid_at(row: &Row, i: usize) -> rusqlite::Result<Uuid> {
    let s = row.get_ref(i)?.as_str()?;
    Uuid::parse_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn opt_uuid_at(row: &Row, i: usize) -> rusqlite::Result<Option<Uuid>> {
    match row.get_ref(i)?.as_str_or_null()? {
        None | Some("") => Ok(None),
        Some(_) => uuid_at(row, i).map(Some),
    }
}

/// Runs `sql` (with `?1` bound to `org` when given) and hands each row to `each`.
fn each_row(
    conn: &Connection,
    sql: &str,
    org: Option<&str>,
    mut each: impl FnMut(&Row) -> rusqlite::Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql).map_err(internal)?;
    let mut rows = match org {
        Some(o) => stmt.query([o]),
        None => stmt.query([]),
    }
    .map_err(internal)?;
    while let Some(row) = rows.next().map_err(internal)? {
        each(row).map_err(internal)?;
    }
    Ok(())
}

/// A read-only connection to the database file.
pub(crate) fn open(path: &std::path::Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(internal)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(internal)?;
    Ok(conn)
}

/// The revision and every live organization's rows, read in one transaction
/// so they match exactly.
pub(crate) fn read_all(path: &std::path::Path) -> Result<(i64, HashMap<OrgId, OrgData>)> {
    let mut conn = open(path)?;
    let tx = conn.transaction().map_err(internal)?;
    let revision = revision_in(&tx)?;
    let data = read(&tx, None)?;
    tx.commit().map_err(internal)?;
    Ok((revision, data))
}

/// The deployment revision, as the transaction `tx` sees it.
fn revision_in(tx: &rusqlite::Transaction<'_>) -> Result<i64> {
    tx.query_row("SELECT revision FROM meta WHERE id = 1", [], |r| r.get(0))
        .map_err(internal)
}

/// Organizations' rows, `None` for one that is gone.
pub(crate) type OrgRows = Vec<(OrgId, Option<OrgData>)>;

/// The rows of each of `orgs` (`None` for one that is gone) and the
/// revision they reflect, read in one transaction (so the revision matches
/// them exactly, however many writes have committed since the caller's).
pub(crate) fn read_orgs_at(conn: &mut Connection, orgs: &[OrgId]) -> Result<(i64, OrgRows)> {
    let tx = conn.transaction().map_err(internal)?;
    let revision = revision_in(&tx)?;
    let mut out = Vec::with_capacity(orgs.len());
    for org in orgs {
        let mut data = read(&tx, Some(*org))?;
        out.push((*org, data.remove(org)));
    }
    tx.commit().map_err(internal)?;
    Ok((revision, out))
}

/// Every live organization's rows, or only `only`'s.
fn read(conn: &Connection, only: Option<OrgId>) -> Result<HashMap<OrgId, OrgData>> {
    let org_text = only.map(|o| o.uuid().to_string());
    let org = org_text.as_deref();
    // `WHERE`/`AND` clause selecting the organization, for a table's `org_id` column.
    let filter = |col: &str, joiner: &str| match org {
        Some(_) => format!(" {joiner} {col} = ?1"),
        None => String::new(),
    };
    let mut data: HashMap<OrgId, OrgData> = HashMap::new();
    each_row(
        conn,
        &format!(
            "SELECT id FROM organizations WHERE deleted_at IS NULL{}",
            filter("id", "AND")
        ),
        org,
        |r| {
            let o = OrgId(uuid_at(r, 0)?);
            data.insert(
                o,
                OrgData {
                    org: Some(o),
                    ..Default::default()
                },
            );
            Ok(())
        },
    )?;
    each_row(
        conn,
        &format!(
            "SELECT org_id, user_id, status FROM memberships WHERE deleted_at IS NULL{}",
            filter("org_id", "AND")
        ),
        org,
        |r| {
            if let Some(d) = data.get_mut(&OrgId(uuid_at(r, 0)?)) {
                let status =
                    MemberStatus::parse(r.get_ref(2)?.as_str()?).unwrap_or(MemberStatus::Inactive);
                d.members.push((UserId(uuid_at(r, 1)?), status));
            }
            Ok(())
        },
    )?;
    let mut grants: HashMap<RoleId, Vec<Grant>> = HashMap::new();
    let mut bad_grant = None;
    let grants_sql = match org {
        Some(_) => {
            "SELECT g.role_id, g.perm_key, g.effect FROM role_grants g \
                    JOIN roles r ON r.id = g.role_id WHERE r.org_id = ?1"
        }
        None => "SELECT role_id, perm_key, effect FROM role_grants",
    };
    each_row(conn, grants_sql, org, |r| {
        match crate::load::grant_from(r.get_ref(1)?.as_str()?, r.get_ref(2)?.as_str()?) {
            Ok(grant) => grants
                .entry(RoleId(uuid_at(r, 0)?))
                .or_default()
                .push(grant),
            Err(e) => bad_grant = Some(e),
        }
        Ok(())
    })?;
    if let Some(e) = bad_grant {
        return Err(e);
    }
    let roles_sql = format!(
        "SELECT id, org_id, name FROM roles{}",
        filter("org_id", "WHERE")
    );
    each_row(conn, &roles_sql, org, |r| {
        let rid = RoleId(uuid_at(r, 0)?);
        if let Some(d) = data.get_mut(&OrgId(uuid_at(r, 1)?)) {
            d.roles.push((
                rid,
                r.get_ref(2)?.as_str()?.to_owned(),
                grants.remove(&rid).unwrap_or_default(),
            ));
        }
        Ok(())
    })?;
    each_row(
        conn,
        &format!(
            "SELECT id, org_id, role_id, principal_type, principal_id, scope_type, scope_id, is_primary, created_at \
             FROM role_assignments{}",
            filter("org_id", "WHERE")
        ),
        org,
        |r| {
            let org_id = OrgId(uuid_at(r, 1)?);
            let Some(d) = data.get_mut(&org_id) else {
                return Ok(());
            };
            let principal = crate::load::principal_from(r.get_ref(3)?.as_str()?, uuid_at(r, 4)?);
            let scope = crate::load::scope_from(r.get_ref(5)?.as_str()?, || uuid_at(r, 6))?;
            d.assignments.push(Assignment {
                id: AssignmentId(uuid_at(r, 0)?),
                org_id,
                role_id: RoleId(uuid_at(r, 2)?),
                principal,
                scope,
                is_primary: r.get::<_, i64>(7)? != 0,
                created_at: crate::rows::ts(r.get(8)?),
            });
            Ok(())
        },
    )?;
    each_row(
        conn,
        &format!(
            "SELECT org_id, group_id, user_id FROM group_members{}",
            filter("org_id", "WHERE")
        ),
        org,
        |r| {
            if let Some(d) = data.get_mut(&OrgId(uuid_at(r, 0)?)) {
                d.group_members
                    .push((GroupId(uuid_at(r, 1)?), UserId(uuid_at(r, 2)?)));
            }
            Ok(())
        },
    )?;
    each_row(
        conn,
        &format!(
            "SELECT org_id, dept_id, user_id FROM department_members{}",
            filter("org_id", "WHERE")
        ),
        org,
        |r| {
            if let Some(d) = data.get_mut(&OrgId(uuid_at(r, 0)?)) {
                d.dept_members
                    .push((DeptId(uuid_at(r, 1)?), UserId(uuid_at(r, 2)?)));
            }
            Ok(())
        },
    )?;
    each_row(
        conn,
        &format!(
            "SELECT id, org_id, parent_id, name FROM departments{}",
            filter("org_id", "WHERE")
        ),
        org,
        |r| {
            if let Some(d) = data.get_mut(&OrgId(uuid_at(r, 1)?)) {
                d.departments.push((
                    DeptId(uuid_at(r, 0)?),
                    opt_uuid_at(r, 2)?.map(DeptId),
                    r.get_ref(3)?.as_str()?.to_owned(),
                ));
            }
            Ok(())
        },
    )?;
    Ok(data)
}
