// Many writes at once: every acknowledged write is committed (a fresh store
// on the same database sees it), gets its own revision, and is in the index;
// a failing or abandoned write takes nothing else down with it. On SQLite
// this exercises group commit (writes sharing one commit), including groups
// the database fails (see "SQLite commit groups that fail" below).

mod common;

use common::*;
use roster_core::access::need;
use roster_core::{Actor, Error, OrgId, UserId};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
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

// --- SQLite commit groups that fail at the database
//
// A trigger (the test's own, created on a separate connection) makes every
// insert of one "poisoned" role's assignment fail. `RAISE(ROLLBACK)` rolls
// back the whole open transaction, that is the whole commit group: every
// write of the group fails, including writes of healthy roles, and the next
// group reuses the revisions the failed group had taken. `RAISE(ABORT)` fails
// the statement only: the poisoned write rolls back its savepoint and its
// group-mates commit. A broken deferred foreign key makes the group's COMMIT
// fail: every write of the group fails, whatever its place in it.

/// Permission keys that `role_member` does not grant: custom role `r` grants
/// `KEYS[r]` alone, so a check of it answers whether a member holds role `r`.
const KEYS: [&str; 5] = [
    "view_audit_log",
    "export_audit_log",
    "manage_billing",
    "manage_knowledge_slices",
    "invite_users",
];
/// The role whose assignments the trigger fails.
const POISONED: usize = KEYS.len() - 1;
/// Every HTTP call and every store call of these tests answers within this.
const BOUND: Duration = Duration::from_secs(30);

/// How the trigger makes the poisoned role's assignments fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poison {
    /// `RAISE(ROLLBACK)`: the whole open transaction, i.e. the commit group.
    Rollback,
    /// `RAISE(ABORT)`: the statement only (the write then rolls back its savepoint).
    Abort,
    /// A deferred foreign key left broken: the group's `COMMIT` fails.
    Commit,
}

/// How a test's writes reach the store.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// The organization API, which answers a bare 500 for our faults.
    Http,
    /// The store's methods, whose errors carry their cause.
    Store,
}

struct Fixture {
    app: std::sync::Arc<TestApp>,
    org: String,
    org_id: OrgId,
    owner: TestUser,
    members: Vec<UserId>,
    roles: Vec<roster_core::RoleId>,
}

/// One attempt to assign role `role` to member `member`: the status and, when
/// acknowledged, its revision and assignment id.
#[derive(Debug, Clone)]
struct Attempt {
    member: usize,
    role: usize,
    ok: Option<(i64, String)>,
    /// How it failed (the envelope's code, or the store's error).
    error: Option<String>,
}

#[allow(clippy::unwrap_used, clippy::expect_used)]
impl Fixture {
    async fn new(name: &str, members: usize) -> Option<Fixture> {
        let app = TestApp::spawn().await;
        if app.store.kind() != roster_store::DbKind::Sqlite {
            eprintln!("SKIPPED: SQLite commit groups do not exist on PostgreSQL");
            return None;
        }
        let (org, owner) = app.org(name).await;
        let org_id: OrgId = org.parse().unwrap();
        let ids = users(&app, &name.to_lowercase(), members).await;
        let admin = access::<need::Admin>(&app, &org);
        for &u in &ids {
            app.store
                .add_member(&ctx(), &admin, u, None, None)
                .await
                .unwrap();
        }
        let mut roles = Vec::new();
        for (i, key) in KEYS.iter().enumerate() {
            let r = app
                .post(
                    &format!("/v1/organizations/{org}/roles"),
                    &owner.token,
                    json!({"name": format!("Role {i}"), "capabilities": [key]}),
                )
                .await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            roles.push(roster_core::RoleId::parse(r.body["id"].as_str().unwrap()).unwrap());
        }
        Some(Fixture {
            app: std::sync::Arc::new(app),
            org,
            org_id,
            owner,
            members: ids,
            roles,
        })
    }

