//! The index fed with records as the pipeline writes them.

use tracer_common::{NsType, Via};

use super::*;
use crate::schema::{DeathEnd, Holder, HolderKind};

const S: u64 = 1_000_000_000;

fn rec(kind: RecordKind, t: NsType, inum: u32, gen: u32, at: u64) -> Record {
    let mut r = Record::new(kind, at, format!("t{at}"));
    r.ns_type = Some(t);
    r.inum = Some(inum);
    r.gen = Some(gen);
    r
}

fn birth(t: NsType, inum: u32, gen: u32, at: u64, pid: u32, comm: &str) -> Record {
    let mut r = rec(RecordKind::Birth, t, inum, gen, at);
    r.pid = Some(pid);
    r.comm = Some(comm.into());
    r.via = Some(Via::Unshare);
    r
}

fn header(at: u64, start: &str) -> Record {
    let mut r = Record::new(RecordKind::Header, at, format!("h{at}"));
    r.start = Some(start.into());
    r
}

/// An index that holds run1: nets `inums` born at 1 s by pids 42, 43, ...
fn after_run1_with_nets(inums: &[u32]) -> Index {
    let mut i = Index::new(Bounds::default());
    feed(&mut i, &[header(0, "run1")]);
    for (k, &inum) in inums.iter().enumerate() {
        feed(
            &mut i,
            &[birth(NsType::Net, inum, 1, S, 42 + k as u32, "ip")],
        );
    }
    i
}

fn feed(i: &mut Index, records: &[Record]) {
    for r in records {
        i.write(r).unwrap();
    }
}

#[test]
fn a_lifetime_gathers_its_birth_joins_puts_evicts_cleanup_and_linger() {
    let mut i = Index::new(Bounds::default());
    let n = 4026532100;
    let mut join = rec(RecordKind::Join, NsType::Net, n, 1, 2 * S);
    join.pid = Some(77);
    join.comm = Some("ip".into());
    join.via = Some(Via::Setns);
    let mut start = Record::new(RecordKind::CleanupStart, 5 * S, String::new());
    start.ns_type = Some(NsType::Net);
    start.inums = Some(vec![n]);
    start.batch = Some(9);
    let mut linger = rec(RecordKind::Linger, NsType::Net, n, 1, 6 * S);
    linger.since_last_task_ns = Some(S);
    linger.holders = Some(vec![Holder {
        kind: HolderKind::BindMount,
        ..Holder::default()
    }]);
    feed(
        &mut i,
        &[
            header(0, "run1"),
            birth(NsType::Net, n, 1, S, 42, "unshare"),
            join,
            rec(RecordKind::Evict, NsType::Net, n, 1, 3 * S),
            rec(RecordKind::Put, NsType::Net, n, 1, 4 * S),
            start,
            linger,
        ],
    );
    let l = i.live(NsType::Net, n).unwrap();
    assert_eq!(
        (l.origin, l.pid, i.comm(l.comm), l.gen),
        (Origin::Born, 42, "unshare", 1)
    );
    let m = i.more(NsType::Net, n).unwrap();
    assert_eq!((m.joins, m.last_join.unwrap().pid), (1, 77));
    assert_eq!(i.comm(m.last_join.unwrap().comm), "ip");
    assert_eq!(
        (m.evicts, m.last_evict_ns, m.puts, m.last_put_ns),
        (1, Some(3 * S), 1, Some(4 * S))
    );
    assert_eq!(
        (m.cleanup_batch, m.cleanup_start_ns, m.cleanup_end_ns),
        (Some(9), Some(5 * S), None)
    );
    let g = i.linger(NsType::Net, n).unwrap();
    assert_eq!((g.at_ns, g.since_last_task_ns, g.holders), (6 * S, S, 1));
    assert_eq!(i.since_ns(), Some(S));

    let mut death = rec(RecordKind::Death, NsType::Net, n, 1, 8 * S);
    death.exact = Some(true);
    i.write(&death).unwrap();
    assert!(i.live(NsType::Net, n).is_none());
    let e = &i.earlier(NsType::Net, n)[0];
    assert_eq!(
        (e.end, e.exact, e.opened_ns, e.ended_ns),
        (End::Death, Some(true), S, 8 * S)
    );
    assert_eq!((e.puts, e.evicts, e.lingered, e.pid), (1, 1, true, 42));
    // Its linger, joins and puts went with it: the number's next lifetime
    // has none.
    assert!(i.linger(NsType::Net, n).is_none());
    assert!(i.more(NsType::Net, n).is_none());
}

