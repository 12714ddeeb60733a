//! The admin API's error envelope, `{"error": {message, type, param, code}}`,
//! and [`describe`], the one table from domain errors to it. The match is
//! exhaustive (no catch-all arm), so a new domain error needs a decision here
//! before the crate compiles.
//!
//! Status choices follow the contract in the admin API spec (§7): unknown ids
//! are 404 `not_found`; failed preconditions are 400; duplicates are 409 with
//! `x-should-retry: false` (otherwise the SDK sends each duplicate three
//! times); a key that is missing or revoked is 401; a key without the right
//! is 403. `type` is `invalid_request_error` for every 4xx, as OpenAI does.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::Error;
use serde_json::json;

/// An error response of the admin API.
#[derive(Debug, Clone)]
pub struct AdminError {
    pub status: StatusCode,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AdminError {
            status,
            message: message.into(),
            param: None,
            code: Some(code),
        }
    }

    /// Names the request field the error is about.
    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400 `invalid_value` naming the field.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        AdminError::new(S::BAD_REQUEST, "invalid_value", message).param(param)
    }

    /// 400 `missing_required_parameter` naming the field.
    pub fn missing(param: &str) -> Self {
        AdminError::new(
            S::BAD_REQUEST,
            "missing_required_parameter",
            format!("Missing required parameter: '{param}'."),
        )
        .param(param)
    }

    /// 404 `not_found`: `No such <thing>: <id>`, echoing the id as given.
    pub fn not_found(thing: &str, id: &str) -> Self {
        AdminError::new(S::NOT_FOUND, "not_found", format!("No such {thing}: {id}"))
    }

    /// Replaces the message of a 404 so that it echoes the id as the caller spelled it.
    pub fn echo(mut self, thing: &str, id: &str) -> Self {
        if self.status == S::NOT_FOUND {
            self.message = format!("No such {thing}: {id}");
        }
        self
    }
}

use StatusCode as S;

