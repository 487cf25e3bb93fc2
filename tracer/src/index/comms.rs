//! Command names stored once, as the index's entries name them by a
//! 16-bit id. Bounded: a process can rename itself at will, and the index
//! must not grow with it.

use foldhash::{HashMap, HashMapExt as _};

/// Distinct names kept; later ones are stored as "?".
const MAX: usize = 4096;

pub struct Comms {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u16>,
    /// The name interned last: records come in runs from one process, so
    /// this spares most lookups (a hash and a compare per record).
    last: (Box<str>, u16),
}

impl Default for Comms {
    fn default() -> Self {
        let mut ids = HashMap::new();
        ids.insert("".into(), Comms::EMPTY);
        Comms {
            // Id 0 is the overflow name.
            names: vec!["?".into(), "".into()],
            ids,
            last: ("".into(), Comms::EMPTY),
        }
    }
}

impl Comms {
    /// The id of "" (no name known), fixed so that entries opened without
    /// a birth need no lookup.
    pub const EMPTY: u16 = 1;

    pub fn intern(&mut self, comm: &str) -> u16 {
        if *self.last.0 == *comm {
            return self.last.1;
        }
        let id = match self.ids.get(comm) {
            Some(&id) => id,
            None if self.names.len() >= MAX => return 0,
            None => {
                let id = self.names.len() as u16;
                self.names.push(comm.into());
                self.ids.insert(comm.into(), id);
                id
            }
        };
        self.last = (comm.into(), id);
        id
    }

    pub fn get(&self, id: u16) -> &str {
        self.names.get(usize::from(id)).map_or("?", |n| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stored_once_and_bounded() {
        let mut c = Comms::default();
        let a = c.intern("runc");
        assert_eq!(c.intern("runc"), a);
        assert_eq!(c.get(a), "runc");
        assert_eq!(c.intern(""), Comms::EMPTY);
        assert_eq!(c.get(Comms::EMPTY), "");
        for i in 0..MAX * 2 {
            c.intern(&format!("n{i}"));
        }
        assert_eq!(c.names.len(), MAX);
        let over = c.intern("new one");
        assert_eq!(c.get(over), "?");
        assert_eq!(c.get(a), "runc");
    }
}
