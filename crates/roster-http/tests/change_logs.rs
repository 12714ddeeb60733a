// Change logs — SDK get_organization_change_logs / get_member_change_logs
// (spec §1.6, §2.3 M16, §3.14 ChangeLog): the audit trail read back.

mod common;
use common::*;
use serde_json::{json, Value};

fn org_logs(org: &str) -> String {
    format!("/v1/organizations/{org}/dashboard/change-logs")
}

#[allow(clippy::unwrap_used)]
fn logs(r: &Res) -> Vec<Value> {
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["logs"].as_array().unwrap().clone()
}

#[tokio::test]
async fn change_log_shows_a_member_update_with_its_field_diff() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = app
        .put(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &owner.token,
            json!({"role_id": "role_admin"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.post(&org_logs(&org), &owner.token, json!({})).await;
    let all = logs(&r);
    assert_eq!(r.body["skip"], json!(0));
    assert_eq!(r.body["take"], json!(20));
    assert_eq!(r.body["total_count"], json!(all.len()));
    // newest first: the update leads
    let e = &all[0];
    assert!(e["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(e["action"], json!("updated"));
    assert_eq!(e["event"], json!("member.updated"));
    assert_eq!(e["resource_type"], json!("member"));
    assert_eq!(e["resource_id"], json!(bob.id));
    assert_eq!(e["resource_name"], json!("Bob Stone"));
    assert_eq!(e["user_id"], json!(owner.id));
    assert_eq!(e["user_name"], json!("Acme Owner"));
    assert_eq!(e["user_email"], json!(owner.email));
    assert!(e["timestamp"].as_str().is_some());
    let changes = e["changes"].as_array().unwrap();
    assert!(
        changes.contains(
            &json!({"field": "role_id", "old_value": "role_member", "new_value": "role_admin"})
        ),
        "{changes:?}"
    );
    assert!(changes
        .contains(&json!({"field": "role_name", "old_value": "Member", "new_value": "Admin"})));
    // unchanged fields are not listed
    assert!(!changes.iter().any(|c| c["field"] == json!("status")));
    // every value is text or null (the SDK's ChangeDetail)
    for l in &all {
        for c in l["changes"].as_array().unwrap() {
            assert!(c["field"].is_string());
            assert!(
                c["old_value"].is_string() || c["old_value"].is_null(),
                "{c}"
            );
            assert!(
                c["new_value"].is_string() || c["new_value"].is_null(),
                "{c}"
            );
        }
    }
    // the organization's creation is in the log, by its owner
    let created = all
        .iter()
        .find(|l| l["event"] == json!("organization.created"))
        .unwrap();
    assert_eq!(created["resource_id"], json!(org));
    assert_eq!(created["resource_name"], json!("Acme"));
    assert!(created["changes"]
        .as_array()
        .unwrap()
        .contains(&json!({"field": "name", "old_value": null, "new_value": "Acme"})));
}

#[tokio::test]
async fn change_log_filters_by_action_resource_type_and_dates() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    app.put(
        &format!("/v1/organizations/{org}/users/{}", bob.id),
        &owner.token,
        json!({"role_id": "role_admin"}),
    )
    .await;
    let r = app
        .post(
            &format!("/v1/organizations/{org}/api-keys"),
            &owner.token,
            json!({"key_name": "CI"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let key_id = r.body["id"].as_str().unwrap().to_owned();

    let r = app
        .post(&org_logs(&org), &owner.token, json!({"action": "updated"}))
        .await;
    let l = logs(&r);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0]["event"], json!("member.updated"));
    assert_eq!(r.body["total_count"], json!(1));

    let r = app
        .post(
            &org_logs(&org),
            &owner.token,
            json!({"resource_type": "api_key"}),
        )
        .await;
    let l = logs(&r);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0]["event"], json!("api_key.created"));
    assert_eq!(l[0]["resource_id"], json!(key_id));
    assert_eq!(l[0]["resource_name"], json!("CI"));

    let r = app
        .post(
            &org_logs(&org),
            &owner.token,
            json!({"action": "api_key.created"}),
        )
        .await;
    assert_eq!(logs(&r).len(), 1);
    // the SDK's name for members
    let r = app
        .post(
            &org_logs(&org),
            &owner.token,
            json!({"resource_type": "organization_user", "action": "added"}),
        )
        .await;
    let l = logs(&r);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0]["event"], json!("member.added"));
    assert_eq!(l[0]["resource_id"], json!(bob.id));
    let r = app
        .post(
            &org_logs(&org),
            &owner.token,
            json!({"action": "nothing_like_this"}),
        )
        .await;
    assert_eq!(logs(&r).len(), 0);

    let r = app
        .post(
            &org_logs(&org),
            &owner.token,
            json!({"start_date": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(logs(&r).len(), 0);
    let r = app
        .post(
            &org_logs(&org),
            &owner.token,
            json!({"end_date": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(logs(&r).len(), 0);
    let r = app
        .post(
            &org_logs(&org),
            &owner.token,
            json!({"start_date": "2001-01-01T00:00:00+02:00", "end_date": "2999-01-01"}),
        )
        .await;
    assert_eq!(
        logs(&r).len() as i64,
        r.body["total_count"].as_i64().unwrap()
    );
    assert!(logs(&r).len() >= 4);
    let r = app
        .post(&org_logs(&org), &owner.token, json!({"start_date": "soon"}))
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("start_date"));
}

#[tokio::test]
async fn change_log_paging_and_bounds_422() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    app.member(&org, "Bob Stone", "role_member").await;
    let r = app.post(&org_logs(&org), &owner.token, json!({})).await;
    let total = r.body["total_count"].as_i64().unwrap();
    assert!(total >= 2);
    let r = app
        .post(&org_logs(&org), &owner.token, json!({"skip": 1, "take": 1}))
        .await;
    assert_eq!(logs(&r).len(), 1);
    assert_eq!(r.body["total_count"], json!(total));
    assert_eq!(r.body["skip"], json!(1));
    assert_eq!(r.body["take"], json!(1));
    let r = app
        .post(&org_logs(&org), &owner.token, json!({"skip": total}))
        .await;
    assert_eq!(logs(&r).len(), 0);
    for (body, field) in [
        (json!({"take": 0}), "take"),
        (json!({"take": 101}), "take"),
        (json!({"skip": -1}), "skip"),
        (json!({"take": "ten"}), "take"),
    ] {
        let r = app.post(&org_logs(&org), &owner.token, body).await;
        let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
        assert_eq!(e["details"]["field"], json!(field));
    }
}

#[tokio::test]
async fn member_change_logs_list_only_events_targeting_that_member() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let carl = app.member(&org, "Carl Ray", "role_member").await;
    for u in [&bob, &carl] {
        let r = app
            .put(
                &format!("/v1/organizations/{org}/users/{}", u.id),
                &owner.token,
                json!({"status_id": "status_inactive"}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let path = format!("/v1/organizations/{org}/users/{}/change-logs", bob.id);
    let r = app.post(&path, &owner.token, json!({})).await;
    let l = logs(&r);
    assert_eq!(l.len(), 2, "{l:?}");
    assert!(l.iter().all(|e| e["resource_id"] == json!(bob.id)));
    assert_eq!(l[0]["event"], json!("member.updated"));
    assert_eq!(l[1]["event"], json!("member.added"));
    // by membership id too
    let m = app
        .get(
            &format!("/v1/organizations/{org}/users/{}", bob.id),
            &owner.token,
        )
        .await;
    let r = app
        .post(
            &format!(
                "/v1/organizations/{org}/users/{}/change-logs",
                m.body["id"].as_str().unwrap()
            ),
            &owner.token,
            json!({"action": "updated"}),
        )
        .await;
    assert_eq!(logs(&r).len(), 1);
    // not a member of this organization
    let stranger = app.user("Stan Ger").await;
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/{}/change-logs", stranger.id),
            &owner.token,
            json!({}),
        )
        .await;
    let e = assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
    assert_eq!(e["details"]["user_id"], json!(stranger.id));
}

#[tokio::test]
async fn change_logs_need_view_audit_log() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let r = app.post(&org_logs(&org), &bob.token, json!({})).await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app
        .post(
            &format!("/v1/organizations/{org}/users/{}/change-logs", bob.id),
            &bob.token,
            json!({}),
        )
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = app.post(&org_logs(&org), &admin.token, json!({})).await;
    assert_eq!(r.status, 200);
    // another organization's log is not visible
    let (other, _) = app.org("Globex").await;
    let r = app.post(&org_logs(&other), &admin.token, json!({})).await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");
}
