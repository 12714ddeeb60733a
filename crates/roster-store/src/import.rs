//! Bulk import of a directory of JSON Lines files (the W1 benchmark format):
//! organizations, users, permission keys, custom roles, departments and
//! memberships, each keeping its file id as `external_id`.
//!
//! The import is all or nothing. Every file is read and checked in memory
//! first (syntax, required fields, duplicate ids, references to unknown or
//! foreign records), so a bad line is reported as `FILE:LINE: reason` before
//! the database is touched; then everything is written in ONE transaction with
//! multi-row `INSERT`s, which is what makes 200,000 memberships take seconds
//! instead of minutes: SQLite pays per statement and per commit, not per row.

use crate::db::{db_err, is_unique_violation, now_micros, values_sql, DbKind};
use crate::{Ctx, Store};
use roster_core::text::{bounded, bounded_opt, name_key, Email};
use roster_core::*;
use serde::Deserialize;
use sqlx::{AnyConnection, Row};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The files of an import directory, in the order they are read and written
/// (each may only refer to records of the files before it). All must exist;
/// an empty file is fine. Other files in the directory are ignored.
pub const FILES: [&str; 6] = [ORGS, USERS, PERMISSIONS, ROLES, DEPARTMENTS, MEMBERS];
const ORGS: &str = "orgs.jsonl";
const USERS: &str = "users.jsonl";
const PERMISSIONS: &str = "permissions.jsonl";
const ROLES: &str = "roles.jsonl";
const DEPARTMENTS: &str = "departments.jsonl";
const MEMBERS: &str = "members.jsonl";

/// Rows per `INSERT` statement: enough to make the per-statement cost
/// negligible; with at most 11 parameters a row it stays far below SQLite's
/// limit of 32,766 bound parameters, which `MAX_PARAMS` still enforces.
const ROWS_PER_STATEMENT: usize = 500;
const MAX_PARAMS: usize = 32_766;

