//! Roles and role assignments.

use crate::db::{conflict, db_err, now_micros, Tx};
use crate::load::{principal_cols, scope_cols};
use crate::orgs::json;
use crate::rows::*;
use crate::{Ctx, Page, Store, Written};
use roster_core::access::need;
use roster_core::index::IndexDelta;
use roster_core::text::{bounded, bounded_opt, name_key};
use roster_core::*;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashMap};

/// Inserts one assignment; a duplicate (role, principal, scope) is a conflict.
pub(crate) async fn insert_assignment(
    tx: &mut Tx,
    org: OrgId,
    role: RoleId,
    principal: Principal,
    scope: Scope,
    primary: bool,
) -> Result<Assignment> {
    let aid = AssignmentId::new();
    let now = now_micros();
    let (ptype, pid) = principal_cols(principal);
    let (stype, sid) = scope_cols(scope);
    sqlx::query(
        "INSERT INTO role_assignments (id, org_id, role_id, principal_type, principal_id, scope_type, scope_id, is_primary, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id(aid))
    .bind(id(org))
    .bind(id(role))
    .bind(ptype)
    .bind(pid)
    .bind(stype)
    .bind(sid)
    .bind(primary)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(|e| {
        conflict(e, || match principal {
            Principal::User(user) => Error::AssignmentDuplicate { org, user, role },
            Principal::Department(dept) => Error::DeptRoleDuplicate { dept, role },
            Principal::Group(group) => Error::GroupRoleDuplicate { group, role },
        })
    })?;
    Ok(Assignment {
        id: aid,
        org_id: org,
        role_id: role,
        principal,
        scope,
        is_primary: primary,
        created_at: ts(now),
    })
}

/// The role must be a system role or a custom role of `org`.
pub(crate) async fn require_org_role(tx: &mut Tx, org: OrgId, role: RoleId) -> Result<()> {
    if role.system().is_some() {
        return Ok(());
    }
    sqlx::query("SELECT id FROM roles WHERE id = $1 AND org_id = $2")
        .bind(id(role))
        .bind(id(org))
        .fetch_optional(tx.conn())
        .await
        .map_err(db_err)?
        .map(|_| ())
        .ok_or(Error::RoleNotFound(role))
}

/// Makes `role` the user's primary role. If the user already holds it as a
/// plain assignment, that assignment is promoted instead of duplicated.
pub(crate) async fn set_primary(tx: &mut Tx, org: OrgId, user: UserId, role: RoleId) -> Result<()> {
    sqlx::query("DELETE FROM role_assignments WHERE org_id = $1 AND principal_type = 'user' AND principal_id = $2 AND is_primary")
        .bind(id(org))
        .bind(id(user))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
    let promoted = sqlx::query(
        "UPDATE role_assignments SET is_primary = TRUE WHERE org_id = $1 AND role_id = $2 AND principal_type = 'user' \
         AND principal_id = $3 AND scope_type = 'organization'",
    )
    .bind(id(org))
    .bind(id(role))
    .bind(id(user))
    .execute(tx.conn())
    .await
    .map_err(db_err)?;
    if promoted.rows_affected() == 0 {
        insert_assignment(
            tx,
            org,
            role,
            Principal::User(user),
            Scope::Organization,
            true,
        )
        .await?;
    }
    Ok(())
}

// --- The role catalogue and role assignments of the organization API.

/// Fields of a new custom role.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    pub name: String,
    pub description: Option<String>,
    /// Keys the role allows.
    pub allow: Vec<String>,
    /// Keys the role denies (deny beats allow across all of a user's roles).
    pub deny: Vec<String>,
    /// A project role made for this project (`None`: an organization role).
    pub project: Option<ProjectId>,
}

/// A partial update of a custom role: `None` leaves a field unchanged; a
/// given key list replaces the previous one. `description: Some(None)` clears
/// the description (stored as NULL).
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
}

/// A user holding a role at organization scope, with their membership status.
#[derive(Debug, Clone)]
pub struct RoleMember {
    pub user: User,
    pub status: MemberStatus,
}

/// Joins a role's user assignments at organization scope with live memberships.
const LIVE_HOLDERS: &str = "FROM role_assignments a JOIN memberships m ON m.org_id = a.org_id AND m.user_id = a.principal_id \
    WHERE a.org_id = $1 AND a.principal_type = 'user' AND a.scope_type = 'organization' AND m.deleted_at IS NULL";

/// How many live members hold each role of `org` at organization scope.
async fn member_counts(conn: &mut AnyConnection, org: OrgId) -> Result<HashMap<RoleId, i64>> {
    let rows = sqlx::query(&format!(
        "SELECT a.role_id, COUNT(*) AS n {LIVE_HOLDERS} GROUP BY a.role_id"
    ))
    .bind(id(org))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter()
        .map(|r| Ok((RoleId(uuid_of(r, "role_id")?), i64_of(r, "n")?)))
        .collect()
}

/// How many live members hold `role` at organization scope.
pub(crate) async fn member_count(
    conn: &mut AnyConnection,
    org: OrgId,
    role: RoleId,
) -> Result<i64> {
    let row = sqlx::query(&format!(
        "SELECT COUNT(*) AS n {LIVE_HOLDERS} AND a.role_id = $2"
    ))
    .bind(id(org))
    .bind(id(role))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    i64_of(&row, "n")
}

