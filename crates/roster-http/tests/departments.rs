// Departments — spec §5 cases 26–52, seed 004, and department role bindings.

mod common;
use common::*;
use serde_json::{json, Value};

/// Test helpers (outside `#[test]` functions, so unwrap needs allowing here).
mod helpers {
    #![allow(clippy::unwrap_used)]
    use super::common::*;
    use roster_core::{OrgId, Scope, UserId};
    use serde_json::{json, Value};

    /// A user without a password (cheap: no password hashing), not in any organization.
    pub async fn outsider(app: &TestApp, name: &str) -> String {
        let email = format!("{}@example.test", name.to_lowercase().replace(' ', "."));
        let r = app
            .post(
                "/v1/users",
                PLATFORM_KEY,
                json!({"email": email, "full_name": name}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// A user added to `org` as a plain Member, who never signs in.
    pub async fn staff(app: &TestApp, org: &str, name: &str) -> String {
        let id = outsider(app, name).await;
        let r = app
            .post(
                &format!("/v1/organizations/{org}/members"),
                PLATFORM_KEY,
                json!({"user_id": id, "role_id": "role_member"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        id
    }

    pub fn depts(org: &str) -> String {
        format!("/v1/organizations/{org}/departments")
    }

    /// Creates a department (201) and returns its body.
    pub async fn create(
        app: &TestApp,
        org: &str,
        token: &str,
        name: &str,
        parent: Option<&str>,
    ) -> Value {
        let r = app
            .post(
                &depts(org),
                token,
                json!({"name": name, "parent_id": parent}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_dept_shape(&r.body);
        r.body
    }

    pub fn id_of(v: &Value) -> String {
        v["id"].as_str().unwrap().to_owned()
    }

    /// Exactly the Department object's keys, with their types.
    pub fn assert_dept_shape(d: &Value) {
        let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            vec![
                "color",
                "created_at",
                "created_by",
                "depth",
                "description",
                "id",
                "is_active",
                "is_default",
                "member_count",
                "name",
                "organization_id",
                "parent_id",
                "path",
                "updated_at"
            ],
            "{d:?}"
        );
        assert!(d["id"].as_str().unwrap().starts_with("dept_"));
        assert!(d["depth"].is_i64() && d["member_count"].is_i64());
        assert_eq!(d["is_active"], json!(true));
        assert_eq!(d["is_default"], json!(false));
        assert!(d["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(d["updated_at"].is_string());
    }

    pub async fn get_dept(app: &TestApp, org: &str, token: &str, dept: &str) -> Value {
        let r = app.get(&format!("{}/{dept}", depts(org)), token).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    }

    pub async fn add_member(app: &TestApp, org: &str, token: &str, dept: &str, user: &str) -> Res {
        app.post(
            &format!("{}/{dept}/members", depts(org)),
            token,
            json!({"user_id": user}),
        )
        .await
    }

    pub async fn member_ids(app: &TestApp, org: &str, token: &str, dept: &str) -> Vec<String> {
        let r = app
            .get(&format!("{}/{dept}/members", depts(org)), token)
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn reparent(
        app: &TestApp,
        org: &str,
        token: &str,
        dept: &str,
        parent: Option<&str>,
    ) -> Res {
        app.post(
            &format!("{}/{dept}/reparent", depts(org)),
            token,
            json!({"new_parent_id": parent}),
        )
        .await
    }

    pub fn allowed(app: &TestApp, org: &str, user: &str, perm: &str) -> bool {
        app.store
            .index()
            .load()
            .org(OrgId::parse(org).unwrap())
            .unwrap()
            .check(UserId::parse(user).unwrap(), perm, Scope::Organization)
            .allowed
    }
}
use helpers::*;

/// A well-formed department id that names nothing.
const GHOST: &str = "dept_01h455vb4pex5vsknk084sn02q";

// --- 26–30: create

#[tokio::test]
async fn case_26_create_top_level_department() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app
        .post(
            &depts(&org),
            &owner.token,
            json!({"name": "  Engineering ", "description": "Builds things"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.headers.get("roster-revision").is_some());
    let d = &r.body;
    assert_dept_shape(d);
    let id = id_of(d);
    assert_eq!(d["name"], json!("Engineering"), "trimmed");
    assert_eq!(d["description"], json!("Builds things"));
    assert_eq!(d["parent_id"], Value::Null);
    assert_eq!(d["depth"], json!(0));
    assert_eq!(d["path"], json!(format!("/{id}")));
    assert_eq!(d["member_count"], json!(0));
    assert_eq!(d["organization_id"], json!(org));
    assert_eq!(d["created_by"], json!(owner.id));
    assert_eq!(d["color"], Value::Null);
    // explicit null parent is top-level too
    let r = app
        .post(
            &depts(&org),
            &owner.token,
            json!({"name": "Sales", "parent_id": null}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["depth"], json!(0));
    assert_eq!(r.body["description"], Value::Null);
    // state after
    assert_eq!(get_dept(&app, &org, &owner.token, &id).await, *d);
}

#[tokio::test]
async fn case_27_create_child_extends_path_and_depth() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = create(&app, &org, &owner.token, "Engineering", None).await;
    let b = create(&app, &org, &owner.token, "Backend", Some(&id_of(&a))).await;
    let c = create(&app, &org, &owner.token, "Databases", Some(&id_of(&b))).await;
    assert_eq!(b["parent_id"], json!(id_of(&a)));
    assert_eq!(b["depth"], json!(1));
    assert_eq!(b["path"], json!(format!("/{}/{}", id_of(&a), id_of(&b))));
    assert_eq!(c["depth"], json!(2));
    assert_eq!(
        c["path"],
        json!(format!("{}/{}", b["path"].as_str().unwrap(), id_of(&c)))
    );
    assert_eq!(get_dept(&app, &org, &owner.token, &id_of(&c)).await, c);
}

#[tokio::test]
async fn case_28_name_length_is_validated() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    for bad in [json!(""), json!("   "), json!("x".repeat(256))] {
        let r = app
            .post(&depts(&org), &owner.token, json!({"name": bad}))
            .await;
        let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
        assert_eq!(e["details"]["field"], json!("name"));
    }
    let r = app.post(&depts(&org), &owner.token, json!({})).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("name"));
    let r = app
        .post(&depts(&org), &owner.token, json!({"name": 42}))
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let list = app.get(&depts(&org), &owner.token).await;
    assert_eq!(list.body, json!([]), "refused requests create nothing");
    let long = "é".repeat(255);
    let d = create(&app, &org, &owner.token, &long, None).await;
    assert_eq!(d["name"], json!(long));
}

#[tokio::test]
async fn case_29_names_are_unique_per_organization() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let (org2, owner2) = app.org("Globex").await;
    create(&app, &org, &owner.token, "Engineering", None).await;
    let sales = create(&app, &org, &owner.token, "Sales", None).await;
    for dup in ["Engineering", " engineering "] {
        let r = app
            .post(&depts(&org), &owner.token, json!({"name": dup}))
            .await;
        let e = assert_envelope(&r, 409, "DEPARTMENT_NAME_DUPLICATE");
        assert_eq!(e["type"], json!("client_error"));
    }
    // also under a parent: names are unique across the whole organization
    let r = app
        .post(
            &depts(&org),
            &owner.token,
            json!({"name": "ENGINEERING", "parent_id": id_of(&sales)}),
        )
        .await;
    assert_envelope(&r, 409, "DEPARTMENT_NAME_DUPLICATE");
    // same name in another organization is fine
    create(&app, &org2, &owner2.token, "Engineering", None).await;
    // renaming onto an existing name
    let r = app
        .patch(
            &format!("{}/{}", depts(&org), id_of(&sales)),
            &owner.token,
            json!({"name": "engineering"}),
        )
        .await;
    assert_envelope(&r, 409, "DEPARTMENT_NAME_DUPLICATE");
    assert_eq!(
        get_dept(&app, &org, &owner.token, &id_of(&sales)).await["name"],
        json!("Sales")
    );
    let list = app.get(&depts(&org), &owner.token).await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn case_30_unknown_or_foreign_parent_is_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let (org2, owner2) = app.org("Globex").await;
    let foreign = create(&app, &org2, &owner2.token, "Elsewhere", None).await;
    for parent in [GHOST.to_owned(), "dept_nope".to_owned(), id_of(&foreign)] {
        let r = app
            .post(
                &depts(&org),
                &owner.token,
                json!({"name": "Child", "parent_id": parent}),
            )
            .await;
        let e = assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
        assert_eq!(e["details"], json!({"department_id": parent}));
        assert_eq!(
            e["message"],
            json!("The requested department could not be found.")
        );
    }
    let r = app
        .post(
            &depts(&org),
            &owner.token,
            json!({"name": "Child", "parent_id": "team_1"}),
        )
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("parent_id"));
    assert_eq!(app.get(&depts(&org), &owner.token).await.body, json!([]));
}

// --- 31–35: reads

#[tokio::test]
async fn case_31_list_is_flat_with_parent_path_and_depth() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = create(&app, &org, &owner.token, "A", None).await;
    let b = create(&app, &org, &owner.token, "B", Some(&id_of(&a))).await;
    let c = create(&app, &org, &owner.token, "C", Some(&id_of(&b))).await;
    let d = create(&app, &org, &owner.token, "D", None).await;
    let r = app.get(&depts(&org), &owner.token).await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    for x in list {
        assert_dept_shape(x);
        assert!(x.get("children").is_none(), "flat");
    }
    // tree pre-order, siblings by creation
    assert_eq!(list, &vec![a, b, c, d]);
}

#[tokio::test]
async fn case_32_tree_nests_children_under_roots() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let a1 = id_of(&create(&app, &org, &owner.token, "A1", Some(&a)).await);
    let a2 = id_of(&create(&app, &org, &owner.token, "A2", Some(&a)).await);
    let a11 = id_of(&create(&app, &org, &owner.token, "A11", Some(&a1)).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", None).await);
    let r = app
        .get(&format!("{}/tree", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let roots = r.body.as_array().unwrap();
    assert_eq!(
        roots.iter().map(id_of).collect::<Vec<_>>(),
        vec![a.clone(), b.clone()]
    );
    let kids = roots[0]["children"].as_array().unwrap();
    assert_eq!(
        kids.iter().map(id_of).collect::<Vec<_>>(),
        vec![a1.clone(), a2.clone()]
    );
    assert_eq!(kids[0]["children"][0]["id"], json!(a11));
    assert_eq!(kids[0]["children"][0]["children"], json!([]));
    assert_eq!(kids[1]["children"], json!([]));
    assert_eq!(roots[1]["children"], json!([]));
    // every node is a full Department plus children
    fn count(nodes: &Value) -> usize {
        nodes
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let mut d = n.clone();
                let children = d.as_object_mut().unwrap().remove("children").unwrap();
                assert_dept_shape(&d);
                1 + count(&children)
            })
            .sum()
    }
    let flat = app.get(&depts(&org), &owner.token).await;
    assert_eq!(count(&r.body), flat.body.as_array().unwrap().len());
}

#[tokio::test]
async fn case_33_tree_scope_returns_the_scoped_subtrees() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", Some(&a)).await);
    let b1 = id_of(&create(&app, &org, &owner.token, "B1", Some(&b)).await);
    let c = id_of(&create(&app, &org, &owner.token, "C", None).await);
    let tree = |scope: String| {
        let app = &app;
        let path = format!("{}/tree?scope={scope}", depts(&org));
        let token = owner.token.clone();
        async move { app.get(&path, &token).await }
    };
    let r = tree(b.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["id"], json!(b));
    assert_eq!(
        r.body[0]["depth"],
        json!(1),
        "a scoped root keeps its real depth"
    );
    assert_eq!(r.body[0]["children"][0]["id"], json!(b1));
    assert_eq!(r.body[0]["children"][0]["children"], json!([]));
    let r = tree(format!("{b},{c}")).await;
    assert_eq!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect::<Vec<_>>(),
        vec![b.clone(), c.clone()]
    );
    // a scoped department inside another scoped subtree is not repeated as a root
    let r = tree(format!("{a}, {b1}")).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["id"], json!(a));
    // an unknown scoped id is a 404 naming it; a wrong prefix is a 422
    let r = tree(GHOST.to_owned()).await;
    let e = assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
    assert_eq!(e["details"]["department_id"], json!(GHOST));
    let r = tree(format!("{b},usr_x")).await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("scope"));
    // an empty scope means no scope
    let r = tree(String::new()).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn case_34_tree_is_not_routed_to_retrieve() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app
        .get(&format!("{}/tree", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, json!([]));
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let r = app
        .get(&format!("{}/tree", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body[0]["id"], json!(a));
}

#[tokio::test]
async fn case_35_retrieve_unknown_or_foreign_department_is_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let (org2, owner2) = app.org("Globex").await;
    let foreign = id_of(&create(&app, &org2, &owner2.token, "Elsewhere", None).await);
    for id in [GHOST.to_owned(), "dept_abc123".to_owned(), foreign.clone()] {
        let r = app
            .get(&format!("{}/{id}", depts(&org)), &owner.token)
            .await;
        let e = assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
        assert_eq!(
            e["message"],
            json!("The requested department could not be found.")
        );
        assert_eq!(e["system_message"], json!("Department not found"));
        assert_eq!(e["type"], json!("client_error"));
        assert_eq!(e["details"], json!({"department_id": id}));
    }
    let r = app
        .get(&format!("{}/usr_abc", depts(&org)), &owner.token)
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    // the other organization still sees its own department
    assert_eq!(
        get_dept(&app, &org2, &owner2.token, &foreign).await["name"],
        json!("Elsewhere")
    );
}

// --- 36: update

#[tokio::test]
async fn case_36_patch_changes_only_given_fields_and_never_moves() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let other = id_of(&create(&app, &org, &owner.token, "Other", None).await);
    let b = create(&app, &org, &owner.token, "B", Some(&a)).await;
    let path = format!("{}/{}", depts(&org), id_of(&b));
    let r = app
        .patch(
            &path,
            &owner.token,
            json!({"description": "New text", "parent_id": other}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_dept_shape(&r.body);
    assert_eq!(r.body["name"], json!("B"));
    assert_eq!(r.body["description"], json!("New text"));
    assert_eq!(r.body["parent_id"], json!(a), "PATCH never moves");
    assert_eq!(r.body["path"], b["path"]);
    // absent description leaves it
    let r = app
        .patch(&path, &owner.token, json!({"name": " B2 "}))
        .await;
    assert_eq!(r.body["name"], json!("B2"));
    assert_eq!(r.body["description"], json!("New text"));
    // null name leaves it; null description clears it
    let r = app
        .patch(
            &path,
            &owner.token,
            json!({"name": null, "description": null}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], json!("B2"));
    assert_eq!(r.body["description"], Value::Null);
    let after = get_dept(&app, &org, &owner.token, &id_of(&b)).await;
    assert_eq!(after["description"], Value::Null);
    assert_eq!(after["name"], json!("B2"));
    assert_eq!(after["parent_id"], json!(a));
    // validation and unknown ids
    let r = app.patch(&path, &owner.token, json!({"name": ""})).await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    let r = app
        .patch(
            &format!("{}/{GHOST}", depts(&org)),
            &owner.token,
            json!({"name": "X"}),
        )
        .await;
    assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
}

// --- 37–41: reparent

#[tokio::test]
async fn case_37_reparent_moves_the_whole_subtree() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", Some(&a)).await);
    let b1 = id_of(&create(&app, &org, &owner.token, "B1", Some(&b)).await);
    let c = id_of(&create(&app, &org, &owner.token, "C", None).await);
    let r = reparent(&app, &org, &owner.token, &b, Some(&c)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_dept_shape(&r.body);
    assert_eq!(r.body["parent_id"], json!(c));
    assert_eq!(r.body["depth"], json!(1));
    assert_eq!(r.body["path"], json!(format!("/{c}/{b}")));
    let d = get_dept(&app, &org, &owner.token, &b1).await;
    assert_eq!(d["parent_id"], json!(b));
    assert_eq!(d["depth"], json!(2));
    assert_eq!(d["path"], json!(format!("/{c}/{b}/{b1}")));
    // A no longer has children in the tree
    let tree = app
        .get(&format!("{}/tree", depts(&org)), &owner.token)
        .await;
    assert_eq!(tree.body[0]["id"], json!(a));
    assert_eq!(tree.body[0]["children"], json!([]));
    assert_eq!(tree.body[1]["children"][0]["children"][0]["id"], json!(b1));
}

#[tokio::test]
async fn reparenting_a_three_level_subtree_rewrites_every_descendant() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let t = &owner.token;
    let root = id_of(&create(&app, &org, t, "Root", None).await);
    let l1 = id_of(&create(&app, &org, t, "L1", Some(&root)).await);
    let l2a = id_of(&create(&app, &org, t, "L2a", Some(&l1)).await);
    let l2b = id_of(&create(&app, &org, t, "L2b", Some(&l1)).await);
    let l3 = id_of(&create(&app, &org, t, "L3", Some(&l2a)).await);
    let x = id_of(&create(&app, &org, t, "X", None).await);
    let xy = id_of(&create(&app, &org, t, "XY", Some(&x)).await);

    let check = |expected: Vec<(String, String, i64)>| {
        let app = &app;
        let org = org.clone();
        async move {
            let list = app.get(&depts(&org), t).await.body;
            for (id, path, depth) in expected {
                let d = list
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| d["id"] == json!(id))
                    .unwrap();
                assert_eq!(d["path"], json!(path), "{id}");
                assert_eq!(d["depth"], json!(depth), "{id}");
            }
        }
    };
    // move L1 (with L2a, L2b, L3) under X/XY: depth +1
    let r = reparent(&app, &org, t, &l1, Some(&xy)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let base = format!("/{x}/{xy}/{l1}");
    check(vec![
        (l1.clone(), base.clone(), 2),
        (l2a.clone(), format!("{base}/{l2a}"), 3),
        (l2b.clone(), format!("{base}/{l2b}"), 3),
        (l3.clone(), format!("{base}/{l2a}/{l3}"), 4),
        (root.clone(), format!("/{root}"), 0),
        (xy.clone(), format!("/{x}/{xy}"), 1),
    ])
    .await;
    // and to the top level: depth -2
    let r = reparent(&app, &org, t, &l1, None).await;
    assert_eq!(r.status, 200);
    check(vec![
        (l1.clone(), format!("/{l1}"), 0),
        (l2a.clone(), format!("/{l1}/{l2a}"), 1),
        (l2b.clone(), format!("/{l1}/{l2b}"), 1),
        (l3.clone(), format!("/{l1}/{l2a}/{l3}"), 2),
    ])
    .await;
}

#[tokio::test]
async fn case_38_reparent_to_null_makes_top_level() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", Some(&a)).await);
    let r = reparent(&app, &org, &owner.token, &b, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["parent_id"], Value::Null);
    assert_eq!(r.body["depth"], json!(0));
    assert_eq!(r.body["path"], json!(format!("/{b}")));
    let tree = app
        .get(&format!("{}/tree", depts(&org)), &owner.token)
        .await;
    assert_eq!(tree.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn case_39_reparent_requires_the_new_parent_id_key() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = create(&app, &org, &owner.token, "B", Some(&a)).await;
    let path = format!("{}/{}/reparent", depts(&org), id_of(&b));
    for body in [json!({}), json!({"parent_id": null})] {
        let r = app.post(&path, &owner.token, body).await;
        let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
        assert_eq!(e["details"]["field"], json!("new_parent_id"));
    }
    let r = app
        .call(reqwest::Method::POST, &path, Some(&owner.token), None)
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(get_dept(&app, &org, &owner.token, &id_of(&b)).await, b);
}

#[tokio::test]
async fn case_40_cycles_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", Some(&a)).await);
    let c = id_of(&create(&app, &org, &owner.token, "C", Some(&b)).await);
    let before = app.get(&depts(&org), &owner.token).await.body;
    for (dept, parent) in [(&a, &a), (&a, &b), (&a, &c), (&b, &c)] {
        let r = reparent(&app, &org, &owner.token, dept, Some(parent)).await;
        let e = assert_envelope(&r, 422, "DEPARTMENT_CIRCULAR_REFERENCE");
        assert_eq!(e["type"], json!("validation_error"));
        assert_eq!(
            e["details"],
            json!({"department_id": dept, "new_parent_id": parent})
        );
    }
    assert_eq!(app.get(&depts(&org), &owner.token).await.body, before);
}

#[tokio::test]
async fn concurrent_crossing_moves_cannot_form_a_cycle() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", None).await);
    let (r1, r2) = tokio::join!(
        reparent(&app, &org, &owner.token, &a, Some(&b)),
        reparent(&app, &org, &owner.token, &b, Some(&a))
    );
    let mut statuses = vec![r1.status, r2.status];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 422], "{:?} {:?}", r1.body, r2.body);
    let refused = if r1.status == 422 { &r1 } else { &r2 };
    assert_envelope(refused, 422, "DEPARTMENT_CIRCULAR_REFERENCE");
    // still a forest: exactly one root holding the other
    let tree = app
        .get(&format!("{}/tree", depts(&org)), &owner.token)
        .await
        .body;
    assert_eq!(tree.as_array().unwrap().len(), 1, "{tree:?}");
    assert_eq!(tree[0]["depth"], json!(0));
    assert_eq!(tree[0]["children"][0]["depth"], json!(1));
}

