// Roles, role assignments, effective permissions, UI access and organization
// permission keys — spec §5 cases 1–25 and seed 000.

mod common;
use common::*;
use serde_json::{json, Value};

fn roles_path(org: &str) -> String {
    format!("/v1/organizations/{org}/roles")
}

fn members_path(org: &str, role: &str) -> String {
    format!("/v1/organizations/{org}/roles/{role}/members")
}

fn eff_path(org: &str, user: &str) -> String {
    format!("/v1/organizations/{org}/users/{user}/effective-permissions")
}

/// Creates a custom role as `token` and returns its id.
#[allow(clippy::unwrap_used)] // test helper: a failure is the assertion
async fn create_role(app: &TestApp, org: &str, token: &str, name: &str, caps: Value) -> String {
    let r = app
        .post(
            &roles_path(org),
            token,
            json!({"name": name, "capabilities": caps}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn assign(app: &TestApp, org: &str, token: &str, role: &str, user: &str) -> Res {
    app.post(&members_path(org, role), token, json!({"user_id": user}))
        .await
}

#[allow(clippy::unwrap_used)] // test helper: a failure is the assertion
async fn member_ids(app: &TestApp, org: &str, token: &str, role: &str) -> (Vec<String>, i64) {
    let r = app.get(&members_path(org, role), token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ids = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap().to_owned())
        .collect();
    (ids, r.body["total"].as_i64().unwrap())
}

#[allow(clippy::unwrap_used)] // test helper: a failure is the assertion
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

// --- Role assignments

#[tokio::test]
async fn seed_000_case_01_assign_member_returns_201_assignment() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    let r = assign(&app, &org, &owner.token, &role, &bob.id).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let b = r.body.as_object().unwrap();
    let mut keys: Vec<&str> = b.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["assigned_at", "id", "organization_id", "role_id", "user_id"]
    );
    assert!(b["id"].as_str().unwrap().starts_with("urol_"));
    assert_eq!(b["user_id"], json!(bob.id));
    assert_eq!(b["role_id"], json!(role));
    assert_eq!(b["organization_id"], json!(org));
    assert!(is_rfc3339(&b["assigned_at"]), "{:?}", b["assigned_at"]);
    assert!(r.headers.get("roster-revision").is_some());
    // state after: listed, counted, and effective at once
    assert_eq!(
        member_ids(&app, &org, &owner.token, &role).await,
        (vec![bob.id.clone()], 1)
    );
    let got = app
        .get(&format!("{}/{role}", roles_path(&org)), &owner.token)
        .await;
    assert_eq!(got.body["member_count"], json!(1));
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(e.body["capabilities"], json!(["view_audit_log"]));
    // system roles can be assigned too
    let r = assign(&app, &org, &owner.token, "role_billing_manager", &bob.id).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["role_id"], json!("role_billing_manager"));
}

#[tokio::test]
async fn seed_000_case_02_assign_non_member_is_404_member_not_found() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let outsider = app.user("Out Sider").await;
    let r = assign(&app, &org, &owner.token, "role_admin", &outsider.id).await;
    let e = assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    assert_eq!(e["type"], json!("client_error"));
    assert_eq!(
        e["message"],
        json!("The specified user is not a member of this organization.")
    );
    assert_eq!(
        e["system_message"],
        json!("the specified user is not a member of this organization.")
    );
    assert_eq!(e["details"], json!({"user_id": outsider.id}));
    // the seed's id, which cannot exist, is echoed as sent
    let r = assign(&app, &org, &owner.token, "role_admin", "usr_nonexistent").await;
    let e = assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    assert_eq!(e["details"], json!({"user_id": "usr_nonexistent"}));
    // a soft-deleted member is not a member either
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let d = app
        .delete(
            &format!("/v1/organizations/{org}/users/{}/delete", bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(d.status, 204);
    let r = assign(&app, &org, &owner.token, "role_admin", &bob.id).await;
    assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    // nothing was assigned
    assert_eq!(
        member_ids(&app, &org, &owner.token, "role_admin").await.1,
        0
    );
    // a wrong prefix is a malformed request
    let r = assign(&app, &org, &owner.token, "role_admin", "user_123").await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn seed_000_case_03_duplicate_assignment_is_409_and_count_stays_one() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &role, &bob.id)
            .await
            .status,
        201
    );
    // the SDK re-sends a 409 twice: every answer is the same
    for _ in 0..3 {
        let r = assign(&app, &org, &owner.token, &role, &bob.id).await;
        let e = assert_envelope(&r, 409, "ROLE_ASSIGNMENT_DUPLICATE");
        assert_eq!(e["type"], json!("client_error"));
        assert_eq!(
            e["message"],
            json!("This user is already assigned to this role.")
        );
        assert_eq!(
            e["system_message"],
            json!("this user is already assigned to this role.")
        );
        assert_eq!(
            e["details"],
            json!({"user_id": bob.id, "role_id": role, "organization_id": org})
        );
    }
    assert_eq!(member_ids(&app, &org, &owner.token, &role).await.1, 1);
    let got = app
        .get(&format!("{}/{role}", roles_path(&org)), &owner.token)
        .await;
    assert_eq!(got.body["member_count"], json!(1));
    // the primary role counts as held
    let r = assign(&app, &org, &owner.token, "role_member", &bob.id).await;
    assert_envelope(&r, 409, "ROLE_ASSIGNMENT_DUPLICATE");
}

