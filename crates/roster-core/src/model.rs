//! The one model (see the project's model document): entities and value types
//! shared by every dialect. Nothing here knows about HTTP or SQL.

use crate::ids::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a grant does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Effect::Allow),
            "deny" => Some(Effect::Deny),
            _ => None,
        }
    }
}

/// A permission key such as `manage_roles` or `api.organization.projects.*`.
/// Built only through [`PermissionKey::parse`]: lowercase ASCII letters, digits,
/// `_ . : -`, at most 200 characters, optionally ending in a `*` wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PermissionKey(String);

impl PermissionKey {
    pub const MAX_LEN: usize = 200;

    pub fn parse(s: &str) -> Result<Self, crate::ValidationError> {
        let body = s.strip_suffix('*').unwrap_or(s);
        let ok_chars = body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b));
        if s.is_empty() || s.len() > Self::MAX_LEN || !ok_chars {
            return Err(crate::ValidationError::new(
                "permission",
                "must be 1-200 characters of a-z, 0-9, '_', '.', ':', '-', optionally ending in '*'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when this grant key covers `asked` (exact match, or a trailing-`*` prefix match).
    pub fn covers(&self, asked: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => asked.starts_with(prefix),
            None => self.0 == asked,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        self.0.ends_with('*')
    }
}

impl<'de> Deserialize<'de> for PermissionKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PermissionKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One grant of a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    pub permission: PermissionKey,
    pub effect: Effect,
}

/// What a role applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    Organization,
    Project,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Organization => "organization",
            ResourceType::Project => "project",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "organization" => Some(Self::Organization),
            "project" => Some(Self::Project),
            _ => None,
        }
    }
}

/// The key that makes a role pass every check (and that cannot be denied).
pub const OVERRIDE_ALL: &str = "override_all_permissions";

/// A capability of the organization API's catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub group: &'static str,
}

/// The 14 built-in capabilities, in catalogue order.
pub const CAPABILITIES: [Capability; 14] = [
    cap(
        "manage_users",
        "Manage Users",
        "View and edit user profiles and memberships",
        "User Management",
    ),
    cap(
        "invite_users",
        "Invite Users",
        "Send invitations to new users",
        "User Management",
    ),
    cap(
        "deactivate_users",
        "Deactivate Users",
        "Deactivate user accounts",
        "User Management",
    ),
    cap(
        "remove_users",
        "Remove Users",
        "Remove users from the organization",
        "User Management",
    ),
    cap(
        "manage_departments",
        "Manage Departments",
        "Create, edit, and delete departments",
        "Department Management",
    ),
    cap(
        "create_subdepartments",
        "Create Sub-departments",
        "Create sub-departments",
        "Department Management",
    ),
    cap(
        "reparent_departments",
        "Reparent Departments",
        "Move departments in the hierarchy",
        "Department Management",
    ),
    cap(
        "manage_roles",
        "Manage Roles",
        "Create, edit, and delete roles",
        "Role Management",
    ),
    cap(
        "assign_roles",
        "Assign Roles",
        "Assign roles to users",
        "Role Management",
    ),
    cap(
        "view_audit_log",
        "View Audit Log",
        "View audit log entries",
        "Audit",
    ),
    cap(
        "export_audit_log",
        "Export Audit Log",
        "Export audit log data",
        "Audit",
    ),
    cap(
        "manage_knowledge_slices",
        "Manage Knowledge Slices",
        "Manage knowledge slice access",
        "Knowledge",
    ),
    cap(
        "manage_billing",
        "Manage Billing",
        "Manage billing and subscriptions",
        "Billing",
    ),
    cap(
        OVERRIDE_ALL,
        "Override All Permissions",
        "Full access across all departments",
        "Administration",
    ),
];

const fn cap(
    key: &'static str,
    label: &'static str,
    description: &'static str,
    group: &'static str,
) -> Capability {
    Capability {
        key,
        label,
        description,
        group,
    }
}

/// True when `key` is one of the built-in capabilities.
pub fn is_capability(key: &str) -> bool {
    CAPABILITIES.iter().any(|c| c.key == key)
}

