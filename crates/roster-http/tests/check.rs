// The permission check over HTTP: read-your-writes, at_least_revision,
// explanations, the batch form and who-can.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn a_write_is_visible_to_the_next_check_and_explained() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let check = format!("/v1/organizations/{org}/check");
    let r = app
        .post(
            &check,
            &owner.token,
            json!({"user_id": bob.id, "permission": "manage_users"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["allowed"], json!(false));

    let w = app
        .put(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &owner.token,
            json!({"role_id": "role_department_manager"}),
        )
        .await;
    assert_eq!(w.status, 200);
    let rev: i64 = w.headers["roster-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = app
        .post(&check, &owner.token, json!({"user_id": bob.id, "permission": "manage_users", "explain": true, "at_least_revision": rev}))
        .await;
    assert_eq!(r.body["allowed"], json!(true), "{:?}", r.body);
    assert!(r.body["revision"].as_i64().unwrap() >= rev);
    assert_eq!(r.body["outcome"], json!("allowed"));
    let reason = &r.body["reasons"][0];
    assert_eq!(reason["role_id"], json!("role_department_manager"));
    assert_eq!(reason["role_name"], json!("Department Manager"));
    assert_eq!(reason["via"], json!({"type": "primary_role"}));
    assert_eq!(reason["grant"], json!("manage_users"));
    assert!(reason["assignment_id"]
        .as_str()
        .unwrap()
        .starts_with("urol_"));

    // the owner passes everything through override_all_permissions
    let r = app
        .post(
            &check,
            &owner.token,
            json!({"user_id": owner.id, "permission": "anything.at.all", "explain": true}),
        )
        .await;
    assert_eq!(r.body["allowed"], json!(true));
    assert_eq!(r.body["outcome"], json!("override"));
}

#[tokio::test]
async fn non_members_unknown_users_and_inactive_members_are_simply_not_allowed() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let (_other, stranger) = app.org("Blue").await;
    let check = format!("/v1/organizations/{org}/check");
    for user in [stranger.id.as_str(), "usr_nonexistent"] {
        let r = app
            .post(
                &check,
                &owner.token,
                json!({"user_id": user, "permission": "manage_users"}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["allowed"], json!(false));
    }
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    app.put(
        &format!("/v1/organizations/{org}/users/{}", admin.id),
        &owner.token,
        json!({"status_id": "status_inactive"}),
    )
    .await;
    let r = app
        .post(
            &check,
            &owner.token,
            json!({"user_id": admin.id, "permission": "manage_users", "explain": true}),
        )
        .await;
    assert_eq!(r.body["allowed"], json!(false));
    assert_eq!(r.body["outcome"], json!("inactive"));
}

#[tokio::test]
async fn bad_questions_are_422_and_future_revisions_503() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let check = format!("/v1/organizations/{org}/check");
    let r = app
        .post(
            &check,
            &owner.token,
            json!({"user_id": "org_x", "permission": "a"}),
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("user_id"));
    let r = app
        .post(
            &check,
            &owner.token,
            json!({"user_id": owner.id, "permission": "Not A Key"}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app
        .post(&check, &owner.token, json!({"user_id": owner.id}))
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app
        .post(
            &check,
            &owner.token,
            json!({"user_id": owner.id, "permission": "a", "at_least_revision": 1_000_000}),
        )
        .await;
    assert_envelope(&r, 503, "INDEX_BEHIND");
}

#[tokio::test]
async fn batch_answers_in_order_and_bounds_its_size() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_billing_manager").await;
    let batch = format!("/v1/organizations/{org}/check/batch");
    let r = app
        .post(
            &batch,
            &owner.token,
            json!({"checks": [
                {"user_id": bob.id, "permission": "manage_billing"},
                {"user_id": bob.id, "permission": "manage_roles"},
                {"user_id": owner.id, "permission": "manage_roles"},
                {"user_id": "usr_nonexistent", "permission": "manage_roles"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let got: Vec<bool> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(got, [true, false, true, false]);
    let many: Vec<_> = (0..1001)
        .map(|_| json!({"user_id": bob.id, "permission": "a"}))
        .collect();
    let r = app
        .post(&batch, &owner.token, json!({"checks": many}))
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app.post(&batch, &owner.token, json!({"checks": []})).await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn who_can_is_complete_and_paginated() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let mut billing = vec![owner.id.clone()];
    for n in ["Bea One", "Bea Two", "Bea Three"] {
        billing.push(app.member(&org, n, "role_billing_manager").await.id);
    }
    app.member(&org, "Max Member", "role_member").await;
    billing.sort();
    let path = format!("/v1/organizations/{org}/permissions/manage_billing/users");
    let r = app.get(&format!("{path}?limit=3"), &owner.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["total"], json!(4));
    let mut seen: Vec<String> = r.body["user_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let r = app
        .get(&format!("{path}?limit=3&skip=3"), &owner.token)
        .await;
    seen.extend(
        r.body["user_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned()),
    );
    assert_eq!(seen, billing);
    let r = app.get(&format!("{path}?limit=0"), &owner.token).await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
}