/// Why an import was refused. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line of an input file is wrong; `line` counts from 1.
    #[error("{file}:{line}: {reason}")]
    Invalid {
        file: &'static str,
        line: usize,
        reason: String,
    },
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Someone wrote a conflicting row while the import ran (PostgreSQL only:
    /// SQLite imports hold the single writer's turn throughout).
    #[error("a concurrent write conflicts with the import ({table}); nothing was imported, run it again")]
    Conflict { table: &'static str },
    #[error(transparent)]
    Store(#[from] Error),
}

/// Observes the import's progress: each step is a labelled count of work.
pub trait Progress {
    fn start(&self, label: &str, total: u64);
    fn advance(&self, n: u64);
    fn finish(&self);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// One line of the id map: which Roster id a file id became.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdMapEntry {
    pub kind: &'static str,
    pub external_id: String,
    pub id: String,
}

/// What an import wrote.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub organizations: usize,
    pub users: usize,
    /// Permission keys read; keys the deployment already had are kept as they were.
    pub permissions: usize,
    pub roles: usize,
    pub role_grants: usize,
    pub departments: usize,
    pub memberships: usize,
    /// Primary roles, extra member roles and department role bindings.
    pub role_assignments: usize,
    pub department_members: usize,
    pub revision: i64,
    pub elapsed: Duration,
    /// Every imported organization, user, role and department, in file order.
    pub id_map: Vec<IdMapEntry>,
}

impl ImportReport {
    /// Writes the id map as JSON Lines.
    pub fn write_id_map(&self, mut out: impl std::io::Write) -> std::io::Result<()> {
        for e in &self.id_map {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

// ---- the file formats. Unknown fields are refused: a misspelt optional
// field would otherwise be silently dropped from an import nobody re-reads.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgLine {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserLine {
    id: String,
    email: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionLine {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleLine {
    id: String,
    org_id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    permissions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeptLine {
    id: String,
    org_id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberLine {
    org_id: String,
    user_id: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    departments: Vec<String>,
}

// ---- the validated plan: everything resolved to new UUIDs, ready to insert.

struct Org {
    ext: String,
    id: OrgId,
    name: String,
}

struct User {
    ext: String,
    id: UserId,
    email: String,
    email_key: String,
    full_name: Option<String>,
}

struct Role {
    ext: String,
    id: RoleId,
    org: usize,
    name: String,
    description: Option<String>,
    grants: Vec<String>,
}

struct Dept {
    ext: String,
    id: DeptId,
    org: usize,
    name: String,
    description: Option<String>,
    parent: Option<usize>,
    path: String,
    depth: i64,
}

struct Membership {
    id: MembershipId,
    org: usize,
    user: usize,
}

/// One row of `role_assignments`, all at organization scope.
struct Assign {
    org: OrgId,
    role: RoleId,
    department: bool,
    principal: Uuid,
    primary: bool,
}

struct DeptMember {
    dept: DeptId,
    user: UserId,
    org: OrgId,
}

#[derive(Default)]
struct Plan {
    orgs: Vec<Org>,
    users: Vec<User>,
    permissions: Vec<(String, Option<String>)>,
    roles: Vec<Role>,
    depts: Vec<Dept>,
    members: Vec<Membership>,
    assigns: Vec<Assign>,
    dept_members: Vec<DeptMember>,
}

/// What the database already holds that the import must not collide with.
struct Existing {
    org_ext: HashSet<String>,
    user_ext: HashSet<String>,
    emails: HashSet<String>,
    permissions: HashSet<String>,
}

impl Store {
    /// Imports the directory `dir` (see [`FILES`]) as the platform, all or
    /// nothing, then rebuilds the permission index.
    ///
    /// The commit records a "reload everything" entry in the change feed, so
    /// PostgreSQL replicas that are running pick the import up; a service on
    /// the same SQLite file must be restarted to see it.
    pub async fn import_dir(
        &self,
        ctx: &Ctx,
        _: &PlatformAccess,
        dir: &Path,
        progress: &dyn Progress,
    ) -> std::result::Result<ImportReport, ImportError> {
        let started = Instant::now();
        let existing = self.existing().await?;
        let plan = read_plan(dir, &existing, progress)?;
        tracing::debug!(elapsed = ?started.elapsed(), "files read and checked");
        let revision = self.write_plan(ctx, dir, &plan, progress).await?;
        tracing::debug!(elapsed = ?started.elapsed(), "committed");
        self.rebuild_index().await?;
        Ok(plan.report(revision, started.elapsed()))
    }

    async fn existing(&self) -> Result<Existing> {
        let strings = |sql: &'static str| async move {
            let rows = sqlx::query(sql)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(0).map_err(db_err))
                .collect::<Result<HashSet<String>>>()
        };
        Ok(Existing {
            org_ext: strings("SELECT external_id FROM organizations WHERE external_id IS NOT NULL")
                .await?,
            user_ext: strings("SELECT external_id FROM users WHERE external_id IS NOT NULL")
                .await?,
            emails: strings("SELECT email_key FROM users").await?,
            permissions: strings("SELECT perm_key FROM permissions WHERE org_id = ''").await?,
        })
    }

    /// Writes the plan in one transaction; returns the revision it committed.
    async fn write_plan(
        &self,
        ctx: &Ctx,
        dir: &Path,
        plan: &Plan,
        progress: &dyn Progress,
    ) -> std::result::Result<i64, ImportError> {
        let mut tx = self.begin(ctx).await?;
        let now = now_micros();
        let w = Writer {
            kind: self.kind,
            progress,
        };
        let conn = tx.conn();
        let org_uuid = |i: usize| plan.orgs[i].id.uuid();

        w.insert(
            conn,
            ("organizations", ORGS),
            "organizations (id, name, org_type, domains, is_active, owner_id, api_usage_limit, \
             total_usage_limit, external_id, created_at, updated_at)",
            &[
                "$", "$", "'Work'", "'[]'", "TRUE", "NULL", "1000.0", "5000.0", "$", "$", "$",
            ],
            "",
            &plan.orgs,
            |o, v| {
                v.push(V::Uuid(o.id.uuid()));
                v.push(V::Text(o.name.clone()));
                v.push(V::Text(o.ext.clone()));
                v.push(V::Int(now));
                v.push(V::Int(now));
            },
        )
        .await?;
        w.insert(
            conn,
            ("users", USERS),
            "users (id, email, email_key, full_name, external_id, created_at, updated_at)",
            &["$"; 7],
            "",
            &plan.users,
            |u, v| {
                v.push(V::Uuid(u.id.uuid()));
                v.push(V::Text(u.email.clone()));
                v.push(V::Text(u.email_key.clone()));
                v.push(V::OptText(u.full_name.clone()));
                v.push(V::Text(u.ext.clone()));
                v.push(V::Int(now));
                v.push(V::Int(now));
            },
        )
        .await?;
        // The catalogue is deployment-wide: a key some earlier import or the
        // admin already declared stays as it is.
        w.insert(
            conn,
            ("permissions", PERMISSIONS),
            "permissions (org_id, perm_key, description, created_at)",
            &["''", "$", "$", "$"],
            " ON CONFLICT DO NOTHING",
            &plan.permissions,
            |(key, description), v| {
                v.push(V::Text(key.clone()));
                v.push(V::OptText(description.clone()));
                v.push(V::Int(now));
            },
        )
        .await?;
        w.insert(
            conn,
            ("roles", ROLES),
            "roles (id, org_id, name, name_key, description, resource_type, external_id, created_at, updated_at)",
            &["$", "$", "$", "$", "$", "'organization'", "$", "$", "$"],
            "",
            &plan.roles,
            |r, v| {
                v.push(V::Uuid(r.id.uuid()));
                v.push(V::Uuid(org_uuid(r.org)));
                v.push(V::Text(r.name.clone()));
                v.push(V::Text(name_key(&r.name)));
                v.push(V::OptText(r.description.clone()));
                v.push(V::Text(r.ext.clone()));
                v.push(V::Int(now));
                v.push(V::Int(now));
            },
        )
        .await?;
        let grants: Vec<(RoleId, &str)> = plan
            .roles
            .iter()
            .flat_map(|r| r.grants.iter().map(move |g| (r.id, g.as_str())))
            .collect();
        w.insert(
            conn,
            ("role grants", ROLES),
            "role_grants (role_id, perm_key, effect)",
            &["$", "$", "'allow'"],
            "",
            &grants,
            |(role, key), v| {
                v.push(V::Uuid(role.uuid()));
                v.push(V::Text((*key).to_owned()));
            },
        )
        .await?;
        w.insert(
            conn,
            ("departments", DEPARTMENTS),
            "departments (id, org_id, name, name_key, description, parent_id, path, depth, external_id, created_at, updated_at)",
            &["$"; 11],
            "",
            &plan.depts,
            |d, v| {
                v.push(V::Uuid(d.id.uuid()));
                v.push(V::Uuid(org_uuid(d.org)));
                v.push(V::Text(d.name.clone()));
                v.push(V::Text(name_key(&d.name)));
                v.push(V::OptText(d.description.clone()));
                v.push(V::OptText(d.parent.map(|p| plan.depts[p].id.uuid().to_string())));
                v.push(V::Text(d.path.clone()));
                v.push(V::Int(d.depth));
                v.push(V::Text(d.ext.clone()));
                v.push(V::Int(now));
                v.push(V::Int(now));
            },
        )
        .await?;
        w.insert(
            conn,
            ("memberships", MEMBERS),
            "memberships (id, org_id, user_id, status, joined_at, created_at, updated_at)",
            &["$", "$", "$", "$", "$", "$", "$"],
            "",
            &plan.members,
            |m, v| {
                v.push(V::Uuid(m.id.uuid()));
                v.push(V::Uuid(org_uuid(m.org)));
                v.push(V::Uuid(plan.users[m.user].id.uuid()));
                v.push(V::Text(MemberStatus::Active.as_str().to_owned()));
                v.push(V::Int(now));
                v.push(V::Int(now));
                v.push(V::Int(now));
            },
        )
        .await?;
        w.insert(
            conn,
            ("role assignments", MEMBERS),
            "role_assignments (id, org_id, role_id, principal_type, principal_id, scope_type, scope_id, is_primary, created_at)",
            &["$", "$", "$", "$", "$", "'organization'", "''", "$", "$"],
            "",
            &plan.assigns,
            |a, v| {
                v.push(V::Uuid(AssignmentId::new().uuid()));
                v.push(V::Uuid(a.org.uuid()));
                v.push(V::Uuid(a.role.uuid()));
                v.push(V::Text(
                    if a.department { "department" } else { "user" }.to_owned(),
                ));
                v.push(V::Uuid(a.principal));
                v.push(V::Bool(a.primary));
                v.push(V::Int(now));
            },
        )
        .await?;
        w.insert(
            conn,
            ("department members", MEMBERS),
            "department_members (dept_id, user_id, org_id, added_at)",
            &["$"; 4],
            "",
            &plan.dept_members,
            |m, v| {
                v.push(V::Uuid(m.dept.uuid()));
                v.push(V::Uuid(m.user.uuid()));
                v.push(V::Uuid(m.org.uuid()));
                v.push(V::Int(now));
            },
        )
        .await?;

        // Other replicas reload everything.
        tx.everything_changed();
        tx.audit(
            None,
            "import.completed",
            "import",
            dir.display(),
            None,
            Some(plan.counts()),
        );
        Ok(tx.commit(self, ()).await?.revision)
    }
}

impl Plan {
    fn report(&self, revision: i64, elapsed: Duration) -> ImportReport {
        let entry = |kind, ext: &str, id: String| IdMapEntry {
            kind,
            external_id: ext.to_owned(),
            id,
        };
        let orgs = self
            .orgs
            .iter()
            .map(|o| entry("organization", &o.ext, o.id.to_string()));
        let users = self
            .users
            .iter()
            .map(|u| entry("user", &u.ext, u.id.to_string()));
        let roles = self
            .roles
            .iter()
            .map(|r| entry("role", &r.ext, r.id.to_string()));
        let depts = self
            .depts
            .iter()
            .map(|d| entry("department", &d.ext, d.id.to_string()));
        ImportReport {
            organizations: self.orgs.len(),
            users: self.users.len(),
            permissions: self.permissions.len(),
            roles: self.roles.len(),
            role_grants: self.roles.iter().map(|r| r.grants.len()).sum(),
            departments: self.depts.len(),
            memberships: self.members.len(),
            role_assignments: self.assigns.len(),
            department_members: self.dept_members.len(),
            revision,
            elapsed,
            id_map: orgs.chain(users).chain(roles).chain(depts).collect(),
        }
    }

    /// The counts the audit event records.
    fn counts(&self) -> serde_json::Value {
        serde_json::json!({
            "organizations": self.orgs.len(),
            "users": self.users.len(),
            "permissions": self.permissions.len(),
            "roles": self.roles.len(),
            "departments": self.depts.len(),
            "memberships": self.members.len(),
            "role_assignments": self.assigns.len(),
            "department_members": self.dept_members.len(),
        })
    }
}

// ---- reading and checking

/// Refusal of `line` in `file`.
fn bad(file: &'static str, line: usize, reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        file,
        line,
        reason: reason.into(),
    }
}

/// Reads one file and hands each non-blank line, parsed, to `each` with its
/// line number.
fn read_lines<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &'static str,
    progress: &dyn Progress,
    mut each: impl FnMut(usize, T) -> std::result::Result<(), ImportError>,
) -> std::result::Result<(), ImportError> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| ImportError::Read {
        path: path.clone(),
        source,
    })?;
    let total = text.lines().count();
    progress.start(&format!("reading {file}"), total as u64);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let record: T = serde_json::from_str(raw).map_err(|e| bad(file, line, json_reason(&e)))?;
        each(line, record)?;
        if line % 4096 == 0 {
            progress.advance(4096);
        }
    }
    progress.advance((total % 4096) as u64);
    progress.finish();
    Ok(())
}

