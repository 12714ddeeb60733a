// Many writes at once: every acknowledged write is committed (a fresh store
// on the same database sees it), gets its own revision, and is in the index;
// a failing or abandoned write takes nothing else down with it. On SQLite
// this exercises group commit (writes sharing one commit).

mod common;

use common::*;
use roster_core::access::need;
use roster_core::{Actor, Error, OrgId, UserId};
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

#[allow(clippy::unwrap_used)]
async fn users(app: &TestApp, prefix: &str, n: usize) -> Vec<UserId> {
    let tasks = (0..n).map(|i| {
        let (store, prefix) = (app.store.clone(), prefix.to_owned());
        async move {
            let platform = roster_core::authorize_platform(&Actor::Platform).unwrap();
            store
                .create_user(
                    &ctx(),
                    &platform,
                    roster_store::users::NewUser {
                        email: roster_core::text::Email::parse(
                            "email",
                            &format!("{prefix}-{i}@example.test"),
                        )
                        .unwrap(),
                        full_name: None,
                        username: None,
                        password: None,
                    },
                )
                .await
                .unwrap()
        }
    });
    let written = join_all(tasks).await;
    let revisions: HashSet<i64> = written.iter().map(|w| w.revision).collect();
    assert_eq!(revisions.len(), n, "each write has its own revision");
    written.into_iter().map(|w| w.value.id).collect()
}

/// Runs the futures concurrently on the runtime, in order of the results.
#[allow(clippy::unwrap_used)]
async fn join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// The organization's members as the live index has them and as a store
/// freshly opened on the same database reads them.
#[allow(clippy::unwrap_used)]
async fn members_live_and_stored(
    app: &TestApp,
    org: OrgId,
) -> (BTreeSet<UserId>, BTreeSet<UserId>) {
    let live = app.store.index().load().org(org).unwrap().members();
    let fresh = roster_store::Store::open(app.store.url()).await.unwrap();
    let stored = fresh.index().load().org(org).unwrap().members();
    let ids = |v: Vec<(UserId, roster_core::MemberStatus)>| v.into_iter().map(|(u, _)| u).collect();
    (ids(live), ids(stored))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_are_each_committed_once_and_indexed() {
    let app = TestApp::spawn().await;
    let (org, _) = app.org("Many").await;
    let org_id: OrgId = org.parse().unwrap();
    let people = users(&app, "many", 40).await;

    // every user added at once, the first one eight times over
    let mut attempts: Vec<UserId> = people.clone();
    attempts.extend(std::iter::repeat_n(people[0], 7));
    let access = std::sync::Arc::new(access::<need::Admin>(&app, &org));
    let results = join_all(attempts.iter().map(|&u| {
        let (store, access) = (app.store.clone(), access.clone());
        async move {
            store
                .add_member(&ctx(), &access, u, None, None)
                .await
                .map(|w| w.revision)
        }
    }))
    .await;
    let ok: Vec<i64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(ok.len(), people.len(), "one success per user: {results:?}");
    assert_eq!(ok.iter().collect::<HashSet<_>>().len(), ok.len());
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, Error::AlreadyMember(u) if *u == people[0]),
                "{e:?}"
            );
        }
    }
    // acknowledged = visible to checks and committed to the database
    let (live, stored) = members_live_and_stored(&app, org_id).await;
    for u in &people {
        assert!(live.contains(u), "{u} missing from the index");
    }
    assert_eq!(live, stored);
    assert_eq!(
        app.store.revision(),
        *ok.iter().max().unwrap(),
        "the index has applied every revision up to the last write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abandoned_writes_leave_the_database_and_index_in_agreement() {
    let app = TestApp::spawn().await;
    let (org, _) = app.org("Cut").await;
    let org_id: OrgId = org.parse().unwrap();
    let people = users(&app, "cut", 60).await;
    let access = std::sync::Arc::new(access::<need::Admin>(&app, &org));

    // callers that give up at many different moments of their write
    join_all(people.iter().enumerate().map(|(i, &u)| {
        let (store, access) = (app.store.clone(), access.clone());
        async move {
            let give_up = Duration::from_micros((i as u64 * 97) % 4000);
            let _ = tokio::time::timeout(give_up, store.add_member(&ctx(), &access, u, None, None))
                .await;
        }
    }))
    .await;

    // later writes still succeed
    let late = users(&app, "late", 1).await[0];
    app.store
        .add_member(&ctx(), &access, late, None, None)
        .await
        .unwrap();

    // what the database holds and what the index answers agree (a write whose
    // caller left either committed and was indexed, or left no trace)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (live, stored) = members_live_and_stored(&app, org_id).await;
        if live == stored {
            assert!(live.contains(&late));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "index and database disagree: {} vs {} members",
            live.len(),
            stored.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
