//! `nstrace agent`: the pipeline as a service. It writes the rotated log,
//! keeps the query index that answers `nstrace why` on a root-only socket
//! (with each namespace's history, rebuilt from the log when it starts
//! again), and serves Prometheus metrics when asked to. SIGTERM and SIGINT
//! stop it cleanly, SIGHUP reopens the log. docs/agent.md describes the
//! socket and the metrics; dist/nstrace.service runs it under systemd.

mod answer;
mod args;
pub mod client;
pub mod history;
pub mod protocol;
mod socket;

use std::{cell::RefCell, process::ExitCode, rc::Rc};

use anyhow::{bail, Context as _, Result};
use tokio::{net::TcpListener, sync::mpsc};

pub use self::args::{AgentArgs, DEFAULT_SOCKET};
use self::{answer::RunFacts, protocol::Request, socket::Ask};
use crate::{
    container::ContainerStage,
    decode::Clock,
    index::{self, Bounds, Index},
    lifecycle::Engine,
    loader,
    logfile::Rotation,
    metrics::{self, Metrics, Scrape},
    output::{LogOutput, Shared},
    pipeline::{self, Options, Pipeline, Ring, Skipped, Summary},
    trace::{trim_heap, Filter},
};

/// What the servers ask the event loop.
enum Query {
    Ask(Ask),
    Scrape(Scrape),
}

impl From<Ask> for Query {
    fn from(a: Ask) -> Query {
        Query::Ask(a)
    }
}

impl From<Scrape> for Query {
    fn from(s: Scrape) -> Query {
        Query::Scrape(s)
    }
}

fn options(args: &AgentArgs) -> Options {
    Options {
        btf: args.btf.clone(),
        method: args.method,
        buffer_kib: args.buffer_kib,
        linger_grace: args.linger_grace,
        slow_cleanup: args.slow_cleanup,
        scan_interval: args.scan_interval,
        no_scan: args.no_scan,
        duration: None,
        idle_interval: Some(std::time::Duration::from_millis(500)),
    }
}

fn check(args: &AgentArgs) -> Result<()> {
    if args.rotate_size_mib == 0 {
        bail!("--rotate-size 0: a log file must be allowed at least 1 MiB");
    }
    if args.history_total < args.history {
        bail!(
            "--history-total {} is less than --history {}: raise --history-total or lower --history",
            args.history_total,
            args.history
        );
    }
    Ok(())
}

/// Which namespaces that earlier runs left open are still alive: the
/// engine's start-up scan counts tasks only, and a namespace held by a
/// bind mount or an fd has none, so this asks the holder scan, for those
/// namespaces only (a host where a hundred thousand linger must not need
/// the inventory of all of them).
fn confirm_carried(index: &mut Index) {
    use crate::discovery::NsRef;
    let at = Clock::boot_ns();
    let asked: std::collections::HashSet<NsRef> = index
        .unconfirmed()
        .map(|(t, inum)| NsRef::new(t, inum))
        .collect();
    if asked.is_empty() {
        return;
    }
    match crate::discovery::scan_for(std::sync::Arc::new(asked)) {
        Ok(held) => index.confirm_alive(at, |t, inum| held.has(NsRef::new(t, inum))),
        Err(e) => log::warn!("scanning /proc for the namespaces earlier runs left open: {e:#}"),
    }
}

