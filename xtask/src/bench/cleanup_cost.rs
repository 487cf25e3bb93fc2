//! What the cleanup-run walks cost (tracepoint kernels): at the start and
//! end of every `cleanup_net` run nstrace walks the kernel's list of nets
//! (tracer-ebpf/src/netlist.rs), so the cost grows with the nets alive.
//! With 1,000 and 20,000 nets held open (by fds, in child processes of
//! 1,000 each, agent.rs's `--hold net`: the sandbox's fd limit is 20,000),
//! single nets are made to
//! die one at a time, and the kernel's own accounting (BPF_ENABLE_STATS)
//! says how long nstrace's workqueue programs ran per cleanup run, against
//! how long the run itself took (its `cleanup_end` `duration_ns`).

use std::{
    fs,
    io::{BufRead as _, BufReader},
    process::{Child, Command, Stdio},
    thread,
    time::Duration,
};

use anyhow::{bail, Context as _, Result};

use super::{
    bpfstats::{self, ProgStat},
    fmt_count, fmt_ns, median,
    tracers::{Mode, Tracer},
    workload::{Kind, Plan},
    Ctx, Target,
};

/// Nets per holding process.
const PER_HOLDER: usize = 1000;

struct Holders(Vec<Child>);

impl Holders {
    fn start(ctx: &Ctx, n: usize) -> Result<Holders> {
        let mut children = Vec::new();
        let mut left = n;
        while left > 0 {
            let k = left.min(PER_HOLDER);
            let mut child = Command::new(&ctx.exe)
                .args(["bench", "--hold", "net", "--ops", &k.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .context("starting a net holder")?;
            let mut line = String::new();
            let out = child.stdout.take().expect("piped");
            BufReader::new(out).read_line(&mut line)?;
            children.push(child);
            if !line.starts_with("held ") {
                bail!("a net holder failed: {line:?}");
            }
            left -= k;
        }
        Ok(Holders(children))
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        for mut c in self.0.drain(..) {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

fn workqueue(stats: &[ProgStat]) -> (u64, u64) {
    stats
        .iter()
        .filter(|p| p.name.starts_with("workqueue_"))
        .fold((0, 0), |(c, t), p| (c + p.run_cnt, t + p.run_time_ns))
}

pub fn run(ctx: &Ctx) -> Result<Vec<Target>> {
    let sizes: &[usize] = if ctx.quick {
        &[1_000, 5_000]
    } else {
        &[1_000, 20_000]
    };
    let runs = if ctx.quick { 5 } else { 10 };
    let mut targets = Vec::new();
    for &n in sizes {
        let holders = Holders::start(ctx, n)?;
        // The holders' own nets are alive; let the host settle.
        thread::sleep(Duration::from_secs(2));
        let _stats = bpfstats::StatsOn::new()?;
        let out = ctx.dir.join(format!("cleanup-{n}.jsonl"));
        let tracer = Tracer::start(ctx, Mode::Nstrace, &out, &["--no-scan"])?;
        // Work items other than cleanup_net cost the programs two compares
        // each: measure that while nothing dies.
        let idle0 = workqueue(&bpfstats::of_process(tracer.pid())?);
        thread::sleep(Duration::from_secs(2));
        let idle1 = workqueue(&bpfstats::of_process(tracer.pid())?);
        let other_ns = (idle1.1 - idle0.1) as f64 / (idle1.0 - idle0.0).max(1) as f64;
        let before = workqueue(&bpfstats::of_process(tracer.pid())?);
        for _ in 0..runs {
            // One net made and dropped: one cleanup run of one net.
            ctx.workload(
                Kind::Net,
                Plan {
                    ops: Some(1),
                    seconds: None,
                    rate: None,
                },
            )?;
            thread::sleep(Duration::from_millis(500));
        }
        let after = workqueue(&bpfstats::of_process(tracer.pid())?);
        tracer.stop()?;
        drop(holders);
        let text =
            fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        let _ = fs::remove_file(&out);
        let mut durations = Vec::new();
        let mut partial = 0;
        for line in text.lines() {
            if line.contains(r#""event":"cleanup_end""#) {
                if let Some(d) = number_after(line, r#""duration_ns":"#) {
                    durations.push(d as f64);
                }
            }
            if line.contains(r#""event":"cleanup_start""#)
                && line.contains(r#""walk_partial":true"#)
            {
                partial += 1;
            }
        }
        let seen = durations.len().max(1);
        let calls = after.0 - before.0;
        let walks = (2 * seen as u64).min(calls);
        let program_ns =
            ((after.1 - before.1) as f64 - (calls - walks) as f64 * other_ns) / seen as f64;
        let run_ns = median(&durations);
        println!(
            "  {} nets alive: {} cleanup runs; programs {} per run (other work items {} \
             per call); run duration median {} ({:.1}% of it){}",
            fmt_count(n as u64),
            durations.len(),
            fmt_ns(program_ns),
            fmt_ns(other_ns),
            fmt_ns(run_ns),
            100.0 * program_ns / run_ns,
            if partial > 0 {
                format!("; {partial} partial walks")
            } else {
                String::new()
            }
        );
        targets.push(Target {
            name: format!("cleanup-run walks, {} nets alive", fmt_count(n as u64)),
            goal: "figure".into(),
            measured: format!("{} per run", fmt_ns(program_ns)),
            met: None,
            by: String::new(),
        });
        // The holders' nets are being torn down: let that finish.
        thread::sleep(Duration::from_secs(5));
    }
    Ok(targets)
}

/// The integer after `key` in a JSON line (nstrace writes keys without
/// spaces).
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
