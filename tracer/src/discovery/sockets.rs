//! Sockets as holders: every userspace socket pins the network namespace it
//! was created in, whatever namespace its owner has moved to since.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `SIOCGSKNS` (include/uapi/linux/sockios.h): an fd of the socket's netns.
/// tun fds answer it too, with the namespace their queue socket pins.
const SIOCGSKNS: u64 = 0x894C;

/// The network namespace `sock` pins.
pub(super) fn netns_of(sock: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: SIOCGSKNS takes no argument and returns a new fd or -1.
    let ret = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCGSKNS as _) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// The inode number in a `socket:[N]` link.
pub(super) fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}
