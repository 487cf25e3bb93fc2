//! Folds records, one at a time, into a `Summary`: a week of churn streams
//! through; only namespaces still alive are held in memory, plus one number
//! per finished lifetime for the percentiles.

use std::collections::{BTreeMap, HashMap};

use tracer_common::NsType;

use super::percentile::Spread;
use super::summary::{
    Count, Creator, Lifetime, Linger, Period, Session, Summary, UnknownCause, UnknownEnd,
};

use crate::coverage;
use crate::schema::{DeathEnd, Record, RecordKind};

/// One namespace for the timeline. Times are ns since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub ty: u8,
    pub inum: u32,
    pub gen: u32,
    /// `None`: alive before tracing began.
    pub born: Option<i64>,
    /// When its last task left, if it lingered.
    pub linger_from: Option<i64>,
    pub end: i64,
    pub how: End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Died,
    /// Alive at the end of the log.
    Alive,
    /// No death by the end of the log, but its run could not see deaths
    /// of its type.
    NotObservable,
    /// Its end is unknown, for this reason; `end` is when the log lost it.
    Unknown(UnknownCause),
}

/// A namespace being followed.
struct Live {
    life: Lifetime,
    born_wall: Option<i64>,
    /// Birth, or first record, in CLOCK_BOOTTIME: to tell whether a loss
    /// happened while it lived.
    opened_mono: u64,
    put_mono: Option<u64>,
    linger_from: Option<i64>,
    /// Index of its run in `Tally::runs`.
    run: usize,
}

/// What a tracer run could see, from its header.
struct Run {
    /// Per type (wire order): could its deaths be seen?
    visible: [bool; 8],
    methods: BTreeMap<String, String>,
}

impl Run {
    /// Runs whose header names no hook this version knows (an older or
    /// hand-made log) are taken to see every death.
    fn from_header(methods: BTreeMap<String, String>, kernel: &str) -> Run {
        let visible = coverage::deaths_visible(&methods, kernel);
        Run { visible, methods }
    }
}

fn ns_type(name: &str) -> Option<NsType> {
    NsType::ALL.into_iter().find(|t| t.name() == name)
}

#[derive(Default)]
pub struct Tally {
    /// Interned namespace types: index = `Bar::ty`.
    types: Vec<String>,
    live: HashMap<(u8, u32), Live>,
    lifetimes: BTreeMap<u8, Vec<u64>>,
    put_to_death: BTreeMap<u8, Vec<u64>>,
    cleanup_delays: Vec<u64>,
    cleanup_durations: Vec<u64>,
    longest_batch: Option<(u64, u64)>,
    longest_wait: Option<(u64, u32)>,
    by_comm: HashMap<String, u64>,
    by_via: HashMap<String, u64>,
    /// Time (ts, mono) of the last `lost` record or run start, where the
    /// next loss may have begun.
    loss_since: Option<(String, u64)>,
    /// Stretches where records were lost: (from, to) in CLOCK_BOOTTIME, and
    /// in words.
    losses: Vec<(u64, u64, String)>,
    /// Nets whose number was born again before their death record, which
    /// may still come (it is written once the cleanup run that freed it
    /// ends): (type, inum, gen) → the namespace and when it was reused.
    superseded: HashMap<(u8, u32, u32), (Live, u64, i64)>,
    runs: Vec<Run>,
    unknown: BTreeMap<(String, UnknownCause, String), u64>,
    session_start: Option<String>,
    /// ts and wall time of the last record seen.
    last: Option<(String, i64, u64)>,
    /// Skipped lines since the last record: (how many, first one).
    unreadable: Option<(usize, String)>,
    bars: Option<Vec<Bar>>,
    pub out: Summary,
}

impl Tally {
    /// `bars`: also keep one `Bar` per namespace, for the SVG.
    pub fn new(bars: bool) -> Tally {
        Tally {
            bars: bars.then(Vec::new),
            ..Tally::default()
        }
    }

    /// Notes lines the reader skipped: records may be missing between the
    /// record before them and the one after.
    pub fn skipped_lines(&mut self, count: usize, first: &str) {
        match &mut self.unreadable {
            Some((n, _)) => *n += count,
            None => self.unreadable = Some((count, first.to_string())),
        }
    }

