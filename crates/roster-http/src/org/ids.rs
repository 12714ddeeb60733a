//! The dialect's id spelling: `prefix_` + TypeID suffix. A wrong prefix is a
//! 422; a right prefix that names nothing (or does not parse) is the
//! resource's own 404, echoing the id as given.

use super::error::ApiError;
use roster_core::ids::*;
use roster_core::IdError;

/// An id type the dialect can parse.
pub trait SpelledId: Sized {
    fn parse_spelled(s: &str) -> Result<Self, IdError>;
}

macro_rules! spelled {
    ($($t:ty),*) => {$(
        impl SpelledId for $t {
            fn parse_spelled(s: &str) -> Result<Self, IdError> {
                <$t>::parse(s)
            }
        }
    )*};
}
spelled!(
    UserId,
    OrgId,
    MembershipId,
    AssignmentId,
    ProjectId,
    GroupId,
    DeptId,
    InvitationId,
    ApiKeyId,
    RoleId
);

/// Parses `raw` as `T`; `not_found` builds the 404 for ids that cannot exist.
pub fn parse_id<T: SpelledId>(
    raw: &str,
    field: &str,
    not_found: impl FnOnce(&str) -> ApiError,
) -> Result<T, ApiError> {
    match T::parse_spelled(raw.trim()) {
        Ok(id) => Ok(id),
        Err(IdError::WrongPrefix { expected }) => Err(ApiError::validation(
            field,
            format!("must be an id starting with `{expected}`"),
        )),
        Err(IdError::Unknown) => Err(not_found(raw)),
    }
}

/// The 404 of `e`, with `details[field]` echoing the id exactly as the caller spelled it.
pub fn unknown(e: roster_core::Error, field: &str, raw: &str) -> ApiError {
    let mut a = super::error::describe(&e);
    if let Some(obj) = a.details.as_object_mut() {
        obj.insert(field.to_owned(), serde_json::Value::String(raw.to_owned()));
    }
    a
}

/// A nil id for errors about ids that cannot exist (their details are overwritten by [`unknown`]).
pub fn nil<T: From<uuid::Uuid>>() -> T {
    T::from(uuid::Uuid::nil())
}
