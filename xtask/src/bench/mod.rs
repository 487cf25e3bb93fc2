//! Benchmarks: `cargo xtask bench [NAME] [--quick]`.
//!
//! Every figure comes from a real run on this machine: workloads that make
//! namespaces with raw syscalls (workload.rs) run bare, under
//! `nstrace trace --json --output FILE` and under the equivalent bpftrace
//! script (xtask/bench/births.bt), interleaved, and the medians are
//! compared (compare.rs). Then a 10 s storm and paced runs check that
//! nothing is lost without being counted (loss.rs), the lifecycle engine's
//! memory for 100,000 live namespaces is measured (memory.rs), and the
//! kernel-side cost is split per eBPF program and profiled (profile.rs).
//! The end is a table of the targets, each met or missed and by how much.
//! Targets are checked here, not in timed tests: a slow shared machine must
//! not fail a build, but the numbers must be in front of whoever reads
//! them. BENCHMARKS.md records a full run.

mod agent;
mod bpfstats;
mod cleanup_cost;
mod compare;
mod floor;
mod guest;
mod loss;
mod ls_scan;
mod memory;
mod profile;
mod report_big;
mod tax;
mod tracers;
mod vm;
mod workload;

use std::{
    env,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context as _, Result};

use self::workload::{Kind, Outcome, Plan};
use crate::setup::{build_nstrace, cargo, ensure_apt_packages, is_root, output, workspace_root};

/// The benchmarks in the order a full run takes them.
const NAMES: &[(&str, &str)] = &[
    ("uts", "uts churn: bare vs nstrace vs bpftrace"),
    (
        "net",
        "net churn (deferred cleanup): bare vs nstrace vs bpftrace",
    ),
    ("clone", "clone storm: bare vs nstrace vs bpftrace"),
    (
        "container",
        "container-like start: bare vs nstrace vs bpftrace",
    ),
    (
        "tax",
        "work that makes no namespace (getppid, open/close, socket, fork, fork+exec): bare vs floor vs nstrace vs empty kmem_cache_free; eBPF runs per op",
    ),
    (
        "loss",
        "10 s full-speed uts storm and paced runs: events made vs recorded",
    ),
    (
        "memory",
        "lifecycle engine RSS with 100,000 live namespaces",
    ),
    (
        "profile",
        "where the added time goes: per-program eBPF time, perf profile",
    ),
    (
        "cleanup",
        "what the cleanup-run walks cost per run with 1,000 and 20,000 nets alive",
    ),
    ("ls", "nstrace ls against lsns, 1,000 extra processes"),
    ("report", "nstrace report on a 1,000,000-event log"),
    (
        "agent",
        "nstrace agent: idle CPU, CPU per event at 150,000/s, 100,000 live namespaces, why latency",
    ),
];

#[derive(clap::Args)]
#[command(after_help = "BENCHMARKS:
    uts, net, clone, container   bare vs nstrace vs bpftrace, interleaved
    tax                          getppid, open/close, socket, fork, fork+exec: bare vs floor
                                 vs nstrace vs empty kmem_cache_free; nstrace's eBPF runs per op
    loss                         10 s storm and paced runs: made vs recorded vs lost
    memory                       engine RSS with 100,000 live namespaces
    profile                      eBPF run time per program (bpf_stats), perf profile
    cleanup                      cleanup-run walk cost with 1,000 and 20,000 nets alive
    ls                           nstrace ls against lsns with 1,000 extra processes
    report                       nstrace report on a 1,000,000-event log
    agent                        the agent: idle CPU, reader CPU per event at 150,000/s,
                                 memory with 100,000 live namespaces, why latency

EXAMPLES:
    cargo xtask bench            # everything: 6 to 10 minutes, by the machine's load
    cargo xtask bench --quick    # everything, fewer and shorter runs: 4 to 6 minutes
    cargo xtask bench uts        # one benchmark
    flock /tmp/nstrace-vm.lock cargo xtask bench --vm   # in QEMU: 6.1, 6.12, newest x fentry, kprobe")]
