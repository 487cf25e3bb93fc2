//! tun/tap fds as holders.
//!
//! An open /dev/net/tun fd carries a socket allocated in the opener's
//! network namespace (`tun_chr_open` → `sk_alloc`), and that socket pins the
//! namespace. The interface itself may live elsewhere (moved with
//! `ip link set netns`); `TUNGETDEVNETNS` names where, but the device does
//! not pin its namespace: a namespace's death moves or deletes its devices.
//! See drivers/net/tun.c `__tun_chr_ioctl` (v6.18).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// `TUNGETDEVNETNS` = `_IO('T', 227)` (include/uapi/linux/if_tun.h, v5.2+).
const TUNGETDEVNETNS: u64 = 0x54e3;
/// The misc device number of /dev/net/tun: major 10, minor 200.
const TUN_RDEV: (u32, u32) = (10, 200);

/// Whether `pid`'s `fd` is the tun character device, wherever its node is.
pub(super) fn is_tun(pid: u32, fd: i32) -> io::Result<bool> {
    let meta = fs::metadata(format!("/proc/{pid}/fd/{fd}"))?;
    let rdev = meta.rdev();
    Ok(meta.file_type().is_char_device() && (libc::major(rdev), libc::minor(rdev)) == TUN_RDEV)
}

/// The namespace the interface attached to `tun` lives in; `None` when no
/// interface is attached (the kernel answers EBADFD).
pub(super) fn device_netns(tun: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    // SAFETY: TUNGETDEVNETNS takes no argument and returns a new fd or -1.
    let ret = unsafe { libc::ioctl(tun.as_raw_fd(), TUNGETDEVNETNS as _) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EBADFD) {
            return Ok(None);
        }
        return Err(err);
    }
    // SAFETY: the kernel just returned this fd.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(ret) }))
}

/// The attached interface's name, from the `iff:` line tun adds to fdinfo
/// (the same answer as `TUNGETIFF`, without an ioctl).
pub(super) fn interface(pid: u32, fd: i32) -> Option<String> {
    let info = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("iff:"))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
}
