//! The index's live lifetimes by `(type, inum)`, as the engine keeps its
//! own (lifecycle/lives.rs): the entries in a [`Slab`], the map holding 4
//! bytes a number. A map of the entries themselves took 49 bytes a bucket,
//! 6.4 MB at 100,000, and 3.2 MB more while it grew at 57,344, the moment
//! the engine's maps grow too.

use foldhash::{HashMap, HashMapExt as _};

use super::{entry::Live, Key};
use crate::slab::Slab;

pub(super) struct LiveTable {
    at: HashMap<Key, u32>,
    store: Slab<Live>,
}

impl Default for LiveTable {
    fn default() -> Self {
        LiveTable {
            at: HashMap::new(),
            store: Slab::default(),
        }
    }
}

impl LiveTable {
    pub(super) fn len(&self) -> usize {
        self.at.len()
    }

    pub(super) fn contains_key(&self, key: &Key) -> bool {
        self.at.contains_key(key)
    }

    pub(super) fn get(&self, key: &Key) -> Option<&Live> {
        self.store.get(*self.at.get(key)?)
    }

    pub(super) fn get_mut(&mut self, key: &Key) -> Option<&mut Live> {
        self.store.get_mut(*self.at.get(key)?)
    }

    /// Makes `live` the entry of `key`, replacing any.
    pub(super) fn insert(&mut self, key: Key, live: Live) {
        if let Some(&i) = self.at.get(&key) {
            self.store.replace(i, live);
            return;
        }
        let i = self.store.put(live);
        self.at.insert(key, i);
    }

    /// The entry of `key`, made by `make` if there is none.
    pub(super) fn get_or_insert_with(
        &mut self,
        key: Key,
        make: impl FnOnce() -> Live,
    ) -> &mut Live {
        let i = match self.at.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.store.put(make());
                self.at.insert(key, i);
                i
            }
        };
        self.store
            .get_mut(i)
            .expect("a mapped place holds an entry")
    }

    pub(super) fn remove(&mut self, key: &Key) -> Option<Live> {
        self.store.take(self.at.remove(key)?)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (Key, &Live)> + '_ {
        self.at
            .iter()
            .filter_map(|(k, &i)| Some((*k, self.store.get(i)?)))
    }

    /// Each entry with its key, to change in place.
    pub(super) fn for_each_mut(&mut self, mut f: impl FnMut(Key, &mut Live)) {
        for (k, &i) in &self.at {
            if let Some(l) = self.store.get_mut(i) {
                f(*k, l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Comms, Origin};
    use tracer_common::{NsType, Via};

    fn live(gen: u32) -> Live {
        Live {
            opened_ns: 1,
            gen,
            pid: 0,
            comm: Comms::EMPTY,
            via: Via::None as u8,
            origin: Origin::Born,
            run: 0,
            carried: false,
            ns_id: 0,
        }
    }

    #[test]
    fn a_removed_entrys_place_goes_to_the_next_and_its_key_finds_nothing() {
        let mut t = LiveTable::default();
        let (a, b) = ((NsType::Uts, 1), (NsType::Net, 1));
        t.insert(a, live(1));
        assert_eq!(t.remove(&a).map(|l| l.gen), Some(1));
        assert_eq!(t.remove(&a), None, "removed once");
        t.insert(b, live(2));
        assert_eq!(t.store.places(), 1, "the freed place was reused");
        assert!(t.get(&a).is_none() && !t.contains_key(&a));
        assert_eq!(t.get(&b).map(|l| l.gen), Some(2));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn insert_replaces_and_get_or_insert_keeps() {
        let mut t = LiveTable::default();
        let k = (NsType::Ipc, 5);
        t.get_or_insert_with(k, || live(1));
        assert_eq!(t.get_or_insert_with(k, || live(9)).gen, 1);
        t.insert(k, live(3));
        assert_eq!(t.get(&k).map(|l| l.gen), Some(3));
        t.for_each_mut(|_, l| l.gen += 1);
        assert_eq!(
            t.iter().map(|(k, l)| (k, l.gen)).collect::<Vec<_>>(),
            [(k, 4)]
        );
        assert_eq!(t.len(), 1);
    }
}