pub struct BenchArgs {
    /// Run only this benchmark (see BENCHMARKS below).
    pub name: Option<String>,
    /// Fewer and shorter runs: quicker, noisier figures.
    #[arg(long)]
    pub quick: bool,
    /// Interleaved repetitions of each comparison [default: 5, --quick 3].
    #[arg(long, value_name = "N")]
    pub reps: Option<usize>,
    /// Run the system-tax and uts-churn rounds inside QEMU on Debian
    /// kernels, with fentry and with kprobe, instead of on this host.
    #[arg(long)]
    pub vm: bool,
    /// With --vm: the kernel to boot; repeat for several [default: all three].
    #[arg(long = "kernel", value_enum, value_name = "KERNEL", requires = "vm")]
    pub kernels: Vec<crate::vm::kernels::KernelChoice>,
    /// With --vm: the hook method; repeat for both [default: both].
    #[arg(
        long = "method",
        value_enum,
        value_name = "METHOD",
        value_delimiter = ','
    )]
    pub methods: Vec<crate::vm::Method>,
    /// Internal: run the in-guest benchmark (what /init starts under --vm).
    #[arg(long, hide = true)]
    pub guest: bool,
    /// Internal: run this workload here and print its outcome line.
    #[arg(long, hide = true, value_name = "KIND")]
    pub workload: Option<String>,
    /// Internal: the workload's operation count.
    #[arg(long, hide = true)]
    pub ops: Option<u64>,
    /// Internal: the workload's duration.
    #[arg(long, hide = true)]
    pub seconds: Option<f64>,
    /// Internal: the workload's pace in operations per second.
    #[arg(long, hide = true)]
    pub rate: Option<f64>,
    /// Internal: make --ops namespaces of this type held by fds, until
    /// stdin closes.
    #[arg(long, hide = true, value_name = "TYPE")]
    pub hold: Option<String>,
    /// Internal: hold empty programs on these comma-separated places
    /// (`tracepoint:CAT:NAME`, `kprobe:FUNC`, ...) until SIGINT.
    #[arg(long, hide = true, value_name = "TARGETS")]
    pub floor: Option<String>,
}

impl BenchArgs {
    /// A child the bench starts itself (a workload, a floor, a holder),
    /// which needs no tool installed and must start fast.
    pub fn is_internal(&self) -> bool {
        self.workload.is_some() || self.floor.is_some() || self.hold.is_some() || self.guest
    }
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if let Some(targets) = &args.floor {
        let targets: Vec<String> = targets
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        return floor::hold(&targets);
    }
    if let Some(kind) = &args.hold {
        return agent::hold(kind, args.ops.unwrap_or(1000));
    }
    let reps = args.reps.unwrap_or(if args.quick { 3 } else { 5 }).max(1);
    if args.guest {
        let methods: Vec<String> = args
            .methods
            .iter()
            .map(|m| m.as_str().to_string())
            .collect();
        return guest::run(&methods, reps, args.quick);
    }
    if let Some(kind) = &args.workload {
        let kind = Kind::from_name(kind).with_context(|| format!("unknown workload {kind:?}"))?;
        return workload::run_here(
            kind,
            Plan {
                ops: args.ops,
                seconds: args.seconds,
                rate: args.rate,
            },
        );
    }
    let selected: Vec<&str> = match &args.name {
        None => NAMES.iter().map(|(n, _)| *n).collect(),
        Some(n) if NAMES.iter().any(|(m, _)| m == n) => vec![n.as_str()],
        Some(n) => bail!(
            "no benchmark named {n:?}; there are: {}",
            NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ),
    };
    // `cargo xtask` builds in debug; the workloads and the log parsing must
    // not pay for that, so the whole bench runs from a release build.
    if cfg!(debug_assertions) {
        crate::setup::run(cargo().args(["build", "--release", "-p", "xtask", "--bin", "xtask"]))?;
        let exe = workspace_root().join("target/release/xtask");
        return crate::setup::run(Command::new(exe).args(env::args_os().skip(1)))
            .context("the release build of the bench failed (its error is above)");
    }
    if args.vm {
        ensure!(
            args.name.is_none(),
            "--vm runs the system-tax and uts rounds only; leave out {:?}",
            args.name.as_deref().unwrap_or_default()
        );
        let started = Instant::now();
        print_machine()?;
        let targets = vm::run(&vm::VmBench {
            kernels: &args.kernels,
            methods: &args.methods,
            reps,
            quick: args.quick,
        })?;
        print_targets(&targets);
        println!("\nbench: done in {:.0} s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    ensure!(
        is_root(),
        "the bench loads eBPF programs and makes namespaces: run `cargo xtask bench` as root"
    );
    ensure_apt_packages(&[
        ("bpftrace", "bpftrace"),
        ("perf", "linux-perf"),
        ("unshare", "util-linux"),
    ])?;
    let ctx = Ctx::new(args)?;
    let started = Instant::now();
    print_machine()?;
    let mut targets = Vec::new();
    for name in selected {
        let title = NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, t)| *t);
        println!("\n== {name}: {title}");
        let t = Instant::now();
        match name {
            "uts" | "net" | "clone" | "container" => {
                let kind = Kind::from_name(name).expect("NAMES and Kind agree");
                targets.extend(compare::run(&ctx, kind)?);
            }
            "tax" => targets.extend(tax::run(&ctx)?),
            "loss" => targets.extend(loss::run(&ctx)?),
            "memory" => targets.extend(memory::run(&ctx)?),
            "profile" => profile::run(&ctx)?,
            "cleanup" => targets.extend(cleanup_cost::run(&ctx)?),
            "ls" => ls_scan::run()?,
            "report" => report_big::run()?,
            "agent" => targets.extend(agent::run(&ctx)?),
            _ => unreachable!("checked against NAMES"),
        }
        println!("({name} took {:.0} s)", t.elapsed().as_secs_f64());
    }
    print_targets(&targets);
    println!("\nbench: done in {:.0} s", started.elapsed().as_secs_f64());
    if targets.iter().any(|t| t.met == Some(false)) {
        println!("bench: some targets were missed (see above); the bench itself succeeded");
    }
    Ok(())
}