#[tokio::test]
async fn case_41_reparent_under_unknown_or_foreign_parent_is_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let (org2, owner2) = app.org("Globex").await;
    let foreign = id_of(&create(&app, &org2, &owner2.token, "Elsewhere", None).await);
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let before = get_dept(&app, &org, &owner.token, &a).await;
    for parent in [GHOST.to_owned(), foreign] {
        let r = reparent(&app, &org, &owner.token, &a, Some(&parent)).await;
        let e = assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
        assert_eq!(e["details"], json!({"department_id": parent}));
    }
    let r = reparent(&app, &org, &owner.token, GHOST, None).await;
    assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
    assert_eq!(get_dept(&app, &org, &owner.token, &a).await, before);
}

// --- 42–45: delete

#[tokio::test]
async fn case_42_delete_leaf_then_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let r = app
        .delete(&format!("{}/{a}", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    let r = app.get(&format!("{}/{a}", depts(&org)), &owner.token).await;
    assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
    let r = app
        .delete(&format!("{}/{a}", depts(&org)), &owner.token)
        .await;
    assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
    assert_eq!(app.get(&depts(&org), &owner.token).await.body, json!([]));
    // the name is free again (hard delete)
    create(&app, &org, &owner.token, "A", None).await;
}

#[tokio::test]
async fn case_43_delete_with_children_is_422() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    create(&app, &org, &owner.token, "B", Some(&a)).await;
    let r = app
        .delete(&format!("{}/{a}", depts(&org)), &owner.token)
        .await;
    let e = assert_envelope(&r, 422, "DEPARTMENT_HAS_CHILDREN");
    assert_eq!(e["type"], json!("client_error"));
    assert_eq!(
        e["message"],
        json!("This department cannot be deleted because it has child departments. Reparent or remove them first.")
    );
    assert_eq!(e["system_message"], json!("Department has children"));
    assert_eq!(e["details"], json!({"department_id": a}));
    get_dept(&app, &org, &owner.token, &a).await;
}

