//! `cargo xtask vm`: runs the in-guest tests (tracer/tests/vm_*.rs) on real
//! Debian kernels in QEMU, because the development host has neither kprobes
//! nor fentry. Each test binary runs once per hook method on each kernel.
//!
//! Steps: fetch the kernels (kernels.rs, apt.rs), build static guest
//! binaries (guest_bins.rs), pack them with busybox and /init into an
//! initramfs (initramfs.rs, cpio.rs, init.sh), boot each kernel and read its
//! console (qemu.rs, console.rs), then print a summary (summary.rs).

mod apt;
pub(crate) mod console;
pub(crate) mod cpio;
pub(crate) mod guest_bins;
pub(crate) mod initramfs;
pub(crate) mod kernels;
pub(crate) mod qemu;
mod summary;

use std::{
    fs,
    path::Path,
    sync::Mutex,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use self::kernels::{Kernel, KernelChoice};
use crate::setup;

/// Per VM (one kernel, one method), from QEMU's start to power off. Every
/// test under one method takes 450 to 700 s under TCG with two guests on
/// two host CPUs (the death tests most of it); a guest that runs past this
/// is stuck, not slow.
const DEFAULT_TIMEOUT_SECS: u64 = 1200;

#[derive(clap::Args, Default)]
pub struct VmArgs {
    /// Kernel to boot; repeat for several. Default: all three.
    #[arg(long = "kernel", value_enum, value_name = "KERNEL")]
    pub kernels: Vec<KernelChoice>,
    /// Run only this test binary (tracer/tests/NAME.rs; a glob like cargo's
    /// --test). Repeatable. Default: every vm_* test.
    #[arg(long = "test", value_name = "NAME")]
    pub tests: Vec<String>,
    /// Hook method to run the tests with; repeatable. Default: both.
    #[arg(long = "method", value_enum, value_name = "METHOD")]
    pub methods: Vec<Method>,
    /// Keep the initramfs as target/vm/initramfs.cpio instead of deleting it.
    #[arg(long)]
    pub keep: bool,
    /// Seconds each VM (one kernel, one method) may take from QEMU's start
    /// to power off [default: 1200].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Download the Debian package lists again even if they are less than a
    /// day old, to pick up newer kernels.
    #[arg(long)]
    pub refresh: bool,
    /// Print the kernel's whole boot log, not just warnings and worse.
    #[arg(long)]
    pub kernel_log: bool,
    /// Run up to N VMs at once [default: 1].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Arguments for every test binary, after `--` (a libtest name filter,
    /// --exact, --nocapture, ...).
    #[arg(last = true)]
    pub test_args: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    Fentry,
    Kprobe,
}

impl Method {
    pub(crate) const ALL: [Method; 2] = [Method::Fentry, Method::Kprobe];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Fentry => "fentry",
            Method::Kprobe => "kprobe",
        }
    }
}