/// System roles carry no row: they show the organization's creation time.
async fn org_created_at(conn: &mut AnyConnection, org: OrgId) -> Result<Timestamp> {
    let row =
        sqlx::query("SELECT created_at FROM organizations WHERE id = $1 AND deleted_at IS NULL")
            .bind(id(org))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
            .ok_or(Error::OrgNotFound(org))?;
    ts_of(&row, "created_at")
}

fn system_role(sys: SystemRole, created_at: Timestamp, member_count: i64) -> Role {
    Role {
        id: sys.id(),
        org_id: None,
        project_id: None,
        name: sys.name().to_owned(),
        description: Some(sys.description().to_owned()),
        resource_type: sys.resource_type(),
        grants: sys.grant_list(),
        member_count,
        created_at,
        updated_at: created_at,
    }
}

fn custom_role_of(row: &AnyRow, grants: Vec<Grant>, member_count: i64) -> Result<Role> {
    Ok(Role {
        id: RoleId(uuid_of(row, "id")?),
        org_id: Some(OrgId(uuid_of(row, "org_id")?)),
        project_id: opt_uuid_of(row, "project_id")?.map(ProjectId),
        name: str_of(row, "name")?,
        description: opt_str_of(row, "description")?,
        resource_type: ResourceType::parse(&str_of(row, "resource_type")?)
            .unwrap_or(ResourceType::Organization),
        grants,
        member_count,
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

const ROLE_COLS: &str =
    "id, org_id, project_id, name, description, resource_type, created_at, updated_at";

/// Assignment rows ([`ASSIGNMENT_COLS`]) with their roles.
async fn with_roles(
    conn: &mut AnyConnection,
    org: OrgId,
    rows: &[sqlx::any::AnyRow],
) -> Result<Vec<AssignedRole>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let assignment = crate::load::assignment_of(row)?;
        let role = fetch_role(conn, org, assignment.role_id).await?;
        out.push(AssignedRole { assignment, role });
    }
    Ok(out)
}

/// The `role_id`s a query selects (the roles some rows give): for the
/// anti-escalation checks of writes that hand out or take away several.
pub(crate) async fn role_ids<'q>(
    conn: &mut AnyConnection,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
) -> Result<std::collections::BTreeSet<RoleId>> {
    query
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| uuid_of(r, "role_id").map(RoleId))
        .collect()
}

/// A system role or a custom role of `org`, with its member count.
async fn fetch_role(conn: &mut AnyConnection, org: OrgId, role: RoleId) -> Result<Role> {
    fetch_role_counted(conn, org, role, true).await
}

/// [`fetch_role`], with the member count (a join over every holder) only
/// when `count`; without it the count reads 0 and a system role's times
/// the epoch: such a role is for rule checks, not for display.
pub(crate) async fn fetch_role_counted(
    conn: &mut AnyConnection,
    org: OrgId,
    role: RoleId,
    count: bool,
) -> Result<Role> {
    if let Some(sys) = role.system() {
        if !count {
            return Ok(system_role(sys, Timestamp::UNIX_EPOCH, 0));
        }
        let created = org_created_at(conn, org).await?;
        let n = member_count(conn, org, role).await?;
        return Ok(system_role(sys, created, n));
    }
    // The role and its grants in one statement (a custom role has at least one grant).
    let rows = sqlx::query(
        "SELECT r.id, r.org_id, r.project_id, r.name, r.description, r.resource_type, r.created_at, r.updated_at, \
         g.perm_key, g.effect FROM roles r LEFT JOIN role_grants g ON g.role_id = r.id \
         WHERE r.id = $1 AND r.org_id = $2 ORDER BY g.perm_key",
    )
    .bind(id(role))
    .bind(id(org))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let first = rows.first().ok_or(Error::RoleNotFound(role))?;
    let mut grants = Vec::with_capacity(rows.len());
    for row in &rows {
        if opt_str_of(row, "perm_key")?.is_some() {
            grants.push(crate::load::grant_of(row)?);
        }
    }
    let n = if count {
        member_count(conn, org, role).await?
    } else {
        0
    };
    custom_role_of(first, grants, n)
}

/// The role as this API's catalogue shows it: organization roles only.
async fn fetch_org_role(conn: &mut AnyConnection, org: OrgId, role: RoleId) -> Result<Role> {
    let r = fetch_role(conn, org, role).await?;
    if r.resource_type != ResourceType::Organization {
        return Err(Error::RoleNotFound(role));
    }
    Ok(r)
}

/// The role as a project's catalogue shows it: project roles usable in `project`.
async fn fetch_project_role(
    conn: &mut AnyConnection,
    org: OrgId,
    project: ProjectId,
    role: RoleId,
) -> Result<Role> {
    let r = fetch_role(conn, org, role).await?;
    if r.resource_type != ResourceType::Project || r.project_id.is_some_and(|p| p != project) {
        return Err(Error::RoleNotFound(role));
    }
    Ok(r)
}

/// Where a custom role lives: the organization's catalogue or one project's.
#[derive(Debug, Clone, Copy)]
enum Home {
    Org,
    Project(ProjectId),
}

async fn fetch_home_role(
    conn: &mut AnyConnection,
    org: OrgId,
    home: Home,
    role: RoleId,
) -> Result<Role> {
    match home {
        Home::Org => fetch_org_role(conn, org, role).await,
        Home::Project(p) => {
            crate::projects::fetch_project(conn, org, p).await?;
            fetch_project_role(conn, org, p, role).await
        }
    }
}