#[test]
fn a_birth_on_a_live_number_closes_the_old_lifetime_as_reused() {
    let mut i = Index::new(Bounds::default());
    feed(
        &mut i,
        &[
            birth(NsType::Uts, 7, 1, S, 1, "a"),
            birth(NsType::Uts, 7, 2, 2 * S, 2, "b"),
        ],
    );
    assert_eq!(i.live(NsType::Uts, 7).unwrap().gen, 2);
    let e = &i.earlier(NsType::Uts, 7)[0];
    assert_eq!(
        (e.gen, e.end, e.ended_ns, i.comm(e.comm)),
        (1, End::Reused, 2 * S, "a")
    );
    // Another type's number is another slot.
    assert!(i.earlier(NsType::Net, 7).is_empty());
    assert_eq!(i.types_of(7), [NsType::Uts]);
}

#[test]
fn history_is_bounded_per_number_and_in_all() {
    let mut i = Index::new(Bounds {
        per_number: 3,
        total: 10,
    });
    for g in 1..=100u32 {
        i.write(&birth(NsType::Uts, 5, g, u64::from(g) * S, g, "x"))
            .unwrap();
    }
    let kept: Vec<u32> = i.earlier(NsType::Uts, 5).iter().map(|c| c.gen).collect();
    assert_eq!(kept, [97, 98, 99], "the newest three");
    for n in 0..50u32 {
        i.write(&birth(NsType::Ipc, 1000 + n, 1, S, 1, "x"))
            .unwrap();
        i.write(&rec(RecordKind::Death, NsType::Ipc, 1000 + n, 1, 2 * S))
            .unwrap();
    }
    assert_eq!(i.earlier_count(), 10);
    assert!(
        i.earlier(NsType::Uts, 5).is_empty(),
        "the oldest went first"
    );
    assert_eq!(i.earlier(NsType::Ipc, 1049).len(), 1);
    assert!(i.earlier(NsType::Ipc, 1039).is_empty());
    assert!(i.order.len() <= 2 * i.kept + 1024);
}

#[test]
fn a_later_run_carries_what_its_scan_finds_and_closes_the_rest() {
    let mut i = Index::new(Bounds::default());
    feed(
        &mut i,
        &[
            header(0, "run1"),
            birth(NsType::Net, 10, 1, S, 42, "ip"),
            birth(NsType::Net, 11, 1, S, 43, "ip"),
            // A rotated file's header is the same run.
            header(2 * S, "run1"),
            birth(NsType::Net, 12, 1, 3 * S, 44, "ip"),
        ],
    );
    assert_eq!(i.runs().len(), 1);
    feed(
        &mut i,
        &[
            header(10 * S, "run2"),
            rec(RecordKind::Present, NsType::Net, 10, 1, 10 * S),
            rec(RecordKind::Present, NsType::Net, 12, 1, 10 * S),
        ],
    );
    i.settle(10 * S + 1);
    assert!(
        i.live(NsType::Net, 11).is_some(),
        "the scan may still be coming"
    );
    i.settle(13 * S);
    let l = i.live(NsType::Net, 10).unwrap();
    assert!(l.carried);
    assert_eq!(
        (l.origin, l.pid, l.opened_ns, l.run),
        (Origin::Born, 42, S, 1)
    );
    assert!(i.live(NsType::Net, 11).is_none());
    let e = &i.earlier(NsType::Net, 11)[0];
    assert_eq!((e.end, e.ended_ns, e.run), (End::Gap, 10 * S, 0));
    assert_eq!(i.run(0).unwrap().start, "run1");
}

#[test]
fn the_start_scan_ends_at_the_first_record_past_its_span_not_at_its_next_present() {
    let mut i = after_run1_with_nets(&[10, 11]);
    let ms = S / 1000;
    feed(
        &mut i,
        &[
            header(10 * S, "run2"),
            rec(RecordKind::Present, NsType::Uts, 1, 1, 10 * S),
            // Born while the walk ran, and a namespace it found after that:
            // each present is dated when the walk found it.
            birth(NsType::Uts, 2, 1, 10 * S + 5 * ms, 1, "x"),
            rec(RecordKind::Present, NsType::Net, 10, 1, 10 * S + 30 * ms),
        ],
    );
    assert!(
        i.live(NsType::Net, 10).unwrap().carried,
        "found by the same walk"
    );
    assert!(
        i.live(NsType::Net, 11).is_some(),
        "the walk may still find it"
    );
    feed(
        &mut i,
        &[birth(NsType::Uts, 3, 1, 12 * S + 31 * ms, 1, "x")],
    );
    assert_eq!(i.earlier(NsType::Net, 11)[0].end, End::Gap);
    assert!(i.live(NsType::Net, 10).is_some());
}