pub fn run(args: &VmArgs) -> Result<()> {
    let started = Instant::now();
    let vm_dir = setup::workspace_root().join("target/vm");
    fs::create_dir_all(&vm_dir).with_context(|| format!("creating {}", vm_dir.display()))?;

    let choices = kernel_choices(args);
    let methods: Vec<&str> = if args.methods.is_empty() {
        &Method::ALL[..]
    } else {
        &args.methods
    }
    .iter()
    .map(|m| m.as_str())
    .collect();

    let kernels = choices
        .iter()
        .map(|&c| {
            kernels::fetch(&vm_dir, c, args.refresh)
                .with_context(|| format!("fetching the {} kernel", c.label()))
        })
        .collect::<Result<Vec<_>>>()?;
    kernels::prune(&vm_dir)?;
    let fetched = Instant::now();
    let bins = guest_bins::build(&args.tests).context("building the guest binaries")?;

    remove_abandoned_initramfs(&vm_dir);
    // Named per process: other engineers may run the VM tests from the same
    // checkout at the same time.
    let initrd = vm_dir.join(format!("initramfs-{}.cpio", std::process::id()));
    initramfs::write(
        &initrd,
        &initramfs::Plan {
            bins: &bins,
            methods: &methods,
            test_args: &args.test_args,
        },
    )
    .context("building the initramfs")?;
    let size = fs::metadata(&initrd).map(|m| m.len()).unwrap_or_default();
    eprintln!(
        "xtask: vm: initramfs {} ({:.1} MB): {} test binaries x {} methods",
        initrd.display(),
        size as f64 / 1e6,
        bins.tests.len(),
        methods.len()
    );

    let units: Vec<Unit> = kernels
        .iter()
        .flat_map(|kernel| methods.iter().map(move |&method| Unit { kernel, method }))
        .collect();
    let opts = qemu::Options {
        timeout: Duration::from_secs(args.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS)),
        kernel_log: args.kernel_log,
        cpus: 2,
    };
    let built = Instant::now();
    let results = boot_all(&units, &initrd, &opts, args.jobs.unwrap_or(1));
    let booted = Instant::now();

    if args.keep {
        let kept = vm_dir.join("initramfs.cpio");
        fs::rename(&initrd, &kept)
            .with_context(|| format!("renaming {} to {}", initrd.display(), kept.display()))?;
        eprintln!("xtask: vm: kept the initramfs as {}", kept.display());
    } else {
        fs::remove_file(&initrd).with_context(|| format!("removing {}", initrd.display()))?;
    }

    let tests: Vec<&str> = bins.tests.iter().map(|t| t.name.as_str()).collect();
    let (rows, failures) = verdicts(&units, results, &tests);
    println!();
    print!("{}", summary::table(&rows));
    println!(
        "xtask: vm: {} kernels, {} VMs in {:.0} s: kernels {:.0} s, build and initramfs {:.0} s, VMs {:.0} s",
        kernels.len(),
        units.len(),
        started.elapsed().as_secs_f64(),
        (fetched - started).as_secs_f64(),
        (built - fetched).as_secs_f64(),
        (booted - built).as_secs_f64(),
    );
    if !failures.is_empty() {
        bail!("VM tests failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// The kernels asked for, each once, in the order given.
fn kernel_choices(args: &VmArgs) -> Vec<KernelChoice> {
    unique_kernels(&args.kernels)
}

/// `asked` without repeats, in order; all kernels if empty.
pub(crate) fn unique_kernels(asked: &[KernelChoice]) -> Vec<KernelChoice> {
    let asked = if asked.is_empty() {
        &KernelChoice::ALL[..]
    } else {
        asked
    };
    let mut choices = Vec::new();
    for &c in asked {
        if !choices.contains(&c) {
            choices.push(c);
        }
    }
    choices
}

/// One VM: a kernel running every test binary under one hook method. A
/// kernel's methods get a VM each, so that two host CPUs share six VMs of
/// about even length instead of three kernels of twice that (the third
/// kernel then ran alone on one CPU for as long as the first two together).
struct Unit<'a> {
    kernel: &'a Kernel,
    method: &'a str,
}

impl Unit<'_> {
    /// The console prefix, and the name failures carry.
    fn label(&self) -> String {
        format!("{} {}", self.kernel.choice.label(), self.method)
    }
}

/// The summary rows, and every failure, each named by its kernel and
/// method.
fn verdicts(
    units: &[Unit],
    results: Vec<Result<console::Transcript>>,
    tests: &[&str],
) -> (Vec<summary::Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (unit, result) in units.iter().zip(results) {
        let name = format!(
            "{} ({}) {}",
            unit.kernel.choice.label(),
            unit.kernel.release,
            unit.method
        );
        match result {
            Ok(transcript) => {
                rows.extend(summary::rows(unit.kernel, &transcript, &[unit.method]));
                let expected: Vec<(String, String)> = tests
                    .iter()
                    .map(|t| ((*t).to_string(), unit.method.to_string()))
                    .collect();
                failures.extend(
                    transcript
                        .failures(&expected)
                        .into_iter()
                        .map(|f| format!("{name}: {f}")),
                );
            }
            Err(err) => failures.push(format!("{name}: {err:#}")),
        }
    }
    (rows, failures)
}

