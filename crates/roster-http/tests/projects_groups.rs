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

// --- group membership hands out the group's roles

/// A write context acting as `user`.
fn as_ctx(user: &TestUser) -> roster_store::Ctx {
    roster_store::Ctx {
        actor: Actor::User { user: uid(user) },
        trace_id: "test".to_owned(),
    }
}

/// `user`'s authorization for `N` in `org`, as the dialects build it.
#[allow(clippy::unwrap_used)]
fn as_user<N: Need>(app: &TestApp, org: &str, user: &TestUser) -> OrgAccess<N> {
    authorize::<N>(
        &app.store.index().load(),
        &Actor::User { user: uid(user) },
        org.parse().unwrap(),
    )
    .unwrap()
}

/// The group's live members, through the store's read.
#[allow(clippy::unwrap_used)]
async fn group_member_ids(app: &TestApp, org: &str, group: GroupId) -> Vec<UserId> {
    app.store
        .list_group_members(
            &access::<need::AnyMember>(app, org),
            group,
            None,
            100,
            false,
        )
        .await
        .unwrap()
        .items
        .iter()
        .map(|m| m.user_id)
        .collect()
}

/// The stored group rows of `group`, live memberships or not.
#[allow(clippy::unwrap_used)]
async fn stored_group_rows(app: &TestApp, group: GroupId) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = $1")
        .bind(group.uuid().to_string())
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

/// The keys an `Escalation` refusal lists.
fn escalation_missing<T: std::fmt::Debug>(r: Result<T>) -> Vec<String> {
    match r {
        Err(Error::Escalation { missing }) => missing,
        other => panic!("expected an escalation refusal, got {other:?}"),
    }
}

/// The cast of the group escalation tests: a group manager (a member whose
/// role holds api.groups.write only, so may manage groups and their members
/// and nothing else), an Admin, two plain members, and groups holding Admin
/// and Owner (without members).
struct GroupCast {
    gm_role: String,
    gm: TestUser,
    ada: TestUser,
    jane: TestUser,
    olga: TestUser,
    admins: GroupId,
    owners: GroupId,
}

async fn group_cast(app: &TestApp, org: &str, owner: &TestUser) -> GroupCast {
    let gm_role = custom_role(
        app,
        org,
        &owner.token,
        "Group Manager",
        json!({"capabilities": ["api.groups.write"]}),
    )
    .await;
    GroupCast {
        gm: app.member(org, "Gus Manager", &gm_role).await,
        ada: app.member(org, "Ada Admin", "role_admin").await,
        jane: app.member(org, "Jane Smith", "role_member").await,
        olga: app.member(org, "Olga Other", "role_member").await,
        admins: group_holding(app, org, "Admins", "role_admin").await,
        owners: group_holding(app, org, "Owners", "role_owner").await,
        gm_role,
    }
}

