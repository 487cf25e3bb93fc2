//! Standard output, buffered per drain and written with plain write(2):
//! std's `Stdout` is line-buffered, which would make a batch one call per
//! line again.

use std::{
    fs::File,
    io::{self, Write as _},
    mem::ManuallyDrop,
    os::fd::FromRawFd as _,
};

use anyhow::{Context as _, Result};

pub(super) struct Stdout {
    /// fd 1, never closed by us.
    out: ManuallyDrop<File>,
    pub buf: Vec<u8>,
    closed: bool,
}

/// Flush once this much is buffered even within a drain: a storm's drain
/// must not hold megabytes.
const HIGH_WATER: usize = 256 << 10;

impl Stdout {
    pub fn new() -> Stdout {
        Stdout {
            // SAFETY: fd 1 is open for the whole process (a closed stdout
            // gives EBADF on write, reported like any error), and
            // ManuallyDrop keeps us from closing it.
            out: ManuallyDrop::new(unsafe { File::from_raw_fd(1) }),
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
