//! The /proc scan that tells the lifecycle engine how many tasks each
//! namespace has. The tracer sees births and joins but not exits, so "the
//! last task left" comes from here. It runs on its own thread: a scan of a
//! busy host takes milliseconds, which the event loop must not wait for.
//!
//! A full scan reads eight links of every thread on the host, which an
//! idle tracer cannot afford every second. Yet a namespace's task count
//! can only drop to zero when a task leaves it by exiting (setns, unshare
//! and clone are traced, and the pipeline [`TaskScanner::nudge`]s after
//! events that move tasks). So after each full scan the thread keeps one
//! thread inside each namespace (a sentinel, the same thread for every
//! namespace it is the first found in) and, every interval, only checks
//! that each sentinel thread still exists: one tgkill each, no path to
//! look up. A full scan follows when a sentinel ended or events moved
//! tasks, within a CPU budget: such scans start at least
//! [`BUDGET`] times their own cost apart (scaled by the interval: 4 s for
//! a 2 ms scan at the default 1 s), so that neither a storm nor a trickle
//! of other people's namespaces makes the tracer scan every second.
//! Every [`FULL_SCAN_EVERY`] a full scan runs anyway, for events that
//! were lost.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError},
        Arc,
    },
    time::{Duration, Instant},
};

use tracer_common::NsType;

use crate::{decode::Clock, discovery};

/// The longest a full scan waits when nothing suggests a change.
pub const FULL_SCAN_EVERY: Duration = Duration::from_secs(60);

/// Full scans asked for by events or an ended sentinel start at least
/// this many times their own CPU time apart, at the default 1 s interval
/// (in proportion for others): they take at most 1/2000, 0.05%, of a CPU.
pub const BUDGET: u32 = 2_000;

/// Threads that are, each, the first found in some namespace (see the
/// module docs).
type Sentinels = Vec<(u32, u32)>;

/// Tasks per namespace, and the CLOCK_BOOTTIME instant the scan began.
pub struct TaskScan {
    pub mono_ns: u64,
    pub counts: HashMap<(NsType, u32), u32>,
    /// When the scan first found each namespace, at or after `mono_ns`
    /// (the start-up scan only; empty otherwise).
    pub first_seen: HashMap<(NsType, u32), u64>,
}

pub struct TaskScanner {
    rx: Receiver<TaskScan>,
    nudged: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl TaskScanner {
    /// Checks every `interval` (see the module docs) until dropped.
    pub fn start(interval: Duration) -> anyhow::Result<TaskScanner> {
        // One scan in flight is enough: the loop takes the newest.
        let (tx, rx) = sync_channel(2);
        let nudged = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, s) = (nudged.clone(), stop.clone());
        std::thread::Builder::new()
            .name("nstrace-tasks".into())
            .spawn(move || scan_loop(interval, &tx, &n, &s))
            .map_err(|e| anyhow::anyhow!("starting the task scan thread: {e}"))?;
        Ok(TaskScanner { rx, nudged, stop })
    }

    /// Events arrived: a task may have entered or left a namespace.
    pub fn nudge(&self) {
        self.nudged.store(true, Ordering::Relaxed);
    }

    /// The newest finished scan, if one arrived since the last call.
    pub fn latest(&self) -> Option<TaskScan> {
        let mut latest = None;
        loop {
            match self.rx.try_recv() {
                Ok(scan) => latest = Some(scan),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return latest,
            }
        }
    }
}

impl Drop for TaskScanner {
    fn drop(&mut self) {
        // The thread sees this within one interval; nobody waits for it.
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn scan_loop(
    interval: Duration,
    tx: &SyncSender<TaskScan>,
    nudged: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut sentinels = Sentinels::new();
    let mut last_full = Instant::now();
    let mut gap = interval;
    loop {
        std::thread::sleep(interval);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let since = last_full.elapsed();
        let due = since >= FULL_SCAN_EVERY
            || (since >= gap
                && (nudged.load(Ordering::Relaxed)
                    || sentinels
                        .iter()
                        .any(|&(pid, tid)| !discovery::thread_alive(pid, tid))));
        if !due {
            continue;
        }
        nudged.store(false, Ordering::Relaxed);
        last_full = Instant::now();
        let cpu = super::thread_cpu();
        let Some((scan, s)) = scan_once(false) else {
            continue;
        };
        let cost = super::thread_cpu().saturating_sub(cpu);
        gap = interval.max(cost.mul_f64(f64::from(BUDGET) * interval.as_secs_f64()));
        sentinels = s;
        match tx.try_send(scan) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// One full scan, with its sentinel threads; a failed one is logged and
/// skipped (the next may succeed). `first_seen` is filled only for the
/// start-up scan (`note_times`), which alone makes `present` records.
pub fn scan_once(note_times: bool) -> Option<(TaskScan, Sentinels)> {
    let mono_ns = Clock::boot_ns();
    match discovery::task_counts(note_times) {
        Ok(c) => {
            let mut sentinels: Sentinels = c.sentinels.into_values().collect();
            sentinels.sort_unstable();
            sentinels.dedup();
            Some((
                TaskScan {
                    mono_ns,
                    counts: c.counts,
                    first_seen: c.first_seen,
                },
                sentinels,
            ))
        }
        Err(e) => {
            log::warn!("scanning /proc for task counts: {e:#}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_namespaces_are_counted_and_watched_by_few_sentinels() {
        let (scan, sentinels) = scan_once(false).unwrap();
        let link = std::fs::read_link("/proc/self/ns/uts").unwrap();
        let me = discovery::NsRef::parse_link(&link.to_string_lossy()).unwrap();
        assert!(scan.counts[&(me.ns_type, me.inum)] >= 1);
        assert!(!sentinels.is_empty());
        assert!(
            sentinels.len() <= scan.counts.len(),
            "one thread watches every namespace it was the first found in"
        );
        assert!(sentinels
            .iter()
            .all(|&(pid, tid)| discovery::thread_alive(pid, tid)));
    }
}
#[cfg(test)]
mod cost {
    #[test]
    #[ignore = "a measurement"]
    fn full_scan_cost() {
        let cpu = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
        };
        let t = std::time::Instant::now();
        let c = cpu();
        let mut n = 0;
        for _ in 0..20 {
            n = super::scan_once(false).unwrap().0.counts.len();
        }
        let threads = std::fs::read_dir("/proc").unwrap().count();
        println!(
            "task scan: {:?} wall, {} us CPU each, {n} namespaces, /proc has {threads} entries",
            t.elapsed() / 20,
            (cpu() - c) / 20_000
        );
    }
}
