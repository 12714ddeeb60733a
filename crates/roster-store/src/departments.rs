//! Departments: each organization's forest, the departments' direct members,
//! and the roles bound to departments.
//!
//! The tree is a materialised path of canonical UUIDs (`/uuid/uuid`) so that a
//! subtree is one prefix match; [`Department::path`] spells the segments as
//! `dept_` ids. Every write that reads the tree shape before changing it
//! (create under a parent, move, delete, adding or removing a member) takes the
//! organization lock first: two concurrent moves could otherwise each pass
//! the cycle check and together close a loop.
//!
//! Roles bound to a department reach the members of its whole subtree, so
//! every write that changes who sits below a binding (binding and unbinding,
//! adding and removing a member, moving a department, reviving a removed
//! member's membership) hands those roles out or takes them away, and is held
//! to `may_change_holders` for each (a revival with every other role it hands
//! back: `Store::may_revive_roles`). Removing a member from the organization
//! is not: see `members::soft_delete`.

use crate::db::{conflict, db_err, now_micros, Tx};
use crate::orgs::json;
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::index::IndexDelta;
use roster_core::text::{bounded, bounded_opt, name_key};
use roster_core::*;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::collections::BTreeSet;

/// Direct members only, and only those whose membership is live: a member
/// soft-deleted from the organization disappears from every department.
const DEPT_SELECT: &str = "SELECT d.id, d.org_id, d.name, d.description, d.parent_id, d.path, d.depth, d.color, \
    d.created_by, d.created_at, d.updated_at, \
    (SELECT COUNT(*) FROM department_members dm JOIN memberships m ON m.org_id = dm.org_id AND m.user_id = dm.user_id \
     WHERE dm.dept_id = d.id AND m.deleted_at IS NULL) AS member_count \
    FROM departments d";

const NAME_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 1000;

/// `/uuid/uuid` → `/dept_…/dept_…`.
fn render_path(raw: &str) -> Result<String> {
    let mut out = String::with_capacity(raw.len());
    for seg in raw.split('/').filter(|s| !s.is_empty()) {
        let u = uuid::Uuid::parse_str(seg).map_err(Error::internal)?;
        out.push('/');
        out.push_str(&DeptId(u).to_string());
    }
    Ok(out)
}

fn dept_of(row: &AnyRow) -> Result<Department> {
    Ok(Department {
        id: DeptId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        name: str_of(row, "name")?,
        description: opt_str_of(row, "description")?,
        parent_id: opt_uuid_of(row, "parent_id")?.map(DeptId),
        path: render_path(&str_of(row, "path")?)?,
        depth: i32::try_from(i64_of(row, "depth")?).map_err(Error::internal)?,
        member_count: i64_of(row, "member_count")?,
        color: opt_str_of(row, "color")?,
        created_by: opt_uuid_of(row, "created_by")?.map(UserId),
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

async fn fetch_dept(conn: &mut AnyConnection, org: OrgId, dept: DeptId) -> Result<Department> {
    let row = sqlx::query(&format!("{DEPT_SELECT} WHERE d.id = $1 AND d.org_id = $2"))
        .bind(id(dept))
        .bind(id(org))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    match row {
        Some(r) => dept_of(&r),
        None => Err(Error::DeptNotFound(dept)),
    }
}

/// The stored path and depth of a department of `org`.
async fn locate(conn: &mut AnyConnection, org: OrgId, dept: DeptId) -> Result<(String, i64)> {
    let row = sqlx::query("SELECT path, depth FROM departments WHERE id = $1 AND org_id = $2")
        .bind(id(dept))
        .bind(id(org))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(Error::DeptNotFound(dept))?;
    Ok((str_of(&row, "path")?, i64_of(&row, "depth")?))
}

/// The roles that reach a member of the departments at the end of the
/// stored `paths` through the tree: every assignment whose principal is one
/// of those departments or one of their ancestors (the paths' segments), as
/// (role, scope), in one query.
async fn roles_bound_along(
    conn: &mut AnyConnection,
    org: OrgId,
    paths: &[&str],
) -> Result<BTreeSet<(RoleId, Scope)>> {
    let depts = paths
        .iter()
        .flat_map(|path| path.split('/'))
        .filter(|s| !s.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|seg| uuid::Uuid::parse_str(seg).map(|u| id(DeptId(u))))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::internal)?;
    if depts.is_empty() {
        return Ok(BTreeSet::new());
    }
    let placeholders: Vec<String> = (2..depts.len() + 2).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT role_id, scope_type, scope_id FROM role_assignments \
         WHERE org_id = $1 AND principal_type = 'department' AND principal_id IN ({})",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(id(org));
    for d in &depts {
        q = q.bind(d);
    }
    q.fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            let scope =
                crate::load::scope_from(&str_of(r, "scope_type")?, || uuid_of(r, "scope_id"))?;
            Ok((RoleId(uuid_of(r, "role_id")?), scope))
        })
        .collect()
}