/// serde's message without its "at line 1 column N" (we give the file line).
fn json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(at) => format!("{} (column {})", &msg[..at], e.column()),
        None => msg,
    }
}

/// An external id: 1-255 characters, no surrounding whitespace.
fn ext_id(
    file: &'static str,
    line: usize,
    field: &str,
    raw: &str,
) -> std::result::Result<(), ImportError> {
    if raw.is_empty() || raw.len() > 255 || raw.trim() != raw {
        return Err(bad(
            file,
            line,
            format!("{field}: must be 1-255 characters without surrounding spaces"),
        ));
    }
    Ok(())
}

fn read_plan(
    dir: &Path,
    existing: &Existing,
    progress: &dyn Progress,
) -> std::result::Result<Plan, ImportError> {
    for f in FILES {
        let path = dir.join(f);
        if !path.is_file() {
            return Err(ImportError::Read {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("missing (an import directory holds {})", FILES.join(", ")),
                ),
            });
        }
    }
    let mut plan = Plan::default();
    let mut orgs: HashMap<String, usize> = HashMap::new();
    let mut users: HashMap<String, usize> = HashMap::new();
    let mut roles: HashMap<String, usize> = HashMap::new();
    let mut depts: HashMap<String, usize> = HashMap::new();

    read_lines(dir, ORGS, progress, |line, o: OrgLine| {
        ext_id(ORGS, line, "id", &o.id)?;
        let name = bounded("name", &o.name, 1, 255).map_err(|e| bad(ORGS, line, e.to_string()))?;
        if existing.org_ext.contains(&o.id) {
            return Err(bad(
                ORGS,
                line,
                format!("organization {:?} was imported before", o.id),
            ));
        }
        if orgs.insert(o.id.clone(), plan.orgs.len()).is_some() {
            return Err(bad(
                ORGS,
                line,
                format!("duplicate organization id {:?}", o.id),
            ));
        }
        plan.orgs.push(Org {
            ext: o.id,
            id: OrgId::new(),
            name,
        });
        Ok(())
    })?;

    let mut emails: HashSet<String> = HashSet::new();
    read_lines(dir, USERS, progress, |line, u: UserLine| {
        ext_id(USERS, line, "id", &u.id)?;
        let email = Email::parse("email", &u.email).map_err(|e| bad(USERS, line, e.to_string()))?;
        let full_name = bounded_opt("name", u.name.as_deref(), 255)
            .map_err(|e| bad(USERS, line, e.to_string()))?;
        if existing.user_ext.contains(&u.id) {
            return Err(bad(
                USERS,
                line,
                format!("user {:?} was imported before", u.id),
            ));
        }
        let key = email.normalized();
        if existing.emails.contains(&key) || !emails.insert(key.clone()) {
            return Err(bad(
                USERS,
                line,
                format!("email {:?} is already taken", email.as_str()),
            ));
        }
        if users.insert(u.id.clone(), plan.users.len()).is_some() {
            return Err(bad(USERS, line, format!("duplicate user id {:?}", u.id)));
        }
        plan.users.push(User {
            ext: u.id,
            id: UserId::new(),
            email: email.as_str().to_owned(),
            email_key: key,
            full_name,
        });
        Ok(())
    })?;

    let mut declared: HashSet<String> = HashSet::new();
    read_lines(dir, PERMISSIONS, progress, |line, p: PermissionLine| {
        let key = PermissionKey::parse(&p.name)
            .map_err(|e| bad(PERMISSIONS, line, format!("name: {}", e.message)))?;
        let description = bounded_opt("description", p.description.as_deref(), 500)
            .map_err(|e| bad(PERMISSIONS, line, e.to_string()))?;
        if !declared.insert(key.as_str().to_owned()) {
            return Err(bad(
                PERMISSIONS,
                line,
                format!("duplicate permission {:?}", p.name),
            ));
        }
        plan.permissions
            .push((key.as_str().to_owned(), description));
        Ok(())
    })?;

    let mut role_names: HashSet<(usize, String)> = HashSet::new();
    read_lines(dir, ROLES, progress, |line, r: RoleLine| {
        ext_id(ROLES, line, "id", &r.id)?;
        let org = *orgs
            .get(&r.org_id)
            .ok_or_else(|| bad(ROLES, line, format!("unknown organization {:?}", r.org_id)))?;
        let name = bounded("name", &r.name, 1, 100).map_err(|e| bad(ROLES, line, e.to_string()))?;
        let description = bounded_opt("description", r.description.as_deref(), 500)
            .map_err(|e| bad(ROLES, line, e.to_string()))?;
        if !role_names.insert((org, name_key(&name))) {
            return Err(bad(
                ROLES,
                line,
                format!(
                    "organization {:?} already has a role named {name:?}",
                    r.org_id
                ),
            ));
        }
        let mut seen = HashSet::new();
        for p in &r.permissions {
            let known =
                declared.contains(p) || existing.permissions.contains(p) || is_builtin_key(p);
            if !known {
                return Err(bad(
                    ROLES,
                    line,
                    format!("unknown permission {p:?} (declare it in {PERMISSIONS})"),
                ));
            }
            if !seen.insert(p.as_str()) {
                return Err(bad(ROLES, line, format!("permission {p:?} listed twice")));
            }
        }
        if roles.insert(r.id.clone(), plan.roles.len()).is_some() {
            return Err(bad(ROLES, line, format!("duplicate role id {:?}", r.id)));
        }
        plan.roles.push(Role {
            ext: r.id,
            id: RoleId::new(),
            org,
            name,
            description,
            grants: r.permissions,
        });
        Ok(())
    })?;

    // A role listed on a record of organization `org`: known, and of that organization.
    let role_of = |file: &'static str,
                   line: usize,
                   org: usize,
                   ext: &str|
     -> std::result::Result<usize, ImportError> {
        let r = *roles
            .get(ext)
            .ok_or_else(|| bad(file, line, format!("unknown role {ext:?}")))?;
        if plan.roles[r].org != org {
            return Err(bad(
                file,
                line,
                format!(
                    "role {ext:?} belongs to organization {:?}, not {:?}",
                    plan.orgs[plan.roles[r].org].ext, plan.orgs[org].ext
                ),
            ));
        }
        Ok(r)
    };

    let mut dept_names: HashSet<(usize, String)> = HashSet::new();
    let mut bindings: Vec<Assign> = Vec::new();
    read_lines(dir, DEPARTMENTS, progress, |line, d: DeptLine| {
        ext_id(DEPARTMENTS, line, "id", &d.id)?;
        let org = *orgs.get(&d.org_id).ok_or_else(|| {
            bad(
                DEPARTMENTS,
                line,
                format!("unknown organization {:?}", d.org_id),
            )
        })?;
        let name =
            bounded("name", &d.name, 1, 255).map_err(|e| bad(DEPARTMENTS, line, e.to_string()))?;
        let description = bounded_opt("description", d.description.as_deref(), 1000)
            .map_err(|e| bad(DEPARTMENTS, line, e.to_string()))?;
        if !dept_names.insert((org, name_key(&name))) {
            return Err(bad(
                DEPARTMENTS,
                line,
                format!(
                    "organization {:?} already has a department named {name:?}",
                    d.org_id
                ),
            ));
        }
        let parent = match &d.parent_id {
            None => None,
            Some(p) => {
                let i = *depts.get(p).ok_or_else(|| {
                    bad(DEPARTMENTS, line, format!("unknown parent department {p:?} (a parent must come before its children)"))
                })?;
                if plan.depts[i].org != org {
                    return Err(bad(
                        DEPARTMENTS,
                        line,
                        format!("parent department {p:?} belongs to another organization"),
                    ));
                }
                Some(i)
            }
        };
        let id = DeptId::new();
        let (path, depth) = match parent {
            None => (format!("/{}", id.uuid()), 0),
            Some(p) => (
                format!("{}/{}", plan.depts[p].path, id.uuid()),
                plan.depts[p].depth + 1,
            ),
        };
        let mut seen = HashSet::new();
        for r in &d.roles {
            let role = role_of(DEPARTMENTS, line, org, r)?;
            if !seen.insert(role) {
                return Err(bad(DEPARTMENTS, line, format!("role {r:?} listed twice")));
            }
            bindings.push(Assign {
                org: plan.orgs[org].id,
                role: plan.roles[role].id,
                department: true,
                principal: id.uuid(),
                primary: false,
            });
        }
        if depts.insert(d.id.clone(), plan.depts.len()).is_some() {
            return Err(bad(
                DEPARTMENTS,
                line,
                format!("duplicate department id {:?}", d.id),
            ));
        }
        plan.depts.push(Dept {
            ext: d.id,
            id,
            org,
            name,
            description,
            parent,
            path,
            depth,
        });
        Ok(())
    })?;

    let mut memberships: HashSet<(usize, usize)> = HashSet::new();
    let mut assigns: Vec<Assign> = Vec::new();
    read_lines(dir, MEMBERS, progress, |line, m: MemberLine| {
        let org = *orgs.get(&m.org_id).ok_or_else(|| {
            bad(
                MEMBERS,
                line,
                format!("unknown organization {:?}", m.org_id),
            )
        })?;
        let user = *users
            .get(&m.user_id)
            .ok_or_else(|| bad(MEMBERS, line, format!("unknown user {:?}", m.user_id)))?;
        if !memberships.insert((org, user)) {
            return Err(bad(
                MEMBERS,
                line,
                format!(
                    "user {:?} is listed twice in organization {:?}",
                    m.user_id, m.org_id
                ),
            ));
        }
        let (org_id, user_id) = (plan.orgs[org].id, plan.users[user].id);
        assigns.push(Assign {
            org: org_id,
            role: SystemRole::Member.id(),
            department: false,
            principal: user_id.uuid(),
            primary: true,
        });
        let mut seen = HashSet::new();
        for r in &m.roles {
            let role = role_of(MEMBERS, line, org, r)?;
            if !seen.insert(role) {
                return Err(bad(MEMBERS, line, format!("role {r:?} listed twice")));
            }
            assigns.push(Assign {
                org: org_id,
                role: plan.roles[role].id,
                department: false,
                principal: user_id.uuid(),
                primary: false,
            });
        }
        let mut seen = HashSet::new();
        for d in &m.departments {
            let dept = *depts
                .get(d)
                .ok_or_else(|| bad(MEMBERS, line, format!("unknown department {d:?}")))?;
            if plan.depts[dept].org != org {
                return Err(bad(
                    MEMBERS,
                    line,
                    format!("department {d:?} belongs to another organization"),
                ));
            }
            if !seen.insert(dept) {
                return Err(bad(MEMBERS, line, format!("department {d:?} listed twice")));
            }
            plan.dept_members.push(DeptMember {
                dept: plan.depts[dept].id,
                user: user_id,
                org: org_id,
            });
        }
        plan.members.push(Membership {
            id: MembershipId::new(),
            org,
            user,
        });
        Ok(())
    })?;
    bindings.append(&mut assigns);
    plan.assigns = bindings;
    Ok(plan)
}

