//! `Store::import_dir`: small hand-written import directories, the rows they
//! become, the id map, and refusals that name FILE:LINE and write nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use roster_core::*;
use roster_store::import::{ImportError, ImportReport, Quiet};
use roster_store::{Ctx, Store};
use sqlx::Row;
use std::path::Path;

/// A valid directory: two organizations, three users, a department tree
/// (eng > backend) with a role bound to the root, and members using them.
const FIXTURE: [(&str, &str); 6] = [
    (
        "orgs.jsonl",
        r#"{"id":"org_a","name":"Acme"}
{"id":"org_b","name":"Blue"}
"#,
    ),
    (
        "users.jsonl",
        r#"{"id":"usr_1","email":"Ada@Example.test","name":"Ada Adams"}
{"id":"usr_2","email":"ben@example.test","name":"Ben Baker"}
{"id":"usr_3","email":"chloe@example.test"}
"#,
    ),
    (
        "permissions.jsonl",
        r#"{"name":"doc.read"}
{"name":"doc.write","description":"Edit documents"}

{"name":"bill.view"}
"#,
    ),
    (
        "roles.jsonl",
        r#"{"id":"role_r1","org_id":"org_a","name":"Reader","permissions":["doc.read"]}
{"id":"role_r2","org_id":"org_a","name":"Writer","permissions":["doc.read","doc.write"]}
{"id":"role_r3","org_id":"org_b","name":"Billing","permissions":["bill.view","manage_billing"]}
"#,
    ),
    (
        "departments.jsonl",
        r#"{"id":"dept_eng","org_id":"org_a","name":"Engineering","parent_id":null,"roles":["role_r2"]}
{"id":"dept_be","org_id":"org_a","name":"Backend","parent_id":"dept_eng","roles":[]}
{"id":"dept_fin","org_id":"org_b","name":"Finance","parent_id":null,"roles":[]}
"#,
    ),
    (
        "members.jsonl",
        r#"{"org_id":"org_a","user_id":"usr_1","roles":["role_r1"],"departments":["dept_be"]}
{"org_id":"org_a","user_id":"usr_2","roles":["role_r1"],"departments":[]}
{"org_id":"org_b","user_id":"usr_2","roles":["role_r3"],"departments":["dept_fin"]}
{"org_id":"org_b","user_id":"usr_3","roles":[],"departments":[]}
"#,
    ),
];

fn write_dir(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// The fixture with one file replaced.
fn fixture_with(file: &str, text: &str) -> Vec<(&'static str, String)> {
    FIXTURE
        .iter()
        .map(|(n, t)| {
            (
                *n,
                if *n == file {
                    text.to_owned()
                } else {
                    (*t).to_owned()
                },
            )
        })
        .collect()
}

struct Env {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Store,
}

async fn env(files: &[(&str, &str)]) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir(&dir).unwrap();
    write_dir(&dir, files);
    let url = format!("sqlite://{}", tmp.path().join("r.db").display());
    let store = Store::open(&url).await.unwrap();
    Env {
        _tmp: tmp,
        dir,
        store,
    }
}

