//! One workload bare, under nstrace and under bpftrace, interleaved
//! (bare, nstrace, bpftrace, bare, ...) so that a change in the machine's
//! load hits all three alike, and compared by medians.

use std::{fs, thread, time::Duration};

use anyhow::Result;

use super::{
    bpfstats, fmt_count, fmt_duration, fmt_ns, median,
    tracers::{Mode, Stopped, Tracer},
    workload::{Kind, Outcome, Plan},
    Ctx, Target,
};

/// Target on a tracepoint-only kernel: uts churn under nstrace at most this
/// many times the floor of the same hooks (workload CPU per op).
pub const MAX_FLOOR_RATIO: f64 = 1.10;
/// Target: bpftrace adds at least this many times nstrace's cost per op
/// (workload CPU).
pub const MIN_ADDED_RATIO: f64 = 10.0;

/// Operations per run: each bare run lasts a quarter to half a second on
/// an idle machine, long enough that process start and the first page
/// faults do not count, short enough that five rounds of every mode fit
/// the bench's ten minutes on a busy one.
pub fn ops(kind: Kind, quick: bool) -> u64 {
    let (full, short) = match kind {
        Kind::Uts => (200_000, 100_000),
        Kind::Net => (1_000, 400),
        Kind::Clone => (1_000, 500),
        Kind::Container => (100, 40),
        // Not compared here: see tax.rs.
        other => {
            let n = super::tax::host_ops(other, false);
            (n, n / 2)
        }
    };
    if quick {
        short
    } else {
        full
    }
}

/// One run of one mode.
pub struct Sample {
    pub outcome: Outcome,
    pub tracer: Option<Stopped>,
    /// The tracer's peak RSS (VmHWM) at the end of the workload, KiB.
    pub hwm_kib: Option<u64>,
}

/// Runs the workload once under `mode` (`extra`: see [`Tracer::start`]).
pub fn sample(ctx: &Ctx, kind: Kind, mode: Mode, plan: Plan, extra: &[&str]) -> Result<Sample> {
    if mode == Mode::Bare {
        let others = bpfstats::unshare_programs_except(&[]).unwrap_or_default();
        if !others.is_empty() {
            println!(
                "  warning: {} eBPF programs of other processes hook unshare ({}): this bare \
                 run pays for them",
                others.len(),
                others.join(", ")
            );
        }
        let outcome = ctx.workload(kind, plan)?;
        settle(kind);
        return Ok(Sample {
            outcome,
            tracer: None,
            hwm_kib: None,
        });
    }
    let out = ctx.dir.join(format!("{}-{}.out", kind.name(), mode.name()));
    let tracer = Tracer::start(ctx, mode, &out, extra)?;
    let outcome = ctx.workload(kind, plan);
    let hwm = tracer.vm_hwm_kib();
    let stopped = tracer.stop();
    let (outcome, stopped, hwm) = (outcome?, stopped?, hwm?);
    let _ = fs::remove_file(&out);
    settle(kind);
    Ok(Sample {
        outcome,
        tracer: Some(stopped),
        hwm_kib: Some(hwm),
    })
}

/// Net namespaces are freed by a workqueue after the loop has moved on; a
/// pause keeps one run's cleanup from landing in the next run's time.
fn settle(kind: Kind) {
    if matches!(kind, Kind::Net | Kind::Container) {
        thread::sleep(Duration::from_secs(2));
    }
}

/// The modes compared for `kind`. uts churn also gets the floor: empty
/// programs on every hook nstrace attaches here, the least any tracer on
/// those hooks can cost.
fn modes(kind: Kind) -> &'static [Mode] {
    match kind {
        Kind::Uts => &[Mode::Bare, Mode::Nstrace, Mode::Bpftrace, Mode::Floor],
        _ => &Mode::ALL,
    }
}