#[test]
fn a_full_scan_confirms_what_earlier_runs_left_open() {
    let mut i = Index::new(Bounds::default());
    feed(
        &mut i,
        &[
            header(0, "run1"),
            birth(NsType::Net, 10, 1, S, 42, "ip"),
            birth(NsType::Net, 11, 1, S, 43, "ip"),
            header(10 * S, "run2"),
        ],
    );
    i.confirm_alive(10 * S, |t, n| t == NsType::Net && n == 10);
    let l = i.live(NsType::Net, 10).unwrap();
    assert!(l.carried && l.pid == 42);
    assert_eq!(i.earlier(NsType::Net, 11)[0].end, End::Gap);
    // The run's own present records leave the carried one as it is.
    i.write(&rec(RecordKind::Present, NsType::Net, 10, 1, 10 * S))
        .unwrap();
    assert_eq!(i.live(NsType::Net, 10).unwrap().origin, Origin::Born);
}

#[test]
fn a_different_ns_id_means_the_number_was_reused_while_nobody_watched() {
    let mut i = Index::new(Bounds::default());
    let mut b = birth(NsType::Net, 10, 1, S, 42, "ip");
    b.ns_id = Some(100);
    feed(&mut i, &[header(0, "run1"), b, header(5 * S, "run2")]);
    let mut p = rec(RecordKind::Present, NsType::Net, 10, 1, 5 * S);
    p.ns_id = Some(200);
    i.write(&p).unwrap();
    let l = i.live(NsType::Net, 10).unwrap();
    assert_eq!((l.origin, l.carried), (Origin::Present, false));
    assert_eq!(i.earlier(NsType::Net, 10)[0].end, End::Gap);
}

#[test]
fn a_death_without_a_type_names_the_one_live_namespace_with_its_number() {
    let mut i = Index::new(Bounds::default());
    i.write(&birth(NsType::Pid, 9, 1, S, 1, "x")).unwrap();
    let mut d = Record::new(RecordKind::Death, 2 * S, String::new());
    d.inum = Some(9);
    i.write(&d).unwrap();
    assert!(i.live(NsType::Pid, 9).is_none());
    assert_eq!(i.earlier(NsType::Pid, 9)[0].end, End::Death);
}

