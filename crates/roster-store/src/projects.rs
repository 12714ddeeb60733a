//! Projects: units of work inside an organization, with members (each holding
//! a project role through a project-scope role assignment) and groups attached
//! with a project role the same way. Archived projects refuse writes.

use crate::db::{conflict, db_err, now_micros, Tx};
use crate::orgs::json;
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::text::{bounded, bounded_opt};
use roster_core::*;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// One page of a cursor-paginated list, in id order.
#[derive(Debug, Clone)]
pub struct Chunk<T> {
    pub items: Vec<T>,
    /// More items follow the last one.
    pub has_more: bool,
}

impl<T> Chunk<T> {
    /// Splits `limit + 1` fetched rows into a page and the has-more flag.
    pub(crate) fn of(mut items: Vec<T>, limit: i64) -> Self {
        let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
        let has_more = items.len() > limit;
        items.truncate(limit);
        Chunk { items, has_more }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub name: String,
    pub external_key_id: Option<String>,
    pub residency: Option<String>,
    pub is_default: bool,
    pub archived_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Project {
    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub name: String,
    pub external_key_id: Option<String>,
    pub residency: Option<String>,
    pub is_default: bool,
}

/// A partial update: `None` leaves a field unchanged; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub external_key_id: Option<Option<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectQuery {
    /// Start after this project (id order).
    pub after: Option<ProjectId>,
    pub limit: i64,
    pub include_archived: bool,
    /// Only projects whose name is exactly this.
    pub name: Option<String>,
}

/// A live organization member in a project, with their project role.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectMember {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role_id: RoleId,
    pub role_name: String,
    pub added_at: Timestamp,
}

/// A group attached to a project, with the project role it holds there.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectGroup {
    pub project_id: ProjectId,
    pub group_id: GroupId,
    pub group_name: String,
    pub role_id: RoleId,
    pub role_name: String,
    pub created_at: Timestamp,
}

const PROJECT_COLS: &str =
    "id, org_id, name, external_key_id, residency, is_default, archived_at, created_at, updated_at";

fn project_of(row: &AnyRow) -> Result<Project> {
    Ok(Project {
        id: ProjectId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        name: str_of(row, "name")?,
        external_key_id: opt_str_of(row, "external_key_id")?,
        residency: opt_str_of(row, "residency")?,
        is_default: bool_of(row, "is_default")?,
        archived_at: opt_ts_of(row, "archived_at")?,
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

pub(crate) async fn fetch_project(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
) -> Result<Project> {
    let row = sqlx::query(&format!(
        "SELECT {PROJECT_COLS} FROM projects WHERE id = $1 AND org_id = $2"
    ))
    .bind(id(project))
    .bind(id(org))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::ProjectNotFound(project))?;
    project_of(&row)
}

/// The project, refusing an archived one: archived projects take no writes.
pub(crate) async fn writable_project(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
) -> Result<Project> {
    let p = fetch_project(conn, org, project).await?;
    if p.is_archived() {
        return Err(Error::ProjectArchived(project));
    }
    Ok(p)
}

/// Joins project members with their live membership, user and role.
const MEMBER_SELECT: &str = "SELECT pm.project_id, pm.user_id, pm.added_at, u.email, u.full_name, a.role_id, r.name AS role_name \
    FROM project_members pm \
    JOIN memberships m ON m.org_id = pm.org_id AND m.user_id = pm.user_id AND m.deleted_at IS NULL \
    JOIN users u ON u.id = pm.user_id \
    JOIN role_assignments a ON a.id = pm.assignment_id \
    LEFT JOIN roles r ON r.id = a.role_id";

fn role_name(role: RoleId, custom: Option<String>) -> String {
    match role.system() {
        Some(sys) => sys.name().to_owned(),
        None => custom.unwrap_or_default(),
    }
}

fn project_member_of(row: &AnyRow) -> Result<ProjectMember> {
    let role_id = RoleId(uuid_of(row, "role_id")?);
    Ok(ProjectMember {
        project_id: ProjectId(uuid_of(row, "project_id")?),
        user_id: UserId(uuid_of(row, "user_id")?),
        email: str_of(row, "email")?,
        name: opt_str_of(row, "full_name")?,
        role_id,
        role_name: role_name(role_id, opt_str_of(row, "role_name")?),
        added_at: ts_of(row, "added_at")?,
    })
}

async fn fetch_project_member(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
    user: UserId,
) -> Result<ProjectMember> {
    let row = sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE pm.project_id = $1 AND pm.user_id = $2 AND pm.org_id = $3"
    ))
    .bind(id(project))
    .bind(id(user))
    .bind(id(org))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::ProjectMemberNotFound { project, user })?;
    project_member_of(&row)
}

