//! Scenario tests: synthetic event sequences in, JSON records out.

use std::collections::HashMap;

use proptest::prelude::*;
use tracer_common::{Event, EventKind, NsType, Via, DEATH_ANON_MNT, DEATH_LATE};

use super::*;
use crate::decode::Clock;
use crate::schema::{DeathEnd, Holder, HolderKind, Record, RecordKind};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
/// Far enough from zero that the reorder window never saturates.
const T0: u64 = 100 * S;

fn engine() -> Engine {
    Engine::new(EngineConfig::default(), Clock { boot_offset_ns: 0 })
}

fn ev(kind: EventKind, ty: NsType, inum: u32, ts: u64) -> Event {
    let mut e = Event::zeroed();
    e.kind = kind as u32;
    e.ns_type = ty as u32;
    e.inum = inum;
    e.ts_ns = ts;
    e.ptr = 0xffff_8880_0000_0000 | u64::from(inum) << 8;
    e
}

fn birth(ty: NsType, inum: u32, ts: u64) -> Event {
    let mut e = ev(EventKind::Birth, ty, inum, ts);
    e.pid = 42;
    e.tid = 42;
    e.comm[..7].copy_from_slice(b"unshare");
    e.via = Via::Unshare as u32;
    e.flags = ty.clone_flag();
    e
}

fn death(ty: NsType, inum: u32, ts: u64) -> Event {
    ev(EventKind::Death, ty, inum, ts)
}

fn net_put(inum: u32, ts: u64) -> Event {
    let mut e = ev(EventKind::Put, NsType::Net, inum, ts);
    e.aux = 0xC00C_1E00 + u64::from(inum);
    e
}

fn run_event(kind: EventKind, run: u64, ts: u64) -> Event {
    let mut e = ev(kind, NsType::Net, 0, ts);
    e.ptr = 0;
    e.aux = run;
    e
}

/// A holder source that answers from a closure and notes every question.
struct Answers<F: FnMut(NsType, u32, u64) -> HolderAnswer> {
    answer: F,
    asked: Vec<(NsType, u32, u64)>,
}

impl<F: FnMut(NsType, u32, u64) -> HolderAnswer> HolderSource for Answers<F> {
    fn holders(&mut self, t: NsType, inum: u32, not_before: u64) -> HolderAnswer {
        self.asked.push((t, inum, not_before));
        (self.answer)(t, inum, not_before)
    }
}

fn answers<F: FnMut(NsType, u32, u64) -> HolderAnswer>(answer: F) -> Answers<F> {
    Answers {
        answer,
        asked: Vec::new(),
    }
}

/// Pushes everything, then releases everything up to `now`.
fn feed(e: &mut Engine, events: &[Event], now: u64) -> Vec<Record> {
    for ev in events {
        e.push(ev);
    }
    e.poll(now, &mut NoScan)
}

fn of_kind(records: &[Record], kind: RecordKind) -> Vec<&Record> {
    records.iter().filter(|r| r.event == kind).collect()
}

fn only(records: &[Record], kind: RecordKind) -> &Record {
    let found = of_kind(records, kind);
    assert_eq!(found.len(), 1, "expected one {kind:?} in {records:#?}");
    found[0]
}

/// Births, joins, a net teardown and deaths across two CPUs, 1 ms apart.
fn busy_sequence() -> Vec<Event> {
    let mut v = Vec::new();
    let mut t = T0;
    let mut next = |mut e: Event, cpu: u32| {
        t += MS;
        e.ts_ns = t;
        e.cpu = cpu;
        v.push(e);
    };
    for i in 0..4u32 {
        next(birth(NsType::Net, 0xF000_0100 + i, 0), i % 2);
        next(birth(NsType::Uts, 0xF000_0200 + i, 0), (i + 1) % 2);
    }
    next(ev(EventKind::Join, NsType::Net, 0xF000_0100, 0), 0);
    next(ev(EventKind::Evict, NsType::Net, 0xF000_0101, 0), 1);
    next(net_put(0xF000_0100, 0), 0);
    next(net_put(0xF000_0101, 0), 1);
    next(run_event(EventKind::CleanupStart, 1, 0), 0);
    next(death(NsType::Net, 0xF000_0100, 0), 0);
    next(death(NsType::Uts, 0xF000_0200, 0), 1);
    next(death(NsType::Net, 0xF000_0101, 0), 0);
    next(run_event(EventKind::CleanupEnd, 1, 0), 0);
    // The freed numbers are reused at once.
    next(birth(NsType::Uts, 0xF000_0200, 0), 1);
    next(birth(NsType::Net, 0xF000_0100, 0), 0);
    next(death(NsType::Uts, 0xF000_0203, 0), 1);
    v
}

proptest! {
    #[test]
    fn delivery_out_of_order_within_the_window_gives_the_same_records(
        delays in proptest::collection::vec(0..90 * MS, busy_sequence().len()),
    ) {
        let events = busy_sequence();
        let end = events.last().unwrap().ts_ns + S;

        let mut in_order = engine();
        let expected = feed(&mut in_order, &events, end);

        // Each record reaches the reader up to 90 ms late, and the reader
        // polls every time one arrives.
        let mut arrivals: Vec<(u64, Event)> = events
            .iter()
            .zip(&delays)
            .map(|(e, d)| (e.ts_ns + d, *e))
            .collect();
        arrivals.sort_by_key(|(at, _)| *at);
        let mut shuffled = engine();
        let mut got = Vec::new();
        for (at, e) in &arrivals {
            shuffled.push(e);
            got.extend(shuffled.poll(*at, &mut NoScan));
        }
        got.extend(shuffled.poll(end, &mut NoScan));

        prop_assert_eq!(got, expected);
        prop_assert_eq!(shuffled.late_events(), 0);
    }
}

#[test]
fn out_of_order_sequence_has_every_kind() {
    let mut e = engine();
    let out = feed(&mut e, &busy_sequence(), T0 + 10 * S);
    for kind in [
        RecordKind::Birth,
        RecordKind::Join,
        RecordKind::Evict,
        RecordKind::Put,
        RecordKind::CleanupStart,
        RecordKind::CleanupEnd,
        RecordKind::Death,
    ] {
        assert!(!of_kind(&out, kind).is_empty(), "no {kind:?}");
    }
    let mono: Vec<u64> = out.iter().map(|r| r.mono_ns).collect();
    assert!(mono.windows(2).all(|w| w[0] <= w[1]), "not in time order");
}

#[test]
fn nothing_is_released_inside_the_reorder_window() {
    let mut e = engine();
    e.push(&birth(NsType::Uts, 0xF000_0001, T0));
    // A storm's drains step the pipeline early only when this says so.
    assert!(!e.has_due(T0 + 50 * MS));
    assert!(e.poll(T0 + 50 * MS, &mut NoScan).is_empty());
    assert_eq!(e.buffered(), 1);
    assert!(e.has_due(T0 + 100 * MS));
    assert_eq!(e.poll(T0 + 100 * MS, &mut NoScan).len(), 1);
    assert!(!e.has_due(T0 + 200 * MS), "nothing is left");
}

#[test]
fn inode_reuse_gives_gen_1_then_gen_2() {
    let mut e = engine();
    let n = 0xF000_0042;
    let out = feed(
        &mut e,
        &[
            birth(NsType::Uts, n, T0),
            ev(EventKind::Join, NsType::Uts, n, T0 + MS),
            death(NsType::Uts, n, T0 + 2 * MS),
            birth(NsType::Uts, n, T0 + 3 * MS),
            ev(EventKind::Join, NsType::Uts, n, T0 + 4 * MS),
            death(NsType::Uts, n, T0 + 10 * MS),
            // Another type on the same number has its own count.
            birth(NsType::Net, n, T0 + 11 * MS),
        ],
        T0 + S,
    );
    let gens: Vec<(RecordKind, Option<u32>)> = out.iter().map(|r| (r.event, r.gen)).collect();
    assert_eq!(
        gens,
        [
            (RecordKind::Birth, Some(1)),
            (RecordKind::Join, Some(1)),
            (RecordKind::Death, Some(1)),
            (RecordKind::Birth, Some(2)),
            (RecordKind::Join, Some(2)),
            (RecordKind::Death, Some(2)),
            (RecordKind::Birth, Some(1)),
        ]
    );
    let deaths = of_kind(&out, RecordKind::Death);
    assert_eq!(deaths[0].lifetime_ns, Some(2 * MS));
    assert_eq!(deaths[1].lifetime_ns, Some(7 * MS));
    assert!(deaths.iter().all(|d| d.exact == Some(true)));
    assert_eq!(e.completed(), 2);
    assert_eq!(e.live_count(), 1);
}

