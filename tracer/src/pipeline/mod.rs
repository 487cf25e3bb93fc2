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
mod summary;
mod task_scan;

use anyhow::Result;
use tracer_common::Event;

pub use self::{
    event_loop::{run, LoopOptions},
    holder_scan::{HolderScanner, NoScan},
    options::{Options, DRAIN_INTERVAL},
    ring::Ring,
    summary::Summary,
    task_scan::{scan_once as task_scan_once, TaskScan, TaskScanner},
};
use crate::{
    lifecycle::{Engine, HolderSource, Present},
    output::Output,
    schema::Record,
    trace::Filter,
};

/// A step that releases more records than this gives the memory they took
/// back to the system afterwards.
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
    holds: Vec<Box<dyn Hold>>,
    enrich: Vec<Box<dyn Enrich>>,
    filter: Filter,
    outputs: Vec<Box<dyn Output>>,
    summary: Summary,
    /// Drop counter total already reported as `lost`.
    lost_seen: u64,
    /// Records handed to the engine, for diagnostics.
    pub drained: u64,
    /// Whether an output was written to since the last flush: an idle
    /// loop must not call into the outputs ten times a second.
    dirty: bool,
}

impl Pipeline {
    pub fn new(engine: Engine, filter: Filter, summary: Summary) -> Pipeline {
        Pipeline {
            engine,
            holds: Vec::new(),
            enrich: Vec::new(),
            filter,
            outputs: Vec::new(),
            summary,
            lost_seen: 0,
            drained: 0,
            dirty: false,
        }
    }

    pub fn add_output(&mut self, o: Box<dyn Output>) {
        self.outputs.push(o);
        // It may hold its first lines (the JSON header, the column titles):
        // they go out at the first flush, whatever comes.
        self.dirty = true;
    }

    pub fn add_enrich(&mut self, e: Box<dyn Enrich>) {
        self.enrich.push(e);
    }

    /// Adds a stage that may hold records; stages see records in the order
    /// they were added, all before the [`Enrich`] stages.
    pub fn add_hold(&mut self, h: Box<dyn Hold>) {
        self.holds.push(h);
    }

    /// Records not yet written: in the engine's reorder window or held by
    /// a stage.
    pub fn buffered(&self) -> usize {
        self.engine.buffered() + self.holds.iter().map(|h| h.held()).sum::<usize>()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Namespaces alive at `mono_ns`, from the start-up task scan.
    pub fn seed(&mut self, scan: &TaskScan) {
        let present = scan
            .counts
            .iter()
            .map(|(&(ns_type, inum), &tasks)| Present {
                ns_type,
                inum,
                tasks,
                ns_id: None,
            });
        self.engine.seed_present(scan.mono_ns, present);
        self.engine.observe_tasks(scan.mono_ns, &scan.counts);
    }

    /// Decode: one ring record into the engine.
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        match Event::from_bytes(bytes) {
            Some(ev) => {
                self.drained += 1;
                self.engine.push(&ev)
            }
            None => self.summary.malformed += 1,
        }
    }

    pub fn push(&mut self, ev: &Event) {
        self.drained += 1;
        self.engine.push(ev);
    }

    pub fn observe_tasks(&mut self, scan: &TaskScan) {
        self.engine.observe_tasks(scan.mono_ns, &scan.counts);
    }

    /// One step at `now` (CLOCK_BOOTTIME): new drops become a `lost`
    /// record, then what the engine releases goes through the holding
    /// stages, and what they let go goes out; then every output flushes.
    /// With `last`, everything still buffered or held is released.
    pub fn step(
        &mut self,
        now: u64,
        drops_total: u64,
        holders: &mut dyn HolderSource,
        last: bool,
    ) -> Result<()> {
        let lost = (drops_total > self.lost_seen).then(|| {
            let lost = self.engine.on_lost(now, drops_total - self.lost_seen);
            self.lost_seen = drops_total;
            self.summary.lost = drops_total;
            lost
        });
        let mut records = if last {
            self.engine.finish(now, holders)
        } else {
            self.engine.poll(now, holders)
        };
        if let Some(lost) = lost {
            records.insert(0, lost);
        }
        for h in &mut self.holds {
            h.pass(&mut records, now);
            if last {
                h.finish(&mut records, now);
            }
        }
        // In place: a record is a few hundred bytes, and moving each out
        // of the vector showed in the profile.
        for r in &mut records {
            self.emit(r)?;
        }
        if last {
            self.summary.malformed += self.engine.undecodable();
        }
        let burst = records.len() > BURST;
        drop(records);
        if burst {
            trim_heap();
        }
        self.flush()
    }

    /// Enrichment, the filter, then every output.
    fn emit(&mut self, r: &mut Record) -> Result<()> {
        for e in &mut self.enrich {
            e.enrich(r);
        }
        if !self.filter.accepts(r) {
            return Ok(());
        }
        self.summary.count(r);
        self.dirty = true;
        for o in &mut self.outputs {
            o.write(r)?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.dirty) {
            return Ok(());
        }
        for o in &mut self.outputs {
            o.flush()?;
        }
        Ok(())
    }

    /// SIGHUP.
    pub fn reopen(&mut self) -> Result<()> {
        for o in &mut self.outputs {
            o.reopen()?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        for o in &mut self.outputs {
            o.finish()?;
        }
        Ok(())
    }

    /// True when there are outputs and every one has lost its reader.
    pub fn closed(&self) -> bool {
        !self.outputs.is_empty() && self.outputs.iter().all(|o| o.closed())
    }
}

#[cfg(test)]
mod tests;
