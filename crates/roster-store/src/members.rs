//! Memberships: a user in an organization with a status and a primary role.
//! The primary role is stored as a role assignment flagged `is_primary`, so
//! every role a user holds lives in one table.

use crate::db::{conflict, db_err, now_micros, Tx};
use crate::orgs::json;
use crate::rows::*;
use crate::{Ctx, Page, Store, Written};
use roster_core::access::need;
use roster_core::*;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::collections::BTreeSet;

pub(crate) const MEMBER_SELECT: &str = "SELECT m.id, m.org_id, m.user_id, m.status, m.joined_at, m.deleted_at, m.created_at, \
    m.updated_at, u.email, u.full_name, u.username, u.created_at AS u_created, u.updated_at AS u_updated, \
    a.role_id, r.name AS role_name \
    FROM memberships m JOIN users u ON u.id = m.user_id \
    LEFT JOIN role_assignments a ON a.org_id = m.org_id AND a.principal_id = m.user_id AND a.is_primary \
    LEFT JOIN roles r ON r.id = a.role_id";

pub(crate) fn member_of(row: &AnyRow) -> Result<Member> {
    let role_id = opt_uuid_of(row, "role_id")?
        .map(RoleId)
        .unwrap_or(SystemRole::Member.id());
    let role_name = match role_id.system() {
        Some(sys) => sys.name().to_owned(),
        None => opt_str_of(row, "role_name")?.unwrap_or_default(),
    };
    Ok(Member {
        id: MembershipId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        user: User {
            id: UserId(uuid_of(row, "user_id")?),
            email: str_of(row, "email")?,
            full_name: opt_str_of(row, "full_name")?,
            username: opt_str_of(row, "username")?,
            created_at: ts_of(row, "u_created")?,
            updated_at: ts_of(row, "u_updated")?,
        },
        role_id,
        role_name,
        status: MemberStatus::parse(&str_of(row, "status")?).unwrap_or(MemberStatus::Inactive),
        deleted: opt_ts_of(row, "deleted_at")?.is_some(),
        joined_at: ts_of(row, "joined_at")?,
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

/// How a path names a member: by user id or by membership id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRef {
    User(UserId),
    Membership(MembershipId),
}

/// Filters, sorting and paging of the member list.
#[derive(Debug, Clone)]
pub struct MemberQuery {
    pub skip: i64,
    pub take: i64,
    pub search: Option<String>,
    pub role_id: Option<RoleId>,
    pub status: Option<MemberStatus>,
    pub sort_field: MemberSort,
    pub descending: bool,
    pub include_deleted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberSort {
    FullName,
    Email,
    Role,
    Status,
    CreatedAt,
    LastModifiedAt,
}

impl MemberSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "full_name" => Self::FullName,
            "email" => Self::Email,
            "role" => Self::Role,
            "status" => Self::Status,
            "created_at" => Self::CreatedAt,
            "last_modified_at" => Self::LastModifiedAt,
            _ => return None,
        })
    }
    fn column(self) -> &'static str {
        match self {
            Self::FullName => "u.full_name",
            Self::Email => "u.email_key",
            Self::Role => "a.role_id",
            Self::Status => "m.status",
            Self::CreatedAt => "m.created_at",
            Self::LastModifiedAt => "m.updated_at",
        }
    }
}

/// The outcome of a bulk operation: which ids failed and why.
#[derive(Debug, Clone, Default)]
pub struct Bulk {
    pub success_count: i64,
    pub failed: Vec<(String, String)>,
}

pub(crate) async fn require_user(tx: &mut Tx, user: UserId) -> Result<()> {
    sqlx::query("SELECT id FROM users WHERE id = $1")
        .bind(id(user))
        .fetch_optional(tx.conn())
        .await
        .map_err(db_err)?
        .map(|_| ())
        .ok_or(Error::UserNotFound(user))
}

