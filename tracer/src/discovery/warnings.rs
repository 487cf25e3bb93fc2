//! Problems met during a scan, each reported once.
//!
//! A scan reads thousands of entries; one unreadable process must neither
//! end it nor flood the terminal, so problems are grouped by what was being
//! read and by errno, counted, and shown with the first example.

use std::collections::BTreeMap;
use std::io;

#[derive(Debug, Default)]
pub struct Warnings {
    groups: BTreeMap<(&'static str, i32), Group>,
}

#[derive(Debug)]
struct Group {
    first: String,
    count: usize,
}

impl Warnings {
    /// Records that reading `what` (e.g. "open fds") failed for `subject`
    /// (e.g. "pid 42").
    pub fn note(&mut self, what: &'static str, subject: &str, err: &io::Error) {
        let errno = err.raw_os_error().unwrap_or(0);
        self.groups
            .entry((what, errno))
            .and_modify(|g| g.count += 1)
            .or_insert_with(|| Group {
                first: format!("{subject}: {err}"),
                count: 1,
            });
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// One line per kind of problem, with a hint when permissions are the cause.
    pub fn lines(&self) -> Vec<String> {
        self.groups
            .iter()
            .map(|((what, errno), g)| {
                // SAFETY: geteuid has no preconditions.
                let root = unsafe { libc::geteuid() } == 0;
                let hint = match (matches!(*errno, libc::EACCES | libc::EPERM), root) {
                    (true, false) => "; run nstrace as root to see them",
                    (true, true) => " (a non-dumpable or otherwise protected process)",
                    _ => "",
                };
                if g.count == 1 {
                    format!("cannot read {what} of {}{hint}", g.first)
                } else {
                    format!(
                        "cannot read {what} in {} places (first: {}){hint}",
                        g.count, g.first
                    )
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_errno_and_keeps_first_example() {
        let mut w = Warnings::default();
        let eacces = io::Error::from_raw_os_error(libc::EACCES);
        w.note("open fds", "pid 10", &eacces);
        w.note("open fds", "pid 11", &eacces);
        w.note(
            "mountinfo",
            "pid 12",
            &io::Error::from_raw_os_error(libc::EIO),
        );
        let lines = w.lines();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[1]
                .starts_with("cannot read open fds in 2 places (first: pid 10: Permission denied"),
            "{lines:?}"
        );
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            assert!(lines[1].ends_with("(a non-dumpable or otherwise protected process)"));
        } else {
            assert!(lines[1].ends_with("run nstrace as root to see them"));
        }
        assert!(
            lines[0].starts_with("cannot read mountinfo of pid 12: "),
            "{lines:?}"
        );
    }
}
