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
    let mut r = OpenApiRouter::new()
        .merge(orgs::routes())
        .merge(users::routes())
        .merge(roles::routes())
        .merge(projects::routes())
        .merge(keys::routes());
    declare_security(r.get_openapi_mut());
    r
}

/// The name of the `session` cookie's security scheme.
pub const SESSION_SCHEME: &str = "session";

/// Every operation of the dialect needs a credential: `Authorization:
/// Bearer` (the client's way), `X-API-Key`, or the `session` cookie.
fn declare_security(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
    api.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            SESSION_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "session",
                "The session token `POST /v1/auth/login` sets as a cookie.",
            ))),
        );
    let requirements = ["bearer", "api_key", SESSION_SCHEME]
        .map(|name| SecurityRequirement::new(name, Vec::<String>::new()));
    for item in api.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            op.security = Some(requirements.to_vec());
        }
    }
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
