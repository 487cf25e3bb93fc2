//! Borrowing another process's fd: `pidfd_open` + `pidfd_getfd` (Linux 5.6+).
//!
//! A socket or tun fd can only be asked which network namespace it pins
//! through an ioctl on the fd itself, so we duplicate it into our process.
//! Closing the duplicate leaves the owner's fd untouched.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The fds of one process, with its pidfd opened on first use.
pub(super) struct ProcessFds {
    pid: u32,
    pidfd: Option<OwnedFd>,
}

impl ProcessFds {
    pub fn new(pid: u32) -> ProcessFds {
        ProcessFds { pid, pidfd: None }
    }

    /// A duplicate of the process's `fd`. Needs ptrace access to the process
    /// (root, or the same user without Yama restrictions).
    pub fn grab(&mut self, fd: i32) -> io::Result<OwnedFd> {
        if self.pidfd.is_none() {
            // SAFETY: pidfd_open(pid, flags) takes two integers.
            let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, self.pid, 0) };
            if ret < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: the kernel just returned this fd.
            self.pidfd = Some(unsafe { OwnedFd::from_raw_fd(ret as i32) });
        }
        let pidfd = self.pidfd.as_ref().map_or(-1, |p| p.as_raw_fd());
        // SAFETY: pidfd_getfd(pidfd, targetfd, flags) takes three integers.
        let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) };
        if ret < 0 {
            let err = io::Error::last_os_error();
            // EBADF: the fd was closed since we listed it.
            if err.raw_os_error() == Some(libc::EBADF) {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            return Err(err);
        }
        // SAFETY: the kernel just returned this fd and nobody else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
    }
}
