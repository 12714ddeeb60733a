//! Request parsing in FastAPI's terms: authentication first, then the path,
//! then (for handlers that need it) authorization, and the body last, each
//! refusal in the dialect's shape. Bodies are read as JSON values and checked
//! field by field by [`Check`], which collects every problem of a request
//! (as pydantic does) with its `loc` path and pydantic's `type` name.

use super::error::{item, FaError};
use crate::app::{App, Caller};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use roster_core::{Need, OrgAccess, OrgId};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// An authenticated caller (Bearer credential or `session` cookie).
pub struct FaCaller(pub Caller);

impl FromRequestParts<App> for FaCaller {
    type Rejection = FaError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, FaError> {
        Ok(FaCaller(Caller::authenticate(parts, app).await?))
    }
}

/// The path's parameters, by name (percent-decoded). An empty segment
/// where a parameter belongs (`/organizations//users`) is no route at all,
/// as in FastAPI, whose parameters never match an empty segment: 404.
pub async fn path_params(parts: &mut Parts, app: &App) -> Result<HashMap<String, String>, FaError> {
    let params = axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map(|p| p.0)
        .unwrap_or_default();
    if params.values().any(String::is_empty) {
        return Err(FaError::new(StatusCode::NOT_FOUND, "Not Found"));
    }
    Ok(params)
}

/// The path's parameters as an extractor.
pub struct PathParams(pub HashMap<String, String>);

impl FromRequestParts<App> for PathParams {
    type Rejection = FaError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, FaError> {
        Ok(PathParams(path_params(parts, app).await?))
    }
}

impl PathParams {
    /// A UUID path parameter (422 `uuid_parsing` at `["path", name]` otherwise).
    pub fn uuid(&self, name: &str) -> Result<Uuid, FaError> {
        let raw = self.0.get(name).map(String::as_str).unwrap_or_default();
        parse_uuid(raw).map_err(|msg| {
            FaError::one(
                vec![json!("path"), json!(name)],
                "uuid_parsing",
                msg,
                json!(raw),
            )
        })
    }

    /// A string path parameter.
    pub fn str(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or_default()
    }
}

/// pydantic's UUID parsing message for a string that is not one.
fn parse_uuid(raw: &str) -> Result<Uuid, String> {
    Uuid::parse_str(raw).map_err(|e| format!("Input should be a valid UUID, {e}"))
}

/// A caller authorized for `N` in the organization named by the path's
/// `organization_id` (a UUID). Runs before the body is read.
pub struct FaOrg<N> {
    pub caller: Caller,
    pub access: OrgAccess<N>,
    pub path: PathParams,
}

impl<N: Need + Send> FromRequestParts<App> for FaOrg<N> {
    type Rejection = FaError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, FaError> {
        let caller = Caller::authenticate(parts, app).await?;
        let path = PathParams(path_params(parts, app).await?);
        let org = OrgId(path.uuid("organization_id")?);
        let access = app.authorize::<N>(&caller, org)?;
        Ok(FaOrg {
            caller,
            access,
            path,
        })
    }
}

/// The request body as a JSON value. A missing body is 422 `missing` at
/// `["body"]`; malformed JSON is 422 `json_invalid` at `["body", offset]`.
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = FaError;

    async fn from_request(req: Request, state: &S) -> Result<Self, FaError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                FaError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
            } else {
                FaError::new(
                    StatusCode::BAD_REQUEST,
                    "The request body could not be read",
                )
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(FaError::one(
                vec![json!("body")],
                "missing",
                "Field required",
                Value::Null,
            ));
        }
        if crate::nul::json_holds_nul(&bytes) {
            return Err(FaError::one(
                vec![json!("body")],
                "string_nul",
                crate::nul::NUL_REFUSED,
                Value::Null,
            ));
        }
        serde_json::from_slice(&bytes).map(Body).map_err(|e| {
            let offset = byte_offset(&bytes, e.line(), e.column());
            let mut it = item(
                vec![json!("body"), json!(offset)],
                "json_invalid",
                "JSON decode error",
                json!({}),
            );
            it["ctx"] = json!({"error": strip_position(&e.to_string())});
            FaError::invalid(vec![it])
        })
    }
}

