//! The permission index: an in-memory, copy-on-write snapshot of everything a
//! decision needs, one immutable [`OrgIndex`] per organization.
//!
//! Writers rebuild the `OrgIndex` of each organization they touched from the
//! committed state and publish it before acknowledging the write
//! ([`Index::publish`]); readers load the
//! current snapshot without locks and never see half an update. A snapshot
//! older than the published one is never installed (revisions only grow).

use crate::compiled::RoleBits;
use crate::ids::*;
use crate::model::*;
use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::Arc;

/// The plain rows of one organization that the index is built from.
#[derive(Debug, Clone, Default)]
pub struct OrgData {
    pub org: Option<OrgId>,
    /// Non-deleted memberships.
    pub members: Vec<(UserId, MemberStatus)>,
    /// Custom roles of the organization (system roles are built in).
    pub roles: Vec<(RoleId, String, Vec<Grant>)>,
    pub assignments: Vec<Assignment>,
    pub group_members: Vec<(GroupId, UserId)>,
    pub dept_members: Vec<(DeptId, UserId)>,
    /// Every department with its parent and name.
    pub departments: Vec<(DeptId, Option<DeptId>, String)>,
}

/// A change to one organization's rows that a write describes itself, so
/// the index can follow the write without re-reading the organization from
/// the database ([`OrgIndex::with_deltas`]). A write that cannot describe
/// all of its changes this way has its organizations re-read instead.
/// Replicas receive deltas through the change feed, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", content = "value", rename_all = "snake_case")]
pub enum IndexDelta {
    /// An assignment row was inserted.
    AddAssignment(Assignment),
    /// An assignment row was deleted.
    RemoveAssignment(AssignmentId),
}

/// Everything an [`OrgIndex`] keeps of its rows, in one canonical order, to
/// compare two indexes built along different paths.
type Rows = (
    Vec<(UserId, MemberStatus)>,
    Vec<(RoleId, String, Vec<(String, Effect)>)>,
    Vec<(AssignmentId, RoleId, Principal, Scope, bool)>,
    Vec<(GroupId, UserId)>,
    Vec<(DeptId, UserId)>,
    Vec<(DeptId, Option<DeptId>)>,
);

#[derive(Debug, Clone)]
struct RoleEntry {
    name: String,
    grants: Vec<Grant>,
    overrides: bool,
}

#[derive(Debug, Clone, Copy)]
struct AssignEntry {
    id: AssignmentId,
    role: RoleId,
    scope: Scope,
    primary: bool,
}

/// Values grouped by key, all in one vector: a key's values keep the order
/// they were added in. Stands in for a map of small vectors, which costs an
/// allocation per member on every build.
#[derive(Debug, Clone)]
struct Grouped<K, V> {
    ranges: FxHashMap<K, (u32, u32)>,
    values: Vec<V>,
}

impl<K, V> Default for Grouped<K, V> {
    fn default() -> Self {
        Grouped {
            ranges: FxHashMap::default(),
            values: Vec::new(),
        }
    }
}

impl<K: Copy + Eq + Hash, V: Copy> Grouped<K, V> {
    fn new(pairs: Vec<(K, V)>) -> Self {
        // Count each key's values, turn the counts into ranges, then place
        // every value at its range's cursor.
        let mut ranges: FxHashMap<K, (u32, u32)> = FxHashMap::default();
        for (k, _) in &pairs {
            ranges.entry(*k).or_default().1 += 1;
        }
        let mut start = 0;
        for r in ranges.values_mut() {
            let n = r.1;
            *r = (start, start);
            start += n;
        }
        let mut values: Vec<V> = pairs.iter().map(|(_, v)| *v).collect();
        for (k, v) in pairs {
            if let Some(r) = ranges.get_mut(&k) {
                values[r.1 as usize] = v;
                r.1 += 1;
            }
        }
        Grouped { ranges, values }
    }