/// A role that may be assigned at `scope`: organization-type roles at
/// organization and department scope; at a project's scope, project-type
/// roles made for every project or for that one.
pub(crate) async fn fetch_role_for_scope(
    conn: &mut AnyConnection,
    org: OrgId,
    role: RoleId,
    scope: Scope,
) -> Result<Role> {
    role_for_scope(fetch_role(conn, org, role).await?, role, scope)
}

/// [`fetch_role_for_scope`] without the member count: for a write that
/// checks the role's rules and shows the role to nobody.
pub(crate) async fn rule_role_for_scope(
    conn: &mut AnyConnection,
    org: OrgId,
    role: RoleId,
    scope: Scope,
) -> Result<Role> {
    role_for_scope(
        fetch_role_counted(conn, org, role, false).await?,
        role,
        scope,
    )
}

/// `r` if its type fits `scope`.
fn role_for_scope(r: Role, role: RoleId, scope: Scope) -> Result<Role> {
    let fits = match scope {
        Scope::Organization | Scope::Department(_) => r.resource_type == ResourceType::Organization,
        Scope::Project(p) => {
            r.resource_type == ResourceType::Project && r.project_id.is_none_or(|rp| rp == p)
        }
    };
    if !fits {
        return Err(Error::RoleScopeMismatch(role));
    }
    Ok(r)
}

/// A role that may be assigned at organization scope (organization-type only).
pub(crate) async fn fetch_assignable(
    conn: &mut AnyConnection,
    org: OrgId,
    role: RoleId,
) -> Result<Role> {
    fetch_role_for_scope(conn, org, role, Scope::Organization).await
}

/// Order-preserving de-duplication.
fn dedup(keys: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    keys.iter()
        .map(|k| k.trim().to_owned())
        .filter(|k| seen.insert(k.clone()))
        .collect()
}

/// Turns key lists into grants. Every key must be a built-in capability or a
/// key defined by the organization or deployment-wide; a trailing-`*` key must
/// cover at least one of those. A key may not be both allowed and denied, and
/// a role needs at least one grant.
async fn grants_for(
    conn: &mut AnyConnection,
    org: OrgId,
    allow: &[String],
    deny: &[String],
) -> Result<Vec<Grant>> {
    let (allow, deny) = (dedup(allow), dedup(deny));
    if allow.is_empty() && deny.is_empty() {
        return Err(Error::validation(
            "capabilities",
            "must hold at least one capability (or denied_capabilities must not be empty)",
        ));
    }
    let defined: BTreeSet<String> =
        sqlx::query("SELECT perm_key FROM permissions WHERE org_id = $1 OR org_id = ''")
            .bind(id(org))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| str_of(r, "perm_key"))
            .collect::<Result<_>>()?;
    let known = |k: &PermissionKey| {
        if k.is_wildcard() {
            builtin_keys().any(|b| k.covers(b)) || defined.iter().any(|d| k.covers(d))
        } else {
            is_builtin_key(k.as_str()) || defined.contains(k.as_str())
        }
    };
    let mut invalid = Vec::new();
    let mut grants = Vec::new();
    for (keys, effect) in [(&allow, Effect::Allow), (&deny, Effect::Deny)] {
        for raw in keys {
            match PermissionKey::parse(raw) {
                Ok(k) if known(&k) => grants.push(Grant {
                    permission: k,
                    effect,
                }),
                _ => invalid.push(raw.clone()),
            }
        }
    }
    if !invalid.is_empty() {
        return Err(Error::UnknownPermissions(invalid));
    }
    if let Some(both) = allow.iter().find(|k| deny.contains(k)) {
        return Err(Error::validation(
            "denied_capabilities",
            format!("`{both}` cannot be both allowed and denied"),
        ));
    }
    Ok(grants)
}

