//! The pipeline without a kernel: synthetic events in, outputs checked.

use std::{cell::RefCell, rc::Rc};

use tracer_common::{Event, EventKind, NsType, Via};

use super::*;
use crate::{
    decode::Clock,
    lifecycle::{EngineConfig, HolderAnswer},
    output::JsonLines,
    schema::RecordKind,
};

const MS: u64 = 1_000_000;

/// What a uts churn (`unshare(CLONE_NEWUTS)` in a loop) sends: a birth per
/// call, on two inode numbers in turn (the new namespace is numbered
/// before the old one is freed), `gap_ns` apart.
pub fn uts_churn(n: usize, t0: u64, gap_ns: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let mut ev = Event::zeroed();
            ev.kind = EventKind::Birth as u32;
            ev.ns_type = NsType::Uts as u32;
            ev.ts_ns = t0 + i as u64 * gap_ns;
            ev.pid = 4242;
            ev.tid = 4242;
            ev.target_pid = 4242;
            ev.target_tid = 4242;
            ev.comm[..5].copy_from_slice(b"xtask");
            ev.inum = 0xF000_0100 + (i % 2) as u32;
            ev.owner_inum = 0xEFFF_FFFD;
            ev.via = Via::Unshare as u32;
            ev.flags = NsType::Uts.clone_flag();
            ev.ptr = 0xffff_8880_0000_0000 + (i as u64 % 2) * 0x1000;
            ev
        })
        .collect()
}

/// `n` events of a uts churn as the kernel reports it since issue 10: each
/// namespace's birth, then its death before the next birth takes its
/// number, `gap_ns` apart.
pub fn uts_lives(n: usize, t0: u64, gap_ns: u64) -> Vec<Event> {
    let mut events = uts_churn(n.div_ceil(2), t0, 2 * gap_ns);
    let mut out = Vec::with_capacity(n);
    for birth in events.drain(..) {
        let mut death = Event::zeroed();
        death.kind = EventKind::Death as u32;
        death.ns_type = birth.ns_type;
        death.inum = birth.inum;
        death.ptr = birth.ptr;
        death.ts_ns = birth.ts_ns + gap_ns;
        out.push(birth);
        out.push(death);
    }
    out.truncate(n);
    out
}

/// An output that keeps what it was given, and counts its flushes.
#[derive(Default)]
struct Kept(Rc<RefCell<Vec<Record>>>, Rc<RefCell<u32>>);

impl Output for Kept {
    fn write(&mut self, r: &Record) -> Result<()> {
        self.0.borrow_mut().push(r.clone());
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        *self.1.borrow_mut() += 1;
        Ok(())
    }
}

#[test]
fn a_new_output_is_flushed_once_even_with_nothing_written_and_then_only_after_writes() {
    let mut p = pipeline();
    let k = Kept::default();
    let flushes = k.1.clone();
    p.add_output(Box::new(k));
    for _ in 0..3 {
        p.step(10_000 * MS, 0, &mut Nobody, false).unwrap();
    }
    assert_eq!(
        *flushes.borrow(),
        1,
        "its header goes out; idle steps flush nothing"
    );
    p.step(10_000 * MS, 1, &mut Nobody, false).unwrap();
    assert_eq!(*flushes.borrow(), 2, "a lost record was written");
}

fn pipeline() -> Pipeline {
    let engine = Engine::new(EngineConfig::default(), Clock { boot_offset_ns: 0 });
    Pipeline::new(engine, Filter::default(), Summary::new(Default::default()))
}

/// A pipeline with one [`Kept`] output, and what it was given.
fn pipeline_kept() -> (Pipeline, Rc<RefCell<Vec<Record>>>) {
    let mut p = pipeline();
    let k = Kept::default();
    let seen = k.0.clone();
    p.add_output(Box::new(k));
    (p, seen)
}

struct Nobody;

impl HolderSource for Nobody {
    fn holders(&mut self, _: NsType, _: u32, _: u64) -> HolderAnswer {
        HolderAnswer::NotScanned
    }
}