    /// Installs the trigger that makes every insert of the poisoned role's
    /// assignments fail, through a pooled connection (not the writer).
    async fn poison(&self, how: Poison) {
        // Stored as canonical UUID text.
        let role = self.roles[POISONED].uuid();
        let sql = match how {
            Poison::Rollback | Poison::Abort => {
                let raise = if how == Poison::Rollback { "ROLLBACK" } else { "ABORT" };
                vec![format!(
                    "CREATE TRIGGER poison BEFORE INSERT ON role_assignments \
                     WHEN NEW.role_id = '{role}' BEGIN SELECT RAISE({raise}, 'forced failure'); END"
                )]
            }
            // The insert succeeds and leaves a deferred foreign key broken:
            // the write is released into its group, and the group's COMMIT fails.
            Poison::Commit => vec![
                "CREATE TABLE poison_parent (id TEXT PRIMARY KEY)".to_owned(),
                "CREATE TABLE poison_child (parent TEXT REFERENCES poison_parent(id) \
                 DEFERRABLE INITIALLY DEFERRED)"
                    .to_owned(),
                format!(
                    "CREATE TRIGGER poison AFTER INSERT ON role_assignments \
                     WHEN NEW.role_id = '{role}' BEGIN INSERT INTO poison_child VALUES ('forced failure'); END"
                ),
            ],
        };
        for sql in sql {
            sqlx::query(&sql)
                .execute(self.app.store.pool())
                .await
                .unwrap();
        }
    }

    async fn cure(&self) {
        sqlx::query("DROP TRIGGER poison")
            .execute(self.app.store.pool())
            .await
            .unwrap();
    }

    /// Assigns over HTTP (the organization API); a 201 or a 500, within [`BOUND`].
    fn assign_http(&self, member: usize, role: usize) -> impl Future<Output = Attempt> + 'static {
        let app = self.app.clone();
        let path = format!(
            "/v1/organizations/{}/roles/{}/members",
            self.org, self.roles[role]
        );
        let user = self.members[member].to_string();
        async move {
            let r = tokio::time::timeout(
                BOUND,
                app.post(&path, PLATFORM_KEY, json!({"user_id": user})),
            )
            .await
            .unwrap_or_else(|_| panic!("POST {path} did not answer within {BOUND:?}"));
            let mut a = Attempt {
                member,
                role,
                ok: None,
                error: None,
            };
            match r.status {
                201 => {
                    let revision: i64 = r.headers["roster-revision"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    a.ok = Some((revision, r.body["id"].as_str().unwrap().to_owned()));
                }
                500 => {
                    assert_envelope(&r, 500, "INTERNAL_SERVER_ERROR");
                    a.error = Some("HTTP 500".into());
                }
                _ => panic!("POST {path}: unexpected {} {:?}", r.status, r.body),
            }
            a
        }
    }