    fn get(&self, k: &K) -> &[V] {
        match self.ranges.get(k) {
            Some(&(a, b)) => &self.values[a as usize..b as usize],
            None => &[],
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&K, &[V])> {
        self.ranges
            .iter()
            .map(|(k, &(a, b))| (k, &self.values[a as usize..b as usize]))
    }

    /// Every (value, key) pair.
    fn pairs(&self) -> Vec<(V, K)> {
        self.iter()
            .flat_map(|(k, list)| list.iter().map(move |v| (*v, *k)))
            .collect()
    }

    fn heap_bytes(&self) -> usize {
        self.ranges.capacity() * (std::mem::size_of::<(K, (u32, u32))>() + 1)
            + self.values.capacity() * std::mem::size_of::<V>()
    }
}

/// Unions of role bitsets shared by many members (a group's roles, a
/// department's with its ancestors'), built once per organization build.
#[derive(Default)]
struct Unions {
    sets: Vec<RoleBits>,
}

impl Unions {
    /// `base` (an earlier union, or nothing) joined with `roles`; no new set
    /// when `roles` is empty, so departments without bindings share their
    /// parent's.
    fn add<'a>(
        &mut self,
        base: Option<usize>,
        roles: impl Iterator<Item = &'a RoleBits>,
    ) -> Option<usize> {
        let mut acc: Option<RoleBits> = None;
        for r in roles {
            match &mut acc {
                Some(a) => a.union_with(r),
                None => {
                    let mut a = r.clone();
                    if let Some(b) = base {
                        a.union_with(&self.sets[b]);
                    }
                    acc = Some(a);
                }
            }
        }
        match acc {
            Some(a) => {
                self.sets.push(a);
                Some(self.sets.len() - 1)
            }
            None => base,
        }
    }
}

/// The bitsets of the organization-scope roles among `list`'s assignments.
fn org_scope_bits<'a>(
    list: &'a [AssignEntry],
    role_bits: &'a FxHashMap<RoleId, RoleBits>,
) -> impl Iterator<Item = &'a RoleBits> {
    list.iter()
        .filter(|e| e.scope == Scope::Organization)
        .filter_map(|e| role_bits.get(&e.role))
}

/// How a reachable role reached the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Via {
    /// The membership's primary role.
    Primary,
    /// A role assigned to the user.
    Direct,
    /// A role assigned to a group the user belongs to.
    Group { group_id: GroupId },
    /// A role bound to `department_id`; `path` runs from the user's own
    /// department up to it.
    Department {
        department_id: DeptId,
        path: Vec<DeptId>,
    },
}

/// One assignment that contributed to a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub assignment_id: AssignmentId,
    pub role_id: RoleId,
    pub role_name: String,
    pub effect: Effect,
    /// The grant that matched (`override_all_permissions` for owner-like roles).
    pub grant: String,
    pub scope: Scope,
    pub via: Via,
}

/// Why the answer is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An owner-like role (override_all_permissions) allowed it.
    Override,
    Allowed,
    Denied,
    NoGrant,
    NotAMember,
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
}

/// One organization's immutable decision data. `repr(C)` keeps the compiled
/// fast path at the start, on the first cache line a check touches.
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub struct OrgIndex {
    fast: crate::compiled::Compiled,
    roles: FxHashMap<RoleId, Arc<RoleEntry>>,
    members: FxHashMap<UserId, MemberStatus>,
    by_user: Grouped<UserId, AssignEntry>,
    by_group: Grouped<GroupId, AssignEntry>,
    by_dept: Grouped<DeptId, AssignEntry>,
    user_groups: Grouped<UserId, GroupId>,
    user_depts: Grouped<UserId, DeptId>,
    dept_parent: FxHashMap<DeptId, Option<DeptId>>,
}

fn role_entry(name: String, grants: Vec<Grant>) -> RoleEntry {
    let overrides = grants
        .iter()
        .any(|g| g.effect == Effect::Allow && g.permission.as_str() == OVERRIDE_ALL);
    RoleEntry {
        name,
        grants,
        overrides,
    }
}