/// Deletes initramfs images of runs that were killed before their cleanup:
/// each is named after its process, so a dead process's image is nobody's.
pub(crate) fn remove_abandoned_initramfs(vm_dir: &Path) {
    let Ok(entries) = fs::read_dir(vm_dir) else {
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let pid = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("initramfs-")?.strip_suffix(".cpio"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            // Ignored: another run may be removing the same file.
            let _ = fs::remove_file(&path);
        }
    }
}

/// Boots every unit's VM, `jobs` at a time, and returns their transcripts
/// in the units' order.
fn boot_all(
    units: &[Unit],
    initrd: &Path,
    opts: &qemu::Options,
    jobs: usize,
) -> Vec<Result<console::Transcript>> {
    // In the units' order: six VMs of 470 to 660 s on two CPUs end within a
    // minute of each other whatever the order (measured, 2026-12-01).
    let next = Mutex::new(0..units.len());
    let results: Vec<Mutex<Option<Result<console::Transcript>>>> =
        units.iter().map(|_| Mutex::new(None)).collect();
    thread::scope(|s| {
        for _ in 0..jobs.clamp(1, units.len().max(1)) {
            s.spawn(|| loop {
                // A statement of its own: in a `while let` condition the
                // guard would live through the boot and serialize the jobs.
                let i = next.lock().expect("no panics holding the lock").next();
                let Some(i) = i else { break };
                let u = &units[i];
                let result = qemu::boot(
                    &u.label(),
                    &u.kernel.vmlinuz,
                    initrd,
                    &[("nstrace_method", u.method)],
                    opts,
                );
                *results[i].lock().expect("no panics holding the lock") = Some(result);
            });
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .expect("no panics holding the lock")
                .expect("every unit was booted")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::{path::PathBuf, time::Instant};

    use super::*;

    fn transcript(lines: &[&str]) -> console::Transcript {
        let t0 = Instant::now();
        let mut t = console::Transcript::new(t0);
        for line in lines {
            t.feed(line, t0);
        }
        t
    }

    /// Each VM runs one method: it must be held to that method's runs, and
    /// a failure must name its kernel and method.
    #[test]
    fn each_vm_answers_for_its_own_method() {
        let kernel = Kernel {
            choice: KernelChoice::V6_12,
            release: "6.12.0-1-cloud-amd64".into(),
            vmlinuz: PathBuf::from("/nonexistent"),
        };
        let units = [
            Unit {
                kernel: &kernel,
                method: "kprobe",
            },
            Unit {
                kernel: &kernel,
                method: "fentry",
            },
        ];
        let ok = |method: &str| {
            transcript(&[
                "nstrace-vm: kernel 6.12.0-1-cloud-amd64",
                &format!("nstrace-vm: begin vm_smoke {method}"),
                "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
                &format!("nstrace-vm: end vm_smoke {method} 0"),
                "nstrace-vm: success",
            ])
        };
        let (rows, failures) = verdicts(
            &units,
            vec![Ok(ok("kprobe")), Ok(ok("fentry"))],
            &["vm_smoke"],
        );
        assert_eq!(failures, Vec::<String>::new());
        assert_eq!(rows.len(), 2);

        // The fentry VM ran the kprobe tests instead (its kernel command line
        // was not heeded): a failure, named by kernel and method.
        let (_, failures) = verdicts(
            &units,
            vec![Ok(ok("kprobe")), Ok(ok("kprobe"))],
            &["vm_smoke"],
        );
        assert_eq!(
            failures,
            ["6.12 (6.12.0-1-cloud-amd64) fentry: vm_smoke (fentry) never ran"]
        );
    }
}
