//! The organization API's error envelope:
//! `{"success": false, "error": {code, message, system_message, type, status, details, trace_id, timestamp}}`.
//! [`describe`] is the one table from domain errors to codes: exhaustive, no
//! catch-all arm, so a new domain error cannot silently become a 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::{Error, KeyRefusal};
use serde_json::{json, Value};

/// The error categories of the envelope's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Validation,
    Authorization,
    Authentication,
    Server,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client_error",
            Kind::Validation => "validation_error",
            Kind::Authorization => "authorization_error",
            Kind::Authentication => "authentication_error",
            Kind::Server => "server_error",
        }
    }
}

/// An error response of the organization API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub system_message: String,
    pub kind: Kind,
    pub details: Value,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        kind: Kind,
        message: impl Into<String>,
        system_message: impl Into<String>,
        details: Value,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            system_message: system_message.into(),
            kind,
            details,
        }
    }

    /// 422 VALIDATION_ERROR naming the field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            Kind::Validation,
            format!("Invalid value for {field}: {message}"),
            "request validation failed",
            json!({"field": field, "reason": message}),
        )
    }

    /// Same code and status as a lowercase copy of the message (the seeds' style).
    fn lower(
        status: StatusCode,
        code: &'static str,
        kind: Kind,
        message: &str,
        details: Value,
    ) -> Self {
        let system = message.to_lowercase();
        ApiError::new(status, code, kind, message, system, details)
    }
}

use StatusCode as S;

