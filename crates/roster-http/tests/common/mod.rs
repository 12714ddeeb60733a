//! The test harness: every test gets its own SQLite file and a server on a
//! random port, and talks to it over real HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use reqwest::{Client, Method};
use serde_json::{json, Value};

pub const PLATFORM_KEY: &str = "rbk_test_platform_key";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: roster_store::Store,
    _dir: tempfile::TempDir,
    pg: Option<PgDb>,
}

/// A throwaway PostgreSQL database, dropped with the test.
struct PgDb {
    admin_url: String,
    name: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(db) = self.pg.take() {
            // Drop runs outside async; use a small runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&db.admin_url).await {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                            db.name
                        ))
                        .execute(&mut c)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Test binaries named `pg_*` run their tests on PostgreSQL. Without a
/// reachable server they fall back to SQLite and say so, unless
/// `ROSTER_REQUIRE_POSTGRES=1` (set by CI), which makes that a failure.
fn wants_postgres() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|p| {
            p.file_name()
                .map(|f| f.to_string_lossy().starts_with("pg_"))
        })
        .unwrap_or(false)
}

pub fn postgres_admin_url() -> String {
    std::env::var("ROSTER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn create_pg_db() -> Option<(String, PgDb)> {
    use sqlx::Connection;
    let admin_url = postgres_admin_url();
    let required = std::env::var("ROSTER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let mut c = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) if required => panic!("PostgreSQL is required (ROSTER_REQUIRE_POSTGRES=1) but {admin_url} is unreachable: {e}"),
        Err(e) => {
            use std::io::Write;
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                let _ = writeln!(std::io::stderr(), "SKIPPED the PostgreSQL run ({admin_url} unreachable: {e}); these tests ran on SQLite. Set ROSTER_TEST_POSTGRES_URL to enable it.");
            });
            return None;
        }
    };
    let name = format!("roster_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin_url.clone());
    Some((format!("{base}/{name}"), PgDb { admin_url, name }))
}

