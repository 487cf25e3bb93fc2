//! Tasks as holders: every process in a namespace, threads that sit in a
//! different namespace from their process, and the `*_for_children`
//! namespaces a task's next children will be born into.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use tracer_common::NsType;

use super::inventory::Collector;
use super::nsref::NsRef;
use super::procfs;
use crate::container::ProcessContainers;
use crate::schema::{Container, Holder, HolderKind};

/// A live process, as the fd and mount scans need it.
#[derive(Clone, Debug)]
pub(super) struct Process {
    pub pid: u32,
    pub comm: String,
    /// The container it runs in, if any.
    pub container: Option<Arc<Container>>,
}

/// What the task walk hands to the mount scan: one pid in each mount namespace.
pub(super) type MountReps = BTreeMap<NsRef, u32>;

/// Walks every thread of every process.
pub(super) fn collect(c: &mut Collector) -> anyhow::Result<(Vec<Process>, MountReps)> {
    let pids = procfs::pids().context("cannot list /proc: is procfs mounted at /proc?")?;
    let mut processes = Vec::with_capacity(pids.len());
    let mut reps = MountReps::new();
    let mut containers = ProcessContainers::host();
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
        let process = Process {
            pid,
            comm,
            container: containers.of_pid(pid),
        };
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
        container: p.container.clone(),
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
