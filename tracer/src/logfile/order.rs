//! Puts log files in the order they were written, whatever order the user
//! names them in (`nstrace report log.jsonl*` sorts PATH.10 before PATH.2).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::reader::Problem;
use super::wallclock::parse_rfc3339;
use crate::schema::{Record, RecordKind};

/// Orders `paths` by the wall-clock time of each file's first record: its
/// header, whose time a rotated file takes from its first event. Files named
/// twice are read once; files with no readable record go last.
pub fn in_write_order(paths: &[PathBuf], problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut keyed = Vec::new();
    for path in paths {
        let id = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if !seen.insert(id) {
            problems.push(Problem::whole_file(
                path,
                "named more than once: read once".to_string(),
            ));
            continue;
        }
        let start = first_instant(path);
        keyed.push((
            (start.is_none(), start, std::cmp::Reverse(suffix(path))),
            path.clone(),
        ));
    }
    keyed.sort_by_key(|a| a.0);
    keyed.into_iter().map(|(_, p)| p).collect()
}

/// The time of the first of the first few lines that parses, in ns since the
/// epoch; `None` if there is none (errors surface when the file is read).
fn first_instant(path: &Path) -> Option<i64> {
    let file = std::fs::File::open(path).ok()?;
    let mut lines = BufReader::new(file).split(b'\n');
    for _ in 0..16 {
        let line = lines.next()?.ok()?;
        if line.len() > super::reader::MAX_LINE {
            continue;
        }
        if let Ok(rec) = serde_json::from_slice::<Record>(&line) {
            return Some(instant(&rec));
        }
    }
    None
}

/// A record's wall-clock time: from `mono_ns` when a header gives the clock
/// offset (exact, and immune to a stepped wall clock), else from `ts`.
fn instant(rec: &Record) -> i64 {
    match (rec.event, rec.boot_offset_ns) {
        (RecordKind::Header, Some(off)) => (rec.mono_ns as i64).saturating_add(off),
        _ => parse_rfc3339(&rec.ts).unwrap_or(i64::MAX),
    }
}

/// N for a rotated PATH.N, 0 otherwise: breaks ties between files whose
/// first records share a time, older (higher N) first.
fn suffix(path: &Path) -> u64 {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(|e| e.parse().ok())
        .unwrap_or(0)
}
