// Organization API keys — spec §1.2 (key format, both headers), §2.7, §3.14.

mod common;
use common::*;
use serde_json::{json, Value};

fn keys(org: &str) -> String {
    format!("/v1/organizations/{org}/api-keys")
}

async fn create(app: &TestApp, org: &str, token: &str, body: Value) -> Res {
    app.post(&keys(org), token, body).await
}

/// GET the organization with `key` sent as `Authorization: Bearer`.
#[allow(clippy::unwrap_used)]
async fn get_org_bearer(app: &TestApp, org: &str, key: &str) -> u16 {
    app.client
        .get(format!("{}/v1/organizations/{org}", app.base))
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn get_org(app: &TestApp, org: &str, key: &str) -> Res {
    app.get(&format!("/v1/organizations/{org}"), key).await
}

#[tokio::test]
async fn key_created_once_in_documented_shape_authenticates_with_both_headers() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(
        &app,
        &org,
        &owner.token,
        json!({"key_name": "CI", "usage_limit_chf": 12.5, "scopes": ["read"], "metadata": {"team": "ops"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.headers.get("roster-revision").is_some());
    let b = &r.body;
    let key = b["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 42);
    assert!(key.starts_with("ak_"));
    assert!(key[3..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(b["key_prefix"], json!(&key[..10]));
    assert!(b["id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(b["organization_id"], json!(org));
    assert_eq!(b["key_name"], json!("CI"));
    assert_eq!(b["is_active"], json!(true));
    assert_eq!(b["role_id"], json!("role_admin"));
    assert_eq!(b["usage_limit_chf"], json!(12.5));
    assert_eq!(b["scopes"], json!(["read"]));
    assert_eq!(b["metadata"], json!({"team": "ops"}));
    assert_eq!(b["created_by"], json!(owner.id));
    assert!(b["created_at"].as_str().is_some());
    assert_eq!(b["expires_at"], Value::Null);

    let r = get_org(&app, &org, &key).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(get_org_bearer(&app, &org, &key).await, 200);
    // an admin key can manage its own organization
    let r = app.get(&keys(&org), &key).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn key_secret_is_never_read_back() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(&app, &org, &owner.token, json!({"key_name": "CI"})).await;
    let key = r.body["key"].as_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    let list = app.get(&keys(&org), &owner.token).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total"], json!(1));
    assert!(list.body["keys"][0].get("key").is_none());
    assert_eq!(list.body["keys"][0]["id"], json!(id));
    assert_eq!(list.body["keys"][0]["is_paused"], json!(false));
    let one = app.get(&format!("{}/{id}", keys(&org)), &owner.token).await;
    assert_eq!(one.status, 200);
    assert!(one.body.get("key").is_none());
    let logs = app
        .post(
            &format!("/v1/organizations/{org}/dashboard/change-logs"),
            &owner.token,
            json!({"take": 100}),
        )
        .await;
    assert_eq!(logs.status, 200);
    for body in [&list.body, &one.body, &logs.body] {
        assert!(!body.to_string().contains(&key), "secret leaked: {body}");
    }
}

#[tokio::test]
async fn key_deactivated_is_401_and_activated_works_again() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(&app, &org, &owner.token, json!({"key_name": "CI"})).await;
    let key = r.body["key"].as_str().unwrap().to_owned();
    let path = format!("{}/{}", keys(&org), r.body["id"].as_str().unwrap());
    let r = app
        .post(&format!("{path}/deactivate"), &owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], json!(true));
    assert_eq!(r.body["key"]["is_active"], json!(false));
    assert_envelope(&get_org(&app, &org, &key).await, 401, "API_KEY_DEACTIVATED");
    assert_eq!(get_org_bearer(&app, &org, &key).await, 401);
    let r = app
        .post(&format!("{path}/activate"), &owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["key"]["is_active"], json!(true));
    assert_eq!(get_org(&app, &org, &key).await.status, 200);
}

/// Pausing stops a key at once without deactivating it; unpausing brings it
/// back; a paused key rotated stays paused; an unknown secret is still the
/// generic 401.
#[tokio::test]
async fn key_paused_is_401_until_unpaused() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(&app, &org, &owner.token, json!({"key_name": "CI"})).await;
    let key = r.body["key"].as_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("{}/{id}", keys(&org));
    assert_eq!(get_org(&app, &org, &key).await.status, 200);
    let r = app
        .post(&format!("{path}/pause"), &owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], json!(true));
    assert_eq!(r.body["message"], json!("API key paused successfully"));
    assert_eq!(r.body["key"]["is_paused"], json!(true));
    assert_eq!(r.body["key"]["is_active"], json!(true));
    assert_envelope(&get_org(&app, &org, &key).await, 401, "API_KEY_PAUSED");
    assert_eq!(get_org_bearer(&app, &org, &key).await, 401);
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.body["is_paused"], json!(true));
    let stored: i64 =
        sqlx::query_scalar("SELECT CAST(is_paused AS INTEGER) FROM api_keys WHERE prefix = $1")
            .bind(&key[..10])
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(stored, 1);
    let r = app
        .post(&format!("{path}/unpause"), &owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], json!("API key unpaused successfully"));
    assert_eq!(r.body["key"]["is_paused"], json!(false));
    assert_eq!(get_org(&app, &org, &key).await.status, 200);
    // paused, rotated: the new key is paused too
    app.post(&format!("{path}/pause"), &owner.token, json!({}))
        .await;
    let r = app
        .post(&format!("{path}/rotate"), &owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let new_key = r.body["new_key"]["key"].as_str().unwrap().to_owned();
    assert_eq!(r.body["new_key"]["is_paused"], json!(true), "{:?}", r.body);
    assert_envelope(&get_org(&app, &org, &new_key).await, 401, "API_KEY_PAUSED");
    // the old secret is gone altogether, and so is a made-up one
    assert_envelope(&get_org(&app, &org, &key).await, 401, "INVALID_API_KEY");
    let made_up = format!("ak_{}", "x".repeat(39));
    assert_envelope(&get_org(&app, &org, &made_up).await, 401, "INVALID_API_KEY");
    // the audit log says who paused it
    let paused: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'api_key.paused'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(paused, 2);
    let r = app
        .post(
            &format!("{}/key_{}/pause", keys(&org), "0".repeat(26)),
            &owner.token,
            json!({}),
        )
        .await;
    assert_envelope(&r, 404, "API_KEY_NOT_FOUND");
}

#[tokio::test]
async fn key_rotated_old_is_401_new_works() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(
        &app,
        &org,
        &owner.token,
        json!({"key_name": "CI", "role_id": "role_member", "scopes": ["a"]}),
    )
    .await;
    let old = r.body["key"].as_str().unwrap().to_owned();
    let old_id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("{}/{old_id}/rotate", keys(&org)),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], json!(true));
    assert_eq!(r.body["old_key_id"], json!(old_id));
    let new = &r.body["new_key"];
    let new_key = new["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, old);
    assert_eq!(new_key.len(), 42);
    assert_ne!(new["id"], json!(old_id));
    // same settings
    assert_eq!(new["key_name"], json!("CI"));
    assert_eq!(new["role_id"], json!("role_member"));
    assert_eq!(new["scopes"], json!(["a"]));
    assert_envelope(&get_org(&app, &org, &old).await, 401, "INVALID_API_KEY");
    assert_eq!(get_org(&app, &org, &new_key).await.status, 200);
    let r = app
        .get(&format!("{}/{old_id}", keys(&org)), &owner.token)
        .await;
    let e = assert_envelope(&r, 404, "API_KEY_NOT_FOUND");
    assert_eq!(e["details"]["key_id"], json!(old_id));
    let r = app.get(&keys(&org), &owner.token).await;
    assert_eq!(r.body["total"], json!(1));
    assert_eq!(r.body["keys"][0]["id"], new["id"]);
}

#[tokio::test]
async fn key_deleted_is_401_and_gone() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(&app, &org, &owner.token, json!({"key_name": "CI"})).await;
    let key = r.body["key"].as_str().unwrap().to_owned();
    let path = format!("{}/{}", keys(&org), r.body["id"].as_str().unwrap());
    let r = app.delete(&path, &owner.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["success"], json!(true));
    assert!(r.body["message"].as_str().is_some());
    assert_envelope(&get_org(&app, &org, &key).await, 401, "INVALID_API_KEY");
    assert_envelope(
        &app.get(&path, &owner.token).await,
        404,
        "API_KEY_NOT_FOUND",
    );
    assert_envelope(
        &app.delete(&path, &owner.token).await,
        404,
        "API_KEY_NOT_FOUND",
    );
    let r = app.get(&keys(&org), &owner.token).await;
    assert_eq!(r.body["total"], json!(0));
    assert_eq!(r.body["keys"], json!([]));
}

