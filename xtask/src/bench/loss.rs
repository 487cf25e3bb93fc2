//! Loss under a storm, and no loss at a sustainable rate.
//!
//! The workload counts the uts namespaces it made; the trace file is
//! searched for `birth` records of type uts whose `pid` is the workload's.
//! At full speed the two must match, or the shortfall must be covered by
//! the `lost` count nstrace reported (a loss nobody is told about is the
//! failure). Paced below 100,000 events/s there must be no loss at all.

use std::{
    fs::{self, File},
    io::{BufRead as _, BufReader},
    path::Path,
};

use anyhow::{Context as _, Result};

use super::{
    fmt_count, fmt_duration,
    tracers::{Mode, Tracer},
    workload::{Kind, Plan},
    Ctx, Target,
};

const STORM_SECONDS: f64 = 10.0;
/// Paced rates, events per second: comfortably and barely below 100,000.
const PACED_RATES: [f64; 2] = [50_000.0, 90_000.0];
/// A ring too small for a storm (the smallest nstrace accepts is 4 KiB).
const TINY_RING_KIB: u32 = 16;

/// What the trace file says about one workload process.
#[derive(Default, Debug)]
struct Recorded {
    /// `birth` records of type uts by the workload's pid.
    births: u64,
    /// Sum of `count` over `lost` records.
    lost_records: u64,
}

pub fn run(ctx: &Ctx) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    let out = ctx.dir.join("loss.jsonl");

    println!("full-speed uts churn for {STORM_SECONDS} s under nstrace (default 4 MiB ring):");
    let tracer = Tracer::start(ctx, Mode::Nstrace, &out, &[])?;
    let outcome = ctx.workload(
        Kind::Uts,
        Plan {
            ops: None,
            seconds: Some(STORM_SECONDS),
            rate: None,
        },
    );
    let hwm = tracer.vm_hwm_kib();
    let stopped = tracer.stop()?;
    let (outcome, hwm) = (outcome?, hwm?);
    let rec = count(&out, outcome.pid)?;
    let file_mb = fs::metadata(&out).map_or(0, |m| m.len()) / 1_000_000;
    let _ = fs::remove_file(&out);
    let made = outcome.ops;
    let shortfall = made.saturating_sub(rec.births);
    let secs = outcome.elapsed.as_secs_f64();
    println!(
        "  made {} uts namespaces in {secs:.2} s ({} /s); recorded {}; shortfall {}; \
         nstrace reported {} lost ({} in lost records)",
        fmt_count(made),
        fmt_count((made as f64 / secs) as u64),
        fmt_count(rec.births),
        fmt_count(shortfall),
        fmt_count(stopped.lost),
        fmt_count(rec.lost_records)
    );
    println!(
        "  nstrace: {} events, CPU {} ({:.0}% of one CPU), peak RSS (VmHWM) {} MiB, log {file_mb} MB",
        fmt_count(stopped.events),
        fmt_duration(stopped.cpu),
        100.0 * stopped.cpu.as_secs_f64() / secs,
        hwm / 1024
    );
    println!("  {}", stopped.summary);
    // Losses are counted over all of the machine's namespace events, so
    // another process's lost records may make the count exceed this
    // workload's shortfall; a shortfall above the count is the failure.
    let accounted = rec.births <= made && shortfall <= stopped.lost;
    targets.push(Target {
        name: format!("{STORM_SECONDS} s full uts churn: unaccounted loss"),
        goal: "0".into(),
        measured: format!(
            "{} made, {} recorded, {} lost",
            fmt_count(made),
            fmt_count(rec.births),
            fmt_count(stopped.lost)
        ),
        met: Some(accounted),
        by: format!("{} unaccounted", shortfall.saturating_sub(stopped.lost)),
    });
    targets.push(Target {
        name: "nstrace peak RSS during the storm".into(),
        goal: "(no target)".into(),
        measured: format!("{} MiB VmHWM", hwm / 1024),
        met: None,
        by: String::new(),
    });

    // The default ring keeps up with this machine's storm, so the check
    // above never sees a loss. A tiny ring makes losses happen, and every
    // one must still be counted.
    let seconds = 3.0;
    println!(
        "full-speed uts churn for {seconds} s with --buffer-kib {TINY_RING_KIB}, to force losses:"
    );
    let tracer = Tracer::start(
        ctx,
        Mode::Nstrace,
        &out,
        &["--buffer-kib", &TINY_RING_KIB.to_string()],
    )?;
    let outcome = ctx.workload(
        Kind::Uts,
        Plan {
            ops: None,
            seconds: Some(seconds),
            rate: None,
        },
    );
    let stopped = tracer.stop()?;
    let outcome = outcome?;
    let rec = count(&out, outcome.pid)?;
    let _ = fs::remove_file(&out);
    let shortfall = outcome.ops.saturating_sub(rec.births);
    println!(
        "  made {}, recorded {}, shortfall {}; nstrace reported {} lost ({} in lost records)",
        fmt_count(outcome.ops),
        fmt_count(rec.births),
        fmt_count(shortfall),
        fmt_count(stopped.lost),
        fmt_count(rec.lost_records)
    );
    targets.push(Target {
        name: format!("{TINY_RING_KIB} KiB ring storm: unaccounted loss"),
        goal: "0".into(),
        measured: format!(
            "{} made, {} recorded, {} lost",
            fmt_count(outcome.ops),
            fmt_count(rec.births),
            fmt_count(stopped.lost)
        ),
        met: Some(rec.births <= outcome.ops && shortfall <= stopped.lost),
        by: format!("{} unaccounted", shortfall.saturating_sub(stopped.lost)),
    });

    for rate in PACED_RATES {
        let seconds = if ctx.quick { 3.0 } else { 5.0 };
        let tracer = Tracer::start(ctx, Mode::Nstrace, &out, &[])?;
        let outcome = ctx.workload(
            Kind::Uts,
            Plan {
                ops: None,
                seconds: Some(seconds),
                rate: Some(rate),
            },
        );
        let stopped = tracer.stop()?;
        let outcome = outcome?;
        let rec = count(&out, outcome.pid)?;
        let _ = fs::remove_file(&out);
        let achieved = outcome.ops as f64 / outcome.elapsed.as_secs_f64();
        println!(
            "paced at {} events/s for {seconds} s: made {} ({} /s achieved), recorded {}, lost {}",
            fmt_count(rate as u64),
            fmt_count(outcome.ops),
            fmt_count(achieved as u64),
            fmt_count(rec.births),
            fmt_count(stopped.lost)
        );
        targets.push(Target {
            name: format!("loss paced at {} events/s", fmt_count(rate as u64)),
            goal: "0".into(),
            measured: format!(
                "{} made, {} recorded, {} lost",
                fmt_count(outcome.ops),
                fmt_count(rec.births),
                stopped.lost
            ),
            met: Some(stopped.lost == 0 && rec.births == outcome.ops),
            by: format!(
                "{} missing, {} lost",
                outcome.ops.saturating_sub(rec.births),
                stopped.lost
            ),
        });
    }
    Ok(targets)
}