/// Built-in permission keys of the other dialects (the admin API's
/// `api.organization.*`, `api.project.*`, ...), with a description. They are
/// part of the deployment's catalogue beside [`CAPABILITIES`].
pub const DIALECT_PERMISSIONS: &[(&str, &str)] = &[
    (
        "api.organization.projects.write",
        "Create, change and archive projects and their members",
    ),
    (
        "api.groups.write",
        "Create, change and delete groups and their members",
    ),
    ("api.organization.read", "Read the organization (admin API)"),
    (
        "api.organization.write",
        "Change the organization (admin API)",
    ),
    (
        "api.organization.users.read",
        "Read the organization's users (admin API)",
    ),
    (
        "api.organization.users.write",
        "Change and remove the organization's users (admin API)",
    ),
    (
        "api.organization.roles.read",
        "Read roles and role assignments (admin API)",
    ),
    (
        "api.organization.roles.write",
        "Create, change and assign roles (admin API)",
    ),
    ("api.organization.invites.read", "Read invites (admin API)"),
    (
        "api.organization.invites.write",
        "Send and delete invites (admin API)",
    ),
    (
        "api.organization.admin_api_keys.read",
        "Read admin API keys",
    ),
    (
        "api.organization.admin_api_keys.write",
        "Create and delete admin API keys",
    ),
    (
        "api.organization.audit_logs.read",
        "Read the audit log (admin API)",
    ),
    (
        "api.organization.projects.read",
        "Read projects (admin API)",
    ),
    ("api.organization.projects.users.read", "Read project users"),
    (
        "api.organization.projects.users.write",
        "Add, change and remove project users",
    ),
    (
        "api.organization.projects.groups.read",
        "Read the groups attached to projects",
    ),
    (
        "api.organization.projects.groups.write",
        "Attach and detach groups to projects",
    ),
    ("api.organization.projects.roles.read", "Read project roles"),
    (
        "api.organization.projects.roles.write",
        "Create, change and assign project roles",
    ),
    (
        "api.organization.projects.service_accounts.read",
        "Read project service accounts",
    ),
    (
        "api.organization.projects.service_accounts.write",
        "Create, change and delete project service accounts",
    ),
    (
        "api.organization.projects.api_keys.read",
        "Read project API keys",
    ),
    (
        "api.organization.projects.api_keys.write",
        "Change and delete project API keys",
    ),
    ("api.groups.read", "Read groups and their members"),
    ("api.project.read", "Read a project's resources"),
    ("api.project.write", "Change a project's resources"),
    ("api.all.read", "Read everything (API key scope)"),
    ("api.all.write", "Change everything (API key scope)"),
];

/// Every built-in key of the deployment's catalogue.
pub fn builtin_keys() -> impl Iterator<Item = &'static str> {
    CAPABILITIES
        .iter()
        .map(|c| c.key)
        .chain(DIALECT_PERMISSIONS.iter().map(|(k, _)| *k))
}

/// True when `key` is a built-in key of any dialect.
pub fn is_builtin_key(key: &str) -> bool {
    builtin_keys().any(|k| k == key)
}

/// The predefined roles: the same in every organization, immutable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemRole {
    Owner,
    Admin,
    Member,
    DepartmentManager,
    KnowledgeManager,
    BillingManager,
    ProjectOwner,
    ProjectMember,
    ProjectViewer,
}

impl SystemRole {
    /// Organization roles in the documented listing order, then project roles.
    pub const ALL: [SystemRole; 9] = [
        SystemRole::Owner,
        SystemRole::Admin,
        SystemRole::Member,
        SystemRole::DepartmentManager,
        SystemRole::KnowledgeManager,
        SystemRole::BillingManager,
        SystemRole::ProjectOwner,
        SystemRole::ProjectMember,
        SystemRole::ProjectViewer,
    ];

    fn ordinal(self) -> u128 {
        self as u128 + 1
    }

    /// Fixed UUID: `00000000-0000-7000-8000-0000000000NN`.
    pub fn id(self) -> RoleId {
        RoleId(uuid::Uuid::from_u128(
            0x0000_0000_0000_7000_8000_0000_0000_0000 | self.ordinal(),
        ))
    }