    /// Takes one record whose wall-clock time is `wall` (ns since the epoch).
    /// `counted`: false for a header outside `--since`/`--until`, which is
    /// still needed to tell tracer runs apart.
    pub fn add(&mut self, rec: &Record, wall: i64, counted: bool) {
        if rec.event == RecordKind::Header {
            self.header(rec);
        }
        if !counted {
            return;
        }
        if let Some((n, first)) = self.unreadable.take() {
            let from = self
                .last
                .as_ref()
                .map_or_else(|| rec.ts.clone(), |l| l.0.clone());
            let lines = if n == 1 { "line" } else { "lines" };
            self.untrusted(
                from,
                rec.ts.clone(),
                format!("{n} unreadable {lines} ({first})"),
            );
        }
        self.out.records += 1;
        if self.out.first.is_none() {
            self.out.first = Some(rec.ts.clone());
        }
        self.last = Some((rec.ts.clone(), wall, rec.mono_ns));
        let ty_name = rec.ns_type.map(NsType::name).unwrap_or("-");
        *self
            .out
            .counts
            .entry(rec.event.name().to_string())
            .or_default()
            .entry(ty_name.to_string())
            .or_default() += 1;
        match rec.event {
            RecordKind::Present | RecordKind::Birth => self.born(rec, wall),
            RecordKind::Put => self.put(rec),
            RecordKind::Death => self.death(rec, wall),
            RecordKind::Linger => self.linger(rec, wall),
            RecordKind::CleanupStart => self.cleanup_start(rec),
            RecordKind::CleanupEnd => self.cleanup_end(rec),
            RecordKind::CleanupSlow => self.out.cleanup_net.slow_runs += 1,
            RecordKind::Lost => self.lost(rec),
            RecordKind::Header | RecordKind::Join | RecordKind::Evict => {}
        }
    }

    fn ty(&mut self, name: &str) -> u8 {
        if let Some(i) = self.types.iter().position(|t| t == name) {
            return i as u8;
        }
        // More than 255 distinct types means a corrupt log; pool the rest.
        if self.types.len() == usize::from(u8::MAX) {
            return u8::MAX - 1;
        }
        self.types.push(name.to_string());
        (self.types.len() - 1) as u8
    }

    fn key(&mut self, rec: &Record) -> Option<(u8, u32)> {
        Some((self.ty(rec.ns_type.map(NsType::name)?), rec.inum?))
    }

    fn header(&mut self, rec: &Record) {
        let start = rec.start.clone().unwrap_or_else(|| rec.ts.clone());
        if self.session_start.as_ref() == Some(&start) {
            // A rotated file continuing the same run.
            return;
        }
        if self.session_start.is_some() {
            self.end_session(&rec.ts);
        }
        self.session_start = Some(start.clone());
        self.loss_since = Some((rec.ts.clone(), rec.mono_ns));
        self.runs.push(Run::from_header(
            rec.methods.clone().unwrap_or_default(),
            rec.kernel.as_deref().unwrap_or(""),
        ));
        self.out.sessions.push(Session {
            start,
            version: rec.version.clone().unwrap_or_default(),
            kernel: rec.kernel.clone().unwrap_or_default(),
            methods: rec.methods.clone().unwrap_or_default(),
        });
    }

    /// A new run began: what the last one followed is lost from sight.
    fn end_session(&mut self, next_ts: &str) {
        let Some((last_ts, last_wall, _)) = self.last.clone() else {
            return;
        };
        self.untrusted(
            last_ts.clone(),
            next_ts.to_string(),
            "nstrace was not running (between two runs)".to_string(),
        );
        let restarted = format!("nstrace stopped at {last_ts} and started again at {next_ts}");
        let live: Vec<_> = self.live.drain().collect();
        for (key, l) in live {
            let cause = match self.observable(key.0, &l) {
                Some(()) => (UnknownCause::TracerRestarted, restarted.clone()),
                None => self.not_observable(key.0, &l),
            };
            self.unknown_end(key, &l, last_wall, cause);
        }
        self.settle_superseded();
    }

    /// `Some` if the run `l` lived in could see deaths of its type.
    fn observable(&self, ty: u8, l: &Live) -> Option<()> {
        let t = ns_type(&self.types[usize::from(ty)])?;
        self.runs
            .get(l.run)
            .is_none_or(|r| r.visible[t as usize])
            .then_some(())
    }

