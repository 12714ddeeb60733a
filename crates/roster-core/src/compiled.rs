//! The compiled fast path of an organization's index: every permission key
//! that appears in a grant is interned to a bit, and each member's decision at
//! organization scope is precomputed as one bitset (`allow & !deny`, wildcards
//! expanded over the interned keys). A check is then two hash lookups and a bit
//! test. Questions the bitsets cannot answer (another scope, a key no grant
//! names but a wildcard might cover) go to the exact evaluator.

use crate::ids::UserId;
use rustc_hash::FxHashMap;

const ACTIVE: u8 = 1;
const OVERRIDE: u8 = 2;
const WILDCARDS: u8 = 4;

#[derive(Debug, Clone, Copy)]
struct UserBits {
    offset: u32,
    flags: u8,
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

#[derive(Debug, Clone, Default)]
pub struct Compiled {
    perm_ids: FxHashMap<Box<str>, u32>,
    words: usize,
    bits: Vec<u64>,
    users: FxHashMap<UserId, UserBits>,
}

impl Compiled {
    /// Interns `keys` (every key named by a grant of the organization).
    pub(crate) fn with_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Self {
        let mut perm_ids = FxHashMap::default();
        for k in keys {
            let n = perm_ids.len() as u32;
            perm_ids.entry(Box::from(k)).or_insert(n);
        }
        let words = perm_ids.len().div_ceil(64).max(1);
        Compiled {
            perm_ids,
            words,
            bits: Vec::new(),
            users: FxHashMap::default(),
        }
    }

    /// Compiles one role's grants: `grants` are (key, is_allow); trailing `*`
    /// keys are expanded over every interned key they cover.
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
                    for (k, &i) in &self.perm_ids {
                        if k.starts_with(prefix) {
                            target[i as usize / 64] |= 1 << (i % 64);
                        }
                    }
                }
                None => {
                    if let Some(&i) = self.perm_ids.get(key) {
                        target[i as usize / 64] |= 1 << (i % 64);
                    }
                }
            }
        }
        rb
    }

    /// Records a member's decision from the roles that reach them at organization scope.
    pub(crate) fn add_user<'a>(
        &mut self,
        user: UserId,
        active: bool,
        roles: impl Iterator<Item = &'a RoleBits>,
    ) {
        let offset = self.bits.len() as u32;
        let mut allow = vec![0u64; self.words];
        let mut deny = vec![0u64; self.words];
        let mut flags = if active { ACTIVE } else { 0 };
        for r in roles {
            if r.overrides {
                flags |= OVERRIDE;
            }
            if r.wildcards {
                flags |= WILDCARDS;
            }
            for w in 0..self.words {
                allow[w] |= r.allow[w];
                deny[w] |= r.deny[w];
            }
        }
        self.bits
            .extend(allow.iter().zip(&deny).map(|(a, d)| a & !d));
        self.users.insert(user, UserBits { offset, flags });
    }

    /// The decision at organization scope, as far as the bitsets know it.
    #[inline]
    pub fn check(&self, user: UserId, permission: &str) -> Fast {
        let Some(u) = self.users.get(&user) else {
            return Fast::Denied;
        };
        if u.flags & ACTIVE == 0 {
            return Fast::Denied;
        }
        if u.flags & OVERRIDE != 0 {
            return Fast::Allowed;
        }
        match self.perm_ids.get(permission) {
            Some(&i) => {
                let word = self.bits[u.offset as usize + i as usize / 64];
                if word & (1 << (i % 64)) != 0 {
                    Fast::Allowed
                } else {
                    Fast::Denied
                }
            }
            None if u.flags & WILDCARDS != 0 => Fast::Unknown,
            None => Fast::Denied,
        }
    }

    /// Bytes held by the compiled tables (an estimate for reports).
    pub fn heap_bytes(&self) -> usize {
        self.bits.len() * 8
            + self.users.capacity()
                * (std::mem::size_of::<UserId>() + std::mem::size_of::<UserBits>() + 8)
            + self.perm_ids.keys().map(|k| k.len() + 24).sum::<usize>()
    }
}