/// Reads a trace file once. Plain substring tests, because the keys and
/// their order are fixed by docs/events.md and a full JSON parse of a
/// gigabyte would take longer than the storm.
fn count(path: &Path, pid: u32) -> Result<Recorded> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let pid_key = format!(",\"pid\":{pid},");
    let mut rec = Recorded::default();
    for line in BufReader::with_capacity(1 << 20, f).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.contains("\"event\":\"birth\"") {
            if line.contains("\"type\":\"uts\"") && line.contains(&pid_key) {
                rec.births += 1;
            }
        } else if line.contains("\"event\":\"lost\"") {
            rec.lost_records += number(&line, "count").unwrap_or(0);
        }
    }
    Ok(rec)
}

/// The integer value of top-level `key` in one JSON line.
fn number(line: &str, key: &str) -> Option<u64> {
    let pat = format!("\"{key}\":");
    let start = line.find(&pat)? + pat.len();
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_births_by_pid_and_lost_records() {
        let dir = std::env::temp_dir().join(format!("xtask-loss-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        fs::write(
            &path,
            concat!(
                r#"{"ts":"x","mono_ns":1,"event":"header","version":"0.1.0"}"#,
                "\n",
                r#"{"ts":"x","mono_ns":2,"event":"birth","type":"uts","inum":5,"gen":1,"pid":42,"tid":42,"comm":"xtask"}"#,
                "\n",
                r#"{"ts":"x","mono_ns":3,"event":"birth","type":"uts","inum":6,"gen":1,"pid":7,"tid":7,"comm":"x","child_pid":42,"child_tid":42}"#,
                "\n",
                r#"{"ts":"x","mono_ns":4,"event":"birth","type":"ipc","inum":7,"gen":1,"pid":42,"tid":42,"comm":"xtask"}"#,
                "\n",
                r#"{"ts":"x","mono_ns":5,"event":"lost","count":3,"total":3}"#,
                "\n",
            ),
        )
        .unwrap();
        let rec = count(&path, 42).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!((rec.births, rec.lost_records), (1, 3));
    }
}
