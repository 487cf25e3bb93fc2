//! JSON Lines on standard output (docs/events.md).

use anyhow::{Context as _, Result};

use super::{stdout::Stdout, Output};
use crate::schema::Record;

pub struct JsonLines {
    out: Stdout,
}

impl JsonLines {
    /// Starts with the header record.
    pub fn new(header: &Record) -> Result<JsonLines> {
        let mut j = JsonLines { out: Stdout::new() };
        j.write(header)?;
        Ok(j)
    }
}

impl Output for JsonLines {
    fn write(&mut self, r: &Record) -> Result<()> {
        serde_json::to_writer(&mut self.out.buf, r)
            .with_context(|| format!("encoding a {} record as JSON", r.event.name()))?;
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