// ---- writing

/// A bound value of a multi-row insert.
enum V {
    Uuid(Uuid),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Bool(bool),
}

struct Writer<'p> {
    kind: DbKind,
    progress: &'p dyn Progress,
}

impl Writer<'_> {
    /// `INSERT INTO {target} VALUES (...), (...) {tail}` in statements of up
    /// to [`ROWS_PER_STATEMENT`] rows. `cells` gives each column's value
    /// expression, `$` for a bound parameter (filled by `row`, in order).
    #[allow(clippy::too_many_arguments)]
    async fn insert<T>(
        &self,
        conn: &mut AnyConnection,
        (label, file): (&str, &'static str),
        target: &str,
        cells: &[&str],
        tail: &str,
        items: &[T],
        row: impl Fn(&T, &mut Vec<V>),
    ) -> std::result::Result<(), ImportError> {
        let params = cells.iter().filter(|c| **c == "$").count().max(1);
        let per = ROWS_PER_STATEMENT.min(MAX_PARAMS / params);
        self.progress
            .start(&format!("writing {label}"), items.len() as u64);
        let started = Instant::now();
        let mut values = Vec::with_capacity(per * params);
        for chunk in items.chunks(per) {
            values.clear();
            for it in chunk {
                row(it, &mut values);
            }
            let sql = values_sql(self.kind, target, cells, chunk.len(), tail);
            let mut q = sqlx::query(&sql);
            for v in values.drain(..) {
                q = match v {
                    V::Uuid(u) => q.bind(u.to_string()),
                    V::Text(s) => q.bind(s),
                    V::OptText(s) => q.bind(s),
                    V::Int(i) => q.bind(i),
                    V::Bool(b) => q.bind(b),
                };
            }
            q.execute(&mut *conn).await.map_err(|e| {
                if is_unique_violation(&e) {
                    tracing::warn!(kind = ?self.kind, file, error = %e, "import conflict");
                    ImportError::Conflict { table: file }
                } else {
                    ImportError::Store(db_err(e))
                }
            })?;
            self.progress.advance(chunk.len() as u64);
        }
        self.progress.finish();
        tracing::debug!(rows = items.len(), elapsed = ?started.elapsed(), "wrote {label}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbered_in_order() {
        let cells = ["$", "'x'", "$"];
        assert_eq!(
            values_sql(
                DbKind::Postgres,
                "t (a, b, c)",
                &cells,
                2,
                " ON CONFLICT DO NOTHING"
            ),
            "INSERT INTO t (a, b, c) VALUES ($1, 'x', $2), ($3, 'x', $4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            values_sql(DbKind::Sqlite, "t (a, b, c)", &cells, 2, ""),
            "INSERT INTO t (a, b, c) VALUES (?, 'x', ?), (?, 'x', ?)"
        );
    }
}