#[test]
fn every_output_gets_every_record_in_order_and_enrichment_comes_first() {
    struct Tag;
    impl Enrich for Tag {
        fn enrich(&mut self, r: &mut Record) {
            r.comm = r.comm.take().map(|c| format!("{c}!"));
        }
    }
    let mut p = pipeline();
    let (a, b) = (Kept::default(), Kept::default());
    let (seen_a, seen_b) = (a.0.clone(), b.0.clone());
    p.add_enrich(Box::new(Tag));
    p.add_output(Box::new(a));
    p.add_output(Box::new(b));
    let t0 = 10_000 * MS;
    for ev in uts_churn(10, t0, MS) {
        p.push(&ev);
    }
    p.step(t0 + 1000 * MS, 3, &mut Nobody, false).unwrap();
    let a = seen_a.borrow();
    // A lost record, then ten births on two numbers; each birth on a
    // number whose lifetime had no death ends that one first (issue 10).
    assert_eq!(a.len(), 19, "{a:#?}");
    assert_eq!(a[0].event, RecordKind::Lost);
    assert_eq!(a[0].count, Some(3));
    let births: Vec<&Record> = a.iter().filter(|r| r.event == RecordKind::Birth).collect();
    assert_eq!(births.len(), 10);
    assert!(a[1..]
        .iter()
        .all(|r| r.event == RecordKind::Birth || r.end == Some(crate::schema::DeathEnd::Reused)));
    assert!(a[1..].windows(2).all(|w| w[0].mono_ns <= w[1].mono_ns));
    assert_eq!(a[1].comm.as_deref(), Some("xtask!"));
    assert_eq!(*a, *seen_b.borrow());
    assert_eq!(p.summary().lost, 3);
}

#[test]
fn runs_the_kernel_skipped_are_lost_records_per_program_and_void_exactness() {
    let (mut p, seen) = pipeline_kept();
    let t0 = 10_000 * MS;
    // A dies before the skip; B is born before it and dies after it.
    let mut events = uts_lives(4, t0, MS);
    let mut b_death = events.pop().unwrap();
    let (a, b) = (events[0].inum, b_death.inum);
    for ev in &events {
        p.push(ev);
    }
    let (unshare, clone) = ("kretprobe_ksys_unshare", "kretprobe_copy_process");
    p.skipped(&[(unshare, 0), (clone, 0)]);
    p.step(t0 + 1000 * MS, 0, &mut Nobody, false).unwrap();
    assert!(seen.borrow().iter().all(|r| r.event != RecordKind::Lost));
    p.skipped(&[(unshare, 2), (clone, 0)]);
    p.step(t0 + 1100 * MS, 0, &mut Nobody, false).unwrap();
    b_death.ts_ns = t0 + 1200 * MS;
    p.push(&b_death);
    // The same totals again: nothing new.
    p.skipped(&[(unshare, 2), (clone, 0)]);
    p.step(t0 + 2500 * MS, 0, &mut Nobody, false).unwrap();
    p.skipped(&[(unshare, 5), (clone, 0)]);
    p.step(t0 + 2600 * MS, 0, &mut Nobody, true).unwrap();

    let out = seen.borrow();
    let lost: Vec<&Record> = out.iter().filter(|r| r.event == RecordKind::Lost).collect();
    assert_eq!(lost.len(), 2, "{lost:#?}");
    assert_eq!(
        serde_json::to_string(lost[0]).unwrap(),
        format!(
            r#"{{"ts":"{}","mono_ns":{},"event":"lost","program":"kretprobe_ksys_unshare","count":2,"total":2}}"#,
            lost[0].ts,
            t0 + 1100 * MS
        )
    );
    assert_eq!(
        (lost[1].program.as_deref(), lost[1].count, lost[1].total),
        (Some(unshare), Some(3), Some(5))
    );
    let exact = |inum: u32| {
        out.iter()
            .find(|r| r.event == RecordKind::Death && r.inum == Some(inum))
            .unwrap_or_else(|| panic!("no death of {inum}: {out:#?}"))
            .exact
    };
    assert_eq!(exact(a), Some(true), "closed before the skipped runs");
    assert_eq!(exact(b), Some(false), "open while runs were skipped");
    let s = p.summary();
    assert_eq!(s.lost, 0, "the ring lost nothing");
    assert_eq!(
        s.skipped.iter().map(|(p, n)| (*p, *n)).collect::<Vec<_>>(),
        [(clone, 0), (unshare, 5)],
        "every program, with its total"
    );
    let line = s.to_string();
    assert!(
        line.contains(
            "; 0 lost; 5 program runs skipped by the kernel, their records lost \
             (kretprobe_ksys_unshare 5)"
        ),
        "{line}"
    );
}

/// CPU time of this thread, in ns.
/// One configuration of the reader, for [`reader_cost`].
fn reader_run(p: &mut Pipeline, n: usize, cgroup_id: u64) -> u64 {
    // 150,000 events a second; the ring wakes the reader about every
    // 8,000 records (a quarter of the 4 MiB ring) and the loop steps every
    // 100 ms, as `pipeline::run` does.
    let t0 = 10_000 * MS;
    let mut events = uts_lives(n, t0, 6_667);
    for ev in &mut events {
        ev.cgroup_id = cgroup_id;
    }
    let start = super::thread_cpu().as_nanos() as u64;
    let tick = 100 * MS;
    let mut next_tick = t0 + tick;
    for chunk in events.chunks(8_000) {
        for ev in chunk {
            p.push(ev);
        }
        let now = chunk.last().unwrap().ts_ns;
        while now >= next_tick {
            p.step(next_tick, 0, &mut Nobody, false).unwrap();
            next_tick += tick;
        }
    }
    p.step(u64::MAX / 2, 0, &mut Nobody, true).unwrap();
    let cpu = super::thread_cpu().as_nanos() as u64 - start;
    assert_eq!(p.summary().total(), n as u64);
    cpu / n as u64
}

