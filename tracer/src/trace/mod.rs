//! `nstrace trace`: load, attach, stream events until a signal or the
//! duration ends, then detach and print a summary.

mod args;
mod filter;
pub mod human;
mod scanner;
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

use self::scanner::Scanner;
pub use self::{args::TraceArgs, filter::Filter, sink::Sink, summary::Summary};
use crate::{
    container::ContainerStage,
    decode::Clock,
    discovery,
    lifecycle::{Engine, EngineConfig, Present},
    loader::{self, LoadOptions, Session},
    schema::{Holder, Record},
};

/// How often the reader drains the ring without a wakeup: the programs only
/// wake it once a batch has built up, so this bounds the latency of a quiet
/// stream.
const DRAIN_INTERVAL: Duration = Duration::from_millis(100);

/// Runs `nstrace trace`.
pub fn run(args: &TraceArgs) -> Result<ExitCode> {
    // Check everything a user can get wrong before loading anything.
    let mut filter = Filter::new(args.types.as_deref(), &args.pid)?;
    if let Some(path) = &args.output {
        crate::logfile::LogWriter::check(path)?;
    }
    crate::privileges::require_for_trace(args.no_scan)?;
    let opts = load_options(args)?;
    let session = loader::load(&opts)?;
    loader::require_attached(&session, opts.method)?;
    // Parsing the kernel's BTF (5 MB on 6.18) leaves ~30 MiB of freed heap
    // that glibc keeps; give it back before the long-running part. (musl,
    // used for the VM tests' static build, returns freed memory itself.)
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions.
    unsafe {
        libc::malloc_trim(0)
    };
    crate::startup::report(&session);
    let clock = Clock::now();
    let header = crate::logfile::header_record(session.methods(), &clock)?;
    let mut sink = Sink::open(args, &header)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    let summary = runtime.block_on(stream(session, &clock, args, &mut filter, &mut sink))?;
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

/// Reads the ring until told to stop, through the lifecycle engine.
async fn stream(
    mut session: Session,
    clock: &Clock,
    args: &TraceArgs,
    filter: &mut Filter,
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
    // SIGHUP reopens the log, as logrotate expects, and does not end the run.
    let mut sighup = signal(SignalKind::hangup()).context("installing a SIGHUP handler")?;
    let deadline = args
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut tick = tokio::time::interval(DRAIN_INTERVAL);
    let mut out = Output {
        engine: Engine::new(engine_config(args, &session), *clock),
        filter,
        sink,
        summary: Summary::new(session.methods()),
        lost_seen: 0,
        holders: !args.no_scan,
        containers: ContainerStage::start(),
    };
    // What was alive before the first event: found by a scan taken after
    // the programs attached, so nothing falls between the two.
    let scanner = if args.no_scan {
        None
    } else {
        if let Some(first) = scanner::scan_once() {
            out.engine
                .seed_present(first.mono_ns, present(&first.counts));
            out.engine.observe_tasks(first.mono_ns, &first.counts);
        }
        Some(Scanner::start(Duration::from_secs_f64(
            args.scan_interval.max(0.1),
        )))
    };

    loop {
        let stop = tokio::select! {
            _ = sigint.recv() => true,
            _ = sigterm.recv() => true,
            _ = sighup.recv() => {
                if let Sink::File(w) = &mut *out.sink {
                    w.reopen()?;
                }
                false
            }
            _ = sleep_until(deadline) => true,
            guard = ring.readable_mut() => {
                let mut guard = guard.context("waiting on the ring buffer")?;
                out.drain(guard.get_inner_mut());
                guard.clear_ready();
                false
            }
            _ = tick.tick() => {
                out.drain(ring.get_mut());
                if let Some(scan) = scanner.as_ref().and_then(Scanner::latest) {
                    out.engine.observe_tasks(scan.mono_ns, &scan.counts);
                }
                out.step(&drops, false)?;
                out.sink.closed()
            }
        };
        if stop {
            break;
        }
    }
    // Whatever arrived before the signal still counts.
    out.drain(ring.get_mut());
    out.step(&drops, true)?;
    out.summary.malformed += out.engine.undecodable();
    // Dropping the session detaches every program before the summary.
    drop(session);
    Ok(out.summary)
}

fn engine_config(args: &TraceArgs, session: &Session) -> EngineConfig {
    EngineConfig {
        linger_grace_ns: (args.linger_grace * 1e9) as u64,
        slow_cleanup_ns: (args.slow_cleanup * 1e9) as u64,
        deaths_visible: session.deaths_visible(),
        ..EngineConfig::default()
    }
}

fn present(counts: &std::collections::HashMap<(tracer_common::NsType, u32), u32>) -> Vec<Present> {
    counts
        .iter()
        .map(|(&(ns_type, inum), &tasks)| Present {
            ns_type,
            inum,
            tasks,
            ns_id: None,
        })
        .collect()
}

/// The engine and everything downstream of it.
struct Output<'a> {
    engine: Engine,
    filter: &'a mut Filter,
    sink: &'a mut Sink,
    summary: Summary,
    lost_seen: u64,
    /// Whether a linger may look for holders in /proc.
    holders: bool,
    /// Names each record's container (see `container::stage`).
    containers: ContainerStage,
}

