//! The dialect's object shapes and list envelopes. Every key the spec marks
//! required (nullable or not) is always sent; times are unix seconds.

use super::ids::{org_role_word, role_id_out, role_name_out};
use chrono::{DateTime, Utc};
use roster_core::*;
use serde::Serialize;
use utoipa::ToSchema;

pub fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// List envelope A (`first_id`/`last_id`; the SDK follows `last_id`, or the
/// last item's id for admin API keys).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListA<T: ToSchema> {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<T>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    pub has_more: bool,
}

/// List envelope B (RBAC lists; the SDK follows `next`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListB<T: ToSchema> {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
    /// The cursor of the next page (pass it as `after`), `null` on the last page.
    pub next: Option<String>,
}

/// Builds envelope A from items and their ids.
pub fn list_a<T: ToSchema>(data: Vec<T>, id: impl Fn(&T) -> String, has_more: bool) -> ListA<T> {
    ListA {
        object: "list",
        first_id: data.first().map(&id),
        last_id: data.last().map(&id),
        data,
        has_more,
    }
}

/// Builds envelope B; `cursor` is the id of the last item when more follow.
pub fn list_b<T: ToSchema>(data: Vec<T>, cursor: Option<String>, has_more: bool) -> ListB<T> {
    ListB {
        object: "list",
        next: if has_more { cursor } else { None },
        data,
        has_more,
    }
}

/// Pages an in-memory list already in cursor order: the items after the
/// one whose key is `after` (all when `after` is `None`).
pub fn page_after<T, K: PartialOrd>(
    items: Vec<T>,
    key: impl Fn(&T) -> K,
    after: Option<K>,
    descending: bool,
    limit: i64,
) -> (Vec<T>, bool) {
    let rest: Vec<T> = items
        .into_iter()
        .filter(|x| match &after {
            None => true,
            Some(a) if descending => key(x) < *a,
            Some(a) => key(x) > *a,
        })
        .collect();
    let limit = limit.max(0) as usize;
    let has_more = rest.len() > limit;
    (rest.into_iter().take(limit).collect(), has_more)
}

/// A deleted object: `{"object": "…deleted", "id": …, "deleted": true}`; some kinds carry no id.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedOut {
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub deleted: bool,
}

pub fn deleted(object: &'static str, id: Option<String>) -> DeletedOut {
    DeletedOut {
        object,
        id,
        deleted: true,
    }
}

/// A user in an organization (`organization.user`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// Always `organization.user`.
    pub object: &'static str,
    pub id: String,
    pub name: String,
    pub email: String,
    /// `owner` (Owner or Admin) or `reader` (any other primary role).
    pub role: &'static str,
    /// The Roster role the member holds as primary role, in this dialect's spelling.
    pub role_id: String,
    pub added_at: i64,
    pub created: i64,
    pub is_default: bool,
    pub is_service_account: bool,
    pub is_scim_managed: bool,
    pub api_key_last_used_at: Option<i64>,
    pub technical_level: Option<String>,
    pub developer_persona: Option<String>,
}

/// A display name from an optional name, falling back to the email.
pub fn display_name_of(name: Option<&str>, email: &str) -> String {
    name.filter(|n| !n.trim().is_empty())
        .unwrap_or(email)
        .to_owned()
}

/// A user's display name: full name, else username, else email.
pub fn display_name(u: &User) -> String {
    u.full_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| u.username.clone())
        .unwrap_or_else(|| u.email.clone())
}

impl From<&Member> for UserOut {
    fn from(m: &Member) -> Self {
        UserOut {
            object: "organization.user",
            id: m.user.id.to_string(),
            name: display_name(&m.user),
            email: m.user.email.clone(),
            role: org_role_word(m.role_id),
            role_id: role_id_out(m.role_id, m.org_id, None),
            added_at: secs(m.joined_at),
            created: secs(m.user.created_at),
            is_default: false,
            is_service_account: false,
            is_scim_managed: false,
            api_key_last_used_at: None,
            technical_level: None,
            developer_persona: None,
        }
    }
}

/// `api.organization` or `api.project`.
pub fn resource_type(r: ResourceType) -> &'static str {
    match r {
        ResourceType::Organization => "api.organization",
        ResourceType::Project => "api.project",
    }
}

/// A role (`role`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleOut {
    /// Always `role`.
    pub object: &'static str,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The keys the role allows (denials of roles made in the organization API are not shown).
    pub permissions: Vec<String>,
    /// `api.organization` or `api.project`.
    pub resource_type: &'static str,
    pub predefined_role: bool,
}

pub fn role_out(r: &Role, org: OrgId, project: Option<ProjectId>) -> RoleOut {
    RoleOut {
        object: "role",
        id: role_id_out(r.id, org, project),
        name: role_name_out(r.id, &r.name),
        description: r.description.clone().filter(|d| !d.is_empty()),
        permissions: r.allowed_keys(),
        resource_type: resource_type(r.resource_type),
        predefined_role: r.is_system(),
    }
}

/// Where an inherited assignment comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentSource {
    pub principal_id: String,
    pub principal_type: String,
}

/// A role as held by a principal (items of the role-assignment lists; no `object`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignedRoleOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    pub resource_type: &'static str,
    pub predefined_role: bool,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub created_by: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub created_by_user_obj: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub assignment_sources: Option<Vec<AssignmentSource>>,
}

/// `assigned_at` is when the principal received the role.
pub fn assigned_role_out(
    r: &Role,
    org: OrgId,
    project: Option<ProjectId>,
    assigned_at: DateTime<Utc>,
) -> AssignedRoleOut {
    AssignedRoleOut {
        id: role_id_out(r.id, org, project),
        name: role_name_out(r.id, &r.name),
        description: r.description.clone().filter(|d| !d.is_empty()),
        permissions: r.allowed_keys(),
        resource_type: resource_type(r.resource_type),
        predefined_role: r.is_system(),
        created_at: Some(secs(assigned_at)),
        updated_at: Some(secs(r.updated_at)),
        created_by: None,
        created_by_user_obj: None,
        metadata: Some(serde_json::json!({})),
        assignment_sources: None,
    }
}

/// The organization user inside a `user.role`: exactly the documented keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBrief {
    /// Always `organization.user`.
    pub object: &'static str,
    pub id: String,
    pub name: String,
    pub email: String,
    /// `owner` or `reader`.
    pub role: &'static str,
    pub added_at: i64,
}

impl From<&Member> for UserBrief {
    fn from(m: &Member) -> Self {
        UserBrief {
            object: "organization.user",
            id: m.user.id.to_string(),
            name: display_name(&m.user),
            email: m.user.email.clone(),
            role: org_role_word(m.role_id),
            added_at: secs(m.joined_at),
        }
    }
}

/// `user.role`: a role given to a user (the seed endpoint's answer).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRoleOut {
    /// Always `user.role`.
    pub object: &'static str,
    pub user: UserBrief,
    pub role: RoleOut,
}
