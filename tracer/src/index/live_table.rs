//! The index's live lifetimes by `(type, inum)`, as the engine keeps its
//! own (lifecycle/lives.rs): the entries in one vector, the map holding 4
//! bytes a number. A map of the entries themselves took 49 bytes a bucket,
//! 6.4 MB at 100,000, and each time it grew it held the old table beside
//! the new one (3.2 MB more at 57,344, the moment the engine's tables grow
//! too). A vector this size is its own mapping, which glibc grows with
//! `mremap`: no copy, and only the pages in use are resident.

use foldhash::{HashMap, HashMapExt as _};

use super::{entry::Live, Key};

pub(super) struct LiveTable {
    at: HashMap<Key, u32>,
    store: Vec<Option<Live>>,
    /// Places in `store` a removal left empty, for the next insert.
    free: Vec<u32>,
}

impl Default for LiveTable {
    fn default() -> Self {
        LiveTable {
            at: HashMap::new(),
            store: Vec::new(),
            free: Vec::new(),
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
        self.store[*self.at.get(key)? as usize].as_ref()
    }

    pub(super) fn get_mut(&mut self, key: &Key) -> Option<&mut Live> {
        self.store[*self.at.get(key)? as usize].as_mut()
    }

    /// Makes `live` the entry of `key`, replacing any.
    pub(super) fn insert(&mut self, key: Key, live: Live) {
        if let Some(&i) = self.at.get(&key) {
            self.store[i as usize] = Some(live);
            return;
        }
        let i = self.place(live);
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
                let i = self.place(make());
                self.at.insert(key, i);
                i
            }
        };
        self.store[i as usize]
            .as_mut()
            .expect("a mapped place holds an entry")
    }

    pub(super) fn remove(&mut self, key: &Key) -> Option<Live> {
        let i = self.at.remove(key)?;
        self.free.push(i);
        self.store[i as usize].take()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (Key, &Live)> + '_ {
        self.at
            .iter()
            .filter_map(|(k, &i)| Some((*k, self.store[i as usize].as_ref()?)))
    }

    /// Each entry with its key, to change in place.
    pub(super) fn for_each_mut(&mut self, mut f: impl FnMut(Key, &mut Live)) {
        for (k, &i) in &self.at {
            if let Some(l) = self.store[i as usize].as_mut() {
                f(*k, l);
            }
        }
    }

    fn place(&mut self, live: Live) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.store[i as usize] = Some(live);
                i
            }
            None => {
                self.store.push(Some(live));
                u32::try_from(self.store.len() - 1).expect("fewer than 2^32 live namespaces")
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
            more: None,
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
        assert_eq!(t.store.len(), 1, "the freed place was reused");
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
