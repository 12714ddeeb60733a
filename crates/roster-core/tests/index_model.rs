#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The permission index against a naive reference evaluator written straight
//! from the model's definition of the decision, on random organizations and
//! after random changes.

use proptest::prelude::*;
use roster_core::index::{Index, IndexDelta, OrgData, OrgIndex, OrgUpdate, Snapshot};
use roster_core::*;
use std::sync::Arc;
use uuid::Uuid;

const KEYS: [&str; 7] = ["a", "b", "a.x", "a.y", "a.*", "*", "c"];
const ASKED: [&str; 7] = ["a", "b", "c", "a.x", "a.y", "a.z", "d"];

fn user(i: usize) -> UserId {
    UserId(Uuid::from_u128(0x1000 + i as u128))
}
fn dept(i: usize) -> DeptId {
    DeptId(Uuid::from_u128(0x2000 + i as u128))
}
fn group(i: usize) -> GroupId {
    GroupId(Uuid::from_u128(0x3000 + i as u128))
}
fn custom_role(i: usize) -> RoleId {
    RoleId(Uuid::from_u128(0x4000 + i as u128))
}
fn project(i: usize) -> ProjectId {
    ProjectId(Uuid::from_u128(0x5000 + i as u128))
}

/// Plain description of an organization, easy to generate and to mutate.
#[derive(Debug, Clone)]
struct World {
    status: Vec<Option<MemberStatus>>,            // per user
    parents: Vec<Option<usize>>,                  // per dept: an earlier dept or none
    dept_members: Vec<(usize, usize)>,            // (dept, user)
    group_members: Vec<(usize, usize)>,           // (group, user)
    roles: Vec<Vec<(usize, bool)>>,               // custom roles: (key index, allow)
    assignments: Vec<(u8, usize, u8, usize, u8)>, // (role kind, role idx, principal kind, principal idx, scope kind + idx)
}

const USERS: usize = 5;
const GROUPS: usize = 2;

fn role_of(kind: u8, idx: usize, n_custom: usize) -> RoleId {
    match kind % 4 {
        0 if n_custom > 0 => custom_role(idx % n_custom),
        1 => SystemRole::Owner.id(),
        2 => SystemRole::Member.id(),
        _ if n_custom > 0 => custom_role(idx % n_custom),
        _ => SystemRole::KnowledgeManager.id(),
    }
}

fn principal_of(kind: u8, idx: usize, n_depts: usize) -> Principal {
    match kind % 3 {
        0 => Principal::User(user(idx % USERS)),
        1 => Principal::Group(group(idx % GROUPS)),
        _ if n_depts > 0 => Principal::Department(dept(idx % n_depts)),
        _ => Principal::User(user(idx % USERS)),
    }
}

fn scope_of(code: u8, n_depts: usize) -> Scope {
    match code % 4 {
        0 | 1 => Scope::Organization,
        2 => Scope::Project(project((code / 4) as usize % 2)),
        _ if n_depts > 0 => Scope::Department(dept((code / 4) as usize % n_depts)),
        _ => Scope::Organization,
    }
}

/// An assignment's id: its tuple and how many equal tuples come before it,
/// so ids stay put when other assignments come and go (the delta test
/// removes the last of equal tuples, which leaves the same rows).
fn assignment_id(t: &(u8, usize, u8, usize, u8), occurrence: usize) -> AssignmentId {
    let (rk, ri, pk, pi, sc) = *t;
    let packed = (u128::from(rk) << 56)
        | ((ri as u128) << 48)
        | (u128::from(pk) << 40)
        | ((pi as u128) << 32)
        | (u128::from(sc) << 24)
        | occurrence as u128;
    AssignmentId(Uuid::from_u128((0x9000 << 64) | packed))
}

impl World {
    /// The `i`th assignment as the index gets it.
    fn assignment(&self, i: usize) -> Assignment {
        let t = &self.assignments[i];
        let (rk, ri, pk, pi, sc) = *t;
        let (n_custom, n_depts) = (self.roles.len(), self.parents.len());
        let occurrence = self.assignments[..i].iter().filter(|x| *x == t).count();
        Assignment {
            id: assignment_id(t, occurrence),
            org_id: OrgId(Uuid::nil()),
            role_id: role_of(rk, ri, n_custom),
            principal: principal_of(pk, pi, n_depts),
            scope: scope_of(sc, n_depts),
            is_primary: false,
            created_at: Default::default(),
        }
    }

