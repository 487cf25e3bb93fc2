//! Entries in one vector, each at a place that stays its own while it
//! lives, for the tables with one entry per live namespace (the engine's
//! lifetimes, the index's). A map then holds 4 bytes a key instead of the
//! entry: a map of the entries themselves takes the entry's size per
//! bucket, and each time it grows holds the old table beside the new one.
//! A vector this size is a mapping of its own, which glibc grows with
//! `mremap`: no copy, no second table, and only the pages in use are
//! resident.

pub struct Slab<T> {
    items: Vec<Option<T>>,
    /// Places a removal left empty, for the next insert.
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Stores `item` and returns its place.
    pub fn put(&mut self, item: T) -> u32 {
        match self.free.pop() {
            Some(at) => {
                self.items[at as usize] = Some(item);
                at
            }
            None => {
                self.items.push(Some(item));
                u32::try_from(self.items.len() - 1).expect("fewer than 2^32 entries")
            }
        }
    }

    /// Takes the entry at `at` out, leaving its place for the next.
    pub fn take(&mut self, at: u32) -> Option<T> {
        let item = self.items.get_mut(at as usize)?.take();
        if item.is_some() {
            self.free.push(at);
        }
        item
    }

    pub fn get(&self, at: u32) -> Option<&T> {
        self.items.get(at as usize)?.as_ref()
    }

    pub fn get_mut(&mut self, at: u32) -> Option<&mut T> {
        self.items.get_mut(at as usize)?.as_mut()
    }

    /// Replaces the entry at `at`, which must hold one.
    pub fn replace(&mut self, at: u32, item: T) {
        let slot = &mut self.items[at as usize];
        debug_assert!(slot.is_some(), "replacing an empty place");
        *slot = Some(item);
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.items.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.items.iter_mut().flatten()
    }

    /// Places used or freed: what the vector has grown to.
    pub fn places(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_place_goes_to_the_next_entry_and_is_taken_once() {
        let mut s = Slab::default();
        let a = s.put("a");
        let b = s.put("b");
        assert_eq!(s.take(a), Some("a"));
        assert_eq!(s.take(a), None, "taken once");
        assert_eq!(s.get(a), None);
        let c = s.put("c");
        assert_eq!(c, a, "the freed place was reused");
        assert_eq!(s.places(), 2);
        s.replace(b, "B");
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), ["c", "B"]);
        assert_eq!(s.take(99), None, "a place never given");
    }
}
