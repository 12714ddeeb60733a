//! The FastAPI-style dialect (LlamaCloud `/api/v1/...`): canonical UUIDs,
//! `{"detail": ...}` errors, 422 validation lists. Handlers map onto the one
//! core.

mod error;
mod extract;
mod keys;
mod orgs;
mod projects;
mod roles;
mod users;
pub mod views;

pub use error::{describe, FaError};

use crate::app::App;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

/// Every route of the dialect, with its OpenAPI declaration.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(orgs::routes())
        .merge(users::routes())
        .merge(roles::routes())
        .merge(projects::routes())
        .merge(keys::routes())
}

/// Unknown routes, as FastAPI answers them.
pub async fn not_found(_req: Request) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"detail": "Not Found"})),
    )
        .into_response()
}

/// The framework's bodiless errors (405, 413) in this dialect's envelope.
pub fn framework_error(status: StatusCode, _method: &Method) -> Response {
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
        _ => "Request Entity Too Large",
    };
    (status, axum::Json(json!({"detail": detail}))).into_response()
}