#[test]
fn rebuild_reads_this_boots_runs_from_the_log_files() {
    let dir = std::env::temp_dir().join(format!("nstrace-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("ns.jsonl");
    let line = |r: &Record| serde_json::to_string(r).unwrap() + "\n";
    let ts = |n: u64| crate::decode::rfc3339_utc(n as i64);
    let mut old = header(S, "boot0");
    old.ts = ts(S);
    old.version = Some(crate::logfile::OUR_VERSION.into());
    old.boot_offset_ns = Some(1_000 * S as i64);
    let mut b0 = birth(NsType::Net, 30, 1, 2 * S, 5, "old");
    b0.ts = ts(2 * S);
    let mut ours = old.clone();
    ours.boot_offset_ns = Some(5_000 * S as i64);
    ours.start = Some("boot1".into());
    let mut b1 = birth(NsType::Net, 31, 1, 3 * S, 6, "new");
    b1.ts = ts(3 * S);
    std::fs::write(dir.join("ns.jsonl.1"), line(&old) + &line(&b0)).unwrap();
    std::fs::write(&log, line(&ours) + &line(&b1)).unwrap();
    std::fs::write(dir.join("ns.jsonl.bak"), "not a log").unwrap();
    let files = log_files(&log);
    assert_eq!(files.len(), 2, "{files:?}");
    let mut i = Index::new(Bounds::default());
    let got = rebuild(&mut i, &files, 5_000 * S as i64 + 1, 100 * S);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((got.records, got.other_boot), (2, 2), "{got:?}");
    assert!(i.live(NsType::Net, 30).is_none(), "another boot's");
    assert_eq!(i.live(NsType::Net, 31).unwrap().pid, 6);
}

/// What the engine writes on a tracepoint kernel (6.18 here) when net A's
/// cleanup run releases its number, B is born on it before the run ends,
/// and A's death comes at the run's end (`a_number_reused_during_a_cleanup_run_
/// charges_each_death_to_its_own_lifetime` in the engine's tests): A's
/// death carries A's gen and belongs to A's history, not to B, which
/// lives on. A death the engine charged to none (`end: unidentified`)
/// closes nothing either.
#[test]
fn a_late_death_of_an_earlier_generation_leaves_the_live_one_alone() {
    let mut i = Index::new(Bounds::default());
    let (x, y) = (4026532200, 4026532201);
    let mut start = Record::new(RecordKind::CleanupStart, 2 * S, String::new());
    start.ns_type = Some(NsType::Net);
    // C, put before the run, outlives it.
    start.inums = Some(vec![y]);
    start.batch = Some(1);
    let mut death_a = rec(RecordKind::Death, NsType::Net, x, 1, 3 * S);
    death_a.exact = Some(false);
    let mut end = Record::new(RecordKind::CleanupEnd, 3 * S + 1, String::new());
    end.ns_type = Some(NsType::Net);
    end.inums = Some(vec![x]);
    end.batch = Some(1);
    let mut unidentified = rec(RecordKind::Death, NsType::Net, x, 0, 4 * S);
    unidentified.gen = None;
    unidentified.end = Some(DeathEnd::Unidentified);
    feed(
        &mut i,
        &[
            header(0, "run1"),
            birth(NsType::Net, x, 1, S, 1, "a"),
            birth(NsType::Net, y, 1, S, 3, "c"),
            start,
            birth(NsType::Net, x, 2, 2 * S + 10, 2, "b"),
            death_a,
            end,
            unidentified,
        ],
    );
    let b = i.live(NsType::Net, x).expect("B lives on");
    assert_eq!((b.gen, b.pid), (2, 2));
    assert!(
        i.more(NsType::Net, x)
            .is_none_or(|m| m.cleanup_end_ns.is_none()),
        "A's run is not B's"
    );
    let earlier: Vec<_> = i
        .earlier(NsType::Net, x)
        .iter()
        .map(|c| (c.gen, c.end, c.ended_ns, c.exact))
        .collect();
    assert_eq!(earlier, [(1, End::Death, 3 * S, Some(false))]);
    assert!(i.live(NsType::Net, y).is_some());
    let c = i.more(NsType::Net, y).unwrap();
    assert_eq!(
        (c.cleanup_batch, c.cleanup_end_ns),
        (Some(1), Some(3 * S + 1)),
        "the run that took C ended without its death"
    );
}

#[test]
fn a_long_walk_keeps_the_start_scan_open_while_it_still_finds_namespaces() {
    let mut i = after_run1_with_nets(&[10, 11, 12]);
    let ms = S / 1000;
    feed(
        &mut i,
        &[
            header(10 * S, "run2"),
            rec(RecordKind::Present, NsType::Uts, 1, 1, 10 * S),
            rec(RecordKind::Present, NsType::Net, 10, 1, 11 * S + 500 * ms),
            birth(NsType::Uts, 2, 1, 12 * S, 1, "x"),
            // Three seconds after the first present, 1.5 after the last.
            rec(RecordKind::Present, NsType::Net, 12, 1, 13 * S),
        ],
    );
    i.settle(14 * S);
    for n in [10, 12] {
        assert!(i.live(NsType::Net, n).unwrap().carried, "net {n}");
    }
    assert!(
        i.live(NsType::Net, 11).is_some(),
        "still in the scan's reach"
    );
    feed(&mut i, &[birth(NsType::Uts, 3, 1, 15 * S + 1, 1, "x")]);
    let e = &i.earlier(NsType::Net, 11)[0];
    assert_eq!(
        (e.end, e.ended_ns),
        (End::Gap, 10 * S),
        "closed at the scan"
    );
}

#[test]
fn a_restart_right_after_a_start_scan_ends_that_scan_first() {
    let mut i = after_run1_with_nets(&[10, 11]);
    feed(
        &mut i,
        &[
            header(10 * S, "run2"),
            rec(RecordKind::Present, NsType::Net, 10, 1, 10 * S),
            // Restarted one second later: run 2's scan did not find 11.
            header(11 * S, "run3"),
        ],
    );
    let e = &i.earlier(NsType::Net, 11)[0];
    assert_eq!((e.end, e.ended_ns, e.run), (End::Gap, 10 * S, 0));
    assert!(i.live(NsType::Net, 10).unwrap().carried);
}
