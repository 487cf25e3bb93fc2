//! The JSON Lines record: one struct for every kind, the public contract of
//! docs/events.md in code. The tracer writes it, `report` reads it back.
//!
//! A flat struct with optional keys (rather than an enum per kind) keeps the
//! output stable when a kind gains a key, and lets a reader of an older
//! version skip keys it does not know.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracer_common::{NsType, Via};

/// The `event` key. Serialized in snake_case; new kinds are only ever added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Header,
    Present,
    Birth,
    Join,
    Evict,
    Put,
    CleanupStart,
    CleanupEnd,
    CleanupSlow,
    Death,
    Linger,
    Lost,
}

impl RecordKind {
    pub const ALL: [RecordKind; 12] = [
        RecordKind::Header,
        RecordKind::Present,
        RecordKind::Birth,
        RecordKind::Join,
        RecordKind::Evict,
        RecordKind::Put,
        RecordKind::CleanupStart,
        RecordKind::CleanupEnd,
        RecordKind::CleanupSlow,
        RecordKind::Death,
        RecordKind::Linger,
        RecordKind::Lost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Header => "header",
            RecordKind::Present => "present",
            RecordKind::Birth => "birth",
            RecordKind::Join => "join",
            RecordKind::Evict => "evict",
            RecordKind::Put => "put",
            RecordKind::CleanupStart => "cleanup_start",
            RecordKind::CleanupEnd => "cleanup_end",
            RecordKind::CleanupSlow => "cleanup_slow",
            RecordKind::Death => "death",
            RecordKind::Linger => "linger",
            RecordKind::Lost => "lost",
        }
    }

    pub fn from_name(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// What kind of thing holds a namespace. Serialized in snake_case; kinds
/// are only ever added.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum HolderKind {
    /// A process whose main thread is in the namespace.
    Task,
    /// A thread, other than the main one, that is in it.
    Thread,
    /// A process whose next children will be in it (pid namespace).
    PidForChildren,
    /// A process whose next children will be in it (time namespace).
    TimeForChildren,
    /// An open file descriptor of a `/proc/PID/ns/*` file.
    Fd,
    /// An nsfs file bind-mounted somewhere (`ip netns add`).
    BindMount,
    /// A socket created in the namespace (net).
    Socket,
    /// A tun/tap file descriptor attached in the namespace (net).
    Tun,
    /// A child pid or user namespace.
    ChildNs,
    /// A namespace owned by this user namespace.
    OwnedNs,
    /// An mqueue filesystem mount of the namespace (ipc).
    MqueueMount,
    /// A procfs mount of the namespace (pid).
    ProcMount,
    /// The tracer saw it alive but no scan named what holds it.
    #[default]
    Unknown,
}

impl HolderKind {
    pub const ALL: [HolderKind; 13] = [
        HolderKind::Task,
        HolderKind::Thread,
        HolderKind::PidForChildren,
        HolderKind::TimeForChildren,
        HolderKind::Fd,
        HolderKind::BindMount,
        HolderKind::Socket,
        HolderKind::Tun,
        HolderKind::ChildNs,
        HolderKind::OwnedNs,
        HolderKind::MqueueMount,
        HolderKind::ProcMount,
        HolderKind::Unknown,
    ];

    /// The `kind` value in JSON.
    pub fn name(self) -> &'static str {
        match self {
            HolderKind::Task => "task",
            HolderKind::Thread => "thread",
            HolderKind::PidForChildren => "pid_for_children",
            HolderKind::TimeForChildren => "time_for_children",
            HolderKind::Fd => "fd",
            HolderKind::BindMount => "bind_mount",
            HolderKind::Socket => "socket",
            HolderKind::Tun => "tun",
            HolderKind::ChildNs => "child_ns",
            HolderKind::OwnedNs => "owned_ns",
            HolderKind::MqueueMount => "mqueue_mount",
            HolderKind::ProcMount => "proc_mount",
            HolderKind::Unknown => "unknown",
        }
    }

    /// A mount of some filesystem, which has a mount point.
    pub fn is_mount(self) -> bool {
        matches!(
            self,
            HolderKind::BindMount | HolderKind::MqueueMount | HolderKind::ProcMount
        )
    }
}