#[tokio::test]
async fn case_44_delete_with_members_is_422_until_they_leave() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = staff(&app, &org, "Bob Stone").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    assert_eq!(
        add_member(&app, &org, &owner.token, &a, &bob).await.status,
        201
    );
    let r = app
        .delete(&format!("{}/{a}", depts(&org)), &owner.token)
        .await;
    let e = assert_envelope(&r, 422, "DEPARTMENT_HAS_MEMBERS");
    assert_eq!(e["details"], json!({"department_id": a}));
    assert_eq!(
        member_ids(&app, &org, &owner.token, &a).await,
        vec![bob.clone()]
    );
    let r = app
        .delete(&format!("{}/{a}/members/{bob}", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 204);
    let r = app
        .delete(&format!("{}/{a}", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
}

#[tokio::test]
async fn case_45_delete_after_reparenting_children_away() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", Some(&a)).await);
    let c = id_of(&create(&app, &org, &owner.token, "C", None).await);
    assert_eq!(
        reparent(&app, &org, &owner.token, &b, Some(&c))
            .await
            .status,
        200
    );
    let r = app
        .delete(&format!("{}/{a}", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let ids: Vec<String> = app
        .get(&depts(&org), &owner.token)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![c, b]);
}

// --- 46–52: department members (seed 004)

#[tokio::test]
async fn case_46_seed_004_add_member_returns_201_member_object() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let r = add_member(&app, &org, &owner.token, &a, &jane).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.headers.get("roster-revision").is_some());
    let b = r.body.as_object().unwrap();
    let mut keys: Vec<&str> = b.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, vec!["added_at", "email", "full_name", "user_id"]);
    assert_eq!(b["user_id"], json!(jane));
    assert_eq!(b["full_name"], json!("Jane Smith"));
    assert_eq!(b["email"], json!("jane.smith@example.test"));
    let added = chrono::DateTime::parse_from_rfc3339(b["added_at"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - added.to_utc()).num_seconds().abs() < 60);
    // member_count and the list
    assert_eq!(
        get_dept(&app, &org, &owner.token, &a).await["member_count"],
        json!(1)
    );
    let list = app
        .get(&format!("{}/{a}/members", depts(&org)), &owner.token)
        .await;
    assert_eq!(list.body, json!([r.body]));
}

