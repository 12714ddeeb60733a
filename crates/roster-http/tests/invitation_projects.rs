// Invitations that name projects, in the store: the all-or-nothing checks of
// the project list, and both acceptance paths (`complete` for a new user,
// `accept` for an existing one) adding the project memberships.

mod common;
use common::*;
use roster_core::access::need;
use roster_core::text::Email;
use roster_core::*;
use roster_store::invitations::InvitedProject;
use roster_store::roles::NewRole;
use roster_store::Ctx;

#[allow(clippy::unwrap_used)]
async fn project_role(app: &TestApp, org: &str, name: &str, p: ProjectId) -> RoleId {
    app.store
        .create_role(
            &ctx(),
            &access::<need::ManageRoles>(app, org),
            NewRole {
                name: name.to_owned(),
                allow: vec!["api.project.read".to_owned()],
                project: Some(p),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .value
        .id
}

/// What a refusal must be.
type Expect = fn(&Error) -> bool;

fn ip(project: ProjectId, role: RoleId) -> InvitedProject {
    InvitedProject {
        project_id: project,
        role_id: role,
    }
}

#[allow(clippy::unwrap_used)]
async fn invite(
    app: &TestApp,
    org: &str,
    email: &str,
    projects: &[InvitedProject],
) -> Result<roster_store::invitations::CreatedInvitation> {
    app.store
        .invite_with_projects(
            &ctx(),
            &access::<need::InviteUsers>(app, org),
            Email::parse("email", email).unwrap(),
            SystemRole::Member.id(),
            projects,
        )
        .await
        .map(|w| w.value)
}

/// The user's projects with their project roles.
#[allow(clippy::unwrap_used)]
async fn memberships(app: &TestApp, org: &str, user: UserId) -> Vec<(ProjectId, RoleId)> {
    app.store
        .user_projects(&access::<need::AnyMember>(app, org), user)
        .await
        .unwrap()
        .into_iter()
        .map(|(p, m)| (p.id, m.role_id))
        .collect()
}

#[allow(clippy::unwrap_used)]
async fn rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM invitation_projects")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn the_project_list_is_checked_all_or_nothing() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let (other_org, _) = app.org("Other").await;
    let p1 = project(&app, &org, "One").await;
    let p2 = project(&app, &org, "Two").await;
    let old = project(&app, &org, "Old").await;
    let foreign = project(&app, &other_org, "Foreign").await;
    app.store
        .archive_project(&ctx(), &access::<need::ManageProjects>(&app, &org), old)
        .await
        .unwrap();
    let r2 = project_role(&app, &org, "Two only", p2).await;
    let member = SystemRole::ProjectMember.id();
    let cases: Vec<(Vec<InvitedProject>, Expect)> = vec![
        (vec![ip(p1, member), ip(old, member)], |e| {
            matches!(e, Error::ProjectArchived(_))
        }),
        (vec![ip(foreign, member)], |e| {
            matches!(e, Error::ProjectNotFound(_))
        }),
        (vec![ip(p1, SystemRole::Owner.id())], |e| {
            matches!(e, Error::RoleScopeMismatch(_))
        }),
        (vec![ip(p1, r2)], |e| {
            matches!(e, Error::RoleScopeMismatch(_))
        }),
        (vec![ip(p1, member), ip(p1, member)], |e| {
            matches!(e, Error::Validation(_))
        }),
    ];
    for (projects, want) in cases {
        let e = invite(&app, &org, "new@example.test", &projects)
            .await
            .unwrap_err();
        assert!(want(&e), "{projects:?}: {e:?}");
    }
    // Nothing was written by the refusals: the email is still free.
    assert_eq!(rows(&app).await, 0);
    let made = invite(
        &app,
        &org,
        "new@example.test",
        &[ip(p2, r2), ip(p1, SystemRole::ProjectViewer.id())],
    )
    .await
    .unwrap();
    let mut want = vec![ip(p2, r2), ip(p1, SystemRole::ProjectViewer.id())];
    want.sort_by_key(|p| p.project_id);
    assert_eq!(made.projects, want);
    let shown = app
        .store
        .invitation_projects(
            &access::<need::InviteUsers>(&app, &org),
            &[made.invitation.id],
        )
        .await
        .unwrap();
    assert_eq!(shown[&made.invitation.id], want);
    // Naming projects needs the right to manage projects.
    let inviter = app.member(&org, "Ivy Inviter", "role_member").await;
    let inviter_role = app
        .store
        .create_role(
            &ctx(),
            &access::<need::ManageRoles>(&app, &org),
            NewRole {
                name: "Inviter".to_owned(),
                allow: vec!["invite_users".to_owned()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .value
        .id;
    let r = app
        .post(
            &format!("/v1/organizations/{org}/roles/{inviter_role}/members"),
            PLATFORM_KEY,
            serde_json::json!({"user_id": inviter.id}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let as_inviter = authorize::<need::InviteUsers>(
        &app.store.index().load(),
        &Actor::User {
            user: inviter.id.parse().unwrap(),
        },
        org.parse().unwrap(),
    )
    .unwrap();
    let e = app
        .store
        .invite_with_projects(
            &ctx(),
            &as_inviter,
            Email::parse("email", "x@example.test").unwrap(),
            SystemRole::Member.id(),
            &[ip(p1, member)],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden { .. }), "{e:?}");
    assert_eq!(rows(&app).await, 2);
}

#[tokio::test]
#[allow(clippy::unwrap_used)]
async fn both_acceptance_paths_join_the_projects() {
    let app = TestApp::spawn().await;
    let (org, _owner) = app.org("Acme").await;
    let p1 = project(&app, &org, "One").await;
    let p2 = project(&app, &org, "Two").await;
    let p3 = project(&app, &org, "Three").await;
    let r2 = project_role(&app, &org, "Two only", p2).await;
    let member = SystemRole::ProjectMember.id();

    // A new user completes: every named project, with its role.
    let made = invite(
        &app,
        &org,
        "new@example.test",
        &[ip(p1, member), ip(p2, r2)],
    )
    .await
    .unwrap();
    let done = app
        .store
        .complete_invitation("test", &made.key, "New Person", "new password 1")
        .await
        .unwrap()
        .value;
    let mut got = memberships(&app, &org, done.user.id).await;
    got.sort();
    let mut want = vec![(p1, member), (p2, r2)];
    want.sort();
    assert_eq!(got, want);

    // An existing user accepts: a project they joined while invited keeps
    // its membership, one deleted since and one archived since are skipped.
    let carl = app.user("Carl Clark").await;
    let carl_id: UserId = carl.id.parse().unwrap();
    let made = invite(
        &app,
        &org,
        &carl.email,
        &[
            ip(p1, SystemRole::ProjectOwner.id()),
            ip(p2, r2),
            ip(p3, member),
        ],
    )
    .await
    .unwrap();
    let pm = access::<need::ManageProjects>(&app, &org);
    app.store
        .add_project_member(&ctx(), &pm, p1, carl_id, SystemRole::ProjectViewer.id())
        .await
        .unwrap();
    app.store.delete_project(&ctx(), &pm, p2).await.unwrap();
    app.store.archive_project(&ctx(), &pm, p3).await.unwrap();
    let shown = app
        .store
        .invitation_projects(
            &access::<need::InviteUsers>(&app, &org),
            &[made.invitation.id],
        )
        .await
        .unwrap();
    assert_eq!(
        shown[&made.invitation.id].len(),
        2,
        "the deleted project is left out"
    );
    let carl_ctx = Ctx {
        actor: Actor::User { user: carl_id },
        trace_id: "test".to_owned(),
    };
    app.store
        .accept_invitation(&carl_ctx, carl_id, &made.key)
        .await
        .unwrap();
    assert_eq!(
        memberships(&app, &org, carl_id).await,
        vec![(p1, SystemRole::ProjectViewer.id())]
    );
}
