//! The holders of chosen namespaces, from one walk of /proc, kept small:
//! what the tracer's holder scan needs when thousands of namespaces
//! linger at once.
//!
//! A full [`Inventory`](super::Inventory) keeps every namespace of the
//! host with every holder as a [`Holder`] (a few hundred bytes each with
//! its strings), opens each namespace to learn its owner and parent, and
//! reads command lines: for 100,000 namespaces held by fds that was
//! 150 MiB. Here only the namespaces asked about are kept, and each holder
//! is 12 bytes: an index into a table of distinct holders with the fd left
//! out (all fds of one process share one entry), the fd, and whether the
//! path is the fd's own `/proc/PID/fd/N`, which is then made again when
//! asked for. Owners and parents are learned only when a user or pid
//! namespace is asked about (their `child_ns` and `owned_ns` holders need
//! them), sockets only when a net namespace is, mount namespaces always
//! (bind mounts in a mount namespace no task is in are found through them).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use tracer_common::NsType;

use super::nsref::NsRef;
use super::warnings::Warnings;
use crate::schema::{Holder, HolderKind};

/// One holder, as an entry of [`Held::distinct`] plus what differs.
#[derive(Clone, Copy, Debug)]
struct Packed {
    distinct: u32,
    /// `i32::MIN` for none.
    fd: i32,
    /// The path is `/proc/PID/fd/FD` and was left out of the entry.
    fd_path: bool,
}

const NO_FD: i32 = i32::MIN;

/// What a filtered scan found about the namespaces asked about.
#[derive(Debug, Default)]
pub struct Held {
    /// The namespaces asked about, sorted.
    asked: Vec<NsRef>,
    /// Those found alive, sorted, with their holders' range in `holders`.
    found: Vec<(NsRef, u32, u32)>,
    holders: Vec<Packed>,
    distinct: Vec<Holder>,
    pub warnings: Warnings,
}

/// What [`Held::get`] knows about one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Not among the namespaces asked about: this scan cannot say.
    NotAsked,
    /// Asked about and not found: not alive when the scan looked.
    NotFound,
    /// Found alive, with these holders (tasks first, as the walk met them).
    Found(Vec<Holder>),
}

impl Held {
    pub fn get(&self, id: NsRef) -> Answer {
        if self.asked.binary_search(&id).is_err() {
            return Answer::NotAsked;
        }
        let Ok(i) = self.found.binary_search_by_key(&id, |f| f.0) else {
            return Answer::NotFound;
        };
        let (_, start, len) = self.found[i];
        let packed = &self.holders[start as usize..(start + len) as usize];
        Answer::Found(packed.iter().map(|p| self.unpack(*p)).collect())
    }

    /// A scan that found none of `asked` (it failed: the warning says why).
    pub fn nothing_of(asked: &HashSet<NsRef>) -> Held {
        let mut asked: Vec<NsRef> = asked.iter().copied().collect();
        asked.sort_unstable();
        Held {
            asked,
            ..Held::default()
        }
    }

    /// Whether [`Held::get`] would find `id` (cheap: builds no holder).
    pub fn has(&self, id: NsRef) -> bool {
        self.found.binary_search_by_key(&id, |f| f.0).is_ok()
    }

    /// Namespaces asked about.
    pub fn asked(&self) -> usize {
        self.asked.len()
    }

    /// Namespaces asked about and found.
    pub fn found(&self) -> usize {
        self.found.len()
    }

    fn unpack(&self, p: Packed) -> Holder {
        let mut h = self.distinct[p.distinct as usize].clone();
        if p.fd != NO_FD {
            h.fd = Some(p.fd);
            if p.fd_path {
                h.path = Some(fd_path(h.pid.unwrap_or(0), p.fd));
            }
        }
        h
    }
}

fn fd_path(pid: u32, fd: i32) -> String {
    format!("/proc/{pid}/fd/{fd}")
}

/// Builds a [`Held`] while a scan runs (the collector's filtered mode).
#[derive(Debug)]
pub(super) struct Keep {
    asked: Arc<HashSet<NsRef>>,
    /// Owners and parents are needed: a user or pid namespace was asked
    /// about.
    pub relatives: bool,
    /// Sockets and tun fds are needed: a net namespace was asked about.
    pub sockets: bool,
    alive: HashSet<NsRef>,
    holders: Vec<(NsRef, Packed)>,
    /// `child_ns` and `owned_ns` holders, which go after the others as in
    /// a full scan.
    kin: Vec<(NsRef, Packed)>,
    distinct: Vec<Holder>,
    /// Each distinct holder, by its JSON text: a key that follows every
    /// field Holder has or will have.
    ids: HashMap<String, u32>,
}

impl Keep {
    pub fn new(asked: Arc<HashSet<NsRef>>) -> Keep {
        let has = |t: NsType| asked.iter().any(|r| r.ns_type == t);
        Keep {
            relatives: has(NsType::User) || has(NsType::Pid),
            sockets: has(NsType::Net),
            asked,
            alive: HashSet::new(),
            holders: Vec::new(),
            kin: Vec::new(),
            distinct: Vec::new(),
            ids: HashMap::new(),
        }
    }

