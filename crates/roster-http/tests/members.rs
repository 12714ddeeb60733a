//! Members ("crew management") — spec §5 cases 53–62 and seed 002.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn seed_002_update_member_role_returns_seed_keys_and_member_object() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_admin").await;
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &owner.token,
            json!({"role_id": "role_member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let b = &r.body;
    assert_eq!(b["success"], json!(true));
    assert_eq!(b["message"], json!("Member role updated successfully"));
    assert!(b["id"].as_str().unwrap().starts_with("orgusr_"));
    assert_eq!(b["user_id"], json!(bob.id));
    assert_eq!(b["role_id"], json!("role_member"));
    assert_eq!(b["role_name"], json!("Member"));
    // the member object the SDK parses
    assert_eq!(b["organization_id"], json!(org));
    assert_eq!(b["role"], json!({"id": "role_member", "name": "Member"}));
    assert_eq!(b["status"]["id"], json!("status_active"));
    assert!(r.headers.get("roster-revision").is_some());
}

#[tokio::test]
async fn seed_002_plain_member_gets_403_insufficient_permissions() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let carl = app.member(&org, "Carl Ray", "role_member").await;
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/{}", carl.id),
            &bob.token,
            json!({"role_id": "role_admin"}),
        )
        .await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(e["type"], json!("authorization_error"));
    assert_eq!(
        e["message"],
        json!("You don't have permission to access this resource")
    );
    // nothing changed
    let r = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", carl.id),
            &bob.token,
        )
        .await;
    assert_eq!(r.body["role"]["id"], json!("role_member"));
}
