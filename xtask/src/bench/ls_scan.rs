//! `nstrace ls` against util-linux `lsns` on a crowded host: about 1,000
//! extra processes in a few hundred namespaces, several runs each, medians.
//! Everything it starts is killed and reaped before it returns.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Groups of processes; each group shares fresh uts, ipc and net namespaces.
const GROUPS: usize = 250;
/// Processes per group: one that unshares, the rest join with setns.
const PER_GROUP: usize = 4;
const RUNS: usize = 7;

/// The crowd; killed and reaped on drop, also when the benchmark fails.
struct Crowd(Vec<Child>);

impl Drop for Crowd {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

fn sleeper(
    setup: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
) -> anyhow::Result<Child> {
    let mut cmd = Command::new("sleep");
    cmd.arg("3600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the setup closures only make raw syscalls on prepared data.
    unsafe { cmd.pre_exec(setup) };
    cmd.spawn().context("cannot start `sleep` for the crowd")
}

fn last_os_error(ret: i32) -> std::io::Result<()> {
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn start_crowd() -> anyhow::Result<Crowd> {
    let mut crowd = Crowd(Vec::with_capacity(GROUPS * PER_GROUP));
    let flags = libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET;
    for _ in 0..GROUPS {
        // SAFETY: unshare with constant flags.
        let leader = sleeper(move || last_os_error(unsafe { libc::unshare(flags) }))
            .context("cannot unshare uts+ipc+net namespaces: run the benchmark as root")?;
        let pid = leader.id();
        crowd.0.push(leader);
        let paths: Vec<CString> = ["uts", "ipc", "net"]
            .iter()
            .map(|n| CString::new(format!("/proc/{pid}/ns/{n}")).expect("no NUL"))
            .collect();
        for _ in 1..PER_GROUP {
            let paths = paths.clone();
            crowd.0.push(sleeper(move || {
                for p in &paths {
                    // SAFETY: raw syscalls on a prepared path.
                    unsafe {
                        let fd = libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                        last_os_error(fd)?;
                        last_os_error(libc::setns(fd, 0))?;
                        libc::close(fd);
                    }
                }
                Ok(())
            })?);
        }
    }
    Ok(crowd)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Builds nstrace in release mode and returns its path.
fn build_nstrace() -> anyhow::Result<PathBuf> {
    let root = workspace_root();
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "tracer", "--bin", "nstrace"])
        .current_dir(&root)
        .status()
        .context("cannot run `cargo build --release -p tracer --bin nstrace`")?;
    if !status.success() {
        bail!("`cargo build --release -p tracer --bin nstrace` failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or(root.join("target"), PathBuf::from);
    Ok(target.join("release").join("nstrace"))
}

fn time_once(program: &Path, args: &[&str]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", program.display()))?;
    let took = start.elapsed();
    if !out.success() {
        bail!("{} {args:?} failed ({out})", program.display());
    }
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn count_lines(program: &Path, args: &[&str]) -> anyhow::Result<usize> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", program.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .count()
        .saturating_sub(1))
}

pub fn run() -> anyhow::Result<()> {
    let nstrace = build_nstrace()?;
    let lsns = PathBuf::from("lsns");
    let started = Instant::now();
    let crowd = start_crowd()?;
    println!(
        "ls_scan: started {} processes in {} groups of fresh uts+ipc+net namespaces in {:.2?}",
        crowd.0.len(),
        GROUPS,
        started.elapsed()
    );
    println!(
        "ls_scan: rows listed: nstrace ls {}, lsns {}",
        count_lines(&nstrace, &["ls"])?,
        count_lines(&lsns, &[])?
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        ours.push(time_once(&nstrace, &["ls"])?);
        theirs.push(time_once(&lsns, &[])?);
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!("ls_scan: median of {RUNS} runs: nstrace ls {ours:.2?}, lsns {theirs:.2?}");
    println!(
        "ls_scan: nstrace ls / lsns = {:.2} (nstrace also finds fds, sockets, tun fds, \
         mounts and the hierarchy; lsns reads /proc/*/ns only)",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    drop(crowd);
    Ok(())
}
