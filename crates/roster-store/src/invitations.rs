//! Invitations: an email invited into an organization with a role, answered
//! through a random key (the link's `email_key`) of which only a hash is kept.
//!
//! Lifecycle: pending → accepted | cancelled, and a pending invitation past its
//! date reads as expired. An email that already has a user gets a Pending
//! membership at once (so it shows in member lists), made Active when that
//! user accepts and removed when the invitation is cancelled. An email
//! without a user gets a reserved user id, under which `complete` creates the
//! user: the id an invitation reports is the id the person will have.
//!
//! An invitation may also name projects, each with a project role: accepting
//! it (by either path, `accept` or `complete`) adds the new member to those
//! projects in the same transaction. A project deleted or archived (or a
//! custom role deleted) since the invitation was sent is skipped then, and a
//! project the user already belongs to keeps its membership.

use crate::auth::{hash_secret, new_secret, SESSION_SECONDS};
use crate::db::{conflict, db_err, now_micros, Tx};
use crate::members::{insert_membership, Bulk, MemberRef, Primary};
use crate::rows::*;
use crate::{Ctx, Store, Written};
use roster_core::access::need;
use roster_core::text::{bounded, Email};
use roster_core::*;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, BTreeSet};

/// How long an invitation stays valid.
pub const INVITATION_DAYS: i64 = 7;
const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

pub(crate) const INV_SELECT: &str =
    "SELECT i.id, i.org_id, i.email, i.email_key, i.role_id, i.user_id, i.state, \
    i.expires_at, i.created_at, o.name AS org_name FROM invitations i \
    JOIN organizations o ON o.id = i.org_id AND o.deleted_at IS NULL";

pub(crate) fn invitation_of(row: &AnyRow) -> Result<Invitation> {
    let raw = str_of(row, "state")?;
    let state = InvitationState::parse(&raw)
        .ok_or_else(|| Error::internal(std::io::Error::other(format!("invitation state {raw}"))))?;
    let expires = i64_of(row, "expires_at")?;
    let state = if state == InvitationState::Pending && expires <= now_micros() {
        InvitationState::Expired
    } else {
        state
    };
    Ok(Invitation {
        id: InvitationId(uuid_of(row, "id")?),
        org_id: OrgId(uuid_of(row, "org_id")?),
        email: str_of(row, "email")?,
        role_id: RoleId(uuid_of(row, "role_id")?),
        user_id: opt_uuid_of(row, "user_id")?.map(UserId),
        state,
        expires_at: ts(expires),
        created_at: ts_of(row, "created_at")?,
    })
}

/// What an audit event records of an invitation (never its key).
fn audit_json(i: &Invitation) -> serde_json::Value {
    json!({
        "email": i.email,
        "role_id": i.role_id.to_string(),
        "user_id": i.user_id.map(|u| u.to_string()),
        "state": i.state.as_str(),
        "expires_at": i.expires_at,
    })
}

/// Only a pending invitation can be answered.
fn require_pending(i: &Invitation) -> Result<()> {
    match i.state {
        InvitationState::Pending => Ok(()),
        s => Err(Error::InvitationNotPending(s.as_str())),
    }
}

/// A new invitation, with the key its link carries (shown once).
#[derive(Debug, Clone)]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    pub key: String,
    /// The projects accepting it joins.
    pub projects: Vec<InvitedProject>,
}

/// A project an invitation adds its invitee to on acceptance, with the
/// project role (a project system role or a custom project role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitedProject {
    pub project_id: ProjectId,
    pub role_id: RoleId,
}

fn invited_project_of(row: &AnyRow) -> Result<InvitedProject> {
    Ok(InvitedProject {
        project_id: ProjectId(uuid_of(row, "project_id")?),
        role_id: RoleId(uuid_of(row, "role_id")?),
    })
}

/// The projects an invitation names, in project-id order.
async fn invited_projects(
    conn: &mut AnyConnection,
    inv: InvitationId,
) -> Result<Vec<InvitedProject>> {
    let rows = sqlx::query(
        "SELECT project_id, role_id FROM invitation_projects WHERE invitation_id = $1 ORDER BY project_id",
    )
    .bind(id(inv))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter().map(invited_project_of).collect()
}

