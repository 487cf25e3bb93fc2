//! Size-based rotation: NAME is the live file, NAME.1 the newest finished
//! one, up to NAME.<keep>; older ones are deleted. Every step is relative
//! to the log's directory descriptor (see `create`).

use anyhow::Context;

use super::create::{AtName, LogDir};

/// What became of the live file.
#[derive(Debug, PartialEq, Eq)]
pub enum Shifted {
    /// Renamed to NAME.1.
    Rotated,
    /// Not there under its name any more (deleted or renamed by someone
    /// else), or another file took the name: left alone.
    Gone,
}

/// Shifts NAME.(keep-1) → NAME.keep, …, NAME → NAME.1, dropping the oldest.
/// Renames go oldest first so that a crash between two of them leaves every
/// file under a valid name, never two files under one. `live` is the
/// (device, inode) of the file being written: only that file is rotated.
pub fn shift(dir: &LogDir, keep: usize, live: (u64, u64)) -> anyhow::Result<Shifted> {
    let shown = dir.path().display();
    let oldest = dir.numbered(keep.max(1));
    dir.remove(&oldest)
        .with_context(|| format!("cannot remove old log {shown}.{}", keep.max(1)))?;
    for n in (1..keep).rev() {
        match dir.rename(&dir.numbered(n), &dir.numbered(n + 1)) {
            // Deleted by someone, or never there: nothing to shift.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            r => r.with_context(|| format!("cannot rotate {shown}.{n} to {shown}.{}", n + 1))?,
        }
    }
    let still_ours = matches!(dir.at(dir.name()), Ok(AtName::File { id, .. }) if id == live);
    if !still_ours {
        return Ok(Shifted::Gone);
    }
    match dir.rename(dir.name(), &dir.numbered(1)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Shifted::Gone),
        r => r.with_context(|| format!("cannot rotate {shown} to {shown}.1"))?,
    }
    dir.sync()
        .with_context(|| format!("cannot sync the directory of {shown}"))?;
    Ok(Shifted::Rotated)
}
