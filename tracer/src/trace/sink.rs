//! Where `trace` writes: columns or JSON Lines on standard output, or JSON
//! Lines to a file.

use std::{
    fs::File,
    io::{self, BufWriter, Write},
    os::unix::fs::OpenOptionsExt,
    path::PathBuf,
};

use anyhow::{Context as _, Result};

use super::{human, TraceArgs};
use crate::schema::Record;

pub enum Sink {
    Human { out: BufWriter<io::Stdout>, closed: bool },
    Json { out: BufWriter<io::Stdout>, closed: bool },
    File { path: PathBuf, file: File, buf: Vec<u8> },
}

impl Sink {
    /// Opens the destination; a bad `--output` fails here, before anything
    /// is loaded, with the path and the fix.
    pub fn open(args: &TraceArgs) -> Result<Sink> {
        if let Some(path) = &args.output {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o640)
                .open(path)
                .with_context(|| {
                    format!(
                        "--output {}: cannot create the file; check that its directory \
                         exists and is writable",
                        path.display()
                    )
                })?;
            return Ok(Sink::File {
                path: path.clone(),
                file,
                buf: Vec::with_capacity(64 << 10),
            });
        }
        let out = BufWriter::with_capacity(64 << 10, io::stdout());
        Ok(if args.json {
            Sink::Json { out, closed: false }
        } else {
            Sink::Human { out, closed: false }
        })
    }

    /// The first record: in a file and in JSON it is the header line; on a
    /// terminal the column titles.
    pub fn header(&mut self, header: &Record) -> Result<()> {
        match self {
            Sink::Human { out, closed } => {
                let line = format!("{}\n", human::HEADER);
                write_stdout(out, closed, line.as_bytes())
            }
            _ => self.write(header),
        }
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
            Sink::File { buf, .. } => {
                serde_json::to_writer(&mut *buf, r).context("encoding a record as JSON")?;
                buf.push(b'\n');
                if buf.len() >= 60 << 10 {
                    self.flush()?;
                }
                Ok(())
            }
        }
    }

    /// Pushes buffered lines out. A file gets whole lines in one write(2),
    /// so a killed tracer leaves at most one torn line, at the end.
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
            Sink::File { path, file, buf } => {
                file.write_all(buf)
                    .with_context(|| format!("writing {}", path.display()))?;
                buf.clear();
                Ok(())
            }
        }
    }

    /// True once standard output went away (`nstrace trace | head`).
    pub fn closed(&self) -> bool {
        matches!(self, Sink::Human { closed: true, .. } | Sink::Json { closed: true, .. })
    }

    pub fn finish(&mut self) -> Result<()> {
        self.flush()
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
