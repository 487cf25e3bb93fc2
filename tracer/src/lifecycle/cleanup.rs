//! Net namespaces between their last put and their free: the queue that
//! `__put_net` fills and each `cleanup_net` run empties.

/// A net whose last reference was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Queued {
    pub inum: u32,
    pub gen: u32,
    pub put_ns: u64,
}

/// One `cleanup_net` run.
#[derive(Debug, Default)]
pub(super) struct Run {
    pub id: u64,
    /// `None` when the start record was lost.
    pub start_ns: Option<u64>,
    /// Nets queued before the run started: the run takes all of them.
    pub members: Vec<Queued>,
    /// Nets whose death came inside the run.
    pub died: Vec<u32>,
    slow_reported: bool,
}

impl Run {
    /// Every net the run is freeing: the queued ones, then any that died in
    /// it without a seen put.
    pub fn inums(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.members.iter().map(|m| m.inum).collect();
        for &d in &self.died {
            if !v.contains(&d) {
                v.push(d);
            }
        }
        v
    }
}

#[derive(Default)]
pub(super) struct NetCleanup {
    queued: Vec<Queued>,
    /// Runs started and not yet ended: at most one, or two between a
    /// start and [`NetCleanup::end_earlier`] (see there).
    runs: Vec<Run>,
}

impl NetCleanup {
    pub(super) fn queue(&mut self, q: Queued) {
        // A second put of the same lifetime replaces the first: only the
        // one that queued it counts for the delay.
        self.queued.retain(|o| (o.inum, o.gen) != (q.inum, q.gen));
        self.queued.push(q);
    }

    /// Ends, without a record, every run still open when another starts,
    /// and says whether there was one. `cleanup_net` is one work item
    /// (`net_cleanup_work`) on the ordered `netns_wq`
    /// (net/core/net_namespace.c, 6.1 to 6.18): a run starts only after
    /// the one before it returned, so a run still open here had its end
    /// record lost. Kept open, it would be reported slow long after it
    /// ended, and nets parked while it looked open would never be let go.
    pub(super) fn end_earlier(&mut self) -> bool {
        let any = !self.runs.is_empty();
        self.runs.clear();
        any
    }

    /// A run started: it takes every net put before it.
    pub(super) fn start(&mut self, id: u64, mono_ns: u64) -> &Run {
        let members = std::mem::take(&mut self.queued);
        self.runs.push(Run {
            id,
            start_ns: Some(mono_ns),
            members,
            died: Vec::new(),
            slow_reported: false,
        });
        self.runs.last().expect("just pushed")
    }

    /// Attributes a net's death to the run that took it (`batch`), or to the
    /// latest open run when its put was not seen. Returns that run's start.
    pub(super) fn death(&mut self, inum: u32, gen: u32, batch: Option<u64>) -> Option<u64> {
        self.queued.retain(|o| (o.inum, o.gen) != (inum, gen));
        let idx = batch
            .and_then(|b| self.runs.iter().position(|r| r.id == b))
            .or_else(|| self.runs.len().checked_sub(1))?;
        self.runs[idx].died.push(inum);
        self.runs[idx].start_ns
    }

    /// Forgets a queued net whose lifetime ended without a death record.
    pub(super) fn forget(&mut self, inum: u32, gen: u32) {
        self.queued.retain(|o| (o.inum, o.gen) != (inum, gen));
    }

    /// A run ended. An end whose start was lost gives an empty run.
    pub(super) fn end(&mut self, id: u64) -> Run {
        match self.runs.iter().position(|r| r.id == id) {
            Some(i) => self.runs.remove(i),
            None => Run {
                id,
                ..Run::default()
            },
        }
    }

    /// When the next not-yet-reported run becomes slow.
    pub(super) fn next_slow(&self, threshold_ns: u64) -> Option<u64> {
        self.runs
            .iter()
            .filter(|r| !r.slow_reported)
            .filter_map(|r| r.start_ns)
            .map(|s| s.saturating_add(threshold_ns))
            .min()
    }

    /// Marks and returns the run that became slow at `deadline`.
    pub(super) fn take_slow(&mut self, deadline: u64, threshold_ns: u64) -> Option<&Run> {
        let run = self.runs.iter_mut().find(|r| {
            !r.slow_reported && r.start_ns.map(|s| s.saturating_add(threshold_ns)) == Some(deadline)
        })?;
        run.slow_reported = true;
        Some(run)
    }

    pub(super) fn queued_len(&self) -> usize {
        self.queued.len()
    }

    pub(super) fn open_runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_takes_every_net_put_before_it() {
        let mut c = NetCleanup::default();
        c.queue(Queued {
            inum: 1,
            gen: 1,
            put_ns: 10,
        });
        c.queue(Queued {
            inum: 2,
            gen: 1,
            put_ns: 20,
        });
        assert_eq!(c.start(7, 30).members.len(), 2);
        c.queue(Queued {
            inum: 3,
            gen: 1,
            put_ns: 40,
        });
        c.death(1, 1, Some(7));
        c.death(9, 1, None);
        let run = c.end(7);
        assert_eq!(run.died, [1, 9]);
        assert_eq!(run.inums(), [1, 2, 9]);
        assert_eq!(
            c.queued_len(),
            1,
            "the put after the start waits for the next run"
        );
    }

    #[test]
    fn slow_is_reported_once_per_run() {
        let mut c = NetCleanup::default();
        c.start(1, 100);
        assert_eq!(c.next_slow(50), Some(150));
        assert!(c.take_slow(150, 50).is_some());
        assert_eq!(c.next_slow(50), None);
        assert!(c.take_slow(150, 50).is_none());
    }
}
