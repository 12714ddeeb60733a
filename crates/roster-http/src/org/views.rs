//! The dialect's object shapes, rendered from the core's entities.

use chrono::{DateTime, Utc};
use roster_core::*;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationOut {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub org_type: String,
    pub description: Option<String>,
    pub domain: Option<String>,
    pub domains: Vec<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub company_size: Option<String>,
    pub logo_image: Option<String>,
    pub image_url: Option<String>,
    pub is_active: bool,
    pub owner_id: Option<String>,
    pub api_usage_limit: f64,
    pub total_usage_limit: f64,
    pub storage_free_bytes_allowance: i64,
    pub pricing_tier_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Organization> for OrganizationOut {
    fn from(o: &Organization) -> Self {
        OrganizationOut {
            id: o.id.to_string(),
            name: o.name.clone(),
            org_type: o.org_type.clone(),
            description: o.description.clone(),
            domain: o.domains.first().cloned(),
            domains: o.domains.clone(),
            website: o.website.clone(),
            industry: o.industry.clone(),
            company_size: o.company_size.clone(),
            logo_image: o.logo_image.clone(),
            image_url: o.image_url.clone(),
            is_active: o.is_active,
            owner_id: o.owner_id.map(|u| u.to_string()),
            api_usage_limit: o.api_usage_limit,
            total_usage_limit: o.total_usage_limit,
            storage_free_bytes_allowance: 52_428_800,
            pricing_tier_id: Some("tier_standard".to_owned()),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleInfo {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusInfo {
    pub id: String,
    pub name: String,
    pub selectable_in_ui: bool,
}

pub fn status_id(s: MemberStatus) -> String {
    format!("status_{}", s.as_str())
}

/// Parses `status_active` etc.
pub fn parse_status(raw: &str) -> Option<MemberStatus> {
    raw.strip_prefix("status_").and_then(MemberStatus::parse)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    pub id: String,
    pub user_id: String,
    pub organization_id: String,
    pub full_name: Option<String>,
    pub email: String,
    pub username: Option<String>,
    pub profile_image: Option<String>,
    pub role: RoleInfo,
    pub status: StatusInfo,
    pub is_deleted: bool,
    pub joined_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

impl From<&Member> for MemberOut {
    fn from(m: &Member) -> Self {
        MemberOut {
            id: m.id.to_string(),
            user_id: m.user.id.to_string(),
            organization_id: m.org_id.to_string(),
            full_name: m.user.full_name.clone(),
            email: m.user.email.clone(),
            username: m.user.username.clone(),
            profile_image: None,
            role: RoleInfo {
                id: m.role_id.to_string(),
                name: m.role_name.clone(),
            },
            status: StatusInfo {
                id: status_id(m.status),
                name: m.status.name().to_owned(),
                selectable_in_ui: m.status.selectable_in_ui(),
            },
            is_deleted: m.deleted,
            joined_at: m.joined_at,
            created_at: m.created_at,
            last_modified_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub email: String,
    pub full_name: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        let (first, last) = match u.full_name.as_deref().map(|n| n.split_once(' ')) {
            Some(Some((f, l))) => (Some(f.to_owned()), Some(l.to_owned())),
            _ => (u.full_name.clone(), None),
        };
        UserOut {
            id: u.id.to_string(),
            email: u.email.clone(),
            full_name: u.full_name.clone(),
            username: u.username.clone(),
            first_name: first,
            last_name: last,
            is_active: true,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The bulk-operation result.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOut {
    pub success_count: i64,
    pub failure_count: i64,
    pub failed_operations: Vec<FailedOp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailedOp {
    pub id: String,
    pub error: String,
}

impl From<&roster_store::members::Bulk> for BulkOut {
    fn from(b: &roster_store::members::Bulk) -> Self {
        BulkOut {
            success_count: b.success_count,
            failure_count: b.failed.len() as i64,
            failed_operations: b
                .failed
                .iter()
                .map(|(id, error)| FailedOp {
                    id: id.clone(),
                    error: error.clone(),
                })
                .collect(),
        }
    }
}

/// A decision's reason in this dialect's id spelling.
pub fn reason_json(r: &roster_core::index::Reason) -> serde_json::Value {
    use roster_core::index::Via;
    let scope = match r.scope {
        Scope::Organization => serde_json::json!({"type": "organization"}),
        Scope::Project(p) => serde_json::json!({"type": "project", "id": p.to_string()}),
        Scope::Department(d) => serde_json::json!({"type": "department", "id": d.to_string()}),
    };
    let via = match &r.via {
        Via::Primary => serde_json::json!({"type": "primary_role"}),
        Via::Direct => serde_json::json!({"type": "direct"}),
        Via::Group { group_id } => {
            serde_json::json!({"type": "group", "group_id": group_id.to_string()})
        }
        Via::Department {
            department_id,
            path,
        } => serde_json::json!({
            "type": "department",
            "department_id": department_id.to_string(),
            "path": path.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    };
    serde_json::json!({
        "assignment_id": r.assignment_id.to_string(),
        "role_id": r.role_id.to_string(),
        "role_name": r.role_name,
        "effect": r.effect.as_str(),
        "grant": r.grant,
        "scope": scope,
        "via": via,
    })
}
