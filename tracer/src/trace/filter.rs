//! Which records `trace` shows: by type and by process.

use anyhow::Result;
use tracer_common::NsType;

use crate::{ns_types_arg::parse_type_list, schema::Record};

#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Bit per [`NsType`]; 0 means all types.
    types: u8,
    pids: Vec<u32>,
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
            pids: pids.to_vec(),
        })
    }

    /// True if the filter lets every record through.
    pub fn is_empty(&self) -> bool {
        self.types == 0 && self.pids.is_empty()
    }

    /// Records about no single namespace (lost, cleanup runs, header) pass
    /// the type filter; the pid filter keeps only records tied to a task.
    pub fn accepts(&self, r: &Record) -> bool {
        if self.types != 0 {
            if let Some(t) = r.ns_type {
                if self.types & t.bit() == 0 {
                    return false;
                }
            }
        }
        if !self.pids.is_empty() {
            let hit = [r.pid, r.child_pid]
                .into_iter()
                .flatten()
                .any(|p| self.pids.contains(&p));
            if !hit {
                return false;
            }
        }
        true
    }

    /// Types the filter keeps, for messages.
    pub fn types(&self) -> Vec<NsType> {
        NsType::ALL
            .into_iter()
            .filter(|t| self.types == 0 || self.types & t.bit() != 0)
            .collect()
    }
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
        let f = Filter::new(Some("net,user"), &[]).unwrap();
        assert!(f.accepts(&rec("net", 1, None)));
        assert!(!f.accepts(&rec("uts", 1, None)));
        let f = Filter::new(None, &[42]).unwrap();
        assert!(f.accepts(&rec("uts", 42, None)));
        assert!(f.accepts(&rec("uts", 1, Some(42))));
        assert!(!f.accepts(&rec("uts", 1, Some(7))));
        let err = Filter::new(Some("nett"), &[]).unwrap_err().to_string();
        assert!(
            err.starts_with("--types: unknown namespace type 'nett'"),
            "{err}"
        );
    }
}