/// The table: every domain error's status, code and message in this dialect.
pub fn describe(e: &Error) -> AdminError {
    let dup = |code: &'static str, msg: String| AdminError::new(S::CONFLICT, code, msg);
    let pre = |code: &'static str, msg: String| AdminError::new(S::BAD_REQUEST, code, msg);
    let nf = |thing: &str, id: String| AdminError::not_found(thing, &id);
    match e {
        Error::Unauthenticated => AdminError::new(
            S::UNAUTHORIZED,
            "invalid_api_key",
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
        ),
        Error::InvalidCredentials => AdminError::new(
            S::UNAUTHORIZED,
            "invalid_api_key",
            "Incorrect API key provided, or the key was deleted.",
        ),
        Error::KeyRefused(why) => AdminError::new(
            S::UNAUTHORIZED,
            "invalid_api_key",
            format!("The API key provided is {why}."),
        ),
        Error::NotAMember => AdminError::new(
            S::FORBIDDEN,
            "insufficient_permissions",
            "This credential has no access to the organization.",
        ),
        Error::Forbidden { needed } => AdminError::new(
            S::FORBIDDEN,
            "insufficient_permissions",
            format!("You have insufficient permissions for this operation (needs {needed})."),
        ),
        Error::CrossSiteRequest => AdminError::new(
            S::FORBIDDEN,
            "cross_site_request",
            "This request came from another site; send the credential in the Authorization header.",
        ),
        Error::OwnerOnly => AdminError::new(
            S::FORBIDDEN,
            "insufficient_permissions",
            "Only an organization owner can do this.",
        ),
        Error::Escalation { missing } => AdminError::new(
            S::FORBIDDEN,
            "insufficient_permissions",
            format!(
                "You cannot grant permissions you do not hold: {}.",
                missing.join(", ")
            ),
        ),
        Error::OrgNotFound(id) => nf("organization", id.to_string()),
        Error::UserNotFound(id) => nf("user", id.to_string()),
        Error::MemberNotFound { user, .. } => nf("user", user.to_string()),
        Error::RoleNotFound(id) => nf("role", id.to_string()),
        Error::StatusNotFound(id) => nf("status", id.clone()),
        Error::DeptNotFound(id) => nf("department", id.to_string()),
        Error::AssignmentNotFound { user, role, .. } => AdminError::not_found(
            "role assignment",
            &format!("user {user} does not hold role {role}"),
        ),
        Error::DeptRoleNotFound { dept, role } => {
            nf("department role", format!("{dept}/{role}"))
        }
        Error::DeptMemberNotFound { dept, user } => {
            nf("department member", format!("{dept}/{user}"))
        }
        Error::InvitationNotFound => AdminError::not_found("invite", "(unknown)"),
        Error::ApiKeyNotFound(id) => nf("API key", id.to_string()),
        Error::PermissionNotFound(key) => nf("permission", key.clone()),
        Error::ProjectNotFound(id) => nf("project", id.to_string()),
        Error::ProjectMemberNotFound { project, user } => {
            nf("project user", format!("{user} in {project}"))
        }
        Error::GroupNotFound(id) => nf("group", id.to_string()),
        Error::GroupMemberNotFound { group, user } => {
            nf("group user", format!("{user} in {group}"))
        }
        Error::ProjectGroupNotFound { project, group } => {
            nf("project group", format!("{group} in {project}"))
        }
        Error::GroupRoleNotFound { group, role } => AdminError::not_found(
            "role assignment",
            &format!("group {group} does not hold role {role}"),
        ),
        Error::ServiceAccountNotFound(id) => nf("service account", id.to_string()),
        Error::ProjectMemberDuplicate { .. } => dup(
            "project_user_exists",
            "The user is already a member of this project.".into(),
        )
        .param("user_id"),
        Error::GroupNameTaken(name) => dup(
            "group_name_taken",
            format!("A group named '{name}' already exists."),
        )
        .param("name"),
        Error::GroupMemberDuplicate { .. } => dup(
            "group_user_exists",
            "The user is already in this group.".into(),
        )
        .param("user_id"),
        Error::ProjectGroupDuplicate { .. } => dup(
            "project_group_exists",
            "The group is already attached to this project.".into(),
        )
        .param("group_id"),
        Error::GroupRoleDuplicate { .. } => dup(
            "role_assignment_exists",
            "The role is already assigned to this group at this scope.".into(),
        ),
        Error::AssignmentDuplicate { .. } => dup(
            "role_assignment_exists",
            "The role is already assigned to this principal at this scope.".into(),
        ),
        Error::DeptRoleDuplicate { .. } => dup(
            "role_assignment_exists",
            "The role is already bound to this department.".into(),
        ),
        Error::DeptMemberDuplicate { .. } => dup(
            "department_member_exists",
            "The user is already in this department.".into(),
        ),
        Error::RoleNameTaken(name) => dup(
            "role_name_taken",
            format!("A role named '{name}' already exists."),
        )
        .param("role_name"),
        Error::DeptNameTaken(name) => dup(
            "department_name_taken",
            format!("A department named '{name}' already exists."),
        ),
        Error::EmailTaken(email) => dup("email_taken", format!("The email {email} is taken.")),
        Error::AlreadyMember(user) => dup(
            "user_already_member",
            format!("User {user} is already a member of the organization."),
        ),
        Error::AlreadyMemberEmail(email) => dup(
            "user_already_member",
            format!("{email} is already a member of the organization."),
        )
        .param("email"),
        Error::PermissionTaken(key) => dup(
            "permission_exists",
            format!("The permission {key} already exists."),
        ),
        Error::InvitationDuplicate(email) => dup(
            "invite_exists",
            format!("A pending invite for {email} already exists."),
        )
        .param("email"),
        Error::InvitationUserExists(email) => dup(
            "user_exists",
            format!("A user with the email {email} exists; they must accept the invite."),
        ),
        Error::InvitationEmailMismatch => AdminError::new(
            S::FORBIDDEN,
            "insufficient_permissions",
            "The invite was sent to another email address.",
        ),
        Error::LastOwner { .. } => pre(
            "last_owner",
            "The organization's last owner cannot be removed or demoted.".into(),
        ),
        Error::CannotChangeOwnerRole { .. } => pre(
            "cannot_change_owner_role",
            "The organization owner's role cannot be changed.".into(),
        ),
        Error::CannotDeactivateOwner { .. } => pre(
            "cannot_deactivate_owner",
            "The organization owner cannot be deactivated.".into(),
        ),
        Error::CannotDeleteOwner { .. } => pre(
            "cannot_delete_owner",
            "The organization owner cannot be removed from the organization.".into(),
        ),
        Error::SystemRoleImmutable { name, .. } => pre(
            "predefined_role_immutable",
            format!("The predefined role '{name}' cannot be modified or deleted."),
        )
        .param("role_id"),
        // Not produced by this dialect (it deletes roles with their
        // assignments), kept for the table's completeness.
        Error::RoleHasMembers { count, .. } => dup(
            "role_in_use",
            format!("The role is assigned to {count} user(s); remove those assignments first."),
        ),
        Error::DeptHasChildren(_) => pre(
            "department_has_children",
            "The department has child departments.".into(),
        ),
        Error::DeptHasMembers(_) => pre(
            "department_has_members",
            "The department has members.".into(),
        ),
        Error::DeptCycle { .. } => pre(
            "department_cycle",
            "A department cannot be moved under itself.".into(),
        ),
        Error::MemberInactive(user) => pre(
            "user_inactive",
            format!("User {user} is deactivated in this organization."),
        )
        .param("user_id"),
        Error::MemberNotDeleted(user) => pre(
            "user_not_deleted",
            format!("User {user} is not removed."),
        ),
        Error::UnknownPermissions(keys) => pre(
            "invalid_value",
            format!("Unknown permissions: {}.", keys.join(", ")),
        )
        .param("permissions"),
        Error::InvitationNotPending(state) => pre(
            "invite_not_pending",
            format!("The invite is {state} and can no longer be changed."),
        ),
        Error::RoleScopeMismatch(role) => pre(
            "invalid_role_scope",
            format!("Role {role} cannot be assigned at this scope."),
        )
        .param("role_id"),
        Error::ProjectArchived(id) => pre(
            "project_archived",
            format!("Project {id} is archived."),
        ),
        Error::NotInProject { project, user } => pre(
            "user_not_in_project",
            format!("User {user} is not a member of project {project}: add them to the project first."),
        )
        .param("user_id"),
        Error::GroupNotInProject { project, group } => pre(
            "group_not_in_project",
            format!("Group {group} is not attached to project {project}: attach it first."),
        )
        .param("group_id"),
        Error::MembershipRole(_) => pre(
            "membership_role",
            "This is the role of the user's project membership: change it with the project user update, or remove the user from the project.".into(),
        )
        .param("role_id"),
        Error::Validation(v) => AdminError::invalid(&v.field, format!("{}: {}", v.field, v.message)),
        Error::Internal(source) => {
            let trace = crate::current_trace_id();
            tracing::error!(trace_id = %trace, error = %source, "internal error");
            internal()
        }
    }
}

pub(crate) fn internal() -> AdminError {
    AdminError {
        status: S::INTERNAL_SERVER_ERROR,
        message: "The server had an error while processing your request. Quote the x-request-id when reporting it.".into(),
        param: None,
        code: None,
    }
}

impl From<Error> for AdminError {
    fn from(e: Error) -> Self {
        describe(&e)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let r#type = if self.status.is_server_error() {
            "server_error"
        } else {
            "invalid_request_error"
        };
        let body = json!({"error": {
            "message": self.message,
            "type": r#type,
            "param": self.param,
            "code": self.code,
        }});
        let mut res = (self.status, Json(body)).into_response();
        // A duplicate stays a duplicate: tell the SDK not to retry it.
        if self.status == S::CONFLICT {
            res.headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        res
    }
}