#[tokio::test]
async fn case_03_concurrent_identical_assignments_give_one_201_and_one_409() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    let (a, b) = tokio::join!(
        assign(&app, &org, &owner.token, &role, &bob.id),
        assign(&app, &org, &owner.token, &role, &bob.id)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{:?} {:?}", a.body, b.body);
    let conflict = if a.status == 409 { &a } else { &b };
    assert_envelope(conflict, 409, "ROLE_ASSIGNMENT_DUPLICATE");
    assert_eq!(
        member_ids(&app, &org, &owner.token, &role).await,
        (vec![bob.id.clone()], 1)
    );
}

#[tokio::test]
async fn case_04_assign_to_unknown_role_is_404_role_not_found() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = assign(&app, &org, &owner.token, "role_xyz789", &bob.id).await;
    let e = assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    assert_eq!(e["details"], json!({"role_id": "role_xyz789"}));
    assert_eq!(
        e["message"],
        json!("The requested role could not be found.")
    );
    // a well-formed id of no role, and a role of another organization, are unknown too
    let (other, other_owner) = app.org("Other").await;
    let foreign = create_role(
        &app,
        &other,
        &other_owner.token,
        "Foreign",
        json!(["view_audit_log"]),
    )
    .await;
    let r = assign(&app, &org, &owner.token, &foreign, &bob.id).await;
    let e = assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    assert_eq!(e["details"], json!({"role_id": foreign}));
    // project roles are not organization roles
    let r = assign(&app, &org, &owner.token, "role_project_owner", &bob.id).await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let e = app.get(&eff_path(&org, &bob.id), &owner.token).await;
    assert_eq!(e.body["role_ids"], json!(["role_member"]));
}

#[tokio::test]
async fn case_05_error_envelope_has_exactly_the_documented_keys() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    for (r, status, code) in [
        (
            assign(&app, &org, &owner.token, "role_admin", "usr_nonexistent").await,
            404,
            "MEMBER_NOT_FOUND",
        ),
        (
            app.get(&members_path(&org, "role_nope"), &owner.token)
                .await,
            404,
            "ROLE_NOT_FOUND",
        ),
        (
            app.delete(&format!("{}/role_owner", roles_path(&org)), &owner.token)
                .await,
            403,
            "SYSTEM_ROLE_IMMUTABLE",
        ),
    ] {
        let e = assert_envelope(&r, status, code);
        let mut keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["error", "success"]);
        assert_eq!(e["status"], json!(r.status));
        assert!(e["details"].is_object());
        assert!(is_rfc3339(&e["timestamp"]));
        assert!(!e["trace_id"].as_str().unwrap().is_empty());
        let header = r.headers.get("x-request-id").unwrap().to_str().unwrap();
        assert_eq!(e["trace_id"], json!(header));
    }
}

#[tokio::test]
async fn case_06_remove_assignment_is_204_and_user_leaves_the_list() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &role, &bob.id)
            .await
            .status,
        201
    );
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, &role), bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert!(r.headers.get("roster-revision").is_some());
    assert_eq!(
        member_ids(&app, &org, &owner.token, &role).await,
        (vec![], 0)
    );
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(e.body["capabilities"], json!([]));
    assert_eq!(e.body["role_ids"], json!(["role_member"]));
    // bob is still a member with his primary role
    let m = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(m.body["role"]["id"], json!("role_member"));
}

#[tokio::test]
async fn case_07_last_owner_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let path = |u: &str| format!("{}/{u}", members_path(&org, "role_owner"));
    // one owner
    let r = app.delete(&path(&owner.id), &owner.token).await;
    let e = assert_envelope(&r, 422, "LAST_OWNER_CANNOT_BE_REMOVED");
    assert_eq!(e["type"], json!("validation_error"));
    assert_eq!(
        e["message"],
        json!("Cannot remove the last owner from a role. At least one owner must remain.")
    );
    assert_eq!(
        e["system_message"].as_str().unwrap().to_lowercase(),
        "cannot remove the last owner from a role. at least one owner must remain."
    );
    assert_eq!(
        e["details"],
        json!({"user_id": owner.id, "role_id": "role_owner", "organization_id": org})
    );
    // two owners: the first removal succeeds, the second is refused
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    assert_eq!(
        assign(&app, &org, &owner.token, "role_owner", &bob.id)
            .await
            .status,
        201
    );
    assert_eq!(
        member_ids(&app, &org, &owner.token, "role_owner").await.1,
        2
    );
    let r = app.delete(&path(&owner.id), &owner.token).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    // the creator's primary role fell back to Member; bob is now the designated owner
    let m = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", owner.id),
            &bob.token,
        )
        .await;
    assert_eq!(m.body["role"]["id"], json!("role_member"));
    let o = app
        .get(&format!("/v1/organizations/{org}"), &bob.token)
        .await;
    assert_eq!(o.body["owner_id"], json!(bob.id));
    let r = app.delete(&path(&bob.id), &bob.token).await;
    assert_envelope(&r, 422, "LAST_OWNER_CANNOT_BE_REMOVED");
    assert_eq!(
        member_ids(&app, &org, &bob.token, "role_owner").await,
        (vec![bob.id.clone()], 1)
    );
}