/// Adds the user who accepted `inv` to the projects it names. Projects gone
/// or archived since, and roles gone or no longer fitting, are skipped; a
/// project the user is already in keeps its membership.
async fn join_invited_projects(
    tx: &mut Tx,
    org: OrgId,
    inv: InvitationId,
    user: UserId,
) -> Result<()> {
    for p in invited_projects(tx.conn(), inv).await? {
        match crate::projects::fetch_project(tx.conn(), org, p.project_id).await {
            Ok(project) if !project.is_archived() => {}
            Ok(_) | Err(Error::ProjectNotFound(_)) => continue,
            Err(e) => return Err(e),
        }
        match crate::roles::fetch_role_for_scope(
            tx.conn(),
            org,
            p.role_id,
            Scope::Project(p.project_id),
        )
        .await
        {
            Ok(_) => {}
            Err(Error::RoleNotFound(_) | Error::RoleScopeMismatch(_)) => continue,
            Err(e) => return Err(e),
        }
        if crate::projects::in_project(tx.conn(), org, p.project_id, user).await? {
            continue;
        }
        crate::projects::insert_project_member(tx, org, p.project_id, user, p.role_id).await?;
    }
    Ok(())
}

/// How an invitation is looked up inside its organization.
#[derive(Debug, Clone)]
pub enum InvitationLookup {
    Id(InvitationId),
    User(UserId),
    Email(String),
}

/// What the holder of an invitation key may learn about it.
#[derive(Debug, Clone)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub org_name: String,
    pub role_name: String,
    /// Whether the email already has a user (then accept, else complete).
    pub user_exists: bool,
}

/// An accepted invitation and the membership it activated.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub invitation: Invitation,
    pub org_name: String,
    pub membership: MembershipId,
}

/// A user created from an invitation, signed in.
#[derive(Debug, Clone)]
pub struct Completed {
    pub user: User,
    pub org_id: OrgId,
    pub token: String,
    pub expires_in: i64,
}

/// The username suggested for an email: its local part, reduced to `a-z0-9._-`.
pub fn recommended_username(email: &str) -> String {
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    let name: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(30)
        .collect();
    if name.is_empty() {
        "user".to_owned()
    } else {
        name
    }
}

/// A user's membership row in an organization, if any.
enum Existing {
    None,
    Live {
        id: MembershipId,
        status: MemberStatus,
    },
    Deleted {
        id: MembershipId,
    },
}

async fn membership_state(tx: &mut Tx, org: OrgId, user: UserId) -> Result<Existing> {
    let row = sqlx::query(
        "SELECT id, status, deleted_at FROM memberships WHERE org_id = $1 AND user_id = $2",
    )
    .bind(id(org))
    .bind(id(user))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(Existing::None);
    };
    let mid = MembershipId(uuid_of(&row, "id")?);
    if opt_ts_of(&row, "deleted_at")?.is_some() {
        return Ok(Existing::Deleted { id: mid });
    }
    let status = MemberStatus::parse(&str_of(&row, "status")?).unwrap_or(MemberStatus::Inactive);
    Ok(Existing::Live { id: mid, status })
}

