// Invitations — spec §2.6 V1–V5, §3.13: invite, look up, cancel, resend, and
// the public validate / accept / complete.

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn invite(app: &TestApp, org: &str, key: &str, email: &str, role: &str) -> Res {
    app.post(
        &format!("/v1/organizations/{org}/invite-user"),
        key,
        json!({"email": email, "role_id": role, "send_invitation": true}),
    )
    .await
}

/// The key the link carries.
#[allow(clippy::unwrap_used)]
fn key_of(created: &Value) -> String {
    let link = created["invitation_link"].as_str().unwrap();
    let key = link.strip_prefix("/v1/invitations/validate/").unwrap();
    assert_eq!(created["email_key"], json!(key));
    key.to_owned()
}

async fn validate(app: &TestApp, key: &str) -> Res {
    app.call(
        Method::GET,
        &format!("/v1/invitations/validate/{key}"),
        None,
        None,
    )
    .await
}

async fn complete(app: &TestApp, key: &str, name: &str) -> Res {
    app.call(
        Method::POST,
        "/v1/invitations/complete",
        None,
        Some(json!({"email_key": key, "full_name": name, "password": "new password 1"})),
    )
    .await
}

async fn accept(app: &TestApp, key: &str, token: Option<&str>) -> Res {
    app.call(
        Method::POST,
        &format!("/v1/invitations/accept?email_key={key}"),
        token,
        None,
    )
    .await
}

#[allow(clippy::unwrap_used)]
async fn expire_all(app: &TestApp) {
    sqlx::query("UPDATE invitations SET expires_at = 1")
        .execute(app.store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn v1_v5_invite_validate_complete_new_user_signs_in_as_active_member() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = invite(
        &app,
        &org,
        &owner.token,
        "New.Person@Example.test",
        "role_member",
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.headers.get("roster-revision").is_some());
    let created = r.body.clone();
    assert!(created["invitation_id"]
        .as_str()
        .unwrap()
        .starts_with("inv_"));
    assert_eq!(created["email"], json!("New.Person@Example.test"));
    assert_eq!(created["role_id"], json!("role_member"));
    assert_eq!(created["organization_id"], json!(org));
    assert_eq!(created["status"], json!("pending"));
    // the id the user will have once they complete
    let reserved = created["user_id"].as_str().unwrap().to_owned();
    assert!(reserved.starts_with("usr_"));
    let key = key_of(&created);

    let v = validate(&app, &key).await;
    assert_eq!(v.status, 200, "{:?}", v.body);
    assert_eq!(v.body["valid"], json!(true));
    assert_eq!(v.body["status"], json!("pending"));
    assert_eq!(v.body["email"], json!("New.Person@Example.test"));
    assert_eq!(v.body["organization_id"], json!(org));
    assert_eq!(v.body["organization_name"], json!("Acme"));
    assert_eq!(v.body["role_id"], json!("role_member"));
    assert_eq!(v.body["user_exists"], json!(false));
    assert!(v.body["expires_at"].as_str().is_some());

    let c = complete(&app, &key, "New Person").await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    assert_eq!(c.body["success"], json!(true));
    assert_eq!(c.body["user_id"], json!(reserved));
    assert_eq!(c.body["email"], json!("New.Person@Example.test"));
    assert_eq!(c.body["organization_id"], json!(org));
    assert_eq!(c.body["refresh_token"], json!({}));
    assert_eq!(c.body["device_id"], Value::Null);
    assert_eq!(c.body["recommended_username"], json!("new.person"));
    let token = c.body["token"].as_str().unwrap().to_owned();

    // signed in, and an Active member with the invited role
    let r = app.get(&format!("/v1/organizations/{org}"), &token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let m = app
        .get(
            &format!("/v1/organizations/{org}/users/{reserved}"),
            &owner.token,
        )
        .await;
    assert_eq!(m.status, 200, "{:?}", m.body);
    assert_eq!(m.body["status"]["id"], json!("status_active"));
    assert_eq!(m.body["role"]["id"], json!("role_member"));
    assert_eq!(m.body["full_name"], json!("New Person"));
    // the password works for a normal login too
    let r = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": "new.person@example.test", "password": "new password 1"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user_id"], json!(reserved));

    // the invitation is used up
    let v = validate(&app, &key).await;
    assert_eq!(v.body["valid"], json!(false));
    assert_eq!(v.body["status"], json!("accepted"));
    let again = complete(&app, &key, "New Person").await;
    let e = assert_envelope(&again, 422, "INVITATION_NOT_PENDING");
    assert_eq!(e["details"]["state"], json!("accepted"));
    let d = app
        .get(
            &format!(
                "/v1/organizations/{org}/invitation?invitation_id={}",
                created["invitation_id"].as_str().unwrap()
            ),
            &owner.token,
        )
        .await;
    assert_eq!(d.body["status"], json!("accepted"));
}

