//! The query index: what the agent remembers about every namespace number,
//! built from records alone, so that a restarted agent rebuilds it from its
//! own log ([`rebuild`]) through the same code that fills it live (it is
//! an [`Output`]).
//!
//! Per (type, inode number) it keeps the live lifetime (who made it, and
//! how, joins, puts, evictions, the cleanup run that took it, the linger)
//! and a bounded history of earlier lifetimes of the same number: at most
//! [`Bounds::per_number`] each and [`Bounds::total`] in all, the oldest
//! forgotten first. A record whose `gen` is older than the live
//! lifetime's is about one a newer namespace already replaced (a net's
//! death written at the end of its cleanup run): it never touches the live
//! one; a death completes that earlier lifetime's history. A death the
//! engine charged to none (`end: unidentified`) touches nothing.
//!
//! Runs: every `header` record starts one. A lifetime still open when a
//! run starts is carried into it if the run's start-up scan finds the
//! number alive (`present`), and closed as ended in the gap otherwise,
//! once that scan is over ([`Index::end_of_start_scan`]).

mod comms;
mod entry;
mod live_table;
mod rebuild;

use std::collections::VecDeque;

use anyhow::Result;
use foldhash::{HashMap, HashMapExt as _};
use tracer_common::{NsType, Via};

use self::live_table::LiveTable;
pub use self::{
    comms::Comms,
    entry::{Actor, Closed, End, Linger, Live, More, Origin},
    rebuild::{log_files, rebuild, Rebuilt},
};
use crate::{
    output::Output,
    schema::{DeathEnd, Record, RecordKind},
};

type Key = (NsType, u32);

/// How long after a `present` record of the start-up scan the next may
/// still come. Each is dated when the walk of /proc found its namespace,
/// so they span the walk (tens of milliseconds with thousands of threads,
/// longer on a host with many more) with births traced meanwhile among
/// them, and each is released a reorder window after its time. The scan
/// is over once nothing new was found for this long: the gap between two
/// namespaces the walk finds, not the walk's length.
const SETTLE_NS: u64 = 2_000_000_000;

/// How much history to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Earlier lifetimes kept per number.
    pub per_number: usize,
    /// Earlier lifetimes kept in all.
    pub total: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            per_number: 4,
            total: 20_000,
        }
    }
}

/// One run of the tracer, from its header.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub start_ns: u64,
    /// The header's `start`: the wall-clock start of the run.
    pub start: String,
}

pub struct Index {
    bounds: Bounds,
    live: LiveTable,
    /// The `linger` record of each live namespace that has one.
    lingers: HashMap<Key, Linger>,
    /// Joins, puts, evictions and the cleanup run of each live namespace
    /// that has any.
    more: HashMap<Key, Box<More>>,
    earlier: HashMap<Key, Vec<Closed>>,
    /// Closed lifetimes in the order they closed: (number, seq). Entries
    /// the per-number bound already dropped stay until their turn.
    order: VecDeque<(Key, u64)>,
    /// Closed lifetimes kept.
    kept: usize,
    seq: u64,
    comms: Comms,
    runs: Vec<Run>,
    /// Open lifetimes of earlier runs not yet found by this run's scan.
    unconfirmed: usize,
    /// Time of this run's first `present` record (when lifetimes it did
    /// not find are closed) and of its latest, until a record
    /// [`SETTLE_NS`] after the latest shows the start-up scan is over.
    scan_ns: Option<(u64, u64)>,
    /// Time of the first record the index holds.
    since_ns: Option<u64>,
    /// Time of the latest `lost` record, and the total then.
    lost: Option<(u64, u64)>,
    /// The open cleanup run's batch and the nets its start took: its end
    /// record lists only the nets that died in it, while the ones that
    /// outlived it are what the end tells about (runs never overlap).
    cleanup_run: Option<(u64, Vec<u32>)>,
}

impl Index {
    pub fn new(bounds: Bounds) -> Index {
        Index {
            bounds,
            live: LiveTable::default(),
            lingers: HashMap::new(),
            more: HashMap::new(),
            earlier: HashMap::new(),
            order: VecDeque::new(),
            kept: 0,
            seq: 0,
            comms: Comms::default(),
            runs: Vec::new(),
            unconfirmed: 0,
            scan_ns: None,
            since_ns: None,
            lost: None,
            cleanup_run: None,
        }
    }

    /// The `linger` record of the live lifetime of a number, if one came.
    pub fn linger(&self, ns_type: NsType, inum: u32) -> Option<&Linger> {
        self.lingers.get(&(ns_type, inum))
    }

    /// The joins, puts, evictions and cleanup run of the live lifetime of
    /// a number, if it had any.
    pub fn more(&self, ns_type: NsType, inum: u32) -> Option<&More> {
        self.more.get(&(ns_type, inum)).map(Box::as_ref)
    }

