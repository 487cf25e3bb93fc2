//! The result of a scan, and the collector every source adds to.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use tracer_common::NsType;

use super::nsref::NsRef;
use super::warnings::Warnings;
use super::{hierarchy, nsfs, procfs};
use crate::schema::Holder;

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
}

impl Collector {
    pub fn entry(&mut self, id: NsRef) -> &mut Namespace {
        self.inv
            .namespaces
            .entry(id)
            .or_insert_with(|| Namespace::new(id))
    }

    pub fn add_holder(&mut self, id: NsRef, holder: Holder) {
        self.entry(id).holders.push(holder);
    }

    /// Makes sure the namespace behind `path` is known with its owner and
    /// parent. With `known` set and already queried, nothing is opened:
    /// opening creates an nsfs inode, which costs more than a readlink.
    pub fn learn_path(&mut self, path: &Path, known: Option<NsRef>) -> Option<NsRef> {
        if let Some(id) = known {
            self.entry(id);
            if self.queried.contains(&id) {
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
        if self.queried.insert(id) {
            hierarchy::learn_relatives(self, fd.as_fd(), id);
        }
        Some(id)
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
