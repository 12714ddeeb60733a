// Authentication, tenancy and organizations — spec §5 cases 63–68, and bad input.

mod common;
use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn case_63_no_credentials_is_401() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/v1/organizations", None, None).await;
    let e = assert_envelope(&r, 401, "AUTHENTICATION_REQUIRED");
    assert_eq!(e["type"], json!("authentication_error"));
    let r = app
        .get("/v1/organizations", "ak_not_a_real_key_at_all")
        .await;
    assert_envelope(&r, 401, "INVALID_API_KEY");
}

#[tokio::test]
async fn case_64_both_headers_any_case_are_accepted() {
    let app = TestApp::spawn().await;
    let (_org, owner) = app.org("Acme").await;
    for (name, value) in [
        ("X-API-Key", owner.token.clone()),
        ("x-api-key", PLATFORM_KEY.to_owned()),
        ("Authorization", format!("Bearer {}", owner.token)),
        ("authorization", format!("bearer {PLATFORM_KEY}")),
    ] {
        let r = app
            .client
            .get(format!("{}/v1/organizations", app.base))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }
}

#[tokio::test]
async fn case_65_non_member_is_403_and_other_tenants_stay_invisible() {
    let app = TestApp::spawn().await;
    let (org_a, owner_a) = app.org("Acme").await;
    let (org_b, owner_b) = app.org("Blue").await;
    let r = app
        .get(&format!("/v1/organizations/{org_a}"), &owner_b.token)
        .await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");
    let r = app
        .post(
            &format!("/v1/organizations/{org_a}/users"),
            &owner_b.token,
            json!({}),
        )
        .await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");
    // a member of B addressed through org A is not found there
    let r = app
        .get(
            &format!("/v1/organizations/{org_a}/users/{}", owner_b.id),
            &owner_a.token,
        )
        .await;
    assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    let r = app.get("/v1/organizations", &owner_a.token).await;
    assert_eq!(r.body["total"], json!(1));
    assert_eq!(r.body["organizations"][0]["id"], json!(org_a));
    let _ = org_b;
}

#[tokio::test]
async fn case_66_creator_becomes_owner_and_platform_can_name_one() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app
        .get(&format!("/v1/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["owner_id"], json!(owner.id));
    assert_eq!(r.body["type"], json!("Work"));
    let r = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", owner.id),
            &owner.token,
        )
        .await;
    assert_eq!(r.body["role"]["id"], json!("role_owner"));
    let u = app.user("Pat Platform").await;
    let r = app
        .post(
            "/v1/organizations",
            PLATFORM_KEY,
            json!({"name": "Made", "type": "School", "owner_user_id": u.id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["owner_id"], json!(u.id));
    let r = app
        .post(
            "/v1/organizations",
            PLATFORM_KEY,
            json!({"name": "Bad", "type": "Guild"}),
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("type"));
    let r = app
        .post("/v1/organizations", PLATFORM_KEY, json!({"type": "Work"}))
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("name"));
}

#[tokio::test]
async fn case_67_only_the_owner_deletes_the_organization() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let r = app
        .delete(&format!("/v1/organizations/{org}"), &admin.token)
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app
        .delete(&format!("/v1/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app
        .get(&format!("/v1/organizations/{org}"), &owner.token)
        .await;
    assert_envelope(&r, 404, "ORGANIZATION_NOT_FOUND");
}

#[tokio::test]
async fn case_68_update_needs_admin_and_keeps_absent_fields() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let path = format!("/v1/organizations/{org}");
    assert_eq!(app.get(&path, &bob.token).await.status, 200);
    let r = app
        .patch(&path, &bob.token, json!({"name": "Hacked"}))
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app
        .patch(&path, &owner.token, json!({"description": "Main org"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["name"], json!("Acme"));
    assert_eq!(r.body["description"], json!("Main org"));
}

#[tokio::test]
async fn bad_input_never_500() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    // malformed JSON
    let r = app
        .client
        .post(format!("{}/v1/organizations/{org}/users", app.base))
        .header("x-api-key", &owner.token)
        .header("content-type", "application/json")
        .body("{\"skip\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    // oversize body
    let big = "x".repeat(1024 * 1024 + 10);
    let r = app
        .client
        .post(format!("{}/v1/organizations", app.base))
        .header("x-api-key", &owner.token)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{big}\", \"type\": \"Work\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("PAYLOAD_TOO_LARGE"));
    // unknown route, wrong method
    let r = app.get("/v1/nowhere", &owner.token).await;
    assert_envelope(&r, 404, "NOT_FOUND");
    let r = app
        .call(
            Method::PATCH,
            "/v1/capabilities",
            Some(&owner.token),
            Some(json!({})),
        )
        .await;
    assert_envelope(&r, 405, "METHOD_NOT_ALLOWED");
    // a too-long name
    let r = app
        .patch(
            &format!("/v1/organizations/{org}"),
            &owner.token,
            json!({"name": "n".repeat(256)}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    // bad query
    let r = app.get("/v1/organizations?limit=abc", &owner.token).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("limit"));
    let r = app.get("/v1/organizations?limit=101", &owner.token).await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn login_logout_and_trace_ids() {
    let app = TestApp::spawn().await;
    let u = app.user("Lee Login").await;
    let r = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": u.email, "password": "wrong password"})),
        )
        .await;
    assert_envelope(&r, 401, "INVALID_CREDENTIALS");
    let r = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": u.email, "password": "correct horse", "extra": 1})),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app.get(&format!("/v1/users/{}", u.id), &u.token).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("x-request-id").is_some());
    let r = app
        .call(Method::POST, "/v1/auth/logout", Some(&u.token), None)
        .await;
    assert_eq!(r.status, 204);
    let r = app.get(&format!("/v1/users/{}", u.id), &u.token).await;
    assert_envelope(&r, 401, "INVALID_API_KEY");
    let r = app
        .post(
            "/v1/users",
            PLATFORM_KEY,
            json!({"email": u.email.to_uppercase(), "full_name": "Dup"}),
        )
        .await;
    assert_envelope(&r, 409, "EMAIL_ALREADY_EXISTS");
    let r = app
        .post(
            "/v1/users",
            &u.token,
            json!({"email": "x@y.io", "full_name": "Nope"}),
        )
        .await;
    assert_eq!(r.status, 401);
}

/// U+0000 in input (PostgreSQL stores none in text) is a validation error
/// on both databases, in a body and in a query string; nothing is written.
#[tokio::test]
async fn a_nul_character_in_input_is_refused() {
    let app = TestApp::spawn().await;
    let body = json!({"email": "nul@example.test", "full_name": "Nul\u{0}Name"});
    let r = app.post("/v1/users", PLATFORM_KEY, body).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("body"));
    let r = app
        .post(
            "/v1/users",
            PLATFORM_KEY,
            json!({"email": "nul@example.test", "full_name": "Plain"}),
        )
        .await;
    assert_eq!(r.status, 201, "nothing was written: {:?}", r.body);
    let (org, owner) = app.org("Acme").await;
    let r = app
        .get(
            &format!("/v1/organizations/{org}/departments/tree?scope=a%00b"),
            &owner.token,
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("query"));
}