    pub fn wants(&self, id: NsRef) -> bool {
        self.asked.contains(&id)
    }

    /// The walk met `id`: it is alive.
    pub fn saw(&mut self, id: NsRef) {
        if self.wants(id) {
            self.alive.insert(id);
        }
    }

    pub fn add(&mut self, id: NsRef, h: Holder) {
        self.saw(id);
        if !self.wants(id) {
            return;
        }
        let p = self.pack(h);
        self.holders.push((id, p));
    }

    fn pack(&mut self, mut h: Holder) -> Packed {
        let fd = h.fd.take().unwrap_or(NO_FD);
        let fd_path = fd != NO_FD && h.path.as_deref() == Some(&fd_path(h.pid.unwrap_or(0), fd));
        if fd_path {
            h.path = None;
        }
        let key = serde_json::to_string(&h).expect("a Holder always encodes");
        let next = self.distinct.len() as u32;
        let distinct = *self.ids.entry(key).or_insert(next);
        if distinct == next {
            self.distinct.push(h);
        }
        Packed {
            distinct,
            fd,
            fd_path,
        }
    }

    /// `child` names `of` as its parent (pid, user) or owner: a `child_ns`
    /// or `owned_ns` holder of `of`, if asked about.
    pub fn relative(&mut self, of: NsRef, kind: HolderKind, child: NsRef) {
        self.saw(of);
        if self.wants(of) {
            let p = self.pack(Holder {
                kind,
                detail: Some(child.to_string()),
                ..Holder::default()
            });
            self.kin.push((of, p));
        }
    }

    pub fn finish(mut self, warnings: Warnings) -> Held {
        // Stable: each namespace's holders keep the order they were met in,
        // relatives last.
        self.holders.append(&mut self.kin);
        self.holders.sort_by_key(|(id, _)| *id);
        let mut found: Vec<(NsRef, u32, u32)> = Vec::with_capacity(self.alive.len());
        let mut holders = Vec::with_capacity(self.holders.len());
        for (id, p) in self.holders {
            match found.last_mut() {
                Some(last) if last.0 == id => last.2 += 1,
                _ => found.push((id, holders.len() as u32, 1)),
            }
            holders.push(p);
        }
        for id in self.alive {
            if found.binary_search_by_key(&id, |f| f.0).is_err() {
                found.push((id, holders.len() as u32, 0));
            }
        }
        found.sort_unstable_by_key(|f| f.0);
        let mut asked: Vec<NsRef> = self.asked.iter().copied().collect();
        asked.sort_unstable();
        Held {
            asked,
            found,
            holders,
            distinct: self.distinct,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd_holder(pid: u32, fd: i32) -> Holder {
        Holder {
            kind: HolderKind::Fd,
            pid: Some(pid),
            comm: Some("keeper".into()),
            fd: Some(fd),
            path: Some(fd_path(pid, fd)),
            detail: None,
            container: None,
            mount_points: None,
        }
    }

    #[test]
    fn holders_come_back_as_they_went_in_and_share_their_process_entry() {
        let a = NsRef::new(NsType::Uts, 10);
        let b = NsRef::new(NsType::Uts, 11);
        let gone = NsRef::new(NsType::Uts, 12);
        let other = NsRef::new(NsType::Net, 13);
        let mut k = Keep::new(Arc::new([a, b, gone].into()));
        assert!(!k.relatives && !k.sockets);
        let mount = Holder {
            kind: HolderKind::BindMount,
            path: Some("/run/x".into()),
            detail: Some("mnt:[1]".into()),
            ..Holder::default()
        };
        let mut odd = fd_holder(7, 3);
        odd.path = Some("/somewhere/else".into());
        k.add(b, fd_holder(7, 4));
        k.add(a, fd_holder(7, 5));
        k.relative(a, HolderKind::ChildNs, b);
        k.add(other, fd_holder(7, 6));
        k.add(a, mount.clone());
        k.add(a, odd.clone());
        let held = k.finish(Warnings::default());
        assert_eq!(held.distinct.len(), 4, "one entry for pid 7's fds");
        assert_eq!(
            held.get(a),
            Answer::Found(vec![
                fd_holder(7, 5),
                mount,
                odd,
                Holder {
                    kind: HolderKind::ChildNs,
                    detail: Some(b.to_string()),
                    ..Holder::default()
                }
            ])
        );
        assert_eq!(held.get(b), Answer::Found(vec![fd_holder(7, 4)]));
        assert_eq!(held.get(gone), Answer::NotFound);
        assert_eq!(held.get(other), Answer::NotAsked);
        assert_eq!((held.asked(), held.found()), (3, 2));
    }

    #[test]
    fn a_namespace_seen_without_holders_is_found_with_none() {
        let a = NsRef::new(NsType::Mnt, 10);
        let mut k = Keep::new(Arc::new([a].into()));
        k.saw(a);
        assert_eq!(k.finish(Warnings::default()).get(a), Answer::Found(vec![]));
    }
}
