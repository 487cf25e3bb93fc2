//! Holders of lingering namespaces, found by a /proc scan on a thread of
//! its own. A scan of a busy host takes hundreds of milliseconds; the
//! event loop only asks and reads answers, so the ring is drained while a
//! scan runs.
//!
//! Scans are taken on demand and coalesced: the namespaces asked about
//! since the last scan began are the ones the next scan looks for
//! (`discovery::scan_for`, which keeps their holders only, in a few bytes
//! each: 100,000 namespaces lingering at once cost a few MiB, where the
//! full inventory of the host cost 150), and every question waits for a
//! scan that began after its deadline and looked for it. Only the newest
//! finished scan is kept, and dropped once nothing has asked for a while.
//!
//! Scans are paced: one starts at least [`BUDGET`] times the previous
//! one's CPU time after it (scaled by the scan interval, and at most
//! [`MAX_GAP`]), so that namespaces lingering one after another cost a
//! bounded share of a CPU; a question that comes alone is answered at
//! once.

use std::{
    collections::HashSet,
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tracer_common::NsType;

use crate::{
    decode::Clock,
    discovery::{self, Answer, Held, NsRef},
    handoff::Handoff,
    lifecycle::{HolderAnswer, HolderSource},
    schema::{Holder, HolderKind},
};

/// A finished scan is dropped after this long without a question.
const KEEP_UNUSED: Duration = Duration::from_secs(30);

/// Holder lists handed out per poll; the rest are "not yet" until the
/// next. When thousands of namespaces linger at once, their records then
/// go out a few thousand at a time instead of all in one batch.
const FOUND_PER_POLL: usize = 2_000;

/// A scan starts at least this many times the previous one's CPU time
/// after it, at the default 1 s scan interval (in proportion for others):
/// scans asked for one after another take at most 1/2000, 0.05%, of a CPU.
pub const BUDGET: u32 = 2_000;

/// The longest the pacing makes a question wait.
pub const MAX_GAP: Duration = Duration::from_secs(60);

/// Task holders kept for a namespace that turned out to have tasks: enough
/// to say what holds it.
const BUSY_HOLDERS: usize = 4;

/// One finished scan.
struct Scan {
    /// CLOCK_BOOTTIME when it began: it answers questions about deadlines
    /// up to this instant, for the namespaces it looked for.
    started_ns: u64,
    took: Duration,
    held: Held,
    searched: String,
}

#[derive(Default)]
struct State {
    /// Namespaces asked about that no scan has taken yet.
    wanted: HashSet<NsRef>,
    /// The scan in progress: when it began, and what it looks for.
    running: Option<(u64, Arc<HashSet<NsRef>>)>,
    latest: Option<Arc<Scan>>,
    last_asked: Option<Instant>,
    /// Scans finished, and their start and end, for [`HolderScanner::take_finished`].
    finished: Vec<(u64, u64)>,
    /// Scans finished since the start, for [`HolderSource::may_answer_more`].
    scans_done: u64,
    /// A poll has ended since `wanted` began to fill: its questions are
    /// all in.
    go: bool,
    /// The daemon is stopping: no pacing.
    hurry: bool,
    stop: bool,
}

type Shared = Handoff<State>;

/// The [`HolderSource`] the daemon uses: scans off the event loop.
pub struct HolderScanner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Answers with holders given since [`HolderScanner::new_poll`].
    found: usize,
    /// `scans_done` when [`HolderSource::may_answer_more`] last looked.
    seen_scans: u64,
    /// An answer a scan had was held back by [`FOUND_PER_POLL`].
    held_back: bool,
    /// A question came since [`HolderScanner::new_poll`] (the clock is
    /// read for the first only).
    asked_this_poll: bool,
}

impl HolderScanner {
    /// `interval` scales the pacing (see the module docs).
    pub fn start(interval: Duration) -> anyhow::Result<HolderScanner> {
        let shared = Arc::new(Shared::new(State::default()));
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("nstrace-holders".into())
            .spawn(move || scan_loop(&worker, interval))
            .map_err(|e| anyhow::anyhow!("starting the holder scan thread: {e}"))?;
        Ok(HolderScanner {
            shared,
            thread: Some(thread),
            found: 0,
            seen_scans: 0,
            held_back: false,
            asked_this_poll: false,
        })
    }

    /// A new poll of the engine: a new budget of answers, and the
    /// questions of the last poll, all asked by now, go to a scan together.
    pub fn new_poll(&mut self) {
        // The engine stopped asking once the last poll's answers were
        // spent: the rest are to be asked now.
        self.held_back |= self.found >= FOUND_PER_POLL;
        self.found = 0;
        self.asked_this_poll = false;
        let mut st = self.shared.lock();
        if !st.wanted.is_empty() {
            st.go = true;
            self.shared.wake.notify_all();
        }
    }