    /// The change as an index delta, if it is one (before applying it).
    fn delta(&self, c: &Change) -> Option<IndexDelta> {
        match c {
            Change::AddAssignment(t) => {
                let mut after = self.clone();
                after.assignments.push(*t);
                Some(IndexDelta::AddAssignment(
                    after.assignment(after.assignments.len() - 1),
                ))
            }
            Change::RemoveAssignment(i) if !self.assignments.is_empty() => {
                let t = self.assignments[i.index(self.assignments.len())];
                let last = self.assignments.iter().filter(|x| **x == t).count() - 1;
                Some(IndexDelta::RemoveAssignment(assignment_id(&t, last)))
            }
            _ => None,
        }
    }

    fn data(&self) -> OrgData {
        let n_depts = self.parents.len();
        OrgData {
            org: None,
            members: self
                .status
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (user(i), s)))
                .collect(),
            roles: self
                .roles
                .iter()
                .enumerate()
                .map(|(i, grants)| {
                    let g = grants
                        .iter()
                        .map(|(k, allow)| Grant {
                            permission: PermissionKey::parse(KEYS[*k]).unwrap(),
                            effect: if *allow { Effect::Allow } else { Effect::Deny },
                        })
                        .collect();
                    (custom_role(i), format!("r{i}"), g)
                })
                .collect(),
            assignments: (0..self.assignments.len())
                .map(|i| self.assignment(i))
                .collect(),
            group_members: self
                .group_members
                .iter()
                .map(|(g, u)| (group(*g % GROUPS), user(*u % USERS)))
                .collect(),
            dept_members: self
                .dept_members
                .iter()
                .filter(|_| n_depts > 0)
                .map(|(d, u)| (dept(*d % n_depts.max(1)), user(*u % USERS)))
                .collect(),
            departments: self
                .parents
                .iter()
                .enumerate()
                .map(|(i, p)| (dept(i), p.map(dept), format!("d{i}")))
                .collect(),
        }
    }
}

// ---- the reference: the model's text, with no cleverness ----

fn ancestors_or_self(parents: &[Option<usize>], mut d: usize) -> Vec<usize> {
    let mut out = vec![d];
    while let Some(p) = parents[d] {
        out.push(p);
        d = p;
    }
    out
}

fn grant_covers(key: &str, asked: &str) -> bool {
    match key.strip_suffix('*') {
        Some(prefix) => asked.starts_with(prefix),
        None => key == asked,
    }
}

fn reference(w: &World, u: usize, asked: &str, scope: Scope) -> bool {
    if w.status[u] != Some(MemberStatus::Active) {
        return false;
    }
    let data = w.data();
    let me = user(u);
    let in_group = |g: GroupId| {
        data.group_members
            .iter()
            .any(|(gg, uu)| *gg == g && *uu == me)
    };
    // the user is a direct member of D or of any descendant of D
    let reaches_dept = |d: DeptId| {
        data.dept_members.iter().any(|(dd, uu)| {
            *uu == me && {
                let di = (dd.0.as_u128() - 0x2000) as usize;
                ancestors_or_self(&w.parents, di)
                    .iter()
                    .any(|a| dept(*a) == d)
            }
        })
    };
    let covers = |held: Scope| match (held, scope) {
        (Scope::Organization, _) => true,
        (Scope::Project(a), Scope::Project(b)) => a == b,
        (Scope::Department(a), Scope::Department(b)) => {
            let bi = (b.0.as_u128() - 0x2000) as usize;
            ancestors_or_self(&w.parents, bi)
                .iter()
                .any(|x| dept(*x) == a)
        }
        _ => false,
    };
    let grants_of = |r: RoleId| -> Vec<(String, bool)> {
        match r.system() {
            Some(sys) => sys.grants().iter().map(|k| (k.to_string(), true)).collect(),
            None => {
                let i = (r.0.as_u128() - 0x4000) as usize;
                w.roles[i]
                    .iter()
                    .map(|(k, a)| (KEYS[*k].to_string(), *a))
                    .collect()
            }
        }
    };
    let (mut allow, mut deny) = (false, false);
    for a in &data.assignments {
        let reached = match a.principal {
            Principal::User(x) => x == me,
            Principal::Group(g) => in_group(g),
            Principal::Department(d) => reaches_dept(d),
        };
        if !reached || !covers(a.scope) {
            continue;
        }
        let grants = grants_of(a.role_id);
        if grants.iter().any(|(k, al)| *al && k == OVERRIDE_ALL) {
            return true;
        }
        for (k, al) in grants {
            if grant_covers(&k, asked) {
                if al {
                    allow = true;
                } else {
                    deny = true;
                }
            }
        }
    }
    allow && !deny
}