/// The built-in roles, the same in every organization: built once and
/// shared, not re-parsed for each organization's build.
fn system_roles() -> &'static [(RoleId, Arc<RoleEntry>)] {
    static ROLES: std::sync::OnceLock<Vec<(RoleId, Arc<RoleEntry>)>> = std::sync::OnceLock::new();
    ROLES.get_or_init(|| {
        SystemRole::ALL
            .into_iter()
            .map(|sys| {
                let entry = role_entry(sys.name().to_owned(), sys.grant_list());
                (sys.id(), Arc::new(entry))
            })
            .collect()
    })
}

/// Interns every permission key the organizations' grants name, in one step
/// (the compiled fast path shares one deployment-wide key table).
pub fn intern_keys<'a>(data: impl Iterator<Item = &'a OrgData>) {
    let system: Vec<Grant> = SystemRole::ALL
        .into_iter()
        .flat_map(|s| s.grant_list())
        .collect();
    let custom: Vec<&str> = data
        .flat_map(|d| d.roles.iter())
        .flat_map(|(_, _, grants)| grants.iter())
        .map(|g| g.permission.as_str())
        .collect();
    let keys = system
        .iter()
        .map(|g| g.permission.as_str())
        .chain(custom.iter().copied())
        .filter(|k| !k.ends_with('*'));
    crate::compiled::intern(keys);
}

impl OrgIndex {
    /// Builds an organization's index from its rows. Assignments and
    /// memberships of groups and departments are taken in id order, so the
    /// same rows give the same index (and the same order of reasons) however
    /// they were read.
    pub fn build(mut data: OrgData) -> Self {
        data.assignments.sort_unstable_by_key(|a| a.id);
        data.group_members.sort_unstable();
        data.dept_members.sort_unstable();
        let mut ix = OrgIndex::default();
        for (id, entry) in system_roles() {
            ix.roles.insert(*id, entry.clone());
        }
        for (id, name, grants) in data.roles {
            ix.roles.insert(id, Arc::new(role_entry(name, grants)));
        }
        ix.members = data.members.into_iter().collect();
        let (mut by_user, mut by_group, mut by_dept) = (Vec::new(), Vec::new(), Vec::new());
        for a in data.assignments {
            let e = AssignEntry {
                id: a.id,
                role: a.role_id,
                scope: a.scope,
                primary: a.is_primary,
            };
            match a.principal {
                Principal::User(u) => by_user.push((u, e)),
                Principal::Group(g) => by_group.push((g, e)),
                Principal::Department(d) => by_dept.push((d, e)),
            }
        }
        ix.by_user = Grouped::new(by_user);
        ix.by_group = Grouped::new(by_group);
        ix.by_dept = Grouped::new(by_dept);
        ix.user_groups = Grouped::new(
            data.group_members
                .into_iter()
                .map(|(g, u)| (u, g))
                .collect(),
        );
        ix.user_depts = Grouped::new(data.dept_members.into_iter().map(|(d, u)| (u, d)).collect());
        ix.dept_parent = data
            .departments
            .into_iter()
            .map(|(d, p, _)| (d, p))
            .collect();
        ix.fast = ix.compile();
        ix
    }

    /// The rows this index was built from, as far as it keeps them:
    /// department names and assignment times decide nothing and are not kept
    /// (they come back empty and at the epoch).
    pub fn to_data(&self, org: OrgId) -> OrgData {
        let assignment = |principal: Principal, e: &AssignEntry| Assignment {
            id: e.id,
            org_id: org,
            role_id: e.role,
            principal,
            scope: e.scope,
            is_primary: e.primary,
            created_at: Timestamp::UNIX_EPOCH,
        };
        let mut assignments = Vec::with_capacity(
            self.by_user.values.len() + self.by_group.values.len() + self.by_dept.values.len(),
        );
        for (u, list) in self.by_user.iter() {
            assignments.extend(list.iter().map(|e| assignment(Principal::User(*u), e)));
        }
        for (g, list) in self.by_group.iter() {
            assignments.extend(list.iter().map(|e| assignment(Principal::Group(*g), e)));
        }
        for (d, list) in self.by_dept.iter() {
            assignments.extend(
                list.iter()
                    .map(|e| assignment(Principal::Department(*d), e)),
            );
        }
        OrgData {
            org: Some(org),
            members: self.members.iter().map(|(u, s)| (*u, *s)).collect(),
            roles: self
                .roles
                .iter()
                .filter(|(id, _)| id.system().is_none())
                .map(|(id, r)| (*id, r.name.clone(), r.grants.clone()))
                .collect(),
            assignments,
            group_members: self.user_groups.pairs(),
            dept_members: self.user_depts.pairs(),
            departments: self
                .dept_parent
                .iter()
                .map(|(d, p)| (*d, *p, String::new()))
                .collect(),
        }
    }

