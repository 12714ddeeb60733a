//! The compiled fast path of an organization's index: permission keys are
//! interned deployment-wide to small integers, and each member's decision at
//! organization scope is precomputed. A check is a lookup in the (small, hot)
//! key table, one lookup in the organization's member table whose entry
//! carries the decision inline, and a bit test.
//!
//! An organization of at most [`SLIM_ROLES`] roles numbers them, and a
//! member's entry holds the set of roles that reach them (a 32-bit mask) in
//! a 32-byte row; the organization keeps, per key, which roles allow and
//! which deny it. Any other organization's entry holds the member's decision
//! as a bitset over the keys (`allow & !deny`) in a 64-byte row. Either way
//! wildcards are expanded over the keys the organization's grants name.
//! Half-size rows matter: the member rows of every organization are the one
//! large, randomly read part of the index, and on a small machine a working
//! set of 8 MiB is read about three times faster than one of 16 MiB.
//! Questions the fast path cannot answer (another scope, a key no grant of
//! the organization names but a wildcard might cover) go to the exact
//! evaluator.

use crate::ids::UserId;
use std::sync::{Arc, Mutex};

const ACTIVE: u8 = 1;

/// An organization with at most this many roles gets the slim member rows.
pub(crate) const SLIM_ROLES: usize = 32;
const OVERRIDE: u8 = 2;
const WILDCARDS: u8 = 4;

/// Words of bits a member's entry holds inline: 256 keys, enough for every
/// organization whose keys all rank among the deployment's first 256.
const INLINE: usize = 4;

/// Deployment-wide permission-key ids. Append-only: an id never changes, so
/// organizations compiled against an older table stay valid beside newer
/// ones. Each compiled organization holds the table it was compiled with;
/// organizations compiled together share one.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    /// Each id's key.
    names: Vec<Box<str>>,
    /// Open addressing over the keys' shapes, at most half full: every
    /// check looks its key up here, and a general map costs a byte-string
    /// hash, a control-byte probe and a `memcmp` call on top.
    slots: Box<[Option<(KeyShape, u32)>]>,
    /// `64 - log2(slots.len())`.
    shift: u32,
}

/// What a key lookup compares first: the length and the first and last
/// eight bytes (zero-padded when shorter), which together are the whole key
/// when it has at most 16 bytes; a longer one is then compared in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyShape {
    len: usize,
    head: u64,
    tail: u64,
}

/// Keys of at most this many bytes are determined by their [`KeyShape`].
const SHAPED: usize = 16;

impl KeyShape {
    #[inline]
    fn of(key: &str) -> Self {
        let b = key.as_bytes();
        let n = b.len();
        let word = |bytes: &[u8]| {
            let mut w = [0u8; 8];
            match bytes.get(..8) {
                Some(eight) => w.copy_from_slice(eight),
                None => w[..bytes.len()].copy_from_slice(bytes),
            }
            u64::from_le_bytes(w)
        };
        let tail = if n >= 8 { word(&b[n - 8..]) } else { 0 };
        KeyShape {
            len: n,
            head: word(b),
            tail,
        }
    }

