//! Size-based rotation: PATH is the live file, PATH.1 the newest finished one,
//! up to PATH.<keep>; older ones are deleted.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// PATH.n
pub fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Shifts PATH.(keep-1) → PATH.keep, …, PATH → PATH.1, dropping the oldest.
/// Renames go oldest first so that a crash between two of them leaves every
/// file under a valid name, never two files under one.
pub fn shift(path: &Path, keep: usize) -> anyhow::Result<()> {
    if keep == 0 {
        return remove_if_present(path);
    }
    remove_if_present(&numbered(path, keep))?;
    for n in (1..keep).rev() {
        let from = numbered(path, n);
        if from.exists() {
            let to = numbered(path, n + 1);
            std::fs::rename(&from, &to)
                .with_context(|| format!("cannot rotate {} to {}", from.display(), to.display()))?;
        }
    }
    let to = numbered(path, 1);
    std::fs::rename(path, &to)
        .with_context(|| format!("cannot rotate {} to {}", path.display(), to.display()))?;
    sync_dir(path)
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove old log {}", path.display())),
    }
}

/// Makes the renames durable, so that after a power loss the names still
/// match the contents.
fn sync_dir(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync directory {}", dir.display()))
}
