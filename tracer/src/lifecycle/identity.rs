//! Kernel identities of live lifetimes: the struct address noted at birth.
//! It cannot belong to another namespace while this one lives, unlike the
//! inode number, which is reused as soon as it is released; so a put or
//! death read late still finds its own lifetime.
//!
//! The address is the one index. `ns_common.ns_id` (6.18+, never reused)
//! is not indexed: the kernel side reads it from the same struct whose
//! address it sends (nsread.rs, netlist.rs), so an event that names an
//! ns_id always names the address too, and the id serves to refuse a
//! lifetime found at a reused address ([`compatible`]). A second map cost
//! 3.3 MB at 100,000 namespaces and a hash and insert per birth.

use foldhash::{HashMap, HashMapExt as _};

use tracer_common::NsType;

use super::lifetime::Lifetime;

/// `(type, inum, gen)` of one lifetime.
pub(super) type LifeId = (NsType, u32, u32);

/// By address, the type is in the key: the value is `(inum, gen)`, 24
/// bytes an entry instead of 32.
pub(super) struct Ids {
    by_ptr: HashMap<(NsType, u64), (u32, u32)>,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            by_ptr: HashMap::new(),
        }
    }
}

impl Ids {
    /// Indexes `life`'s address. A newer lifetime with the same address
    /// (the old one died unseen and its memory was reused) takes the entry
    /// over.
    pub(super) fn link(&mut self, life: &Lifetime) {
        if life.ptr() != 0 {
            self.by_ptr
                .insert((life.ns_type(), life.ptr()), (life.inum(), life.gen()));
        }
    }

    /// Drops `life`'s entry, unless a newer lifetime took it over.
    pub(super) fn unlink(&mut self, life: &Lifetime) {
        let key = (life.ns_type(), life.ptr());
        if life.ptr() != 0 && self.by_ptr.get(&key) == Some(&(life.inum(), life.gen())) {
            self.by_ptr.remove(&key);
        }
    }

    /// The lifetime last seen at this address; the caller checks that it
    /// is still alive and [`compatible`] with what the event names.
    pub(super) fn find(&self, ns_type: NsType, ptr: u64) -> Option<LifeId> {
        (ptr != 0)
            .then(|| self.by_ptr.get(&(ns_type, ptr)))
            .flatten()
            .map(|&(inum, gen)| (ns_type, inum, gen))
    }

    pub(super) fn len(&self) -> usize {
        self.by_ptr.len()
    }
}

/// Whether an event that names `ptr` and `ns_id` (0: not given) can be
/// about `life`: nothing it names contradicts what `life` knows.
pub(super) fn compatible(life: &Lifetime, ptr: u64, ns_id: u64) -> bool {
    let ptr_ok = ptr == 0 || life.ptr() == 0 || life.ptr() == ptr;
    let id_ok = ns_id == 0 || life.ns_id().is_none_or(|n| n == ns_id);
    ptr_ok && id_ok
}