    /// This index with `deltas` applied, in order: the rows are taken from
    /// this index and built again, without reading the database. Applying a
    /// delta twice changes nothing more (an added assignment replaces one
    /// with its id; removing one that is gone is no change).
    pub fn with_deltas(&self, org: OrgId, deltas: &[IndexDelta]) -> OrgIndex {
        let mut data = self.to_data(org);
        for d in deltas {
            match d {
                IndexDelta::AddAssignment(a) => {
                    data.assignments.retain(|x| x.id != a.id);
                    data.assignments.push(a.clone());
                }
                IndexDelta::RemoveAssignment(id) => data.assignments.retain(|x| x.id != *id),
            }
        }
        OrgIndex::build(data)
    }

    /// Do both indexes hold the same rows (so give the same decisions)?
    /// For checking an index that followed deltas against a fresh build.
    pub fn same_rows(&self, other: &OrgIndex) -> bool {
        self.rows() == other.rows()
    }

    fn rows(&self) -> Rows {
        let org = OrgId(uuid::Uuid::nil());
        let d = self.to_data(org);
        let mut members = d.members;
        members.sort_unstable();
        let mut roles: Vec<_> = d
            .roles
            .into_iter()
            .map(|(id, name, grants)| {
                let mut g: Vec<(String, Effect)> = grants
                    .into_iter()
                    .map(|g| (g.permission.as_str().to_owned(), g.effect))
                    .collect();
                g.sort_unstable();
                (id, name, g)
            })
            .collect();
        roles.sort_unstable_by_key(|r| r.0);
        let mut assignments: Vec<_> = d
            .assignments
            .into_iter()
            .map(|a| (a.id, a.role_id, a.principal, a.scope, a.is_primary))
            .collect();
        assignments.sort_unstable_by_key(|a| a.0);
        let (mut groups, mut depts) = (d.group_members, d.dept_members);
        groups.sort_unstable();
        depts.sort_unstable();
        let mut parents: Vec<_> = d.departments.into_iter().map(|(d, p, _)| (d, p)).collect();
        parents.sort_unstable();
        (members, roles, assignments, groups, depts, parents)
    }

    /// Builds the fast path: interned keys, per-role and per-member bitsets.
    /// A member's row is the union of the organization-scope roles that reach
    /// them, so the unions are taken once per principal (the user's own roles,
    /// each group, each department with its ancestors) and not per member and
    /// path as [`OrgIndex::reachable`] would (that also records the paths).
    fn compile(&self) -> crate::compiled::Compiled {
        let mut c = crate::compiled::Compiler::with_keys(
            self.roles
                .values()
                .flat_map(|r| r.grants.iter())
                .map(|g| g.permission.as_str())
                .filter(|k| !k.ends_with('*')),
            self.members.len(),
            self.roles.len(),
        );
        let role_bits: FxHashMap<RoleId, RoleBits> = self
            .roles
            .iter()
            .map(|(id, r)| {
                let grants = r
                    .grants
                    .iter()
                    .map(|g| (g.permission.as_str(), g.effect == Effect::Allow));
                (*id, c.role_bits(grants, r.overrides))
            })
            .collect();
        let org_roles = |list| org_scope_bits(list, &role_bits);
        let mut unions = Unions::default();
        let groups: FxHashMap<GroupId, Option<usize>> = self
            .by_group
            .iter()
            .map(|(g, list)| (*g, unions.add(None, org_roles(list))))
            .collect();
        let depts = self.dept_unions(&mut unions, &role_bits);
        for (user, status) in &self.members {
            let shared = self
                .user_groups
                .get(user)
                .iter()
                .filter_map(|g| groups.get(g).copied().flatten())
                .chain(
                    self.user_depts
                        .get(user)
                        .iter()
                        .filter_map(|d| depts.get(d).copied().flatten()),
                )
                .map(|i| &unions.sets[i]);
            let roles = org_roles(self.by_user.get(user)).chain(shared);
            c.add_user(*user, *status == MemberStatus::Active, roles);
        }
        c.finish()
    }

