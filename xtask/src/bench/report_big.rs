//! `nstrace report` on a 1,000,000-event log: wall time and peak RSS of the
//! release binary, for text, `--json` and `--svg` output.
//!
//! The log is a node's churn, shaped like the real thing: containers of five
//! namespaces each (born by clone3, joined by setns, put, dead), every net
//! through cleanup_net runs, a few lingering with holders, a few leaked, and
//! lost records now and then.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{ensure, Context, Result};

use crate::setup::{build_nstrace, workspace_root};

const EVENTS: u64 = 1_000_000;
/// CLOCK_REALTIME - CLOCK_BOOTTIME: the log starts at 2026-11-29T00:00:00Z
/// after a day of uptime.
const BOOT_OFFSET: i64 = 1_795_910_400_000_000_000 - 86_400_000_000_000;
const TYPES: [&str; 5] = ["mnt", "uts", "ipc", "pid", "net"];

pub fn run() -> Result<()> {
    let log = workspace_root().join("target/bench/report_big.jsonl");
    let t = Instant::now();
    let written = generate(&log)?;
    println!(
        "report_big: wrote {written} records ({} MB) to {} in {:.2?}",
        std::fs::metadata(&log)?.len() / 1_000_000,
        log.display(),
        t.elapsed()
    );
    let bin = build_nstrace()?;
    println!("{:<8} {:>10} {:>14}", "output", "wall", "peak RSS");
    for (name, flag) in [
        ("text", None),
        ("--json", Some("--json")),
        ("--svg", Some("--svg")),
    ] {
        let (wall, rss_kib) = measure(&bin, flag, &log)?;
        println!("{name:<8} {wall:>9.2}s {:>11} MiB", rss_kib / 1024);
    }
    Ok(())
}

/// Runs `nstrace report [flag] log` with stdout discarded; returns its wall
/// time and peak RSS (KiB) from wait4's rusage.
fn measure(bin: &Path, flag: Option<&str>, log: &Path) -> Result<(f64, i64)> {
    let mut cmd = Command::new(bin);
    cmd.arg("report").args(flag).arg(log).stdout(Stdio::null());
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    let mut status = 0;
    // SAFETY: rusage is plain data for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 rather than Child::wait: only it reports this child's peak RSS.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    ensure!(
        pid > 0,
        "wait4 on {cmd:?}: {}",
        std::io::Error::last_os_error()
    );
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed with wait status {status}"
    );
    Ok((wall, usage.ru_maxrss))
}

/// Writes the log; returns the number of records.
fn generate(path: &PathBuf) -> Result<u64> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut g = Gen {
        out: BufWriter::with_capacity(1 << 20, file),
        n: 0,
    };
    let mono0: u64 = 86_400_000_000_000;
    g.line(mono0, "header", &format!(
        r#""version":"0.1.0","kernel":"6.18.44","methods":{{"birth":"tracepoint","death":"tracepoint"}},"start":"{}","boot_offset_ns":{BOOT_OFFSET}"#,
        rfc3339(mono0)
    ))?;
    for i in 0..300u32 {
        let ty = TYPES[i as usize % 5];
        g.line(
            mono0 + 1000,
            "present",
            &format!(
                r#""type":"{ty}","inum":{},"gen":1,"tasks":3"#,
                4_026_531_000 + i
            ),
        )?;
    }
    // A container every 50 ms; each lives 1 s to 200 s. Deaths are queued
    // and written in time order with the births.
    let mut pending: std::collections::BinaryHeap<std::cmp::Reverse<(u64, u32, u32)>> =
        Default::default();
    let mut gen = std::collections::HashMap::<u32, u32>::new();
    let mut leaked = std::collections::HashSet::<u32>::new();
    let mut batch = 0u64;
    let mut lost_total = 0u64;
    let mut c: u32 = 0;
    while g.n < EVENTS {
        let now = mono0 + 1_000_000_000 + u64::from(c) * 50_000_000;
        while let Some(&std::cmp::Reverse((at, base, pid))) = pending.peek() {
            if at > now {
                break;
            }
            pending.pop();
            g.container_death(at, base, pid, &gen, &mut batch)?;
        }
        // Inode numbers come back: 4096 slots of five, except the slots of
        // leaked containers, which stay taken.
        let slot = 4_026_532_000 + (c % 4096) * 5;
        let base = if leaked.contains(&slot) {
            4_026_560_000 + c * 5
        } else {
            slot
        };
        let g1 = gen.entry(base).and_modify(|x| *x += 1).or_insert(1);
        let ge = *g1;
        let pid = 10_000 + c;
        for (k, ty) in TYPES.iter().enumerate() {
            g.line(now + k as u64, "birth", &format!(
                r#""type":"{ty}","inum":{},"gen":{ge},"pid":{pid},"tid":{pid},"comm":"{}","via":"clone3","flags":1879179264,"child_pid":{},"child_tid":{},"owner":4026531837"#,
                base + k as u32,
                ["runc:[1:CHILD]", "crun", "conmon", "containerd-shim"][c as usize % 4],
                pid + 1,
                pid + 1
            ))?;
        }
        g.line(now + 10_000_000, "join", &format!(
            r#""type":"net","inum":{},"gen":{ge},"pid":{},"tid":{},"comm":"nsenter","via":"setns","flags":1073741824,"owner":4026531837"#,
            base + 4, pid + 2, pid + 2
        ))?;
        if c.is_multiple_of(200) {
            lost_total += 7;
            g.line(
                now + 20_000_000,
                "lost",
                &format!(r#""count":7,"total":{lost_total}"#),
            )?;
        }
        // Every 1000th container leaks: no death at all. The others are gone
        // before their inode numbers come round again (4096 x 50 ms).
        if c % 1000 == 999 {
            leaked.insert(base);
        } else {
            let life = 1_000_000_000 + u64::from(c.wrapping_mul(7919) % 200) * 1_000_000_000;
            pending.push(std::cmp::Reverse((now + life, base, pid)));
        }
        c += 1;
    }
    g.out
        .flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(g.n)
}

