//! The time of the last record of a set of logs, read from each file's end
//! so that relative `--since` does not cost a second pass.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use crate::logfile::parse_rfc3339;
use crate::schema::Record;

/// Enough for the last few records of any file (a `linger` with many
/// holders is the longest, a few KiB).
const TAIL: u64 = 256 * 1024;

/// The latest record time in `paths`, in ns since the epoch; or the first
/// input that is not a regular file, whose end cannot be read ahead of it.
pub fn log_end(paths: &[PathBuf]) -> Result<Option<i64>, &PathBuf> {
    let mut end = None;
    for p in paths {
        let regular = p.as_os_str() != "-"
            && std::fs::metadata(p).map_or(true, |m| m.is_file() || m.is_dir());
        if !regular {
            return Err(p);
        }
        end = end.max(file_end(p).ok().flatten());
    }
    Ok(end)
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
