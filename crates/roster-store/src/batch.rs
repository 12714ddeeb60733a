//! All-or-nothing batches of membership changes: every entry is checked and
//! written in one transaction, and the first refusal rolls back the whole batch.

use crate::db::db_err;
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::*;

impl Store {
    /// Makes each `(user, role)` an Active member with that primary role
    /// (Admin or Owner, under the usual role-granting rules). A user who is
    /// already a live, non-Pending member is left unchanged; a Pending
    /// (invited) or removed membership is activated with the role. Returns the
    /// users in the order given.
    pub async fn add_members_strict(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        entries: &[(UserId, RoleId)],
    ) -> Result<Written<Vec<UserId>>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let mut added = Vec::with_capacity(entries.len());
        let mut changed = false;
        for &(user, role) in entries {
            crate::members::require_user(&mut tx, user).await?;
            let r = crate::roles::fetch_assignable(tx.conn(), org, role).await?;
            self.may_change_holders(access.actor(), org, &r, true)?;
            let row = sqlx::query(
                "SELECT status, deleted_at FROM memberships WHERE org_id = $1 AND user_id = $2",
            )
            .bind(id(org))
            .bind(id(user))
            .fetch_optional(tx.conn())
            .await
            .map_err(db_err)?;
            let settled = match &row {
                Some(r) => {
                    opt_ts_of(r, "deleted_at")?.is_none()
                        && str_of(r, "status")? != MemberStatus::Pending.as_str()
                }
                None => false,
            };
            if !settled {
                changed = true;
                crate::invitations::join(&mut tx, org, user, role, MemberStatus::Active).await?;
                tx.audit(
                    Some(org),
                    "member.added",
                    "member",
                    user,
                    None,
                    Some(serde_json::json!({"status": MemberStatus::Active, "role_id": role.to_string()})),
                );
            }
            added.push(user);
        }
        if !changed {
            // Everyone was a member already: nothing to write, no revision.
            return Ok(Written {
                value: added,
                revision: self.revision(),
            });
        }
        tx.commit(self, added).await
    }

    /// Removes (soft-deletes) every listed member, or none: an unknown user,
    /// a non-member or the organization's owner refuses the whole batch.
    pub async fn remove_members_strict(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::RemoveUsers>,
        users: &[UserId],
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let mut seen = std::collections::BTreeSet::new();
        for &user in users {
            if seen.insert(user) {
                crate::members::soft_delete(&mut tx, org, crate::members::MemberRef::User(user))
                    .await?;
            }
        }
        tx.commit(self, ()).await
    }
}