struct Gen {
    out: BufWriter<File>,
    n: u64,
}

impl Gen {
    fn line(&mut self, mono: u64, event: &str, rest: &str) -> Result<()> {
        self.n += 1;
        let sep = if rest.is_empty() { "" } else { "," };
        writeln!(
            self.out,
            r#"{{"ts":"{}","mono_ns":{mono},"event":"{event}"{sep}{rest}}}"#,
            rfc3339(mono)
        )
        .context("cannot write the benchmark log")
    }

    /// Puts and deaths of one container; its net goes through a cleanup
    /// run, and one in 97 lingers first, held by a bind mount.
    fn container_death(
        &mut self,
        at: u64,
        base: u32,
        pid: u32,
        gen: &std::collections::HashMap<u32, u32>,
        batch: &mut u64,
    ) -> Result<()> {
        let ge = gen.get(&base).copied().unwrap_or(1);
        let net = base + 4;
        if base.is_multiple_of(97) {
            self.line(at, "linger", &format!(
                r#""type":"net","inum":{net},"gen":{ge},"since_last_task_ns":30000000000,"holders":[{{"kind":"bind_mount","path":"/run/netns/cni-{pid}","detail":"mnt:[4026531841]"}}]"#
            ))?;
        }
        for (k, ty) in TYPES.iter().enumerate().take(4) {
            let inum = base + k as u32;
            self.line(
                at + 1 + k as u64 * 10,
                "put",
                &format!(
                    r#""type":"{ty}","inum":{inum},"gen":{ge},"pid":{pid},"tid":{pid},"comm":"sh""#
                ),
            )?;
            self.line(
                at + 2 + k as u64 * 10,
                "death",
                &format!(r#""type":"{ty}","inum":{inum},"gen":{ge},"exact":true"#),
            )?;
        }
        self.line(at + 100, "put", &format!(r#""type":"net","inum":{net},"gen":{ge},"pid":{pid},"tid":{pid},"comm":"sh","cookie":{}"#, u64::from(net) * 3))?;
        *batch += 1;
        let b = *batch;
        self.line(at + 40_000_000, "cleanup_start", &format!(r#""type":"net","pid":31,"tid":31,"comm":"kworker/u8:1","batch":{b},"inums":[{net}],"delays_ns":[39999900]"#))?;
        self.line(
            at + 52_000_000,
            "death",
            &format!(r#""type":"net","inum":{net},"gen":{ge},"exact":false"#),
        )?;
        self.line(at + 53_000_000, "cleanup_end", &format!(r#""type":"net","pid":31,"tid":31,"comm":"kworker/u8:1","batch":{b},"inums":[{net}],"duration_ns":13000000"#))
    }
}

/// RFC 3339 UTC with ns for a CLOCK_BOOTTIME instant of the log (the same
/// civil-from-days algorithm as tracer's decode.rs, which xtask cannot use).
fn rfc3339(mono: u64) -> String {
    let ns = mono as i64 + BOOT_OFFSET;
    let (secs, nanos) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}