    #[inline]
    fn hash(&self) -> u64 {
        (self.head ^ self.tail.rotate_left(29) ^ self.len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

impl Interner {
    /// The table of `names` (id `i` is `names[i]`).
    fn new(names: Vec<Box<str>>) -> Self {
        let size = (names.len() * 2).next_power_of_two().max(16);
        let shift = 64 - size.trailing_zeros();
        let mut slots = vec![None; size].into_boxed_slice();
        for (id, name) in names.iter().enumerate() {
            let shape = KeyShape::of(name);
            let mut i = (shape.hash() >> shift) as usize;
            while slots[i].is_some() {
                i = (i + 1) & (size - 1);
            }
            slots[i] = Some((shape, id as u32));
        }
        Interner {
            names,
            slots,
            shift,
        }
    }

    /// The id of `key`, if it has one.
    #[inline]
    fn get(&self, key: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let shape = KeyShape::of(key);
        let mask = self.slots.len() - 1;
        let mut i = (shape.hash() >> self.shift) as usize;
        while let Some((s, id)) = &self.slots[i] {
            if *s == shape && (shape.len <= SHAPED || *self.names[*id as usize] == *key) {
                return Some(*id);
            }
            i = (i + 1) & mask;
        }
        None
    }
}

/// The newest table. Taken only while compiling, never by a check.
static INTERNER: Mutex<Option<Arc<Interner>>> = Mutex::new(None);

/// The newest table as it is.
fn current() -> Arc<Interner> {
    let mut slot = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(Default::default).clone()
}

/// The current table, extended (as a new table) with any of `keys` it lacks.
/// Extending copies the table; loading many organizations interns all their
/// keys in one call first (`index::intern_keys`), so that happens once.
pub(crate) fn intern<'a>(keys: impl Iterator<Item = &'a str> + Clone) -> Arc<Interner> {
    let mut slot = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
    let current = slot.get_or_insert_with(Default::default).clone();
    if keys.clone().all(|k| current.get(k).is_some()) {
        return current;
    }
    let mut names = current.names.clone();
    let mut known: rustc_hash::FxHashSet<&str> = names.iter().map(|n| &**n).collect();
    let mut added: Vec<&str> = Vec::new();
    for k in keys {
        if known.insert(k) {
            added.push(k);
        }
    }
    names.extend(added.into_iter().map(Box::from));
    let next = Arc::new(Interner::new(names));
    *slot = Some(next.clone());
    next
}

/// A member's entry in a wide table: the user, flags and, when the
/// organization's keys fit, the bitset: one cache line, so a lookup usually
/// touches one line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct WideRow {
    /// The user's UUID as a number; 0 (the nil UUID, never a user) marks an empty slot.
    user: u128,
    bits: [u64; INLINE],
    /// Of the slot, not of the member in it: bit `d` is set when the slot `d`
    /// places further on holds a member whose home is this slot.
    hop: u64,
    /// Offset into `Compiled::overflow` when the bitset is not inline.
    offset: u32,
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<WideRow>() == 64);

/// A member's entry in a slim table: the user, flags and the roles (by their
/// number in the organization) that reach them; half a cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
struct SlimRow {
    user: u128,
    roles: u32,
    /// As [`WideRow::hop`], over a smaller neighbourhood.
    hop: u32,
    flags: u8,
}

const _: () = assert!(std::mem::size_of::<SlimRow>() == 32);

/// What the member table needs of a row.
trait Row: Copy + Default {
    /// How far from its home slot a member may be placed (bits of `hop`).
    const NEIGHBOURHOOD: usize;
    fn user(&self) -> u128;
    fn hop(&self) -> u64;
    fn set_hop(&mut self, hop: u64);
}

impl Row for WideRow {
    const NEIGHBOURHOOD: usize = 64;
    #[inline]
    fn user(&self) -> u128 {
        self.user
    }
    #[inline]
    fn hop(&self) -> u64 {
        self.hop
    }
    fn set_hop(&mut self, hop: u64) {
        self.hop = hop;
    }
}

impl Row for SlimRow {
    const NEIGHBOURHOOD: usize = 32;
    #[inline]
    fn user(&self) -> u128 {
        self.user
    }
    #[inline]
    fn hop(&self) -> u64 {
        u64::from(self.hop)
    }
    fn set_hop(&mut self, hop: u64) {
        // Only bits below NEIGHBOURHOOD are ever set.
        self.hop = hop as u32;
    }
}

/// The members of one organization, by user id: open addressing over a
/// power-of-two array of rows, each member within its row type's
/// neighbourhood of its home slot, and each home slot saying in `hop` where
/// its members are (hopscotch style). Hand-written because a general map
/// keeps control bytes and entries in separate cache lines, and this lookup
/// sits on every check: key and answer share one line, most members sit in
/// their home slot (one line read), the rest are found with one more read,
/// and a non-member costs the home slot plus the few slots its hop bits name
/// instead of a probe run to the next empty slot.
#[derive(Debug, Clone)]
struct Table<R> {
    /// Shared, so a snapshot can keep the table beside the organization's
    /// entry and reach a member without reading the organization first.
    slots: Arc<[R]>,
    /// `64 - log2(slots.len())`: the multiplicative hash keeps the top bits.
    shift: u32,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table {
            slots: Arc::new([]),
            shift: 0,
        }
    }
}