#[tokio::test]
async fn case_47_seed_004_non_member_is_404_member_not_found() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let stranger = outsider(&app, "Sam Stranger").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    for user in [stranger.as_str(), "usr_invalid"] {
        let r = add_member(&app, &org, &owner.token, &a, user).await;
        let e = assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
        assert_eq!(
            e["message"],
            json!("The specified user is not a member of this organization.")
        );
        assert_eq!(
            e["system_message"],
            json!("User is not a member of this organization")
        );
        assert_eq!(e["type"], json!("client_error"));
        assert_eq!(e["details"], json!({"user_id": user}));
    }
    let r = add_member(&app, &org, &owner.token, &a, "org_123").await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert!(member_ids(&app, &org, &owner.token, &a).await.is_empty());
    assert_eq!(
        get_dept(&app, &org, &owner.token, &a).await["member_count"],
        json!(0)
    );
}

#[tokio::test]
async fn case_48_seed_004_duplicate_is_409() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    assert_eq!(
        add_member(&app, &org, &owner.token, &a, &jane).await.status,
        201
    );
    // the SDK retries a 409 twice: every answer is the same and nothing changes
    for _ in 0..3 {
        let r = add_member(&app, &org, &owner.token, &a, &jane).await;
        let e = assert_envelope(&r, 409, "DEPARTMENT_MEMBERSHIP_DUPLICATE");
        assert_eq!(
            e["message"],
            json!("This user is already a member of the department.")
        );
        assert_eq!(
            e["system_message"],
            json!("Department membership duplicate")
        );
        assert_eq!(e["type"], json!("client_error"));
        assert_eq!(e["details"], json!({"user_id": jane, "department_id": a}));
    }
    assert_eq!(member_ids(&app, &org, &owner.token, &a).await, vec![jane]);
    assert_eq!(
        get_dept(&app, &org, &owner.token, &a).await["member_count"],
        json!(1)
    );
}

#[tokio::test]
async fn concurrent_identical_additions_give_one_201_and_one_409() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let (r1, r2) = tokio::join!(
        add_member(&app, &org, &owner.token, &a, &jane),
        add_member(&app, &org, &owner.token, &a, &jane)
    );
    let mut statuses = vec![r1.status, r2.status];
    statuses.sort_unstable();
    assert_eq!(statuses, vec![201, 409], "{:?} {:?}", r1.body, r2.body);
    let conflict = if r1.status == 409 { &r1 } else { &r2 };
    assert_envelope(conflict, 409, "DEPARTMENT_MEMBERSHIP_DUPLICATE");
    assert_eq!(member_ids(&app, &org, &owner.token, &a).await, vec![jane]);
}

#[tokio::test]
async fn case_49_a_user_may_belong_to_several_departments() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", Some(&a)).await);
    assert_eq!(
        add_member(&app, &org, &owner.token, &a, &jane).await.status,
        201
    );
    assert_eq!(
        add_member(&app, &org, &owner.token, &b, &jane).await.status,
        201
    );
    assert_eq!(
        member_ids(&app, &org, &owner.token, &a).await,
        vec![jane.clone()]
    );
    assert_eq!(member_ids(&app, &org, &owner.token, &b).await, vec![jane]);
    // member_count is direct membership
    assert_eq!(
        get_dept(&app, &org, &owner.token, &a).await["member_count"],
        json!(1)
    );
}

