//! The workload programs: loops that make namespaces with raw syscalls as
//! fast as the kernel allows, or at a paced rate. They run in a child
//! process (`cargo xtask bench --workload KIND`, from a release build of
//! xtask) so that a tracer following them sees a pid the bench can filter
//! on, and so their timing covers the loop alone, not xtask's start-up.
//!
//! Every run prints one line on stdout, `ops=N ns=T cpu_ns=C pid=P`, which
//! [`Outcome::parse`] reads back. C is the loop's own CPU time (user +
//! system, this process and the children it reaped): on a shared machine the wall time T also
//! holds time spent waiting for a CPU, while the tracers' kernel-side work
//! runs in this process and so is in C.

use std::{
    io,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context as _, Result};

/// The namespaces each clone-storm child is born into: several types
/// whose creation is cheap, so the storm measures per-child tracing and
/// not net or mount setup (net churn and the container start cover those).
pub const CLONE_STORM_FLAGS: libc::c_int =
    libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWPID | libc::CLONE_NEWCGROUP;

/// What a container runtime does at start: a new mount, net, uts, ipc, pid
/// and cgroup namespace, a fork into the pid namespace and an exec.
pub const CONTAINER_ARGS: &[&str] = &["-fmnuipC", "/bin/true"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `unshare(CLONE_NEWUTS)` in a loop: one uts namespace born and the
    /// previous one freed per call, the cheapest namespace churn there is.
    Uts,
    /// `unshare(CLONE_NEWNET)` in a loop: every old net goes to the
    /// deferred `cleanup_net` work, which runs beside the loop.
    Net,
    /// A raw `clone` with [`CLONE_STORM_FLAGS`], the child exits at once,
    /// the parent reaps it.
    Clone,
    /// util-linux `unshare` [`CONTAINER_ARGS`]: the shell-out is the
    /// workload itself.
    Container,
    /// `getppid()` in a loop: a syscall and nothing else, which is what
    /// any syscall tracepoint taxes.
    Getppid,
    /// open and close /dev/null: a `struct file` made and freed.
    OpenClose,
    /// An AF_INET datagram socket made and closed: the socket takes a
    /// reference on its net namespace and drops it.
    Socket,
    /// fork, `_exit` in the child, wait: a process made and gone in no new
    /// namespace, which is what a hook on the fork path taxes.
    Fork,
    /// fork, exec of [`EXEC_PATH`] in the child, wait: what a hook on exec
    /// taxes too.
    ForkExec,
}

/// What the fork+exec workload's child runs: a program that exits 0 at
/// once (busybox's applet in the QEMU guests, coreutils on a host).
pub const EXEC_PATH: &str = "/bin/true";

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Uts,
        Kind::Net,
        Kind::Clone,
        Kind::Container,
        Kind::Getppid,
        Kind::OpenClose,
        Kind::Socket,
        Kind::Fork,
        Kind::ForkExec,
    ];

    /// Work that makes no namespace: what nstrace should not slow down.
    pub const SYSTEM_TAX: [Kind; 5] = [
        Kind::Getppid,
        Kind::OpenClose,
        Kind::Socket,
        Kind::Fork,
        Kind::ForkExec,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Uts => "uts",
            Kind::Net => "net",
            Kind::Clone => "clone",
            Kind::Container => "container",
            Kind::Getppid => "getppid",
            Kind::OpenClose => "openclose",
            Kind::Socket => "socket",
            Kind::Fork => "fork",
            Kind::ForkExec => "forkexec",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Uts => "unshare(CLONE_NEWUTS) loop",
            Kind::Net => "unshare(CLONE_NEWNET) loop (deferred cleanup_net)",
            Kind::Clone => "clone(NEWUTS|NEWIPC|NEWPID|NEWCGROUP) + exit + wait",
            Kind::Container => "unshare -fmnuipC /bin/true",
            Kind::Getppid => "getppid() loop",
            Kind::OpenClose => "open + close of /dev/null",
            Kind::Socket => "socket(AF_INET, SOCK_DGRAM) + close",
            Kind::Fork => "fork + _exit + wait, no new namespace",
            Kind::ForkExec => "fork + exec /bin/true + wait",
        }
    }
}

/// How long a run lasts and how fast it goes.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Stop after this many operations...
    pub ops: Option<u64>,
    /// ...or after this long, whichever comes first.
    pub seconds: Option<f64>,
    /// Operations per second; `None` is as fast as possible.
    pub rate: Option<f64>,
}

/// What one run of a workload did, as its child process reports it.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    pub ops: u64,
    pub elapsed: Duration,
    pub cpu: Duration,
    pub pid: u32,
}

impl Outcome {
    pub fn per_op_ns(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.ops.max(1) as f64
    }

    pub fn cpu_per_op_ns(&self) -> f64 {
        self.cpu.as_nanos() as f64 / self.ops.max(1) as f64
    }

    fn line(&self) -> String {
        format!(
            "ops={} ns={} cpu_ns={} pid={}",
            self.ops,
            self.elapsed.as_nanos(),
            self.cpu.as_nanos(),
            self.pid
        )
    }

    pub fn parse(stdout: &str) -> Result<Outcome> {
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("ops="))
            .with_context(|| format!("workload printed no `ops=` line: {stdout:?}"))?;
        let field = |key: &str| -> Result<u64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .with_context(|| format!("no {key} in workload line {line:?}"))?
                .parse()
                .with_context(|| format!("bad {key} in workload line {line:?}"))
        };
        Ok(Outcome {
            ops: field("ops=")?,
            elapsed: Duration::from_nanos(field("ns=")?),
            cpu: Duration::from_nanos(field("cpu_ns=")?),
            pid: u32::try_from(field("pid=")?).context("pid out of range")?,
        })
    }
}

