// Members ("crew management") — spec §5 cases 53–62 and seed 002.

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

#[tokio::test]
async fn case_53_admin_updates_role_and_case_58_membership_id_addresses_the_same_member() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let got = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &admin.token,
        )
        .await;
    let membership = got.body["id"].as_str().unwrap().to_owned();
    assert!(membership.starts_with("orgusr_"));
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/{membership}"),
            &admin.token,
            json!({"role_id": "role_admin"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["user_id"], json!(bob.id));
    let after = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &admin.token,
        )
        .await;
    assert_eq!(after.body["role"]["id"], json!("role_admin"));
    assert_eq!(after.body["id"], json!(membership));
}

#[tokio::test]
async fn case_55_update_without_fields_is_422() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &owner.token,
            json!({}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn case_56_57_owner_role_and_status_cannot_change() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let path = format!("/v1/organizations/{org}/users/{}", owner.id);
    let r = app
        .put(&path, &admin.token, json!({"role_id": "role_member"}))
        .await;
    assert_envelope(&r, 422, "CANNOT_CHANGE_OWNER_ROLE");
    let r = app
        .put(&path, &admin.token, json!({"status_id": "status_inactive"}))
        .await;
    assert_envelope(&r, 422, "CANNOT_DEACTIVATE_OWNER");
    let r = app.get(&path, &admin.token).await;
    assert_eq!(r.body["role"]["id"], json!("role_owner"));
    assert_eq!(r.body["status"]["id"], json!("status_active"));
}

#[tokio::test]
async fn case_59_unknown_role_status_or_member_is_404_and_wrong_prefix_is_422() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let path = format!("/v1/organizations/{org}/users/{}", bob.id);
    let r = app
        .put(&path, &owner.token, json!({"role_id": "role_doesnotexist"}))
        .await;
    assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    let r = app
        .put(
            &path,
            &owner.token,
            json!({"role_id": format!("role_{}", "0".repeat(26))}),
        )
        .await;
    assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    let r = app
        .put(&path, &owner.token, json!({"status_id": "status_vacation"}))
        .await;
    assert_envelope(&r, 404, "STATUS_NOT_FOUND");
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/usr_nonexistent"),
            &owner.token,
            json!({"role_id": "role_admin"}),
        )
        .await;
    let e = assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    assert_eq!(e["details"]["user_id"], json!("usr_nonexistent"));
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/abc"),
            &owner.token,
            json!({"role_id": "role_admin"}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app.put(&path, &owner.token, json!({"role_id": 42})).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("role_id"));
}

