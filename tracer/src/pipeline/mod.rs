//! One pipeline for `trace` and `agent`: ring → decode → lifecycle engine →
//! enrichment → a fan-out to outputs (columns, JSON Lines, the log, metrics,
//! the query index). The two commands are two configurations of it.
//!
//! Everything slow runs beside the event loop, never in it: the task scan
//! ([`task_scan`]) and the holder scan ([`holder_scan`]) have threads of
//! their own, and the loop ([`event_loop`]) only reads their results, so the
//! ring is drained at all times.
//!
//! Enrichment is the stage for what a record gains in userspace after the
//! engine released it, before any output sees it. A [`Hold`] may keep a
//! record back while it waits for an answer from a thread of its own (the
//! container that made a namespace, from `container/`), and lets records go
//! in order; the loop steps the pipeline every drain tick while any are
//! held. An [`Enrich`] adds to each record in place, at once.

mod event_loop;
mod holder_scan;
mod options;
mod ring;
mod ring_reader;
mod skipped;
mod summary;
mod task_scan;

use anyhow::Result;
use tracer_common::{Event, EventKind};

pub use self::{
    event_loop::{run, LoopOptions},
    holder_scan::HolderScanner,
    options::{Options, DRAIN_INTERVAL},
    ring::Ring,
    skipped::Skipped,
    summary::Summary,
    task_scan::{scan_once as task_scan_once, TaskScan, TaskScanner},
};
use crate::{
    lifecycle::{Engine, HolderSource, Present},
    output::Output,
    schema::Record,
    trace::Filter,
};

/// After more records than this went out since the stream was last quiet,
/// the memory they took is given back to the system once it is quiet
/// again ([`Pipeline::quiet`]); never during a storm, where each trim made
/// the next batch fault its pages in again.
const BURST: usize = 10_000;

/// Gives freed heap back to the system: glibc keeps what a burst (BTF
/// parsing at start, a storm's records) freed. (musl, used for the VM
/// tests' static build, returns freed memory itself.)
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0)
    };
}

/// A stage that adds to records after the engine: it sees each one, in
/// order, before any output.
pub trait Enrich {
    fn enrich(&mut self, r: &mut Record);
}

/// A stage that may hold records back until it knows more, bounded in
/// time and count, and never waits on I/O itself: what it waits for is
/// done on a thread of its own. Records leave in the order they came.
pub trait Hold {
    /// Takes `records`, in order, at CLOCK_BOOTTIME `now_ns`, and leaves in
    /// it, in order, the records that may go on now: those it held before
    /// first. It keeps the rest. Called every step, with no records too.
    fn pass(&mut self, records: &mut Vec<Record>, now_ns: u64);
    /// The run ends: appends everything still held. It may wait, bounded,
    /// for the answers still pending.
    fn finish(&mut self, records: &mut Vec<Record>, now_ns: u64);
    /// Records held now.
    fn held(&self) -> usize;
}

/// The engine and everything downstream of it.
pub struct Pipeline {
    engine: Engine,
    down: Downstream,
    /// Drop counter total already reported as `lost`.
    lost_seen: u64,
    /// Runs of each program the kernel skipped, as last read
    /// ([`Pipeline::skipped`]), for the next step to report.
    skipped_read: Vec<(&'static str, u64)>,
    /// Records handed to the engine, for diagnostics.
    pub drained: u64,
    /// Records released since the stream was last quiet.
    since_quiet: usize,
    /// A birth or join came since [`Pipeline::take_moved`]: a task may
    /// have entered or left a namespace.
    moved: bool,
}

/// What records go through once the engine released them: enrichment, the
/// filter, the outputs. Apart from the engine, so that the engine can hand
/// records here while it releases them.
struct Downstream {
    holds: Vec<Box<dyn Hold>>,
    enrich: Vec<Box<dyn Enrich>>,
    filter: Filter,
    outputs: Vec<Box<dyn Output>>,
    summary: Summary,
    /// Whether an output was written to since the last flush: an idle
    /// loop must not call into the outputs ten times a second.
    dirty: bool,
    /// Records that reached this stage in the current step.
    released: usize,
    /// The first error an output gave in the current step; the records
    /// after it are not written.
    failed: Option<anyhow::Error>,
    /// The current step's time, for the holding stages.
    now: u64,
}

impl Downstream {
    /// A group of records as the engine released them, in order: through
    /// the holding stages (which keep what must wait and let earlier held
    /// records go first), then each one on. Without holding stages the
    /// records are written where they are: moving each out of the vector
    /// showed in the profile.
    fn emit_group(&mut self, group: &mut Vec<Record>) {
        for h in &mut self.holds {
            h.pass(group, self.now);
        }
        for r in group.iter_mut() {
            self.emit(r);
        }
        group.clear();
    }