async fn import(e: &Env) -> Result<ImportReport, ImportError> {
    let ctx = Ctx {
        actor: Actor::Platform,
        trace_id: "test-import".into(),
    };
    let platform = authorize_platform(&ctx.actor).unwrap();
    e.store.import_dir(&ctx, &platform, &e.dir, &Quiet).await
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

async fn one_string(store: &Store, sql: &str, bind: &str) -> String {
    sqlx::query(sql)
        .bind(bind.to_owned())
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<String, _>(0)
        .unwrap()
}

/// Every table the import writes is empty, and no revision was taken.
async fn assert_nothing_imported(store: &Store) {
    for table in [
        "organizations",
        "users",
        "permissions",
        "roles",
        "role_grants",
        "departments",
        "memberships",
        "role_assignments",
        "department_members",
        "audit_events",
        "changes",
    ] {
        assert_eq!(
            count(store, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table} must stay empty"
        );
    }
    assert_eq!(count(store, "SELECT revision FROM meta").await, 0);
}

fn id_of(report: &ImportReport, kind: &str, ext: &str) -> String {
    report
        .id_map
        .iter()
        .find(|e| e.kind == kind && e.external_id == ext)
        .unwrap_or_else(|| panic!("{kind} {ext} missing from the id map"))
        .id
        .clone()
}

#[tokio::test]
async fn fixture_import_writes_every_relation() {
    let e = env(&FIXTURE).await;
    let r = import(&e).await.unwrap();
    assert_eq!(
        (
            r.organizations,
            r.users,
            r.permissions,
            r.roles,
            r.role_grants
        ),
        (2, 3, 3, 3, 5)
    );
    assert_eq!(
        (r.departments, r.memberships, r.department_members),
        (3, 4, 2)
    );
    // 4 primary Member roles + 3 extra member roles + 1 department binding.
    assert_eq!(r.role_assignments, 8);
    assert_eq!(r.revision, 1);
    let s = &e.store;

    // Organizations: platform-created, ownerless, file id kept.
    let org_a = OrgId::parse(&id_of(&r, "organization", "org_a")).unwrap();
    let row = sqlx::query(
        "SELECT name, owner_id, external_id, org_type FROM organizations WHERE id = $1",
    )
    .bind(org_a.uuid().to_string())
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert_eq!(row.try_get::<String, _>("name").unwrap(), "Acme");
    assert_eq!(row.try_get::<Option<String>, _>("owner_id").unwrap(), None);
    assert_eq!(row.try_get::<String, _>("external_id").unwrap(), "org_a");
    assert_eq!(row.try_get::<String, _>("org_type").unwrap(), "Work");

    // Users: email kept as given, compared lowercased; name optional.
    let u1 = UserId::parse(&id_of(&r, "user", "usr_1")).unwrap();
    let u2 = UserId::parse(&id_of(&r, "user", "usr_2")).unwrap();
    let u3 = UserId::parse(&id_of(&r, "user", "usr_3")).unwrap();
    assert_eq!(
        one_string(
            s,
            "SELECT email_key FROM users WHERE external_id = $1",
            "usr_1"
        )
        .await,
        "ada@example.test"
    );
    assert_eq!(
        one_string(
            s,
            "SELECT full_name FROM users WHERE external_id = $1",
            "usr_1"
        )
        .await,
        "Ada Adams"
    );
    assert_eq!(
        count(
            s,
            "SELECT COUNT(*) FROM users WHERE external_id = 'usr_3' AND full_name IS NULL"
        )
        .await,
        1
    );

    // Deployment-wide permission keys.
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM permissions WHERE org_id = '' AND perm_key IN ('doc.read', 'doc.write', 'bill.view')").await,
        3
    );
    assert_eq!(
        one_string(
            s,
            "SELECT description FROM permissions WHERE perm_key = $1",
            "doc.write"
        )
        .await,
        "Edit documents"
    );

    // Custom organization roles with allow grants.
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM roles WHERE resource_type = 'organization' AND external_id IS NOT NULL").await,
        3
    );
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM role_grants g JOIN roles r ON r.id = g.role_id WHERE r.external_id = 'role_r2' AND g.effect = 'allow'").await,
        2
    );

    // Departments: a forest with materialised paths of UUIDs, roots at depth 0.
    let eng = DeptId::parse(&id_of(&r, "department", "dept_eng")).unwrap();
    let be = DeptId::parse(&id_of(&r, "department", "dept_be")).unwrap();
    let row =
        sqlx::query("SELECT parent_id, path, depth FROM departments WHERE external_id = 'dept_be'")
            .fetch_one(s.pool())
            .await
            .unwrap();
    assert_eq!(
        row.try_get::<Option<String>, _>("parent_id").unwrap(),
        Some(eng.uuid().to_string())
    );
    assert_eq!(
        row.try_get::<String, _>("path").unwrap(),
        format!("/{}/{}", eng.uuid(), be.uuid())
    );
    assert_eq!(row.try_get::<i64, _>("depth").unwrap(), 1);
    assert_eq!(
        one_string(
            s,
            "SELECT path FROM departments WHERE external_id = $1",
            "dept_eng"
        )
        .await,
        format!("/{}", eng.uuid())
    );
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM role_assignments WHERE principal_type = 'department' AND scope_type = 'organization' AND scope_id = '' AND is_primary = FALSE").await,
        1
    );

    // Memberships: active, primary Member role, extra roles, department members.
    assert_eq!(
        count(
            s,
            "SELECT COUNT(*) FROM memberships WHERE status = 'active' AND deleted_at IS NULL"
        )
        .await,
        4
    );
    let primary = sqlx::query(
        "SELECT role_id FROM role_assignments WHERE principal_type = 'user' AND is_primary = TRUE",
    )
    .fetch_all(s.pool())
    .await
    .unwrap();
    assert_eq!(primary.len(), 4);
    for row in primary {
        assert_eq!(
            row.try_get::<String, _>("role_id").unwrap(),
            SystemRole::Member.id().uuid().to_string()
        );
    }
    assert_eq!(
        count(s, "SELECT COUNT(*) FROM role_assignments WHERE principal_type = 'user' AND is_primary = FALSE").await,
        3
    );
    assert_eq!(count(s, "SELECT COUNT(*) FROM department_members").await, 2);

    // One audit event, by the platform.
    let row = sqlx::query("SELECT action, actor, org_id, after_json FROM audit_events")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(
        row.try_get::<String, _>("action").unwrap(),
        "import.completed"
    );
    assert_eq!(row.try_get::<String, _>("actor").unwrap(), "platform");
    assert_eq!(row.try_get::<Option<String>, _>("org_id").unwrap(), None);
    let after: serde_json::Value =
        serde_json::from_str(&row.try_get::<String, _>("after_json").unwrap()).unwrap();
    assert_eq!(after["memberships"], 4);
    assert_eq!(after["role_assignments"], 8);

    // The running index knows the imported organizations right away: a role
    // bound to Engineering reaches a member of its sub-department Backend.
    let snap = s.index().load_full();
    let a = snap.org(org_a).expect("org_a in the index");
    assert!(
        a.allowed(u1, "doc.write", Scope::Organization),
        "inherited from dept_eng"
    );
    assert!(a.allowed(u1, "doc.read", Scope::Organization));
    assert!(a.allowed(u2, "doc.read", Scope::Organization));
    assert!(!a.allowed(u2, "doc.write", Scope::Organization));
    assert!(
        !a.allowed(u3, "doc.read", Scope::Organization),
        "not a member of org_a"
    );
    let org_b = OrgId::parse(&id_of(&r, "organization", "org_b")).unwrap();
    let b = snap.org(org_b).expect("org_b in the index");
    assert!(b.allowed(u2, "bill.view", Scope::Organization));
    assert!(
        !b.allowed(u2, "doc.read", Scope::Organization),
        "roles of org_a do not count in org_b"
    );
}