#[test]
fn net_put_cleanup_death_end_gives_batch_inums_delays_duration() {
    let mut e = engine();
    let n = 0xF000_0100;
    let out = feed(
        &mut e,
        &[
            birth(NsType::Net, n, T0),
            net_put(n, T0 + S),
            run_event(EventKind::CleanupStart, 9, T0 + S + 3 * MS),
            death(NsType::Net, n, T0 + S + 5 * MS),
            run_event(EventKind::CleanupEnd, 9, T0 + S + 40 * MS),
        ],
        T0 + 2 * S,
    );
    let put = only(&out, RecordKind::Put);
    assert_eq!(
        (put.gen, put.cookie),
        (Some(1), Some(0xC00C_1E00 + u64::from(n)))
    );
    let start = only(&out, RecordKind::CleanupStart);
    assert_eq!(start.batch, Some(9));
    assert_eq!(start.inums, Some(vec![n]));
    assert_eq!(start.delays_ns, Some(vec![3 * MS]));
    assert_eq!(start.inum, None, "a run is about no single inode");
    let d = only(&out, RecordKind::Death);
    assert_eq!(
        (d.gen, d.lifetime_ns, d.exact),
        (Some(1), Some(S + 5 * MS), Some(true))
    );
    let end = only(&out, RecordKind::CleanupEnd);
    assert_eq!(end.batch, Some(9));
    assert_eq!(end.inums, Some(vec![n]));
    assert_eq!(end.duration_ns, Some(37 * MS));
    assert_eq!(e.cleanup_backlog(), (0, 0));
}

#[test]
fn one_cleanup_run_takes_every_net_put_before_it() {
    let mut e = engine();
    let nets = [0xF000_0101, 0xF000_0102, 0xF000_0103];
    let mut events: Vec<Event> = nets
        .iter()
        .enumerate()
        .map(|(i, &n)| birth(NsType::Net, n, T0 + i as u64 * MS))
        .collect();
    events.push(net_put(nets[0], T0 + 10 * MS));
    events.push(net_put(nets[1], T0 + 20 * MS));
    events.push(run_event(EventKind::CleanupStart, 4, T0 + 30 * MS));
    // Put after the start: waits for the next run.
    events.push(net_put(nets[2], T0 + 31 * MS));
    events.push(death(NsType::Net, nets[1], T0 + 32 * MS));
    events.push(death(NsType::Net, nets[0], T0 + 33 * MS));
    events.push(run_event(EventKind::CleanupEnd, 4, T0 + 50 * MS));
    events.push(run_event(EventKind::CleanupStart, 5, T0 + 51 * MS));
    events.push(death(NsType::Net, nets[2], T0 + 52 * MS));
    events.push(run_event(EventKind::CleanupEnd, 5, T0 + 53 * MS));
    let out = feed(&mut e, &events, T0 + S);

    let starts = of_kind(&out, RecordKind::CleanupStart);
    assert_eq!(starts[0].inums, Some(vec![nets[0], nets[1]]));
    assert_eq!(starts[0].delays_ns, Some(vec![20 * MS, 10 * MS]));
    assert_eq!(starts[1].inums, Some(vec![nets[2]]));
    assert_eq!(starts[1].delays_ns, Some(vec![20 * MS]));
    let ends = of_kind(&out, RecordKind::CleanupEnd);
    assert_eq!(ends[0].inums, Some(vec![nets[1], nets[0]]));
    assert_eq!(ends[0].duration_ns, Some(20 * MS));
    assert_eq!(ends[1].inums, Some(vec![nets[2]]));
    assert_eq!(e.live_count(), 0);
}

#[test]
fn an_address_that_names_another_number_is_not_that_lifetime() {
    let mut e = engine();
    let n = 0xF000_0110;
    let b = birth(NsType::Uts, n, T0);
    // The struct's number never changes: an event at the same address with
    // another number is about a namespace that reused the memory.
    let mut d = death(NsType::Uts, 0xF000_0999, T0 + 5 * MS);
    d.ptr = b.ptr;
    let out = feed(&mut e, &[b, d], T0 + S);
    let death = only(&out, RecordKind::Death);
    assert_eq!((death.inum, death.gen), (Some(0xF000_0999), Some(1)));
    assert_eq!(death.lifetime_ns, None, "not the one born at T0");
    assert_eq!(e.lifetime(NsType::Uts, n).unwrap().gen(), 1);
}

#[test]
fn slow_cleanup_gives_one_cleanup_slow_while_it_runs() {
    let mut e = engine();
    let n = 0xF000_0120;
    feed(
        &mut e,
        &[
            birth(NsType::Net, n, T0),
            net_put(n, T0 + MS),
            run_event(EventKind::CleanupStart, 3, T0 + 2 * MS),
        ],
        T0 + S,
    );
    let mut slow = Vec::new();
    for now in [
        T0 + 5 * S,
        T0 + 10 * S,
        T0 + 11 * S,
        T0 + 20 * S,
        T0 + 60 * S,
    ] {
        let out = e.poll(now, &mut NoScan);
        slow.extend(
            out.into_iter()
                .filter(|r| r.event == RecordKind::CleanupSlow),
        );
    }
    assert_eq!(slow.len(), 1, "{slow:#?}");
    assert_eq!(slow[0].batch, Some(3));
    assert_eq!(slow[0].inums, Some(vec![n]));
    assert_eq!(slow[0].running_ns, Some(10 * S));
    assert_eq!(slow[0].mono_ns, T0 + 2 * MS + 10 * S);

    // The run ends a minute in: no more slow records, the end has it all.
    e.push(&death(NsType::Net, n, T0 + 61 * S));
    e.push(&run_event(EventKind::CleanupEnd, 3, T0 + 61 * S + MS));
    let out = e.poll(T0 + 70 * S, &mut NoScan);
    assert!(of_kind(&out, RecordKind::CleanupSlow).is_empty());
    assert_eq!(
        only(&out, RecordKind::CleanupEnd).duration_ns,
        Some(61 * S - MS)
    );
}

#[test]
fn a_run_that_ends_in_time_is_not_slow() {
    let mut e = engine();
    let out = feed(
        &mut e,
        &[
            run_event(EventKind::CleanupStart, 1, T0),
            run_event(EventKind::CleanupEnd, 1, T0 + 9 * S),
        ],
        T0 + 60 * S,
    );
    assert!(of_kind(&out, RecordKind::CleanupSlow).is_empty());
    assert_eq!(only(&out, RecordKind::CleanupEnd).duration_ns, Some(9 * S));
}

fn counts(items: &[(NsType, u32, u32)]) -> HashMap<(NsType, u32), u32> {
    items.iter().map(|&(t, i, n)| ((t, i), n)).collect()
}