#[tokio::test]
async fn v1_v5_existing_user_is_pending_member_until_accepting() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let eve = app.user("Eve Green").await;
    let r = invite(&app, &org, &owner.token, &eve.email, "role_admin").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["user_id"], json!(eve.id));
    let key = key_of(&r.body);
    let member_path = format!("/v1/organizations/{org}/users/{}", eve.id);

    // listed as a Pending member, but not yet able to act in the organization
    let m = app.get(&member_path, &owner.token).await;
    assert_eq!(m.status, 200, "{:?}", m.body);
    assert_eq!(m.body["status"]["id"], json!("status_pending"));
    assert_eq!(m.body["role"]["id"], json!("role_admin"));
    let r = app
        .get(&format!("/v1/organizations/{org}"), &eve.token)
        .await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");

    let v = validate(&app, &key).await;
    assert_eq!(v.body["user_exists"], json!(true));
    // an existing user accepts; completing would create a second account
    let c = complete(&app, &key, "Eve Again").await;
    let e = assert_envelope(&c, 409, "EMAIL_ALREADY_EXISTS");
    assert_eq!(e["details"]["accept_path"], json!("/v1/invitations/accept"));
    let r = accept(&app, &key, None).await;
    assert_envelope(&r, 401, "AUTHENTICATION_REQUIRED");
    let mallory = app.user("Mallory Grey").await;
    let r = accept(&app, &key, Some(&mallory.token)).await;
    assert_envelope(&r, 403, "INVITATION_EMAIL_MISMATCH");

    let r = accept(&app, &key, Some(&eve.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], json!(true));
    assert_eq!(r.body["organization_id"], json!(org));
    assert_eq!(r.body["organization_name"], json!("Acme"));
    assert_eq!(r.body["user_id"], json!(eve.id));
    assert_eq!(r.body["role_id"], json!("role_admin"));
    assert!(r.body["membership_id"]
        .as_str()
        .unwrap()
        .starts_with("orgusr_"));

    let m = app.get(&member_path, &owner.token).await;
    assert_eq!(m.body["status"]["id"], json!("status_active"));
    assert_eq!(m.body["role"]["id"], json!("role_admin"));
    assert_eq!(m.body["id"], r.body["membership_id"]);
    let r = app
        .get(&format!("/v1/organizations/{org}"), &eve.token)
        .await;
    assert_eq!(r.status, 200);
    let r = accept(&app, &key, Some(&eve.token)).await;
    assert_envelope(&r, 422, "INVITATION_NOT_PENDING");
    // now a member: a new invitation is refused
    let r = invite(&app, &org, &owner.token, &eve.email, "role_member").await;
    assert_envelope(&r, 409, "MEMBER_ALREADY_EXISTS");
}

