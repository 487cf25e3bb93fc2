//! The result of a scan, and the collector every source adds to.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use tracer_common::NsType;

use super::held::{Held, Keep};
use super::nsref::NsRef;
use super::warnings::Warnings;
use super::{hierarchy, nsfs, procfs};
use crate::schema::{Holder, HolderKind};

/// One namespace and everything that keeps it alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub id: NsRef,
    /// Inode of the owning user namespace (for a user namespace, its parent);
    /// `None` for the initial user namespace.
    pub owner: Option<u32>,
    /// For a user namespace, the uid that created it; for other types, the
    /// creator uid of the owning user namespace.
    pub owner_uid: Option<u32>,
    /// Parent of a pid or user namespace.
    pub parent: Option<u32>,
    /// Threads inside it (as `/proc/*/task/*/ns/*` says).
    pub tasks: u32,
    /// The process with the lowest pid inside it, and its command line.
    pub lowest_pid: Option<u32>,
    pub command: Option<String>,
    pub holders: Vec<Holder>,
}

impl Namespace {
    fn new(id: NsRef) -> Namespace {
        Namespace {
            id,
            owner: None,
            owner_uid: None,
            parent: None,
            tasks: 0,
            lowest_pid: None,
            command: None,
            holders: Vec::new(),
        }
    }

    /// Holders per kind, in a stable order.
    pub fn holder_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for h in &self.holders {
            *counts.entry(h.kind.name().to_string()).or_insert(0) += 1;
        }
        counts
    }
}

/// Every namespace found, keyed by type and inode.
#[derive(Debug, Default)]
pub struct Inventory {
    pub namespaces: BTreeMap<NsRef, Namespace>,
    /// Problems met on single entries; the scan went on without them.
    pub warnings: Warnings,
}

impl Inventory {
    pub fn get(&self, id: NsRef) -> Option<&Namespace> {
        self.namespaces.get(&id)
    }

    /// Namespaces with this inode number (of any type).
    pub fn with_inum(&self, inum: u32) -> Vec<&Namespace> {
        self.namespaces
            .values()
            .filter(|n| n.id.inum == inum)
            .collect()
    }
}

/// What every source writes into while the scan runs.
#[derive(Default)]
pub(super) struct Collector {
    pub inv: Inventory,
    /// Namespaces whose owner and parent have been asked for.
    queried: HashSet<NsRef>,
    /// A path that opened each namespace, to open it again (hidden mount
    /// namespaces are visited through it).
    pub paths: HashMap<NsRef, PathBuf>,
    /// A scan of chosen namespaces only (see `held`): their holders go
    /// there, and only mount namespaces into `inv`.
    pub keep: Option<Keep>,
    /// What [`Collector::entry`] hands out for a namespace `keep` leaves
    /// out of `inv`.
    scratch: Option<Namespace>,
}

impl Collector {
    /// A collector that keeps only the holders of `asked`.
    pub fn keeping(asked: std::sync::Arc<HashSet<NsRef>>) -> Collector {
        Collector {
            keep: Some(Keep::new(asked)),
            ..Collector::default()
        }
    }

    pub fn entry(&mut self, id: NsRef) -> &mut Namespace {
        if let Some(keep) = &mut self.keep {
            keep.saw(id);
            // Mount namespaces stay: the mount scan visits them.
            if id.ns_type != NsType::Mnt {
                return self.scratch.insert(Namespace::new(id));
            }
        }
        self.inv
            .namespaces
            .entry(id)
            .or_insert_with(|| Namespace::new(id))
    }

    pub fn add_holder(&mut self, id: NsRef, holder: Holder) {
        match &mut self.keep {
            Some(keep) => keep.add(id, holder),
            None => self.entry(id).holders.push(holder),
        }
    }

    /// Whether holders of this type of namespace are wanted at all: a scan
    /// of chosen namespaces skips the sockets of a host when no net
    /// namespace is among them.
    pub fn wants_type(&self, t: NsType) -> bool {
        match &self.keep {
            None => true,
            Some(keep) if t == NsType::Net => keep.sockets,
            Some(_) => true,
        }
    }