/// A response: status code and parsed JSON body (`Value::Null` when empty).
#[derive(Debug, Clone)]
pub struct Res {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Res {
    /// The `error.code` of an envelope.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A response's status, headers and body (JSON, else the text as a string,
/// `Value::Null` when empty).
pub async fn into_res(res: reqwest::Response) -> Res {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Res {
        status,
        body,
        headers,
    }
}

/// A user who can sign in, with a session token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub token: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        // Server logs (warnings and errors) go to the test's captured output,
        // shown when a test fails: an unexpected 500 then says why.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,sqlx=error"))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let mut url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let mut pg = None;
        if wants_postgres() {
            if let Some((u, db)) = create_pg_db().await {
                url = u;
                pg = Some(db);
            }
        }
        let store = roster_store::Store::open(&url).await.unwrap();
        let app = roster_http::App::new(
            store.clone(),
            &roster_http::Config {
                bootstrap_key: Some(PLATFORM_KEY.into()),
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, roster_http::router(app))
                .await
                .unwrap();
        });
        TestApp {
            base: format!("http://{addr}"),
            client: Client::new(),
            store,
            _dir: dir,
            pg,
        }
    }

    /// Sends a request with `key` as `X-API-Key` (None: no credential).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        into_res(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Res {
        self.call(Method::GET, path, Some(key), None).await
    }
    pub async fn post(&self, path: &str, key: &str, body: Value) -> Res {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }
    pub async fn put(&self, path: &str, key: &str, body: Value) -> Res {
        self.call(Method::PUT, path, Some(key), Some(body)).await
    }
    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Res {
        self.call(Method::PATCH, path, Some(key), Some(body)).await
    }
    pub async fn delete(&self, path: &str, key: &str) -> Res {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// Creates a user with a password and signs them in.
    pub async fn user(&self, name: &str) -> TestUser {
        let email = format!("{}@example.test", name.to_lowercase().replace(' ', "."));
        let r = self
            .post(
                "/v1/users",
                PLATFORM_KEY,
                json!({"email": email, "full_name": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .call(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": email, "password": "correct horse"})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        TestUser {
            id,
            email,
            token: r.body["access_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an organization owned by a new user; returns (org id, owner).
    pub async fn org(&self, name: &str) -> (String, TestUser) {
        let owner = self.user(&format!("{name} Owner")).await;
        let r = self
            .post(
                "/v1/organizations",
                &owner.token,
                json!({"name": name, "type": "Work"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        (r.body["id"].as_str().unwrap().to_owned(), owner)
    }

    /// Adds a new user to `org` with `role_id` (e.g. "role_member") and returns them.
    pub async fn member(&self, org: &str, name: &str, role_id: &str) -> TestUser {
        let u = self.user(name).await;
        let r = self
            .post(
                &format!("/v1/organizations/{org}/members"),
                PLATFORM_KEY,
                json!({"user_id": u.id, "role_id": role_id}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        u
    }
}

/// Asserts the organization API's error envelope and returns its `error` object.
pub fn assert_envelope(r: &Res, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body["success"], json!(false), "{:?}", r.body);
    let e = &r.body["error"];
    assert_eq!(e["code"], json!(code), "{:?}", r.body);
    assert_eq!(e["status"], json!(status));
    for k in [
        "message",
        "system_message",
        "type",
        "details",
        "trace_id",
        "timestamp",
    ] {
        assert!(e.get(k).is_some(), "missing error.{k}: {:?}", r.body);
    }
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 8, "exactly the eight envelope keys: {keys:?}");
    e.clone()
}

// --- Store-level helpers for suites that drive the store directly (as the
// platform), beside the HTTP calls above.

/// A write context acting as the platform.
pub fn ctx() -> roster_store::Ctx {
    roster_store::Ctx {
        actor: roster_core::Actor::Platform,
        trace_id: "test".to_owned(),
    }
}

/// The platform's authorization for `N` in `org` (an `org_...` id).
pub fn access<N: roster_core::Need>(app: &TestApp, org: &str) -> roster_core::OrgAccess<N> {
    roster_core::authorize::<N>(
        &app.store.index().load(),
        &roster_core::Actor::Platform,
        org.parse().unwrap(),
    )
    .unwrap()
}

/// Creates a project named `name` in `org` through the store.
pub async fn project(app: &TestApp, org: &str, name: &str) -> roster_core::ProjectId {
    app.store
        .create_project(
            &ctx(),
            &access::<roster_core::access::need::ManageProjects>(app, org),
            roster_store::projects::NewProject {
                name: name.to_owned(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .value
        .id
}

// --- The escalation rule and soft-deleted memberships, over HTTP.

/// Creates a custom organization role named `name` as `token` and returns its id.
pub async fn custom_role(app: &TestApp, org: &str, token: &str, name: &str, body: Value) -> String {
    let mut body = body;
    body["name"] = json!(name);
    let r = app
        .post(&format!("/v1/organizations/{org}/roles"), token, body)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// A new member of `org` whose primary role is a custom role holding
/// exactly `capabilities` (named `role`, created with `token`).
#[allow(dead_code)]
pub async fn member_holding(
    app: &TestApp,
    org: &str,
    token: &str,
    role: &str,
    capabilities: &[&str],
    name: &str,
) -> TestUser {
    let role = custom_role(app, org, token, role, json!({"capabilities": capabilities})).await;
    app.member(org, name, &role).await
}

/// The `details.capabilities` of a 403 escalation refusal (organization API).
pub fn refused_escalation(r: &Res) -> Vec<String> {
    let e = assert_envelope(r, 403, "INSUFFICIENT_PERMISSIONS");
    assert_eq!(e["type"], json!("authorization_error"));
    e["details"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that `missing` (an escalation refusal's keys) lists each of `keys`.
pub fn assert_lists(missing: &[String], keys: &[&str]) {
    for key in keys {
        assert!(missing.iter().any(|m| m == key), "{key} not in {missing:?}");
    }
}

/// What the check endpoint answers for `user` and `perm` at organization scope.
pub async fn check_allowed(app: &TestApp, org: &str, user: &str, perm: &str) -> bool {
    let r = app
        .post(
            &format!("/v1/organizations/{org}/check"),
            PLATFORM_KEY,
            json!({"user_id": user, "permission": perm}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["allowed"].as_bool().unwrap()
}

/// Soft-deletes `user`'s membership as `token`.
pub async fn remove_from_org(app: &TestApp, org: &str, token: &str, user: &str) -> Res {
    app.delete(
        &format!("/v1/organizations/{org}/users/{user}/delete"),
        token,
    )
    .await
}

pub async fn restore(app: &TestApp, org: &str, token: &str, user: &str) -> Res {
    app.post(
        &format!("/v1/organizations/{org}/users/{user}/restore"),
        token,
        json!({}),
    )
    .await
}

/// Whether `user`'s membership of `org` is soft-deleted, in the database.
pub async fn stored_deleted(app: &TestApp, org: &str, user: &str) -> bool {
    let org = roster_core::OrgId::parse(org).unwrap().uuid().to_string();
    let user = roster_core::UserId::parse(user).unwrap().uuid().to_string();
    let n = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND user_id = $2 AND deleted_at IS NOT NULL",
    )
    .bind(org)
    .bind(user)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    n == 1
}

/// Whether the API shows `user` as a deleted member of `org`.
pub async fn shown_deleted(app: &TestApp, org: &str, token: &str, user: &str) -> bool {
    let r = app
        .get(&format!("/v1/organizations/{org}/users/{user}"), token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["is_deleted"] == json!(true)
}

/// Assigns organization role `role` to `user` through the organization API.
pub async fn assign_org_role(app: &TestApp, org: &str, token: &str, role: &str, user: &str) {
    let r = app
        .post(
            &format!("/v1/organizations/{org}/roles/{role}/members"),
            token,
            json!({"user_id": user}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

/// Creates a group holding `role` at organization scope, as the platform
/// (groups are shown by the admin API; the store is the same).
pub async fn group_holding(
    app: &TestApp,
    org: &str,
    name: &str,
    role: &str,
) -> roster_core::GroupId {
    use roster_core::access::need;
    let g = app
        .store
        .create_group(&ctx(), &access::<need::ManageGroups>(app, org), name)
        .await
        .unwrap()
        .value
        .id;
    app.store
        .assign(
            &ctx(),
            &access::<need::AssignRoles>(app, org),
            roster_core::Principal::Group(g),
            roster_core::RoleId::parse(role).unwrap(),
            roster_core::Scope::Organization,
        )
        .await
        .unwrap();
    g
}

/// Puts `user` in a new group holding `role` at organization scope, as the platform.
pub async fn in_group_holding(app: &TestApp, org: &str, name: &str, role: &str, user: &str) {
    use roster_core::access::need;
    let g = group_holding(app, org, name, role).await;
    app.store
        .add_group_member(
            &ctx(),
            &access::<need::ManageGroups>(app, org),
            g,
            user.parse().unwrap(),
        )
        .await
        .unwrap();
}

/// The group rows of `user` in the database, live membership or not.
pub async fn stored_groups_of(app: &TestApp, user: &str) -> i64 {
    let uid = roster_core::UserId::parse(user).unwrap().uuid().to_string();
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM group_members WHERE user_id = $1")
        .bind(uid)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}
