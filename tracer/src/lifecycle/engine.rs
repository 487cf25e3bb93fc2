//! The engine: orders events, keeps one [`Lifetime`] per live namespace,
//! and derives `linger` and `cleanup_slow`. The rules are in the module
//! docs of `lifecycle`.

use std::collections::HashMap;

// foldhash, not SipHash: the keys are kernel-assigned numbers, and hashing
// was a fifth of the reader's time per event.
use foldhash::{HashMap as FastMap, HashMapExt as _};

use tracer_common::{
    Event, EventKind, NsType, Via, CLEANUP_WALK_PARTIAL, DEATH_ANON_MNT, DEATH_LATE,
};

use super::cleanup::{NetCleanup, Queued};
use super::config::EngineConfig;
use super::holders::{self, Dependents};
use super::identity::compatible;
use super::lifetime::{CommId, Comms, JoinRef, Lifetime, Origin};
use super::linger::{HolderAnswer, HolderSource};
use super::linger_timers::LingerTimers;
use super::lives::Lives;
use super::losses::LossLog;
use super::reorder::{shrink_after_burst, Reorder};
use crate::decode::{escape_comm, record_from_event, Clock};
use crate::schema::{DeathEnd, Holder, HolderKind, Record, RecordKind};

/// The inode number every anonymous mount namespace shares on 6.18
/// (`MNT_NS_ANON_INO`, 0xEFFFFFF7; see shared/notes/kernel-hooks.md). On
/// 6.1/6.12 they have inum 0. Real inums start at 0xF0000000, so neither
/// can be a named namespace.
pub const MNT_NS_ANON_INO: u32 = 0xEFFF_FFF7;

type Key = (NsType, u32);

/// Where [`Engine::poll_each`] hands its records, a group at a time, in
/// order; what the callee leaves in the group is dropped.
pub type Emit<'a> = dyn FnMut(&mut Vec<Record>) + 'a;

/// Records [`Engine::poll_each`] hands out at a time.
const RELEASE_GROUP: usize = 32;

/// Hands `out` to `emit` once it holds a group. Every loop that can write
/// a record per item calls it: a burst of ten thousand lingers confirmed
/// in one poll otherwise sits in `out` at once (about 6 MB), and `out`'s
/// buffer, reused by every poll, keeps that size.
fn hand_out_full_group(out: &mut Vec<Record>, emit: Option<&mut Emit<'_>>) {
    if let Some(emit) = emit {
        if out.len() >= RELEASE_GROUP {
            emit(out);
            out.clear();
        }
    }
}

/// A namespace alive when tracing began, found by the /proc scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Present {
    pub ns_type: NsType,
    pub inum: u32,
    pub tasks: u32,
    pub ns_id: Option<u64>,
}

/// Counts per namespace type since tracing began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypeCounts {
    pub born: u64,
    pub present: u64,
    /// Lifetimes first seen through a join, evict, put or death.
    pub unseen: u64,
    pub died: u64,
    /// Lifetimes closed because a new birth reused their inode number (or
    /// their struct's address) before their death was seen (lost, or
    /// invisible on this kernel): a `death` with `end: reused`.
    pub missed_deaths: u64,
    /// Deaths the kernel reported that no lifetime could be tied to
    /// (`end: unidentified`).
    pub unidentified: u64,
    pub lingered: u64,
    /// Namespaces whose linger check found them gone: the scan after the
    /// deadline did not find them (dead, or dying like a net waiting for
    /// its cleanup run). No linger is written; where the type's deaths are
    /// visible, a `death` follows.
    pub gone_at_check: u64,
    pub live: u64,
}

/// Where a live lifetime is kept.
#[derive(Clone, Copy)]
enum At {
    Slot(Key),
    /// Anonymous mount namespaces share one inum, so they are kept by
    /// kernel address.
    Anon(u64),
}

enum Pending {
    Event(Event),
    Present(Present),
}

/// What an event about an existing namespace refers to.
enum Found {
    Live(At),
    /// A lifetime parked by a reuse (see [`Parked`]), by index.
    Parked(usize),
    /// The live lifetime with the event's number is another namespace.
    Other,
    /// No lifetime the engine knows.
    Unknown,
}

/// A net whose number was born again while a cleanup run was open: on
/// tracepoint kernels its death is reported at the end of the run that
/// freed it, after the release that let the number be reused. It waits
/// there until the runs open at the reuse have ended.
struct Parked {
    life: Lifetime,
    reused_ns: u64,
}

/// A linger check whose holder scan has not answered yet.
#[derive(Clone, Copy)]
struct Awaiting {
    key: Key,
    gen: u32,
    deadline: u64,
}

/// A linger check a scan answered with holders. The scan looked the
/// namespace up by number, at some time before `answered_ns`: only once
/// every event up to then is applied is it known that the number still
/// belonged to this lifetime (no death, no newer birth on it).
struct Confirming {
    check: Awaiting,
    holders: Vec<Holder>,
    answered_ns: u64,
}

