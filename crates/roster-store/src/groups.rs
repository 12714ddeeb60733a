//! Groups: named sets of organization members. Roles assigned to a group (at
//! organization or project scope) reach every member of the group.
//!
//! So adding a member to a group hands out every role assigned to the group,
//! and removing one takes them away: either is held to `may_change_holders`
//! for each of those roles, as assigning them to the member directly would
//! be, and as adding a member to a department is. Assigning a role to the
//! group (which hands it to every member) goes through `Store::assign`,
//! under the same rule.

use crate::db::{conflict, db_err, now_micros};
use crate::orgs::json;
use crate::projects::Chunk;
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::text::{bounded, name_key};
use roster_core::*;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub id: GroupId,
    pub org_id: OrgId,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A live organization member in a group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupMember {
    pub group_id: GroupId,
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub added_at: Timestamp,
}

fn group_of(row: &AnyRow) -> Result<Group> {
    Ok(Group {
        id: GroupId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        name: str_of(row, "name")?,
        created_at: ts_of(row, "created_at")?,
        updated_at: ts_of(row, "updated_at")?,
    })
}

const GROUP_COLS: &str = "id, org_id, name, created_at, updated_at";

pub(crate) async fn fetch_group(
    conn: &mut AnyConnection,
    org: OrgId,
    group: GroupId,
) -> Result<Group> {
    let row = sqlx::query(&format!(
        "SELECT {GROUP_COLS} FROM org_groups WHERE id = $1 AND org_id = $2"
    ))
    .bind(id(group))
    .bind(id(org))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::GroupNotFound(group))?;
    group_of(&row)
}

const MEMBER_SELECT: &str =
    "SELECT gm.group_id, gm.user_id, gm.added_at, u.email, u.full_name FROM group_members gm \
    JOIN memberships m ON m.org_id = gm.org_id AND m.user_id = gm.user_id AND m.deleted_at IS NULL \
    JOIN users u ON u.id = gm.user_id";

fn member_of(row: &AnyRow) -> Result<GroupMember> {
    Ok(GroupMember {
        group_id: GroupId(uuid_of(row, "group_id")?),
        user_id: UserId(uuid_of(row, "user_id")?),
        email: str_of(row, "email")?,
        name: opt_str_of(row, "full_name")?,
        added_at: ts_of(row, "added_at")?,
    })
}

async fn fetch_member(
    conn: &mut AnyConnection,
    org: OrgId,
    group: GroupId,
    user: UserId,
) -> Result<GroupMember> {
    let row = sqlx::query(&format!(
        "{MEMBER_SELECT} WHERE gm.group_id = $1 AND gm.user_id = $2 AND gm.org_id = $3"
    ))
    .bind(id(group))
    .bind(id(user))
    .bind(id(org))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?
    .ok_or(Error::GroupMemberNotFound { group, user })?;
    member_of(&row)
}

/// The roles assigned to `group`, at every scope (organization and projects):
/// what a member of the group holds through it.
async fn group_roles(
    conn: &mut AnyConnection,
    org: OrgId,
    group: GroupId,
) -> Result<BTreeSet<RoleId>> {
    let q = sqlx::query(
        "SELECT DISTINCT role_id FROM role_assignments \
         WHERE org_id = $1 AND principal_type = 'group' AND principal_id = $2",
    )
    .bind(id(org))
    .bind(id(group));
    crate::roles::role_ids(conn, q).await
}

/// Whether the group has any member rows (a soft-deleted membership of the
/// organization keeps its rows, which reviving it hands back): whether
/// taking the group's roles away takes them from anyone.
pub(crate) async fn has_members(
    conn: &mut AnyConnection,
    org: OrgId,
    group: GroupId,
) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM group_members WHERE org_id = $1 AND group_id = $2 LIMIT 1",
    )
    .bind(id(org))
    .bind(id(group))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(row.is_some())
}

/// The roles `user` holds through the groups they are in, at every scope,
/// whether or not their membership of the organization is live (a
/// soft-deleted one keeps its group rows): what reviving it hands back
/// through groups (see `Store::may_revive_roles`).
pub(crate) async fn member_group_roles(
    conn: &mut AnyConnection,
    org: OrgId,
    user: UserId,
) -> Result<BTreeSet<RoleId>> {
    let q = sqlx::query(
        "SELECT DISTINCT a.role_id FROM role_assignments a JOIN group_members gm \
         ON gm.group_id = a.principal_id AND gm.org_id = a.org_id \
         WHERE a.org_id = $1 AND a.principal_type = 'group' AND gm.user_id = $2",
    )
    .bind(id(org))
    .bind(id(user));
    crate::roles::role_ids(conn, q).await
}

