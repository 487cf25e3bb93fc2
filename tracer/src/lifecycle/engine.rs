//! The engine: orders events, keeps one [`Lifetime`] per live namespace,
//! and derives `linger` and `cleanup_slow`. The rules are in the module
//! docs of `lifecycle`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

// foldhash, not SipHash: the keys are kernel-assigned numbers, and hashing
// was a fifth of the reader's time per event.
use foldhash::{HashMap as FastMap, HashMapExt as _};

use tracer_common::{Event, EventKind, NsType, Via, DEATH_ANON_MNT, DEATH_LATE};

use super::cleanup::{NetCleanup, Queued};
use super::config::EngineConfig;
use super::holder_source::{HolderAnswer, HolderSource};
use super::holders::{self, Dependents};
use super::lifetime::{CommId, Comms, JoinRef, Lifetime, Origin};
use super::losses::LossLog;
use super::reorder::Reorder;
use crate::decode::{escape_comm, record_from_event, Clock};
use crate::schema::{Record, RecordKind};

/// The inode number every anonymous mount namespace shares on 6.18
/// (`MNT_NS_ANON_INO`, 0xEFFFFFF7; see shared/notes/kernel-hooks.md). On
/// 6.1/6.12 they have inum 0. Real inums start at 0xF0000000, so neither
/// can be a named namespace.
pub const MNT_NS_ANON_INO: u32 = 0xEFFF_FFF7;

type Key = (NsType, u32);

/// Records [`Engine::poll_each`] hands out at a time.
const RELEASE_GROUP: usize = 32;

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
    /// Lifetimes closed because a new birth reused their inode number
    /// before their death was seen (lost, or invisible on this kernel).
    pub missed_deaths: u64,
    pub lingered: u64,
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

/// Per (type, inum): the last generation handed out and the live lifetime.
/// The slot outlives the lifetime so that the next birth on the same
/// number continues the count.
struct Slot {
    gen: u32,
    life: Option<Lifetime>,
}

enum Pending {
    Event(Event),
    Present(Present),
}

/// See the `lifecycle` module docs.
pub struct Engine {
    config: EngineConfig,
    clock: Clock,
    slots: FastMap<Key, Slot>,
    anon_mnt: FastMap<u64, Lifetime>,
    /// Live nets by kernel address: a net's put and death are matched by
    /// address, since its inum may be reused or read late.
    net_ptr: FastMap<u64, u32>,
    deps: FastMap<Key, Dependents>,
    comms: Comms,
    pending: Reorder<Pending>,
    /// (deadline, type, inum, gen); stale entries are skipped when popped.
    lingers: BinaryHeap<Reverse<(u64, NsType, u32, u32)>>,
    /// Lingers whose holder source said "not yet" during this advance:
    /// back into `lingers` once it ends, for the next poll.
    deferred: Vec<(u64, NsType, u32, u32)>,
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
            slots: FastMap::new(),
            anon_mnt: FastMap::new(),
            net_ptr: FastMap::new(),
            deps: FastMap::new(),
            comms: Comms::default(),
            pending: Reorder::new(),
            lingers: BinaryHeap::new(),
            deferred: Vec::new(),
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

    /// Namespaces alive at `mono_ns`, the time of the /proc scan. Their
    /// `present` records come out of [`Engine::poll`] in time order with
    /// the events, so a birth traced between attach and scan keeps gen 1.
    pub fn seed_present(&mut self, mono_ns: u64, items: impl IntoIterator<Item = Present>) {
        for p in items {
            self.pending.push(mono_ns, Pending::Present(p));
        }
    }

    /// Buffers one ring-buffer record until the reorder window has passed.
    pub fn push(&mut self, ev: &Event) {
        self.pending.push(ev.ts_ns, Pending::Event(*ev));
    }

    /// Releases every buffered item older than `now_mono_ns` minus the
    /// reorder window, in time order, with the derived records that fall
    /// due among them. `holders` is asked who holds a lingering namespace.
    pub fn poll(&mut self, now_mono_ns: u64, holders: &mut dyn HolderSource) -> Vec<Record> {
        let mut out = Vec::new();
        let horizon = now_mono_ns.saturating_sub(self.config.reorder_window_ns);
        self.advance(horizon, horizon, holders, &mut out, None);
        self.last_poll_ns = self.last_poll_ns.max(now_mono_ns);
        out
    }

