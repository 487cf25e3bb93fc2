//! Kernel identities of live lifetimes: the struct address noted at birth
//! (every type) and, on 6.18+, `ns_common.ns_id`. Neither can belong to
//! another namespace while this one lives, unlike the inode number, which
//! is reused as soon as it is released; so a put or death read late still
//! finds its own lifetime.

use foldhash::{HashMap, HashMapExt as _};

use tracer_common::NsType;

use super::lifetime::Lifetime;

/// `(type, inum, gen)` of one lifetime.
pub(super) type LifeId = (NsType, u32, u32);

/// By address, the type is in the key: the value is `(inum, gen)`, 24
/// bytes an entry instead of 32.
pub(super) struct Ids {
    by_ptr: HashMap<(NsType, u64), (u32, u32)>,
    by_ns_id: HashMap<u64, LifeId>,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            by_ptr: HashMap::new(),
            by_ns_id: HashMap::new(),
        }
    }
}

impl Ids {
    /// Indexes what `life` knows of its identity. A newer lifetime with the
    /// same address (the old one died unseen and its memory was reused)
    /// takes the entry over.
    pub(super) fn link(&mut self, life: &Lifetime) {
        let id = (life.ns_type(), life.inum(), life.gen());
        if life.ptr() != 0 {
            self.by_ptr
                .insert((life.ns_type(), life.ptr()), (life.inum(), life.gen()));
        }
        if let Some(n) = life.ns_id() {
            self.by_ns_id.insert(n, id);
        }
    }

    /// Drops `life`'s entries, unless a newer lifetime took them over.
    pub(super) fn unlink(&mut self, life: &Lifetime) {
        let id = (life.ns_type(), life.inum(), life.gen());
        let key = (life.ns_type(), life.ptr());
        if life.ptr() != 0 && self.by_ptr.get(&key) == Some(&(id.1, id.2)) {
            self.by_ptr.remove(&key);
        }
        if let Some(n) = life.ns_id() {
            if self.by_ns_id.get(&n) == Some(&id) {
                self.by_ns_id.remove(&n);
            }
        }
    }

    /// The lifetime with this ns_id or, failing that, this address.
    pub(super) fn find(&self, ns_type: NsType, ptr: u64, ns_id: u64) -> Option<LifeId> {
        let by_id = (ns_id != 0)
            .then(|| self.by_ns_id.get(&ns_id))
            .flatten()
            .filter(|id| id.0 == ns_type);
        let by_ptr = || {
            (ptr != 0)
                .then(|| self.by_ptr.get(&(ns_type, ptr)))
                .flatten()
                .map(|&(inum, gen)| (ns_type, inum, gen))
        };
        by_id.copied().or_else(by_ptr)
    }

    pub(super) fn len(&self) -> usize {
        self.by_ptr.len() + self.by_ns_id.len()
    }
}

/// Whether an event that names `ptr` and `ns_id` (0: not given) can be
/// about `life`: nothing it names contradicts what `life` knows.
pub(super) fn compatible(life: &Lifetime, ptr: u64, ns_id: u64) -> bool {
    let ptr_ok = ptr == 0 || life.ptr() == 0 || life.ptr() == ptr;
    let id_ok = ns_id == 0 || life.ns_id().is_none_or(|n| n == ns_id);
    ptr_ok && id_ok
}