#[tokio::test]
async fn key_with_role_member_cannot_change_a_members_role() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let r = create(
        &app,
        &org,
        &owner.token,
        json!({"key_name": "reader", "role_id": "role_member"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.body["key"].as_str().unwrap().to_owned();
    let member = format!("/v1/organizations/{org}/users/{}", bob.id);
    let r = app
        .put(&member, &key, json!({"role_id": "role_admin"}))
        .await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(e["type"], json!("authorization_error"));
    // reads are fine, key management is not
    assert_eq!(app.get(&member, &key).await.status, 200);
    assert_envelope(
        &app.get(&keys(&org), &key).await,
        403,
        "INSUFFICIENT_PERMISSIONS",
    );
    let r = app.get(&member, &owner.token).await;
    assert_eq!(r.body["role"]["id"], json!("role_member"));
    // the key acts only inside its own organization
    let (other, _) = app.org("Globex").await;
    assert_envelope(
        &get_org(&app, &other, &key).await,
        403,
        "ORGANIZATION_ACCESS_DENIED",
    );
}

#[tokio::test]
async fn key_management_needs_admin_and_no_way_up() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let admin = app.member(&org, "Ada Admin", "role_admin").await;
    let r = create(&app, &org, &bob.token, json!({"key_name": "x"})).await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = create(
        &app,
        &org,
        &admin.token,
        json!({"key_name": "x", "role_id": "role_owner"}),
    )
    .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    let r = create(
        &app,
        &org,
        &owner.token,
        json!({"key_name": "x", "role_id": "role_owner"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = create(&app, &org, &owner.token, json!({"key_name": "  "})).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("key_name"));
    let r = create(
        &app,
        &org,
        &owner.token,
        json!({"key_name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("expires_at"));
    let r = create(
        &app,
        &org,
        &owner.token,
        json!({"key_name": "x", "usage_limit_chf": -1}),
    )
    .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = create(&app, &org, &owner.token, json!({})).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("key_name"));
    let r = create(
        &app,
        &org,
        &owner.token,
        json!({"key_name": "x", "role_id": format!("role_{}", "0".repeat(26))}),
    )
    .await;
    assert_envelope(&r, 404, "ROLE_NOT_FOUND");
    // only the one Owner key exists
    let r = app.get(&keys(&org), &owner.token).await;
    assert_eq!(r.body["total"], json!(1));
}

#[tokio::test]
async fn key_update_and_expiry() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(&app, &org, &owner.token, json!({"key_name": "CI"})).await;
    let key = r.body["key"].as_str().unwrap().to_owned();
    let path = format!("{}/{}", keys(&org), r.body["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &owner.token,
            json!({"key_name": "Deploy", "usage_limit_chf": 5.0, "scopes": ["x", "y"],
                   "expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["key_name"], json!("Deploy"));
    assert_eq!(r.body["usage_limit_chf"], json!(5.0));
    assert_eq!(r.body["scopes"], json!(["x", "y"]));
    assert_eq!(r.body["expires_at"], json!("2999-01-01T00:00:00Z"));
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.body["key_name"], json!("Deploy"));
    assert_eq!(r.body["scopes"], json!(["x", "y"]));
    // null leaves a field alone
    let r = app
        .patch(&path, &owner.token, json!({"key_name": null}))
        .await;
    assert_eq!(r.body["key_name"], json!("Deploy"));
    let r = app
        .patch(&path, &owner.token, json!({"expires_at": "yesterday"}))
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(get_org(&app, &org, &key).await.status, 200);
    // past its date the key stops working
    sqlx::query("UPDATE api_keys SET expires_at = 1")
        .execute(app.store.pool())
        .await
        .unwrap();
    // edited behind Roster's back: drop what it cached
    app.store.forget_cached_credentials();
    assert_envelope(&get_org(&app, &org, &key).await, 401, "API_KEY_EXPIRED");
    let r = app
        .patch(
            &format!("{}/key_{}", keys(&org), "0".repeat(26)),
            &owner.token,
            json!({"key_name": "x"}),
        )
        .await;
    assert_envelope(&r, 404, "API_KEY_NOT_FOUND");
    let r = app
        .get(&format!("{}/usr_abc", keys(&org)), &owner.token)
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn key_list_pages_both_ways_and_bounds() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    for n in ["a", "b", "c"] {
        let r = create(&app, &org, &owner.token, json!({"key_name": n})).await;
        assert_eq!(r.status, 201);
    }
    let r = app
        .get(&format!("{}?page=1&page_size=2", keys(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["total"], json!(3));
    assert_eq!(r.body["page"], json!(1));
    assert_eq!(r.body["page_size"], json!(2));
    // newest first
    let names: Vec<&str> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "b"]);
    let r = app
        .get(&format!("{}?skip=2&take=2", keys(&org)), &owner.token)
        .await;
    assert_eq!(r.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["keys"][0]["key_name"], json!("a"));
    assert_eq!(r.body["page"], json!(2));
    assert_eq!(r.body["page_size"], json!(2));
    for q in [
        "page=0",
        "page_size=0",
        "page_size=101",
        "take=0",
        "take=101",
        "skip=-1",
        "page=x",
    ] {
        let r = app.get(&format!("{}?{q}", keys(&org)), &owner.token).await;
        assert_envelope(&r, 422, "VALIDATION_ERROR");
    }
}

/// A key that was just used (and so is remembered by the server) stops at
/// once when it is deactivated, rotated away, re-roled or deleted.
#[tokio::test]
async fn a_key_in_use_stops_at_once_when_revoked() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let new_key = |name: &'static str| {
        let (app, org, token) = (&app, org.clone(), owner.token.clone());
        async move {
            let r = create(app, &org, &token, json!({"key_name": name})).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            (
                r.body["id"].as_str().unwrap().to_owned(),
                r.body["key"].as_str().unwrap().to_owned(),
            )
        }
    };
    let item = |id: &str| format!("{}/{id}", keys(&org));

    let (id, secret) = new_key("deactivated").await;
    assert_eq!(get_org(&app, &org, &secret).await.status, 200);
    let r = app
        .post(
            &format!("{}/deactivate", item(&id)),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_envelope(
        &get_org(&app, &org, &secret).await,
        401,
        "API_KEY_DEACTIVATED",
    );

    let (id, secret) = new_key("paused").await;
    assert_eq!(get_org(&app, &org, &secret).await.status, 200);
    let r = app
        .post(&format!("{}/pause", item(&id)), &owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_envelope(&get_org(&app, &org, &secret).await, 401, "API_KEY_PAUSED");

    let (id, secret) = new_key("rotated").await;
    assert_eq!(get_org(&app, &org, &secret).await.status, 200);
    let r = app
        .post(&format!("{}/rotate", item(&id)), &owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_envelope(&get_org(&app, &org, &secret).await, 401, "INVALID_API_KEY");

    let (id, secret) = new_key("deleted").await;
    assert_eq!(get_org(&app, &org, &secret).await.status, 200);
    let r = app.delete(&item(&id), &owner.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_envelope(&get_org(&app, &org, &secret).await, 401, "INVALID_API_KEY");

    let (id, secret) = new_key("re-roled").await;
    let path = format!("/v1/organizations/{org}/users/{}", owner.id);
    assert_eq!(app.get(&path, &secret).await.status, 200);
    let r = app
        .patch(&item(&id), &owner.token, json!({"role_id": "role_member"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(&keys(&org), &secret, json!({"key_name": "escalate"}))
        .await;
    assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn a_keys_use_becomes_its_last_used_at_without_a_revision() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = create(&app, &org, &owner.token, json!({"key_name": "CI"})).await;
    let key = r.body["key"].as_str().unwrap().to_owned();
    let path = format!("{}/{}", keys(&org), r.body["id"].as_str().unwrap());
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["last_used_at"], Value::Null, "never used yet");
    let revision = app.store.revision();
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert_eq!(get_org(&app, &org, &key).await.status, 200);
    // Written by a task of its own, after the response: poll, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let used = loop {
        let r = app.get(&path, &owner.token).await;
        if let Some(at) = r.body["last_used_at"].as_str() {
            break chrono::DateTime::parse_from_rfc3339(at).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "last_used_at still null: {:?}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(used >= before && used <= chrono::Utc::now(), "{used}");
    // Using a key is not a change anyone follows: no revision (and so no
    // audit event: those are written with a revision).
    assert_eq!(app.store.revision(), revision);
}