/// An organization's member table, of whichever row its organization uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserTable(Members);

#[derive(Debug, Clone)]
enum Members {
    Wide(Table<WideRow>),
    Slim(Table<SlimRow>),
}

impl Default for Members {
    fn default() -> Self {
        Members::Slim(Table::default())
    }
}

impl UserTable {
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            Members::Wide(t) => t.slots.len() * std::mem::size_of::<WideRow>(),
            Members::Slim(t) => t.slots.len() * std::mem::size_of::<SlimRow>(),
        }
    }
}

#[inline]
fn home(key: u128, shift: u32) -> usize {
    let mixed = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> shift) as usize
}

fn shift_for(size: usize) -> u32 {
    64 - size.trailing_zeros()
}

impl<R: Row> Table<R> {
    /// The table of `rows` (one per member): at most 7/8 full, larger if a
    /// member would land outside its home slot's neighbourhood.
    fn build(rows: &[R]) -> Self {
        let n = rows.len();
        let mut size = (n + n / 7 + 1).next_power_of_two().max(2);
        loop {
            if let Some(slots) = Self::place(rows, size) {
                return Table {
                    slots: slots.into(),
                    shift: shift_for(size),
                };
            }
            size *= 2;
        }
    }

    /// Places every member whose home slot is free there first (most lookups
    /// then read one line), then each other one in the first free slot after
    /// its home; `None` if one lands too far from its home.
    fn place(rows: &[R], size: usize) -> Option<Vec<R>> {
        let mut slots = vec![R::default(); size];
        let (shift, mask) = (shift_for(size), size - 1);
        let mut displaced = Vec::new();
        for row in rows {
            let h = home(row.user(), shift);
            if slots[h].user() == 0 {
                Self::put(&mut slots, h, 0, row);
            } else {
                displaced.push(row);
            }
        }
        for row in displaced {
            let h = home(row.user(), shift);
            let d = (1..R::NEIGHBOURHOOD.min(size)).find(|d| slots[(h + d) & mask].user() == 0)?;
            Self::put(&mut slots, h, d, row);
        }
        Some(slots)
    }

    /// Puts `row` `d` slots after its `home` slot, keeping that slot's own hop bits.
    fn put(slots: &mut [R], home: usize, d: usize, row: &R) {
        let at = (home + d) & (slots.len() - 1);
        let hop = slots[at].hop();
        slots[at] = *row;
        slots[at].set_hop(hop);
        let home_hop = slots[home].hop() | 1 << d;
        slots[home].set_hop(home_hop);
    }

    #[inline]
    fn get(&self, key: u128) -> Option<&R> {
        if key == 0 || self.slots.is_empty() {
            return None;
        }
        let home = home(key, self.shift);
        let first = &self.slots[home];
        if first.user() == key {
            return Some(first);
        }
        let mask = self.slots.len() - 1;
        let mut hop = first.hop() & !1;
        while hop != 0 {
            let slot = &self.slots[(home + hop.trailing_zeros() as usize) & mask];
            if slot.user() == key {
                return Some(slot);
            }
            hop &= hop - 1;
        }
        None
    }
}

/// What the fast path knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fast {
    Allowed,
    Denied,
    /// Only the exact evaluator can tell.
    Unknown,
}

/// A role's grants (or a union of roles'): as bitsets over the interned
/// keys in a wide organization, as the roles' numbers in a slim one.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleBits {
    pub allow: Vec<u64>,
    pub deny: Vec<u64>,
    /// Slim: bit `i` for the organization's role number `i`.
    pub roles: u32,
    pub wildcards: bool,
    pub overrides: bool,
}

