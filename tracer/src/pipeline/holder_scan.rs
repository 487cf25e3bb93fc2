//! Holders of lingering namespaces, found by a full /proc scan on a thread
//! of its own. A scan of a busy host takes hundreds of milliseconds; the
//! event loop only asks and reads answers, so the ring is drained while a
//! scan runs.
//!
//! Scans are taken on demand and coalesced: every question that a running
//! scan will answer (it started after the question's deadline) waits for
//! it, and the questions that come in meanwhile share one more scan. Only
//! the newest finished scan is kept, reduced to the holders of namespaces
//! that no task is in (the only ones the engine asks about), and dropped
//! once nothing has asked for a while.

use std::{
    collections::HashMap,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tracer_common::NsType;

use crate::{
    decode::Clock,
    discovery,
    lifecycle::{HolderAnswer, HolderSource},
    schema::{Holder, HolderKind},
};

/// A finished scan is dropped after this long without a question.
const KEEP_UNUSED: Duration = Duration::from_secs(30);

/// Holder lists handed out per poll; the rest are "not yet" until the
/// next. When thousands of namespaces linger at once, their records then
/// go out a few thousand at a time instead of all in one batch.
const FOUND_PER_POLL: usize = 2_000;

/// One finished scan.
struct Scan {
    /// CLOCK_BOOTTIME when it began: it answers questions about deadlines
    /// up to this instant.
    started_ns: u64,
    took: Duration,
    /// Holders of the namespaces it found with no task inside.
    idle: HashMap<(NsType, u32), Vec<Holder>>,
    /// Namespaces it found with tasks: not lingering after all.
    busy: HashMap<(NsType, u32), Vec<Holder>>,
    searched: String,
}

#[derive(Default)]
struct State {
    /// The latest deadline a question needs a scan after; `None` when no
    /// question waits.
    wanted: Option<u64>,
    /// When the scan in progress began.
    running_since: Option<u64>,
    latest: Option<Arc<Scan>>,
    last_asked: Option<Instant>,
    /// Scans finished, and their start and end, for [`HolderScanner::take_finished`].
    finished: Vec<(u64, u64)>,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic on the scan thread leaves the state as it was between
        // scans: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The [`HolderSource`] the daemon uses: scans off the event loop.
pub struct HolderScanner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Answers with holders given since [`HolderScanner::new_poll`].
    found: usize,
}

impl HolderScanner {
    pub fn start() -> anyhow::Result<HolderScanner> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nstrace-holders".into())
            .spawn(move || scan_loop(&worker))
            .map_err(|e| anyhow::anyhow!("starting the holder scan thread: {e}"))?;
        Ok(HolderScanner {
            shared,
            thread: Some(thread),
            found: 0,
        })
    }

    /// A new poll of the engine: a new budget of answers.
    pub fn new_poll(&mut self) {
        self.found = 0;
    }

    /// Scans finished since the last call, as (start, end) in
    /// CLOCK_BOOTTIME ns.
    pub fn take_finished(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.shared.lock().finished)
    }

    /// Whether a scan is running now.
    pub fn scanning(&self) -> bool {
        self.shared.lock().running_since.is_some()
    }

    /// Waits, at most `limit`, until a question asked so far can be
    /// answered: for the last poll when the daemon stops.
    pub fn wait_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut st = self.shared.lock();
        while st.wanted.is_some() || st.running_since.is_some() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            st = self
                .shared
                .wake
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl HolderSource for HolderScanner {
    fn holders(&mut self, ns_type: NsType, inum: u32, not_before: u64) -> HolderAnswer {
        let mut st = self.shared.lock();
        st.last_asked = Some(Instant::now());
        if let Some(scan) = st.latest.as_ref().filter(|s| s.started_ns >= not_before) {
            let key = (ns_type, inum);
            if self.found >= FOUND_PER_POLL {
                return HolderAnswer::NotYet;
            }
            return match scan.idle.get(&key).or_else(|| scan.busy.get(&key)) {
                Some(found) => {
                    self.found += 1;
                    HolderAnswer::Found(found.clone())
                }
                None => HolderAnswer::NotFound {
                    searched: scan.searched.clone(),
                },
            };
        }
        if st.running_since.is_some_and(|s| s >= not_before) {
            return HolderAnswer::NotYet;
        }
        st.wanted = Some(st.wanted.map_or(not_before, |w| w.max(not_before)));
        self.shared.wake.notify_all();
        HolderAnswer::NotYet
    }
}