#[test]
fn outliving_the_last_task_gives_exactly_one_linger_with_the_callers_holders() {
    let mut e = engine();
    let n = 0xF000_0130;
    feed(&mut e, &[birth(NsType::Net, n, T0)], T0 + S);
    e.observe_tasks(T0 + S, &counts(&[(NsType::Net, n, 3)]));
    e.observe_tasks(T0 + 2 * S, &counts(&[(NsType::Net, n, 1)]));
    // The last task is gone by this scan: the linger clock starts here.
    e.observe_tasks(T0 + 3 * S, &counts(&[]));

    let mut holders = answers(|_, _, _| {
        HolderAnswer::Found(vec![Holder {
            kind: HolderKind::BindMount,
            path: Some("/run/netns/blue".into()),
            ..Holder::default()
        }])
    });
    let mut lingers = Vec::new();
    for now in (4..30).map(|s| T0 + s * S) {
        e.observe_tasks(now, &counts(&[]));
        let out = e.poll(now, &mut holders);
        lingers.extend(out.into_iter().filter(|r| r.event == RecordKind::Linger));
    }
    assert_eq!(lingers.len(), 1, "{lingers:#?}");
    let l = &lingers[0];
    assert_eq!((l.inum, l.gen), (Some(n), Some(1)));
    // The deadline (T0 + 8 s) passes the horizon at the poll of T0 + 9 s,
    // which asks; the answer stands once the events up to it are applied,
    // at the next poll, and is dated when it came.
    assert_eq!(l.mono_ns, T0 + 9 * S);
    assert_eq!(l.since_last_task_ns, Some(6 * S));
    assert_eq!(l.holders.as_ref().unwrap()[0].kind, HolderKind::BindMount);
    // Asked once, for a scan taken no earlier than the deadline.
    assert_eq!(holders.asked, [(NsType::Net, n, T0 + 8 * S)]);
    let life = e.lifetime(NsType::Net, n).unwrap();
    assert!(life.lingered() && life.ever_had_tasks());
    assert_eq!(life.last_task_left_ns(), Some(T0 + 3 * S));
}

#[test]
fn a_death_before_the_grace_ends_means_no_linger() {
    let mut e = engine();
    let n = 0xF000_0131;
    feed(&mut e, &[birth(NsType::Uts, n, T0)], T0 + S);
    e.observe_tasks(T0 + S, &counts(&[(NsType::Uts, n, 1)]));
    e.observe_tasks(T0 + 2 * S, &counts(&[]));
    // Dies 4 s after its last task; the scan reports it empty meanwhile.
    e.push(&death(NsType::Uts, n, T0 + 6 * S));
    e.observe_tasks(T0 + 6 * S + 50 * MS, &counts(&[]));
    let out = e.poll(T0 + 30 * S, &mut NoScan);
    assert!(of_kind(&out, RecordKind::Linger).is_empty(), "{out:#?}");
    only(&out, RecordKind::Death);
}

#[test]
fn without_scans_the_linger_names_what_the_tracer_saw() {
    let mut e = engine();
    let (parent, child) = (0xF000_0140, 0xF000_0141);
    let mut c = birth(NsType::User, child, T0 + MS);
    c.owner_inum = parent;
    c.parent_inum = parent;
    let p = birth(NsType::Net, 0xF000_0142, T0 + 2 * MS);
    feed(&mut e, &[birth(NsType::User, parent, T0), c, p], T0 + S);
    // Only the child has a task; the parent and the net are empty.
    e.observe_tasks(T0 + S, &counts(&[(NsType::User, child, 1)]));
    let out = e.poll(T0 + 10 * S, &mut NoScan);
    let lingers = of_kind(&out, RecordKind::Linger);
    assert_eq!(lingers.len(), 2, "{out:#?}");
    let by_inum = |i: u32| lingers.iter().find(|l| l.inum == Some(i)).unwrap();

    let user = by_inum(parent);
    let hs = user.holders.as_ref().unwrap();
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].kind, HolderKind::ChildNs);
    assert!(hs[0]
        .detail
        .as_ref()
        .unwrap()
        .contains(&format!("user:[{child}]")));
    // Never seen with a task: counted from its birth.
    assert_eq!(user.since_last_task_ns, Some(user.mono_ns - T0));

    let net = by_inum(0xF000_0142);
    let hs = net.holders.as_ref().unwrap();
    assert_eq!(hs[0].kind, HolderKind::Unknown);
    let detail = hs[0].detail.as_ref().unwrap();
    assert!(detail.contains("no nsfs inode eviction seen"), "{detail}");
    assert!(detail.contains("socket"), "{detail}");
}

#[test]
fn without_scans_types_whose_deaths_are_invisible_do_not_linger() {
    let mut e = Engine::new(
        EngineConfig {
            deaths_visible: NsType::Net.bit() | NsType::User.bit(),
            ..EngineConfig::default()
        },
        Clock { boot_offset_ns: 0 },
    );
    feed(
        &mut e,
        &[
            birth(NsType::Uts, 0xF000_0150, T0),
            birth(NsType::Net, 0xF000_0151, T0),
        ],
        T0 + S,
    );
    e.observe_tasks(T0 + S, &counts(&[]));
    let out = e.poll(T0 + 10 * S, &mut NoScan);
    let lingers = of_kind(&out, RecordKind::Linger);
    assert_eq!(lingers.len(), 1);
    assert_eq!(lingers[0].ns_type, Some(NsType::Net));
}

#[test]
fn lost_records_make_lifetimes_open_across_the_loss_inexact() {
    let mut e = engine();
    let (before, across, after) = (0xF000_0160, 0xF000_0161, 0xF000_0162);
    let mut out = feed(
        &mut e,
        &[
            birth(NsType::Ipc, before, T0),
            death(NsType::Ipc, before, T0 + MS),
            birth(NsType::Ipc, across, T0 + 2 * MS),
        ],
        T0 + S,
    );
    let lost = e.on_lost(T0 + 2 * S, 7);
    assert_eq!(
        (lost.event, lost.count, lost.total),
        (RecordKind::Lost, Some(7), Some(7))
    );
    out.extend(e.poll(T0 + 2 * S, &mut NoScan));
    assert_eq!(e.on_lost(T0 + 3 * S, 2).total, Some(9));
    out.extend(feed(
        &mut e,
        &[
            birth(NsType::Ipc, after, T0 + 4 * S),
            death(NsType::Ipc, across, T0 + 5 * S),
            death(NsType::Ipc, after, T0 + 5 * S + MS),
            // Never seen: may have been born in the lost records.
            death(NsType::Ipc, 0xF000_0163, T0 + 5 * S + 2 * MS),
        ],
        T0 + 6 * S,
    ));
    let exact = |i: u32| {
        out.iter()
            .find(|r| r.event == RecordKind::Death && r.inum == Some(i))
            .unwrap()
            .exact
    };
    assert_eq!(exact(before), Some(true), "closed before the loss");
    assert_eq!(exact(across), Some(false), "open across the loss");
    assert_eq!(exact(after), Some(true), "opened after the loss");
    assert_eq!(exact(0xF000_0163), Some(false), "open since before tracing");
    assert_eq!(e.lost_total(), 9);
}

#[test]
fn a_late_death_is_not_exact() {
    let mut e = engine();
    let mut d = death(NsType::User, 0xF000_0170, T0 + MS);
    d.flags = DEATH_LATE;
    let out = feed(&mut e, &[birth(NsType::User, 0xF000_0170, T0), d], T0 + S);
    let d = only(&out, RecordKind::Death);
    assert_eq!((d.exact, d.lifetime_ns), (Some(false), Some(MS)));
}

#[test]
fn present_then_death_gives_gen_1_exact_without_lifetime() {
    let mut e = engine();
    let n = 0xF000_0180;
    e.seed_present([
        (
            T0,
            Present {
                ns_type: NsType::Net,
                inum: n,
                tasks: 0,
                ns_id: Some(77),
            },
        ),
        (
            T0,
            Present {
                ns_type: NsType::Mnt,
                inum: n + 1,
                tasks: 12,
                ns_id: None,
            },
        ),
    ]);
    let out = feed(&mut e, &[death(NsType::Net, n, T0 + S)], T0 + 2 * S);
    let present = of_kind(&out, RecordKind::Present);
    assert_eq!(present.len(), 2);
    assert_eq!(
        (present[0].gen, present[0].tasks, present[0].ns_id),
        (Some(1), Some(0), Some(77))
    );
    assert_eq!(present[1].tasks, Some(12));
    let d = only(&out, RecordKind::Death);
    assert_eq!(
        (d.gen, d.lifetime_ns, d.exact, d.ns_id),
        (Some(1), None, Some(true), Some(77))
    );
    assert_eq!(e.counts(NsType::Net).present, 1);
    assert_eq!(
        e.lifetime(NsType::Mnt, n + 1).unwrap().origin(),
        Origin::Present
    );
}

