//! The container's init: the first lasting task in a namespace that a
//! short-lived runtime helper made.
//!
//! runc makes a container's namespaces in `runc:[1:CHILD]`, which unshares
//! them, forks `runc:[2:INIT]` into them and exits within milliseconds; the
//! fork makes no namespace, so no record names the task that stays. That
//! task (later exec'd into the container's command, same pid) is found by
//! asking /proc which tasks are in the namespace now: the oldest one other
//! than the helper. (A birth by clone needs none of this: its `child_pid`
//! is that task.) While it still carries a helper's name it has not exec'd
//! yet, and the answer is worth waiting a moment for.

use std::collections::HashMap;

use tracer_common::NsType;

use crate::discovery::procfs;

/// A runtime's staged helper that makes namespaces and exits: runc (and
/// youki) name their stages `runc:[0:PARENT]`, `runc:[1:CHILD]`,
/// `runc:[2:INIT]`.
pub fn is_runtime_helper(comm: &str) -> bool {
    comm.contains(":[") && comm.ends_with(']')
}

/// A namespace whose init is wanted, and the helper that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Wanted {
    pub ns_type: NsType,
    pub inum: u32,
    pub creator: u32,
}

/// The oldest task in a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Init {
    pub pid: u32,
    pub comm: String,
}

impl Init {
    /// Still a helper: it has not exec'd the container's command yet.
    pub fn settled(&self) -> bool {
        !is_runtime_helper(&self.comm)
    }
}

/// For each wanted namespace, the oldest process in it other than its
/// creator, from one walk of /proc.
pub fn find(wanted: &[Wanted]) -> HashMap<Wanted, Init> {
    let mut best: HashMap<Wanted, (u64, u32)> = HashMap::new();
    let Ok(pids) = procfs::pids() else {
        return HashMap::new();
    };
    let types: Vec<NsType> = {
        let mut t: Vec<NsType> = wanted.iter().map(|w| w.ns_type).collect();
        t.sort_by_key(|t| *t as u32);
        t.dedup();
        t
    };
    for pid in pids {
        let mut start = None;
        for &t in &types {
            let Ok(r) = procfs::ns_link(pid, pid, t.name()) else {
                continue;
            };
            for w in wanted
                .iter()
                .filter(|w| w.ns_type == t && w.inum == r.inum && w.creator != pid)
            {
                let Some(s) = *start.get_or_insert_with(|| start_time(pid)) else {
                    continue;
                };
                let e = best.entry(*w).or_insert((s, pid));
                if (s, pid) < *e {
                    *e = (s, pid);
                }
            }
        }
    }
    best.into_iter()
        .filter_map(|(w, (_, pid))| {
            let comm = procfs::comm(pid).ok()?;
            Some((w, Init { pid, comm }))
        })
        .collect()
}

/// Start time in clock ticks since boot (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> Option<u64> {
    procfs::stat_field(pid, 22)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_names() {
        for c in [
            "runc:[0:PARENT]",
            "runc:[1:CHILD]",
            "runc:[2:INIT]",
            "youki:[1:INTER]",
        ] {
            assert!(is_runtime_helper(c), "{c}");
        }
        for c in ["runc", "crun", "sleep", "conmon", "[kworker/0:1]", "x:[y"] {
            assert!(!is_runtime_helper(c), "{c}");
        }
    }

    /// In this process's own uts namespace the oldest task is found, and
    /// never the creator named; nothing here makes a namespace.
    #[test]
    fn finds_the_oldest_task_in_a_namespace() {
        let me = std::process::id();
        let uts = procfs::ns_link(me, me, "uts").unwrap();
        let w = Wanted {
            ns_type: NsType::Uts,
            inum: uts.inum,
            creator: 0,
        };
        let oldest = find(&[w]).remove(&w).expect("this process is in it");
        let (a, b) = (start_time(oldest.pid).unwrap(), start_time(me).unwrap());
        assert!(a <= b, "pid {} started at {a}, after us at {b}", oldest.pid);
        let w2 = Wanted {
            creator: oldest.pid,
            ..w
        };
        let next = find(&[w2])
            .remove(&w2)
            .expect("this process is still in it");
        assert_ne!(next.pid, oldest.pid);
        let other = Wanted { inum: 1, ..w };
        assert!(find(&[other]).is_empty());
        // Field 4 is the parent.
        assert_eq!(
            procfs::stat_field(me, 4),
            Some(u64::from(std::os::unix::process::parent_id()))
        );
    }
}
