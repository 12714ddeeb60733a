//! The compiled fast path of an organization's index: permission keys are
//! interned deployment-wide to small integers, and each member's decision at
//! organization scope is precomputed as one bitset (`allow & !deny`,
//! wildcards expanded over the keys the organization's grants name). A check
//! is a lookup in the (small, hot) key table, one lookup in the organization's
//! member table whose entry carries the bitset inline, and a bit test.
//! Questions the bitsets cannot answer (another scope, a key no grant of the
//! organization names but a wildcard might cover) go to the exact evaluator.

use crate::ids::UserId;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};

const ACTIVE: u8 = 1;
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
    ids: FxHashMap<Box<str>, u32>,
}

/// The newest table. Taken only while compiling, never by a check.
static INTERNER: Mutex<Option<Arc<Interner>>> = Mutex::new(None);

/// The current table, extended (as a new table) with any of `keys` it lacks.
/// Extending copies the table; loading many organizations interns all their
/// keys in one call first (`index::intern_keys`), so that happens once.
pub(crate) fn intern<'a>(keys: impl Iterator<Item = &'a str> + Clone) -> Arc<Interner> {
    let mut slot = INTERNER.lock().unwrap_or_else(|e| e.into_inner());
    let current = slot.get_or_insert_with(Default::default).clone();
    if keys.clone().all(|k| current.ids.contains_key(k)) {
        return current;
    }
    let mut ids = current.ids.clone();
    for k in keys {
        let n = ids.len() as u32;
        ids.entry(Box::from(k)).or_insert(n);
    }
    let next = Arc::new(Interner { ids });
    *slot = Some(next.clone());
    next
}

/// A member's entry: the user, flags and, when the organization's keys fit,
/// the bitset: one cache line, so a lookup usually touches one line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct UserRow {
    /// The user's UUID as a number; 0 (the nil UUID, never a user) marks an empty slot.
    user: u128,
    bits: [u64; INLINE],
    /// Offset into `Compiled::overflow` when the bitset is not inline.
    offset: u32,
    flags: u8,
}

/// The members of one organization, by user id: open addressing with linear
/// probing over a power-of-two array of [`UserRow`]s. Hand-written because a
/// general map keeps control bytes and entries in separate cache lines, and
/// this lookup sits on every check: here key and answer share one line.
#[derive(Debug, Clone, Default)]
struct UserTable {
    slots: Vec<UserRow>,
    /// `64 - log2(slots.len())`: the multiplicative hash keeps the top bits.
    shift: u32,
}

impl UserTable {
    fn with_capacity(n: usize) -> Self {
        // At most 7/8 full, so probes stay short and always end at an empty slot.
        let size = (n + n / 7 + 1).next_power_of_two().max(2);
        UserTable {
            slots: vec![UserRow::default(); size],
            shift: 64 - size.trailing_zeros(),
        }
    }

    #[inline]
    fn home(&self, key: u128) -> usize {
        let mixed = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> self.shift) as usize
    }

    fn insert(&mut self, row: UserRow) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(row.user);
        while self.slots[i].user != 0 && self.slots[i].user != row.user {
            i = (i + 1) & mask;
        }
        self.slots[i] = row;
    }

    #[inline]
    fn get(&self, key: u128) -> Option<&UserRow> {
        if key == 0 || self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let slot = &self.slots[i];
            if slot.user == key {
                return Some(slot);
            }
            if slot.user == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
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

/// A role's grants as bitsets over the interned keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleBits {
    pub allow: Vec<u64>,
    pub deny: Vec<u64>,
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
        self.wildcards |= other.wildcards;
        self.overrides |= other.overrides;
    }
}

#[derive(Debug, Clone, Default)]
pub struct Compiled {
    interner: Arc<Interner>,
    /// Words of a member's bitset: enough for the highest id the organization uses.
    words: usize,
    /// The keys the organization's grants name; a key outside this set was
    /// never compiled, so only a wildcard could grant it.
    named: Vec<u64>,
    /// The organization's keys with their ids (for wildcard expansion).
    keys: Vec<(Box<str>, u32)>,
    table: UserTable,
    overflow: Vec<u64>,
    /// A member's allow and deny words while compiling (reused, not reallocated per member).
    scratch: Vec<u64>,
}

fn set(bits: &mut [u64], i: u32) {
    bits[i as usize / 64] |= 1 << (i % 64);
}

