//! Memory with 100,000 live namespaces tracked.
//!
//! Making 100,000 real namespaces would measure the kernel, not nstrace,
//! and `nstrace trace` does not keep lifetimes itself yet; the lifecycle
//! engine that will does. So the engine's own RSS test feeds it 100,000
//! synthetic births (tracer/src/lifecycle/tests.rs,
//! `rss_with_100k_live_namespaces`) and reports its growth; xtask cannot
//! link the tracer library (that would build eBPF inside xtask), so the
//! test runs as cargo runs it and its line is parsed. The daemon's figure
//! is nstrace's own resident set once attached plus that growth.

use anyhow::{Context as _, Result};

use super::{
    tracers::{Mode, Tracer},
    Ctx, Target,
};
use crate::setup::{cargo, output};

/// Target: RSS with 100,000 live namespaces, in MiB.
const MAX_RSS_MIB: u64 = 30;

#[derive(Debug, PartialEq, Eq)]
struct EngineRss {
    before_kib: u64,
    after_kib: u64,
    growth_kib: u64,
    bytes_each: u64,
}

pub fn run(ctx: &Ctx) -> Result<Vec<Target>> {
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--release",
        "-p",
        "tracer",
        "--lib",
        "lifecycle::tests::rss",
        "--",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    let cmd_text = format!("{cmd:?}");
    let out = output(&mut cmd)?;
    let engine = parse(&out).with_context(|| format!("{cmd_text} printed no RSS line:\n{out}"))?;
    println!(
        "lifecycle engine, 100,000 live namespaces (synthetic births): RSS {} KiB before, {} KiB after: \
         +{} KiB, {} B per namespace",
        engine.before_kib, engine.after_kib, engine.growth_kib, engine.bytes_each
    );

    let out_path = ctx.dir.join("memory.jsonl");
    let tracer = Tracer::start(ctx, Mode::Nstrace, &out_path, &[])?;
    let idle = tracer.vm_rss_kib();
    let hwm = tracer.vm_hwm_kib();
    tracer.stop()?;
    let _ = std::fs::remove_file(&out_path);
    let (idle, hwm) = (idle?, hwm?);
    let daemon = hwm.max(idle) + engine.growth_kib;
    println!(
        "nstrace trace attached and idle: VmRSS {idle} KiB (VmHWM {hwm} KiB); \
         with the engine's growth: {} KiB ({:.1} MiB)",
        daemon,
        daemon as f64 / 1024.0
    );
    Ok(vec![
        Target {
            name: "RSS, 100,000 live namespaces: engine growth".into(),
            goal: format!("≤ {MAX_RSS_MIB} MiB"),
            measured: format!("{:.1} MiB", engine.growth_kib as f64 / 1024.0),
            met: Some(engine.growth_kib <= MAX_RSS_MIB * 1024),
            by: format!(
                "by {:.1} MiB",
                (engine.growth_kib as f64 - (MAX_RSS_MIB * 1024) as f64) / 1024.0
            ),
        },
        Target {
            name: "RSS, 100,000 live: nstrace + engine growth".into(),
            goal: format!("≤ {MAX_RSS_MIB} MiB"),
            measured: format!("{:.1} MiB", daemon as f64 / 1024.0),
            met: Some(daemon <= MAX_RSS_MIB * 1024),
            by: format!(
                "by {:.1} MiB",
                (daemon as f64 - (MAX_RSS_MIB * 1024) as f64) / 1024.0
            ),
        },
    ])
}

/// `RSS before B KiB, after A KiB: G KiB for 100,000 live, E B each; ...`
fn parse(out: &str) -> Option<EngineRss> {
    // With --nocapture the line follows the test's name on the same line.
    let line = out
        .lines()
        .find_map(|l| l.find("RSS before ").map(|i| &l[i..]))?;
    let num = |after: &str| -> Option<u64> {
        let rest = &line[line.find(after)? + after.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some(EngineRss {
        before_kib: num("RSS before ")?,
        after_kib: num("after ")?,
        growth_kib: num("KiB: ")?,
        bytes_each: num("live, ")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_engine_test_line() {
        let out =
            "running 1 test\nRSS before 2100 KiB, after 14000 KiB: 11900 KiB for 100,000 live, \
                   121 B each; size_of::<Lifetime>() = 96\ntest ... ok\n";
        assert_eq!(
            parse(out),
            Some(EngineRss {
                before_kib: 2100,
                after_kib: 14000,
                growth_kib: 11900,
                bytes_each: 121
            })
        );
    }
}
