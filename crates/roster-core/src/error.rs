//! Domain errors. The user's faults are named variants that each dialect maps
//! explicitly onto its own envelope; our faults are [`Error::Internal`].

use crate::ids::*;

/// A field that failed validation, with a human explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why an existing API key authenticates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    Deactivated,
    Expired,
    Paused,
}

impl std::fmt::Display for KeyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyRefusal::Deactivated => "deactivated",
            KeyRefusal::Expired => "expired",
            KeyRefusal::Paused => "paused",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- authentication and authorization
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    /// An organization API key that exists but may not be used now.
    #[error("the API key is {0}")]
    KeyRefused(KeyRefusal),
    #[error("the caller is not a member of this organization")]
    NotAMember,
    #[error("the caller lacks the permission {needed}")]
    Forbidden { needed: String },
    #[error("only the organization owner may do this")]
    OwnerOnly,
    #[error("the caller cannot grant permissions it does not hold: {missing:?}")]
    Escalation { missing: Vec<String> },
    /// A write authenticated by the session cookie alone came from another site.
    #[error("cross-site request refused")]
    CrossSiteRequest,

    // --- not found
    #[error("organization {0} not found")]
    OrgNotFound(OrgId),
    #[error("user {0} not found")]
    UserNotFound(UserId),
    #[error("user {user} is not a member of organization {org}")]
    MemberNotFound { org: OrgId, user: UserId },
    #[error("role {0} not found")]
    RoleNotFound(RoleId),
    #[error("status {0} not found")]
    StatusNotFound(String),
    #[error("department {0} not found")]
    DeptNotFound(DeptId),
    #[error("user {user} does not hold role {role}")]
    AssignmentNotFound {
        org: OrgId,
        user: UserId,
        role: RoleId,
    },
    #[error("role {role} is not bound to department {dept}")]
    DeptRoleNotFound { dept: DeptId, role: RoleId },
    #[error("user {user} is not in department {dept}")]
    DeptMemberNotFound { dept: DeptId, user: UserId },
    #[error("invitation not found")]
    InvitationNotFound,
    #[error("API key {0} not found")]
    ApiKeyNotFound(ApiKeyId),
    #[error("permission {0} not found")]
    PermissionNotFound(String),
    #[error("project {0} not found")]
    ProjectNotFound(ProjectId),
    #[error("user {user} is not a member of project {project}")]
    ProjectMemberNotFound { project: ProjectId, user: UserId },
    #[error("group {0} not found")]
    GroupNotFound(GroupId),
    #[error("user {user} is not in group {group}")]
    GroupMemberNotFound { group: GroupId, user: UserId },
    #[error("group {group} is not attached to project {project}")]
    ProjectGroupNotFound { project: ProjectId, group: GroupId },
    #[error("group {group} does not hold role {role} here")]
    GroupRoleNotFound { group: GroupId, role: RoleId },
    #[error("service account {0} not found")]
    ServiceAccountNotFound(ServiceAccountId),

    // --- conflicts (duplicates)
    #[error("user {user} already holds role {role}")]
    AssignmentDuplicate {
        org: OrgId,
        user: UserId,
        role: RoleId,
    },
    #[error("role {role} is already bound to department {dept}")]
    DeptRoleDuplicate { dept: DeptId, role: RoleId },
    #[error("user {user} is already in department {dept}")]
    DeptMemberDuplicate { dept: DeptId, user: UserId },
    #[error("a role named {0:?} exists")]
    RoleNameTaken(String),
    #[error("a department named {0:?} exists")]
    DeptNameTaken(String),
    #[error("the email {0:?} is taken")]
    EmailTaken(String),
    #[error("user {0} is already a member")]
    AlreadyMember(UserId),
    #[error("the email {0:?} already belongs to a member")]
    AlreadyMemberEmail(String),
    #[error("the permission key {0:?} exists")]
    PermissionTaken(String),
    #[error("user {user} is already a member of project {project}")]
    ProjectMemberDuplicate { project: ProjectId, user: UserId },
    #[error("a group named {0:?} exists")]
    GroupNameTaken(String),
    #[error("user {user} is already in group {group}")]
    GroupMemberDuplicate { group: GroupId, user: UserId },
    #[error("group {group} is already attached to project {project}")]
    ProjectGroupDuplicate { project: ProjectId, group: GroupId },
    #[error("group {group} already holds role {role} here")]
    GroupRoleDuplicate { group: GroupId, role: RoleId },
    #[error("a pending invitation for {0:?} exists")]
    InvitationDuplicate(String),
    #[error("a user with the email {0:?} exists: sign in and accept the invitation instead")]
    InvitationUserExists(String),
    #[error("the invitation was sent to another email address")]
    InvitationEmailMismatch,

    // --- rules
    #[error("the last owner cannot be removed")]
    LastOwner {
        org: OrgId,
        user: UserId,
        role: RoleId,
    },
    #[error("the owner's role cannot be changed")]
    CannotChangeOwnerRole { user: UserId },
    #[error("the owner cannot be deactivated")]
    CannotDeactivateOwner { user: UserId },
    #[error("the owner cannot be deleted")]
    CannotDeleteOwner { user: UserId },
    #[error("system roles cannot be modified or deleted")]
    SystemRoleImmutable { role: RoleId, name: String },
    #[error("role {role} still has {count} members")]
    RoleHasMembers { role: RoleId, count: i64 },
    #[error("department {0} has child departments")]
    DeptHasChildren(DeptId),
    #[error("department {0} has members")]
    DeptHasMembers(DeptId),
    #[error("moving {dept} under {parent} would make it its own ancestor")]
    DeptCycle { dept: DeptId, parent: DeptId },
    #[error("member {0} is inactive")]
    MemberInactive(UserId),
    #[error("member {0} is not deleted")]
    MemberNotDeleted(UserId),
    #[error("unknown permission keys: {0:?}")]
    UnknownPermissions(Vec<String>),
    #[error("the invitation is {0}")]
    InvitationNotPending(&'static str),
    #[error("a role of type {0} cannot be used here")]
    RoleScopeMismatch(RoleId),
    #[error("project {0} is archived")]
    ProjectArchived(ProjectId),
    #[error("user {user} is not a member of project {project}")]
    NotInProject { project: ProjectId, user: UserId },
    #[error("group {group} is not attached to project {project}")]
    GroupNotInProject { project: ProjectId, group: GroupId },
    #[error("this assignment is a project membership's role: change it through the membership")]
    MembershipRole(AssignmentId),
    #[error(transparent)]
    Validation(#[from] ValidationError),

    // --- ours
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(e))
    }
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation(ValidationError::new(field, message))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
