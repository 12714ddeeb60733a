//! Entity ids: one 128-bit UUIDv7 per entity, spelled `prefix_` + 26 base32
//! characters (the TypeID convention) in the organization and admin dialects.
//!
//! The TypeID suffix codec is written here rather than taken from a crate: it
//! is thirty lines of Crockford base32, and we need per-entity prefix errors
//! (a wrong prefix is the caller's mistake, an unparseable suffix is simply an
//! id that does not exist) that the available crates do not model.

use std::fmt;
use uuid::Uuid;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Encodes 128 bits as the 26-character TypeID suffix.
pub fn encode_suffix(uuid: Uuid) -> String {
    let mut n = uuid.as_u128();
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n & 31) as usize];
        n >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

/// Decodes a TypeID suffix; `None` when it is not 26 valid characters or overflows 128 bits.
pub fn decode_suffix(s: &str) -> Option<Uuid> {
    if s.len() != 26 {
        return None;
    }
    let mut n: u128 = 0;
    for (i, c) in s.bytes().enumerate() {
        let v = ALPHABET.iter().position(|&a| a == c.to_ascii_lowercase())? as u128;
        if i == 0 && v > 7 {
            return None;
        }
        n = (n << 5) | v;
    }
    Some(Uuid::from_u128(n))
}

/// Why a spelled id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id does not start with the entity's prefix: a malformed request.
    #[error("expected an id starting with `{expected}`")]
    WrongPrefix { expected: &'static str },
    /// The prefix is right but the rest does not parse: no such entity can exist.
    #[error("no entity has this id")]
    Unknown,
}

/// Declares an id newtype with its TypeID prefix.
macro_rules! entity_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the TypeID spelling (`prefix_` + 26 base32 characters).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let rest = s
                    .strip_prefix($prefix)
                    .ok_or(IdError::WrongPrefix { expected: $prefix })?;
                decode_suffix(rest).map(Self).ok_or(IdError::Unknown)
            }

            /// The canonical UUID form (the FastAPI dialect's spelling, and the storage key).
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, encode_suffix(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

entity_id!(/// A person, global to the deployment.
    UserId, "usr_");
entity_id!(/// A tenant.
    OrgId, "org_");
entity_id!(/// A user's membership in an organization.
    MembershipId, "orgusr_");
entity_id!(/// A role assignment (role, principal, scope).
    AssignmentId, "urol_");
entity_id!(/// A project inside an organization.
    ProjectId, "proj_");
entity_id!(/// A named set of users inside an organization.
    GroupId, "group_");
entity_id!(/// A node of an organization's department tree.
    DeptId, "dept_");
entity_id!(/// An invitation of an email into an organization.
    InvitationId, "inv_");
entity_id!(/// An API key (its id, not its secret).
    ApiKeyId, "key_");
entity_id!(/// An audit event.
    EventId, "evt_");
entity_id!(/// A user session (login token).
    SessionId, "sess_");
entity_id!(/// A project's service account (admin API).
    ServiceAccountId, "svc_acct_");

/// A role id. System roles have fixed UUIDs (the same in every organization)
/// and also answer to readable ids such as `role_owner`, see [`crate::SystemRole`].
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct RoleId(pub Uuid);

impl RoleId {
    pub const PREFIX: &'static str = "role_";

    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses `role_` + TypeID suffix, or a system role's readable id (`role_owner`).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let rest = s.strip_prefix(Self::PREFIX).ok_or(IdError::WrongPrefix {
            expected: Self::PREFIX,
        })?;
        if let Some(sys) = crate::SystemRole::from_slug(rest) {
            return Ok(sys.id());
        }
        decode_suffix(rest).map(Self).ok_or(IdError::Unknown)
    }

    pub fn uuid(&self) -> Uuid {
        self.0
    }

    /// The system role this id names, if any.
    pub fn system(&self) -> Option<crate::SystemRole> {
        crate::SystemRole::from_id(*self)
    }
}

impl Default for RoleId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RoleId {
    /// System roles are spelled by their readable id, custom roles in TypeID form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.system() {
            Some(sys) => write!(f, "{}{}", Self::PREFIX, sys.slug()),
            None => write!(f, "{}{}", Self::PREFIX, encode_suffix(self.0)),
        }
    }
}

impl fmt::Debug for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typeid_spec_vectors() {
        let nil = Uuid::nil();
        assert_eq!(encode_suffix(nil), "00000000000000000000000000");
        let u = Uuid::parse_str("01890a5d-ac96-774b-bcce-b302099a8057").unwrap();
        assert_eq!(encode_suffix(u), "01h455vb4pex5vsknk084sn02q");
        assert_eq!(decode_suffix("01h455vb4pex5vsknk084sn02q"), Some(u));
        assert_eq!(
            decode_suffix("8zzzzzzzzzzzzzzzzzzzzzzzzz"),
            None,
            "overflow"
        );
        assert_eq!(
            decode_suffix("01h455vb4pex5vsknk084sn02"),
            None,
            "too short"
        );
    }

    #[test]
    fn ids_round_trip_and_classify_errors() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()), Ok(id));
        assert_eq!(UserId::parse("usr_nonexistent"), Err(IdError::Unknown));
        assert_eq!(
            UserId::parse("org_01h455vb4pex5vsknk084sn02q"),
            Err(IdError::WrongPrefix { expected: "usr_" })
        );
        assert!(OrgId::new() < OrgId::new(), "v7 ids sort by creation");
    }

    #[test]
    fn system_roles_have_readable_ids() {
        let owner = RoleId::parse("role_owner").unwrap();
        assert_eq!(owner.system(), Some(crate::SystemRole::Owner));
        assert_eq!(owner.to_string(), "role_owner");
        assert_eq!(RoleId::parse(&owner.to_string()), Ok(owner));
        let custom = RoleId::new();
        assert_eq!(RoleId::parse(&custom.to_string()), Ok(custom));
    }
}

macro_rules! into_uuid {
    ($($t:ty),*) => {$(
        impl From<$t> for Uuid {
            fn from(id: $t) -> Uuid {
                id.0
            }
        }
    )*};
}
into_uuid!(
    UserId,
    OrgId,
    MembershipId,
    AssignmentId,
    ProjectId,
    GroupId,
    DeptId,
    InvitationId,
    ApiKeyId,
    EventId,
    SessionId,
    ServiceAccountId,
    RoleId
);

macro_rules! from_uuid {
    ($($t:ident),*) => {$(
        impl From<Uuid> for $t {
            fn from(u: Uuid) -> $t {
                $t(u)
            }
        }
    )*};
}
from_uuid!(
    UserId,
    OrgId,
    MembershipId,
    AssignmentId,
    ProjectId,
    GroupId,
    DeptId,
    InvitationId,
    ApiKeyId,
    EventId,
    SessionId,
    ServiceAccountId,
    RoleId
);