impl std::fmt::Display for HolderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The container runtime that made a container. Serialized in lowercase
/// (`cri-o`, `systemd-nspawn` with their dashes); runtimes are only ever
/// added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Runtime {
    #[serde(rename = "docker")]
    Docker,
    #[serde(rename = "podman")]
    Podman,
    #[serde(rename = "containerd")]
    Containerd,
    #[serde(rename = "cri-o")]
    CriO,
    #[serde(rename = "systemd-nspawn")]
    Nspawn,
    #[serde(rename = "lxc")]
    Lxc,
    #[serde(rename = "runc")]
    Runc,
    #[serde(rename = "crun")]
    Crun,
    /// A container id in a cgroup path that no runtime on this host claims
    /// (its state is gone, or its runtime keeps it where nstrace does not
    /// look).
    #[serde(rename = "unknown")]
    Unknown,
}

impl Runtime {
    pub const ALL: [Runtime; 9] = [
        Runtime::Docker,
        Runtime::Podman,
        Runtime::Containerd,
        Runtime::CriO,
        Runtime::Nspawn,
        Runtime::Lxc,
        Runtime::Runc,
        Runtime::Crun,
        Runtime::Unknown,
    ];

    /// The `runtime` value in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Nspawn => "systemd-nspawn",
            Runtime::Lxc => "lxc",
            Runtime::Runc => "runc",
            Runtime::Crun => "crun",
            Runtime::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The container a task or namespace belongs to: the `container` object of
/// records and holders. Only what is known appears.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Container {
    /// The runtime's own full id: 64 hex digits for docker, podman,
    /// containerd and CRI-O; the machine or container name for
    /// systemd-nspawn and LXC; the id given to `runc`/`crun`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub runtime: Runtime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Kubernetes pod name, namespace and uid, from the container's
    /// `io.kubernetes.*` labels or annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
}

impl Container {
    /// A container known only by runtime and id.
    pub fn new(runtime: Runtime, id: impl Into<String>) -> Container {
        Container {
            id: id.into(),
            name: None,
            runtime,
            image: None,
            pod: None,
            pod_namespace: None,
            pod_uid: None,
        }
    }

    /// What to call it in one short column: its name, else its id, a
    /// 64-hex one cut to 12 digits as `docker ps` shows them.
    pub fn short_name(&self) -> &str {
        match &self.name {
            Some(n) => n,
            None if self.id.len() == 64 && self.id.bytes().all(|b| b.is_ascii_hexdigit()) => {
                &self.id[..12]
            }
            None => &self.id,
        }
    }

    /// For a sentence: `web-1 (docker)`, `nginx (containerd, pod
    /// shop/nginx-7c5d)`.
    pub fn label(&self) -> String {
        match (&self.pod, &self.pod_namespace) {
            (Some(pod), Some(ns)) => {
                format!("{} ({}, pod {ns}/{pod})", self.short_name(), self.runtime)
            }
            (Some(pod), None) => format!("{} ({}, pod {pod})", self.short_name(), self.runtime),
            _ => format!("{} ({})", self.short_name(), self.runtime),
        }
    }
}

/// Why a `death` record was written without the kernel's word for that
/// lifetime (`end`). Serialized in snake_case; values are only ever added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeathEnd {
    /// Its inode number was born again and no death had been seen: it died
    /// at or before this record's time (the birth that reused it).
    Reused,
    /// The kernel reported a death that could not be tied to one lifetime
    /// (no known namespace had its address or id, and another lifetime holds
    /// its number): it is charged to none, so `gen` is absent.
    Unidentified,
}

impl DeathEnd {
    pub const ALL: [DeathEnd; 2] = [DeathEnd::Reused, DeathEnd::Unidentified];

    /// The `end` value in JSON.
    pub fn name(self) -> &'static str {
        match self {
            DeathEnd::Reused => "reused",
            DeathEnd::Unidentified => "unidentified",
        }
    }
}

/// One thing that keeps a namespace alive, as `why` and `linger` report it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub kind: HolderKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Free text: the mount namespace of a bind mount, a tun interface name,
    /// the type and inode of a child namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The container of the process `pid`, when it is in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Arc<Container>>,
    /// For a mount holder: every mount point of the same filesystem in that
    /// mount namespace (one superblock holds the namespace once, however
    /// many times it is bind-mounted); `path` is the first of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_points: Option<Vec<String>>,
}