pub fn run(ctx: &Ctx, kind: Kind) -> Result<Vec<Target>> {
    let plan = Plan {
        ops: Some(ops(kind, ctx.quick)),
        seconds: None,
        rate: None,
    };
    println!(
        "{}: {} ops per run, {} interleaved runs of each mode",
        kind.describe(),
        fmt_count(plan.ops.unwrap_or(0)),
        ctx.reps
    );
    let floor = if modes(kind).contains(&Mode::Floor) {
        let t = super::tax::probe_targets(ctx, None, |_| true)?;
        println!("  floor: empty programs on {}", t.join(" "));
        t
    } else {
        Vec::new()
    };
    let mut samples: Vec<(Mode, Sample)> = Vec::new();
    for rep in 0..ctx.reps {
        let mut line = format!("  run {}:", rep + 1);
        for &mode in modes(kind) {
            let extra: Vec<&str> = if mode == Mode::Floor {
                floor.iter().map(String::as_str).collect()
            } else {
                Vec::new()
            };
            let s = sample(ctx, kind, mode, plan, &extra)?;
            line += &format!(
                " {} {} (CPU {})",
                mode.name(),
                fmt_ns(s.outcome.per_op_ns()),
                fmt_ns(s.outcome.cpu_per_op_ns())
            );
            samples.push((mode, s));
        }
        println!("{line}");
    }
    let of = |m: Mode| -> Vec<&Sample> {
        samples
            .iter()
            .filter(|(mode, _)| *mode == m)
            .map(|(_, s)| s)
            .collect()
    };
    let per_op = |m: Mode| {
        median(
            &of(m)
                .iter()
                .map(|s| s.outcome.per_op_ns())
                .collect::<Vec<_>>(),
        )
    };
    let cpu_per_op = |m: Mode| {
        median(
            &of(m)
                .iter()
                .map(|s| s.outcome.cpu_per_op_ns())
                .collect::<Vec<_>>(),
        )
    };
    let (bare, bare_cpu) = (per_op(Mode::Bare), cpu_per_op(Mode::Bare));
    println!(
        "  {:<9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>5} {:>10} {:>9} {:>8}",
        "mode",
        "wall/op",
        "ratio",
        "added",
        "CPU/op",
        "ratio",
        "added",
        "events",
        "events/s",
        "lost",
        "tracer CPU",
        "CPU/event",
        "peak RSS"
    );
    for &mode in modes(kind) {
        let runs = of(mode);
        let (t, c) = (per_op(mode), cpu_per_op(mode));
        let added = |x: f64, base: f64| {
            if mode == Mode::Bare {
                "-".to_string()
            } else {
                fmt_ns(x - base)
            }
        };
        let mut row = format!(
            "  {:<9} {:>9} {:>5.2}x {:>9} {:>9} {:>5.2}x {:>9}",
            mode.name(),
            fmt_ns(t),
            t / bare,
            added(t, bare),
            fmt_ns(c),
            c / bare_cpu,
            added(c, bare_cpu),
        );
        let stopped: Vec<&Stopped> = runs.iter().filter_map(|s| s.tracer.as_ref()).collect();
        if !stopped.is_empty() {
            let events = median(&stopped.iter().map(|s| s.events as f64).collect::<Vec<_>>());
            let rate = median(
                &runs
                    .iter()
                    .filter_map(|s| {
                        let st = s.tracer.as_ref()?;
                        Some(st.events as f64 / s.outcome.elapsed.as_secs_f64())
                    })
                    .collect::<Vec<_>>(),
            );
            let lost: u64 = stopped.iter().map(|s| s.lost).sum();
            let cpu = median(
                &stopped
                    .iter()
                    .map(|s| s.cpu.as_nanos() as f64)
                    .collect::<Vec<_>>(),
            );
            let hwm = runs.iter().filter_map(|s| s.hwm_kib).max().unwrap_or(0);
            row += &format!(
                " {:>9} {:>9} {:>5} {:>10} {:>9} {:>4} MiB",
                fmt_count(events as u64),
                fmt_count(rate as u64),
                fmt_count(lost),
                fmt_duration(Duration::from_nanos(cpu as u64)),
                if events > 0.0 {
                    fmt_ns(cpu / events)
                } else {
                    "-".to_string()
                },
                hwm / 1024
            );
        }
        println!("{row}");
    }
    println!(
        "  (wall/op, CPU/op (the workload's own), events/s, tracer CPU: medians; lost: sum over \
         runs; RSS: largest VmHWM of the tracer)"
    );
    let ns_added = per_op(Mode::Nstrace) - bare;
    let bt_added = per_op(Mode::Bpftrace) - bare;
    let ns_added_cpu = cpu_per_op(Mode::Nstrace) - bare_cpu;
    let bt_added_cpu = cpu_per_op(Mode::Bpftrace) - bare_cpu;
    let ratio = bt_added / ns_added;
    let ratio_cpu = bt_added_cpu / ns_added_cpu;
    println!(
        "  added per op, wall: nstrace {}, bpftrace {} ({ratio:.1}x); workload CPU: nstrace {}, \
         bpftrace {} ({ratio_cpu:.1}x)",
        fmt_ns(ns_added),
        fmt_ns(bt_added),
        fmt_ns(ns_added_cpu),
        fmt_ns(bt_added_cpu),
    );
    if kind != Kind::Uts {
        return Ok(Vec::new());
    }
    let floor_cpu = cpu_per_op(Mode::Floor);
    let ns_cpu = cpu_per_op(Mode::Nstrace);
    let vs_floor = ns_cpu / floor_cpu;
    println!(
        "  floor (empty programs on the same hooks): {:.2}x bare CPU, {} added per op; nstrace \
         {vs_floor:.2}x the floor, {} above it",
        floor_cpu / bare_cpu,
        fmt_ns(floor_cpu - bare_cpu),
        fmt_ns(ns_cpu - floor_cpu)
    );
    Ok(vec![
        Target {
            name: "uts churn: nstrace vs floor (CPU)".into(),
            goal: format!("≤ {MAX_FLOOR_RATIO:.2}x"),
            measured: format!(
                "{vs_floor:.2}x (floor {:.2}x bare, nstrace {:.2}x bare)",
                floor_cpu / bare_cpu,
                ns_cpu / bare_cpu
            ),
            met: Some(vs_floor <= MAX_FLOOR_RATIO),
            by: format!(
                "by {:.0} points: {} above the floor per op, {} allowed",
                (vs_floor - MAX_FLOOR_RATIO) * 100.0,
                fmt_ns(ns_cpu - floor_cpu),
                fmt_ns((MAX_FLOOR_RATIO - 1.0) * floor_cpu)
            ),
        },
        Target {
            name: "uts churn: added CPU, bpftrace / nstrace".into(),
            goal: format!("≥ {MIN_ADDED_RATIO:.0}x"),
            measured: if ns_added_cpu > 0.0 {
                format!("{ratio_cpu:.1}x (wall {ratio:.1}x)")
            } else {
                format!("nstrace adds ≤ 0 (bpftrace {})", fmt_ns(bt_added_cpu))
            },
            met: Some(ns_added_cpu <= 0.0 || ratio_cpu >= MIN_ADDED_RATIO),
            by: format!(
                "by {:.1}x: nstrace would need to add ≤ {} CPU per op",
                MIN_ADDED_RATIO / ratio_cpu,
                fmt_ns(bt_added_cpu / MIN_ADDED_RATIO)
            ),
        },
    ])
}
