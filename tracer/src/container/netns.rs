//! Named nets: a net namespace kept alive by a bind mount of its nsfs file
//! in a well-known directory has a name. `ip netns add NAME` and CNI
//! (`cni-<uuid>`, podman's `netns-<uuid>`) use /run/netns; docker's
//! sandboxes are /run/docker/netns/<sandbox>. The name is the path, since
//! a sandbox id means nothing without its directory. Which container a
//! named net belongs to is what its runtime says: docker's
//! `NetworkSettings.SandboxKey`, or the net path in an OCI spec (podman,
//! CRI-O, containerd's pod sandboxes).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::bounded::{self, STATE_CAP};
use super::state::{oci_net_path, Meta, Roots};
use super::{containerd, docker, libpod};

/// Where named nets live. /var/run is /run on every current distro.
const NAMED_NET_DIRS: [&str; 2] = ["/run/netns", "/run/docker/netns"];

/// `/var/run/x` as `/run/x`: runtimes write either.
pub fn canonical(path: &str) -> String {
    match path.strip_prefix("/var/run/") {
        Some(rest) => format!("/run/{rest}"),
        None => path.to_string(),
    }
}

/// Lists named nets.
pub struct NetNames {
    dirs: Vec<PathBuf>,
    /// The nsfs device: only a file on it is a namespace (the empty file a
    /// bind mount goes onto is on tmpfs).
    nsfs_dev: Option<u64>,
}

impl NetNames {
    pub fn host() -> NetNames {
        NetNames {
            dirs: NAMED_NET_DIRS.iter().map(PathBuf::from).collect(),
            nsfs_dev: std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.dev()),
        }
    }

    /// Inode number → path of every net bind-mounted by name now.
    pub fn scan(&self) -> HashMap<u32, String> {
        let mut out = HashMap::new();
        let Some(dev) = self.nsfs_dev else {
            return out;
        };
        for dir in &self.dirs {
            let Ok(names) = bounded::list_dir(dir) else {
                continue;
            };
            for n in names {
                let path = dir.join(&n);
                // lstat: a symlink planted here is no name; a bind mount
                // shows the mounted nsfs inode.
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.dev() == dev && !meta.file_type().is_symlink() {
                    if let (Ok(inum), Some(p)) = (u32::try_from(meta.ino()), path.to_str()) {
                        out.insert(inum, p.to_string());
                    }
                }
            }
        }
        out
    }
}

/// A name a runtime gives the nets it makes, whose owner its state will
/// tell: CNI's `cni-<uuid>`, podman's `netns-<uuid>`, docker's sandboxes.
/// Names people give (`ip netns add web`) have no owner to look for.
pub fn runtime_named(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("/run/docker/netns/") || base.starts_with("cni-") || base.starts_with("netns-")
}

/// The container whose runtime state names the net at `path` (canonical).
pub fn find_owner(roots: &Roots, path: &str) -> Option<Meta> {
    if path.starts_with("/run/docker/netns/") {
        return docker_owner(&roots.docker, path);
    }
    oci_owner(roots, path)
}

fn docker_owner(root: &Path, path: &str) -> Option<Meta> {
    let dir = root.join("containers");
    for id in bounded::list_dir(&dir).ok()? {
        let Ok(v) = bounded::read_json(&dir.join(&id).join("config.v2.json"), STATE_CAP) else {
            continue;
        };
        let key = v
            .pointer("/NetworkSettings/SandboxKey")
            .and_then(Value::as_str);
        if key.map(canonical).as_deref() == Some(path) {
            return docker::lookup(root, &id.to_string_lossy());
        }
    }
    None
}