/// Inserts a membership and its primary assignment.
pub(crate) async fn insert_membership(
    tx: &mut Tx,
    org: OrgId,
    user: UserId,
    role: RoleId,
    status: MemberStatus,
) -> Result<MembershipId> {
    let mid = MembershipId::new();
    let now = now_micros();
    sqlx::query("INSERT INTO memberships (id, org_id, user_id, status, joined_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5, $5)")
        .bind(id(mid))
        .bind(id(org))
        .bind(id(user))
        .bind(status.as_str())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::AlreadyMember(user)))?;
    crate::roles::insert_assignment(
        tx,
        org,
        role,
        Principal::User(user),
        Scope::Organization,
        true,
    )
    .await?;
    Ok(mid)
}

pub(crate) async fn fetch_member(
    conn: &mut AnyConnection,
    org: OrgId,
    who: MemberRef,
    include_deleted: bool,
) -> Result<Member> {
    let (col, val, user) = match who {
        MemberRef::User(u) => ("m.user_id", id(u), Some(u)),
        MemberRef::Membership(m) => ("m.id", id(m), None),
    };
    let deleted = if include_deleted {
        ""
    } else {
        " AND m.deleted_at IS NULL"
    };
    let row = sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 AND {col} = $2{deleted}"
    ))
    .bind(id(org))
    .bind(val)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    match row {
        Some(r) => member_of(&r),
        None => Err(Error::MemberNotFound {
            org,
            user: user.unwrap_or(UserId(uuid::Uuid::nil())),
        }),
    }
}

/// The user must be a live, Active or Pending member of `org`: the rule every
/// relation of a user inside an organization obeys.
pub(crate) async fn require_member(tx: &mut Tx, org: OrgId, user: UserId) -> Result<()> {
    let status = sqlx::query(
        "SELECT status FROM memberships WHERE org_id = $1 AND user_id = $2 AND deleted_at IS NULL",
    )
    .bind(id(org))
    .bind(id(user))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?
    .map(|r| str_of(&r, "status"))
    .transpose()?;
    LiveMember { status }.require(org, user)
}

/// A membership's status as read with the organization's lock (see
/// [`Tx::lock_org_for_member`]), to be checked where the write checks it.
pub(crate) struct LiveMember {
    /// `None`: no live membership.
    pub(crate) status: Option<String>,
}

impl LiveMember {
    /// [`require_member`] on what was read.
    pub(crate) fn require(&self, org: OrgId, user: UserId) -> Result<()> {
        // The model: every other relation of a user in an organization needs an
        // Active or Pending membership.
        match self.status.as_deref().map(MemberStatus::parse) {
            None => Err(Error::MemberNotFound { org, user }),
            Some(Some(MemberStatus::Active | MemberStatus::Pending)) => Ok(()),
            Some(_) => Err(Error::MemberInactive(user)),
        }
    }
}

/// Users who hold Owner at organization scope with a live membership.
pub(crate) async fn owner_count(tx: &mut Tx, org: OrgId) -> Result<i64> {
    crate::roles::member_count(tx.conn(), org, SystemRole::Owner.id()).await
}

/// True when `user` is a live member holding the Owner role at organization
/// scope and no other live member does: removing, demoting, deactivating or
/// deleting them would leave the organization without an owner.
pub(crate) async fn is_last_owner(tx: &mut Tx, org: OrgId, user: UserId) -> Result<bool> {
    let holds = sqlx::query(
        "SELECT a.id FROM role_assignments a JOIN memberships m ON m.org_id = a.org_id AND m.user_id = a.principal_id \
         WHERE a.org_id = $1 AND a.role_id = $2 AND a.principal_type = 'user' AND a.principal_id = $3 \
         AND a.scope_type = 'organization' AND m.deleted_at IS NULL",
    )
    .bind(id(org))
    .bind(id(SystemRole::Owner.id()))
    .bind(id(user))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?
    .is_some();
    Ok(holds && owner_count(tx, org).await? <= 1)
}

/// What reviving a soft-deleted membership does with its primary role.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Primary {
    /// It comes back with the membership (a restore).
    Kept,
    /// It is replaced by this role (a rejoin through an invitation or a
    /// batch add), which the caller of that path has been held to already
    /// (the inviter, or the batch's caller) or which an invitation carries.
    Replaced(RoleId),
}

