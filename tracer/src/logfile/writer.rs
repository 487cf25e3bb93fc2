//! JSON Lines writing in batches, with size-based rotation at line
//! boundaries.
//!
//! `write` serializes a record straight into a buffer; `flush`, which the
//! tracer calls once per poll of the ring (about every 100 ms) and at exit,
//! hands the buffer to the kernel in one write(2) per file it spans. At
//! 150,000 events/s that is ten write(2) calls a second instead of 150,000.
//!
//! What a SIGKILL leaves: every flushed line whole, except that a kill
//! inside a write(2) can tear the batch it was writing, leaving whole lines
//! and then at most one torn final line (the reader reports it, and a
//! restart on the same file ends it with a newline). Records still in the
//! buffer, at most one poll's worth, are lost. A write that fails (disk
//! full, file too large) is cut back to its last whole line.
//!
//! fsync policy: the finished file is fdatasync'ed before each rotation,
//! and `sync` fdatasyncs the live one (the tracer calls it on exit).
//! Between those the page cache holds the lines: they survive a crash of
//! nstrace, and a power loss costs at most the kernel's writeback interval.
//!
//! The log's name is checked before each batch: a log deleted or renamed
//! under us is recreated, with a message, and tracing goes on. `reopen`
//! (SIGHUP, as logrotate sends) switches to whatever file the name leads
//! to now.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use anyhow::Context;
use bytes::{BufMut as _, BytesMut};

use super::create::{AtName, LogDir, Opened};
use super::rotate::{self, Shifted};
use crate::decode::Clock;
use crate::sanitize::escape;
use crate::schema::Record;

/// Past this many buffered bytes `write` flushes by itself, so the batch
/// stays small whatever a poll brings: a poll's worth at 150,000 events/s
/// is about 5 MB, which the buffer kept after the burst (16.8 MB at the
/// peak of 100,000 lingers). Writes of a few hundred KiB (a few hundred a
/// second at that rate) also cost the agent less CPU: 1.09 µs per event
/// where one write per poll cost 1.2 to 1.46 µs (uts churn at 150,000/s,
/// interleaved runs on a VM, where the page-cache copy's cost varies with
/// the host; see BENCHMARKS.md, "The live agent profiled").
const AUTO_FLUSH: usize = 256 << 10;

/// When to start a new file, and how many finished ones to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a line would make the live file larger than this many
    /// bytes. `None`: never rotate. A file always takes at least one record
    /// after its header, however small the limit.
    pub size: Option<u64>,
    /// Finished files to keep as PATH.1 (newest) … PATH.<keep>: at least 1
    /// when rotating, since 0 would discard the live file at each rotation.
    pub keep: usize,
}

/// Writes records to PATH as JSON Lines, each file starting with a header.
pub struct LogWriter {
    dir: LogDir,
    rotation: Rotation,
    header: Record,
    file: File,
    /// (device, inode) of the live file.
    id: (u64, u64),
    /// Bytes in the live file: the rotation test, and where to cut back to
    /// if a write fails halfway.
    len: u64,
    /// Whole lines not yet written.
    buf: BytesMut,
    /// Offsets in `buf` where a rotation falls: the new file's header is
    /// already encoded there.
    cuts: Vec<usize>,
    /// Size of the file being filled once `buf` is written.
    projected: u64,
    /// True while the file being filled holds nothing but its header, so a
    /// tiny size limit cannot make us rotate forever.
    only_header: bool,
    /// Time (mono_ns, ts) of the first record in `buf`: the time of a
    /// header written in front of it.
    first: Option<(u64, String)>,
    /// The live file was opened after a deletion, rename or reopen and
    /// still needs its header, which takes the time of the first record
    /// written to it.
    header_due: bool,
}

