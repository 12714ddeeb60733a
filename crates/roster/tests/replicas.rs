//! Two `roster serve` processes on one PostgreSQL database: a write through one
//! is seen by checks on the other, uniqueness and the last-owner rule hold
//! across them, and a restarted replica catches up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "rbk_replica_test_key";

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(db_url: &str) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database",
            db_url,
        ])
        .env("ROSTER_BOOTSTRAP_KEY", KEY)
        .env("ROSTER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "replica on {base} did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Replica { child, base }
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (u16, Value, Option<i64>) {
    let r = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .header("x-api-key", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let rev = r
        .headers()
        .get("roster-revision")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        rev,
    )
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value, Option<i64>) {
    call(base, reqwest::Method::POST, path, body).await
}

/// A fresh database on the test server, or `None` (with a message) when there is none.
async fn database() -> Option<(String, String)> {
    use sqlx::Connection;
    let admin = std::env::var("ROSTER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let required = std::env::var("ROSTER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let mut c = match sqlx::PgConnection::connect(&admin).await {
        Ok(c) => c,
        Err(e) if required => panic!("PostgreSQL required but unreachable at {admin}: {e}"),
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED the replica test: PostgreSQL unreachable at {admin} ({e})"
            );
            return None;
        }
    };
    let name = format!("roster_replicas_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').unwrap().0.to_owned();
    Some((format!("{base}/{name}"), name))
}

async fn drop_database(name: &str) {
    use sqlx::Connection;
    let admin = std::env::var("ROSTER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c)
            .await;
    }
}

async fn new_user(base: &str, name: &str) -> String {
    let (s, b, _) = post(
        base,
        "/v1/users",
        json!({"email": format!("{name}@example.test"), "full_name": name}),
    )
    .await;
    assert_eq!(s, 201, "{b:?}");
    b["id"].as_str().unwrap().to_owned()
}

async fn check(
    base: &str,
    org: &str,
    user: &str,
    perm: &str,
    at_least: Option<i64>,
) -> (u16, Value) {
    let mut body = json!({"user_id": user, "permission": perm});
    if let Some(r) = at_least {
        body["at_least_revision"] = json!(r);
    }
    let (s, b, _) = post(base, &format!("/v1/organizations/{org}/check"), body).await;
    (s, b)
}

#[tokio::test]
async fn two_replicas_share_one_database() {
    let Some((url, name)) = database().await else {
        return;
    };
    let a = start(&url).await;
    let mut b = start(&url).await;

    let owner = new_user(&a.base, "owner").await;
    let bob = new_user(&a.base, "bob").await;
    let (s, org, _) = post(
        &a.base,
        "/v1/organizations",
        json!({"name": "Acme", "type": "Work", "owner_user_id": owner}),
    )
    .await;
    assert_eq!(s, 201, "{org:?}");
    let org = org["id"].as_str().unwrap().to_owned();
    let (s, _, rev) = post(
        &a.base,
        &format!("/v1/organizations/{org}/members"),
        json!({"user_id": bob}),
    )
    .await;
    assert_eq!(s, 201);

    // with the write's revision, B answers from an index at least that fresh
    let (s, body) = check(&b.base, &org, &bob, "manage_users", rev).await;
    assert_eq!(s, 200, "{body:?}");
    assert_eq!(body["allowed"], json!(false));
    assert!(body["revision"].as_i64().unwrap() >= rev.unwrap());

    // a role change through A: visible on B with at_least_revision at once ...
    let (s, _, rev) = call(
        &a.base,
        reqwest::Method::PUT,
        &format!("/v1/organizations/{org}/users/{bob}"),
        json!({"role_id": "role_department_manager"}),
    )
    .await;
    assert_eq!(s, 200);
    let (_, body) = check(&b.base, &org, &bob, "manage_users", rev).await;
    assert_eq!(body["allowed"], json!(true), "{body:?}");

    // ... and without it, shortly (the follower's notification or poll)
    let (s, _, _) = call(
        &a.base,
        reqwest::Method::PUT,
        &format!("/v1/organizations/{org}/users/{bob}"),
        json!({"role_id": "role_member"}),
    )
    .await;
    assert_eq!(s, 200);
    let started = Instant::now();
    loop {
        let (_, body) = check(&b.base, &org, &bob, "manage_users", None).await;
        if body["allowed"] == json!(false) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "replica B never saw the change"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // the same membership added through both replicas at once: one 201, one 409
    let carol = new_user(&a.base, "carol").await;
    let path = format!("/v1/organizations/{org}/members");
    let (ra, rb) = tokio::join!(
        post(&a.base, &path, json!({"user_id": carol})),
        post(&b.base, &path, json!({"user_id": carol}))
    );
    let mut codes = [ra.0, rb.0];
    codes.sort();
    assert_eq!(codes, [201, 409], "{ra:?} {rb:?}");

    // the last owner of an ownerless org cannot be removed by two concurrent demotions
    let (_, org2, _) = post(
        &a.base,
        "/v1/organizations",
        json!({"name": "Blue", "type": "Work"}),
    )
    .await;
    let org2 = org2["id"].as_str().unwrap().to_owned();
    let (u1, u2) = (new_user(&a.base, "u1").await, new_user(&a.base, "u2").await);
    for u in [&u1, &u2] {
        let (s, _, _) = post(
            &a.base,
            &format!("/v1/organizations/{org2}/members"),
            json!({"user_id": u, "role_id": "role_owner"}),
        )
        .await;
        assert_eq!(s, 201);
    }
    let put = |base: String, u: String| {
        let org2 = org2.clone();
        async move {
            call(
                &base,
                reqwest::Method::PUT,
                &format!("/v1/organizations/{org2}/users/{u}"),
                json!({"role_id": "role_member"}),
            )
            .await
        }
    };
    let (ra, rb) = tokio::join!(
        put(a.base.clone(), u1.clone()),
        put(b.base.clone(), u2.clone())
    );
    let mut codes = [ra.0, rb.0];
    codes.sort();
    assert_eq!(codes, [200, 422], "{ra:?} {rb:?}");

    // a key in use on B stops there soon after A deletes it (the change feed
    // tells B to forget the credentials it remembered)
    let (s, key, _) = post(
        &a.base,
        &format!("/v1/organizations/{org}/api-keys"),
        json!({"key_name": "replicated"}),
    )
    .await;
    assert_eq!(s, 201, "{key:?}");
    let secret = key["key"].as_str().unwrap().to_owned();
    let key_id = key["id"].as_str().unwrap().to_owned();
    let get_with = |base: String, secret: String, org: String| async move {
        reqwest::Client::new()
            .get(format!("{base}/v1/organizations/{org}"))
            .header("x-api-key", secret)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        get_with(b.base.clone(), secret.clone(), org.clone()).await,
        200
    );
    let (s, _, _) = call(
        &a.base,
        reqwest::Method::DELETE,
        &format!("/v1/organizations/{org}/api-keys/{key_id}"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let started = Instant::now();
    while get_with(b.base.clone(), secret.clone(), org.clone()).await != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the deleted key still works on replica B"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // a write that touches no organization (a new user) still advances the
    // revision on both replicas: a check waiting for it answers at once
    let (s, _, rev) = post(
        &a.base,
        "/v1/users",
        json!({"email": "erin@example.test", "full_name": "erin"}),
    )
    .await;
    assert_eq!(s, 201);
    for base in [&a.base, &b.base] {
        let started = Instant::now();
        let (s, body) = check(base, &org, &bob, "manage_users", rev).await;
        assert_eq!(s, 200, "{body:?}");
        assert!(body["revision"].as_i64().unwrap() >= rev.unwrap());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a check waited {:?} for a user-only write's revision",
            started.elapsed()
        );
    }

    // a restarted replica starts from the database and misses nothing
    let (s, _, before) = post(
        &a.base,
        &format!("/v1/organizations/{org}/members"),
        json!({"user_id": new_user(&a.base, "dora").await}),
    )
    .await;
    assert_eq!(s, 201);
    drop(b);
    let dave = new_user(&a.base, "dave").await;
    let (s, _, rev) = post(
        &a.base,
        &format!("/v1/organizations/{org}/members"),
        json!({"user_id": dave, "role_id": "role_admin"}),
    )
    .await;
    assert_eq!(s, 201);
    // both writes carry their revision, so the comparison cannot pass on a missing header
    assert!(rev.unwrap() > before.unwrap());
    b = start(&url).await;
    let (_, body) = check(&b.base, &org, &dave, "manage_roles", rev).await;
    assert_eq!(body["allowed"], json!(true), "{body:?}");
    drop(a);
    drop(b);
    drop_database(&name).await;
}