/// True when the live member `user` is in the project.
pub(crate) async fn in_project(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
    user: UserId,
) -> Result<bool> {
    match fetch_project_member(conn, org, project, user).await {
        Ok(_) => Ok(true),
        Err(Error::ProjectMemberNotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

const GROUP_SELECT: &str = "SELECT pg.project_id, pg.group_id, pg.created_at, g.name AS group_name, a.role_id, r.name AS role_name \
    FROM project_groups pg JOIN org_groups g ON g.id = pg.group_id \
    JOIN role_assignments a ON a.id = pg.assignment_id LEFT JOIN roles r ON r.id = a.role_id";

fn project_group_of(row: &AnyRow) -> Result<ProjectGroup> {
    let role_id = RoleId(uuid_of(row, "role_id")?);
    Ok(ProjectGroup {
        project_id: ProjectId(uuid_of(row, "project_id")?),
        group_id: GroupId(uuid_of(row, "group_id")?),
        group_name: str_of(row, "group_name")?,
        role_id,
        role_name: role_name(role_id, opt_str_of(row, "role_name")?),
        created_at: ts_of(row, "created_at")?,
    })
}

pub(crate) async fn fetch_project_group(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
    group: GroupId,
) -> Result<ProjectGroup> {
    let row = sqlx::query(&format!(
        "{GROUP_SELECT} WHERE pg.project_id = $1 AND pg.group_id = $2 AND pg.org_id = $3"
    ))
    .bind(id(project))
    .bind(id(group))
    .bind(id(org))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::ProjectGroupNotFound { project, group })?;
    project_group_of(&row)
}

/// The roles `principal` holds at the project's scope: what removing it from
/// the project takes away.
async fn project_assignment_roles(
    tx: &mut Tx,
    org: OrgId,
    project: ProjectId,
    principal: Principal,
) -> Result<std::collections::BTreeSet<RoleId>> {
    let (principal_type, principal) = crate::load::principal_cols(principal);
    let q = sqlx::query(
        "SELECT DISTINCT role_id FROM role_assignments WHERE org_id = $1 AND scope_type = 'project' \
         AND scope_id = $2 AND principal_type = $3 AND principal_id = $4",
    )
    .bind(id(org))
    .bind(id(project))
    .bind(principal_type)
    .bind(principal);
    crate::roles::role_ids(tx.conn(), q).await
}

/// Deletes the assignment rows of a principal at a project's scope.
async fn drop_project_assignments(
    tx: &mut Tx,
    org: OrgId,
    project: ProjectId,
    principal: Principal,
) -> Result<()> {
    let (principal_type, principal) = crate::load::principal_cols(principal);
    sqlx::query(
        "DELETE FROM role_assignments WHERE org_id = $1 AND scope_type = 'project' AND scope_id = $2 \
         AND principal_type = $3 AND principal_id = $4",
    )
    .bind(id(org))
    .bind(id(project))
    .bind(principal_type)
    .bind(principal)
    .execute(tx.conn())
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Points a membership's role assignment at another role.
async fn set_membership_role(tx: &mut Tx, assignment: &str, role: RoleId) -> Result<()> {
    sqlx::query("UPDATE role_assignments SET role_id = $1 WHERE id = $2")
        .bind(id(role))
        .bind(assignment)
        .execute(tx.conn())
        .await
        .map_err(|e| {
            conflict(e, || {
                Error::validation(
                    "role",
                    "the principal already holds this role in the project as a separate assignment",
                )
            })
        })?;
    Ok(())
}

/// A new project's fields after the rules every create applies.
fn checked_project(input: NewProject) -> Result<NewProject> {
    Ok(NewProject {
        name: bounded("name", &input.name, 1, 3000)?,
        external_key_id: bounded_opt("external_key_id", input.external_key_id.as_deref(), 200)?,
        residency: bounded_opt("residency", input.residency.as_deref(), 100)?,
        ..input
    })
}

/// Writes a checked project inside `tx`: the one way projects are created.
async fn insert_project(tx: &mut Tx, org: OrgId, input: NewProject) -> Result<Project> {
    let pid = ProjectId::new();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO projects (id, org_id, name, external_key_id, residency, is_default, archived_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $7)",
    )
    .bind(id(pid))
    .bind(id(org))
    .bind(input.name)
    .bind(input.external_key_id)
    .bind(input.residency)
    .bind(input.is_default)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(db_err)?;
    let p = fetch_project(tx.conn(), org, pid).await?;
    tx.audit(Some(org), "project.created", "project", pid, None, json(&p));
    Ok(p)
}

impl Store {
    /// The organization's projects in id (creation) order, archived ones only when asked.
    pub async fn list_projects(
        &self,
        access: &OrgAccess<need::AnyMember>,
        q: &ProjectQuery,
    ) -> Result<Chunk<Project>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let mut sql = format!("SELECT {PROJECT_COLS} FROM projects WHERE org_id = $1");
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        if q.after.is_some() {
            sql += &format!(" AND id > ${}", next());
        }
        if q.name.is_some() {
            sql += &format!(" AND name = ${}", next());
        }
        if !q.include_archived {
            sql += " AND archived_at IS NULL";
        }
        sql += &format!(" ORDER BY id LIMIT ${}", next());
        let mut query = sqlx::query(&sql).bind(id(access.org()));
        if let Some(a) = q.after {
            query = query.bind(id(a));
        }
        if let Some(name) = &q.name {
            query = query.bind(name.clone());
        }
        let rows = query
            .bind(q.limit + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let items = rows.iter().map(project_of).collect::<Result<Vec<_>>>()?;
        Ok(Chunk::of(items, q.limit))
    }

    /// The live organization a project belongs to, for routing a request that
    /// names only the project. It grants nothing: the caller must still be
    /// authorized in that organization (and should learn nothing otherwise).
    pub async fn project_home(&self, project: ProjectId) -> Result<Option<OrgId>> {
        let row = sqlx::query(
            "SELECT p.org_id FROM projects p JOIN organizations o ON o.id = p.org_id \
             WHERE p.id = $1 AND o.deleted_at IS NULL",
        )
        .bind(id(project))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| uuid_of(&r, "org_id").map(OrgId)).transpose()
    }

    pub async fn get_project(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
    ) -> Result<Project> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, access.org(), project).await
    }

    pub async fn create_project(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        input: NewProject,
    ) -> Result<Written<Project>> {
        let input = checked_project(input)?;
        let mut tx = self.begin(ctx).await?;
        let p = insert_project(&mut tx, access.org(), input).await?;
        tx.commit(self, p).await
    }

    /// The organization's live project named exactly `name` (trimmed, as
    /// names are stored; the oldest if several), else a new project of that
    /// name made as [`Store::create_project`] makes it. One transaction under
    /// the organization's lock: concurrent upserts of one name create one
    /// project. Finding it writes nothing.
    pub async fn upsert_project(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        name: &str,
    ) -> Result<Written<Project>> {
        let org = access.org();
        let input = checked_project(NewProject {
            name: name.to_owned(),
            ..NewProject::default()
        })?;
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let found = sqlx::query(&format!(
            "SELECT {PROJECT_COLS} FROM projects WHERE org_id = $1 AND name = $2 AND archived_at IS NULL ORDER BY id LIMIT 1"
        ))
        .bind(id(org))
        .bind(&input.name)
        .fetch_optional(tx.conn())
        .await
        .map_err(db_err)?;
        if let Some(row) = found {
            return tx.finish_read(self, project_of(&row)?).await;
        }
        let p = insert_project(&mut tx, org, input).await?;
        tx.commit(self, p).await
    }

    /// Renames a live project or changes its external key; archived projects refuse.
    pub async fn update_project(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        patch: ProjectPatch,
    ) -> Result<Written<Project>> {
        let org = access.org();
        let name = patch
            .name
            .as_deref()
            .map(|n| bounded("name", n, 1, 3000))
            .transpose()?;
        let mut tx = self.begin(ctx).await?;
        let before = writable_project(tx.conn(), org, project).await?;
        let external = match patch.external_key_id {
            None => before.external_key_id.clone(),
            Some(v) => bounded_opt("external_key_id", v.as_deref(), 200)?,
        };
        sqlx::query(
            "UPDATE projects SET name = $1, external_key_id = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(name.unwrap_or_else(|| before.name.clone()))
        .bind(external)
        .bind(now_micros())
        .bind(id(project))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let after = fetch_project(tx.conn(), org, project).await?;
        tx.audit(
            Some(org),
            "project.updated",
            "project",
            project,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Archives a project (idempotent: archiving an archived project changes nothing).
    pub async fn archive_project(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
    ) -> Result<Written<Project>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        let before = fetch_project(tx.conn(), org, project).await?;
        if !before.is_archived() {
            let now = now_micros();
            sqlx::query("UPDATE projects SET archived_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id(project))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
        }
        let after = fetch_project(tx.conn(), org, project).await?;
        tx.audit(
            Some(org),
            "project.archived",
            "project",
            project,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Deletes a project with its memberships, attached groups, the roles made
    /// for it and every assignment at its scope.
    pub async fn delete_project(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = fetch_project(tx.conn(), org, project).await?;
        for sql in [
            "DELETE FROM project_members WHERE project_id = $1 AND org_id = $2",
            "DELETE FROM project_groups WHERE project_id = $1 AND org_id = $2",
            "DELETE FROM role_assignments WHERE org_id = $2 AND scope_type = 'project' AND scope_id = $1",
            "DELETE FROM role_assignments WHERE org_id = $2 AND role_id IN (SELECT id FROM roles WHERE project_id = $1)",
            "DELETE FROM role_grants WHERE role_id IN (SELECT id FROM roles WHERE project_id = $1 AND org_id = $2)",
            "DELETE FROM roles WHERE project_id = $1 AND org_id = $2",
            "DELETE FROM projects WHERE id = $1 AND org_id = $2",
        ] {
            sqlx::query(sql)
                .bind(id(project))
                .bind(id(org))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
        }
        tx.audit(
            Some(org),
            "project.deleted",
            "project",
            project,
            json(&before),
            None,
        );
        tx.commit(self, ()).await
    }

    /// The project's live members in user-id order.
    pub async fn list_project_members(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Chunk<ProjectMember>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, org, project).await?;
        let rows = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE pm.project_id = $1 AND pm.org_id = $2 AND pm.user_id > $3 ORDER BY pm.user_id LIMIT $4"
        ))
        .bind(id(project))
        .bind(id(org))
        .bind(after.map(id).unwrap_or_default())
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let items = rows
            .iter()
            .map(project_member_of)
            .collect::<Result<Vec<_>>>()?;
        Ok(Chunk::of(items, limit))
    }

    pub async fn get_project_member(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        user: UserId,
    ) -> Result<ProjectMember> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, org, project).await?;
        fetch_project_member(&mut conn, org, project, user).await
    }

    /// Adds a live (Active or Pending) organization member to a live project
    /// with a project role. Once per user and project.
    pub async fn add_project_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        user: UserId,
        role: RoleId,
    ) -> Result<Written<ProjectMember>> {
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, access.org()).await?;
        let m = self
            .add_project_member_in(&mut tx, access.actor(), access.org(), project, user, role)
            .await?;
        tx.commit(self, m).await
    }

    /// [`Store::add_project_member`] inside the caller's transaction (the
    /// organization locked), for batches that must be written all or none.
    pub(crate) async fn add_project_member_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: OrgId,
        project: ProjectId,
        user: UserId,
        role: RoleId,
    ) -> Result<ProjectMember> {
        writable_project(tx.conn(), org, project).await?;
        let r = crate::roles::fetch_role_for_scope(tx.conn(), org, role, Scope::Project(project))
            .await?;
        self.may_change_holders(actor, org, &r, true)?;
        crate::members::require_member(tx, org, user).await?;
        if in_project(tx.conn(), org, project, user).await? {
            return Err(Error::ProjectMemberDuplicate { project, user });
        }
        insert_project_member(tx, org, project, user, role).await
    }

    /// Changes a project member's project role.
    pub async fn set_project_member_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        user: UserId,
        role: RoleId,
    ) -> Result<Written<ProjectMember>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        writable_project(tx.conn(), org, project).await?;
        let before = fetch_project_member(tx.conn(), org, project, user).await?;
        if before.role_id != role {
            let new =
                crate::roles::fetch_role_for_scope(tx.conn(), org, role, Scope::Project(project))
                    .await?;
            let old = crate::roles::fetch_role_for_scope(
                tx.conn(),
                org,
                before.role_id,
                Scope::Project(project),
            )
            .await?;
            self.may_change_holders(access.actor(), org, &old, false)?;
            self.may_change_holders(access.actor(), org, &new, true)?;
            let assignment = membership_assignment(&mut tx, project, user).await?;
            set_membership_role(&mut tx, &assignment, role).await?;
        }
        let after = fetch_project_member(tx.conn(), org, project, user).await?;
        tx.audit(
            Some(org),
            "project.member_updated",
            "project",
            project,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Removes a user from a live project with every role they held at its
    /// scope. Only by a caller who may take each of those roles away
    /// ([`Store::may_change_holders`]; the Owner role only by Owners):
    /// otherwise `Escalation` / `OwnerOnly`, and nothing is written.
    pub async fn remove_project_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        user: UserId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        writable_project(tx.conn(), org, project).await?;
        let before = fetch_project_member(tx.conn(), org, project, user).await?;
        // The organization is locked, so these are the roles taken away.
        let roles = project_assignment_roles(&mut tx, org, project, Principal::User(user)).await?;
        self.may_change_holders_of(&mut tx, access.actor(), org, &roles, false)
            .await?;
        sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
            .bind(id(project))
            .bind(id(user))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        drop_project_assignments(&mut tx, org, project, Principal::User(user)).await?;
        tx.audit(
            Some(org),
            "project.member_removed",
            "project",
            project,
            json(&before),
            None,
        );
        tx.commit(self, ()).await
    }

    /// The projects a live member belongs to, with their membership, in
    /// project-id order. A user who is not a live member of the organization
    /// is `MemberNotFound`.
    pub async fn user_projects(
        &self,
        access: &OrgAccess<need::AnyMember>,
        user: UserId,
    ) -> Result<Vec<(Project, ProjectMember)>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        crate::members::fetch_member(&mut conn, org, crate::members::MemberRef::User(user), false)
            .await?;
        let rows = sqlx::query(&format!(
            "{MEMBER_SELECT} WHERE pm.org_id = $1 AND pm.user_id = $2 ORDER BY pm.project_id"
        ))
        .bind(id(org))
        .bind(id(user))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let m = project_member_of(r)?;
            let p = fetch_project(&mut conn, org, m.project_id).await?;
            out.push((p, m));
        }
        Ok(out)
    }

    /// Groups attached to a project, in group-id order (`desc` reverses it).
    pub async fn list_project_groups(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        after: Option<GroupId>,
        limit: i64,
        desc: bool,
    ) -> Result<Chunk<ProjectGroup>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, org, project).await?;
        let (cmp, order) = crate::groups::direction(desc);
        let cursor = if after.is_some() {
            format!(" AND pg.group_id {cmp} $3")
        } else {
            String::new()
        };
        let sql = format!(
            "{GROUP_SELECT} WHERE pg.project_id = $1 AND pg.org_id = $2{cursor} ORDER BY pg.group_id {order} LIMIT ${}",
            if after.is_some() { 4 } else { 3 }
        );
        let mut q = sqlx::query(&sql).bind(id(project)).bind(id(org));
        if let Some(a) = after {
            q = q.bind(id(a));
        }
        let rows = q
            .bind(limit + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let items = rows
            .iter()
            .map(project_group_of)
            .collect::<Result<Vec<_>>>()?;
        Ok(Chunk::of(items, limit))
    }

    pub async fn get_project_group(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        group: GroupId,
    ) -> Result<ProjectGroup> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_project(&mut conn, org, project).await?;
        fetch_project_group(&mut conn, org, project, group).await
    }

    /// Attaches a group to a live project with a project role (once).
    pub async fn add_project_group(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        group: GroupId,
        role: RoleId,
    ) -> Result<Written<ProjectGroup>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        writable_project(tx.conn(), org, project).await?;
        crate::groups::fetch_group(tx.conn(), org, group).await?;
        let r = crate::roles::fetch_role_for_scope(tx.conn(), org, role, Scope::Project(project))
            .await?;
        self.may_change_holders(access.actor(), org, &r, true)?;
        match fetch_project_group(tx.conn(), org, project, group).await {
            Ok(_) => return Err(Error::ProjectGroupDuplicate { project, group }),
            Err(Error::ProjectGroupNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        drop_project_assignments(&mut tx, org, project, Principal::Group(group)).await?;
        let a = crate::roles::insert_assignment(
            &mut tx,
            org,
            role,
            Principal::Group(group),
            Scope::Project(project),
            false,
        )
        .await?;
        sqlx::query(
            "INSERT INTO project_groups (project_id, group_id, org_id, assignment_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id(project))
        .bind(id(group))
        .bind(id(org))
        .bind(id(a.id))
        .bind(now_micros())
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::ProjectGroupDuplicate { project, group }))?;
        let pg = fetch_project_group(tx.conn(), org, project, group).await?;
        tx.audit(
            Some(org),
            "project.group_added",
            "project",
            project,
            None,
            json(&pg),
        );
        tx.commit(self, pg).await
    }

    /// Detaches a group from a live project with every role it held at its
    /// scope, which its members held through it. Only by a caller who may
    /// take each of those roles away ([`Store::may_change_holders`]; the
    /// Owner role only by Owners): otherwise `Escalation` / `OwnerOnly`, and
    /// nothing is written. A group with no members takes nothing from anyone,
    /// so detaching it is not checked (as deleting it, see
    /// [`Store::delete_group`]).
    pub async fn remove_project_group(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageProjects>,
        project: ProjectId,
        group: GroupId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        writable_project(tx.conn(), org, project).await?;
        let before = fetch_project_group(tx.conn(), org, project, group).await?;
        // The organization is locked, so these are the roles taken away.
        if crate::groups::has_members(tx.conn(), org, group).await? {
            let roles =
                project_assignment_roles(&mut tx, org, project, Principal::Group(group)).await?;
            self.may_change_holders_of(&mut tx, access.actor(), org, &roles, false)
                .await?;
        }
        sqlx::query("DELETE FROM project_groups WHERE project_id = $1 AND group_id = $2")
            .bind(id(project))
            .bind(id(group))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        drop_project_assignments(&mut tx, org, project, Principal::Group(group)).await?;
        tx.audit(
            Some(org),
            "project.group_removed",
            "project",
            project,
            json(&before),
            None,
        );
        tx.commit(self, ()).await
    }
}