#[tokio::test]
async fn joining_a_group_hands_out_its_roles_only_to_who_may_give_them() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let GroupCast {
        gm_role,
        gm,
        ada,
        jane,
        olga,
        admins,
        owners,
    } = group_cast(&app, &org, &owner).await;
    let writers = group_holding(&app, &org, "Writers", &gm_role).await;
    // A group holding a project role (attached to the project with it).
    let p = project(&app, &org, "Apollo").await;
    let builders = app
        .store
        .create_group(
            &ctx(),
            &access::<need::ManageGroups>(&app, &org),
            "Builders",
        )
        .await
        .unwrap()
        .value
        .id;
    app.store
        .add_project_group(
            &ctx(),
            &access::<need::ManageProjects>(&app, &org),
            p,
            builders,
            SystemRole::ProjectOwner.id(),
        )
        .await
        .unwrap();

    let rev = app.store.revision();
    let groups = as_user::<need::ManageGroups>(&app, &org, &gm);
    // Neither themself nor anyone else into the Admins group.
    for user in [&gm, &jane] {
        let r = app
            .store
            .add_group_member(&as_ctx(&gm), &groups, admins, uid(user))
            .await;
        let missing = escalation_missing(r);
        assert_lists(&missing, &["override_all_permissions", "view_audit_log"]);
    }
    // A project-scope role of the group counts as well.
    let r = app
        .store
        .add_group_member(&as_ctx(&gm), &groups, builders, uid(&jane))
        .await;
    let missing = escalation_missing(r);
    assert_lists(&missing, &["api.project.*"]);
    // The Owner role only by an Owner: an Admin may not.
    let r = app
        .store
        .add_group_member(
            &as_ctx(&ada),
            &as_user::<need::ManageGroups>(&app, &org, &ada),
            owners,
            uid(&jane),
        )
        .await;
    assert!(matches!(r, Err(Error::OwnerOnly)), "{r:?}");
    // Nothing was written.
    assert_eq!(app.store.revision(), rev, "nothing written");
    for g in [admins, owners, builders] {
        assert!(group_member_ids(&app, &org, g).await.is_empty());
        assert_eq!(stored_group_rows(&app, g).await, 0);
    }
    for user in [&gm, &jane] {
        assert!(!check(&app, &org, user, "view_audit_log", None).await);
        assert!(!check(&app, &org, user, "override_all_permissions", None).await);
    }
    assert!(!check(&app, &org, &jane, "manage_billing", None).await);
    assert!(!check(&app, &org, &jane, "api.project.delete", Some(p)).await);

    // A group whose roles the caller holds all of is theirs to fill.
    app.store
        .add_group_member(&as_ctx(&gm), &groups, writers, uid(&jane))
        .await
        .unwrap();
    assert!(check(&app, &org, &jane, "api.groups.write", None).await);
    // An Admin may hand out Admin and the project role, an Owner Owner.
    let admin_groups = as_user::<need::ManageGroups>(&app, &org, &ada);
    for g in [admins, builders] {
        app.store
            .add_group_member(&as_ctx(&ada), &admin_groups, g, uid(&jane))
            .await
            .unwrap();
    }
    assert!(check(&app, &org, &jane, "view_audit_log", None).await);
    assert!(check(&app, &org, &jane, "api.project.delete", Some(p)).await);
    // (Olga, not Jane: Admin, through its override, allows billing too.)
    assert!(!check(&app, &org, &olga, "manage_billing", None).await);
    app.store
        .add_group_member(
            &as_ctx(&owner),
            &as_user::<need::ManageGroups>(&app, &org, &owner),
            owners,
            uid(&olga),
        )
        .await
        .unwrap();
    assert!(check(&app, &org, &olga, "manage_billing", None).await);
    assert_eq!(group_member_ids(&app, &org, owners).await, vec![uid(&olga)]);
}

