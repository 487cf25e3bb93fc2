//! The container of a running process, for `why` and `ls`: from its cgroup
//! paths in /proc/PID/cgroup, named the way the tracer names a creator's.

use std::collections::HashMap;

use super::cgroup_dir::Hierarchy;
use super::identify::Identifier;
use crate::schema::Container;

/// Names processes' containers, remembering each cgroup path's answer for
/// the life of one scan.
pub struct ProcessContainers {
    ident: Identifier,
    by_path: HashMap<(Hierarchy, String), Option<Container>>,
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
    pub fn of_pid(&mut self, pid: u32) -> Option<Container> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let v1 = self.ident.hierarchies.v1_controller().map(str::to_string);
        let (v2_path, v1_path) = cgroup_lines(&text, v1.as_deref());
        if let Some(c) = v2_path.and_then(|p| self.of_path(Hierarchy::V2, p)) {
            return Some(c);
        }
        v1_path.and_then(|p| self.of_path(Hierarchy::V1, p))
    }

    fn of_path(&mut self, h: Hierarchy, path: &str) -> Option<Container> {
        let key = (h, path.to_string());
        if let Some(c) = self.by_path.get(&key) {
            return c.clone();
        }
        let c = self.ident.identify(h, path).map(|m| m.container);
        self.by_path.insert(key, c.clone());
        c
    }
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
