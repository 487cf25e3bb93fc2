//! Standard output, buffered per drain and written with plain write(2):
//! std's `Stdout` is line-buffered, which would make a batch one call per
//! line again.

use std::{
    fs::File,
    io::{self, Write as _},
    os::fd::AsFd as _,
};

use anyhow::{Context as _, Result};

pub(super) struct Stdout {
    out: File,
    pub buf: Vec<u8>,
    closed: bool,
}

/// Flush once this much is buffered even within a drain: a storm's drain
/// must not hold megabytes.
const HIGH_WATER: usize = 256 << 10;

impl Stdout {
    pub fn new() -> Result<Stdout> {
        // A duplicate, so that the File closes only its own fd.
        let out = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("duplicating standard output")?;
        Ok(Stdout::to(File::from(out)))
    }

    /// Another file in stdout's place (benchmarks write to /dev/null).
    pub fn to(out: File) -> Stdout {
        Stdout {
            out,
            buf: Vec::with_capacity(HIGH_WATER + 4096),
            closed: false,
        }
    }

    /// Call after appending to `buf`.
    pub fn wrote(&mut self) -> Result<()> {
        if self.buf.len() >= HIGH_WATER {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        if self.closed {
            self.buf.clear();
            return Ok(());
        }
        let r = self.out.write_all(&self.buf);
        self.buf.clear();
        match r {
            Ok(()) => Ok(()),
            // A reader that went away ends the output quietly, like any
            // Unix filter; any other error is reported.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(e).context("writing to standard output"),
        }
    }

    pub fn closed(&self) -> bool {
        self.closed
    }
}
