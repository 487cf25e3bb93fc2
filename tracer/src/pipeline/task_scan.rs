//! The /proc scan that tells the lifecycle engine how many tasks each
//! namespace has. The tracer sees births and joins but not exits, so "the
//! last task left" comes from here. It runs on its own thread: a scan of a
//! busy host takes tens of milliseconds, which the event loop must not
//! wait for.
//!
//! A full scan reads eight links of every thread on the host, which an
//! idle tracer cannot afford every second. Yet a namespace's task count
//! can only drop to zero when a task leaves it by exiting (setns, unshare
//! and clone are traced, and the pipeline [`TaskScanner::nudge`]s after
//! every batch of events). So after each full scan the thread keeps one
//! thread inside each namespace (a sentinel) and, every interval, only
//! checks that each sentinel is still inside: one readlink per namespace
//! with tasks. A full scan follows when a sentinel left, when events
//! arrived, and at least every [`FULL_SCAN_EVERY`] as a safety net for
//! events that were lost.

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

/// One thread inside each namespace with tasks (see the module docs).
type Sentinels = HashMap<(NsType, u32), (u32, u32)>;

/// Tasks per namespace, and the CLOCK_BOOTTIME instant the scan began.
pub struct TaskScan {
    pub mono_ns: u64,
    pub counts: HashMap<(NsType, u32), u32>,
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
    loop {
        std::thread::sleep(interval);
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let due = nudged.swap(false, Ordering::Relaxed)
            || last_full.elapsed() >= FULL_SCAN_EVERY
            || sentinels
                .iter()
                .any(|(&(t, inum), &s)| !discovery::still_inside(s, t, inum));
        if !due {
            continue;
        }
        last_full = Instant::now();
        let Some((scan, s)) = scan_once() else {
            continue;
        };
        sentinels = s;
        match tx.try_send(scan) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// One full scan, with a sentinel per namespace; a failed one is logged and
/// skipped (the next may succeed).
pub fn scan_once() -> Option<(TaskScan, Sentinels)> {
    let mono_ns = Clock::boot_ns();
    match discovery::task_counts() {
        Ok(c) => Some((
            TaskScan {
                mono_ns,
                counts: c.counts,
            },
            c.sentinels,
        )),
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
    fn our_own_namespaces_have_a_sentinel_that_is_inside() {
        let (scan, sentinels) = scan_once().unwrap();
        let link = std::fs::read_link("/proc/self/ns/uts").unwrap();
        let me = discovery::NsRef::parse_link(&link.to_string_lossy()).unwrap();
        let key = (me.ns_type, me.inum);
        assert!(scan.counts[&key] >= 1);
        let s = sentinels[&key];
        assert!(discovery::still_inside(s, me.ns_type, me.inum));
        assert!(!discovery::still_inside(s, me.ns_type, me.inum ^ 1));
        assert!(!discovery::still_inside(
            (u32::MAX - 1, u32::MAX - 1),
            me.ns_type,
            me.inum
        ));
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
            n = super::scan_once().unwrap().0.counts.len();
        }
        let threads = std::fs::read_dir("/proc").unwrap().count();
        println!(
            "task scan: {:?} wall, {} us CPU each, {n} namespaces, /proc has {threads} entries",
            t.elapsed() / 20,
            (cpu() - c) / 20_000
        );
    }
}