    /// [`Engine::poll`], handing each record to `emit` (in order) a few
    /// dozen at a time while the poll runs, and dropping it after. A storm
    /// releases thousands of records per poll: made, written and freed in
    /// small groups they stay in the cache, and their allocations are
    /// reused at once.
    pub fn poll_each(
        &mut self,
        now_mono_ns: u64,
        holders: &mut dyn HolderSource,
        emit: &mut dyn FnMut(&mut Record),
    ) {
        let mut out = std::mem::take(&mut self.released);
        let horizon = now_mono_ns.saturating_sub(self.config.reorder_window_ns);
        self.advance(horizon, horizon, holders, &mut out, Some(emit));
        out.iter_mut().for_each(&mut *emit);
        out.clear();
        self.released = out;
        self.last_poll_ns = self.last_poll_ns.max(now_mono_ns);
    }

    /// Releases everything still buffered (the daemon is stopping) and the
    /// derived records due by `now_mono_ns`.
    pub fn finish(&mut self, now_mono_ns: u64, holders: &mut dyn HolderSource) -> Vec<Record> {
        let mut out = Vec::new();
        self.advance(u64::MAX, now_mono_ns, holders, &mut out, None);
        self.last_poll_ns = self.last_poll_ns.max(now_mono_ns);
        out
    }

    /// Applies one /proc scan: live task count per namespace; a namespace
    /// missing from `counts` has no task. Applied at once to the lifetimes
    /// already released; a namespace whose birth is still buffered is
    /// counted by the next scan.
    pub fn observe_tasks(&mut self, mono_ns: u64, counts: &HashMap<(NsType, u32), u32>) {
        let grace = self.config.linger_grace_ns;
        for (key, slot) in &mut self.slots {
            let Some(life) = slot.life.as_mut() else {
                continue;
            };
            if life.opened_ns() > mono_ns {
                // Opened after the scan looked: its absence means nothing.
                continue;
            }
            let tasks = counts.get(key).copied().unwrap_or(0);
            if let Some(left) = life.observe(tasks, mono_ns) {
                if !life.lingered() {
                    self.lingers.push(Reverse((
                        left.saturating_add(grace),
                        key.0,
                        key.1,
                        life.gen(),
                    )));
                }
            }
        }
    }

    /// `count` records were lost since the previous poll. Lifetimes open at
    /// any time since then get `exact: false` on their death.
    pub fn on_lost(&mut self, mono_ns: u64, count: u64) -> Record {
        self.lost_total += count;
        self.losses.add(self.last_poll_ns, mono_ns);
        let mut r = Record::new(RecordKind::Lost, mono_ns, self.clock.rfc3339(mono_ns));
        r.count = Some(count);
        r.total = Some(self.lost_total);
        r
    }

