//! The dialect's id spelling. Entities keep Roster's TypeIDs (`usr_…`,
//! `proj_…`, `group_…`, `inv_…`, `key_…`, `role_…`); the SDK does not parse
//! ids. Predefined roles are spelled as OpenAI's tooling spells them:
//!
//! | Roster system role | id shown | also accepted |
//! |---|---|---|
//! | Owner | `role-api-organization-owner__api-organization__<org>` | `role-api-organization-owner`, `role_owner` |
//! | Member | `role-api-organization-reader__api-organization__<org>` | `role-api-organization-reader`, `role_member` |
//! | Project Owner/Member/Viewer | `role-api-project-<x>__api-project__<proj>` (in a project), `role-api-project-<x>` otherwise | both, `role_project_<x>` |
//! | other system roles | `role_admin`, `role_department_manager`, … | |
//!
//! An id that cannot name anything is a 404 of its kind, like an unknown one.

use super::error::AdminError;
use crate::org::SpelledId;
use roster_core::{OrgId, ProjectId, RoleId, SystemRole};

/// Parses `raw` as `T`, or the 404 of `thing` echoing it.
pub fn parse<T: SpelledId>(raw: &str, thing: &str) -> Result<T, AdminError> {
    T::parse_spelled(raw.trim()).map_err(|_| AdminError::not_found(thing, raw))
}

const ORG_PREFIX: &str = "role-api-organization-";
const PROJECT_PREFIX: &str = "role-api-project-";
const ORG_SCOPE: &str = "__api-organization__";
const PROJECT_SCOPE: &str = "__api-project__";

fn org_slug(sys: SystemRole) -> Option<&'static str> {
    match sys {
        SystemRole::Owner => Some("owner"),
        SystemRole::Member => Some("reader"),
        _ => None,
    }
}

fn project_slug(sys: SystemRole) -> Option<&'static str> {
    match sys {
        SystemRole::ProjectOwner => Some("owner"),
        SystemRole::ProjectMember => Some("member"),
        SystemRole::ProjectViewer => Some("viewer"),
        _ => None,
    }
}

/// How the dialect spells a role id; `project` is the project a listing is about.
pub fn role_id_out(role: RoleId, org: OrgId, project: Option<ProjectId>) -> String {
    let Some(sys) = role.system() else {
        return role.to_string();
    };
    if let Some(slug) = org_slug(sys) {
        return format!("{ORG_PREFIX}{slug}{ORG_SCOPE}{org}");
    }
    if let Some(slug) = project_slug(sys) {
        return match project {
            Some(p) => format!("{PROJECT_PREFIX}{slug}{PROJECT_SCOPE}{p}"),
            None => format!("{PROJECT_PREFIX}{slug}"),
        };
    }
    role.to_string()
}

/// The display name of a role in this dialect: predefined roles by OpenAI's names.
pub fn role_name_out(role: RoleId, name: &str) -> String {
    match role.system() {
        Some(sys) => org_slug(sys)
            .or_else(|| project_slug(sys))
            .map(str::to_owned)
            .unwrap_or_else(|| name.to_owned()),
        None => name.to_owned(),
    }
}

/// Why a role id was refused.
fn unknown(raw: &str) -> AdminError {
    AdminError::not_found("role", raw)
}

/// Parses a role id in any accepted spelling. A long predefined id naming
/// another organization is unknown here (404); one naming another project
/// than `project` is a role of the wrong scope (400 `invalid_role_scope`).
pub fn parse_role(raw: &str, org: OrgId, project: Option<ProjectId>) -> Result<RoleId, AdminError> {
    let raw_t = raw.trim();
    if let Some(rest) = raw_t.strip_prefix(ORG_PREFIX) {
        let (slug, scope) = match rest.split_once(ORG_SCOPE) {
            Some((s, o)) => (s, Some(o)),
            None => (rest, None),
        };
        if scope.is_some_and(|o| OrgId::parse(o).ok() != Some(org)) {
            return Err(unknown(raw));
        }
        return match slug {
            "owner" => Ok(SystemRole::Owner.id()),
            "reader" => Ok(SystemRole::Member.id()),
            _ => Err(unknown(raw)),
        };
    }
    if let Some(rest) = raw_t.strip_prefix(PROJECT_PREFIX) {
        let (slug, scope) = match rest.split_once(PROJECT_SCOPE) {
            Some((s, p)) => (s, Some(p)),
            None => (rest, None),
        };
        let sys = match slug {
            "owner" => SystemRole::ProjectOwner,
            "member" => SystemRole::ProjectMember,
            "viewer" => SystemRole::ProjectViewer,
            _ => return Err(unknown(raw)),
        };
        if let Some(p) = scope {
            let named = ProjectId::parse(p).map_err(|_| unknown(raw))?;
            if project.is_some_and(|here| here != named) {
                return Err(AdminError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "invalid_role_scope",
                    format!("Role {raw} belongs to another project."),
                )
                .param("role_id"));
            }
        }
        return Ok(sys.id());
    }
    RoleId::parse(raw_t).map_err(|_| unknown(raw))
}

/// `owner` or `reader`: how a member's primary role shows as an organization
/// user's `role`. Admin holds every capability this API checks, so it shows
/// as `owner`; every other role shows as `reader`.
pub fn org_role_word(primary: RoleId) -> &'static str {
    match primary.system() {
        Some(SystemRole::Owner | SystemRole::Admin) => "owner",
        _ => "reader",
    }
}

/// The Roster role an `owner` / `reader` word names.
pub fn org_role_of_word(word: &str, param: &str) -> Result<RoleId, AdminError> {
    match word {
        "owner" => Ok(SystemRole::Owner.id()),
        "reader" => Ok(SystemRole::Member.id()),
        other => Err(AdminError::invalid(
            param,
            format!("Invalid '{param}': '{other}'. It must be 'owner' or 'reader'."),
        )),
    }
}

impl SpelledId for roster_core::ServiceAccountId {
    fn parse_spelled(s: &str) -> Result<Self, roster_core::IdError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_role_ids_round_trip_in_both_forms() {
        let org = OrgId::new();
        let proj = ProjectId::new();
        let long = role_id_out(SystemRole::ProjectMember.id(), org, Some(proj));
        assert_eq!(
            long,
            format!("role-api-project-member__api-project__{proj}")
        );
        for raw in [
            long.as_str(),
            "role-api-project-member",
            "role_project_member",
        ] {
            assert_eq!(
                parse_role(raw, org, Some(proj)).unwrap(),
                SystemRole::ProjectMember.id()
            );
        }
        let other = format!("role-api-project-member__api-project__{}", ProjectId::new());
        assert_eq!(parse_role(&other, org, Some(proj)).unwrap_err().status, 400);
        let owner = role_id_out(SystemRole::Owner.id(), org, None);
        assert_eq!(
            parse_role(&owner, org, None).unwrap(),
            SystemRole::Owner.id()
        );
        assert_eq!(
            parse_role(&owner, OrgId::new(), None).unwrap_err().status,
            404
        );
        assert_eq!(
            parse_role("role-api-organization-reader", org, None).unwrap(),
            SystemRole::Member.id()
        );
        assert_eq!(parse_role("nonsense", org, None).unwrap_err().status, 404);
    }
}