fn compare(w: &World, snap: &Snapshot, org: OrgId) -> Result<(), TestCaseError> {
    let ix = snap.org(org).unwrap();
    let mut scopes = vec![
        Scope::Organization,
        Scope::Project(project(0)),
        Scope::Project(project(1)),
    ];
    scopes.extend((0..w.parents.len()).map(|d| Scope::Department(dept(d))));
    for u in 0..USERS {
        for asked in ASKED {
            for scope in &scopes {
                let want = reference(w, u, asked, *scope);
                let exact = ix.check(user(u), asked, *scope);
                prop_assert_eq!(
                    exact.allowed,
                    want,
                    "check user {} {} {:?} reasons {:?}",
                    u,
                    asked,
                    scope,
                    exact.reasons
                );
                prop_assert_eq!(
                    ix.allowed(user(u), asked, *scope),
                    want,
                    "fast user {} {} {:?}",
                    u,
                    asked,
                    scope
                );
                prop_assert_eq!(
                    snap.allowed(org, user(u), asked, *scope),
                    Some(want),
                    "snapshot user {} {} {:?}",
                    u,
                    asked,
                    scope
                );
                if exact.allowed {
                    prop_assert!(!exact.reasons.is_empty(), "an allow names its reasons");
                }
            }
        }
    }
    Ok(())
}

fn status() -> impl Strategy<Value = Option<MemberStatus>> {
    prop_oneof![
        4 => Just(Some(MemberStatus::Active)),
        1 => Just(Some(MemberStatus::Inactive)),
        1 => Just(Some(MemberStatus::Pending)),
        1 => Just(None),
    ]
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(status(), USERS),
        prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        prop::collection::vec(any::<bool>(), 0..8),
        // several departments and groups per user, so members share unions
        prop::collection::vec((0..8usize, 0..USERS), 0..12),
        prop::collection::vec((0..GROUPS, 0..USERS), 0..6),
        prop::collection::vec(
            prop::collection::vec((0..KEYS.len(), prop::bool::weighted(0.7)), 0..4),
            0..4,
        ),
        prop::collection::vec(
            (any::<u8>(), 0..4usize, any::<u8>(), 0..6usize, any::<u8>()),
            0..12,
        ),
    )
        .prop_map(
            |(status, parent_picks, roots, dept_members, group_members, roles, assignments)| {
                let parents = parent_picks
                    .iter()
                    .enumerate()
                    .map(|(i, pick)| {
                        if i == 0 || roots.get(i).copied().unwrap_or(false) {
                            None
                        } else {
                            Some(pick.index(i))
                        }
                    })
                    .collect();
                World {
                    status,
                    parents,
                    dept_members,
                    group_members,
                    roles,
                    assignments,
                }
            },
        )
}

/// A random change, applied to the plain world.
#[derive(Debug, Clone)]
enum Change {
    Status(usize, Option<MemberStatus>),
    AddAssignment((u8, usize, u8, usize, u8)),
    RemoveAssignment(prop::sample::Index),
    Move(prop::sample::Index, prop::sample::Index),
    AddDeptMember(usize, usize),
    RemoveGroupMember(prop::sample::Index),
    EditRole(usize, Vec<(usize, bool)>),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..USERS, status()).prop_map(|(u, s)| Change::Status(u, s)),
        (any::<u8>(), 0..4usize, any::<u8>(), 0..6usize, any::<u8>())
            .prop_map(Change::AddAssignment),
        any::<prop::sample::Index>().prop_map(Change::RemoveAssignment),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Change::Move(a, b)),
        (0..6usize, 0..USERS).prop_map(|(d, u)| Change::AddDeptMember(d, u)),
        any::<prop::sample::Index>().prop_map(Change::RemoveGroupMember),
        (
            0..4usize,
            prop::collection::vec((0..KEYS.len(), any::<bool>()), 0..4)
        )
            .prop_map(|(r, g)| Change::EditRole(r, g)),
    ]
}