    /// Scans finished since the last call, as (start, end) in
    /// CLOCK_BOOTTIME ns.
    pub fn take_finished(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.shared.lock().finished)
    }

    /// Whether a scan is running now.
    pub fn scanning(&self) -> bool {
        self.shared.lock().running.is_some()
    }

    /// Waits, at most `limit`, until a question asked so far can be
    /// answered: for the last poll when the daemon stops (no pacing then).
    pub fn wait_idle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut st = self.shared.lock();
        st.hurry = true;
        self.shared.wake.notify_all();
        while !st.wanted.is_empty() || st.running.is_some() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            st = self.shared.wait_for(st, left);
        }
    }
}

impl HolderSource for HolderScanner {
    fn holders(&mut self, ns_type: NsType, inum: u32, not_before: u64) -> HolderAnswer {
        let id = NsRef::new(ns_type, inum);
        let mut st = self.shared.lock();
        if !std::mem::replace(&mut self.asked_this_poll, true) {
            st.last_asked = Some(Instant::now());
        }
        if let Some(scan) = st.latest.as_ref().filter(|s| s.started_ns >= not_before) {
            if scan.held.has(id) && self.found >= FOUND_PER_POLL {
                self.held_back = true;
                return HolderAnswer::NotYet;
            }
            match scan.held.get(id) {
                Answer::Found(holders) => {
                    self.found += 1;
                    return HolderAnswer::Found(busy_or_all(holders, &scan.searched));
                }
                Answer::NotFound => {
                    return HolderAnswer::NotFound {
                        searched: scan.searched.clone(),
                    }
                }
                // Asked after that scan began: the next one looks.
                Answer::NotAsked => {}
            }
        }
        if st
            .running
            .as_ref()
            .is_some_and(|(since, asked)| *since >= not_before && asked.contains(&id))
        {
            return HolderAnswer::NotYet;
        }
        // The scan starts at the next poll (see `new_poll`), with every
        // question this one asks.
        st.wanted.insert(id);
        HolderAnswer::NotYet
    }

    /// Only a finished scan, or an answer held back for the next poll, can
    /// turn a "not yet" into an answer: until then the same question gets
    /// the same answer, and a scan paced a minute away would otherwise be
    /// asked about every waiting namespace at every poll.
    fn spent(&self) -> bool {
        self.found >= FOUND_PER_POLL
    }

    fn may_answer_more(&mut self) -> bool {
        let done = self.shared.lock().scans_done;
        let more = done != self.seen_scans || std::mem::take(&mut self.held_back);
        self.seen_scans = done;
        more
    }
}