async fn insert_grants(tx: &mut Tx, role: RoleId, grants: &[Grant]) -> Result<()> {
    for g in grants {
        sqlx::query("INSERT INTO role_grants (role_id, perm_key, effect) VALUES ($1, $2, $3)")
            .bind(id(role))
            .bind(g.permission.as_str())
            .bind(g.effect.as_str())
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

fn keys_of(grants: &[Grant], effect: Effect) -> BTreeSet<String> {
    grants
        .iter()
        .filter(|g| g.effect == effect)
        .map(|g| g.permission.as_str().to_owned())
        .collect()
}

impl Store {
    /// Anti-escalation: the keys among `keys` that the actor does not hold in
    /// `org`. Owner-like roles hold everything; the platform key passes;
    /// organization API keys are judged by their role alone.
    fn not_held(&self, actor: &Actor, org: OrgId, keys: &BTreeSet<String>) -> Vec<String> {
        let snap = self.index().load();
        let ix = snap.org(org);
        keys.iter()
            .filter(|k| {
                let held = match (actor, ix) {
                    (Actor::Platform, _) => true,
                    (_, None) => false,
                    (Actor::OrgKey { role, .. }, Some(ix)) => ix.role_allows(*role, k),
                    (Actor::User { user }, Some(ix)) => ix.allowed(*user, k, Scope::Organization),
                };
                !held
            })
            .cloned()
            .collect()
    }

    pub(crate) fn refuse_escalation(
        &self,
        actor: &Actor,
        org: OrgId,
        keys: &BTreeSet<String>,
    ) -> Result<()> {
        let missing = self.not_held(actor, org, keys);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::Escalation { missing })
        }
    }

    /// Who may hand a role to someone or take it away: the Owner role only by
    /// Owners (or the platform); any other role only by a caller who holds
    /// every key it allows, and to take it away also every key it denies
    /// (lifting a denial grants that key back). So nobody manages the holders
    /// of a role stronger than their own.
    pub(crate) fn may_change_holders(
        &self,
        actor: &Actor,
        org: OrgId,
        role: &Role,
        giving: bool,
    ) -> Result<()> {
        if role.id == SystemRole::Owner.id() {
            let owner = match actor {
                Actor::Platform => true,
                Actor::OrgKey { role, .. } => role.system() == Some(SystemRole::Owner),
                Actor::User { user } => self
                    .index()
                    .load()
                    .org(org)
                    .is_some_and(|ix| ix.holds_role(*user, SystemRole::Owner.id())),
            };
            return if owner { Ok(()) } else { Err(Error::OwnerOnly) };
        }
        let mut keys = keys_of(&role.grants, Effect::Allow);
        if !giving {
            keys.extend(keys_of(&role.grants, Effect::Deny));
        }
        self.refuse_escalation(actor, org, &keys)
    }

    /// [`Store::may_change_holders`] for each of `roles`, for a write that
    /// hands them all to someone (`giving`) or takes them all away at once
    /// (a membership of a group or a department, or a revived membership,
    /// carries several). A refusal lists the keys missing for every role
    /// (an Owner-only role refuses at once). Runs inside the write's
    /// transaction, before it commits, so a refusal changes nothing; the
    /// caller has locked the organization, so no role reaches the member
    /// between this check and the commit.
    pub(crate) async fn may_change_holders_of(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: OrgId,
        roles: &BTreeSet<RoleId>,
        giving: bool,
    ) -> Result<()> {
        let mut missing = BTreeSet::new();
        for &role in roles {
            let r = fetch_role_counted(tx.conn(), org, role, false).await?;
            match self.may_change_holders(actor, org, &r, giving) {
                Err(Error::Escalation { missing: keys }) => missing.extend(keys),
                other => other?,
            }
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::Escalation {
                missing: missing.into_iter().collect(),
            })
        }
    }

    /// The organization's roles: system roles of type organization first in
    /// their fixed order (unless `include_system` is false), then custom
    /// organization roles by name.
    pub async fn list_roles(
        &self,
        access: &OrgAccess<need::AnyMember>,
        include_system: bool,
    ) -> Result<Vec<Role>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let counts = member_counts(&mut conn, org).await?;
        let count = |r: RoleId| counts.get(&r).copied().unwrap_or(0);
        let mut out = Vec::new();
        if include_system {
            let created = org_created_at(&mut conn, org).await?;
            out.extend(
                SystemRole::ALL
                    .into_iter()
                    .filter(|s| s.resource_type() == ResourceType::Organization)
                    .map(|s| system_role(s, created, count(s.id()))),
            );
        }
        let mut grants: HashMap<RoleId, Vec<Grant>> = HashMap::new();
        for r in sqlx::query(
            "SELECT g.role_id, g.perm_key, g.effect FROM role_grants g JOIN roles r ON r.id = g.role_id WHERE r.org_id = $1",
        )
        .bind(id(org))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        {
            grants
                .entry(RoleId(uuid_of(&r, "role_id")?))
                .or_default()
                .push(crate::load::grant_of(&r)?);
        }
        for r in sqlx::query(&format!(
            "SELECT {ROLE_COLS} FROM roles WHERE org_id = $1 AND resource_type = 'organization' ORDER BY name_key, name, id"
        ))
        .bind(id(org))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?
        {
            let rid = RoleId(uuid_of(&r, "id")?);
            out.push(custom_role_of(
                &r,
                grants.remove(&rid).unwrap_or_default(),
                count(rid),
            )?);
        }
        Ok(out)
    }

    /// One organization role (system or custom).
    pub async fn get_role(
        &self,
        access: &OrgAccess<need::AnyMember>,
        role: RoleId,
    ) -> Result<Role> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_org_role(&mut conn, access.org(), role).await
    }

    /// Creates a custom organization role. The caller may only grant keys it holds.
    pub async fn create_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        input: NewRole,
    ) -> Result<Written<Role>> {
        let org = access.org();
        let name = bounded("name", &input.name, 1, 100)?;
        let description = bounded_opt("description", input.description.as_deref(), 500)?;
        let mut tx = self.begin(ctx).await?;
        let resource_type = match input.project {
            Some(p) => {
                crate::projects::writable_project(tx.conn(), org, p).await?;
                ResourceType::Project
            }
            None => ResourceType::Organization,
        };
        let grants = grants_for(tx.conn(), org, &input.allow, &input.deny).await?;
        self.refuse_escalation(access.actor(), org, &keys_of(&grants, Effect::Allow))?;
        let rid = RoleId::new();
        let now = now_micros();
        sqlx::query(
            "INSERT INTO roles (id, org_id, name, name_key, description, resource_type, project_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id(rid))
        .bind(id(org))
        .bind(&name)
        .bind(name_key(&name))
        .bind(&description)
        .bind(resource_type.as_str())
        .bind(input.project.map(id))
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::RoleNameTaken(name.clone())))?;
        insert_grants(&mut tx, rid, &grants).await?;
        let role = fetch_role(tx.conn(), org, rid).await?;
        tx.audit(Some(org), "role.created", "role", rid, None, json(&role));
        tx.commit(self, role).await
    }

    /// Renames, re-describes or replaces the grants of a custom role. A given
    /// `allow` list replaces the allowed keys (and lifts denials of the same
    /// keys when `deny` is not given), and vice versa. Newly allowed keys and
    /// lifted denials must be held by the caller.
    pub async fn update_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        role: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>> {
        self.update_role_at(ctx, access, Home::Org, role, patch)
            .await
    }

    /// [`Store::update_role`] for a role of one project's catalogue.
    pub async fn update_project_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        project: ProjectId,
        role: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>> {
        self.update_role_at(ctx, access, Home::Project(project), role, patch)
            .await
    }

    async fn update_role_at(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        home: Home,
        role: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>> {
        let org = access.org();
        if let Some(sys) = role.system() {
            return Err(Error::SystemRoleImmutable {
                role,
                name: sys.name().to_owned(),
            });
        }
        let name = patch
            .name
            .as_deref()
            .map(|n| bounded("name", n, 1, 100))
            .transpose()?;
        let description = patch
            .description
            .as_ref()
            .map(|d| bounded_opt("description", d.as_deref(), 500))
            .transpose()?;
        let mut tx = self.begin(ctx).await?;
        let before = fetch_home_role(tx.conn(), org, home, role).await?;
        let old_allow = keys_of(&before.grants, Effect::Allow);
        let old_deny = keys_of(&before.grants, Effect::Deny);
        let grants = if patch.allow.is_some() || patch.deny.is_some() {
            let (allow, deny): (Vec<String>, Vec<String>) = match (patch.allow, patch.deny) {
                (Some(a), Some(d)) => (a, d),
                (Some(a), None) => {
                    let d = old_deny
                        .iter()
                        .filter(|k| !a.contains(k))
                        .cloned()
                        .collect();
                    (a, d)
                }
                (None, Some(d)) => {
                    let a = old_allow
                        .iter()
                        .filter(|k| !d.contains(k))
                        .cloned()
                        .collect();
                    (a, d)
                }
                (None, None) => (Vec::new(), Vec::new()),
            };
            let grants = grants_for(tx.conn(), org, &allow, &deny).await?;
            let (new_allow, new_deny) = (
                keys_of(&grants, Effect::Allow),
                keys_of(&grants, Effect::Deny),
            );
            let added = new_allow.difference(&old_allow);
            let lifted = old_deny.difference(&new_deny);
            let gained: BTreeSet<String> = added.chain(lifted).cloned().collect();
            self.refuse_escalation(access.actor(), org, &gained)?;
            Some(grants)
        } else {
            None
        };
        let taken = name.clone().unwrap_or_default();
        sqlx::query(
            "UPDATE roles SET name = COALESCE($1, name), name_key = COALESCE($2, name_key), \
             description = CASE WHEN $3 = 1 THEN $4 ELSE description END, updated_at = $5 WHERE id = $6",
        )
        .bind(name.clone())
        .bind(name.as_deref().map(name_key))
        .bind(i64::from(description.is_some()))
        .bind(description.flatten())
        .bind(now_micros())
        .bind(id(role))
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::RoleNameTaken(taken)))?;
        if let Some(grants) = grants {
            sqlx::query("DELETE FROM role_grants WHERE role_id = $1")
                .bind(id(role))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
            insert_grants(&mut tx, role, &grants).await?;
        }
        let after = fetch_role(tx.conn(), org, role).await?;
        tx.audit(
            Some(org),
            "role.updated",
            "role",
            role,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Deletes a custom role. Unless `cascade`, a role that live members hold
    /// at organization scope is refused. Its grants and every remaining
    /// assignment go with it; members whose primary role it was fall back to
    /// Member, project members whose project role it was to project Member.
    pub async fn delete_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        role: RoleId,
        cascade: bool,
    ) -> Result<Written<()>> {
        self.delete_role_at(ctx, access, Home::Org, role, cascade)
            .await
    }

    /// Deletes a role of one project's catalogue with its assignments.
    pub async fn delete_project_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        project: ProjectId,
        role: RoleId,
    ) -> Result<Written<()>> {
        self.delete_role_at(ctx, access, Home::Project(project), role, true)
            .await
    }

    async fn delete_role_at(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageRoles>,
        home: Home,
        role: RoleId,
        cascade: bool,
    ) -> Result<Written<()>> {
        let org = access.org();
        if let Some(sys) = role.system() {
            return Err(Error::SystemRoleImmutable {
                role,
                name: sys.name().to_owned(),
            });
        }
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = fetch_home_role(tx.conn(), org, home, role).await?;
        if cascade {
            self.may_change_holders(access.actor(), org, &before, false)?;
        }
        if before.member_count > 0 && !cascade {
            return Err(Error::RoleHasMembers {
                role,
                count: before.member_count,
            });
        }
        let primaries = sqlx::query(
            "SELECT principal_id FROM role_assignments WHERE org_id = $1 AND role_id = $2 AND principal_type = 'user' AND is_primary",
        )
        .bind(id(org))
        .bind(id(role))
        .fetch_all(tx.conn())
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| uuid_of(r, "principal_id").map(UserId))
        .collect::<Result<Vec<_>>>()?;
        for user in primaries {
            set_primary(&mut tx, org, user, SystemRole::Member.id()).await?;
        }
        // Memberships and attached groups keep their row with the default project role.
        sqlx::query(
            "UPDATE role_assignments SET role_id = $1 WHERE org_id = $2 AND role_id = $3 AND id IN \
             (SELECT assignment_id FROM project_members UNION ALL SELECT assignment_id FROM project_groups)",
        )
        .bind(id(SystemRole::ProjectMember.id()))
        .bind(id(org))
        .bind(id(role))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        sqlx::query("DELETE FROM role_assignments WHERE org_id = $1 AND role_id = $2")
            .bind(id(org))
            .bind(id(role))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM role_grants WHERE role_id = $1")
            .bind(id(role))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM roles WHERE id = $1 AND org_id = $2")
            .bind(id(role))
            .bind(id(org))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        tx.audit(Some(org), "role.deleted", "role", role, json(&before), None);
        tx.commit(self, ()).await
    }

    /// Live members holding the role at organization scope, oldest assignment first.
    pub async fn list_role_members(
        &self,
        access: &OrgAccess<need::AnyMember>,
        role: RoleId,
        skip: i64,
        limit: i64,
    ) -> Result<Page<RoleMember>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let r = fetch_org_role(&mut conn, org, role).await?;
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.full_name, u.username, u.created_at, u.updated_at, m.status \
             FROM role_assignments a JOIN memberships m ON m.org_id = a.org_id AND m.user_id = a.principal_id \
             JOIN users u ON u.id = m.user_id \
             WHERE a.org_id = $1 AND a.role_id = $2 AND a.principal_type = 'user' AND a.scope_type = 'organization' \
             AND m.deleted_at IS NULL ORDER BY a.created_at, a.id LIMIT $3 OFFSET $4",
        )
        .bind(id(org))
        .bind(id(role))
        .bind(limit)
        .bind(skip)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(RoleMember {
                    user: User {
                        id: UserId(uuid_of(row, "id")?),
                        email: str_of(row, "email")?,
                        full_name: opt_str_of(row, "full_name")?,
                        username: opt_str_of(row, "username")?,
                        created_at: ts_of(row, "created_at")?,
                        updated_at: ts_of(row, "updated_at")?,
                    },
                    status: MemberStatus::parse(&str_of(row, "status")?)
                        .unwrap_or(MemberStatus::Inactive),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            total: r.member_count,
        })
    }
}

