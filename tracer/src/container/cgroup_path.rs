//! What a cgroup path says about the container in it.
//!
//! Each runtime names its cgroups its own way, differently with the
//! systemd and cgroupfs cgroup drivers, and the same on cgroup v1 and v2
//! (the v1 path is the same in every controller hierarchy):
//!
//! | runtime | systemd driver | cgroupfs driver |
//! |---|---|---|
//! | docker | `/system.slice/docker-<id>.scope` | `/docker/<id>` |
//! | podman | `/machine.slice/libpod-<id>.scope[/container]` | `/libpod_parent/libpod-<id>` |
//! | containerd (CRI) | `/kubepods.slice/…-pod<uid>.slice/cri-containerd-<id>.scope` | `/kubepods/<qos>/pod<uid>/<id>` |
//! | CRI-O | `/kubepods.slice/…/crio-<id>.scope[/container]` | `/kubepods/<qos>/pod<uid>/<id>` |
//! | systemd-nspawn | `/machine.slice/machine-<name>.scope` (name escaped) | |
//! | LXC | `/lxc.payload.<name>` (LXC 4+) | `/lxc/<name>`, `/lxc.payload/<name>` |
//!
//! Conmon's own cgroups (`libpod-conmon-<id>.scope`, `crio-conmon-<id>.scope`)
//! and LXC's monitor (`lxc.monitor.<name>`) hold the runtime's helper, not
//! the container, and are no claim. A bare 64-hex component (the cgroupfs
//! shape of Kubernetes pods, ECS, and others) is a claim whose runtime is
//! found later from the runtimes' state. runc and crun run a container in
//! whatever cgroup its config names; those are matched against the
//! runtimes' state, not here.
//!
//! Components are read from the leaf up and the first claim wins, so a
//! nested container (docker in docker: `/docker/<outer>/docker/<inner>`)
//! is the innermost one.

use crate::schema::Runtime;

/// A container named by a cgroup path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathClaim {
    /// `None`: a container id with no runtime's mark (cgroupfs pods).
    pub runtime: Option<Runtime>,
    /// The runtime's full id, or the machine/container name for
    /// systemd-nspawn and LXC.
    pub id: String,
    /// The name, for runtimes whose cgroup carries it.
    pub name: Option<String>,
    /// The Kubernetes pod uid of a `pod<uid>` component above it.
    pub pod_uid: Option<String>,
}

/// The container `path` belongs to, if its path shows one.
pub fn parse(path: &str) -> Option<PathClaim> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate().rev() {
        let parent = i.checked_sub(1).map(|p| parts[p]);
        match component(part, parent) {
            Component::Claim(runtime, id, name) => {
                return Some(PathClaim {
                    runtime,
                    id,
                    name,
                    pod_uid: parts[..i].iter().rev().find_map(|p| pod_uid(p)),
                });
            }
            Component::Helper => return None,
            Component::Other => {}
        }
    }
    None
}

enum Component {
    Claim(Option<Runtime>, String, Option<String>),
    /// A runtime helper's own cgroup: nothing above it is this task's
    /// container either.
    Helper,
    Other,
}

fn component(part: &str, parent: Option<&str>) -> Component {
    let scoped = |prefix: &str| {
        part.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(".scope"))
            .filter(|id| is_id(id))
            .map(str::to_string)
    };
    if part.starts_with("libpod-conmon-")
        || part.starts_with("crio-conmon-")
        || part.starts_with("lxc.monitor.")
    {
        return Component::Helper;
    }
    let claims = [
        ("docker-", Runtime::Docker),
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::CriO),
        ("libpod-", Runtime::Podman),
    ];
    for (prefix, rt) in claims {
        if let Some(id) = scoped(prefix) {
            return Component::Claim(Some(rt), id, None);
        }
    }
    // podman's cgroupfs driver: /libpod_parent/libpod-<id>.
    if let Some(id) = part.strip_prefix("libpod-").filter(|id| is_id(id)) {
        return Component::Claim(Some(Runtime::Podman), id.to_string(), None);
    }
    if parent == Some("machine.slice") {
        if let Some(name) = part
            .strip_prefix("machine-")
            .and_then(|r| r.strip_suffix(".scope"))
        {
            let name = unescape_unit(name);
            return Component::Claim(Some(Runtime::Nspawn), name.clone(), Some(name));
        }
    }
    if let Some(name) = part.strip_prefix("lxc.payload.").filter(|n| !n.is_empty()) {
        return Component::Claim(Some(Runtime::Lxc), name.to_string(), Some(name.to_string()));
    }
    if matches!(parent, Some("lxc" | "lxc.payload")) {
        return Component::Claim(Some(Runtime::Lxc), part.to_string(), Some(part.to_string()));
    }
    if is_id(part) {
        let rt = (parent == Some("docker")).then_some(Runtime::Docker);
        return Component::Claim(rt, part.to_string(), None);
    }
    Component::Other
}

/// 64 lowercase hex digits: the id docker, podman, containerd and CRI-O give
/// every container.
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The pod uid of a Kubernetes pod cgroup: `pod<uid>` (cgroupfs driver) or
/// `kubepods[-<qos>]-pod<uid with _ for ->.slice` (systemd driver).
fn pod_uid(part: &str) -> Option<String> {
    if let Some(uid) = part.strip_prefix("pod") {
        return is_uid(uid).then(|| uid.to_string());
    }
    let rest = part.strip_prefix("kubepods")?.strip_suffix(".slice")?;
    let uid = rest.rsplit_once("-pod")?.1.replace('_', "-");
    is_uid(&uid).then_some(uid)
}