impl World {
    fn apply(&mut self, c: &Change) {
        match c {
            Change::Status(u, s) => self.status[*u] = *s,
            Change::AddAssignment(a) => self.assignments.push(*a),
            Change::RemoveAssignment(i) if !self.assignments.is_empty() => {
                let i = i.index(self.assignments.len());
                self.assignments.remove(i);
            }
            Change::Move(d, p) if self.parents.len() > 1 => {
                let d = d.index(self.parents.len());
                let p = p.index(self.parents.len());
                // refuse cycles, as the store does: p must not be d or below d
                if !ancestors_or_self(&self.parents, p).contains(&d) {
                    self.parents[d] = Some(p);
                }
            }
            Change::AddDeptMember(d, u) => self.dept_members.push((*d, *u)),
            Change::RemoveGroupMember(i) if !self.group_members.is_empty() => {
                let i = i.index(self.group_members.len());
                self.group_members.remove(i);
            }
            Change::EditRole(r, g) if !self.roles.is_empty() => {
                let r = r % self.roles.len();
                self.roles[r] = g.clone();
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn index_agrees_with_the_reference(w in world(), changes in prop::collection::vec(change(), 0..6)) {
        let index = Index::new();
        let org = OrgId(Uuid::from_u128(7));
        let mut w = w;
        index.install(0, vec![(org, OrgIndex::build(w.data()))]);
        compare(&w, &index.load(), org)?;
        for (rev, c) in changes.iter().enumerate() {
            let delta = w.delta(c);
            w.apply(c);
            let fresh = OrgIndex::build(w.data());
            // A change a write can describe as a delta is followed without
            // a rebuild from the rows: it must give the same index.
            let next = match delta {
                Some(d) => {
                    let followed = index.load().org(org).unwrap().with_deltas(org, &[d]);
                    prop_assert!(followed.same_rows(&fresh), "{:?} gave other rows than a fresh build", c);
                    followed
                }
                None => fresh,
            };
            index.publish(rev as i64 + 1, &[OrgUpdate::Replace(org, Arc::new(next))]);
            compare(&w, &index.load(), org)?;
        }
        let elsewhere = OrgId(Uuid::from_u128(8));
        prop_assert_eq!(index.load().allowed(elsewhere, user(0), "a", Scope::Organization), None);
    }
}

#[test]
fn deep_department_chains_have_no_depth_limit() {
    let n = 10_000;
    let parents: Vec<Option<usize>> = (0..n)
        .map(|i| if i == 0 { None } else { Some(i - 1) })
        .collect();
    let w = World {
        status: vec![Some(MemberStatus::Active); USERS],
        parents,
        dept_members: vec![(n - 1, 0)],
        group_members: vec![],
        roles: vec![vec![(0, true)]],
        assignments: vec![(0, 0, 2, 0, 0)], // custom role 0 bound to dept 0 at org scope
    };
    let ix = OrgIndex::build(w.data());
    assert!(ix.allowed(user(0), "a", Scope::Organization));
    assert!(!ix.allowed(user(1), "a", Scope::Organization));
    let d = ix.check(user(0), "a", Scope::Organization);
    match &d.reasons[0].via {
        roster_core::index::Via::Department { path, .. } => assert_eq!(path.len(), n),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn deep_chains_with_bindings_at_many_levels_agree_with_the_reference() {
    let n = 3_000;
    let parents: Vec<Option<usize>> = (0..n)
        .map(|i| if i == 0 { None } else { Some(i - 1) })
        .collect();
    let w = World {
        status: vec![Some(MemberStatus::Active); USERS],
        parents,
        // members at several depths, one in two departments, one also in a group
        dept_members: vec![(n - 1, 0), (1_000, 1), (2_000, 2), (10, 2), (2_600, 3)],
        group_members: vec![(0, 3)],
        // 0: allow a; 1: deny a; 2: allow a.*, b
        roles: vec![
            vec![(0, true)],
            vec![(0, false)],
            vec![(4, true), (1, true)],
        ],
        assignments: vec![
            (0, 0, 2, 0, 0),     // role 0 bound to the root
            (0, 2, 2, 1_500, 0), // role 2 halfway down
            (0, 1, 2, 2_500, 0), // role 1 (deny a) near the bottom
            (0, 1, 1, 0, 0),     // role 1 to group 0
            (0, 2, 0, 4, 2),     // a project-scope role: not in the bitsets
        ],
    };
    let ix = OrgIndex::build(w.data());
    for u in 0..USERS {
        for asked in ASKED {
            let want = reference(&w, u, asked, Scope::Organization);
            assert_eq!(
                ix.allowed(user(u), asked, Scope::Organization),
                want,
                "user {u} {asked}"
            );
        }
    }
    assert!(!ix.allowed(user(0), "a", Scope::Organization)); // the deny below wins
    assert!(ix.allowed(user(1), "a", Scope::Organization));
    assert!(!ix.allowed(user(1), "b", Scope::Organization));
    assert!(ix.allowed(user(2), "a.z", Scope::Organization));
}

#[test]
fn a_department_cycle_gives_its_members_the_whole_cycles_roles() {
    // The store refuses cycles; a corrupt parent map must still terminate and
    // the fast path must agree with the exact evaluator.
    let w = World {
        status: vec![Some(MemberStatus::Active); USERS],
        parents: vec![None, None, None, None],
        dept_members: vec![(3, 0), (0, 1), (1, 2)],
        group_members: vec![],
        roles: vec![vec![(0, true)], vec![(1, true)], vec![(6, false)]],
        assignments: vec![(0, 0, 2, 2, 0), (0, 1, 2, 3, 0), (0, 2, 2, 1, 0)],
    };
    let mut data = w.data();
    // 0 -> 1 -> 2 -> 0, and 3 hangs below 0
    data.departments = vec![
        (dept(0), Some(dept(1)), "d0".into()),
        (dept(1), Some(dept(2)), "d1".into()),
        (dept(2), Some(dept(0)), "d2".into()),
        (dept(3), Some(dept(0)), "d3".into()),
    ];
    let ix = OrgIndex::build(data);
    for u in 0..USERS {
        for asked in ASKED {
            let exact = ix.check(user(u), asked, Scope::Organization).allowed;
            assert_eq!(
                ix.allowed(user(u), asked, Scope::Organization),
                exact,
                "user {u} {asked}"
            );
        }
    }
    assert!(ix.allowed(user(0), "a", Scope::Organization));
    assert!(ix.allowed(user(0), "b", Scope::Organization));
    assert!(!ix.allowed(user(0), "c", Scope::Organization));
    assert!(ix.allowed(user(1), "a", Scope::Organization));
    assert!(!ix.allowed(user(1), "b", Scope::Organization));
    assert!(ix.allowed(user(2), "a", Scope::Organization));
}

#[test]
fn publishing_an_older_snapshot_never_replaces_a_newer_one() {
    let index = Index::new();
    let org = OrgId(Uuid::from_u128(7));
    let mut w = World {
        status: vec![Some(MemberStatus::Active); USERS],
        parents: vec![],
        dept_members: vec![],
        group_members: vec![],
        roles: vec![vec![(0, true)]],
        assignments: vec![],
    };
    index.install(0, vec![(org, OrgIndex::build(w.data()))]);
    w.assignments.push((0, 0, 0, 0, 0));
    let newer = Arc::new(OrgIndex::build(w.data()));
    index.publish(5, &[OrgUpdate::Replace(org, newer)]);
    index.publish(
        4,
        &[OrgUpdate::Replace(
            org,
            Arc::new(OrgIndex::build(
                World {
                    assignments: vec![],
                    ..w.clone()
                }
                .data(),
            )),
        )],
    );
    assert!(index
        .load()
        .org(org)
        .unwrap()
        .allowed(user(0), "a", Scope::Organization));
    assert_eq!(index.load().revision, 5);
}

#[test]
fn a_wildcard_covers_a_key_only_another_organization_names() {
    // The fast path's key table is deployment-wide: "a.x" gets an id from the
    // first organization; the second names only "a.*" and must still allow it.
    let base = World {
        status: vec![Some(MemberStatus::Active); USERS],
        parents: vec![],
        dept_members: vec![],
        group_members: vec![],
        roles: vec![vec![(2, true)]],
        assignments: vec![(0, 0, 0, 0, 0)],
    };
    let first = OrgIndex::build(base.data());
    assert!(first.allowed(user(0), "a.x", Scope::Organization));
    let second = OrgIndex::build(
        World {
            roles: vec![vec![(4, true)]],
            ..base.clone()
        }
        .data(),
    );
    assert!(second.allowed(user(0), "a.x", Scope::Organization));
    assert!(second.allowed(user(0), "a.z", Scope::Organization));
    assert!(!second.allowed(user(0), "b", Scope::Organization));
    assert!(!second.allowed(user(1), "a.x", Scope::Organization));
}