impl LogWriter {
    /// Opens PATH (appending to what an earlier run left) and writes
    /// `header` to it at once.
    pub fn create(path: &Path, rotation: Rotation, header: &Record) -> anyhow::Result<LogWriter> {
        if rotation.size.is_some() && rotation.keep == 0 {
            anyhow::bail!(
                "{}: rotation keeping no finished file would delete the log at every \
                 rotation: keep at least 1",
                path.display()
            );
        }
        let dir = LogDir::open(path)?;
        let Opened {
            file,
            len,
            id,
            notes,
        } = dir.open_log()?;
        tell(&notes);
        let mut w = LogWriter {
            dir,
            rotation,
            header: header.clone(),
            file,
            id,
            len,
            buf: BytesMut::with_capacity(64 << 10),
            cuts: Vec::new(),
            projected: len,
            only_header: false,
            first: None,
            header_due: false,
        };
        w.encode(header)?;
        w.projected += w.buf.len() as u64;
        w.only_header = len == 0;
        w.flush()?;
        Ok(w)
    }

    /// Refuses a path `create` would refuse (a link, a FIFO, a pseudo file
    /// system, a missing directory), creating and writing nothing.
    pub fn check(path: &Path) -> anyhow::Result<()> {
        LogDir::open(path)?.check()
    }

    /// The live file's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Buffers one record; a rotation it calls for happens at `flush`.
    pub fn write(&mut self, rec: &Record) -> anyhow::Result<()> {
        let start = self.buf.len();
        self.encode(rec)?;
        let n = (self.buf.len() - start) as u64;
        if let Some(limit) = self.rotation.size {
            if self.projected + n > limit && !self.only_header {
                self.cut_before(start, rec)?;
            }
        }
        self.projected += n;
        self.only_header = false;
        if self.first.is_none() {
            self.first = Some((rec.mono_ns, rec.ts.clone()));
        }
        if self.buf.len() > AUTO_FLUSH {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes every buffered line, rotating where `write` said to, with as
    /// few write(2) calls as possible (one per file).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.follow_name()?;
        self.write_buffered()
    }

    /// Writes what is buffered to the file it was meant for, then opens
    /// whatever file the log's name leads to now: after logrotate renamed
    /// the log, a new one. Sent as SIGHUP, as logrotate expects.
    pub fn reopen(&mut self) -> anyhow::Result<()> {
        self.write_buffered()?;
        if !self.name_is_ours()? {
            tell(&[format!(
                "{}: reopened (SIGHUP): writing to the file now at that path",
                self.path().display()
            )]);
            self.switch_file()?;
        }
        Ok(())
    }

    /// Writes what is buffered and makes the live file durable
    /// (fdatasync): for exit, and against power loss, not kills.
    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.flush()?;
        if self.header_due {
            let mono = Clock::boot_ns();
            let clock = Clock {
                boot_offset_ns: self.header.boot_offset_ns.unwrap_or(0),
            };
            self.write_header_now(mono, clock.rfc3339(mono))?;
        }
        self.file
            .sync_data()
            .with_context(|| format!("{}: cannot sync the log file", self.path().display()))
    }

    /// Appends `rec` as one line to the buffer: the same bytes as
    /// serde_json, written directly (output/encode.rs), since the agent
    /// writes every record here.
    fn encode(&mut self, rec: &Record) -> anyhow::Result<()> {
        crate::output::encode::record(&mut self.buf, rec);
        self.buf.put_u8(b'\n');
        Ok(())
    }

    /// Marks a rotation before the line at `start` (the encoded `rec`): the
    /// new file's header, with `rec`'s time, goes in front of it. Readers
    /// order rotated files by that time. Rare, so the copy does not matter.
    fn cut_before(&mut self, start: usize, rec: &Record) -> anyhow::Result<()> {
        let line = self.buf.split_off(start);
        self.cuts.push(start);
        let header = self.header_at(rec.mono_ns, rec.ts.clone());
        self.encode(&header)?;
        self.projected = (self.buf.len() - start) as u64;
        self.buf.unsplit(line);
        Ok(())
    }

    fn header_at(&self, mono_ns: u64, ts: String) -> Record {
        let mut h = self.header.clone();
        h.ts = ts;
        h.mono_ns = mono_ns;
        h
    }

    /// Writes `buf`, rotating at each cut. The buffer is emptied even on an
    /// error, so that a later flush cannot repeat half a batch.
    fn write_buffered(&mut self) -> anyhow::Result<()> {
        let cuts = std::mem::take(&mut self.cuts);
        let res = (|| {
            if self.header_due {
                if let Some((mono, ts)) = self.first.clone() {
                    self.write_header_now(mono, ts)?;
                }
            }
            let mut from = 0;
            for &cut in &cuts {
                append(
                    &mut self.file,
                    &mut self.len,
                    &self.buf[from..cut],
                    self.dir.path(),
                )?;
                self.rotate()?;
                from = cut;
            }
            append(
                &mut self.file,
                &mut self.len,
                &self.buf[from..],
                self.dir.path(),
            )
        })();
        self.buf.clear();
        self.first = None;
        self.projected = self.len;
        res
    }

