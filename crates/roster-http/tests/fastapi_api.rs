// The FastAPI-style dialect (LlamaCloud's `/api/v1/...`): the checks of the
// spec's §5.1, Roster's decisions of §7, the session cookie and its
// cross-site protection, and consistency with the organization API.

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// A request with `Authorization: Bearer <token>` (None: no credential).
#[allow(clippy::unwrap_used)]
async fn fa(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Res {
    let mut req = app.client.request(method, format!("{}{}", app.base, path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    into_res(req.send().await.unwrap()).await
}

/// A request with a raw body and extra headers.
#[allow(clippy::unwrap_used)]
async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Res {
    let mut req = app.client.request(method, format!("{}{}", app.base, path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    into_res(req.send().await.unwrap()).await
}

/// The canonical UUID of an organization API id (`org_…`, `usr_…`, `role_…`).
#[allow(clippy::unwrap_used)]
fn uuid_of(id: &str) -> String {
    if let Ok(o) = roster_core::OrgId::parse(id) {
        return o.uuid().to_string();
    }
    if let Ok(r) = roster_core::RoleId::parse(id) {
        return r.uuid().to_string();
    }
    panic!("not an org or role id: {id}")
}

#[allow(clippy::unwrap_used)]
fn is_uuid(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| uuid::Uuid::parse_str(s).ok().map(|u| u.to_string() == s))
        .unwrap_or(false)
}

#[allow(clippy::unwrap_used)]
fn is_time_or_null(v: &Value) -> bool {
    v.is_null()
        || v.as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

#[allow(clippy::unwrap_used)]
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[allow(clippy::unwrap_used)]
fn sorted(mut v: Vec<&str>) -> Vec<String> {
    v.sort();
    v.into_iter().map(str::to_owned).collect()
}

/// Asserts a 422 whose detail lists exactly these (loc, type) pairs.
#[allow(clippy::unwrap_used)]
fn assert_422(r: &Res, want: &[(Value, &str)]) {
    assert_eq!(r.status, 422, "{:?}", r.body);
    let detail = r.body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("detail is a list: {:?}", r.body));
    let got: Vec<(Value, String)> = detail
        .iter()
        .map(|d| {
            assert!(d["msg"].is_string(), "msg: {d:?}");
            (d["loc"].clone(), d["type"].as_str().unwrap().to_owned())
        })
        .collect();
    let want: Vec<(Value, String)> = want
        .iter()
        .map(|(l, t)| (l.clone(), (*t).to_owned()))
        .collect();
    assert_eq!(got, want, "{:?}", r.body);
}

/// Asserts `{"detail": "<string>"}` with this status, never the unknown-route body.
#[allow(clippy::unwrap_used)]
fn assert_detail(r: &Res, status: u16) -> String {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(keys(&r.body), vec!["detail"], "{:?}", r.body);
    let d = r.body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("string detail: {:?}", r.body));
    assert_ne!(d, "Not Found", "the unknown-route body is reserved");
    d.to_owned()
}

/// An organization created through this dialect by a new user: (org uuid, owner).
#[allow(clippy::unwrap_used)]
async fn fa_org(app: &TestApp, name: &str) -> (String, TestUser) {
    let owner = app.user(&format!("{name} Owner")).await;
    let r = fa(
        app,
        Method::POST,
        "/api/v1/organizations",
        Some(&owner.token),
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (r.body["id"].as_str().unwrap().to_owned(), owner)
}

/// The built-in role named `name`, as this dialect lists it.
#[allow(clippy::unwrap_used)]
async fn role(app: &TestApp, org: &str, token: &str, name: &str) -> Value {
    let r = fa(
        app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/roles"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == json!(name))
        .cloned()
        .unwrap_or_else(|| panic!("no role {name}"))
}

/// Adds an existing user as a member (by user id) with a role uuid (None: Member).
#[allow(clippy::unwrap_used)]
async fn add(app: &TestApp, org: &str, token: &str, user: &TestUser, role_id: Option<&str>) {
    let r = fa(
        app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(token),
        Some(json!([{"user_id": user.id, "project_ids": null, "role_id": role_id}])),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[allow(clippy::unwrap_used)]
async fn assign(app: &TestApp, org: &str, token: &str, user: &str, role_id: &str) -> Res {
    fa(
        app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(token),
        Some(json!({"user_id": user, "organization_id": org, "role_id": role_id})),
    )
    .await
}

#[allow(clippy::unwrap_used)]
async fn revision(app: &TestApp) -> i64 {
    app.get("/healthz", PLATFORM_KEY).await.body["revision"]
        .as_i64()
        .unwrap()
}

/// The organization API's id of an organization created here.
#[allow(clippy::unwrap_used)]
fn org_typeid(uuid: &str) -> String {
    roster_core::OrgId(uuid::Uuid::parse_str(uuid).unwrap()).to_string()
}

// ---- §5.1 checks

#[tokio::test]
async fn assign_role_answers_the_seed_shape_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Seed").await;
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let admin = role(&app, &org, &owner.token, "Admin").await;
    let admin_id = admin["id"].as_str().unwrap();

    let r = assign(&app, &org, &owner.token, &ada.id, admin_id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let a = &r.body;
    assert_eq!(
        keys(a),
        sorted(vec![
            "id",
            "created_at",
            "updated_at",
            "user_id",
            "organization_id",
            "role_id",
            "role"
        ])
    );
    assert_eq!(
        keys(&a["role"]),
        sorted(vec![
            "id",
            "created_at",
            "updated_at",
            "name",
            "organization_id",
            "permissions"
        ])
    );
    assert!(
        is_uuid(&a["id"])
            && is_uuid(&a["organization_id"])
            && is_uuid(&a["role_id"])
            && is_uuid(&a["role"]["id"])
    );
    assert!(is_time_or_null(&a["created_at"]) && is_time_or_null(&a["updated_at"]));
    assert_eq!(
        (a["user_id"].as_str(), a["organization_id"].as_str()),
        (Some(ada.id.as_str()), Some(org.as_str()))
    );
    assert_eq!(a["role_id"], admin["id"]);
    assert_eq!(a["role"]["name"], json!("Admin"));
    assert_eq!(
        a["role"]["organization_id"],
        Value::Null,
        "built-in roles have no organization"
    );
    let perms = a["role"]["permissions"].as_array().unwrap();
    assert!(!perms.is_empty());
    for p in perms {
        assert_eq!(
            keys(p),
            sorted(vec![
                "id",
                "created_at",
                "updated_at",
                "name",
                "description",
                "access"
            ])
        );
        assert!(is_uuid(&p["id"]) && p["access"].is_boolean() && is_time_or_null(&p["created_at"]));
        assert!(p["description"].is_string() || p["description"].is_null());
    }

    // Again: 200, the same assignment, still one organization role.
    let rev = revision(&app).await;
    let again = assign(&app, &org, &owner.token, &ada.id, admin_id).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["id"], a["id"], "the same assignment");
    assert_eq!(revision(&app).await, rev, "repeating it writes nothing");
    let users = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        None,
    )
    .await;
    let entry = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == json!(ada.id))
        .unwrap()
        .clone();
    assert_eq!(entry["roles"].as_array().unwrap().len(), 1);
    assert_eq!(entry["roles"][0]["id"], a["id"]);
    let own = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(&ada.token),
        None,
    )
    .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["id"], a["id"], "the user's own role");

    // Assigning another role replaces it.
    let member = role(&app, &org, &owner.token, "Member").await;
    let back = assign(
        &app,
        &org,
        &owner.token,
        &ada.id,
        member["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(back.status, 200);
    assert_eq!(back.body["role"]["name"], json!("Member"));
    let users = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        None,
    )
    .await;
    let entry = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == json!(ada.id))
        .unwrap()
        .clone();
    let names: Vec<&Value> = entry["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["role"]["name"])
        .collect();
    assert_eq!(
        names,
        vec![&json!("Member")],
        "one organization role per user"
    );
}

#[tokio::test]
async fn missing_and_malformed_fields_are_fastapi_422s() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Bad Input").await;
    let path = format!("/api/v1/organizations/{org}/users/roles");
    let rev = revision(&app).await;

    let r = fa(
        &app,
        Method::PUT,
        &path,
        Some(&owner.token),
        Some(json!({})),
    )
    .await;
    assert_422(
        &r,
        &[
            (json!(["body", "user_id"]), "missing"),
            (json!(["body", "organization_id"]), "missing"),
            (json!(["body", "role_id"]), "missing"),
        ],
    );
    assert_eq!(r.body["detail"][0]["msg"], json!("Field required"));
    for (field, body) in [
        ("user_id", json!({"organization_id": org, "role_id": org})),
        (
            "role_id",
            json!({"user_id": owner.id, "organization_id": org}),
        ),
        (
            "organization_id",
            json!({"user_id": owner.id, "role_id": org}),
        ),
    ] {
        let r = fa(&app, Method::PUT, &path, Some(&owner.token), Some(body)).await;
        assert_422(&r, &[(json!(["body", field]), "missing")]);
    }
    let r = fa(
        &app,
        Method::PUT,
        &path,
        Some(&owner.token),
        Some(json!({"user_id": owner.id, "organization_id": org, "role_id": "abc"})),
    )
    .await;
    assert_422(&r, &[(json!(["body", "role_id"]), "uuid_parsing")]);
    assert!(r.body["detail"][0]["msg"]
        .as_str()
        .unwrap()
        .starts_with("Input should be a valid UUID"));
    let r = fa(
        &app,
        Method::PUT,
        "/api/v1/organizations/abc/users/roles",
        Some(&owner.token),
        Some(json!({})),
    )
    .await;
    assert_422(&r, &[(json!(["path", "organization_id"]), "uuid_parsing")]);
    let r = fa(
        &app,
        Method::PUT,
        &path,
        Some(&owner.token),
        Some(json!({"user_id": 7, "organization_id": 8, "role_id": null})),
    )
    .await;
    assert_422(
        &r,
        &[
            (json!(["body", "user_id"]), "string_type"),
            (json!(["body", "organization_id"]), "uuid_type"),
            (json!(["body", "role_id"]), "uuid_type"),
        ],
    );
    // Not JSON, not an object, no body at all.
    let auth = format!("Bearer {}", owner.token);
    let r = raw(
        &app,
        Method::PUT,
        &path,
        &[("authorization", &auth)],
        Some("{\"user_id\": "),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["type"], json!("json_invalid"));
    assert_eq!(r.body["detail"][0]["loc"][0], json!("body"));
    assert!(
        r.body["detail"][0]["loc"][1].is_u64(),
        "loc carries the offset: {:?}",
        r.body
    );
    let r = fa(
        &app,
        Method::PUT,
        &path,
        Some(&owner.token),
        Some(json!([1, 2])),
    )
    .await;
    assert_422(&r, &[(json!(["body"]), "model_attributes_type")]);
    let r = raw(&app, Method::PUT, &path, &[("authorization", &auth)], None).await;
    assert_422(&r, &[(json!(["body"]), "missing")]);
    // Names: too short, too long.
    let r = fa(
        &app,
        Method::POST,
        "/api/v1/organizations",
        Some(&owner.token),
        Some(json!({"name": ""})),
    )
    .await;
    assert_422(&r, &[(json!(["body", "name"]), "string_too_short")]);
    assert_eq!(r.body["detail"][0]["ctx"]["min_length"], json!(1));
    let r = fa(
        &app,
        Method::POST,
        "/api/v1/organizations",
        Some(&owner.token),
        Some(json!({"name": "x".repeat(3001)})),
    )
    .await;
    assert_422(&r, &[(json!(["body", "name"]), "string_too_long")]);
    assert_eq!(
        revision(&app).await,
        rev,
        "no refused request wrote anything"
    );
}

#[tokio::test]
async fn body_organization_must_match_the_path() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Mine").await;
    let (other, _) = fa_org(&app, "Theirs").await;
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let admin = role(&app, &org, &owner.token, "Admin").await;
    let rev = revision(&app).await;
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(&owner.token),
        Some(json!({"user_id": ada.id, "organization_id": other, "role_id": admin["id"]})),
    )
    .await;
    assert_422(&r, &[(json!(["body", "organization_id"]), "value_error")]);
    assert_eq!(revision(&app).await, rev, "nothing changed");
    let own = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(&ada.token),
        None,
    )
    .await;
    assert_eq!(own.body["role"]["name"], json!("Member"));
}