/// Sets a membership's status (undeleting it) and its primary role.
async fn reset_membership(
    tx: &mut Tx,
    org: OrgId,
    user: UserId,
    mid: MembershipId,
    status: MemberStatus,
    role: RoleId,
) -> Result<()> {
    sqlx::query(
        "UPDATE memberships SET status = $1, deleted_at = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(now_micros())
    .bind(id(mid))
    .execute(tx.conn())
    .await
    .map_err(db_err)?;
    crate::roles::set_primary(tx, org, user, role).await
}

async fn find_by_key(conn: &mut AnyConnection, key: &str) -> Result<(Invitation, String)> {
    let row = sqlx::query(&format!("{INV_SELECT} WHERE i.token_hash = $1"))
        .bind(hash_secret(key.trim()))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or(Error::InvitationNotFound)?;
    Ok((invitation_of(&row)?, str_of(&row, "org_name")?))
}

async fn find_in_org(tx: &mut Tx, org: OrgId, inv: InvitationId) -> Result<Invitation> {
    let row = sqlx::query(&format!("{INV_SELECT} WHERE i.id = $1 AND i.org_id = $2"))
        .bind(id(inv))
        .bind(id(org))
        .fetch_optional(tx.conn())
        .await
        .map_err(db_err)?
        .ok_or(Error::InvitationNotFound)?;
    invitation_of(&row)
}

async fn user_by_email_key(conn: &mut AnyConnection, email_key: &str) -> Result<Option<UserId>> {
    let row = sqlx::query("SELECT id FROM users WHERE email_key = $1")
        .bind(email_key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.map(|r| uuid_of(&r, "id").map(UserId)).transpose()
}

async fn role_name(conn: &mut AnyConnection, role: RoleId) -> Result<String> {
    if let Some(sys) = role.system() {
        return Ok(sys.name().to_owned());
    }
    let row = sqlx::query("SELECT name FROM roles WHERE id = $1")
        .bind(id(role))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    row.map(|r| str_of(&r, "name"))
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Marks a pending invitation accepted by `user`; losing a race to another
/// answer refuses instead of answering twice.
async fn mark_accepted(tx: &mut Tx, inv: InvitationId, user: UserId) -> Result<()> {
    let done = sqlx::query(
        "UPDATE invitations SET state = $1, user_id = $2, updated_at = $3 WHERE id = $4 AND state = $5",
    )
    .bind(InvitationState::Accepted.as_str())
    .bind(id(user))
    .bind(now_micros())
    .bind(id(inv))
    .bind(InvitationState::Pending.as_str())
    .execute(tx.conn())
    .await
    .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(Error::InvitationNotPending(
            InvitationState::Accepted.as_str(),
        ));
    }
    Ok(())
}

impl Store {
    /// Makes `user` a member of `org` with `role` and `status`, reusing a
    /// Pending or soft-deleted membership; a live non-Pending one is a
    /// conflict. `role` replaces the primary role; the caller has held
    /// `actor` to it already (or it is the role an invitation carries).
    /// Reviving a soft-deleted membership hands back every other role the
    /// member held (their other assignments, their groups' and their
    /// departments' roles), so `actor` must be one who may give each
    /// ([`Store::may_revive_roles`]). The caller has locked the
    /// organization.
    pub(crate) async fn join(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: OrgId,
        user: UserId,
        role: RoleId,
        status: MemberStatus,
    ) -> Result<MembershipId> {
        match membership_state(tx, org, user).await? {
            Existing::None => insert_membership(tx, org, user, role, status).await,
            Existing::Live {
                id: mid,
                status: MemberStatus::Pending,
            } => {
                reset_membership(tx, org, user, mid, status, role).await?;
                Ok(mid)
            }
            Existing::Deleted { id: mid } => {
                self.may_revive_roles(tx, actor, org, user, Primary::Replaced(role))
                    .await?;
                reset_membership(tx, org, user, mid, status, role).await?;
                Ok(mid)
            }
            Existing::Live { .. } => Err(Error::AlreadyMember(user)),
        }
    }

    /// Invites `email` into the organization with `role`.
    pub async fn invite(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::InviteUsers>,
        email: Email,
        role: RoleId,
    ) -> Result<Written<CreatedInvitation>> {
        self.invite_with_projects(ctx, access, email, role, &[])
            .await
    }

    /// Invites `email` into the organization with `role` and, once accepted,
    /// into `projects` with their project roles. Naming projects also needs
    /// the right to manage projects (as adding project members does), and
    /// each must be a live project of the organization with a project role
    /// the caller may hand out; any refusal refuses the whole invitation.
    pub async fn invite_with_projects(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::InviteUsers>,
        email: Email,
        role: RoleId,
        projects: &[InvitedProject],
    ) -> Result<Written<CreatedInvitation>> {
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, access.org()).await?;
        let created = self
            .invite_in(&mut tx, access.actor(), access.org(), email, role, projects)
            .await?;
        tx.commit(self, created).await
    }

    /// [`Store::invite_with_projects`] inside the caller's transaction (the
    /// organization locked), for batches that must be written all or none.
    pub(crate) async fn invite_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: OrgId,
        email: Email,
        role: RoleId,
        projects: &[InvitedProject],
    ) -> Result<CreatedInvitation> {
        let email_key = email.normalized();
        crate::keys::require_grantable(self, tx, actor, org, role).await?;
        self.check_invited_projects(tx, actor, org, projects)
            .await?;
        let existing = user_by_email_key(tx.conn(), &email_key).await?;
        if let Some(user) = existing {
            if let Existing::Live { status, .. } = membership_state(tx, org, user).await? {
                if status != MemberStatus::Pending {
                    return Err(Error::AlreadyMemberEmail(email.as_str().to_owned()));
                }
            }
        }
        let now = now_micros();
        // A pending invitation past its date no longer holds the email's slot.
        sqlx::query(
            "UPDATE invitations SET state = $1, updated_at = $2 WHERE org_id = $3 AND email_key = $4 \
             AND state = $5 AND expires_at <= $6",
        )
        .bind(InvitationState::Expired.as_str())
        .bind(now)
        .bind(id(org))
        .bind(&email_key)
        .bind(InvitationState::Pending.as_str())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let key = new_secret("ik_");
        let invitation = Invitation {
            id: InvitationId::new(),
            org_id: org,
            email: email.as_str().to_owned(),
            role_id: role,
            user_id: Some(existing.unwrap_or_else(UserId::new)),
            state: InvitationState::Pending,
            expires_at: ts(now + INVITATION_DAYS * DAY_MICROS),
            created_at: ts(now),
        };
        sqlx::query(
            "INSERT INTO invitations (id, org_id, email, email_key, role_id, user_id, token_hash, state, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(id(invitation.id))
        .bind(id(org))
        .bind(&invitation.email)
        .bind(&email_key)
        .bind(id(role))
        .bind(invitation.user_id.map(id))
        .bind(hash_secret(&key))
        .bind(InvitationState::Pending.as_str())
        .bind(now + INVITATION_DAYS * DAY_MICROS)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::InvitationDuplicate(invitation.email.clone())))?;
        for p in projects {
            sqlx::query(
                "INSERT INTO invitation_projects (invitation_id, project_id, role_id, org_id) VALUES ($1, $2, $3, $4)",
            )
            .bind(id(invitation.id))
            .bind(id(p.project_id))
            .bind(id(p.role_id))
            .bind(id(org))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        }
        let mut projects = projects.to_vec();
        projects.sort_by_key(|p| p.project_id);
        if let Some(user) = existing {
            // A soft-deleted membership comes back (Pending) here, under
            // the inviter's rights.
            self.join(tx, actor, org, user, role, MemberStatus::Pending)
                .await?;
            tx.audit(
                Some(org),
                "member.invited",
                "member",
                user,
                None,
                Some(json!({"status": MemberStatus::Pending, "role_id": role.to_string()})),
            );
        }
        let mut data = audit_json(&invitation);
        if !projects.is_empty() {
            data["projects"] = json!(projects
                .iter()
                .map(|p| json!({"project_id": p.project_id.to_string(), "role_id": p.role_id.to_string()}))
                .collect::<Vec<_>>());
        }
        tx.audit(
            Some(org),
            "invitation.created",
            "invitation",
            invitation.id,
            None,
            Some(data),
        );
        Ok(CreatedInvitation {
            invitation,
            key,
            projects,
        })
    }

    /// Refuses an invitation's project list unless the caller may manage
    /// projects, each project is a live one of the organization named once,
    /// and each role is a project role of it that the caller may hand out.
    async fn check_invited_projects(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        org: OrgId,
        projects: &[InvitedProject],
    ) -> Result<()> {
        if projects.is_empty() {
            return Ok(());
        }
        {
            let snapshot: &roster_core::index::Snapshot = &self.index().load();
            roster_core::authorize::<need::ManageProjects>(snapshot, actor, org)?;
        }
        let mut seen = BTreeSet::new();
        for p in projects {
            if !seen.insert(p.project_id) {
                return Err(Error::validation(
                    "projects",
                    format!("project {} is named more than once", p.project_id),
                ));
            }
            crate::projects::writable_project(tx.conn(), org, p.project_id).await?;
            let r = crate::roles::fetch_role_for_scope(
                tx.conn(),
                org,
                p.role_id,
                Scope::Project(p.project_id),
            )
            .await?;
            self.may_change_holders(actor, org, &r, true)?;
        }
        Ok(())
    }

    /// The projects each of the organization's invitations `invs` names, in
    /// project-id order; projects deleted since (and custom roles deleted
    /// since) are left out.
    pub async fn invitation_projects(
        &self,
        access: &OrgAccess<need::InviteUsers>,
        invs: &[InvitationId],
    ) -> Result<BTreeMap<InvitationId, Vec<InvitedProject>>> {
        let mut out: BTreeMap<InvitationId, Vec<InvitedProject>> = BTreeMap::new();
        if invs.is_empty() {
            return Ok(out);
        }
        let marks: Vec<String> = (0..invs.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT ip.invitation_id, ip.project_id, ip.role_id, r.id AS custom_role FROM invitation_projects ip \
             JOIN projects p ON p.id = ip.project_id AND p.org_id = ip.org_id \
             LEFT JOIN roles r ON r.id = ip.role_id AND r.org_id = ip.org_id \
             WHERE ip.org_id = $1 AND ip.invitation_id IN ({}) ORDER BY ip.invitation_id, ip.project_id",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(id(access.org()));
        for inv in invs {
            q = q.bind(id(*inv));
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db_err)?;
        for row in &rows {
            let p = invited_project_of(row)?;
            if p.role_id.system().is_none() && opt_str_of(row, "custom_role")?.is_none() {
                continue;
            }
            out.entry(InvitationId(uuid_of(row, "invitation_id")?))
                .or_default()
                .push(p);
        }
        Ok(out)
    }

    /// The latest invitation matching `lookup` in the organization.
    pub async fn get_invitation(
        &self,
        access: &OrgAccess<need::InviteUsers>,
        lookup: &InvitationLookup,
    ) -> Result<Invitation> {
        let (col, val) = match lookup {
            InvitationLookup::Id(i) => ("i.id", id(*i)),
            InvitationLookup::User(u) => ("i.user_id", id(*u)),
            InvitationLookup::Email(e) => ("i.email_key", e.trim().to_lowercase()),
        };
        let row = sqlx::query(&format!(
            "{INV_SELECT} WHERE i.org_id = $1 AND {col} = $2 ORDER BY i.created_at DESC, i.id DESC LIMIT 1"
        ))
        .bind(id(access.org()))
        .bind(val)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(Error::InvitationNotFound)?;
        invitation_of(&row)
    }

    /// Cancels a pending (or expired) invitation and removes the Pending
    /// membership it gave an existing user.
    pub async fn cancel_invitation(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::InviteUsers>,
        inv: InvitationId,
    ) -> Result<Written<()>> {
        let org = access.org();
        let mut tx = self.begin(ctx).await?;
        tx.lock_org(self.kind, org).await?;
        let before = find_in_org(&mut tx, org, inv).await?;
        if matches!(
            before.state,
            InvitationState::Accepted | InvitationState::Cancelled
        ) {
            return Err(Error::InvitationNotPending(before.state.as_str()));
        }
        sqlx::query("UPDATE invitations SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(InvitationState::Cancelled.as_str())
            .bind(now_micros())
            .bind(id(inv))
            .execute(tx.conn())
            .await
            .map_err(db_err)?;
        if let Some(user) = before.user_id {
            if let Existing::Live {
                id: mid,
                status: MemberStatus::Pending,
            } = membership_state(&mut tx, org, user).await?
            {
                sqlx::query(
                    "UPDATE memberships SET deleted_at = $1, updated_at = $1 WHERE id = $2",
                )
                .bind(now_micros())
                .bind(id(mid))
                .execute(tx.conn())
                .await
                .map_err(db_err)?;
                tx.audit(
                    Some(org),
                    "member.deleted",
                    "member",
                    user,
                    Some(json!({"status": MemberStatus::Pending})),
                    None,
                );
            }
        }
        let mut after = before.clone();
        after.state = InvitationState::Cancelled;
        tx.audit(
            Some(org),
            "invitation.cancelled",
            "invitation",
            inv,
            Some(audit_json(&before)),
            Some(audit_json(&after)),
        );
        tx.commit(self, ()).await
    }

    /// Gives a pending or expired invitation of a user a new validity period.
    pub async fn resend_invitation(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::InviteUsers>,
        who: MemberRef,
    ) -> Result<Written<Invitation>> {
        let mut tx = self.begin(ctx).await?;
        let inv = renew(&mut tx, access.org(), who).await?;
        tx.commit(self, inv).await
    }

    /// [`Store::resend_invitation`] for many users; unknown ones and answered
    /// invitations are reported, not fatal.
    pub async fn resend_invitations_bulk(
        &self,
        ctx: &Ctx,
        access: &OrgAccess<need::InviteUsers>,
        who: &[(String, Option<MemberRef>)],
    ) -> Result<Written<Bulk>> {
        let mut tx = self.begin(ctx).await?;
        let mut bulk = Bulk::default();
        for (raw, r) in who {
            let res = match r {
                Some(r) => renew(&mut tx, access.org(), *r).await.map(|_| ()),
                None => Err(Error::InvitationNotFound),
            };
            match res {
                Ok(()) => bulk.success_count += 1,
                Err(Error::InvitationNotFound | Error::MemberNotFound { .. }) => bulk
                    .failed
                    .push((raw.clone(), "Invitation not found".into())),
                Err(Error::InvitationNotPending(state)) => bulk
                    .failed
                    .push((raw.clone(), format!("Invitation is {state}"))),
                Err(e) => return Err(e),
            }
        }
        tx.commit(self, bulk).await
    }

    /// Public: what an invitation key stands for (any state; unknown → not found).
    pub async fn validate_invitation(&self, key: &str) -> Result<InvitationView> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        let (invitation, org_name) = find_by_key(&mut conn, key).await?;
        let role_name = role_name(&mut conn, invitation.role_id).await?;
        let user_exists = user_by_email_key(&mut conn, &invitation.email.to_lowercase())
            .await?
            .is_some();
        Ok(InvitationView {
            invitation,
            org_name,
            role_name,
            user_exists,
        })
    }

    /// A signed-in user accepts an invitation sent to their own email.
    pub async fn accept_invitation(
        &self,
        ctx: &Ctx,
        user: UserId,
        key: &str,
    ) -> Result<Written<Accepted>> {
        let mut tx = self.begin(ctx).await?;
        let (before, org_name) = find_by_key(tx.conn(), key).await?;
        let org = before.org_id;
        tx.lock_org(self.kind, org).await?;
        require_pending(&before)?;
        let email_key = sqlx::query("SELECT email_key FROM users WHERE id = $1")
            .bind(id(user))
            .fetch_optional(tx.conn())
            .await
            .map_err(db_err)?
            .map(|r| str_of(&r, "email_key"))
            .transpose()?
            .ok_or(Error::UserNotFound(user))?;
        if email_key != before.email.to_lowercase() {
            return Err(Error::InvitationEmailMismatch);
        }
        crate::roles::require_org_role(&mut tx, org, before.role_id).await?;
        // A membership removed since the invitation was sent comes back
        // here under the invitee's own rights: removed, they hold none, so
        // any role it would hand back beyond the invited one (another
        // assignment, a group's or a department's role) keeps it removed
        // until someone who may give those roles restores it.
        let membership = self
            .join(
                &mut tx,
                &ctx.actor,
                org,
                user,
                before.role_id,
                MemberStatus::Active,
            )
            .await?;
        mark_accepted(&mut tx, before.id, user).await?;
        join_invited_projects(&mut tx, org, before.id, user).await?;
        let mut after = before.clone();
        after.state = InvitationState::Accepted;
        after.user_id = Some(user);
        tx.audit(
            Some(org),
            "member.joined",
            "member",
            user,
            None,
            Some(json!({"status": MemberStatus::Active, "role_id": before.role_id.to_string()})),
        );
        tx.audit(
            Some(org),
            "invitation.accepted",
            "invitation",
            before.id,
            Some(audit_json(&before)),
            Some(audit_json(&after)),
        );
        tx.commit(
            self,
            Accepted {
                invitation: after,
                org_name,
                membership,
            },
        )
        .await
    }

    /// Public: creates the invited user (who must not exist yet), makes them
    /// an Active member with the invited role, and signs them in.
    pub async fn complete_invitation(
        &self,
        trace_id: &str,
        key: &str,
        full_name: &str,
        password: &str,
    ) -> Result<Written<Completed>> {
        let full_name = bounded("full_name", full_name, 1, 255)?;
        // Refuse cheaply before paying for argon2; the transaction checks again.
        let (seen, _) = find_by_key(&mut *self.pool.acquire().await.map_err(db_err)?, key).await?;
        require_pending(&seen)?;
        let email_key = seen.email.to_lowercase();
        if user_by_email_key(&mut *self.pool.acquire().await.map_err(db_err)?, &email_key)
            .await?
            .is_some()
        {
            return Err(Error::InvitationUserExists(seen.email));
        }
        let pw = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || crate::auth::hash_password(&pw))
            .await
            .map_err(Error::internal)??;
        let uid = seen.user_id.unwrap_or_else(UserId::new);
        let ctx = Ctx {
            actor: Actor::User { user: uid },
            trace_id: trace_id.to_owned(),
        };
        let mut tx = self.begin(&ctx).await?;
        let (before, _) = find_by_key(tx.conn(), key).await?;
        let org = before.org_id;
        tx.lock_org(self.kind, org).await?;
        require_pending(&before)?;
        let now = now_micros();
        let username = recommended_username(&before.email);
        sqlx::query(
            "INSERT INTO users (id, email, email_key, full_name, username, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id(uid))
        .bind(&before.email)
        .bind(&email_key)
        .bind(&full_name)
        .bind(&username)
        .bind(hash)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, || Error::InvitationUserExists(before.email.clone())))?;
        let user = User {
            id: uid,
            email: before.email.clone(),
            full_name: Some(full_name),
            username: Some(username),
            created_at: ts(now),
            updated_at: ts(now),
        };
        crate::roles::require_org_role(&mut tx, org, before.role_id).await?;
        insert_membership(&mut tx, org, uid, before.role_id, MemberStatus::Active).await?;
        mark_accepted(&mut tx, before.id, uid).await?;
        join_invited_projects(&mut tx, org, before.id, uid).await?;
        // Invitations of other organizations to this email now name the real user.
        sqlx::query(
            "UPDATE invitations SET user_id = $1, updated_at = $2 WHERE email_key = $3 AND state = $4 AND id <> $5",
        )
        .bind(id(uid))
        .bind(now)
        .bind(&email_key)
        .bind(InvitationState::Pending.as_str())
        .bind(id(before.id))
        .execute(tx.conn())
        .await
        .map_err(db_err)?;
        let token = new_secret("rst_");
        crate::auth::insert_session(&mut tx, uid, &token, now).await?;
        let mut after = before.clone();
        after.state = InvitationState::Accepted;
        after.user_id = Some(uid);
        tx.audit(
            None,
            "user.created",
            "user",
            uid,
            None,
            Some(json!({"email": user.email})),
        );
        tx.audit(
            Some(org),
            "member.joined",
            "member",
            uid,
            None,
            Some(json!({"status": MemberStatus::Active, "role_id": before.role_id.to_string()})),
        );
        tx.audit(
            Some(org),
            "invitation.accepted",
            "invitation",
            before.id,
            Some(audit_json(&before)),
            Some(audit_json(&after)),
        );
        tx.audit(None, "session.created", "user", uid, None, None);
        tx.commit(
            self,
            Completed {
                user,
                org_id: org,
                token,
                expires_in: SESSION_SECONDS,
            },
        )
        .await
    }
}