    /// Assigns through the store, within [`BOUND`]; a failure must be the
    /// forced one (the poisoned write's own error) or its group's.
    fn assign_store(&self, member: usize, role: usize) -> impl Future<Output = Attempt> + 'static {
        self.assign_store_traced(member, role, "test")
    }

    /// [`Fixture::assign_store`] with its own trace id.
    fn assign_store_traced(
        &self,
        member: usize,
        role: usize,
        trace_id: &str,
    ) -> impl Future<Output = Attempt> + 'static {
        let app = self.app.clone();
        let access = access::<need::AssignRoles>(&app, &self.org);
        let (rid, user) = (self.roles[role], self.members[member]);
        let ctx = roster_store::Ctx {
            trace_id: trace_id.to_owned(),
            ..ctx()
        };
        async move {
            let w = tokio::time::timeout(BOUND, app.store.assign_role(&ctx, &access, rid, user))
                .await
                .unwrap_or_else(|_| {
                    panic!("assign_role({rid}, {user}) did not return within {BOUND:?}")
                });
            let mut a = Attempt {
                member,
                role,
                ok: None,
                error: None,
            };
            match w {
                Ok(w) => a.ok = Some((w.revision, w.value.id.to_string())),
                Err(e @ Error::Internal(_)) => {
                    let text = format!("{e} ({:?})", std::error::Error::source(&e));
                    assert!(
                        text.contains("forced failure")
                            || text.contains("the commit failed")
                            || text.contains("the commit group was rolled back"),
                        "assign_role({rid}, {user}) failed for another reason: {text}"
                    );
                    a.error = Some(text);
                }
                Err(e) => panic!("assign_role({rid}, {user}): unexpected {e:?}"),
            }
            a
        }
    }

    /// Runs `pairs` (member, role) so that they share one commit group, in
    /// this order: an open write holds SQLite's writer while each request in
    /// turn reaches the writer's (first come, first served) queue, then lets
    /// go. Nothing commits the group before they have all had their turn (the
    /// flusher queues behind them).
    async fn in_one_group(&self, pairs: &[(usize, usize)]) -> Vec<Attempt> {
        self.in_one_group_by(pairs, Via::Http).await
    }

    /// [`Fixture::in_one_group`] over HTTP or through the store (the `i`-th
    /// write then traced `write-{i}`).
    async fn in_one_group_by(&self, pairs: &[(usize, usize)], via: Via) -> Vec<Attempt> {
        // Let any flush still under way end first.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let held = self.app.store.begin(&ctx()).await.unwrap();
        let mut tasks = Vec::new();
        for (i, &(m, r)) in pairs.iter().enumerate() {
            tasks.push(match via {
                Via::Http => tokio::spawn(futures_boxed(self.assign_http(m, r))),
                Via::Store => tokio::spawn(futures_boxed(self.assign_store_traced(
                    m,
                    r,
                    &format!("write-{i}"),
                ))),
            });
            // Ample time for the request to queue for the writer.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        drop(held);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    /// Whether the check endpoint allows `member` role `role`'s key right now
    /// (no `at_least_revision`: read-your-writes).
    async fn allowed(&self, member: usize, role: usize) -> bool {
        let r = tokio::time::timeout(
            BOUND,
            self.app.post(
                &format!("/v1/organizations/{}/check", self.org),
                &self.owner.token,
                json!({"user_id": self.members[member].to_string(), "permission": KEYS[role]}),
            ),
        )
        .await
        .expect("the check did not answer");
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["allowed"].as_bool().unwrap()
    }

    async fn meta_revision(&self) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT revision FROM meta WHERE id = 1")
            .fetch_one(self.app.store.pool())
            .await
            .unwrap()
            .try_get::<i64, _>("revision")
            .unwrap()
    }

    /// [`record`]s `attempts`, then [`Fixture::assert_consistent`].
    async fn keep(
        &self,
        acked: &mut BTreeMap<(usize, usize), (i64, String)>,
        attempts: &[Attempt],
        since: i64,
    ) {
        record(acked, attempts);
        self.assert_consistent(acked, since).await;
    }

    /// The database, the live index, the check endpoint and a store freshly
    /// opened on the same file agree, and agree with the callers' answers:
    /// a (member, role) is held exactly when an attempt was acknowledged,
    /// each acknowledged assignment's audit event carries the revision its
    /// caller was told, and every revision since `since` was taken by exactly
    /// one committed write.
    async fn assert_consistent(&self, acked: &BTreeMap<(usize, usize), (i64, String)>, since: i64) {
        use sqlx::Row;
        let pool = self.app.store.pool();
        let stored: BTreeSet<(String, String)> = sqlx::query(
            "SELECT role_id, principal_id FROM role_assignments \
             WHERE org_id = $1 AND principal_type = 'user' AND scope_type = 'organization'",
        )
        .bind(self.org_id.uuid().to_string())
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("role_id"), r.get("principal_id")))
        .collect();
        let meta = self.meta_revision().await;
        let live = self.app.store.index().load_full();
        assert_eq!(
            live.revision, meta,
            "the index has applied exactly the committed revisions"
        );
        let ix = live.org(self.org_id).unwrap();
        for (m, user) in self.members.iter().enumerate() {
            for (r, role) in self.roles.iter().enumerate() {
                let want = acked.contains_key(&(m, r));
                let row = (role.uuid().to_string(), user.uuid().to_string());
                assert_eq!(
                    stored.contains(&row),
                    want,
                    "member {m}, role {r}: database"
                );
                assert_eq!(
                    ix.holds_role(*user, *role),
                    want,
                    "member {m}, role {r}: index"
                );
                assert_eq!(
                    self.allowed(m, r).await,
                    want,
                    "member {m}, role {r}: check"
                );
            }
        }
        for ((m, r), (revision, id)) in acked {
            let at: Vec<i64> = sqlx::query(
                "SELECT revision FROM audit_events WHERE action = 'role.assigned' AND target_id = $1",
            )
            .bind(id)
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get("revision"))
            .collect();
            assert_eq!(
                at,
                vec![*revision],
                "member {m}, role {r}: the assignment's revision"
            );
        }
        let mut told: Vec<i64> = acked.values().map(|(rev, _)| *rev).collect();
        told.sort_unstable();
        let n = told.len();
        told.dedup();
        assert_eq!(told.len(), n, "no revision acknowledged twice");
        let taken: Vec<i64> = sqlx::query(
            "SELECT DISTINCT revision FROM changes WHERE revision > $1 ORDER BY revision",
        )
        .bind(since)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("revision"))
        .collect();
        assert_eq!(
            taken,
            (since + 1..=meta).collect::<Vec<_>>(),
            "revisions without gaps"
        );
        let fresh = roster_store::Store::open(self.app.store.url())
            .await
            .unwrap();
        assert_eq!(fresh.revision(), live.revision);
        assert!(
            fresh.index().load().org(self.org_id).unwrap().same_rows(ix),
            "the live index equals a fresh build from the database"
        );
    }
}

