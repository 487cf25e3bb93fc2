//! `nstrace trace`: load, attach, run the pipeline with one output
//! (columns, JSON Lines or the log) until a signal or the duration ends,
//! then detach and print a summary.

mod args;
mod filter;
pub mod human;

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use tokio::sync::mpsc;

pub use self::{args::TraceArgs, filter::Filter};
pub use crate::pipeline::Summary;
use crate::{
    container::ContainerStage,
    decode::Clock,
    lifecycle::Engine,
    loader,
    logfile::{LogWriter, Rotation},
    output::{Columns, JsonLines, LogOutput, Output},
    pipeline::{self, Options, Pipeline, Ring, Skipped},
    schema::Record,
};

/// Runs `nstrace trace`.
pub fn run(args: &TraceArgs) -> Result<ExitCode> {
    // Check everything a user can get wrong before loading anything.
    let filter = Filter::new(args.types.as_deref(), &args.pid)?;
    if let Some(path) = &args.output {
        LogWriter::check(path)?;
    }
    crate::privileges::require_for_trace("nstrace trace", args.no_scan)?;
    let options = options(args);
    let load = options.load_options()?;
    // The run begins when the first program may record, inside load.
    let started_ns = Clock::boot_ns();
    let mut session = loader::load(&load)?;
    loader::require_attached(&session, load.method)?;
    trim_heap();
    crate::startup::report(&session);
    let clock = Clock::now();
    let header = crate::logfile::header_record(session.methods(), &clock, started_ns)?;
    let engine = Engine::new(options.engine_config(&session), clock);
    let mut pipeline = Pipeline::new(engine, filter, Summary::new(session.methods()));
    pipeline.add_hold(Box::new(ContainerStage::start()));
    pipeline.add_output(output_for(args, &header)?);
    let loop_opts = options.loop_options();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    runtime.block_on(async {
        let ring = Ring::open(&mut session)?;
        let skipped = Skipped::open(&session)?;
        pipeline::run(
            ring,
            skipped,
            &mut pipeline,
            &loop_opts,
            || {},
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

/// Parsing the kernel's BTF (5 MB on 6.18) leaves ~30 MiB of freed heap;
/// give it back before the long-running part.
pub fn trim_heap() {
    pipeline::trim_heap();
}

/// Columns or JSON Lines on standard output, or the rotated log.
fn output_for(args: &TraceArgs, header: &Record) -> Result<Box<dyn Output>> {
    Ok(match &args.output {
        Some(path) => {
            let rotation = Rotation {
                size: args.rotate_size_mib.map(|m| m.saturating_mul(1 << 20)),
                keep: args.rotate_keep,
            };
            if let Some(mib) = args.rotate_size_mib {
                // Rotation deletes: say so before the run, not after.
                eprintln!(
                    "nstrace: {0}: a new file past {mib} MiB; {0}.1 to {0}.{1} are kept, older \
                     ones deleted",
                    crate::sanitize::escape(&path.to_string_lossy()),
                    args.rotate_keep
                );
            }
            Box::new(LogOutput::create(path, rotation, header)?)
        }
        None if args.json => Box::new(JsonLines::new(header)?),
        None => Box::new(Columns::new()?),
    })
}

fn options(args: &TraceArgs) -> Options {
    Options {
        btf: args.btf.clone(),
        method: args.method,
        buffer_kib: args.buffer_kib,
        linger_grace: args.linger_grace,
        slow_cleanup: args.slow_cleanup,
        scan_interval: args.scan_interval,
        no_scan: args.no_scan,
        duration: args.duration,
        idle_interval: None,
    }
}
