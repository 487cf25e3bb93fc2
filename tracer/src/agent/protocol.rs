//! The query socket's protocol (docs/agent.md): one JSON request, one JSON
//! response, one connection each. Each is one line ending in `\n` (or the
//! end of the stream, for the request).

use serde::{Deserialize, Serialize};
use tracer_common::NsType;

/// Requests larger than this are refused.
pub const MAX_REQUEST: usize = 64 << 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// What the agent knows about a namespace number: of one type, or of
    /// every type that has it.
    Why {
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        ns_type: Option<NsType>,
        inum: u32,
    },
    /// The agent itself: version, since when it knows, what it holds.
    Status,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<NsHistory>>,
}

impl Response {
    pub fn error(what: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(what.into()),
            ..Response::default()
        }
    }
}

/// An instant, as wall-clock text and as CLOCK_BOOTTIME (the `mono_ns` of
/// the log's records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub ts: String,
    pub mono_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub version: String,
    pub pid: u32,
    /// When this run of the agent started.
    pub started: String,
    /// The oldest record the agent's history holds, from this run or its
    /// log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_since: Option<Stamp>,
    /// Runs of the agent whose records it holds, this one included.
    pub runs: usize,
    /// Records written by this run.
    pub records: u64,
    /// Records lost by this run (the kernel's ring buffer was full).
    pub lost: u64,
    /// Every eBPF program this run attached, with the runs of it the
    /// kernel skipped (their records are lost too).
    #[serde(default)]
    pub skipped: std::collections::BTreeMap<String, u64>,
    /// Namespaces alive as the engine sees them.
    pub live: usize,
    /// Earlier lifetimes kept in the history.
    pub earlier: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// Everything known about one (type, inode number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsHistory {
    #[serde(rename = "type")]
    pub ns_type: NsType,
    pub inum: u32,
    /// The lifetime alive now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Lifetime>,
    /// Earlier lifetimes of the same number, newest first.
    pub earlier: Vec<Lifetime>,
}

/// A process that made or entered a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub pid: u32,
    pub comm: String,
    pub via: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Join {
    pub at: Stamp,
    #[serde(flatten)]
    pub by: Actor,
}

/// Where a net namespace is in the kernel's deferred cleanup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleanup {
    /// `queued`: its last reference was dropped and no cleanup run has
    /// taken it yet; `running`: a run took it and has not ended; `ended`: the
    /// run that took it ended and its death was not seen.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Stamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Stamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linger {
    pub at: Stamp,
    pub since_last_task_ns: u64,
    /// Holders the linger record named.
    pub holders: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub at: Stamp,
    /// `death`: its death was seen; `number_reused`: a new namespace got its
    /// number, so it had died unseen; `while_not_recording`: it was gone when
    /// the next run of the agent started.
    pub how: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_ns: Option<u64>,
}

/// One lifetime of a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifetime {
    /// The generation the run that saw it gave it.
    pub gen: u32,
    /// `born` (its birth was recorded), `present` (alive when a run
    /// started), `unseen` (first seen through a later event).
    pub origin: String,
    /// Its birth, or when it was first seen.
    pub opened: Stamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born_by: Option<Actor>,
    /// The start of the run of the agent that saw it open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_started: Option<String>,
    /// Opened in an earlier run of the agent, and found alive by this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub carried_over: bool,
    pub joins: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_join: Option<Join>,
    /// Tasks in it at the latest /proc scan (live ones only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_task_left: Option<Stamp>,
    pub puts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_put: Option<Stamp>,
    pub evicts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_evict: Option<Stamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<Cleanup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lingered: Option<Linger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_and_strict() {
        let r: Request =
            serde_json::from_str(r#"{"request":"why","type":"net","inum":5}"#).unwrap();
        assert_eq!(
            r,
            Request::Why {
                ns_type: Some(NsType::Net),
                inum: 5
            }
        );
        let r: Request = serde_json::from_str(r#"{"request":"why","inum":5}"#).unwrap();
        assert_eq!(
            r,
            Request::Why {
                ns_type: None,
                inum: 5
            }
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"request":"status"}"#).unwrap(),
            Request::Status
        );
        for bad in [
            r#"{"request":"why"}"#,
            r#"{"request":"why","inum":-1}"#,
            r#"{"request":"why","inum":5,"type":"netns"}"#,
            r#"{"request":"why","inum":5,"extra":1}"#,
            r#"{"request":"shutdown"}"#,
            r#"[1,2]"#,
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
    }
}