impl Drop for HolderScanner {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        // A scan in progress finishes first; the daemon is stopping anyway.
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn scan_loop(shared: &Shared) {
    let mut st = shared.lock();
    loop {
        if st.stop {
            return;
        }
        if st.wanted.take().is_none() {
            // Let an unused scan go: it can hold every holder of a host.
            let stale = st.last_asked.is_none_or(|t| t.elapsed() >= KEEP_UNUSED);
            if stale && st.latest.take().is_some() {
                super::trim_heap();
            }
            st = shared
                .wake
                .wait_timeout(st, KEEP_UNUSED)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            continue;
        }
        let started_ns = Clock::boot_ns();
        st.running_since = Some(started_ns);
        drop(st);
        let scan = scan_now(started_ns);
        st = shared.lock();
        st.running_since = None;
        if let Some(scan) = scan {
            let ended = started_ns + scan.took.as_nanos() as u64;
            st.finished.push((started_ns, ended));
            st.latest = Some(Arc::new(scan));
        } else {
            // Answer "not found" rather than ask forever: the scan failed
            // and the warning says why.
            st.latest = Some(Arc::new(Scan {
                started_ns,
                took: Duration::ZERO,
                idle: HashMap::new(),
                busy: HashMap::new(),
                searched: "nothing: the /proc scan failed".into(),
            }));
        }
        shared.wake.notify_all();
    }
}

fn scan_now(started_ns: u64) -> Option<Scan> {
    let t = Instant::now();
    let inv = match discovery::scan() {
        Ok(inv) => inv,
        Err(e) => {
            log::warn!("scanning /proc for the holders of lingering namespaces: {e:#}");
            return None;
        }
    };
    let count = inv.namespaces.len();
    let mut idle = HashMap::new();
    let mut busy = HashMap::new();
    for (id, ns) in inv.namespaces {
        let key = (id.ns_type, id.inum);
        if ns.tasks == 0 {
            idle.insert(key, ns.holders);
        } else {
            // Enough to say what holds it without keeping every task.
            let tasks: Vec<Holder> = ns
                .holders
                .into_iter()
                .filter(|h| matches!(h.kind, HolderKind::Task | HolderKind::Thread))
                .take(4)
                .collect();
            busy.insert(key, tasks);
        }
    }
    // The full inventory is gone: give its memory back.
    super::trim_heap();
    let took = t.elapsed();
    log::debug!(
        "holder scan: {count} namespaces, {} without a task, in {} ms",
        idle.len(),
        took.as_millis()
    );
    Some(Scan {
        started_ns,
        took,
        idle,
        busy,
        searched: format!(
            "every task, fd and mount in /proc ({count} namespaces found) at {}",
            Clock::now().rfc3339(started_ns)
        ),
    })
}

/// The source for `--no-scan`.
pub struct NoScan;

impl HolderSource for NoScan {
    fn holders(&mut self, _: NsType, _: u32, _: u64) -> HolderAnswer {
        HolderAnswer::NotScanned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_waits_for_a_scan_taken_after_its_deadline() {
        let mut s = HolderScanner::start().unwrap();
        let deadline = Clock::boot_ns();
        assert_eq!(
            s.holders(NsType::Net, 1, deadline),
            HolderAnswer::NotYet,
            "no scan yet"
        );
        s.wait_idle(Duration::from_secs(60));
        let finished = s.take_finished();
        assert_eq!(finished.len(), 1, "one scan: {finished:?}");
        assert!(finished[0].0 >= deadline);
        // Inode 1 is no namespace: the scan looked and did not find it.
        match s.holders(NsType::Net, 1, deadline) {
            HolderAnswer::NotFound { searched } => {
                assert!(searched.contains("/proc"), "{searched}")
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        // Our own net namespace has tasks: found, with a task as holder.
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        let me = discovery::NsRef::parse_link(&me.to_string_lossy()).unwrap();
        match s.holders(NsType::Net, me.inum, deadline) {
            HolderAnswer::Found(h) => assert!(h.iter().any(|h| h.kind == HolderKind::Task)),
            other => panic!("expected Found, got {other:?}"),
        }
        // A later deadline needs a newer scan; two questions share it.
        let later = Clock::boot_ns();
        assert_eq!(s.holders(NsType::Net, 1, later), HolderAnswer::NotYet);
        assert_eq!(s.holders(NsType::Uts, 2, later), HolderAnswer::NotYet);
        s.wait_idle(Duration::from_secs(60));
        assert_eq!(s.take_finished().len(), 1, "coalesced into one scan");
    }
}
