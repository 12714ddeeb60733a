//! The organization API dialect (Aitronos `/v1/organizations/...`), Roster's
//! native API. Handlers parse the dialect's ids and bodies, obtain an
//! authorization handle from the core, call the store, and render the
//! dialect's shapes. No business rule lives here.

mod audit;
mod check;
mod departments;
mod error;
mod extract;
mod ids;
mod invitations;
mod keys;
mod members;
mod meta;
mod orgs;
mod roles;
mod users;
pub mod views;

pub use error::{describe, ApiError, Kind};
pub use extract::{parse_json, OJson, OQuery};
pub use ids::{nil, parse_id, unknown, SpelledId};
pub use orgs::org_id;

use crate::app::App;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

/// Every route of the dialect, with its OpenAPI declaration.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(orgs::routes())
        .merge(members::routes())
        .merge(meta::routes())
        .merge(users::routes())
        .merge(roles::routes())
        .merge(departments::routes())
        .merge(invitations::routes())
        .merge(keys::routes())
        .merge(audit::routes())
        .merge(check::routes())
}

/// Unknown routes: 404 in the envelope.
pub async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        Kind::Client,
        format!("No route for {} {}", req.method(), req.uri().path()),
        "route not found",
        json!({"method": req.method().as_str(), "path": req.uri().path()}),
    )
}

/// The framework's bodiless errors (405, 413 from the body limit) in the envelope.
pub fn framework_error(status: StatusCode, method: &axum::http::Method) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return extract::too_large().into_response();
    }
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        Kind::Client,
        format!("Method {method} is not allowed on this path"),
        "method not allowed",
        json!({"method": method.as_str()}),
    )
    .into_response()
}

/// A panic is logged with its trace id and answered with a 500 envelope.
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    tracing::error!(trace_id = %crate::current_trace_id(), panic = %msg, "handler panicked");
    error::internal().into_response()
}

/// Paging bounds shared by the list endpoints.
pub(crate) fn check_range(field: &str, value: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if value < min || value > max {
        Err(ApiError::validation(
            field,
            format!("must be between {min} and {max}"),
        ))
    } else {
        Ok(value)
    }
}

/// Every write response carries the revision it produced.
pub(crate) fn revision_header(revision: i64) -> [(&'static str, String); 1] {
    [("roster-revision", revision.to_string())]
}
