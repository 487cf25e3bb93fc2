//! The table printed after all kernels ran: one row per kernel and method.

use std::fmt::Write as _;

use super::{console::Transcript, kernels::Kernel};

pub struct Row {
    kernel: &'static str,
    release: String,
    method: String,
    passed: u32,
    failed: u32,
    /// Every run of this method exited 0 with a libtest result.
    ok: bool,
    boot_secs: Option<f64>,
    /// None when no run under this method finished.
    run_secs: Option<f64>,
}

pub fn rows(kernel: &Kernel, transcript: &Transcript, methods: &[&str]) -> Vec<Row> {
    methods
        .iter()
        .map(|&method| {
            let runs: Vec<_> = transcript
                .runs
                .iter()
                .filter(|r| r.method == method)
                .collect();
            Row {
                kernel: kernel.choice.label(),
                release: transcript
                    .release
                    .clone()
                    .unwrap_or_else(|| kernel.release.clone()),
                method: method.to_string(),
                passed: runs.iter().filter_map(|r| r.counts).map(|c| c.passed).sum(),
                failed: runs.iter().filter_map(|r| r.counts).map(|c| c.failed).sum(),
                ok: !runs.is_empty()
                    && runs
                        .iter()
                        .all(|r| r.status == Some(0) && r.counts.is_some()),
                boot_secs: transcript.boot.map(|d| d.as_secs_f64()),
                run_secs: {
                    let elapsed: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.elapsed)
                        .map(|d| d.as_secs_f64())
                        .collect();
                    (!elapsed.is_empty()).then(|| elapsed.iter().sum())
                },
            }
        })
        .collect()
}

pub fn table(rows: &[Row]) -> String {
    let release_width = rows
        .iter()
        .map(|r| r.release.len())
        .chain(["release".len()])
        .max()
        .unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<7} {:<release_width$} {:<7} {:>6} {:>6} {:>6} {:>6}  result",
        "kernel", "release", "method", "passed", "failed", "boot s", "run s"
    );
    for r in rows {
        let secs = |s: Option<f64>| s.map_or_else(|| "-".to_string(), |s| format!("{s:.1}"));
        let _ = writeln!(
            out,
            "{:<7} {:<release_width$} {:<7} {:>6} {:>6} {:>6} {:>6}  {}",
            r.kernel,
            r.release,
            r.method,
            r.passed,
            r.failed,
            secs(r.boot_secs),
            secs(r.run_secs),
            if r.ok { "ok" } else { "FAIL" }
        );
    }
    out
}
