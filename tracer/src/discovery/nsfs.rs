//! The nsfs ioctls: which namespace an fd is, and who its relatives are.
//!
//! Request numbers are from include/uapi/linux/nsfs.h
//! (https://github.com/torvalds/linux/blob/v6.18/include/uapi/linux/nsfs.h),
//! unchanged since v4.11.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::nsref::{type_from_clone_flag, NsRef};

const NSIO: u64 = 0xb7;
/// `_IO(NSIO, 0x1)`: the owning user namespace (a user namespace's parent).
const NS_GET_USERNS: u64 = NSIO << 8 | 0x1;
/// `_IO(NSIO, 0x2)`: the parent of a pid or user namespace.
const NS_GET_PARENT: u64 = NSIO << 8 | 0x2;
/// `_IO(NSIO, 0x3)`: the `CLONE_NEW*` flag of the namespace's type.
const NS_GET_NSTYPE: u64 = NSIO << 8 | 0x3;
/// `_IO(NSIO, 0x4)`: the uid that created a user namespace.
const NS_GET_OWNER_UID: u64 = NSIO << 8 | 0x4;
/// `statfs.f_type` of nsfs (include/uapi/linux/magic.h).
pub const NSFS_MAGIC: i64 = 0x6e73_6673;

fn ioctl_fd(fd: BorrowedFd<'_>, request: u64) -> io::Result<OwnedFd> {
    // SAFETY: these requests take no argument and return a new fd or -1.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just handed us this fd and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// Opens a namespace file (`/proc/PID/ns/net`, a bind mount, `/proc/PID/fd/N`).
pub fn open(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: c is a valid NUL-terminated string.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open just returned this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether the file at `path` lives on nsfs.
pub fn is_nsfs(path: &Path) -> io::Result<bool> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: statfs is plain old data; the kernel fills it in.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is NUL-terminated and st is a valid out pointer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_type as i64 == NSFS_MAGIC)
}

/// The namespace an nsfs fd refers to: type from `NS_GET_NSTYPE`, inode from fstat.
pub fn identify(fd: BorrowedFd<'_>) -> io::Result<NsRef> {
    // SAFETY: stat is plain old data; the kernel fills it in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open and st is a valid out pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: NS_GET_NSTYPE takes no argument.
    let flag = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if flag < 0 {
        return Err(io::Error::last_os_error());
    }
    let ns_type = type_from_clone_flag(flag as u64).ok_or_else(|| {
        io::Error::other(format!("NS_GET_NSTYPE returned unknown flag {flag:#x}"))
    })?;
    let inum = u32::try_from(st.st_ino)
        .map_err(|_| io::Error::other(format!("nsfs inode {} exceeds 32 bits", st.st_ino)))?;
    Ok(NsRef::new(ns_type, inum))
}

/// The user namespace that owns `fd`'s namespace (for a user namespace, its
/// parent). `None` for the initial user namespace, which has no owner.
pub fn owner(fd: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    match ioctl_fd(fd, NS_GET_USERNS) {
        Ok(fd) => Ok(Some(fd)),
        // EPERM: the owner is outside our user namespace's ancestry (or none).
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The parent of a pid or user namespace; `None` for other types and for
/// namespaces whose parent we cannot see.
pub fn parent(fd: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    match ioctl_fd(fd, NS_GET_PARENT) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EINVAL)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The uid (in our user namespace) of the creator of a user namespace.
pub fn owner_uid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_OWNER_UID as _, &mut uid) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(uid)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use tracer_common::NsType;

    use super::*;

    #[test]
    fn identifies_own_namespaces() {
        for t in NsType::ALL {
            let path = format!("/proc/self/ns/{}", t.name());
            let link = std::fs::read_link(&path).unwrap();
            let want = NsRef::parse_link(link.to_str().unwrap()).unwrap();
            let fd = open(Path::new(&path)).unwrap();
            assert_eq!(identify(fd.as_fd()).unwrap(), want);
            assert!(is_nsfs(Path::new(&path)).unwrap());
        }
        assert!(!is_nsfs(Path::new("/proc/self/status")).unwrap());
    }
}
