//! `cargo xtask bench --vm`: the system-tax and uts-churn rounds inside QEMU
//! on the Debian kernels (6.1, 6.12, newest), which have the fentry and
//! kprobe methods this host lacks. Static (musl) builds of nstrace and of
//! this xtask go into an initramfs with busybox; /init runs
//! `xtask bench --guest` (guest.rs), whose `nstrace-vm: bench` lines are
//! read off the console and turned into one table and one set of targets
//! per kernel and method. The guest has one vCPU (see guest.rs).

use std::{
    collections::BTreeMap,
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context as _, Result};

use super::{
    fmt_ns, guest, print_targets,
    tax::{self, Samples, Setup},
    tracers::Mode,
    workload::{Kind, Outcome},
    Target,
};
use crate::{
    setup::{self, cargo, workspace_root},
    vm::{
        console::Transcript,
        guest_bins::{ensure_musl_target, GUEST_TARGET},
        initramfs::{shell_quote, write_image},
        kernels::{self, KernelChoice},
        qemu, remove_abandoned_initramfs, unique_kernels, Method,
    },
};

/// Target on fentry and kprobe kernels: uts churn under nstrace at most
/// this many times bare (workload CPU per op).
pub const MAX_UTS_RATIO: f64 = 1.15;

/// Per kernel, from QEMU's start to power off: a full run takes 10 to 20
/// minutes per kernel under TCG on a loaded 2-core host.
const TIMEOUT: Duration = Duration::from_secs(3600);

pub struct VmBench<'a> {
    pub kernels: &'a [KernelChoice],
    pub methods: &'a [Method],
    pub reps: usize,
    pub quick: bool,
}

