//! Where records go once the engine released them: each destination is a
//! small type behind [`Output`], and the pipeline hands every record to
//! all of them in turn (see `pipeline`).
//!
//! Outputs buffer: `write` appends to memory and `flush`, called once per
//! drain of the ring, hands the batch to the kernel in as few write(2)
//! calls as the buffer allows.

mod columns;
pub mod encode;
mod jsonl;
mod log;
mod stdout;

use std::{cell::RefCell, rc::Rc};

use anyhow::Result;

pub use self::{columns::Columns, jsonl::JsonLines, log::LogOutput};
use crate::schema::Record;

/// One destination of records.
pub trait Output {
    /// Takes one record; may only buffer it.
    fn write(&mut self, r: &Record) -> Result<()>;
    /// Hands what `write` buffered to the kernel. Called once per drain.
    fn flush(&mut self) -> Result<()>;
    /// SIGHUP: reopen files by name (a log that logrotate renamed).
    fn reopen(&mut self) -> Result<()> {
        Ok(())
    }
    /// The last flush before exit (a log file is also synced).
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
    /// True once the reader went away (`nstrace trace | head`): nothing
    /// more can be shown, and `trace` stops.
    fn closed(&self) -> bool {
        false
    }
}

/// An output someone else also holds: the agent answers queries from the
/// index and scrapes from the metrics it writes to.
pub struct Shared<T>(pub Rc<RefCell<T>>);

impl<T: Output> Output for Shared<T> {
    fn write(&mut self, r: &Record) -> Result<()> {
        self.0.borrow_mut().write(r)
    }
    fn flush(&mut self) -> Result<()> {
        self.0.borrow_mut().flush()
    }
    fn reopen(&mut self) -> Result<()> {
        self.0.borrow_mut().reopen()
    }
    fn finish(&mut self) -> Result<()> {
        self.0.borrow_mut().finish()
    }
    fn closed(&self) -> bool {
        self.0.borrow().closed()
    }
}