fn is_uid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Undoes systemd's unit-name escaping (`\x2d` for `-`, systemd-escape(1)).
fn unescape_unit(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 2..i + 4).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (b[i], b.get(i + 1), hex) {
            (b'\\', Some(b'x'), Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3e7b08afca89c4118e9a23dacadb5b6b76f500d2e2df0d3c30fd2fde4672ebdf";
    const ID2: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const UID: &str = "3f8a2b1c-9d4e-4f5a-8b6c-7d8e9f0a1b2c";

    fn claim(rt: Option<Runtime>, id: &str) -> Option<PathClaim> {
        Some(PathClaim {
            runtime: rt,
            id: id.to_string(),
            name: None,
            pod_uid: None,
        })
    }

    #[test]
    fn docker_both_drivers() {
        assert_eq!(
            parse(&format!("/docker/{ID}")),
            claim(Some(Runtime::Docker), ID)
        );
        assert_eq!(
            parse(&format!("/system.slice/docker-{ID}.scope")),
            claim(Some(Runtime::Docker), ID)
        );
        // Docker in docker: the inner one.
        assert_eq!(
            parse(&format!("/docker/{ID}/docker/{ID2}")),
            claim(Some(Runtime::Docker), ID2)
        );
        // v1 on this host's memory hierarchy sits under a prefix.
        assert_eq!(
            parse(&format!(
                "/process_api/1aa5b93685cab139192a4dddb7130d1f/docker/{ID}"
            )),
            claim(Some(Runtime::Docker), ID)
        );
    }

    #[test]
    fn podman_both_drivers_and_not_conmon() {
        // Seen on this host (cgroupfs driver, hybrid layout).
        assert_eq!(
            parse(&format!("/libpod_parent/libpod-{ID}")),
            claim(Some(Runtime::Podman), ID)
        );
        assert_eq!(
            parse(&format!("/machine.slice/libpod-{ID}.scope")),
            claim(Some(Runtime::Podman), ID)
        );
        assert_eq!(
            parse(&format!("/machine.slice/libpod-{ID}.scope/container")),
            claim(Some(Runtime::Podman), ID)
        );
        assert_eq!(
            parse(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
        assert_eq!(parse("/libpod_parent/conmon"), None);
        // Rootless podman under the user's systemd.
        assert_eq!(
            parse(&format!(
                "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
            )),
            claim(Some(Runtime::Podman), ID)
        );
    }

    #[test]
    fn kubernetes_pods_with_their_uid() {
        let mut c = claim(Some(Runtime::Containerd), ID).unwrap();
        c.pod_uid = Some(UID.into());
        let systemd_uid = UID.replace('-', "_");
        assert_eq!(
            parse(&format!(
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{systemd_uid}.slice/cri-containerd-{ID}.scope"
            )),
            Some(c.clone())
        );
        c.runtime = Some(Runtime::CriO);
        assert_eq!(
            parse(&format!(
                "/kubepods.slice/kubepods-pod{systemd_uid}.slice/crio-{ID}.scope/container"
            )),
            Some(c.clone())
        );
        assert_eq!(
            parse(&format!(
                "/kubepods.slice/kubepods-pod{systemd_uid}.slice/crio-conmon-{ID}.scope"
            )),
            None
        );
        // cgroupfs driver: no runtime mark, the id alone.
        c.runtime = None;
        assert_eq!(
            parse(&format!("/kubepods/besteffort/pod{UID}/{ID}")),
            Some(c.clone())
        );
        assert_eq!(parse(&format!("/kubepods/pod{UID}/{ID}")), Some(c));
        // The pod's own cgroup is not a container.
        assert_eq!(parse(&format!("/kubepods/besteffort/pod{UID}")), None);
    }

    #[test]
    fn machines_and_lxc_by_name() {
        let named = |rt, n: &str| {
            Some(PathClaim {
                runtime: Some(rt),
                id: n.into(),
                name: Some(n.into()),
                pod_uid: None,
            })
        };
        assert_eq!(
            parse("/machine.slice/machine-box1.scope"),
            named(Runtime::Nspawn, "box1")
        );
        assert_eq!(
            parse("/machine.slice/machine-web\\x2d1.scope/payload"),
            named(Runtime::Nspawn, "web-1")
        );
        assert_eq!(parse("/lxc.payload.c1"), named(Runtime::Lxc, "c1"));
        assert_eq!(
            parse("/lxc.payload.c1/init.scope"),
            named(Runtime::Lxc, "c1")
        );
        assert_eq!(parse("/lxc/c1"), named(Runtime::Lxc, "c1"));
        assert_eq!(parse("/lxc.payload/c1"), named(Runtime::Lxc, "c1"));
        assert_eq!(parse("/lxc.monitor.c1"), None);
    }

    #[test]
    fn ordinary_cgroups_are_no_container() {
        for p in [
            "/",
            "",
            "/user.slice/user-1000.slice/session-3.scope",
            "/system.slice/docker.service",
            "/system.slice/containerd.service",
            "/init.scope",
            "/t1",
            "/machine.slice",
            "/docker",
            // Not 64 hex digits.
            "/docker/3e7b08afca89",
            &format!("/docker/{}", ID.to_uppercase()),
        ] {
            assert_eq!(parse(p), None, "{p}");
        }
    }

    #[test]
    fn unescapes_unit_names() {
        assert_eq!(unescape_unit("a\\x2db\\x5c"), "a-b\\");
        assert_eq!(unescape_unit("trailing\\x2"), "trailing\\x2");
        assert_eq!(unescape_unit("plain"), "plain");
    }
}
