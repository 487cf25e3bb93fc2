//! Where the time a tracer adds to uts churn goes.
//!
//! First the kernel's per-program accounting (bpfstats.rs): what each eBPF
//! program costs per run and per operation, against the time added per
//! operation measured in the same pass. The rest of the added time is the
//! price of having a syscall tracepoint attached at all: every syscall of
//! every task then takes the slow path through the tracepoint, and each
//! hit is dispatched through perf to the program. Then a sampling profile
//! (perf, cpu-clock: this guest has no hardware counters) of the workload
//! bare, under nstrace and under bpftrace names the kernel functions, and
//! one of each tracer's own process shows what its reader spends its CPU
//! on.

use std::{fs, path::Path, process::Command};

use anyhow::{Context as _, Result};

use super::{
    bpfstats::{self, StatsOn},
    fmt_count, fmt_ns,
    tracers::{Mode, Tracer},
    workload::{Kind, Outcome, Plan},
    Ctx,
};
use crate::setup::output;

/// Functions shown per profile.
const TOP: usize = 14;

pub fn run(ctx: &Ctx) -> Result<()> {
    let plan = Plan {
        ops: Some(100_000),
        seconds: None,
        rate: None,
    };
    let ops = plan.ops.unwrap_or(1) as f64;
    let out = ctx.dir.join("profile.out");
    {
        let _stats = StatsOn::new()?;
        println!(
            "eBPF run time per program (BPF_ENABLE_STATS on, which itself adds two clock reads per run), \
             uts churn of {} ops:",
            fmt_count(ops as u64)
        );
        for mode in [Mode::Nstrace, Mode::Bpftrace] {
            let bare = ctx.workload(Kind::Uts, plan)?;
            let tracer = Tracer::start(ctx, mode, &out, &[])?;
            let traced = ctx.workload(Kind::Uts, plan);
            let progs = bpfstats::of_process(tracer.pid());
            let stopped = tracer.stop()?;
            let _ = fs::remove_file(&out);
            let (traced, progs) = (traced?, progs?);
            let added = traced.per_op_ns() - bare.per_op_ns();
            // The programs run on the workload's CPU time; the wall time
            // also holds waiting for a CPU, which they cannot explain.
            let added_cpu = traced.cpu_per_op_ns() - bare.cpu_per_op_ns();
            println!(
                "  {}: per op bare {} (CPU {}), traced {} (CPU {}): added {} (CPU {}); {} events",
                mode.name(),
                fmt_ns(bare.per_op_ns()),
                fmt_ns(bare.cpu_per_op_ns()),
                fmt_ns(traced.per_op_ns()),
                fmt_ns(traced.cpu_per_op_ns()),
                fmt_ns(added),
                fmt_ns(added_cpu),
                fmt_count(stopped.events)
            );
            println!(
                "    {:<18} {:>12} {:>8} {:>10} {:>10}",
                "program", "runs", "runs/op", "ns/run", "ns/op"
            );
            let mut total = 0.0;
            for p in progs.iter().filter(|p| p.run_cnt > 0) {
                let per_op = p.run_time_ns as f64 / ops;
                total += per_op;
                println!(
                    "    {:<18} {:>12} {:>8.2} {:>10.0} {:>10.0}",
                    p.name,
                    fmt_count(p.run_cnt),
                    p.run_cnt as f64 / ops,
                    p.run_time_ns as f64 / p.run_cnt as f64,
                    per_op
                );
            }
            println!(
                "    programs: {} per op of the {} CPU added; the other {} is the syscall \
                 tracepoint's slow path and perf dispatch, wakeups, and cache effects",
                fmt_ns(total),
                fmt_ns(added_cpu),
                fmt_ns(added_cpu - total)
            );
        }
    }

    let data = ctx.dir.join("perf.data");
    for mode in Mode::ALL {
        let tracer = match mode {
            Mode::Bare => None,
            m => Some(Tracer::start(ctx, m, &out, &[])?),
        };
        let recorded = perf_record(ctx, &data, plan);
        let tracer_pid = tracer.as_ref().map(Tracer::pid);
        if let Some(t) = tracer {
            t.stop()?;
        }
        let _ = fs::remove_file(&out);
        let workload_pid = recorded?.pid;
        // Other processes share the machine (and may be called nstrace
        // too): reports are by pid, each in percent of that process's own
        // samples.
        let mut pids = vec![(workload_pid, "the workload")];
        if let Some(pid) = tracer_pid {
            pids.push((pid, "the tracer's own process"));
        }
        for (pid, what) in pids {
            let report = output(
                Command::new("perf")
                    .arg("report")
                    .arg("-i")
                    .arg(&data)
                    .args(["--stdio", "--no-children", "--sort", "sym", "-q"])
                    .args(["--percentage", "relative", "--pid"])
                    .arg(pid.to_string()),
            )?;
            println!(
                "perf, uts churn under {}: {what} (pid {pid}), share of its cpu-clock samples:",
                mode.name()
            );
            for line in report.lines().filter(|l| !l.trim().is_empty()).take(TOP) {
                println!("  {}", line.trim_end());
            }
        }
    }
    let _ = fs::remove_file(&data);
    Ok(())
}

fn perf_record(ctx: &Ctx, data: &Path, plan: Plan) -> Result<Outcome> {
    let mut cmd = Command::new("perf");
    // System-wide (-a) for as long as the workload runs, so the tracer's
    // reader is sampled too.
    cmd.args(["record", "-q", "-a", "-e", "cpu-clock", "-o"])
        .arg(data)
        .arg("--")
        .arg(ctx.workload_command(Kind::Uts, plan).get_program())
        .args(ctx.workload_command(Kind::Uts, plan).get_args());
    Outcome::parse(&output(&mut cmd).context("perf record")?)
}