impl RoleBits {
    /// Adds `other`'s grants (both compiled for the same organization).
    pub(crate) fn union_with(&mut self, other: &RoleBits) {
        for (a, b) in self.allow.iter_mut().zip(&other.allow) {
            *a |= b;
        }
        for (d, b) in self.deny.iter_mut().zip(&other.deny) {
            *d |= b;
        }
        self.roles |= other.roles;
        self.wildcards |= other.wildcards;
        self.overrides |= other.overrides;
    }
}

/// An organization's compiled fast path, frozen: cheap to clone (shared
/// parts), so a snapshot keeps a copy in the organization's entry and a check
/// reaches everything it reads from there. Field order matters: `repr(C)`
/// with the fields every check reads on the first cache line.
#[derive(Debug, Clone, Default)]
#[repr(C, align(64))]
pub struct Compiled {
    table: UserTable,
    interner: Arc<Interner>,
    /// Slim: per key id, the roles that allow it (low 32 bits) and deny it
    /// (high 32 bits); one word read per check.
    key_roles: Arc<[u64]>,
    /// Words of a member's bitset: enough for the highest id the organization uses.
    words: usize,
    /// The keys the organization's grants name; a key outside this set was
    /// never compiled, so only a wildcard could grant it.
    named: Arc<[u64]>,
    overflow: Arc<[u64]>,
}

/// An organization's fast path while it is compiled: roles first
/// ([`Compiler::role_bits`]), then members ([`Compiler::add_user`]), then
/// [`Compiler::finish`].
#[derive(Debug)]
pub(crate) struct Compiler {
    words: usize,
    interner: Arc<Interner>,
    named: Vec<u64>,
    overflow: Vec<u64>,
    key_roles: Vec<u64>,
    /// Slim: roles numbered so far.
    numbered: usize,
    /// Members as added, placed into the table by [`Compiler::finish`].
    pending: Pending,
    /// A member's allow and deny words while compiling (reused, not reallocated per member).
    scratch: Vec<u64>,
}

/// Members as added, of the organization's row type.
#[derive(Debug, Clone)]
enum Pending {
    Wide(Vec<WideRow>),
    Slim(Vec<SlimRow>),
}

impl Default for Pending {
    fn default() -> Self {
        Pending::Slim(Vec::new())
    }
}

fn set(bits: &mut [u64], i: u32) {
    bits[i as usize / 64] |= 1 << (i % 64);
}