    /// Every live lifetime, anonymous mount namespaces included.
    pub fn live(&self) -> impl Iterator<Item = &Lifetime> + '_ {
        self.slots
            .values()
            .filter_map(|s| s.life.as_ref())
            .chain(self.anon_mnt.values())
    }

    pub fn live_count(&self) -> usize {
        self.live().count()
    }

    /// The live lifetime of `(ns_type, inum)`.
    pub fn lifetime(&self, ns_type: NsType, inum: u32) -> Option<&Lifetime> {
        self.slots.get(&(ns_type, inum))?.life.as_ref()
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

    /// Nets put and not yet taken by a cleanup run, and runs still open.
    pub fn cleanup_backlog(&self) -> (usize, usize) {
        (self.cleanup.queued_len(), self.cleanup.open_runs())
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
        mut emit: Option<&mut dyn FnMut(&mut Record)>,
    ) {
        loop {
            if let Some(emit) = emit.as_deref_mut() {
                if out.len() >= RELEASE_GROUP {
                    out.iter_mut().for_each(emit);
                    out.clear();
                }
            }
            let event = self.pending.peek_ts().filter(|&t| t <= event_horizon);
            let timer = self.next_timer().filter(|&t| t <= timer_horizon);
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
        for d in self.deferred.drain(..) {
            self.lingers.push(Reverse(d));
        }
    }

    fn next_timer(&self) -> Option<u64> {
        let linger = self.lingers.peek().map(|Reverse((t, ..))| *t);
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
        if let Some(Reverse((t, ty, inum, gen))) = self.lingers.peek().copied() {
            if t == deadline {
                self.lingers.pop();
                self.fire_linger(mono, (ty, inum), gen, deadline, holders, out);
            }
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
        let grace = self.config.linger_grace_ns;
        let Some(life) = self.slots.get(&key).and_then(|s| s.life.as_ref()) else {
            return;
        };
        let Some(left) = life.last_task_left_ns() else {
            return;
        };
        if life.gen() != gen || life.lingered() || left.saturating_add(grace) != deadline {
            return;
        }
        let mut found = match holders.holders(key.0, key.1, deadline) {
            HolderAnswer::NotYet => {
                self.deferred.push((deadline, key.0, key.1, gen));
                return;
            }
            HolderAnswer::Found(found) => found,
            HolderAnswer::NotFound { .. } | HolderAnswer::NotScanned => Vec::new(),
        };
        if found.is_empty() {
            if !self.config.death_visible(key.0) {
                // Most likely died where the kernel side cannot see it.
                self.life_mut(At::Slot(key)).set_lingered();
                return;
            }
            found = holders::from_trace(life, self.deps.get(&key), &self.clock);
        }
        let mut r = self.ns_record(RecordKind::Linger, mono, life);
        r.since_last_task_ns = Some(mono - left);
        r.tasks = Some(life.tasks());
        r.holders = Some(found);
        out.push(r);
        self.life_mut(At::Slot(key)).set_lingered();
        self.counts[key.0 as usize].lingered += 1;
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
            self.slots.get_mut(&key).expect("next_gen made it").life = Some(life);
        }
        // A birth traced between attach and scan already opened it: the
        // scan just confirms it, with its task count.
        let life = self.life_mut(At::Slot(key));
        life.fill_ns_id(p.ns_id.unwrap_or(0));
        if let Some(left) = life.observe(p.tasks, mono) {
            let gen = life.gen();
            self.lingers.push(Reverse((
                left.saturating_add(self.config.linger_grace_ns),
                key.0,
                key.1,
                gen,
            )));
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
            EventKind::CleanupStart => self.cleanup_start(ev, &mut rec),
            EventKind::CleanupEnd => self.cleanup_end(ev, &mut rec),
            _ => {
                let ty = NsType::from_u32(ev.ns_type).or_else(|| self.type_of_released(kind, ev));
                match ty {
                    Some(ty) => {
                        rec.ns_type = Some(ty);
                        self.ns_event(kind, ty, ev, &mut rec);
                    }
                    // A death nobody can name: a namespace alive before
                    // tracing that the start-up scan did not find.
                    None if kind == EventKind::Death => {
                        rec.inum = Some(ev.inum);
                        rec.exact = Some(false);
                    }
                    None => {}
                }
            }
        }
        out.push(rec);
    }

    /// On 6.1 and 6.12 a death is only an inode number released
    /// (`proc_free_inum`). One IDA hands out every type's numbers, so at most
    /// one live namespace has it: that one died.
    fn type_of_released(&self, kind: EventKind, ev: &Event) -> Option<NsType> {
        if kind != EventKind::Death || ev.inum == 0 {
            return None;
        }
        let mut found = NsType::ALL
            .into_iter()
            .filter(|&t| self.lifetime(t, ev.inum).is_some());
        let first = found.next()?;
        // Two live namespaces with one number means a death was missed;
        // better no answer than a wrong one.
        found.next().is_none().then_some(first)
    }

    fn ns_event(&mut self, kind: EventKind, ty: NsType, ev: &Event, rec: &mut Record) {
        let anon = ty == NsType::Mnt
            && ev.ptr != 0
            && (ev.inum == 0
                || ev.inum == MNT_NS_ANON_INO
                || (kind == EventKind::Death && ev.flags & DEATH_ANON_MNT != 0));
        let at = match kind {
            EventKind::Birth => self.birth(ty, ev, anon),
            _ => match self.locate(ty, ev.inum, ev.ptr, anon) {
                Some(at) => at,
                None => self.open_unseen(ty, ev, anon),
            },
        };
        let comm = match kind {
            EventKind::Join => Some(self.comms.intern(&ev.comm)),
            _ => None,
        };
        let life = self.life_mut(at);
        life.fill_ns_id(ev.ns_id);
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
        // The lifetime's inum, not the event's: for a net matched by
        // address the event's may already belong to a newer namespace.
        rec.inum = Some(life.inum());
        rec.gen = Some(life.gen());
        rec.ns_id = life.ns_id();
        if kind == EventKind::Put && ty == NsType::Net {
            let q = Queued {
                inum: life.inum(),
                gen: life.gen(),
                put_ns: ev.ts_ns,
            };
            self.cleanup.queue(q);
        }
        if kind == EventKind::Death {
            self.death(at, ev, rec);
        }
    }

    fn birth(&mut self, ty: NsType, ev: &Event, anon: bool) -> At {
        let key = (ty, ev.inum);
        self.counts[ty as usize].born += 1;
        let comm = self.comms.intern(&ev.comm);
        if anon {
            let gen = self.next_gen(key);
            let life = Lifetime::born(ev, ty, gen, comm);
            self.link(&life);
            if let Some(old) = self.anon_mnt.insert(ev.ptr, life) {
                self.counts[ty as usize].missed_deaths += 1;
                self.unlink(&old);
            }
            return At::Anon(ev.ptr);
        }
        if self.lifetime(ty, ev.inum).is_some() {
            // The number was released and reused, and the death in between
            // was lost or cannot be seen on this kernel.
            let old = self.take(At::Slot(key));
            self.counts[ty as usize].missed_deaths += 1;
            if ty == NsType::Net {
                self.cleanup.forget(old.inum(), old.gen());
            }
        }
        let gen = self.next_gen(key);
        let life = Lifetime::born(ev, ty, gen, comm);
        self.link(&life);
        self.slots.get_mut(&key).expect("next_gen made it").life = Some(life);
        At::Slot(key)
    }

    fn open_unseen(&mut self, ty: NsType, ev: &Event, anon: bool) -> At {
        let key = (ty, ev.inum);
        self.counts[ty as usize].unseen += 1;
        let gen = self.next_gen(key);
        let life = Lifetime::unseen(ev, ty, gen);
        self.link(&life);
        if anon {
            self.anon_mnt.insert(ev.ptr, life);
            return At::Anon(ev.ptr);
        }
        self.slots.get_mut(&key).expect("next_gen made it").life = Some(life);
        At::Slot(key)
    }

    fn death(&mut self, at: At, ev: &Event, rec: &mut Record) {
        let life = self.take(at);
        let ty = life.ns_type();
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
            self.cleanup.death(life.inum(), life.gen(), batch);
        }
        self.counts[ty as usize].died += 1;
        self.completed += 1;
    }

    fn cleanup_start(&mut self, ev: &Event, rec: &mut Record) {
        // About a run, not one namespace; runs are net's only.
        rec.ns_type = Some(NsType::Net);
        rec.inum = None;
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

    fn cleanup_end(&mut self, ev: &Event, rec: &mut Record) {
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
    }

    fn live_gen_mut(&mut self, key: Key, gen: u32) -> Option<&mut Lifetime> {
        self.slots
            .get_mut(&key)?
            .life
            .as_mut()
            .filter(|l| l.gen() == gen)
    }

    fn locate(&self, ty: NsType, inum: u32, ptr: u64, anon: bool) -> Option<At> {
        if anon {
            return self.anon_mnt.contains_key(&ptr).then_some(At::Anon(ptr));
        }
        if ty == NsType::Net && ptr != 0 {
            if let Some(&i) = self.net_ptr.get(&ptr) {
                return Some(At::Slot((ty, i)));
            }
        }
        self.lifetime(ty, inum).map(|_| At::Slot((ty, inum)))
    }

    fn life_mut(&mut self, at: At) -> &mut Lifetime {
        match at {
            At::Slot(key) => self
                .slots
                .get_mut(&key)
                .and_then(|s| s.life.as_mut())
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
                .slots
                .get_mut(&key)
                .and_then(|s| s.life.take())
                .expect("At::Slot points at a live lifetime"),
            At::Anon(ptr) => self
                .anon_mnt
                .remove(&ptr)
                .expect("At::Anon points at a live lifetime"),
        };
        self.unlink(&life);
        life
    }

    fn next_gen(&mut self, key: Key) -> u32 {
        let slot = self.slots.entry(key).or_insert(Slot { gen: 0, life: None });
        slot.gen += 1;
        slot.gen
    }

    fn link(&mut self, life: &Lifetime) {
        if life.ns_type() == NsType::Net && life.ptr() != 0 {
            self.net_ptr.insert(life.ptr(), life.inum());
        }
        let me = (life.ns_type(), life.inum());
        for (holder, is_child) in life.holds() {
            self.deps.entry(holder).or_default().add(me, is_child);
        }
    }

    fn unlink(&mut self, life: &Lifetime) {
        if life.ns_type() == NsType::Net && self.net_ptr.get(&life.ptr()) == Some(&life.inum()) {
            self.net_ptr.remove(&life.ptr());
        }
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