    /// The run ends: each holding stage lets everything go, and what the
    /// first lets go still passes through the ones after it.
    fn finish_holds(&mut self) {
        let mut records = Vec::new();
        for h in &mut self.holds {
            h.pass(&mut records, self.now);
            h.finish(&mut records, self.now);
        }
        for r in &mut records {
            self.emit(r);
        }
    }

    /// Enrichment, the filter, then every output.
    fn emit(&mut self, r: &mut Record) {
        self.released += 1;
        if self.failed.is_some() {
            return;
        }
        for e in &mut self.enrich {
            e.enrich(r);
        }
        if !self.filter.accepts(r) {
            return;
        }
        self.summary.count(r);
        self.dirty = true;
        for o in &mut self.outputs {
            if let Err(e) = o.write(r) {
                self.failed = Some(e);
                return;
            }
        }
    }
}

impl Pipeline {
    pub fn new(engine: Engine, filter: Filter, summary: Summary) -> Pipeline {
        Pipeline {
            engine,
            down: Downstream {
                holds: Vec::new(),
                enrich: Vec::new(),
                filter,
                outputs: Vec::new(),
                summary,
                dirty: false,
                released: 0,
                failed: None,
                now: 0,
            },
            lost_seen: 0,
            skipped_read: Vec::new(),
            drained: 0,
            since_quiet: 0,
            moved: false,
        }
    }

    pub fn add_output(&mut self, o: Box<dyn Output>) {
        self.down.outputs.push(o);
        // It may hold its first lines (the JSON header, the column titles):
        // they go out at the first flush, whatever comes.
        self.down.dirty = true;
    }

    pub fn add_enrich(&mut self, e: Box<dyn Enrich>) {
        self.down.enrich.push(e);
    }

    /// Adds a stage that may hold records; stages see records in the order
    /// they were added, all before the [`Enrich`] stages.
    pub fn add_hold(&mut self, h: Box<dyn Hold>) {
        self.down.holds.push(h);
    }

    /// Records not yet written: in the engine's reorder window or held by
    /// a stage.
    pub fn buffered(&self) -> usize {
        self.engine.buffered() + self.down.holds.iter().map(|h| h.held()).sum::<usize>()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn summary(&self) -> &Summary {
        &self.down.summary
    }

    /// Namespaces alive when the start-up task scan found them.
    pub fn seed(&mut self, scan: &TaskScan) {
        let mut present: Vec<(u64, Present)> = scan
            .counts
            .iter()
            .map(|(&(ns_type, inum), &tasks)| {
                let seen = scan.first_seen.get(&(ns_type, inum));
                let p = Present {
                    ns_type,
                    inum,
                    tasks,
                    ns_id: None,
                };
                (seen.copied().unwrap_or(scan.mono_ns), p)
            })
            .collect();
        // In time order they go to the reorder queue's ordered end, not its
        // heap.
        present.sort_unstable_by_key(|&(t, _)| t);
        self.engine.seed_present(present);
        self.engine.observe_tasks(scan.mono_ns, &scan.counts);
    }

    /// Decode: one ring record into the engine.
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        match Event::from_bytes(bytes) {
            Some(ev) => self.push(&ev),
            None => self.down.summary.malformed += 1,
        }
    }

