//! What nstrace costs work that makes no namespace: getppid, open/close of
//! /dev/null, fork + exit + wait, bare and with nstrace attached,
//! interleaved, by medians. Beside them, empty programs on
//! `kmem:kmem_cache_free`: the floor of the way this tracer used to see
//! net deaths on tracepoint kernels (a program on every slab free), which
//! it no longer attaches. Then, with BPF run-time statistics on, what
//! nstrace's workqueue programs (the cleanup-run walks) cost per operation.

use std::fs;

use anyhow::Result;

use super::{
    bpfstats, compare, fmt_count, fmt_ns, median,
    tracers::{Mode, Tracer},
    workload::{Kind, Plan},
    Ctx, Target,
};

const KINDS: [Kind; 3] = [Kind::Getppid, Kind::OpenClose, Kind::Fork];
const MODES: [Mode; 3] = [Mode::Bare, Mode::Nstrace, Mode::KmemFloor];

pub fn run(ctx: &Ctx) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for kind in KINDS {
        let samples = compare::interleaved(ctx, kind, &MODES)?;
        let wall: Vec<(Mode, f64)> = samples
            .iter()
            .map(|(m, s)| (*m, s.outcome.per_op_ns()))
            .collect();
        let cpu: Vec<(Mode, f64)> = samples
            .iter()
            .map(|(m, s)| (*m, s.outcome.cpu_per_op_ns()))
            .collect();
        let med = |v: &[(Mode, f64)], m: Mode| {
            median(
                &v.iter()
                    .filter(|(x, _)| *x == m)
                    .map(|(_, n)| *n)
                    .collect::<Vec<_>>(),
            )
        };
        let (bare, bare_cpu) = (med(&wall, Mode::Bare), med(&cpu, Mode::Bare));
        for mode in MODES {
            let (w, c) = (med(&wall, mode), med(&cpu, mode));
            println!(
                "  median {:<10} {:>10}/op ({:.2}x)  CPU {:>10}/op ({:.2}x)",
                mode.name(),
                fmt_ns(w),
                w / bare,
                fmt_ns(c),
                c / bare_cpu
            );
            if mode != Mode::Bare {
                targets.push(Target {
                    name: format!("{} under {} vs bare", kind.name(), mode.name()),
                    goal: "figure".into(),
                    measured: format!("{:.2}x wall, {:.2}x CPU", w / bare, c / bare_cpu),
                    met: None,
                    by: String::new(),
                });
            }
        }
        let plan = Plan {
            ops: Some(compare::ops(kind, ctx.quick)),
            seconds: None,
            rate: None,
        };
        workqueue_programs(ctx, kind, plan)?;
    }
    Ok(targets)
}

/// One nstrace run with run-time statistics on: how often the workqueue
/// programs ran per operation, and for how long.
fn workqueue_programs(ctx: &Ctx, kind: Kind, plan: Plan) -> Result<()> {
    let _stats = bpfstats::StatsOn::new()?;
    let out = ctx.dir.join(format!("tax-{}.out", kind.name()));
    let tracer = Tracer::start(ctx, Mode::Nstrace, &out, &["--no-scan"])?;
    let before = bpfstats::of_process(tracer.pid())?;
    let outcome = ctx.workload(kind, plan);
    let after = bpfstats::of_process(tracer.pid());
    tracer.stop()?;
    let _ = fs::remove_file(&out);
    let (outcome, after) = (outcome?, after?);
    let ops = outcome.ops.max(1) as f64;
    for p in after.iter().filter(|p| p.name.starts_with("workqueue_")) {
        let b = before.iter().find(|q| q.name == p.name);
        let runs = p.run_cnt - b.map_or(0, |q| q.run_cnt);
        let ns = p.run_time_ns - b.map_or(0, |q| q.run_time_ns);
        println!(
            "  {:<24} {:>8} runs, {:.4} runs/op, {} per run, {} per op",
            p.name,
            fmt_count(runs),
            runs as f64 / ops,
            fmt_ns(ns as f64 / runs.max(1) as f64),
            fmt_ns(ns as f64 / ops)
        );
    }
    Ok(())
}