/// The stored paths of the departments `user` sits in, whether or not their
/// membership of the organization is live (a soft-deleted one keeps its rows).
async fn member_paths(conn: &mut AnyConnection, org: OrgId, user: UserId) -> Result<Vec<String>> {
    sqlx::query(
        "SELECT d.path FROM department_members dm JOIN departments d ON d.id = dm.dept_id AND d.org_id = dm.org_id \
         WHERE dm.org_id = $1 AND dm.user_id = $2",
    )
    .bind(id(org))
    .bind(id(user))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| str_of(r, "path"))
    .collect()
}

/// The roles `user` holds through the departments they sit in (bound to
/// those departments or to their ancestors), whether or not their membership
/// of the organization is live: what reviving a soft-deleted membership
/// hands back through the tree (see `Store::may_revive_roles`).
pub(crate) async fn department_roles_of(
    conn: &mut AnyConnection,
    org: OrgId,
    user: UserId,
) -> Result<BTreeSet<RoleId>> {
    let paths = member_paths(conn, org, user).await?;
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    Ok(roles_bound_along(conn, org, &paths)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .collect())
}

/// Where a new department goes. Creating a top-level department takes
/// `manage_departments`; creating under a parent also accepts
/// `create_subdepartments`.
#[derive(Debug)]
pub enum Placement<'a> {
    TopLevel(&'a OrgAccess<need::ManageDepartments>),
    Under(&'a OrgAccess<need::CreateSubdepartment>, DeptId),
}

/// Fields of a new department.
#[derive(Debug, Clone, Default)]
pub struct NewDept {
    pub name: String,
    pub description: Option<String>,
}

/// A partial update. `description: Some(None)` clears it; `None` leaves it.
#[derive(Debug, Clone, Default)]
pub struct DeptPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
}

/// A role bound to a department, with the role's name.
#[derive(Debug, Clone)]
pub struct DeptRole {
    pub assignment: Assignment,
    pub role_name: String,
}

impl Store {
    /// Anti-escalation for the department tree: `bound` are roles that a
    /// write hands to members (`giving`) or takes away from them, through
    /// the departments they sit in. The caller must be one who may change
    /// the holders of each ([`Store::may_change_holders_of`]: Owner only by
    /// Owners, nothing stronger than their own).
    async fn may_change_bound_holders(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: OrgId,
        bound: &BTreeSet<(RoleId, Scope)>,
        giving: bool,
    ) -> Result<()> {
        let roles = bound.iter().map(|(r, _)| *r).collect();
        self.may_change_holders_of(tx, actor, org, &roles, giving)
            .await
    }

    /// Every department of the organization, flat, in tree pre-order
    /// (siblings by creation, since ids are time-ordered).
    pub async fn list_departments(
        &self,
        access: &OrgAccess<need::AnyMember>,
    ) -> Result<Vec<Department>> {
        let rows = sqlx::query(&format!(
            "{DEPT_SELECT} WHERE d.org_id = $1 ORDER BY d.path"
        ))
        .bind(id(access.org()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(dept_of).collect()
    }

    /// The given departments and all their descendants, in tree pre-order.
    /// An unknown root is not found.
    pub async fn department_subtrees(
        &self,
        access: &OrgAccess<need::AnyMember>,
        roots: &[DeptId],
    ) -> Result<Vec<Department>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let mut prefixes = Vec::new();
        for r in roots {
            prefixes.push(locate(&mut conn, org, *r).await?.0);
        }
        let all = sqlx::query(&format!(
            "{DEPT_SELECT} WHERE d.org_id = $1 ORDER BY d.path"
        ))
        .bind(id(org))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut out = Vec::new();
        for row in &all {
            let path = str_of(row, "path")?;
            if prefixes
                .iter()
                .any(|p| path == *p || path.starts_with(&format!("{p}/")))
            {
                out.push(dept_of(row)?);
            }
        }
        Ok(out)
    }

    pub async fn get_department(
        &self,
        access: &OrgAccess<need::AnyMember>,
        dept: DeptId,
    ) -> Result<Department> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_dept(&mut conn, access.org(), dept).await
    }

