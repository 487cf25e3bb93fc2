//! `nstrace trace`: load, attach, run the pipeline with one output
//! (columns, JSON Lines or the log) until a signal or the duration ends,
//! then detach and print a summary.

mod args;
mod filter;
pub mod human;

use std::{process::ExitCode, time::Duration};

use anyhow::{Context as _, Result};
use tokio::sync::mpsc;

pub use self::{args::TraceArgs, filter::Filter};
pub use crate::pipeline::Summary;
use crate::{
    decode::Clock,
    lifecycle::{Engine, EngineConfig},
    loader::{self, LoadOptions, Session},
    logfile::Rotation,
    output::{Columns, JsonLines, LogOutput, Output},
    pipeline::{self, LoopOptions, Pipeline, Ring},
    schema::Record,
};

/// How often the reader drains the ring without a wakeup: the programs only
/// wake it once a batch has built up, so this bounds the latency of a quiet
/// stream.
const DRAIN_INTERVAL: Duration = Duration::from_millis(100);

/// Runs `nstrace trace`.
pub fn run(args: &TraceArgs) -> Result<ExitCode> {
    // Check everything a user can get wrong before loading anything.
    let filter = Filter::new(args.types.as_deref(), &args.pid)?;
    loader::require_root("nstrace trace")?;
    let opts = load_options(args)?;
    let mut session = loader::load(&opts)?;
    trim_heap();
    report_methods(&session);
    let clock = Clock::now();
    let header = crate::logfile::header_record(session.methods(), &clock)?;
    let engine = Engine::new(engine_config(args, &session), clock);
    let mut pipeline = Pipeline::new(engine, filter, Summary::new(session.methods()));
    pipeline.add_output(output_for(args, &header, clock)?);
    let loop_opts = LoopOptions {
        duration: args.duration.map(|s| Duration::from_secs_f64(s.max(0.0))),
        scan: !args.no_scan,
        scan_interval: Duration::from_secs_f64(args.scan_interval.max(0.1)),
        drain_interval: DRAIN_INTERVAL,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    runtime.block_on(async {
        let ring = Ring::open(&mut session)?;
        pipeline::run(
            ring,
            &mut pipeline,
            &loop_opts,
            None::<mpsc::Receiver<()>>,
            |_, ()| {},
        )
        .await
    })?;
    // Dropping the session detaches every program before the summary.
    drop(session);
    eprintln!("{}", pipeline.summary());
    Ok(ExitCode::SUCCESS)
}

/// Parsing the kernel's BTF (5 MB on 6.18) leaves ~30 MiB of freed heap
/// that glibc keeps; give it back before the long-running part. (musl,
/// used for the VM tests' static build, returns freed memory itself.)
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0)
    };
}

/// Columns or JSON Lines on standard output, or the rotated log.
fn output_for(args: &TraceArgs, header: &Record, clock: Clock) -> Result<Box<dyn Output>> {
    Ok(match &args.output {
        Some(path) => {
            let rotation = Rotation {
                size: args.rotate_size_mib.map(|m| m.saturating_mul(1 << 20)),
                keep: args.rotate_keep,
            };
            Box::new(LogOutput::create(path, rotation, header, clock)?)
        }
        None if args.json => Box::new(JsonLines::new(header)?),
        None => Box::new(Columns::new()?),
    })
}

fn load_options(args: &TraceArgs) -> Result<LoadOptions> {
    let bytes = args
        .buffer_kib
        .checked_mul(1024)
        .filter(|b| b.is_power_of_two() && *b >= 4096)
        .with_context(|| {
            format!(
                "--buffer-kib {}: the ring buffer must be a power of two of at least 4 KiB",
                args.buffer_kib
            )
        })?;
    Ok(LoadOptions {
        btf_path: args.btf.clone(),
        method: args.method,
        ring_bytes: bytes,
        // Wake the reader when a quarter of the ring is full: enough slack
        // that a burst does not fill it before the reader runs.
        wakeup_bytes: u64::from(bytes / 4),
    })
}

/// Tells the user which method each hook got, and what is missing.
pub fn report_methods(session: &Session) {
    let mut used = Vec::new();
    for c in session.choices.iter().filter(|c| !c.not_needed) {
        match c.method {
            Some(m) => used.push(format!("{}={m}", c.hook.name)),
            None => {
                let why: Vec<String> = c
                    .rejected
                    .iter()
                    .map(|(m, why)| format!("{m}: {why}"))
                    .collect();
                eprintln!(
                    "nstrace: {} not traced ({}): {}",
                    c.hook.name,
                    c.hook.reports,
                    why.join("; ")
                );
            }
        }
    }
    eprintln!("nstrace: hooks: {}", used.join(" "));
}

fn engine_config(args: &TraceArgs, session: &Session) -> EngineConfig {
    EngineConfig {
        linger_grace_ns: (args.linger_grace * 1e9) as u64,
        slow_cleanup_ns: (args.slow_cleanup * 1e9) as u64,
        deaths_visible: session.deaths_visible(),
        ..EngineConfig::default()
    }
}
