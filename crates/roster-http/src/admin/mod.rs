//! The admin API dialect (OpenAI `/v1/organization/...`, `/v1/projects/...`):
//! Bearer keys, `{"error":{message,type,param,code}}`, HTTP 200 on every
//! success, list envelopes with cursors. Handlers map onto the one core;
//! the decisions are written down in docs/admin-api.md.

mod assignments;
mod audit;
mod error;
mod extract;
mod groups;
mod ids;
mod invites;
mod keys;
mod project_roles;
mod projects;
mod roles;
mod service_accounts;
mod users;
mod views;

pub use error::{describe, AdminError};

use crate::app::App;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

/// Every route of the dialect, with its OpenAPI declaration.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(roles::routes())
        .merge(assignments::routes())
        .merge(invites::routes())
        .merge(keys::routes())
        .merge(groups::routes())
        .merge(projects::routes())
        .merge(project_roles::routes())
        .merge(service_accounts::routes())
        .merge(audit::routes())
}

fn plain(status: StatusCode, message: String) -> Response {
    let mut e = AdminError::new(status, "", message);
    e.code = None;
    e.into_response()
}

/// Unknown routes, in OpenAI's own words.
pub async fn not_found(req: Request) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        format!("Invalid URL ({} {})", req.method(), req.uri().path()),
    )
}

/// The framework's bodiless errors (405, 413) in this dialect's envelope.
pub fn framework_error(status: StatusCode, method: &Method) -> Response {
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("Method {method} is not allowed on this path"),
        _ => "The request body is too large".to_owned(),
    };
    plain(status, message)
}