/// One line of nstrace's JSON output. See docs/events.md for every key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub ts: String,
    pub mono_ns: u64,
    pub event: RecordKind,

    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ns_type: Option<NsType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inum: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ns_id: Option<u64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_tid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<u64>,
    /// Births and joins: the creating task's cgroup2 id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_id: Option<u64>,
    /// Births and joins: the creating task's cgroup id on the cgroup v1
    /// hierarchy the tracer watches. Only the container resolver reads it:
    /// it means nothing without knowing which hierarchy, so it is not
    /// written out.
    #[serde(skip)]
    pub cgroup1_id: Option<u64>,
    /// The container the namespace was made or entered in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Arc<Container>>,
    /// Net records: the path of a bind mount that names this net
    /// (`/run/netns/NAME`, `/run/docker/netns/SANDBOX`), once it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_name: Option<String>,
    /// Births made by a short-lived runtime helper (`runc:[1:CHILD]`): the
    /// first lasting task in the namespace, the container's init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_comm: Option<String>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inums: Option<Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delays_ns: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_partial: Option<bool>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DeathEnd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_last_task_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holders: Option<Vec<Holder>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u32>,

    /// `lost` records about runs the kernel skipped: the eBPF program
    /// whose runs they were (`count` and `total` are then its runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_offset_ns: Option<i64>,
}

impl Record {
    /// A record of `event` at `mono_ns` with every optional key absent.
    pub fn new(event: RecordKind, mono_ns: u64, ts: String) -> Record {
        Record {
            ts,
            mono_ns,
            event,
            ns_type: None,
            inum: None,
            gen: None,
            ns_id: None,
            pid: None,
            tid: None,
            comm: None,
            via: None,
            flags: None,
            child_pid: None,
            child_tid: None,
            owner: None,
            parent: None,
            cookie: None,
            cgroup_id: None,
            cgroup1_id: None,
            container: None,
            net_name: None,
            init_pid: None,
            init_comm: None,
            batch: None,
            inums: None,
            delays_ns: None,
            duration_ns: None,
            running_ns: None,
            walk_partial: None,
            lifetime_ns: None,
            exact: None,
            end: None,
            within_ns: None,
            since_last_task_ns: None,
            holders: None,
            tasks: None,
            program: None,
            count: None,
            total: None,
            version: None,
            kernel: None,
            methods: None,
            start: None,
            boot_offset_ns: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_match_serde() {
        for k in RecordKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.name()));
            assert_eq!(RecordKind::from_name(k.name()), Some(k));
        }
    }

    #[test]
    fn death_end_names_match_serde() {
        for e in DeathEnd::ALL {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.name()));
        }
    }

    #[test]
    fn holder_kind_names_match_serde() {
        for k in HolderKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.name()));
        }
    }

    #[test]
    fn type_and_via_use_their_names() {
        for t in NsType::ALL {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.name())
            );
        }
        for n in 0..8 {
            let v = Via::from_u32(n).unwrap();
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.name())
            );
        }
        assert!(serde_json::from_str::<NsType>("\"netns\"").is_err());
    }

    #[test]
    fn runtime_names_match_serde() {
        for rt in Runtime::ALL {
            assert_eq!(
                serde_json::to_string(&rt).unwrap(),
                format!("\"{}\"", rt.name())
            );
        }
    }

    #[test]
    fn container_keys_appear_only_when_known() {
        let mut c = Container::new(Runtime::Docker, "f".repeat(64));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            format!(r#"{{"id":"{}","runtime":"docker"}}"#, "f".repeat(64))
        );
        assert_eq!(c.short_name(), "ffffffffffff");
        assert_eq!(
            Container::new(Runtime::Runc, "nstrace-test-r1").short_name(),
            "nstrace-test-r1"
        );
        c.name = Some("web-1".into());
        assert_eq!(c.short_name(), "web-1");
        assert_eq!(c.label(), "web-1 (docker)");
        let mut k = c.clone();
        k.pod = Some("web-7c5d".into());
        k.pod_namespace = Some("shop".into());
        assert_eq!(k.label(), "web-1 (docker, pod shop/web-7c5d)");
        let mut r = Record::new(RecordKind::Birth, 5, "t".into());
        r.cgroup1_id = Some(7);
        r.container = Some(c.clone().into());
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("cgroup1"), "{line}");
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back.container, Some(c.into()));
    }

    #[test]
    fn absent_keys_are_left_out() {
        let mut r = Record::new(
            RecordKind::Birth,
            5,
            "1970-01-01T00:00:00.000000005Z".into(),
        );
        r.ns_type = Some(NsType::Net);
        r.inum = Some(4026532115);
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            r#"{"ts":"1970-01-01T00:00:00.000000005Z","mono_ns":5,"event":"birth","type":"net","inum":4026532115}"#
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }
}
