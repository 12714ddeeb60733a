#![allow(clippy::unwrap_used)]
// The OpenAPI document is generated from the route declarations; the copy
// committed at the repository root must match what the server serves.

mod common;
use common::*;

fn generated() -> String {
    serde_json::to_string_pretty(&roster_http::openapi()).unwrap() + "\n"
}

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");

#[test]
fn committed_openapi_json_is_current() {
    let doc = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &doc).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == doc,
        "openapi.json is stale; regenerate it with: UPDATE_OPENAPI=1 cargo test -p roster-http --test openapi"
    );
}

#[tokio::test]
async fn served_document_matches_and_every_documented_route_exists() {
    let app = TestApp::spawn().await;
    let r = app.get("/openapi.json", PLATFORM_KEY).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        serde_json::to_value(roster_http::openapi()).unwrap()
    );
    let paths = r.body["paths"].as_object().unwrap();
    assert!(paths.len() > 10);
    for (path, ops) in paths {
        let concrete = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "x_unknown"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in ops.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app.call(m, &concrete, Some(PLATFORM_KEY), None).await;
            // each dialect's fallback answer for a route it does not have
            let unrouted = match roster_http::app::Dialect::of(path) {
                roster_http::app::Dialect::Org => res.code() == "NOT_FOUND",
                roster_http::app::Dialect::Admin => res.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Invalid URL")),
                roster_http::app::Dialect::FastApi => {
                    res.body == serde_json::json!({"detail": "Not Found"})
                }
            };
            assert!(!unrouted, "{method} {path} is documented but not routed");
            assert_ne!(
                res.status, 405,
                "{method} {path} is documented but not routed"
            );
            assert_ne!(
                res.status, 500,
                "{method} {path} answered 500: {:?}",
                res.body
            );
        }
    }
    let docs = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
}

#[tokio::test]
async fn unknown_routes_answer_in_the_dialect_of_their_path() {
    let app = TestApp::spawn().await;
    let org = app
        .get("/v1/organizations/x/nothing-here", PLATFORM_KEY)
        .await;
    assert_eq!((org.status, org.code()), (404, "NOT_FOUND"));
    let admin = app.get("/v1/organization/nothing-here", PLATFORM_KEY).await;
    assert_eq!(admin.status, 404);
    assert_eq!(
        admin.body,
        serde_json::json!({"error": {"message": "Invalid URL (GET /v1/organization/nothing-here)",
            "type": "invalid_request_error", "param": null, "code": null}})
    );
    let fastapi = app.get("/api/v1/nothing-here", PLATFORM_KEY).await;
    assert_eq!(fastapi.status, 404);
    assert_eq!(fastapi.body, serde_json::json!({"detail": "Not Found"}));
}

/// The operations anyone may call: they declare `security: [{}]`.
const PUBLIC: [(&str, &str); 3] = [
    ("post", "/v1/auth/login"),
    ("get", "/v1/invitations/validate/{email_key}"),
    ("post", "/v1/invitations/complete"),
];

#[test]
fn every_operation_declares_its_credentials() {
    use roster_http::app::Dialect;
    let doc = serde_json::to_value(roster_http::openapi()).unwrap();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["session"],
        serde_json::json!({"type": "apiKey", "in": "cookie", "name": "session",
            "description": "The session token `POST /v1/auth/login` sets as a cookie."})
    );
    assert_eq!(
        schemes["bearer"],
        serde_json::json!({"type": "http", "scheme": "bearer"})
    );
    assert_eq!(
        schemes["api_key"],
        serde_json::json!({"type": "apiKey", "in": "header", "name": "X-API-Key"})
    );
    let mut seen = std::collections::BTreeMap::new();
    let mut public = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let security = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} declares no security"));
            if security == &vec![serde_json::json!({})] {
                public.push((method.as_str(), path.as_str()));
                continue;
            }
            let names: Vec<&str> = security
                .iter()
                .map(|r| {
                    let r = r.as_object().unwrap();
                    assert_eq!(r.len(), 1, "{method} {path}: one scheme per alternative");
                    r.keys().next().unwrap().as_str()
                })
                .collect();
            let dialect = Dialect::of(path);
            let expected = match dialect {
                Dialect::Admin => vec!["bearer"],
                Dialect::Org | Dialect::FastApi => vec!["bearer", "api_key", "session"],
            };
            assert_eq!(names, expected, "{method} {path}");
            *seen.entry(format!("{dialect:?}")).or_insert(0) += 1;
        }
    }
    public.sort_unstable();
    let mut want = PUBLIC.to_vec();
    want.sort_unstable();
    assert_eq!(public, want, "the public operations");
    for (dialect, at_least) in [("Org", 60), ("Admin", 70), ("FastApi", 30)] {
        assert!(
            seen.get(dialect).is_some_and(|n| *n >= at_least),
            "{seen:?}"
        );
    }
}
