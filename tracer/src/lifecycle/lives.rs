//! The live lifetimes by `(type, inum)`, and each number's generation
//! count, which outlives them.
//!
//! The lifetimes sit in a [`Slab`]; the table by number holds only their
//! 4-byte places, hashed and compared by the number read in the lifetime
//! there (5 bytes a bucket with its control byte, 0.7 MB at 100,000
//! namespaces, where a map from number to generation and place took 17,
//! 2.2 MB). A live number's generation is its lifetime's; an ended one's
//! is kept in `ended`, so numbers the kernel hands out again (it reuses
//! them at once) go on counting. A map that held the lifetimes themselves
//! took 97 bytes a bucket, 12.7 MB at 100,000, and 6.4 MB more while it
//! grew at 57,344.

use std::{cell::Cell, hash::BuildHasher as _};

use foldhash::{fast::RandomState, HashMap, HashMapExt as _};
use hashbrown::HashTable;

use tracer_common::NsType;

use super::{identity::ByAddress, lifetime::Lifetime};
use crate::slab::Slab;

type Key = (NsType, u32);

fn key_of(life: &Lifetime) -> Key {
    (life.ns_type(), life.inum())
}

/// The number of a place in the table by number (which always holds a
/// lifetime, and its number never changes).
fn key_at(store: &Slab<Lifetime>, at: u32) -> Key {
    key_of(store.get(at).expect("a place by number holds a lifetime"))
}

fn is_at(store: &Slab<Lifetime>, at: u32, key: Key) -> bool {
    store.get(at).is_some_and(|l| l.is(key))
}

pub(super) struct Lives {
    by_number: HashTable<u32>,
    hash: RandomState,
    /// The place last found: an event looks its lifetime up several times
    /// in a row. Checked against the store, so it needs no invalidating (a
    /// place that holds a lifetime of the number holds the live one).
    last_found: Cell<u32>,
    store: Slab<Lifetime>,
    /// The same lifetimes by kernel address.
    by_address: ByAddress,
    /// The last generation handed out on each number whose generation is
    /// not its live lifetime's: numbers that ended, numbers
    /// [`next_gen`](Lives::next_gen) counted on before their lifetime
    /// opens, and the number anonymous mount namespaces share (kept by
    /// address, never opened here).
    ended: HashMap<Key, u32>,
}

impl Default for Lives {
    fn default() -> Self {
        Lives {
            by_number: HashTable::new(),
            hash: RandomState::default(),
            last_found: Cell::new(0),
            store: Slab::default(),
            by_address: ByAddress::default(),
            ended: HashMap::new(),
        }
    }
}

impl Lives {
    fn place(&self, key: Key) -> Option<u32> {
        let store = &self.store;
        let hint = self.last_found.get();
        if store.get(hint).is_some_and(|l| l.is(key)) {
            return Some(hint);
        }
        let at = *self
            .by_number
            .find(self.hash.hash_one(key), |&i| is_at(store, i, key))?;
        self.last_found.set(at);
        Some(at)
    }

    pub(super) fn get(&self, key: Key) -> Option<&Lifetime> {
        self.store.get(self.place(key)?)
    }

    pub(super) fn get_mut(&mut self, key: Key) -> Option<&mut Lifetime> {
        let at = self.place(key)?;
        self.store.get_mut(at)
    }

    /// The next generation on `key`'s number: one more than the last
    /// handed out, 1 for a number never seen.
    pub(super) fn next_gen(&mut self, key: Key) -> u32 {
        let live = self.get(key).map_or(0, Lifetime::gen);
        let last = self.ended.entry(key).or_insert(0);
        *last = (*last).max(live) + 1;
        *last
    }

    /// Makes `life` the live lifetime of its number. The number must have
    /// none (take the old one first) and must have had its generation from
    /// [`Lives::next_gen`].
    pub(super) fn open(&mut self, life: Lifetime) {
        let key = key_of(&life);
        debug_assert!(self.place(key).is_none(), "a number has one live lifetime");
        let handed = self.ended.remove(&key);
        debug_assert_eq!(handed, Some(life.gen()), "next_gen made its generation");
        let at = self.store.put(life);
        let Lives {
            by_number,
            hash,
            store,
            ..
        } = self;
        by_number.insert_unique(hash.hash_one(key), at, |&i| hash.hash_one(key_at(store, i)));
        self.by_address.link(&self.store, at);
    }

    /// Indexes `key`'s lifetime by the address it has just learnt
    /// (`Lifetime::fill_ptr`, which fills only an address not known).
    pub(super) fn address_learnt(&mut self, key: Key) {
        if let Some(at) = self.place(key) {
            self.by_address.link(&self.store, at);
        }
    }

    /// The live lifetime last seen at `ptr`; the caller checks that it is
    /// `identity::compatible` with what the event names.
    pub(super) fn at_address(&self, ns_type: NsType, ptr: u64) -> Option<&Lifetime> {
        self.store
            .get(self.by_address.find(&self.store, ns_type, ptr)?)
    }

    /// Ends the live lifetime of `key`, if any, and hands it over.
    pub(super) fn take(&mut self, key: Key) -> Option<Lifetime> {
        let store = &self.store;
        let entry = self
            .by_number
            .find_entry(self.hash.hash_one(key), |&i| is_at(store, i, key))
            .ok()?;
        let at = *entry.get();
        entry.remove();
        self.by_address.unlink(&self.store, at);
        let life = self.store.take(at)?;
        let last = self.ended.entry(key).or_insert(0);
        *last = (*last).max(life.gen());
        Some(life)
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

    /// The table by number grows by hashing its places again from the
    /// store: every lifetime is still found after, and numbers ended and
    /// born again meanwhile go on counting.
    #[test]
    fn numbers_are_found_and_counted_after_the_table_grows() {
        let mut l = Lives::default();
        let key = |i: u32| (NsType::ALL[(i % 8) as usize], 0xF000_0000 + i / 8);
        for i in 0..10_000 {
            let g = l.next_gen(key(i));
            l.open(life(key(i).0, key(i).1, g));
            if i % 3 == 0 {
                l.take(key(i / 2));
            }
        }
        for i in 0..10_000 {
            let gone = l.get(key(i)).is_none();
            let g = l.next_gen(key(i));
            if !gone {
                l.take(key(i));
            }
            l.open(life(key(i).0, key(i).1, g));
            assert_eq!(l.get(key(i)).map(Lifetime::gen), Some(2), "number {i}");
        }
        assert_eq!(l.iter().count(), 10_000);
        assert!(l.ended.is_empty(), "every number is live again");
    }
}
