//! Puts log files in the order they were written, whatever order the user
//! names them in (`nstrace report log.jsonl*` sorts PATH.10 before PATH.2),
//! and says which rotated files are missing between those named.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::input::{classify, read_line, Input, Kind, Line, BUF, MAX_LINE};
use super::reader::Problem;
use super::wallclock::parse_rfc3339;
use crate::schema::{Record, RecordKind};

/// Orders the inputs by the wall-clock time of each one's first record:
/// its header, whose time a rotated file takes from its first event.
/// Inputs named twice (by the same or another name) are read once; inputs
/// with no readable first record go last. Streams are opened here, and
/// only their first buffered bytes are looked at: they are read once.
pub fn in_write_order(args: &[PathBuf], problems: &mut Vec<Problem>) -> Vec<Input> {
    let mut seen: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
    let mut keyed = Vec::new();
    for arg in args {
        let mut input = classify(arg);
        if let Some(id) = input.id {
            if let Some(first) = seen.get(&id) {
                let also = if *first == input.name {
                    String::new()
                } else {
                    format!(" (also as {})", first.display())
                };
                problems.push(Problem::whole_file(
                    &input.name,
                    format!("named more than once{also}: read once"),
                ));
                continue;
            }
            seen.insert(id, input.name.clone());
        }
        let start = match &mut input.kind {
            Kind::Regular => first_instant(&input.name),
            Kind::Stream(r) => r
                .fill_buf()
                .ok()
                .and_then(|chunk| chunk.split(|&b| b == b'\n').next().and_then(instant_of)),
            Kind::Unusable(_) => None,
        };
        keyed.push((
            (
                start.is_none(),
                start,
                std::cmp::Reverse(suffix(&input.name)),
            ),
            input,
        ));
    }
    keyed.sort_by_key(|a| a.0);
    let inputs: Vec<Input> = keyed.into_iter().map(|(_, i)| i).collect();
    problems.extend(rotation_gaps(&inputs));
    inputs
}

/// The time of the first of the first few lines that parses, in ns since the
/// epoch; `None` if there is none (errors surface when the file is read).
fn first_instant(path: &Path) -> Option<i64> {
    let file = File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut input = BufReader::with_capacity(BUF, file);
    let mut buf = Vec::new();
    for _ in 0..16 {
        match read_line(&mut input, &mut buf, MAX_LINE as u64 + 1).ok()? {
            Line::Complete | Line::Torn => {
                if let Some(t) = instant_of(&buf) {
                    return Some(t);
                }
            }
            Line::TooLong => {}
            Line::Endless | Line::Eof => return None,
        }
    }
    None
}

fn instant_of(line: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Record>(line)
        .ok()
        .map(|r| instant(&r))
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
    split_rotated(path).map_or(0, |(_, n)| n)
}

/// (PATH, N) for PATH.N.
fn split_rotated(path: &Path) -> Option<(PathBuf, u64)> {
    let n = path.extension()?.to_str()?.parse().ok()?;
    Some((path.with_extension(""), n))
}

/// Rotated files missing between two that were named: with PATH and
/// PATH.2 but not PATH.1, the records written between them are not there,
/// and the report must not pass over it.
fn rotation_gaps(inputs: &[Input]) -> Vec<Problem> {
    let regular: BTreeSet<&Path> = inputs
        .iter()
        .filter(|i| matches!(i.kind, Kind::Regular))
        .map(|i| i.name.as_path())
        .collect();
    let mut numbers: BTreeMap<PathBuf, BTreeSet<u64>> = BTreeMap::new();
    for name in &regular {
        if let Some((base, n)) = split_rotated(name) {
            numbers.entry(base).or_default().insert(n);
        }
    }
    let mut out = Vec::new();
    for (base, mut ns) in numbers {
        if regular.contains(base.as_path()) {
            ns.insert(0);
        }
        let (Some(&lo), Some(&hi)) = (ns.first(), ns.last()) else {
            continue;
        };
        let shown = |n: u64| {
            if n == 0 {
                base.display().to_string()
            } else {
                format!("{}.{n}", base.display())
            }
        };
        // Only the first few of a large hole are named.
        let missing: Vec<u64> = (lo..hi).filter(|n| !ns.contains(n)).take(5).collect();
        for m in missing {
            let newer = ns.range(..m).next_back().copied().unwrap_or(lo);
            let older = ns.range(m..).next().copied().unwrap_or(hi);
            out.push(Problem::whole_file(
                Path::new(&shown(m)),
                format!(
                    "not named, between {} and {}: the records written between them are \
                     missing from this report; name it too, or the report has a gap there",
                    shown(older),
                    shown(newer)
                ),
            ));
        }
    }
    out
}