#[tokio::test]
async fn leaving_a_group_takes_its_roles_away_only_by_who_may_take_them() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let GroupCast {
        gm_role,
        gm,
        ada,
        jane,
        olga,
        admins,
        owners,
    } = group_cast(&app, &org, &owner).await;
    let walt = app.member(&org, "Walt Writer", "role_member").await;
    // Ken audits, except while in the Unaudited group, whose role denies it.
    let auditor = custom_role(
        &app,
        &org,
        &owner.token,
        "Auditor",
        json!({"capabilities": ["view_audit_log"]}),
    )
    .await;
    let ken = app.member(&org, "Ken Auditor", &auditor).await;
    let no_audit = custom_role(
        &app,
        &org,
        &owner.token,
        "No audit",
        json!({"capabilities": [], "denied_capabilities": ["view_audit_log"]}),
    )
    .await;
    let unaudited = group_holding(&app, &org, "Unaudited", &no_audit).await;
    let writers = group_holding(&app, &org, "Writers", &gm_role).await;
    let platform = access::<need::ManageGroups>(&app, &org);
    for (g, user) in [(admins, &jane), (owners, &olga), (writers, &walt)] {
        app.store
            .add_group_member(&ctx(), &platform, g, uid(user))
            .await
            .unwrap();
    }
    let groups = as_user::<need::ManageGroups>(&app, &org, &gm);
    // Handing out a denial grants nothing: the group manager may.
    app.store
        .add_group_member(&as_ctx(&gm), &groups, unaudited, uid(&ken))
        .await
        .unwrap();
    assert!(!check(&app, &org, &ken, "view_audit_log", None).await);

    let rev = app.store.revision();
    // Taking Admin away needs Admin's keys.
    let r = app
        .store
        .remove_group_member(&as_ctx(&gm), &groups, admins, uid(&jane))
        .await;
    let missing = escalation_missing(r);
    assert_lists(&missing, &["override_all_permissions"]);
    // Lifting a denial grants the key back: taking it away needs the key.
    let r = app
        .store
        .remove_group_member(&as_ctx(&gm), &groups, unaudited, uid(&ken))
        .await;
    assert_eq!(escalation_missing(r), vec!["view_audit_log".to_owned()]);
    // The Owner role only by an Owner.
    let r = app
        .store
        .remove_group_member(
            &as_ctx(&ada),
            &as_user::<need::ManageGroups>(&app, &org, &ada),
            owners,
            uid(&olga),
        )
        .await;
    assert!(matches!(r, Err(Error::OwnerOnly)), "{r:?}");
    // Nothing was written.
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert_eq!(group_member_ids(&app, &org, admins).await, vec![uid(&jane)]);
    assert_eq!(
        group_member_ids(&app, &org, unaudited).await,
        vec![uid(&ken)]
    );
    assert_eq!(group_member_ids(&app, &org, owners).await, vec![uid(&olga)]);
    for g in [admins, unaudited, owners] {
        assert_eq!(stored_group_rows(&app, g).await, 1);
    }
    assert!(check(&app, &org, &jane, "view_audit_log", None).await);
    assert!(!check(&app, &org, &ken, "view_audit_log", None).await);
    assert!(check(&app, &org, &olga, "manage_billing", None).await);

    // A group whose roles the caller holds all of is theirs to empty.
    app.store
        .remove_group_member(&as_ctx(&gm), &groups, writers, uid(&walt))
        .await
        .unwrap();
    assert!(!check(&app, &org, &walt, "api.groups.write", None).await);
    // The Owner may take each away.
    let owner_groups = as_user::<need::ManageGroups>(&app, &org, &owner);
    for (g, user) in [(admins, &jane), (unaudited, &ken), (owners, &olga)] {
        app.store
            .remove_group_member(&as_ctx(&owner), &owner_groups, g, uid(user))
            .await
            .unwrap();
        assert!(group_member_ids(&app, &org, g).await.is_empty());
    }
    assert!(!check(&app, &org, &jane, "view_audit_log", None).await);
    assert!(check(&app, &org, &ken, "view_audit_log", None).await);
    assert!(!check(&app, &org, &olga, "manage_billing", None).await);
}