pub fn run(b: &VmBench) -> Result<Vec<Target>> {
    let started = Instant::now();
    let vm_dir = workspace_root().join("target/vm");
    fs::create_dir_all(&vm_dir).with_context(|| format!("creating {}", vm_dir.display()))?;
    let kernels = unique_kernels(b.kernels)
        .into_iter()
        .map(|c| {
            kernels::fetch(&vm_dir, c, false)
                .with_context(|| format!("fetching the {} kernel", c.label()))
        })
        .collect::<Result<Vec<_>>>()?;
    let methods: Vec<&str> = if b.methods.is_empty() {
        Method::ALL.iter().map(|m| m.as_str()).collect()
    } else {
        b.methods.iter().map(|m| m.as_str()).collect()
    };

    let (nstrace, xtask) = build_static()?;
    remove_abandoned_initramfs(&vm_dir);
    let initrd = vm_dir.join(format!("initramfs-{}.cpio", std::process::id()));
    let mut args = vec!["--method".to_string(), methods.join(",")];
    args.extend(["--reps".to_string(), b.reps.to_string()]);
    if b.quick {
        args.push("--quick".into());
    }
    let quoted: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    let config = format!("BENCH=1\nset -- {}\n", quoted.join(" "));
    write_image(
        &initrd,
        &config,
        &[("bin/nstrace".into(), nstrace), ("bin/xtask".into(), xtask)],
    )
    .context("building the benchmark initramfs")?;

    let opts = qemu::Options {
        timeout: TIMEOUT,
        kernel_log: false,
        cpus: 1,
    };
    let mut targets = Vec::new();
    let mut failures = Vec::new();
    let mut reports = Vec::new();
    for k in &kernels {
        let name = format!("{} ({})", k.choice.label(), k.release);
        println!("\n== vm {name}");
        let t = Instant::now();
        match qemu::boot(k.choice.label(), &k.vmlinuz, &initrd, &[], &opts) {
            Ok(transcript) => {
                let mut problems = transcript.problems.clone();
                if transcript.verdict != Some(crate::vm::console::Verdict::Success) {
                    problems.push("the in-guest benchmark did not report success".into());
                }
                let release = transcript.release.clone().unwrap_or(k.release.clone());
                let report = report(&release, &transcript, &methods);
                targets.extend(report.1);
                reports.push(report.0);
                failures.extend(problems.into_iter().map(|p| format!("{name}: {p}")));
            }
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
        println!("({name} took {:.0} s)", t.elapsed().as_secs_f64());
    }
    let _ = fs::remove_file(&initrd);
    println!(
        "\n== vm results (workload CPU per op, medians of {} rounds)",
        b.reps
    );
    for r in &reports {
        print!("{r}");
    }
    println!(
        "bench --vm: done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        print_targets(&targets);
        bail!("the VM benchmark failed:\n  {}", failures.join("\n  "));
    }
    Ok(targets)
}

/// Release builds of nstrace and this xtask for the guest: static, so the
/// initramfs needs no shared library.
fn build_static() -> Result<(PathBuf, PathBuf)> {
    ensure_musl_target()?;
    eprintln!("xtask: bench: building nstrace and xtask for {GUEST_TARGET} (release)");
    setup::run(cargo().args([
        "build",
        "--quiet",
        "--release",
        "--target",
        GUEST_TARGET,
        "--package",
        "tracer",
        "--bin",
        "nstrace",
        "--package",
        "xtask",
        "--bin",
        "xtask",
    ]))?;
    let dir = workspace_root()
        .join("target")
        .join(GUEST_TARGET)
        .join("release");
    let (n, x) = (dir.join("nstrace"), dir.join("xtask"));
    ensure!(
        n.is_file() && x.is_file(),
        "the build left no {} and {}",
        n.display(),
        x.display()
    );
    Ok((n, x))
}

/// One kernel's tables and targets, from its `nstrace-vm: bench` lines.
fn report(release: &str, transcript: &Transcript, methods: &[&str]) -> (String, Vec<Target>) {
    let mut text = String::new();
    let mut targets = Vec::new();
    let setups = [
        Setup::bare(),
        Setup {
            label: "floor".into(),
            mode: Mode::Floor,
            extra: Vec::new(),
        },
        Setup {
            label: "nstrace".into(),
            mode: Mode::Nstrace,
            extra: Vec::new(),
        },
    ];
    for &method in methods {
        let mut samples = Samples::default();
        let mut floor = String::new();
        let mut progs = Vec::new();
        for line in &transcript.bench {
            let kv = parse_kv(line);
            if kv.get("method").map(String::as_str) != Some(method) {
                continue;
            }
            match line.split_whitespace().next() {
                Some("sample") => {
                    let (Some(label), Some(kind)) = (
                        kv.get("setup"),
                        kv.get("kind").and_then(|k| Kind::from_name(k)),
                    ) else {
                        continue;
                    };
                    let num = |k: &str| kv.get(k).and_then(|v| v.parse::<u64>().ok());
                    let (Some(ops), Some(ns), Some(cpu)) = (num("ops"), num("ns"), num("cpu_ns"))
                    else {
                        continue;
                    };
                    samples.push(
                        label,
                        kind,
                        Outcome {
                            ops,
                            elapsed: Duration::from_nanos(ns),
                            cpu: Duration::from_nanos(cpu),
                            pid: 0,
                        },
                    );
                }
                Some("floor") => floor = kv.get("targets").cloned().unwrap_or_default(),
                Some("prog") => progs.push(kv),
                _ => {}
            }
        }
        text += &format!("\n{release}, {method}: floor = empty programs on {floor}\n");
        text += &tax::table(&samples, &guest::KINDS, &setups);
        for p in &progs {
            let num = |k: &str| p.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            text += &format!(
                "  eBPF {:<18} {:>6.2} runs/op {:>9}/run {:>9}/op (BPF_ENABLE_STATS, TCG)\n",
                p.get("name").map_or("?", String::as_str),
                num("runs") / num("ops").max(1.0),
                fmt_ns(num("run_ns") / num("runs").max(1.0)),
                fmt_ns(num("run_ns") / num("ops").max(1.0)),
            );
        }
        let place = format!("{release} {method}");
        if let (Some((ns, _)), Some((bare, _))) = (
            samples.medians("nstrace", Kind::Uts),
            samples.medians("bare", Kind::Uts),
        ) {
            let ratio = ns / bare;
            let floor = samples
                .medians("floor", Kind::Uts)
                .map_or(String::new(), |(f, _)| format!(", floor {:.3}x", f / bare));
            targets.push(Target {
                name: format!("uts {place}: nstrace vs bare"),
                goal: format!("≤ {MAX_UTS_RATIO:.2}x"),
                measured: format!("{ratio:.3}x (CPU{floor})"),
                met: Some(ratio <= MAX_UTS_RATIO),
                by: format!(
                    "by {:.0} points: {} added per op, {} allowed",
                    (ratio - MAX_UTS_RATIO) * 100.0,
                    fmt_ns(ns - bare),
                    fmt_ns((MAX_UTS_RATIO - 1.0) * bare)
                ),
            });
        }
        for k in Kind::SYSTEM_TAX {
            targets.extend(tax::tax_target(&samples, k, "bare", &place));
        }
    }
    (text, targets)
}

/// `word key=value key=value ...` as a map (the leading word is skipped).
fn parse_kv(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_parse() {
        let kv = parse_kv("sample method=fentry setup=bare kind=uts round=1 ops=10 ns=5 cpu_ns=4");
        assert_eq!(kv["setup"], "bare");
        assert_eq!(kv["cpu_ns"], "4");
        assert!(!kv.contains_key("sample"));
    }
}