/// Runs `nstrace agent` until SIGTERM or SIGINT.
pub fn run(args: &AgentArgs) -> Result<ExitCode> {
    check(args)?;
    let options = options(args);
    let load = options.load_options()?;
    crate::logfile::LogWriter::check(&args.log)?;
    crate::privileges::require_for_trace("nstrace agent", args.no_scan)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    runtime.block_on(serve(args, &options, &load))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: &AgentArgs, options: &Options, load: &loader::LoadOptions) -> Result<()> {
    // Everything a user can get wrong comes before loading anything.
    let (listener, socket_file) = socket::bind(&args.socket)?;
    let metrics_listener = match args.metrics {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("--metrics {addr}: cannot listen there"))?,
        ),
        None => None,
    };
    let clock = Clock::now();
    let index = Rc::new(RefCell::new(Index::new(Bounds {
        per_number: args.history,
        total: args.history_total,
    })));
    let files = index::log_files(&args.log);
    let rebuilt = index::rebuild(
        &mut index.borrow_mut(),
        &files,
        clock.boot_offset_ns,
        Clock::boot_ns(),
    );
    eprintln!(
        "nstrace: history: {} records of this boot from {} log files in {:.1} s ({} of earlier boots skipped)",
        rebuilt.records,
        rebuilt.files,
        rebuilt.took.as_secs_f64(),
        rebuilt.other_boot
    );
    for p in rebuilt.problems.iter().take(5) {
        eprintln!("nstrace: history: {p}");
    }

    // The run begins when the first program may record, inside load.
    let started_ns = Clock::boot_ns();
    let mut session = loader::load(load)?;
    loader::require_attached(&session, load.method)?;
    trim_heap();
    crate::startup::report(&session);
    let header = crate::logfile::header_record(session.methods(), &clock, started_ns)?;
    index.borrow_mut().apply(&header);
    if !args.no_scan {
        confirm_carried(&mut index.borrow_mut());
    }
    let engine = Engine::new(options.engine_config(&session), clock);
    let mut pipeline = Pipeline::new(engine, Filter::default(), Summary::new(session.methods()));
    pipeline.add_hold(Box::new(ContainerStage::start()));
    let rotation = Rotation {
        size: Some(args.rotate_size_mib.saturating_mul(1 << 20)),
        keep: args.rotate_keep,
    };
    pipeline.add_output(Box::new(LogOutput::create(&args.log, rotation, &header)?));
    index.borrow_mut().apply(&header);
    pipeline.add_output(Box::new(Shared(index.clone())));
    let programs: Vec<&'static str> = session.attached().map(|a| a.prog()).collect();
    let metrics = metrics_listener
        .as_ref()
        .map(|_| Rc::new(RefCell::new(Metrics::new(&session.methods(), &programs))));
    if let Some(m) = &metrics {
        pipeline.add_output(Box::new(Shared(m.clone())));
    }

    let (tx, rx) = mpsc::channel::<Query>(64);
    let mut servers = vec![tokio::spawn(socket::serve(listener, tx.clone()))];
    if let Some(l) = metrics_listener {
        servers.push(tokio::spawn(metrics::serve(l, tx.clone())));
    }
    drop(tx);
    let facts = RunFacts {
        started: header.ts.clone(),
        log: Some(args.log.display().to_string()),
    };
    let ready = || {
        eprintln!(
            "nstrace agent: ready: socket {}, log {}{}",
            args.socket.display(),
            args.log.display(),
            args.metrics
                .map(|a| format!(", metrics http://{a}/metrics"))
                .unwrap_or_default()
        )
    };
    let ring = Ring::open(&mut session)?;
    let skipped = Skipped::open(&session)?;
    let answer = |p: &mut Pipeline, q: Query| match q {
        Query::Ask(ask) => {
            let mut idx = index.borrow_mut();
            idx.settle(Clock::boot_ns());
            let response = match ask.request {
                Request::Why { ns_type, inum } => {
                    answer::why(p, &idx, &clock, &facts, ns_type, inum)
                }
                Request::Status => answer::status(p, &idx, &clock, &facts),
            };
            let _ = ask.reply.send(response);
        }
        Query::Scrape(s) => {
            if let Some(m) = &metrics {
                let mut m = m.borrow_mut();
                m.refresh(p.engine());
                let _ = s.reply.send(m.render(s.openmetrics));
            }
        }
    };
    let result = pipeline::run(
        ring,
        skipped,
        &mut pipeline,
        &options.loop_options(),
        ready,
        Some(rx),
        answer,
    )
    .await;
    for s in servers {
        s.abort();
    }
    drop(socket_file);
    // Dropping the session detaches every program before the summary.
    drop(session);
    eprintln!("{}", pipeline.summary());
    result
}