impl Compiled {
    /// Interns `keys` (every non-wildcard key named by a grant of the
    /// organization), with room for `members` members.
    pub(crate) fn with_keys<'a>(
        keys: impl Iterator<Item = &'a str> + Clone,
        members: usize,
    ) -> Self {
        let interner = intern(keys.clone());
        let mut own: Vec<(Box<str>, u32)> = keys
            .filter_map(|k| interner.ids.get(k).map(|&i| (Box::from(k), i)))
            .collect();
        own.sort_by_key(|(_, i)| *i);
        own.dedup_by_key(|(_, i)| *i);
        let words = own.last().map(|(_, i)| (*i as usize / 64) + 1).unwrap_or(1);
        let mut named = vec![0; words];
        for (_, i) in &own {
            set(&mut named, *i);
        }
        Compiled {
            interner,
            words,
            named,
            keys: own,
            table: UserTable::with_capacity(members),
            overflow: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Compiles one role's grants: `grants` are (key, is_allow); trailing `*`
    /// keys are expanded over every key of the organization they cover.
    pub(crate) fn role_bits<'a>(
        &self,
        grants: impl Iterator<Item = (&'a str, bool)>,
        overrides: bool,
    ) -> RoleBits {
        let mut rb = RoleBits {
            allow: vec![0; self.words],
            deny: vec![0; self.words],
            wildcards: false,
            overrides,
        };
        for (key, allow) in grants {
            let target = if allow { &mut rb.allow } else { &mut rb.deny };
            match key.strip_suffix('*') {
                Some(prefix) => {
                    rb.wildcards = true;
                    for (k, i) in &self.keys {
                        if k.starts_with(prefix) {
                            set(target, *i);
                        }
                    }
                }
                None => {
                    if let Some(&i) = self.interner.ids.get(key) {
                        if (i as usize) < self.words * 64 {
                            set(target, i);
                        }
                    }
                }
            }
        }
        rb
    }

    /// Drops what only compiling needed.
    pub(crate) fn finish(mut self) -> Self {
        self.keys = Vec::new();
        self.scratch = Vec::new();
        self
    }

    /// Records a member's decision from the roles that reach them at organization scope.
    pub(crate) fn add_user<'a>(
        &mut self,
        user: UserId,
        active: bool,
        roles: impl Iterator<Item = &'a RoleBits>,
    ) {
        let words = self.words;
        self.scratch.clear();
        self.scratch.resize(2 * words, 0);
        let (allow, deny) = self.scratch.split_at_mut(words);
        let mut flags = if active { ACTIVE } else { 0 };
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
        let mut row = UserRow {
            user: user.uuid().as_u128(),
            flags,
            offset: 0,
            bits: [0; INLINE],
        };
        if words <= INLINE {
            for (slot, w) in row.bits.iter_mut().zip(decided) {
                *slot = w;
            }
        } else {
            row.offset = self.overflow.len() as u32;
            self.overflow.extend(decided);
        }
        self.table.insert(row);
    }

    /// The decision at organization scope, as far as the bitsets know it.
    #[inline]
    pub fn check(&self, user: UserId, permission: &str) -> Fast {
        let Some(u) = self.table.get(user.uuid().as_u128()) else {
            return Fast::Denied;
        };
        if u.flags & ACTIVE == 0 {
            return Fast::Denied;
        }
        if u.flags & OVERRIDE != 0 {
            return Fast::Allowed;
        }
        let unnamed = if u.flags & WILDCARDS != 0 {
            Fast::Unknown
        } else {
            Fast::Denied
        };
        let Some(&i) = self.interner.ids.get(permission) else {
            return unnamed;
        };
        let (w, bit) = (i as usize / 64, 1u64 << (i % 64));
        if w >= self.words || self.named[w] & bit == 0 {
            return unnamed;
        }
        let word = if self.words <= INLINE {
            u.bits[w]
        } else {
            self.overflow[u.offset as usize + w]
        };
        if word & bit != 0 {
            Fast::Allowed
        } else {
            Fast::Denied
        }
    }

    /// Bytes held by the compiled tables (an estimate for reports; the shared
    /// key table is not counted per organization).
    pub fn heap_bytes(&self) -> usize {
        self.overflow.len() * 8
            + self.named.len() * 8
            + self.table.slots.len() * std::mem::size_of::<UserRow>()
            + self.keys.iter().map(|(k, _)| k.len() + 24).sum::<usize>()
    }
}