    fn not_observable(&self, ty: u8, l: &Live) -> (UnknownCause, String) {
        let name = &self.types[usize::from(ty)];
        let why = match (ns_type(name), self.runs.get(l.run)) {
            (Some(t), Some(r)) => coverage::why_not_visible(t, &r.methods),
            _ => format!("{name} deaths are not visible"),
        };
        (UnknownCause::NotObservable, why)
    }

    /// Why a namespace whose number was reused at `reused_mono` has no death.
    fn reuse_cause(&self, ty: u8, l: &Live, reused_mono: u64) -> (UnknownCause, String) {
        if self.observable(ty, l).is_none() {
            return self.not_observable(ty, l);
        }
        let lost = self
            .losses
            .iter()
            .find(|(from, to, _)| l.opened_mono <= *to && reused_mono > *from);
        match lost {
            Some((_, _, why)) => (UnknownCause::RecordsLost, why.clone()),
            None => (
                UnknownCause::NoDeathSeen,
                "its number was born again and no death was seen".to_string(),
            ),
        }
    }

    /// A namespace whose end the log cannot tell: shown up to `until`.
    fn unknown_end(
        &mut self,
        (ty, inum): (u8, u32),
        live: &Live,
        until: i64,
        (cause, why): (UnknownCause, String),
    ) {
        let name = self.types[usize::from(ty)].clone();
        *self.out.end_unknown.entry(name.clone()).or_default() += 1;
        *self.unknown.entry((name, cause, why)).or_default() += 1;
        if let Some(bars) = &mut self.bars {
            bars.push(Bar {
                ty,
                inum,
                gen: live.life.gen,
                born: live.born_wall,
                linger_from: live.linger_from,
                end: until,
                how: End::Unknown(cause),
            });
        }
    }

    /// Nets still waiting for a death after their number's reuse: none
    /// will come now.
    fn settle_superseded(&mut self) {
        let waiting: Vec<_> = self.superseded.drain().collect();
        for ((ty, inum, _), (l, reused_mono, reused_wall)) in waiting {
            let cause = self.reuse_cause(ty, &l, reused_mono);
            self.unknown_end((ty, inum), &l, reused_wall, cause);
        }
    }

    fn born(&mut self, rec: &Record, wall: i64) {
        let Some(key) = self.key(rec) else { return };
        let is_birth = rec.event == RecordKind::Birth;
        if is_birth {
            if let Some(comm) = &rec.comm {
                *self.by_comm.entry(comm.clone()).or_default() += 1;
            }
            if let Some(via) = &rec.via {
                *self.by_via.entry(via.name().to_string()).or_default() += 1;
            }
        }
        let life = Lifetime {
            ns_type: self.types[usize::from(key.0)].clone(),
            inum: key.1,
            gen: rec.gen.unwrap_or(1),
            ns_id: rec.ns_id,
            born: is_birth.then(|| rec.ts.clone()),
            creator: is_birth.then(|| Creator {
                pid: rec.pid,
                comm: rec.comm.clone(),
                via: rec.via.map(|v| v.name().to_string()),
            }),
            born_mono: is_birth.then_some(rec.mono_ns),
            ..Lifetime::default()
        };
        let live = Live {
            life,
            born_wall: is_birth.then_some(wall),
            opened_mono: rec.mono_ns,
            put_mono: None,
            linger_from: None,
            run: self.runs.len().saturating_sub(1),
        };
        // An inode number reused before the old one's death was seen: a net
        // may still get its death (written at the end of the cleanup run
        // that freed it); anything else never will.
        if let Some(old) = self.live.insert(key, live) {
            if self.types[usize::from(key.0)] == "net" {
                let id = (key.0, key.1, old.life.gen);
                self.superseded.insert(id, (old, rec.mono_ns, wall));
            } else {
                let cause = self.reuse_cause(key.0, &old, rec.mono_ns);
                self.unknown_end(key, &old, wall, cause);
            }
        }
    }

    fn put(&mut self, rec: &Record) {
        let Some(key) = self.key(rec) else { return };
        if let Some(live) = self.live.get_mut(&key).filter(|l| same_gen(rec, l)) {
            live.put_mono = Some(rec.mono_ns);
        }
    }

