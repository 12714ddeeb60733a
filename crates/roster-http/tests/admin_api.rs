// The admin API dialect (OpenAI's `/v1/organization/...`, `/v1/projects/...`):
// the contract of the spec's §7, its envelopes, and consistency with the
// organization API over the one model.

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// A request in the admin dialect: `Authorization: Bearer`, optional `OpenAI-Organization`.
#[allow(clippy::unwrap_used)]
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    org: Option<&str>,
    body: Option<Value>,
) -> Res {
    let mut req = app.client.request(method, format!("{}{}", app.base, path));
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if let Some(o) = org {
        req = req.header("openai-organization", o);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    into_res(req.send().await.unwrap()).await
}

/// An organization with an owner, two members and an Owner-role key.
struct Fixture {
    app: TestApp,
    org: String,
    owner: TestUser,
    ada: TestUser,
    ben: TestUser,
    key: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let app = TestApp::spawn().await;
        let (org, owner) = app.org("Acme").await;
        let ada = app.member(&org, "Ada Adams", "role_member").await;
        let ben = app.member(&org, "Ben Baker", "role_member").await;
        let key = org_key(&app, &org, &owner.token, "role_owner").await;
        Fixture {
            app,
            org,
            owner,
            ada,
            ben,
            key,
        }
    }
    async fn get(&self, path: &str) -> Res {
        send(&self.app, Method::GET, path, Some(&self.key), None, None).await
    }
    /// A new group "Admins" holding the Admin role: its id.
    #[allow(clippy::unwrap_used)]
    async fn admins_group(&self) -> String {
        let g = self
            .post("/v1/organization/groups", json!({"name": "Admins"}))
            .await;
        let gid = g.body["id"].as_str().unwrap().to_owned();
        let r = self
            .post(
                &format!("/v1/organization/groups/{gid}/roles"),
                json!({"role_id": "role_admin"}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        gid
    }
    async fn post(&self, path: &str, body: Value) -> Res {
        send(
            &self.app,
            Method::POST,
            path,
            Some(&self.key),
            None,
            Some(body),
        )
        .await
    }
    async fn delete(&self, path: &str) -> Res {
        send(&self.app, Method::DELETE, path, Some(&self.key), None, None).await
    }
}

/// Makes an organization API key with `role` through the organization API.
#[allow(clippy::unwrap_used)]
async fn org_key(app: &TestApp, org: &str, token: &str, role: &str) -> String {
    let r = app
        .post(
            &format!("/v1/organizations/{org}/api-keys"),
            token,
            json!({"key_name": format!("k-{role}"), "role_id": role}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["key"].as_str().unwrap().to_owned()
}

/// The admin error envelope: exactly message/type/param/code.
#[allow(clippy::unwrap_used)]
fn assert_error(r: &Res, status: u16, code: Option<&str>, param: Option<&str>) {
    assert_eq!(r.status, status, "{:?}", r.body);
    let e = r.body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {:?}", r.body));
    let mut keys: Vec<&str> = e.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["code", "message", "param", "type"], "{:?}", r.body);
    assert_eq!(e["type"], json!("invalid_request_error"));
    assert_eq!(e["code"], json!(code), "{:?}", r.body);
    assert_eq!(e["param"], json!(param), "{:?}", r.body);
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(r.headers.contains_key("x-request-id"));
}

/// A paused organization key is refused in this dialect's envelope too (and
/// says so), and works again once unpaused.
#[tokio::test]
async fn a_paused_key_is_refused_until_unpaused() {
    let f = Fixture::new().await;
    let r = f.get("/v1/organization/users").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let keys = format!("/v1/organizations/{}/api-keys", f.org);
    let list = f.app.get(&keys, &f.owner.token).await;
    let id = list.body["keys"][0]["id"].as_str().unwrap().to_owned();
    let r = f
        .app
        .post(&format!("{keys}/{id}/pause"), &f.owner.token, json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = f.get("/v1/organization/users").await;
    assert_error(&r, 401, Some("invalid_api_key"), None);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("paused")),
        "{:?}",
        r.body
    );
    f.app
        .post(&format!("{keys}/{id}/unpause"), &f.owner.token, json!({}))
        .await;
    assert_eq!(f.get("/v1/organization/users").await.status, 200);
    // Both show as updates of the key in this dialect's audit log.
    let updates = f
        .get("/v1/organization/audit_logs?limit=100&event_types%5B%5D=api_key.updated")
        .await;
    assert_eq!(updates.status, 200, "{:?}", updates.body);
    let n = updates.body["data"].as_array().map_or(0, Vec::len);
    assert_eq!(n, 2, "{:?}", updates.body);
}

#[tokio::test]
async fn authentication_is_bearer_only_and_keys_act_at_once() {
    let f = Fixture::new().await;
    let app = &f.app;
    let r = send(app, Method::GET, "/v1/organization/users", None, None, None).await;
    assert_error(&r, 401, Some("invalid_api_key"), None);
    // X-API-Key is the organization API's header, not this dialect's.
    let r = app.get("/v1/organization/users", &f.key).await;
    assert_error(&r, 401, Some("invalid_api_key"), None);
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some("ak_nope"),
        None,
        None,
    )
    .await;
    assert_error(&r, 401, Some("invalid_api_key"), None);
    // The platform key and sessions name the organization with OpenAI-Organization.
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(PLATFORM_KEY),
        None,
        None,
    )
    .await;
    assert_error(&r, 400, Some("missing_organization"), None);
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(PLATFORM_KEY),
        Some("nonsense"),
        None,
    )
    .await;
    assert_error(&r, 400, Some("invalid_organization"), None);
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(PLATFORM_KEY),
        Some(&f.org),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(&f.owner.token),
        Some(&f.org),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A member's session is refused writes; a stranger is refused altogether.
    let r = send(
        app,
        Method::POST,
        "/v1/organization/roles",
        Some(&f.ada.token),
        Some(&f.org),
        Some(json!({"role_name": "X", "permissions": ["api.groups.read"]})),
    )
    .await;
    assert_error(&r, 403, Some("insufficient_permissions"), None);
    let (other, _) = app.org("Other").await;
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(&f.key),
        Some(&other),
        None,
    )
    .await;
    assert_error(&r, 403, Some("insufficient_permissions"), None);
    // A reader key reads but does not write.
    let reader = org_key(app, &f.org, &f.owner.token, "role_member").await;
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(&reader),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(
        app,
        Method::DELETE,
        &format!("/v1/organization/users/{}", f.ada.id),
        Some(&reader),
        None,
        None,
    )
    .await;
    assert_error(&r, 403, Some("insufficient_permissions"), None);
    // A key made here works at once and stops at once.
    let made = f
        .post("/v1/organization/admin_api_keys", json!({"name": "ci"}))
        .await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    assert_eq!(made.body["object"], json!("organization.admin_api_key"));
    let value = made.body["value"].as_str().unwrap().to_owned();
    let id = made.body["id"].as_str().unwrap().to_owned();
    assert!(made.body["redacted_value"]
        .as_str()
        .unwrap()
        .ends_with("..."));
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(&value),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let gone = f
        .delete(&format!("/v1/organization/admin_api_keys/{id}"))
        .await;
    assert_eq!(
        gone.body,
        json!({"object": "organization.admin_api_key.deleted", "id": id, "deleted": true})
    );
    let r = send(
        app,
        Method::GET,
        "/v1/organization/users",
        Some(&value),
        None,
        None,
    )
    .await;
    assert_error(&r, 401, Some("invalid_api_key"), None);
    // The organization API sees the same keys.
    let listed = app
        .get(
            &format!("/v1/organizations/{}/api-keys", f.org),
            &f.owner.token,
        )
        .await;
    assert!(!listed.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["id"] == json!(id)));
}