#[tokio::test]
async fn case_50_add_member_to_unknown_department_is_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let (org2, owner2) = app.org("Globex").await;
    let foreign = id_of(&create(&app, &org2, &owner2.token, "Elsewhere", None).await);
    let jane = staff(&app, &org, "Jane Smith").await;
    for dept in [GHOST.to_owned(), "dept_abc123".to_owned(), foreign.clone()] {
        let r = add_member(&app, &org, &owner.token, &dept, &jane).await;
        let e = assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
        assert_eq!(e["details"], json!({"department_id": dept}));
    }
    assert!(member_ids(&app, &org2, &owner2.token, &foreign)
        .await
        .is_empty());
}

#[tokio::test]
async fn case_51_remove_member_keeps_the_organization_membership() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    assert_eq!(
        add_member(&app, &org, &owner.token, &a, &jane).await.status,
        201
    );
    let path = format!("{}/{a}/members/{jane}", depts(&org));
    let r = app.delete(&path, &owner.token).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(r.body, Value::Null);
    assert!(member_ids(&app, &org, &owner.token, &a).await.is_empty());
    assert_eq!(
        get_dept(&app, &org, &owner.token, &a).await["member_count"],
        json!(0)
    );
    let m = app
        .get(
            &format!("/v1/organizations/{org}/users/{jane}"),
            &owner.token,
        )
        .await;
    assert_eq!(m.status, 200, "{:?}", m.body);
    assert_eq!(m.body["is_deleted"], json!(false));
    // removing again: not in the department
    let r = app.delete(&path, &owner.token).await;
    let e = assert_envelope(&r, 404, "DEPARTMENT_MEMBER_NOT_FOUND");
    assert_eq!(e["details"], json!({"user_id": jane, "department_id": a}));
    let r = app
        .delete(
            &format!("{}/{a}/members/usr_nope", depts(&org)),
            &owner.token,
        )
        .await;
    let e = assert_envelope(&r, 404, "DEPARTMENT_MEMBER_NOT_FOUND");
    assert_eq!(e["details"]["user_id"], json!("usr_nope"));
}

#[tokio::test]
async fn case_52_list_members_of_unknown_department_is_404() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let r = app
        .get(&format!("{}/{GHOST}/members", depts(&org)), &owner.token)
        .await;
    let e = assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
    assert_eq!(e["details"], json!({"department_id": GHOST}));
}

#[tokio::test]
async fn members_removed_from_the_organization_disappear_from_departments() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let bob = staff(&app, &org, "Bob Stone").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    for u in [&jane, &bob] {
        assert_eq!(
            add_member(&app, &org, &owner.token, &a, u).await.status,
            201
        );
    }
    let r = app
        .delete(
            &format!("/v1/organizations/{org}/users/{jane}/delete"),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        member_ids(&app, &org, &owner.token, &a).await,
        vec![bob.clone()]
    );
    assert_eq!(
        get_dept(&app, &org, &owner.token, &a).await["member_count"],
        json!(1)
    );
    // and cannot be added while removed
    let b = id_of(&create(&app, &org, &owner.token, "B", None).await);
    let r = add_member(&app, &org, &owner.token, &b, &jane).await;
    assert_envelope(&r, 404, "MEMBER_NOT_FOUND");
}

// --- who may do what

#[tokio::test]
async fn plain_members_read_but_cannot_change_departments() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let bob = app.member(&org, "Bob Stone", "role_member").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let t = &bob.token;
    assert_eq!(app.get(&depts(&org), t).await.status, 200);
    assert_eq!(
        app.get(&format!("{}/tree", depts(&org)), t).await.status,
        200
    );
    assert_eq!(
        app.get(&format!("{}/{a}", depts(&org)), t).await.status,
        200
    );
    assert_eq!(
        app.get(&format!("{}/{a}/members", depts(&org)), t)
            .await
            .status,
        200
    );
    assert_eq!(
        app.get(&format!("{}/{a}/roles", depts(&org)), t)
            .await
            .status,
        200
    );
    let writes = [
        app.post(&depts(&org), t, json!({"name": "X"})).await,
        app.post(&depts(&org), t, json!({"name": "X", "parent_id": a}))
            .await,
        app.patch(&format!("{}/{a}", depts(&org)), t, json!({"name": "Y"}))
            .await,
        reparent(&app, &org, t, &a, None).await,
        app.delete(&format!("{}/{a}", depts(&org)), t).await,
        add_member(&app, &org, t, &a, &bob.id).await,
        app.post(
            &format!("{}/{a}/roles", depts(&org)),
            t,
            json!({"role_id": "role_member"}),
        )
        .await,
    ];
    for r in &writes {
        let e = assert_envelope(r, 403, "INSUFFICIENT_PERMISSIONS");
        assert_eq!(e["type"], json!("authorization_error"));
    }
    assert_eq!(
        app.get(&depts(&org), t)
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // outsiders are refused before anything else
    let (_, other) = app.org("Globex").await;
    let r = app.get(&depts(&org), &other.token).await;
    assert_envelope(&r, 403, "ORGANIZATION_ACCESS_DENIED");
}

