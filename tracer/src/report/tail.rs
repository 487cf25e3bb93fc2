//! The time of the last record of a set of logs, read from each file's end
//! so that relative `--since` does not cost a second pass.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::logfile::parse_rfc3339;
use crate::schema::Record;

/// Enough for the last few records of any file (a `linger` with many
/// holders is the longest, a few KiB).
const TAIL: u64 = 256 * 1024;

/// The latest record time in `paths`, in ns since the epoch.
pub fn log_end(paths: &[PathBuf]) -> Option<i64> {
    paths
        .iter()
        .filter_map(|p| file_end(p).ok().flatten())
        .max()
}

fn file_end(path: &PathBuf) -> std::io::Result<Option<i64>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
    let mut buf = Vec::new();
    f.take(TAIL).read_to_end(&mut buf)?;
    Ok(buf
        .split(|&b| b == b'\n')
        .rev()
        .filter_map(|line| serde_json::from_slice::<Record>(line).ok())
        .find_map(|r| parse_rfc3339(&r.ts)))
}
