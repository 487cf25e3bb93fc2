//! runc and crun started directly: a container runs in whatever cgroup its
//! config names (by default one named after its id, `/t1`), so the path
//! alone says nothing. Their state directories say which container owns a
//! cgroup: runc's `<root>/<id>/state.json` (`cgroup_paths`, absolute per
//! hierarchy) and crun's `<root>/<id>/status` (`cgroup-path`, relative).
//! docker's and containerd's runc roots are read too, for containers whose
//! cgroup a custom `--cgroup-parent` made unrecognisable.

use std::path::Path;

use serde_json::Value;

use super::bounded::{self, STATE_CAP};
use super::cgroup_dir::Hierarchy;
use super::cgroupfs::Hierarchies;
use super::state::{text, Meta, Roots};
use crate::schema::{Container, Runtime};

/// The container whose runc or crun state puts it in cgroup `path` of
/// hierarchy `h`.
pub fn find(roots: &Roots, hier: &Hierarchies, h: Hierarchy, path: &str) -> Option<Meta> {
    let runc_roots = [
        (roots.runc.as_path(), Runtime::Runc),
        (roots.runc_docker.as_path(), Runtime::Docker),
    ];
    for (root, rt) in runc_roots {
        if let Some(m) = find_runc(root, rt, hier, h, path) {
            return Some(m);
        }
    }
    if let Ok(namespaces) = bounded::list_dir(&roots.runc_containerd) {
        for ns in namespaces {
            let rt = if ns == "moby" {
                Runtime::Docker
            } else {
                Runtime::Containerd
            };
            if let Some(m) = find_runc(&roots.runc_containerd.join(&ns), rt, hier, h, path) {
                return Some(m);
            }
        }
    }
    find_crun(&roots.crun, path)
}

fn find_runc(
    root: &Path,
    rt: Runtime,
    hier: &Hierarchies,
    h: Hierarchy,
    path: &str,
) -> Option<Meta> {
    for id in bounded::list_dir(root).ok()? {
        let Ok(state) = bounded::read_json(&root.join(&id).join("state.json"), STATE_CAP) else {
            continue;
        };
        if runc_cgroup(&state, hier, h).as_deref() == Some(path) {
            let id = text(&state, "id").unwrap_or_else(|| id.to_string_lossy().into_owned());
            return Some(plain(rt, id));
        }
    }
    None
}

/// The cgroup path, relative to hierarchy `h`'s root, that runc's state
/// gives (`cgroup_paths` holds mount paths: `""` is the unified one).
fn runc_cgroup(state: &Value, hier: &Hierarchies, h: Hierarchy) -> Option<String> {
    let paths = state.get("cgroup_paths")?;
    let (key, mount) = match h {
        Hierarchy::V2 => ("", hier.v2.as_ref()?),
        Hierarchy::V1 => {
            let (ctl, m) = hier.v1.as_ref()?;
            (ctl.as_str(), m)
        }
    };
    let abs = paths.get(key).and_then(Value::as_str)?;
    let rel = Path::new(abs).strip_prefix(&mount.mount_point).ok()?;
    let rel = rel.to_str()?;
    let root = mount.root.trim_end_matches('/');
    Some(format!("{root}/{rel}"))
}

fn find_crun(root: &Path, path: &str) -> Option<Meta> {
    for id in bounded::list_dir(root).ok()? {
        let Ok(status) = bounded::read_json(&root.join(&id).join("status"), STATE_CAP) else {
            continue;
        };
        // crun writes one path for every hierarchy.
        if text(&status, "cgroup-path").as_deref() == Some(path) {
            return Some(plain(Runtime::Crun, id.to_string_lossy().into_owned()));
        }
    }
    None
}

/// runc and crun know a container by its id alone.
fn plain(rt: Runtime, id: String) -> Meta {
    Meta {
        container: Container::new(rt, id),
        net_path: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::discovery::parse_mountinfo;

    fn hybrid() -> Hierarchies {
        Hierarchies::from_mountinfo(&parse_mountinfo(
            "32 24 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
             34 24 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        ))
    }

    /// State files as runc 1.1.5 and crun 1.8.1 wrote them on this host for
    /// `runc run -d t1` and `crun run -d c1` in a bundle without
    /// `cgroupsPath`.
    #[test]
    fn finds_runc_and_crun_containers_by_cgroup() {
        let base = std::env::temp_dir().join(format!("nstrace-oci-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let roots = Roots::under(&base);
        let write = |p: &Path, v: Value| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v.to_string()).unwrap();
        };
        write(
            &roots.runc.join("t1/state.json"),
            json!({"id": "t1", "init_process_pid": 32370, "cgroup_paths": {
                "": "/sys/fs/cgroup/unified/t1",
                "pids": "/sys/fs/cgroup/pids/t1",
                "memory": "/sys/fs/cgroup/memory/process_api/1aa5b93685cab139192a4dddb7130d1f/t1"}}),
        );
        write(
            &roots.crun.join("c1/status"),
            json!({"pid": 372, "cgroup-path": "/c1", "scope": "", "bundle": "/tmp/ct"}),
        );
        let h = hybrid();
        let found = |hi, p| find(&roots, &h, hi, p).map(|m| m.container);
        assert_eq!(
            found(Hierarchy::V2, "/t1"),
            Some(Container::new(Runtime::Runc, "t1"))
        );
        assert_eq!(
            found(Hierarchy::V1, "/t1"),
            Some(Container::new(Runtime::Runc, "t1"))
        );
        assert_eq!(
            found(Hierarchy::V2, "/c1"),
            Some(Container::new(Runtime::Crun, "c1"))
        );
        assert_eq!(found(Hierarchy::V2, "/t2"), None);
        assert_eq!(found(Hierarchy::V2, "/"), None);
        std::fs::remove_dir_all(base).unwrap();
    }
}