/// An OCI spec (podman, CRI-O, containerd) whose net namespace is `path`.
fn oci_owner(roots: &Roots, path: &str) -> Option<Meta> {
    let names = |p: &Path| bounded::list_dir(p).unwrap_or_default();
    let joins = |spec: &Value| oci_net_path(spec).map(|p| canonical(&p)).as_deref() == Some(path);
    for root in [&roots.storage, &roots.storage_run] {
        for driver in names(root) {
            if !driver.to_string_lossy().ends_with("-containers") {
                continue;
            }
            let dir = root.join(&driver);
            for id in names(&dir) {
                let spec =
                    bounded::read_json(&dir.join(&id).join("userdata/config.json"), STATE_CAP);
                if spec.is_ok_and(|s| joins(&s)) {
                    return libpod::lookup(roots, &id.to_string_lossy(), None);
                }
            }
        }
    }
    let tasks = roots.containerd.join("io.containerd.runtime.v2.task");
    for ns in names(&tasks) {
        for id in names(&tasks.join(&ns)) {
            let spec =
                bounded::read_json(&tasks.join(&ns).join(&id).join("config.json"), STATE_CAP);
            if spec.is_ok_and(|s| joins(&s)) {
                return containerd::lookup(&roots.containerd, &id.to_string_lossy());
            }
        }
    }
    None
}

/// The canonical path of the net a container's runtime put it in: the key
/// that ties a named net to its owner.
pub fn owner_key(meta: &Meta) -> Option<String> {
    meta.net_path.as_deref().map(canonical)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn runtime_names() {
        assert!(runtime_named(
            "/run/netns/cni-5a3e1b52-8f0e-2a8a-0a1e-6c1f0e8d7b21"
        ));
        assert!(runtime_named(
            "/run/netns/netns-b8d49c66-3fe4-9da9-7859-54e6902e73d2"
        ));
        assert!(runtime_named("/run/docker/netns/76c9ca42656d"));
        assert!(!runtime_named("/run/netns/demo"));
    }

    #[test]
    fn canonical_paths() {
        assert_eq!(
            canonical("/var/run/docker/netns/76c9"),
            "/run/docker/netns/76c9"
        );
        assert_eq!(canonical("/run/netns/foo"), "/run/netns/foo");
    }

    #[test]
    fn owners_from_docker_and_oci_state() {
        let base = std::env::temp_dir().join(format!("nstrace-netns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let roots = Roots::under(&base);
        let write = |p: &Path, v: Value| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v.to_string()).unwrap();
        };
        let d = "8c4c00752dad639582dcc7ee460a3c58bd33f8407410ae409f5b56f9b5c77304";
        write(
            &roots
                .docker
                .join("containers")
                .join(d)
                .join("config.v2.json"),
            json!({"ID": d, "Name": "/web-1",
                "NetworkSettings": {"SandboxKey": "/var/run/docker/netns/76c9ca42656d"}}),
        );
        let p = "3e7b08afca89c4118e9a23dacadb5b6b76f500d2e2df0d3c30fd2fde4672ebdf";
        write(
            &roots
                .storage
                .join("overlay-containers")
                .join(p)
                .join("userdata/config.json"),
            json!({"annotations": {"io.container.manager": "libpod"},
                "linux": {"namespaces": [{"type": "network",
                    "path": "/run/netns/netns-b8d49c66-3fe4-9da9-7859-54e6902e73d2"}]}}),
        );
        let owner = |path| find_owner(&roots, path).map(|m| m.container.id);
        assert_eq!(owner("/run/docker/netns/76c9ca42656d").as_deref(), Some(d));
        assert_eq!(
            owner("/run/netns/netns-b8d49c66-3fe4-9da9-7859-54e6902e73d2").as_deref(),
            Some(p)
        );
        assert_eq!(owner("/run/netns/mine"), None);
        let m = find_owner(&roots, "/run/docker/netns/76c9ca42656d").unwrap();
        assert_eq!(
            owner_key(&m).as_deref(),
            Some("/run/docker/netns/76c9ca42656d")
        );
        std::fs::remove_dir_all(base).unwrap();
    }
}