    /// For every department a member sits in: the union of the
    /// organization-scope roles bound to it and to its ancestors (an index
    /// into `unions`, `None` when there are none). Each department is computed
    /// once, from its parent's union, walking up iteratively so chains of any
    /// depth work; a corrupt parent map with a cycle gives every department on
    /// the cycle the roles of the whole cycle, as [`OrgIndex::ancestors`] does.
    fn dept_unions(
        &self,
        unions: &mut Unions,
        role_bits: &FxHashMap<RoleId, RoleBits>,
    ) -> FxHashMap<DeptId, Option<usize>> {
        let org_roles = |list| org_scope_bits(list, role_bits);
        let mut memo: FxHashMap<DeptId, Option<usize>> = FxHashMap::default();
        let mut path: Vec<DeptId> = Vec::new();
        let mut on_path: FxHashMap<DeptId, usize> = FxHashMap::default();
        for start in &self.user_depts.values {
            // Walk up to a department already computed, a root, or a cycle.
            let mut inherited = None;
            let mut cycle_at = None;
            let mut cur = *start;
            loop {
                if let Some(done) = memo.get(&cur) {
                    inherited = *done;
                    break;
                }
                if let Some(&at) = on_path.get(&cur) {
                    cycle_at = Some(at);
                    break;
                }
                on_path.insert(cur, path.len());
                path.push(cur);
                match self.dept_parent.get(&cur) {
                    Some(Some(p)) => cur = *p,
                    _ => break,
                }
            }
            if let Some(at) = cycle_at {
                // Every department on the cycle reaches every other one.
                let cycle = &path[at..];
                let all = cycle.iter().flat_map(|d| org_roles(self.by_dept.get(d)));
                inherited = unions.add(None, all);
                for d in cycle {
                    memo.insert(*d, inherited);
                }
                path.truncate(at);
            }
            // Fold down from the top: each department adds its own bindings.
            while let Some(d) = path.pop() {
                inherited = unions.add(inherited, org_roles(self.by_dept.get(&d)));
                memo.insert(d, inherited);
            }
            on_path.clear();
        }
        memo
    }

    /// The answer alone, as fast as the index can give it.
    #[inline]
    pub fn allowed(&self, user: UserId, permission: &str, scope: Scope) -> bool {
        self.allowed_in(&self.fast, user, permission, scope)
    }

    /// [`OrgIndex::allowed`] with this organization's fast path given (the
    /// copy a snapshot keeps in the organization's entry).
    #[inline]
    fn allowed_in(
        &self,
        fast: &crate::compiled::Compiled,
        user: UserId,
        permission: &str,
        scope: Scope,
    ) -> bool {
        if scope == Scope::Organization {
            match fast.check(user, permission) {
                crate::compiled::Fast::Allowed => return true,
                crate::compiled::Fast::Denied => return false,
                crate::compiled::Fast::Unknown => {}
            }
        }
        self.check(user, permission, scope).allowed
    }

    /// Approximate bytes held by this organization's index.
    pub fn heap_bytes(&self) -> usize {
        let roles: usize = self
            .roles
            .values()
            .map(|r| r.grants.len() * 48 + r.name.len() + 64)
            .sum();
        roles
            + self.by_user.heap_bytes()
            + self.by_group.heap_bytes()
            + self.by_dept.heap_bytes()
            + self.user_groups.heap_bytes()
            + self.user_depts.heap_bytes()
            + self.members.capacity() * 24
            + self.dept_parent.capacity() * 40
            + self.fast.heap_bytes()
    }

    /// Every membership the index knows (deleted ones are not in it), in id order.
    pub fn members(&self) -> Vec<(UserId, MemberStatus)> {
        let mut v: Vec<(UserId, MemberStatus)> =
            self.members.iter().map(|(u, s)| (*u, *s)).collect();
        v.sort();
        v
    }