    fn linger(&mut self, rec: &Record, wall: i64) {
        let Some(key) = self.key(rec) else { return };
        let since = rec.since_last_task_ns.unwrap_or(0);
        let linger = Linger {
            at: rec.ts.clone(),
            since_last_task_ns: since,
            holders: rec.holders.clone().unwrap_or_default(),
        };
        match self.live.get_mut(&key).filter(|l| same_gen(rec, l)) {
            Some(live) => {
                live.linger_from = Some(wall.saturating_sub(since as i64));
                live.life.linger = Some(linger);
            }
            None => self.out.lingered.push(Lifetime {
                ns_type: self.types[usize::from(key.0)].clone(),
                inum: key.1,
                gen: rec.gen.unwrap_or(1),
                ns_id: rec.ns_id,
                linger: Some(linger),
                ..Lifetime::default()
            }),
        }
    }

    fn death(&mut self, rec: &Record, wall: i64) {
        if rec.end == Some(DeathEnd::Unidentified) {
            let ty = rec.ns_type.map_or("-", NsType::name).to_string();
            *self.out.unidentified_deaths.entry(ty).or_default() += 1;
            return;
        }
        let Some(key) = self.key(rec) else { return };
        // A death of another generation than the one we follow cannot end
        // it: the kernel reuses an inode number only once it is free. It
        // may end one whose number was already reused.
        let live = match self.live.get(&key) {
            Some(l) if same_gen(rec, l) => self.live.remove(&key),
            _ => rec
                .gen
                .and_then(|g| self.superseded.remove(&(key.0, key.1, g)))
                .map(|(l, ..)| l),
        };
        if rec.end == Some(DeathEnd::Reused) {
            // Not a death the kernel reported: the end is unknown, and this
            // record is when the log gave up on it.
            if let Some(l) = live {
                let cause = self.reuse_cause(key.0, &l, rec.mono_ns);
                self.unknown_end(key, &l, wall, cause);
            }
            return;
        }
        let birth_mono = live.as_ref().and_then(|l| l.life.born_mono);
        let lifetime = rec
            .lifetime_ns
            .or_else(|| rec.mono_ns.checked_sub(birth_mono?));
        if let Some(l) = lifetime {
            self.lifetimes.entry(key.0).or_default().push(l);
        }
        let Some(mut live) = live else { return };
        if let Some(put) = live.put_mono {
            if let Some(lat) = rec.mono_ns.checked_sub(put) {
                self.put_to_death.entry(key.0).or_default().push(lat);
            }
        }
        if let Some(bars) = &mut self.bars {
            bars.push(Bar {
                ty: key.0,
                inum: key.1,
                gen: live.life.gen,
                born: live.born_wall,
                linger_from: live.linger_from,
                end: wall,
                how: End::Died,
            });
        }
        if live.life.linger.is_some() {
            live.life.died = Some(rec.ts.clone());
            live.life.age_ns = lifetime;
            self.out.lingered.push(live.life);
        }
    }

    fn cleanup_start(&mut self, rec: &Record) {
        let (Some(inums), Some(delays)) = (&rec.inums, &rec.delays_ns) else {
            return;
        };
        self.out.cleanup_net.runs += 1;
        for (&inum, &d) in inums.iter().zip(delays) {
            self.cleanup_delays.push(d);
            if self.longest_wait.is_none_or(|(max, _)| d > max) {
                self.longest_wait = Some((d, inum));
            }
        }
    }

    fn cleanup_end(&mut self, rec: &Record) {
        let Some(d) = rec.duration_ns else { return };
        self.cleanup_durations.push(d);
        if let Some(batch) = rec.batch {
            if self.longest_batch.is_none_or(|(max, _)| d > max) {
                self.longest_batch = Some((d, batch));
            }
        }
    }

    fn lost(&mut self, rec: &Record) {
        let count = rec.count.unwrap_or(0);
        // A corrupt or hostile log may say anything: totals saturate.
        self.out.lost.records = self.out.lost.records.saturating_add(1);
        self.out.lost.events = self.out.lost.events.saturating_add(count);
        // `count` is what was lost since the previous `lost` record, so
        // that whole stretch is in doubt.
        let (from, from_mono) = self
            .loss_since
            .replace((rec.ts.clone(), rec.mono_ns))
            .unwrap_or_else(|| (rec.ts.clone(), rec.mono_ns));
        let what = match &rec.program {
            // Each skipped run lost what it would have written.
            Some(p) => format!(
                "{count} {} of {p} skipped by the kernel",
                if count == 1 { "run" } else { "runs" }
            ),
            None => format!(
                "{count} {} lost",
                if count == 1 { "event" } else { "events" }
            ),
        };
        self.losses.push((
            from_mono,
            rec.mono_ns,
            format!("{what} from {from} to {}", rec.ts),
        ));
        self.untrusted(from, rec.ts.clone(), what);
    }