/// The live Owner holder (other than `except`) who has held it longest.
async fn next_owner(tx: &mut Tx, org: OrgId, except: UserId) -> Result<Option<UserId>> {
    let row = sqlx::query(&format!(
        "SELECT a.principal_id {LIVE_HOLDERS} AND a.role_id = $2 AND a.principal_id <> $3 ORDER BY a.created_at, a.id LIMIT 1"
    ))
    .bind(id(org))
    .bind(id(SystemRole::Owner.id()))
    .bind(id(except))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?;
    row.map(|r| uuid_of(&r, "principal_id").map(UserId))
        .transpose()
}

impl Store {
    /// Assigns an organization role to a live member at organization scope.
    /// A duplicate (including the member's primary role) is a conflict.
    pub async fn assign_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::AssignRoles>,
        role: RoleId,
        user: UserId,
    ) -> Result<Written<Assignment>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with role deletion, so an assignment never outlives its role.
        let member = tx.lock_org_for_member(self.kind, org, user).await?;
        let r = rule_role_for_scope(tx.conn(), org, role, Scope::Organization).await?;
        self.may_change_holders(access.actor(), org, &r, true)?;
        member.require(org, user)?;
        let a = insert_assignment(
            &mut tx,
            org,
            role,
            Principal::User(user),
            Scope::Organization,
            false,
        )
        .await?;
        tx.index_delta(org, IndexDelta::AddAssignment(a.clone()));
        tx.audit(
            Some(org),
            "role.assigned",
            "role_assignment",
            a.id,
            None,
            json(&a),
        );
        tx.commit(self, a).await
    }

    /// Takes an organization role away from a user. The last live Owner keeps
    /// the Owner role. Removing the user's primary role makes Member their
    /// primary role; the Member primary role itself cannot be removed (change
    /// the primary role instead). If the user was the organization's
    /// designated owner, the longest-standing remaining Owner becomes it.
    pub async fn unassign_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::AssignRoles>,
        role: RoleId,
        user: UserId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let r = rule_role_for_scope(tx.conn(), org, role, Scope::Organization).await?;
        self.may_change_holders(access.actor(), org, &r, false)?;
        let row = sqlx::query(
            "SELECT id, org_id, role_id, principal_type, principal_id, scope_type, scope_id, is_primary, created_at \
             FROM role_assignments WHERE org_id = $1 AND role_id = $2 AND principal_type = 'user' AND principal_id = $3 \
             AND scope_type = 'organization'",
        )
        .bind(id(org))
        .bind(id(role))
        .bind(id(user))
        .fetch_optional(tx.conn())
        .await
        .map_err(db_err)?
        .ok_or(Error::AssignmentNotFound { org, user, role })?;
        let a = crate::load::assignment_of(&row)?;
        let owner_role = role == SystemRole::Owner.id();
        if owner_role && crate::members::is_last_owner(&mut tx, org, user).await? {
            return Err(Error::LastOwner { org, user, role });
        }
        if a.is_primary {
            if role == SystemRole::Member.id() {
                return Err(Error::validation(
                    "role_id",
                    "Member is this user's primary role and cannot be removed; change the primary role with PUT /v1/organizations/{organization_id}/users/{user_id}",
                ));
            }
            set_primary(&mut tx, org, user, SystemRole::Member.id()).await?;
        } else {
            sqlx::query("DELETE FROM role_assignments WHERE id = $1")
                .bind(id(a.id))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
            // The designated owner below is no index row.
            tx.index_delta(org, IndexDelta::RemoveAssignment(a.id));
        }
        if owner_role && crate::orgs::fetch_org(&mut tx, org).await?.owner_id == Some(user) {
            if let Some(next) = next_owner(&mut tx, org, user).await? {
                sqlx::query(
                    "UPDATE organizations SET owner_id = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(id(next))
                .bind(now_micros())
                .bind(id(org))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
                tx.audit(
                    Some(org),
                    "organization.owner_changed",
                    "organization",
                    org,
                    Some(serde_json::json!({"owner_id": user.to_string()})),
                    Some(serde_json::json!({"owner_id": next.to_string()})),
                );
            }
        }
        tx.audit(
            Some(org),
            "role.unassigned",
            "role_assignment",
            a.id,
            json(&a),
            None,
        );
        tx.commit(self, ()).await
    }
}

