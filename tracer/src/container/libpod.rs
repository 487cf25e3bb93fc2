//! podman and CRI-O, which share containers/storage: its
//! `<driver>-containers/containers.json` lists every container with its
//! names and creation metadata (podman's name and image even for
//! `--rootfs` containers), and `<driver>-containers/<id>/userdata/config.json`
//! is the OCI spec the runtime ran, whose annotations tell podman
//! (`io.container.manager: libpod`) from CRI-O (`io.kubernetes.cri-o.*`) and
//! carry a pod's identity.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::bounded::{self, INDEX_CAP, STATE_CAP};
use super::state::{kube, oci_net_path, text, Meta, Roots};
use crate::schema::{Container, Runtime};

/// What containers/storage says about container `id`; `None` if it does
/// not know it. `hint` is the runtime the cgroup path named, if any.
pub fn lookup(roots: &Roots, id: &str, hint: Option<Runtime>) -> Option<Meta> {
    let drivers = container_dirs(&roots.storage);
    let entry = drivers.iter().find_map(|d| index_entry(d, id));
    let spec = drivers
        .iter()
        .chain(container_dirs(&roots.storage_run).iter())
        .find_map(|d| bounded::read_json(&d.join(id).join("userdata/config.json"), STATE_CAP).ok());
    if entry.is_none() && spec.is_none() {
        return None;
    }
    let annotations = spec
        .as_ref()
        .and_then(|s| s.get("annotations"))
        .unwrap_or(&Value::Null);
    let runtime = match text(annotations, "io.container.manager").as_deref() {
        Some("libpod") => Runtime::Podman,
        _ if text(annotations, "io.kubernetes.cri-o.ContainerType").is_some() => Runtime::CriO,
        _ => hint.unwrap_or(Runtime::Podman),
    };
    let mut c = Container::new(runtime, id);
    if let Some(e) = &entry {
        c.name = e
            .get("names")
            .and_then(Value::as_array)
            .and_then(|n| n.first())
            .and_then(Value::as_str)
            .map(str::to_string);
        // `metadata` is JSON inside a string.
        let md: Value = text(e, "metadata")
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        c.image = text(&md, "image-name");
        if c.name.is_none() {
            c.name = text(&md, "name");
        }
    }
    kube(&mut c, annotations);
    Some(Meta {
        container: c,
        net_path: spec.as_ref().and_then(oci_net_path),
    })
}

/// `<root>/<driver>-containers` for every storage driver present.
fn container_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(names) = bounded::list_dir(root) else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|n| n.to_str())
        .filter(|n| n.ends_with("-containers"))
        .map(|n| root.join(n))
        .collect()
}

fn index_entry(dir: &Path, id: &str) -> Option<Value> {
    let all = bounded::read_json(&dir.join("containers.json"), INDEX_CAP).ok()?;
    all.as_array()?
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(id))
        .cloned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ID: &str = "3e7b08afca89c4118e9a23dacadb5b6b76f500d2e2df0d3c30fd2fde4672ebdf";

    fn fixture(tag: &str) -> (PathBuf, Roots) {
        let base =
            std::env::temp_dir().join(format!("nstrace-libpod-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let roots = Roots::under(&base);
        (base, roots)
    }

    fn write(path: &Path, v: &Value) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec(v).unwrap()).unwrap();
    }

    /// As podman 4.3.1 left them on this host for `podman run --name web-1
    /// --rootfs DIR`.
    #[test]
    fn podman_rootfs_container() {
        let (base, roots) = fixture("podman");
        let dir = roots.storage.join("overlay-containers");
        write(
            &dir.join("containers.json"),
            &json!([{"id": ID, "names": ["web-1"], "image": "",
                "metadata": "{\"image-name\":\"\",\"image-id\":\"\",\"name\":\"web-1\",\"created-at\":1796034177}"}]),
        );
        write(
            &dir.join(ID).join("userdata/config.json"),
            &json!({"annotations": {"io.container.manager": "libpod",
                    "io.kubernetes.cri-o.Created": "2026-11-30T10:22:57.53105501Z",
                    "io.kubernetes.cri-o.TTY": "false"},
                "linux": {"namespaces": [{"type": "pid"},
                    {"type": "network", "path": "/run/netns/netns-b8d49c66-3fe4-9da9-7859-54e6902e73d2"}]}}),
        );
        let m = lookup(&roots, ID, Some(Runtime::Podman)).unwrap();
        assert_eq!(m.container.runtime, Runtime::Podman);
        assert_eq!(m.container.name.as_deref(), Some("web-1"));
        assert_eq!(m.container.image, None);
        assert_eq!(
            m.net_path.as_deref(),
            Some("/run/netns/netns-b8d49c66-3fe4-9da9-7859-54e6902e73d2")
        );
        assert_eq!(lookup(&roots, &"0".repeat(64), None), None);
        std::fs::remove_dir_all(base).unwrap();
    }

    /// CRI-O keeps the spec in the run root, with the pod's annotations.
    #[test]
    fn cri_o_pod_container() {
        let (base, roots) = fixture("crio");
        write(
            &roots.storage.join("overlay-containers/containers.json"),
            &json!([{"id": ID, "names": ["k8s_web_web-1_shop_9a1b_0"],
                "metadata": "{\"pod-name\":\"web-1\",\"image-name\":\"docker.io/library/nginx:1.25\",\"name\":\"k8s_web_web-1_shop_9a1b_0\"}"}]),
        );
        write(
            &roots
                .storage_run
                .join("overlay-containers")
                .join(ID)
                .join("userdata/config.json"),
            &json!({"annotations": {
                "io.kubernetes.cri-o.ContainerType": "container",
                "io.kubernetes.cri-o.ImageName": "docker.io/library/nginx:1.25",
                "io.kubernetes.container.name": "web",
                "io.kubernetes.pod.name": "web-1",
                "io.kubernetes.pod.namespace": "shop",
                "io.kubernetes.pod.uid": "9a1b"}}),
        );
        let c = lookup(&roots, ID, None).unwrap().container;
        assert_eq!(c.runtime, Runtime::CriO);
        assert_eq!(c.name.as_deref(), Some("web"));
        assert_eq!(c.image.as_deref(), Some("docker.io/library/nginx:1.25"));
        assert_eq!(
            (
                c.pod.as_deref(),
                c.pod_namespace.as_deref(),
                c.pod_uid.as_deref()
            ),
            (Some("web-1"), Some("shop"), Some("9a1b"))
        );
        std::fs::remove_dir_all(base).unwrap();
    }
}
