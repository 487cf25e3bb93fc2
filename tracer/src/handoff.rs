//! State shared between the event loop and a worker thread of its own
//! (the holder scan, the container resolver): a mutex and the condvar that
//! wakes the worker.

use std::{
    sync::{Condvar, Mutex, MutexGuard},
    time::Duration,
};

pub struct Handoff<S> {
    state: Mutex<S>,
    pub wake: Condvar,
}

impl<S> Handoff<S> {
    pub fn new(state: S) -> Handoff<S> {
        Handoff {
            state: Mutex::new(state),
            wake: Condvar::new(),
        }
    }

    /// A thread that panicked holding the lock leaves the state as it was
    /// between two steps of the worker: still usable, so poisoning is
    /// ignored rather than spread to the event loop.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits to be woken.
    pub fn wait<'a>(&'a self, st: MutexGuard<'a, S>) -> MutexGuard<'a, S> {
        self.wake.wait(st).unwrap_or_else(|e| e.into_inner())
    }

    /// Waits to be woken, at most `limit`.
    pub fn wait_for<'a>(&'a self, st: MutexGuard<'a, S>, limit: Duration) -> MutexGuard<'a, S> {
        self.wake
            .wait_timeout(st, limit)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }
}