/// The roles `user` would hold again if their soft-deleted membership came
/// back: their own assignments (the primary role unless it is replaced, the
/// others at every scope), the roles assigned to their groups and the roles
/// bound along their departments. A deleted membership keeps all of those
/// rows; none of them counts while it is deleted.
async fn revived_roles(
    conn: &mut AnyConnection,
    org: OrgId,
    user: UserId,
    primary: Primary,
) -> Result<BTreeSet<RoleId>> {
    let own = sqlx::query(&format!(
        "SELECT {} FROM role_assignments a WHERE a.org_id = $1 AND a.principal_type = 'user' AND a.principal_id = $2",
        crate::roles::ASSIGNMENT_COLS
    ))
    .bind(id(org))
    .bind(id(user))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut roles = BTreeSet::new();
    for row in &own {
        let a = crate::load::assignment_of(row)?;
        let replaced = match primary {
            Primary::Kept => false,
            // The old primary goes; an extra assignment of the new role at
            // organization scope becomes the primary (`roles::set_primary`).
            Primary::Replaced(role) => {
                a.is_primary || (a.role_id == role && a.scope == Scope::Organization)
            }
        };
        if !replaced {
            roles.insert(a.role_id);
        }
    }
    roles.extend(crate::groups::member_group_roles(conn, org, user).await?);
    roles.extend(crate::departments::department_roles_of(conn, org, user).await?);
    Ok(roles)
}

impl Store {
    /// Anti-escalation for reviving a soft-deleted membership (a restore, or
    /// a rejoin through an invitation, its acceptance or a batch add). The
    /// membership kept its rows, so reviving it hands the member back every
    /// role those rows give ([`revived_roles`]: their primary role unless
    /// the revival replaces it, their other assignments, their groups'
    /// roles, their departments' roles): the caller must be one who may give
    /// each ([`Store::may_change_holders_of`]: the Owner role only by
    /// Owners, nothing stronger than their own), the rule of assigning those
    /// roles, or of adding the member to those groups or departments. Runs
    /// inside the revival's transaction, the organization locked (so no
    /// assignment, binding, group or department change slips in between),
    /// before the membership is revived; a refusal (`Escalation` or
    /// `OwnerOnly`) leaves it deleted.
    pub(crate) async fn may_revive_roles(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: OrgId,
        user: UserId,
        primary: Primary,
    ) -> Result<()> {
        let roles = revived_roles(tx.conn(), org, user, primary).await?;
        self.may_change_holders_of(tx, actor, org, &roles, true)
            .await
    }
}

