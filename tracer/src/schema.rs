//! The JSON Lines record: one struct for every kind, the public contract of
//! docs/events.md in code. The tracer writes it, `report` reads it back.
//!
//! A flat struct with optional keys (rather than an enum per kind) keeps the
//! output stable when a kind gains a key, and lets a reader of an older
//! version skip keys it does not know.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// One thing that keeps a namespace alive, as `why` and `linger` report it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `task`, `thread`, `pid_for_children`, `time_for_children`, `fd`,
    /// `bind_mount`, `socket`, `tun`, `child_ns`, `owned_ns`, `mqueue_mount`,
    /// `proc_mount`, or (from the tracer alone) `unknown`.
    pub kind: String,
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
}

/// One line of nstrace's JSON output. See docs/events.md for every key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub ts: String,
    pub mono_ns: u64,
    pub event: RecordKind,

    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ns_type: Option<String>,
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
    pub via: Option<String>,
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
    pub lifetime_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_last_task_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holders: Option<Vec<Holder>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u32>,

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
            batch: None,
            inums: None,
            delays_ns: None,
            duration_ns: None,
            running_ns: None,
            lifetime_ns: None,
            exact: None,
            since_last_task_ns: None,
            holders: None,
            tasks: None,
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
    fn absent_keys_are_left_out() {
        let mut r = Record::new(
            RecordKind::Birth,
            5,
            "1970-01-01T00:00:00.000000005Z".into(),
        );
        r.ns_type = Some("net".into());
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