#[tokio::test]
async fn users_list_pages_with_cursors_and_bracket_filters() {
    let f = Fixture::new().await;
    let first = f.get("/v1/organization/users?limit=2").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let b = &first.body;
    assert_eq!(b["object"], json!("list"));
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    assert_eq!(b["has_more"], json!(true));
    assert_eq!(b["first_id"], b["data"][0]["id"]);
    assert_eq!(b["last_id"], b["data"][1]["id"]);
    let u = &b["data"][0];
    assert_eq!(u["object"], json!("organization.user"));
    assert_eq!(u["id"], json!(f.owner.id));
    assert_eq!(u["role"], json!("owner"));
    assert!(
        u["added_at"].as_i64().unwrap() > 1_600_000_000
            && u["added_at"].as_i64().unwrap() < 10_000_000_000
    );
    let second = f
        .get(&format!(
            "/v1/organization/users?limit=2&after={}",
            b["last_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(second.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["has_more"], json!(false));
    assert_eq!(second.body["data"][0]["id"], json!(f.ben.id));
    assert_eq!(second.body["data"][0]["role"], json!("reader"));
    // emails[] percent-encoded as the SDK sends it, and plain emails= too.
    let r = f
        .get(&format!(
            "/v1/organization/users?emails%5B%5D={}&emails%5B%5D={}",
            f.ada.email,
            f.ben.email.to_uppercase()
        ))
        .await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [f.ada.id.as_str(), f.ben.id.as_str()]);
    let r = f
        .get(&format!("/v1/organization/users?emails={}", f.ada.email))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let empty = f
        .get("/v1/organization/users?emails[]=nobody@example.test")
        .await;
    assert_eq!(
        empty.body,
        json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false})
    );
    for bad in ["limit=0", "limit=101", "limit=abc"] {
        let r = f.get(&format!("/v1/organization/users?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.body["error"]["param"], json!("limit"), "{bad}");
    }
}

#[tokio::test]
async fn users_update_to_the_role_held_applies_the_same_rules() {
    let f = Fixture::new().await;
    let admin_key = org_key(&f.app, &f.org, &f.owner.token, "role_admin").await;
    let as_admin = |path: String, body: Value| {
        let (app, key) = (&f.app, admin_key.clone());
        async move { send(app, Method::POST, &path, Some(&key), None, Some(body)).await }
    };
    let owner_path = format!("/v1/organization/users/{}", f.owner.id);
    let rev = f.app.store.revision();
    // "Giving" Owner to an Owner is handing out Owner: only Owners may,
    // whether or not the member holds it already.
    for body in [json!({"role": "owner"}), json!({"role_id": "role_owner"})] {
        let r = as_admin(owner_path.clone(), body).await;
        assert_error(&r, 403, Some("insufficient_permissions"), None);
    }
    // A role the Admin may hand out, held already: the member unchanged.
    let r = as_admin(
        format!("/v1/organization/users/{}", f.ben.id),
        json!({"role": "reader"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["role_id"]
        .as_str()
        .unwrap()
        .starts_with("role-api-organization-reader__"));
    // An Owner repeating Owner gets the member back.
    let r = f.post(&owner_path, json!({"role": "owner"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["role_id"]
        .as_str()
        .unwrap()
        .starts_with("role-api-organization-owner__"));
    assert_eq!(f.app.store.revision(), rev, "nothing written");
}

#[tokio::test]
async fn users_update_and_delete_are_seen_by_the_organization_api() {
    let f = Fixture::new().await;
    let path = format!("/v1/organization/users/{}", f.ada.id);
    let r = f
        .post(
            &path,
            json!({"role": "owner", "developer_persona": null, "unknown_field": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["role"], json!("owner"));
    let m = f
        .app
        .get(
            &format!("/v1/organizations/{}/users/{}", f.org, f.ada.id),
            &f.owner.token,
        )
        .await;
    assert_eq!(m.body["role"]["id"], json!("role_owner"), "{:?}", m.body);
    // role_id names any organization role, in any spelling.
    let r = f.post(&path, json!({"role_id": "role_admin"})).await;
    assert_eq!(
        (r.body["role"].as_str(), r.body["role_id"].as_str()),
        (Some("owner"), Some("role_admin"))
    );
    let r = f
        .post(&path, json!({"role_id": "role-api-organization-reader"}))
        .await;
    assert_eq!(r.body["role"], json!("reader"));
    let r = f.post(&path, json!({"role": "admin"})).await;
    assert_error(&r, 400, Some("invalid_value"), Some("role"));
    let r = f.post(&path, json!({"role": 5})).await;
    assert_error(&r, 400, Some("invalid_type"), Some("role"));
    let raw = f
        .app
        .client
        .post(format!("{}{path}", f.app.base))
        .header("authorization", format!("Bearer {}", f.key))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("invalid_json"));
    // Removal in this dialect: gone from both.
    let r = send(&f.app, Method::DELETE, &path, Some(&f.key), None, None).await;
    assert_eq!(
        r.body,
        json!({"object": "organization.user.deleted", "id": f.ada.id, "deleted": true})
    );
    assert_error(&f.get(&path).await, 404, Some("not_found"), None);
    let eff = f
        .app
        .get(
            &format!(
                "/v1/organizations/{}/users/{}/effective-permissions",
                f.org, f.ada.id
            ),
            &f.owner.token,
        )
        .await;
    assert_eq!(eff.status, 404, "{:?}", eff.body);
    // Removal in the organization API: gone here too.
    let r = f
        .app
        .delete(
            &format!("/v1/organizations/{}/users/{}/delete", f.org, f.ben.id),
            &f.owner.token,
        )
        .await;
    assert_eq!(r.status, 204);
    assert_error(
        &f.get(&format!("/v1/organization/users/{}", f.ben.id)).await,
        404,
        Some("not_found"),
        None,
    );
    let all = f.get("/v1/organization/users").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 1);
    // The owner cannot be removed; unknown ids are 404 echoing the id.
    let r = f
        .delete(&format!("/v1/organization/users/{}", f.owner.id))
        .await;
    assert_error(&r, 400, Some("cannot_delete_owner"), None);
    let r = f.get("/v1/organization/users/user-abc").await;
    assert_error(&r, 404, Some("not_found"), None);
    assert_eq!(r.body["error"]["message"], json!("No such user: user-abc"));
}

#[tokio::test]
async fn roles_crud_with_nullable_updates_and_duplicates() {
    let f = Fixture::new().await;
    let list = f.get("/v1/organization/roles").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["next"], json!(null));
    let owner = &list.body["data"][0];
    assert_eq!(
        owner["id"],
        json!(format!(
            "role-api-organization-owner__api-organization__{}",
            f.org
        ))
    );
    assert_eq!(
        (
            owner["predefined_role"].as_bool(),
            owner["resource_type"].as_str()
        ),
        (Some(true), Some("api.organization"))
    );
    let made = f
        .post(
            "/v1/organization/roles",
            json!({"permissions": ["api.organization.projects.api_keys.read", "api.groups.*"],
            "role_name": "Key Reader", "description": "reads keys", "extra": true}),
        )
        .await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    assert_eq!(made.body["object"], json!("role"));
    assert_eq!(made.body["predefined_role"], json!(false));
    let id = made.body["id"].as_str().unwrap().to_owned();
    let dup = f
        .post(
            "/v1/organization/roles",
            json!({"role_name": "key reader", "permissions": ["api.groups.read"]}),
        )
        .await;
    assert_error(&dup, 409, Some("role_name_taken"), Some("role_name"));
    assert_eq!(dup.headers.get("x-should-retry").unwrap(), "false");
    let r = f
        .post(
            "/v1/organization/roles",
            json!({"role_name": "Bad", "permissions": ["no.such.key"]}),
        )
        .await;
    assert_error(&r, 400, Some("invalid_value"), Some("permissions"));
    let r = f
        .post(
            "/v1/organization/roles",
            json!({"permissions": ["api.groups.read"]}),
        )
        .await;
    assert_error(
        &r,
        400,
        Some("missing_required_parameter"),
        Some("role_name"),
    );
    let r = f
        .post(
            "/v1/organization/roles",
            json!({"role_name": "", "permissions": ["api.groups.read"]}),
        )
        .await;
    assert_error(&r, 400, Some("invalid_value"), Some("role_name"));
    // Absent leaves a field, null clears the description.
    let path = format!("/v1/organization/roles/{id}");
    let r = f.post(&path, json!({"role_name": "Key Reader 2"})).await;
    assert_eq!(
        (r.body["name"].as_str(), r.body["description"].as_str()),
        (Some("Key Reader 2"), Some("reads keys"))
    );
    let r = f
        .post(&path, json!({"description": null, "role_name": null}))
        .await;
    assert_eq!(r.body["description"], json!(null));
    assert_eq!(r.body["name"], json!("Key Reader 2"));
    // Cleared means NULL in the database, not an empty string.
    let stored: Option<String> = sqlx::query_scalar("SELECT description FROM roles WHERE id = $1")
        .bind(roster_core::RoleId::parse(&id).unwrap().uuid().to_string())
        .fetch_one(f.app.store.pool())
        .await
        .unwrap();
    assert_eq!(stored, None);
    // The organization API's update leaves a null description unchanged.
    let r = f.post(&path, json!({"description": "again"})).await;
    assert_eq!(r.body["description"], json!("again"));
    let r = f
        .app
        .patch(
            &format!("/v1/organizations/{}/roles/{id}", f.org),
            &f.owner.token,
            json!({"description": null, "name": "Key Reader 2"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["description"], json!("again"));
    let r = f.post(&path, json!({"description": null})).await;
    assert_eq!(r.body["description"], json!(null));
    let r = f
        .post(&path, json!({"permissions": ["api.groups.read"]}))
        .await;
    assert_eq!(r.body["permissions"], json!(["api.groups.read"]));
    // The organization API shows the same role.
    let same = f
        .app
        .get(
            &format!("/v1/organizations/{}/roles/{id}", f.org),
            &f.owner.token,
        )
        .await;
    assert_eq!(same.body["capabilities"], json!(["api.groups.read"]));
    // Predefined roles are immutable.
    let r = f
        .post(
            &format!("/v1/organization/roles/{}", owner["id"].as_str().unwrap()),
            json!({"role_name": "x"}),
        )
        .await;
    assert_error(&r, 400, Some("predefined_role_immutable"), Some("role_id"));
    // Pagination over next.
    let page = f.get("/v1/organization/roles?limit=2").await;
    assert_eq!(page.body["has_more"], json!(true));
    let next = page.body["next"].as_str().unwrap();
    assert_eq!(next, page.body["data"][1]["id"].as_str().unwrap());
    let rest = f.get(&format!("/v1/organization/roles?after={next}")).await;
    assert_eq!(
        rest.body["data"].as_array().unwrap().len() + 2,
        list.body["data"].as_array().unwrap().len() + 1
    );
    let zero = f.get("/v1/organization/roles?limit=0").await;
    assert_eq!(
        (zero.status, zero.body["data"].as_array().unwrap().len()),
        (200, 0)
    );
    assert_eq!(
        f.get("/v1/organization/roles?limit=1001").await.body["error"]["param"],
        json!("limit")
    );
    let r = f.delete(&path).await;
    assert_eq!(
        r.body,
        json!({"object": "role.deleted", "id": id, "deleted": true})
    );
    assert_error(&f.get(&path).await, 404, Some("not_found"), None);
    assert_error(&f.delete(&path).await, 404, Some("not_found"), None);
}

#[tokio::test]
async fn user_role_assignments_are_shared_with_the_organization_api() {
    let f = Fixture::new().await;
    let role = f
        .post("/v1/organization/roles", json!({"role_name": "Auditor", "permissions": ["view_audit_log", "api.organization.audit_logs.read"]}))
        .await;
    let rid = role.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/organization/users/{}/roles", f.ada.id);
    let r = f.post(&path, json!({"role_id": rid})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["object"], json!("user.role"));
    assert_eq!(r.body["user"]["id"], json!(f.ada.id));
    assert_eq!(r.body["role"]["id"], json!(rid));
    // Seen by the organization API's effective permissions and check.
    let eff = f
        .app
        .get(
            &format!(
                "/v1/organizations/{}/users/{}/effective-permissions",
                f.org, f.ada.id
            ),
            &f.owner.token,
        )
        .await;
    let perms = eff.body["permissions"].as_array().unwrap();
    assert!(
        perms.contains(&json!("api.organization.audit_logs.read")),
        "{perms:?}"
    );
    let check = f
        .app
        .post(
            &format!("/v1/organizations/{}/check", f.org),
            &f.owner.token,
            json!({"user_id": f.ada.id, "permission": "view_audit_log"}),
        )
        .await;
    assert_eq!(check.body["allowed"], json!(true), "{:?}", check.body);
    // Listed with the primary role; a duplicate is a 409 not to retry.
    let list = f.get(&path).await;
    let ids: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{:?}", list.body);
    assert!(ids.contains(&rid.as_str()));
    assert!(ids
        .contains(&format!("role-api-organization-reader__api-organization__{}", f.org).as_str()));
    let item = &list.body["data"][1];
    for k in [
        "id",
        "name",
        "description",
        "permissions",
        "resource_type",
        "predefined_role",
        "created_at",
        "updated_at",
        "created_by",
        "created_by_user_obj",
        "metadata",
        "assignment_sources",
    ] {
        assert!(item.get(k).is_some(), "missing {k}: {item:?}");
    }
    let dup = f.post(&path, json!({"role_id": rid})).await;
    assert_error(&dup, 409, Some("role_assignment_exists"), None);
    assert_eq!(dup.headers.get("x-should-retry").unwrap(), "false");
    let r = f.get(&format!("{path}/{rid}")).await;
    assert_eq!(r.body["id"], json!(rid));
    // Unknown ids: 404; empty role: 400; project role at organization scope: 400.
    assert_error(
        &f.post(&path, json!({"role_id": "role_nope"})).await,
        404,
        Some("not_found"),
        Some("role_id"),
    );
    assert_error(
        &f.post(&path, json!({"role_id": ""})).await,
        400,
        Some("missing_required_parameter"),
        Some("role_id"),
    );
    assert_error(
        &f.post(&path, json!({"role_id": "role-api-project-member"}))
            .await,
        400,
        Some("invalid_role_scope"),
        Some("role_id"),
    );
    assert_error(
        &f.post(
            "/v1/organization/users/usr_x/roles",
            json!({"role_id": rid}),
        )
        .await,
        404,
        Some("not_found"),
        None,
    );
    // Taken away here: gone there.
    let r = f.delete(&format!("{path}/{rid}")).await;
    assert_eq!(
        r.body,
        json!({"object": "user.role.deleted", "deleted": true})
    );
    assert_error(
        &f.get(&format!("{path}/{rid}")).await,
        404,
        Some("not_found"),
        None,
    );
    let check = f
        .app
        .post(
            &format!("/v1/organizations/{}/check", f.org),
            &f.owner.token,
            json!({"user_id": f.ada.id, "permission": "view_audit_log"}),
        )
        .await;
    assert_eq!(check.body["allowed"], json!(false));
    // Given there: listed here.
    let r = f
        .app
        .post(
            &format!("/v1/organizations/{}/roles/{rid}/members", f.org),
            &f.owner.token,
            json!({"user_id": f.ben.id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let list = f
        .get(&format!("/v1/organization/users/{}/roles", f.ben.id))
        .await;
    assert!(list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == json!(rid)));
    assert_error(
        &f.delete(&format!("{path}/{rid}")).await,
        404,
        Some("not_found"),
        None,
    );
}

#[tokio::test]
async fn invites_round_trip() {
    let f = Fixture::new().await;
    let r = f
        .post(
            "/v1/organization/invites",
            json!({"email": "new@example.test", "role": "reader"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            r.body["object"].as_str(),
            r.body["status"].as_str(),
            r.body["role"].as_str()
        ),
        (Some("organization.invite"), Some("pending"), Some("reader"))
    );
    assert_eq!(r.body["projects"], json!([]));
    assert_eq!(r.body["accepted_at"], json!(null));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let dup = f
        .post(
            "/v1/organization/invites",
            json!({"email": "NEW@example.test", "role": "owner"}),
        )
        .await;
    assert_error(&dup, 409, Some("invite_exists"), Some("email"));
    let member = f
        .post(
            "/v1/organization/invites",
            json!({"email": f.ada.email, "role": "reader"}),
        )
        .await;
    assert_error(&member, 409, Some("user_already_member"), Some("email"));
    assert_error(
        &f.post(
            "/v1/organization/invites",
            json!({"email": "x", "role": "reader"}),
        )
        .await,
        400,
        Some("invalid_value"),
        Some("email"),
    );
    assert_error(
        &f.post(
            "/v1/organization/invites",
            json!({"email": "y@example.test", "role": "boss"}),
        )
        .await,
        400,
        Some("invalid_value"),
        Some("role"),
    );
    assert_error(
        &f.post(
            "/v1/organization/invites",
            json!({"email": "y@example.test"}),
        )
        .await,
        400,
        Some("missing_required_parameter"),
        Some("role"),
    );
    let list = f.get("/v1/organization/invites").await;
    assert_eq!(list.body["data"][0]["id"], json!(id));
    assert_eq!(
        f.get(&format!("/v1/organization/invites/{id}")).await.body["email"],
        json!("new@example.test")
    );
    let r = f.delete(&format!("/v1/organization/invites/{id}")).await;
    assert_eq!(
        r.body,
        json!({"object": "organization.invite.deleted", "id": id, "deleted": true})
    );
    assert_error(
        &f.get(&format!("/v1/organization/invites/{id}")).await,
        404,
        Some("not_found"),
        None,
    );
    assert_eq!(
        f.get("/v1/organization/invites").await.body["data"],
        json!([])
    );
}

#[tokio::test]
async fn audit_logs_show_core_events_in_openai_types_with_filters() {
    let f = Fixture::new().await;
    let role = f
        .post(
            "/v1/organization/roles",
            json!({"role_name": "R", "permissions": ["api.groups.read"]}),
        )
        .await;
    let rid = role.body["id"].as_str().unwrap().to_owned();
    f.post(
        &format!("/v1/organization/users/{}/roles", f.ada.id),
        json!({"role_id": rid}),
    )
    .await;
    let all = f.get("/v1/organization/audit_logs?limit=100").await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    let data = all.body["data"].as_array().unwrap();
    assert_eq!(
        data[0]["type"],
        json!("role.assignment.created"),
        "{data:?}"
    );
    assert_eq!(
        data[0]["role.assignment.created"]["principal_id"],
        json!(f.ada.id)
    );
    assert_eq!(data[1]["type"], json!("role.created"));
    assert_eq!(data[1]["role.created"]["role_name"], json!("R"));
    assert_eq!(
        data[1]["role.created"]["permissions"],
        json!(["api.groups.read"])
    );
    assert!(data.iter().any(|e| e["type"] == json!("user.added")));
    let filtered = f
        .get("/v1/organization/audit_logs?event_types%5B%5D=role.created&event_types%5B%5D=api_key.created")
        .await;
    let types: Vec<&str> = filtered.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["role.created", "api_key.created"]);
    let by_resource = f
        .get(&format!("/v1/organization/audit_logs?resource_ids[]={rid}"))
        .await;
    assert_eq!(by_resource.body["data"].as_array().unwrap().len(), 1);
    let actor = f
        .get(&format!(
            "/v1/organization/audit_logs?actor_emails[]={}",
            f.owner.email
        ))
        .await;
    assert!(actor.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["actor"]["type"] == json!("session")));
    let future = f
        .get("/v1/organization/audit_logs?effective_at[gte]=4000000000")
        .await;
    assert_eq!(future.body["data"], json!([]));
    let past = f
        .get("/v1/organization/audit_logs?effective_at%5Blt%5D=4000000000&effective_at[gt]=1000")
        .await;
    assert_eq!(
        past.body["data"].as_array().unwrap().len(),
        data.len().min(20)
    );
    // Pages follow last_id.
    let p1 = f.get("/v1/organization/audit_logs?limit=2").await;
    let p2 = f
        .get(&format!(
            "/v1/organization/audit_logs?limit=2&after={}",
            p1.body["last_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(p2.body["data"][0]["id"], data[2]["id"]);
    assert_error(
        &f.get("/v1/organization/audit_logs?effective_at[gte]=soon")
            .await,
        400,
        Some("invalid_type"),
        Some("effective_at[gte]"),
    );
    let huge = f
        .get("/v1/organization/audit_logs?effective_at[gt]=9223372036854775807&effective_at[lte]=-9223372036854775808")
        .await;
    assert_eq!((huge.status, huge.body["data"].clone()), (200, json!([])));
}

#[tokio::test]
async fn bodiless_deletes_unknown_routes_and_method_errors_use_the_envelope() {
    let f = Fixture::new().await;
    // DELETE with a JSON content type and no body, as the SDK sends it.
    let made = f
        .post(
            "/v1/organization/roles",
            json!({"role_name": "Tmp", "permissions": ["api.groups.read"]}),
        )
        .await;
    let id = made.body["id"].as_str().unwrap();
    let r = f
        .app
        .client
        .delete(format!("{}/v1/organization/roles/{id}", f.app.base))
        .header("authorization", format!("Bearer {}", f.key))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = f.get("/v1/organization/nothing").await;
    assert_eq!(
        r.body,
        json!({"error": {"message": "Invalid URL (GET /v1/organization/nothing)",
        "type": "invalid_request_error", "param": null, "code": null}})
    );
    let r = send(
        &f.app,
        Method::PUT,
        "/v1/organization/users",
        Some(&f.key),
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 405);
    assert!(r.body["error"]["message"].is_string());
    let r = f.post("/v1/organization/roles", json!([1, 2])).await;
    assert_error(&r, 400, Some("invalid_type"), None);
}

/// The organization API's answer to "may `user` use `permission` (in `project`)?".
#[allow(clippy::unwrap_used)]
async fn allowed(f: &Fixture, user: &str, permission: &str, project: Option<&str>) -> bool {
    let r = f
        .app
        .post(
            &format!("/v1/organizations/{}/check", f.org),
            &f.owner.token,
            json!({"user_id": user, "permission": permission, "project_id": project}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["allowed"].as_bool().unwrap()
}

/// Creates a project through this dialect and returns its id.
#[allow(clippy::unwrap_used)]
async fn project(f: &Fixture, name: &str) -> String {
    let r = f
        .post("/v1/organization/projects", json!({"name": name}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn seed_001_assigns_a_project_role_to_a_project_user() {
    let f = Fixture::new().await;
    let p = project(&f, "Apollo").await;
    let role = f
        .post(&format!("/v1/projects/{p}/roles"), json!({"role_name": "API Project Key Manager",
            "permissions": ["api.organization.projects.api_keys.read", "api.organization.projects.api_keys.write"],
            "description": "Allows managing API keys for the project"}))
        .await;
    assert_eq!(role.status, 200, "{:?}", role.body);
    assert_eq!(role.body["resource_type"], json!("api.project"));
    let rid = role.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/projects/{p}/users/{}/roles", f.ada.id);
    // Not in the project yet: 400, no implicit add.
    let r = f.post(&path, json!({"role_id": rid})).await;
    assert_error(&r, 400, Some("user_not_in_project"), Some("user_id"));
    let added = f
        .post(
            &format!("/v1/organization/projects/{p}/users"),
            json!({"user_id": f.ada.id, "role": "member"}),
        )
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    assert_eq!(
        (added.body["object"].as_str(), added.body["role"].as_str()),
        (Some("organization.project.user"), Some("member"))
    );
    let r = f.post(&path, json!({"role_id": rid})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let joined = r.body["user"]["added_at"].as_i64().unwrap();
    assert_eq!(
        r.body,
        json!({
            "object": "user.role",
            "user": {"object": "organization.user", "id": f.ada.id, "name": "Ada Adams", "email": f.ada.email,
                "role": "reader", "added_at": joined},
            "role": {"object": "role", "id": rid, "name": "API Project Key Manager",
                "description": "Allows managing API keys for the project",
                "permissions": ["api.organization.projects.api_keys.read", "api.organization.projects.api_keys.write"],
                "resource_type": "api.project", "predefined_role": false}
        })
    );
    // The organization API's check sees it at the project's scope, not at the organization's.
    let perm = "api.organization.projects.api_keys.write";
    assert!(allowed(&f, &f.ada.id, perm, Some(&p)).await);
    assert!(!allowed(&f, &f.ada.id, perm, None).await);
    // Duplicate: 409 once; listed with the membership's role; retrieve and delete.
    let dup = f.post(&path, json!({"role_id": rid})).await;
    assert_error(&dup, 409, Some("role_assignment_exists"), None);
    assert_eq!(dup.headers.get("x-should-retry").unwrap(), "false");
    let list = f.get(&path).await;
    let ids: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&rid.as_str())
            && ids.contains(&format!("role-api-project-member__api-project__{p}").as_str()),
        "{ids:?}"
    );
    // Both spellings of a predefined project role are accepted.
    let r = f
        .post(&path, json!({"role_id": "role-api-project-viewer"}))
        .await;
    assert_eq!(
        r.body["role"]["id"],
        json!(format!("role-api-project-viewer__api-project__{p}"))
    );
    let r = f
        .delete(&format!("{path}/role-api-project-viewer__api-project__{p}"))
        .await;
    assert_eq!(
        r.body,
        json!({"object": "user.role.deleted", "deleted": true})
    );
    // The membership's own role goes through the membership.
    let r = f.delete(&format!("{path}/role-api-project-member")).await;
    assert_error(&r, 400, Some("membership_role"), Some("role_id"));
    // Wrong scope, unknown ids.
    assert_error(
        &f.post(&path, json!({"role_id": "role_owner"})).await,
        400,
        Some("invalid_role_scope"),
        Some("role_id"),
    );
    let other = format!(
        "role-api-project-member__api-project__{}",
        project(&f, "Other").await
    );
    assert_error(
        &f.post(&path, json!({"role_id": other})).await,
        400,
        Some("invalid_role_scope"),
        Some("role_id"),
    );
    assert_error(
        &f.post(&path, json!({"role_id": "role_nope"})).await,
        404,
        Some("not_found"),
        Some("role_id"),
    );
    assert_error(
        &f.post(
            &format!("/v1/projects/proj_nope/users/{}/roles", f.ada.id),
            json!({"role_id": rid}),
        )
        .await,
        404,
        Some("not_found"),
        None,
    );
    assert_error(
        &f.post(
            &format!("/v1/projects/{p}/users/usr_nope/roles"),
            json!({"role_id": rid}),
        )
        .await,
        404,
        Some("not_found"),
        None,
    );
    let r = f.get(&format!("{path}/{rid}")).await;
    assert_eq!(r.body["id"], json!(rid));
    // Removing the user from the project takes its project roles along.
    let r = f
        .delete(&format!("/v1/organization/projects/{p}/users/{}", f.ada.id))
        .await;
    assert_eq!(
        r.body,
        json!({"object": "organization.project.user.deleted", "id": f.ada.id, "deleted": true})
    );
    assert!(!allowed(&f, &f.ada.id, perm, Some(&p)).await);
    assert_error(
        &f.get(&format!("{path}/{rid}")).await,
        404,
        Some("not_found"),
        None,
    );
}

#[tokio::test]
async fn projects_archive_and_refuse_writes() {
    let f = Fixture::new().await;
    let p = project(&f, "Zeus").await;
    let r = f.get(&format!("/v1/organization/projects/{p}")).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["archived_at"].clone()),
        (Some("active"), json!(null))
    );
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}"),
            json!({"name": "Zeus 2", "external_key_id": "ek"}),
        )
        .await;
    assert_eq!(
        (r.body["name"].as_str(), r.body["external_key_id"].as_str()),
        (Some("Zeus 2"), Some("ek"))
    );
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}"),
            json!({"external_key_id": null}),
        )
        .await;
    assert_eq!(
        (r.body["name"].as_str(), r.body["external_key_id"].clone()),
        (Some("Zeus 2"), json!(null))
    );
    assert_error(
        &f.post(
            "/v1/organization/projects",
            json!({"name": "X", "residency": "MARS"}),
        )
        .await,
        400,
        Some("invalid_value"),
        Some("residency"),
    );
    // Archive: an empty body with a JSON content type.
    let raw = f
        .app
        .client
        .post(format!(
            "{}/v1/organization/projects/{p}/archive",
            f.app.base
        ))
        .header("authorization", format!("Bearer {}", f.key))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["status"], json!("archived"));
    assert!(body["archived_at"].is_i64());
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}/users"),
            json!({"user_id": f.ada.id, "role": "member"}),
        )
        .await;
    assert_error(&r, 400, Some("project_archived"), None);
    let listed = f.get("/v1/organization/projects").await;
    assert!(!listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == json!(p)));
    let listed = f
        .get("/v1/organization/projects?include_archived=true")
        .await;
    assert!(listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == json!(p)));
    assert_error(
        &f.get("/v1/organization/projects?include_archived=maybe")
            .await,
        400,
        Some("invalid_type"),
        Some("include_archived"),
    );
}

#[tokio::test]
async fn groups_members_and_roles_reach_the_permission_model() {
    let f = Fixture::new().await;
    let g = f
        .post("/v1/organization/groups", json!({"name": "Readers"}))
        .await;
    assert_eq!(g.status, 200, "{:?}", g.body);
    assert_eq!(
        (
            g.body["group_type"].as_str(),
            g.body["is_scim_managed"].as_bool()
        ),
        (Some("group"), Some(false))
    );
    let gid = g.body["id"].as_str().unwrap().to_owned();
    assert_error(
        &f.post("/v1/organization/groups", json!({"name": "readers"}))
            .await,
        409,
        Some("group_name_taken"),
        Some("name"),
    );
    let r = f
        .post(
            &format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": f.ben.id}),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"object": "group.user", "user_id": f.ben.id, "group_id": gid})
    );
    assert_error(
        &f.post(
            &format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": f.ben.id}),
        )
        .await,
        409,
        Some("group_user_exists"),
        Some("user_id"),
    );
    let role = f
        .post(
            "/v1/organization/roles",
            json!({"role_name": "Audit", "permissions": ["view_audit_log"]}),
        )
        .await;
    let rid = role.body["id"].as_str().unwrap().to_owned();
    let r = f
        .post(
            &format!("/v1/organization/groups/{gid}/roles"),
            json!({"role_id": rid}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (
            r.body["object"].as_str(),
            r.body["group"]["scim_managed"].as_bool()
        ),
        (Some("group.role"), Some(false))
    );
    let check = f
        .app
        .post(
            &format!("/v1/organizations/{}/check", f.org),
            &f.owner.token,
            json!({"user_id": f.ben.id, "permission": "view_audit_log"}),
        )
        .await;
    assert_eq!(check.body["allowed"], json!(true), "{:?}", check.body);
    let r = f.get(&format!("/v1/organization/groups/{gid}/roles")).await;
    assert_eq!(r.body["data"][0]["id"], json!(rid));
    // Group users list defaults to newest first.
    f.post(
        &format!("/v1/organization/groups/{gid}/users"),
        json!({"user_id": f.ada.id}),
    )
    .await;
    let users = f.get(&format!("/v1/organization/groups/{gid}/users")).await;
    let ids: Vec<&str> = users.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [f.ben.id.as_str(), f.ada.id.as_str()]);
    let page = f
        .get(&format!(
            "/v1/organization/groups/{gid}/users?order=asc&limit=1"
        ))
        .await;
    assert_eq!(
        (page.body["has_more"].as_bool(), page.body["next"].as_str()),
        (Some(true), Some(f.ada.id.as_str()))
    );
    let u = f
        .get(&format!("/v1/organization/groups/{gid}/users/{}", f.ben.id))
        .await;
    assert_eq!(
        (u.body["user_type"].as_str(), u.body["name"].as_str()),
        (Some("user"), Some("Ben Baker"))
    );
    // Attach to a project and assign a project role to the group.
    let p = project(&f, "Hermes").await;
    let r = f
        .post(
            &format!("/v1/projects/{p}/groups/{gid}/roles"),
            json!({"role_id": "role-api-project-viewer"}),
        )
        .await;
    assert_error(&r, 400, Some("group_not_in_project"), Some("group_id"));
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}/groups"),
            json!({"group_id": gid, "role": "role-api-project-member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["object"].as_str(), r.body["group_type"].as_str()),
        (Some("project.group"), Some("group"))
    );
    let r = f
        .post(
            &format!("/v1/projects/{p}/groups/{gid}/roles"),
            json!({"role_id": "role-api-project-owner"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(allowed(&f, &f.ben.id, "api.project.anything", Some(&p)).await);
    let r = f
        .delete(&format!(
            "/v1/projects/{p}/groups/{gid}/roles/role-api-project-owner"
        ))
        .await;
    assert_eq!(
        r.body,
        json!({"object": "group.role.deleted", "deleted": true})
    );
    let pg = f
        .get(&format!(
            "/v1/organization/projects/{p}/groups/{gid}?group_type=group"
        ))
        .await;
    assert_eq!(pg.body["group_name"], json!("Readers"));
    let r = f
        .delete(&format!("/v1/organization/projects/{p}/groups/{gid}"))
        .await;
    assert_eq!(
        r.body,
        json!({"object": "project.group.deleted", "deleted": true})
    );
    // Removing a user from the group removes what the group gave.
    let r = f
        .delete(&format!("/v1/organization/groups/{gid}/users/{}", f.ben.id))
        .await;
    assert_eq!(
        r.body,
        json!({"object": "group.user.deleted", "deleted": true})
    );
    let check = f
        .app
        .post(
            &format!("/v1/organizations/{}/check", f.org),
            &f.owner.token,
            json!({"user_id": f.ben.id, "permission": "view_audit_log"}),
        )
        .await;
    assert_eq!(check.body["allowed"], json!(false));
    let r = f
        .post(
            &format!("/v1/organization/groups/{gid}"),
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(r.body["name"], json!("Renamed"));
    assert!(r.body.get("group_type").is_none());
    let r = f.delete(&format!("/v1/organization/groups/{gid}")).await;
    assert_eq!(
        r.body,
        json!({"object": "group.deleted", "id": gid, "deleted": true})
    );
    assert_error(
        &f.get(&format!("/v1/organization/groups/{gid}")).await,
        404,
        Some("not_found"),
        None,
    );
}

#[tokio::test]
async fn service_accounts_and_project_keys() {
    let f = Fixture::new().await;
    let p = project(&f, "Keys").await;
    let base = format!("/v1/organization/projects/{p}/service_accounts");
    let r = f.post(&base, json!({"name": "bot"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["role"], json!("member"));
    assert!(r.body["api_key"]["value"]
        .as_str()
        .unwrap()
        .starts_with("sk-svcacct-"));
    let sa = r.body["id"].as_str().unwrap().to_owned();
    assert!(sa.starts_with("svc_acct_"));
    let only = f
        .post(
            &base,
            json!({"name": "bare", "create_service_account_only": true}),
        )
        .await;
    assert_eq!(only.body["api_key"], json!(null));
    let list = f.get(&format!("{base}?limit=1")).await;
    assert_eq!(
        (
            list.body["has_more"].as_bool(),
            list.body["last_id"].as_str()
        ),
        (Some(true), Some(sa.as_str()))
    );
    let r = f
        .post(&format!("{base}/{sa}"), json!({"role": "owner"}))
        .await;
    assert_eq!(r.body["role"], json!("owner"));
    assert_error(
        &f.post(&format!("{base}/{sa}"), json!({"role": "boss"}))
            .await,
        400,
        Some("invalid_value"),
        Some("role"),
    );
    let k = f
        .post(
            &format!("{base}/{sa}/api_keys"),
            json!({"name": "second", "scopes": ["api.all.read"]}),
        )
        .await;
    assert_eq!(
        k.body["object"],
        json!("organization.project.service_account.api_key")
    );
    let kid = k.body["id"].as_str().unwrap().to_owned();
    let keys = f
        .get(&format!("/v1/organization/projects/{p}/api_keys"))
        .await;
    assert_eq!(keys.body["data"].as_array().unwrap().len(), 2);
    let one = f
        .get(&format!("/v1/organization/projects/{p}/api_keys/{kid}"))
        .await;
    assert_eq!(
        (
            one.body["owner"]["type"].as_str(),
            one.body["owner"]["service_account"]["id"].as_str()
        ),
        (Some("service_account"), Some(sa.as_str()))
    );
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}/api_keys/{kid}"),
            json!({"scopes": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = f
        .delete(&format!("/v1/organization/projects/{p}/api_keys/{kid}"))
        .await;
    assert_eq!(
        r.body,
        json!({"object": "organization.project.api_key.deleted", "id": kid, "deleted": true})
    );
    let r = f.delete(&format!("{base}/{sa}")).await;
    assert_eq!(
        r.body,
        json!({"object": "organization.project.service_account.deleted", "id": sa, "deleted": true})
    );
    assert_eq!(
        f.get(&format!("/v1/organization/projects/{p}/api_keys"))
            .await
            .body["data"],
        json!([])
    );
    assert_error(
        &f.get(&format!("{base}/{sa}")).await,
        404,
        Some("not_found"),
        None,
    );
    let audit = f
        .get("/v1/organization/audit_logs?event_types[]=service_account.created")
        .await;
    assert_eq!(audit.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(audit.body["data"][0]["project"]["id"], json!(p));
}

#[tokio::test]
async fn no_route_answers_500_to_unknown_ids_or_odd_bodies() {
    let f = Fixture::new().await;
    let p = project(&f, "Odd").await;
    let doc = serde_json::to_value(roster_http::openapi()).unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if roster_http::app::Dialect::of(path) != roster_http::app::Dialect::Admin {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Unknown ids everywhere, then a real project with unknown other ids.
            for project_id in ["proj_unknown", p.as_str()] {
                let url = path
                    .replace("{project_id}", project_id)
                    .split('/')
                    .map(|s| if s.starts_with('{') { "x_unknown" } else { s })
                    .collect::<Vec<_>>()
                    .join("/");
                for query in ["", "?limit=5&after=zz"] {
                    for body in [
                        None,
                        Some(json!({})),
                        Some(json!({"role_id": 5, "name": null, "user_id": ""})),
                    ] {
                        let r = send(
                            &f.app,
                            m.clone(),
                            &format!("{url}{query}"),
                            Some(&f.key),
                            None,
                            body,
                        )
                        .await;
                        assert!(
                            r.status < 500,
                            "{method} {url} -> {} {:?}",
                            r.status,
                            r.body
                        );
                        if r.status >= 400 {
                            assert!(
                                r.body["error"]["message"].is_string(),
                                "{method} {url}: {:?}",
                                r.body
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 72 * 12, "{checked}");
}

/// Gives an invitation a key the test knows (the admin API never shows one).
#[allow(clippy::unwrap_used)]
async fn known_key(f: &Fixture, invite: &str, key: &str) {
    let done = sqlx::query("UPDATE invitations SET token_hash = $1 WHERE id = $2")
        .bind(roster_store::auth::hash_secret(key))
        .bind(
            roster_core::InvitationId::parse(invite)
                .unwrap()
                .uuid()
                .to_string(),
        )
        .execute(f.app.store.pool())
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// A project's users as (user id, role) pairs.
#[allow(clippy::unwrap_used)]
async fn project_users(f: &Fixture, p: &str) -> Vec<(String, String)> {
    let r = f.get(&format!("/v1/organization/projects/{p}/users")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[allow(clippy::unwrap_used)]
async fn invitation_project_rows(f: &Fixture) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM invitation_projects")
        .fetch_one(f.app.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn invites_with_projects_join_them_on_acceptance() {
    let f = Fixture::new().await;
    let p1 = project(&f, "One").await;
    let p2 = project(&f, "Two").await;
    let old = project(&f, "Old").await;
    let r = f
        .post(
            &format!("/v1/organization/projects/{old}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let custom = f
        .post(
            &format!("/v1/projects/{p2}/roles"),
            json!({"role_name": "Deployer", "permissions": ["api.project.read"]}),
        )
        .await;
    assert_eq!(custom.status, 200, "{:?}", custom.body);
    let cr = custom.body["id"].as_str().unwrap().to_owned();

    // Created with two projects; shown in project-id order, also on reads.
    let r = f
        .post(
            "/v1/organization/invites",
            json!({"email": "new@example.test", "role": "reader",
                "projects": [{"id": p2, "role": "member"}, {"id": p1, "role": "owner"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let want = json!([{"id": p1, "role": "owner"}, {"id": p2, "role": "member"}]);
    assert_eq!(r.body["projects"], want);
    let inv = r.body["id"].as_str().unwrap().to_owned();
    let got = f.get(&format!("/v1/organization/invites/{inv}")).await;
    assert_eq!(got.body["projects"], want);
    let list = f.get("/v1/organization/invites").await;
    assert_eq!(list.body["data"][0]["projects"], want);
    assert_eq!(invitation_project_rows(&f).await, 2);

    // Refusals, all-or-nothing: nothing of a refused invite is written.
    let bad = |projects: Value| {
        f.post(
            "/v1/organization/invites",
            json!({"email": "no@example.test", "role": "reader", "projects": projects}),
        )
    };
    let none = format!("proj_{}", "0".repeat(26));
    assert_error(
        &bad(json!([{"id": p1, "role": "member"}, {"id": old, "role": "member"}])).await,
        400,
        Some("project_archived"),
        Some("projects"),
    );
    assert_error(
        &bad(json!([{"id": none, "role": "member"}])).await,
        404,
        Some("not_found"),
        Some("projects"),
    );
    assert_error(
        &bad(json!([{"id": "nope", "role": "member"}])).await,
        404,
        Some("not_found"),
        Some("projects"),
    );
    assert_error(
        &bad(json!([{"id": p1, "role": "member"}, {"id": p1, "role": "owner"}])).await,
        400,
        Some("invalid_value"),
        Some("projects"),
    );
    // OpenAI's two words only (the SDK's Invite model takes no other).
    for role in ["viewer", "reader", cr.as_str()] {
        assert_error(
            &bad(json!([{"id": p2, "role": role}])).await,
            400,
            Some("invalid_value"),
            Some("projects"),
        );
    }
    assert_error(
        &bad(json!([{"id": p1}])).await,
        400,
        Some("missing_required_parameter"),
        Some("projects[0].role"),
    );
    let emails: Vec<Value> = f.get("/v1/organization/invites").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].clone())
        .collect();
    assert_eq!(emails, [json!("new@example.test")]);
    assert_eq!(invitation_project_rows(&f).await, 2);

    // Naming projects needs the right to manage them; plain invites do not.
    let inviter = f
        .post(
            "/v1/organization/roles",
            json!({"role_name": "Inviter", "permissions": ["invite_users"]}),
        )
        .await;
    assert_eq!(inviter.status, 200, "{:?}", inviter.body);
    let ikey = org_key(
        &f.app,
        &f.org,
        &f.owner.token,
        inviter.body["id"].as_str().unwrap(),
    )
    .await;
    let as_inviter = |body: Value| {
        send(
            &f.app,
            Method::POST,
            "/v1/organization/invites",
            Some(&ikey),
            None,
            Some(body),
        )
    };
    let r = as_inviter(json!({"email": "x@example.test", "role": "reader",
        "projects": [{"id": p1, "role": "member"}]}))
    .await;
    assert_error(&r, 403, Some("insufficient_permissions"), None);
    let r = as_inviter(json!({"email": "x@example.test", "role": "reader", "projects": []})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["projects"], json!([]));
    // An omitted list names no project.
    let r = as_inviter(json!({"email": "y@example.test", "role": "reader"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["projects"], json!([]));

    // Acceptance by a new user (complete): both projects, with their roles.
    known_key(&f, &inv, "ik_known_new").await;
    let c = f
        .app
        .call(
            Method::POST,
            "/v1/invitations/complete",
            None,
            Some(json!({"email_key": "ik_known_new", "full_name": "New Person", "password": "new password 1"})),
        )
        .await;
    assert_eq!(c.status, 200, "{:?}", c.body);
    let new_user = c.body["user_id"].as_str().unwrap().to_owned();
    assert!(project_users(&f, &p1)
        .await
        .contains(&(new_user.clone(), "owner".to_owned())));
    assert!(project_users(&f, &p2)
        .await
        .contains(&(new_user.clone(), "member".to_owned())));
    let got = f.get(&format!("/v1/organization/invites/{inv}")).await;
    assert_eq!(got.body["status"], json!("accepted"));
    assert_eq!(got.body["projects"], want);

    // Acceptance by an existing user (accept): a project they were added to
    // while invited keeps its membership; a project archived since is skipped.
    let carl = f.app.user("Carl Clark").await;
    let r = f
        .post(
            "/v1/organization/invites",
            json!({"email": carl.email, "role": "reader",
                "projects": [{"id": p1, "role": "member"}, {"id": p2, "role": "owner"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let cinv = r.body["id"].as_str().unwrap().to_owned();
    let r = f
        .post(
            &format!("/v1/organization/projects/{p1}/users"),
            json!({"user_id": carl.id, "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = f
        .post(
            &format!("/v1/organization/projects/{p2}/archive"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    known_key(&f, &cinv, "ik_known_carl").await;
    let a = f
        .app
        .call(
            Method::POST,
            "/v1/invitations/accept?email_key=ik_known_carl",
            Some(&carl.token),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert!(project_users(&f, &p1)
        .await
        .contains(&(carl.id.clone(), "viewer".to_owned())));
    assert!(!project_users(&f, &p2)
        .await
        .iter()
        .any(|(u, _)| *u == carl.id));
    let u = f.get(&format!("/v1/organization/users/{}", carl.id)).await;
    assert_eq!(u.status, 200, "{:?}", u.body);
}

/// (role id, assignment_sources) of a role-assignment list.
#[allow(clippy::unwrap_used)]
fn sources(r: &Res) -> Vec<(String, Value)> {
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["assignment_sources"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn user_role_lists_show_roles_reached_through_groups_once() {
    let f = &Fixture::new().await;
    let group = |name: &'static str| async move {
        let r = f
            .post("/v1/organization/groups", json!({"name": name}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let g = r.body["id"].as_str().unwrap().to_owned();
        let r = f
            .post(
                &format!("/v1/organization/groups/{g}/users"),
                json!({"user_id": f.ada.id}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        g
    };
    let g1 = group("One").await;
    let g2 = group("Two").await;
    let role = |name: &'static str| async move {
        let r = f
            .post(
                "/v1/organization/roles",
                json!({"role_name": name, "permissions": ["api.groups.read"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    };
    let both = role("Both groups").await;
    let mixed = role("Direct and group").await;
    for (g, r) in [(&g1, &both), (&g2, &both), (&g1, &mixed)] {
        let res = f
            .post(
                &format!("/v1/organization/groups/{g}/roles"),
                json!({"role_id": r}),
            )
            .await;
        assert_eq!(res.status, 200, "{:?}", res.body);
    }
    let res = f
        .post(
            &format!("/v1/organization/users/{}/roles", f.ada.id),
            json!({"role_id": mixed}),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    let group_src = |g: &str| json!({"principal_id": g, "principal_type": "group"});
    let mut want = vec![
        (
            format!("role-api-organization-reader__api-organization__{}", f.org),
            json!(null),
        ),
        (both.clone(), json!([group_src(&g1), group_src(&g2)])),
        (mixed.clone(), json!([group_src(&g1)])),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let mut got = sources(
        &f.get(&format!("/v1/organization/users/{}/roles", f.ada.id))
            .await,
    );
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    // Ben is in no group: his list is unchanged.
    assert_eq!(
        sources(
            &f.get(&format!("/v1/organization/users/{}/roles", f.ben.id))
                .await
        )
        .len(),
        1
    );
    // Retrieving and deleting stay about direct assignments.
    assert_error(
        &f.get(&format!("/v1/organization/users/{}/roles/{both}", f.ada.id))
            .await,
        404,
        Some("not_found"),
        None,
    );
    let r = f
        .get(&format!(
            "/v1/organization/users/{}/roles/{mixed}",
            f.ada.id
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["assignment_sources"], json!(null));

    // Project scope: the membership's role, and the attached group's role.
    let p = project(f, "Apollo").await;
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}/users"),
            json!({"user_id": f.ada.id, "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}/groups"),
            json!({"group_id": g2, "role": "role-api-project-viewer"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut got = sources(
        &f.get(&format!("/v1/projects/{p}/users/{}/roles", f.ada.id))
            .await,
    );
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            (
                format!("role-api-project-member__api-project__{p}"),
                json!(null)
            ),
            (
                format!("role-api-project-viewer__api-project__{p}"),
                json!([group_src(&g2)])
            ),
        ]
    );
}

#[tokio::test]
async fn group_users_are_added_and_removed_only_by_who_may_give_the_groups_roles() {
    let f = Fixture::new().await;
    let app = &f.app;
    // A group manager (a session of a member whose role holds
    // api.groups.write only) and a group holding Admin.
    let gm = member_holding(
        app,
        &f.org,
        &f.owner.token,
        "Group Manager",
        &["api.groups.write"],
        "Gus Manager",
    )
    .await;
    let gid = f.admins_group().await;
    let users = format!("/v1/organization/groups/{gid}/users");
    let user_ids = |r: &Res| -> Vec<String> {
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let as_gm = |method: Method, path: String, body: Option<Value>| {
        let (token, org) = (gm.token.clone(), f.org.clone());
        async move { send(app, method, &path, Some(&token), Some(&org), body).await }
    };

    // Adding Ada (or themself) would hand out Admin: refused, nothing written.
    let rev = app.store.revision();
    for user in [&f.ada.id, &gm.id] {
        let r = as_gm(Method::POST, users.clone(), Some(json!({"user_id": user}))).await;
        assert_error(&r, 403, Some("insufficient_permissions"), None);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("override_all_permissions"),
            "{:?}",
            r.body
        );
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(user_ids(&f.get(&users).await).is_empty());
    assert!(!allowed(&f, &f.ada.id, "view_audit_log", None).await);
    assert!(!allowed(&f, &gm.id, "view_audit_log", None).await);

    // The Owner's key may; taking Admin away again is refused to the group
    // manager as well.
    let r = f.post(&users, json!({"user_id": f.ada.id})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(allowed(&f, &f.ada.id, "view_audit_log", None).await);
    let rev = app.store.revision();
    let r = as_gm(Method::DELETE, format!("{users}/{}", f.ada.id), None).await;
    assert_error(&r, 403, Some("insufficient_permissions"), None);
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert_eq!(user_ids(&f.get(&users).await), vec![f.ada.id.clone()]);
    assert!(allowed(&f, &f.ada.id, "view_audit_log", None).await);
    let r = f.delete(&format!("{users}/{}", f.ada.id)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!allowed(&f, &f.ada.id, "view_audit_log", None).await);
}

#[tokio::test]
async fn deleting_a_group_or_a_project_user_or_group_needs_who_may_take_the_roles_away() {
    let f = Fixture::new().await;
    let app = &f.app;
    // A manager (a session of a member whose role holds api.groups.write and
    // api.organization.projects.write only), a group holding Admin with Ada
    // in it, and a project where Ben and the group are Project Owners.
    let m = member_holding(
        app,
        &f.org,
        &f.owner.token,
        "Manager",
        &["api.groups.write", "api.organization.projects.write"],
        "Max Manager",
    )
    .await;
    let gid = f.admins_group().await;
    let r = f
        .post(
            &format!("/v1/organization/groups/{gid}/users"),
            json!({"user_id": f.ada.id}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let p = project(&f, "Apollo").await;
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}/users"),
            json!({"user_id": f.ben.id, "role": "owner"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = f
        .post(
            &format!("/v1/organization/projects/{p}/groups"),
            json!({"group_id": gid, "role": "role-api-project-owner"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let paths = [
        format!("/v1/organization/projects/{p}/users/{}", f.ben.id),
        format!("/v1/organization/projects/{p}/groups/{gid}"),
        format!("/v1/organization/groups/{gid}"),
    ];

    // Each takes roles away the manager may not: refused, nothing written.
    let rev = app.store.revision();
    for path in &paths {
        let r = send(
            app,
            Method::DELETE,
            path,
            Some(&m.token),
            Some(&f.org),
            None,
        )
        .await;
        assert_error(&r, 403, Some("insufficient_permissions"), None);
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    for path in &paths {
        let r = f.get(path).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }
    assert!(allowed(&f, &f.ada.id, "view_audit_log", None).await);

    // The Owner's key may take them away.
    for path in &paths {
        let r = f.delete(path).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(f.get(path).await.status, 404, "{path}");
    }
    assert!(!allowed(&f, &f.ada.id, "view_audit_log", None).await);
}

#[tokio::test]
async fn a_nul_character_in_input_is_refused() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let r = send(
        &app,
        Method::GET,
        "/v1/organization/users?after=a%00b",
        Some(PLATFORM_KEY),
        Some(&org),
        None,
    )
    .await;
    assert_error(&r, 400, Some("invalid_value"), None);
    let r = send(
        &app,
        Method::POST,
        "/v1/organization/invites",
        Some(PLATFORM_KEY),
        Some(&org),
        Some(json!({"email": "nul\u{0}@example.test", "role": "reader"})),
    )
    .await;
    assert_error(&r, 400, Some("invalid_value"), None);
}