    pub fn from_id(id: RoleId) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The readable id suffix: `role_` + slug.
    pub fn slug(self) -> &'static str {
        match self {
            SystemRole::Owner => "owner",
            SystemRole::Admin => "admin",
            SystemRole::Member => "member",
            SystemRole::DepartmentManager => "department_manager",
            SystemRole::KnowledgeManager => "knowledge_manager",
            SystemRole::BillingManager => "billing_manager",
            SystemRole::ProjectOwner => "project_owner",
            SystemRole::ProjectMember => "project_member",
            SystemRole::ProjectViewer => "project_viewer",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.slug() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            SystemRole::Owner => "Owner",
            SystemRole::Admin => "Admin",
            SystemRole::Member => "Member",
            SystemRole::DepartmentManager => "Department Manager",
            SystemRole::KnowledgeManager => "Knowledge Manager",
            SystemRole::BillingManager => "Billing Manager",
            SystemRole::ProjectOwner => "Project Owner",
            SystemRole::ProjectMember => "Project Member",
            SystemRole::ProjectViewer => "Project Viewer",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            SystemRole::Owner => "Organization owner with complete control",
            SystemRole::Admin => "Administrator with full access except billing",
            SystemRole::Member => "Standard member with basic access",
            SystemRole::DepartmentManager => "Manages users and departments",
            SystemRole::KnowledgeManager => "Manages knowledge slice access",
            SystemRole::BillingManager => "Manages billing and subscriptions",
            SystemRole::ProjectOwner => "Full control of a project",
            SystemRole::ProjectMember => "Works in a project",
            SystemRole::ProjectViewer => "Reads a project",
        }
    }

    pub fn resource_type(self) -> ResourceType {
        match self {
            SystemRole::ProjectOwner | SystemRole::ProjectMember | SystemRole::ProjectViewer => {
                ResourceType::Project
            }
            _ => ResourceType::Organization,
        }
    }

    /// Owner, Admin and Member are the "base" roles of the organization API.
    pub fn is_base(self) -> bool {
        matches!(
            self,
            SystemRole::Owner | SystemRole::Admin | SystemRole::Member
        )
    }

    /// The permission keys this role allows (system roles never deny).
    pub fn grants(self) -> &'static [&'static str] {
        match self {
            SystemRole::Owner => &[
                "manage_users",
                "invite_users",
                "deactivate_users",
                "remove_users",
                "manage_departments",
                "create_subdepartments",
                "reparent_departments",
                "manage_roles",
                "assign_roles",
                "view_audit_log",
                "export_audit_log",
                "manage_knowledge_slices",
                "manage_billing",
                OVERRIDE_ALL,
            ],
            // Admin holds override_all_permissions (so it passes every check) but
            // lists no manage_billing: billing screens may ask for it explicitly.
            SystemRole::Admin => &[
                "manage_users",
                "invite_users",
                "deactivate_users",
                "remove_users",
                "manage_departments",
                "create_subdepartments",
                "reparent_departments",
                "manage_roles",
                "assign_roles",
                "view_audit_log",
                "export_audit_log",
                "manage_knowledge_slices",
                OVERRIDE_ALL,
            ],
            SystemRole::Member => &[],
            SystemRole::DepartmentManager => &[
                "manage_users",
                "invite_users",
                "manage_departments",
                "create_subdepartments",
                "reparent_departments",
                "assign_roles",
            ],
            SystemRole::KnowledgeManager => &["manage_knowledge_slices"],
            SystemRole::BillingManager => &["manage_billing"],
            SystemRole::ProjectOwner => &["api.project.*"],
            SystemRole::ProjectMember => &["api.project.read", "api.project.write"],
            SystemRole::ProjectViewer => &["api.project.read"],
        }
    }

    pub fn grant_list(self) -> Vec<Grant> {
        self.grants()
            .iter()
            .filter_map(|k| PermissionKey::parse(k).ok())
            .map(|permission| Grant {
                permission,
                effect: Effect::Allow,
            })
            .collect()
    }
}

