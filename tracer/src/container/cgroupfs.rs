//! Where the cgroup hierarchies are mounted, and which cgroup v1 hierarchy
//! the kernel side records an id on.
//!
//! Three layouts exist: cgroup2 alone ("unified", every current distro),
//! "hybrid" (v1 controllers plus a cgroup2 at /sys/fs/cgroup/unified that
//! systemd and runc/crun also place every task on, as on this project's
//! development host), and v1 alone (older hosts: the cgroup2 hierarchy
//! exists in the kernel but nobody is placed on it, so every task's cgroup2
//! id is the root's). For the last, the kernel side also reads each
//! creator's cgroup on one v1 controller hierarchy; this module picks it,
//! for the loader (which turns the controller into a `css_set.subsys`
//! index) and for the resolver (which opens that hierarchy), so both agree.

use std::path::PathBuf;

use crate::discovery::{parse_mountinfo, MountEntry};

/// v1 controllers in the order we prefer to follow one: those every
/// runtime gives each container its own cgroup in come first.
const V1_PREFERENCE: [&str; 14] = [
    "pids",
    "memory",
    "cpu",
    "cpuacct",
    "blkio",
    "devices",
    "freezer",
    "cpuset",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (`/` unless a subtree was
    /// mounted, as inside a container).
    pub root: String,
}

/// The mounted hierarchies that matter to container resolution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hierarchies {
    /// The cgroup2 mount.
    pub v2: Option<Mount>,
    /// The followed v1 hierarchy: its controller and mount.
    pub v1: Option<(String, Mount)>,
}

impl Hierarchies {
    /// From this process's mount table; empty when it cannot be read.
    pub fn detect() -> Hierarchies {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| Hierarchies::from_mountinfo(&parse_mountinfo(&t)))
            .unwrap_or_default()
    }

    pub fn from_mountinfo(mounts: &[MountEntry]) -> Hierarchies {
        let mount = |m: &MountEntry| Mount {
            mount_point: PathBuf::from(&m.mount_point),
            root: m.root.clone(),
        };
        let v2 = mounts.iter().find(|m| m.fstype == "cgroup2").map(mount);
        let v1 = V1_PREFERENCE.iter().find_map(|ctl| {
            mounts
                .iter()
                .find(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == *ctl))
                .map(|m| (ctl.to_string(), mount(m)))
        });
        Hierarchies { v2, v1 }
    }

    /// The controller whose v1 hierarchy the kernel side reads, if any v1
    /// controller is mounted.
    pub fn v1_controller(&self) -> Option<&str> {
        self.v1.as_ref().map(|(c, _)| c.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This project's development host: hybrid, memory mounted first.
    const HYBRID: &str = "\
24 22 0:21 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
25 24 0:22 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
28 24 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
32 24 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
33 24 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
34 24 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_follows_pids_and_finds_unified() {
        let h = Hierarchies::from_mountinfo(&parse_mountinfo(HYBRID));
        assert_eq!(
            h.v2.unwrap().mount_point,
            PathBuf::from("/sys/fs/cgroup/unified")
        );
        let (ctl, m) = h.v1.unwrap();
        assert_eq!(ctl, "pids");
        assert_eq!(m.mount_point, PathBuf::from("/sys/fs/cgroup/pids"));
    }

    #[test]
    fn unified_only_has_no_v1_and_v1_only_has_no_v2() {
        let unified = "30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = Hierarchies::from_mountinfo(&parse_mountinfo(unified));
        assert!(h.v2.is_some());
        assert_eq!(h.v1_controller(), None);
        // CentOS 7 style: cpu and cpuacct share one mount; no pids.
        let v1 = "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu\n\
                  26 24 0:23 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let h = Hierarchies::from_mountinfo(&parse_mountinfo(v1));
        assert_eq!(h.v2, None);
        let (ctl, m) = h.v1.unwrap();
        assert_eq!((ctl.as_str(), m.root.as_str()), ("memory", "/docker/abc"));
        // A named hierarchy has no controller to index css_set.subsys by.
        let named = "33 24 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
        assert_eq!(
            Hierarchies::from_mountinfo(&parse_mountinfo(named)).v1_controller(),
            None
        );
    }
}
