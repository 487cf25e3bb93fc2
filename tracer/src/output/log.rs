//! The JSON Lines log: rotated files with a header each (logfile/writer.rs).

use std::path::Path;

use anyhow::Result;

use super::Output;
use crate::{
    logfile::{LogWriter, Rotation},
    schema::Record,
};

pub struct LogOutput {
    writer: LogWriter,
}

impl LogOutput {
    /// Opens PATH, appending, and writes `header`.
    pub fn create(path: &Path, rotation: Rotation, header: &Record) -> Result<LogOutput> {
        Ok(LogOutput {
            writer: LogWriter::create(path, rotation, header)?,
        })
    }
}

impl Output for LogOutput {
    fn write(&mut self, r: &Record) -> Result<()> {
        self.writer.write(r)
    }

    fn flush(&mut self) -> Result<()> {
        self.writer.flush()
    }

    /// After logrotate renamed the log: the file now at its path, with a
    /// header of its own.
    fn reopen(&mut self) -> Result<()> {
        self.writer.reopen()
    }

    /// The last flush, and the file made durable.
    fn finish(&mut self) -> Result<()> {
        self.writer.sync()
    }
}
