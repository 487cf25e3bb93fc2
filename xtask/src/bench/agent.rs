//! What the agent costs (issues 12 and 14): CPU when idle, CPU per event at
//! 150,000 events/s, memory with 100,000 live namespaces and the query
//! index, and how fast `why` answers with that many tracked.
//!
//! - Idle: `nstrace agent` (log, socket, metrics) left alone; its CPU is
//!   the sum of every thread's on-CPU time (/proc/PID/task/*/schedstat,
//!   nanoseconds) over the window. The host is shared: namespace events
//!   of other people's work during the window are counted and shown.
//! - Reader: a uts churn paced at 150,000/s under the agent (log, index,
//!   metrics) and under `nstrace trace --json` to /dev/null; the tracer's
//!   CPU from the workload's start until its records are all out, over the
//!   events.
//! - 100,000 live: ten holder processes each make 10,000 uts or cgroup
//!   namespaces (the kernel allows 96,365 of one type per user here) and
//!   keep each one alive by an open /proc/self/ns fd, with no task left
//!   inside. Twice: under an agent whose linger grace no run reaches, so
//!   it only tracks them (VmRSS and VmHWM once every birth is recorded),
//!   then under one with a 2 s grace, where all of them linger at once
//!   and the holder scan names each fd (VmRSS and VmHWM once every linger
//!   is written). The
//!   pipeline's own growth for 100,000 synthetic births
//!   (`pipeline::tests::agent_rss`) beside it. `why` latency is the round
//!   trip of 1,000 socket requests for held namespaces.

use std::{
    fs,
    io::{BufRead as _, BufReader, Read as _, Write as _},
    os::unix::net::UnixStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};

use super::{
    fmt_count, fmt_ns, median,
    tracers::status_kib,
    workload::{Kind, Plan},
    Ctx, Target,
};
use crate::setup::{cargo, output};

const IDLE_MAX_PERCENT: f64 = 0.1;
const READER_MAX_NS: f64 = 500.0;
const RSS_MAX_MIB: f64 = 30.0;
const WHY_MAX_MS: f64 = 50.0;
const RATE: f64 = 150_000.0;
/// Namespaces per holder process (its fd limit here is 20,000).
const PER_HOLDER: u64 = 10_000;

pub fn run(ctx: &Ctx) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    targets.extend(idle(ctx)?);
    targets.extend(reader(ctx)?);
    targets.extend(hundred_thousand(ctx)?);
    Ok(targets)
}

struct Agent {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
    stderr: thread::JoinHandle<Vec<String>>,
}

