//! containerd: the bundle of each running task,
//! `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`
//! (`io.containerd.runtime.v1.linux` for the old shim). The CRI plugin
//! (namespace `k8s.io`) annotates the spec with the pod's name, namespace
//! and uid, the container's name and its image; nerdctl adds `nerdctl/name`.
//! docker's containers are in namespace `moby`.

use std::path::Path;

use serde_json::Value;

use super::bounded::{self, STATE_CAP};
use super::state::{kube, oci_net_path, text, Meta};
use crate::schema::{Container, Runtime};

const SHIMS: [&str; 2] = [
    "io.containerd.runtime.v2.task",
    "io.containerd.runtime.v1.linux",
];

/// What containerd's task state says about container `id`.
pub fn lookup(state: &Path, id: &str) -> Option<Meta> {
    for shim in SHIMS {
        let dir = state.join(shim);
        let Ok(namespaces) = bounded::list_dir(&dir) else {
            continue;
        };
        for ns in namespaces {
            let path = dir.join(&ns).join(id).join("config.json");
            if let Ok(spec) = bounded::read_json(&path, STATE_CAP) {
                return Some(meta(&spec, id, &ns.to_string_lossy()));
            }
        }
    }
    None
}

fn meta(spec: &Value, id: &str, namespace: &str) -> Meta {
    let runtime = if namespace == "moby" {
        Runtime::Docker
    } else {
        Runtime::Containerd
    };
    let mut c = Container::new(runtime, id);
    let annotations = spec.get("annotations").unwrap_or(&Value::Null);
    c.name = text(annotations, "nerdctl/name");
    kube(&mut c, annotations);
    // A pod's sandbox (pause) container: the pod is its identity.
    if text(annotations, "io.kubernetes.cri.container-type").as_deref() == Some("sandbox") {
        c.name = None;
    }
    Meta {
        container: c,
        net_path: oci_net_path(spec),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cri_annotations_and_sandboxes() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let spec = json!({
            "annotations": {
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": "nginx",
                "io.kubernetes.cri.image-name": "docker.io/library/nginx:1.25",
                "io.kubernetes.cri.sandbox-name": "nginx-7c5ddbdf54-x2x9v",
                "io.kubernetes.cri.sandbox-namespace": "shop",
                "io.kubernetes.cri.sandbox-uid": "3f8a2b1c-9d4e-4f5a-8b6c-7d8e9f0a1b2c"
            },
            "linux": {"namespaces": [{"type": "network",
                "path": "/proc/4242/ns/net"}]}
        });
        let m = meta(&spec, id, "k8s.io");
        assert_eq!(m.container.runtime, Runtime::Containerd);
        assert_eq!(m.container.name.as_deref(), Some("nginx"));
        assert_eq!(m.container.pod.as_deref(), Some("nginx-7c5ddbdf54-x2x9v"));
        assert_eq!(m.net_path.as_deref(), Some("/proc/4242/ns/net"));

        let sandbox = json!({
            "annotations": {
                "io.kubernetes.cri.container-type": "sandbox",
                "io.kubernetes.cri.sandbox-name": "nginx-7c5ddbdf54-x2x9v",
                "io.kubernetes.cri.sandbox-namespace": "shop"
            },
            "linux": {"namespaces": [{"type": "network",
                "path": "/var/run/netns/cni-5a3e1b52-8f0e-2a8a-0a1e-6c1f0e8d7b21"}]}
        });
        let m = meta(&sandbox, id, "k8s.io");
        assert_eq!(m.container.name, None);
        assert_eq!(m.container.pod_namespace.as_deref(), Some("shop"));
        assert_eq!(
            m.net_path.as_deref(),
            Some("/var/run/netns/cni-5a3e1b52-8f0e-2a8a-0a1e-6c1f0e8d7b21")
        );

        let m = meta(
            &json!({"annotations": {"nerdctl/name": "db"}}),
            id,
            "default",
        );
        assert_eq!(m.container.name.as_deref(), Some("db"));
        assert_eq!(
            meta(&json!({}), id, "moby").container.runtime,
            Runtime::Docker
        );
        assert_eq!(lookup(Path::new("/nonexistent"), id), None);
    }
}