/// The table: every domain error's status, code, type, messages and details.
pub fn describe(e: &Error) -> ApiError {
    use Kind::*;
    match e {
        Error::Unauthenticated => ApiError::new(S::UNAUTHORIZED, "AUTHENTICATION_REQUIRED", Authentication, "Authentication required", "User authentication required", json!({})),
        Error::InvalidCredentials => ApiError::new(S::UNAUTHORIZED, "INVALID_API_KEY", Authentication, "Your API key is invalid", "Invalid or expired credential", json!({})),
        Error::KeyRefused(KeyRefusal::Deactivated) => ApiError::new(S::UNAUTHORIZED, "API_KEY_DEACTIVATED", Authentication, "Your API key has been deactivated", "the API key is deactivated", json!({})),
        Error::KeyRefused(KeyRefusal::Expired) => ApiError::new(S::UNAUTHORIZED, "API_KEY_EXPIRED", Authentication, "Your API key has expired", "the API key is past its expires_at", json!({})),
        Error::KeyRefused(KeyRefusal::Paused) => ApiError::new(S::UNAUTHORIZED, "API_KEY_PAUSED", Authentication, "Your API key is paused", "the API key is paused", json!({})),
        Error::NotAMember => ApiError::new(S::FORBIDDEN, "ORGANIZATION_ACCESS_DENIED", Authorization, "You don't have access to this organization", "Caller is not a member of this organization", json!({})),
        Error::Forbidden { needed } => ApiError::new(S::FORBIDDEN, "INSUFFICIENT_PERMISSIONS", Authorization, "You don't have permission to access this resource", "You don't have permission to access this resource", json!({"required_permission": needed})),
        Error::OwnerOnly => ApiError::new(S::FORBIDDEN, "INSUFFICIENT_PERMISSIONS", Authorization, "Only the organization owner can do this", "only the organization owner may do this", json!({})),
        Error::Escalation { missing } => ApiError::new(S::FORBIDDEN, "INSUFFICIENT_PERMISSIONS", Authorization, "You can only grant capabilities you hold yourself", "capability escalation refused", json!({"capabilities": missing})),
        Error::CrossSiteRequest => ApiError::new(S::FORBIDDEN, "CROSS_SITE_REQUEST", Authorization, "This request came from another site. Send it from this site, or authenticate with a header instead of the session cookie.", "cross-site request refused", json!({})),
        Error::OrgNotFound(id) => ApiError::new(S::NOT_FOUND, "ORGANIZATION_NOT_FOUND", Client, "Organization not found", "Organization not found", json!({"organization_id": id.to_string()})),
        Error::UserNotFound(id) => ApiError::new(S::NOT_FOUND, "USER_NOT_FOUND", Client, "The requested user could not be found.", "User not found", json!({"user_id": id.to_string()})),
        Error::MemberNotFound { user, .. } => ApiError::lower(S::NOT_FOUND, "MEMBER_NOT_FOUND", Client, "The specified user is not a member of this organization.", json!({"user_id": user.to_string()})),
        Error::RoleNotFound(id) => ApiError::new(S::NOT_FOUND, "ROLE_NOT_FOUND", Client, "The requested role could not be found.", "Role not found", json!({"role_id": id.to_string()})),
        Error::StatusNotFound(id) => ApiError::new(S::NOT_FOUND, "STATUS_NOT_FOUND", Client, "The requested status could not be found.", "Status not found", json!({"status_id": id})),
        Error::DeptNotFound(id) => ApiError::new(S::NOT_FOUND, "DEPARTMENT_NOT_FOUND", Client, "The requested department could not be found.", "Department not found", json!({"department_id": id.to_string()})),
        Error::AssignmentNotFound { user, role, .. } => ApiError::new(S::NOT_FOUND, "ROLE_ASSIGNMENT_NOT_FOUND", Client, "The user is not assigned to this role.", "Role assignment not found", json!({"user_id": user.to_string(), "role_id": role.to_string()})),
        Error::DeptRoleNotFound { dept, role } => ApiError::new(S::NOT_FOUND, "DEPARTMENT_ROLE_NOT_FOUND", Client, "The role is not bound to this department.", "Department role binding not found", json!({"department_id": dept.to_string(), "role_id": role.to_string()})),
        Error::DeptMemberNotFound { dept, user } => ApiError::new(S::NOT_FOUND, "DEPARTMENT_MEMBER_NOT_FOUND", Client, "The user is not a member of this department.", "Department member not found", json!({"user_id": user.to_string(), "department_id": dept.to_string()})),
        Error::InvitationNotFound => ApiError::new(S::NOT_FOUND, "INVITATION_NOT_FOUND", Client, "The requested invitation could not be found.", "Invitation not found", json!({})),
        Error::ApiKeyNotFound(id) => ApiError::new(S::NOT_FOUND, "API_KEY_NOT_FOUND", Client, "The requested API key could not be found.", "API key not found", json!({"key_id": id.to_string()})),
        Error::PermissionNotFound(key) => ApiError::new(S::NOT_FOUND, "PERMISSION_NOT_FOUND", Client, "The requested permission could not be found.", "Permission not found", json!({"key": key})),
        Error::AssignmentDuplicate { org, user, role } => ApiError::lower(S::CONFLICT, "ROLE_ASSIGNMENT_DUPLICATE", Client, "This user is already assigned to this role.", json!({"user_id": user.to_string(), "role_id": role.to_string(), "organization_id": org.to_string()})),
        Error::DeptRoleDuplicate { dept, role } => ApiError::new(S::CONFLICT, "DEPARTMENT_ROLE_DUPLICATE", Client, "This role is already bound to the department.", "Department role duplicate", json!({"department_id": dept.to_string(), "role_id": role.to_string()})),
        Error::DeptMemberDuplicate { dept, user } => ApiError::new(S::CONFLICT, "DEPARTMENT_MEMBERSHIP_DUPLICATE", Client, "This user is already a member of the department.", "Department membership duplicate", json!({"user_id": user.to_string(), "department_id": dept.to_string()})),
        Error::RoleNameTaken(name) => ApiError::new(S::CONFLICT, "ROLE_NAME_DUPLICATE", Client, "A role with this name already exists in the organization.", "Role name duplicate", json!({"name": name})),
        Error::DeptNameTaken(name) => ApiError::new(S::CONFLICT, "DEPARTMENT_NAME_DUPLICATE", Client, "A department with this name already exists in the organization.", "Department name duplicate", json!({"name": name})),
        Error::EmailTaken(email) => ApiError::new(S::CONFLICT, "EMAIL_ALREADY_EXISTS", Client, "A user with this email already exists.", "Email already exists", json!({"email": email})),
        Error::AlreadyMember(user) => ApiError::new(S::CONFLICT, "MEMBER_ALREADY_EXISTS", Client, "This user is already a member of the organization.", "Member already exists", json!({"user_id": user.to_string()})),
        Error::AlreadyMemberEmail(email) => ApiError::new(S::CONFLICT, "MEMBER_ALREADY_EXISTS", Client, "A member with this email already belongs to the organization.", "Member already exists", json!({"email": email})),
        Error::PermissionTaken(key) => ApiError::new(S::CONFLICT, "PERMISSION_DUPLICATE", Client, "A permission with this key already exists.", "Permission duplicate", json!({"key": key})),
        Error::InvitationDuplicate(email) => ApiError::new(S::CONFLICT, "INVITATION_ALREADY_EXISTS", Client, "A pending invitation for this email already exists.", "Invitation already exists", json!({"email": email})),
        Error::InvitationUserExists(email) => ApiError::new(S::CONFLICT, "EMAIL_ALREADY_EXISTS", Client, "A user with this email already exists. Sign in and accept the invitation instead.", "user exists, accept the invitation instead", json!({"email": email, "accept_path": "/v1/invitations/accept"})),
        Error::InvitationEmailMismatch => ApiError::new(S::FORBIDDEN, "INVITATION_EMAIL_MISMATCH", Authorization, "This invitation was sent to a different email address.", "invitation email mismatch", json!({})),
        Error::LastOwner { org, user, role } => ApiError::lower(S::UNPROCESSABLE_ENTITY, "LAST_OWNER_CANNOT_BE_REMOVED", Validation, "Cannot remove the last owner from a role. At least one owner must remain.", json!({"user_id": user.to_string(), "role_id": role.to_string(), "organization_id": org.to_string()})),
        Error::CannotChangeOwnerRole { user } => ApiError::new(S::UNPROCESSABLE_ENTITY, "CANNOT_CHANGE_OWNER_ROLE", Validation, "The organization owner's role cannot be changed.", "cannot change owner role", json!({"user_id": user.to_string()})),
        Error::CannotDeactivateOwner { user } => ApiError::new(S::UNPROCESSABLE_ENTITY, "CANNOT_DEACTIVATE_OWNER", Validation, "The organization owner cannot be deactivated.", "cannot deactivate owner", json!({"user_id": user.to_string()})),
        Error::CannotDeleteOwner { user } => ApiError::new(S::UNPROCESSABLE_ENTITY, "CANNOT_DELETE_OWNER", Validation, "The organization owner cannot be deleted.", "Cannot delete organization owner", json!({"user_id": user.to_string()})),
        Error::SystemRoleImmutable { role, name } => ApiError::new(S::FORBIDDEN, "SYSTEM_ROLE_IMMUTABLE", Client, "System roles cannot be modified or deleted.", "System roles cannot be deleted", json!({"role_id": role.to_string(), "role_name": name})),
        Error::RoleHasMembers { role, count } => ApiError::new(S::CONFLICT, "ROLE_HAS_MEMBERS", Client, "Cannot delete role with active members. Reassign members first.", "Cannot delete role with active members. Reassign members first.", json!({"role_id": role.to_string(), "member_count": count})),
        Error::DeptHasChildren(id) => ApiError::new(S::UNPROCESSABLE_ENTITY, "DEPARTMENT_HAS_CHILDREN", Client, "This department cannot be deleted because it has child departments. Reparent or remove them first.", "Department has children", json!({"department_id": id.to_string()})),
        Error::DeptHasMembers(id) => ApiError::new(S::UNPROCESSABLE_ENTITY, "DEPARTMENT_HAS_MEMBERS", Client, "This department cannot be deleted because it has members. Remove them first.", "Department has members", json!({"department_id": id.to_string()})),
        Error::DeptCycle { dept, parent } => ApiError::new(S::UNPROCESSABLE_ENTITY, "DEPARTMENT_CIRCULAR_REFERENCE", Validation, "A department cannot be moved under itself or one of its descendants.", "circular department reference", json!({"department_id": dept.to_string(), "new_parent_id": parent.to_string()})),
        Error::MemberInactive(user) => ApiError::new(
            S::UNPROCESSABLE_ENTITY,
            "MEMBER_INACTIVE",
            Validation,
            "The member is inactive. Reactivate them first.",
            "member is inactive",
            json!({"user_id": user.to_string()}),
        ),
        Error::MemberNotDeleted(user) => ApiError::new(S::UNPROCESSABLE_ENTITY, "MEMBER_NOT_DELETED", Validation, "The member is not deleted.", "member is not deleted", json!({"user_id": user.to_string()})),
        Error::UnknownPermissions(keys) => ApiError::new(S::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", Validation, "Unknown capability or permission keys.", "unknown permission keys", json!({"field": "capabilities", "invalid": keys})),
        Error::InvitationNotPending(state) => ApiError::new(S::UNPROCESSABLE_ENTITY, "INVITATION_NOT_PENDING", Validation, format!("The invitation is {state}."), format!("invitation {state}"), json!({"state": state})),
        Error::RoleScopeMismatch(role) => ApiError::new(S::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR", Validation, "This role cannot be used at this scope.", "role scope mismatch", json!({"field": "role_id", "role_id": role.to_string()})),
        Error::ProjectNotFound(id) => ApiError::new(S::NOT_FOUND, "PROJECT_NOT_FOUND", Client, "The requested project could not be found.", "Project not found", json!({"project_id": id.to_string()})),
        Error::ProjectMemberNotFound { project, user } => ApiError::new(S::NOT_FOUND, "PROJECT_MEMBER_NOT_FOUND", Client, "The user is not a member of this project.", "Project member not found", json!({"project_id": project.to_string(), "user_id": user.to_string()})),
        Error::GroupNotFound(id) => ApiError::new(S::NOT_FOUND, "GROUP_NOT_FOUND", Client, "The requested group could not be found.", "Group not found", json!({"group_id": id.to_string()})),
        Error::GroupMemberNotFound { group, user } => ApiError::new(S::NOT_FOUND, "GROUP_MEMBER_NOT_FOUND", Client, "The user is not a member of this group.", "Group member not found", json!({"group_id": group.to_string(), "user_id": user.to_string()})),
        Error::ProjectGroupNotFound { project, group } => ApiError::new(S::NOT_FOUND, "PROJECT_GROUP_NOT_FOUND", Client, "The group is not attached to this project.", "Project group not found", json!({"project_id": project.to_string(), "group_id": group.to_string()})),
        Error::GroupRoleNotFound { group, role } => ApiError::new(S::NOT_FOUND, "ROLE_ASSIGNMENT_NOT_FOUND", Client, "The group does not hold this role.", "Group role assignment not found", json!({"group_id": group.to_string(), "role_id": role.to_string()})),
        Error::ServiceAccountNotFound(id) => ApiError::new(S::NOT_FOUND, "SERVICE_ACCOUNT_NOT_FOUND", Client, "The requested service account could not be found.", "Service account not found", json!({"service_account_id": id.to_string()})),
        Error::ProjectMemberDuplicate { project, user } => ApiError::new(S::CONFLICT, "PROJECT_MEMBER_DUPLICATE", Client, "This user is already a member of the project.", "Project member duplicate", json!({"project_id": project.to_string(), "user_id": user.to_string()})),
        Error::GroupNameTaken(name) => ApiError::new(S::CONFLICT, "GROUP_NAME_DUPLICATE", Client, "A group with this name already exists in the organization.", "Group name duplicate", json!({"name": name})),
        Error::GroupMemberDuplicate { group, user } => ApiError::new(S::CONFLICT, "GROUP_MEMBER_DUPLICATE", Client, "This user is already a member of the group.", "Group member duplicate", json!({"group_id": group.to_string(), "user_id": user.to_string()})),
        Error::ProjectGroupDuplicate { project, group } => ApiError::new(S::CONFLICT, "PROJECT_GROUP_DUPLICATE", Client, "This group is already attached to the project.", "Project group duplicate", json!({"project_id": project.to_string(), "group_id": group.to_string()})),
        Error::GroupRoleDuplicate { group, role } => ApiError::new(S::CONFLICT, "ROLE_ASSIGNMENT_DUPLICATE", Client, "This group already holds this role.", "Group role assignment duplicate", json!({"group_id": group.to_string(), "role_id": role.to_string()})),
        Error::ProjectArchived(id) => ApiError::new(S::UNPROCESSABLE_ENTITY, "PROJECT_ARCHIVED", Validation, "The project is archived.", "project archived", json!({"project_id": id.to_string()})),
        Error::NotInProject { project, user } => ApiError::new(S::UNPROCESSABLE_ENTITY, "USER_NOT_IN_PROJECT", Validation, "The user is not a member of the project.", "user not in project", json!({"project_id": project.to_string(), "user_id": user.to_string()})),
        Error::GroupNotInProject { project, group } => ApiError::new(S::UNPROCESSABLE_ENTITY, "GROUP_NOT_IN_PROJECT", Validation, "The group is not attached to the project.", "group not in project", json!({"project_id": project.to_string(), "group_id": group.to_string()})),
        Error::MembershipRole(id) => ApiError::new(S::UNPROCESSABLE_ENTITY, "MEMBERSHIP_ROLE", Validation, "This role comes with a project membership; change the membership's role instead.", "membership role", json!({"assignment_id": id.to_string()})),
        Error::Validation(v) => ApiError::validation(&v.field, v.message.clone()),
        Error::Internal(source) => {
            let trace = crate::current_trace_id();
            tracing::error!(trace_id = %trace, error = %source, "internal error");
            internal()
        }
    }
}

pub(crate) fn internal() -> ApiError {
    ApiError::new(
        S::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        Kind::Server,
        "An internal error occurred. Quote the trace id when reporting it.",
        "internal error",
        json!({}),
    )
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        describe(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "error": {
                "code": self.code,
                "message": self.message,
                "system_message": self.system_message,
                "type": self.kind.as_str(),
                "status": self.status.as_u16(),
                "details": self.details,
                "trace_id": crate::current_trace_id(),
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }
        });
        (self.status, Json(body)).into_response()
    }
}
