//! What a tracer costs work that makes no namespace (getppid, open/close,
//! socket, fork, fork+exec), against bare runs and against empty programs
//! on the same hooks (the floor, floor.rs): interleaved rounds, medians of
//! the workload's own CPU per operation and of its wall time.
//!
//! The same rounds run on this host (`cargo xtask bench tax`) and inside
//! the QEMU guests (`cargo xtask bench --vm`, guest.rs), where uts churn
//! joins them.
//!
//! On this host two more things are measured. Empty programs on
//! `kmem:kmem_cache_free` alone: the floor of the way nstrace used to see
//! net deaths on tracepoint kernels (a program on every slab free), which
//! it no longer attaches. And, with BPF run-time statistics on, each of
//! nstrace's programs that runs during work that makes no namespace (the
//! cleanup-run walks among them): runs per operation and time per run.

use std::{collections::BTreeMap, fs};

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::{
    bpfstats, compare, fmt_count, fmt_ns, median,
    tracers::{Mode, Tracer},
    workload::{Kind, Outcome, Plan},
    Ctx, Target,
};

/// Target: each system-tax workload under nstrace within this factor of
/// its floor (tracepoint kernels) or of bare (fentry and kprobe kernels).
pub const MAX_TAX: f64 = 1.02;

/// One way to run the workloads: bare, under a floor, or under nstrace.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Its name in the output: `bare`, `floor`, `nstrace`, ...
    pub label: String,
    pub mode: Mode,
    /// nstrace's extra arguments, or the floor's targets.
    pub extra: Vec<String>,
}

impl Setup {
    pub fn bare() -> Setup {
        Setup {
            label: "bare".into(),
            mode: Mode::Bare,
            extra: Vec::new(),
        }
    }

    /// Empty programs on `targets`.
    pub fn floor(label: &str, targets: Vec<String>) -> Setup {
        Setup {
            label: label.into(),
            mode: Mode::Floor,
            extra: targets,
        }
    }

    /// nstrace with `extra` arguments.
    pub fn nstrace(extra: Vec<String>) -> Setup {
        Setup {
            label: "nstrace".into(),
            mode: Mode::Nstrace,
            extra,
        }
    }
}

/// Every run's outcome, by (setup label, kind).
#[derive(Default)]
pub struct Samples {
    runs: BTreeMap<(String, &'static str), Vec<Outcome>>,
}

impl Samples {
    pub fn push(&mut self, label: &str, kind: Kind, o: Outcome) {
        self.runs
            .entry((label.to_string(), kind.name()))
            .or_default()
            .push(o);
    }

