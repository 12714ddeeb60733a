// Projects and groups in the store (the dialects that show them have their own
// suites): project membership with a project role, project-scope and group
// assignments reaching the permission check, the refusals, and cascades.

mod common;
use common::*;
use roster_core::access::need;
use roster_core::*;
use serde_json::json;

#[allow(clippy::unwrap_used)]
fn uid(u: &TestUser) -> UserId {
    u.id.parse().unwrap()
}

#[allow(clippy::unwrap_used)]
async fn check(
    app: &TestApp,
    org: &str,
    user: &TestUser,
    perm: &str,
    project: Option<ProjectId>,
) -> bool {
    let mut body = json!({"user_id": user.id, "permission": perm});
    if let Some(p) = project {
        body["project_id"] = json!(p.to_string());
    }
    let r = app
        .post(
            &format!("/v1/organizations/{org}/check"),
            PLATFORM_KEY,
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["allowed"].as_bool().unwrap()
}

#[tokio::test]
async fn a_project_role_reaches_the_check_at_that_project_only() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let ann = app.member(&org, "Ann Lee", "role_member").await;
    let p1 = project(&app, &org, "Apollo").await;
    let p2 = project(&app, &org, "Gemini").await;
    let manage = access::<need::ManageProjects>(&app, &org);
    assert!(!check(&app, &org, &ann, "api.project.write", Some(p1)).await);
    let m = app
        .store
        .add_project_member(
            &ctx(),
            &manage,
            p1,
            uid(&ann),
            SystemRole::ProjectMember.id(),
        )
        .await
        .unwrap()
        .value;
    assert_eq!(m.role_name, "Project Member");
    assert!(check(&app, &org, &ann, "api.project.write", Some(p1)).await);
    assert!(!check(&app, &org, &ann, "api.project.write", Some(p2)).await);
    assert!(!check(&app, &org, &ann, "api.project.write", None).await);

    // a second add is a conflict; the role changes through the membership
    let again = app
        .store
        .add_project_member(
            &ctx(),
            &manage,
            p1,
            uid(&ann),
            SystemRole::ProjectViewer.id(),
        )
        .await;
    assert!(
        matches!(again, Err(Error::ProjectMemberDuplicate { .. })),
        "{again:?}"
    );
    app.store
        .set_project_member_role(
            &ctx(),
            &manage,
            p1,
            uid(&ann),
            SystemRole::ProjectViewer.id(),
        )
        .await
        .unwrap();
    assert!(!check(&app, &org, &ann, "api.project.write", Some(p1)).await);
    assert!(check(&app, &org, &ann, "api.project.read", Some(p1)).await);

    // an extra project-scope role needs membership, the right role type, and no duplicate
    let assign = access::<need::AssignRoles>(&app, &org);
    let owner_role = SystemRole::ProjectOwner.id();
    let not_in = app
        .store
        .assign(
            &ctx(),
            &assign,
            Principal::User(uid(&ann)),
            owner_role,
            Scope::Project(p2),
        )
        .await;
    assert!(
        matches!(not_in, Err(Error::NotInProject { .. })),
        "{not_in:?}"
    );
    let mismatch = app
        .store
        .assign(
            &ctx(),
            &assign,
            Principal::User(uid(&ann)),
            SystemRole::Admin.id(),
            Scope::Project(p1),
        )
        .await;
    assert!(
        matches!(mismatch, Err(Error::RoleScopeMismatch(_))),
        "{mismatch:?}"
    );
    app.store
        .assign(
            &ctx(),
            &assign,
            Principal::User(uid(&ann)),
            owner_role,
            Scope::Project(p1),
        )
        .await
        .unwrap();
    assert!(check(&app, &org, &ann, "api.project.delete", Some(p1)).await);
    let dup = app
        .store
        .assign(
            &ctx(),
            &assign,
            Principal::User(uid(&ann)),
            owner_role,
            Scope::Project(p1),
        )
        .await;
    assert!(
        matches!(dup, Err(Error::AssignmentDuplicate { .. })),
        "{dup:?}"
    );
    let member = access::<need::AnyMember>(&app, &org);
    let held = app
        .store
        .principal_assignments(&member, Principal::User(uid(&ann)), Scope::Project(p1))
        .await
        .unwrap();
    assert_eq!(held.len(), 2);
    // the membership's own role is not removable as an assignment
    let own = app
        .store
        .unassign(
            &ctx(),
            &assign,
            Principal::User(uid(&ann)),
            SystemRole::ProjectViewer.id(),
            Scope::Project(p1),
        )
        .await;
    assert!(matches!(own, Err(Error::MembershipRole(_))), "{own:?}");

    // leaving the project takes every role held at its scope
    app.store
        .remove_project_member(&ctx(), &manage, p1, uid(&ann))
        .await
        .unwrap();
    assert!(!check(&app, &org, &ann, "api.project.read", Some(p1)).await);
    let held = app
        .store
        .principal_assignments(&member, Principal::User(uid(&ann)), Scope::Project(p1))
        .await
        .unwrap();
    assert!(held.is_empty());
}