/// Writes a project membership (with its role assignment) for a user who is
/// not in the project, replacing rows a soft-deleted membership left, and
/// audits it. The caller has checked the project, the role and the user.
pub(crate) async fn insert_project_member(
    tx: &mut Tx,
    org: OrgId,
    project: ProjectId,
    user: UserId,
    role: RoleId,
) -> Result<ProjectMember> {
    // Rows left by a soft-deleted membership are replaced.
    sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(id(project))
        .bind(id(user))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
    drop_project_assignments(tx, org, project, Principal::User(user)).await?;
    let a = crate::roles::insert_assignment(
        tx,
        org,
        role,
        Principal::User(user),
        Scope::Project(project),
        false,
    )
    .await?;
    sqlx::query(
        "INSERT INTO project_members (project_id, user_id, org_id, assignment_id, added_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id(project))
    .bind(id(user))
    .bind(id(org))
    .bind(id(a.id))
    .bind(now_micros())
    .execute(tx.conn())
    .await
    .map_err(|e| conflict(e, || Error::ProjectMemberDuplicate { project, user }))?;
    let m = fetch_project_member(tx.conn(), org, project, user).await?;
    tx.audit(
        Some(org),
        "project.member_added",
        "project",
        project,
        None,
        json(&m),
    );
    Ok(m)
}

async fn membership_assignment(tx: &mut Tx, project: ProjectId, user: UserId) -> Result<String> {
    let row = sqlx::query(
        "SELECT assignment_id FROM project_members WHERE project_id = $1 AND user_id = $2",
    )
    .bind(id(project))
    .bind(id(user))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?
    .ok_or(Error::ProjectMemberNotFound { project, user })?;
    str_of(&row, "assignment_id")
}

/// True when the assignment row is a project membership's or attached group's role.
pub(crate) async fn is_membership_assignment(
    tx: &mut Tx,
    assignment: AssignmentId,
) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM project_members WHERE assignment_id = $1 \
         UNION ALL SELECT 1 AS one FROM project_groups WHERE assignment_id = $1",
    )
    .bind(id(assignment))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?;
    Ok(row.is_some())
}