    fn untrusted(&mut self, from: String, to: String, why: String) {
        self.out.untrusted.push(Period { from, to, why });
    }

    /// The summary, and the bars if asked for.
    pub fn finish(mut self) -> (Summary, Vec<Bar>, Vec<String>) {
        if let Some((n, first)) = self.unreadable.take() {
            if let Some((ts, _, _)) = &self.last {
                let lines = if n == 1 { "line" } else { "lines" };
                self.untrusted(
                    ts.clone(),
                    ts.clone(),
                    format!("{n} unreadable {lines} at the end ({first})"),
                );
            }
        }
        let (end_ts, end_wall, end_mono) = self.last.clone().unwrap_or_default();
        self.out.last = (!end_ts.is_empty()).then_some(end_ts);
        self.settle_superseded();
        let mut bars = self.bars.take().unwrap_or_default();
        let mut alive: Vec<Lifetime> = Vec::with_capacity(self.live.len());
        let mut unseen: Vec<Lifetime> = Vec::new();
        let live: Vec<_> = self.live.drain().collect();
        for ((ty, inum), mut live) in live {
            live.life.age_ns = live.life.born_mono.and_then(|b| end_mono.checked_sub(b));
            let observable = self.observable(ty, &live).is_some();
            let how = if observable {
                End::Alive
            } else {
                let (cause, why) = self.not_observable(ty, &live);
                let name = self.types[usize::from(ty)].clone();
                *self.out.end_unknown.entry(name.clone()).or_default() += 1;
                *self.unknown.entry((name, cause, why.clone())).or_default() += 1;
                live.life.end = Some(format!("end not observable ({why})"));
                End::NotObservable
            };
            bars.push(Bar {
                ty,
                inum,
                gen: live.life.gen,
                born: live.born_wall,
                linger_from: live.linger_from,
                end: end_wall,
                how,
            });
            if live.life.linger.is_some() {
                self.out.lingered.push(live.life.clone());
            }
            if observable {
                alive.push(live.life);
            } else {
                unseen.push(live.life);
            }
        }
        self.out.unknown_ends = std::mem::take(&mut self.unknown)
            .into_iter()
            .map(|((ns_type, cause, why), count)| UnknownEnd {
                ns_type,
                cause,
                count,
                why,
            })
            .collect();
        // Born during the log first, oldest first: the leak candidates. Then
        // those alive before tracing began, mostly the host's own.
        let oldest_born_first = |a: &Lifetime, b: &Lifetime| {
            let key = |l: &Lifetime| {
                (
                    l.born_mono.is_none(),
                    l.born_mono,
                    l.ns_type.clone(),
                    l.inum,
                )
            };
            key(a).cmp(&key(b))
        };
        alive.sort_by(oldest_born_first);
        unseen.sort_by(oldest_born_first);
        self.out.alive_at_end = alive;
        self.out.end_not_observable = unseen;
        self.out.lingered.sort_by(|a, b| {
            let at = |l: &Lifetime| l.linger.as_ref().map(|g| g.at.clone());
            (at(a), &a.ns_type, a.inum).cmp(&(at(b), &b.ns_type, b.inum))
        });
        let name = |t: &u8| self.types[usize::from(*t)].clone();
        for (t, v) in &mut self.lifetimes {
            if let Some(s) = Spread::of(v) {
                self.out.lifetimes.insert(name(t), s);
            }
        }
        for (t, v) in &mut self.put_to_death {
            if let Some(s) = Spread::of(v) {
                self.out.put_to_death.insert(name(t), s);
            }
        }
        self.out.cleanup_net.put_to_start = Spread::of(&mut self.cleanup_delays);
        self.out.cleanup_net.duration = Spread::of(&mut self.cleanup_durations);
        self.out.cleanup_net.longest_batch = self.longest_batch.map(|(_, b)| b);
        self.out.cleanup_net.longest_wait_inum = self.longest_wait.map(|(_, i)| i);
        self.out.top_creators_by_comm = top(self.by_comm);
        self.out.top_creators_by_via = top(self.by_via);
        bars.sort_by_key(|b| (b.ty, b.born.unwrap_or(i64::MIN), b.end, b.inum));
        (self.out, bars, self.types)
    }
}

