//! The event loop: drains the ring whenever the kernel wakes it and every
//! [`LoopOptions::drain_interval`], reads the drop and skipped-run
//! counters at each of those ticks, steps the pipeline, answers the
//! queries of the agent's servers, and stops on SIGINT, SIGTERM, the end of
//! `--duration` or an output that lost its reader. SIGHUP reopens the
//! outputs' files.
//!
//! Nothing here waits on slow I/O: the scans run on their own threads, and
//! a query's answer is built from memory.

use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::{
    signal::unix::{signal, SignalKind},
    sync::mpsc,
};

use super::{HolderScanner, Pipeline, Ring, Skipped, TaskScanner};
use crate::{
    decode::Clock,
    lifecycle::{HolderAnswer, HolderSource, NoScan},
};
use tracer_common::NsType;

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct LoopOptions {
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Scan /proc for task counts and holders (`--no-scan` turns it off).
    pub scan: bool,
    /// How often the task scan checks for a change.
    pub scan_interval: Duration,
    /// How often the ring is drained without a wakeup: the programs only
    /// wake the reader once a batch has built up, so this bounds the
    /// latency of a quiet stream.
    pub drain_interval: Duration,
    /// When set, the drain interval after [`IDLE_TICKS`] drains that found
    /// nothing (the agent: an idle service should cost nothing; `trace`,
    /// watched by a person, keeps its latency).
    pub idle_interval: Option<Duration>,
}

/// After this many drains in a row that found nothing, the loop drains
/// every [`LoopOptions::idle_interval`] instead, if set; the first record
/// of a quiet stream then waits at most that long.
const IDLE_TICKS: u32 = 20;

/// Items in the engine's reorder queue past which a drain releases what is
/// due without waiting for the tick (about 1.2 MB of entries).
const RELEASE_EARLY: usize = 8_192;

/// How long the last poll waits for a holder scan it asked for.
const LAST_SCAN_WAIT: Duration = Duration::from_secs(10);

/// The holder source of a run.
enum Holders {
    Scan(HolderScanner),
    Off(NoScan),
}

impl HolderSource for Holders {
    fn holders(&mut self, ns_type: NsType, inum: u32, not_before: u64) -> HolderAnswer {
        match self {
            Holders::Scan(s) => s.holders(ns_type, inum, not_before),
            Holders::Off(s) => s.holders(ns_type, inum, not_before),
        }
    }

    fn may_answer_more(&mut self) -> bool {
        match self {
            Holders::Scan(s) => s.may_answer_more(),
            Holders::Off(s) => s.may_answer_more(),
        }
    }

    fn spent(&self) -> bool {
        match self {
            Holders::Scan(s) => s.spent(),
            Holders::Off(s) => s.spent(),
        }
    }
}

/// For the last poll: waits for the scan a question started, so that the
/// linger records due at the end still name their holders.
struct Waiting<'a>(&'a mut Holders);

impl HolderSource for Waiting<'_> {
    fn holders(&mut self, ns_type: NsType, inum: u32, not_before: u64) -> HolderAnswer {
        // The last poll has no next one to leave answers for.
        if let Holders::Scan(s) = &mut *self.0 {
            s.new_poll();
        }
        let first = self.0.holders(ns_type, inum, not_before);
        match (&first, &*self.0) {
            (HolderAnswer::NotYet, Holders::Scan(s)) => {
                s.wait_idle(LAST_SCAN_WAIT);
                match self.0.holders(ns_type, inum, not_before) {
                    HolderAnswer::NotYet => HolderAnswer::NotFound {
                        searched: "nothing: the scan did not finish before nstrace stopped".into(),
                    },
                    a => a,
                }
            }
            _ => first,
        }
    }
}

