//! A cgroup path to the container in it, with what its runtime knows.

use super::cgroup_dir::Hierarchy;
use super::cgroup_path::{self, PathClaim};
use super::cgroupfs::Hierarchies;
use super::state::{Meta, Roots};
use super::{containerd, docker, libpod, machines, oci_state};
use crate::schema::{Container, Runtime};

/// Names containers from cgroup paths, reading runtime state under `roots`.
#[derive(Clone, Debug)]
pub struct Identifier {
    pub roots: Roots,
    pub hierarchies: Hierarchies,
}

impl Identifier {
    /// The host's runtimes and mounts.
    pub fn host() -> Identifier {
        Identifier {
            roots: Roots::host(),
            hierarchies: Hierarchies::detect(),
        }
    }

    /// The container whose cgroup on hierarchy `h` is `path`, if any.
    pub fn identify(&self, h: Hierarchy, path: &str) -> Option<Meta> {
        match cgroup_path::parse(path) {
            Some(claim) => Some(self.describe(&claim)),
            None => oci_state::find(&self.roots, &self.hierarchies, h, path),
        }
    }

    /// A claim filled in from its runtime's state. A runtime that has no
    /// state for it (not installed, or the container is already gone)
    /// leaves what the path said.
    pub fn describe(&self, claim: &PathClaim) -> Meta {
        let r = &self.roots;
        let id = claim.id.as_str();
        let found = match claim.runtime {
            Some(Runtime::Docker) => {
                docker::lookup(&r.docker, id).or_else(|| containerd::lookup(&r.containerd, id))
            }
            Some(rt @ (Runtime::Podman | Runtime::CriO)) => libpod::lookup(r, id, Some(rt)),
            Some(Runtime::Containerd) => containerd::lookup(&r.containerd, id),
            Some(Runtime::Nspawn) => machines::root_of(&r.machines, id).map(|root| {
                let mut c = Container::new(Runtime::Nspawn, id);
                c.image = Some(root);
                Meta {
                    container: c,
                    net_path: None,
                }
            }),
            // An id alone: whichever runtime knows it.
            None => docker::lookup(&r.docker, id)
                .or_else(|| containerd::lookup(&r.containerd, id))
                .or_else(|| libpod::lookup(r, id, None)),
            Some(_) => None,
        };
        let mut meta = found.unwrap_or_else(|| Meta {
            container: Container::new(claim.runtime.unwrap_or(Runtime::Unknown), id),
            net_path: None,
        });
        let c = &mut meta.container;
        if c.name.is_none() {
            c.name.clone_from(&claim.name);
        }
        if c.pod_uid.is_none() {
            c.pod_uid.clone_from(&claim.pod_uid);
        }
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_without_state_keeps_what_the_path_said() {
        let base = std::env::temp_dir().join(format!("nstrace-identify-{}", std::process::id()));
        let ident = Identifier {
            roots: Roots::under(&base),
            hierarchies: Hierarchies::default(),
        };
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let c = ident
            .identify(
                Hierarchy::V2,
                &format!("/kubepods/besteffort/pod3f8a2b1c-9d4e-4f5a-8b6c-7d8e9f0a1b2c/{id}"),
            )
            .unwrap()
            .container;
        assert_eq!(c.runtime, Runtime::Unknown);
        assert_eq!(c.id, id);
        assert_eq!(
            c.pod_uid.as_deref(),
            Some("3f8a2b1c-9d4e-4f5a-8b6c-7d8e9f0a1b2c")
        );
        let c = ident
            .identify(Hierarchy::V2, "/machine.slice/machine-box1.scope")
            .unwrap()
            .container;
        assert_eq!(
            (c.runtime, c.name.as_deref()),
            (Runtime::Nspawn, Some("box1"))
        );
        assert_eq!(ident.identify(Hierarchy::V2, "/user.slice"), None);
    }
}