#[tokio::test]
async fn archived_projects_refuse_writes_and_leave_the_default_list() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let p = project(&app, &org, "Old").await;
    let manage = access::<need::ManageProjects>(&app, &org);
    let archived = app
        .store
        .archive_project(&ctx(), &manage, p)
        .await
        .unwrap()
        .value;
    assert!(archived.is_archived());
    let add = app
        .store
        .add_project_member(
            &ctx(),
            &manage,
            p,
            uid(&owner),
            SystemRole::ProjectOwner.id(),
        )
        .await;
    assert!(matches!(add, Err(Error::ProjectArchived(_))), "{add:?}");
    let member = access::<need::AnyMember>(&app, &org);
    let mut q = roster_store::projects::ProjectQuery {
        limit: 10,
        ..Default::default()
    };
    assert!(app
        .store
        .list_projects(&member, &q)
        .await
        .unwrap()
        .items
        .is_empty());
    q.include_archived = true;
    assert_eq!(
        app.store
            .list_projects(&member, &q)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    // archiving again changes nothing
    let again = app
        .store
        .archive_project(&ctx(), &manage, p)
        .await
        .unwrap()
        .value;
    assert_eq!(again.archived_at, archived.archived_at);
}

#[tokio::test]
async fn projects_and_groups_of_one_organization_are_invisible_to_another() {
    let app = TestApp::spawn().await;
    let (a, _) = app.org("Acme").await;
    let (b, _) = app.org("Blue").await;
    let p = project(&app, &a, "Secret").await;
    let g = app
        .store
        .create_group(&ctx(), &access::<need::ManageGroups>(&app, &a), "Ops")
        .await
        .unwrap()
        .value
        .id;
    let other = access::<need::AnyMember>(&app, &b);
    assert!(matches!(
        app.store.get_project(&other, p).await,
        Err(Error::ProjectNotFound(_))
    ));
    assert!(matches!(
        app.store.get_group(&other, g).await,
        Err(Error::GroupNotFound(_))
    ));
    let none = app
        .store
        .list_projects(
            &other,
            &roster_store::projects::ProjectQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

#[tokio::test]
async fn a_group_role_reaches_its_members_until_they_leave_or_the_group_goes() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let ann = app.member(&org, "Ann Lee", "role_member").await;
    let groups = access::<need::ManageGroups>(&app, &org);
    let g = app
        .store
        .create_group(&ctx(), &groups, "Ops")
        .await
        .unwrap()
        .value
        .id;
    let taken = app.store.create_group(&ctx(), &groups, "ops").await;
    assert!(matches!(taken, Err(Error::GroupNameTaken(_))), "{taken:?}");
    let assign = access::<need::AssignRoles>(&app, &org);
    app.store
        .assign(
            &ctx(),
            &assign,
            Principal::Group(g),
            SystemRole::Admin.id(),
            Scope::Organization,
        )
        .await
        .unwrap();
    let dup = app
        .store
        .assign(
            &ctx(),
            &assign,
            Principal::Group(g),
            SystemRole::Admin.id(),
            Scope::Organization,
        )
        .await;
    assert!(
        matches!(dup, Err(Error::GroupRoleDuplicate { .. })),
        "{dup:?}"
    );
    assert!(!check(&app, &org, &ann, "manage_users", None).await);
    app.store
        .add_group_member(&ctx(), &groups, g, uid(&ann))
        .await
        .unwrap();
    assert!(check(&app, &org, &ann, "manage_users", None).await);
    app.store
        .remove_group_member(&ctx(), &groups, g, uid(&ann))
        .await
        .unwrap();
    assert!(!check(&app, &org, &ann, "manage_users", None).await);
    app.store
        .add_group_member(&ctx(), &groups, g, uid(&ann))
        .await
        .unwrap();
    assert!(check(&app, &org, &ann, "manage_users", None).await);
    app.store.delete_group(&ctx(), &groups, g).await.unwrap();
    assert!(!check(&app, &org, &ann, "manage_users", None).await);
    let rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM role_assignments WHERE principal_type = 'group'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(rows, 0);

    // a project role for a group needs the group attached to the project
    let g2 = app
        .store
        .create_group(&ctx(), &groups, "Dev")
        .await
        .unwrap()
        .value
        .id;
    let p = project(&app, &org, "Apollo").await;
    let detached = app
        .store
        .assign(
            &ctx(),
            &assign,
            Principal::Group(g2),
            SystemRole::ProjectOwner.id(),
            Scope::Project(p),
        )
        .await;
    assert!(
        matches!(detached, Err(Error::GroupNotInProject { .. })),
        "{detached:?}"
    );
    let manage = access::<need::ManageProjects>(&app, &org);
    app.store
        .add_project_group(&ctx(), &manage, p, g2, SystemRole::ProjectViewer.id())
        .await
        .unwrap();
    app.store
        .add_group_member(&ctx(), &groups, g2, uid(&ann))
        .await
        .unwrap();
    assert!(check(&app, &org, &ann, "api.project.read", Some(p)).await);
    assert!(!check(&app, &org, &ann, "api.project.write", Some(p)).await);
}

#[tokio::test]
async fn concurrent_duplicate_group_members_give_one_success() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let ann = app.member(&org, "Ann Lee", "role_member").await;
    let groups = access::<need::ManageGroups>(&app, &org);
    let g = app
        .store
        .create_group(&ctx(), &groups, "Ops")
        .await
        .unwrap()
        .value
        .id;
    let (c1, c2) = (ctx(), ctx());
    let (r1, r2) = tokio::join!(
        app.store.add_group_member(&c1, &groups, g, uid(&ann)),
        app.store.add_group_member(&c2, &groups, g, uid(&ann)),
    );
    let oks = [r1.is_ok(), r2.is_ok()].iter().filter(|o| **o).count();
    assert_eq!(oks, 1, "{r1:?} {r2:?}");
    for r in [r1, r2] {
        if let Err(e) = r {
            assert!(matches!(e, Error::GroupMemberDuplicate { .. }), "{e:?}");
        }
    }
}

