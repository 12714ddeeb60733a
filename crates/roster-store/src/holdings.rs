//! Reads of who holds which organization role, and of invitations still
//! waiting for their person to sign up.

use crate::db::{db_err, now_micros};
use crate::rows::*;
use crate::Store;
use roster_core::access::need;
use roster_core::*;

use crate::roles::ASSIGNMENT_COLS;

/// An invitation whose email has no user yet (a pending signup).
#[derive(Debug, Clone)]
pub struct Invitee {
    pub invitation: InvitationId,
    pub email: String,
    pub role_id: RoleId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Store {
    /// Every organization-scope role assignment of a user in the
    /// organization: each user's primary role first, then the others oldest first.
    pub async fn org_role_holdings(
        &self,
        access: &OrgAccess<need::AnyMember>,
    ) -> Result<Vec<Assignment>> {
        let rows = sqlx::query(&format!(
            "SELECT {ASSIGNMENT_COLS} FROM role_assignments a WHERE a.org_id = $1 AND a.principal_type = 'user' \
             AND a.scope_type = 'organization' ORDER BY a.principal_id, a.is_primary DESC, a.created_at, a.id"
        ))
        .bind(id(access.org()))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(crate::load::assignment_of).collect()
    }

    /// A live member's primary role assignment.
    pub async fn primary_assignment(
        &self,
        access: &OrgAccess<need::AnyMember>,
        user: UserId,
    ) -> Result<Assignment> {
        let org = access.org();
        let row = sqlx::query(&format!(
            "SELECT {ASSIGNMENT_COLS} FROM role_assignments a JOIN memberships m ON m.org_id = a.org_id \
             AND m.user_id = a.principal_id WHERE a.org_id = $1 AND a.principal_type = 'user' \
             AND a.principal_id = $2 AND a.is_primary AND m.deleted_at IS NULL"
        ))
        .bind(id(org))
        .bind(id(user))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(Error::MemberNotFound { org, user })?;
        crate::load::assignment_of(&row)
    }

    /// Pending, unexpired invitations of the organization whose email has no
    /// user yet, oldest first. (An invited email that has a user already
    /// shows as a Pending member.)
    pub async fn pending_invitees(
        &self,
        access: &OrgAccess<need::AnyMember>,
    ) -> Result<Vec<Invitee>> {
        let rows = sqlx::query(
            "SELECT i.id, i.email, i.role_id, i.created_at, i.updated_at FROM invitations i \
             WHERE i.org_id = $1 AND i.state = $2 AND i.expires_at > $3 \
             AND NOT EXISTS (SELECT 1 FROM users u WHERE u.email_key = i.email_key) \
             ORDER BY i.created_at, i.id",
        )
        .bind(id(access.org()))
        .bind(InvitationState::Pending.as_str())
        .bind(now_micros())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(Invitee {
                    invitation: InvitationId(uuid_of(r, "id")?),
                    email: str_of(r, "email")?,
                    role_id: RoleId(uuid_of(r, "role_id")?),
                    created_at: ts_of(r, "created_at")?,
                    updated_at: ts_of(r, "updated_at")?,
                })
            })
            .collect()
    }
}
