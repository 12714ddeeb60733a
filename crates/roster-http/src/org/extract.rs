//! Extractors whose rejections speak the organization API's envelope:
//! malformed JSON, wrong types and missing fields are 422 `VALIDATION_ERROR`
//! with `details.field`; oversize bodies are 413; bad query strings are 422.

use super::error::{ApiError, Kind};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A JSON body. An empty body is read as `{}` so that all-optional bodies may be omitted.
#[derive(Debug, Clone)]
pub struct OJson<T>(pub T);

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        Kind::Client,
        "The request body is larger than 1 MiB.",
        "request body too large",
        json!({"max_bytes": 1024 * 1024}),
    )
}

/// Parses JSON, naming the failing field by its path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    // The plain parse is the common case; only a body that fails is parsed
    // again, tracking the path, to name the failing field.
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." {
            missing_field(&inner.to_string()).unwrap_or_else(|| "body".to_owned())
        } else {
            path
        };
        let reason = if inner.is_syntax() || inner.is_eof() {
            format!("malformed JSON: {inner}")
        } else {
            strip_position(&inner.to_string())
        };
        ApiError::validation(&field, reason)
    })
}

fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::validation("body", e.body_text())
            }
        })?;
        if crate::nul::json_holds_nul(&bytes) {
            return Err(ApiError::validation("body", crate::nul::NUL_REFUSED));
        }
        parse_json(&bytes).map(OJson)
    }
}

/// A query string.
#[derive(Debug, Clone)]
pub struct OQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for OQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        if crate::nul::query_holds_nul(q) {
            return Err(ApiError::validation("query", crate::nul::NUL_REFUSED));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(OQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                let field = if path == "." {
                    missing_field(&inner).unwrap_or_else(|| "query".to_owned())
                } else {
                    path
                };
                ApiError::validation(&field, inner)
            })
    }
}