#[tokio::test]
async fn batch_endpoints_need_arrays() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Batches").await;
    let ada = app.user("Ada").await;
    for path in ["users", "users/remove"] {
        let p = format!("/api/v1/organizations/{org}/{path}");
        let r = fa(
            &app,
            Method::PUT,
            &p,
            Some(&owner.token),
            Some(json!({"user_id": ada.id})),
        )
        .await;
        assert_422(&r, &[(json!(["body"]), "list_type")]);
        let r = fa(
            &app,
            Method::PUT,
            &p,
            Some(&owner.token),
            Some(json!(["x", {}])),
        )
        .await;
        assert_422(
            &r,
            &[
                (json!(["body", 0]), "model_attributes_type"),
                (json!(["body", 1]), "value_error"),
            ],
        );
    }
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        Some(json!([{"email": "not an email", "project_ids": ["nope"], "role_id": "x"}])),
    )
    .await;
    assert_422(
        &r,
        &[
            (json!(["body", 0, "email"]), "value_error"),
            (json!(["body", 0, "role_id"]), "uuid_parsing"),
            (json!(["body", 0, "project_ids", 0]), "uuid_parsing"),
        ],
    );
}

#[tokio::test]
async fn authentication_and_authorization_refusals() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Guarded").await;
    let viewer = app.user("Vera").await;
    add(&app, &org, &owner.token, &viewer, None).await;
    let path = format!("/api/v1/organizations/{org}/users/roles");

    let r = fa(&app, Method::GET, &path, None, None).await;
    assert_eq!(assert_detail(&r, 401), "Not authenticated");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let r = fa(&app, Method::GET, &path, Some("rst_nonsense"), None).await;
    assert_detail(&r, 401);

    let rev = revision(&app).await;
    let owner_role = role(&app, &org, &owner.token, "Owner").await;
    for r in [
        assign(
            &app,
            &org,
            &viewer.token,
            &viewer.id,
            owner_role["id"].as_str().unwrap(),
        )
        .await,
        fa(
            &app,
            Method::PUT,
            &format!("/api/v1/organizations/{org}"),
            Some(&viewer.token),
            Some(json!({"name": "x"})),
        )
        .await,
        fa(
            &app,
            Method::DELETE,
            &format!("/api/v1/organizations/{org}"),
            Some(&viewer.token),
            None,
        )
        .await,
        fa(
            &app,
            Method::PUT,
            &format!("/api/v1/organizations/{org}/users"),
            Some(&viewer.token),
            Some(json!([])),
        )
        .await,
        fa(
            &app,
            Method::DELETE,
            &format!("/api/v1/organizations/{org}/users/{}", owner.id),
            Some(&viewer.token),
            None,
        )
        .await,
        fa(
            &app,
            Method::POST,
            &format!("/api/v1/organizations/{org}/roles"),
            Some(&viewer.token),
            Some(json!({})),
        )
        .await,
    ] {
        assert_eq!(
            r.body,
            json!({"detail": "User does not have access to this resource"}),
            "{:?}",
            r.body
        );
        assert_eq!(r.status, 403);
    }
    assert_eq!(
        revision(&app).await,
        rev,
        "no refused request wrote anything"
    );

    // Another tenant: 403 for everything of this organization.
    let stranger = app.user("Stranger").await;
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&stranger.token),
        None,
    )
    .await;
    assert_detail(&r, 403);
    let r = fa(
        &app,
        Method::GET,
        "/api/v1/organizations",
        Some(&stranger.token),
        None,
    )
    .await;
    assert_eq!(r.body, json!([]), "a stranger sees no organization");
}

#[tokio::test]
async fn roles_list_their_permissions() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Roles").await;
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/roles"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let roles = r.body.as_array().unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(&names[..3], &["Owner", "Admin", "Member"]);
    for role in roles {
        assert!(is_uuid(&role["id"]));
        assert_eq!(
            role["organization_id"],
            Value::Null,
            "built-in roles belong to no organization"
        );
        for p in role["permissions"].as_array().unwrap() {
            assert!(p["access"].is_boolean());
            assert!(
                p.as_object().unwrap().contains_key("description"),
                "description is always present"
            );
        }
    }
    let admin = roles.iter().find(|r| r["name"] == json!("Admin")).unwrap();
    assert_eq!(
        admin["id"],
        json!(uuid_of("role_admin")),
        "the same role as the organization API's role_admin"
    );
    let manage = admin["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == json!("manage_roles"))
        .unwrap();
    assert_eq!(
        (manage["access"].clone(), manage["description"].clone()),
        (json!(true), json!("Create, edit, and delete roles"))
    );
    // The same permission has the same id in every role.
    let owner_role = roles.iter().find(|r| r["name"] == json!("Owner")).unwrap();
    let again = owner_role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == json!("manage_roles"))
        .unwrap();
    assert_eq!(again["id"], manage["id"]);
}

#[tokio::test]
async fn deletes_answer_204_without_a_body() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Deletes").await;
    let (ada, ben, cat) = (
        app.user("Ada").await,
        app.user("Ben").await,
        app.user("Cat").await,
    );
    for u in [&ada, &ben, &cat] {
        add(&app, &org, &owner.token, u, None).await;
    }
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/users/{}", ada.id),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users/remove"),
        Some(&owner.token),
        Some(json!([{"user_id": ben.id}, {"email": cat.email.to_uppercase()}])),
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    let users = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        None,
    )
    .await;
    let left: Vec<&Value> = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["user_id"])
        .collect();
    assert_eq!(left, vec![&json!(owner.id)]);
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(assert_detail(&r, 404), "Organization not found");
    let native = app
        .get(
            &format!("/v1/organizations/{}", org_typeid(&org)),
            &owner.token,
        )
        .await;
    assert_eq!(native.status, 404, "gone from the organization API too");
}