impl Compiler {
    /// Interns `keys` (every non-wildcard key named by a grant of the
    /// organization), with room for `members` members, for an organization
    /// of `roles` roles (each compiled with [`Compiled::role_bits`]).
    pub(crate) fn with_keys<'a>(
        keys: impl Iterator<Item = &'a str> + Clone,
        members: usize,
        roles: usize,
    ) -> Self {
        // Usually every key is interned already: look each up once, and
        // intern only if one is missing.
        let mut interner = current();
        let mut ids = Vec::new();
        for k in keys.clone() {
            match interner.get(k) {
                Some(i) => ids.push(i),
                None => {
                    interner = intern(keys.clone());
                    ids = keys.filter_map(|k| interner.get(k)).collect();
                    break;
                }
            }
        }
        let words = ids.iter().map(|i| *i as usize / 64 + 1).max().unwrap_or(1);
        let mut named = vec![0; words];
        for i in ids {
            set(&mut named, i);
        }
        let (pending, key_roles) = if roles <= SLIM_ROLES {
            (
                Pending::Slim(Vec::with_capacity(members)),
                vec![0; words * 64],
            )
        } else {
            (Pending::Wide(Vec::with_capacity(members)), Vec::new())
        };
        Compiler {
            interner,
            words,
            named,
            pending,
            overflow: Vec::new(),
            key_roles,
            numbered: 0,
            scratch: Vec::new(),
        }
    }

    /// Compiles one role's grants: `grants` are (key, is_allow); trailing `*`
    /// keys are expanded over every key of the organization they cover. In a
    /// slim organization the role gets the next number, and each key it
    /// allows or denies records it.
    pub(crate) fn role_bits<'a>(
        &mut self,
        grants: impl Iterator<Item = (&'a str, bool)>,
        overrides: bool,
    ) -> RoleBits {
        let mut rb = RoleBits {
            allow: vec![0; self.words],
            deny: vec![0; self.words],
            roles: 0,
            wildcards: false,
            overrides,
        };
        for (key, allow) in grants {
            let target = if allow { &mut rb.allow } else { &mut rb.deny };
            match key.strip_suffix('*') {
                Some(prefix) => {
                    rb.wildcards = true;
                    for i in self.named_ids() {
                        if self.interner.names[i as usize].starts_with(prefix) {
                            set(target, i);
                        }
                    }
                }
                None => {
                    if let Some(i) = self.interner.get(key) {
                        if (i as usize) < self.words * 64 {
                            set(target, i);
                        }
                    }
                }
            }
        }
        if let Pending::Slim(_) = self.pending {
            if self.numbered < SLIM_ROLES {
                let bit = 1u32 << self.numbered;
                self.numbered += 1;
                rb.roles = bit;
                for (k, slot) in self.key_roles.iter_mut().enumerate() {
                    let (w, b) = (k / 64, 1u64 << (k % 64));
                    if rb.allow[w] & b != 0 {
                        *slot |= u64::from(bit);
                    }
                    if rb.deny[w] & b != 0 {
                        *slot |= u64::from(bit) << 32;
                    }
                }
            } else {
                // More roles than announced: every member gets a wide row.
                self.widen();
            }
        }
        rb
    }

    /// Turns a slim organization wide before any member is added.
    fn widen(&mut self) {
        debug_assert!(
            matches!(&self.pending, Pending::Slim(rows) if rows.is_empty()),
            "roles are compiled before members"
        );
        self.pending = Pending::Wide(Vec::new());
        self.key_roles = Vec::new();
    }

    /// The ids of the keys the organization's grants name.
    fn named_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.named.iter().enumerate().flat_map(|(w, &word)| {
            (0..64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| (w * 64 + b) as u32)
        })
    }

    /// The compiled organization, without what only compiling needed.
    pub(crate) fn finish(self) -> Compiled {
        let table = match self.pending {
            Pending::Wide(rows) => UserTable(Members::Wide(Table::build(&rows))),
            Pending::Slim(rows) => UserTable(Members::Slim(Table::build(&rows))),
        };
        Compiled {
            table,
            interner: self.interner,
            key_roles: self.key_roles.into(),
            words: self.words,
            named: self.named.into(),
            overflow: self.overflow.into(),
        }
    }

    /// Records a member's decision from the roles that reach them at
    /// organization scope (once per member).
    pub(crate) fn add_user<'a>(
        &mut self,
        user: UserId,
        active: bool,
        roles: impl Iterator<Item = &'a RoleBits>,
    ) {
        let mut flags = if active { ACTIVE } else { 0 };
        let user = user.uuid().as_u128();
        if let Pending::Slim(rows) = &mut self.pending {
            let mut mask = 0;
            for r in roles {
                if r.overrides {
                    flags |= OVERRIDE;
                }
                if r.wildcards {
                    flags |= WILDCARDS;
                }
                mask |= r.roles;
            }
            rows.push(SlimRow {
                user,
                roles: mask,
                flags,
                hop: 0,
            });
            return;
        }
        let words = self.words;
        self.scratch.clear();
        self.scratch.resize(2 * words, 0);
        let (allow, deny) = self.scratch.split_at_mut(words);
        for r in roles {
            if r.overrides {
                flags |= OVERRIDE;
            }
            if r.wildcards {
                flags |= WILDCARDS;
            }
            for w in 0..words {
                allow[w] |= r.allow[w];
                deny[w] |= r.deny[w];
            }
        }
        let decided = allow.iter().zip(deny.iter()).map(|(a, d)| a & !d);
        let mut row = WideRow {
            user,
            flags,
            ..Default::default()
        };
        if words <= INLINE {
            for (slot, w) in row.bits.iter_mut().zip(decided) {
                *slot = w;
            }
        } else {
            row.offset = self.overflow.len() as u32;
            self.overflow.extend(decided);
        }
        if let Pending::Wide(rows) = &mut self.pending {
            rows.push(row);
        }
    }
}