/// Records attempts into `acked` (a pair is attempted again only after it failed).
fn record(acked: &mut BTreeMap<(usize, usize), (i64, String)>, attempts: &[Attempt]) {
    for a in attempts {
        if let Some(ok) = &a.ok {
            let before = acked.insert((a.member, a.role), ok.clone());
            assert!(before.is_none(), "{a:?} acknowledged twice");
        }
    }
}

/// The (member, role) pairs not yet held, in a scrambled but fixed order.
fn scrambled(
    fx: &Fixture,
    acked: &BTreeMap<(usize, usize), (i64, String)>,
    used: &BTreeSet<(usize, usize)>,
) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(usize, usize)> = (0..fx.members.len())
        .flat_map(|m| (0..fx.roles.len()).map(move |r| (m, r)))
        .filter(|p| !acked.contains_key(p) && !used.contains(p))
        .collect();
    // 37 is prime to the pair count of every fixture here (16 x 5 and fewer).
    let n = pairs.len().max(1);
    let mut keyed: Vec<(usize, (usize, usize))> = pairs
        .drain(..)
        .enumerate()
        .map(|(i, p)| ((i * 37) % n, p))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, p)| p).collect()
}

/// Many concurrent assignments, a share of them of the poisoned role, in
/// rounds of `per_round`, half over HTTP and half through the store.
#[allow(clippy::unwrap_used)]
async fn storm(fx: &Fixture, pairs: &[(usize, usize)], per_round: usize) -> Vec<Attempt> {
    let mut out = Vec::new();
    for round in pairs.chunks(per_round) {
        let tasks: Vec<_> = round
            .iter()
            .enumerate()
            .map(|(i, &(m, r))| {
                if i % 2 == 0 {
                    tokio::spawn(futures_boxed(fx.assign_http(m, r)))
                } else {
                    tokio::spawn(futures_boxed(fx.assign_store(m, r)))
                }
            })
            .collect();
        for t in tasks {
            out.push(t.await.unwrap());
        }
    }
    out
}

fn futures_boxed(
    f: impl Future<Output = Attempt> + Send + 'static,
) -> std::pin::Pin<Box<dyn Future<Output = Attempt> + Send>> {
    Box::pin(f)
}