#[tokio::test]
async fn empty_path_segments_and_unknown_routes() {
    let app = TestApp::spawn().await;
    let (_, owner) = fa_org(&app, "Paths").await;
    for path in [
        "/api/v1/organizations//users/roles",
        "/api/v1/organizations//roles",
        "/api/v1/organizations//users//projects",
    ] {
        let r = fa(&app, Method::GET, path, Some(&owner.token), None).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (404, json!({"detail": "Not Found"})),
            "{path}"
        );
    }
    let r = fa(
        &app,
        Method::PUT,
        "/api/v1/organizations//users/roles",
        Some(&owner.token),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (404, json!({"detail": "Not Found"}))
    );
    let r = fa(
        &app,
        Method::PATCH,
        "/api/v1/organizations",
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (405, json!({"detail": "Method Not Allowed"}))
    );
}

// ---- §7 decisions

#[tokio::test]
async fn unknown_ids_are_404_with_a_message() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Unknowns").await;
    let stranger = app.user("Stranger").await;
    let admin = role(&app, &org, &owner.token, "Admin").await;
    let admin_id = admin["id"].as_str().unwrap();
    let nil = "00000000-0000-0000-0000-000000000000";
    let rev = revision(&app).await;
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{nil}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(assert_detail(&r, 404), "Organization not found");
    let r = assign(&app, &org, &owner.token, &stranger.id, admin_id).await;
    assert_eq!(
        assert_detail(&r, 404),
        "User is not a member of this organization"
    );
    let r = assign(&app, &org, &owner.token, "usr_nobody", admin_id).await;
    assert_eq!(assert_detail(&r, 404), "User not found");
    let r = assign(&app, &org, &owner.token, "someone", admin_id).await;
    assert_eq!(assert_detail(&r, 404), "User not found");
    let r = assign(&app, &org, &owner.token, &owner.id, nil).await;
    assert_eq!(assert_detail(&r, 404), "Role not found");
    // A custom role of another organization does not exist here.
    let (other, other_owner) = fa_org(&app, "Elsewhere").await;
    let theirs = fa(
        &app,
        Method::POST,
        &format!("/api/v1/organizations/{other}/roles"),
        Some(&other_owner.token),
        Some(
            json!({"name": "Theirs", "permissions": [{"name": "view_audit_log", "access": true}]}),
        ),
    )
    .await;
    assert_eq!(theirs.status, 200, "{:?}", theirs.body);
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let rev2 = revision(&app).await;
    let r = assign(
        &app,
        &org,
        &owner.token,
        &ada.id,
        theirs.body["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(assert_detail(&r, 404), "Role not found");
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/users/usr_nobody"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_detail(&r, 404);
    assert_eq!(revision(&app).await, rev2);
    assert!(rev2 > rev);
}

#[tokio::test]
async fn a_project_role_is_not_an_organization_role() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Scopes").await;
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let project_member = uuid_of("role_project_member");
    let r = assign(&app, &org, &owner.token, &ada.id, &project_member).await;
    assert_422(&r, &[(json!(["body", "role_id"]), "value_error")]);
}

/// Sends `n` identical `PUT`s at once and returns their answers.
#[allow(clippy::unwrap_used)]
async fn concurrent_puts(
    app: &TestApp,
    path: &str,
    token: &str,
    body: Value,
    n: usize,
) -> Vec<Res> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let req = app
            .client
            .put(format!("{}{path}", app.base))
            .bearer_auth(token)
            .json(&body);
        set.spawn(async move { into_res(req.send().await.unwrap()).await });
    }
    set.join_all().await
}

