//! The container of a running process, for `why` and `ls`: from its cgroup
//! paths in /proc/PID/cgroup, named the way the tracer names a creator's.

use std::collections::HashMap;
use std::sync::Arc;

use super::cgroup_dir::Hierarchy;
use super::identify::Identifier;
use crate::schema::Container;

/// Names processes' containers, remembering each cgroup path's answer for
/// the life of one scan. The processes of one container share its answer:
/// every holder and task the scan lists points at the same one.
pub struct ProcessContainers {
    ident: Identifier,
    by_path: HashMap<(Hierarchy, String), Option<Arc<Container>>>,
}

impl ProcessContainers {
    pub fn host() -> ProcessContainers {
        ProcessContainers::new(Identifier::host())
    }

    pub fn new(ident: Identifier) -> ProcessContainers {
        ProcessContainers {
            ident,
            by_path: HashMap::new(),
        }
    }

    /// The container process `pid` is in, if any (and if it still exists).
    pub fn of_pid(&mut self, pid: u32) -> Option<Arc<Container>> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let v1 = self.ident.hierarchies.v1_controller().map(str::to_string);
        for (h, path) in in_order(&text, v1.as_deref()) {
            if let Some(c) = self.of_path(h, path) {
                return Some(c);
            }
        }
        None
    }

    fn of_path(&mut self, h: Hierarchy, path: &str) -> Option<Arc<Container>> {
        let key = (h, path.to_string());
        if let Some(c) = self.by_path.get(&key) {
            return c.clone();
        }
        let c = self.ident.identify(h, path).map(|m| Arc::new(m.container));
        self.by_path.insert(key, c.clone());
        c
    }
}

/// The paths of a /proc/PID/cgroup text to look for a container in, in
/// the order the tracer asks about a creator's cgroups: the unified one,
/// then the one on `controller`'s v1 hierarchy (a v1-only host has every
/// task in the unified root).
fn in_order<'a>(
    text: &'a str,
    controller: Option<&str>,
) -> impl Iterator<Item = (Hierarchy, &'a str)> {
    let (v2, v1) = cgroup_lines(text, controller);
    v2.map(|p| (Hierarchy::V2, p))
        .into_iter()
        .chain(v1.map(|p| (Hierarchy::V1, p)))
}