/// The reader's CPU per event for a uts churn at 150,000 events/s, in the
/// two configurations: `trace --json` (JSON Lines to /dev/null) and the
/// agent (the log in a temporary directory, the query index, metrics).
/// Run alone, in release: `cargo test --release -p tracer --lib
/// pipeline::tests::reader_cost -- --ignored --nocapture`; `NSTRACE_COST`
/// set to `trace` or `agent` runs one (for callgrind).
#[test]
#[ignore = "a measurement; run alone in release"]
fn reader_cost() {
    use crate::{index::Index, logfile::Rotation, metrics::Metrics, output::LogOutput};
    let n = 300_000;
    let only = std::env::var("NSTRACE_COST").ok();
    let header = Record::new(RecordKind::Header, 0, String::new());
    if only.as_deref() != Some("agent") {
        let mut p = pipeline();
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        p.add_output(Box::new(JsonLines::to_file(null, &header).unwrap()));
        let per = reader_run(&mut p, n, 0);
        println!("reader: {n} events, {per} ns CPU per event (trace: JSON Lines to /dev/null)");
    }
    if only.as_deref() != Some("trace") {
        let dir = std::env::temp_dir().join(format!("nstrace-cost-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = pipeline();
        let rotation = Rotation {
            size: Some(64 << 20),
            keep: 4,
        };
        let log = LogOutput::create(&dir.join("agent.jsonl"), rotation, &header).unwrap();
        p.add_output(Box::new(log));
        p.add_output(Box::new(Index::new(Default::default())));
        p.add_output(Box::new(Metrics::new(&Default::default(), &[])));
        let per = reader_run(&mut p, n, 0);
        std::fs::remove_dir_all(&dir).unwrap();
        println!("reader: {n} events, {per} ns CPU per event (agent: log, index, metrics)");
    }
}

/// [`reader_cost`]'s `trace --json` with the container stage that `trace`
/// and the agent run, each birth from the root cgroup (id 1) as a host
/// task's: the stage's cost on every record once its cgroup is cached.
#[test]
#[ignore = "a measurement; run alone in release"]
fn reader_cost_with_containers() {
    let n = 300_000;
    let header = Record::new(RecordKind::Header, 0, String::new());
    let mut p = pipeline();
    p.add_hold(Box::new(crate::container::ContainerStage::start()));
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    p.add_output(Box::new(JsonLines::to_file(null, &header).unwrap()));
    let per = reader_run(&mut p, n, 1);
    println!("reader: {n} events, {per} ns CPU per event (trace with the container stage)");
}

fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The agent's pipeline (engine, query index, metrics) with 100,000 live
/// namespaces from synthetic births, fed in drains of 1,000: its growth in
/// RSS. Run alone: `cargo test --release -p tracer --lib
/// pipeline::tests::agent_rss -- --ignored --nocapture --test-threads=1`.
#[test]
#[ignore = "measures this process's RSS; run alone with --test-threads=1"]
fn agent_rss_with_100k_live_namespaces() {
    use crate::{index::Index, metrics::Metrics, output::Shared};
    // Made first, so that they are in `before`.
    let events = crate::lifecycle::synthetic_births(100_000);
    let before = status_kib("VmRSS:");
    let mut p = pipeline();
    let index = Rc::new(RefCell::new(Index::new(Default::default())));
    let metrics = Rc::new(RefCell::new(Metrics::new(&Default::default(), &[])));
    p.add_output(Box::new(Shared(index.clone())));
    p.add_output(Box::new(Shared(metrics.clone())));
    for chunk in events.chunks(1000) {
        for ev in chunk {
            p.push(ev);
        }
        p.step(
            chunk.last().unwrap().ts_ns + 100 * MS,
            0,
            &mut Nobody,
            false,
        )
        .unwrap();
    }
    p.step(
        events.last().unwrap().ts_ns + 1000 * MS,
        0,
        &mut Nobody,
        false,
    )
    .unwrap();
    // The agent's periodic task scan finds none of them with a task: each
    // now waits out its linger grace, as under `bench agent`'s 100,000 live.
    let scan_ns = events.last().unwrap().ts_ns + 2000 * MS;
    p.observe_tasks(&task_scan::TaskScan {
        mono_ns: scan_ns,
        counts: Default::default(),
        first_seen: Default::default(),
    });
    p.step(scan_ns + 1000 * MS, 0, &mut Nobody, false).unwrap();
    metrics.borrow_mut().refresh(p.engine());
    assert_eq!(p.engine().live_count(), 100_000);
    assert_eq!(index.borrow().live_count(), 100_000);
    let after = status_kib("VmRSS:");
    let index_kib = {
        let i = index.borrow();
        // What the index's own tables take, from their capacity.
        (i.live_count() * (std::mem::size_of::<crate::index::Live>() + 8) * 8 / 7) / 1024
    };
    println!(
        "RSS before {before} KiB, after {after} KiB: {} KiB for 100,000 live (engine + index + \
         metrics), {} B each; the index's table about {index_kib} KiB of it",
        after - before,
        (after - before) * 1024 / 100_000,
    );
}

/// A stage that holds every record until it is polled at or past its
/// `mono_ns` plus a delay, as the container stage holds one until its
/// answer comes.
struct Delay {
    ns: u64,
    held: std::collections::VecDeque<Record>,
}

impl Delay {
    fn release(&mut self, now: u64, out: &mut Vec<Record>) {
        while self
            .held
            .front()
            .is_some_and(|r| now >= r.mono_ns + self.ns)
        {
            out.extend(self.held.pop_front());
        }
    }
}

impl Hold for Delay {
    fn pass(&mut self, records: &mut Vec<Record>, now: u64) {
        self.held.extend(records.drain(..));
        self.release(now, records);
    }
    fn finish(&mut self, records: &mut Vec<Record>, _: u64) {
        records.extend(self.held.drain(..));
    }
    fn held(&self) -> usize {
        self.held.len()
    }
}

#[test]
fn a_holding_stage_delays_records_in_order_and_gives_all_back_at_the_end() {
    let mut p = pipeline();
    let k = Kept::default();
    let seen = k.0.clone();
    p.add_hold(Box::new(Delay {
        ns: 500 * MS,
        held: Default::default(),
    }));
    p.add_output(Box::new(k));
    let t0 = 10_000 * MS;
    for ev in uts_churn(4, t0, 300 * MS) {
        p.push(&ev);
    }
    // The engine releases all four (and the reuse deaths) past its
    // window; the stage keeps those younger than 500 ms.
    let now = t0 + 1000 * MS;
    p.step(now, 0, &mut Nobody, false).unwrap();
    let out: Vec<(RecordKind, u64)> = seen.borrow().iter().map(|r| (r.event, r.mono_ns)).collect();
    assert!(
        !out.is_empty() && out.iter().all(|&(_, m)| m + 500 * MS <= now),
        "{out:?}"
    );
    assert!(p.buffered() > 0, "some are still held");
    assert_eq!(p.summary().total(), seen.borrow().len() as u64);
    // Nothing new from the engine: a step still lets the held ones go
    // when due.
    let before = seen.borrow().len();
    p.step(now + 400 * MS, 0, &mut Nobody, false).unwrap();
    assert!(seen.borrow().len() > before);
    // A lost record is held like any other, and the last step gives
    // everything back.
    p.step(now + 400 * MS, 2, &mut Nobody, true).unwrap();
    assert_eq!(p.buffered(), 0);
    let all = seen.borrow();
    let births = all.iter().filter(|r| r.event == RecordKind::Birth).count();
    assert_eq!(births, 4);
    assert_eq!(all.last().map(|r| r.event), Some(RecordKind::Lost));
    assert!(
        all.windows(2).all(|w| w[0].mono_ns <= w[1].mono_ns),
        "{all:#?}"
    );
}

#[test]
fn a_namespace_born_while_the_start_up_scan_ran_is_born_once_and_found_present() {
    let (mut p, seen) = pipeline_kept();
    let t0 = 10_000 * MS;
    // The scan began at t0; the birth came 10 ms later, and the walk
    // reached the new namespace's task 20 ms after that.
    let birth = uts_churn(1, t0 + 10 * MS, MS)[0];
    let key = (NsType::Uts, birth.inum);
    let scan = TaskScan {
        mono_ns: t0,
        counts: [(key, 1)].into_iter().collect(),
        first_seen: [(key, t0 + 30 * MS)].into_iter().collect(),
    };
    p.push(&birth);
    p.seed(&scan);
    p.step(t0 + 2000 * MS, 0, &mut Nobody, false).unwrap();
    let got: Vec<_> = seen
        .borrow()
        .iter()
        .filter(|r| r.inum == Some(birth.inum))
        .map(|r| (r.event, r.gen, r.mono_ns))
        .collect();
    assert_eq!(
        got,
        [
            (RecordKind::Birth, Some(1), t0 + 10 * MS),
            (RecordKind::Present, Some(1), t0 + 30 * MS),
        ],
        "one lifetime, born then confirmed; not present before its birth"
    );
}