/// See the `lifecycle` module docs.
pub struct Engine {
    config: EngineConfig,
    clock: Clock,
    lives: Lives,
    anon_mnt: FastMap<u64, Lifetime>,
    parked: Vec<Parked>,
    deps: FastMap<Key, Dependents>,
    comms: Comms,
    pending: Reorder<Pending>,
    /// When linger checks fall due; stale ones are skipped when they fire.
    lingers: LingerTimers,
    awaiting: Vec<Awaiting>,
    confirming: Vec<Confirming>,
    /// `now` of the current poll: when a holder source's answer came.
    now_ns: u64,
    cleanup: NetCleanup,
    losses: LossLog,
    /// [`Engine::poll_each`]'s group of records, empty between polls.
    released: Vec<Record>,
    /// Timestamp of the latest released item: derived records never go
    /// before it.
    cursor_ns: u64,
    last_poll_ns: u64,
    counts: [TypeCounts; 8],
    completed: u64,
    lost_total: u64,
    late_events: u64,
    undecodable: u64,
}

impl Engine {
    pub fn new(config: EngineConfig, clock: Clock) -> Engine {
        Engine {
            config,
            clock,
            lives: Lives::default(),
            anon_mnt: FastMap::new(),
            parked: Vec::new(),
            deps: FastMap::new(),
            comms: Comms::default(),
            pending: Reorder::new(),
            lingers: LingerTimers::default(),
            awaiting: Vec::new(),
            confirming: Vec::new(),
            now_ns: 0,
            cleanup: NetCleanup::default(),
            losses: LossLog::default(),
            released: Vec::new(),
            cursor_ns: 0,
            last_poll_ns: 0,
            counts: [TypeCounts::default(); 8],
            completed: 0,
            lost_total: 0,
            late_events: 0,
            undecodable: 0,
        }
    }

    /// Namespaces the /proc scan found alive, each with the time it was
    /// found. Their `present` records come out of [`Engine::poll`] in time
    /// order with the events, so a birth traced before the scan reached its
    /// namespace keeps gen 1 and the scan only confirms it. (Dated at the
    /// scan's start instead, a namespace born while the scan ran was
    /// "present" before its own birth: a phantom gen 1 ended by gen 2.)
    pub fn seed_present(&mut self, items: impl IntoIterator<Item = (u64, Present)>) {
        for (seen_ns, p) in items {
            self.pending.push(seen_ns, Pending::Present(p));
        }
    }

    /// Buffers one ring-buffer record until the reorder window has passed.
    pub fn push(&mut self, ev: &Event) {
        self.pending.push(ev.ts_ns, Pending::Event(*ev));
    }

    /// Releases every buffered item older than `now_mono_ns` minus the
    /// reorder window, in time order, with the derived records that fall
    /// due among them. `holders` is asked whether a namespace whose linger
    /// deadline passed is alive and who holds it.
    pub fn poll(&mut self, now_mono_ns: u64, holders: &mut dyn HolderSource) -> Vec<Record> {
        let mut out = Vec::new();
        let horizon = self.horizon(now_mono_ns);
        self.release(now_mono_ns, horizon, horizon, holders, &mut out, None);
        self.last_poll_ns = self.last_poll_ns.max(now_mono_ns);
        out
    }

    /// One poll's work: the events and timers due, then the linger checks
    /// that waited for those events (a death among them settles them).
    fn release(
        &mut self,
        now_mono_ns: u64,
        event_horizon: u64,
        timer_horizon: u64,
        holders: &mut dyn HolderSource,
        out: &mut Vec<Record>,
        mut emit: Option<&mut Emit<'_>>,
    ) {
        self.now_ns = self.now_ns.max(now_mono_ns);
        let earlier = std::mem::take(&mut self.awaiting);
        self.advance(
            event_horizon,
            timer_horizon,
            holders,
            out,
            emit.as_deref_mut(),
        );
        if holders.may_answer_more() {
            self.retry_awaiting(earlier, holders, out, emit.as_deref_mut());
        } else {
            // Every one of them would be "not yet" again. They keep their
            // place ahead of the questions this poll asked first.
            let asked_now = std::mem::replace(&mut self.awaiting, earlier);
            self.awaiting.extend(asked_now);
        }
        self.confirm_lingers(timer_horizon, out, emit);
        self.shrink_linger_queues();
    }

    /// A burst of lingers passes through the due timers, then the checks
    /// awaiting a holder scan, then the confirmations, 24 bytes or more
    /// per namespace in each; a queue it left kept its capacity, 3 MB at
    /// 100,000, while the scan's own lists grew beside it. Given back, the
    /// scan and the next queue grow into that memory instead (the timers
    /// give theirs back as they fire).
    fn shrink_linger_queues(&mut self) {
        let (cap, len) = (self.awaiting.capacity(), self.awaiting.len());
        shrink_after_burst(cap, len, |c| self.awaiting.shrink_to(c));
        let (cap, len) = (self.confirming.capacity(), self.confirming.len());
        shrink_after_burst(cap, len, |c| self.confirming.shrink_to(c));
    }

