//! FastAPI's error bodies: `{"detail": "<message>"}` for every refusal, and
//! for validation `422 {"detail": [{"type", "loc", "msg", "input"}]}` as
//! pydantic v2 reports it. [`describe`] maps every domain error explicitly;
//! there is no catch-all arm, so a new domain error cannot silently become a 500.
//!
//! A 422 always carries the list shape: the official client parses every 422
//! body as a validation error list, so a string there would crash it.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use roster_core::Error;
use serde_json::{json, Value};

/// The message of every authorization refusal (LlamaCloud's own words).
pub const NO_ACCESS: &str = "User does not have access to this resource";

/// An error response of the FastAPI dialect.
#[derive(Debug, Clone)]
pub struct FaError {
    pub status: StatusCode,
    /// A string, or the list of validation errors of a 422.
    pub detail: Value,
}

impl FaError {
    /// `{"detail": "<message>"}`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        FaError {
            status,
            detail: Value::String(message.into()),
        }
    }

    /// 422 with the given validation errors.
    pub fn invalid(errors: Vec<Value>) -> Self {
        FaError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: Value::Array(errors),
        }
    }

    /// 422 with one validation error.
    pub fn one(loc: Vec<Value>, r#type: &str, msg: impl Into<String>, input: Value) -> Self {
        FaError::invalid(vec![item(loc, r#type, msg, input)])
    }

    /// The validation errors of a 422 (empty for other errors).
    pub fn items(&self) -> Vec<Value> {
        match (&self.detail, self.status) {
            (Value::Array(items), StatusCode::UNPROCESSABLE_ENTITY) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// Rewrites the location of a domain validation error: the store names
    /// fields in its own words (`key_name`, `capabilities`), the wire in the
    /// dialect's; `place` is `body`, `query` or `path`.
    pub fn at(mut self, place: &str, rename: &[(&str, &str)]) -> Self {
        if let Value::Array(items) = &mut self.detail {
            for it in items.iter_mut() {
                if let Some(Value::Array(loc)) = it.get_mut("loc") {
                    if loc.first() == Some(&json!("body")) && loc.len() == 2 {
                        let field = loc[1].as_str().unwrap_or_default().to_owned();
                        let field = rename
                            .iter()
                            .find(|(from, _)| *from == field)
                            .map(|(_, to)| (*to).to_owned())
                            .unwrap_or(field);
                        *loc = vec![json!(place), json!(field)];
                    }
                }
            }
        }
        self
    }
}

/// One pydantic-style validation error.
pub fn item(loc: Vec<Value>, r#type: &str, msg: impl Into<String>, input: Value) -> Value {
    json!({"type": r#type, "loc": loc, "msg": msg.into(), "input": input})
}

use StatusCode as S;

fn d(status: StatusCode, message: impl Into<String>) -> FaError {
    FaError::new(status, message)
}

/// A domain validation error, located in the body by default.
fn value_error(field: &str, message: &str) -> FaError {
    FaError::one(
        vec![json!("body"), json!(field)],
        "value_error",
        format!("Value error, {message}"),
        Value::Null,
    )
}

/// The table: every domain error's status and detail.
pub fn describe(e: &Error) -> FaError {
    match e {
        Error::Unauthenticated => d(S::UNAUTHORIZED, "Not authenticated"),
        Error::InvalidCredentials => d(S::UNAUTHORIZED, "Invalid authentication credentials"),
        Error::KeyRefused(why) => d(S::UNAUTHORIZED, format!("Invalid authentication credentials: the API key is {why}")),
        Error::NotAMember | Error::Forbidden { .. } | Error::OwnerOnly => d(S::FORBIDDEN, NO_ACCESS),
        Error::Escalation { missing } => d(
            S::FORBIDDEN,
            format!("{NO_ACCESS}: you can only grant permissions you hold yourself (missing: {})", missing.join(", ")),
        ),
        Error::CrossSiteRequest => d(
            S::FORBIDDEN,
            "Cross-site request refused: send it from this site, or authenticate with the Authorization header",
        ),
        Error::OrgNotFound(_) => d(S::NOT_FOUND, "Organization not found"),
        Error::UserNotFound(_) => d(S::NOT_FOUND, "User not found"),
        Error::MemberNotFound { .. } => d(S::NOT_FOUND, "User is not a member of this organization"),
        Error::RoleNotFound(_) => d(S::NOT_FOUND, "Role not found"),
        Error::StatusNotFound(_) => d(S::NOT_FOUND, "Member status not found"),
        Error::DeptNotFound(_) => d(S::NOT_FOUND, "Department not found"),
        Error::AssignmentNotFound { .. } => d(S::NOT_FOUND, "The user does not hold this role"),
        Error::DeptRoleNotFound { .. } => d(S::NOT_FOUND, "The role is not bound to this department"),
        Error::DeptMemberNotFound { .. } => d(S::NOT_FOUND, "The user is not in this department"),
        Error::InvitationNotFound => d(S::NOT_FOUND, "Invitation not found"),
        Error::ApiKeyNotFound(_) => d(S::NOT_FOUND, "API key not found"),
        Error::PermissionNotFound(_) => d(S::NOT_FOUND, "Permission not found"),
        Error::AssignmentDuplicate { .. } => d(S::CONFLICT, "The user already holds this role"),
        Error::DeptRoleDuplicate { .. } => d(S::CONFLICT, "The role is already bound to this department"),
        Error::DeptMemberDuplicate { .. } => d(S::CONFLICT, "The user is already in this department"),
        Error::RoleNameTaken(name) => d(S::CONFLICT, format!("A role named {name:?} already exists in this organization")),
        Error::DeptNameTaken(name) => d(S::CONFLICT, format!("A department named {name:?} already exists in this organization")),
        Error::EmailTaken(email) => d(S::CONFLICT, format!("A user with the email {email} already exists")),
        Error::AlreadyMember(_) => d(S::CONFLICT, "The user is already a member of this organization"),
        Error::AlreadyMemberEmail(email) => d(S::CONFLICT, format!("{email} is already a member of this organization")),
        Error::PermissionTaken(key) => d(S::CONFLICT, format!("The permission {key} already exists")),
        Error::InvitationDuplicate(email) => d(S::CONFLICT, format!("{email} already has a pending invitation")),
        Error::InvitationUserExists(email) => d(S::CONFLICT, format!("A user with the email {email} exists: sign in and accept the invitation")),
        Error::InvitationEmailMismatch => d(S::FORBIDDEN, "The invitation was sent to another email address"),
        Error::LastOwner { .. } => d(S::CONFLICT, "The last owner of an organization cannot lose the Owner role"),
        Error::CannotChangeOwnerRole { .. } => d(S::CONFLICT, "The organization owner's role cannot be changed"),
        Error::CannotDeactivateOwner { .. } => d(S::CONFLICT, "The organization owner cannot be deactivated"),
        Error::CannotDeleteOwner { .. } => d(S::CONFLICT, "The organization owner cannot be removed"),
        Error::SystemRoleImmutable { name, .. } => d(S::FORBIDDEN, format!("The built-in role {name} cannot be modified or deleted")),
        Error::RoleHasMembers { count, .. } => d(S::CONFLICT, format!("The role still has {count} members: assign them another role first")),
        Error::DeptHasChildren(_) => d(S::CONFLICT, "The department has child departments"),
        Error::DeptHasMembers(_) => d(S::CONFLICT, "The department has members"),
        Error::DeptCycle { .. } => d(S::CONFLICT, "A department cannot be moved under itself or one of its descendants"),
        Error::MemberInactive(_) => d(S::CONFLICT, "The member is inactive"),
        Error::MemberNotDeleted(_) => d(S::CONFLICT, "The member is not removed"),
        Error::UnknownPermissions(keys) => value_error("permissions", &format!("unknown permissions: {}", keys.join(", "))),
        Error::ProjectNotFound(_) => d(S::NOT_FOUND, "Project not found"),
        Error::ServiceAccountNotFound(_) => d(S::NOT_FOUND, "Service account not found"),
        Error::ProjectMemberNotFound { .. } => d(S::NOT_FOUND, "The user is not a member of this project"),
        Error::GroupNotFound(_) => d(S::NOT_FOUND, "Group not found"),
        Error::GroupMemberNotFound { .. } => d(S::NOT_FOUND, "The user is not in this group"),
        Error::ProjectGroupNotFound { .. } => d(S::NOT_FOUND, "The group is not attached to this project"),
        Error::GroupRoleNotFound { .. } => d(S::NOT_FOUND, "The group does not hold this role"),
        Error::ProjectMemberDuplicate { .. } => d(S::CONFLICT, "The user is already a member of this project"),
        Error::GroupNameTaken(name) => d(S::CONFLICT, format!("A group named {name:?} already exists in this organization")),
        Error::GroupMemberDuplicate { .. } => d(S::CONFLICT, "The user is already in this group"),
        Error::ProjectGroupDuplicate { .. } => d(S::CONFLICT, "The group is already attached to this project"),
        Error::GroupRoleDuplicate { .. } => d(S::CONFLICT, "The group already holds this role"),
        Error::ProjectArchived(_) => d(S::CONFLICT, "The project is archived"),
        Error::NotInProject { .. } => d(S::CONFLICT, "The user is not a member of this project"),
        Error::GroupNotInProject { .. } => d(S::CONFLICT, "The group is not attached to this project"),
        Error::MembershipRole(_) => d(S::CONFLICT, "This role comes with a project membership: change it through the membership"),
        Error::InvitationNotPending(state) => d(S::CONFLICT, format!("The invitation is {state}")),
        Error::RoleScopeMismatch(_) => value_error("role_id", "this role cannot be held at organization level"),
        Error::Validation(v) => value_error(&v.field, &v.message),
        Error::Internal(source) => {
            tracing::error!(trace_id = %crate::current_trace_id(), error = %source, "internal error");
            internal()
        }
    }
}

/// A 500 that says nothing of the cause (logged with the trace id, which
/// the `x-request-id` header carries).
pub fn internal() -> FaError {
    d(S::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

impl From<Error> for FaError {
    fn from(e: Error) -> Self {
        describe(&e)
    }
}

impl IntoResponse for FaError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({"detail": self.detail}))).into_response();
        if self.status == S::UNAUTHORIZED {
            // What FastAPI's HTTPBearer answers with its 401.
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}