#[tokio::test]
async fn case_08_remove_a_user_who_does_not_hold_the_role_is_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, "role_admin"), bob.id),
            &owner.token,
        )
        .await;
    let e = assert_envelope(&r, 404, "ROLE_ASSIGNMENT_NOT_FOUND");
    assert_eq!(
        e["details"],
        json!({"user_id": bob.id, "role_id": "role_admin"})
    );
    let r = app
        .delete(
            &format!("{}/usr_nobody", members_path(&org, "role_admin")),
            &owner.token,
        )
        .await;
    let e = assert_envelope(&r, 404, "ROLE_ASSIGNMENT_NOT_FOUND");
    assert_eq!(e["details"]["user_id"], json!("usr_nobody"));
}

#[tokio::test]
async fn case_09_role_members_list_shape_and_paging() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let carl = app.member(&org, "Carl Ray", "role_member").await;
    let path = members_path(&org, "role_member");
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["total"], json!(2));
    assert_eq!(
        r.body["members"][0],
        json!({"user_id": bob.id, "full_name": "Bob Stone", "email": bob.email,
               "account_state": "active", "avatar_url": null})
    );
    assert_eq!(r.body["members"][1]["user_id"], json!(carl.id));
    // paging: total counts all, the page holds at most `limit`
    let r = app.get(&format!("{path}?limit=1"), &owner.token).await;
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["total"], json!(2));
    let r = app
        .get(&format!("{path}?skip=1&limit=1"), &owner.token)
        .await;
    assert_eq!(r.body["members"][0]["user_id"], json!(carl.id));
    let r = app.get(&format!("{path}?limit=100"), &owner.token).await;
    assert_eq!(r.status, 200);
    for bad in ["limit=101", "limit=0", "skip=-1", "limit=abc"] {
        let r = app.get(&format!("{path}?{bad}"), &owner.token).await;
        assert_envelope(&r, 422, "VALIDATION_ERROR");
    }
    // an Inactive member shows as deactivated; a soft-deleted one disappears
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/{}", carl.id),
            &owner.token,
            json!({"status_id": "status_inactive"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.body["members"][1]["account_state"], json!("deactivated"));
    let r = app
        .delete(
            &format!("/v1/organizations/{org}/users/{}/delete", bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        member_ids(&app, &org, &owner.token, "role_member").await,
        (vec![carl.id.clone()], 1)
    );
}

#[tokio::test]
async fn case_10_members_of_unknown_role_is_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app.get(&members_path(&org, "role_abc"), &owner.token).await;
    let e = assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    assert_eq!(e["details"], json!({"role_id": "role_abc"}));
    let r = app
        .get(&members_path(&org, "role_project_viewer"), &owner.token)
        .await;
    assert_envelope(&r, 404, "ROLE_NOT_FOUND");
}

// --- Roles

#[tokio::test]
async fn case_11_system_roles_first_in_fixed_order_then_custom_by_name() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    for name in ["zeta", "Alpha", "beta"] {
        create_role(&app, &org, &owner.token, name, json!(["view_audit_log"])).await;
    }
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    // any member may list
    let r = app.get(&roles_path(&org), &bob.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Owner",
            "Admin",
            "Member",
            "Department Manager",
            "Knowledge Manager",
            "Billing Manager",
            "Alpha",
            "beta",
            "zeta"
        ]
    );
    let ids: Vec<&str> = r.body.as_array().unwrap()[..6]
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "role_owner",
            "role_admin",
            "role_member",
            "role_department_manager",
            "role_knowledge_manager",
            "role_billing_manager"
        ]
    );
}