/// A role a principal holds at one scope, through one assignment.
#[derive(Debug, Clone)]
pub struct AssignedRole {
    pub assignment: Assignment,
    pub role: Role,
}

/// An assignment's columns, read from `role_assignments a` (see `load::assignment_of`).
pub(crate) const ASSIGNMENT_COLS: &str = "a.id, a.org_id, a.role_id, a.principal_type, \
    a.principal_id, a.scope_type, a.scope_id, a.is_primary, a.created_at";

/// Fails unless the principal exists in the organization and, for a user, is a
/// live (Active or Pending) member.
async fn require_principal(tx: &mut Tx, org: OrgId, principal: Principal) -> Result<()> {
    match principal {
        Principal::User(u) => crate::members::require_member(tx, org, u).await,
        Principal::Group(g) => crate::groups::fetch_group(tx.conn(), org, g)
            .await
            .map(|_| ()),
        Principal::Department(d) => {
            let row = sqlx::query("SELECT id FROM departments WHERE id = $1 AND org_id = $2")
                .bind(id(d))
                .bind(id(org))
                .fetch_optional(tx.conn())
                .await
                .map_err(db_err)?;
            row.map(|_| ()).ok_or(Error::DeptNotFound(d))
        }
    }
}

/// Fails unless the scope exists; a project scope must be a live project the
/// principal belongs to (users as members, groups as attached groups).
async fn require_scope(tx: &mut Tx, org: OrgId, principal: Principal, scope: Scope) -> Result<()> {
    match scope {
        Scope::Organization => Ok(()),
        Scope::Department(d) => require_principal(tx, org, Principal::Department(d)).await,
        Scope::Project(project) => {
            crate::projects::writable_project(tx.conn(), org, project).await?;
            match principal {
                Principal::User(user) => {
                    if crate::projects::in_project(tx.conn(), org, project, user).await? {
                        Ok(())
                    } else {
                        Err(Error::NotInProject { project, user })
                    }
                }
                Principal::Group(group) => {
                    match crate::projects::fetch_project_group(tx.conn(), org, project, group).await
                    {
                        Ok(_) => Ok(()),
                        Err(Error::ProjectGroupNotFound { .. }) => {
                            Err(Error::GroupNotInProject { project, group })
                        }
                        Err(e) => Err(e),
                    }
                }
                Principal::Department(_) => Ok(()),
            }
        }
    }
}

