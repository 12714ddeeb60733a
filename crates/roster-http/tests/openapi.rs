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
            assert_ne!(
                res.code(),
                "NOT_FOUND",
                "{method} {path} is documented but not routed"
            );
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
