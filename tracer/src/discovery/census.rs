//! Threads per namespace, for the tracer's task scan: from readlinks
//! alone, so no nsfs inode is created and nothing is opened but /proc
//! directories.
//!
//! Each thread's `ns` directory is opened once (O_PATH) and its eight
//! links are read relative to it: a readlink of the full path looked up
//! the pid and the thread again for every link, and that was most of a
//! scan's cost.

use std::{
    collections::{hash_map::Entry, HashMap},
    ffi::{CStr, CString},
    fs, io,
    os::{
        fd::{AsRawFd as _, OwnedFd},
        unix::fs::OpenOptionsExt as _,
    },
};

use anyhow::Context as _;
use tracer_common::NsType;

use super::nsref::NsRef;
use crate::decode::Clock;

/// Threads per namespace, and one thread in each: what the tracer's task
/// scan learns.
#[derive(Debug, Default)]
pub struct TaskCensus {
    pub counts: HashMap<(NsType, u32), u32>,
    /// One (pid, tid) inside each namespace counted, the lowest pid's
    /// (the longest lived, as a rule): while it lives, the namespace
    /// still has a task (see [`thread_alive`]).
    pub sentinels: HashMap<(NsType, u32), (u32, u32)>,
    /// When the walk first found each namespace (CLOCK_BOOTTIME, read
    /// just after the link), if asked for: it existed then. A scan takes a
    /// while on a busy host, and a namespace born meanwhile is alive only
    /// from its birth, not from the scan's start. (Read before the link,
    /// the time could precede the birth's own record by the few
    /// microseconds between the switch of namespaces and the syscall's
    /// exit; read after, a death in the sub-microsecond between link and
    /// clock would come before it. The second is the narrower window.)
    pub first_seen: HashMap<(NsType, u32), u64>,
}

/// Threads per namespace, every thread of every process read; with
/// `note_times`, when each namespace was first found.
pub fn task_counts(note_times: bool) -> anyhow::Result<TaskCensus> {
    let mut census = TaskCensus::default();
    let pids =
        numeric_entries("/proc").context("cannot list /proc: is procfs mounted at /proc?")?;
    let names: Vec<CString> = NsType::ALL
        .iter()
        .map(|t| CString::new(t.name()).expect("no NUL in a type name"))
        .collect();
    for pid in pids {
        let Ok(tids) = numeric_entries(&format!("/proc/{pid}/task")) else {
            continue;
        };
        for tid in tids {
            let Ok(dir) = open_path(&format!("/proc/{pid}/task/{tid}/ns")) else {
                continue;
            };
            for name in &names {
                if let Some(r) = link_at(&dir, name) {
                    let key = (r.ns_type, r.inum);
                    match census.counts.entry(key) {
                        Entry::Occupied(mut n) => *n.get_mut() += 1,
                        Entry::Vacant(n) => {
                            n.insert(1);
                            census.sentinels.insert(key, (pid, tid));
                            if note_times {
                                census.first_seen.insert(key, Clock::boot_ns());
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(census)
}

/// Whether thread `tid` of process `pid` still exists: one tgkill with no
/// signal, no path to look up. Its namespaces change only through
/// setns, unshare and exec, which the tracer sees; a tid reused by a new
/// thread in between passes, and the next full scan corrects that.
pub fn thread_alive(pid: u32, tid: u32) -> bool {
    let (Ok(pid), Ok(tid)) = (i32::try_from(pid), i32::try_from(tid)) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the thread exists and may be
    // signalled; nothing is sent.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) };
    // EPERM: it exists, we may just not signal it.
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Numeric entries of a /proc directory, unsorted.
fn numeric_entries(dir: &str) -> io::Result<Vec<u32>> {
    Ok(fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect())
}

/// An O_PATH handle on a directory: enough to resolve names in it, and
/// nothing is read.
fn open_path(path: &str) -> io::Result<OwnedFd> {
    let dir = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(path)?;
    Ok(dir.into())
}

/// The namespace the link `name` in directory `dir` names, if readable.
fn link_at(dir: &OwnedFd, name: &CStr) -> Option<NsRef> {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is writable for its length; readlinkat writes at most
    // that many bytes and returns how many.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let text = std::str::from_utf8(buf.get(..usize::try_from(n).ok()?)?).ok()?;
    NsRef::parse_link(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_namespaces_are_counted_with_a_live_sentinel() {
        let census = task_counts(false).unwrap();
        for t in NsType::ALL {
            let link = fs::read_link(format!("/proc/self/ns/{}", t.name())).unwrap();
            let me = NsRef::parse_link(&link.to_string_lossy()).unwrap();
            let key = (me.ns_type, me.inum);
            assert!(census.counts[&key] >= 1, "{me}");
            let (pid, tid) = census.sentinels[&key];
            assert!(thread_alive(pid, tid), "{me}: {pid}/{tid}");
        }
        // This thread's namespaces include it.
        assert!(census.counts.values().sum::<u32>() >= 8);
    }

    #[test]
    fn a_thread_that_ended_is_not_alive() {
        let me = std::process::id();
        // SAFETY: gettid has no preconditions.
        let tid = std::thread::spawn(|| unsafe { libc::gettid() } as u32)
            .join()
            .unwrap();
        assert!(thread_alive(me, me));
        assert!(!thread_alive(me, tid), "thread {tid} ended");
        assert!(!thread_alive(u32::MAX, u32::MAX));
    }
}