    /// [`Engine::poll`], handing the records to `emit` (in order) a few
    /// dozen at a time while the poll runs, and dropping what it leaves. A storm
    /// releases thousands of records per poll: made, written and freed in
    /// small groups they stay in the cache, and their allocations are
    /// reused at once.
    pub fn poll_each(
        &mut self,
        now_mono_ns: u64,
        holders: &mut dyn HolderSource,
        emit: &mut Emit<'_>,
    ) {
        let mut out = std::mem::take(&mut self.released);
        let horizon = self.horizon(now_mono_ns);
        self.release(now_mono_ns, horizon, horizon, holders, &mut out, Some(emit));
        emit(&mut out);
        out.clear();
        self.released = out;
        self.last_poll_ns = self.last_poll_ns.max(now_mono_ns);
    }

    /// Releases everything still buffered (the daemon is stopping) and the
    /// derived records due by `now_mono_ns`. Nets still parked get their
    /// `end: reused` death; linger checks still unanswered are dropped.
    pub fn finish(&mut self, now_mono_ns: u64, holders: &mut dyn HolderSource) -> Vec<Record> {
        let mut out = Vec::new();
        self.now_ns = self.now_ns.max(now_mono_ns);
        let earlier = std::mem::take(&mut self.awaiting);
        self.advance(u64::MAX, now_mono_ns, holders, &mut out, None);
        self.retry_awaiting(earlier, holders, &mut out, None);
        self.awaiting.clear();
        self.confirm_lingers(u64::MAX, &mut out, None);
        for p in std::mem::take(&mut self.parked) {
            out.push(self.reused_death(&p.life, p.reused_ns));
        }
        self.last_poll_ns = self.last_poll_ns.max(now_mono_ns);
        out
    }

    /// Applies one /proc scan: live task count per namespace; a namespace
    /// missing from `counts` has no task. Applied at once to the lifetimes
    /// already released; a namespace whose birth is still buffered is
    /// counted by the next scan.
    pub fn observe_tasks(&mut self, mono_ns: u64, counts: &HashMap<(NsType, u32), u32>) {
        let grace = self.config.linger_grace_ns;
        for life in self.lives.iter_mut() {
            let key = (life.ns_type(), life.inum());
            if life.opened_ns() > mono_ns {
                // Opened after the scan looked: its absence means nothing.
                continue;
            }
            let tasks = counts.get(&key).copied().unwrap_or(0);
            if let Some(left) = life.observe(tasks, mono_ns) {
                if !life.lingered() {
                    self.lingers
                        .set(left.saturating_add(grace), key.0, key.1, life.gen());
                }
            }
        }
    }

    /// `count` records were lost since the previous poll. Lifetimes open at
    /// any time since then get `exact: false` on their death.
    pub fn on_lost(&mut self, mono_ns: u64, count: u64) -> Record {
        self.lost_total += count;
        self.loss(mono_ns, count, self.lost_total)
    }

    /// The kernel skipped `count` runs of `program` since the previous poll
    /// (`total` since it was loaded): what they would have written is lost
    /// as on [`Engine::on_lost`], so lifetimes open since then get
    /// `exact: false` on their death too.
    pub fn on_skipped(&mut self, mono_ns: u64, program: &str, count: u64, total: u64) -> Record {
        let mut r = self.loss(mono_ns, count, total);
        r.program = Some(program.to_string());
        r
    }

    /// Records lost between the previous poll and `mono_ns`: lifetimes open
    /// meanwhile become inexact, and the `lost` record says how many.
    fn loss(&mut self, mono_ns: u64, count: u64, total: u64) -> Record {
        self.losses.add(self.last_poll_ns, mono_ns);
        let mut r = Record::new(RecordKind::Lost, mono_ns, self.clock.rfc3339(mono_ns));
        r.count = Some(count);
        r.total = Some(total);
        r
    }