impl Compiled {
    /// The decision at organization scope, as far as the fast path knows it.
    #[inline]
    pub fn check(&self, user: UserId, permission: &str) -> Fast {
        // The member's slot is the access likely to miss the cache; the key
        // table is small and hot. Neither depends on the other.
        let user = user.uuid().as_u128();
        let key = self.interner.get(permission);
        let (flags, decided) = match &self.table.0 {
            Members::Slim(t) => {
                let Some(u) = t.get(user) else {
                    return Fast::Denied;
                };
                let granted = key
                    .and_then(|i| self.key_roles.get(i as usize))
                    .copied()
                    .unwrap_or(0);
                let (allow, deny) = (granted as u32, (granted >> 32) as u32);
                (u.flags, u.roles & allow != 0 && u.roles & deny == 0)
            }
            Members::Wide(t) => {
                let Some(u) = t.get(user) else {
                    return Fast::Denied;
                };
                let word = match key {
                    Some(i) if self.words <= INLINE => {
                        u.bits.get(i as usize / 64).copied().unwrap_or(0)
                    }
                    Some(i) if (i as usize) < self.words * 64 => {
                        self.overflow[u.offset as usize + i as usize / 64]
                    }
                    _ => 0,
                };
                (u.flags, key.is_some_and(|i| word & (1u64 << (i % 64)) != 0))
            }
        };
        if flags & ACTIVE == 0 {
            return Fast::Denied;
        }
        if flags & OVERRIDE != 0 || decided {
            return Fast::Allowed;
        }
        // A decided key is always a named one, so only a member holding a
        // wildcard needs the named set: a key the organization's grants never
        // name may still be covered by the wildcard.
        let named = key.is_some_and(|i| {
            self.named
                .get(i as usize / 64)
                .is_some_and(|n| n & (1u64 << (i % 64)) != 0)
        });
        if flags & WILDCARDS == 0 || named {
            Fast::Denied
        } else {
            Fast::Unknown
        }
    }