/// The base member statuses (the same in every organization).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Active,
    Inactive,
    Pending,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 3] = [
        MemberStatus::Active,
        MemberStatus::Inactive,
        MemberStatus::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Inactive => "inactive",
            MemberStatus::Pending => "pending",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
    pub fn name(self) -> &'static str {
        match self {
            MemberStatus::Active => "Active",
            MemberStatus::Inactive => "Inactive",
            MemberStatus::Pending => "Pending",
        }
    }
    pub fn description(self) -> &'static str {
        match self {
            MemberStatus::Active => "Active member",
            MemberStatus::Inactive => "Deactivated member",
            MemberStatus::Pending => "Pending approval",
        }
    }
    pub fn color(self) -> &'static str {
        match self {
            MemberStatus::Active => "#00FF00",
            MemberStatus::Inactive => "#FF0000",
            MemberStatus::Pending => "#FFA500",
        }
    }
    pub fn order(self) -> i32 {
        self as i32 + 1
    }
    /// Pending is reached by invitation only, not chosen in a UI.
    pub fn selectable_in_ui(self) -> bool {
        !matches!(self, MemberStatus::Pending)
    }
}

/// Who holds a role assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Principal {
    User(UserId),
    Group(GroupId),
    Department(DeptId),
}

/// Where a role assignment applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Scope {
    Organization,
    Project(ProjectId),
    Department(DeptId),
}

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub full_name: Option<String>,
    pub username: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub org_type: String,
    pub description: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub company_size: Option<String>,
    pub logo_image: Option<String>,
    pub image_url: Option<String>,
    pub domains: Vec<String>,
    pub is_active: bool,
    pub owner_id: Option<UserId>,
    pub api_usage_limit: f64,
    pub total_usage_limit: f64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A membership joined with its user and primary role, as every dialect shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: MembershipId,
    pub org_id: OrgId,
    pub user: User,
    pub role_id: RoleId,
    pub role_name: String,
    pub status: MemberStatus,
    pub deleted: bool,
    pub joined_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub id: RoleId,
    /// `None` for system roles.
    pub org_id: Option<OrgId>,
    /// The one project a custom project role was made for (`None`: usable in every project).
    pub project_id: Option<ProjectId>,
    pub name: String,
    pub description: Option<String>,
    pub resource_type: ResourceType,
    pub grants: Vec<Grant>,
    pub member_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Role {
    pub fn is_system(&self) -> bool {
        self.id.system().is_some()
    }
    /// Allowed keys, sorted.
    pub fn allowed_keys(&self) -> Vec<String> {
        self.keys(Effect::Allow)
    }
    /// Denied keys, sorted.
    pub fn denied_keys(&self) -> Vec<String> {
        self.keys(Effect::Deny)
    }
    fn keys(&self, effect: Effect) -> Vec<String> {
        let mut v: Vec<String> = self
            .grants
            .iter()
            .filter(|g| g.effect == effect)
            .map(|g| g.permission.as_str().to_owned())
            .collect();
        v.sort();
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assignment {
    pub id: AssignmentId,
    pub org_id: OrgId,
    pub role_id: RoleId,
    pub principal: Principal,
    pub scope: Scope,
    pub is_primary: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub id: DeptId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub parent_id: Option<DeptId>,
    /// Materialised path of ids from the root, e.g. `/dept_a/dept_b`.
    pub path: String,
    pub depth: i32,
    pub member_count: i64,
    pub color: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentMember {
    pub user: User,
    pub added_at: Timestamp,
}

/// An organization-defined permission key.
#[derive(Debug, Clone, Serialize)]
pub struct PermissionDef {
    pub key: PermissionKey,
    pub description: Option<String>,
    /// `None` for deployment-wide keys.
    pub org_id: Option<OrgId>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Accepted,
    Expired,
    Cancelled,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Expired => "expired",
            InvitationState::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Accepted,
            Self::Expired,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub email: String,
    pub role_id: RoleId,
    pub user_id: Option<UserId>,
    pub state: InvitationState,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    /// `None` for platform keys.
    pub org_id: Option<OrgId>,
    pub name: String,
    /// The first characters of the secret, safe to show.
    pub prefix: String,
    pub role_id: RoleId,
    pub is_active: bool,
    pub scopes: Vec<String>,
    pub metadata: serde_json::Value,
    pub usage_limit: Option<f64>,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub id: EventId,
    pub revision: i64,
    pub org_id: Option<OrgId>,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub trace_id: String,
    pub created_at: Timestamp,
}