impl Agent {
    fn start(ctx: &Ctx, name: &str, extra: &[&str]) -> Result<Agent> {
        let dir = ctx.dir.join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let socket = dir.join("run/agent.sock");
        let mut cmd = Command::new(&ctx.nstrace);
        cmd.arg("agent")
            .arg("--log")
            .arg(dir.join("agent.jsonl"))
            .arg("--socket")
            .arg(&socket)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting nstrace agent")?;
        let pipe = child.stderr.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        let stderr = thread::spawn(move || {
            let mut lines = Vec::new();
            for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(l.clone());
                lines.push(l);
            }
            lines
        });
        loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(l) if l.starts_with("nstrace agent: ready") => break,
                Ok(_) => {}
                Err(_) => bail!("the agent did not get ready: {:?}", child.try_wait()),
            }
        }
        Ok(Agent {
            child,
            socket,
            dir,
            stderr,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn ask(&self, request: &str) -> Result<String> {
        let mut s = UnixStream::connect(&self.socket)
            .with_context(|| format!("connecting to {}", self.socket.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.write_all(request.as_bytes())?;
        s.write_all(b"\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    /// Records written so far, from `status`.
    fn records(&self) -> Result<u64> {
        let a = self.ask(r#"{"request":"status"}"#)?;
        number(&a, "records").with_context(|| format!("status without records: {a}"))
    }

    fn stop(mut self) -> Result<Vec<String>> {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait()?;
        let lines = self.stderr.join().unwrap_or_default();
        let _ = fs::remove_dir_all(&self.dir);
        if !status.success() {
            bail!("the agent failed ({status}):\n{}", lines.join("\n"));
        }
        Ok(lines)
    }
}

/// On-CPU time of every thread of `pid`, in ns.
fn cpu_ns(pid: u32) -> Result<u64> {
    let mut total = 0;
    for t in fs::read_dir(format!("/proc/{pid}/task"))? {
        let s = fs::read_to_string(t?.path().join("schedstat")).unwrap_or_default();
        total += s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

/// The integer value of `"key":N` in a JSON text.
fn number(text: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let start = text.find(&pat)? + pat.len();
    text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn idle(ctx: &Ctx) -> Result<Vec<Target>> {
    let window = Duration::from_secs(if ctx.quick { 20 } else { 60 });
    let port = free_port()?;
    let agent = Agent::start(ctx, "idle", &["--metrics", &format!("127.0.0.1:{port}")])?;
    // Let the start-up scan and its records go by.
    thread::sleep(Duration::from_secs(3));
    let (cpu0, rec0) = (cpu_ns(agent.pid())?, agent.records()?);
    let t = Instant::now();
    thread::sleep(window);
    let (cpu1, elapsed) = (cpu_ns(agent.pid())?, t.elapsed());
    let rec1 = agent.records()?;
    agent.stop()?;
    let percent = 100.0 * (cpu1 - cpu0) as f64 / elapsed.as_nanos() as f64;
    println!(
        "idle agent (log, socket, metrics) for {:.0} s: {} of CPU, {percent:.3}% of one CPU; \
         {} records meanwhile (other people's namespaces on this shared host)",
        elapsed.as_secs_f64(),
        fmt_ns((cpu1 - cpu0) as f64),
        rec1 - rec0
    );
    Ok(vec![Target {
        name: "idle agent CPU".into(),
        goal: format!("≤ {IDLE_MAX_PERCENT}% of one CPU"),
        measured: format!("{percent:.3}% ({} records came)", rec1 - rec0),
        met: Some(percent <= IDLE_MAX_PERCENT),
        by: format!("by {:.3} points", percent - IDLE_MAX_PERCENT),
    }])
}

fn reader(ctx: &Ctx) -> Result<Vec<Target>> {
    let seconds = if ctx.quick { 3.0 } else { 5.0 };
    let plan = Plan {
        ops: None,
        seconds: Some(seconds),
        rate: Some(RATE),
    };
    let mut targets = Vec::new();

    // The agent: log, index, metrics.
    let port = free_port()?;
    let agent = Agent::start(ctx, "reader", &["--metrics", &format!("127.0.0.1:{port}")])?;
    thread::sleep(Duration::from_secs(2));
    let (cpu0, rec0) = (cpu_ns(agent.pid())?, agent.records()?);
    let outcome = ctx.workload(Kind::Uts, plan)?;
    // Each unshare gives a birth record and a death (seen, or `end:
    // reused` when a birth takes its number): wait until the count has
    // passed the births and then stood still for a second (the agent
    // drains every 500 ms once quiet).
    let want = rec0 + outcome.ops;
    let until = Instant::now() + Duration::from_secs(30);
    let (mut last, mut still_since) = (0, Instant::now());
    loop {
        let now = agent.records()?;
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
        if (now >= want && still_since.elapsed() >= Duration::from_secs(1))
            || Instant::now() >= until
        {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let (cpu1, rec1) = (cpu_ns(agent.pid())?, agent.records()?);
    let lines = agent.stop()?;
    // Per ring event: one per unshare on a tracepoint kernel, where uts
    // deaths are not seen (each birth on a reused number then also gives
    // a `death` with `end: reused`, so records are about twice the events).
    let per = (cpu1 - cpu0) as f64 / outcome.ops.max(1) as f64;
    let rate = outcome.ops as f64 / outcome.elapsed.as_secs_f64();
    println!(
        "agent (log, index, metrics), uts churn paced at {}/s ({} /s achieved) for {seconds} s: \
         {} records, {} CPU, {} per event",
        fmt_count(RATE as u64),
        fmt_count(rate as u64),
        fmt_count(rec1 - rec0),
        fmt_ns((cpu1 - cpu0) as f64),
        fmt_ns(per)
    );
    if let Some(s) = lines.iter().find(|l| l.contains(" events in ")) {
        println!("  {s}");
    }
    targets.push(Target {
        name: "agent CPU per event at 150,000/s".into(),
        goal: format!("≤ {READER_MAX_NS} ns"),
        measured: format!("{} at {} /s", fmt_ns(per), fmt_count(rate as u64)),
        met: Some(per <= READER_MAX_NS),
        by: format!("by {}", fmt_ns(per - READER_MAX_NS)),
    });

    // `trace --json` to /dev/null: the pipeline with the buffered stdout.
    let mut cmd = Command::new(&ctx.nstrace);
    cmd.args(["trace", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("starting nstrace trace")?;
    let pipe = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let errs = thread::spawn(move || {
        let mut lines = Vec::new();
        for l in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(l.clone());
            lines.push(l);
        }
        lines
    });
    while !rx
        .recv_timeout(Duration::from_secs(120))
        .context("trace did not attach")?
        .starts_with("nstrace: hooks:")
    {}
    thread::sleep(Duration::from_secs(2));
    let cpu0 = cpu_ns(child.id())?;
    let outcome = ctx.workload(Kind::Uts, plan)?;
    // The reorder window and the drain interval, with room.
    thread::sleep(Duration::from_secs(1));
    let cpu1 = cpu_ns(child.id())?;
    // SAFETY: our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait()?;
    let lines = errs.join().unwrap_or_default();
    // Its records, from the summary it prints at exit ("nstrace: N events
    // in", the start-up scan's few hundred included).
    let records = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("nstrace: ")?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    let per = (cpu1 - cpu0) as f64 / outcome.ops.max(1) as f64;
    let rate = outcome.ops as f64 / outcome.elapsed.as_secs_f64();
    println!(
        "trace --json > /dev/null, the same churn ({} /s achieved): {} records, {} CPU, {} per \
         event",
        fmt_count(rate as u64),
        fmt_count(records),
        fmt_ns((cpu1 - cpu0) as f64),
        fmt_ns(per)
    );
    if let Some(s) = lines.iter().find(|l| l.contains(" events in ")) {
        println!("  {s}");
    }
    targets.push(Target {
        name: "trace --json CPU per event at 150,000/s".into(),
        goal: format!("≤ {READER_MAX_NS} ns"),
        measured: format!("{} at {} /s", fmt_ns(per), fmt_count(rate as u64)),
        met: Some(per <= READER_MAX_NS),
        by: format!("by {}", fmt_ns(per - READER_MAX_NS)),
    });
    Ok(targets)
}

/// A holder process: `count` namespaces of one type, each held by an fd.
struct Holder {
    child: Child,
    inums: Vec<u32>,
}

fn hundred_thousand(ctx: &Ctx) -> Result<Vec<Target>> {
    // The pipeline's own growth, without a kernel.
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--release",
        "-p",
        "tracer",
        "--lib",
        "pipeline::tests::agent_rss",
        "--",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    let out = output(&mut cmd)?;
    let line = out
        .lines()
        .find_map(|l| l.find("RSS before ").map(|i| l[i..].to_string()))
        .with_context(|| format!("pipeline::tests::agent_rss printed no RSS line:\n{out}"))?;
    println!("synthetic, the agent's pipeline in a test process: {line}");

    // Live: a grace no run reaches, so the namespaces are only tracked.
    let agent = Agent::start(ctx, "100k-live", &["--linger-grace", "3600"])?;
    let (hwm_before, rss_before) = memory(&agent)?;
    let since = agent.records()?;
    let t = Instant::now();
    let holders = start_holders(ctx)?;
    let total: u64 = holders.iter().map(|h| h.inums.len() as u64).sum();
    let (recorded, lost) = wait_for_records(&agent, since, total)?;
    let (live_hwm, live_rss) = memory(&agent)?;
    println!(
        "agent, {} live namespaces (births only): {} records ({} lost in the ring) in {:.1} s; \
         VmRSS {rss_before} → {live_rss} KiB, VmHWM {hwm_before} → {live_hwm} KiB ({:.1} MiB)",
        fmt_count(total),
        fmt_count(recorded),
        fmt_count(lost),
        t.elapsed().as_secs_f64(),
        live_hwm as f64 / 1024.0
    );
    stop_holders(holders);
    agent.stop()?;

    // Lingering: every one of them lingers 2 s after its birth and the
    // holder scan names its fd.
    let agent = Agent::start(ctx, "100k", &["--linger-grace", "2"])?;
    let (hwm_before, rss_before) = memory(&agent)?;
    let since = agent.records()?;
    let t = Instant::now();
    let holders = start_holders(ctx)?;
    println!(
        "{} namespaces held by fds in 10 processes, made in {:.1} s",
        fmt_count(total),
        t.elapsed().as_secs_f64()
    );
    // Every birth recorded, then every linger (grace 2 s, then a holder
    // scan; scans may be a minute apart).
    let (recorded, lost) = wait_for_records(&agent, since, 2 * total)?;
    let (hwm, rss) = memory(&agent)?;
    println!(
        "agent, the same lingering: {} records (births and lingers; {} lost in the ring) in \
         {:.1} s; VmRSS {rss_before} → {rss} KiB, VmHWM {hwm_before} → {hwm} KiB ({:.1} MiB)",
        fmt_count(recorded),
        fmt_count(lost),
        t.elapsed().as_secs_f64(),
        hwm as f64 / 1024.0
    );
    // `why` latency with them all tracked.
    let mut lat = Vec::new();
    let all: Vec<(&str, u32)> = holders
        .iter()
        .enumerate()
        .flat_map(|(i, h)| {
            h.inums
                .iter()
                .map(move |&n| (if i < 5 { "uts" } else { "cgroup" }, n))
        })
        .collect();
    let step = (all.len() / 1000).max(1);
    for (ty, inum) in all.iter().step_by(step) {
        let t = Instant::now();
        let a = agent.ask(&format!(
            r#"{{"request":"why","type":"{ty}","inum":{inum}}}"#
        ))?;
        lat.push(t.elapsed().as_nanos() as f64);
        if !a.contains("\"born_by\"") {
            bail!("why {ty}:[{inum}] lacks the birth: {a}");
        }
    }
    let mut sorted = lat.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    let worst = *sorted.last().unwrap_or(&0.0);
    println!(
        "why over the socket, {} requests with {} tracked: median {}, p99 {}, max {}",
        lat.len(),
        fmt_count(total),
        fmt_ns(median(&lat)),
        fmt_ns(p99),
        fmt_ns(worst)
    );
    stop_holders(holders);
    agent.stop()?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(vec![
        Target {
            name: "agent VmHWM, 100,000 live namespaces".into(),
            goal: format!("≤ {RSS_MAX_MIB} MiB"),
            measured: format!("{:.1} MiB (VmRSS {:.1} MiB)", mib(live_hwm), mib(live_rss)),
            met: Some(mib(live_hwm) <= RSS_MAX_MIB),
            by: format!("by {:.1} MiB", mib(live_hwm) - RSS_MAX_MIB),
        },
        Target {
            name: "agent VmHWM, the 100,000 lingering at once".into(),
            goal: format!("≤ {RSS_MAX_MIB} MiB"),
            measured: format!("{:.1} MiB (VmRSS {:.1} MiB)", mib(hwm), mib(rss)),
            met: Some(mib(hwm) <= RSS_MAX_MIB),
            by: format!("by {:.1} MiB", mib(hwm) - RSS_MAX_MIB),
        },
        Target {
            name: "why latency, 100,000 tracked (p99)".into(),
            goal: format!("≤ {WHY_MAX_MS} ms"),
            measured: fmt_ns(p99),
            met: Some(p99 <= WHY_MAX_MS * 1e6),
            by: fmt_ns(p99 - WHY_MAX_MS * 1e6),
        },
    ])
}

/// VmHWM and VmRSS of the agent, in KiB.
fn memory(agent: &Agent) -> Result<(u64, u64)> {
    Ok((
        status_kib(agent.pid(), "VmHWM:")?,
        status_kib(agent.pid(), "VmRSS:")?,
    ))
}

/// Ten holder processes, five of uts and five of cgroup namespaces, each
/// with [`PER_HOLDER`] made and kept by fds until its stdin closes.
fn start_holders(ctx: &Ctx) -> Result<Vec<Holder>> {
    let mut holders = Vec::new();
    for (i, kind) in ["uts", "cgroup"].iter().flat_map(|k| [k; 5]).enumerate() {
        let mut child = Command::new(&ctx.exe)
            .args(["bench", "--hold", kind, "--ops", &PER_HOLDER.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting holder {i}"))?;
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped")).read_line(&mut line)?;
        let inums: Vec<u32> = line
            .strip_prefix("held ")
            .with_context(|| format!("holder {i} said {line:?}"))?
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        holders.push(Holder { child, inums });
    }
    Ok(holders)
}

fn stop_holders(holders: Vec<Holder>) {
    for mut h in holders {
        drop(h.child.stdin.take());
        let _ = h.child.wait();
    }
}

/// Waits (10 minutes at most) until the agent has written `want` records
/// more than `since`, a lost one standing for two (a birth the ring lost
/// never lingers either). Returns (records, lost).
fn wait_for_records(agent: &Agent, since: u64, want: u64) -> Result<(u64, u64)> {
    let until = Instant::now() + Duration::from_secs(600);
    loop {
        let status = agent.ask(r#"{"request":"status"}"#)?;
        let records = number(&status, "records")
            .unwrap_or(0)
            .saturating_sub(since);
        let lost = number(&status, "lost").unwrap_or(0);
        if records + 2 * lost >= want || Instant::now() >= until {
            return Ok((records, lost));
        }
        thread::sleep(Duration::from_millis(500));
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `--hold TYPE --ops N`: makes N namespaces of TYPE, each kept by an open
/// /proc/self/ns fd with no task inside, prints `held INUM...`, and waits
/// until stdin closes.
pub fn hold(kind: &str, count: u64) -> Result<()> {
    let (flag, name) = match kind {
        "uts" => (libc::CLONE_NEWUTS, "uts"),
        "cgroup" => (libc::CLONE_NEWCGROUP, "cgroup"),
        "net" => (libc::CLONE_NEWNET, "net"),
        other => bail!("--hold {other}: uts, cgroup or net"),
    };
    let limit = libc::rlimit {
        rlim_cur: count + 64,
        rlim_max: count + 64,
    };
    // SAFETY: setrlimit reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        bail!(
            "raising the fd limit to {}: {}",
            count + 64,
            std::io::Error::last_os_error()
        );
    }
    let path = format!("/proc/self/ns/{name}");
    let mut files = Vec::with_capacity(count as usize);
    let mut inums = Vec::with_capacity(count as usize);
    for _ in 0..=count {
        // SAFETY: unshare takes no pointers.
        if unsafe { libc::unshare(flag) } != 0 {
            bail!("unshare: {}", std::io::Error::last_os_error());
        }
        let f = fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        inums.push(std::os::unix::fs::MetadataExt::ino(&f.metadata()?) as u32);
        files.push(f);
    }
    // The last one has our task in it; the others have none.
    inums.pop();
    let line: Vec<String> = inums.iter().map(u32::to_string).collect();
    println!("held {}", line.join(" "));
    std::io::stdout().flush()?;
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    drop(files);
    Ok(())
}
