//! `report --container`, `--comm`, `--pid`: the records about the
//! namespaces those made or entered, from birth to death.
//!
//! A birth, join or `present` record matches by its own keys (container
//! id, id prefix, name or pod; comm; pid, child pid or init pid); every
//! later record about the same lifetime (type, inum, gen) is kept with it,
//! so a death in a kworker still counts for the container that made the
//! namespace. A `linger` also matches by its holders. Headers and `lost`
//! records are always kept: the report needs them to tell runs apart and
//! to say where the log cannot be trusted.

use std::collections::HashSet;

use tracer_common::NsType;

use crate::schema::{Container, Record, RecordKind};

/// What to keep; every given condition must hold.
#[derive(Clone, Debug, Default)]
pub struct Select {
    pub container: Option<String>,
    pub comm: Option<String>,
    pub pid: Option<u32>,
    /// Lifetimes a matching record opened or entered.
    kept: HashSet<(NsType, u32, u32)>,
}

impl Select {
    /// `None` when nothing is selected: every record is kept.
    pub fn new(
        container: Option<String>,
        comm: Option<String>,
        pid: Option<u32>,
    ) -> Option<Select> {
        (container.is_some() || comm.is_some() || pid.is_some()).then(|| Select {
            container,
            comm,
            pid,
            kept: HashSet::new(),
        })
    }

    /// Whether `rec` goes into the report. Call it for every record, in
    /// log order.
    pub fn keep(&mut self, rec: &Record) -> bool {
        match rec.event {
            RecordKind::Header => {
                // Generations restart with every tracer run.
                self.kept.clear();
                return true;
            }
            RecordKind::Lost => return true,
            _ => {}
        }
        let key = match (rec.ns_type, rec.inum, rec.gen) {
            (Some(t), Some(i), Some(g)) => Some((t, i, g)),
            _ => None,
        };
        if self.matches(rec) {
            if let Some(k) = key {
                self.kept.insert(k);
            }
            return true;
        }
        if let Some(k) = key {
            return self.kept.contains(&k);
        }
        // A cleanup run: kept if it took a kept net.
        rec.inums.as_ref().is_some_and(|inums| {
            inums.iter().any(|i| {
                self.kept
                    .iter()
                    .any(|&(t, n, _)| t == NsType::Net && n == *i)
            })
        })
    }

    fn matches(&self, rec: &Record) -> bool {
        let own = |c: Option<&Container>, comm: Option<&str>, pids: &[Option<u32>]| {
            self.container
                .as_deref()
                .is_none_or(|want| c.is_some_and(|c| container_is(c, want)))
                && self.comm.as_deref().is_none_or(|want| comm == Some(want))
                && self.pid.is_none_or(|want| pids.contains(&Some(want)))
        };
        if matches!(
            rec.event,
            RecordKind::Birth | RecordKind::Join | RecordKind::Present
        ) && own(
            rec.container.as_deref(),
            rec.comm.as_deref(),
            &[rec.pid, rec.child_pid, rec.init_pid],
        ) {
            return true;
        }
        rec.holders.as_ref().is_some_and(|hs| {
            hs.iter().any(|h| {
                h.pid.is_some() && own(h.container.as_deref(), h.comm.as_deref(), &[h.pid])
            })
        })
    }
}

/// `want` names `c`: its name, its id or an id prefix (of at least four
/// characters, as `docker` accepts), or its pod.
fn container_is(c: &Container, want: &str) -> bool {
    c.name.as_deref() == Some(want)
        || c.id == want
        || (want.len() >= 4 && c.id.starts_with(want))
        || c.pod.as_deref() == Some(want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Holder, HolderKind, Runtime};

    fn rec(event: RecordKind, inum: u32) -> Record {
        let mut r = Record::new(event, 1, "t".into());
        r.ns_type = Some(NsType::Net);
        r.inum = Some(inum);
        r.gen = Some(1);
        r
    }

    fn web() -> Container {
        let mut c = Container::new(
            Runtime::Docker,
            "8c4c00752dad".to_string() + &"0".repeat(52),
        );
        c.name = Some("web-1".into());
        c
    }

    #[test]
    fn a_container_keeps_its_namespaces_to_their_death() {
        let mut s = Select::new(Some("web-1".into()), None, None).unwrap();
        let mut born = rec(RecordKind::Birth, 10);
        born.container = Some(web().into());
        born.comm = Some("runc:[1:CHILD]".into());
        assert!(s.keep(&born));
        assert!(s.keep(&rec(RecordKind::Death, 10)));
        assert!(!s.keep(&rec(RecordKind::Birth, 11)));
        assert!(!s.keep(&rec(RecordKind::Death, 11)));
        let mut run = Record::new(RecordKind::CleanupEnd, 2, "t".into());
        run.inums = Some(vec![11, 10]);
        assert!(s.keep(&run));
        run.inums = Some(vec![11]);
        assert!(!s.keep(&run));
        assert!(s.keep(&Record::new(RecordKind::Lost, 3, "t".into())));
        // A new run: gen 1 of inum 10 is another namespace now.
        assert!(s.keep(&Record::new(RecordKind::Header, 4, "t".into())));
        assert!(!s.keep(&rec(RecordKind::Death, 10)));
    }

    #[test]
    fn ids_prefixes_comm_and_pid() {
        let c = web();
        assert!(container_is(&c, "8c4c00752dad"));
        assert!(container_is(&c, &c.id));
        assert!(!container_is(&c, "8c4"));
        assert!(!container_is(&c, "web"));
        let mut s = Select::new(None, Some("ip".into()), Some(7)).unwrap();
        let mut r = rec(RecordKind::Birth, 10);
        r.comm = Some("ip".into());
        r.pid = Some(8);
        assert!(!s.keep(&r), "the pid does not match");
        r.child_pid = Some(7);
        assert!(s.keep(&r));
        let mut linger = rec(RecordKind::Linger, 12);
        linger.holders = Some(vec![Holder {
            kind: HolderKind::Task,
            pid: Some(7),
            comm: Some("ip".into()),
            ..Holder::default()
        }]);
        assert!(s.keep(&linger));
        assert!(Select::new(None, None, None).is_none());
    }
}