    /// Bytes held by the compiled tables (an estimate for reports; the shared
    /// key table is not counted per organization).
    pub fn heap_bytes(&self) -> usize {
        self.overflow.len() * 8
            + self.named.len() * 8
            + self.key_roles.len() * 8
            + self.table.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn wide(user: u128, flags: u8) -> WideRow {
        WideRow {
            user,
            flags,
            ..Default::default()
        }
    }

    fn slim(user: u128, flags: u8) -> SlimRow {
        SlimRow {
            user,
            flags,
            ..Default::default()
        }
    }

    /// A cheap deterministic stream of non-zero keys.
    fn keys() -> impl Iterator<Item = u128> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        std::iter::repeat_with(move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (u128::from(x) << 64) | u128::from(x.rotate_left(29)) | 1
        })
    }

    #[test]
    fn the_key_table_finds_exactly_its_keys() {
        // Lengths on both sides of 8 and 16 bytes, longer keys sharing their
        // length and first and last eight bytes (present and absent),
        // prefixes of one another, and the empty key.
        let keys = [
            "a",
            "ab",
            "manage",
            "manage_u",
            "manage_users",
            "manage_users_x",
            "api.projects.read",
            "api.projects.list.read",
            "api.projects.edit.read",
            "api.organization.projects.read",
            "x.projects.one.read",
            "x.projects_one.read",
            "res12.delete",
            "res12.deletf",
        ];
        let table = Interner::new(keys.iter().map(|k| Box::from(*k)).collect());
        for (id, k) in keys.iter().enumerate() {
            assert_eq!(table.get(k), Some(id as u32), "{k}");
        }
        for absent in [
            "",
            "b",
            "manag",
            "manage_user",
            "api.projects_list.read",
            "x.projects:one.read",
            "api.projects.lis.read",
            "res12.delete ",
        ] {
            assert_eq!(table.get(absent), None, "{absent:?}");
        }
        assert_eq!(Interner::default().get("a"), None);
    }

    fn finds_every_member_and_no_one_else<R: Row>(row: fn(u128, u8) -> R, flags: fn(&R) -> u8) {
        let members: Vec<u128> = keys().take(5_000).collect();
        let rows: Vec<R> = members.iter().map(|k| row(*k, (*k % 7) as u8)).collect();
        let table = Table::build(&rows);
        for k in &members {
            let found = table.get(*k).expect("a member is found");
            assert_eq!((found.user(), flags(found)), (*k, (*k % 7) as u8));
        }
        for k in keys().skip(5_000).take(5_000) {
            assert!(table.get(k).is_none(), "{k:x} is not a member");
        }
        assert!(table.get(0).is_none());
        assert!(Table::<R>::default().get(members[0]).is_none());
    }

    #[test]
    fn every_member_is_found_and_no_one_else() {
        finds_every_member_and_no_one_else(wide, |r| r.flags);
        finds_every_member_and_no_one_else(slim, |r| r.flags);
    }

    fn crowded_home_slot_grows_the_table<R: Row>(row: fn(u128, u8) -> R) {
        // More members share one home slot than its neighbourhood can hold,
        // so the first placement fails and the table grows until it fits.
        let crowd: Vec<u128> = keys()
            .filter(|k| home(*k, shift_for(128)) == 5)
            .take(R::NEIGHBOURHOOD + 6)
            .collect();
        let rows: Vec<R> = crowd.iter().map(|k| row(*k, ACTIVE)).collect();
        assert!(Table::place(&rows, 128).is_none());
        let table = Table::build(&rows);
        assert!(table.slots.len() > 128);
        for k in &crowd {
            assert_eq!(table.get(*k).map(|r| r.user()), Some(*k));
        }
        for k in keys()
            .filter(|k| home(*k, shift_for(128)) == 5)
            .skip(crowd.len())
            .take(50)
        {
            assert!(table.get(k).is_none());
        }
    }

    #[test]
    fn members_crowding_one_home_slot_grow_the_table() {
        crowded_home_slot_grows_the_table(wide);
        crowded_home_slot_grows_the_table(slim);
    }

    /// Random roles (allow, deny, wildcards, overrides) and members holding
    /// random sets of them, compiled once with slim and once with wide rows:
    /// every question gets the same answer from both, and the answer a
    /// direct evaluation of the roles gives.
    #[test]
    fn slim_and_wide_rows_decide_alike() {
        let keys_named: Vec<String> = (0..90)
            .map(|i| format!("alike.r{}.k{}", i / 9, i % 9))
            .collect();
        let mut rnd = keys().map(|k| k as u64);
        let mut next = |n: u64| rnd.next().unwrap_or(1) % n;
        // (grants, overrides) per role
        let roles: Vec<(Vec<(String, bool)>, bool)> = (0..SLIM_ROLES)
            .map(|r| {
                let mut grants: Vec<(String, bool)> = (0..1 + next(12))
                    .map(|_| (keys_named[next(90) as usize].clone(), next(5) != 0))
                    .collect();
                if next(8) == 0 {
                    grants.push((format!("alike.r{}.*", next(10)), next(3) != 0));
                }
                (grants, r == 3)
            })
            .collect();
        let members: Vec<(UserId, bool, Vec<usize>)> = (0..200)
            .map(|_| {
                let held = (0..next(4))
                    .map(|_| next(SLIM_ROLES as u64) as usize)
                    .collect();
                (UserId::new(), next(10) != 0, held)
            })
            .collect();
        let compile = |roles_announced: usize| {
            let named = roles
                .iter()
                .flat_map(|(g, _)| g.iter())
                .map(|(k, _)| k.as_str())
                .filter(|k| !k.ends_with('*'));
            let mut c = Compiler::with_keys(named, members.len(), roles_announced);
            let bits: Vec<RoleBits> = roles
                .iter()
                .map(|(g, o)| c.role_bits(g.iter().map(|(k, a)| (k.as_str(), *a)), *o))
                .collect();
            for (user, active, held) in &members {
                c.add_user(*user, *active, held.iter().map(|i| &bits[*i]));
            }
            c.finish()
        };
        let (slim_c, wide_c) = (compile(SLIM_ROLES), compile(SLIM_ROLES + 1));
        assert!(matches!(slim_c.table.0, Members::Slim(_)));
        assert!(matches!(wide_c.table.0, Members::Wide(_)));
        let covers = |k: &str, g: &str| g.strip_suffix('*').map_or(g == k, |p| k.starts_with(p));
        let mut asked = 0;
        for (user, active, held) in &members {
            for key in keys_named
                .iter()
                .map(String::as_str)
                .chain(["alike.r1.k99", "other"])
            {
                let (s, w) = (slim_c.check(*user, key), wide_c.check(*user, key));
                assert_eq!(s, w, "{key}");
                let any = |allow: bool| {
                    held.iter().any(|i| {
                        roles[*i]
                            .0
                            .iter()
                            .any(|(g, a)| *a == allow && covers(key, g))
                    })
                };
                let overrides = held.iter().any(|i| roles[*i].1);
                let want = *active && (overrides || (any(true) && !any(false)));
                if s != Fast::Unknown {
                    assert_eq!(s == Fast::Allowed, want, "{key}");
                }
                asked += 1;
            }
        }
        assert_eq!(slim_c.check(UserId::new(), "alike.r1.k1"), Fast::Denied);
        assert!(asked > 10_000);
    }

    fn decides_more_keys_than_fit_inline(roles: usize) {
        // 300 keys of their own: the organization's ids run past the 256
        // bits a member's slot holds, so every member's bitset overflows.
        let names: Vec<String> = (0..300).map(|i| format!("overflow_test.k{i:03}")).collect();
        let mut c = Compiler::with_keys(names.iter().map(String::as_str), 3, roles);
        assert!(
            c.words > INLINE,
            "the test needs more words ({}) than fit inline",
            c.words
        );
        let all = c.role_bits(names.iter().map(|k| (k.as_str(), true)), false);
        let some = c.role_bits(
            [(names[299].as_str(), false), (names[3].as_str(), true)].into_iter(),
            false,
        );
        let (holder, partial, inactive) = (UserId::new(), UserId::new(), UserId::new());
        c.add_user(holder, true, [&all, &some].into_iter());
        c.add_user(partial, true, [&some].into_iter());
        c.add_user(inactive, false, [&all].into_iter());
        let c = c.finish();
        // Wide rows hold such bitsets outside the table; slim ones never do.
        assert_eq!(!c.overflow.is_empty(), roles > SLIM_ROLES);
        let last = names.len() - 1;
        // The holder has every key but the one the other role denies.
        for (k, name) in names.iter().enumerate() {
            let want = if k == last {
                Fast::Denied
            } else {
                Fast::Allowed
            };
            assert_eq!(c.check(holder, name), want, "{name}");
        }
        assert_eq!(c.check(partial, &names[3]), Fast::Allowed);
        assert_eq!(c.check(partial, &names[298]), Fast::Denied);
        assert_eq!(c.check(inactive, &names[298]), Fast::Denied);
        assert_eq!(c.check(UserId::new(), &names[298]), Fast::Denied);
    }
    #[test]
    fn more_keys_than_fit_inline_are_decided_from_the_overflow() {
        decides_more_keys_than_fit_inline(SLIM_ROLES + 1);
        decides_more_keys_than_fit_inline(2);
    }
}