    pub fn member_status(&self, user: UserId) -> Option<MemberStatus> {
        self.members.get(&user).copied()
    }

    /// The department and its ancestors, nearest first. Bounded by the number
    /// of departments so a corrupt parent map can never loop forever.
    fn ancestors(&self, dept: DeptId) -> Vec<DeptId> {
        let mut out = vec![dept];
        let mut cur = dept;
        while let Some(Some(p)) = self.dept_parent.get(&cur) {
            if out.len() > self.dept_parent.len() {
                break;
            }
            out.push(*p);
            cur = *p;
        }
        out
    }

    /// The assignments that reach `user` and cover a question asked at
    /// `asked`, each with how it reached the user and its role. An
    /// organization-scope assignment covers everything, a project one its
    /// project, a department one its subtree (the asked department's chain of
    /// ancestors is computed once).
    fn covering(&self, user: UserId, asked: Scope) -> Vec<(AssignEntry, Via, &RoleEntry)> {
        let chain = match asked {
            Scope::Department(d) => self.ancestors(d),
            _ => Vec::new(),
        };
        self.reachable(user)
            .into_iter()
            .filter(|(e, _)| match (e.scope, asked) {
                (Scope::Organization, _) => true,
                (Scope::Project(a), Scope::Project(b)) => a == b,
                (Scope::Department(a), Scope::Department(_)) => chain.contains(&a),
                _ => false,
            })
            .filter_map(|(e, via)| self.roles.get(&e.role).map(|role| (e, via, &**role)))
            .collect()
    }

    /// Every role assignment that reaches `user`, with how it got there.
    fn reachable(&self, user: UserId) -> Vec<(AssignEntry, Via)> {
        let mut out = Vec::new();
        for e in self.by_user.get(&user) {
            out.push((*e, if e.primary { Via::Primary } else { Via::Direct }));
        }
        for g in self.user_groups.get(&user) {
            for e in self.by_group.get(g) {
                out.push((*e, Via::Group { group_id: *g }));
            }
        }
        for d in self.user_depts.get(&user) {
            let chain = self.ancestors(*d);
            for (i, a) in chain.iter().enumerate() {
                for e in self.by_dept.get(a) {
                    out.push((
                        *e,
                        Via::Department {
                            department_id: *a,
                            path: chain[..=i].to_vec(),
                        },
                    ));
                }
            }
        }
        out
    }

    /// The decision of the model: Active membership, then owner-like roles,
    /// then deny over allow among the covering grants.
    pub fn check(&self, user: UserId, permission: &str, scope: Scope) -> Decision {
        let outcome_only = |outcome| Decision {
            allowed: false,
            outcome,
            reasons: vec![],
        };
        match self.members.get(&user) {
            None => return outcome_only(Outcome::NotAMember),
            Some(MemberStatus::Active) => {}
            Some(_) => return outcome_only(Outcome::Inactive),
        }
        let mut allows = Vec::new();
        let mut denies = Vec::new();
        let mut overrides = Vec::new();
        for (e, via, role) in self.covering(user, scope) {
            let reason = |effect, grant: &str| Reason {
                assignment_id: e.id,
                role_id: e.role,
                role_name: role.name.clone(),
                effect,
                grant: grant.to_owned(),
                scope: e.scope,
                via: via.clone(),
            };
            if role.overrides {
                overrides.push(reason(Effect::Allow, OVERRIDE_ALL));
                continue;
            }
            for g in &role.grants {
                if g.permission.covers(permission) {
                    let r = reason(g.effect, g.permission.as_str());
                    match g.effect {
                        Effect::Allow => allows.push(r),
                        Effect::Deny => denies.push(r),
                    }
                }
            }
        }
        if !overrides.is_empty() {
            Decision {
                allowed: true,
                outcome: Outcome::Override,
                reasons: overrides,
            }
        } else if !denies.is_empty() {
            Decision {
                allowed: false,
                outcome: Outcome::Denied,
                reasons: denies,
            }
        } else if !allows.is_empty() {
            Decision {
                allowed: true,
                outcome: Outcome::Allowed,
                reasons: allows,
            }
        } else {
            outcome_only(Outcome::NoGrant)
        }
    }