/// `ORDER BY` direction and cursor comparison for id-ordered lists.
pub(crate) fn direction(desc: bool) -> (&'static str, &'static str) {
    if desc {
        ("<", "DESC")
    } else {
        (">", "ASC")
    }
}

impl Store {
    /// The organization's groups in id (creation) order, or reversed.
    pub async fn list_groups(
        &self,
        access: &OrgAccess<need::AnyMember>,
        after: Option<GroupId>,
        limit: i64,
        desc: bool,
    ) -> Result<Chunk<Group>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let (cmp, order) = direction(desc);
        let sql = match after {
            Some(_) => format!(
                "SELECT {GROUP_COLS} FROM org_groups WHERE org_id = $1 AND id {cmp} $2 ORDER BY id {order} LIMIT $3"
            ),
            None => format!(
                "SELECT {GROUP_COLS} FROM org_groups WHERE org_id = $1 ORDER BY id {order} LIMIT $2"
            ),
        };
        let mut q = sqlx::query(&sql).bind(id(access.org()));
        if let Some(a) = after {
            q = q.bind(id(a));
        }
        let rows = q
            .bind(limit + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let items = rows.iter().map(group_of).collect::<Result<Vec<_>>>()?;
        Ok(Chunk::of(items, limit))
    }

    pub async fn get_group(
        &self,
        access: &OrgAccess<need::AnyMember>,
        group: GroupId,
    ) -> Result<Group> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_group(&mut conn, access.org(), group).await
    }

    /// Creates a group; names are unique in the organization (case-insensitively).
    pub async fn create_group(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageGroups>,
        name: &str,
    ) -> Result<Written<Group>> {
        let org = access.org();
        let name = bounded("name", name, 1, 255)?;
        let mut tx = self.begin(ctx).await?;
        let gid = GroupId::new();
        let now = now_micros();
        sqlx::query(
            "INSERT INTO org_groups (id, org_id, name, name_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id(gid))
        .bind(id(org))
        .bind(&name)
        .bind(name_key(&name))
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::GroupNameTaken(name.clone())))?;
        let g = fetch_group(tx.conn(), org, gid).await?;
        tx.audit(Some(org), "group.created", "group", gid, None, json(&g));
        tx.commit(self, g).await
    }

    pub async fn rename_group(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageGroups>,
        group: GroupId,
        name: &str,
    ) -> Result<Written<Group>> {
        let org = access.org();
        let name = bounded("name", name, 1, 255)?;
        let mut tx = self.begin(ctx).await?;
        let before = fetch_group(tx.conn(), org, group).await?;
        sqlx::query(
            "UPDATE org_groups SET name = $1, name_key = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(&name)
        .bind(name_key(&name))
        .bind(now_micros())
        .bind(id(group))
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::GroupNameTaken(name.clone())))?;
        let after = fetch_group(tx.conn(), org, group).await?;
        tx.audit(
            Some(org),
            "group.updated",
            "group",
            group,
            json(&before),
            json(&after),
        );
        tx.commit(self, after).await
    }

    /// Deletes a group with its memberships, project attachments and every
    /// role assigned to it. That takes each of those roles away from every
    /// member, so only a caller who may take each of them away
    /// ([`Store::may_change_holders`]; the Owner role only by Owners) deletes
    /// a group that has members: otherwise `Escalation` / `OwnerOnly`, and
    /// nothing is written. A group with no members takes nothing from anyone
    /// and is deleted by anyone who manages groups.
    pub async fn delete_group(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageGroups>,
        group: GroupId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = fetch_group(tx.conn(), org, group).await?;
        // Deleting the group takes every role assigned to it, at every scope,
        // away from each of its members; the organization is locked, so these
        // are the roles taken away. A group with no members takes nothing
        // from anyone, so deleting it is not checked.
        if has_members(tx.conn(), org, group).await? {
            let roles = group_roles(tx.conn(), org, group).await?;
            self.may_change_holders_of(&mut tx, access.actor(), org, &roles, false)
                .await?;
        }
        for sql in [
            "DELETE FROM group_members WHERE group_id = $1 AND org_id = $2",
            "DELETE FROM project_groups WHERE group_id = $1 AND org_id = $2",
            "DELETE FROM role_assignments WHERE org_id = $2 AND principal_type = 'group' AND principal_id = $1",
            "DELETE FROM org_groups WHERE id = $1 AND org_id = $2",
        ] {
            sqlx::query(sql)
                .bind(id(group))
                .bind(id(org))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
        }
        tx.audit(
            Some(org),
            "group.deleted",
            "group",
            group,
            json(&before),
            None,
        );
        tx.commit(self, ()).await
    }

    /// The group's live members in user-id order, or reversed.
    pub async fn list_group_members(
        &self,
        access: &OrgAccess<need::AnyMember>,
        group: GroupId,
        after: Option<UserId>,
        limit: i64,
        desc: bool,
    ) -> Result<Chunk<GroupMember>> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_group(&mut conn, org, group).await?;
        let (cmp, order) = direction(desc);
        let sql = match after {
            Some(_) => format!(
                "{MEMBER_SELECT} WHERE gm.group_id = $1 AND gm.org_id = $2 AND gm.user_id {cmp} $3 ORDER BY gm.user_id {order} LIMIT $4"
            ),
            None => format!(
                "{MEMBER_SELECT} WHERE gm.group_id = $1 AND gm.org_id = $2 ORDER BY gm.user_id {order} LIMIT $3"
            ),
        };
        let mut q = sqlx::query(&sql).bind(id(group)).bind(id(org));
        if let Some(a) = after {
            q = q.bind(id(a));
        }
        let rows = q
            .bind(limit + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        let items = rows.iter().map(member_of).collect::<Result<Vec<_>>>()?;
        Ok(Chunk::of(items, limit))
    }

    pub async fn get_group_member(
        &self,
        access: &OrgAccess<need::AnyMember>,
        group: GroupId,
        user: UserId,
    ) -> Result<GroupMember> {
        let org = access.org();
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        fetch_group(&mut conn, org, group).await?;
        fetch_member(&mut conn, org, group, user).await
    }

    /// Adds a live (Active or Pending) member to a group (once). The member
    /// gains every role assigned to the group, so the caller must be one who
    /// may hand out each of them (else `Escalation` or `OwnerOnly`, and
    /// nothing is written).
    pub async fn add_group_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageGroups>,
        group: GroupId,
        user: UserId,
    ) -> Result<Written<GroupMember>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with group deletion, so no member lands in a deleted
        // group, and with role assignments, so the roles checked below are
        // the roles handed out.
        let member = tx.lock_org_for_member(self.kind, org, user).await?;
        fetch_group(tx.conn(), org, group).await?;
        member.require(org, user)?;
        match fetch_member(tx.conn(), org, group, user).await {
            Ok(_) => return Err(Error::GroupMemberDuplicate { group, user }),
            Err(Error::GroupMemberNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let roles = group_roles(tx.conn(), org, group).await?;
        self.may_change_holders_of(&mut tx, access.actor(), org, &roles, true)
            .await?;
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, org_id, added_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id(group))
        .bind(id(user))
        .bind(id(org))
        .bind(now_micros())
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::GroupMemberDuplicate { group, user }))?;
        let m = fetch_member(tx.conn(), org, group, user).await?;
        tx.audit(
            Some(org),
            "group.member_added",
            "group",
            group,
            None,
            Some(serde_json::json!({"user_id": user})),
        );
        tx.commit(self, m).await
    }

    /// Removes a user from a group; they stay a member of the organization.
    /// They lose every role assigned to the group, so the caller must be one
    /// who may take each of them away (else `Escalation` or `OwnerOnly`, and
    /// nothing is written).
    pub async fn remove_group_member(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::ManageGroups>,
        group: GroupId,
        user: UserId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        // Serializes with role assignments, so the roles checked below are
        // the roles taken away.
        tx.lock_org(self.kind, org).await?;
        fetch_group(tx.conn(), org, group).await?;
        fetch_member(tx.conn(), org, group, user).await?;
        let roles = group_roles(tx.conn(), org, group).await?;
        self.may_change_holders_of(&mut tx, access.actor(), org, &roles, false)
            .await?;
        sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(id(group))
            .bind(id(user))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        tx.audit(
            Some(org),
            "group.member_removed",
            "group",
            group,
            Some(serde_json::json!({"user_id": user})),
            None,
        );
        tx.commit(self, ()).await
    }
}