#[tokio::test]
async fn v4_cancel_makes_validate_say_cancelled_and_refuses_answers() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = invite(&app, &org, &owner.token, "gone@example.test", "role_member").await;
    let key = key_of(&r.body);
    let inv = r.body["invitation_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/organizations/{org}/invitations/{inv}");
    let r = app.delete(&path, &owner.token).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let v = validate(&app, &key).await;
    assert_eq!(v.status, 200);
    assert_eq!(v.body["valid"], json!(false));
    assert_eq!(v.body["status"], json!("cancelled"));
    let c = complete(&app, &key, "Gone Person").await;
    let e = assert_envelope(&c, 422, "INVITATION_NOT_PENDING");
    assert_eq!(e["details"]["state"], json!("cancelled"));
    let r = app.delete(&path, &owner.token).await;
    assert_envelope(&r, 422, "INVITATION_NOT_PENDING");
    // the email may be invited again
    let r = invite(&app, &org, &owner.token, "gone@example.test", "role_member").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // unknown ids
    let r = app
        .delete(
            &format!("/v1/organizations/{org}/invitations/inv_{}", "0".repeat(26)),
            &owner.token,
        )
        .await;
    assert_envelope(&r, 404, "INVITATION_NOT_FOUND");
    let r = app
        .delete(
            &format!("/v1/organizations/{org}/invitations/usr_x"),
            &owner.token,
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn v4_cancelling_an_existing_users_invitation_removes_the_pending_membership() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let eve = app.user("Eve Green").await;
    let r = invite(&app, &org, &owner.token, &eve.email, "role_member").await;
    let key = key_of(&r.body);
    let inv = r.body["invitation_id"].as_str().unwrap().to_owned();
    let list = format!("/v1/organizations/{org}/users");
    let r = app.post(&list, &owner.token, json!({})).await;
    assert_eq!(r.body["total_users_count"], json!(2));
    let r = app
        .delete(
            &format!("/v1/organizations/{org}/invitations/{inv}"),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app.post(&list, &owner.token, json!({})).await;
    assert_eq!(r.body["total_users_count"], json!(1));
    let r = accept(&app, &key, Some(&eve.token)).await;
    assert_envelope(&r, 422, "INVITATION_NOT_PENDING");
    let r = app
        .get(&format!("/v1/organizations/{org}"), &eve.token)
        .await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");
    // invited again, the membership comes back Pending, and accepting activates it
    let r = invite(&app, &org, &owner.token, &eve.email, "role_member").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = accept(&app, &key_of(&r.body), Some(&eve.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.post(&list, &owner.token, json!({})).await;
    assert_eq!(r.body["total_users_count"], json!(2));
}

#[tokio::test]
async fn v5_expired_invitation_is_refused_then_resend_or_reinvite_renews() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = invite(&app, &org, &owner.token, "late@example.test", "role_member").await;
    let key = key_of(&r.body);
    let user = r.body["user_id"].as_str().unwrap().to_owned();
    expire_all(&app).await;
    let v = validate(&app, &key).await;
    assert_eq!(v.body["valid"], json!(false));
    assert_eq!(v.body["status"], json!("expired"));
    let c = complete(&app, &key, "Late Person").await;
    let e = assert_envelope(&c, 422, "INVITATION_NOT_PENDING");
    assert_eq!(e["details"]["state"], json!("expired"));
    // resend renews the same link
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/{user}/resend-invitation"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let v = validate(&app, &key).await;
    assert_eq!(v.body["valid"], json!(true));
    // an expired invitation does not block a new one
    expire_all(&app).await;
    let r = invite(&app, &org, &owner.token, "late@example.test", "role_member").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let c = complete(&app, &key_of(&r.body), "Late Person").await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    // resend after acceptance is refused; unknown users are reported in bulk
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/resend-invitation-bulk"),
            &owner.token,
            json!({"user_ids": [c.body["user_id"], "usr_nonexistent"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success_count"], json!(0));
    assert_eq!(r.body["failure_count"], json!(2));
    assert_eq!(
        r.body["failed_operations"][0]["error"],
        json!("Invitation is accepted")
    );
}

#[tokio::test]
async fn v1_second_pending_invitation_for_the_same_email_is_409() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let first = invite(&app, &org, &owner.token, "Dup@Example.test", "role_member").await;
    assert_eq!(first.status, 201);
    let r = invite(&app, &org, &owner.token, "dup@example.test", "role_admin").await;
    let e = assert_envelope(&r, 409, "INVITATION_ALREADY_EXISTS");
    assert_eq!(e["details"]["email"], json!("dup@example.test"));
    // nothing changed: the first invitation is still the one on record
    let d = app
        .get(
            &format!("/v1/organizations/{org}/invitation?email=DUP@example.test"),
            &owner.token,
        )
        .await;
    assert_eq!(d.status, 200, "{:?}", d.body);
    assert_eq!(d.body["invitation_id"], first.body["invitation_id"]);
    assert_eq!(d.body["role_id"], json!("role_member"));
}

#[tokio::test]
async fn v1_inviting_a_member_is_409_member_already_exists() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = invite(
        &app,
        &org,
        &owner.token,
        &bob.email.to_uppercase(),
        "role_admin",
    )
    .await;
    assert_envelope(&r, 409, "MEMBER_ALREADY_EXISTS");
    let r = app
        .get(
            &format!("/v1/organizations/{org}/invitation?email={}", bob.email),
            &owner.token,
        )
        .await;
    assert_envelope(&r, 404, "INVITATION_NOT_FOUND");
}

#[tokio::test]
async fn v1_bad_email_422_unknown_role_404_and_no_escalation() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = invite(&app, &org, &owner.token, "not-an-email", "role_member").await;
    let e = assert_envelope(&r, 422, "INVALID_EMAIL_FORMAT");
    assert_eq!(
        e["details"],
        json!({"field": "email", "value": "not-an-email"})
    );
    let r = invite(
        &app,
        &org,
        &owner.token,
        "a@example.test",
        &format!("role_{}", "0".repeat(26)),
    )
    .await;
    assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    let r = invite(&app, &org, &owner.token, "a@example.test", "usr_abc").await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = invite(
        &app,
        &org,
        &owner.token,
        "a@example.test",
        "role_project_member",
    )
    .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    // a department manager may invite, but not above what they hold
    let dm = app
        .member(&org, "Dana Manager", "role_department_manager")
        .await;
    let r = invite(&app, &org, &dm.token, "b@example.test", "role_admin").await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert!(e["details"]["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("override_all_permissions")));
    let r = invite(&app, &org, &dm.token, "b@example.test", "role_member").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // the same rule for custom roles
    let r = app
        .post(
            &format!("/v1/organizations/{org}/roles"),
            &owner.token,
            json!({"name": "Auditor", "capabilities": ["view_audit_log"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let auditor = r.body["id"].as_str().unwrap().to_owned();
    let r = invite(&app, &org, &dm.token, "d@example.test", &auditor).await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(e["details"]["capabilities"], json!(["view_audit_log"]));
    let r = invite(&app, &org, &owner.token, "d@example.test", &auditor).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["role_id"], json!(auditor));
    // an admin cannot make an owner; a plain member cannot invite at all
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let r = invite(&app, &org, &admin.token, "c@example.test", "role_owner").await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = invite(&app, &org, &bob.token, "c@example.test", "role_member").await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    // none of the refused invitations exists
    let r = app
        .get(
            &format!("/v1/organizations/{org}/invitation?email=c@example.test"),
            &owner.token,
        )
        .await;
    assert_envelope(&r, 404, "INVITATION_NOT_FOUND");
}

#[tokio::test]
async fn v2_invitation_details_by_id_user_and_email() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = invite(&app, &org, &owner.token, "look@example.test", "role_member").await;
    let inv = r.body["invitation_id"].as_str().unwrap().to_owned();
    let user = r.body["user_id"].as_str().unwrap().to_owned();
    for q in [
        format!("invitation_id={inv}"),
        format!("user_id={user}"),
        "email=look@example.test".to_owned(),
    ] {
        let d = app
            .get(
                &format!("/v1/organizations/{org}/invitation?{q}"),
                &owner.token,
            )
            .await;
        assert_eq!(d.status, 200, "{q}: {:?}", d.body);
        let b = &d.body;
        assert_eq!(b["invitation_id"], json!(inv));
        assert_eq!(b["email"], json!("look@example.test"));
        assert_eq!(b["user_id"], json!(user));
        assert_eq!(b["organization_id"], json!(org));
        assert_eq!(b["role_id"], json!("role_member"));
        assert_eq!(b["status"], json!("pending"));
        assert_eq!(
            b["invitation_link"],
            json!("/v1/invitations/validate/{email_key}")
        );
        assert!(b["expires_at"].as_str().is_some() && b["created_at"].as_str().is_some());
        // the secret is never read back
        assert!(!d
            .body
            .to_string()
            .contains(r.body["email_key"].as_str().unwrap()));
    }
    let r = app
        .get(&format!("/v1/organizations/{org}/invitation"), &owner.token)
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app
        .get(
            &format!("/v1/organizations/{org}/invitation?invitation_id=inv_nonexistent"),
            &owner.token,
        )
        .await;
    let e = assert_envelope(&r, 404, "INVITATION_NOT_FOUND");
    assert_eq!(e["details"]["invitation_id"], json!("inv_nonexistent"));
    let r = validate(&app, "ik_doesnotexist").await;
    assert_envelope(&r, 404, "INVITATION_NOT_FOUND");
}

/// The states of the invitations stored for `email`.
#[allow(clippy::unwrap_used)]
async fn stored_invitations(app: &TestApp, email: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT state FROM invitations WHERE email_key = $1")
        .bind(email.to_lowercase())
        .fetch_all(app.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn inviting_back_a_removed_member_hands_back_their_other_roles_only_to_who_may_give_them() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    // A Department Manager may invite, and holds neither Admin nor billing.
    let dm = app
        .member(&org, "Dee Manager", "role_department_manager")
        .await;
    // Bill holds Billing Manager besides his primary Member, Gina is in a
    // group holding Admin, Adam's primary role is Admin.
    let bill = app.member(&org, "Bill Direct", "role_member").await;
    assign_org_role(&app, &org, &owner.token, "role_billing_manager", &bill.id).await;
    let gina = app.member(&org, "Gina Group", "role_member").await;
    in_group_holding(&app, &org, "Admins", "role_admin", &gina.id).await;
    let adam = app.member(&org, "Adam Prime", "role_admin").await;
    for user in [&bill, &gina, &adam] {
        let r = remove_from_org(&app, &org, &owner.token, &user.id).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
    }

    // Inviting Bill or Gina back (as Members) revives their membership at
    // once, with Billing Manager or their group's Admin: refused to the
    // Department Manager, and nothing is written.
    let rev = app.store.revision();
    for (user, key, perm) in [
        (&bill, "manage_billing", "manage_billing"),
        (&gina, "override_all_permissions", "view_audit_log"),
    ] {
        let r = invite(&app, &org, &dm.token, &user.email, "role_member").await;
        let missing = refused_escalation(&r);
        assert_lists(&missing, &[key]);
        assert!(stored_deleted(&app, &org, &user.id).await);
        assert!(shown_deleted(&app, &org, &owner.token, &user.id).await);
        assert!(stored_invitations(&app, &user.email).await.is_empty());
        assert!(!check_allowed(&app, &org, &user.id, perm).await);
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert_eq!(stored_groups_of(&app, &gina.id).await, 1);
    // An invitation replaces the primary role: inviting Adam back as a
    // Member hands back nothing, so the Department Manager may.
    let r = invite(&app, &org, &dm.token, &adam.email, "role_member").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(!stored_deleted(&app, &org, &adam.id).await);
    let m = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", adam.id),
            &owner.token,
        )
        .await;
    assert_eq!(m.body["role"]["id"], json!("role_member"), "{:?}", m.body);
    let r = accept(&app, &key_of(&r.body), Some(&adam.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!check_allowed(&app, &org, &adam.id, "view_audit_log").await);

    // The Owner may invite Bill back. Removed again before he answers,
    // accepting would hand Billing Manager back under his own rights,
    // which are none now.
    let r = invite(&app, &org, &owner.token, &bill.email, "role_member").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = key_of(&r.body);
    let r = remove_from_org(&app, &org, &owner.token, &bill.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let rev = app.store.revision();
    let r = accept(&app, &key, Some(&bill.token)).await;
    let missing = refused_escalation(&r);
    assert_lists(&missing, &["manage_billing"]);
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(stored_deleted(&app, &org, &bill.id).await);
    assert_eq!(stored_invitations(&app, &bill.email).await, vec!["pending"]);
    assert!(!check_allowed(&app, &org, &bill.id, "manage_billing").await);
    // Once the Owner has restored him, he accepts and holds it again.
    let r = restore(&app, &org, &owner.token, &bill.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = accept(&app, &key, Some(&bill.token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(check_allowed(&app, &org, &bill.id, "manage_billing").await);
}