    /// What a role alone allows, for callers acting with a role but no
    /// membership (organization API keys).
    pub fn role_allows(&self, role: RoleId, permission: &str) -> bool {
        let Some(r) = self.roles.get(&role) else {
            return false;
        };
        if r.overrides {
            return true;
        }
        let mut allowed = false;
        for g in &r.grants {
            if g.permission.covers(permission) {
                match g.effect {
                    Effect::Deny => return false,
                    Effect::Allow => allowed = true,
                }
            }
        }
        allowed
    }

    pub fn role_overrides(&self, role: RoleId) -> bool {
        self.roles.get(&role).is_some_and(|r| r.overrides)
    }

    /// The user's effective permissions at `scope`: allowed keys minus denied
    /// ones, the roles that reached the user, and whether an owner-like role did.
    pub fn effective(&self, user: UserId, scope: Scope) -> Effective {
        let mut eff = Effective::default();
        if self.members.get(&user) != Some(&MemberStatus::Active) {
            return eff;
        }
        let mut allowed: HashMap<String, Vec<Reason>> = HashMap::new();
        let mut denied: HashSet<PermissionKey> = HashSet::new();
        let mut role_ids = Vec::new();
        for (e, via, role) in self.covering(user, scope) {
            if !role_ids.contains(&e.role) {
                role_ids.push(e.role);
            }
            eff.overrides |= role.overrides;
            for g in &role.grants {
                let key = g.permission.as_str().to_owned();
                match g.effect {
                    Effect::Deny => {
                        denied.insert(g.permission.clone());
                    }
                    Effect::Allow => allowed.entry(key.clone()).or_default().push(Reason {
                        assignment_id: e.id,
                        role_id: e.role,
                        role_name: role.name.clone(),
                        effect: Effect::Allow,
                        grant: key,
                        scope: e.scope,
                        via: via.clone(),
                    }),
                }
            }
        }
        if eff.overrides {
            for c in CAPABILITIES {
                allowed.entry(c.key.to_owned()).or_default();
            }
            denied.clear();
        }
        let mut keys: Vec<(String, Vec<Reason>)> = allowed
            .into_iter()
            .filter(|(k, _)| !denied.iter().any(|d| d.covers(k)))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        eff.permissions = keys;
        eff.role_ids = role_ids;
        eff.denied = {
            let mut d: Vec<String> = denied.iter().map(|k| k.as_str().to_owned()).collect();
            d.sort();
            d
        };
        eff
    }

    /// Departments where the user is a direct member, plus all their descendants.
    pub fn department_scope(&self, user: UserId) -> Vec<DeptId> {
        let own: HashSet<DeptId> = self.user_depts.get(&user).iter().copied().collect();
        let mut out: Vec<DeptId> = self
            .dept_parent
            .keys()
            .filter(|d| self.ancestors(**d).iter().any(|a| own.contains(a)))
            .copied()
            .collect();
        out.sort();
        out
    }
}

/// The result of [`OrgIndex::effective`].
#[derive(Debug, Clone, Default)]
pub struct Effective {
    /// Allowed keys (sorted) with the assignments that granted each.
    pub permissions: Vec<(String, Vec<Reason>)>,
    /// Keys a deny removed.
    pub denied: Vec<String>,
    pub role_ids: Vec<RoleId>,
    pub overrides: bool,
}

/// The deployment's published snapshot.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub revision: i64,
    /// By the organization's UUID as a number: hashing a `u128` is a couple
    /// of multiplications, hashing the id's bytes a general byte-string hash,
    /// and this lookup is on every check.
    orgs: FxHashMap<u128, OrgEntry>,
}

/// An organization in the snapshot: its index, and a copy of its compiled
/// fast path (sharing the index's tables) kept first here, so a check reads
/// the member's slot and the key's roles straight from the map entry instead
/// of reading the organization's index first.
#[derive(Debug, Clone)]
#[repr(C)]
struct OrgEntry {
    fast: crate::compiled::Compiled,
    revision: i64,
    index: Arc<OrgIndex>,
}