    pub fn push(&mut self, ev: &Event) {
        self.drained += 1;
        self.moved |= ev.kind == EventKind::Birth as u32 || ev.kind == EventKind::Join as u32;
        self.engine.push(ev);
    }

    /// Whether a birth or join came since the last call: the task scan is
    /// nudged only then.
    pub fn take_moved(&mut self) -> bool {
        std::mem::take(&mut self.moved)
    }

    pub fn observe_tasks(&mut self, scan: &TaskScan) {
        self.engine.observe_tasks(scan.mono_ns, &scan.counts);
    }

    /// The kernel's counts of skipped runs, per program, since each was
    /// loaded ([`Skipped::read`]); the next step reports what grew. Every
    /// program named is in the summary from now on, at 0 if none was
    /// skipped.
    pub fn skipped(&mut self, totals: &[(&'static str, u64)]) {
        self.skipped_read.clear();
        self.skipped_read.extend_from_slice(totals);
        for (program, _) in totals {
            self.down.summary.skipped.entry(program).or_insert(0);
        }
    }

    /// One step at `now` (CLOCK_BOOTTIME): new drops, and runs of a
    /// program the kernel skipped, become `lost` records, then what the
    /// engine releases goes through the holding stages, and what they let
    /// go goes out; then every output flushes.
    /// With `last`, everything still buffered or held is released.
    pub fn step(
        &mut self,
        now: u64,
        drops_total: u64,
        holders: &mut dyn HolderSource,
        last: bool,
    ) -> Result<()> {
        self.down.now = now;
        self.down.released = 0;
        if drops_total > self.lost_seen {
            let lost = self.engine.on_lost(now, drops_total - self.lost_seen);
            self.lost_seen = drops_total;
            self.down.summary.lost = drops_total;
            self.down.emit_group(&mut vec![lost]);
        }
        for &(program, total) in &self.skipped_read {
            let seen = self.down.summary.skipped.entry(program).or_insert(0);
            if total > *seen {
                let lost = self.engine.on_skipped(now, program, total - *seen, total);
                *seen = total;
                self.down.emit_group(&mut vec![lost]);
            }
        }
        let down = &mut self.down;
        if last {
            let mut records = self.engine.finish(now, holders);
            down.emit_group(&mut records);
            down.finish_holds();
            down.summary.malformed += self.engine.undecodable();
        } else {
            self.engine
                .poll_each(now, holders, &mut |group| down.emit_group(group));
            // Every step, records or not: a held record's answer may have
            // come since.
            down.emit_group(&mut Vec::new());
        }
        self.since_quiet += down.released;
        if let Some(e) = down.failed.take() {
            return Err(e);
        }
        self.flush()
    }

    /// The loop found nothing to do: after a burst, give back the heap it
    /// grew.
    pub fn quiet(&mut self) {
        if std::mem::take(&mut self.since_quiet) > BURST {
            trim_heap();
        }
    }

    pub fn flush(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.down.dirty) {
            return Ok(());
        }
        for o in &mut self.down.outputs {
            o.flush()?;
        }
        Ok(())
    }

    /// SIGHUP.
    pub fn reopen(&mut self) -> Result<()> {
        for o in &mut self.down.outputs {
            o.reopen()?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        for o in &mut self.down.outputs {
            o.finish()?;
        }
        Ok(())
    }

    /// True when there are outputs and every one has lost its reader.
    pub fn closed(&self) -> bool {
        !self.down.outputs.is_empty() && self.down.outputs.iter().all(|o| o.closed())
    }
}

/// CPU time of the calling thread: what the scan threads pace themselves
/// by.
pub(crate) fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests;
