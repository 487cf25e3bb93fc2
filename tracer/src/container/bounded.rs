//! Reads of runtime state that a hostile host cannot turn against a root
//! daemon: no symlink is followed anywhere on the path (a container's owner
//! can plant one in state it controls), only regular files are read, and a
//! file over its cap is refused rather than read in part.

use std::ffi::{CString, OsString};
use std::io::{self, Read as _};
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

/// Cap for one container's state file (config.v2.json, an OCI config.json,
/// runc's state.json): tens of KiB in practice.
pub const STATE_CAP: u64 = 1 << 20;
/// Cap for a runtime-wide index (containers/storage's containers.json holds
/// one entry of about 500 bytes per container).
pub const INDEX_CAP: u64 = 16 << 20;
/// At most this many entries are read from one state directory.
pub const DIR_CAP: usize = 4096;

/// Opens `path` read-only without following any symlink or magic link on
/// the way (openat2 RESOLVE_NO_SYMLINKS, Linux 5.6+; before that only the
/// last component is protected, with O_NOFOLLOW).
fn open_no_symlinks(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    let flags = flags | libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
    // SAFETY: open_how is plain integers; all-zero is its default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: c is a NUL-terminated path and how a valid open_how of the
    // size passed; the kernel only reads both.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    let fd = if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        // SAFETY: as above; open only reads the path.
        (unsafe { libc::open(c.as_ptr(), flags | libc::O_NOFOLLOW) }) as libc::c_long
    } else {
        fd
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// The whole of the regular file at `path`, if it has at most `cap` bytes.
pub fn read_file(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let fd = open_no_symlinks(path, 0)?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    if meta.len() > cap {
        return Err(too_big(cap));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    // A file that grows while read is still held to the cap.
    file.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(too_big(cap));
    }
    Ok(buf)
}

fn too_big(cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than the {cap}-byte cap"),
    )
}

/// A JSON document of at most `cap` bytes, as a generic value.
pub fn read_json(path: &Path, cap: u64) -> io::Result<serde_json::Value> {
    let bytes = read_file(path, cap)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The names in directory `path` (at most [`DIR_CAP`]), reached without
/// following a symlink.
pub fn list_dir(path: &Path) -> io::Result<Vec<OsString>> {
    let fd = open_no_symlinks(path, libc::O_DIRECTORY)?;
    // Listed through our own descriptor, so the directory read is the one
    // opened above even if the path is swapped meanwhile.
    let dir = Path::new("/proc/self/fd").join(std::os::fd::AsRawFd::as_raw_fd(&fd).to_string());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir)?.take(DIR_CAP) {
        names.push(entry?.file_name());
    }
    drop(fd);
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("nstrace-bounded-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn refuses_symlinks_anywhere_on_the_path() {
        let d = tempdir("links");
        std::fs::create_dir(d.join("real")).unwrap();
        std::fs::write(d.join("real/state.json"), b"{\"a\":1}").unwrap();
        std::os::unix::fs::symlink(d.join("real"), d.join("dirlink")).unwrap();
        std::os::unix::fs::symlink(d.join("real/state.json"), d.join("filelink")).unwrap();
        assert_eq!(read_json(&d.join("real/state.json"), 100).unwrap()["a"], 1);
        assert!(read_file(&d.join("dirlink/state.json"), 100).is_err());
        assert!(read_file(&d.join("filelink"), 100).is_err());
        assert!(list_dir(&d.join("dirlink")).is_err());
        assert_eq!(
            list_dir(&d.join("real")).unwrap(),
            vec![OsString::from("state.json")]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_big_and_special_files() {
        let d = tempdir("caps");
        std::fs::write(d.join("big"), vec![b'x'; 101]).unwrap();
        let err = read_file(&d.join("big"), 100).unwrap_err();
        assert!(err.to_string().contains("100-byte cap"), "{err}");
        assert_eq!(read_file(&d.join("big"), 101).unwrap().len(), 101);
        // A FIFO would block a reader forever without O_NONBLOCK.
        let fifo = CString::new(d.join("fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid path; mkfifo only reads it.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(read_file(&d.join("fifo"), 100).is_err());
        assert!(read_file(&d.join("missing"), 100).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
