//! Authorization by types: an [`OrgAccess<N>`] can only be obtained from
//! [`authorize`], after the caller was found to satisfy `N` in that
//! organization. Tenant-scoped store operations take one, so a handler that
//! forgot the check, or checked the wrong organization, does not compile.

use crate::ids::*;
use crate::index::Snapshot;
use crate::model::{Scope, SystemRole, OVERRIDE_ALL};
use crate::{Error, Result};
use std::marker::PhantomData;

/// Who is calling, after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The deployment's bootstrap key: may do anything.
    Platform,
    /// An organization API key, acting inside its organization with a role.
    OrgKey {
        key: ApiKeyId,
        org: OrgId,
        role: RoleId,
    },
    /// A signed-in user.
    User { user: UserId },
}

impl Actor {
    /// How audit events name the actor.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Platform => "platform".to_owned(),
            Actor::OrgKey { key, .. } => key.to_string(),
            Actor::User { user } => user.to_string(),
        }
    }
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::User { user } => Some(*user),
            _ => None,
        }
    }
}

/// A requirement an endpoint places on its caller.
pub trait Need {
    /// The caller needs any one of these keys (none: membership is enough).
    const ANY_OF: &'static [&'static str];
    /// Only the organization's Owner (or the platform) may pass.
    const OWNER_ONLY: bool = false;
}

/// The requirements used by the endpoints.
pub mod need {
    use super::Need;
    macro_rules! need {
        ($(#[$doc:meta])* $name:ident, [$($k:literal),*] $(, owner = $o:literal)?) => {
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Need for $name {
                const ANY_OF: &'static [&'static str] = &[$($k),*];
                $(const OWNER_ONLY: bool = $o;)?
            }
        };
    }
    need!(/// Any member of the organization (reads).
        AnyMember, []);
    need!(/// Admin or Owner (holders of override_all_permissions).
        Admin, ["override_all_permissions"]);
    need!(/// The Owner only.
        Owner, [], owner = true);
    need!(ManageUsers, ["manage_users"]);
    need!(InviteUsers, ["invite_users", "manage_users"]);
    need!(DeactivateUsers, ["deactivate_users", "manage_users"]);
    need!(RemoveUsers, ["remove_users"]);
    need!(ManageDepartments, ["manage_departments"]);
    need!(/// Creating a department under a parent also accepts create_subdepartments.
        CreateSubdepartment, ["manage_departments", "create_subdepartments"]);
    need!(
        ReparentDepartments,
        ["reparent_departments", "manage_departments"]
    );
    need!(/// Department membership: department managers and user managers.
        DepartmentMembers, ["manage_departments", "manage_users"]);
    need!(ManageRoles, ["manage_roles"]);
    need!(AssignRoles, ["assign_roles"]);
    need!(/// Reading another member's effective permissions.
        ViewPermissions, ["manage_users", "assign_roles", "manage_roles"]);
    need!(ViewAuditLog, ["view_audit_log"]);
    need!(/// Creating, changing and archiving projects and their members.
        ManageProjects, ["api.organization.projects.write"]);
    need!(/// Creating, renaming and deleting groups and their members.
        ManageGroups, ["api.groups.write"]);
}

/// Proof that the actor satisfies `N` in `org`. Built only by [`authorize`].
#[derive(Debug)]
pub struct OrgAccess<N> {
    org: OrgId,
    actor: Actor,
    _need: PhantomData<fn() -> N>,
}

impl<N> OrgAccess<N> {
    pub fn org(&self) -> OrgId {
        self.org
    }
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
    /// Every stronger access also allows what a plain member may do.
    pub fn as_member(&self) -> OrgAccess<need::AnyMember> {
        OrgAccess {
            org: self.org,
            actor: self.actor.clone(),
            _need: PhantomData,
        }
    }
}

/// Checks that `actor` satisfies `N` in `org` against the published snapshot.
///
/// Unknown (or deleted) organizations are 404 for everyone; an authenticated
/// caller who is not an Active member is refused before any capability check.
pub fn authorize<N: Need>(snapshot: &Snapshot, actor: &Actor, org: OrgId) -> Result<OrgAccess<N>> {
    let ix = snapshot.org(org).ok_or(Error::OrgNotFound(org))?;
    let granted =
        |has: &dyn Fn(&str) -> bool| N::ANY_OF.is_empty() || N::ANY_OF.iter().any(|k| has(k));
    let ok = match actor {
        Actor::Platform => true,
        Actor::OrgKey {
            org: key_org, role, ..
        } => {
            if *key_org != org {
                return Err(Error::NotAMember);
            }
            if N::OWNER_ONLY {
                role.system() == Some(SystemRole::Owner)
            } else {
                granted(&|k| ix.role_allows(*role, k))
            }
        }
        Actor::User { user } => {
            if ix.member_status(*user) != Some(crate::MemberStatus::Active) {
                return Err(Error::NotAMember);
            }
            if N::OWNER_ONLY {
                ix.holds_role(*user, SystemRole::Owner.id())
            } else {
                granted(&|k| ix.allowed(*user, k, Scope::Organization))
            }
        }
    };
    if ok {
        Ok(OrgAccess {
            org,
            actor: actor.clone(),
            _need: PhantomData,
        })
    } else if N::OWNER_ONLY {
        Err(Error::OwnerOnly)
    } else {
        Err(Error::Forbidden {
            needed: N::ANY_OF
                .first()
                .copied()
                .unwrap_or(OVERRIDE_ALL)
                .to_owned(),
        })
    }
}

/// Who owns an organization `actor` creates: a signed-in user owns it; the
/// platform creates it without an owner (or names one); an organization key
/// may not create organizations.
pub fn org_creator(actor: &Actor) -> Result<Option<UserId>> {
    match actor {
        Actor::User { user } => Ok(Some(*user)),
        Actor::Platform => Ok(None),
        Actor::OrgKey { .. } => Err(Error::Forbidden {
            needed: "platform".to_owned(),
        }),
    }
}

/// Proof that the caller is the platform (bootstrap key).
#[derive(Debug)]
pub struct PlatformAccess(());

pub fn authorize_platform(actor: &Actor) -> Result<PlatformAccess> {
    match actor {
        Actor::Platform => Ok(PlatformAccess(())),
        _ => Err(Error::Forbidden {
            needed: "platform".to_owned(),
        }),
    }
}