    /// `id`'s owning user namespace.
    pub fn set_owner(&mut self, id: NsRef, owner: u32) {
        if let Some(keep) = &mut self.keep {
            if id.ns_type == NsType::User {
                keep.relative(NsRef::new(NsType::User, owner), HolderKind::ChildNs, id);
            } else {
                keep.relative(NsRef::new(NsType::User, owner), HolderKind::OwnedNs, id);
            }
            return;
        }
        let ns = self.entry(id);
        ns.owner = Some(owner);
        // A user namespace's owner is its parent; one ioctl serves both.
        if id.ns_type == NsType::User {
            ns.parent = Some(owner);
        }
    }

    /// `id`'s parent pid namespace.
    pub fn set_parent(&mut self, id: NsRef, parent: u32) {
        if let Some(keep) = &mut self.keep {
            keep.relative(NsRef::new(id.ns_type, parent), HolderKind::ChildNs, id);
            return;
        }
        self.entry(id).parent = Some(parent);
    }

    /// Makes sure the namespace behind `path` is known with its owner and
    /// parent. With `known` set and already queried, nothing is opened:
    /// opening creates an nsfs inode, which costs more than a readlink. A
    /// scan of chosen namespaces opens only mount namespaces (to visit
    /// them), and others only when it needs relatives.
    pub fn learn_path(&mut self, path: &Path, known: Option<NsRef>) -> Option<NsRef> {
        if let Some(id) = known {
            self.entry(id);
            if self.queried.contains(&id) {
                return Some(id);
            }
            if self
                .keep
                .as_ref()
                .is_some_and(|k| !k.relatives && id.ns_type != NsType::Mnt)
            {
                return Some(id);
            }
        }
        match nsfs::open(path) {
            Ok(fd) => {
                let id = self.learn_fd(fd, &path.display().to_string())?;
                self.paths.entry(id).or_insert_with(|| path.to_path_buf());
                Some(id)
            }
            Err(e) if procfs::is_gone(&e) => known,
            Err(e) => {
                self.inv
                    .warnings
                    .note("namespace files", &path.display().to_string(), &e);
                known
            }
        }
    }

    /// Identifies an nsfs fd and, the first time a namespace is seen, asks
    /// for its owner and parent, which may be namespaces no task is in.
    pub fn learn_fd(&mut self, fd: OwnedFd, subject: &str) -> Option<NsRef> {
        let id = match nsfs::identify(fd.as_fd()) {
            Ok(id) => id,
            Err(e) => {
                self.inv.warnings.note("namespace identity", subject, &e);
                return None;
            }
        };
        self.entry(id);
        let relatives = self.keep.as_ref().is_none_or(|k| k.relatives);
        if self.queried.insert(id) && relatives {
            hierarchy::learn_relatives(self, fd.as_fd(), id);
        }
        Some(id)
    }

    /// The end of a scan of chosen namespaces.
    pub fn finish_kept(mut self) -> Held {
        let keep = self.keep.take().expect("a collector made by `keeping`");
        keep.finish(self.inv.warnings)
    }

    /// Fills in what depends on the whole picture: relatives as holders,
    /// owner uids of non-user namespaces, and commands.
    pub fn finish(mut self) -> Inventory {
        hierarchy::add_relative_holders(&mut self.inv.namespaces);
        let uids: HashMap<u32, u32> = self
            .inv
            .namespaces
            .values()
            .filter(|n| n.id.ns_type == NsType::User)
            .filter_map(|n| Some((n.id.inum, n.owner_uid?)))
            .collect();
        for ns in self.inv.namespaces.values_mut() {
            if ns.id.ns_type != NsType::User {
                ns.owner_uid = ns.owner.and_then(|o| uids.get(&o).copied());
            }
            if let Some(pid) = ns.lowest_pid {
                ns.command = procfs::cmdline(pid)
                    .ok()
                    .filter(|c| !c.is_empty())
                    .or_else(|| procfs::comm(pid).ok().map(|c| format!("[{c}]")));
            }
        }
        self.inv
    }
}