#[tokio::test]
async fn department_managers_manage_departments_and_members() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let dm = app
        .member(&org, "Dee Manager", "role_department_manager")
        .await;
    let a = create(&app, &org, &dm.token, "A", None).await;
    assert_eq!(a["created_by"], json!(dm.id));
    let b = id_of(&create(&app, &org, &dm.token, "B", Some(&id_of(&a))).await);
    assert_eq!(reparent(&app, &org, &dm.token, &b, None).await.status, 200);
    let jane = staff(&app, &org, "Jane Smith").await;
    assert_eq!(
        add_member(&app, &org, &dm.token, &b, &jane).await.status,
        201
    );
    // binding a role the manager does not fully hold is an escalation
    let r = app
        .post(
            &format!("{}/{b}/roles", depts(&org)),
            &dm.token,
            json!({"role_id": "role_admin"}),
        )
        .await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert!(e["details"]["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("override_all_permissions")));
    let r = app
        .post(
            &format!("{}/{b}/roles", depts(&org)),
            &dm.token,
            json!({"role_id": "role_department_manager"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

// --- department role bindings

#[tokio::test]
async fn role_bindings_are_created_listed_and_removed() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let roles = format!("{}/{a}/roles", depts(&org));
    let r = app
        .post(
            &roles,
            &owner.token,
            json!({"role_id": "role_department_manager"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.headers.get("roster-revision").is_some());
    let b = r.body.as_object().unwrap();
    let mut keys: Vec<&str> = b.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "assigned_at",
            "department_id",
            "id",
            "organization_id",
            "role_id"
        ]
    );
    assert!(b["id"].as_str().unwrap().starts_with("urol_"));
    assert_eq!(b["department_id"], json!(a));
    assert_eq!(b["role_id"], json!("role_department_manager"));
    assert_eq!(b["organization_id"], json!(org));
    // duplicate
    let r = app
        .post(
            &roles,
            &owner.token,
            json!({"role_id": "role_department_manager"}),
        )
        .await;
    let e = assert_envelope(&r, 409, "DEPARTMENT_ROLE_DUPLICATE");
    assert_eq!(
        e["details"],
        json!({"department_id": a, "role_id": "role_department_manager"})
    );
    // list
    let list = app.get(&roles, &owner.token).await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.body,
        json!([{
            "id": b["id"], "department_id": a, "role_id": "role_department_manager",
            "role_name": "Department Manager", "organization_id": org, "assigned_at": b["assigned_at"],
        }])
    );
    // refused roles
    let r = app
        .post(&roles, &owner.token, json!({"role_id": "role_owner"}))
        .await;
    let e = assert_envelope(&r, 422, "VALIDATION_ERROR");
    assert_eq!(e["details"]["field"], json!("role_id"));
    let r = app
        .post(
            &roles,
            &owner.token,
            json!({"role_id": "role_project_member"}),
        )
        .await;
    assert_envelope(&r, 422, "VALIDATION_ERROR");
    for ghost in ["role_nope", "role_01h455vb4pex5vsknk084sn02q"] {
        let r = app
            .post(&roles, &owner.token, json!({"role_id": ghost}))
            .await;
        let e = assert_envelope(&r, 404, "ROLE_NOT_FOUND");
        assert_eq!(e["details"], json!({"role_id": ghost}));
    }
    let r = app
        .post(
            &format!("{}/{GHOST}/roles", depts(&org)),
            &owner.token,
            json!({"role_id": "role_member"}),
        )
        .await;
    assert_envelope(&r, 404, "DEPARTMENT_NOT_FOUND");
    // unbind
    let r = app
        .delete(&format!("{roles}/role_department_manager"), &owner.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(app.get(&roles, &owner.token).await.body, json!([]));
    let r = app
        .delete(&format!("{roles}/role_department_manager"), &owner.token)
        .await;
    let e = assert_envelope(&r, 404, "DEPARTMENT_ROLE_NOT_FOUND");
    assert_eq!(
        e["details"],
        json!({"department_id": a, "role_id": "role_department_manager"})
    );
}

#[tokio::test]
async fn unbinding_a_role_needs_the_right_to_grant_it() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let dm = app
        .member(&org, "Dee Manager", "role_department_manager")
        .await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let roles = format!("{}/{a}/roles", depts(&org));
    for role in ["role_admin", "role_department_manager"] {
        let r = app
            .post(&roles, &owner.token, json!({"role_id": role}))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let rev = app.store.revision();
    // Binding Admin would be an escalation for a Department Manager; so is
    // taking it away.
    let r = app.delete(&format!("{roles}/role_admin"), &dm.token).await;
    let e = assert_envelope(&r, 403, "INSUFFICIENT_PERMISSIONS");
    assert!(e["details"]["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("override_all_permissions")));
    assert_eq!(app.store.revision(), rev, "nothing written");
    let bound: Vec<Value> = app
        .get(&roles, &owner.token)
        .await
        .body
        .as_array()
        .unwrap()
        .clone();
    let bound: Vec<&Value> = bound.iter().map(|b| &b["role_id"]).collect();
    assert!(bound.contains(&&json!("role_admin")), "{bound:?}");
    // A role the manager holds all of may be unbound by them.
    let r = app
        .delete(&format!("{roles}/role_department_manager"), &dm.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app
        .delete(&format!("{roles}/role_admin"), &owner.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(app.get(&roles, &owner.token).await.body, json!([]));
}

#[tokio::test]
async fn a_role_bound_to_a_department_reaches_members_of_its_descendants() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let b = id_of(&create(&app, &org, &owner.token, "B", Some(&a)).await);
    let c = id_of(&create(&app, &org, &owner.token, "C", Some(&b)).await);
    assert_eq!(
        add_member(&app, &org, &owner.token, &c, &jane).await.status,
        201
    );
    assert!(!allowed(&app, &org, &jane, "manage_users"));
    let roles = format!("{}/{a}/roles", depts(&org));
    let r = app
        .post(
            &roles,
            &owner.token,
            json!({"role_id": "role_department_manager"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // read-your-writes: the index reflects the binding when the response is sent
    assert!(allowed(&app, &org, &jane, "manage_users"));
    assert!(!allowed(&app, &org, &jane, "manage_billing"));
    // moving the grandchild out of A's subtree takes the role away; moving it back restores it
    assert_eq!(
        reparent(&app, &org, &owner.token, &c, None).await.status,
        200
    );
    assert!(!allowed(&app, &org, &jane, "manage_users"));
    assert_eq!(
        reparent(&app, &org, &owner.token, &c, Some(&b))
            .await
            .status,
        200
    );
    assert!(allowed(&app, &org, &jane, "manage_users"));
    // unbinding stops it
    let r = app
        .delete(&format!("{roles}/role_department_manager"), &owner.token)
        .await;
    assert_eq!(r.status, 204);
    assert!(!allowed(&app, &org, &jane, "manage_users"));
}

#[tokio::test]
async fn deleting_a_department_removes_its_role_bindings() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let a = id_of(&create(&app, &org, &owner.token, "A", None).await);
    let r = app
        .post(
            &format!("{}/{a}/roles", depts(&org)),
            &owner.token,
            json!({"role_id": "role_billing_manager"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .delete(&format!("{}/{a}", depts(&org)), &owner.token)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let dept_uuid = roster_core::DeptId::parse(&a).unwrap().uuid().to_string();
    let n: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM role_assignments WHERE principal_id = $1 OR scope_id = $1",
    )
    .bind(dept_uuid)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(n, 0);
}

// --- department membership and moves hand out the bound roles

/// Binds `role` to `dept` as `token`.
async fn bind(app: &TestApp, org: &str, token: &str, dept: &str, role: &str) {
    let r = app
        .post(
            &format!("{}/{dept}/roles", depts(org)),
            token,
            json!({"role_id": role}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

async fn remove_member(app: &TestApp, org: &str, token: &str, dept: &str, user: &str) -> Res {
    app.delete(&format!("{}/{dept}/members/{user}", depts(org)), token)
        .await
}

/// The department rows of `user` in the database, live membership or not.
#[allow(clippy::unwrap_used)] // test helper: a failure is the assertion
async fn stored_departments_of(app: &TestApp, user: &str) -> i64 {
    let uid = roster_core::UserId::parse(user).unwrap().uuid().to_string();
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM department_members WHERE user_id = $1")
        .bind(uid)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

/// The setting of the escalation tests: an organization whose "Admins"
/// department holds the Admin role (so the members of "Sub", below it, hold
/// it too), a Department Manager, who may manage departments and their
/// members but holds none of Admin's strongest keys, and Jane, a plain
/// member in no department.
struct AdminDepts {
    app: TestApp,
    org: String,
    owner: TestUser,
    dm: TestUser,
    jane: String,
    admins: String,
    sub: String,
}

async fn admin_depts() -> AdminDepts {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let dm = app
        .member(&org, "Dee Manager", "role_department_manager")
        .await;
    let jane = staff(&app, &org, "Jane Smith").await;
    let admins = id_of(&create(&app, &org, &owner.token, "Admins", None).await);
    let sub = id_of(&create(&app, &org, &owner.token, "Sub", Some(&admins)).await);
    bind(&app, &org, &owner.token, &admins, "role_admin").await;
    AdminDepts {
        app,
        org,
        owner,
        dm,
        jane,
        admins,
        sub,
    }
}

#[tokio::test]
async fn joining_a_department_that_holds_admin_needs_admins_keys() {
    let AdminDepts {
        app,
        org,
        owner,
        dm,
        jane,
        admins,
        sub,
    } = admin_depts().await;
    assert!(!allowed(&app, &org, &dm.id, "view_audit_log"));
    let rev = app.store.revision();
    // Neither themself nor anyone else, neither in the department nor in a
    // child of it (the child's members hold the ancestor's roles too).
    for dept in [&admins, &sub] {
        for user in [&dm.id, &jane] {
            let r = add_member(&app, &org, &dm.token, dept, user).await;
            let missing = refused_escalation(&r);
            assert_lists(&missing, &["override_all_permissions", "view_audit_log"]);
        }
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    for dept in [&admins, &sub] {
        assert!(member_ids(&app, &org, &owner.token, dept).await.is_empty());
        assert_eq!(
            get_dept(&app, &org, &owner.token, dept).await["member_count"],
            json!(0)
        );
    }
    assert_eq!(stored_departments_of(&app, &dm.id).await, 0);
    assert_eq!(stored_departments_of(&app, &jane).await, 0);
    for user in [&dm.id, &jane] {
        assert!(!allowed(&app, &org, user, "view_audit_log"));
        assert!(!allowed(&app, &org, user, "override_all_permissions"));
    }
    // The Owner (who holds all of Admin) may.
    let r = add_member(&app, &org, &owner.token, &sub, &jane).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
}

#[tokio::test]
async fn department_members_may_add_to_departments_whose_roles_they_hold() {
    let AdminDepts {
        app,
        org,
        owner,
        dm,
        jane,
        ..
    } = admin_depts().await;
    // A clerk holds only what department membership needs.
    let clerk_role = custom_role(
        &app,
        &org,
        &owner.token,
        "Clerk",
        json!({"capabilities": ["manage_departments"]}),
    )
    .await;
    let clerk = app.member(&org, "Carl Clerk", &clerk_role).await;
    let plain = id_of(&create(&app, &org, &owner.token, "Plain", None).await);
    let clerks = id_of(&create(&app, &org, &owner.token, "Clerks", None).await);
    let clerks_sub = id_of(&create(&app, &org, &owner.token, "Filing", Some(&clerks)).await);
    let managers = id_of(&create(&app, &org, &owner.token, "Managers", None).await);
    bind(&app, &org, &owner.token, &clerks, &clerk_role).await;
    bind(
        &app,
        &org,
        &owner.token,
        &managers,
        "role_department_manager",
    )
    .await;
    // No role bound, or only a role the clerk holds all of: allowed.
    for dept in [&plain, &clerks, &clerks_sub] {
        let r = add_member(&app, &org, &clerk.token, dept, &jane).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(
            member_ids(&app, &org, &owner.token, dept).await,
            vec![jane.clone()]
        );
    }
    let r = add_member(&app, &org, &clerk.token, &plain, &clerk.id).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(allowed(&app, &org, &jane, "manage_departments"));
    // A role with keys the clerk lacks: refused, with exactly those keys.
    let rev = app.store.revision();
    let r = add_member(&app, &org, &clerk.token, &managers, &jane).await;
    let mut missing = refused_escalation(&r);
    missing.sort();
    assert_eq!(
        missing,
        vec![
            "assign_roles",
            "create_subdepartments",
            "invite_users",
            "manage_users",
            "reparent_departments"
        ]
    );
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(member_ids(&app, &org, &owner.token, &managers)
        .await
        .is_empty());
    assert!(!allowed(&app, &org, &jane, "manage_users"));
    // A Department Manager holds all of it.
    let r = add_member(&app, &org, &dm.token, &managers, &jane).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(allowed(&app, &org, &jane, "manage_users"));
}

#[tokio::test]
async fn removing_a_department_member_needs_the_right_to_take_its_roles_away() {
    let AdminDepts {
        app,
        org,
        owner,
        dm,
        jane,
        admins,
        sub,
    } = admin_depts().await;
    // Only a denial: giving it takes nothing a manager lacks, but taking it
    // away lifts the denial, which grants manage_billing back.
    let no_billing = custom_role(
        &app,
        &org,
        &owner.token,
        "No Billing",
        json!({"capabilities": [], "denied_capabilities": ["manage_billing"]}),
    )
    .await;
    let restricted = id_of(&create(&app, &org, &owner.token, "Restricted", None).await);
    let managers = id_of(&create(&app, &org, &owner.token, "Managers", None).await);
    bind(&app, &org, &owner.token, &restricted, &no_billing).await;
    bind(
        &app,
        &org,
        &owner.token,
        &managers,
        "role_department_manager",
    )
    .await;
    for dept in [&admins, &sub, &managers] {
        let r = add_member(&app, &org, &owner.token, dept, &jane).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let r = add_member(&app, &org, &dm.token, &restricted, &jane).await;
    assert_eq!(
        r.status, 201,
        "a denial is not an escalation to give: {:?}",
        r.body
    );
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
    let rev = app.store.revision();
    for (dept, lacking) in [
        (&admins, "override_all_permissions"),
        (&sub, "override_all_permissions"),
        (&restricted, "manage_billing"),
    ] {
        let r = remove_member(&app, &org, &dm.token, dept, &jane).await;
        let missing = refused_escalation(&r);
        assert_lists(&missing, &[lacking]);
        assert_eq!(
            member_ids(&app, &org, &owner.token, dept).await,
            vec![jane.clone()]
        );
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert_eq!(stored_departments_of(&app, &jane).await, 4);
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
    // Someone not in the department is still not found.
    let r = remove_member(&app, &org, &dm.token, &admins, &dm.id).await;
    assert_envelope(&r, 404, "DEPARTMENT_MEMBER_NOT_FOUND");
    // A role the manager holds all of may be taken away by them.
    let r = remove_member(&app, &org, &dm.token, &managers, &jane).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(member_ids(&app, &org, &owner.token, &managers)
        .await
        .is_empty());
    // The Owner may take Admin away.
    for dept in [&sub, &admins] {
        let r = remove_member(&app, &org, &owner.token, dept, &jane).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
    }
    assert!(!allowed(&app, &org, &jane, "view_audit_log"));
}

#[tokio::test]
async fn moving_a_department_under_admin_needs_admins_keys() {
    let AdminDepts {
        app,
        org,
        owner,
        dm,
        jane,
        admins,
        sub: left,
    } = admin_depts().await;
    let right = id_of(&create(&app, &org, &owner.token, "Right", Some(&admins)).await);
    let plain = id_of(&create(&app, &org, &owner.token, "Plain", None).await);
    let team = id_of(&create(&app, &org, &owner.token, "Team", None).await);
    let squad = id_of(&create(&app, &org, &owner.token, "Squad", Some(&team)).await);
    let r = add_member(&app, &org, &owner.token, &squad, &jane).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // Under a department without roles: allowed.
    let r = reparent(&app, &org, &dm.token, &team, Some(&plain)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Under the Admin department or a child of it: refused, nothing moves.
    let rev = app.store.revision();
    for parent in [&admins, &left] {
        let r = reparent(&app, &org, &dm.token, &team, Some(parent)).await;
        let missing = refused_escalation(&r);
        assert_lists(&missing, &["override_all_permissions"]);
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    let t = get_dept(&app, &org, &owner.token, &team).await;
    assert_eq!(t["parent_id"], json!(plain));
    assert_eq!(t["path"], json!(format!("/{plain}/{team}")));
    let s = get_dept(&app, &org, &owner.token, &squad).await;
    assert_eq!(s["path"], json!(format!("/{plain}/{team}/{squad}")));
    assert!(!allowed(&app, &org, &jane, "view_audit_log"));
    // The Owner may; then a move inside Admin's subtree changes nobody's
    // roles and is the manager's to make, but a move out of it takes Admin
    // away and is not.
    let r = reparent(&app, &org, &owner.token, &team, Some(&left)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
    let r = reparent(&app, &org, &dm.token, &team, Some(&right)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
    let rev = app.store.revision();
    for parent in [Some(plain.as_str()), None] {
        let r = reparent(&app, &org, &dm.token, &team, parent).await;
        let missing = refused_escalation(&r);
        assert_lists(&missing, &["override_all_permissions"]);
    }
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert_eq!(
        get_dept(&app, &org, &owner.token, &team).await["parent_id"],
        json!(right)
    );
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
    let r = reparent(&app, &org, &owner.token, &team, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(!allowed(&app, &org, &jane, "view_audit_log"));
}

// --- reviving a removed membership hands its departments' roles back

/// Invites `email` into `org` as a Member, as `token`.
async fn invite(app: &TestApp, org: &str, token: &str, email: &str) -> Res {
    app.post(
        &format!("/v1/organizations/{org}/invite-user"),
        token,
        json!({"email": email, "role_id": "role_member", "send_invitation": true}),
    )
    .await
}

async fn accept(app: &TestApp, key: &str, token: &str) -> Res {
    app.call(
        reqwest::Method::POST,
        &format!("/v1/invitations/accept?email_key={key}"),
        Some(token),
        None,
    )
    .await
}

/// The states of the invitations stored for `email`.
#[allow(clippy::unwrap_used)] // test helper: a failure is the assertion
async fn stored_invitations(app: &TestApp, email: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT state FROM invitations WHERE email_key = $1")
        .bind(email.to_lowercase())
        .fetch_all(app.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn restoring_a_member_hands_their_departments_roles_back_only_to_who_may_give_them() {
    let AdminDepts {
        app,
        org,
        owner,
        jane,
        sub,
        ..
    } = admin_depts().await;
    // A remover may remove (and restore) members and manage departments.
    let remover_role = custom_role(
        &app,
        &org,
        &owner.token,
        "Remover",
        json!({"capabilities": ["remove_users", "manage_departments"]}),
    )
    .await;
    let remover = app.member(&org, "Rita Remover", &remover_role).await;
    let clerk_role = custom_role(
        &app,
        &org,
        &owner.token,
        "Clerk",
        json!({"capabilities": ["manage_departments"]}),
    )
    .await;
    let clerks = id_of(&create(&app, &org, &owner.token, "Clerks", None).await);
    bind(&app, &org, &owner.token, &clerks, &clerk_role).await;
    let ken = staff(&app, &org, "Ken Clerk").await;
    for (dept, user) in [(&sub, &jane), (&clerks, &ken)] {
        let r = add_member(&app, &org, &owner.token, dept, user).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
    assert!(allowed(&app, &org, &ken, "manage_departments"));
    // Removing a member takes all their roles away and needs only the
    // right to remove users.
    for user in [&jane, &ken] {
        let r = remove_from_org(&app, &org, &remover.token, user).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
    }
    assert!(!allowed(&app, &org, &jane, "view_audit_log"));
    assert!(!allowed(&app, &org, &ken, "manage_departments"));
    // Restoring Jane would hand Admin back to her (through Sub, below
    // Admins): refused, and nothing written.
    let rev = app.store.revision();
    let r = restore(&app, &org, &remover.token, &jane).await;
    let missing = refused_escalation(&r);
    assert_lists(&missing, &["override_all_permissions", "view_audit_log"]);
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(stored_deleted(&app, &org, &jane).await);
    assert!(shown_deleted(&app, &org, &owner.token, &jane).await);
    assert_eq!(stored_departments_of(&app, &jane).await, 1);
    assert!(member_ids(&app, &org, &owner.token, &sub).await.is_empty());
    assert!(!allowed(&app, &org, &jane, "view_audit_log"));
    // Ken's department holds only what the remover holds: theirs to restore.
    let r = restore(&app, &org, &remover.token, &ken).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(!stored_deleted(&app, &org, &ken).await);
    assert!(!shown_deleted(&app, &org, &owner.token, &ken).await);
    assert_eq!(
        member_ids(&app, &org, &owner.token, &clerks).await,
        vec![ken.clone()]
    );
    assert!(allowed(&app, &org, &ken, "manage_departments"));
    // The Owner (who holds all of Admin) may restore Jane.
    let r = restore(&app, &org, &owner.token, &jane).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(!stored_deleted(&app, &org, &jane).await);
    assert_eq!(
        member_ids(&app, &org, &owner.token, &sub).await,
        vec![jane.clone()]
    );
    assert!(allowed(&app, &org, &jane, "view_audit_log"));
}

#[tokio::test]
#[allow(clippy::unwrap_used)] // a failure is the assertion
async fn inviting_back_a_removed_member_hands_their_departments_roles_back_only_to_who_may_give_them(
) {
    let AdminDepts {
        app,
        org,
        owner,
        dm,
        sub,
        ..
    } = admin_depts().await;
    let eve = app.member(&org, "Eve Green", "role_member").await;
    let r = add_member(&app, &org, &owner.token, &sub, &eve.id).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = remove_from_org(&app, &org, &owner.token, &eve.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    // Inviting Eve (an existing user) revives her membership as Pending,
    // with her departments: a Department Manager may invite, but may not
    // hand Admin back to her.
    let rev = app.store.revision();
    let r = invite(&app, &org, &dm.token, &eve.email).await;
    let missing = refused_escalation(&r);
    assert_lists(&missing, &["override_all_permissions"]);
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(stored_deleted(&app, &org, &eve.id).await);
    assert!(shown_deleted(&app, &org, &owner.token, &eve.id).await);
    assert!(stored_invitations(&app, &eve.email).await.is_empty());
    // The Owner may invite her back.
    let r = invite(&app, &org, &owner.token, &eve.email).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.body["email_key"].as_str().unwrap().to_owned();
    assert!(!stored_deleted(&app, &org, &eve.id).await);
    // Removed again before she answers: accepting would revive the
    // membership, and Eve, no member now, may hand out nothing.
    let r = remove_from_org(&app, &org, &owner.token, &eve.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let rev = app.store.revision();
    let r = accept(&app, &key, &eve.token).await;
    let missing = refused_escalation(&r);
    assert_lists(&missing, &["override_all_permissions"]);
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(stored_deleted(&app, &org, &eve.id).await);
    assert!(shown_deleted(&app, &org, &owner.token, &eve.id).await);
    assert_eq!(stored_invitations(&app, &eve.email).await, vec!["pending"]);
    assert!(!allowed(&app, &org, &eve.id, "view_audit_log"));
    // Once the Owner has restored her, she accepts and holds Admin again.
    let r = restore(&app, &org, &owner.token, &eve.id).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = accept(&app, &key, &eve.token).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        member_ids(&app, &org, &owner.token, &sub).await,
        vec![eve.id.clone()]
    );
    assert!(allowed(&app, &org, &eve.id, "view_audit_log"));
}
