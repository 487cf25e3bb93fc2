//! Tasks as holders: every process in a namespace, threads that sit in a
//! different namespace from their process, and the `*_for_children`
//! namespaces a task's next children will be born into.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context;
use tracer_common::NsType;

use super::inventory::Collector;
use super::nsref::NsRef;
use super::procfs;
use crate::schema::{Holder, HolderKind};

/// A live process, as the fd and mount scans need it.
#[derive(Clone, Debug)]
pub(super) struct Process {
    pub pid: u32,
    pub comm: String,
}

/// What the task walk hands to the mount scan: one pid in each mount namespace.
pub(super) type MountReps = BTreeMap<NsRef, u32>;

/// Walks every thread of every process.
pub(super) fn collect(c: &mut Collector) -> anyhow::Result<(Vec<Process>, MountReps)> {
    let pids = procfs::pids().context("cannot list /proc: is procfs mounted at /proc?")?;
    let mut processes = Vec::with_capacity(pids.len());
    let mut reps = MountReps::new();
    for pid in pids {
        let mut tids = match procfs::tids(pid) {
            Ok(t) => t,
            Err(e) if procfs::is_gone(&e) => continue,
            Err(e) => {
                c.inv.warnings.note("threads", &format!("pid {pid}"), &e);
                continue;
            }
        };
        // The leader first: its namespaces are the process's.
        if let Some(i) = tids.iter().position(|&t| t == pid) {
            tids[..=i].rotate_right(1);
        }
        let comm = match procfs::comm(pid) {
            Ok(c) => c,
            Err(e) if procfs::is_gone(&e) => continue,
            Err(_) => String::new(),
        };
        let process = Process { pid, comm };
        let mut leader: Option<[Option<NsRef>; 8]> = None;
        let mut reported: HashSet<(HolderKind, NsRef)> = HashSet::new();
        for tid in tids {
            // Access is per process: one denied thread means all are.
            let Some(set) = read_thread(c, pid, tid) else {
                break;
            };
            if set.iter().all(Option::is_none) {
                continue;
            }
            for r in set.iter().flatten() {
                let ns = c.entry(*r);
                ns.tasks += 1;
                if ns.lowest_pid.is_none_or(|p| pid < p) {
                    ns.lowest_pid = Some(pid);
                }
            }
            match &leader {
                None => {
                    for r in set.iter().flatten() {
                        c.add_holder(*r, holder(HolderKind::Task, &process, None, None));
                    }
                    if let Some(mnt) = set[NsType::Mnt as usize] {
                        reps.entry(mnt).or_insert(pid);
                    }
                    leader = Some(set);
                }
                Some(lead) => {
                    for (r, l) in set.iter().zip(lead.iter()) {
                        if let Some(r) = r.filter(|r| Some(*r) != *l) {
                            let detail = format!("tid {tid}");
                            c.add_holder(
                                r,
                                holder(HolderKind::Thread, &process, None, Some(detail)),
                            );
                        }
                    }
                }
            }
            let active = [
                (HolderKind::PidForChildren, set[NsType::Pid as usize]),
                (HolderKind::TimeForChildren, set[NsType::Time as usize]),
            ];
            for (kind, active) in active {
                let name = kind.name();
                let Some(r) = read_link(c, pid, tid, name) else {
                    continue;
                };
                // Only a namespace the task is not in yet is news; threads
                // usually share the leader's, so each is reported once.
                if Some(r) != active && reported.insert((kind, r)) {
                    let path = procfs::ns_link_path(pid, tid, name).display().to_string();
                    let detail = (tid != pid).then(|| format!("tid {tid}"));
                    c.add_holder(r, holder(kind, &process, Some(path), detail));
                }
            }
        }
        if leader.is_some() {
            processes.push(process);
        }
    }
    Ok((processes, reps))
}

fn holder(kind: HolderKind, p: &Process, path: Option<String>, detail: Option<String>) -> Holder {
    Holder {
        kind,
        pid: Some(p.pid),
        comm: Some(p.comm.clone()),
        fd: None,
        path,
        detail,
        ..Holder::default()
    }
}

/// The eight namespaces of one thread; a vanished thread gives all `None`,
/// an unreadable one `None` (after one warning).
fn read_thread(c: &mut Collector, pid: u32, tid: u32) -> Option<[Option<NsRef>; 8]> {
    let mut set = [None; 8];
    for t in NsType::ALL {
        match procfs::ns_link(pid, tid, t.name()) {
            Ok(r) => {
                c.learn_path(&procfs::ns_link_path(pid, tid, t.name()), Some(r));
                set[t as usize] = Some(r);
            }
            Err(e) if procfs::is_gone(&e) => {}
            Err(e) => {
                let subject = format!("pid {pid} tid {tid}");
                c.inv.warnings.note("namespace links", &subject, &e);
                return None;
            }
        }
    }
    Some(set)
}

fn read_link(c: &mut Collector, pid: u32, tid: u32, name: &str) -> Option<NsRef> {
    match procfs::ns_link(pid, tid, name) {
        Ok(r) => {
            c.learn_path(&procfs::ns_link_path(pid, tid, name), Some(r));
            Some(r)
        }
        Err(e) if procfs::is_gone(&e) => None,
        Err(e) => {
            c.inv
                .warnings
                .note("namespace links", &format!("pid {pid} tid {tid}"), &e);
            None
        }
    }
}

/// Threads per namespace, and one thread in each: what the tracer's task
/// scan learns.
#[derive(Debug, Default)]
pub struct TaskCensus {
    pub counts: HashMap<(NsType, u32), u32>,
    /// One (pid, tid) inside each namespace counted: while it is still
    /// there, the namespace still has a task (see [`still_inside`]).
    pub sentinels: HashMap<(NsType, u32), (u32, u32)>,
}

/// Threads per namespace from readlinks alone: no nsfs inode is created,
/// nothing is opened, so the tracer can call this every second.
pub fn task_counts() -> anyhow::Result<TaskCensus> {
    let mut census = TaskCensus::default();
    let pids = procfs::pids().context("cannot list /proc: is procfs mounted at /proc?")?;
    for pid in pids {
        let Ok(tids) = procfs::tids(pid) else {
            continue;
        };
        for tid in tids {
            for t in NsType::ALL {
                if let Ok(r) = procfs::ns_link(pid, tid, t.name()) {
                    let key = (r.ns_type, r.inum);
                    *census.counts.entry(key).or_insert(0) += 1;
                    census.sentinels.entry(key).or_insert((pid, tid));
                }
            }
        }
    }
    Ok(census)
}

/// Whether thread `tid` of `pid` is still in namespace `(ns_type, inum)`:
/// one readlink. A thread that left or exited says no; a reused tid that
/// happens to be inside says yes, which is still true of the namespace.
pub fn still_inside(sentinel: (u32, u32), ns_type: NsType, inum: u32) -> bool {
    procfs::ns_link(sentinel.0, sentinel.1, ns_type.name())
        .is_ok_and(|r| r.ns_type == ns_type && r.inum == inum)
}
