//! The /proc scan that tells the lifecycle engine how many tasks each
//! namespace has. The tracer sees births and joins but not every exit, so
//! "the last task left" comes from here. It runs on its own thread: a scan
//! of a busy host takes tens of milliseconds, which the event loop must not
//! wait for.

use std::{
    collections::HashMap,
    sync::mpsc::{channel, Receiver, TryRecvError},
    time::Duration,
};

use tracer_common::NsType;

use crate::{decode::Clock, discovery};

/// Tasks per namespace, and the CLOCK_BOOTTIME instant the scan began.
pub struct TaskScan {
    pub mono_ns: u64,
    pub counts: HashMap<(NsType, u32), u32>,
}

pub struct Scanner {
    rx: Receiver<TaskScan>,
}

impl Scanner {
    /// Scans every `interval` until the receiver is dropped.
    pub fn start(interval: Duration) -> Scanner {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("nstrace-scan".into())
            .spawn(move || loop {
                if let Some(scan) = scan_once() {
                    if tx.send(scan).is_err() {
                        return;
                    }
                }
                std::thread::sleep(interval);
            })
            .expect("spawning the /proc scan thread");
        Scanner { rx }
    }

    /// The newest finished scan, if one arrived since the last call.
    pub fn latest(&self) -> Option<TaskScan> {
        let mut latest = None;
        loop {
            match self.rx.try_recv() {
                Ok(scan) => latest = Some(scan),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return latest,
            }
        }
    }
}

/// One scan; a failed one is logged and skipped (the next may succeed).
pub fn scan_once() -> Option<TaskScan> {
    let mono_ns = Clock::boot_ns();
    match discovery::task_counts() {
        Ok(counts) => Some(TaskScan { mono_ns, counts }),
        Err(e) => {
            log::warn!("scanning /proc for task counts: {e:#}");
            None
        }
    }
}
