//! docker: `<data-root>/containers/<id>/config.v2.json`, which dockerd
//! writes at `docker create`, before the container's namespaces exist.

use std::path::Path;

use serde_json::Value;

use super::bounded::{self, STATE_CAP};
use super::state::{kube, text, Meta};
use crate::schema::{Container, Runtime};

/// docker's data root: `data-root` in /etc/docker/daemon.json if set there,
/// else the default.
pub fn data_root() -> std::path::PathBuf {
    bounded::read_json(Path::new("/etc/docker/daemon.json"), STATE_CAP)
        .ok()
        .and_then(|v| text(&v, "data-root"))
        .filter(|p| p.starts_with('/'))
        .map_or_else(|| "/var/lib/docker".into(), Into::into)
}

/// What docker's state says about container `id`; `None` if docker does
/// not know it.
pub fn lookup(root: &Path, id: &str) -> Option<Meta> {
    let path = root.join("containers").join(id).join("config.v2.json");
    let v = bounded::read_json(&path, STATE_CAP).ok()?;
    Some(meta(&v, id))
}

fn meta(v: &Value, id: &str) -> Meta {
    let mut c = Container::new(Runtime::Docker, text(v, "ID").unwrap_or_else(|| id.into()));
    // Docker names start with '/' (`/web-1`); `docker ps` shows them without.
    c.name = text(v, "Name").map(|n| n.trim_start_matches('/').to_string());
    let config = v.get("Config").unwrap_or(&Value::Null);
    c.image = text(config, "Image");
    if let Some(labels) = config.get("Labels") {
        kube(&mut c, labels);
    }
    Meta {
        container: c,
        net_path: v
            .pointer("/NetworkSettings/SandboxKey")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The keys of a config.v2.json written by docker.io 20.10 on this host.
    #[test]
    fn reads_name_image_and_sandbox() {
        let id = "8c4c00752dad639582dcc7ee460a3c58bd33f8407410ae409f5b56f9b5c77304";
        let v = json!({
            "ID": id,
            "Name": "/web-1",
            "Image": "sha256:33d122ef91f6f0690e5ebaa6f2c10addbb0edb80d4d3402d0473bf628d03571b",
            "Config": {"Image": "nstrace-busybox:test", "Labels": {}},
            "NetworkSettings": {"SandboxKey": "/var/run/docker/netns/76c9ca42656d"},
            "State": {"Pid": 14355}
        });
        let m = meta(&v, id);
        assert_eq!(m.container.id, id);
        assert_eq!(m.container.name.as_deref(), Some("web-1"));
        assert_eq!(m.container.image.as_deref(), Some("nstrace-busybox:test"));
        assert_eq!(m.container.runtime, Runtime::Docker);
        assert_eq!(
            m.net_path.as_deref(),
            Some("/var/run/docker/netns/76c9ca42656d")
        );
        // Not there: no answer, no error.
        assert_eq!(lookup(Path::new("/nonexistent"), id), None);
    }
}