    /// Median CPU per op and wall per op, in ns.
    pub fn medians(&self, label: &str, kind: Kind) -> Option<(f64, f64)> {
        let runs = self.runs.get(&(label.to_string(), kind.name()))?;
        let cpu: Vec<f64> = runs.iter().map(Outcome::cpu_per_op_ns).collect();
        let wall: Vec<f64> = runs.iter().map(Outcome::per_op_ns).collect();
        Some((median(&cpu), median(&wall)))
    }
}

/// Operations per run on this host: each bare run lasts a few tenths of a
/// second.
pub fn host_ops(kind: Kind, quick: bool) -> u64 {
    let full = match kind {
        Kind::Getppid => 2_000_000,
        Kind::OpenClose => 400_000,
        Kind::Socket => 200_000,
        Kind::Fork => 3_000,
        Kind::ForkExec => 1_000,
        other => compare::ops(other, false),
    };
    if quick {
        full / 2
    } else {
        full
    }
}

/// Runs `kinds` under every setup, `reps` interleaved rounds: in each
/// round every setup starts its tracer once and runs each workload under
/// it, so a change in the machine's load hits all setups alike.
pub fn rounds(
    ctx: &Ctx,
    kinds: &[Kind],
    setups: &[Setup],
    reps: usize,
    ops: impl Fn(Kind) -> u64,
    mut each: impl FnMut(usize, &Setup, Kind, &Outcome),
) -> Result<Samples> {
    let mut samples = Samples::default();
    for rep in 0..reps {
        for setup in setups {
            let out = ctx.dir.join(format!("tax-{}.out", setup.label));
            let extra: Vec<&str> = setup.extra.iter().map(String::as_str).collect();
            let tracer = match setup.mode {
                Mode::Bare => None,
                mode => Some(
                    Tracer::start(ctx, mode, &out, &extra)
                        .with_context(|| format!("starting {}", setup.label))?,
                ),
            };
            let mut result = Ok(());
            for &kind in kinds {
                let plan = Plan {
                    ops: Some(ops(kind)),
                    seconds: None,
                    rate: None,
                };
                match ctx.workload(kind, plan) {
                    Ok(o) => {
                        each(rep, setup, kind, &o);
                        samples.push(&setup.label, kind, o);
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            if let Some(t) = tracer {
                t.stop()
                    .with_context(|| format!("stopping {}", setup.label))?;
            }
            let _ = fs::remove_file(&out);
            result?;
        }
    }
    Ok(samples)
}

/// The places `nstrace probe --json` says it attaches to, for the hooks
/// `wanted` accepts; `method` forces one method, as `trace --method` does.
pub fn probe_targets(
    ctx: &Ctx,
    method: Option<&str>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<String>> {
    let mut cmd = std::process::Command::new(&ctx.nstrace);
    cmd.args(["probe", "--json"]);
    if let Some(m) = method {
        cmd.args(["--method", m]);
    }
    let text = crate::setup::output(&mut cmd)?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("nstrace probe --json printed {text:?}"))?;
    let mut targets = Vec::new();
    for hook in v["hooks"].as_array().context("probe JSON has no hooks")? {
        let name = hook["hook"].as_str().unwrap_or_default();
        if !wanted(name) {
            continue;
        }
        for t in hook["attached"].as_array().into_iter().flatten() {
            targets.extend(t.as_str().map(str::to_string));
        }
    }
    Ok(targets)
}

/// Hooks that report births and joins: what the system-tax target on a
/// tracepoint kernel is measured against.
pub fn births_hook(name: &str) -> bool {
    matches!(
        name,
        "unshare" | "setns" | "clone" | "exec" | "alloc_mnt_ns"
    )
}

/// `cargo xtask bench tax` on this host: bare, the floor of the hooks
/// births need, and nstrace.
pub fn run(ctx: &Ctx) -> Result<Vec<Target>> {
    let floor = probe_targets(ctx, None, births_hook)?;
    println!(
        "floor: empty programs on the hooks births and joins need here: {}",
        floor.join(" ")
    );
    let setups = [
        Setup::bare(),
        Setup::floor("floor", floor),
        Setup::nstrace(Vec::new()),
        Setup::floor("kmemfree", vec![KMEM_FREE.into()]),
    ];
    let kinds = Kind::SYSTEM_TAX;
    for k in kinds {
        println!(
            "  {:<10} {} ops per run: {}",
            k.name(),
            fmt_count(host_ops(k, ctx.quick)),
            k.describe()
        );
    }
    println!("{} interleaved rounds", ctx.reps);
    let samples = rounds(
        ctx,
        &kinds,
        &setups,
        ctx.reps,
        |k| host_ops(k, ctx.quick),
        |rep, setup, kind, o| {
            println!(
                "  round {} {:<8} {:<10} CPU {:>9}/op  wall {:>9}/op",
                rep + 1,
                setup.label,
                kind.name(),
                fmt_ns(o.cpu_per_op_ns()),
                fmt_ns(o.per_op_ns())
            );
        },
    )?;
    let table = table(&samples, &kinds, &setups);
    print!("{table}");
    println!("  (kmemfree: empty programs on {KMEM_FREE} only, which nstrace no longer attaches)");
    for &k in &kinds {
        programs_per_op(ctx, k, host_ops(k, ctx.quick))?;
    }
    Ok(kinds
        .iter()
        .filter_map(|&k| tax_target(&samples, k, "floor", "here (tracepoints)"))
        .collect())
}

/// Every slab free in the system: where nstrace saw net deaths on
/// tracepoint kernels before it walked the list of nets instead.
const KMEM_FREE: &str = "tracepoint:kmem:kmem_cache_free";

/// One nstrace run of `kind` with run-time statistics on: each of its
/// programs that ran, how often per operation and for how long. What
/// makes no namespace should run none but the cleanup-run walks'
/// workqueue programs, and those only when a work item runs.
fn programs_per_op(ctx: &Ctx, kind: Kind, ops: u64) -> Result<()> {
    let _stats = bpfstats::StatsOn::new()?;
    let out = ctx.dir.join(format!("tax-{}-stats.out", kind.name()));
    let tracer = Tracer::start(ctx, Mode::Nstrace, &out, &["--no-scan"])?;
    let before = bpfstats::of_process(tracer.pid());
    let outcome = ctx.workload(
        kind,
        Plan {
            ops: Some(ops),
            seconds: None,
            rate: None,
        },
    );
    let after = bpfstats::of_process(tracer.pid());
    tracer.stop()?;
    let _ = fs::remove_file(&out);
    let (before, outcome, after) = (before?, outcome?, after?);
    let ops = outcome.ops.max(1) as f64;
    let mut ran = 0;
    for p in &after {
        let b = before.iter().find(|q| q.id == p.id);
        let runs = p.run_cnt - b.map_or(0, |q| q.run_cnt);
        let ns = p.run_time_ns - b.map_or(0, |q| q.run_time_ns);
        if runs == 0 {
            continue;
        }
        ran += 1;
        println!(
            "  {:<10} {:<16} {:>9} runs, {:.4}/op, {} per run, {} per op",
            kind.name(),
            p.name,
            fmt_count(runs),
            runs as f64 / ops,
            fmt_ns(ns as f64 / runs as f64),
            fmt_ns(ns as f64 / ops)
        );
    }
    if ran == 0 {
        println!("  {:<10} none of nstrace's programs ran", kind.name());
    }
    Ok(())
}

/// A table of medians: per kind, each setup's CPU and wall per op and its
/// ratio to bare and to the floor.
pub fn table(samples: &Samples, kinds: &[Kind], setups: &[Setup]) -> String {
    let mut s = format!(
        "  {:<10} {:<9} {:>10} {:>7} {:>8} {:>10} {:>7}\n",
        "workload", "mode", "CPU/op", "x bare", "x floor", "wall/op", "x bare"
    );
    for &k in kinds {
        let Some((bare_cpu, bare_wall)) = samples.medians("bare", k) else {
            continue;
        };
        let floor_cpu = samples.medians("floor", k).map(|m| m.0);
        for setup in setups {
            let Some((cpu, wall)) = samples.medians(&setup.label, k) else {
                continue;
            };
            let vs_floor = match floor_cpu {
                Some(f) if setup.label != "bare" && setup.label != "kmemfree" => {
                    format!("{:.3}x", cpu / f)
                }
                _ => "-".to_string(),
            };
            s += &format!(
                "  {:<10} {:<9} {:>10} {:>6.3}x {:>8} {:>10} {:>6.3}x\n",
                k.name(),
                setup.label,
                fmt_ns(cpu),
                cpu / bare_cpu,
                vs_floor,
                fmt_ns(wall),
                wall / bare_wall
            );
        }
    }
    s += "  (medians of the interleaved rounds; CPU is the workload's own user + system time)\n";
    s
}

/// The system-tax target for `kind`: nstrace's CPU per op within
/// [`MAX_TAX`] of `reference` ("floor" on tracepoint kernels, "bare"
/// where nothing forces a hook onto every syscall).
pub fn tax_target(samples: &Samples, kind: Kind, reference: &str, place: &str) -> Option<Target> {
    let (ns, _) = samples.medians("nstrace", kind)?;
    let (base, _) = samples.medians(reference, kind)?;
    let (bare, _) = samples.medians("bare", kind)?;
    let ratio = ns / base;
    let floor_note = samples
        .medians("floor", kind)
        .map_or(String::new(), |(f, _)| {
            format!(", floor {:.3}x bare", f / bare)
        });
    Some(Target {
        name: format!("{} {place}: nstrace vs {reference}", kind.name()),
        goal: format!("≤ {MAX_TAX:.2}x"),
        measured: format!("{ratio:.3}x (CPU{floor_note})"),
        met: Some(ratio <= MAX_TAX),
        by: format!(
            "by {:.1} points: {} added per op over {reference}, {} allowed",
            (ratio - MAX_TAX) * 100.0,
            fmt_ns(ns - base),
            fmt_ns((MAX_TAX - 1.0) * base)
        ),
    })
}
