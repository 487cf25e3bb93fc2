//! The line `trace` prints on exit: what it saw and what it lost.

use std::{collections::BTreeMap, fmt, time::Instant};

use crate::schema::{Record, RecordKind};

#[derive(Debug)]
pub struct Summary {
    started: Instant,
    by_kind: BTreeMap<RecordKind, u64>,
    /// Records the kernel could not deliver (ring buffer full).
    pub lost: u64,
    /// Runs of each attached program that the kernel skipped (the records
    /// they would have written are lost too); every attached program, 0
    /// when none was.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Records too short or of an unknown kind: a bug, never expected.
    pub malformed: u64,
    methods: BTreeMap<String, String>,
}

impl Summary {
    pub fn new(methods: BTreeMap<String, String>) -> Summary {
        Summary {
            started: Instant::now(),
            by_kind: BTreeMap::new(),
            lost: 0,
            skipped: BTreeMap::new(),
            malformed: 0,
            methods,
        }
    }

    pub fn count(&mut self, r: &Record) {
        *self.by_kind.entry(r.event).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.by_kind
            .iter()
            .filter(|(k, _)| **k != RecordKind::Lost)
            .map(|(_, n)| n)
            .sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self
            .by_kind
            .iter()
            .filter(|(k, _)| **k != RecordKind::Lost)
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        write!(
            f,
            "nstrace: {} events in {:.1} s ({}); {} lost",
            self.total(),
            self.started.elapsed().as_secs_f64(),
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(", ")
            },
            self.lost
        )?;
        let skipped: Vec<String> = self
            .skipped
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        if !skipped.is_empty() {
            let runs: u64 = self.skipped.values().sum();
            write!(
                f,
                "; {runs} program runs skipped by the kernel, their records lost ({})",
                skipped.join(", ")
            )?;
        }
        if self.malformed > 0 {
            write!(
                f,
                "; {} malformed records (a bug: please report it)",
                self.malformed
            )?;
        }
        let missing: Vec<&str> = self
            .methods
            .iter()
            .filter(|(_, m)| m.as_str() == "missing")
            .map(|(h, _)| h.as_str())
            .collect();
        if !missing.is_empty() {
            write!(
                f,
                "\nnstrace: not traced on this kernel: {}",
                missing.join(", ")
            )?;
        }
        Ok(())
    }
}
