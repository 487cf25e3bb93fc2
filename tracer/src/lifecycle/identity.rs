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

/// By address, with the type in the address's low three bits: the
/// structs are slab objects, at least 8-byte aligned, so those bits are
/// free. A `u64` key and `(inum, gen)` make 16 bytes an entry (24 with the
/// type beside the address: 3.3 MB at 100,000 namespaces, now 2.2).
pub(super) struct Ids {
    by_ptr: HashMap<u64, (u32, u32)>,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            by_ptr: HashMap::new(),
        }
    }
}

/// The map's key for `ptr`, `None` for no address or one whose low bits are
/// taken (no kernel gives such: that lifetime is then found by its number,
/// as on a kernel whose programs send no address).
fn key(ns_type: NsType, ptr: u64) -> Option<u64> {
    (ptr != 0 && ptr & 7 == 0).then_some(ptr | ns_type as u64)
}

impl Ids {
    /// Indexes `life`'s address. A newer lifetime with the same address
    /// (the old one died unseen and its memory was reused) takes the entry
    /// over.
    pub(super) fn link(&mut self, life: &Lifetime) {
        if let Some(k) = key(life.ns_type(), life.ptr()) {
            self.by_ptr.insert(k, (life.inum(), life.gen()));
        }
    }

    /// Drops `life`'s entry, unless a newer lifetime took it over.
    pub(super) fn unlink(&mut self, life: &Lifetime) {
        if let Some(k) = key(life.ns_type(), life.ptr()) {
            if self.by_ptr.get(&k) == Some(&(life.inum(), life.gen())) {
                self.by_ptr.remove(&k);
            }
        }
    }

    /// The lifetime last seen at this address; the caller checks that it
    /// is still alive and [`compatible`] with what the event names.
    pub(super) fn find(&self, ns_type: NsType, ptr: u64) -> Option<LifeId> {
        let &(inum, gen) = self.by_ptr.get(&key(ns_type, ptr)?)?;
        Some((ns_type, inum, gen))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn life(ty: NsType, inum: u32, gen: u32, ptr: u64) -> Lifetime {
        let mut ev = tracer_common::Event::zeroed();
        ev.inum = inum;
        ev.ptr = ptr;
        Lifetime::unseen(&ev, ty, gen)
    }

    #[test]
    fn one_address_keeps_each_type_apart() {
        let mut ids = Ids::default();
        let ptr = 0xffff_8880_1234_5600;
        ids.link(&life(NsType::Uts, 10, 1, ptr));
        ids.link(&life(NsType::Net, 20, 3, ptr));
        assert_eq!(ids.find(NsType::Uts, ptr), Some((NsType::Uts, 10, 1)));
        assert_eq!(ids.find(NsType::Net, ptr), Some((NsType::Net, 20, 3)));
        assert_eq!(ids.find(NsType::Time, ptr), None);
        ids.unlink(&life(NsType::Uts, 10, 1, ptr));
        assert_eq!(ids.find(NsType::Uts, ptr), None);
        assert_eq!(ids.find(NsType::Net, ptr), Some((NsType::Net, 20, 3)));
    }

    #[test]
    fn a_newer_lifetime_at_an_address_keeps_it_when_the_older_is_unlinked() {
        let mut ids = Ids::default();
        let ptr = 0xffff_8880_0000_0040;
        ids.link(&life(NsType::Ipc, 7, 1, ptr));
        ids.link(&life(NsType::Ipc, 9, 1, ptr));
        ids.unlink(&life(NsType::Ipc, 7, 1, ptr));
        assert_eq!(ids.find(NsType::Ipc, ptr), Some((NsType::Ipc, 9, 1)));
    }

    #[test]
    fn an_address_with_its_low_bits_set_is_not_indexed() {
        let mut ids = Ids::default();
        ids.link(&life(NsType::Uts, 10, 1, 0xffff_8880_0000_0044));
        assert_eq!(ids.len(), 0);
        assert_eq!(ids.find(NsType::Uts, 0xffff_8880_0000_0044), None);
        assert_eq!(ids.find(NsType::Uts, 0), None);
    }
}
