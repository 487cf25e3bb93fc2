//! The kernel programs' own diagnostics (aya-log), shown through the
//! daemon's log when the log filter lets `tracer_ebpf` records through
//! (`RUST_LOG=tracer_ebpf=debug`, or `-vv`).
//!
//! Off by default, and then free: the programs read their level from a
//! read-only global (`AYA_LOG_LEVEL`) that the loader sets before load, so
//! with logging off the verifier knows every log branch is dead and removes
//! it; the log ring is shrunk to one page and no thread reads it.

use std::{
    os::fd::AsRawFd,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
};

use anyhow::{Context as _, Result};
use aya::Ebpf;
use aya_log::EbpfLogger;

/// The log target prefix of every kernel-side record (their module paths).
const TARGET: &str = "tracer_ebpf";
/// aya-log's ring, which the kernel side writes its records to.
pub const RING: &str = "AYA_LOGS";
/// Its smallest size: one page.
pub const RING_OFF_BYTES: u32 = 4096;

/// The most detailed level the log filter lets through for the kernel
/// side, as aya-log numbers it (1 error .. 5 trace), or 0 for none.
pub fn wanted_level() -> u8 {
    use log::Level;
    [
        (Level::Trace, 5),
        (Level::Debug, 4),
        (Level::Info, 3),
        (Level::Warn, 2),
        (Level::Error, 1),
    ]
    .into_iter()
    .find(|(level, _)| {
        log::logger().enabled(
            &log::Metadata::builder()
                .level(*level)
                .target(TARGET)
                .build(),
        )
    })
    .map_or(0, |(_, n)| n)
}

/// A thread that moves the kernel's log records into the daemon's log
/// until dropped.
pub struct KernelLog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KernelLog {
    pub fn start(ebpf: &mut Ebpf) -> Result<KernelLog> {
        let mut logger =
            EbpfLogger::init(ebpf).context("opening the kernel programs' log ring (AYA_LOGS)")?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kernel-log".into())
            .spawn(move || loop {
                let mut pfd = libc::pollfd {
                    fd: logger.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; the timeout bounds how long a
                // stop waits.
                unsafe { libc::poll(&mut pfd, 1, 200) };
                logger.flush();
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
            })
            .context("starting the kernel log thread")?;
        Ok(KernelLog {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for KernelLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