/// What every benchmark needs: binaries, sizes, and where files go.
pub struct Ctx {
    pub quick: bool,
    pub reps: usize,
    pub nstrace: PathBuf,
    pub bpftrace_script: PathBuf,
    /// This (release) xtask binary, which runs the workloads.
    pub exe: PathBuf,
    /// target/bench: trace files, removed after each run.
    pub dir: PathBuf,
}

impl Ctx {
    fn new(args: &BenchArgs) -> Result<Ctx> {
        let nstrace = build_nstrace()?;
        let dir = workspace_root().join("target/bench");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let script = workspace_root().join("xtask/bench/births.bt");
        ensure!(script.is_file(), "{} is missing", script.display());
        Ok(Ctx {
            quick: args.quick,
            reps: args.reps.unwrap_or(if args.quick { 3 } else { 5 }).max(1),
            nstrace,
            bpftrace_script: script,
            exe: env::current_exe().context("finding the bench's own binary")?,
            dir,
        })
    }

    /// Runs a workload in a child process and returns what it reports.
    pub fn workload(&self, kind: Kind, plan: Plan) -> Result<Outcome> {
        let mut cmd = self.workload_command(kind, plan);
        Outcome::parse(&output(&mut cmd)?)
    }

    pub fn workload_command(&self, kind: Kind, plan: Plan) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args(["bench", "--workload", kind.name()]);
        if let Some(n) = plan.ops {
            cmd.arg("--ops").arg(n.to_string());
        }
        if let Some(s) = plan.seconds {
            cmd.arg("--seconds").arg(s.to_string());
        }
        if let Some(r) = plan.rate {
            cmd.arg("--rate").arg(r.to_string());
        }
        cmd
    }
}

/// One target of issue 7 and how this run did against it.
pub struct Target {
    pub name: String,
    pub goal: String,
    pub measured: String,
    /// `None` for a figure shown beside the targets without one of its own.
    pub met: Option<bool>,
    /// When missed: by how much.
    pub by: String,
}

pub fn print_targets(targets: &[Target]) {
    if targets.is_empty() {
        return;
    }
    println!("\n== targets");
    println!("{:<44} {:<22} {:<30} result", "target", "goal", "measured");
    for t in targets {
        let verdict = match t.met {
            None => "-".to_string(),
            Some(true) => "met".to_string(),
            Some(false) => format!("MISSED {}", t.by),
        };
        println!("{:<44} {:<22} {:<30} {verdict}", t.name, t.goal, t.measured);
    }
}

fn print_machine() -> Result<()> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .context("reading /proc/cpuinfo")?
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = output(Command::new("uname").arg("-r"))?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} CPUs ({cpu}), kernel {}, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

/// Median of `v` (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// Nanoseconds as the shortest readable unit.
pub fn fmt_ns(ns: f64) -> String {
    if ns.abs() >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns.abs() >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns.abs() >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub fn fmt_duration(d: Duration) -> String {
    fmt_ns(d.as_nanos() as f64)
}

/// An integer with thousands separators.
pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