/// The one id all answers carry (each a 200).
#[allow(clippy::unwrap_used)]
fn one_id(answers: &[Res]) -> Value {
    for r in answers {
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every upsert answers the same one: {ids:?}");
    json!(ids.first().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::unwrap_used)]
async fn concurrent_upserts_of_one_name_create_one() {
    let app = TestApp::spawn().await;
    let named = |list: &Value, name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .filter(|o| {
                o["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .map(|o| o["id"].clone())
            .collect::<Vec<_>>()
    };
    // A user's organization, and the platform's (which sees every organization).
    let ada = app.user("Ada").await;
    for (token, name) in [
        (ada.token.as_str(), "Race"),
        (PLATFORM_KEY, "Platform Race"),
    ] {
        let answers = concurrent_puts(
            &app,
            "/api/v1/organizations",
            token,
            json!({"name": name}),
            8,
        )
        .await;
        let id = one_id(&answers);
        let listed = fa(
            &app,
            Method::GET,
            "/api/v1/organizations",
            Some(token),
            None,
        )
        .await;
        assert_eq!(
            named(&listed.body, name),
            vec![id],
            "{name}: {:?}",
            listed.body
        );
    }
    // A project of an organization.
    let (org, owner) = fa_org(&app, "Projects").await;
    let path = format!("/api/v1/projects?organization_id={org}");
    let answers = concurrent_puts(&app, &path, &owner.token, json!({"name": "Docs"}), 8).await;
    let id = one_id(&answers);
    let listed = fa(
        &app,
        Method::GET,
        &format!("{path}&project_name=Docs"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(named(&listed.body, "Docs"), vec![id], "{:?}", listed.body);
}

#[tokio::test]
async fn organizations_create_upsert_default_and_cross_dialect() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Acme").await;
    // The creator is the Owner, in both dialects.
    let own = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(own.body["role"]["name"], json!("Owner"));
    let native = app.get("/v1/organizations", &owner.token).await;
    let listed = &native.body["organizations"][0];
    assert_eq!(
        listed["id"],
        json!(org_typeid(&org)),
        "the same organization, spelled org_"
    );
    assert_eq!(listed["owner_id"], json!(owner.id));
    assert_eq!(uuid_of(listed["id"].as_str().unwrap()), org);
    // Shape.
    let got = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(
        keys(&got.body),
        sorted(vec![
            "id",
            "created_at",
            "updated_at",
            "name",
            "stripe_customer_id",
            "parse_plan_level"
        ])
    );
    // Upsert: the caller's organization of that name (case-insensitive), else a new one.
    let rev = revision(&app).await;
    let same = fa(
        &app,
        Method::PUT,
        "/api/v1/organizations",
        Some(&owner.token),
        Some(json!({"name": " acme "})),
    )
    .await;
    assert_eq!((same.status, same.body["id"].clone()), (200, json!(org)));
    assert_eq!(revision(&app).await, rev, "finding it writes nothing");
    let stranger = app.user("Stranger").await;
    let theirs = fa(
        &app,
        Method::PUT,
        "/api/v1/organizations",
        Some(&stranger.token),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(theirs.status, 200);
    assert_ne!(
        theirs.body["id"],
        json!(org),
        "only the caller's organizations are matched"
    );
    // Update.
    let renamed = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}"),
        Some(&owner.token),
        Some(json!({"name": "Acme 2"})),
    )
    .await;
    assert_eq!(renamed.body["name"], json!("Acme 2"));
    let unchanged = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}"),
        Some(&owner.token),
        Some(json!({"name": null})),
    )
    .await;
    assert_eq!(
        (unchanged.status, unchanged.body["name"].clone()),
        (200, json!("Acme 2"))
    );
    // Default organization.
    let d = fa(
        &app,
        Method::GET,
        "/api/v1/organizations/default",
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(d.body["id"], json!(org), "the oldest membership");
    let second = fa(
        &app,
        Method::POST,
        "/api/v1/organizations",
        Some(&owner.token),
        Some(json!({"name": "Second"})),
    )
    .await;
    let second_id = second.body["id"].as_str().unwrap();
    let set = fa(
        &app,
        Method::PUT,
        "/api/v1/organizations/default",
        Some(&owner.token),
        Some(json!({"organization_id": second_id})),
    )
    .await;
    assert_eq!(
        (set.status, set.body["id"].as_str()),
        (200, Some(second_id))
    );
    let d = fa(
        &app,
        Method::GET,
        "/api/v1/organizations/default",
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(d.body["id"], json!(second_id));
    let r = fa(
        &app,
        Method::PUT,
        "/api/v1/organizations/default",
        Some(&stranger.token),
        Some(json!({"organization_id": second_id})),
    )
    .await;
    assert_detail(&r, 403);
    let r = fa(
        &app,
        Method::PUT,
        "/api/v1/organizations/default",
        Some(&owner.token),
        Some(json!({"organization_id": "x"})),
    )
    .await;
    assert_422(&r, &[(json!(["body", "organization_id"]), "uuid_parsing")]);
    let r = fa(
        &app,
        Method::GET,
        "/api/v1/organizations/default",
        Some(PLATFORM_KEY),
        None,
    )
    .await;
    assert_detail(&r, 404);
    let newcomer = app.user("Newcomer").await;
    let r = fa(
        &app,
        Method::GET,
        "/api/v1/organizations/default",
        Some(&newcomer.token),
        None,
    )
    .await;
    assert_detail(&r, 404);
    // An organization created in the organization API is listed here in UUID form.
    let (native_org, native_owner) = app.org("Native").await;
    let listed = fa(
        &app,
        Method::GET,
        "/api/v1/organizations",
        Some(&native_owner.token),
        None,
    )
    .await;
    assert_eq!(listed.body[0]["id"], json!(uuid_of(&native_org)));
}

#[tokio::test]
async fn a_role_assigned_here_decides_everywhere() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Everywhere").await;
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let native = org_typeid(&org);
    let check = |perm: &'static str| {
        let (app, native, ada_id, token) =
            (&app, native.clone(), ada.id.clone(), owner.token.clone());
        async move {
            let r = app
                .post(
                    &format!("/v1/organizations/{native}/check"),
                    &token,
                    json!({"user_id": ada_id, "permission": perm}),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body["allowed"].as_bool().unwrap()
        }
    };
    assert!(!check("manage_roles").await);
    let admin = role(&app, &org, &owner.token, "Admin").await;
    assert_eq!(
        assign(
            &app,
            &org,
            &owner.token,
            &ada.id,
            admin["id"].as_str().unwrap()
        )
        .await
        .status,
        200
    );
    assert!(
        check("manage_roles").await,
        "the check sees the new role at once"
    );
    let m = app
        .get(
            &format!("/v1/organizations/{native}/users/{}", ada.id),
            &owner.token,
        )
        .await;
    assert_eq!(
        m.body["role"]["id"],
        json!("role_admin"),
        "the member's primary role"
    );
    // And the other way: a role set in the organization API shows here.
    let r = app
        .put(
            &format!("/v1/organizations/{native}/users/{}", ada.id),
            &owner.token,
            json!({"role_id": "role_member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let own = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(&ada.token),
        None,
    )
    .await;
    assert_eq!(own.body["role"]["name"], json!("Member"));
    assert!(!check("manage_roles").await);
}

#[tokio::test]
async fn role_changes_follow_the_owner_and_escalation_rules() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Rules").await;
    let (admin_user, other) = (app.user("Adam").await, app.user("Otto").await);
    let admin = role(&app, &org, &owner.token, "Admin").await;
    let owner_role = role(&app, &org, &owner.token, "Owner").await;
    let member = role(&app, &org, &owner.token, "Member").await;
    add(&app, &org, &owner.token, &admin_user, admin["id"].as_str()).await;
    add(&app, &org, &owner.token, &other, None).await;
    let rev = revision(&app).await;
    // The creator (the designated owner) keeps the Owner role.
    let r = assign(
        &app,
        &org,
        &owner.token,
        &owner.id,
        member["id"].as_str().unwrap(),
    )
    .await;
    assert_detail(&r, 409);
    // An Admin may not hand out Owner.
    let r = assign(
        &app,
        &org,
        &admin_user.token,
        &other.id,
        owner_role["id"].as_str().unwrap(),
    )
    .await;
    assert_detail(&r, 403);
    // The creator's role is fixed for an Admin too: the same 409, checked
    // before the caller's rights (as the organization API's 422).
    let r = assign(
        &app,
        &org,
        &admin_user.token,
        &owner.id,
        member["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        assert_detail(&r, 409),
        "The organization owner's role cannot be changed"
    );
    assert_eq!(revision(&app).await, rev, "nothing changed");
    // The Owner may make another Owner.
    let r = assign(
        &app,
        &org,
        &owner.token,
        &other.id,
        owner_role["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["role"]["name"].clone()),
        (200, json!("Owner"))
    );
    // An Admin may not take Owner away from an Owner who is not the creator.
    let demote = assign(
        &app,
        &org,
        &admin_user.token,
        &other.id,
        member["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        assert_detail(&demote, 403),
        "User does not have access to this resource"
    );
    // "Assigning" Owner to someone who holds it already is still handing out
    // Owner: refused to an Admin (for the creator too), nothing changes.
    let rev = revision(&app).await;
    for target in [&other.id, &owner.id] {
        let r = assign(
            &app,
            &org,
            &admin_user.token,
            target,
            owner_role["id"].as_str().unwrap(),
        )
        .await;
        assert_eq!(
            assert_detail(&r, 403),
            "User does not have access to this resource"
        );
    }
    assert_eq!(revision(&app).await, rev, "nothing changed");
    let native = org_typeid(&org);
    let m = app
        .get(
            &format!("/v1/organizations/{native}/users/{}", other.id),
            &owner.token,
        )
        .await;
    assert_eq!(
        (m.status, m.body["role"]["id"].clone()),
        (200, json!("role_owner"))
    );
    // An Owner repeating it gets the same assignment back, nothing written.
    let again = assign(
        &app,
        &org,
        &owner.token,
        &other.id,
        owner_role["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["id"], r.body["id"]);
    assert_eq!(revision(&app).await, rev, "nothing written");
    // An Admin repeating a role it may hand out is the idempotent 200.
    let r = assign(
        &app,
        &org,
        &admin_user.token,
        &admin_user.id,
        admin["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["role"]["name"].clone()),
        (200, json!("Admin"))
    );
    assert_eq!(revision(&app).await, rev, "nothing written");
    // The owner cannot be removed.
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/users/{}", owner.id),
        Some(&owner.token),
        None,
    )
    .await;
    assert_detail(&r, 409);
}

#[tokio::test]
async fn adding_users_by_id_and_email_links_or_invites() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Adds").await;
    let (ada, ben) = (app.user("Ada").await, app.user("Ben").await);
    let admin = role(&app, &org, &owner.token, "Admin").await;
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        Some(json!([
            {"user_id": ada.id, "project_ids": null},
            {"email": ben.email.to_uppercase(), "role_id": admin["id"], "project_ids": null},
            {"email": "newcomer@example.test", "project_ids": null}
        ])),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let out = r.body.as_array().unwrap();
    assert_eq!(out.len(), 3);
    let user_ids: Vec<&Value> = out.iter().map(|u| &u["user_id"]).collect();
    assert_eq!(user_ids, vec![&json!(ada.id), &json!(ben.id), &Value::Null]);
    let pending: Vec<&Value> = out.iter().map(|u| &u["pending"]).collect();
    assert_eq!(pending, vec![&json!(false), &json!(false), &json!(true)]);
    assert_eq!(
        keys(&out[0]),
        sorted(vec![
            "id",
            "created_at",
            "updated_at",
            "email",
            "user_id",
            "organization_id",
            "pending",
            "invited_by_user_id",
            "invited_by_user_email",
            "roles"
        ])
    );
    assert_eq!(out[1]["roles"][0]["role"]["name"], json!("Admin"));
    assert_eq!(out[2]["invited_by_user_id"], json!(owner.id));
    // The invitation is the organization API's invitation.
    let native = org_typeid(&org);
    let inv = app
        .get(
            &format!("/v1/organizations/{native}/invitation?email=newcomer@example.test"),
            &owner.token,
        )
        .await;
    assert_eq!(
        (inv.status, inv.body["status"].clone()),
        (200, json!("pending")),
        "{:?}",
        inv.body
    );
    // Members in the organization API.
    let m = app
        .get(
            &format!("/v1/organizations/{native}/users/{}", ben.id),
            &owner.token,
        )
        .await;
    assert_eq!(
        (m.status, m.body["role"]["id"].clone()),
        (200, json!("role_admin"))
    );
    // The list shows members then the pending signup.
    let users = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        None,
    )
    .await;
    let emails: Vec<&str> = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        vec![
            owner.email.as_str(),
            ada.email.as_str(),
            ben.email.as_str(),
            "newcomer@example.test"
        ]
    );
    // Again: nothing changes, the same memberships come back.
    let rev = revision(&app).await;
    let again = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        Some(json!([{"user_id": ada.id}, {"email": "newcomer@example.test"}])),
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body[0]["id"], out[0]["id"]);
    assert_eq!(again.body[1]["id"], out[2]["id"]);
    assert_eq!(revision(&app).await, rev);
}

#[tokio::test]
async fn batches_are_all_or_nothing() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Atomic").await;
    let (ada, ben) = (app.user("Ada").await, app.user("Ben").await);
    let rev = revision(&app).await;
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        Some(json!([{"user_id": ada.id}, {"user_id": "usr_nobody"}])),
    )
    .await;
    assert_detail(&r, 404);
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        Some(json!([{"user_id": ada.id}, {"user_id": ben.id, "role_id": "00000000-0000-0000-0000-000000000000"}])),
    )
    .await;
    assert_eq!(assert_detail(&r, 404), "Role not found");
    assert_eq!(revision(&app).await, rev, "nobody was added");
    add(&app, &org, &owner.token, &ada, None).await;
    add(&app, &org, &owner.token, &ben, None).await;
    let rev = revision(&app).await;
    for (body, status, detail) in [
        (
            json!([{"user_id": ada.id}, {"user_id": owner.id}]),
            409,
            "The organization owner cannot be removed",
        ),
        (
            json!([{"user_id": ada.id}, {"email": "nobody@example.test"}]),
            404,
            "User not found",
        ),
    ] {
        let r = fa(
            &app,
            Method::PUT,
            &format!("/api/v1/organizations/{org}/users/remove"),
            Some(&owner.token),
            Some(body),
        )
        .await;
        assert_eq!(assert_detail(&r, status), detail);
    }
    assert_eq!(revision(&app).await, rev, "nobody was removed");
    let users = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(users.body.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn adding_back_a_removed_member_hands_back_their_roles_only_to_who_may_give_them() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Revive").await;
    let native = org_typeid(&org);
    let (ada, olga) = (app.user("Ada").await, app.user("Olga").await);
    let admin = role(&app, &org, &owner.token, "Admin").await;
    add(&app, &org, &owner.token, &ada, admin["id"].as_str()).await;
    // Olga holds Owner besides her primary Member, and is removed.
    add(&app, &org, &owner.token, &olga, None).await;
    let r = app
        .post(
            &format!("/v1/organizations/{native}/roles/role_owner/members"),
            &owner.token,
            json!({"user_id": olga.id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = remove_from_org(&app, &native, &owner.token, &olga.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(!check_allowed(&app, &native, &olga.id, "manage_billing").await);

    // Adding her back (as a Member) revives the membership with its Owner
    // assignment: the Owner role only by an Owner, so the Admin is refused
    // and nothing is written.
    let rev = revision(&app).await;
    let body = json!([{"user_id": olga.id, "project_ids": null}]);
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&ada.token),
        Some(body.clone()),
    )
    .await;
    assert_detail(&r, 403);
    assert_eq!(revision(&app).await, rev, "nothing written");
    assert!(stored_deleted(&app, &native, &olga.id).await);
    assert!(!check_allowed(&app, &native, &olga.id, "manage_billing").await);
    // The Owner may.
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!stored_deleted(&app, &native, &olga.id).await);
    assert!(check_allowed(&app, &native, &olga.id, "manage_billing").await);
}

/// Creates a project through this dialect: its uuid.
#[allow(clippy::unwrap_used)]
async fn fa_project(app: &TestApp, org: &str, token: &str, name: &str) -> String {
    let p = fa(
        app,
        Method::POST,
        &format!("/api/v1/projects?organization_id={org}"),
        Some(token),
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    p.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_refused_add_batch_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Batch").await;
    let (other_org, other_owner) = fa_org(&app, "Elsewhere").await;
    let (ada, ben, adam) = (
        app.user("Ada").await,
        app.user("Ben").await,
        app.user("Adam").await,
    );
    let admin = role(&app, &org, &owner.token, "Admin").await;
    let owner_role = role(&app, &org, &owner.token, "Owner").await;
    add(&app, &org, &owner.token, &adam, admin["id"].as_str()).await;
    let docs = fa_project(&app, &org, &owner.token, "Docs").await;
    let old = fa_project(&app, &org, &owner.token, "Old").await;
    let foreign = fa_project(&app, &other_org, &other_owner.token, "Theirs").await;
    // Archive "Old" through the admin API with an organization key.
    let key = fa(
        &app,
        Method::POST,
        &format!("/api/v1/api-keys?organization_id={org}"),
        Some(&owner.token),
        Some(json!({"name": "admin"})),
    )
    .await;
    assert_eq!(key.status, 200, "{:?}", key.body);
    let old_typeid = roster_core::ProjectId(uuid::Uuid::parse_str(&old).unwrap()).to_string();
    let r = fa(
        &app,
        Method::POST,
        &format!("/v1/organization/projects/{old_typeid}/archive"),
        key.body["api_key"].as_str(),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let users_path = format!("/api/v1/organizations/{org}/users");
    let rev = revision(&app).await;
    let refusals = [
        // The last entry names an archived project.
        (
            &owner.token,
            json!([
                {"user_id": ada.id, "project_ids": [docs]},
                {"email": "newcomer@example.test"},
                {"user_id": ben.id, "project_ids": [old]}
            ]),
            409,
        ),
        // An unknown project.
        (
            &owner.token,
            json!([
                {"user_id": ada.id, "project_ids": [docs]},
                {"email": "newcomer@example.test"},
                {"user_id": ben.id, "project_ids": ["0190a0b0-0000-7000-8000-000000000001"]}
            ]),
            404,
        ),
        // Another organization's project.
        (
            &owner.token,
            json!([
                {"user_id": ada.id, "project_ids": [docs]},
                {"email": "newcomer@example.test"},
                {"user_id": ben.id, "project_ids": [foreign]}
            ]),
            404,
        ),
        // The last invitation asks for a role an Admin may not hand out: the
        // members and project memberships before it are rolled back.
        (
            &adam.token,
            json!([
                {"user_id": ada.id, "project_ids": [docs]},
                {"email": "newcomer@example.test"},
                {"email": "boss@example.test", "role_id": owner_role["id"]}
            ]),
            403,
        ),
    ];
    for (token, body, status) in refusals {
        let r = fa(&app, Method::PUT, &users_path, Some(token), Some(body)).await;
        assert_detail(&r, status);
    }
    assert_eq!(revision(&app).await, rev, "nothing was written");
    // No member, no invitation, no project membership.
    let users = fa(&app, Method::GET, &users_path, Some(&owner.token), None).await;
    let emails: Vec<&str> = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec![owner.email.as_str(), adam.email.as_str()]);
    let native = org_typeid(&org);
    for email in ["newcomer@example.test", "boss@example.test"] {
        let inv = app
            .get(
                &format!("/v1/organizations/{native}/invitation?email={email}"),
                &owner.token,
            )
            .await;
        assert_eq!(inv.status, 404, "{email}: {:?}", inv.body);
    }
    let docs_typeid = roster_core::ProjectId(uuid::Uuid::parse_str(&docs).unwrap()).to_string();
    let members = fa(
        &app,
        Method::GET,
        &format!("/v1/organization/projects/{docs_typeid}/users"),
        key.body["api_key"].as_str(),
        None,
    )
    .await;
    assert_eq!(members.status, 200, "{:?}", members.body);
    assert_eq!(members.body["data"], json!([]), "{:?}", members.body);
    // The same batch without the refused entry is written whole.
    let r = fa(
        &app,
        Method::PUT,
        &users_path,
        Some(&owner.token),
        Some(json!([
            {"user_id": ada.id, "project_ids": [docs]},
            {"email": "newcomer@example.test"},
            {"user_id": ben.id, "project_ids": [docs, docs]}
        ])),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let pending: Vec<&Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["pending"])
        .collect();
    assert_eq!(pending, vec![&json!(false), &json!(true), &json!(false)]);
    let members = fa(
        &app,
        Method::GET,
        &format!("/v1/organization/projects/{docs_typeid}/users"),
        key.body["api_key"].as_str(),
        None,
    )
    .await;
    assert_eq!(
        members.body["data"].as_array().unwrap().len(),
        2,
        "{:?}",
        members.body
    );
    // Again: nothing to write.
    let rev = revision(&app).await;
    let r = fa(
        &app,
        Method::PUT,
        &users_path,
        Some(&owner.token),
        Some(json!([
            {"user_id": ada.id, "project_ids": [docs]},
            {"email": "NEWCOMER@example.test"}
        ])),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(revision(&app).await, rev, "nothing written");
}

#[tokio::test]
async fn custom_roles_with_denials_and_role_removal() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Custom").await;
    let native = org_typeid(&org);
    let ada = app.user("Ada").await;
    let dm = uuid_of("role_department_manager");
    add(&app, &org, &owner.token, &ada, Some(&dm)).await;
    let made = fa(
        &app,
        Method::POST,
        &format!("/api/v1/organizations/{org}/roles"),
        Some(&owner.token),
        Some(json!({"name": "No Users", "permissions": [
            {"name": "view_audit_log", "access": true},
            {"name": "manage_users", "access": false}
        ]})),
    )
    .await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    assert_eq!(made.body["organization_id"], json!(org));
    let perms: Vec<(Value, Value)> = made.body["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].clone(), p["access"].clone()))
        .collect();
    assert_eq!(
        perms,
        vec![
            (json!("manage_users"), json!(false)),
            (json!("view_audit_log"), json!(true))
        ]
    );
    let rid = made.body["id"].as_str().unwrap().to_owned();
    // The same role in the organization API, with the denial.
    let typeid = roster_core::RoleId(uuid::Uuid::parse_str(&rid).unwrap()).to_string();
    let nr = app
        .get(
            &format!("/v1/organizations/{native}/roles/{typeid}"),
            &owner.token,
        )
        .await;
    assert_eq!(nr.body["denied_capabilities"], json!(["manage_users"]));
    // Held beside a role that grants manage_users, the denial wins.
    let r = app
        .post(
            &format!("/v1/organizations/{native}/roles/{typeid}/members"),
            &owner.token,
            json!({"user_id": ada.id}),
        )
        .await;
    assert!(r.status < 300, "{:?}", r.body);
    let c = app
        .post(
            &format!("/v1/organizations/{native}/check"),
            &owner.token,
            json!({"user_id": ada.id, "permission": "manage_users"}),
        )
        .await;
    assert_eq!(c.body["allowed"], json!(false), "deny beats allow");
    let users = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        None,
    )
    .await;
    let entry = users
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == json!(ada.id))
        .unwrap()
        .clone();
    let names: Vec<&Value> = entry["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["role"]["name"])
        .collect();
    assert_eq!(
        names,
        vec![&json!("Department Manager"), &json!("No Users")],
        "primary first"
    );
    // Remove the role from the user (extension): allowed again.
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/users/{}/roles/{rid}", ada.id),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    let c = app
        .post(
            &format!("/v1/organizations/{native}/check"),
            &owner.token,
            json!({"user_id": ada.id, "permission": "manage_users"}),
        )
        .await;
    assert_eq!(c.body["allowed"], json!(true));
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/users/{}/roles/{rid}", ada.id),
        Some(&owner.token),
        None,
    )
    .await;
    assert_detail(&r, 404);
    // Update and delete the role.
    let up = fa(
        &app,
        Method::PATCH,
        &format!("/api/v1/organizations/{org}/roles/{rid}"),
        Some(&owner.token),
        Some(json!({"name": "Auditors", "permissions": [{"name": "view_audit_log", "access": true}]})),
    )
    .await;
    assert_eq!(up.status, 200, "{:?}", up.body);
    assert_eq!(
        (
            up.body["name"].clone(),
            up.body["permissions"].as_array().unwrap().len()
        ),
        (json!("Auditors"), 1)
    );
    let r = fa(
        &app,
        Method::POST,
        &format!("/api/v1/organizations/{org}/roles"),
        Some(&owner.token),
        Some(json!({"name": "Bad", "permissions": [{"name": "no_such_key", "access": true}]})),
    )
    .await;
    assert_422(&r, &[(json!(["body", "permissions"]), "value_error")]);
    let r = fa(&app, Method::POST, &format!("/api/v1/organizations/{org}/roles"), Some(&owner.token), Some(json!({"name": "Auditors", "permissions": [{"name": "view_audit_log", "access": true}]}))).await;
    assert_detail(&r, 409);
    let r = fa(
        &app,
        Method::POST,
        &format!("/api/v1/organizations/{org}/roles"),
        Some(&owner.token),
        Some(json!({"name": "X", "permissions": [{"name": "view_audit_log"}]})),
    )
    .await;
    assert_422(
        &r,
        &[(json!(["body", "permissions", 0, "access"]), "missing")],
    );
    let admin = uuid_of("role_admin");
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/roles/{admin}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_detail(&r, 403);
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/roles/{rid}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/roles/not-a-uuid"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_422(&r, &[(json!(["path", "role_id"]), "uuid_parsing")]);
}

#[tokio::test]
async fn removing_a_primary_role_falls_back_to_member() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Fallback").await;
    let ada = app.user("Ada").await;
    let admin = uuid_of("role_admin");
    add(&app, &org, &owner.token, &ada, Some(&admin)).await;
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/organizations/{org}/users/{}/roles/{admin}", ada.id),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let own = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(&ada.token),
        None,
    )
    .await;
    assert_eq!(own.body["role"]["name"], json!("Member"));
    let member = uuid_of("role_member");
    let r = fa(
        &app,
        Method::DELETE,
        &format!(
            "/api/v1/organizations/{org}/users/{}/roles/{member}",
            ada.id
        ),
        Some(&owner.token),
        None,
    )
    .await;
    assert_422(&r, &[(json!(["path", "role_id"]), "value_error")]);
}

#[tokio::test]
async fn api_keys_and_the_platform_see_their_role() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Keys").await;
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(PLATFORM_KEY),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, Value::Null),
        "the platform key is no user"
    );
    let r = fa(
        &app,
        Method::GET,
        "/api/v1/organizations",
        Some(PLATFORM_KEY),
        None,
    )
    .await;
    assert!(r
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == json!(org)));
    let made = fa(
        &app,
        Method::POST,
        "/api/v1/organizations",
        Some(PLATFORM_KEY),
        Some(json!({"name": "Ownerless"})),
    )
    .await;
    assert_eq!(made.status, 200);
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/usage?get_current_invoice_total=maybe"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_422(
        &r,
        &[(
            json!(["query", "get_current_invoice_total"]),
            "bool_parsing",
        )],
    );
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/usage?get_current_invoice_total=true"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body["usage"]["total_users"].clone()),
        (200, json!(1))
    );
}

