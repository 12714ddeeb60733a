//! What the admin dialect reads from a request: the Bearer credential and the
//! organization it acts on, bracket-style query strings, and lenient JSON
//! bodies. Every rejection is an [`AdminError`].

use super::error::AdminError;
use crate::app::{App, Caller};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use roster_core::{Actor, Error, Need, OrgAccess, OrgId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

// The admin API reads the `Authorization: Bearer <key>` credential and no other.
use crate::app::bearer;

/// The organization a request acts on. An organization API key acts on its
/// own organization (an `OpenAI-Organization` header naming another one is
/// refused by the authorization check); the platform key and user sessions
/// must name one with that header.
fn organization(parts: &Parts, actor: &Actor) -> Result<OrgId, AdminError> {
    let header = parts
        .headers
        .get("openai-organization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let named = header
        .map(|raw| {
            OrgId::parse(raw).map_err(|_| {
                AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_organization",
                    format!(
                        "OpenAI-Organization must be an organization id (org_...), got '{raw}'."
                    ),
                )
            })
        })
        .transpose()?;
    match (actor, named) {
        (_, Some(org)) => Ok(org),
        (Actor::OrgKey { org, .. }, None) => Ok(*org),
        (Actor::Platform | Actor::User { .. }, None) => Err(AdminError::new(
            StatusCode::BAD_REQUEST,
            "missing_organization",
            "This key is not bound to an organization: name one with the OpenAI-Organization header (org_...).",
        )),
    }
}

/// An authenticated caller and the organization its request acts on.
pub struct AdminCaller {
    pub caller: Caller,
    pub org: OrgId,
}

impl FromRequestParts<App> for AdminCaller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, AdminError> {
        let credential = bearer(parts).ok_or(Error::Unauthenticated)?;
        let caller = app.caller_for(credential).await?;
        let org = organization(parts, &caller.actor)?;
        Ok(AdminCaller { caller, org })
    }
}

/// A caller authorized for `N` in its organization. As a request-parts
/// extractor it runs before the body is read: an unauthorized caller learns
/// nothing from body validation or from whether ids exist.
pub struct Admin<N> {
    pub caller: Caller,
    pub access: OrgAccess<N>,
}

impl<N: Need + Send> FromRequestParts<App> for Admin<N> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, AdminError> {
        let AdminCaller { caller, org } = AdminCaller::from_request_parts(parts, app).await?;
        let access = app.authorize::<N>(&caller, org)?;
        Ok(Admin { caller, access })
    }
}

/// A JSON body. Unknown fields are ignored; an empty body reads as `{}` (the
/// SDK sends a JSON content type on bodiless requests). Failures name the
/// field in `param`.
#[derive(Debug, Clone)]
pub struct AJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AJson<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AdminError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AdminError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    "The request body is larger than 1 MiB.",
                )
            } else {
                AdminError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text())
            }
        })?;
        if crate::nul::json_holds_nul(&bytes) {
            return Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_value",
                crate::nul::NUL_REFUSED,
            ));
        }
        parse_json(&bytes).map(AJson)
    }
}

/// Parses a JSON body, naming the failing field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    // A struct would also accept a JSON array (field by position): refuse it.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| {
        *b == b'[' || b.is_ascii_digit() || *b == b'"' || *b == b't' || *b == b'f' || *b == b'n'
    }) {
        return Err(AdminError::new(
            StatusCode::BAD_REQUEST,
            "invalid_type",
            "The request body must be a JSON object.",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            return AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("We could not parse the JSON body of your request: {text}."),
            );
        }
        if let Some(field) = text
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            let field = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            return AdminError::missing(&field);
        }
        let param = (path != ".").then_some(path);
        let code = if text.starts_with("invalid type") {
            "invalid_type"
        } else {
            "invalid_value"
        };
        let message = match &param {
            Some(p) => format!("Invalid value for '{p}': {text}."),
            None => format!("The request body must be a JSON object: {text}."),
        };
        let mut err = AdminError::new(StatusCode::BAD_REQUEST, code, message);
        err.param = param;
        err
    })
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// `Option<Option<T>>` for partial updates: a missing key is `None`, an
/// explicit `null` is `Some(None)`. Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A query string in the SDK's bracket style: `emails[]=a&emails[]=b`,
/// `effective_at[gte]=1`, plain `emails=a` too. Keys are percent-decoded, so
/// `%5B%5D` works. `k[]` (and `k[0]`) collect into the list `k`; `k[sub]`
/// is read as `k[sub]`.
#[derive(Debug, Clone, Default)]
pub struct AQuery {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for AQuery {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AdminError> {
        let q = parts.uri.query().unwrap_or("");
        if crate::nul::query_holds_nul(q) {
            return Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_value",
                crate::nul::NUL_REFUSED,
            ));
        }
        let pairs = form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(AQuery { pairs })
    }
}

/// Sort order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl AQuery {
    /// The last value of a scalar parameter; empty values count as absent.
    pub fn one(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a list parameter (`key[]`, `key[N]` or plain `key`),
    /// or `None` when it is not given at all.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| {
                k == key
                    || k.strip_prefix(key)
                        .and_then(|r| r.strip_prefix('['))
                        .and_then(|r| r.strip_suffix(']'))
                        .is_some_and(|inner| inner.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|(_, v)| v.clone())
            .collect();
        (!values.is_empty()).then_some(values)
    }

    /// An integer parameter, with the name it is reported under.
    pub fn int(&self, key: &str) -> Result<Option<i64>, AdminError> {
        self.one(key)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    AdminError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_type",
                        format!("Invalid '{key}': expected an integer, got '{v}'."),
                    )
                    .param(key)
                })
            })
            .transpose()
    }

    /// `limit`, defaulting to `default` and refused outside `min..=max`.
    pub fn limit(&self, default: i64, min: i64, max: i64) -> Result<i64, AdminError> {
        let n = self.int("limit")?.unwrap_or(default);
        if n < min || n > max {
            return Err(AdminError::invalid(
                "limit",
                format!("Invalid 'limit': {n}. It must be between {min} and {max}."),
            ));
        }
        Ok(n)
    }

    /// A boolean parameter (`true`/`false`, also `1`/`0`).
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, AdminError> {
        match self.one(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(v) => Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "invalid_type",
                format!("Invalid '{key}': expected true or false, got '{v}'."),
            )
            .param(key)),
        }
    }

    /// `order`: `asc` or `desc`.
    pub fn order(&self, default: Order) -> Result<Order, AdminError> {
        match self.one("order") {
            None => Ok(default),
            Some("asc") => Ok(Order::Asc),
            Some("desc") => Ok(Order::Desc),
            Some(v) => Err(AdminError::invalid(
                "order",
                format!("Invalid 'order': '{v}'. It must be 'asc' or 'desc'."),
            )),
        }
    }
}