/// A namespace with tasks is not lingering: a few of its tasks say what
/// holds it, without every thread of a busy one. One the walk met with no
/// holder to name (only as another's owner or parent) is alive all the
/// same: one `unknown` holder says so, since an answer that found the
/// namespace is never empty.
fn busy_or_all(holders: Vec<Holder>, searched: &str) -> Vec<Holder> {
    if holders.is_empty() {
        return vec![Holder {
            kind: HolderKind::Unknown,
            detail: Some(format!(
                "alive (the scan reached it through another namespace's owner or parent) \
                 but no holder found; searched {searched}"
            )),
            ..Holder::default()
        }];
    }
    let is_task = |h: &Holder| matches!(h.kind, HolderKind::Task | HolderKind::Thread);
    if !holders.iter().any(is_task) {
        return holders;
    }
    holders
        .into_iter()
        .filter(is_task)
        .take(BUSY_HOLDERS)
        .collect()
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

fn scan_loop(shared: &Shared, interval: Duration) {
    let mut st = shared.lock();
    // When the next scan may start.
    let mut next = Instant::now();
    loop {
        if st.stop {
            return;
        }
        if st.wanted.is_empty() || !(st.go || st.hurry) {
            // Let an unused scan go.
            let stale = st.last_asked.is_none_or(|t| t.elapsed() >= KEEP_UNUSED);
            if stale && st.latest.take().is_some() {
                super::trim_heap();
            }
            st = shared.wait_for(st, KEEP_UNUSED);
            continue;
        }
        if let Some(left) = next.checked_duration_since(Instant::now()) {
            if !st.hurry {
                st = shared.wait_for(st, left);
                continue;
            }
        }
        st.go = false;
        let asked = Arc::new(std::mem::take(&mut st.wanted));
        let started_ns = Clock::boot_ns();
        st.running = Some((started_ns, asked.clone()));
        drop(st);
        let cpu = super::thread_cpu();
        let scan = scan_now(started_ns, asked);
        let cost = super::thread_cpu().saturating_sub(cpu);
        next = Instant::now()
            + cost
                .mul_f64(f64::from(BUDGET) * interval.as_secs_f64())
                .min(MAX_GAP);
        st = shared.lock();
        st.running = None;
        st.finished
            .push((started_ns, started_ns + scan.took.as_nanos() as u64));
        st.latest = Some(Arc::new(scan));
        st.scans_done += 1;
        // Its askers wait for it, and ask again only now that it is done
        // (`may_answer_more`): the last question may be a paced minute
        // old, and the scan must not count as unused from then.
        st.last_asked = Some(Instant::now());
        shared.wake.notify_all();
    }
}

/// One scan for `asked`; a failed one answers "not found" for each of
/// them rather than leave them asking forever (the warning says why).
fn scan_now(started_ns: u64, asked: Arc<HashSet<NsRef>>) -> Scan {
    let t = Instant::now();
    let count = asked.len();
    let (held, searched) = match discovery::scan_for(asked.clone()) {
        Ok(held) => (
            held,
            format!(
                "every task, fd and mount in /proc at {}",
                Clock::now().rfc3339(started_ns)
            ),
        ),
        Err(e) => {
            log::warn!("scanning /proc for the holders of lingering namespaces: {e:#}");
            (
                Held::nothing_of(&asked),
                "nothing: the /proc scan failed".into(),
            )
        }
    };
    // The walk's buffers are gone: give their memory back.
    super::trim_heap();
    let took = t.elapsed();
    log::debug!(
        "holder scan: {} of {count} namespaces asked about found, in {} ms",
        held.found(),
        took.as_millis()
    );
    Scan {
        started_ns,
        took,
        held,
        searched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_waits_for_a_scan_taken_after_its_deadline_that_looked_for_it() {
        let mut s = HolderScanner::start(Duration::from_secs(1)).unwrap();
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        let me = discovery::NsRef::parse_link(&me.to_string_lossy()).unwrap();
        let deadline = Clock::boot_ns();
        for inum in [1, me.inum] {
            assert_eq!(
                s.holders(NsType::Net, inum, deadline),
                HolderAnswer::NotYet,
                "no scan yet"
            );
        }
        s.new_poll();
        s.wait_idle(Duration::from_secs(60));
        let finished = s.take_finished();
        assert_eq!(finished.len(), 1, "one scan for both: {finished:?}");
        assert!(finished[0].0 >= deadline);
        // Inode 1 is no namespace: the scan looked and did not find it.
        match s.holders(NsType::Net, 1, deadline) {
            HolderAnswer::NotFound { searched } => {
                assert!(searched.contains("/proc"), "{searched}")
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
        // Our own net namespace has tasks: found, with tasks as holders.
        match s.holders(NsType::Net, me.inum, deadline) {
            HolderAnswer::Found(h) => {
                assert!(!h.is_empty() && h.len() <= BUSY_HOLDERS, "{h:?}");
                assert!(h.iter().all(|h| h.kind == HolderKind::Task), "{h:?}");
            }
            other => panic!("expected Found, got {other:?}"),
        }
        // One that scan did not look for waits for the next, and so does a
        // later deadline; questions asked meanwhile share that scan.
        assert_eq!(s.holders(NsType::Uts, 3, deadline), HolderAnswer::NotYet);
        let later = Clock::boot_ns();
        assert_eq!(s.holders(NsType::Net, 1, later), HolderAnswer::NotYet);
        assert_eq!(s.holders(NsType::Uts, 2, later), HolderAnswer::NotYet);
        s.wait_idle(Duration::from_secs(60));
        assert_eq!(s.take_finished().len(), 1, "coalesced into one scan");
        for inum in [1, 2, 3] {
            let ty = if inum == 1 { NsType::Net } else { NsType::Uts };
            assert!(matches!(
                s.holders(ty, inum, later),
                HolderAnswer::NotFound { .. }
            ));
        }
    }

    /// Questions wait for a scan paced up to a minute away and are not
    /// asked again meanwhile; the scan, once done, is theirs however long
    /// ago they were asked, and says once that it has news.
    #[test]
    fn a_scan_asked_for_long_ago_is_kept_for_the_questions_waiting_on_it() {
        let mut s = HolderScanner::start(Duration::from_secs(1)).unwrap();
        let deadline = Clock::boot_ns();
        assert_eq!(s.holders(NsType::Net, 1, deadline), HolderAnswer::NotYet);
        assert!(!s.may_answer_more(), "no scan finished yet");
        s.shared.lock().last_asked = Some(
            Instant::now()
                .checked_sub(KEEP_UNUSED * 2)
                .expect("the machine is up longer than a minute"),
        );
        s.new_poll();
        s.wait_idle(Duration::from_secs(60));
        assert!(s.may_answer_more(), "a scan finished");
        assert!(!s.may_answer_more(), "said once");
        assert!(matches!(
            s.holders(NsType::Net, 1, deadline),
            HolderAnswer::NotFound { .. }
        ));
    }

    #[test]
    fn a_namespace_found_with_no_holder_to_name_is_alive_with_an_unknown_one() {
        let h = busy_or_all(Vec::new(), "every task, fd and mount in /proc");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].kind, HolderKind::Unknown);
        assert!(h[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("every task, fd and mount"));
    }
}