    /// The live lifetime of a number.
    pub fn live(&self, ns_type: NsType, inum: u32) -> Option<&Live> {
        self.live.get(&(ns_type, inum))
    }

    /// Earlier lifetimes of a number, oldest first.
    pub fn earlier(&self, ns_type: NsType, inum: u32) -> &[Closed] {
        self.earlier
            .get(&(ns_type, inum))
            .map_or(&[], Vec::as_slice)
    }

    pub fn comm(&self, id: u16) -> &str {
        self.comms.get(id)
    }

    pub fn run(&self, i: u16) -> Option<&Run> {
        self.runs.get(usize::from(i))
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Time of the oldest record the index learned from.
    pub fn since_ns(&self) -> Option<u64> {
        self.since_ns
    }

    pub fn last_loss(&self) -> Option<(u64, u64)> {
        self.lost
    }

    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    pub fn earlier_count(&self) -> usize {
        self.kept
    }

    /// Types that have a live lifetime or history under this number.
    pub fn types_of(&self, inum: u32) -> Vec<NsType> {
        NsType::ALL
            .into_iter()
            .filter(|&t| {
                self.live.contains_key(&(t, inum)) || self.earlier.contains_key(&(t, inum))
            })
            .collect()
    }

    /// Whether `now_ns` is past the start-up scan's latest `present` by
    /// more than [`SETTLE_NS`], so every `present` of it has come: then
    /// ends it. The agent calls this before answering.
    pub fn settle(&mut self, now_ns: u64) {
        if let Some((first, latest)) = self.scan_ns {
            if now_ns > latest.saturating_add(SETTLE_NS) {
                self.end_of_start_scan(first);
            }
        }
    }

    /// The namespaces earlier runs left open, not yet found by this run.
    pub fn unconfirmed(&self) -> impl Iterator<Item = (NsType, u32)> + '_ {
        let current = self.current_run();
        self.live
            .iter()
            .filter(move |(_, l)| l.run != current)
            .map(|(k, _)| k)
    }

    /// What earlier runs left open, checked against a scan taken at
    /// `scan_ns` that sees every namespace (`alive`): the ones it found are
    /// carried into this run, the others ended while nothing recorded.
    pub fn confirm_alive(&mut self, scan_ns: u64, alive: impl Fn(NsType, u32) -> bool) {
        let current = self.current_run();
        let mut gone = Vec::new();
        self.live.for_each_mut(|key, l| {
            if l.run == current {
                return;
            }
            if alive(key.0, key.1) {
                l.run = current;
                l.carried = true;
            } else {
                gone.push(key);
            }
        });
        for key in gone {
            self.close(key, scan_ns, End::Gap, None);
        }
        self.unconfirmed = 0;
    }

    /// This run's start-up scan (at `scan_ns`) is over: what earlier runs
    /// left open and it did not find ended while nothing was recording.
    pub fn end_of_start_scan(&mut self, scan_ns: u64) {
        self.scan_ns = None;
        if self.unconfirmed == 0 {
            return;
        }
        let current = self.current_run();
        let gone: Vec<Key> = self
            .live
            .iter()
            .filter(|(_, l)| l.run != current)
            .map(|(k, _)| k)
            .collect();
        for key in gone {
            self.close(key, scan_ns, End::Gap, None);
        }
        self.unconfirmed = 0;
    }

    fn current_run(&self) -> u16 {
        (self.runs.len().saturating_sub(1)).min(usize::from(u16::MAX)) as u16
    }

