//! Opening a log file: mode 0640 whatever the umask, and errors that name the
//! path and the fix, since a bad `--output` is the most common mistake.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Logs hold command names and holder paths: readable by the owner's group
/// (an `adm`-style log reader), never by everyone.
pub const LOG_MODE: u32 = 0o640;

/// An open log file and what was in it already.
pub struct Opened {
    pub file: File,
    /// Bytes already in the file (non-zero when appending after a restart).
    pub len: u64,
}

/// Opens `path` for appending, creating it with mode 0640. A file left by an
/// earlier run is kept: the minutes before a crash are often what a user came
/// for. If that run was killed mid-line, the torn line is ended with `\n`
/// here, so it stays one bad line instead of swallowing our header.
pub fn open_log(path: &Path) -> anyhow::Result<Opened> {
    let mut opts = OpenOptions::new();
    opts.read(true)
        .append(true)
        .create(true)
        .mode(LOG_MODE)
        .custom_flags(libc::O_CLOEXEC);
    let created = !path.exists();
    let file = opts.open(path).map_err(|e| explain(path, e))?;
    let meta = file
        .metadata()
        .with_context(|| format!("{}: cannot stat the log file", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!(
            "{}: not a regular file: give --output a file path",
            path.display()
        );
    }
    // The umask can only remove bits from the open mode; fchmod puts them
    // back. Done on the fd, so a rename in between cannot redirect it.
    if created && meta.permissions().mode() & 0o777 != LOG_MODE {
        file.set_permissions(std::fs::Permissions::from_mode(LOG_MODE))
            .with_context(|| format!("{}: cannot set mode 0640", path.display()))?;
    }
    let mut len = meta.len();
    if len > 0 {
        let mut last = [0u8];
        file.read_exact_at(&mut last, len - 1)
            .with_context(|| format!("{}: cannot read the end of the log file", path.display()))?;
        if last[0] != b'\n' {
            use std::io::Write as _;
            (&file)
                .write_all(b"\n")
                .with_context(|| format!("{}: cannot end the torn last line", path.display()))?;
            len += 1;
        }
    }
    Ok(Opened { file, len })
}

/// Turns an open(2) failure into an error that says what to do.
fn explain(path: &Path, err: std::io::Error) -> anyhow::Error {
    let shown = path.display();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let hint = match err.kind() {
        ErrorKind::NotFound if !parent.exists() => format!(
            "directory {} does not exist: create it (mkdir -p {}) or choose another --output",
            parent.display(),
            parent.display()
        ),
        ErrorKind::NotFound => format!(
            "{} takes no new files (a pseudo file system?): choose another --output",
            parent.display()
        ),
        ErrorKind::IsADirectory => format!(
            "is a directory: give --output a file path, e.g. {}",
            path.join("nstrace.jsonl").display()
        ),
        ErrorKind::PermissionDenied => {
            "permission denied: choose a directory you can write to for --output".to_string()
        }
        ErrorKind::ReadOnlyFilesystem => {
            "the file system is read-only: choose --output on a writable one".to_string()
        }
        ErrorKind::NotADirectory => format!(
            "a component of {} is not a directory: check the --output path",
            parent.display()
        ),
        _ => "cannot open the log file: check the --output path".to_string(),
    };
    anyhow::Error::new(err).context(format!("{shown}: {hint}"))
}