#[tokio::test]
async fn case_60_soft_delete_list_include_deleted_restore() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let list = format!("/v1/organizations/{org}/users");
    let r = app
        .delete(
            &format!("/v1/organizations/{org}/users/{}/delete", bob.id),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app.post(&list, &owner.token, json!({})).await;
    assert_eq!(r.body["total_users_count"], json!(1));
    let r = app
        .post(&list, &owner.token, json!({"include_deleted": true}))
        .await;
    assert_eq!(r.body["total_users_count"], json!(2));
    // a deleted member is no longer a member: their session is refused in the org
    let r = app
        .get(&format!("/v1/organizations/{org}"), &bob.token)
        .await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/{}/restore", bob.id),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/{}/restore", bob.id),
            &owner.token,
            json!({}),
        )
        .await;
    assert_envelope(&r, 422, "MEMBER_NOT_DELETED");
    let r = app
        .get(&format!("/v1/organizations/{org}"), &bob.token)
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn case_61_owner_cannot_be_deleted_and_bulk_delete_reports_it() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = app
        .delete(
            &format!("/v1/organizations/{org}/users/{}/delete", owner.id),
            &owner.token,
        )
        .await;
    assert_envelope(&r, 422, "CANNOT_DELETE_OWNER");
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/delete-bulk"),
            &owner.token,
            json!({"user_ids": [owner.id, bob.id, "usr_nonexistent"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success_count"], json!(1));
    assert_eq!(r.body["failure_count"], json!(2));
    assert_eq!(
        r.body["failed_operations"][0],
        json!({"id": owner.id, "error": "Cannot delete organization owner"})
    );
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(r.body["total_users_count"], json!(1));
}

#[tokio::test]
async fn case_62_list_paging_sorting_search_and_bounds() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    for n in ["Zed Alpha", "Yan Beta", "Xia Gamma"] {
        app.member(&org, n, "role_member").await;
    }
    let list = format!("/v1/organizations/{org}/users");
    let r = app
        .post(
            &list,
            &owner.token,
            json!({"take": 2, "sort_field": "full_name", "sort_direction": "asc"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["total_users_count"], json!(4));
    assert_eq!(r.body["take"], json!(2));
    let names: Vec<&str> = r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["full_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme Owner", "Xia Gamma"]);
    let r = app
        .post(&list, &owner.token, json!({"search_term": "gamma"}))
        .await;
    assert_eq!(r.body["total_users_count"], json!(1));
    let r = app.post(&list, &owner.token, json!({"take": 0})).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("take"));
    let r = app.post(&list, &owner.token, json!({"take": 101})).await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app.post(&list, &owner.token, json!({"skip": -1})).await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app
        .post(&list, &owner.token, json!({"sort_field": "shoe_size"}))
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app
        .post(
            &list,
            &owner.token,
            json!({"status_id": "status_active", "role_id": "role_owner"}),
        )
        .await;
    assert_eq!(r.body["total_users_count"], json!(1));
}

#[tokio::test]
async fn ids_by_ids_status_summary_and_bulk_status() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/ids"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(r.body, json!([owner.id, bob.id]));
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/by-ids"),
            &owner.token,
            json!({"user_ids": [bob.id, "usr_nonexistent"]}),
        )
        .await;
    assert_eq!(r.body["total"], json!(1));
    assert_eq!(r.body["not_found_ids"], json!(["usr_nonexistent"]));
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/change-status-bulk"),
            &owner.token,
            json!({"user_ids": [owner.id, bob.id], "status_id": "status_inactive"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success_count"], json!(1));
    assert_eq!(r.body["failure_count"], json!(1));
    let r = app
        .get(
            &format!("/v1/organizations/{org}/users/status-summary"),
            &owner.token,
        )
        .await;
    let counts = &r.body["status_counts"];
    assert_eq!(
        counts[0],
        json!({"status_id": "status_active", "status_name": "Active", "count": 1})
    );
    assert_eq!(
        counts[1],
        json!({"status_id": "status_inactive", "status_name": "Inactive", "count": 1})
    );
    // an inactive member is not allowed in
    let r = app
        .get(&format!("/v1/organizations/{org}"), &bob.token)
        .await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");
}

#[tokio::test]
async fn direct_add_defaults_to_member_role_and_refuses_duplicates() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let u = app.user("Dan Added").await;
    let path = format!("/v1/organizations/{org}/members");
    let r = app
        .post(&path, &owner.token, json!({"user_id": u.id}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.body["role"],
        json!({"id": "role_member", "name": "Member"})
    );
    let r = app
        .post(&path, &owner.token, json!({"user_id": u.id}))
        .await;
    assert_envelope(&r, 409, "MEMBER_ALREADY_EXISTS");
    let r = app
        .post(&path, &owner.token, json!({"user_id": "usr_nonexistent"}))
        .await;
    assert_envelope(&r, 404, "USER_NOT_FOUND");
}

#[tokio::test]
async fn statuses_list_the_three_base_statuses() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app
        .get(&format!("/v1/organizations/{org}/statuses"), &owner.token)
        .await;
    assert_eq!(r.status, 200);
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["status_active", "status_inactive", "status_pending"]);
    assert_eq!(r.body[0]["order"], json!(1));
    assert_eq!(r.body[0]["is_base_status"], json!(true));
    assert_eq!(r.body[0]["organization_id"], json!(org));
}

