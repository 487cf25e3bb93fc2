//! Columns on standard output, for a terminal (see `trace::human`).

use anyhow::Result;

use super::{stdout::Stdout, Output};
use crate::{schema::Record, trace::human};

pub struct Columns {
    out: Stdout,
}

impl Columns {
    /// Starts with the column titles.
    pub fn new() -> Result<Columns> {
        let mut out = Stdout::new()?;
        out.buf.extend_from_slice(human::HEADER.as_bytes());
        out.buf.push(b'\n');
        Ok(Columns { out })
    }
}

impl Output for Columns {
    fn write(&mut self, r: &Record) -> Result<()> {
        human::write_line(&mut self.out.buf, r);
        self.out.buf.push(b'\n');
        self.out.wrote()
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush()
    }

    fn closed(&self) -> bool {
        self.out.closed()
    }
}
