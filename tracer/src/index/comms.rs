//! Command names stored once, as the index's entries name them by a
//! 16-bit id. Bounded: a process can rename itself at will, and the index
//! must not grow with it.

use foldhash::{HashMap, HashMapExt as _};

/// Distinct names kept; later ones are stored as "?".
const MAX: usize = 4096;

pub struct Comms {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u16>,
}

impl Default for Comms {
    fn default() -> Self {
        let mut c = Comms {
            names: Vec::new(),
            ids: HashMap::new(),
        };
        // Id 0 is the overflow name.
        c.names.push("?".into());
        c
    }
}

impl Comms {
    pub fn intern(&mut self, comm: &str) -> u16 {
        if let Some(&id) = self.ids.get(comm) {
            return id;
        }
        if self.names.len() >= MAX {
            return 0;
        }
        let id = self.names.len() as u16;
        self.names.push(comm.into());
        self.ids.insert(comm.into(), id);
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
        for i in 0..MAX * 2 {
            c.intern(&format!("n{i}"));
        }
        assert_eq!(c.names.len(), MAX);
        let over = c.intern("new one");
        assert_eq!(c.get(over), "?");
        assert_eq!(c.get(a), "runc");
    }
}
