//! Starting a tracer, knowing when it is attached, and what it cost and
//! recorded once stopped.
//!
//! CPU time is the tracer process's own (user + system, all threads) from
//! the moment it was attached to its exit, so start-up work (BTF parsing,
//! loading, nstrace's /proc scan, bpftrace's LLVM compile) is left out but
//! the final drain of the buffers is counted. Time the eBPF programs spend
//! is not in it: they run in the traced task, so it shows in the
//! workload's own time (split out by profile.rs).

use std::{
    fs,
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use super::Ctx;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bare,
    Nstrace,
    Bpftrace,
    /// Empty programs on the places named by the tracer's `extra`
    /// arguments (floor.rs): what any tracer on those hooks pays before
    /// doing any work.
    Floor,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Bare, Mode::Nstrace, Mode::Bpftrace];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Bare => "bare",
            Mode::Nstrace => "nstrace",
            Mode::Bpftrace => "bpftrace",
            Mode::Floor => "floor",
        }
    }
}

/// The line births.bt prints from BEGIN, which runs once every probe is
/// attached.
const BPFTRACE_READY: &str = "births.bt: attached";
/// What nstrace prints on stderr once its programs are attached.
const NSTRACE_READY: &str = "nstrace: hooks:";
/// Loading takes a second or two; bpftrace's LLVM compile on a busy
/// machine can take much longer.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Tracer {
    mode: Mode,
    child: Child,
    command: String,
    pub out: PathBuf,
    stderr: thread::JoinHandle<Vec<String>>,
    cpu_at_attach: Duration,
}

/// What a stopped tracer recorded and cost.
#[derive(Clone, Debug, Default)]
pub struct Stopped {
    /// Records of namespaces (nstrace: every kind but `present` and `lost`;
    /// bpftrace: its birth and join lines).
    pub events: u64,
    /// Records the tracer knows it lost.
    pub lost: u64,
    /// CPU time of the tracer process from attach to exit.
    pub cpu: Duration,
    /// nstrace's exit summary line, for the record.
    pub summary: String,
}