#[test]
fn a_birth_traced_before_the_scan_keeps_gen_1() {
    let mut e = engine();
    let n = 0xF000_0190;
    e.push(&birth(NsType::Pid, n, T0));
    e.seed_present([(
        T0 + 30 * MS,
        Present {
            ns_type: NsType::Pid,
            inum: n,
            tasks: 1,
            ns_id: None,
        },
    )]);
    let out = e.poll(T0 + S, &mut NoScan);
    let gens: Vec<_> = out.iter().map(|r| (r.event, r.gen)).collect();
    assert_eq!(
        gens,
        [(RecordKind::Birth, Some(1)), (RecordKind::Present, Some(1))]
    );
    assert_eq!(e.lifetime(NsType::Pid, n).unwrap().origin(), Origin::Born);
}

#[test]
fn a_user_namespace_chain_dies_together() {
    let mut e = engine();
    let (a, b, c) = (0xF000_01A0, 0xF000_01A1, 0xF000_01A2);
    let mut bb = birth(NsType::User, b, T0 + MS);
    bb.parent_inum = a;
    bb.owner_inum = a;
    let mut cb = birth(NsType::User, c, T0 + 2 * MS);
    cb.parent_inum = b;
    cb.owner_inum = b;
    // free_user_ns walks the chain from the child up, in one work item.
    let mut deaths: Vec<Event> = [c, b, a]
        .iter()
        .enumerate()
        .map(|(i, &n)| death(NsType::User, n, T0 + S + i as u64 * 1000))
        .collect();
    for d in &mut deaths {
        d.comm[..8].copy_from_slice(b"kworker/");
    }
    let mut events = vec![birth(NsType::User, a, T0), bb, cb];
    events.extend(deaths);
    let out = feed(&mut e, &events, T0 + 2 * S);
    let d = of_kind(&out, RecordKind::Death);
    let closed: Vec<_> = d
        .iter()
        .map(|r| (r.inum.unwrap(), r.gen, r.lifetime_ns))
        .collect();
    assert_eq!(
        closed,
        [
            (c, Some(1), Some(S - 2 * MS)),
            (b, Some(1), Some(S + 1000 - MS)),
            (a, Some(1), Some(S + 2000)),
        ]
    );
    assert_eq!(e.live_count(), 0);
    assert_eq!(e.completed(), 3);
    assert_eq!(e.counts(NsType::User).died, 3);
}

#[test]
fn a_death_for_a_namespace_never_seen_opens_and_closes_gen_1() {
    let mut e = engine();
    let n = 0xF000_01B0;
    let out = feed(
        &mut e,
        &[
            death(NsType::Cgroup, n, T0),
            birth(NsType::Cgroup, n, T0 + MS),
        ],
        T0 + S,
    );
    let d = only(&out, RecordKind::Death);
    assert_eq!((d.gen, d.lifetime_ns, d.exact), (Some(1), None, Some(true)));
    assert_eq!(only(&out, RecordKind::Birth).gen, Some(2));
    let c = e.counts(NsType::Cgroup);
    assert_eq!((c.unseen, c.died, c.born, c.live), (1, 1, 1, 1));
}

#[test]
fn a_birth_on_a_live_number_closes_the_old_lifetime_as_a_missed_death() {
    let mut e = engine();
    let n = 0xF000_01C0;
    let out = feed(
        &mut e,
        &[birth(NsType::Time, n, T0), birth(NsType::Time, n, T0 + MS)],
        T0 + S,
    );
    let gens: Vec<_> = of_kind(&out, RecordKind::Birth)
        .iter()
        .map(|r| r.gen)
        .collect();
    assert_eq!(gens, [Some(1), Some(2)]);
    assert_eq!(e.counts(NsType::Time).missed_deaths, 1);
    assert_eq!(e.live_count(), 1);
}

#[test]
fn anonymous_mount_namespaces_share_an_inum_but_not_a_lifetime() {
    let mut e = engine();
    let mut a = birth(NsType::Mnt, 0, T0);
    a.via = Via::Kernel as u32;
    a.ptr = 0xa000;
    let mut b = a;
    b.ts_ns = T0 + MS;
    b.ptr = 0xb000;
    let mut db = death(NsType::Mnt, 0, T0 + 2 * MS);
    db.ptr = 0xb000;
    db.flags = DEATH_ANON_MNT;
    let mut da = db;
    da.ptr = 0xa000;
    da.ts_ns = T0 + 3 * MS;
    let out = feed(&mut e, &[a, b, db, da], T0 + S);
    let d = of_kind(&out, RecordKind::Death);
    assert_eq!((d[0].gen, d[0].lifetime_ns), (Some(2), Some(MS)));
    assert_eq!((d[1].gen, d[1].lifetime_ns), (Some(1), Some(3 * MS)));
    assert_eq!(e.live_count(), 0);
}

#[test]
fn the_lifetime_keeps_who_made_it_and_who_joined() {
    let mut e = engine();
    let n = 0xF000_01D0;
    let mut joins: Vec<Event> = (0..5u32)
        .map(|i| {
            let mut j = ev(EventKind::Join, NsType::Net, n, T0 + u64::from(i + 1) * MS);
            j.pid = 100 + i;
            j.via = Via::Setns as u32;
            j.comm[..4].copy_from_slice(b"nsen");
            j
        })
        .collect();
    joins.insert(0, birth(NsType::Net, n, T0));
    feed(&mut e, &joins, T0 + S);
    let life = e.lifetime(NsType::Net, n).unwrap();
    let b = life.birth().unwrap();
    assert_eq!(
        (b.pid, b.via, e.comm(b.comm)),
        (42, Via::Unshare, "unshare".to_string())
    );
    assert_eq!(life.joins(), 5);
    assert_eq!(life.first_join().unwrap().pid, 100);
    let last = life.last_join().unwrap();
    assert_eq!(
        (last.pid, last.via, e.comm(last.comm)),
        (104, Via::Setns, "nsen".to_string())
    );
}