/// After the storm, with the trigger gone: every pair still missing is
/// assigned one at a time; each succeeds, at a revision above every earlier
/// one, and the next check already sees it. Then every pair is held, and
/// the database and the index agree (see [`Fixture::assert_consistent`]).
#[allow(clippy::unwrap_used)]
async fn heal(fx: &Fixture, acked: &mut BTreeMap<(usize, usize), (i64, String)>, since: i64) {
    fx.cure().await;
    let mut last = acked.values().map(|(r, _)| *r).max().unwrap_or(0);
    assert!(last <= fx.app.store.revision());
    let missing = scrambled(fx, acked, &BTreeSet::new());
    assert!(!missing.is_empty());
    for (m, r) in missing {
        let a = fx.assign_http(m, r).await;
        let (revision, _) =
            a.ok.clone()
                .unwrap_or_else(|| panic!("after the storm: {a:?}"));
        assert!(revision > last, "Roster-Revision {revision} after {last}");
        last = revision;
        assert!(
            fx.allowed(m, r).await,
            "member {m}, role {r}: read-your-writes"
        );
        record(acked, &[a]);
    }
    assert_eq!(acked.len(), fx.members.len() * fx.roles.len());
    fx.assert_consistent(acked, since).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_group_rolled_back_by_the_database_fails_every_write_in_it() {
    let Some(fx) = Fixture::new("Rollback", 16).await else {
        return;
    };
    let start = fx.app.store.revision();
    fx.poison(Poison::Rollback).await;
    let mut acked = BTreeMap::new();

    // One group, in this order: two healthy writes, the poisoned one, then a
    // healthy one. The poisoned insert rolls back the group: the two writes
    // released into it before fail too; the last one opens the next group
    // and takes the revision the first had taken (it was rolled back).
    let before = fx.app.store.revision();
    let group = [(0, 0), (1, 1), (2, POISONED), (3, 2)];
    let got = fx.in_one_group(&group).await;
    let failed: Vec<bool> = got.iter().map(|a| a.ok.is_none()).collect();
    assert_eq!(failed, [true, true, true, false], "{got:#?}");
    assert_eq!(got[3].ok.as_ref().unwrap().0, before + 1, "{got:#?}");
    fx.keep(&mut acked, &got, start).await;

    // What they are told. The HTTP clients got a bare 500 (the envelope
    // hides our faults; the log has each one's error under its trace id).
    // Through the store, the poisoned write fails with its own cause, and
    // its group-mates are told that the database rolled the group back
    // during that write, not about the savepoint that went with it.
    let before = fx.app.store.revision();
    let group2 = [(4, 0), (5, 1), (6, POISONED), (7, 2)];
    let got = fx.in_one_group_by(&group2, Via::Store).await;
    let failed: Vec<bool> = got.iter().map(|a| a.ok.is_none()).collect();
    assert_eq!(failed, [true, true, true, false], "{got:#?}");
    assert_eq!(got[3].ok.as_ref().unwrap().0, before + 1, "{got:#?}");
    let own = got[2].error.as_deref().unwrap();
    assert!(own.contains("forced failure"), "{own}");
    for a in &got[..2] {
        let told = a.error.as_deref().unwrap();
        assert!(told.contains("the commit group was rolled back"), "{told}");
        assert!(
            told.contains("the database rolled back the whole transaction during write write-2"),
            "names the write whose error is the cause: {told}"
        );
        assert!(!told.contains("savepoint"), "{told}");
    }
    fx.keep(&mut acked, &got, start).await;

    // A storm: every pair not tried yet, 24 at a time.
    let used: BTreeSet<_> = group.iter().chain(&group2).copied().collect();
    let pairs = scrambled(&fx, &acked, &used);
    let got = storm(&fx, &pairs, 24).await;
    let poisoned = got.iter().filter(|a| a.role == POISONED).count();
    let healthy_failed = got
        .iter()
        .filter(|a| a.role != POISONED && a.ok.is_none())
        .count();
    eprintln!(
        "storm: {} writes, {poisoned} poisoned, {healthy_failed} healthy ones failed with their group",
        got.len()
    );
    assert!(poisoned >= 10);
    // Groups of several writes form under this load: some healthy writes
    // shared a group with a poisoned one.
    assert!(
        healthy_failed > 0,
        "no group failed as a whole in the storm"
    );
    for a in &got {
        if a.role == POISONED {
            assert!(a.ok.is_none(), "a poisoned write succeeded: {a:?}");
        }
    }
    assert!(
        got.iter().any(|a| a.ok.is_some()),
        "some healthy writes of the storm succeed"
    );
    fx.keep(&mut acked, &got, start).await;

    heal(&fx, &mut acked, start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_failed_by_the_database_takes_only_itself_down() {
    let Some(fx) = Fixture::new("Abort", 16).await else {
        return;
    };
    let start = fx.app.store.revision();
    fx.poison(Poison::Abort).await;
    let mut acked = BTreeMap::new();

    // One group: healthy, poisoned, healthy. Only the poisoned write fails
    // (its savepoint is rolled back); the others commit, one revision each.
    let before = fx.app.store.revision();
    let group = [(0, 0), (1, POISONED), (2, 1)];
    let got = fx.in_one_group(&group).await;
    let failed: Vec<bool> = got.iter().map(|a| a.ok.is_none()).collect();
    assert_eq!(failed, [false, true, false], "{got:#?}");
    assert_eq!(got[0].ok.as_ref().unwrap().0, before + 1);
    assert_eq!(got[2].ok.as_ref().unwrap().0, before + 2);
    fx.keep(&mut acked, &got, start).await;

    let used: BTreeSet<_> = group.iter().copied().collect();
    let pairs = scrambled(&fx, &acked, &used);
    let got = storm(&fx, &pairs, 24).await;
    assert!(got.iter().filter(|a| a.role == POISONED).count() >= 10);
    for a in &got {
        assert_eq!(a.ok.is_none(), a.role == POISONED, "{a:?}");
        if let Some(e) = &a.error {
            assert!(e == "HTTP 500" || e.contains("forced failure"), "{a:?}");
        }
    }
    fx.keep(&mut acked, &got, start).await;

    heal(&fx, &mut acked, start).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_that_fails_fails_every_write_of_its_group() {
    let Some(fx) = Fixture::new("Commit", 16).await else {
        return;
    };
    let start = fx.app.store.revision();
    fx.poison(Poison::Commit).await;
    let mut acked = BTreeMap::new();

    // One group: healthy, poisoned, healthy. Every write is released into
    // the group; its COMMIT fails, and so do all three. The next write takes
    // the first one's revision.
    let before = fx.app.store.revision();
    let group = [(0, 0), (1, POISONED), (2, 1)];
    let got = fx.in_one_group(&group).await;
    assert!(got.iter().all(|a| a.ok.is_none()), "{got:#?}");
    fx.keep(&mut acked, &got, start).await;
    let next = fx.assign_http(3, 2).await;
    assert_eq!(
        next.ok.as_ref().map(|(r, _)| *r),
        Some(before + 1),
        "{next:?}"
    );
    fx.keep(&mut acked, &[next], start).await;

    let used: BTreeSet<_> = group.iter().copied().collect();
    let pairs = scrambled(&fx, &acked, &used);
    let got = storm(&fx, &pairs, 24).await;
    let healthy_failed = got
        .iter()
        .filter(|a| a.role != POISONED && a.ok.is_none())
        .count();
    eprintln!(
        "storm: {} writes, {healthy_failed} healthy ones failed with their group",
        got.len()
    );
    assert!(
        healthy_failed > 0,
        "no group failed as a whole in the storm"
    );
    for a in &got {
        if a.role == POISONED {
            assert!(a.ok.is_none(), "a poisoned write succeeded: {a:?}");
        }
        if let Some(e) = &a.error {
            assert!(e == "HTTP 500" || e.contains("the commit failed"), "{a:?}");
        }
    }
    fx.keep(&mut acked, &got, start).await;

    heal(&fx, &mut acked, start).await;
}