#[tokio::test]
async fn deleting_a_group_takes_its_roles_away_only_by_who_may_take_them() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let GroupCast {
        gm,
        ada,
        jane,
        olga,
        admins,
        owners,
        ..
    } = group_cast(&app, &org, &owner).await;
    let empty = group_holding(&app, &org, "Nobody", "role_owner").await;
    let platform = access::<need::ManageGroups>(&app, &org);
    for (g, user) in [(admins, &jane), (owners, &olga)] {
        app.store
            .add_group_member(&ctx(), &platform, g, uid(user))
            .await
            .unwrap();
    }
    let groups = as_user::<need::ManageGroups>(&app, &org, &gm);
    let read = access::<need::AnyMember>(&app, &org);

    let rev = app.store.revision();
    // Deleting Admins takes Admin from Jane: it needs Admin's keys.
    let r = app.store.delete_group(&as_ctx(&gm), &groups, admins).await;
    let missing = escalation_missing(r);
    assert_lists(&missing, &["override_all_permissions"]);
    // The Owner role only by an Owner.
    let r = app
        .store
        .delete_group(
            &as_ctx(&ada),
            &as_user::<need::ManageGroups>(&app, &org, &ada),
            owners,
        )
        .await;
    assert!(matches!(r, Err(Error::OwnerOnly)), "{r:?}");
    // Nothing was written.
    assert_eq!(app.store.revision(), rev, "nothing written");
    for (g, user) in [(admins, &jane), (owners, &olga)] {
        app.store.get_group(&read, g).await.unwrap();
        assert_eq!(group_member_ids(&app, &org, g).await, vec![uid(user)]);
    }
    assert!(check(&app, &org, &jane, "view_audit_log", None).await);
    assert!(check(&app, &org, &olga, "manage_billing", None).await);

    // A group with no members takes nothing from anyone.
    app.store
        .delete_group(&as_ctx(&gm), &groups, empty)
        .await
        .unwrap();
    // Who may take the roles away deletes the groups.
    app.store
        .delete_group(
            &as_ctx(&ada),
            &as_user::<need::ManageGroups>(&app, &org, &ada),
            admins,
        )
        .await
        .unwrap();
    app.store
        .delete_group(
            &as_ctx(&owner),
            &as_user::<need::ManageGroups>(&app, &org, &owner),
            owners,
        )
        .await
        .unwrap();
    for g in [admins, owners, empty] {
        let r = app.store.get_group(&read, g).await;
        assert!(r.is_err(), "{r:?}");
    }
    assert!(!check(&app, &org, &jane, "view_audit_log", None).await);
    assert!(!check(&app, &org, &olga, "manage_billing", None).await);
}

#[tokio::test]
async fn leaving_a_project_takes_its_roles_away_only_by_who_may_take_them() {
    let app = TestApp::spawn().await;
    let (org, owner) = app.org("Acme").await;
    let pm_role = custom_role(
        &app,
        &org,
        &owner.token,
        "Project Manager",
        json!({"capabilities": ["api.organization.projects.write"]}),
    )
    .await;
    let pm = app.member(&org, "Pat Manager", &pm_role).await;
    let ada = app.member(&org, "Ada Admin", "role_admin").await;
    let jane = app.member(&org, "Jane Smith", "role_member").await;
    let walt = app.member(&org, "Walt Writer", "role_member").await;
    let p = project(&app, &org, "Apollo").await;
    let platform = access::<need::ManageProjects>(&app, &org);
    let groups = access::<need::ManageGroups>(&app, &org);
    let writers = app
        .store
        .create_group(&ctx(), &groups, "Writers")
        .await
        .unwrap()
        .value
        .id;
    app.store
        .add_group_member(&ctx(), &groups, writers, uid(&walt))
        .await
        .unwrap();
    let empty = app
        .store
        .create_group(&ctx(), &groups, "Nobody")
        .await
        .unwrap()
        .value
        .id;
    let owner_role = SystemRole::ProjectOwner.id();
    app.store
        .add_project_member(&ctx(), &platform, p, uid(&jane), owner_role)
        .await
        .unwrap();
    for g in [writers, empty] {
        app.store
            .add_project_group(&ctx(), &platform, p, g, owner_role)
            .await
            .unwrap();
    }
    let projects = as_user::<need::ManageProjects>(&app, &org, &pm);
    let read = access::<need::AnyMember>(&app, &org);
    assert!(check(&app, &org, &jane, "api.project.write", Some(p)).await);
    assert!(check(&app, &org, &walt, "api.project.write", Some(p)).await);

    // Removing Jane or the Writers takes Project Owner away: it needs its keys.
    let rev = app.store.revision();
    let r = app
        .store
        .remove_project_member(&as_ctx(&pm), &projects, p, uid(&jane))
        .await;
    assert!(!escalation_missing(r).is_empty());
    let r = app
        .store
        .remove_project_group(&as_ctx(&pm), &projects, p, writers)
        .await;
    assert!(!escalation_missing(r).is_empty());
    // Nothing was written.
    assert_eq!(app.store.revision(), rev, "nothing written");
    app.store
        .get_project_member(&read, p, uid(&jane))
        .await
        .unwrap();
    app.store
        .get_project_group(&read, p, writers)
        .await
        .unwrap();
    assert!(check(&app, &org, &jane, "api.project.write", Some(p)).await);
    assert!(check(&app, &org, &walt, "api.project.write", Some(p)).await);

    // A group with no members takes nothing from anyone.
    app.store
        .remove_project_group(&as_ctx(&pm), &projects, p, empty)
        .await
        .unwrap();
    // An Admin holds Project Owner's keys and may take it away.
    let admin = as_user::<need::ManageProjects>(&app, &org, &ada);
    app.store
        .remove_project_member(&as_ctx(&ada), &admin, p, uid(&jane))
        .await
        .unwrap();
    app.store
        .remove_project_group(&as_ctx(&ada), &admin, p, writers)
        .await
        .unwrap();
    assert!(app
        .store
        .get_project_member(&read, p, uid(&jane))
        .await
        .is_err());
    assert!(app
        .store
        .get_project_group(&read, p, writers)
        .await
        .is_err());
    assert!(!check(&app, &org, &jane, "api.project.write", Some(p)).await);
    assert!(!check(&app, &org, &walt, "api.project.write", Some(p)).await);
}

