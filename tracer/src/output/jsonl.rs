//! JSON Lines on standard output (docs/events.md).

use anyhow::Result;

use super::{stdout::Stdout, Output};
use crate::schema::Record;

pub struct JsonLines {
    out: Stdout,
}

impl JsonLines {
    /// Starts with the header record.
    pub fn new(header: &Record) -> Result<JsonLines> {
        JsonLines::start(Stdout::new()?, header)
    }

    /// To `file` instead of standard output (benchmarks).
    pub fn to_file(file: std::fs::File, header: &Record) -> Result<JsonLines> {
        JsonLines::start(Stdout::to(file), header)
    }

    fn start(out: Stdout, header: &Record) -> Result<JsonLines> {
        let mut j = JsonLines { out };
        j.write(header)?;
        Ok(j)
    }
}

impl Output for JsonLines {
    fn write(&mut self, r: &Record) -> Result<()> {
        super::encode::record(&mut self.out.buf, r);
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
