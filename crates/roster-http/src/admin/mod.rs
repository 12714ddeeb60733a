//! The admin API dialect (OpenAI `/v1/organization/...`, `/v1/projects/...`):
//! Bearer keys, `{"error":{message,type,param,code}}`, HTTP 200 on every
//! success, list envelopes with cursors. Handlers map onto the one core.

use crate::app::App;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;

/// Every route of the dialect, with its OpenAPI declaration.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
}

fn error(status: StatusCode, message: String, code: Option<&str>) -> Response {
    let r#type = if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    (
        status,
        axum::Json(
            json!({"error": {"message": message, "type": r#type, "param": null, "code": code}}),
        ),
    )
        .into_response()
}

/// Unknown routes, in OpenAI's own words.
pub async fn not_found(req: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("Invalid URL ({} {})", req.method(), req.uri().path()),
        None,
    )
}

/// The framework's bodiless errors (405, 413) in this dialect's envelope.
pub fn framework_error(status: StatusCode, method: &Method) -> Response {
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("Method {method} is not allowed on this path"),
        _ => "The request body is too large".to_owned(),
    };
    error(status, message, None)
}