    /// Every live lifetime, anonymous mount namespaces included.
    pub fn live(&self) -> impl Iterator<Item = &Lifetime> + '_ {
        self.lives.iter().chain(self.anon_mnt.values())
    }

    pub fn live_count(&self) -> usize {
        self.live().count()
    }

    /// The live lifetime of `(ns_type, inum)`.
    pub fn lifetime(&self, ns_type: NsType, inum: u32) -> Option<&Lifetime> {
        self.lives.get((ns_type, inum))
    }

    /// Lifetimes closed by a death record.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    pub fn counts(&self, ns_type: NsType) -> TypeCounts {
        let mut c = self.counts[ns_type as usize];
        c.live = self.live().filter(|l| l.ns_type() == ns_type).count() as u64;
        c
    }

    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Events released after a later one had already gone out: they came
    /// later than the reorder window allows.
    pub fn late_events(&self) -> u64 {
        self.late_events
    }

    /// Records of a kind this build does not know.
    pub fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// Items still waiting in the reorder buffer.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Whether a poll at `now_mono_ns` would release a buffered item.
    pub fn has_due(&self, now_mono_ns: u64) -> bool {
        let horizon = self.horizon(now_mono_ns);
        self.pending.peek_ts().is_some_and(|t| t <= horizon)
    }

    /// The latest timestamp a poll at `now_mono_ns` releases: the reorder
    /// window before it.
    fn horizon(&self, now_mono_ns: u64) -> u64 {
        now_mono_ns.saturating_sub(self.config.reorder_window_ns)
    }

    /// Nets put and not yet taken by a cleanup run, and runs still open.
    pub fn cleanup_backlog(&self) -> (usize, usize) {
        (self.cleanup.queued_len(), self.cleanup.open_runs())
    }

    /// Lifetimes closed by a reuse that wait for their cleanup run to end,
    /// and linger checks waiting for a scan or for its confirmation.
    pub fn waiting(&self) -> (usize, usize) {
        (
            self.parked.len(),
            self.awaiting.len() + self.confirming.len(),
        )
    }

    /// A comm as the JSON output writes it.
    pub fn comm(&self, id: CommId) -> String {
        escape_comm(self.comms.get(id))
    }

    fn advance(
        &mut self,
        event_horizon: u64,
        timer_horizon: u64,
        holders: &mut dyn HolderSource,
        out: &mut Vec<Record>,
        mut emit: Option<&mut Emit<'_>>,
    ) {
        loop {
            hand_out_full_group(out, emit.as_deref_mut());
            let event = self.pending.peek_ts().filter(|&t| t <= event_horizon);
            let timer = self
                .next_timer(timer_horizon)
                .filter(|&t| t <= timer_horizon);
            match (event, timer) {
                // On a tie the event goes first: a death at the deadline
                // means the namespace did not linger.
                (Some(e), Some(t)) if t < e => self.fire_timer(t, holders, out),
                (Some(_), _) => {
                    let (ts, item) = self.pending.pop().expect("peeked");
                    if ts < self.cursor_ns {
                        self.late_events += 1;
                    }
                    self.cursor_ns = self.cursor_ns.max(ts);
                    match item {
                        Pending::Event(ev) => self.apply_event(&ev, out),
                        Pending::Present(p) => self.apply_present(ts, p, out),
                    }
                }
                (None, Some(t)) => self.fire_timer(t, holders, out),
                (None, None) => break,
            }
        }
    }

    /// The earliest timer; every linger check due by `horizon` is listed.
    fn next_timer(&mut self, horizon: u64) -> Option<u64> {
        let grace = self.config.linger_grace_ns;
        let linger = self.lingers.next(horizon, self.lives.iter(), grace);
        let slow = self.cleanup.next_slow(self.config.slow_cleanup_ns);
        match (linger, slow) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn fire_timer(&mut self, deadline: u64, holders: &mut dyn HolderSource, out: &mut Vec<Record>) {
        // A deadline set after the cursor passed it (a namespace never seen
        // with tasks, found empty by a late scan) fires now, not in the past.
        let mono = deadline.max(self.cursor_ns);
        self.cursor_ns = mono;
        let threshold = self.config.slow_cleanup_ns;
        if let Some(run) = self.cleanup.take_slow(deadline, threshold) {
            let mut r = Record::new(RecordKind::CleanupSlow, mono, self.clock.rfc3339(mono));
            r.ns_type = Some(NsType::Net);
            r.batch = Some(run.id);
            r.inums = Some(run.inums());
            r.running_ns = run.start_ns.map(|s| mono - s);
            out.push(r);
            return;
        }
        if let Some((_, ty, inum, gen)) = self.lingers.pop(deadline) {
            self.fire_linger(mono, (ty, inum), gen, deadline, holders, out);
        }
    }

    fn fire_linger(
        &mut self,
        mono: u64,
        key: Key,
        gen: u32,
        deadline: u64,
        holders: &mut dyn HolderSource,
        out: &mut Vec<Record>,
    ) {
        if !self.linger_due(key, gen, deadline) {
            return;
        }
        let answer = holders.holders(key.0, key.1, deadline);
        self.settle_linger(mono, key, gen, deadline, answer, out);
    }

    /// Whether the linger check of `key`/`gen` set for `deadline` still
    /// stands: same lifetime, never checked, still without a task since.
    fn linger_due(&self, key: Key, gen: u32, deadline: u64) -> bool {
        let Some(life) = self.lives.get(key) else {
            return false;
        };
        let grace = self.config.linger_grace_ns;
        life.gen() == gen
            && !life.lingered()
            && life
                .last_task_left_ns()
                .is_some_and(|left| left.saturating_add(grace) == deadline)
    }

    /// Acts on a holder scan's answer: a linger only for a namespace a scan
    /// after the deadline found alive, once confirmed (see [`Confirming`]).
    fn settle_linger(
        &mut self,
        mono: u64,
        key: Key,
        gen: u32,
        deadline: u64,
        answer: HolderAnswer,
        out: &mut Vec<Record>,
    ) {
        let check = Awaiting { key, gen, deadline };
        match answer {
            HolderAnswer::NotYet => self.awaiting.push(check),
            HolderAnswer::Found(holders) => self.confirming.push(Confirming {
                check,
                holders,
                answered_ns: self.now_ns.max(deadline),
            }),
            HolderAnswer::NotFound { .. } => {
                // Gone, or dying (a net in the cleanup backlog): not a
                // linger. Checked once.
                self.life_mut(At::Slot(key)).set_lingered();
                self.counts[key.0 as usize].gone_at_check += 1;
            }
            HolderAnswer::NotScanned => {
                if !self.config.death_visible(key.0) {
                    // No scan, and its death could not be seen: most likely
                    // it died unseen.
                    self.life_mut(At::Slot(key)).set_lingered();
                    return;
                }
                let life = self.lifetime(key.0, key.1).expect("linger_due checked");
                let found = holders::from_trace(life, self.deps.get(&key), &self.clock);
                self.write_linger(mono, key, found, out);
            }
        }
    }

    fn write_linger(&mut self, mono: u64, key: Key, holders: Vec<Holder>, out: &mut Vec<Record>) {
        let life = self.lifetime(key.0, key.1).expect("linger_due checked");
        let left = life.last_task_left_ns().expect("linger_due checked");
        let mut r = self.ns_record(RecordKind::Linger, mono, life);
        r.since_last_task_ns = Some(mono - left);
        r.tasks = Some(life.tasks());
        r.holders = Some(holders);
        out.push(r);
        self.life_mut(At::Slot(key)).set_lingered();
        self.counts[key.0 as usize].lingered += 1;
    }

    /// Writes the lingers whose answer every event up to `horizon` now
    /// confirms: the lifetime still has its number, and the scan found no
    /// task in it. One that died, or whose number a newer namespace took
    /// (the scan then saw that one), is gone; one with a task has not lost
    /// its last task after all.
    fn confirm_lingers(
        &mut self,
        horizon: u64,
        out: &mut Vec<Record>,
        mut emit: Option<&mut Emit<'_>>,
    ) {
        let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.confirming)
            .into_iter()
            .partition(|c| c.answered_ns <= horizon);
        self.confirming = later;
        for c in ready {
            hand_out_full_group(out, emit.as_deref_mut());
            let Awaiting { key, gen, deadline } = c.check;
            if !self.linger_due(key, gen, deadline) {
                if self.lifetime(key.0, key.1).is_none_or(|l| l.gen() != gen) {
                    self.counts[key.0 as usize].gone_at_check += 1;
                }
                continue;
            }
            let tasks = c
                .holders
                .iter()
                .filter(|h| matches!(h.kind, HolderKind::Task | HolderKind::Thread))
                .count();
            if tasks > 0 {
                self.life_mut(At::Slot(key))
                    .observe(tasks as u32, c.answered_ns);
                continue;
            }
            let mono = c.answered_ns.max(self.cursor_ns);
            self.cursor_ns = mono;
            self.write_linger(mono, key, c.holders, out);
        }
    }

    /// Asks again about linger checks that had no answer at an earlier
    /// poll, now that every record up to this poll's horizon is applied (a
    /// death in between settles them without a question).
    fn retry_awaiting(
        &mut self,
        earlier: Vec<Awaiting>,
        holders: &mut dyn HolderSource,
        out: &mut Vec<Record>,
        mut emit: Option<&mut Emit<'_>>,
    ) {
        let mut earlier = earlier.into_iter();
        for a in earlier.by_ref() {
            if holders.spent() {
                self.awaiting.push(a);
                break;
            }
            hand_out_full_group(out, emit.as_deref_mut());
            if !self.linger_due(a.key, a.gen, a.deadline) {
                continue;
            }
            let answer = holders.holders(a.key.0, a.key.1, a.deadline);
            let mono = a.deadline.max(self.cursor_ns);
            self.cursor_ns = mono;
            self.settle_linger(mono, a.key, a.gen, a.deadline, answer, out);
        }
        self.awaiting.extend(earlier);
    }

    fn ns_record(&self, kind: RecordKind, mono: u64, life: &Lifetime) -> Record {
        let mut r = Record::new(kind, mono, self.clock.rfc3339(mono));
        r.ns_type = Some(life.ns_type());
        r.inum = Some(life.inum());
        r.gen = Some(life.gen());
        r.ns_id = life.ns_id();
        r
    }

    fn apply_present(&mut self, mono: u64, p: Present, out: &mut Vec<Record>) {
        let key = (p.ns_type, p.inum);
        self.counts[p.ns_type as usize].present += 1;
        if self.lifetime(p.ns_type, p.inum).is_none() {
            let gen = self.next_gen(key);
            let life = Lifetime::present(p.ns_type, p.inum, gen, p.ns_id.unwrap_or(0), mono);
            self.lives.open(life);
        }
        // A birth traced between attach and scan already opened it: the
        // scan just confirms it, with its task count.
        let life = self.life_mut(At::Slot(key));
        life.fill_ns_id(p.ns_id.unwrap_or(0));
        if let Some(left) = life.observe(p.tasks, mono) {
            let gen = life.gen();
            let deadline = left.saturating_add(self.config.linger_grace_ns);
            self.lingers.set(deadline, key.0, key.1, gen);
        }
        let life = self.lifetime(p.ns_type, p.inum).expect("opened above");
        let mut r = self.ns_record(RecordKind::Present, mono, life);
        r.tasks = Some(p.tasks);
        out.push(r);
    }

    fn apply_event(&mut self, ev: &Event, out: &mut Vec<Record>) {
        let Some(mut rec) = record_from_event(ev, &self.clock) else {
            self.undecodable += 1;
            return;
        };
        let kind = EventKind::from_u32(ev.kind).expect("record_from_event checked the kind");
        match kind {
            EventKind::CleanupStart | EventKind::CleanupEnd => {
                if ev.flags & CLEANUP_WALK_PARTIAL != 0 {
                    rec.walk_partial = Some(true);
                }
                if kind == EventKind::CleanupStart {
                    self.cleanup_start(ev, &mut rec, out);
                } else {
                    self.cleanup_end(ev, &mut rec, out);
                }
            }
            _ => match NsType::from_u32(ev.ns_type) {
                Some(ty) => self.ns_event(kind, ty, ev, &mut rec, out),
                // The kernel side always names the type; a death without
                // one is charged to nobody.
                None if kind == EventKind::Death => {
                    rec.inum = Some(ev.inum);
                    self.unidentified(None, &mut rec);
                }
                None => {}
            },
        }
        out.push(rec);
    }

    fn ns_event(
        &mut self,
        kind: EventKind,
        ty: NsType,
        ev: &Event,
        rec: &mut Record,
        out: &mut Vec<Record>,
    ) {
        let anon = ty == NsType::Mnt
            && ev.ptr != 0
            && (ev.inum == 0
                || ev.inum == MNT_NS_ANON_INO
                || (kind == EventKind::Death && ev.flags & DEATH_ANON_MNT != 0));
        let at = if kind == EventKind::Birth {
            self.birth(ty, ev, anon, out)
        } else {
            match self.find(ty, ev, anon) {
                Found::Live(at) => at,
                Found::Parked(i) => {
                    let p = self.parked.remove(i);
                    if kind == EventKind::Death {
                        self.death_of(p.life, ev, rec);
                    } else {
                        // Not expected: whatever names it is about a namespace
                        // whose number is taken again. Keep waiting.
                        Self::fill_ids(rec, &p.life);
                        self.parked.insert(i, p);
                    }
                    return;
                }
                Found::Other if kind == EventKind::Death => {
                    self.unidentified(Some(ty), rec);
                    return;
                }
                // A join, evict or put reads the namespace while it is alive
                // and its number is its own: the lifetime that had the number
                // before is over, and this one's birth was missed.
                Found::Other => {
                    let old = self.take(At::Slot((ty, ev.inum)));
                    self.close_reused(old, ev.ts_ns, out);
                    self.open_unseen(ty, ev, anon)
                }
                Found::Unknown => self.open_unseen(ty, ev, anon),
            }
        };
        let comm = match kind {
            EventKind::Join => Some(self.comms.intern(&ev.comm)),
            _ => None,
        };
        let newly_known = {
            let life = self.life_mut(at);
            let before = (life.ptr(), life.ns_id());
            life.fill_ns_id(ev.ns_id);
            if !anon {
                life.fill_ptr(ev.ptr);
            }
            before != (life.ptr(), life.ns_id())
        };
        // An anonymous mount namespace is kept by its address already.
        if let (true, At::Slot(key)) = (newly_known, at) {
            self.lives.address_learnt(key);
        }
        let life = self.life_mut(at);
        match kind {
            EventKind::Join => life.note_join(JoinRef {
                mono_ns: ev.ts_ns,
                pid: ev.pid,
                comm: comm.expect("interned above"),
                via: Via::from_u32(ev.via).unwrap_or(Via::None),
            }),
            EventKind::Evict => life.note_evict(ev.ts_ns),
            EventKind::Put => life.note_put(ev.ts_ns, ev.aux),
            _ => {}
        }
        // The lifetime's inum, not the event's: for one matched by address
        // the event's may already belong to a newer namespace.
        Self::fill_ids(rec, self.life_ref(at));
        if kind == EventKind::Put && ty == NsType::Net {
            let life = self.life_ref(at);
            let q = Queued {
                inum: life.inum(),
                gen: life.gen(),
                put_ns: ev.ts_ns,
            };
            self.cleanup.queue(q);
        }
        if kind == EventKind::Death {
            let life = self.take(at);
            self.death_of(life, ev, rec);
        }
    }

    fn fill_ids(rec: &mut Record, life: &Lifetime) {
        rec.inum = Some(life.inum());
        rec.gen = Some(life.gen());
        rec.ns_id = life.ns_id();
    }

    /// Which lifetime a join, evict, put or death is about: by address
    /// first (checked against the ns_id); by number only when nothing the
    /// event names contradicts what the lifetime with that number knows.
    fn find(&self, ty: NsType, ev: &Event, anon: bool) -> Found {
        if anon {
            return match self.anon_mnt.contains_key(&ev.ptr) {
                true => Found::Live(At::Anon(ev.ptr)),
                false => Found::Unknown,
            };
        }
        if let Some(key) = self.named_at(ty, ev.ptr) {
            // An address can be reused once its namespace is freed; an
            // ns_id never is. A stale address names another number, or
            // another ns_id: a net's death read at the end of the cleanup
            // run that freed it, after a newer net took its address. The
            // same ns_id proves it the same namespace whatever the number
            // read says.
            let l = self.life_ref(At::Slot(key));
            let id_says = ev.ns_id != 0 && l.ns_id() == Some(ev.ns_id);
            let number_says = ev.inum == key.1 || ev.inum == 0;
            if compatible(l, ev.ptr, ev.ns_id) && (id_says || number_says) {
                return Found::Live(At::Slot(key));
            }
        }
        let parked_with_id = self.parked.iter().position(|p| {
            p.life.ns_type() == ty
                && ((ev.ptr != 0 && p.life.ptr() == ev.ptr)
                    || (ev.ns_id != 0 && p.life.ns_id() == Some(ev.ns_id)))
        });
        if let Some(i) = parked_with_id {
            return Found::Parked(i);
        }
        match self.lifetime(ty, ev.inum) {
            Some(l) if compatible(l, ev.ptr, ev.ns_id) => Found::Live(At::Slot((ty, ev.inum))),
            taken => {
                let mut by_number = self.parked.iter().enumerate().filter(|(_, p)| {
                    p.life.ns_type() == ty
                        && p.life.inum() == ev.inum
                        && compatible(&p.life, ev.ptr, ev.ns_id)
                });
                match (by_number.next(), by_number.next()) {
                    (Some((i, _)), None) => Found::Parked(i),
                    _ if taken.is_some() => Found::Other,
                    _ => Found::Unknown,
                }
            }
        }
    }

    fn birth(&mut self, ty: NsType, ev: &Event, anon: bool, out: &mut Vec<Record>) -> At {
        let key = (ty, ev.inum);
        self.counts[ty as usize].born += 1;
        let comm = self.comms.intern(&ev.comm);
        // Anonymous and named mount namespaces are the same struct, from
        // the same cache: a birth at either's address ends the other. On
        // 6.18 an anonymous one's death is never seen (`free_mnt_ns` calls
        // `ns_common_free` only for named ones), so this is how it ends.
        if ty == NsType::Mnt {
            if let Some(old) = self.anon_mnt.remove(&ev.ptr) {
                self.forget_holds(&old);
                self.close_reused(old, ev.ts_ns, out);
            }
        }
        if anon {
            if let Some(at) = self.named_at(ty, ev.ptr) {
                let old = self.take(At::Slot(at));
                self.close_reused(old, ev.ts_ns, out);
            }
            let gen = self.next_gen(key);
            let life = Lifetime::born(ev, ty, gen, comm);
            self.note_holds(&life);
            self.anon_mnt.insert(ev.ptr, life);
            return At::Anon(ev.ptr);
        }
        if self.lifetime(ty, ev.inum).is_some() {
            // The number was released and reused, and the death in between
            // was lost, cannot be seen on this kernel, or is still to come
            // from a cleanup run.
            let old = self.take(At::Slot(key));
            self.close_reused(old, ev.ts_ns, out);
        }
        if let Some(at) = self.named_at(ty, ev.ptr) {
            // Its struct's memory was freed and given to this one: the
            // lifetime that had it is over.
            let old = self.take(At::Slot(at));
            self.close_reused(old, ev.ts_ns, out);
        }
        let gen = self.next_gen(key);
        let life = Lifetime::born(ev, ty, gen, comm);
        self.note_holds(&life);
        self.lives.open(life);
        At::Slot(key)
    }

    /// The live lifetime, not an anonymous mount namespace, last seen at
    /// `ptr`.
    fn named_at(&self, ty: NsType, ptr: u64) -> Option<Key> {
        let life = self.lives.at_address(ty, ptr)?;
        Some((life.ns_type(), life.inum()))
    }

    /// Ends a lifetime whose number (or address) a newer namespace took
    /// before its death was seen: a `death` with `end: reused` at `at_ns`,
    /// or, for a net while a cleanup run is open, a wait for that run's end,
    /// which may still report the real death.
    fn close_reused(&mut self, old: Lifetime, at_ns: u64, out: &mut Vec<Record>) {
        if old.ns_type() == NsType::Net && self.cleanup.open_runs() > 0 {
            self.parked.push(Parked {
                life: old,
                reused_ns: at_ns,
            });
            return;
        }
        if old.ns_type() == NsType::Net {
            self.cleanup.forget(old.inum(), old.gen());
        }
        out.push(self.reused_death(&old, at_ns));
    }

    fn reused_death(&mut self, old: &Lifetime, at_ns: u64) -> Record {
        let ty = old.ns_type();
        self.counts[ty as usize].missed_deaths += 1;
        let mut r = self.ns_record(RecordKind::Death, at_ns, old);
        r.exact = Some(false);
        r.end = Some(DeathEnd::Reused);
        r
    }

    fn unidentified(&mut self, ty: Option<NsType>, rec: &mut Record) {
        rec.ns_type = ty;
        rec.gen = None;
        rec.exact = Some(false);
        rec.end = Some(DeathEnd::Unidentified);
        if let Some(t) = ty {
            self.counts[t as usize].unidentified += 1;
        }
    }

    fn open_unseen(&mut self, ty: NsType, ev: &Event, anon: bool) -> At {
        let key = (ty, ev.inum);
        self.counts[ty as usize].unseen += 1;
        let gen = self.next_gen(key);
        let life = Lifetime::unseen(ev, ty, gen);
        self.note_holds(&life);
        if anon {
            self.anon_mnt.insert(ev.ptr, life);
            return At::Anon(ev.ptr);
        }
        self.lives.open(life);
        At::Slot(key)
    }

    /// Completes the `death` record of a lifetime already taken out of the
    /// engine (or parked).
    fn death_of(&mut self, life: Lifetime, ev: &Event, rec: &mut Record) {
        let ty = life.ns_type();
        Self::fill_ids(rec, &life);
        let opened = match life.origin() {
            // Open since before tracing: any loss so far may have hidden
            // its birth or an earlier lifetime of the same number.
            Origin::Unseen => 0,
            Origin::Born | Origin::Present => life.opened_ns(),
        };
        let late = ev.flags & DEATH_LATE != 0;
        rec.exact = Some(!late && !self.losses.overlaps(opened, ev.ts_ns));
        rec.lifetime_ns =
            (life.origin() == Origin::Born).then(|| ev.ts_ns.saturating_sub(life.opened_ns()));
        if ty == NsType::Net {
            let batch = life.cleanup().map(|(b, _)| b);
            let run_start = self.cleanup.death(life.inum(), life.gen(), batch);
            if late {
                // Seen at the end of the run that freed it: it died after
                // the run started.
                rec.within_ns = run_start.map(|s| ev.ts_ns.saturating_sub(s));
            }
        }
        self.counts[ty as usize].died += 1;
        self.completed += 1;
    }

    fn cleanup_start(&mut self, ev: &Event, rec: &mut Record, out: &mut Vec<Record>) {
        // About a run, not one namespace; runs are net's only.
        rec.ns_type = Some(NsType::Net);
        rec.inum = None;
        if self.cleanup.end_earlier() {
            // The run whose end record was lost is over, and with it every
            // run open when a parked net's number was reused.
            self.release_parked(out);
        }
        let run = self.cleanup.start(ev.aux, ev.ts_ns);
        let members = run.members.clone();
        rec.batch = Some(ev.aux);
        rec.inums = Some(members.iter().map(|m| m.inum).collect());
        rec.delays_ns = Some(
            members
                .iter()
                .map(|m| ev.ts_ns.saturating_sub(m.put_ns))
                .collect(),
        );
        for m in members {
            if let Some(life) = self.live_gen_mut((NsType::Net, m.inum), m.gen) {
                life.note_cleanup_start(ev.aux, ev.ts_ns);
            }
        }
    }

    fn cleanup_end(&mut self, ev: &Event, rec: &mut Record, out: &mut Vec<Record>) {
        // About a run, not one namespace; runs are net's only.
        rec.ns_type = Some(NsType::Net);
        rec.inum = None;
        let run = self.cleanup.end(ev.aux);
        rec.batch = Some(ev.aux);
        rec.inums = Some(run.died.clone());
        rec.duration_ns = run.start_ns.map(|s| ev.ts_ns.saturating_sub(s));
        for m in &run.members {
            if let Some(life) = self.live_gen_mut((NsType::Net, m.inum), m.gen) {
                life.note_cleanup_end(ev.ts_ns);
            }
        }
        if self.cleanup.open_runs() == 0 {
            self.release_parked(out);
        }
    }

    /// Every run open at their reuse has ended without their death.
    fn release_parked(&mut self, out: &mut Vec<Record>) {
        for p in std::mem::take(&mut self.parked) {
            self.cleanup.forget(p.life.inum(), p.life.gen());
            out.push(self.reused_death(&p.life, p.reused_ns));
        }
    }

    fn live_gen_mut(&mut self, key: Key, gen: u32) -> Option<&mut Lifetime> {
        self.lives.get_mut(key).filter(|l| l.gen() == gen)
    }

    fn life_ref(&self, at: At) -> &Lifetime {
        match at {
            At::Slot(key) => self
                .lives
                .get(key)
                .expect("At::Slot points at a live lifetime"),
            At::Anon(ptr) => self
                .anon_mnt
                .get(&ptr)
                .expect("At::Anon points at a live lifetime"),
        }
    }

    fn life_mut(&mut self, at: At) -> &mut Lifetime {
        match at {
            At::Slot(key) => self
                .lives
                .get_mut(key)
                .expect("At::Slot points at a live lifetime"),
            At::Anon(ptr) => self
                .anon_mnt
                .get_mut(&ptr)
                .expect("At::Anon points at a live lifetime"),
        }
    }

    /// Removes a live lifetime and everything that points at it.
    fn take(&mut self, at: At) -> Lifetime {
        let life = match at {
            At::Slot(key) => self
                .lives
                .take(key)
                .expect("At::Slot points at a live lifetime"),
            At::Anon(ptr) => self
                .anon_mnt
                .remove(&ptr)
                .expect("At::Anon points at a live lifetime"),
        };
        self.forget_holds(&life);
        life
    }

    fn next_gen(&mut self, key: Key) -> u32 {
        self.lives.next_gen(key)
    }

    fn note_holds(&mut self, life: &Lifetime) {
        let me = (life.ns_type(), life.inum());
        for (holder, is_child) in life.holds() {
            self.deps.entry(holder).or_default().add(me, is_child);
        }
    }

    fn forget_holds(&mut self, life: &Lifetime) {
        let me = (life.ns_type(), life.inum());
        for (holder, is_child) in life.holds() {
            if let Some(d) = self.deps.get_mut(&holder) {
                if d.remove(me, is_child) {
                    self.deps.remove(&holder);
                }
            }
        }
    }
}