// ---- projects

#[tokio::test]
async fn projects_and_user_projects() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Projects").await;
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let p = fa(
        &app,
        Method::POST,
        &format!("/api/v1/projects?organization_id={org}"),
        Some(&owner.token),
        Some(json!({"name": "Docs"})),
    )
    .await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    assert_eq!(
        keys(&p.body),
        sorted(vec![
            "id",
            "name",
            "created_at",
            "updated_at",
            "ad_hoc_eval_dataset_id",
            "organization_id",
            "is_default"
        ])
    );
    let pid = p.body["id"].as_str().unwrap().to_owned();
    assert!(is_uuid(&p.body["id"]));
    // Without organization_id: the caller's default organization.
    let listed = fa(
        &app,
        Method::GET,
        "/api/v1/projects",
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(listed.body[0]["id"], json!(pid));
    let named = fa(
        &app,
        Method::GET,
        "/api/v1/projects?project_name=Nope",
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(named.body, json!([]));
    let up = fa(
        &app,
        Method::PUT,
        "/api/v1/projects",
        Some(&owner.token),
        Some(json!({"name": "Docs"})),
    )
    .await;
    assert_eq!(up.body["id"], json!(pid), "upsert by name");
    let got = fa(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{pid}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(got.body["name"], json!("Docs"));
    let stranger = app.user("Stranger").await;
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{pid}"),
        Some(&stranger.token),
        None,
    )
    .await;
    assert_eq!(
        assert_detail(&r, 404),
        "Project not found",
        "other tenants' projects do not exist"
    );
    let r = fa(
        &app,
        Method::GET,
        "/api/v1/projects/not-a-uuid",
        Some(&owner.token),
        None,
    )
    .await;
    assert_422(&r, &[(json!(["path", "project_id"]), "uuid_parsing")]);
    // A user's projects.
    let base = format!("/api/v1/organizations/{org}/users/{}/projects", ada.id);
    let r = fa(&app, Method::PUT, &base, Some(&owner.token), None).await;
    assert_422(&r, &[(json!(["query", "project_id"]), "missing")]);
    let r = fa(
        &app,
        Method::PUT,
        &format!("{base}?project_id=nope"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_422(&r, &[(json!(["query", "project_id"]), "uuid_parsing")]);
    let r = fa(
        &app,
        Method::PUT,
        &format!("{base}?project_id={pid}"),
        Some(&ada.token),
        None,
    )
    .await;
    assert_detail(&r, 403);
    for _ in 0..2 {
        let r = fa(
            &app,
            Method::PUT,
            &format!("{base}?project_id={pid}"),
            Some(&owner.token),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let mine = fa(&app, Method::GET, &base, Some(&ada.token), None).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1);
    assert_eq!(mine.body[0]["id"], json!(pid));
    // The same project membership in the organization API.
    let native = org_typeid(&org);
    let typeid = roster_core::ProjectId(uuid::Uuid::parse_str(&pid).unwrap()).to_string();
    let check = app
        .post(
            &format!("/v1/organizations/{native}/check"),
            &owner.token,
            json!({"user_id": ada.id, "permission": "api.project.read", "project_id": typeid}),
        )
        .await;
    assert_eq!(check.body["allowed"], json!(true), "{:?}", check.body);
    let r = fa(
        &app,
        Method::DELETE,
        &format!("{base}/{pid}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (200, json!({})));
    let mine = fa(&app, Method::GET, &base, Some(&owner.token), None).await;
    assert_eq!(mine.body, json!([]));
    // Adding users with project_ids.
    let ben = app.user("Ben").await;
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&owner.token),
        Some(json!([{"user_id": ben.id, "project_ids": [pid]}])),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let bens = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/{}/projects", ben.id),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(bens.body[0]["id"], json!(pid));
    let renamed = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/projects/{pid}"),
        Some(&owner.token),
        Some(json!({"name": "Docs 2"})),
    )
    .await;
    assert_eq!(renamed.body["name"], json!("Docs 2"));
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/projects/{pid}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/projects/{pid}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_detail(&r, 404);
}

// ---- the session cookie and cross-site writes

#[allow(clippy::unwrap_used)]
async fn login(app: &TestApp, user: &TestUser, headers: &[(&str, &str)]) -> Res {
    let body = json!({"email": user.email, "password": "correct horse"}).to_string();
    raw(app, Method::POST, "/v1/auth/login", headers, Some(&body)).await
}

#[allow(clippy::unwrap_used)]
fn cookie_of(r: &Res) -> String {
    r.headers["set-cookie"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_sets_the_session_cookie_and_logout_clears_it() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Cookies").await;
    let r = login(&app, &owner, &[]).await;
    assert_eq!(r.status, 200);
    let set = cookie_of(&r);
    let token = r.body["access_token"].as_str().unwrap();
    assert!(set.starts_with(&format!("session={token};")), "{set}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(!set.contains("Secure"), "plain http: no Secure ({set})");
    let tls = login(&app, &owner, &[("x-forwarded-proto", "https")]).await;
    assert!(cookie_of(&tls).contains("; Secure"), "{}", cookie_of(&tls));

    // The cookie authenticates every dialect.
    let cookie = format!("session={token}");
    let r = raw(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}"),
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = raw(
        &app,
        Method::GET,
        "/v1/organizations",
        &[("cookie", &format!("theme=dark; {cookie}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A header credential wins over the cookie.
    let other = app.user("Other").await;
    let auth = format!("Bearer {}", other.token);
    let r = raw(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}"),
        &[("cookie", &cookie), ("authorization", &auth)],
        None,
    )
    .await;
    assert_detail(&r, 403);

    let out = raw(
        &app,
        Method::POST,
        "/v1/auth/logout",
        &[("cookie", &cookie), ("origin", &app.base)],
        None,
    )
    .await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    let cleared = cookie_of(&out);
    assert!(
        cleared.starts_with("session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let r = raw(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}"),
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(assert_detail(&r, 401), "Invalid authentication credentials");
}

#[tokio::test]
async fn cookie_writes_from_other_sites_are_refused() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Csrf").await;
    let cookie = format!("session={}", owner.token);
    let path = format!("/api/v1/organizations/{org}");
    let body = Some(r#"{"name": "Hijacked"}"#);
    let host = app.base.trim_start_matches("http://").to_owned();
    let rev = revision(&app).await;
    for headers in [
        vec![
            ("cookie", cookie.as_str()),
            ("origin", "https://evil.example"),
        ],
        vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "same-site"),
            ("origin", app.base.as_str()),
        ],
        vec![("cookie", cookie.as_str()), ("origin", "null")],
    ] {
        let r = raw(&app, Method::PUT, &path, &headers, body).await;
        let d = assert_detail(&r, 403);
        assert!(d.starts_with("Cross-site request refused"), "{d}");
    }
    // The organization API refuses it in its own envelope.
    let r = raw(
        &app,
        Method::PATCH,
        &format!("/v1/organizations/{}", org_typeid(&org)),
        &[("cookie", &cookie), ("origin", "https://evil.example")],
        body,
    )
    .await;
    assert_envelope(&r, 403, "CROSS_SITE_REQUEST");
    assert_eq!(revision(&app).await, rev, "nothing was written");
    let got = fa(&app, Method::GET, &path, Some(&owner.token), None).await;
    assert_eq!(got.body["name"], json!("Csrf"));

    // Reads pass; same-origin writes pass; header credentials are not checked.
    let r = raw(
        &app,
        Method::GET,
        &path,
        &[("cookie", &cookie), ("sec-fetch-site", "cross-site")],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let origin = format!("http://{host}");
    let bearer = format!("Bearer {}", owner.token);
    for headers in [
        vec![("cookie", cookie.as_str()), ("origin", origin.as_str())],
        vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![("cookie", cookie.as_str())],
        vec![
            ("authorization", bearer.as_str()),
            ("origin", "https://evil.example"),
        ],
    ] {
        let r = raw(&app, Method::PUT, &path, &headers, body).await;
        assert_eq!(r.status, 200, "{headers:?}: {:?}", r.body);
    }
}

// ---- API keys

#[tokio::test]
async fn api_keys_are_the_organization_keys() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Keys Org").await;
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let r = fa(
        &app,
        Method::POST,
        "/api/v1/api-keys",
        Some(&ada.token),
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_detail(&r, 403);
    let made = fa(
        &app,
        Method::POST,
        &format!("/api/v1/api-keys?organization_id={org}"),
        Some(&owner.token),
        Some(json!({"name": "CI"})),
    )
    .await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    let secret = made.body["api_key"].as_str().unwrap().to_owned();
    let kid = made.body["id"].as_str().unwrap().to_owned();
    assert!(is_uuid(&made.body["id"]));
    assert_eq!(
        made.body["role_id"],
        json!(uuid_of("role_owner")),
        "acts with the creator's role"
    );
    assert_eq!(made.body["user_id"], json!(owner.id));
    // The key authenticates this dialect and the organization API.
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users"),
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}/users/roles"),
        Some(&secret),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, Value::Null),
        "a key is no user"
    );
    let native = app
        .get(
            &format!("/v1/organizations/{}/api-keys", org_typeid(&org)),
            &owner.token,
        )
        .await;
    assert!(native.status < 300, "{:?}", native.body);
    let listed = fa(
        &app,
        Method::GET,
        "/api/v1/api-keys",
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert!(
        listed.body[0].get("api_key").is_none(),
        "the secret is shown once"
    );
    assert!(listed.body[0]["redacted_api_key"]
        .as_str()
        .unwrap()
        .ends_with("********"));
    let renamed = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/api-keys/{kid}"),
        Some(&owner.token),
        Some(json!({"name": "CI 2"})),
    )
    .await;
    assert_eq!(
        (renamed.status, renamed.body["name"].clone()),
        (200, json!("CI 2"))
    );
    let r = fa(
        &app,
        Method::PUT,
        &format!("/api/v1/api-keys/{kid}"),
        Some(&ada.token),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_detail(&r, 404);
    let r = fa(
        &app,
        Method::DELETE,
        &format!("/api/v1/api-keys/{kid}"),
        Some(&owner.token),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.clone()), (204, Value::Null));
    let r = fa(
        &app,
        Method::GET,
        &format!("/api/v1/organizations/{org}"),
        Some(&secret),
        None,
    )
    .await;
    assert_detail(&r, 401);
    let r = fa(
        &app,
        Method::DELETE,
        "/api/v1/api-keys/nope",
        Some(&owner.token),
        None,
    )
    .await;
    assert_422(&r, &[(json!(["path", "api_key_id"]), "uuid_parsing")]);
}

// ---- every route × every kind of caller

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Authenticated,
    Member,
    Admin,
    Owner,
}

/// The requirement of every route of this dialect. A new route must be added here.
#[allow(clippy::panic)]
fn requirement(method: &str, path: &str) -> Level {
    use Level::*;
    let org = "/api/v1/organizations/{organization_id}";
    match (method, path.strip_prefix(org)) {
        ("DELETE", Some("")) => Owner,
        ("GET", Some(_)) => Member,
        (_, Some(_)) => Admin,
        (_, None) => match (method, path) {
            (_, "/api/v1/organizations" | "/api/v1/organizations/default") => Authenticated,
            ("GET", p) if p.starts_with("/api/v1/projects") => Member,
            (_, p) if p.starts_with("/api/v1/projects") || p.starts_with("/api/v1/api-keys") => {
                Admin
            }
            _ => panic!("{method} {path} is not in the authorization table: add it"),
        },
    }
}

#[tokio::test]
async fn every_route_refuses_exactly_the_callers_it_should() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Matrix").await;
    let (member, admin) = (app.user("Max").await, app.user("Ada").await);
    add(&app, &org, &owner.token, &member, None).await;
    add(
        &app,
        &org,
        &owner.token,
        &admin,
        Some(&uuid_of("role_admin")),
    )
    .await;
    let (_, stranger) = fa_org(&app, "Elsewhere").await;
    let doc = serde_json::to_value(roster_http::openapi()).unwrap();
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if roster_http::app::Dialect::of(path) != roster_http::app::Dialect::FastApi {
            continue;
        }
        for m in ops.as_object().unwrap().keys() {
            routes.push((m.to_uppercase(), path.clone()));
        }
    }
    assert!(routes.len() >= 30, "{routes:?}");
    routes.sort_by_key(|(m, p)| {
        (
            m == "DELETE" && p == "/api/v1/organizations/{organization_id}",
            p.clone(),
            m.clone(),
        )
    });
    let nil = "00000000-0000-0000-0000-000000000000";
    let callers: [(&str, Option<&str>, Option<Level>); 6] = [
        ("anonymous", None, None),
        (
            "stranger",
            Some(&stranger.token),
            Some(Level::Authenticated),
        ),
        ("member", Some(&member.token), Some(Level::Member)),
        ("admin", Some(&admin.token), Some(Level::Admin)),
        ("owner", Some(&owner.token), Some(Level::Owner)),
        ("platform", Some(PLATFORM_KEY), Some(Level::Owner)),
    ];
    let mut failures = Vec::new();
    for (method, path) in &routes {
        let need = requirement(method, path);
        let mut url = path
            .replace("{organization_id}", &org)
            .replace("{member_user_id}", "usr_nonexistent")
            .replace("{role_id}", nil)
            .replace("{project_id}", nil)
            .replace("{api_key_id}", nil);
        if url.starts_with("/api/v1/projects") || url.starts_with("/api/v1/api-keys") {
            url.push_str(&format!("?organization_id={org}"));
        }
        for (who, key, level) in &callers {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            let r = fa(&app, m, &url, *key, body).await;
            let should_pass = level.is_some_and(|l| l >= need);
            let refused = r.status == 401 || r.status == 403;
            if should_pass == refused || r.status >= 500 {
                failures.push(format!(
                    "{who:>9} {method} {url} -> {} {:?} (needs {need:?})",
                    r.status, r.body
                ));
            }
            let want = match level {
                None => "Not authenticated",
                Some(_) => "User does not have access to this resource",
            };
            if !should_pass && r.body["detail"] != json!(want) {
                failures.push(format!(
                    "{who:>9} {method} {url} -> {:?} instead of {want}",
                    r.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- tenant isolation: another organization's ids are 404 everywhere

/// The body a sweep request carries: valid in shape, naming the other
/// organization's ids where the route takes ids in its body.
fn sweep_bodies(method: &str, path: &str, ids: &SweepIds) -> Vec<Option<Value>> {
    let org = "/api/v1/organizations/{organization_id}";
    match (method, path.strip_prefix(org).unwrap_or(path)) {
        ("PUT", "/users") => vec![
            Some(json!([{"user_id": ids.own_member, "project_ids": [ids.project]}])),
            Some(json!([{"user_id": ids.own_member, "role_id": ids.role}])),
        ],
        ("PUT", "/users/remove") => vec![Some(json!([{"user_id": ids.member}]))],
        ("PUT", "/users/roles") => vec![
            Some(
                json!({"user_id": ids.own_member, "organization_id": ids.own_org, "role_id": ids.role}),
            ),
            Some(
                json!({"user_id": ids.member, "organization_id": ids.own_org, "role_id": uuid_of("role_admin")}),
            ),
        ],
        ("POST", "/api/v1/api-keys") => vec![Some(json!({"name": "k", "role_id": ids.role}))],
        ("PATCH" | "PUT", _) => vec![Some(json!({"name": "Renamed"}))],
        _ => vec![None],
    }
}

/// The other organization's ids (and a member of the caller's own).
struct SweepIds {
    own_org: String,
    own_member: String,
    member: String,
    role: String,
    project: String,
    key: String,
}

#[tokio::test]
async fn other_organizations_ids_are_404_on_every_route() {
    let app = TestApp::spawn().await;
    let (org, owner) = fa_org(&app, "Ours").await;
    let ada = app.user("Ada").await;
    add(&app, &org, &owner.token, &ada, None).await;
    let own_key = fa(
        &app,
        Method::POST,
        &format!("/api/v1/api-keys?organization_id={org}"),
        Some(&owner.token),
        Some(json!({"name": "ours"})),
    )
    .await;
    assert_eq!(own_key.status, 200, "{:?}", own_key.body);
    // The other organization, with a member, a custom role, a project, a key.
    let (theirs, their_owner) = fa_org(&app, "Theirs").await;
    let bob = app.user("Bob").await;
    add(&app, &theirs, &their_owner.token, &bob, None).await;
    let their_role = fa(
        &app,
        Method::POST,
        &format!("/api/v1/organizations/{theirs}/roles"),
        Some(&their_owner.token),
        Some(json!({"name": "Theirs only", "permissions": [{"name": "api.project.read", "access": true}]})),
    )
    .await;
    assert_eq!(their_role.status, 200, "{:?}", their_role.body);
    let their_project = fa_project(&app, &theirs, &their_owner.token, "Secret").await;
    let their_key = fa(
        &app,
        Method::POST,
        &format!("/api/v1/api-keys?organization_id={theirs}"),
        Some(&their_owner.token),
        Some(json!({"name": "theirs"})),
    )
    .await;
    assert_eq!(their_key.status, 200, "{:?}", their_key.body);
    let ids = SweepIds {
        own_org: org.clone(),
        own_member: ada.id.clone(),
        member: bob.id.clone(),
        role: their_role.body["id"].as_str().unwrap().to_owned(),
        project: their_project.clone(),
        key: their_key.body["id"].as_str().unwrap().to_owned(),
    };
    let rev = revision(&app).await;
    let doc = serde_json::to_value(roster_http::openapi()).unwrap();
    // The owner, an Owner key of the organization, and the platform key
    // (which sees every organization: it always names ours).
    let own_secret = own_key.body["api_key"].as_str().unwrap().to_owned();
    let callers = [
        ("owner", owner.token.as_str(), false),
        ("key", own_secret.as_str(), false),
        ("platform", PLATFORM_KEY, true),
    ];
    let mut failures = Vec::new();
    let mut swept = std::collections::BTreeSet::new();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if roster_http::app::Dialect::of(path) != roster_http::app::Dialect::FastApi {
            continue;
        }
        for (method, op) in ops.as_object().unwrap() {
            let method = method.to_uppercase();
            let takes = |name: &str| {
                op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == json!(name))
            };
            let bodies = sweep_bodies(&method, path, &ids);
            let names_ids = ["member_user_id", "role_id", "project_id", "api_key_id"]
                .iter()
                .any(|n| takes(n))
                || bodies.iter().flatten().any(|b| {
                    b.to_string().contains(&ids.member)
                        || b.to_string().contains(&ids.role)
                        || b.to_string().contains(&ids.project)
                });
            if !names_ids {
                continue;
            }
            swept.insert(format!("{method} {path}"));
            // Member ids: theirs, and (with other foreign ids) one of ours.
            let mut members = vec![ids.member.as_str()];
            if path.contains("{member_user_id}/")
                && (path.matches('{').count() > 2 || takes("project_id"))
            {
                members.push(ids.own_member.as_str());
            }
            for (who, token, platform) in &callers {
                for member in &members {
                    let base = path
                        .replace("{organization_id}", &org)
                        .replace("{member_user_id}", member)
                        .replace("{role_id}", &ids.role)
                        .replace("{project_id}", &ids.project)
                        .replace("{api_key_id}", &ids.key);
                    let mut queries = Vec::new();
                    let project_q = if takes("project_id") && !path.contains("{project_id}") {
                        format!("project_id={}", ids.project)
                    } else {
                        String::new()
                    };
                    if takes("organization_id") && !path.contains("{organization_id}") {
                        queries.push(format!("organization_id={org}"));
                        if !platform {
                            queries.push(String::new());
                        }
                    } else {
                        queries.push(String::new());
                    }
                    for q in queries {
                        let q = [q, project_q.clone()]
                            .into_iter()
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                            .join("&");
                        let url = if q.is_empty() {
                            base.clone()
                        } else {
                            format!("{base}?{q}")
                        };
                        for body in &bodies {
                            let m = Method::from_bytes(method.as_bytes()).unwrap();
                            let r = fa(&app, m, &url, Some(token), body.clone()).await;
                            checked += 1;
                            let ok = r.status == 404
                                && r.body["detail"].is_string()
                                && r.body["detail"] != json!("Not Found");
                            if !ok {
                                failures.push(format!(
                                    "{who:>8} {method} {url} {} -> {} {:?}",
                                    body.as_ref().map(Value::to_string).unwrap_or_default(),
                                    r.status,
                                    r.body
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} leaks or wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(swept.len() >= 17, "{swept:#?}");
    assert!(checked >= 80, "{checked}");
    assert_eq!(revision(&app).await, rev, "nothing was written");
    // The other organization itself is refused as a whole (not a member).
    for (method, url) in [
        ("GET", format!("/api/v1/organizations/{theirs}/users")),
        ("GET", format!("/api/v1/projects?organization_id={theirs}")),
        ("GET", format!("/api/v1/api-keys?organization_id={theirs}")),
        (
            "GET",
            format!("/api/v1/projects/{their_project}?organization_id={theirs}"),
        ),
    ] {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = fa(&app, m, &url, Some(&owner.token), None).await;
        assert_eq!(
            assert_detail(&r, 403),
            "User does not have access to this resource",
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_nul_character_in_a_body_is_refused() {
    let app = TestApp::spawn().await;
    let owner = app.user("Nul Owner").await;
    let r = fa(
        &app,
        Method::POST,
        "/api/v1/organizations",
        Some(&owner.token),
        Some(json!({"name": "Nul\u{0}Org"})),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["detail"][0]["type"], json!("string_nul"));
    assert_eq!(r.body["detail"][0]["loc"], json!(["body"]));
}
