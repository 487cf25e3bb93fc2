//! What `report` found, in one value: the text, JSON and SVG renderers all
//! draw from it. Its serde form is the `--json` output.

use std::collections::BTreeMap;

use serde::Serialize;

use super::percentile::Spread;
use crate::schema::Holder;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// The logs read, oldest first.
    pub files: Vec<String>,
    /// Times of the first and last record counted.
    pub first: Option<String>,
    pub last: Option<String>,
    /// Records counted (after `--since`/`--until`/`-t`).
    pub records: u64,
    /// One per tracer run found (rotated files continue a run).
    pub sessions: Vec<Session>,
    /// kind → namespace type (`-` for kinds without one) → records.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// type → birth-to-death lifetimes of namespaces whose death was seen.
    pub lifetimes: BTreeMap<String, Spread>,
    /// type → `put` to `death` latency.
    pub put_to_death: BTreeMap<String, Spread>,
    pub cleanup_net: Cleanup,
    /// Namespaces with no death by the end of the log, oldest first, of
    /// types whose deaths their run could see.
    pub alive_at_end: Vec<Lifetime>,
    /// Namespaces with no death by the end of the log whose type's deaths
    /// their run could not see (uts with tracepoint methods): not known to
    /// be alive. Each says why in `end`.
    pub end_not_observable: Vec<Lifetime>,
    /// Namespaces with a `linger` record, whether or not they died later.
    pub lingered: Vec<Lifetime>,
    /// type → namespaces whose end the log cannot tell, whatever the cause
    /// (`unknown_ends` has them by cause).
    pub end_unknown: BTreeMap<String, u64>,
    /// Namespaces whose end the log cannot tell, by type and cause.
    pub unknown_ends: Vec<UnknownEnd>,
    /// type (`-` if none) → deaths the tracer could tie to no lifetime
    /// (`end: unidentified`).
    pub unidentified_deaths: BTreeMap<String, u64>,
    pub top_creators_by_comm: Vec<Count>,
    pub top_creators_by_via: Vec<Count>,
    pub lost: Lost,
    /// Where the log may miss records, oldest first.
    pub untrusted: Vec<Period>,
    /// Lines and files that could not be used, as `file:line: what`.
    pub problems: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Session {
    pub start: String,
    pub version: String,
    pub kernel: String,
    pub methods: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cleanup {
    pub runs: u64,
    pub slow_runs: u64,
    /// Each net's `put` to the start of the `cleanup_net` run that freed it.
    pub put_to_start: Option<Spread>,
    /// Length of each run.
    pub duration: Option<Spread>,
    /// The run with the longest duration.
    pub longest_batch: Option<u64>,
    /// The net that waited longest for its run.
    pub longest_wait_inum: Option<u32>,
}

/// One namespace's lifetime, as far as the log tells it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Lifetime {
    #[serde(rename = "type")]
    pub ns_type: String,
    pub inum: u32,
    pub gen: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_id: Option<u64>,
    /// Birth time; absent for a namespace `present` when tracing began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub born: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<Creator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub died: Option<String>,
    /// Birth to death, or to the end of the log if it did not die.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linger: Option<Linger>,
    /// Why its end is not known, when it is not: "end not observable (uts
    /// deaths are not visible with tracepoint methods)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// For ordering only.
    #[serde(skip)]
    pub born_mono: Option<u64>,
}

/// Why the log cannot tell how a namespace ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCause {
    /// The run's hooks could not see this type's deaths.
    NotObservable,
    /// Records were lost while it lived; its death may be among them.
    RecordsLost,
    /// nstrace stopped while it lived, and the next run could not follow it.
    TracerRestarted,
    /// Its number was born again with no death seen and nothing lost.
    NoDeathSeen,
}

impl UnknownCause {
    pub fn words(self) -> &'static str {
        match self {
            UnknownCause::NotObservable => "not observable",
            UnknownCause::RecordsLost => "records lost",
            UnknownCause::TracerRestarted => "tracer restarted",
            UnknownCause::NoDeathSeen => "no death seen",
        }
    }
}

/// Namespaces of one type whose end is unknown for one reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnknownEnd {
    #[serde(rename = "type")]
    pub ns_type: String,
    pub cause: UnknownCause,
    pub count: u64,
    /// The cause in words, with its period: "3 events lost from … to …".
    pub why: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Creator {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Linger {
    /// When the `linger` record was written.
    pub at: String,
    pub since_last_task_ns: u64,
    pub holders: Vec<Holder>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Count {
    pub name: String,
    pub births: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Lost {
    /// `lost` records seen.
    pub records: u64,
    /// Events lost, the sum of their `count`s.
    pub events: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Period {
    pub from: String,
    pub to: String,
    pub why: String,
}