impl Tracer {
    /// Starts the tracer for `mode` (not [`Mode::Bare`]) writing to `out`,
    /// and returns once it is attached. `extra` are more arguments for
    /// nstrace or bpftrace, or the floor's targets.
    pub fn start(ctx: &Ctx, mode: Mode, out: &Path, extra: &[&str]) -> Result<Tracer> {
        let _ = fs::remove_file(out);
        let mut cmd = match mode {
            Mode::Bare => bail!("bare runs have no tracer"),
            Mode::Nstrace => {
                let mut c = Command::new(&ctx.nstrace);
                c.args(["trace", "--json", "--output"]).arg(out).args(extra);
                c
            }
            Mode::Bpftrace => {
                let mut c = Command::new("bpftrace");
                c.arg("-o").arg(out).args(extra).arg(&ctx.bpftrace_script);
                c
            }
            Mode::Floor => {
                let mut c = Command::new(&ctx.exe);
                c.args(["bench", "--floor", &extra.join(",")]);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let command = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .with_context(|| format!("failed to run {command}"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        let stderr = thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                lines.push(line);
            }
            lines
        });
        let mut tracer = Tracer {
            mode,
            child,
            command,
            out: out.to_path_buf(),
            stderr,
            cpu_at_attach: Duration::ZERO,
        };
        tracer.wait_attached(&rx)?;
        tracer.cpu_at_attach = proc_cpu(tracer.pid())?;
        Ok(tracer)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_attached(&mut self, stderr: &mpsc::Receiver<String>) -> Result<()> {
        let start = Instant::now();
        let mut marker_seen = false;
        loop {
            marker_seen |= match self.mode {
                Mode::Nstrace | Mode::Floor => {
                    match stderr.recv_timeout(Duration::from_millis(20)) {
                        Ok(line) => line.starts_with(NSTRACE_READY) || line == super::floor::READY,
                        // A closed stderr means it exited: try_wait says so.
                        Err(_) => false,
                    }
                }
                Mode::Bpftrace => {
                    thread::sleep(Duration::from_millis(20));
                    fs::read_to_string(&self.out).is_ok_and(|s| s.contains(BPFTRACE_READY))
                }
                Mode::Bare => true,
            };
            // nstrace says its hooks are attached before it installs its
            // signal handlers: a SIGTERM in between would kill it without
            // a summary. So "ready" also means it catches SIGTERM.
            if marker_seen && (self.mode == Mode::Floor || catches_sigterm(self.pid())) {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {}", self.command))?
            {
                let lines = std::mem::replace(&mut self.stderr, thread::spawn(Vec::new))
                    .join()
                    .unwrap_or_default();
                bail!(
                    "{} exited with {status} before attaching:\n{}",
                    self.command,
                    lines.join("\n")
                );
            }
            if start.elapsed() > ATTACH_TIMEOUT {
                // SAFETY: our own child.
                unsafe { libc::kill(self.pid() as i32, libc::SIGKILL) };
                let _ = self.child.wait();
                bail!(
                    "{} did not attach within {} s",
                    self.command,
                    ATTACH_TIMEOUT.as_secs()
                );
            }
        }
    }

    /// Peak resident set so far (VmHWM), in KiB.
    pub fn vm_hwm_kib(&self) -> Result<u64> {
        status_kib(self.pid(), "VmHWM:")
    }

    /// Resident set now (VmRSS), in KiB.
    pub fn vm_rss_kib(&self) -> Result<u64> {
        status_kib(self.pid(), "VmRSS:")
    }

    /// Stops the tracer with SIGTERM (all of them drain and summarise on it;
    /// SIGINT may be ignored when the bench runs in the background) and
    /// returns what it recorded. The output file is left for the caller.
    pub fn stop(self) -> Result<Stopped> {
        let pid = self.pid() as i32;
        // SAFETY: kill and wait4 on our own child, with valid out-pointers.
        let (status, usage) = unsafe {
            libc::kill(pid, libc::SIGTERM);
            let mut status = 0;
            let mut usage: libc::rusage = std::mem::zeroed();
            if libc::wait4(pid, &mut status, 0, &mut usage) != pid {
                bail!(
                    "waiting for {}: {}",
                    self.command,
                    std::io::Error::last_os_error()
                );
            }
            (status, usage)
        };
        let lines = self.stderr.join().unwrap_or_default();
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            bail!(
                "{} failed (wait status {status:#x}):\n{}",
                self.command,
                lines.join("\n")
            );
        }
        let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
        let cpu = cpu.saturating_sub(self.cpu_at_attach);
        match self.mode {
            Mode::Nstrace => {
                let summary = lines
                    .iter()
                    .find(|l| l.starts_with("nstrace: ") && l.contains(" events in "))
                    .with_context(|| {
                        format!(
                            "{} printed no summary line:\n{}",
                            self.command,
                            lines.join("\n")
                        )
                    })?
                    .clone();
                let (events, lost) = parse_nstrace_summary(&summary)?;
                Ok(Stopped {
                    events,
                    lost,
                    cpu,
                    summary,
                })
            }
            Mode::Bpftrace => {
                let (events, mut lost) = count_bpftrace_output(&self.out)?;
                lost += lines
                    .iter()
                    .filter_map(|l| parse_bpftrace_lost(l))
                    .sum::<u64>();
                Ok(Stopped {
                    events,
                    lost,
                    cpu,
                    summary: String::new(),
                })
            }
            Mode::Floor => Ok(Stopped {
                cpu,
                ..Stopped::default()
            }),
            Mode::Bare => unreachable!("no tracer was started"),
        }
    }
}

/// `nstrace: N events in S s (present P, birth B, ...); L lost` → the
/// events that are not the start-up scan's `present` records, and L.
fn parse_nstrace_summary(line: &str) -> Result<(u64, u64)> {
    let bad = || format!("unexpected nstrace summary {line:?}");
    let rest = line.strip_prefix("nstrace: ").with_context(bad)?;
    let total: u64 = rest
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(bad)?;
    let present: u64 = rest
        .split_once("present ")
        .and_then(|(_, r)| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let lost: u64 = rest
        .rsplit_once("; ")
        .and_then(|(_, r)| r.strip_suffix(" lost"))
        .and_then(|n| n.parse().ok())
        .with_context(bad)?;
    Ok((total - present, lost))
}

/// bpftrace says `Lost N events` when its perf buffer overflowed.
fn parse_bpftrace_lost(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once("Lost ")?;
    let n = rest.split_whitespace().next()?.parse().ok()?;
    rest.contains("events").then_some(n)
}

fn count_bpftrace_output(path: &Path) -> Result<(u64, u64)> {
    let f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut events, mut lost) = (0, 0);
    for line in BufReader::new(f).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.starts_with("birth ") || line.starts_with("join ") {
            events += 1;
        } else if let Some(n) = parse_bpftrace_lost(&line) {
            lost += n;
        }
    }
    Ok((events, lost))
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// utime + stime of a live process, from /proc/PID/stat (clock ticks).
pub fn proc_cpu(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The comm field may hold spaces and parentheses: fields are counted
    // from the last ')'. utime and stime are fields 14 and 15.
    let after = stat
        .rsplit_once(')')
        .with_context(|| format!("{path}: {stat:?}"))?
        .1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        f.get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{path}: field {} in {stat:?}", i + 3))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let t = ticks(11)? + ticks(12)?;
    Ok(Duration::from_nanos(t * 1_000_000_000 / hz))
}

/// Whether the process has a handler for SIGTERM (SigCgt in
/// /proc/PID/status, a hex mask with bit N-1 for signal N).
fn catches_sigterm(pid: u32) -> bool {
    let Ok(s) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

pub fn status_kib(pid: u32, key: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let s = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{path} has no {key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nstrace_summary_without_present_records() {
        let line = "nstrace: 4074 events in 608.5 s (present 10, birth 4054, join 10); 3 lost";
        assert_eq!(parse_nstrace_summary(line).unwrap(), (4064, 3));
        let none = "nstrace: 0 events in 1.0 s (none); 0 lost";
        assert_eq!(parse_nstrace_summary(none).unwrap(), (0, 0));
    }

    #[test]
    fn bpftrace_lost_line() {
        assert_eq!(parse_bpftrace_lost("Lost 1234 events"), Some(1234));
        assert_eq!(parse_bpftrace_lost("birth uts 1 2 Lost"), None);
    }
}