#[tokio::test]
async fn a_restarted_store_rebuilds_the_same_decisions() {
    // The start-up load (rusqlite on SQLite, sqlx on PostgreSQL) must agree
    // with the index the writes kept up to date.
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let ann = app.member(&org, "Ann Lee", "role_member").await;
    let bob = app.member(&org, "Bob Ray", "role_member").await;
    let dept = app
        .post(
            &format!("/v1/organizations/{org}/departments"),
            &owner.token,
            json!({"name": "Eng"}),
        )
        .await;
    assert_eq!(dept.status, 201, "{:?}", dept.body);
    let d = dept.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/v1/organizations/{org}/departments/{d}/members"),
            &owner.token,
            json!({"user_id": bob.id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .post(
            &format!("/v1/organizations/{org}/departments/{d}/roles"),
            &owner.token,
            json!({"role_id": "role_admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let groups = access::<need::ManageGroups>(&app, &org);
    let g = app
        .store
        .create_group(&ctx(), &groups, "Ops")
        .await
        .unwrap()
        .value
        .id;
    app.store
        .add_group_member(&ctx(), &groups, g, uid(&ann))
        .await
        .unwrap();
    let assign = access::<need::AssignRoles>(&app, &org);
    app.store
        .assign(
            &ctx(),
            &assign,
            Principal::Group(g),
            SystemRole::BillingManager.id(),
            Scope::Organization,
        )
        .await
        .unwrap();
    let p = project(&app, &org, "Apollo").await;
    app.store
        .add_project_member(
            &ctx(),
            &access::<need::ManageProjects>(&app, &org),
            p,
            uid(&ann),
            SystemRole::ProjectMember.id(),
        )
        .await
        .unwrap();

    let reopened = roster_store::Store::open(app.store.url()).await.unwrap();
    let (live, again) = (app.store.index().load(), reopened.index().load());
    assert_eq!(live.revision, again.revision);
    let o: OrgId = org.parse().unwrap();
    let (a, b) = (live.org(o).unwrap(), again.org(o).unwrap());
    let dept: DeptId = d.parse().unwrap();
    for user in [&owner, &ann, &bob] {
        for scope in [
            Scope::Organization,
            Scope::Project(p),
            Scope::Department(dept),
        ] {
            let (ea, eb) = (a.effective(uid(user), scope), b.effective(uid(user), scope));
            let keys = |e: &roster_core::index::Effective| {
                e.permissions
                    .iter()
                    .map(|(k, _)| k.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(keys(&ea), keys(&eb), "{} at {scope:?}", user.id);
            assert!(!keys(&ea).is_empty(), "{} at {scope:?}", user.id);
            for perm in [
                "manage_users",
                "manage_billing",
                "api.project.write",
                "view_audit_log",
            ] {
                assert_eq!(
                    a.allowed(uid(user), perm, scope),
                    b.allowed(uid(user), perm, scope)
                );
            }
        }
    }
    assert!(b.allowed(uid(&ann), "manage_billing", Scope::Organization));
    assert!(b.allowed(uid(&ann), "api.project.write", Scope::Project(p)));
    assert!(b.allowed(uid(&bob), "manage_users", Scope::Organization));
}
