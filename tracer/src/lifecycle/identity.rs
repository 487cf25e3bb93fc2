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
//!
//! Only lifetimes with a number are indexed: an anonymous mount namespace
//! is kept by its address already (the engine's `anon_mnt`).

use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher as _;

use tracer_common::NsType;

use super::lifetime::Lifetime;
use crate::slab::Slab;

/// The live lifetimes' places in the engine's store ([`super::lives`]),
/// found by address. The table holds only the 4-byte place, the address
/// being read from the lifetime there: 5 bytes a bucket with the control
/// byte, 0.7 MB at 100,000 namespaces, where a map from address to
/// `(inum, gen)` took 17 (2.2 MB).
///
/// Every place in the table holds a lifetime with an address the table can
/// key ([`key`]), and that address never changes while it is linked (an
/// address is only ever filled in where there was none): the table hashes
/// its entries again from the store when it grows.
pub(super) struct ByAddress {
    table: HashTable<u32>,
    hash: RandomState,
}

impl Default for ByAddress {
    fn default() -> Self {
        ByAddress {
            table: HashTable::new(),
            hash: RandomState::default(),
        }
    }
}

/// The key for `ptr`: the address with the type in its low three bits.
/// The structs are slab objects, at least 8-byte aligned, so those bits
/// are free. `None` for no address or one whose low bits are taken (no
/// kernel gives such: that lifetime is then found by its number, as on a
/// kernel whose programs send no address).
fn key(ns_type: NsType, ptr: u64) -> Option<u64> {
    (ptr != 0 && ptr & 7 == 0).then_some(ptr | ns_type as u64)
}

fn key_of(life: &Lifetime) -> Option<u64> {
    key(life.ns_type(), life.ptr())
}

/// The key of a linked place (which holds a keyed lifetime).
fn key_at(store: &Slab<Lifetime>, at: u32) -> u64 {
    store
        .get(at)
        .and_then(key_of)
        .expect("a linked place holds a lifetime with an address")
}

impl ByAddress {
    /// Indexes the lifetime at `at` by its address, if it has one. A newer
    /// lifetime at the same address (the old one died unseen and its
    /// memory was reused) takes the entry over.
    pub(super) fn link(&mut self, store: &Slab<Lifetime>, at: u32) {
        let Some(k) = store.get(at).and_then(key_of) else {
            return;
        };
        let ByAddress { table, hash } = self;
        let entry = table.entry(
            hash.hash_one(k),
            |&i| key_at(store, i) == k,
            |&i| hash.hash_one(key_at(store, i)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(mut e) => *e.get_mut() = at,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(at);
            }
        }
    }

    /// Drops the entry of the lifetime at `at`, unless a newer lifetime
    /// took it over. Called before the place is emptied.
    pub(super) fn unlink(&mut self, store: &Slab<Lifetime>, at: u32) {
        let Some(k) = store.get(at).and_then(key_of) else {
            return;
        };
        if let Ok(e) = self
            .table
            .find_entry(self.hash.hash_one(k), |&i| key_at(store, i) == k)
        {
            if *e.get() == at {
                e.remove();
            }
        }
    }

    /// The place of the lifetime last seen at this address; the caller
    /// checks that it is [`compatible`] with what the event names.
    pub(super) fn find(&self, store: &Slab<Lifetime>, ns_type: NsType, ptr: u64) -> Option<u32> {
        let k = key(ns_type, ptr)?;
        self.table
            .find(self.hash.hash_one(k), |&i| key_at(store, i) == k)
            .copied()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.len()
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

    /// A store and its index, linked and unlinked as the engine's `Lives`
    /// does.
    #[derive(Default)]
    struct Both {
        store: Slab<Lifetime>,
        ids: ByAddress,
    }

    impl Both {
        fn open(&mut self, l: Lifetime) -> u32 {
            let at = self.store.put(l);
            self.ids.link(&self.store, at);
            at
        }

        fn close(&mut self, at: u32) {
            self.ids.unlink(&self.store, at);
            self.store.take(at);
        }

        fn find(&self, ty: NsType, ptr: u64) -> Option<(NsType, u32, u32)> {
            let l = self.store.get(self.ids.find(&self.store, ty, ptr)?)?;
            Some((l.ns_type(), l.inum(), l.gen()))
        }
    }

    #[test]
    fn one_address_keeps_each_type_apart() {
        let mut b = Both::default();
        let ptr = 0xffff_8880_1234_5600;
        let uts = b.open(life(NsType::Uts, 10, 1, ptr));
        b.open(life(NsType::Net, 20, 3, ptr));
        assert_eq!(b.find(NsType::Uts, ptr), Some((NsType::Uts, 10, 1)));
        assert_eq!(b.find(NsType::Net, ptr), Some((NsType::Net, 20, 3)));
        assert_eq!(b.find(NsType::Time, ptr), None);
        b.close(uts);
        assert_eq!(b.find(NsType::Uts, ptr), None);
        assert_eq!(b.find(NsType::Net, ptr), Some((NsType::Net, 20, 3)));
    }

    #[test]
    fn a_newer_lifetime_at_an_address_keeps_it_when_the_older_is_unlinked() {
        let mut b = Both::default();
        let ptr = 0xffff_8880_0000_0040;
        let old = b.open(life(NsType::Ipc, 7, 1, ptr));
        b.open(life(NsType::Ipc, 9, 1, ptr));
        assert_eq!(b.find(NsType::Ipc, ptr), Some((NsType::Ipc, 9, 1)));
        b.close(old);
        assert_eq!(b.find(NsType::Ipc, ptr), Some((NsType::Ipc, 9, 1)));
        assert_eq!(b.ids.len(), 1);
    }

    #[test]
    fn an_address_with_its_low_bits_set_is_not_indexed() {
        let mut b = Both::default();
        b.open(life(NsType::Uts, 10, 1, 0xffff_8880_0000_0044));
        b.open(life(NsType::Uts, 11, 1, 0));
        assert_eq!(b.ids.len(), 0);
        assert_eq!(b.find(NsType::Uts, 0xffff_8880_0000_0044), None);
        assert_eq!(b.find(NsType::Uts, 0), None);
    }

    /// The table grows by hashing its entries again from the store: every
    /// one is still found after, and a place reused by another lifetime
    /// is found at its new address only.
    #[test]
    fn entries_are_found_after_the_table_grows_and_places_are_reused() {
        let mut b = Both::default();
        let ptr = |i: u64| 0xffff_8880_0000_0000 + i * 64;
        let places: Vec<u32> = (0..10_000)
            .map(|i| b.open(life(NsType::Net, i as u32, 1, ptr(i))))
            .collect();
        for (i, &at) in places.iter().enumerate().step_by(2) {
            b.close(at);
            assert_eq!(b.find(NsType::Net, ptr(i as u64)), None);
        }
        for i in 10_000..15_000 {
            b.open(life(NsType::Net, i as u32, 1, ptr(i)));
        }
        assert_eq!(b.ids.len(), 10_000);
        for i in (1..10_000).step_by(2).chain(10_000..15_000) {
            assert_eq!(
                b.find(NsType::Net, ptr(i)),
                Some((NsType::Net, i as u32, 1)),
                "{i}"
            );
        }
    }
}