impl Output<'_> {
    fn drain(&mut self, ring: &mut RingBuf<MapData>) {
        while let Some(item) = ring.next() {
            match Event::from_bytes(&item) {
                Some(ev) => self.engine.push(&ev),
                None => self.summary.malformed += 1,
            }
        }
    }

    /// Turns new drops into a `lost` record, then writes what the engine
    /// releases (everything, at the end).
    fn step(&mut self, drops: &PerCpuArray<MapData, u64>, last: bool) -> Result<()> {
        let now = Clock::boot_ns();
        let total: u64 = drops
            .get(&0, 0)
            .context("reading the DROPS counter")?
            .iter()
            .sum();
        if total > self.lost_seen {
            let lost = self.engine.on_lost(now, total - self.lost_seen);
            self.lost_seen = total;
            self.summary.lost = total;
            self.emit(lost, now)?;
        }
        let scan = self.holders;
        // One /proc scan per poll, however many namespaces linger in it: a
        // scan costs a few hundred ms on a busy host.
        let mut inventory: Option<Option<discovery::Inventory>> = None;
        let mut holders = |t: tracer_common::NsType, inum: u32| -> Vec<Holder> {
            if !scan {
                return Vec::new();
            }
            let inv = inventory.get_or_insert_with(|| {
                discovery::scan()
                    .map_err(|e| {
                        log::warn!("scanning for the holders of lingering namespaces: {e:#}")
                    })
                    .ok()
            });
            inv.as_ref()
                .and_then(|inv| inv.get(discovery::NsRef::new(t, inum)))
                .map(|ns| ns.holders.clone())
                .unwrap_or_default()
        };
        let records = if last {
            self.engine.finish(now, &mut holders)
        } else {
            self.engine.poll(now, &mut holders)
        };
        for r in records {
            self.emit(r, now)?;
        }
        let ready = if last {
            self.containers.finish(now)
        } else {
            self.containers.poll(now)
        };
        self.write_all(ready)?;
        self.sink.flush()
    }

    /// Names the record's container, then writes what the container stage
    /// lets out (this record, or held ones before it, or none yet).
    fn emit(&mut self, r: Record, now: u64) -> Result<()> {
        let ready = self.containers.push(r, now);
        self.write_all(ready)
    }

    fn write_all(&mut self, records: Vec<Record>) -> Result<()> {
        for r in &records {
            if self.filter.accepts(r) {
                self.summary.count(r);
                self.sink.write(r)?;
            }
        }
        Ok(())
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
