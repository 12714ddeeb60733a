//! The dialect's response shapes (LlamaCloud's schemas of 2024-10 to
//! 2025-05): organizations, roles and permissions in canonical UUID form,
//! user ids as Roster's opaque `usr_` strings.

use chrono::{DateTime, Utc};
use roster_core::{Assignment, Effect, Member, Organization, Role, UserId, CAPABILITIES};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// Schema for an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationOut {
    /// Unique identifier.
    #[schema(format = "uuid")]
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// A name for the organization.
    pub name: String,
    /// Always null: Roster keeps no billing accounts.
    pub stripe_customer_id: Option<String>,
    /// Always `DEFAULT`.
    pub parse_plan_level: &'static str,
}

impl From<&Organization> for OrganizationOut {
    fn from(o: &Organization) -> Self {
        OrganizationOut {
            id: o.id.uuid().to_string(),
            created_at: Some(o.created_at),
            updated_at: Some(o.updated_at),
            name: o.name.clone(),
            stripe_customer_id: None,
            parse_plan_level: "DEFAULT",
        }
    }
}

/// Schema for a permission: one grant of a role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PermissionOut {
    /// A stable id derived from the permission's name (the same in every role).
    #[schema(format = "uuid")]
    pub id: String,
    /// Always null: permissions are catalogue entries, not rows.
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The permission key, e.g. `manage_roles`.
    pub name: String,
    /// A description for the permission (always present, may be null).
    pub description: Option<String>,
    /// Whether the permission is granted (`true`) or explicitly denied (`false`).
    pub access: bool,
}

/// Schema for a role.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleOut {
    #[schema(format = "uuid")]
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// A name for the role.
    pub name: String,
    /// The organization of a custom role; null for built-in roles.
    #[schema(format = "uuid")]
    pub organization_id: Option<String>,
    /// The actual permissions of the role.
    pub permissions: Vec<PermissionOut>,
}

/// Schema for a user's role in an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOrganizationRoleOut {
    /// The role assignment's id.
    #[schema(format = "uuid")]
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The user's ID.
    pub user_id: String,
    /// The organization's ID.
    #[schema(format = "uuid")]
    pub organization_id: String,
    /// The role's ID.
    #[schema(format = "uuid")]
    pub role_id: String,
    /// The role.
    pub role: RoleOut,
}

/// Schema for a user's membership to an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOrganizationOut {
    /// The membership's id (the invitation's, for a pending signup).
    #[schema(format = "uuid")]
    pub id: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The user's email address.
    pub email: String,
    /// Null while the invited person has not signed up.
    pub user_id: Option<String>,
    #[schema(format = "uuid")]
    pub organization_id: String,
    /// Whether the user's membership is pending (invited, not yet joined).
    pub pending: bool,
    pub invited_by_user_id: Option<String>,
    pub invited_by_user_email: Option<String>,
    /// The user's organization-level roles, the primary one first.
    pub roles: Vec<UserOrganizationRoleOut>,
}

/// Descriptions of the permission keys an organization can grant.
#[derive(Debug, Default, Clone)]
pub struct Catalogue(HashMap<String, Option<String>>);

impl Catalogue {
    /// The built-in capabilities plus the organization's (and the
    /// deployment's) own keys.
    pub fn new(defined: &[roster_core::PermissionDef]) -> Self {
        let mut m: HashMap<String, Option<String>> = CAPABILITIES
            .iter()
            .map(|c| (c.key.to_owned(), Some(c.description.to_owned())))
            .collect();
        for d in defined {
            m.insert(d.key.as_str().to_owned(), d.description.clone());
        }
        Catalogue(m)
    }

    fn description(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned().flatten()
    }
}

/// The stable UUID of a permission key: the first 128 bits of its SHA-256,
/// marked as a custom (version 8) UUID.
pub fn permission_id(key: &str) -> Uuid {
    let hex = roster_store::auth::hash_secret(&format!("roster-permission:{key}"));
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0);
    }
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

pub fn role_out(r: &Role, catalogue: &Catalogue) -> RoleOut {
    let mut grants: Vec<_> = r.grants.iter().collect();
    grants.sort_by(|a, b| a.permission.cmp(&b.permission));
    RoleOut {
        id: r.id.uuid().to_string(),
        created_at: Some(r.created_at),
        updated_at: Some(r.updated_at),
        name: r.name.clone(),
        organization_id: r.org_id.map(|o| o.uuid().to_string()),
        permissions: grants
            .into_iter()
            .map(|g| PermissionOut {
                id: permission_id(g.permission.as_str()).to_string(),
                created_at: None,
                updated_at: None,
                name: g.permission.as_str().to_owned(),
                description: catalogue.description(g.permission.as_str()),
                access: g.effect == Effect::Allow,
            })
            .collect(),
    }
}

/// A user's organization-level role assignment with its role.
pub fn assignment_out(
    a: &Assignment,
    user: UserId,
    role: &Role,
    catalogue: &Catalogue,
) -> UserOrganizationRoleOut {
    UserOrganizationRoleOut {
        id: a.id.uuid().to_string(),
        created_at: Some(a.created_at),
        updated_at: Some(a.created_at),
        user_id: user.to_string(),
        organization_id: a.org_id.uuid().to_string(),
        role_id: a.role_id.uuid().to_string(),
        role: role_out(role, catalogue),
    }
}

pub fn member_out(m: &Member, roles: Vec<UserOrganizationRoleOut>) -> UserOrganizationOut {
    UserOrganizationOut {
        id: m.id.uuid().to_string(),
        created_at: Some(m.created_at),
        updated_at: Some(m.updated_at),
        email: m.user.email.clone(),
        user_id: Some(m.user.id.to_string()),
        organization_id: m.org_id.uuid().to_string(),
        pending: m.status == roster_core::MemberStatus::Pending,
        invited_by_user_id: None,
        invited_by_user_email: None,
        roles,
    }
}
