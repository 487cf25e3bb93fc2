//! The JSON Lines log: rotated files with a header each (logfile/writer.rs).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::Output;
use crate::{
    decode::Clock,
    logfile::{LogWriter, Rotation},
    schema::Record,
};

pub struct LogOutput {
    writer: LogWriter,
    path: PathBuf,
    rotation: Rotation,
    header: Record,
    clock: Clock,
}

impl LogOutput {
    /// Opens PATH, appending, and writes `header`.
    pub fn create(
        path: &Path,
        rotation: Rotation,
        header: &Record,
        clock: Clock,
    ) -> Result<LogOutput> {
        Ok(LogOutput {
            writer: LogWriter::create(path, rotation, header)?,
            path: path.to_path_buf(),
            rotation,
            header: header.clone(),
            clock,
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

    /// Starts a new file at the same path, with a header of its own, after
    /// whatever renamed the old one (logrotate). Until the buffered
    /// LogWriter (issue 11) brings `LogWriter::reopen`, this creates a new
    /// writer, which is the same: append to PATH, header first.
    fn reopen(&mut self) -> Result<()> {
        self.writer.flush()?;
        let mono = Clock::boot_ns();
        let mut header = self.header.clone();
        header.mono_ns = mono;
        header.ts = self.clock.rfc3339(mono);
        self.writer = LogWriter::create(&self.path, self.rotation, &header)?;
        Ok(())
    }
}
