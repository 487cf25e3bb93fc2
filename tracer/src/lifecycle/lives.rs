//! The live lifetimes by `(type, inum)`, and each number's generation
//! count, which outlives them.
//!
//! The lifetimes sit in a [`Slab`] and the map holds 8 bytes a number
//! (generation and place). A map that held the lifetimes themselves took
//! 97 bytes a bucket, 12.7 MB at 100,000 namespaces, and 6.4 MB more while
//! it grew at 57,344.

use foldhash::{HashMap, HashMapExt as _};

use tracer_common::NsType;

use super::{identity::ByAddress, lifetime::Lifetime};
use crate::slab::Slab;

type Key = (NsType, u32);

/// No lifetime live on the number.
const VACANT: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    /// The last generation handed out on this number.
    gen: u32,
    /// Where its live lifetime is in `store`, or [`VACANT`].
    at: u32,
}

pub(super) struct Lives {
    slots: HashMap<Key, Slot>,
    store: Slab<Lifetime>,
    /// The same lifetimes by kernel address.
    by_address: ByAddress,
}

impl Default for Lives {
    fn default() -> Self {
        Lives {
            slots: HashMap::new(),
            store: Slab::default(),
            by_address: ByAddress::default(),
        }
    }
}

impl Lives {
    pub(super) fn get(&self, key: Key) -> Option<&Lifetime> {
        self.store.get(self.slots.get(&key)?.at)
    }

    pub(super) fn get_mut(&mut self, key: Key) -> Option<&mut Lifetime> {
        self.store.get_mut(self.slots.get(&key)?.at)
    }

    /// The next generation on `key`'s number: one more than the last
    /// handed out, 1 for a number never seen.
    pub(super) fn next_gen(&mut self, key: Key) -> u32 {
        let slot = self.slots.entry(key).or_insert(Slot { gen: 0, at: VACANT });
        slot.gen += 1;
        slot.gen
    }

    /// Makes `life` the live lifetime of its number. The number must have
    /// none (take the old one first) and must have had its generation from
    /// [`Lives::next_gen`].
    pub(super) fn open(&mut self, life: Lifetime) {
        let key = (life.ns_type(), life.inum());
        let at = self.store.put(life);
        self.by_address.link(&self.store, at);
        let slot = self.slots.get_mut(&key).expect("next_gen made the slot");
        debug_assert_eq!(slot.at, VACANT, "a number has one live lifetime");
        slot.at = at;
    }

    /// Indexes `key`'s lifetime by the address it has just learnt
    /// (`Lifetime::fill_ptr`, which fills only an address not known).
    pub(super) fn address_learnt(&mut self, key: Key) {
        if let Some(slot) = self.slots.get(&key).filter(|s| s.at != VACANT) {
            self.by_address.link(&self.store, slot.at);
        }
    }

    /// The live lifetime last seen at `ptr`; the caller checks that it is
    /// `identity::compatible` with what the event names.
    pub(super) fn at_address(&self, ns_type: NsType, ptr: u64) -> Option<&Lifetime> {
        self.store
            .get(self.by_address.find(&self.store, ns_type, ptr)?)
    }

    /// Entries of the address index.
    pub(super) fn indexed(&self) -> usize {
        self.by_address.len()
    }

    /// Ends the live lifetime of `key`, if any, and hands it over.
    pub(super) fn take(&mut self, key: Key) -> Option<Lifetime> {
        let slot = self.slots.get_mut(&key)?;
        let at = std::mem::replace(&mut slot.at, VACANT);
        self.by_address.unlink(&self.store, at);
        self.store.take(at)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Lifetime> + '_ {
        self.store.iter()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Lifetime> + '_ {
        self.store.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::lifetime::Lifetime;

    fn life(ty: NsType, inum: u32, gen: u32) -> Lifetime {
        Lifetime::present(ty, inum, gen, 0, 1)
    }

    #[test]
    fn a_number_keeps_counting_generations_after_its_lifetime_ends() {
        let mut l = Lives::default();
        let key = (NsType::Net, 4026531840);
        let g1 = l.next_gen(key);
        l.open(life(key.0, key.1, g1));
        assert_eq!(l.get(key).map(Lifetime::gen), Some(1));
        assert_eq!(l.take(key).map(|x| x.gen()), Some(1));
        assert!(l.get(key).is_none());
        assert!(l.take(key).is_none(), "taken once");
        let g2 = l.next_gen(key);
        assert_eq!(g2, 2);
        l.open(life(key.0, key.1, g2));
        assert_eq!(l.get(key).map(Lifetime::gen), Some(2));
    }

    #[test]
    fn an_ended_lifetimes_place_is_given_to_the_next_and_the_old_key_finds_nothing() {
        let mut l = Lives::default();
        let a = (NsType::Uts, 10);
        let b = (NsType::Ipc, 10);
        let g = l.next_gen(a);
        l.open(life(a.0, a.1, g));
        l.take(a);
        let g = l.next_gen(b);
        l.open(life(b.0, b.1, g));
        assert_eq!(l.store.places(), 1, "the freed place was reused");
        assert!(
            l.get(a).is_none(),
            "the old number does not see its successor"
        );
        assert_eq!(l.get(b).map(Lifetime::ns_type), Some(NsType::Ipc));
        assert_eq!(l.iter().count(), 1);
    }
}
