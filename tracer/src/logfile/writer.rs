//! Line-atomic JSON Lines writing with size-based rotation.
//!
//! Each line goes to the kernel in one `write(2)` on an unbuffered fd, as soon
//! as `write` is called. A user-space buffer would save a syscall per line
//! (about a microsecond, far below namespace churn rates even on a busy node)
//! but every line still in it is lost when the tracer is killed, and a killed
//! tracer is the case these logs exist for. Unbuffered, a SIGKILL loses no
//! line that `write` accepted, and can tear only the one line inside the
//! write(2) it interrupts: that is the last line of the file.
//!
//! fsync policy: the finished file is fdatasync'ed before each rotation, and
//! `flush` fdatasyncs the live one (the tracer calls it on exit). Between
//! those the page cache holds the lines: they survive a crash of nstrace,
//! and a power loss costs at most the kernel's writeback interval.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::create::{open_log, Opened};
use super::rotate;
use crate::schema::Record;

/// When to start a new file, and how many finished ones to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a line would make the live file larger than this many
    /// bytes. `None`: never rotate. A file always takes at least one record
    /// after its header, however small the limit.
    pub size: Option<u64>,
    /// Finished files to keep as PATH.1 (newest) … PATH.<keep>. With 0, a
    /// rotation discards the live file's contents.
    pub keep: usize,
}

/// Writes records to PATH as JSON Lines, each file starting with a header.
pub struct LogWriter {
    path: PathBuf,
    rotation: Rotation,
    header: Record,
    file: File,
    /// Bytes in the live file: the rotation test, and where to cut back to
    /// if a write fails halfway.
    len: u64,
    /// True while the live file holds nothing but the header we wrote, so a
    /// tiny size limit cannot make us rotate forever.
    only_header: bool,
    line: Vec<u8>,
}

impl LogWriter {
    /// Opens PATH (appending to what an earlier run left) and writes `header`.
    pub fn create(path: &Path, rotation: Rotation, header: &Record) -> anyhow::Result<LogWriter> {
        let Opened { file, len } = open_log(path)?;
        let mut w = LogWriter {
            path: path.to_path_buf(),
            rotation,
            header: header.clone(),
            file,
            len,
            only_header: false,
            line: Vec::with_capacity(512),
        };
        w.write_header(header.clone())?;
        Ok(w)
    }

    /// The live file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record, rotating first if it would not fit.
    pub fn write(&mut self, rec: &Record) -> anyhow::Result<()> {
        self.encode(rec)?;
        if let Some(limit) = self.rotation.size {
            if self.len + self.line.len() as u64 > limit && !self.only_header {
                self.rotate(rec)?;
                // The header went through `self.line`: encode again.
                self.encode(rec)?;
            }
        }
        self.append_line()?;
        self.only_header = false;
        Ok(())
    }

    /// Makes every line written so far durable (fdatasync). Lines are in the
    /// kernel as soon as `write` returns; this is for power loss, not kills.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.file
            .sync_data()
            .with_context(|| format!("{}: cannot sync the log file", self.path.display()))
    }

    fn encode(&mut self, rec: &Record) -> anyhow::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, rec)
            .with_context(|| format!("cannot encode a {} record", rec.event.name()))?;
        self.line.push(b'\n');
        Ok(())
    }

    fn write_header(&mut self, header: Record) -> anyhow::Result<()> {
        let was_empty = self.len == 0;
        self.encode(&header)?;
        self.append_line()?;
        self.only_header = was_empty;
        Ok(())
    }

    /// One write(2) for the whole line in all but the rarest case (a short
    /// write on a full disk). If it fails partway, the file is cut back to
    /// its last complete line so later lines do not follow a torn one.
    fn append_line(&mut self) -> anyhow::Result<()> {
        match self.file.write_all(&self.line) {
            Ok(()) => {
                self.len += self.line.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(e).with_context(|| {
                    format!("{}: cannot write to the log file", self.path.display())
                })
            }
        }
    }

    /// Finishes the live file and starts a new one whose header carries the
    /// time of `first`, the record it precedes: readers order rotated files
    /// by it.
    fn rotate(&mut self, first: &Record) -> anyhow::Result<()> {
        self.flush()?;
        rotate::shift(&self.path, self.rotation.keep)?;
        let Opened { file, len } = open_log(&self.path)?;
        self.file = file;
        self.len = len;
        let mut header = self.header.clone();
        header.ts.clone_from(&first.ts);
        header.mono_ns = first.mono_ns;
        self.write_header(header)
    }
}