#[tokio::test]
async fn case_12_role_objects_carry_every_field() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    let r = app.get(&roles_path(&org), &owner.token).await;
    let all = r.body.as_array().unwrap();
    for role in all {
        let mut keys: Vec<&str> = role
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "capabilities",
                "created_at",
                "denied_capabilities",
                "description",
                "id",
                "is_base_role",
                "is_custom",
                "is_system_role",
                "knowledge_slice_ids",
                "member_count",
                "name",
                "organization_id",
                "permissions",
                "updated_at"
            ]
        );
        assert_eq!(role["permissions"], json!({}));
        assert_eq!(role["knowledge_slice_ids"], json!([]));
        assert!(is_rfc3339(&role["created_at"]));
    }
    let owner_role = &all[0];
    assert_eq!(owner_role["is_base_role"], json!(true));
    assert_eq!(owner_role["is_custom"], json!(false));
    assert_eq!(owner_role["is_system_role"], json!(true));
    assert_eq!(owner_role["organization_id"], Value::Null);
    assert_eq!(owner_role["member_count"], json!(1));
    assert_eq!(owner_role["capabilities"].as_array().unwrap().len(), 14);
    assert_eq!(all[3]["is_base_role"], json!(false)); // Department Manager
    let custom = &all[6];
    assert_eq!(custom["is_custom"], json!(true));
    assert_eq!(custom["is_system_role"], json!(false));
    assert_eq!(custom["is_base_role"], json!(false));
    assert_eq!(custom["organization_id"], json!(org));
    // retrieve shows the same object
    let one = app
        .get(
            &format!("{}/{}", roles_path(&org), custom["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_eq!(&one.body, custom);
    let one = app
        .get(&format!("{}/role_admin", roles_path(&org)), &owner.token)
        .await;
    assert_eq!(one.body, all[1]);
}

#[tokio::test]
async fn case_13_include_global_false_lists_only_custom_roles() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app
        .get(
            &format!("{}?include_global=false", roles_path(&org)),
            &owner.token,
        )
        .await;
    assert_eq!(r.body, json!([]));
    let id = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    let r = app
        .get(
            &format!("{}?include_global=false", roles_path(&org)),
            &owner.token,
        )
        .await;
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let r = app
        .get(
            &format!("{}?include_global=true", roles_path(&org)),
            &owner.token,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn case_14_create_role_is_201_with_zero_members() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app
        .post(
            &roles_path(&org),
            &owner.token,
            json!({
                "name": "Marketing Analyst",
                "description": "Can view audit logs and manage knowledge slices",
                "capabilities": ["view_audit_log", "manage_knowledge_slices", "view_audit_log"]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let b = &r.body;
    assert!(b["id"].as_str().unwrap().starts_with("role_"));
    assert_eq!(b["name"], json!("Marketing Analyst"));
    assert_eq!(
        b["description"],
        json!("Can view audit logs and manage knowledge slices")
    );
    assert_eq!(
        b["capabilities"],
        json!(["manage_knowledge_slices", "view_audit_log"])
    );
    assert_eq!(b["denied_capabilities"], json!([]));
    assert_eq!(b["member_count"], json!(0));
    assert_eq!(b["is_custom"], json!(true));
    assert_eq!(b["is_system_role"], json!(false));
    assert_eq!(b["organization_id"], json!(org));
    let got = app
        .get(
            &format!("{}/{}", roles_path(&org), b["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_eq!(&got.body, b);
}

#[tokio::test]
async fn case_15_create_role_validation_and_deny_only_roles() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let path = roles_path(&org);
    let r = app.post(&path, &owner.token, json!({"name": "A"})).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("capabilities"));
    let r = app
        .post(
            &path,
            &owner.token,
            json!({"name": "A", "capabilities": []}),
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("capabilities"));
    let r = app
        .post(
            &path,
            &owner.token,
            json!({"name": "A", "capabilities": ["view_audit_log", "fly", "Bad Key"]}),
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(
        e["details"],
        json!({"field": "capabilities", "invalid": ["fly", "Bad Key"]})
    );
    let r = app
        .post(
            &path,
            &owner.token,
            json!({"name": "x".repeat(101), "capabilities": ["view_audit_log"]}),
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("name"));
    let r = app
        .post(&path, &owner.token, json!({"name": "A", "description": "d".repeat(501), "capabilities": ["view_audit_log"]}))
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("description"));
    let r = app
        .post(&path, &owner.token, json!({"name": "A", "capabilities": ["view_audit_log"], "denied_capabilities": ["view_audit_log"]}))
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    // nothing was created
    let r = app
        .get(&format!("{path}?include_global=false"), &owner.token)
        .await;
    assert_eq!(r.body, json!([]));
    // the limits themselves are fine
    let r = app
        .post(&path, &owner.token, json!({"name": "x".repeat(100), "description": "d".repeat(500), "capabilities": ["view_audit_log"]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // a role may hold only denials
    let r = app
        .post(&path, &owner.token, json!({"name": "No Billing", "capabilities": [], "denied_capabilities": ["manage_billing"]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["capabilities"], json!([]));
    assert_eq!(r.body["denied_capabilities"], json!(["manage_billing"]));
}

#[tokio::test]
async fn case_16_role_names_are_unique_per_organization() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    let r = app
        .post(
            &roles_path(&org),
            &owner.token,
            json!({"name": " analyst ", "capabilities": ["view_audit_log"]}),
        )
        .await;
    let e = assert_envelope(&r, 409, "ROLE_NAME_DUPLICATE");
    assert_eq!(e["type"], json!("client_error"));
    let r = app
        .get(
            &format!("{}?include_global=false", roles_path(&org)),
            &owner.token,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // renaming onto a taken name is refused too
    let other = create_role(&app, &org, &owner.token, "Other", json!(["view_audit_log"])).await;
    let r = app
        .patch(
            &format!("{}/{other}", roles_path(&org)),
            &owner.token,
            json!({"name": "ANALYST"}),
        )
        .await;
    assert_envelope(&r, 409, "ROLE_NAME_DUPLICATE");
    // the same name in another organization is fine
    let (org2, owner2) = app.org("Globex").await;
    create_role(
        &app,
        &org2,
        &owner2.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
}

#[tokio::test]
async fn case_17_callers_grant_only_capabilities_they_hold() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let lead = app.member(&org, "Lea Lead", "role_member").await;
    let role_admin = create_role(
        &app,
        &org,
        &owner.token,
        "Role Admin",
        json!(["manage_roles", "assign_roles", "view_audit_log"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &role_admin, &lead.id)
            .await
            .status,
        201
    );
    let r = app
        .post(
            &roles_path(&org),
            &lead.token,
            json!({"name": "Billing", "capabilities": ["view_audit_log", "manage_billing"]}),
        )
        .await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(e["type"], json!("authorization_error"));
    assert_eq!(e["details"], json!({"capabilities": ["manage_billing"]}));
    // a subset of their own capabilities is fine
    let r = app
        .post(
            &roles_path(&org),
            &lead.token,
            json!({"name": "Auditor", "capabilities": ["view_audit_log"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let auditor = r.body["id"].as_str().unwrap().to_owned();
    // updates may not add what they lack either
    let r = app
        .patch(
            &format!("{}/{auditor}", roles_path(&org)),
            &lead.token,
            json!({"capabilities": ["view_audit_log", "manage_billing"]}),
        )
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let got = app
        .get(&format!("{}/{auditor}", roles_path(&org)), &lead.token)
        .await;
    assert_eq!(got.body["capabilities"], json!(["view_audit_log"]));
    // nor hand out a role that holds more than they do, nor the Owner role
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = assign(&app, &org, &lead.token, "role_billing_manager", &bob.id).await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(e["details"], json!({"capabilities": ["manage_billing"]}));
    let r = assign(&app, &org, &lead.token, "role_owner", &lead.id).await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(
        assign(&app, &org, &lead.token, &auditor, &bob.id)
            .await
            .status,
        201
    );
    // nor take away a role stronger than their own
    assert_eq!(
        assign(&app, &org, &owner.token, "role_billing_manager", &bob.id)
            .await
            .status,
        201
    );
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, "role_billing_manager"), bob.id),
            &lead.token,
        )
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(
        member_ids(&app, &org, &owner.token, "role_billing_manager")
            .await
            .1,
        1
    );
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, &auditor), bob.id),
            &lead.token,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    // owner-like roles hold everything
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let r = app
        .post(
            &roles_path(&org),
            &admin.token,
            json!({"name": "Billing", "capabilities": ["manage_billing"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // ... but only Owners hand out the Owner role
    let r = assign(&app, &org, &admin.token, "role_owner", &admin.id).await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(
        member_ids(&app, &org, &owner.token, "role_owner").await.1,
        1
    );
}

#[tokio::test]
async fn case_18_without_manage_roles_role_writes_are_403() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    let path = format!("{}/{role}", roles_path(&org));
    let r = app
        .post(
            &roles_path(&org),
            &bob.token,
            json!({"name": "Mine", "capabilities": ["view_audit_log"]}),
        )
        .await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(e["type"], json!("authorization_error"));
    assert_envelope(
        &app.patch(&path, &bob.token, json!({"name": "Renamed"}))
            .await,
        403,
        "INSUFFICIENT_PERMISSIONS",
    );
    assert_envelope(
        &app.delete(&path, &bob.token).await,
        403,
        "INSUFFICIENT_PERMISSIONS",
    );
    assert_envelope(
        &assign(&app, &org, &bob.token, &role, &bob.id).await,
        403,
        "INSUFFICIENT_PERMISSIONS",
    );
    let r = app
        .post(
            &format!("/v1/organizations/{org}/permissions"),
            &bob.token,
            json!({"key": "reports.read"}),
        )
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    // nothing changed
    let got = app.get(&path, &bob.token).await;
    assert_eq!(got.body["name"], json!("Analyst"));
    let r = app
        .get(
            &format!("{}?include_global=false", roles_path(&org)),
            &owner.token,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn case_19_patch_replaces_capabilities_and_effective_permissions_follow() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log", "export_audit_log"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &role, &bob.id)
            .await
            .status,
        201
    );
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(
        e.body["capabilities"],
        json!(["export_audit_log", "view_audit_log"])
    );
    let r = app
        .patch(
            &format!("{}/{role}", roles_path(&org)),
            &owner.token,
            json!({"capabilities": ["manage_knowledge_slices"], "description": "Knowledge"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["capabilities"], json!(["manage_knowledge_slices"]));
    assert_eq!(r.body["name"], json!("Analyst"));
    assert_eq!(r.body["description"], json!("Knowledge"));
    assert_eq!(r.body["member_count"], json!(1));
    assert!(r.headers.get("roster-revision").is_some());
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(e.body["capabilities"], json!(["manage_knowledge_slices"]));
    // an empty list is refused unless the role keeps denials
    let r = app
        .patch(
            &format!("{}/{role}", roles_path(&org)),
            &owner.token,
            json!({"capabilities": []}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app
        .patch(
            &format!("{}/{role}", roles_path(&org)),
            &owner.token,
            json!({"capabilities": ["nope"]}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let got = app
        .get(&format!("{}/{role}", roles_path(&org)), &owner.token)
        .await;
    assert_eq!(got.body["capabilities"], json!(["manage_knowledge_slices"]));
    let r = app
        .patch(
            &format!("{}/role_nope", roles_path(&org)),
            &owner.token,
            json!({"name": "x"}),
        )
        .await;
    assert_envelope(&r, 404, "ROLE_NOT_FOUND");
}

#[tokio::test]
async fn case_20_system_roles_are_immutable() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    for (id, name) in [
        ("role_admin", "Admin"),
        ("role_member", "Member"),
        ("role_billing_manager", "Billing Manager"),
    ] {
        let path = format!("{}/{id}", roles_path(&org));
        let r = app
            .patch(&path, &owner.token, json!({"name": "Mine"}))
            .await;
        let e = assert_envelope(&r, 403, "SYSTEM_ROLE_IMMUTABLE");
        assert_eq!(e["type"], json!("client_error"));
        assert_eq!(
            e["message"],
            json!("System roles cannot be modified or deleted.")
        );
        assert_eq!(e["details"], json!({"role_id": id, "role_name": name}));
        let r = app.delete(&path, &owner.token).await;
        let e = assert_envelope(&r, 403, "SYSTEM_ROLE_IMMUTABLE");
        assert_eq!(e["system_message"], json!("System roles cannot be deleted"));
        assert_eq!(e["details"], json!({"role_id": id, "role_name": name}));
        let got = app.get(&path, &owner.token).await;
        assert_eq!(got.body["name"], json!(name));
    }
}

#[tokio::test]
async fn case_21_delete_role_with_members_is_409_then_204_then_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &role, &bob.id)
            .await
            .status,
        201
    );
    let path = format!("{}/{role}", roles_path(&org));
    let r = app.delete(&path, &owner.token).await;
    let e = assert_envelope(&r, 409, "ROLE_HAS_MEMBERS");
    assert_eq!(
        e["message"],
        json!("Cannot delete role with active members. Reassign members first.")
    );
    assert_eq!(e["details"], json!({"role_id": role, "member_count": 1}));
    assert_eq!(app.get(&path, &owner.token).await.status, 200);
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, &role), bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = app.delete(&path, &owner.token).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    let r = app.get(&path, &owner.token).await;
    let e = assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    assert_eq!(e["details"], json!({"role_id": role}));
    assert_envelope(
        &app.delete(&path, &owner.token).await,
        404,
        "ROLE_NOT_FOUND",
    );
    let r = app
        .get(
            &format!("{}?include_global=false", roles_path(&org)),
            &owner.token,
        )
        .await;
    assert_eq!(r.body, json!([]));
}

#[tokio::test]
async fn case_22_capability_catalogue_has_the_fourteen_keys() {
    let app = TestApp::spawn().await;
    let (_org, owner) = app.org("Acme").await;
    let r = app.get("/v1/capabilities", &owner.token).await;
    assert_eq!(r.status, 200);
    let all = r.body.as_array().unwrap();
    assert_eq!(all.len(), 14);
    for c in all {
        let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["description", "group", "key", "label"]);
    }
    assert_eq!(
        all[0],
        json!({"key": "manage_users", "label": "Manage Users",
               "description": "View and edit user profiles and memberships", "group": "User Management"})
    );
    assert_eq!(all[13]["key"], json!("override_all_permissions"));
}

#[tokio::test]
async fn case_23_effective_permissions_are_the_union_of_all_roles() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r1 = create_role(
        &app,
        &org,
        &owner.token,
        "Auditor",
        json!(["view_audit_log", "manage_knowledge_slices"]),
    )
    .await;
    let r2 = create_role(
        &app,
        &org,
        &owner.token,
        "Exporter",
        json!(["view_audit_log", "export_audit_log"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &r1, &bob.id).await.status,
        201
    );
    assert_eq!(
        assign(&app, &org, &owner.token, &r2, &bob.id).await.status,
        201
    );
    let r = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let b = &r.body;
    assert_eq!(b["user_id"], json!(bob.id));
    assert_eq!(
        b["capabilities"],
        json!([
            "export_audit_log",
            "manage_knowledge_slices",
            "view_audit_log"
        ])
    );
    assert_eq!(b["permissions"], b["capabilities"]);
    let mut roles = strings(&b["role_ids"]);
    roles.sort();
    let mut want = vec!["role_member".to_owned(), r1.clone(), r2.clone()];
    want.sort();
    assert_eq!(roles, want);
    assert_eq!(b["department_scope"], json!([]));
    assert_eq!(b["denied_permissions"], json!([]));
    assert!(is_rfc3339(&b["resolved_at"]));
    assert!(b.get("reasons").is_none());
    // explain names the assignments behind each key
    let r = app
        .get(
            &format!("{}?explain=true", eff_path(&org, &bob.id)),
            &bob.token,
        )
        .await;
    let reasons = &r.body["reasons"]["view_audit_log"];
    let mut via: Vec<String> = reasons
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["role_id"].as_str().unwrap().to_owned())
        .collect();
    via.sort();
    let mut want = vec![r1.clone(), r2.clone()];
    want.sort();
    assert_eq!(via, want);
    assert_eq!(reasons[0]["effect"], json!("allow"));
    assert_eq!(reasons[0]["via"], json!({"type": "direct"}));
    // the Owner role grants billing itself; an Admin gets it only from the override
    let r = app
        .get(
            &format!("{}?explain=true", eff_path(&org, &owner.id)),
            &owner.token,
        )
        .await;
    assert_eq!(
        r.body["reasons"]["manage_billing"][0]["role_id"],
        json!("role_owner")
    );
    assert_eq!(
        r.body["reasons"]["manage_billing"][0]["via"],
        json!({"type": "primary_role"})
    );
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let r = app
        .get(
            &format!("{}?explain=true", eff_path(&org, &admin.id)),
            &admin.token,
        )
        .await;
    assert!(strings(&r.body["capabilities"]).contains(&"manage_billing".to_owned()));
    let why = &r.body["reasons"]["manage_billing"][0];
    assert_eq!(why["role_id"], json!("role_admin"));
    assert_eq!(why["grant"], json!("override_all_permissions"));
}

#[tokio::test]
async fn case_24_department_scope_is_global_for_override_holders_else_subtrees() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    // departments are written directly: this suite does not depend on the department API
    let org_uuid = roster_core::OrgId::parse(&org).unwrap().uuid().to_string();
    let bob_uuid = roster_core::UserId::parse(&bob.id)
        .unwrap()
        .uuid()
        .to_string();
    let a = roster_core::DeptId::new();
    let a1 = roster_core::DeptId::new();
    let b = roster_core::DeptId::new();
    let pool = app.store.pool();
    for (d, parent, name, path, depth) in [
        (a, None, "A", format!("/{a}"), 0),
        (a1, Some(a), "A1", format!("/{a}/{a1}"), 1),
        (b, None, "B", format!("/{b}"), 0),
    ] {
        sqlx::query(
            "INSERT INTO departments (id, org_id, name, name_key, parent_id, path, depth, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0)",
        )
        .bind(d.uuid().to_string())
        .bind(&org_uuid)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(parent.map(|p| p.uuid().to_string()))
        .bind(path)
        .bind(depth)
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO department_members (dept_id, user_id, org_id, added_at) VALUES ($1, $2, $3, 0)")
        .bind(a.uuid().to_string())
        .bind(&bob_uuid)
        .bind(&org_uuid)
        .execute(pool)
        .await
        .unwrap();
    app.store.rebuild_index().await.unwrap();
    let r = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    let mut scope = strings(&r.body["department_scope"]);
    scope.sort();
    let mut want = vec![a.to_string(), a1.to_string()];
    want.sort();
    assert_eq!(scope, want);
    let r = app.get(&eff_path(&org, &owner.id), &owner.token).await;
    assert_eq!(r.body["department_scope"], json!("global"));
    // an Admin (override) is global too, and so is bob once he holds Admin
    assert_eq!(
        assign(&app, &org, &owner.token, "role_admin", &bob.id)
            .await
            .status,
        201
    );
    let r = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(r.body["department_scope"], json!("global"));
    assert!(strings(&r.body["capabilities"]).contains(&"override_all_permissions".to_owned()));
}

#[tokio::test]
async fn case_25_ui_access_flags_follow_effective_permissions() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let path = |u: &str| format!("/v1/organizations/{org}/users/{u}/ui-access");
    let r = app.get(&path(&owner.id), &owner.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user_id"], json!(owner.id));
    assert_eq!(r.body["organization_id"], json!(org));
    for group in ["pages", "actions"] {
        for (k, v) in r.body[group].as_object().unwrap() {
            assert_eq!(v, &json!(true), "{group}.{k} for the owner");
        }
    }
    let r = app.get(&path(&bob.id), &bob.token).await;
    let pages = &r.body["pages"];
    for k in ["organization", "my_team", "departments", "roles"] {
        assert_eq!(pages[k], json!(true), "{k}");
    }
    for k in ["billing", "audit_log", "knowledge"] {
        assert_eq!(pages[k], json!(false), "{k}");
    }
    for (k, v) in r.body["actions"].as_object().unwrap() {
        assert_eq!(v, &json!(false), "actions.{k} for a member");
    }
    assert_eq!(
        assign(&app, &org, &owner.token, "role_billing_manager", &bob.id)
            .await
            .status,
        201
    );
    let r = app.get(&path(&bob.id), &bob.token).await;
    assert_eq!(r.body["pages"]["billing"], json!(true));
    assert_eq!(r.body["actions"]["manage_billing"], json!(true));
    assert_eq!(r.body["actions"]["invite_user"], json!(false));
}

// --- Beyond the numbered cases

#[tokio::test]
async fn a_deny_role_removes_a_key_from_effective_permissions() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let auditor = create_role(
        &app,
        &org,
        &owner.token,
        "Auditor",
        json!(["view_audit_log", "export_audit_log"]),
    )
    .await;
    let r = app
        .post(&roles_path(&org), &owner.token, json!({"name": "No Export", "capabilities": [], "denied_capabilities": ["export_audit_log"]}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let deny = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        assign(&app, &org, &owner.token, &auditor, &bob.id)
            .await
            .status,
        201
    );
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(
        e.body["capabilities"],
        json!(["export_audit_log", "view_audit_log"])
    );
    assert_eq!(
        assign(&app, &org, &owner.token, &deny, &bob.id)
            .await
            .status,
        201
    );
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(e.body["capabilities"], json!(["view_audit_log"]));
    assert_eq!(e.body["denied_permissions"], json!(["export_audit_log"]));
    assert!(strings(&e.body["role_ids"]).contains(&deny));
    // the check agrees
    let r = app
        .post(
            &format!("/v1/organizations/{org}/check"),
            &owner.token,
            json!({"user_id": bob.id, "permission": "export_audit_log"}),
        )
        .await;
    assert_eq!(r.body["allowed"], json!(false));
    // a deny cannot take anything from an owner-like role
    assert_eq!(
        assign(&app, &org, &owner.token, &deny, &owner.id)
            .await
            .status,
        201
    );
    let e = app.get(&eff_path(&org, &owner.id), &owner.token).await;
    assert!(strings(&e.body["capabilities"]).contains(&"export_audit_log".to_owned()));
}

#[tokio::test]
async fn reading_another_members_effective_permissions_needs_a_capability() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let carl = app
        .member(&org, "Carl Ray", "role_department_manager")
        .await;
    // own: any member
    assert_eq!(
        app.get(&eff_path(&org, &bob.id), &bob.token).await.status,
        200
    );
    // another's: manage_users, assign_roles or manage_roles
    let r = app.get(&eff_path(&org, &carl.id), &bob.token).await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app
        .get(
            &format!("/v1/organizations/{org}/users/{}/ui-access", carl.id),
            &bob.token,
        )
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app.get(&eff_path(&org, &bob.id), &carl.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.get(&eff_path(&org, &bob.id), &owner.token).await.status,
        200
    );
    assert_eq!(
        app.get(&eff_path(&org, &bob.id), PLATFORM_KEY).await.status,
        200
    );
    // non-members are 404, echoing the id
    let outsider = app.user("Out Sider").await;
    let r = app.get(&eff_path(&org, &outsider.id), &owner.token).await;
    let e = assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    assert_eq!(e["details"], json!({"user_id": outsider.id}));
    let r = app
        .get(&eff_path(&org, "usr_nonexistent"), &owner.token)
        .await;
    let e = assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    assert_eq!(e["details"], json!({"user_id": "usr_nonexistent"}));
}

#[tokio::test]
async fn removing_a_primary_role_falls_back_to_member() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_admin").await;
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, "role_admin"), bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let m = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(
        m.body["role"],
        json!({"id": "role_member", "name": "Member"})
    );
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(e.body["role_ids"], json!(["role_member"]));
    assert_eq!(e.body["capabilities"], json!([]));
    // the Member primary role itself cannot be removed
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, "role_member"), bob.id),
            &owner.token,
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("role_id"));
    assert_eq!(
        member_ids(&app, &org, &owner.token, "role_member").await.0,
        vec![bob.id.clone()]
    );
    // a primary role the user also... holds as an extra: promoted, not duplicated
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Analyst",
        json!(["view_audit_log"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &role, &bob.id)
            .await
            .status,
        201
    );
    let r = app
        .delete(
            &format!("{}/{}", members_path(&org, &role), bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        member_ids(&app, &org, &owner.token, "role_member").await.1,
        1
    );
}

#[tokio::test]
async fn organization_permission_keys_can_be_defined_and_granted() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let path = format!("/v1/organizations/{org}/permissions");
    assert_eq!(app.get(&path, &bob.token).await.body, json!([]));
    // not defined yet: a role cannot grant it
    let r = app
        .post(
            &roles_path(&org),
            &owner.token,
            json!({"name": "Reporter", "capabilities": ["reports.export"]}),
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["invalid"], json!(["reports.export"]));
    let r = app
        .post(
            &path,
            &owner.token,
            json!({"key": "reports.export", "description": "Export reports"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let mut keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["created_at", "description", "key", "organization_id"]
    );
    assert_eq!(r.body["key"], json!("reports.export"));
    assert_eq!(r.body["description"], json!("Export reports"));
    assert_eq!(r.body["organization_id"], json!(org));
    assert!(r.headers.get("roster-revision").is_some());
    assert_envelope(
        &app.post(&path, &owner.token, json!({"key": "reports.export"}))
            .await,
        409,
        "PERMISSION_DUPLICATE",
    );
    assert_envelope(
        &app.post(&path, &owner.token, json!({"key": "manage_roles"}))
            .await,
        409,
        "PERMISSION_DUPLICATE",
    );
    for bad in ["Reports", "a b", "", "reports.*"] {
        let r = app.post(&path, &owner.token, json!({"key": bad})).await;
        let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
        assert_eq!(e["details"]["field"], json!("key"), "{bad}");
    }
    let list = app.get(&path, &bob.token).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(list.body[0]["key"], json!("reports.export"));
    // another organization does not see it, and cannot grant it
    let (org2, owner2) = app.org("Globex").await;
    assert_eq!(
        app.get(
            &format!("/v1/organizations/{org2}/permissions"),
            &owner2.token
        )
        .await
        .body,
        json!([])
    );
    let r = app
        .post(
            &roles_path(&org2),
            &owner2.token,
            json!({"name": "Reporter", "capabilities": ["reports.export"]}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    // now a role may grant it, as a key or through a wildcard
    let role = create_role(
        &app,
        &org,
        &owner.token,
        "Reporter",
        json!(["reports.export", "view_audit_log"]),
    )
    .await;
    create_role(
        &app,
        &org,
        &owner.token,
        "All Reports",
        json!(["reports.*"]),
    )
    .await;
    assert_eq!(
        assign(&app, &org, &owner.token, &role, &bob.id)
            .await
            .status,
        201
    );
    let e = app.get(&eff_path(&org, &bob.id), &bob.token).await;
    assert_eq!(e.body["capabilities"], json!(["view_audit_log"]));
    assert_eq!(
        e.body["permissions"],
        json!(["reports.export", "view_audit_log"])
    );
}