/// Runs until a stop condition (see the module docs), then releases
/// everything the engine holds and finishes the outputs. `ready` is called
/// once the signal handlers are in place (a SIGHUP before then would end
/// the process); `answer` with each query that arrives on `queries`.
pub async fn run<Q>(
    mut ring: Ring,
    mut skipped: Skipped,
    pipeline: &mut Pipeline,
    opts: &LoopOptions,
    ready: impl FnOnce(),
    mut queries: Option<mpsc::Receiver<Q>>,
    mut answer: impl FnMut(&mut Pipeline, Q),
) -> Result<()> {
    let mut sigint = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing a SIGHUP handler")?;
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let mut tick = tokio::time::interval(opts.drain_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Quiet ticks in a row; past IDLE_TICKS the loop drains less often.
    let mut quiet = 0u32;

    // What was alive before the first event: found by a scan taken after
    // the programs attached, so nothing falls between the two.
    let (tasks, mut holders) = if opts.scan {
        if let Some((first, _)) = super::task_scan_once(true) {
            pipeline.seed(&first);
        }
        (
            Some(TaskScanner::start(opts.scan_interval)?),
            Holders::Scan(HolderScanner::start(opts.scan_interval)?),
        )
    } else {
        (None, Holders::Off(NoScan))
    };
    let mut drained_while_scanning = 0u64;
    pipeline.skipped(skipped.read()?);
    ready();

    loop {
        let mut drained = 0;
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => {
                log::info!("SIGHUP: reopening the log");
                pipeline.reopen()?;
            }
            _ = sleep_until(deadline) => break,
            n = ring.drain_when_ready(pipeline) => {
                drained = n?;
                // In a storm the drains come every few milliseconds and the
                // releases only at each tick: the reorder queue held the
                // window and a tick of events, 30,000 at 150,000/s (4.3 MB
                // of 144-byte entries). Releasing what is due as soon as
                // that many wait bounds it by the window.
                let now = Clock::boot_ns();
                if pipeline.engine().buffered() > RELEASE_EARLY && pipeline.engine().has_due(now) {
                    pipeline.step(now, ring.lost_total()?, &mut holders, false)?;
                }
            }
            _ = tick.tick() => {
                drained = ring.drain(pipeline);
                quiet = if drained > 0 || pipeline.buffered() > 0 { 0 } else { quiet + 1 };
                if quiet == 1 {
                    pipeline.quiet();
                }
                let want = match opts.idle_interval {
                    Some(idle) if quiet > IDLE_TICKS => idle,
                    _ => opts.drain_interval,
                };
                if tick.period() != want {
                    tick = tokio::time::interval_at(tokio::time::Instant::now() + want, want);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                }
                if let Some(scan) = tasks.as_ref().and_then(TaskScanner::latest) {
                    pipeline.observe_tasks(&scan);
                }
                if let Holders::Scan(s) = &mut holders {
                    s.new_poll();
                }
                pipeline.skipped(skipped.read()?);
                pipeline.step(Clock::boot_ns(), ring.lost_total()?, &mut holders, false)?;
                if let Holders::Scan(s) = &holders {
                    for (start, end) in s.take_finished() {
                        log::debug!(
                            "holder scan from {start} to {end} ns ({} ms): {drained_while_scanning} \
                             records drained meanwhile",
                            (end - start) / 1_000_000
                        );
                        drained_while_scanning = 0;
                    }
                }
                if pipeline.closed() {
                    break;
                }
            }
            Some(q) = next_query(&mut queries) => answer(pipeline, q),
        }
        if drained > 0 {
            if let Some(t) = tasks.as_ref().filter(|_| pipeline.take_moved()) {
                t.nudge();
            }
            if let Holders::Scan(s) = &holders {
                if s.scanning() {
                    drained_while_scanning += drained as u64;
                }
            }
        }
    }
    // Whatever arrived before the signal still counts.
    ring.drain_to_now(pipeline);
    let lost = ring.lost_total()?;
    pipeline.skipped(skipped.read()?);
    pipeline.step(Clock::boot_ns(), lost, &mut Waiting(&mut holders), true)?;
    pipeline.finish()
}

async fn next_query<Q>(queries: &mut Option<mpsc::Receiver<Q>>) -> Option<Q> {
    match queries {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