/// Whether `rec` is about the generation `live` follows (records without a
/// generation are taken to be).
fn same_gen(rec: &Record, live: &Live) -> bool {
    rec.gen.is_none_or(|g| g == live.life.gen)
}

/// The ten largest counts, ties by name.
fn top(counts: HashMap<String, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = counts
        .into_iter()
        .map(|(name, births)| Count { name, births })
        .collect();
    v.sort_by(|a, b| b.births.cmp(&a.births).then_with(|| a.name.cmp(&b.name)));
    v.truncate(10);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(kind: RecordKind, mono: u64, gen: u32) -> Record {
        let mut r = Record::new(kind, mono, crate::decode::rfc3339_utc(mono as i64));
        r.ns_type = Some(NsType::Net);
        r.inum = Some(4_026_532_000);
        r.gen = Some(gen);
        r
    }

    #[test]
    fn a_death_of_another_generation_does_not_end_the_followed_one() {
        let mut t = Tally::new(true);
        for r in [
            ns(RecordKind::Birth, 10, 2),
            ns(RecordKind::Put, 15, 1),
            ns(RecordKind::Death, 20, 1),
        ] {
            t.add(&r, r.mono_ns as i64, true);
        }
        let (s, bars, _) = t.finish();
        assert_eq!(s.alive_at_end.len(), 1);
        assert_eq!(s.alive_at_end[0].gen, 2);
        assert_eq!(s.alive_at_end[0].age_ns, Some(10));
        assert!(s.put_to_death.is_empty(), "the put was not of gen 2");
        assert_eq!(bars.len(), 1);
        assert_eq!(bars[0].how, End::Alive);
    }

    #[test]
    fn a_reused_inode_number_without_a_death_ends_unknown() {
        let mut t = Tally::new(true);
        for r in [ns(RecordKind::Birth, 10, 1), ns(RecordKind::Birth, 30, 2)] {
            t.add(&r, r.mono_ns as i64, true);
        }
        let (s, bars, _) = t.finish();
        assert_eq!(s.end_unknown.get("net"), Some(&1));
        assert_eq!(
            bars.iter()
                .filter(|b| b.how == End::Unknown(UnknownCause::NoDeathSeen))
                .count(),
            1
        );
        assert_eq!(s.alive_at_end.len(), 1);
    }

    fn header(mono: u64, start: &str, methods: &[(&str, &str)]) -> Record {
        let mut h = Record::new(
            RecordKind::Header,
            mono,
            crate::decode::rfc3339_utc(mono as i64),
        );
        h.start = Some(start.into());
        h.kernel = Some("6.18.44".into());
        h.methods = Some(
            methods
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        h
    }

    fn of(kind: RecordKind, ty: NsType, inum: u32, mono: u64, gen: u32) -> Record {
        let mut r = ns(kind, mono, gen);
        r.ns_type = Some(ty);
        r.inum = Some(inum);
        r
    }

    fn run(records: &[Record]) -> (Summary, Vec<Bar>) {
        let mut t = Tally::new(true);
        for r in records {
            t.add(r, r.mono_ns as i64, true);
        }
        let (s, bars, _) = t.finish();
        (s, bars)
    }

    const TRACEPOINTS: &[(&str, &str)] = &[
        ("unshare", "tracepoint"),
        ("workqueue", "tracepoint"),
        ("ns_common_free", "missing"),
    ];

    #[test]
    fn a_type_whose_deaths_the_run_could_not_see_is_not_alive_at_the_end() {
        let (s, bars) = run(&[
            header(1, "a", TRACEPOINTS),
            of(RecordKind::Birth, NsType::Uts, 7, 10, 1),
            of(RecordKind::Birth, NsType::Net, 8, 11, 1),
        ]);
        assert_eq!(s.alive_at_end.len(), 1);
        assert_eq!(s.alive_at_end[0].ns_type, "net");
        assert_eq!(s.end_not_observable.len(), 1);
        assert_eq!(
            s.end_not_observable[0].end.as_deref(),
            Some("end not observable (uts deaths are not visible with tracepoint methods)")
        );
        assert_eq!(s.unknown_ends[0].cause, UnknownCause::NotObservable);
        assert!(bars.iter().any(|b| b.how == End::NotObservable));
    }

    #[test]
    fn runs_the_kernel_skipped_are_a_loss_that_names_the_program() {
        let mut skipped = Record::new(RecordKind::Lost, 50, crate::decode::rfc3339_utc(50));
        skipped.program = Some("kretprobe_ksys_unshare".into());
        skipped.count = Some(1);
        skipped.total = Some(1);
        let mut reused = of(RecordKind::Death, NsType::Net, 21, 60, 1);
        reused.end = Some(DeathEnd::Reused);
        let (s, _) = run(&[
            header(1, "a", TRACEPOINTS),
            of(RecordKind::Birth, NsType::Net, 21, 10, 1),
            skipped,
            reused,
        ]);
        assert_eq!((s.lost.records, s.lost.events), (1, 1));
        assert_eq!(
            s.untrusted.last().map(|p| p.why.as_str()),
            Some("1 run of kretprobe_ksys_unshare skipped by the kernel")
        );
        let causes: Vec<_> = s
            .unknown_ends
            .iter()
            .map(|u| (u.cause, u.why.as_str()))
            .collect();
        assert_eq!(
            causes,
            [(
                UnknownCause::RecordsLost,
                "1 run of kretprobe_ksys_unshare skipped by the kernel from \
                 1970-01-01T00:00:00.000000001Z to 1970-01-01T00:00:00.000000050Z"
            )]
        );
    }

    #[test]
    fn an_unknown_end_names_its_cause() {
        let mut lost = Record::new(RecordKind::Lost, 50, crate::decode::rfc3339_utc(50));
        lost.count = Some(3);
        let mut reused = of(RecordKind::Death, NsType::Pid, 21, 60, 1);
        reused.end = Some(DeathEnd::Reused);
        let mut reused_clean = of(RecordKind::Death, NsType::User, 22, 80, 1);
        reused_clean.end = Some(DeathEnd::Reused);
        let mut nobody = of(RecordKind::Death, NsType::Net, 23, 90, 1);
        nobody.end = Some(DeathEnd::Unidentified);
        nobody.gen = None;
        let (s, _) = run(&[
            header(1, "a", TRACEPOINTS),
            of(RecordKind::Birth, NsType::Pid, 21, 10, 1),
            lost,
            reused,
            of(RecordKind::Birth, NsType::User, 22, 70, 1),
            reused_clean,
            of(RecordKind::Birth, NsType::Net, 24, 85, 1),
            nobody,
            header(200, "b", TRACEPOINTS),
        ]);
        let causes: Vec<_> = s
            .unknown_ends
            .iter()
            .map(|u| (u.ns_type.as_str(), u.cause, u.why.as_str()))
            .collect();
        assert_eq!(
            causes,
            [
                (
                    "net",
                    UnknownCause::TracerRestarted,
                    "nstrace stopped at 1970-01-01T00:00:00.000000090Z and started again at \
                     1970-01-01T00:00:00.000000200Z"
                ),
                (
                    "pid",
                    UnknownCause::RecordsLost,
                    "3 events lost from 1970-01-01T00:00:00.000000001Z to \
                     1970-01-01T00:00:00.000000050Z"
                ),
                (
                    "user",
                    UnknownCause::NoDeathSeen,
                    "its number was born again and no death was seen"
                ),
            ]
        );
        assert_eq!(s.unidentified_deaths.get("net"), Some(&1));
        assert!(
            s.lifetimes.is_empty(),
            "no end above is a measured lifetime"
        );
    }

    #[test]
    fn a_net_death_written_after_its_numbers_reuse_still_ends_it() {
        let mut d = of(RecordKind::Death, NsType::Net, 9, 40, 1);
        d.lifetime_ns = Some(30);
        let (s, bars) = run(&[
            header(1, "a", TRACEPOINTS),
            of(RecordKind::Birth, NsType::Net, 9, 10, 1),
            of(RecordKind::Birth, NsType::Net, 9, 35, 2),
            d,
        ]);
        assert!(s.unknown_ends.is_empty(), "{:?}", s.unknown_ends);
        assert_eq!(s.lifetimes["net"].count, 1);
        assert_eq!(s.alive_at_end.len(), 1);
        assert_eq!(s.alive_at_end[0].gen, 2);
        assert_eq!(bars.iter().filter(|b| b.how == End::Died).count(), 1);
    }
}