    /// Applies one record.
    pub fn apply(&mut self, r: &Record) {
        if self.since_ns.is_none() && r.event != RecordKind::Header {
            self.since_ns = Some(r.mono_ns);
        }
        if let Some((first, latest)) = self.scan_ns {
            if r.mono_ns > latest.saturating_add(SETTLE_NS) && r.event != RecordKind::Header {
                self.end_of_start_scan(first);
            }
        }
        let key = r.ns_type.zip(r.inum);
        if key.is_some_and(|k| self.of_earlier_gen(k, r)) {
            // About a lifetime a newer one already replaced: see
            // `of_earlier_gen`. Only its death has something to add.
            if r.event == RecordKind::Death {
                self.late_death(key.expect("checked"), r);
            }
            return;
        }
        match r.event {
            RecordKind::Header => self.start_run(r),
            RecordKind::Present => {
                let scan = self.scan_ns.get_or_insert((r.mono_ns, r.mono_ns));
                scan.1 = scan.1.max(r.mono_ns);
                if let Some(key) = key {
                    self.present(key, r);
                }
            }
            RecordKind::Birth => {
                if let Some(key) = key {
                    if self.live.contains_key(&key) {
                        self.close(key, r.mono_ns, End::Reused, None);
                    }
                    let live = Live {
                        opened_ns: r.mono_ns,
                        gen: r.gen.unwrap_or(0),
                        pid: r.pid.unwrap_or(0),
                        comm: self.comms.intern(r.comm.as_deref().unwrap_or("")),
                        via: r.via.unwrap_or(Via::None) as u8,
                        origin: Origin::Born,
                        run: self.current_run(),
                        carried: false,
                        ns_id: r.ns_id.unwrap_or(0),
                    };
                    self.live.insert(key, live);
                }
            }
            RecordKind::Join => {
                if let Some(key) = key {
                    let comm = self.comms.intern(r.comm.as_deref().unwrap_or(""));
                    let m = self.open_more(key, r);
                    m.joins = m.joins.saturating_add(1);
                    m.last_join = Some(Actor {
                        mono_ns: r.mono_ns,
                        pid: r.pid.unwrap_or(0),
                        comm,
                        via: r.via.unwrap_or(Via::None) as u8,
                    });
                }
            }
            RecordKind::Put => {
                if let Some(key) = key {
                    let m = self.open_more(key, r);
                    m.puts = m.puts.saturating_add(1);
                    m.last_put_ns = Some(r.mono_ns);
                }
            }
            RecordKind::Evict => {
                if let Some(key) = key {
                    let m = self.open_more(key, r);
                    m.evicts = m.evicts.saturating_add(1);
                    m.last_evict_ns = Some(r.mono_ns);
                }
            }
            RecordKind::CleanupStart => {
                let members = r.inums.clone().unwrap_or_default();
                for &inum in &members {
                    let key = (NsType::Net, inum);
                    if self.live.contains_key(&key) {
                        let m = self.more.entry(key).or_default();
                        m.cleanup_batch = r.batch;
                        m.cleanup_start_ns = Some(r.mono_ns);
                    }
                }
                self.cleanup_run = r.batch.map(|b| (b, members));
            }
            RecordKind::CleanupEnd => {
                // The end's `inums` are the nets that died in the run, each
                // already closed by its death: a live net with one of those
                // numbers is a newer one, born while the run went on.
                // What ended for a live net is the run that took it.
                let run = self.cleanup_run.take();
                let Some((batch, members)) = run.filter(|(b, _)| Some(*b) == r.batch) else {
                    return;
                };
                for inum in members {
                    // The start gave each member live then its `More`; one
                    // born since is a newer lifetime, with no batch in its own.
                    if let Some(m) = self.more.get_mut(&(NsType::Net, inum)) {
                        if m.cleanup_batch == Some(batch) {
                            m.cleanup_end_ns = Some(r.mono_ns);
                        }
                    }
                }
            }
            RecordKind::Linger => {
                if let Some(key) = key {
                    self.open(key, r);
                    let linger = Linger {
                        at_ns: r.mono_ns,
                        since_last_task_ns: r.since_last_task_ns.unwrap_or(0),
                        holders: r.holders.as_ref().map_or(0, |h| h.len() as u32),
                    };
                    self.lingers.insert(key, linger);
                }
            }
            RecordKind::Death => self.death(r),
            RecordKind::Lost => self.lost = Some((r.mono_ns, r.total.unwrap_or(0))),
            RecordKind::CleanupSlow => {}
        }
    }

    fn start_run(&mut self, r: &Record) {
        let start = r.start.clone().unwrap_or_else(|| r.ts.clone());
        // A rotated or reopened file's header repeats its run's start.
        if self.runs.last().is_some_and(|run| run.start == start) {
            return;
        }
        // A restart within SETTLE_NS of the previous run's start-up scan:
        // that scan is over, and what it did not find ended before it.
        if let Some((first, _)) = self.scan_ns {
            self.end_of_start_scan(first);
        }
        self.runs.push(Run {
            start_ns: r.mono_ns,
            start,
        });
        // Everything open now was opened by an earlier run.
        self.unconfirmed = self.live.len();
    }

    fn present(&mut self, key: Key, r: &Record) {
        let current = self.current_run();
        let gen = r.gen.unwrap_or(0);
        if let Some(l) = self.live.get_mut(&key) {
            if l.run != current {
                // A number an earlier run saw open: the same namespace
                // unless its id says otherwise (6.18+ only).
                let old_id = l.ns_id;
                let same = old_id == 0 || r.ns_id.is_none_or(|id| id == old_id);
                if same {
                    l.run = current;
                    l.gen = gen;
                    l.carried = true;
                    self.unconfirmed = self.unconfirmed.saturating_sub(1);
                    return;
                }
                self.unconfirmed = self.unconfirmed.saturating_sub(1);
                self.close(key, r.mono_ns, End::Gap, None);
            } else {
                // A birth traced between attach and scan: the scan confirms it.
                return;
            }
        }
        self.live.insert(
            key,
            Live {
                opened_ns: r.mono_ns,
                gen,
                pid: 0,
                comm: Comms::EMPTY,
                via: Via::None as u8,
                origin: Origin::Present,
                run: current,
                carried: false,
                ns_id: 0,
            },
        );
        self.note_ns_id(key, r);
    }