/// The unified path (`0::PATH`) and the path on the v1 hierarchy of
/// `controller`, from /proc/PID/cgroup.
fn cgroup_lines<'a>(text: &'a str, controller: Option<&str>) -> (Option<&'a str>, Option<&'a str>) {
    let mut v2 = None;
    let mut v1 = None;
    for line in text.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(id), Some(ctls), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if id == "0" && ctls.is_empty() {
            v2 = Some(path);
        } else if controller.is_some_and(|c| ctls.split(',').any(|x| x == c)) {
            v1 = Some(path);
        }
    }
    (v2, v1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unified_and_v1_lines() {
        // A podman container on this host.
        let text = "10:hugetlb:/libpod_parent/libpod-3e7b\n\
                    8:pids:/libpod_parent/libpod-3e7b\n\
                    2:cpu,cpuacct:/x\n\
                    0::/libpod_parent/libpod-3e7b\n";
        assert_eq!(
            cgroup_lines(text, Some("pids")),
            (
                Some("/libpod_parent/libpod-3e7b"),
                Some("/libpod_parent/libpod-3e7b")
            )
        );
        assert_eq!(cgroup_lines(text, Some("cpuacct")).1, Some("/x"));
        assert_eq!(cgroup_lines("0::/\n", None), (Some("/"), None));
        assert_eq!(cgroup_lines("", Some("pids")), (None, None));
    }

    use crate::container::cgroup_path::{self, PathClaim};
    use crate::schema::Runtime;

    const ID: &str = "3e7b08afca89c4118e9a23dacadb5b6b76f500d2e2df0d3c30fd2fde4672ebdf";

    /// The container a whole /proc/PID/cgroup names, asked as `of_pid`
    /// asks (without the runtimes' state).
    fn claim(text: &str, controller: Option<&str>) -> Option<(Runtime, String)> {
        in_order(text, controller)
            .find_map(|(_, p)| cgroup_path::parse(p))
            .map(|PathClaim { runtime, id, .. }| (runtime.expect("a runtime's mark"), id))
    }

    /// Whole /proc/PID/cgroup files of container processes as each
    /// combination of cgroup version and driver writes them.
    #[test]
    fn every_cgroup_version_and_driver_names_the_container() {
        let docker = Some((Runtime::Docker, ID.to_string()));
        // cgroup v1, cgroupfs driver (docker's default before cgroup v2;
        // CentOS 7): every hierarchy has /docker/<id>; the unified line
        // (kernels since 4.5 write it even with no cgroup2 mounted) is
        // the root.
        let v1_cgroupfs = format!(
            "11:memory:/docker/{ID}\n10:pids:/docker/{ID}\n4:cpu,cpuacct:/docker/{ID}\n\
             1:name=systemd:/docker/{ID}\n0::/\n"
        );
        assert_eq!(claim(&v1_cgroupfs, Some("pids")), docker);
        assert_eq!(claim(&v1_cgroupfs, Some("memory")), docker);
        // cgroup v1, systemd driver: a scope under system.slice.
        let v1_systemd = format!(
            "10:pids:/system.slice/docker-{ID}.scope\n1:name=systemd:/system.slice/docker-{ID}.scope\n0::/\n"
        );
        assert_eq!(claim(&v1_systemd, Some("pids")), docker);
        // cgroup v2, both drivers.
        assert_eq!(claim(&format!("0::/docker/{ID}\n"), None), docker);
        assert_eq!(
            claim(&format!("0::/system.slice/docker-{ID}.scope\n"), None),
            docker
        );
        // Hybrid (this project's host): podman's cgroupfs driver on every
        // hierarchy, the unified one first.
        let hybrid = format!(
            "10:hugetlb:/libpod_parent/libpod-{ID}\n8:pids:/libpod_parent/libpod-{ID}\n\
             0::/libpod_parent/libpod-{ID}\n"
        );
        assert_eq!(
            claim(&hybrid, Some("pids")),
            Some((Runtime::Podman, ID.to_string()))
        );
        // Hybrid where the runtime left the unified hierarchy alone: the
        // unified path names no container, the v1 one does.
        let v1_only_container =
            format!("8:pids:/docker/{ID}\n0::/system.slice/containerd.service\n");
        assert_eq!(claim(&v1_only_container, Some("pids")), docker);
        // Both name one: the unified hierarchy's is asked first, as for a
        // record.
        let other = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            claim(
                &format!("8:pids:/docker/{other}\n0::/libpod_parent/libpod-{ID}\n"),
                Some("pids")
            ),
            Some((Runtime::Podman, ID.to_string()))
        );
        // Kubernetes with CRI-O, systemd driver, on v1 and on v2.
        let uid = "3f8a2b1c_9d4e_4f5a_8b6c_7d8e9f0a1b2c";
        let crio = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid}.slice/crio-{ID}.scope"
        );
        let crio_id = Some((Runtime::CriO, ID.to_string()));
        assert_eq!(
            claim(
                &format!("12:pids:{crio}\n1:name=systemd:{crio}\n0::/\n"),
                Some("pids")
            ),
            crio_id
        );
        assert_eq!(claim(&format!("0::{crio}\n"), None), crio_id);
        // A process in no container, on each kind of host.
        assert_eq!(
            claim(
                "10:pids:/user.slice\n0::/user.slice/user-0.slice/session-1.scope\n",
                Some("pids")
            ),
            None
        );
        assert_eq!(claim("0::/init.scope\n", None), None);
    }

    #[test]
    fn this_test_is_in_no_container() {
        // The development host and CI run tests outside containers.
        let mut pc = ProcessContainers::host();
        if let Some(c) = pc.of_pid(std::process::id()) {
            eprintln!("note: running inside {c:?}");
        }
        assert_eq!(pc.of_pid(u32::MAX), None);
    }
}