#[tokio::test]
async fn id_map_names_every_record_in_typeid_spelling() {
    let e = env(&FIXTURE).await;
    let r = import(&e).await.unwrap();
    let mut out = Vec::new();
    r.write_id_map(&mut out).unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        2 + 3 + 3 + 3,
        "orgs, users, roles, departments"
    );
    assert_eq!(
        lines[0],
        serde_json::json!({"kind": "organization", "external_id": "org_a", "id": lines[0]["id"]})
    );
    for l in &lines {
        let (kind, ext, id) = (
            l["kind"].as_str().unwrap(),
            l["external_id"].as_str().unwrap(),
            l["id"].as_str().unwrap(),
        );
        let (uuid, table) = match kind {
            "organization" => (OrgId::parse(id).unwrap().uuid(), "organizations"),
            "user" => (UserId::parse(id).unwrap().uuid(), "users"),
            "role" => (RoleId::parse(id).unwrap().uuid(), "roles"),
            "department" => (DeptId::parse(id).unwrap().uuid(), "departments"),
            other => panic!("unexpected kind {other}"),
        };
        assert_eq!(
            one_string(
                &e.store,
                &format!("SELECT external_id FROM {table} WHERE id = $1"),
                &uuid.to_string()
            )
            .await,
            ext,
            "{id} is the row imported from {ext}"
        );
    }
}

