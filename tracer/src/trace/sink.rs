//! Where `trace` writes: columns or JSON Lines on standard output, or JSON
//! Lines to a file.

use std::io::{self, BufWriter, Write};

use anyhow::{Context as _, Result};

use super::{human, TraceArgs};
use crate::{
    logfile::{LogWriter, Rotation},
    schema::Record,
};

pub enum Sink {
    Human {
        out: BufWriter<io::Stdout>,
        closed: bool,
    },
    Json {
        out: BufWriter<io::Stdout>,
        closed: bool,
    },
    /// Batched, one write(2) per flush, rotated by size (see
    /// logfile/writer.rs).
    File(Box<LogWriter>),
}

impl Sink {
    /// Opens the destination and writes the first record: in a file and in
    /// JSON the header line, on a terminal the column titles.
    pub fn open(args: &TraceArgs, header: &Record) -> Result<Sink> {
        if let Some(path) = &args.output {
            let rotation = Rotation {
                size: args.rotate_size_mib.map(|m| m.saturating_mul(1 << 20)),
                keep: args.rotate_keep,
            };
            if let Some(mib) = args.rotate_size_mib {
                // Rotation deletes: say so before the run, not after.
                eprintln!(
                    "nstrace: {0}: a new file past {mib} MiB; {0}.1 to {0}.{1} are kept, older \
                     ones deleted",
                    crate::sanitize::escape(&path.to_string_lossy()),
                    args.rotate_keep
                );
            }
            return Ok(Sink::File(Box::new(LogWriter::create(
                path, rotation, header,
            )?)));
        }
        let out = BufWriter::with_capacity(64 << 10, io::stdout());
        let mut sink = if args.json {
            Sink::Json { out, closed: false }
        } else {
            Sink::Human { out, closed: false }
        };
        match &mut sink {
            Sink::Human { out, closed } => {
                let line = format!("{}\n", human::HEADER);
                write_stdout(out, closed, line.as_bytes())?;
            }
            _ => sink.write(header)?,
        }
        Ok(sink)
    }

    pub fn write(&mut self, r: &Record) -> Result<()> {
        match self {
            Sink::Human { out, closed } => {
                let mut line = human::line(r);
                line.push('\n');
                write_stdout(out, closed, line.as_bytes())
            }
            Sink::Json { out, closed } => {
                let mut line = serde_json::to_vec(r).context("encoding a record as JSON")?;
                line.push(b'\n');
                write_stdout(out, closed, &line)
            }
            Sink::File(w) => w.write(r),
        }
    }

    /// Pushes buffered output out, once per poll; a file is synced only at
    /// the end, by `finish`.
    pub fn flush(&mut self) -> Result<()> {
        match self {
            Sink::Human { out, closed } | Sink::Json { out, closed } => {
                if !*closed {
                    if let Err(e) = out.flush() {
                        return stdout_error(closed, e);
                    }
                }
                Ok(())
            }
            Sink::File(w) => w.flush(),
        }
    }

    /// True once standard output went away (`nstrace trace | head`).
    pub fn closed(&self) -> bool {
        matches!(
            self,
            Sink::Human { closed: true, .. } | Sink::Json { closed: true, .. }
        )
    }

    pub fn finish(&mut self) -> Result<()> {
        match self {
            Sink::File(w) => w.sync(),
            _ => self.flush(),
        }
    }
}

fn write_stdout(out: &mut BufWriter<io::Stdout>, closed: &mut bool, bytes: &[u8]) -> Result<()> {
    if *closed {
        return Ok(());
    }
    match out.write_all(bytes) {
        Ok(()) => Ok(()),
        Err(e) => stdout_error(closed, e),
    }
}

/// A reader that went away ends the output quietly, like any Unix filter;
/// any other error is reported.
fn stdout_error(closed: &mut bool, e: io::Error) -> Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        *closed = true;
        Ok(())
    } else {
        Err(e).context("writing to standard output")
    }
}
