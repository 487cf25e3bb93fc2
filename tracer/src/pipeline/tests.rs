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

/// CPU time of this thread, in ns.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The reader's CPU per event for a uts churn, JSON Lines to /dev/null, in
/// drains of 1,000 as the ring gives them. Run alone, in release:
/// `cargo test --release -p tracer --lib pipeline::tests::reader_cost --
/// --ignored --nocapture`.
#[test]
#[ignore = "a measurement; run alone in release"]
fn reader_cost() {
    let n = 300_000;
    let t0 = 10_000 * MS;
    let events = uts_churn(n, t0, 6_667);
    let mut p = pipeline();
    let header = Record::new(RecordKind::Header, 0, String::new());
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    p.add_output(Box::new(JsonLines::to_file(null, &header).unwrap()));
    let start = thread_cpu_ns();
    for chunk in events.chunks(1000) {
        for ev in chunk {
            p.push(ev);
        }
        let now = chunk.last().unwrap().ts_ns;
        p.step(now, 0, &mut Nobody, false).unwrap();
    }
    p.step(u64::MAX / 2, 0, &mut Nobody, true).unwrap();
    let cpu = thread_cpu_ns() - start;
    println!(
        "reader: {n} events, {} ns CPU per event (pipeline, JSON Lines to /dev/null)",
        cpu / n as u64
    );
    assert_eq!(p.summary().total(), n as u64);
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
    let metrics = Rc::new(RefCell::new(Metrics::new(&Default::default())));
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