/// Each case breaks one file of the fixture; the refusal names the file and
/// line, and the database stays empty.
#[tokio::test]
async fn bad_input_is_refused_with_file_and_line_and_writes_nothing() {
    let members_with = |line3: &str| {
        format!(
            "{}\n{}\n{line3}\n",
            r#"{"org_id":"org_a","user_id":"usr_1","roles":["role_r1"],"departments":[]}"#,
            r#"{"org_id":"org_a","user_id":"usr_2","roles":[],"departments":[]}"#
        )
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "members.jsonl",
            members_with(r#"{"org_id":"org_b","user_id":"usr_3","roles":["role_r9"]}"#),
            r#"members.jsonl:3: unknown role "role_r9""#,
        ),
        (
            "members.jsonl",
            members_with(r#"{"org_id":"org_b","user_id":"usr_3","roles":[}"#),
            "members.jsonl:3: expected value",
        ),
        (
            "members.jsonl",
            members_with(r#"{"org_id":"org_b","roles":[]}"#),
            "members.jsonl:3: missing field `user_id`",
        ),
        (
            "members.jsonl",
            members_with(r#"{"org_id":"org_a","user_id":"usr_1"}"#),
            r#"members.jsonl:3: user "usr_1" is listed twice in organization "org_a""#,
        ),
        (
            "members.jsonl",
            members_with(r#"{"org_id":"org_z","user_id":"usr_3"}"#),
            r#"members.jsonl:3: unknown organization "org_z""#,
        ),
        (
            "members.jsonl",
            members_with(r#"{"org_id":"org_b","user_id":"usr_9"}"#),
            r#"members.jsonl:3: unknown user "usr_9""#,
        ),
        (
            "members.jsonl",
            members_with(r#"{"org_id":"org_b","user_id":"usr_3","departments":["dept_nope"]}"#),
            r#"members.jsonl:3: unknown department "dept_nope""#,
        ),
        (
            "users.jsonl",
            "{\"id\":\"usr_1\",\"email\":\"a@example.test\"}\n{\"id\":\"usr_1\",\"email\":\"b@example.test\"}\n".into(),
            r#"users.jsonl:2: duplicate user id "usr_1""#,
        ),
        (
            "users.jsonl",
            "{\"id\":\"usr_1\",\"email\":\"a@example.test\"}\n{\"id\":\"usr_2\",\"email\":\"A@example.test\"}\n".into(),
            r#"users.jsonl:2: email "A@example.test" is already taken"#,
        ),
        (
            "users.jsonl",
            "{\"id\":\"usr_1\",\"email\":\"not-an-email\"}\n".into(),
            "users.jsonl:1: email: must be a valid email address",
        ),
        (
            "orgs.jsonl",
            "{\"id\":\"org_a\",\"name\":\"Acme\",\"owner\":\"usr_1\"}\n".into(),
            "orgs.jsonl:1: unknown field `owner`",
        ),
        (
            "roles.jsonl",
            "{\"id\":\"role_r1\",\"org_id\":\"org_a\",\"name\":\"Reader\",\"permissions\":[\"doc.delete\"]}\n".into(),
            r#"roles.jsonl:1: unknown permission "doc.delete""#,
        ),
        (
            "departments.jsonl",
            "{\"id\":\"dept_be\",\"org_id\":\"org_a\",\"name\":\"Backend\",\"parent_id\":\"dept_eng\"}\n{\"id\":\"dept_eng\",\"org_id\":\"org_a\",\"name\":\"Engineering\"}\n".into(),
            r#"departments.jsonl:1: unknown parent department "dept_eng""#,
        ),
    ];
    for (file, text, want) in cases {
        let files = fixture_with(file, &text);
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let e = env(&files).await;
        let err = import(&e).await.expect_err(want).to_string();
        assert!(
            err.starts_with(want),
            "got {err:?}, want it to start with {want:?}"
        );
        assert_nothing_imported(&e.store).await;
    }
}

#[tokio::test]
async fn a_role_of_another_organization_is_refused() {
    // role_r3 belongs to org_b: neither a member of org_a nor a department of
    // org_a may hold it.
    let members = fixture_with(
        "members.jsonl",
        "{\"org_id\":\"org_a\",\"user_id\":\"usr_1\",\"roles\":[\"role_r1\"]}\n{\"org_id\":\"org_a\",\"user_id\":\"usr_2\",\"roles\":[\"role_r3\"]}\n",
    );
    let depts = fixture_with(
        "departments.jsonl",
        "{\"id\":\"dept_eng\",\"org_id\":\"org_a\",\"name\":\"Engineering\",\"parent_id\":null,\"roles\":[\"role_r3\"]}\n",
    );
    for (files, want) in [
        (
            members,
            r#"members.jsonl:2: role "role_r3" belongs to organization "org_b", not "org_a""#,
        ),
        (
            depts,
            r#"departments.jsonl:1: role "role_r3" belongs to organization "org_b", not "org_a""#,
        ),
    ] {
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let e = env(&files).await;
        let err = import(&e).await.expect_err(want).to_string();
        assert_eq!(err, want);
        assert_nothing_imported(&e.store).await;
    }
}

#[tokio::test]
async fn importing_the_same_directory_twice_is_refused() {
    let e = env(&FIXTURE).await;
    import(&e).await.unwrap();
    let err = import(&e).await.expect_err("second import").to_string();
    assert_eq!(
        err,
        r#"orgs.jsonl:1: organization "org_a" was imported before"#
    );
    assert_eq!(
        count(&e.store, "SELECT COUNT(*) FROM organizations").await,
        2
    );
    assert_eq!(count(&e.store, "SELECT revision FROM meta").await, 1);
}

#[tokio::test]
async fn a_missing_file_is_refused_before_reading_anything() {
    let files: Vec<(&str, &str)> = FIXTURE
        .iter()
        .copied()
        .filter(|(n, _)| *n != "roles.jsonl")
        .collect();
    let e = env(&files).await;
    let err = import(&e)
        .await
        .expect_err("roles.jsonl is missing")
        .to_string();
    assert!(err.contains("roles.jsonl: missing"), "{err}");
    assert_nothing_imported(&e.store).await;
}
