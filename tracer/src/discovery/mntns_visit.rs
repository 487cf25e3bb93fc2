//! Looking inside a mount namespace that no task is in.
//!
//! /proc/PID/mountinfo needs a task inside the namespace, and a thread of a
//! multithreaded process cannot `setns` into a mount namespace. So a forked
//! child enters it and waits while we read /proc/CHILD/mountinfo and resolve
//! paths under /proc/CHILD/root, then exits. The child only makes raw
//! syscalls (setns, write, read, _exit), which are safe after fork in a
//! multithreaded parent.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid out array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these fds.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Runs `f` with the pid of a child that sits in the mount namespace `ns`.
pub(super) fn with_task_in<R>(ns: BorrowedFd<'_>, f: impl FnOnce(u32) -> R) -> io::Result<R> {
    let (ready_r, ready_w) = pipe()?;
    let (release_r, release_w) = pipe()?;
    // SAFETY: the child only makes async-signal-safe syscalls and _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: raw syscalls on fds we own; errno goes back through the pipe.
        unsafe {
            // Our copy of the write end would keep the release read below
            // from ever seeing EOF.
            libc::close(release_w.as_raw_fd());
            libc::close(ready_r.as_raw_fd());
            let status: i32 = if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) == 0 {
                0
            } else {
                *libc::__errno_location()
            };
            libc::write(ready_w.as_raw_fd(), (&status as *const i32).cast(), 4);
            let mut b = 0u8;
            libc::read(release_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(release_r);
    let mut status = [0u8; 4];
    // SAFETY: status is a valid 4-byte buffer.
    let n = unsafe { libc::read(ready_r.as_raw_fd(), status.as_mut_ptr().cast(), 4) };
    let result = if n != 4 {
        Err(io::Error::other(
            "mount namespace helper died before entering",
        ))
    } else {
        match i32::from_ne_bytes(status) {
            0 => Ok(f(pid as u32)),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    };
    drop(release_w);
    let mut wstatus = 0;
    // SAFETY: pid is our child; we reap it so no zombie is left.
    unsafe { libc::waitpid(pid, &mut wstatus, 0) };
    result
}
