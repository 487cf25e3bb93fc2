//! Which records `trace` shows: by type and by process. `-p PID` follows
//! the process's descendants: children named by the records themselves
//! (`child_pid` of births and joins by clone, clone3 and fork), and any
//! other process whose parent chain in /proc leads to a followed one when
//! its record is read.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use tracer_common::NsType;

use crate::{ns_types_arg::parse_type_list, schema::Record};

/// Pids found not to descend from a followed one are remembered this
/// long: a pid can be reused by a process that does.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
const MAX_NEGATIVE: usize = 1 << 16;
/// Parent links followed up from a pid before giving up.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Bit per [`NsType`]; 0 means all types.
    types: u8,
    /// The pids asked for and their descendants seen so far.
    pids: HashSet<u32>,
    /// Pids seen not to descend from one of `pids`, and since when.
    strangers: HashSet<u32>,
    strangers_since: Option<Instant>,
}

impl Filter {
    pub fn new(types: Option<&str>, pids: &[u32]) -> Result<Filter> {
        let types = match types {
            Some(list) => parse_type_list(list)
                .map_err(|e| anyhow::anyhow!("--types: {e}"))?
                .into_iter()
                .fold(0u8, |m, t| m | t.bit()),
            None => 0,
        };
        Ok(Filter {
            types,
            pids: pids.iter().copied().collect(),
            ..Filter::default()
        })
    }

    /// True if the filter lets every record through.
    pub fn is_empty(&self) -> bool {
        self.types == 0 && self.pids.is_empty()
    }

    /// Records about no single namespace (lost, cleanup runs, header) pass
    /// the type filter; the pid filter keeps only records tied to a task,
    /// and learns the children they name.
    pub fn accepts(&mut self, r: &Record) -> bool {
        if !self.pids.is_empty() && !self.follows(r) {
            return false;
        }
        if self.types != 0 {
            if let Some(t) = r.ns_type {
                if self.types & t.bit() == 0 {
                    return false;
                }
            }
        }
        true
    }

    fn follows(&mut self, r: &Record) -> bool {
        let by_parent = match r.pid {
            Some(p) => self.pids.contains(&p) || self.descends(p),
            None => false,
        };
        if by_parent {
            // Its clones and forks: the new task is named by the record.
            if let Some(c) = r.child_pid {
                self.pids.insert(c);
            }
            return true;
        }
        r.child_pid.is_some_and(|c| self.pids.contains(&c))
    }

    /// Whether `pid` descends from a followed pid, by its parent chain in
    /// /proc; learnt either way. A process that has already exited cannot
    /// be placed and is not followed.
    fn descends(&mut self, pid: u32) -> bool {
        let now = Instant::now();
        if self.strangers.len() > MAX_NEGATIVE
            || self
                .strangers_since
                .is_some_and(|t| now.duration_since(t) > NEGATIVE_TTL)
        {
            self.strangers.clear();
            self.strangers_since = None;
        }
        if self.strangers.contains(&pid) {
            return false;
        }
        let mut chain = vec![pid];
        let mut at = pid;
        let found = loop {
            match parent_of(at) {
                Some(pp) if self.pids.contains(&pp) => break true,
                Some(pp) if pp > 1 && chain.len() < MAX_DEPTH && !self.strangers.contains(&pp) => {
                    chain.push(pp);
                    at = pp;
                }
                _ => break false,
            }
        };
        if found {
            self.pids.extend(chain);
        } else {
            self.strangers_since.get_or_insert(now);
            self.strangers.extend(chain);
        }
        found
    }

    /// Types the filter keeps, for messages.
    pub fn types(&self) -> Vec<NsType> {
        NsType::ALL
            .into_iter()
            .filter(|t| self.types == 0 || self.types & t.bit() != 0)
            .collect()
    }
}

/// The parent pid of a live process, from /proc/PID/stat (the field after
/// the state, which follows the last `)`: the command name may hold any).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::RecordKind;

    fn rec(t: &str, pid: u32, child: Option<u32>) -> Record {
        let mut r = Record::new(RecordKind::Birth, 0, String::new());
        r.ns_type = crate::ns_types_arg::parse_type(t);
        r.pid = Some(pid);
        r.child_pid = child;
        r
    }

    #[test]
    fn filters_by_type_and_pid() {
        let mut f = Filter::new(Some("net,user"), &[]).unwrap();
        assert!(f.accepts(&rec("net", 1, None)));
        assert!(!f.accepts(&rec("uts", 1, None)));
        let mut f = Filter::new(None, &[42]).unwrap();
        assert!(f.accepts(&rec("uts", 42, None)));
        assert!(f.accepts(&rec("uts", 1, Some(42))));
        assert!(!f.accepts(&rec("uts", 1, Some(7))));
        let err = Filter::new(Some("nett"), &[]).unwrap_err().to_string();
        assert!(
            err.starts_with("--types: unknown namespace type 'nett'"),
            "{err}"
        );
    }

    #[test]
    fn children_named_by_records_are_followed() {
        // Pids far above any pid_max: /proc cannot place them.
        let (me, child, grandchild) = (4_000_001, 4_000_002, 4_000_003);
        let mut f = Filter::new(None, &[me]).unwrap();
        assert!(!f.accepts(&rec("net", child, None)), "not known yet");
        assert!(f.accepts(&rec("net", me, Some(child))));
        assert!(f.accepts(&rec("net", child, Some(grandchild))));
        assert!(f.accepts(&rec("uts", grandchild, None)));
        assert!(!f.accepts(&rec("uts", 4_000_009, None)));
    }

    #[test]
    fn live_descendants_are_found_through_proc() {
        // This test process descends from its parent.
        let parent = std::os::unix::process::parent_id();
        let mut f = Filter::new(None, &[parent]).unwrap();
        assert!(f.accepts(&rec("net", std::process::id(), None)));
        let mut f = Filter::new(None, &[4_000_001]).unwrap();
        assert!(!f.accepts(&rec("net", std::process::id(), None)));
        assert!(!f.accepts(&rec("net", std::process::id(), None)), "cached");
    }
}
