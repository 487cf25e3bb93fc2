//! Where each runtime keeps its local state, and what is read from it.
//!
//! Only local files are read: no socket round trip that could hang on a
//! wedged daemon, no network, and a runtime that is not installed is simply
//! a directory that does not exist. Every read is bounded (see `bounded`).

use std::path::PathBuf;

use serde_json::Value;

use crate::schema::Container;

/// The state directories, one field per runtime; tests point them at
/// fixtures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roots {
    /// docker's data root: `containers/<id>/config.v2.json`.
    pub docker: PathBuf,
    /// containers/storage (podman, CRI-O): the graph root, with
    /// `<driver>-containers/containers.json` and `<id>/userdata/config.json`.
    pub storage: PathBuf,
    /// containers/storage's run root (CRI-O keeps `userdata` there).
    pub storage_run: PathBuf,
    /// containerd's state: `io.containerd.runtime.v2.task/<ns>/<id>/config.json`.
    pub containerd: PathBuf,
    /// runc state roots (`<root>/<id>/state.json`): runc's own, docker's
    /// and containerd's (one more level: `<root>/<ns>/<id>`).
    pub runc: PathBuf,
    pub runc_docker: PathBuf,
    pub runc_containerd: PathBuf,
    /// crun's (`<root>/<id>/status`).
    pub crun: PathBuf,
    /// systemd-machined's machine files (`<name>`: `ROOT=`, `SERVICE=`).
    pub machines: PathBuf,
}

impl Roots {
    /// The default locations every distro package uses (and docker's
    /// `data-root` if its daemon.json moves it).
    pub fn host() -> Roots {
        Roots {
            docker: super::docker::data_root(),
            storage: "/var/lib/containers/storage".into(),
            storage_run: "/run/containers/storage".into(),
            containerd: "/run/containerd".into(),
            runc: "/run/runc".into(),
            runc_docker: "/run/docker/runtime-runc/moby".into(),
            runc_containerd: "/run/containerd/runc".into(),
            crun: "/run/crun".into(),
            machines: "/run/systemd/machines".into(),
        }
    }

    /// Every root below `base` as the host has them below `/`.
    #[cfg(test)]
    pub fn under(base: &std::path::Path) -> Roots {
        let h = Roots::host();
        let re = |p: PathBuf| base.join(p.strip_prefix("/").expect("absolute"));
        Roots {
            docker: re(h.docker),
            storage: re(h.storage),
            storage_run: re(h.storage_run),
            containerd: re(h.containerd),
            runc: re(h.runc),
            runc_docker: re(h.runc_docker),
            runc_containerd: re(h.runc_containerd),
            crun: re(h.crun),
            machines: re(h.machines),
        }
    }
}

/// What a runtime's state says about one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub container: Container,
    /// The net namespace file the runtime put the container in, when it
    /// names one (`/run/netns/…`, `/var/run/docker/netns/…`): how a named
    /// net is tied to its container.
    pub net_path: Option<String>,
}

/// A string field of a JSON object, if present and not empty.
pub fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Kubernetes identity from a container's labels (docker, CRI-O) or OCI
/// annotations (containerd's CRI plugin, CRI-O): pod name, namespace, uid,
/// the container's name in the pod, and its image.
pub fn kube(container: &mut Container, labels: &Value) {
    let first = |keys: &[&str]| keys.iter().find_map(|k| text(labels, k));
    container.pod = container
        .pod
        .take()
        .or_else(|| first(&["io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"]));
    container.pod_namespace = container.pod_namespace.take().or_else(|| {
        first(&[
            "io.kubernetes.pod.namespace",
            "io.kubernetes.cri.sandbox-namespace",
        ])
    });
    container.pod_uid = container
        .pod_uid
        .take()
        .or_else(|| first(&["io.kubernetes.pod.uid", "io.kubernetes.cri.sandbox-uid"]));
    // In a pod the Kubernetes container name is the one people know; the
    // runtime's own name (k8s_web_pod_ns_uid_0) is generated from it.
    if let Some(n) = first(&[
        "io.kubernetes.container.name",
        "io.kubernetes.cri.container-name",
    ]) {
        container.name = Some(n);
    }
    container.image = container.image.take().or_else(|| {
        first(&[
            "io.kubernetes.cri.image-name",
            "io.kubernetes.cri-o.ImageName",
        ])
    });
}

/// The path of the net namespace an OCI runtime spec joins, if it names one.
pub fn oci_net_path(spec: &Value) -> Option<String> {
    spec.pointer("/linux/namespaces")?
        .as_array()?
        .iter()
        .find(|n| n.get("type").and_then(Value::as_str) == Some("network"))
        .and_then(|n| text(n, "path"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::Runtime;

    #[test]
    fn kube_labels_of_docker_cri_o_and_containerd() {
        let mut c = Container::new(Runtime::Docker, "x");
        c.name = Some("k8s_web_web-1_default_uid_0".into());
        kube(
            &mut c,
            &json!({
                "io.kubernetes.pod.name": "web-1",
                "io.kubernetes.pod.namespace": "default",
                "io.kubernetes.pod.uid": "3f8a2b1c-9d4e-4f5a-8b6c-7d8e9f0a1b2c",
                "io.kubernetes.container.name": "web",
            }),
        );
        assert_eq!(c.name.as_deref(), Some("web"));
        assert_eq!(c.pod.as_deref(), Some("web-1"));
        assert_eq!(c.pod_namespace.as_deref(), Some("default"));
        assert!(c.pod_uid.is_some());

        let mut c = Container::new(Runtime::Containerd, "y");
        kube(
            &mut c,
            &json!({
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": "nginx",
                "io.kubernetes.cri.sandbox-name": "nginx-7c5ddbdf54-x2x9v",
                "io.kubernetes.cri.sandbox-namespace": "shop",
                "io.kubernetes.cri.sandbox-uid": "9a1b",
                "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.25",
            }),
        );
        assert_eq!(c.name.as_deref(), Some("nginx"));
        assert_eq!(c.pod.as_deref(), Some("nginx-7c5ddbdf54-x2x9v"));
        assert_eq!(c.pod_namespace.as_deref(), Some("shop"));
        assert_eq!(c.image.as_deref(), Some("docker.io/library/nginx:1.25"));

        // No labels: nothing changes.
        let mut c = Container::new(Runtime::Podman, "z");
        kube(&mut c, &json!({"io.container.manager": "libpod"}));
        assert_eq!(c, Container::new(Runtime::Podman, "z"));
    }

    #[test]
    fn net_path_of_an_oci_spec() {
        // As podman 4.3 wrote it on this host.
        let spec = json!({"linux": {"namespaces": [
            {"type": "pid"},
            {"type": "network", "path": "/run/netns/netns-b8d49c66-3fe4-9da9-7859-54e6902e73d2"},
            {"type": "ipc"}
        ]}});
        assert_eq!(
            oci_net_path(&spec).as_deref(),
            Some("/run/netns/netns-b8d49c66-3fe4-9da9-7859-54e6902e73d2")
        );
        assert_eq!(
            oci_net_path(&json!({"linux": {"namespaces": [{"type": "network"}]}})),
            None
        );
    }
}