    /// Finishes the live file and opens a new one under its name.
    fn rotate(&mut self) -> anyhow::Result<()> {
        self.file
            .sync_data()
            .with_context(|| format!("{}: cannot sync the log file", self.path().display()))?;
        if rotate::shift(&self.dir, self.rotation.keep, self.id)? == Shifted::Gone {
            tell(&[format!(
                "{}: deleted or renamed by someone else before it was rotated: starting a new one",
                self.path().display()
            )]);
        }
        self.open_live()
    }

    /// Opens the file at the log's name as the live file.
    fn open_live(&mut self) -> anyhow::Result<()> {
        let Opened {
            file,
            len,
            id,
            notes,
        } = self.dir.open_log()?;
        tell(&notes);
        self.file = file;
        self.len = len;
        self.id = id;
        Ok(())
    }

    /// Whether the log's name still leads to the file we write. Notices a
    /// truncation (logrotate's copytruncate) on the way.
    fn name_is_ours(&mut self) -> anyhow::Result<bool> {
        let now = self
            .dir
            .at(self.dir.name())
            .with_context(|| format!("{}: cannot look at the log file", self.path().display()))?;
        match now {
            AtName::File { id, size } if id == self.id => {
                self.len = self.len.min(size);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Before a batch: if the log was deleted or renamed, recreate it rather
    /// than write into a file nobody can find.
    fn follow_name(&mut self) -> anyhow::Result<()> {
        if self.name_is_ours()? {
            return Ok(());
        }
        let deleted = self.file.metadata().is_ok_and(|m| m.nlink() == 0);
        let shown = self.path().display();
        tell(&[if deleted {
            format!("{shown}: deleted while tracing: recreated, and tracing goes on")
        } else {
            format!("{shown}: renamed or replaced while tracing: writing a new {shown}")
        }]);
        self.switch_file()
    }

    /// Opens the file now at the log's name; its header goes in front of
    /// the next batch, with the time of that batch's first record.
    fn switch_file(&mut self) -> anyhow::Result<()> {
        self.open_live()?;
        self.header_due = true;
        Ok(())
    }

    fn write_header_now(&mut self, mono: u64, ts: String) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(&self.header_at(mono, ts))
            .context("cannot encode a header record")?;
        line.push(b'\n');
        append(&mut self.file, &mut self.len, &line, self.dir.path())?;
        self.header_due = false;
        Ok(())
    }
}

impl Drop for LogWriter {
    /// Best effort: lines still buffered when the writer goes away (an
    /// error elsewhere ended the tracer) are written if they can be.
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.flush();
        }
    }
}

/// Appends whole lines to `file` (opened with O_APPEND). If the write
/// fails partway, the file is cut back to the last whole line it took, so
/// later lines do not follow a torn one.
fn append(file: &mut File, len: &mut u64, bytes: &[u8], path: &Path) -> anyhow::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        match file.write(&bytes[done..]) {
            Ok(0) => {
                return cut_back(
                    file,
                    len,
                    &bytes[..done],
                    path,
                    std::io::ErrorKind::WriteZero.into(),
                )
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return cut_back(file, len, &bytes[..done], path, e),
        }
    }
    *len += bytes.len() as u64;
    Ok(())
}

fn cut_back(
    file: &File,
    len: &mut u64,
    written: &[u8],
    path: &Path,
    err: std::io::Error,
) -> anyhow::Result<()> {
    let whole = written
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    *len += whole as u64;
    let _ = file.set_len(*len);
    Err(err).with_context(|| format!("{}: cannot write to the log file", path.display()))
}

/// Prints messages about the log on stderr: the tracer's output may be
/// the log itself, and these are for the person running it.
fn tell(notes: &[String]) {
    for n in notes {
        eprintln!("nstrace: {}", escape(n));
    }
}