impl Store {
    pub async fn get_member(
        &self,
        access: &OrgAccess<need::AnyMember>,
        who: MemberRef,
    ) -> Result<Member> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_member(&mut conn, access.org(), who, true).await
    }

    pub async fn list_members(
        &self,
        access: &OrgAccess<need::AnyMember>,
        q: &MemberQuery,
    ) -> Result<Page<Member>> {
        let mut wher = String::from(" WHERE m.org_id = $1");
        let mut binds: Vec<String> = vec![id(access.org())];
        if !q.include_deleted {
            wher.push_str(" AND m.deleted_at IS NULL");
        }
        if let Some(s) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            binds.push(format!("%{}%", s.to_lowercase()));
            let n = binds.len();
            wher.push_str(&format!(
                " AND (LOWER(COALESCE(u.full_name, '')) LIKE ${n} OR u.email_key LIKE ${n} OR LOWER(COALESCE(u.username, '')) LIKE ${n})"
            ));
        }
        if let Some(r) = q.role_id {
            binds.push(id(r));
            wher.push_str(&format!(" AND a.role_id = ${}", binds.len()));
        }
        if let Some(s) = q.status {
            binds.push(s.as_str().to_owned());
            wher.push_str(&format!(" AND m.status = ${}", binds.len()));
        }
        let dir = if q.descending { "DESC" } else { "ASC" };
        let list_sql = format!(
            "{MEMBER_SELECT}{wher} ORDER BY {} {dir}, m.id {dir} LIMIT ${} OFFSET ${}",
            q.sort_field.column(),
            binds.len() + 1,
            binds.len() + 2
        );
        let count_sql = format!(
            "SELECT COUNT(*) AS n FROM memberships m JOIN users u ON u.id = m.user_id \
             LEFT JOIN role_assignments a ON a.org_id = m.org_id AND a.principal_id = m.user_id AND a.is_primary{wher}"
        );
        let mut lq = sqlx::query(&list_sql);
        let mut cq = sqlx::query(&count_sql);
        for b in &binds {
            lq = lq.bind(b.clone());
            cq = cq.bind(b.clone());
        }
        let rows = lq
            .bind(q.take)
            .bind(q.skip)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let total = i64_of(&cq.fetch_one(&self.pool).await.map_err(db_err)?, "n")?;
        Ok(Page {
            items: rows.iter().map(member_of).collect::<Result<_>>()?,
            total,
        })
    }

    pub async fn member_ids(
        &self,
        access: &OrgAccess<need::AnyMember>,
        include_deleted: bool,
    ) -> Result<Vec<UserId>> {
        let deleted = if include_deleted {
            ""
        } else {
            " AND deleted_at IS NULL"
        };
        let rows = sqlx::query(&format!(
            "SELECT user_id FROM memberships WHERE org_id = $1{deleted} ORDER BY created_at, id"
        ))
        .bind(id(access.org()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| uuid_of(r, "user_id").map(UserId))
            .collect()
    }

    /// Members among `users`, in the order asked (unknown ids are simply absent).
    pub async fn members_by_ids(
        &self,
        access: &OrgAccess<need::AnyMember>,
        users: &[UserId],
    ) -> Result<Vec<Member>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (2..users.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "{MEMBER_SELECT} WHERE m.org_id = $1 AND m.deleted_at IS NULL AND m.user_id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(id(access.org()));
        for u in users {
            q = q.bind(id(*u));
        }
        let found: Vec<Member> = q
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .iter()
            .map(member_of)
            .collect::<Result<_>>()?;
        Ok(users
            .iter()
            .filter_map(|u| found.iter().find(|m| m.user.id == *u).cloned())
            .collect())
    }

    /// Live members per status, every base status listed.
    pub async fn status_summary(
        &self,
        access: &OrgAccess<need::AnyMember>,
    ) -> Result<Vec<(MemberStatus, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM memberships WHERE org_id = $1 AND deleted_at IS NULL GROUP BY status")
            .bind(id(access.org()))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut out: Vec<(MemberStatus, i64)> = MemberStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for r in rows {
            if let Some(s) = MemberStatus::parse(&str_of(&r, "status")?) {
                if let Some(slot) = out.iter_mut().find(|(x, _)| *x == s) {
                    slot.1 = i64_of(&r, "n")?;
                }
            }
        }
        Ok(out)
    }

    /// Adds an existing user directly (Owner/Admin or a platform key).
    pub async fn add_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        user: UserId,
        role: Option<RoleId>,
        status: Option<MemberStatus>,
    ) -> Result<Written<Member>> {
        let org = access.org();
        let role = role.unwrap_or(SystemRole::Member.id());
        let mut tx = self.begin(ctx).await?;
        require_user(&mut tx, user).await?;
        let r = crate::roles::fetch_assignable(tx.conn(), org, role).await?;
        self.may_change_holders(access.actor(), org, &r, true)?;
        insert_membership(
            &mut tx,
            org,
            user,
            role,
            status.unwrap_or(MemberStatus::Active),
        )
        .await?;
        let m = fetch_member(tx.conn(), org, MemberRef::User(user), false).await?;
        tx.audit(Some(org), "member.added", "member", user, None, json(&m));
        tx.commit(self, m).await
    }

    /// Changes a member's primary role and/or status (Admin or Owner).
    pub async fn update_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        who: MemberRef,
        role: Option<RoleId>,
        status: Option<MemberStatus>,
    ) -> Result<Written<Member>> {
        if role.is_none() && status.is_none() {
            return Err(Error::validation(
                "role_id",
                "at least one of role_id or status_id must be provided",
            ));
        }
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = fetch_member(tx.conn(), org, who, false).await?;
        let user = before.user.id;
        let designated_owner = crate::orgs::fetch_org(&mut tx, org).await?.owner_id == Some(user);
        if let Some(role) = role {
            let new_role = crate::roles::fetch_assignable(tx.conn(), org, role).await?;
            if role != before.role_id {
                if designated_owner {
                    return Err(Error::CannotChangeOwnerRole { user });
                }
                // The same rule as role assignment: Owner only by Owners, and
                // nobody hands out (or takes away) more than they hold.
                self.may_change_holders(access.actor(), org, &new_role, true)?;
                let old_role =
                    crate::roles::fetch_assignable(tx.conn(), org, before.role_id).await?;
                self.may_change_holders(access.actor(), org, &old_role, false)?;
                if before.role_id == SystemRole::Owner.id() && owner_count(&mut tx, org).await? <= 1
                {
                    return Err(Error::LastOwner {
                        org,
                        user,
                        role: before.role_id,
                    });
                }
                crate::roles::set_primary(&mut tx, org, user, role).await?;
            }
        }
        if let Some(status) = status {
            if status != MemberStatus::Active
                && (designated_owner || is_last_owner(&mut tx, org, user).await?)
            {
                return Err(Error::CannotDeactivateOwner { user });
            }
            if reactivates(before.status, status) {
                self.may_revive_roles(&mut tx, access.actor(), org, user, Primary::Kept)
                    .await?;
            }
        }
        sqlx::query(
            "UPDATE memberships SET status = COALESCE($1, status), updated_at = $2 WHERE org_id = $3 AND user_id = $4",
        )
        .bind(status.map(MemberStatus::as_str))
        .bind(now_micros())
        .bind(id(org))
        .bind(id(user))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let after = fetch_member(tx.conn(), org, MemberRef::User(user), false).await?;
        tx.audit(
            Some(org),
            "member.updated",
            "member",
            user,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Makes `role` the member's primary role. A member who holds it already
    /// is left unchanged (nothing written), but only after the same rules as a
    /// change: the Owner role only by Owners, nothing stronger than the
    /// caller's own. Any other role goes through [`Store::update_member`].
    pub async fn set_primary_role(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        who: MemberRef,
        role: RoleId,
    ) -> Result<Written<Member>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = fetch_member(tx.conn(), org, who, false).await?;
        let wanted = crate::roles::fetch_assignable(tx.conn(), org, role).await?;
        if before.role_id == role {
            // Nothing to change, once the rules of a change have passed.
            self.may_change_holders(access.actor(), org, &wanted, true)?;
            return tx.finish_read(self, before).await;
        }
        drop(tx);
        // A change: the designated owner's role first, then the caller's rights.
        self.update_member(ctx, access, who, Some(role), None).await
    }

    /// Soft-deletes a member (restorable); the owner cannot be deleted.
    pub async fn delete_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::RemoveUsers>,
        who: MemberRef,
    ) -> Result<Written<()>> {
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, access.org()).await?;
        soft_delete(&mut tx, access.org(), who).await?;
        tx.commit(self, ()).await
    }

    /// Soft-deletes many members; the owner and unknown ids are reported, not fatal.
    pub async fn delete_members_bulk(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::RemoveUsers>,
        who: &[(String, Option<MemberRef>)],
    ) -> Result<Written<Bulk>> {
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, access.org()).await?;
        let mut bulk = Bulk::default();
        for (raw, r) in who {
            let res = match r {
                Some(r) => soft_delete(&mut tx, access.org(), *r).await,
                None => Err(Error::MemberNotFound {
                    org: access.org(),
                    user: UserId(uuid::Uuid::nil()),
                }),
            };
            match res {
                Ok(()) => bulk.success_count += 1,
                Err(Error::CannotDeleteOwner { .. }) => bulk
                    .failed
                    .push((raw.clone(), "Cannot delete organization owner".into())),
                Err(Error::MemberNotFound { .. }) => {
                    bulk.failed.push((raw.clone(), "Member not found".into()))
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit(self, bulk).await
    }

    /// Restores a soft-deleted member. Their rows were kept, so they get
    /// back every role they held: their primary role and other assignments,
    /// their groups' roles, their departments' roles. The caller must be one
    /// who may give each ([`Store::may_revive_roles`]), else nothing is
    /// written.
    pub async fn restore_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::RemoveUsers>,
        who: MemberRef,
    ) -> Result<Written<Member>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with role assignments and bindings, group and
        // department membership and department moves, so the roles checked
        // below are the roles handed back.
        tx.lock_org(self.kind, org).await?;
        let m = fetch_member(tx.conn(), org, who, true).await?;
        if !m.deleted {
            return Err(Error::MemberNotDeleted(m.user.id));
        }
        self.may_revive_roles(&mut tx, access.actor(), org, m.user.id, Primary::Kept)
            .await?;
        sqlx::query("UPDATE memberships SET deleted_at = NULL, updated_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(id(m.id))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        let after = fetch_member(tx.conn(), org, MemberRef::User(m.user.id), false).await?;
        tx.audit(
            Some(org),
            "member.restored",
            "member",
            m.user.id,
            None,
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Sets the status of many members; owners are skipped when deactivating.
    pub async fn change_status_bulk(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        who: &[(String, Option<MemberRef>)],
        status: MemberStatus,
    ) -> Result<Written<Bulk>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let owner_id = crate::orgs::fetch_org(&mut tx, org).await?.owner_id;
        let mut bulk = Bulk::default();
        for (raw, r) in who {
            let m = match r {
                Some(r) => fetch_member(tx.conn(), org, *r, false).await,
                None => Err(Error::MemberNotFound {
                    org,
                    user: UserId(uuid::Uuid::nil()),
                }),
            };
            let m = match m {
                Ok(m) => m,
                Err(Error::MemberNotFound { .. }) => {
                    bulk.failed.push((raw.clone(), "Member not found".into()));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let protected = status != MemberStatus::Active
                && (owner_id == Some(m.user.id) || is_last_owner(&mut tx, org, m.user.id).await?);
            if protected {
                bulk.failed
                    .push((raw.clone(), "Cannot deactivate organization owner".into()));
                continue;
            }
            if reactivates(m.status, status) {
                match self
                    .may_revive_roles(&mut tx, access.actor(), org, m.user.id, Primary::Kept)
                    .await
                {
                    Ok(()) => {}
                    Err(Error::Escalation { .. } | Error::OwnerOnly) => {
                        bulk.failed.push((
                            raw.clone(),
                            "Cannot reactivate a member holding roles you may not grant".into(),
                        ));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            sqlx::query("UPDATE memberships SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(status.as_str())
                .bind(now_micros())
                .bind(id(m.id))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
            tx.audit(
                Some(org),
                "member.status_changed",
                "member",
                m.user.id,
                Some(serde_json::json!({"status": m.status})),
                Some(serde_json::json!({"status": status})),
            );
            bulk.success_count += 1;
        }
        tx.commit(self, bulk).await
    }
}

/// Whether a status change makes an inactive (or pending) member Active.
/// Only an Active membership counts for a decision, so that hands back
/// every role the member's rows give, as reviving a deleted membership
/// does, and is held to the same rule ([`Store::may_revive_roles`]).
/// Leaving Active takes them all away and, like a removal
/// ([`soft_delete`]), is not checked role by role.
fn reactivates(from: MemberStatus, to: MemberStatus) -> bool {
    from != MemberStatus::Active && to == MemberStatus::Active
}

/// Soft-deletes a membership, keeping its rows (departments, groups, roles)
/// for a restore.
///
/// The member loses every role they hold, those bound to their departments
/// included, with no `may_change_holders` check, unlike taking a member out
/// of a department: the right to remove users is the right to take a
/// member's access away (the owner excepted, below), whatever roles gave it,
/// and a removed member holds nothing, so no lifted denial grants anything
/// back either. Reviving the membership is what is checked
/// (`Store::may_revive_roles`).
pub(crate) async fn soft_delete(tx: &mut Tx, org: OrgId, who: MemberRef) -> Result<()> {
    let m = fetch_member(tx.conn(), org, who, false).await?;
    let user = m.user.id;
    let designated = crate::orgs::fetch_org(tx, org).await?.owner_id == Some(user);
    if designated || is_last_owner(tx, org, user).await? {
        return Err(Error::CannotDeleteOwner { user });
    }
    sqlx::query("UPDATE memberships SET deleted_at = $1, updated_at = $1 WHERE id = $2")
        .bind(now_micros())
        .bind(id(m.id))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
    tx.audit(Some(org), "member.deleted", "member", user, json(&m), None);
    Ok(())
}
