//! Roles and role assignments.

use crate::db::{conflict, db_err, now_micros, Tx};
use crate::load::{principal_cols, scope_cols};
use crate::rows::*;
use roster_core::*;

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
            Principal::Group(_) => Error::AssignmentDuplicate { org, user: UserId(uuid::Uuid::nil()), role },
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