/// Runs `kind` in this process and prints its [`Outcome`] line.
pub fn run_here(kind: Kind, plan: Plan) -> Result<()> {
    ensure!(
        plan.ops.is_some() || plan.seconds.is_some(),
        "a workload needs --ops or --seconds"
    );
    let outcome = match kind {
        Kind::Uts => churn(plan, || unshare(libc::CLONE_NEWUTS))?,
        Kind::Net => churn(plan, || unshare(libc::CLONE_NEWNET))?,
        Kind::Clone => churn(plan, clone_and_reap)?,
        Kind::Container => churn(plan, container_start)?,
        Kind::Getppid => churn(plan, || {
            // SAFETY: no arguments, cannot fail.
            unsafe { libc::getppid() };
            Ok(())
        })?,
        Kind::OpenClose => churn(plan, open_close)?,
        Kind::Socket => churn(plan, socket_close)?,
        Kind::Fork => churn(plan, || fork_and_reap(None))?,
        Kind::ForkExec => {
            let exec = Exec::new(EXEC_PATH)?;
            churn(plan, || fork_and_reap(Some(&exec)))?
        }
    };
    println!("{}", outcome.line());
    Ok(())
}

/// Calls `op` until the plan says stop, sleeping when ahead of a paced
/// rate. Sleeps happen only once a millisecond's worth of lead has built
/// up: sleeping per operation would cost more than the operation.
fn churn(plan: Plan, mut op: impl FnMut() -> Result<()>) -> Result<Outcome> {
    let max_ops = plan.ops.unwrap_or(u64::MAX);
    let max_time = plan.seconds.map(Duration::from_secs_f64);
    let cpu_start = self_cpu();
    let start = Instant::now();
    let mut done = 0u64;
    while done < max_ops {
        op()?;
        done += 1;
        // Reading the clock costs ~20 ns (vDSO); every 64 ops keeps that
        // under 1% of the cheapest operation.
        if !done.is_multiple_of(64) && plan.rate.is_none() {
            continue;
        }
        let now = start.elapsed();
        if max_time.is_some_and(|m| now >= m) {
            break;
        }
        if let Some(rate) = plan.rate {
            let due = Duration::from_secs_f64(done as f64 / rate);
            if due > now + Duration::from_millis(1) {
                std::thread::sleep(due - now);
            }
        }
    }
    let elapsed = start.elapsed();
    Ok(Outcome {
        ops: done,
        elapsed,
        cpu: self_cpu().saturating_sub(cpu_start),
        pid: std::process::id(),
    })
}

/// User + system time of this process and of its reaped children (the
/// clone storm's children, the container start's `unshare` and what it
/// ran), which did the workload's work too.
fn self_cpu() -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let mut total = Duration::ZERO;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage fills the struct it is given.
        let u = unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(who, &mut u);
            u
        };
        total += tv(u.ru_utime) + tv(u.ru_stime);
    }
    total
}

fn unshare(flags: libc::c_int) -> Result<()> {
    // SAFETY: unshare takes no pointers.
    if unsafe { libc::unshare(flags) } != 0 {
        bail!("unshare({flags:#x}): {}", io::Error::last_os_error());
    }
    Ok(())
}

fn clone_and_reap() -> Result<()> {
    let flags = (CLONE_STORM_FLAGS | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: without CLONE_VM and with a null stack this is fork(2) with
    // namespace flags: the child gets a copy of the address space and only
    // calls _exit, which is async-signal-safe.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        bail!("clone({flags:#x}): {}", io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    if r < 0 {
        bail!("waitpid({pid}): {}", io::Error::last_os_error());
    }
    Ok(())
}

fn open_close() -> Result<()> {
    // SAFETY: a NUL-terminated path; the fd is closed at once.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        bail!("open /dev/null: {}", io::Error::last_os_error());
    }
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    Ok(())
}

fn socket_close() -> Result<()> {
    // SAFETY: plain socket(2); the fd is closed at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        bail!(
            "socket(AF_INET, SOCK_DGRAM): {}",
            io::Error::last_os_error()
        );
    }
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    Ok(())
}

/// A program to exec, with its argv built before any fork: the child may
/// only call async-signal-safe functions, so it must not allocate.
struct Exec {
    path: std::ffi::CString,
}

impl Exec {
    fn new(path: &str) -> Result<Exec> {
        let exec = Exec {
            path: std::ffi::CString::new(path)?,
        };
        ensure!(
            std::path::Path::new(path).is_file(),
            "{path} is missing: the fork+exec workload runs it"
        );
        Ok(exec)
    }
}

fn fork_and_reap(exec: Option<&Exec>) -> Result<()> {
    // SAFETY: the child only calls execv and _exit, which are
    // async-signal-safe, on memory made before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork: {}", io::Error::last_os_error());
    }
    if pid == 0 {
        if let Some(e) = exec {
            let argv = [e.path.as_ptr(), std::ptr::null()];
            // SAFETY: see above; execv returns only on failure.
            unsafe { libc::execv(e.path.as_ptr(), argv.as_ptr()) };
            // SAFETY: see above.
            unsafe { libc::_exit(127) };
        }
        // SAFETY: see above.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        bail!("waitpid({pid}): {}", io::Error::last_os_error());
    }
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child failed (wait status {status:#x}){}",
        if exec.is_some() {
            format!(": could it exec {EXEC_PATH}?")
        } else {
            String::new()
        }
    );
    Ok(())
}

fn container_start() -> Result<()> {
    let mut cmd = Command::new("unshare");
    cmd.args(CONTAINER_ARGS);
    crate::setup::run(&mut cmd)
}