/// Renews the latest invitation of a user in `org`.
async fn renew(tx: &mut Tx, org: OrgId, who: MemberRef) -> Result<Invitation> {
    let user = match who {
        MemberRef::User(u) => u,
        MemberRef::Membership(m) => {
            let row = sqlx::query("SELECT user_id FROM memberships WHERE id = $1 AND org_id = $2")
                .bind(id(m))
                .bind(id(org))
                .fetch_optional(tx.conn())
                .await
                .map_err(db_err)?
                .ok_or(Error::InvitationNotFound)?;
            UserId(uuid_of(&row, "user_id")?)
        }
    };
    let row = sqlx::query(&format!(
        "{INV_SELECT} WHERE i.org_id = $1 AND i.user_id = $2 ORDER BY i.created_at DESC, i.id DESC LIMIT 1"
    ))
    .bind(id(org))
    .bind(id(user))
    .fetch_optional(tx.conn())
    .await
    .map_err(db_err)?
    .ok_or(Error::InvitationNotFound)?;
    let before = invitation_of(&row)?;
    if matches!(
        before.state,
        InvitationState::Accepted | InvitationState::Cancelled
    ) {
        return Err(Error::InvitationNotPending(before.state.as_str()));
    }
    let now = now_micros();
    sqlx::query(
        "UPDATE invitations SET state = $1, expires_at = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(InvitationState::Pending.as_str())
    .bind(now + INVITATION_DAYS * DAY_MICROS)
    .bind(now)
    .bind(id(before.id))
    .execute(tx.conn())
    .await
    .map_err(|e| conflict(e, || Error::InvitationDuplicate(before.email.clone())))?;
    let mut after = before.clone();
    after.state = InvitationState::Pending;
    after.expires_at = ts(now + INVITATION_DAYS * DAY_MICROS);
    tx.audit(
        Some(org),
        "invitation.resent",
        "invitation",
        before.id,
        Some(audit_json(&before)),
        Some(audit_json(&after)),
    );
    Ok(after)
}