#[test]
fn finish_releases_what_the_window_still_holds() {
    let mut e = engine();
    e.push(&birth(NsType::Uts, 0xF000_01E0, T0));
    assert!(e.poll(T0, &mut NoScan).is_empty());
    assert_eq!(e.finish(T0, &mut NoScan).len(), 1);
    assert_eq!(e.buffered(), 0);
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Run alone: `cargo test -p tracer --lib lifecycle::tests::rss -- --ignored
/// --nocapture --test-threads=1`. Other tests in the same process would
/// blur the measurement.
#[test]
#[ignore = "measures this process's RSS; run alone with --test-threads=1"]
fn rss_with_100k_live_namespaces() {
    let before = vm_rss_kib();
    let mut e = engine();
    // Fed in slices as the ring buffer would, so the reorder buffer stays
    // small and the measurement is of the lifetimes.
    let events = synthetic_births(100_000);
    let last = events.last().unwrap().ts_ns;
    for chunk in events.chunks(1000) {
        for ev in chunk {
            e.push(ev);
        }
        let now = chunk.last().unwrap().ts_ns + 100 * MS;
        let out = e.poll(now, &mut NoScan);
        assert_eq!(out.len(), chunk.len());
    }
    drop(events);
    e.poll(last + S, &mut NoScan);
    let counts: HashMap<(NsType, u32), u32> =
        e.live().map(|l| ((l.ns_type(), l.inum()), 1)).collect();
    e.observe_tasks(last + 2 * S, &counts);
    drop(counts);
    assert_eq!(e.live_count(), 100_000);
    let after = vm_rss_kib();
    let per = (after - before) * 1024 / 100_000;
    println!(
        "RSS before {before} KiB, after {after} KiB: {} KiB for 100,000 live, {per} B each; \
         size_of::<Lifetime>() = {}",
        after - before,
        std::mem::size_of::<Lifetime>()
    );
    assert!(after - before < 30 * 1024, "{} KiB", after - before);
}

#[test]
fn a_cleanup_end_whose_start_was_lost_has_no_duration() {
    let mut e = engine();
    let n = 0xF000_01F0;
    let mut start = run_event(EventKind::CleanupStart, 1, T0 + MS);
    start.ns_type = u32::MAX;
    let out = feed(
        &mut e,
        &[
            birth(NsType::Net, n, T0),
            start,
            death(NsType::Net, n, T0 + 2 * MS),
            run_event(EventKind::CleanupEnd, 1, T0 + 3 * MS),
            run_event(EventKind::CleanupEnd, 2, T0 + 4 * MS),
        ],
        T0 + S,
    );
    let ends = of_kind(&out, RecordKind::CleanupEnd);
    assert_eq!(
        (ends[0].inums.clone(), ends[0].duration_ns),
        (Some(vec![n]), Some(2 * MS))
    );
    assert_eq!(
        (ends[1].inums.clone(), ends[1].duration_ns),
        (Some(vec![]), None)
    );
    let start = only(&out, RecordKind::CleanupStart);
    assert_eq!(start.ns_type, Some(NsType::Net));
}

#[test]
fn a_scan_older_than_a_birth_does_not_count_it_empty() {
    let mut e = engine();
    let n = 0xF000_0200;
    feed(&mut e, &[birth(NsType::Net, n, T0 + 2 * S)], T0 + 3 * S);
    e.observe_tasks(T0 + S, &counts(&[]));
    assert_eq!(
        e.lifetime(NsType::Net, n).unwrap().last_task_left_ns(),
        None
    );
    assert!(of_kind(&e.poll(T0 + 20 * S, &mut NoScan), RecordKind::Linger).is_empty());
}

#[test]
fn a_net_stuck_in_cleanup_lingers_once_and_its_run_is_slow_once() {
    let mut e = engine();
    let n = 0xF000_0210;
    feed(
        &mut e,
        &[
            birth(NsType::Net, n, T0),
            net_put(n, T0 + S),
            run_event(EventKind::CleanupStart, 3, T0 + S + MS),
        ],
        T0 + 2 * S,
    );
    e.observe_tasks(T0 + 2 * S, &counts(&[]));
    let out = e.poll(T0 + 60 * S, &mut NoScan);
    let kinds: Vec<_> = out.iter().map(|r| r.event).collect();
    assert_eq!(kinds, [RecordKind::Linger, RecordKind::CleanupSlow]);
    let detail = out[0].holders.as_ref().unwrap()[0].detail.clone().unwrap();
    assert!(detail.contains("last reference dropped"), "{detail}");
    assert!(detail.contains("cleanup run 3"), "{detail}");
    let life = e.lifetime(NsType::Net, n).unwrap();
    assert_eq!(life.cleanup(), Some((3, T0 + S + MS)));
    assert_eq!(life.cookie(), Some(0xC00C_1E00 + u64::from(n)));
}

#[test]
fn a_death_without_a_type_is_charged_to_nobody() {
    let mut e = engine();
    let n = 0xF000_0077;
    let mut bare = death(NsType::Uts, n, T0 + S);
    bare.ns_type = u32::MAX;
    bare.ptr = 0;
    let out = feed(&mut e, &[birth(NsType::Ipc, n, T0), bare], T0 + 3 * S);
    let d = only(&out, RecordKind::Death);
    assert_eq!((d.ns_type, d.inum, d.gen), (None, Some(n), None));
    assert_eq!(
        (d.exact, d.end),
        (Some(false), Some(DeathEnd::Unidentified))
    );
    assert!(e.lifetime(NsType::Ipc, n).is_some(), "the ipc lives on");
}

#[test]
fn a_death_named_by_number_alone_closes_the_one_lifetime_with_it() {
    let mut e = engine();
    let n = 0xF000_0078;
    let mut bare = death(NsType::Pid, n, T0 + S);
    bare.ptr = 0;
    let out = feed(&mut e, &[birth(NsType::Pid, n, T0), bare], T0 + 3 * S);
    let d = only(&out, RecordKind::Death);
    assert_eq!((d.gen, d.lifetime_ns, d.end), (Some(1), Some(S), None));
}

/// A net death as the workqueue tracepoints report it: at the end of the
/// run that freed it, identified by the address and id read at its start.
fn late_net_death(born: &Event, ts: u64) -> Event {
    let mut d = death(NsType::Net, born.inum, ts);
    d.ptr = born.ptr;
    d.ns_id = born.ns_id;
    d.flags = DEATH_LATE;
    d
}

fn net_birth(inum: u32, ptr: u64, ns_id: u64, ts: u64) -> Event {
    let mut b = birth(NsType::Net, inum, ts);
    b.ptr = ptr;
    b.ns_id = ns_id;
    b
}

fn deaths_of(out: &[Record]) -> Vec<(Option<u32>, Option<u32>, Option<DeathEnd>)> {
    of_kind(out, RecordKind::Death)
        .iter()
        .map(|r| (r.inum, r.gen, r.end))
        .collect()
}

/// Issue 10's reproduction, as a tracepoint kernel reports it: A dies, B
/// reuses A's number while A's cleanup run is still open (A's death comes
/// at the run's end, after B's birth), C dies in a later run.
#[test]
fn a_number_reused_during_a_cleanup_run_charges_each_death_to_its_own_lifetime() {
    let mut e = engine();
    let (x, y) = (0xF000_0300, 0xF000_0301);
    let a = net_birth(x, 0xa000, 11, T0);
    let b = net_birth(x, 0xb000, 12, T0 + 2 * S + 10 * MS);
    let c = net_birth(y, 0xc000, 13, T0 + 3 * S);
    let out = feed(
        &mut e,
        &[
            a,
            run_event(EventKind::CleanupStart, 1, T0 + 2 * S),
            b,
            late_net_death(&a, T0 + 2 * S + 40 * MS),
            run_event(EventKind::CleanupEnd, 1, T0 + 2 * S + 40 * MS + 1),
            run_event(EventKind::CleanupStart, 2, T0 + 4 * S),
            late_net_death(&c, T0 + 4 * S + 30 * MS),
            run_event(EventKind::CleanupEnd, 2, T0 + 4 * S + 30 * MS + 1),
        ],
        T0 + 10 * S,
    );
    assert_eq!(
        deaths_of(&out),
        [(Some(x), Some(1), None), (Some(y), Some(1), None)],
        "{out:#?}"
    );
    let da = of_kind(&out, RecordKind::Death)[0];
    assert_eq!(da.lifetime_ns, Some(2 * S + 40 * MS));
    assert_eq!(da.within_ns, Some(40 * MS), "bounded by its run's start");
    assert_eq!(da.exact, Some(false), "seen late");
    let b_life = e.lifetime(NsType::Net, x).unwrap();
    assert_eq!((b_life.gen(), b_life.ns_id()), (2, Some(12)), "B lives on");
    assert_eq!(e.counts(NsType::Net).missed_deaths, 0);
    assert_eq!(e.waiting(), (0, 0));
}

#[test]
fn a_death_whose_identity_matches_no_lifetime_is_charged_to_none() {
    let mut e = engine();
    let x = 0xF000_0310;
    let b = net_birth(x, 0xb000, 22, T0);
    // A net gone before tracing began, with B's number now: the scan was
    // off, and its death names an address and id nobody has.
    let ghost = net_birth(x, 0xdead_0000, 21, 0);
    let out = feed(&mut e, &[b, late_net_death(&ghost, T0 + S)], T0 + 3 * S);
    let d = only(&out, RecordKind::Death);
    assert_eq!(
        (d.inum, d.gen, d.end),
        (Some(x), None, Some(DeathEnd::Unidentified))
    );
    assert_eq!(d.exact, Some(false));
    assert_eq!(e.lifetime(NsType::Net, x).unwrap().gen(), 1, "B lives on");
    assert_eq!(e.counts(NsType::Net).unidentified, 1);
}

#[test]
fn reuse_closes_the_old_lifetime_in_the_log_at_the_reuse() {
    let mut e = engine();
    let n = 0xF000_0320;
    let out = feed(
        &mut e,
        &[birth(NsType::Uts, n, T0), birth(NsType::Uts, n, T0 + S)],
        T0 + 3 * S,
    );
    let kinds: Vec<_> = out.iter().map(|r| (r.event, r.gen)).collect();
    assert_eq!(
        kinds,
        [
            (RecordKind::Birth, Some(1)),
            (RecordKind::Death, Some(1)),
            (RecordKind::Birth, Some(2)),
        ]
    );
    let d = only(&out, RecordKind::Death);
    assert_eq!(
        (d.mono_ns, d.exact, d.end),
        (T0 + S, Some(false), Some(DeathEnd::Reused))
    );
    assert_eq!(d.lifetime_ns, None, "only a bound, not a lifetime");
    assert_eq!(e.counts(NsType::Uts).missed_deaths, 1);
}

#[test]
fn a_reused_address_closes_a_lifetime_whose_death_was_not_visible() {
    let mut e = engine();
    let a = birth(NsType::Cgroup, 0xF000_0330, T0);
    let mut b = birth(NsType::Cgroup, 0xF000_0331, T0 + S);
    b.ptr = a.ptr;
    let out = feed(&mut e, &[a, b], T0 + 3 * S);
    assert_eq!(
        deaths_of(&out),
        [(Some(0xF000_0330), Some(1), Some(DeathEnd::Reused))]
    );
    assert_eq!(e.live_count(), 1);
}

#[test]
fn a_net_reused_in_a_run_that_never_reports_it_ends_reused_at_the_run_end() {
    let mut e = engine();
    let x = 0xF000_0340;
    let a = net_birth(x, 0xa000, 31, T0);
    let b = net_birth(x, 0xb000, 32, T0 + S + MS);
    let out = feed(
        &mut e,
        &[
            a,
            run_event(EventKind::CleanupStart, 1, T0 + S),
            b,
            run_event(EventKind::CleanupEnd, 1, T0 + S + 40 * MS),
        ],
        T0 + 3 * S,
    );
    let kinds: Vec<_> = out.iter().map(|r| (r.event, r.gen)).collect();
    assert_eq!(
        kinds,
        [
            (RecordKind::Birth, Some(1)),
            (RecordKind::CleanupStart, None),
            (RecordKind::Birth, Some(2)),
            (RecordKind::Death, Some(1)),
            (RecordKind::CleanupEnd, None),
        ]
    );
    let d = only(&out, RecordKind::Death);
    // Bounded by the reuse, though written once the run is over.
    assert_eq!((d.mono_ns, d.end), (T0 + S + MS, Some(DeathEnd::Reused)));
    assert_eq!(e.waiting(), (0, 0));
}

#[test]
fn finish_ends_nets_still_waiting_for_their_run() {
    let mut e = engine();
    let x = 0xF000_0350;
    e.push(&net_birth(x, 0xa000, 41, T0));
    e.push(&run_event(EventKind::CleanupStart, 1, T0 + S));
    e.push(&net_birth(x, 0xb000, 42, T0 + S + MS));
    let out = e.finish(T0 + 2 * S, &mut NoScan);
    assert_eq!(
        deaths_of(&out),
        [(Some(x), Some(1), Some(DeathEnd::Reused))]
    );
}

#[test]
fn a_present_namespace_learns_its_address_from_its_first_event() {
    let mut e = engine();
    let n = 0xF000_0360;
    e.seed_present([(
        T0,
        Present {
            ns_type: NsType::Net,
            inum: n,
            tasks: 1,
            ns_id: None,
        },
    )]);
    let mut put = net_put(n, T0 + S);
    put.ptr = 0xa000;
    // Read late, as the workqueue path does: by address, after a newer
    // net took the number during the run.
    let mut d = late_net_death(&net_birth(n, 0xa000, 0, 0), T0 + 2 * S + 20 * MS);
    d.inum = n;
    let out = feed(
        &mut e,
        &[
            put,
            run_event(EventKind::CleanupStart, 1, T0 + 2 * S),
            net_birth(n, 0xb000, 0, T0 + 2 * S + 10 * MS),
            d,
            run_event(EventKind::CleanupEnd, 1, T0 + 2 * S + 20 * MS + 1),
        ],
        T0 + 4 * S,
    );
    assert_eq!(deaths_of(&out), [(Some(n), Some(1), None)], "{out:#?}");
    assert_eq!(e.lifetime(NsType::Net, n).unwrap().gen(), 2);
}

#[test]
fn a_join_into_a_number_another_lifetime_holds_ends_that_one() {
    let mut e = engine();
    let n = 0xF000_0370;
    let a = birth(NsType::Ipc, n, T0);
    // B's birth was lost; a join into B (another address) shows A is over.
    let mut j = ev(EventKind::Join, NsType::Ipc, n, T0 + S);
    j.ptr = 0xbbbb_0000;
    let out = feed(&mut e, &[a, j], T0 + 3 * S);
    assert_eq!(
        deaths_of(&out),
        [(Some(n), Some(1), Some(DeathEnd::Reused))]
    );
    assert_eq!(only(&out, RecordKind::Join).gen, Some(2));
    assert_eq!(e.counts(NsType::Ipc).unseen, 1);
}

/// The kernel side sends an ns_id with the address of the struct it read
/// it from; the two together name the lifetime whatever the number read.
#[test]
fn an_address_and_its_ns_id_find_their_lifetime_whatever_the_number_says() {
    let mut e = engine();
    let b = net_birth(0xF000_0380, 0xa000, 51, T0);
    let mut d = death(NsType::Net, 0xF000_0999, T0 + S);
    d.ns_id = 51;
    d.ptr = 0xa000;
    let out = feed(&mut e, &[b, d], T0 + 3 * S);
    assert_eq!(deaths_of(&out), [(Some(0xF000_0380), Some(1), None)]);
}

/// The same address with another number and no ns_id to vouch for it (a
/// kernel before 6.18) is a stale address: the death is the number's own,
/// a namespace alive before tracing began, not the lifetime at the address.
#[test]
fn an_address_alone_with_another_number_is_not_proof() {
    let mut e = engine();
    let (x, y) = (0xF000_0382, 0xF000_0383);
    let b = net_birth(x, 0xa000, 0, T0);
    let mut d = death(NsType::Net, y, T0 + S);
    d.ptr = 0xa000;
    let out = feed(&mut e, &[b, d], T0 + 3 * S);
    assert_eq!(deaths_of(&out), [(Some(y), Some(1), None)], "{out:#?}");
    assert!(e.lifetime(NsType::Net, x).is_some(), "x lives on");
    assert_eq!(e.counts(NsType::Net).unseen, 1);
}

/// One net that lost its last task, for the linger checks below.
fn emptied_net(e: &mut Engine, n: u32) {
    feed(e, &[birth(NsType::Net, n, T0)], T0 + S);
    e.observe_tasks(T0 + S, &counts(&[(NsType::Net, n, 1)]));
    e.observe_tasks(T0 + 2 * S, &counts(&[]));
}

#[test]
fn a_namespace_the_scan_after_the_deadline_does_not_find_does_not_linger() {
    let mut e = engine();
    let n = 0xF000_0390;
    emptied_net(&mut e, n);
    let mut gone = answers(|_, _, _| HolderAnswer::NotFound {
        searched: "everything".into(),
    });
    let out = e.poll(T0 + 30 * S, &mut gone);
    assert!(of_kind(&out, RecordKind::Linger).is_empty(), "{out:#?}");
    assert_eq!(gone.asked, [(NsType::Net, n, T0 + 7 * S)]);
    assert_eq!(e.counts(NsType::Net).gone_at_check, 1);
    e.poll(T0 + 60 * S, &mut gone);
    assert_eq!(gone.asked.len(), 1, "checked once");
}

#[test]
fn a_linger_waits_for_a_scan_and_a_death_meanwhile_cancels_it() {
    // Asked, not answered, answered at the next poll.
    let mut e = engine();
    let n = 0xF000_03A0;
    emptied_net(&mut e, n);
    let mut ready = false;
    let mut later = answers(|_, _, _| {
        if ready {
            HolderAnswer::Found(vec![Holder {
                kind: HolderKind::Fd,
                pid: Some(7),
                ..Holder::default()
            }])
        } else {
            ready = true;
            HolderAnswer::NotYet
        }
    });
    assert!(e.poll(T0 + 8 * S, &mut later).is_empty());
    assert_eq!(e.waiting(), (0, 1));
    assert!(
        e.poll(T0 + 9 * S, &mut later).is_empty(),
        "answered, not yet confirmed"
    );
    assert_eq!(later.asked.len(), 2);
    let out = e.poll(T0 + 10 * S, &mut later);
    let l = only(&out, RecordKind::Linger);
    // Dated when the answer came: alive then, as the events up to it show.
    assert_eq!((l.mono_ns, l.since_last_task_ns), (T0 + 9 * S, Some(7 * S)));
    assert_eq!(later.asked.len(), 2);
    assert_eq!(e.waiting(), (0, 0));

    // Asked, not answered, and the net dies before the next poll.
    let mut e = engine();
    let m = 0xF000_03A1;
    emptied_net(&mut e, m);
    let mut never = answers(|_, _, _| HolderAnswer::NotYet);
    assert!(e.poll(T0 + 8 * S, &mut never).is_empty());
    e.push(&death(NsType::Net, m, T0 + 8 * S));
    let out = e.poll(T0 + 9 * S, &mut never);
    assert_eq!(
        out.iter().map(|r| r.event).collect::<Vec<_>>(),
        [RecordKind::Death]
    );
    assert_eq!(never.asked.len(), 1, "not asked again once dead");
    assert_eq!(e.waiting(), (0, 0));
}

#[test]
fn a_partial_walk_of_the_nets_is_said_on_the_run() {
    let mut e = engine();
    let mut start = run_event(EventKind::CleanupStart, 1, T0);
    start.flags = tracer_common::CLEANUP_WALK_PARTIAL;
    let end = run_event(EventKind::CleanupEnd, 1, T0 + MS);
    let out = feed(&mut e, &[start, end], T0 + S);
    assert_eq!(
        only(&out, RecordKind::CleanupStart).walk_partial,
        Some(true)
    );
    assert_eq!(only(&out, RecordKind::CleanupEnd).walk_partial, None);
}

/// The scan finds holders by number; by the time the events up to its
/// answer are applied, the number may belong to a newer namespace (the
/// scan saw that one, with a task in it), or the namespace may be dead.
#[test]
fn a_scans_answer_about_a_reused_number_is_no_linger() {
    let mut e = engine();
    let n = 0xF000_03B0;
    emptied_net(&mut e, n);
    let mut sees_the_newer = answers(|_, _, _| {
        HolderAnswer::Found(vec![Holder {
            kind: HolderKind::Task,
            pid: Some(9),
            ..Holder::default()
        }])
    });
    // Asked at the deadline (T0 + 7 s); the newer net on the same number
    // was born before the scan, its record still in the window.
    assert!(e
        .poll(T0 + 7 * S + 100 * MS, &mut sees_the_newer)
        .is_empty());
    e.push(&birth(NsType::Net, n, T0 + 7 * S + 50 * MS));
    let out = e.poll(T0 + 9 * S, &mut sees_the_newer);
    assert!(of_kind(&out, RecordKind::Linger).is_empty(), "{out:#?}");
    assert_eq!(
        of_kind(&out, RecordKind::Death)[0].end,
        Some(DeathEnd::Reused)
    );
    assert_eq!(e.counts(NsType::Net).gone_at_check, 1);

    // Same number, same lifetime, but the scan saw a task in it: its last
    // task had not left after all.
    let mut e = engine();
    emptied_net(&mut e, n);
    let mut task = answers(|_, _, _| {
        HolderAnswer::Found(vec![Holder {
            kind: HolderKind::Task,
            pid: Some(9),
            ..Holder::default()
        }])
    });
    e.poll(T0 + 8 * S, &mut task);
    let out = e.poll(T0 + 9 * S, &mut task);
    assert!(of_kind(&out, RecordKind::Linger).is_empty(), "{out:#?}");
    let life = e.lifetime(NsType::Net, n).unwrap();
    assert_eq!((life.last_task_left_ns(), life.lingered()), (None, false));
}

/// `n` uts namespaces from `first` on, born at once, each with a task at
/// T0 + 1 s and none at T0 + 2 s: their linger deadlines all pass together.
fn emptied_uts_batch(e: &mut Engine, first: u32, n: u32) -> Vec<u32> {
    let inums: Vec<u32> = (0..n).map(|i| first + i).collect();
    let births: Vec<Event> = inums.iter().map(|&n| birth(NsType::Uts, n, T0)).collect();
    feed(e, &births, T0 + S);
    let all: Vec<_> = inums.iter().map(|&n| (NsType::Uts, n, 1)).collect();
    e.observe_tasks(T0 + S, &counts(&all));
    e.observe_tasks(T0 + 2 * S, &counts(&[]));
    inums
}

/// A thousand namespaces lose their last task at once: their lingers are
/// confirmed in one poll, and `poll_each` hands them out a group at a
/// time, every one of them, instead of holding them all (a burst of ten
/// thousand held about 6 MB, and the reused buffer kept that size).
#[test]
fn a_burst_of_lingers_reaches_emit_in_small_groups_and_whole() {
    let mut e = engine();
    let inums = emptied_uts_batch(&mut e, 0xF000_4000, 1000);
    let mut holders = answers(|_, _, _| {
        HolderAnswer::Found(vec![Holder {
            kind: HolderKind::Fd,
            pid: Some(7),
            ..Holder::default()
        }])
    });
    let mut largest = 0;
    let mut lingers = Vec::new();
    for now in (3..20).map(|s| T0 + s * S) {
        e.poll_each(now, &mut holders, &mut |group: &mut Vec<Record>| {
            largest = largest.max(group.len());
            lingers.extend(group.drain(..).filter(|r| r.event == RecordKind::Linger));
        });
    }
    let mut seen: Vec<u32> = lingers.iter().map(|r| r.inum.unwrap()).collect();
    seen.sort_unstable();
    assert_eq!(seen, inums, "one linger for each namespace");
    assert!(largest <= 2 * 32, "a group of {largest} records");
}

/// A's struct is freed inside its cleanup run and B, another number, is
/// born at the same address before the run ends and reports A's death.
/// That death names A's ns_id, which B's lifetime contradicts: it is A's
/// (closed at B's birth and parked until the run's end), never B's.
#[test]
fn a_late_death_at_a_reused_address_is_not_charged_to_the_namespace_now_there() {
    let mut e = engine();
    let (x, y) = (0xF000_0320, 0xF000_0321);
    let a = net_birth(x, 0xa000, 31, T0);
    let b = net_birth(y, 0xa000, 32, T0 + 2 * S + 10 * MS);
    let out = feed(
        &mut e,
        &[
            a,
            run_event(EventKind::CleanupStart, 1, T0 + 2 * S),
            b,
            late_net_death(&a, T0 + 2 * S + 40 * MS),
            run_event(EventKind::CleanupEnd, 1, T0 + 2 * S + 40 * MS + 1),
        ],
        T0 + 10 * S,
    );
    assert_eq!(deaths_of(&out), [(Some(x), Some(1), None)], "{out:#?}");
    let b_life = e.lifetime(NsType::Net, y).expect("B lives on");
    assert_eq!(b_life.ns_id(), Some(32));
    assert!(e.lifetime(NsType::Net, x).is_none());
    assert_eq!(e.counts(NsType::Net).missed_deaths, 0);
    assert_eq!(e.waiting(), (0, 0));
}

/// A source whose scan is paced far away: "not yet" until `ready`, and it
/// says whether asking again can help.
struct Paced {
    ready: bool,
    news: bool,
    asked: usize,
}

impl HolderSource for Paced {
    fn holders(&mut self, _: NsType, _: u32, _: u64) -> HolderAnswer {
        self.asked += 1;
        if !self.ready {
            return HolderAnswer::NotYet;
        }
        HolderAnswer::Found(vec![Holder {
            kind: HolderKind::Fd,
            pid: Some(7),
            ..Holder::default()
        }])
    }

    fn may_answer_more(&mut self) -> bool {
        std::mem::take(&mut self.news)
    }
}

/// Questions waiting for a scan are not asked again at every poll, only
/// when the source says a new answer may be there; then each is asked and
/// lingers, none lost.
#[test]
fn waiting_linger_checks_are_asked_again_only_when_the_source_has_news() {
    let mut e = engine();
    emptied_uts_batch(&mut e, 0xF000_5000, 100);
    let mut src = Paced {
        ready: false,
        news: false,
        asked: 0,
    };
    for now in (3..30).map(|s| T0 + s * S) {
        e.poll(now, &mut src);
    }
    assert_eq!(src.asked, 100, "each asked once while nothing could change");
    assert_eq!(e.waiting().1, 100);
    src.ready = true;
    src.news = true;
    let mut out = e.poll(T0 + 31 * S, &mut src);
    out.extend(e.poll(T0 + 32 * S, &mut src));
    assert_eq!(src.asked, 200);
    assert_eq!(of_kind(&out, RecordKind::Linger).len(), 100);
    assert_eq!(e.waiting().1, 0);
}

/// A source that hands out `budget` answers a poll (a new poll begins
/// when the engine asks whether there is news, once per poll).
struct Budgeted {
    budget: usize,
    given: usize,
    asked: Vec<usize>,
}

impl HolderSource for Budgeted {
    fn holders(&mut self, _: NsType, _: u32, _: u64) -> HolderAnswer {
        *self.asked.last_mut().unwrap() += 1;
        if self.given >= self.budget {
            return HolderAnswer::NotYet;
        }
        self.given += 1;
        HolderAnswer::Found(vec![Holder {
            kind: HolderKind::Fd,
            pid: Some(7),
            ..Holder::default()
        }])
    }

    fn may_answer_more(&mut self) -> bool {
        true
    }

    fn spent(&self) -> bool {
        self.given >= self.budget
    }
}

/// Once a poll's answers are spent the engine stops asking until the
/// next: a hundred waiting questions and ten answers a poll cost about
/// ten questions a poll, not a hundred, and every one lingers in the end.
#[test]
fn the_engine_stops_asking_once_the_polls_answers_are_spent() {
    let mut e = engine();
    emptied_uts_batch(&mut e, 0xF000_6000, 100);
    let mut src = Budgeted {
        budget: 10,
        given: 0,
        asked: Vec::new(),
    };
    let mut lingers = 0;
    for now in (3..40).map(|s| T0 + s * S) {
        src.given = 0;
        src.asked.push(0);
        let out = e.poll(now, &mut src);
        lingers += of_kind(&out, RecordKind::Linger).len();
    }
    assert_eq!(lingers, 100);
    // The poll their deadline passes asks each once; later ones stop at the
    // budget.
    let first = src.asked.iter().position(|&n| n > 0).unwrap();
    assert_eq!(src.asked[first], 100, "asked per poll: {:?}", src.asked);
    let later_max = src.asked[first + 1..].iter().max().copied().unwrap_or(0);
    assert!(later_max <= 10, "asked per poll: {:?}", src.asked);
}

/// Run 1's end record (and A's death in it) were lost in a full ring; run
/// 2 starts later. `cleanup_net` is one work item on the ordered `netns_wq`
/// (net/core/net_namespace.c, 6.1 to 6.18), so run 2 starting means run 1
/// ended: run 1 is not slow, and A, whose number B took while run 1
/// looked open, gets its `end: reused` death once run 2 has ended.
#[test]
fn a_run_whose_end_was_lost_is_over_when_the_next_one_starts() {
    let mut e = engine();
    let x = 0xF000_0400;
    let a = net_birth(x, 0xa000, 0, T0);
    let mut put = net_put(x, T0 + S);
    put.ptr = a.ptr;
    let mut out = feed(
        &mut e,
        &[a, put, run_event(EventKind::CleanupStart, 1, T0 + S + MS)],
        T0 + 2 * S,
    );
    out.push(e.on_lost(T0 + 2 * S, 2));
    out.extend(feed(
        &mut e,
        &[
            net_birth(x, 0xb000, 0, T0 + 3 * S),
            run_event(EventKind::CleanupStart, 2, T0 + 4 * S),
            run_event(EventKind::CleanupEnd, 2, T0 + 4 * S + 40 * MS),
        ],
        T0 + 5 * S,
    ));
    out.extend(e.poll(T0 + 60 * S, &mut NoScan));
    assert!(
        of_kind(&out, RecordKind::CleanupSlow).is_empty(),
        "run 1 ended before run 2 started: {out:#?}"
    );
    let d = only(&out, RecordKind::Death);
    assert_eq!(
        (d.inum, d.gen, d.end, d.mono_ns),
        (Some(x), Some(1), Some(DeathEnd::Reused), T0 + 3 * S)
    );
    assert_eq!(e.waiting(), (0, 0));
    assert_eq!(e.cleanup_backlog(), (0, 0));
}

/// 6.18 frees an anonymous mount namespace (an fsmount or
/// open_tree(OPEN_TREE_CLONE) file closed without move_mount) without
/// `__ns_common_free` (`free_mnt_ns`: `if (!is_anon_ns(ns))
/// ns_common_free(ns)`), so its death is never seen; the next unshare
/// (CLONE_NEWNS) allocates its mnt_namespace from the same kmalloc cache,
/// often at the same address. That birth ends the anonymous lifetime, as a
/// birth at a freed named namespace's address does, and the other way
/// round when a named one's death was lost.
#[test]
fn a_mount_namespace_born_at_an_anonymous_ones_address_ends_it() {
    let mut e = engine();
    let y = 0xF000_0410;
    let mut anon = birth(NsType::Mnt, MNT_NS_ANON_INO, T0);
    anon.via = Via::Kernel as u32;
    anon.flags = DEATH_ANON_MNT;
    anon.ptr = 0xa000;
    let mut named = birth(NsType::Mnt, y, T0 + S);
    named.ptr = 0xa000;
    let out = feed(&mut e, &[anon, named], T0 + 2 * S);
    assert_eq!(
        deaths_of(&out),
        [(Some(MNT_NS_ANON_INO), Some(1), Some(DeathEnd::Reused))],
        "{out:#?}"
    );
    assert_eq!(e.live_count(), 1);
    assert_eq!(e.counts(NsType::Mnt).missed_deaths, 1);

    // The named one's death is lost; an anonymous one takes its memory.
    let mut anon2 = anon;
    anon2.ts_ns = T0 + 3 * S;
    let out = feed(&mut e, &[anon2], T0 + 4 * S);
    assert_eq!(
        deaths_of(&out),
        [(Some(y), Some(1), Some(DeathEnd::Reused))],
        "{out:#?}"
    );
    assert_eq!(e.live_count(), 1);
}