    /// Creates a department (top level or under a parent of the same organization).
    pub async fn create_department(
        &self,
        ctx: &Ctx,
        place: Placement<'_>,
        input: NewDept,
    ) -> Result<Written<Department>> {
        let name = bounded("name", &input.name, 1, NAME_MAX)?;
        let description =
            bounded_opt("description", input.description.as_deref(), DESCRIPTION_MAX)?;
        let (org, actor, parent) = match place {
            Placement::TopLevel(a) => (a.org(), a.actor(), None),
            Placement::Under(a, p) => (a.org(), a.actor(), Some(p)),
        };
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let did = DeptId::new();
        let (path, depth) = match parent {
            None => (format!("/{}", did.uuid()), 0),
            Some(p) => {
                let (pp, pd) = locate(tx.conn(), org, p).await?;
                (format!("{pp}/{}", did.uuid()), pd + 1)
            }
        };
        let now = now_micros();
        sqlx::query(
            "INSERT INTO departments (id, org_id, name, name_key, description, parent_id, path, depth, color, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, $10)",
        )
        .bind(id(did))
        .bind(id(org))
        .bind(&name)
        .bind(name_key(&name))
        .bind(&description)
        .bind(parent.map(id))
        .bind(&path)
        .bind(depth)
        .bind(actor.user_id().map(id))
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::DeptNameTaken(name.clone())))?;
        let d = fetch_dept(tx.conn(), org, did).await?;
        tx.audit(
            Some(org),
            "department.created",
            "department",
            did,
            None,
            json(&d),
        );
        tx.commit(self, d).await
    }

    /// Renames and/or re-describes a department; never moves it.
    pub async fn update_department(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageDepartments>,
        dept: DeptId,
        patch: DeptPatch,
    ) -> Result<Written<Department>> {
        let org = access.org();
        let name = patch
            .name
            .as_deref()
            .map(|n| bounded("name", n, 1, NAME_MAX))
            .transpose()?;
        let description = match &patch.description {
            None => None,
            Some(d) => Some(bounded_opt("description", d.as_deref(), DESCRIPTION_MAX)?),
        };
        let mut tx = self.begin(ctx).await?;
        let before = fetch_dept(tx.conn(), org, dept).await?;
        let now = now_micros();
        if let Some(name) = &name {
            sqlx::query("UPDATE departments SET name = $1, name_key = $2, updated_at = $3 WHERE id = $4 AND org_id = $5")
                .bind(name)
                .bind(name_key(name))
                .bind(now)
                .bind(id(dept))
                .bind(id(org))
                .execute(tx.conn())
                .await
                .map_err(|e| conflict(e, || Error::DeptNameTaken(name.clone())))?;
        }
        if let Some(description) = &description {
            sqlx::query("UPDATE departments SET description = $1, updated_at = $2 WHERE id = $3 AND org_id = $4")
                .bind(description)
                .bind(now)
                .bind(id(dept))
                .bind(id(org))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
        }
        let after = fetch_dept(tx.conn(), org, dept).await?;
        tx.audit(
            Some(org),
            "department.updated",
            "department",
            dept,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Moves a department (with its subtree) under `new_parent`, or to the
    /// top level. Refuses moves under itself or a descendant; rewrites the
    /// path and depth of every department of the subtree. The subtree's
    /// members gain the roles bound above the new place and not above the
    /// old one, and lose the converse: the caller must be one who may hand
    /// out the former and take away the latter.
    pub async fn reparent_department(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ReparentDepartments>,
        dept: DeptId,
        new_parent: Option<DeptId>,
    ) -> Result<Written<Department>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = fetch_dept(tx.conn(), org, dept).await?;
        let (old_path, old_depth) = locate(tx.conn(), org, dept).await?;
        let (new_path, new_depth) = match new_parent {
            None => (format!("/{}", dept.uuid()), 0),
            Some(p) if p == dept => return Err(Error::DeptCycle { dept, parent: p }),
            Some(p) => {
                let (pp, pd) = locate(tx.conn(), org, p).await?;
                if pp.starts_with(&format!("{old_path}/")) {
                    return Err(Error::DeptCycle { dept, parent: p });
                }
                (format!("{pp}/{}", dept.uuid()), pd + 1)
            }
        };
        // Both chains include the department itself, so its own bindings
        // (held by the whole subtree either way) count as neither.
        let was = roles_bound_along(tx.conn(), org, &[old_path.as_str()]).await?;
        let will = roles_bound_along(tx.conn(), org, &[new_path.as_str()]).await?;
        let gained = will.difference(&was).copied().collect();
        let lost = was.difference(&will).copied().collect();
        self.may_change_bound_holders(&mut tx, access.actor(), org, &gained, true)
            .await?;
        self.may_change_bound_holders(&mut tx, access.actor(), org, &lost, false)
            .await?;
        let now = now_micros();
        sqlx::query("UPDATE departments SET parent_id = $1 WHERE id = $2 AND org_id = $3")
            .bind(new_parent.map(id))
            .bind(id(dept))
            .bind(id(org))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        // The subtree is the department itself plus every path below it; the
        // old prefix is swapped for the new one and depths shift alike.
        sqlx::query(
            "UPDATE departments SET path = $1 || SUBSTR(path, CAST($2 AS INTEGER)), depth = depth + CAST($3 AS INTEGER), updated_at = $4 \
             WHERE org_id = $5 AND (id = $6 OR path LIKE $7)",
        )
        .bind(&new_path)
        .bind(i64::try_from(old_path.len()).map_err(Error::internal)? + 1)
        .bind(new_depth - old_depth)
        .bind(now)
        .bind(id(org))
        .bind(id(dept))
        .bind(format!("{old_path}/%"))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let after = fetch_dept(tx.conn(), org, dept).await?;
        tx.audit(
            Some(org),
            "department.reparented",
            "department",
            dept,
            Some(serde_json::json!({"parent_id": before.parent_id, "path": before.path, "depth": before.depth})),
            Some(serde_json::json!({"parent_id": after.parent_id, "path": after.path, "depth": after.depth})),
        );
        tx.commit(self, after).await
    }

    /// Deletes a department that has no children and no live members, with
    /// the roles bound to it and the assignments scoped to it.
    pub async fn delete_department(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageDepartments>,
        dept: DeptId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = fetch_dept(tx.conn(), org, dept).await?;
        let child = sqlx::query("SELECT id FROM departments WHERE parent_id = $1 LIMIT 1")
            .bind(id(dept))
            .fetch_optional(tx.conn())
            .await
            .map_err(db_err)?;
        if child.is_some() {
            return Err(Error::DeptHasChildren(dept));
        }
        if before.member_count > 0 {
            return Err(Error::DeptHasMembers(dept));
        }
        // Rows left by members soft-deleted from the organization go too.
        for sql in [
            "DELETE FROM department_members WHERE dept_id = $1 AND org_id = $2",
            "DELETE FROM role_assignments WHERE org_id = $2 AND ((principal_type = 'department' AND principal_id = $1) \
             OR (scope_type = 'department' AND scope_id = $1))",
            "DELETE FROM departments WHERE id = $1 AND org_id = $2",
        ] {
            sqlx::query(sql)
                .bind(id(dept))
                .bind(id(org))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
        }
        tx.audit(
            Some(org),
            "department.deleted",
            "department",
            dept,
            json(&before),
            None,
        );
        tx.commit(self, ()).await
    }

    /// The department's direct, live members, in the order they were added.
    pub async fn list_department_members(
        &self,
        access: &OrgAccess<need::AnyMember>,
        dept: DeptId,
    ) -> Result<Vec<DepartmentMember>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        locate(&mut conn, org, dept).await?;
        let rows = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE dm.dept_id = $1 AND dm.org_id = $2 ORDER BY dm.added_at, u.id"
        ))
        .bind(id(dept))
        .bind(id(org))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(dept_member_of).collect()
    }

    /// Adds a live organization member to a department (once). The member
    /// gains every role bound to the department and to its ancestors, so the
    /// caller must be one who may hand out each of them.
    pub async fn add_department_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::DepartmentMembers>,
        dept: DeptId,
        user: UserId,
    ) -> Result<Written<DepartmentMember>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with department deletion, so no member lands in a department being deleted.
        let member = tx.lock_org_for_member(self.kind, org, user).await?;
        let (path, _) = locate(tx.conn(), org, dept).await?;
        member.require(org, user)?;
        let bound = roles_bound_along(tx.conn(), org, &[path.as_str()]).await?;
        self.may_change_bound_holders(&mut tx, access.actor(), org, &bound, true)
            .await?;
        sqlx::query("INSERT INTO department_members (dept_id, user_id, org_id, added_at) VALUES ($1, $2, $3, $4)")
            .bind(id(dept))
            .bind(id(user))
            .bind(id(org))
            .bind(now_micros())
            .execute(tx.conn())
            .await
            .map_err(|e| conflict(e, || Error::DeptMemberDuplicate { dept, user }))?;
        let m = fetch_dept_member(tx.conn(), org, dept, user).await?;
        tx.audit(
            Some(org),
            "department.member_added",
            "department",
            dept,
            None,
            Some(serde_json::json!({"user_id": user})),
        );
        tx.commit(self, m).await
    }

    /// Removes a user from a department; they stay a member of the
    /// organization. They lose the roles bound to the department and to its
    /// ancestors, so the caller must be one who may take each of them away.
    pub async fn remove_department_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::DepartmentMembers>,
        dept: DeptId,
        user: UserId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with role bindings and moves, so the roles checked below
        // are the roles taken away.
        tx.lock_org(self.kind, org).await?;
        let (path, _) = locate(tx.conn(), org, dept).await?;
        // A member soft-deleted from the organization is not listed, so is not removable either.
        let done = sqlx::query(
            "DELETE FROM department_members WHERE dept_id = $1 AND user_id = $2 AND org_id = $3 AND EXISTS \
             (SELECT 1 FROM memberships m WHERE m.org_id = $3 AND m.user_id = $2 AND m.deleted_at IS NULL)",
        )
        .bind(id(dept))
        .bind(id(user))
        .bind(id(org))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::DeptMemberNotFound { dept, user });
        }
        // A refusal drops the transaction, which rolls the removal back.
        let bound = roles_bound_along(tx.conn(), org, &[path.as_str()]).await?;
        self.may_change_bound_holders(&mut tx, access.actor(), org, &bound, false)
            .await?;
        tx.audit(
            Some(org),
            "department.member_removed",
            "department",
            dept,
            Some(serde_json::json!({"user_id": user})),
            None,
        );
        tx.commit(self, ()).await
    }

    /// The roles bound to a department, oldest first.
    pub async fn list_department_roles(
        &self,
        access: &OrgAccess<need::AnyMember>,
        dept: DeptId,
    ) -> Result<Vec<DeptRole>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        locate(&mut conn, org, dept).await?;
        let rows = sqlx::query(
            "SELECT a.id, a.org_id, a.role_id, a.principal_type, a.principal_id, a.scope_type, a.scope_id, a.is_primary, \
             a.created_at, r.name AS role_name FROM role_assignments a LEFT JOIN roles r ON r.id = a.role_id \
             WHERE a.org_id = $1 AND a.principal_type = 'department' AND a.principal_id = $2 ORDER BY a.created_at, a.id",
        )
        .bind(id(org))
        .bind(id(dept))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let assignment = crate::load::assignment_of(r)?;
                let role_name = match assignment.role_id.system() {
                    Some(sys) => sys.name().to_owned(),
                    None => opt_str_of(r, "role_name")?.unwrap_or_default(),
                };
                Ok(DeptRole {
                    assignment,
                    role_name,
                })
            })
            .collect()
    }

    /// Binds an organization role to a department: its members, and the
    /// members of every descendant department, hold the role.
    pub async fn bind_department_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::AssignRoles>,
        dept: DeptId,
        role: RoleId,
    ) -> Result<Written<Assignment>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with role and department deletion.
        tx.lock_org(self.kind, org).await?;
        locate(tx.conn(), org, dept).await?;
        // Ownership stays a per-user matter (the last-owner rule counts
        // users), so Owner is never bound to a department.
        if role == SystemRole::Owner.id() {
            return Err(Error::validation(
                "role_id",
                "the Owner role is held by users only and cannot be bound to a department",
            ));
        }
        let r =
            crate::roles::rule_role_for_scope(tx.conn(), org, role, Scope::Organization).await?;
        // Every member of the department gains the role: the caller must hold all it allows.
        self.may_change_holders(access.actor(), org, &r, true)?;
        let a = crate::roles::insert_assignment(
            &mut tx,
            org,
            role,
            Principal::Department(dept),
            Scope::Organization,
            false,
        )
        .await?;
        tx.index_delta(org, IndexDelta::AddAssignment(a.clone()));
        tx.audit(
            Some(org),
            "department.role_bound",
            "role_assignment",
            a.id,
            None,
            json(&a),
        );
        tx.commit(self, a).await
    }

    /// Unbinds a role from a department, under the rule of binding it: the
    /// department's members lose the role, so the caller must be one who may
    /// take it away (the same rule as role assignments).
    pub async fn unbind_department_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::AssignRoles>,
        dept: DeptId,
        role: RoleId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with role changes, as binding does.
        tx.lock_org(self.kind, org).await?;
        locate(tx.conn(), org, dept).await?;
        let row = sqlx::query(
            "SELECT id FROM role_assignments WHERE org_id = $1 AND role_id = $2 AND principal_type = 'department' \
             AND principal_id = $3 AND scope_type = 'organization'",
        )
        .bind(id(org))
        .bind(id(role))
        .bind(id(dept))
        .fetch_optional(tx.conn())
        .await
        .map_err(db_err)?
        .ok_or(Error::DeptRoleNotFound { dept, role })?;
        let aid = AssignmentId(uuid_of(&row, "id")?);
        let r =
            crate::roles::rule_role_for_scope(tx.conn(), org, role, Scope::Organization).await?;
        self.may_change_holders(access.actor(), org, &r, false)?;
        sqlx::query("DELETE FROM role_assignments WHERE id = $1")
            .bind(id(aid))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        tx.index_delta(org, IndexDelta::RemoveAssignment(aid));
        tx.audit(
            Some(org),
            "department.role_unbound",
            "role_assignment",
            aid,
            Some(serde_json::json!({"department_id": dept, "role_id": role})),
            None,
        );
        tx.commit(self, ()).await
    }
}

