//! The benchmark inside a QEMU guest (`/bin/xtask bench --guest`, started
//! by /init when the host runs `cargo xtask bench --vm`): for each hook
//! method, uts churn and the system-tax workloads bare, under empty
//! programs on every hook nstrace attaches with that method (the floor) and
//! under `nstrace trace --method M`, in interleaved rounds; then the run
//! time of each eBPF program per uts operation. Every figure is printed as
//! one `nstrace-vm: bench ...` line of `key=value` words, which the host
//! reads off the console (vm.rs) and turns into tables and targets.
//!
//! The guest has one vCPU, so a workload's CPU time is its own and the
//! programs that run inside it; nstrace's reader waits its turn.

use std::{fs, path::PathBuf};

use anyhow::{Context as _, Result};

use super::{
    bpfstats::{self, StatsOn},
    tax::{self, Setup},
    tracers::{Mode, Tracer},
    workload::{Kind, Plan},
    Ctx,
};

/// Workloads run in the guest, uts churn first.
pub const KINDS: [Kind; 6] = [
    Kind::Uts,
    Kind::Getppid,
    Kind::OpenClose,
    Kind::Socket,
    Kind::Fork,
    Kind::ForkExec,
];

/// Operations per run under TCG, which runs a guest 20 to 50 times slower
/// than this host: each bare run lasts about half a second.
pub fn ops(kind: Kind, quick: bool) -> u64 {
    let full = match kind {
        Kind::Uts => 20_000,
        Kind::Getppid => 200_000,
        Kind::OpenClose => 40_000,
        Kind::Socket => 20_000,
        Kind::Fork => 400,
        Kind::ForkExec => 150,
        _ => 1_000,
    };
    if quick {
        full / 2
    } else {
        full
    }
}

pub fn run(methods: &[String], reps: usize, quick: bool) -> Result<()> {
    let dir = PathBuf::from("/tmp/bench");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ctx = Ctx {
        quick,
        reps,
        nstrace: PathBuf::from("/bin/nstrace"),
        bpftrace_script: PathBuf::new(),
        exe: std::env::current_exe().context("finding the bench's own binary")?,
        dir,
    };
    for method in methods {
        let floor = tax::probe_targets(&ctx, Some(method), |_| true)?;
        println!(
            "nstrace-vm: bench floor method={method} targets={}",
            floor.join(",")
        );
        let setups = [
            Setup::bare(),
            Setup::floor("floor", floor),
            Setup::nstrace(vec!["--method".into(), method.clone()]),
        ];
        tax::rounds(
            &ctx,
            &KINDS,
            &setups,
            reps,
            |k| ops(k, quick),
            |rep, setup, kind, o| {
                println!(
                    "nstrace-vm: bench sample method={method} setup={} kind={} round={} ops={} \
                     ns={} cpu_ns={}",
                    setup.label,
                    kind.name(),
                    rep + 1,
                    o.ops,
                    o.elapsed.as_nanos(),
                    o.cpu.as_nanos()
                );
            },
        )?;
        programs(&ctx, method, quick)?;
    }
    Ok(())
}

/// One uts churn run under nstrace with BPF run-time statistics on: each
/// program's runs and run time.
fn programs(ctx: &Ctx, method: &str, quick: bool) -> Result<()> {
    let _stats = StatsOn::new()?;
    let out = ctx.dir.join("programs.out");
    let tracer = Tracer::start(ctx, Mode::Nstrace, &out, &["--method", method])?;
    let before = bpfstats::of_process(tracer.pid())?;
    let outcome = ctx.workload(
        Kind::Uts,
        Plan {
            ops: Some(ops(Kind::Uts, quick)),
            seconds: None,
            rate: None,
        },
    );
    let after = bpfstats::of_process(tracer.pid());
    tracer.stop()?;
    let _ = fs::remove_file(&out);
    let (outcome, after) = (outcome?, after?);
    for p in &after {
        let b = before.iter().find(|q| q.id == p.id);
        let runs = p.run_cnt - b.map_or(0, |q| q.run_cnt);
        let ns = p.run_time_ns - b.map_or(0, |q| q.run_time_ns);
        if runs > 0 {
            println!(
                "nstrace-vm: bench prog method={method} name={} runs={runs} run_ns={ns} ops={}",
                p.name, outcome.ops
            );
        }
    }
    Ok(())
}