    /// The live lifetime of `key`, opened as unseen if there is none.
    fn open(&mut self, key: Key, r: &Record) -> &mut Live {
        let run = self.current_run();
        let empty = Comms::EMPTY;
        self.live.get_or_insert_with(key, || Live {
            opened_ns: r.mono_ns,
            gen: r.gen.unwrap_or(0),
            pid: 0,
            comm: empty,
            via: Via::None as u8,
            origin: Origin::Unseen,
            run,
            carried: false,
            ns_id: 0,
        })
    }

    /// The [`More`] of `key`'s live lifetime, opened as unseen if there is
    /// none.
    fn open_more(&mut self, key: Key, r: &Record) -> &mut More {
        self.open(key, r);
        self.more.entry(key).or_default()
    }

    fn note_ns_id(&mut self, key: Key, r: &Record) {
        if let (Some(id), Some(l)) = (r.ns_id, self.live.get_mut(&key)) {
            l.ns_id = id;
        }
    }

    /// Whether `r` names an earlier generation of `key` than the live
    /// lifetime this run opened. The engine writes a net's death at the end
    /// of the cleanup run that freed it (tracepoint kernels), after a newer
    /// net may have been born on the released number, and a net parked
    /// there gets its `end: reused` death only once the run is over; both
    /// come after the newer one's birth, which already closed the old one
    /// here as reused.
    fn of_earlier_gen(&self, key: Key, r: &Record) -> bool {
        let current = self.current_run();
        match (self.live.get(&key), r.gen) {
            (Some(l), Some(gen)) => l.run == current && gen < l.gen,
            _ => false,
        }
    }

    /// The death of a lifetime closed as reused when a newer one took its
    /// number: it did die, when the kernel said.
    fn late_death(&mut self, key: Key, r: &Record) {
        if r.end.is_some() {
            return;
        }
        let current = self.current_run();
        let earlier = self.earlier.get_mut(&key).into_iter().flatten();
        if let Some(c) = earlier
            .filter(|c| c.run == current && Some(c.gen) == r.gen && c.end == End::Reused)
            .last()
        {
            c.end = End::Death;
            c.ended_ns = r.mono_ns;
            c.exact = r.exact;
        }
    }

    fn death(&mut self, r: &Record) {
        // The engine tied it to no lifetime: the one live with its number
        // is another namespace.
        if r.end == Some(DeathEnd::Unidentified) {
            return;
        }
        let Some(inum) = r.inum else { return };
        let ns_type = match r.ns_type {
            Some(t) => t,
            // A number released without a type: only an unambiguous live
            // one can be named.
            None => {
                let mut found = NsType::ALL
                    .into_iter()
                    .filter(|&t| self.live.contains_key(&(t, inum)));
                match (found.next(), found.next()) {
                    (Some(t), None) => t,
                    _ => return,
                }
            }
        };
        let key = (ns_type, inum);
        self.open(key, r);
        self.close(key, r.mono_ns, End::Death, r.exact);
    }

    fn close(&mut self, key: Key, ended_ns: u64, end: End, exact: Option<bool>) {
        let Some(live) = self.live.remove(&key) else {
            return;
        };
        self.seq += 1;
        let lingered = self.lingers.remove(&key).is_some();
        let more = self.more.remove(&key);
        let closed = live.close(more.as_deref(), ended_ns, end, exact, lingered, self.seq);
        if self.bounds.per_number == 0 || self.bounds.total == 0 {
            return;
        }
        let list = self.earlier.entry(key).or_default();
        if list.len() >= self.bounds.per_number {
            list.remove(0);
            self.kept -= 1;
        }
        list.push(closed);
        self.kept += 1;
        self.order.push_back((key, self.seq));
        while self.kept > self.bounds.total {
            let Some((k, seq)) = self.order.pop_front() else {
                break;
            };
            if let Some(list) = self.earlier.get_mut(&k) {
                let before = list.len();
                list.retain(|c| c.seq != seq);
                self.kept -= before - list.len();
                if list.is_empty() {
                    self.earlier.remove(&k);
                }
            }
        }
        // Drop the order's stale entries once they outnumber the live ones.
        if self.order.len() > 2 * self.kept + 1024 {
            let earlier = &self.earlier;
            self.order.retain(|(k, seq)| {
                earlier
                    .get(k)
                    .is_some_and(|l| l.iter().any(|c| c.seq == *seq))
            });
        }
    }
}

impl Output for Index {
    fn write(&mut self, r: &Record) -> Result<()> {
        self.apply(r);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
