//! A trace id per request: generated (or taken from `x-request-id`), echoed in
//! the `x-request-id` response header, carried by every error body and audit
//! event, and attached to the request's log span.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static TRACE_ID: String;
}

/// The current request's trace id (a fresh one outside a request).
pub fn current_trace_id() -> String {
    TRACE_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| new_trace_id())
}

fn new_trace_id() -> String {
    let mut buf = uuid::Uuid::encode_buffer();
    let hex = uuid::Uuid::now_v7().simple().encode_lower(&mut buf);
    let mut id = String::with_capacity(4 + hex.len());
    id.push_str("req_");
    id.push_str(hex);
    id
}

pub(crate) async fn middleware(req: Request, next: Next) -> Response {
    let incoming = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned);
    let trace = incoming.unwrap_or_else(new_trace_id);
    let method = req.method().clone();
    let path = redact_path(req.uri().path());
    let span = tracing::info_span!("request", trace_id = %trace, %method, %path);
    let started = std::time::Instant::now();
    let mut res = TRACE_ID
        .scope(
            trace.clone(),
            tracing::Instrument::instrument(next.run(req), span.clone()),
        )
        .await;
    let _enter = span.enter();
    tracing::info!(
        status = res.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "handled"
    );
    if let Ok(v) = HeaderValue::from_str(&trace) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Paths that carry a secret (an invitation's email key) are logged without it.
fn redact_path(path: &str) -> String {
    const SECRET_PREFIXES: [&str; 1] = ["/v1/invitations/validate/"];
    for p in SECRET_PREFIXES {
        if path.starts_with(p) {
            return format!("{p}[redacted]");
        }
    }
    path.to_owned()
}
