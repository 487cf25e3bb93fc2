//! Folds records, one at a time, into a `Summary`: a week of churn streams
//! through; only namespaces still alive are held in memory, plus one number
//! per finished lifetime for the percentiles.

use std::collections::{BTreeMap, HashMap};

use tracer_common::NsType;

use super::percentile::Spread;
use super::summary::{Count, Creator, Lifetime, Linger, Period, Session, Summary};

use crate::schema::{Record, RecordKind};

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
    /// The tracer stopped; a later run could not follow it.
    Interrupted,
}

/// A namespace being followed.
struct Live {
    life: Lifetime,
    born_wall: Option<i64>,
    put_mono: Option<u64>,
    linger_from: Option<i64>,
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
    /// Time of the last `lost` record or run start, where the next loss
    /// may have begun.
    loss_since: Option<String>,
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
        self.loss_since = Some(rec.ts.clone());
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
            last_ts,
            next_ts.to_string(),
            "nstrace was not running (between two runs)".to_string(),
        );
        let live: Vec<_> = self.live.drain().collect();
        for (key, l) in live {
            self.interrupted(key, &l, last_wall);
        }
    }

    /// A namespace whose end the log cannot tell: shown up to `until`.
    fn interrupted(&mut self, (ty, inum): (u8, u32), live: &Live, until: i64) {
        *self
            .out
            .end_unknown
            .entry(self.types[usize::from(ty)].clone())
            .or_default() += 1;
        if let Some(bars) = &mut self.bars {
            bars.push(Bar {
                ty,
                inum,
                gen: live.life.gen,
                born: live.born_wall,
                linger_from: live.linger_from,
                end: until,
                how: End::Interrupted,
            });
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
            put_mono: None,
            linger_from: None,
        };
        // An inode number reused before we saw the old one die: its death
        // record was lost. Its end is unknown, not guessed.
        if let Some(old) = self.live.insert(key, live) {
            self.interrupted(key, &old, wall);
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
        let Some(key) = self.key(rec) else { return };
        // A death of another generation than the one we follow cannot end
        // it: the kernel reuses an inode number only once it is free.
        let live = match self.live.get(&key) {
            Some(l) if same_gen(rec, l) => self.live.remove(&key),
            _ => None,
        };
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
        let from = self
            .loss_since
            .replace(rec.ts.clone())
            .unwrap_or_else(|| rec.ts.clone());
        self.untrusted(
            from,
            rec.ts.clone(),
            format!(
                "{count} {} lost",
                if count == 1 { "event" } else { "events" }
            ),
        );
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
        let mut bars = self.bars.take().unwrap_or_default();
        let mut alive: Vec<Lifetime> = Vec::with_capacity(self.live.len());
        for ((ty, inum), mut live) in self.live.drain() {
            live.life.age_ns = live.life.born_mono.and_then(|b| end_mono.checked_sub(b));
            bars.push(Bar {
                ty,
                inum,
                gen: live.life.gen,
                born: live.born_wall,
                linger_from: live.linger_from,
                end: end_wall,
                how: End::Alive,
            });
            if live.life.linger.is_some() {
                self.out.lingered.push(live.life.clone());
            }
            alive.push(live.life);
        }
        // Born during the log first, oldest first: the leak candidates. Then
        // those alive before tracing began, mostly the host's own.
        alive.sort_by(|a, b| {
            let key = |l: &Lifetime| {
                (
                    l.born_mono.is_none(),
                    l.born_mono,
                    l.ns_type.clone(),
                    l.inum,
                )
            };
            key(a).cmp(&key(b))
        });
        self.out.alive_at_end = alive;
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
        assert_eq!(bars.iter().filter(|b| b.how == End::Interrupted).count(), 1);
        assert_eq!(s.alive_at_end.len(), 1);
    }
}