fn not_held(org: OrgId, principal: Principal, role: RoleId) -> Error {
    match principal {
        Principal::User(user) => Error::AssignmentNotFound { org, user, role },
        Principal::Group(group) => Error::GroupRoleNotFound { group, role },
        Principal::Department(dept) => Error::DeptRoleNotFound { dept, role },
    }
}

async fn find_assignment(
    conn: &mut AnyConnection,
    org: OrgId,
    principal: Principal,
    role: RoleId,
    scope: Scope,
) -> Result<Option<Assignment>> {
    let (ptype, pid) = principal_cols(principal);
    let (stype, sid) = scope_cols(scope);
    let row = sqlx::query(&format!(
        "SELECT {ASSIGNMENT_COLS} FROM role_assignments a WHERE org_id = $1 AND role_id = $2 AND principal_type = $3 \
         AND principal_id = $4 AND scope_type = $5 AND scope_id = $6"
    ))
    .bind(id(org))
    .bind(id(role))
    .bind(ptype)
    .bind(pid)
    .bind(stype)
    .bind(sid)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    row.as_ref().map(crate::load::assignment_of).transpose()
}

impl Store {
    /// The project-type roles usable in a project: the system project roles,
    /// then custom roles made for every project or for this one, by name.
    pub async fn list_project_roles(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
    ) -> Result<Vec<Role>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        crate::projects::fetch_project(&mut conn, org, project).await?;
        let created = org_created_at(&mut conn, org).await?;
        let mut out: Vec<Role> = SystemRole::ALL
            .into_iter()
            .filter(|s| s.resource_type() == ResourceType::Project)
            .map(|s| system_role(s, created, 0))
            .collect();
        let rows = sqlx::query(
            "SELECT id FROM roles WHERE org_id = $1 AND resource_type = 'project' \
             AND (project_id IS NULL OR project_id = $2) ORDER BY name_key, name, id",
        )
        .bind(id(org))
        .bind(id(project))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        for r in &rows {
            out.push(fetch_role(&mut conn, org, RoleId(uuid_of(r, "id")?)).await?);
        }
        Ok(out)
    }

    /// One role of a project's catalogue.
    pub async fn get_project_role(
        &self,
        access: &OrgAccess<need::AnyMember>,
        project: ProjectId,
        role: RoleId,
    ) -> Result<Role> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_home_role(&mut conn, access.org(), Home::Project(project), role).await
    }

    /// Assigns `role` to a user, group or department at a scope. The role's
    /// type must fit the scope; a project scope needs a live project that the
    /// principal belongs to. Duplicates are conflicts; nobody hands out a role
    /// stronger than their own.
    pub async fn assign(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::AssignRoles>,
        principal: Principal,
        role: RoleId,
        scope: Scope,
    ) -> Result<Written<AssignedRole>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with role, group and project deletion.
        tx.lock_org(self.kind, org).await?;
        let r = fetch_role_for_scope(tx.conn(), org, role, scope).await?;
        self.may_change_holders(access.actor(), org, &r, true)?;
        require_principal(&mut tx, org, principal).await?;
        require_scope(&mut tx, org, principal, scope).await?;
        if find_assignment(tx.conn(), org, principal, role, scope)
            .await?
            .is_some()
        {
            return Err(match principal {
                Principal::User(user) => Error::AssignmentDuplicate { org, user, role },
                Principal::Group(group) => Error::GroupRoleDuplicate { group, role },
                Principal::Department(dept) => Error::DeptRoleDuplicate { dept, role },
            });
        }
        let a = insert_assignment(&mut tx, org, role, principal, scope, false).await?;
        tx.index_delta(org, IndexDelta::AddAssignment(a.clone()));
        tx.audit(
            Some(org),
            "role.assigned",
            "role_assignment",
            a.id,
            None,
            json(&a),
        );
        tx.commit(
            self,
            AssignedRole {
                assignment: a,
                role: r,
            },
        )
        .await
    }

    /// Takes `role` at `scope` away from a principal. A user's organization
    /// roles go through [`Store::unassign_role`] (last owner, primary role);
    /// a project membership's own role is changed through the membership.
    pub async fn unassign(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::AssignRoles>,
        principal: Principal,
        role: RoleId,
        scope: Scope,
    ) -> Result<Written<()>> {
        if let (Principal::User(user), Scope::Organization) = (principal, scope) {
            return self.unassign_role(ctx, access, role, user).await;
        }
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let a = find_assignment(tx.conn(), org, principal, role, scope)
            .await?
            .ok_or_else(|| not_held(org, principal, role))?;
        if let Scope::Project(p) = scope {
            crate::projects::writable_project(tx.conn(), org, p).await?;
        }
        let r = fetch_role_counted(tx.conn(), org, role, false).await?;
        self.may_change_holders(access.actor(), org, &r, false)?;
        if crate::projects::is_membership_assignment(&mut tx, a.id).await? {
            return Err(Error::MembershipRole(a.id));
        }
        sqlx::query("DELETE FROM role_assignments WHERE id = $1")
            .bind(id(a.id))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        tx.index_delta(org, IndexDelta::RemoveAssignment(a.id));
        tx.audit(
            Some(org),
            "role.unassigned",
            "role_assignment",
            a.id,
            json(&a),
            None,
        );
        tx.commit(self, ()).await
    }

    /// The roles a principal holds directly at one scope, oldest first.
    pub async fn principal_assignments(
        &self,
        access: &OrgAccess<need::AnyMember>,
        principal: Principal,
        scope: Scope,
    ) -> Result<Vec<AssignedRole>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let (ptype, pid) = principal_cols(principal);
        let (stype, sid) = scope_cols(scope);
        let rows = sqlx::query(&format!(
            "SELECT {ASSIGNMENT_COLS} FROM role_assignments a WHERE org_id = $1 AND principal_type = $2 \
             AND principal_id = $3 AND scope_type = $4 AND scope_id = $5 ORDER BY created_at, id"
        ))
        .bind(id(org))
        .bind(ptype)
        .bind(pid)
        .bind(stype)
        .bind(sid)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        with_roles(&mut conn, org, &rows).await
    }

    /// The roles a user reaches at one scope through the groups they belong
    /// to: each such group's assignments at that scope (principal: the
    /// group), oldest first.
    pub async fn group_assignments_of_user(
        &self,
        access: &OrgAccess<need::AnyMember>,
        user: UserId,
        scope: Scope,
    ) -> Result<Vec<AssignedRole>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let (stype, sid) = scope_cols(scope);
        let rows = sqlx::query(&format!(
            "SELECT {ASSIGNMENT_COLS} FROM role_assignments a JOIN group_members gm \
             ON gm.group_id = a.principal_id AND gm.org_id = a.org_id \
             WHERE a.org_id = $1 AND a.principal_type = 'group' AND gm.user_id = $2 \
             AND a.scope_type = $3 AND a.scope_id = $4 ORDER BY a.created_at, a.id"
        ))
        .bind(id(org))
        .bind(id(user))
        .bind(stype)
        .bind(sid)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        with_roles(&mut conn, org, &rows).await
    }

    /// One role a principal holds directly at a scope.
    pub async fn principal_assignment(
        &self,
        access: &OrgAccess<need::AnyMember>,
        principal: Principal,
        role: RoleId,
        scope: Scope,
    ) -> Result<AssignedRole> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let a = find_assignment(&mut conn, org, principal, role, scope)
            .await?
            .ok_or_else(|| not_held(org, principal, role))?;
        let role = fetch_role(&mut conn, org, role).await?;
        Ok(AssignedRole {
            assignment: a,
            role,
        })
    }
}
