//! `nstrace trace`: load, attach, stream events until a signal or the
//! duration ends, then detach and print a summary.

mod args;
mod filter;
pub mod human;
mod sink;
mod summary;

use std::{process::ExitCode, time::Duration};

use anyhow::{Context as _, Result};
use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::{
    io::{unix::AsyncFd, Interest},
    signal::unix::{signal, SignalKind},
};
use tracer_common::{maps, Event};

pub use self::{args::TraceArgs, filter::Filter, sink::Sink, summary::Summary};
use crate::{
    decode::{record_from_event, Clock},
    loader::{self, LoadOptions, Session},
    schema::{Record, RecordKind},
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
    let session = loader::load(&opts)?;
    report_methods(&session);
    let clock = Clock::now();
    let header = crate::logfile::header_record(session.methods(), &clock)?;
    let mut sink = Sink::open(args, &header)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    let summary = runtime.block_on(stream(session, &clock, args, &filter, &mut sink))?;
    sink.finish()?;
    eprintln!("{summary}");
    Ok(ExitCode::SUCCESS)
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
    for c in &session.choices {
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

/// Reads the ring until told to stop.
async fn stream(
    mut session: Session,
    clock: &Clock,
    args: &TraceArgs,
    filter: &Filter,
    sink: &mut Sink,
) -> Result<Summary> {
    let ring = RingBuf::try_from(
        session
            .ebpf
            .take_map(maps::EVENTS)
            .context("the eBPF object has no EVENTS map")?,
    )
    .context("opening the EVENTS ring buffer")?;
    let drops: PerCpuArray<MapData, u64> = PerCpuArray::try_from(
        session
            .ebpf
            .take_map(maps::DROPS)
            .context("the eBPF object has no DROPS map")?,
    )
    .context("opening the DROPS counter")?;
    // SAFETY: the RingBuf owns its map fd and keeps it open, unchanged, for
    // as long as it lives, and the AsyncFd owns the RingBuf.
    let mut ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
        .map_err(|e| anyhow::anyhow!("registering the ring buffer with epoll: {e}"))?;

    let mut sigint = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut sigterm = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let deadline = args
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut tick = tokio::time::interval(DRAIN_INTERVAL);
    let mut summary = Summary::new(session.methods());
    let mut lost_seen = 0u64;


    loop {
        let stop = tokio::select! {
            _ = sigint.recv() => true,
            _ = sigterm.recv() => true,
            _ = sleep_until(deadline) => true,
            guard = ring.readable_mut() => {
                let mut guard = guard.context("waiting on the ring buffer")?;
                drain(guard.get_inner_mut(), clock, filter, sink, &mut summary)?;
                guard.clear_ready();
                false
            }
            _ = tick.tick() => {
                drain(ring.get_mut(), clock, filter, sink, &mut summary)?;
                account_drops(&drops, &mut lost_seen, clock, sink, &mut summary)?;
                sink.flush()?;
                sink.closed()
            }
        };
        if stop {
            break;
        }
    }
    // Whatever arrived before the signal still counts.
    drain(ring.get_mut(), clock, filter, sink, &mut summary)?;
    account_drops(&drops, &mut lost_seen, clock, sink, &mut summary)?;
    sink.flush()?;
    // Dropping the session detaches every program before the summary.
    drop(session);
    Ok(summary)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn drain(
    ring: &mut RingBuf<MapData>,
    clock: &Clock,
    filter: &Filter,
    sink: &mut Sink,
    summary: &mut Summary,
) -> Result<()> {
    while let Some(item) = ring.next() {
        let Some(ev) = Event::from_bytes(&item) else {
            summary.malformed += 1;
            continue;
        };
        drop(item);
        let Some(rec) = record_from_event(&ev, clock) else {
            summary.malformed += 1;
            continue;
        };
        if filter.accepts(&rec) {
            summary.count(&rec);
            sink.write(&rec)?;
        }
    }
    Ok(())
}

/// Turns increases of the kernel's drop counter into `lost` records.
fn account_drops(
    drops: &PerCpuArray<MapData, u64>,
    seen: &mut u64,
    clock: &Clock,
    sink: &mut Sink,
    summary: &mut Summary,
) -> Result<()> {
    let total: u64 = drops
        .get(&0, 0)
        .context("reading the DROPS counter")?
        .iter()
        .sum();
    if total > *seen {
        let now = Clock::boot_ns();
        let mut r = Record::new(RecordKind::Lost, now, clock.rfc3339(now));
        r.count = Some(total - *seen);
        r.total = Some(total);
        *seen = total;
        summary.lost = total;
        summary.count(&r);
        sink.write(&r)?;
    }
    Ok(())
}