/// The 0-based offset of serde_json's (1-based line, column) position.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in bytes.split(|b| *b == b'\n').enumerate() {
        if i + 1 == line {
            return offset + column.saturating_sub(1);
        }
        offset += l.len() + 1;
    }
    bytes.len()
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The query string's parameters (the last value of a repeated name wins).
pub struct Query(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = FaError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, FaError> {
        let q = parts.uri.query().unwrap_or("");
        if crate::nul::query_holds_nul(q) {
            return Err(FaError::one(
                vec![json!("query")],
                "string_nul",
                crate::nul::NUL_REFUSED,
                Value::Null,
            ));
        }
        Ok(Query(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl Query {
    /// An optional UUID parameter; `required` makes its absence a 422 `missing`.
    pub fn uuid(&self, name: &str, required: bool) -> Result<Option<Uuid>, FaError> {
        let loc = vec![json!("query"), json!(name)];
        match self.0.get(name) {
            None if required => Err(FaError::one(loc, "missing", "Field required", Value::Null)),
            None => Ok(None),
            Some(raw) => parse_uuid(raw)
                .map(Some)
                .map_err(|msg| FaError::one(loc, "uuid_parsing", msg, json!(raw))),
        }
    }

    /// An optional boolean parameter, read as pydantic reads one.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, FaError> {
        let Some(raw) = self.0.get(name) else {
            return Ok(None);
        };
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Ok(Some(true)),
            "false" | "0" | "no" | "off" | "f" | "n" => Ok(Some(false)),
            _ => Err(FaError::one(
                vec![json!("query"), json!(name)],
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
                json!(raw),
            )),
        }
    }

    /// An optional string parameter.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Collects the validation errors of a body, pydantic style.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<Value>,
}

fn at(loc: &[Value], name: &str) -> Vec<Value> {
    let mut l = loc.to_vec();
    l.push(json!(name));
    l
}

impl Check {
    pub fn new() -> Self {
        Check::default()
    }

    fn push(&mut self, loc: Vec<Value>, r#type: &str, msg: impl Into<String>, input: &Value) {
        self.errors.push(item(loc, r#type, msg, input.clone()));
    }

    /// The value as an object (422 `model_attributes_type` otherwise).
    pub fn object<'v>(&mut self, v: &'v Value, loc: &[Value]) -> Option<&'v Map<String, Value>> {
        let obj = v.as_object();
        if obj.is_none() {
            self.push(
                loc.to_vec(),
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
                v,
            );
        }
        obj
    }

    /// The value as a list (422 `list_type` otherwise).
    pub fn list<'v>(&mut self, v: &'v Value, loc: &[Value]) -> Option<&'v Vec<Value>> {
        let list = v.as_array();
        if list.is_none() {
            self.push(loc.to_vec(), "list_type", "Input should be a valid list", v);
        }
        list
    }

    /// A field that must be present (`missing` otherwise); `None` when it is missing.
    fn required<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        loc: &[Value],
        name: &str,
    ) -> Option<&'v Value> {
        let v = obj.get(name);
        if v.is_none() {
            let missing = Value::Object(obj.clone());
            self.push(at(loc, name), "missing", "Field required", &missing);
        }
        v
    }

    /// A string field of `min..=max` characters. `required` fields must be
    /// present and non-null; optional ones read null and absence as `None`.
    pub fn string(
        &mut self,
        obj: &Map<String, Value>,
        loc: &[Value],
        name: &str,
        required: bool,
        (min, max): (usize, usize),
    ) -> Option<String> {
        let v = if required {
            self.required(obj, loc, name)?
        } else {
            match obj.get(name) {
                None | Some(Value::Null) => return None,
                Some(v) => v,
            }
        };
        let Some(s) = v.as_str() else {
            self.push(
                at(loc, name),
                "string_type",
                "Input should be a valid string",
                v,
            );
            return None;
        };
        let n = s.chars().count();
        if n < min {
            let mut it = item(
                at(loc, name),
                "string_too_short",
                format!(
                    "String should have at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                ),
                v.clone(),
            );
            it["ctx"] = json!({"min_length": min});
            self.errors.push(it);
            return None;
        }
        if n > max {
            let mut it = item(
                at(loc, name),
                "string_too_long",
                format!("String should have at most {max} characters"),
                v.clone(),
            );
            it["ctx"] = json!({"max_length": max});
            self.errors.push(it);
            return None;
        }
        Some(s.to_owned())
    }

    /// A UUID field; optional ones read null and absence as `None`.
    pub fn uuid(
        &mut self,
        obj: &Map<String, Value>,
        loc: &[Value],
        name: &str,
        required: bool,
    ) -> Option<Uuid> {
        let v = if required {
            self.required(obj, loc, name)?
        } else {
            match obj.get(name) {
                None | Some(Value::Null) => return None,
                Some(v) => v,
            }
        };
        self.uuid_value(v, &at(loc, name))
    }

    /// A value that must be a UUID string.
    pub fn uuid_value(&mut self, v: &Value, loc: &[Value]) -> Option<Uuid> {
        let Some(s) = v.as_str() else {
            self.push(
                loc.to_vec(),
                "uuid_type",
                "UUID input should be a string, bytes or UUID object",
                v,
            );
            return None;
        };
        match parse_uuid(s) {
            Ok(u) => Some(u),
            Err(msg) => {
                self.push(loc.to_vec(), "uuid_parsing", msg, v);
                None
            }
        }
    }

    /// A required boolean field.
    pub fn bool(&mut self, obj: &Map<String, Value>, loc: &[Value], name: &str) -> Option<bool> {
        let v = self.required(obj, loc, name)?;
        let b = v.as_bool();
        if b.is_none() {
            self.push(
                at(loc, name),
                "bool_type",
                "Input should be a valid boolean",
                v,
            );
        }
        b
    }

    /// A field that must be present but may be null (pydantic's required
    /// `Optional[...]`); returns the value when present.
    pub fn present<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        loc: &[Value],
        name: &str,
    ) -> Option<&'v Value> {
        self.required(obj, loc, name)
    }

    /// A custom refusal (`value_error`).
    pub fn value_error(&mut self, loc: Vec<Value>, message: &str, input: &Value) {
        self.push(loc, "value_error", format!("Value error, {message}"), input);
    }

    /// Ok when nothing was refused, else the 422 listing every problem.
    pub fn finish(self) -> Result<(), FaError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(FaError::invalid(self.errors))
        }
    }
}

/// `["body"]`, the root location of a body.
pub fn body_loc() -> Vec<Value> {
    vec![json!("body")]
}