#[tokio::test]
async fn assigning_a_role_to_a_group_needs_the_right_to_give_it_to_every_member() {
    // Already the rule of `Store::assign` / `unassign` (any principal):
    // pinned here beside group membership, which hands out the same roles.
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let dm = app
        .member(&org, "Dee Manager", "role_department_manager")
        .await;
    let jane = app.member(&org, "Jane Smith", "role_member").await;
    let groups = access::<need::ManageGroups>(&app, &org);
    let g = app
        .store
        .create_group(&ctx(), &groups, "Ops")
        .await
        .unwrap()
        .value
        .id;
    app.store
        .add_group_member(&ctx(), &groups, g, uid(&jane))
        .await
        .unwrap();
    let assign = as_user::<need::AssignRoles>(&app, &org, &dm);
    let rev = app.store.revision();
    let r = app
        .store
        .assign(
            &as_ctx(&dm),
            &assign,
            Principal::Group(g),
            SystemRole::Admin.id(),
            Scope::Organization,
        )
        .await;
    let missing = escalation_missing(r);
    assert_lists(&missing, &["override_all_permissions"]);
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(!check(&app, &org, &jane, "view_audit_log", None).await);
    // Given by the platform, it is not the Department Manager's to take away.
    let platform = access::<need::AssignRoles>(&app, &org);
    app.store
        .assign(
            &ctx(),
            &platform,
            Principal::Group(g),
            SystemRole::Admin.id(),
            Scope::Organization,
        )
        .await
        .unwrap();
    let rev = app.store.revision();
    let r = app
        .store
        .unassign(
            &as_ctx(&dm),
            &assign,
            Principal::Group(g),
            SystemRole::Admin.id(),
            Scope::Organization,
        )
        .await;
    escalation_missing(r);
    assert_eq!(app.store.revision(), rev, "nothing written");
    assert!(check(&app, &org, &jane, "view_audit_log", None).await);
    // A role the Department Manager holds all of is theirs to give.
    app.store
        .assign(
            &as_ctx(&dm),
            &assign,
            Principal::Group(g),
            SystemRole::DepartmentManager.id(),
            Scope::Organization,
        )
        .await
        .unwrap();
    assert!(check(&app, &org, &jane, "reparent_departments", None).await);
}