impl OrgEntry {
    fn new(revision: i64, index: Arc<OrgIndex>) -> Self {
        OrgEntry {
            fast: index.fast.clone(),
            revision,
            index,
        }
    }
}

fn org_key(org: OrgId) -> u128 {
    org.uuid().as_u128()
}

impl Snapshot {
    #[inline]
    pub fn org(&self, org: OrgId) -> Option<&Arc<OrgIndex>> {
        self.orgs.get(&org_key(org)).map(|e| &e.index)
    }

    /// [`OrgIndex::allowed`] in `org` (`None` if the snapshot has no such
    /// organization), a memory read shorter than going through
    /// [`Snapshot::org`].
    #[inline]
    pub fn allowed(
        &self,
        org: OrgId,
        user: UserId,
        permission: &str,
        scope: Scope,
    ) -> Option<bool> {
        let e = self.orgs.get(&org_key(org))?;
        Some(e.index.allowed_in(&e.fast, user, permission, scope))
    }

    /// The revision at which an organization's index was last rebuilt.
    pub fn org_revision(&self, org: OrgId) -> Option<i64> {
        self.orgs.get(&org_key(org)).map(|e| e.revision)
    }

    pub fn org_count(&self) -> usize {
        self.orgs.len()
    }

    /// Approximate bytes held by every organization's index.
    pub fn heap_bytes(&self) -> usize {
        self.orgs
            .values()
            .map(|e| e.index.heap_bytes())
            .sum::<usize>()
            + self.orgs.capacity() * (std::mem::size_of::<(u128, OrgEntry)>() + 1)
    }
}

/// The shared, lock-free-for-readers index.
#[derive(Debug, Default)]
pub struct Index {
    current: ArcSwap<Snapshot>,
}

/// A change to publish: a rebuilt organization, or its removal.
#[derive(Debug, Clone)]
pub enum OrgUpdate {
    Replace(OrgId, Arc<OrgIndex>),
    Remove(OrgId),
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned handle (to keep across an await).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Installs a whole snapshot (at start-up).
    pub fn install(&self, revision: i64, orgs: Vec<(OrgId, OrgIndex)>) {
        let orgs = orgs
            .into_iter()
            .map(|(id, ix)| (org_key(id), OrgEntry::new(revision, Arc::new(ix))))
            .collect();
        self.current.store(Arc::new(Snapshot { revision, orgs }));
    }

    /// Publishes organizations each at the revision it reflects and declares
    /// every change up to `revision` applied, in one step. An organization
    /// already published at a newer revision keeps its newer data.
    pub fn publish_each(&self, revision: i64, updates: &[(i64, OrgUpdate)]) {
        self.current.rcu(|cur| {
            let mut next = Snapshot::clone(cur);
            next.revision = next.revision.max(revision);
            for (at, u) in updates {
                next.put(*at, u);
            }
            next
        });
    }

    /// [`Index::publish_each`] for updates all made at `revision`.
    pub fn publish(&self, revision: i64, updates: &[OrgUpdate]) {
        let each: Vec<(i64, OrgUpdate)> = updates.iter().map(|u| (revision, u.clone())).collect();
        self.publish_each(revision, &each);
    }
}

impl Snapshot {
    /// Puts one update made at `revision` into this (private, unpublished) copy.
    fn put(&mut self, revision: i64, u: &OrgUpdate) {
        match u {
            OrgUpdate::Replace(id, ix) => {
                let key = org_key(*id);
                let newer = self.orgs.get(&key).is_some_and(|e| e.revision > revision);
                if !newer {
                    self.orgs.insert(key, OrgEntry::new(revision, ix.clone()));
                }
            }
            OrgUpdate::Remove(id) => {
                self.orgs.remove(&org_key(*id));
            }
        }
    }
}

impl OrgIndex {
    /// Does the user hold `role` directly at organization scope (primary or assigned)?
    pub fn holds_role(&self, user: UserId, role: RoleId) -> bool {
        self.by_user
            .get(&user)
            .iter()
            .any(|e| e.role == role && e.scope == Scope::Organization)
    }
}