#[tokio::test]
async fn only_owners_hand_out_or_take_away_the_owner_role_through_members() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let path = format!("/v1/organizations/{org}/users/{}", bob.id);
    let r = app
        .put(&path, &admin.token, json!({"role_id": "role_owner"}))
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let u = app.user("Eve Extra").await;
    let r = app
        .post(
            &format!("/v1/organizations/{org}/members"),
            &admin.token,
            json!({"user_id": u.id, "role_id": "role_owner"}),
        )
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app
        .put(&path, &owner.token, json!({"role_id": "role_owner"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // an Admin cannot demote an Owner either
    let r = app
        .put(&path, &admin.token, json!({"role_id": "role_member"}))
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.body["role"]["id"], json!("role_owner"));
}

#[tokio::test]
async fn inactive_members_get_no_new_roles_or_departments_until_reactivated() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let member = format!("/v1/organizations/{org}/users/{}", bob.id);
    let r = app
        .put(
            &member,
            &owner.token,
            json!({"status_id": "status_inactive"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(
            &format!("/v1/organizations/{org}/departments"),
            &owner.token,
            json!({"name": "Ops"}),
        )
        .await;
    let dept = r.body["id"].as_str().unwrap().to_owned();
    let assign = format!("/v1/organizations/{org}/roles/role_billing_manager/members");
    let add = format!("/v1/organizations/{org}/departments/{dept}/members");
    let e = assert_envelope(
        &app.post(&assign, &owner.token, json!({"user_id": bob.id}))
            .await,
        422,
        "MEMBER_INACTIVE",
    );
    assert_eq!(e["details"]["user_id"], json!(bob.id));
    assert_envelope(
        &app.post(&add, &owner.token, json!({"user_id": bob.id}))
            .await,
        422,
        "MEMBER_INACTIVE",
    );
    // nothing was written
    let r = app
        .get(
            &format!("/v1/organizations/{org}/roles/role_billing_manager/members"),
            &owner.token,
        )
        .await;
    assert_eq!(r.body["total"], json!(0));
    let r = app.get(&add, &owner.token).await;
    assert_eq!(r.body, json!([]));
    // reactivated: both work
    app.put(&member, &owner.token, json!({"status_id": "status_active"}))
        .await;
    assert_eq!(
        app.post(&assign, &owner.token, json!({"user_id": bob.id}))
            .await
            .status,
        201
    );
    assert_eq!(
        app.post(&add, &owner.token, json!({"user_id": bob.id}))
            .await
            .status,
        201
    );
}

// --- a refused revival lists what every role lacks

#[tokio::test]
async fn a_refused_restore_lists_the_keys_missing_for_every_role() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let rita = member_holding(
        &app,
        &org,
        &owner.token,
        "Remover",
        &["remove_users"],
        "Rita Remover",
    )
    .await;
    let auditor = custom_role(
        &app,
        &org,
        &owner.token,
        "Auditor",
        json!({"capabilities": ["view_audit_log"]}),
    )
    .await;
    // Bill holds Billing Manager and Auditor besides his primary Member.
    let bill = app.member(&org, "Bill Both", "role_member").await;
    assign_org_role(&app, &org, &owner.token, "role_billing_manager", &bill.id).await;
    assign_org_role(&app, &org, &owner.token, &auditor, &bill.id).await;
    let r = remove_from_org(&app, &org, &rita.token, &bill.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = restore(&app, &org, &rita.token, &bill.id).await;
    let missing = refused_escalation(&r);
    assert_lists(&missing, &["manage_billing", "view_audit_log"]);
    assert!(stored_deleted(&app, &org, &bill.id).await);
}

// --- reactivating a member hands back every role they held

#[tokio::test]
async fn reactivating_a_member_hands_back_their_roles_only_to_who_may_give_them() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let ada = app.member(&org, "Ada Admin", "role_admin").await;
    // Olga holds Owner (the organization has another); Mia holds Member.
    let olga = app.member(&org, "Olga Owner", "role_owner").await;
    let mia = app.member(&org, "Mia Plain", "role_member").await;
    let member = |u: &str| format!("/v1/organizations/{org}/users/{u}");
    let status_of = |u: String| {
        let (app, owner) = (&app, &owner);
        async move {
            let r = app.get(&u, &owner.token).await;
            r.body["status"]["id"].as_str().unwrap().to_owned()
        }
    };
    // Leaving Active takes every role away and is not checked role by role.
    for user in [&olga, &mia] {
        let r = app
            .put(
                &member(&user.id),
                &ada.token,
                json!({"status_id": "status_inactive"}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert!(!check_allowed(&app, &org, &olga.id, "manage_billing").await);

    // Coming back would hand Owner back: only an Owner may; nothing is written.
    let rev = app.store.revision();
    let r = app
        .put(
            &member(&olga.id),
            &ada.token,
            json!({"status_id": "status_active"}),
        )
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let bulk = format!("/v1/organizations/{org}/users/change-status-bulk");
    let r = app
        .post(
            &bulk,
            &ada.token,
            json!({"user_ids": [olga.id, mia.id], "status_id": "status_active"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success_count"], json!(1));
    assert_eq!(
        r.body["failed_operations"],
        json!([{"id": olga.id, "error": "Cannot reactivate a member holding roles you may not grant"}])
    );
    assert!(app.store.revision() > rev, "Mia's change was written");
    assert_eq!(status_of(member(&olga.id)).await, "status_inactive");
    assert_eq!(status_of(member(&mia.id)).await, "status_active");
    assert!(!check_allowed(&app, &org, &olga.id, "manage_billing").await);

    let r = app
        .put(
            &member(&olga.id),
            &owner.token,
            json!({"status_id": "status_active"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(status_of(member(&olga.id)).await, "status_active");
    assert!(check_allowed(&app, &org, &olga.id, "manage_billing").await);
}

// --- restoring a member hands back every role they held

#[tokio::test]
async fn restoring_a_member_hands_back_every_role_they_held_only_to_who_may_give_it() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    // Rita may remove and restore members, and nothing else; Ada is an Admin.
    let rita = member_holding(
        &app,
        &org,
        &owner.token,
        "Remover",
        &["remove_users"],
        "Rita Remover",
    )
    .await;
    let ada = app.member(&org, "Ada Admin", "role_admin").await;
    // Adam's primary role is Admin; Bill holds Billing Manager besides his
    // primary Member; Gina is in a group holding Admin; Olga holds Owner
    // (the organization has another); Mia holds Member only.
    let adam = app.member(&org, "Adam Prime", "role_admin").await;
    let bill = app.member(&org, "Bill Direct", "role_member").await;
    assign_org_role(&app, &org, &owner.token, "role_billing_manager", &bill.id).await;
    let gina = app.member(&org, "Gina Group", "role_member").await;
    in_group_holding(&app, &org, "Admins", "role_admin", &gina.id).await;
    let olga = app.member(&org, "Olga Owner", "role_owner").await;
    let mia = app.member(&org, "Mia Plain", "role_member").await;
    let held = [
        (&adam, "view_audit_log"),
        (&bill, "manage_billing"),
        (&gina, "view_audit_log"),
        (&olga, "manage_billing"),
    ];
    for (user, perm) in held {
        assert!(check_allowed(&app, &org, &user.id, perm).await);
    }
    for user in [&adam, &bill, &gina, &olga, &mia] {
        let r = remove_from_org(&app, &org, &rita.token, &user.id).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
    }

    // Restoring would hand back Admin (Adam's primary role, Gina's group's
    // role), Billing Manager (Bill's other assignment) or Owner: refused to
    // the remover, and Owner to the Admin too; nothing is written.
    let rev = app.store.revision();
    for (user, key) in [
        (&adam, "override_all_permissions"),
        (&bill, "manage_billing"),
        (&gina, "override_all_permissions"),
    ] {
        let r = restore(&app, &org, &rita.token, &user.id).await;
        let missing = refused_escalation(&r);
        assert_lists(&missing, &[key]);
    }
    for token in [&rita.token, &ada.token] {
        let r = restore(&app, &org, token, &olga.id).await;
        assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    for (user, perm) in held {
        assert!(stored_deleted(&app, &org, &user.id).await);
        assert!(shown_deleted(&app, &org, &owner.token, &user.id).await);
        assert!(!check_allowed(&app, &org, &user.id, perm).await);
    }
    assert_eq!(stored_groups_of(&app, &gina.id).await, 1);

    // Mia gets back nothing the remover lacks: theirs to restore.
    let r = restore(&app, &org, &rita.token, &mia.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(!stored_deleted(&app, &org, &mia.id).await);
    assert!(!shown_deleted(&app, &org, &owner.token, &mia.id).await);
    // The Admin may hand back Admin and Billing Manager, the Owner Owner.
    for user in [&adam, &bill, &gina] {
        let r = restore(&app, &org, &ada.token, &user.id).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
    }
    let r = restore(&app, &org, &owner.token, &olga.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    for (user, perm) in held {
        assert!(!stored_deleted(&app, &org, &user.id).await);
        assert!(check_allowed(&app, &org, &user.id, perm).await);
    }
}
