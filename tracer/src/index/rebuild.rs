//! Rebuilding the index from the agent's own log when it starts again:
//! the live file and the rotated ones it kept, oldest first, through the
//! same [`Index::apply`] that fills it live.
//!
//! Only this boot's records count: inode numbers and CLOCK_BOOTTIME start
//! again at every boot. A run (header to header) belongs to this boot when
//! its header's CLOCK_BOOTTIME is not in the future and its boot time
//! (wall clock minus CLOCK_BOOTTIME, `boot_offset_ns`) is within
//! [`SAME_BOOT_NS`] of ours. A reboot moves the boot time by at least the
//! uptime at which the earlier header was written.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use super::Index;
use crate::{
    logfile::LogReader,
    schema::{Record, RecordKind},
};

/// How far apart two boot times may be and still be one boot: clock
/// adjustments (NTP slews) move it by far less.
pub const SAME_BOOT_NS: i64 = 2_000_000_000;

/// What a rebuild read.
#[derive(Debug, Default)]
pub struct Rebuilt {
    pub files: usize,
    pub records: u64,
    /// Records of earlier boots, skipped.
    pub other_boot: u64,
    /// Lines the reader could not use (see the reader's problems).
    pub problems: Vec<String>,
    pub took: std::time::Duration,
}

/// PATH and its rotated siblings (PATH.1 ... PATH.N) that exist.
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if path.is_file() {
        out.push(path.to_path_buf());
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return out;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.", name.to_string_lossy());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            let rotated = n
                .strip_prefix(&prefix)
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()));
            if rotated && e.path().is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// Feeds every record of this boot in `files` into `index`. `boot_offset_ns`
/// and `now_ns` are ours (CLOCK_REALTIME − CLOCK_BOOTTIME, CLOCK_BOOTTIME).
pub fn rebuild(index: &mut Index, files: &[PathBuf], boot_offset_ns: i64, now_ns: u64) -> Rebuilt {
    let t = Instant::now();
    let mut reader = LogReader::open(files);
    let mut out = Rebuilt {
        files: files.len(),
        ..Rebuilt::default()
    };
    let mut this_boot = false;
    for r in reader.by_ref() {
        if r.event == RecordKind::Header {
            this_boot = same_boot(&r, boot_offset_ns, now_ns);
        }
        if this_boot && r.mono_ns <= now_ns {
            index.apply(&r);
            out.records += 1;
        } else {
            out.other_boot += 1;
        }
    }
    out.problems = reader
        .into_problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    out.took = t.elapsed();
    out
}

fn same_boot(header: &Record, boot_offset_ns: i64, now_ns: u64) -> bool {
    header.mono_ns <= now_ns
        && header
            .boot_offset_ns
            .is_some_and(|o| (o - boot_offset_ns).abs() <= SAME_BOOT_NS)
}
