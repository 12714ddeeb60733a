//! All-or-nothing batches of membership changes: every entry is checked and
//! written in one transaction, and the first refusal rolls back the whole batch.

use crate::db::{db_err, now_micros, Tx};
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::text::Email;
use roster_core::*;

/// Who an entry of [`Store::add_members_batch`] adds.
#[derive(Debug, Clone)]
pub enum Addee {
    /// An existing user, made a member.
    User(UserId),
    /// An email without a user, invited.
    Email(Email),
}

/// One entry of [`Store::add_members_batch`].
#[derive(Debug, Clone)]
pub struct AddEntry {
    pub who: Addee,
    /// The organization role (the member's primary role, or the invitation's).
    pub role: RoleId,
    /// Projects a user joins (ignored for invitations).
    pub projects: Vec<ProjectId>,
}

fn forbidden(needed: &str) -> Error {
    Error::Forbidden {
        needed: needed.to_owned(),
    }
}

/// True when the organization holds a pending, unexpired invitation for the
/// email (normalized).
async fn pending_invitation(
    conn: &mut sqlx::AnyConnection,
    org: OrgId,
    email_key: &str,
) -> Result<bool> {
    let row = sqlx::query(
        "SELECT id FROM invitations WHERE org_id = $1 AND email_key = $2 AND state = $3 AND expires_at > $4",
    )
    .bind(id(org))
    .bind(email_key)
    .bind(InvitationState::Pending.as_str())
    .bind(now_micros())
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    Ok(row.is_some())
}

impl Store {
    /// Adds a batch of people in one transaction, all or none (Admin or
    /// Owner, under the usual role-granting rules):
    /// - a [`Addee::User`] becomes an Active member with the entry's primary
    ///   role; one already a live, non-Pending member is left unchanged, a
    ///   Pending (invited) or removed membership is activated with the role
    ///   (a removed one only if the caller may give back every other role
    ///   it held: its other assignments, its groups' and its departments'
    ///   roles, see [`Store::may_revive_roles`]);
    ///   then the user becomes a member of each of the entry's projects with
    ///   `project_role` (a project they are in already is left as is);
    /// - an [`Addee::Email`] is invited with the entry's role as
    ///   [`Store::invite`] does, unless a pending invitation for that email
    ///   exists (it is kept); its projects are ignored.
    ///
    /// Invitations need `invites`, project memberships `projects` (else
    /// `Forbidden`). The first refusal anywhere rolls everything back; a batch
    /// that changes nothing writes nothing.
    pub async fn add_members_batch(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::Admin>,
        invites: Option<&OrgAccess<need::InviteUsers>>,
        projects: Option<&OrgAccess<need::ManageProjects>>,
        project_role: RoleId,
        entries: &[AddEntry],
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let mut changed = false;
        // Members first, so that project memberships find them.
        for e in entries {
            let Addee::User(user) = e.who else { continue };
            changed |= self.join_active(&mut tx, access, user, e.role).await?;
        }
        for e in entries {
            let Addee::User(user) = e.who else { continue };
            for &project in &e.projects {
                let pa = projects.ok_or_else(|| forbidden("api.organization.projects.write"))?;
                // An archived or unknown project refuses the batch even
                // for a user who is in it already.
                crate::projects::writable_project(tx.conn(), org, project).await?;
                if crate::projects::in_project(tx.conn(), org, project, user).await? {
                    continue;
                }
                self.add_project_member_in(&mut tx, pa.actor(), org, project, user, project_role)
                    .await?;
                changed = true;
            }
        }
        for e in entries {
            let Addee::Email(email) = &e.who else {
                continue;
            };
            let ia = invites.ok_or_else(|| forbidden("invite_users"))?;
            if pending_invitation(tx.conn(), org, &email.normalized()).await? {
                // The same rule as a new invitation: the role must be grantable.
                crate::keys::require_grantable(self, &mut tx, ia.actor(), org, e.role).await?;
                continue;
            }
            self.invite_in(&mut tx, ia.actor(), org, email.clone(), e.role, &[])
                .await?;
            changed = true;
        }
        if !changed {
            // Everyone was there already: nothing to write, no new revision.
            return tx.finish_read(self, ()).await;
        }
        tx.commit(self, ()).await
    }

    /// Makes `user` an Active member with `role` unless they are one already;
    /// true when something was written.
    async fn join_active(
        &self,
        tx: &mut Tx,
        access: &OrgAccess<need::Admin>,
        user: UserId,
        role: RoleId,
    ) -> Result<bool> {
        let org = access.org();
        crate::members::require_user(tx, user).await?;
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
        if settled {
            return Ok(false);
        }
        self.join(tx, access.actor(), org, user, role, MemberStatus::Active)
            .await?;
        tx.audit(
            Some(org),
            "member.added",
            "member",
            user,
            None,
            Some(serde_json::json!({"status": MemberStatus::Active, "role_id": role.to_string()})),
        );
        Ok(true)
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