const MEMBER_SELECT: &str =
    "SELECT u.id, u.email, u.full_name, u.username, u.created_at, u.updated_at, dm.added_at \
    FROM department_members dm JOIN users u ON u.id = dm.user_id \
    JOIN memberships m ON m.org_id = dm.org_id AND m.user_id = dm.user_id AND m.deleted_at IS NULL";

fn dept_member_of(row: &AnyRow) -> Result<DepartmentMember> {
    Ok(DepartmentMember {
        user: User {
            id: UserId(uuid_of(row, "id")?),
            email: str_of(row, "email")?,
            full_name: opt_str_of(row, "full_name")?,
            username: opt_str_of(row, "username")?,
            created_at: ts_of(row, "created_at")?,
            updated_at: ts_of(row, "updated_at")?,
        },
        added_at: ts_of(row, "added_at")?,
    })
}

async fn fetch_dept_member(
    conn: &mut AnyConnection,
    org: OrgId,
    dept: DeptId,
    user: UserId,
) -> Result<DepartmentMember> {
    let row = sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE dm.dept_id = $1 AND dm.user_id = $2 AND dm.org_id = $3"
    ))
    .bind(id(dept))
    .bind(id(user))
    .bind(id(org))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::DeptMemberNotFound { dept, user })?;
    dept_member_of(&row)
}
