//! Opening a log file safely as root: through a descriptor of its
//! directory, never through a symbolic link, only as a regular file on a
//! file system that stores data, with mode 0640 whatever the umask; and
//! errors that name the path and the fix, since a bad `--output` is the
//! most common mistake.
//!
//! The directory is opened once, by the path the user gave; every later
//! open, rename and unlink is relative to that descriptor with the bare
//! file name, so a directory swapped for a link halfway through the run
//! cannot send the log elsewhere, and O_NOFOLLOW refuses a link (dangling
//! or not) planted at the name itself.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, ErrorKind, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Logs hold command names and holder paths: readable by the owner's group
/// (an `adm`-style log reader), never by everyone.
pub const LOG_MODE: u32 = 0o640;

/// An open log file and what was in it already.
pub struct Opened {
    pub file: File,
    /// Bytes already in the file (non-zero when appending after a restart).
    pub len: u64,
    /// (device, inode): tells whether the name still leads to this file.
    pub id: (u64, u64),
    /// Things the user should know, e.g. a mode that was tightened.
    pub notes: Vec<String>,
}

/// The directory a log lives in, held open, and the log's name in it.
pub struct LogDir {
    dir: OwnedFd,
    name: OsString,
    /// The path as given, for messages.
    path: PathBuf,
}

/// What the name in the directory is now.
pub enum AtName {
    Missing,
    /// A regular file: (device, inode), size, and its link count.
    File {
        id: (u64, u64),
        size: u64,
    },
    /// Something else, e.g. a link or a FIFO planted there.
    Other,
}

impl LogDir {
    /// Opens the directory of `path` and checks that it lies on a file
    /// system that stores data.
    pub fn open(path: &Path) -> anyhow::Result<LogDir> {
        let name = match path.file_name() {
            Some(n) if !path.as_os_str().as_bytes().ends_with(b"/") => n.to_owned(),
            _ => return Err(explain(path, io::Error::from_raw_os_error(libc::EISDIR))),
        };
        let parent = parent_of(path);
        let dir = open_dir(parent).map_err(|e| explain(path, e))?;
        refuse_pseudo_fs(&dir, path, parent)?;
        Ok(LogDir {
            dir,
            name,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks, without creating or opening the log, what `open_log` would
    /// refuse: for `trace` to say so before it loads anything.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.stat(&self.name) {
            Ok(st) => check_kind(&self.path, st.st_mode),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(explain(&self.path, e)),
        }
    }

    /// The bare name, numbered: `name.n`.
    pub fn numbered(&self, n: usize) -> OsString {
        let mut s = self.name.clone();
        s.push(format!(".{n}"));
        s
    }

    pub fn name(&self) -> &OsStr {
        &self.name
    }

    /// Opens the log for appending, creating it with mode 0640. A file left
    /// by an earlier run is kept: the minutes before a crash are often what
    /// a user came for. If that run was killed mid-line, the torn line is
    /// ended with `\n` here, so it stays one bad line instead of swallowing
    /// our header.
    pub fn open_log(&self) -> anyhow::Result<Opened> {
        let path = &self.path;
        // Look before opening: opening a FIFO or a device can block or have
        // effects of its own.
        match self.stat(&self.name) {
            Ok(st) => check_kind(path, st.st_mode)?,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(explain(path, e)),
        }
        let flags =
            libc::O_RDWR | libc::O_APPEND | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // O_EXCL first, to know whether the file is ours to set the mode of.
        let (fd, created) =
            match self.openat(&self.name, flags | libc::O_CREAT | libc::O_EXCL, LOG_MODE) {
                Ok(fd) => (fd, true),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => (
                    self.openat(&self.name, flags, 0)
                        .map_err(|e| explain(path, e))?,
                    false,
                ),
                Err(e) => return Err(explain(path, e)),
            };
        let file = File::from(fd);
        let meta = file
            .metadata()
            .with_context(|| format!("{}: cannot stat the log file", path.display()))?;
        // Checked again on what was opened: the name may have changed.
        check_kind(path, meta.mode())?;
        refuse_pseudo_fs(&file, path, path)?;
        let mut notes = Vec::new();
        let mode = meta.permissions().mode() & 0o7777;
        // The umask can only remove bits from the open mode; fchmod puts
        // them back. A file from before that others may read or write is
        // narrowed. Done on the fd, so a rename in between cannot redirect it.
        let wanted = if created { LOG_MODE } else { mode & LOG_MODE };
        if mode != wanted {
            file.set_permissions(std::fs::Permissions::from_mode(wanted))
                .with_context(|| format!("{}: cannot set mode {wanted:04o}", path.display()))?;
            if !created {
                notes.push(format!(
                    "{}: mode {mode:04o} let other users read or change the log: set to {wanted:04o}",
                    path.display()
                ));
            }
        }
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if meta.uid() != euid {
            notes.push(format!(
                "{}: owned by uid {}, who can read and change what nstrace writes to it",
                path.display(),
                meta.uid()
            ));
        }
        let mut len = meta.len();
        if len > 0 {
            let mut last = [0u8];
            file.read_exact_at(&mut last, len - 1).with_context(|| {
                format!("{}: cannot read the end of the log file", path.display())
            })?;
            if last[0] != b'\n' {
                (&file).write_all(b"\n").with_context(|| {
                    format!("{}: cannot end the torn last line", path.display())
                })?;
                len += 1;
            }
        }
        Ok(Opened {
            file,
            len,
            id: (meta.dev(), meta.ino()),
            notes,
        })
    }

    /// What `name` in the directory is now, without following links.
    pub fn at(&self, name: &OsStr) -> io::Result<AtName> {
        match self.stat(name) {
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFREG => Ok(AtName::File {
                id: (st.st_dev, st.st_ino),
                size: st.st_size as u64,
            }),
            Ok(_) => Ok(AtName::Other),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(AtName::Missing),
            Err(e) => Err(e),
        }
    }

    /// renameat(2) within the directory.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let (from, to) = (cstr(from)?, cstr(to)?);
        let fd = self.dir.as_raw_fd();
        // SAFETY: valid fd and NUL-terminated names.
        cvt(unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) })
    }

    /// unlinkat(2) within the directory; a name already gone is fine.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        let c = cstr(name)?;
        // SAFETY: valid fd and NUL-terminated name.
        match cvt(unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) }) {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    /// Makes renames durable, so that after a power loss the names still
    /// match the contents.
    pub fn sync(&self) -> io::Result<()> {
        // SAFETY: valid fd.
        cvt(unsafe { libc::fsync(self.dir.as_raw_fd()) })
    }

    fn stat(&self, name: &OsStr) -> io::Result<libc::stat> {
        let c = cstr(name)?;
        // SAFETY: stat is plain data that fstatat fills.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid fd, NUL-terminated name, and a stat to fill.
        cvt(unsafe {
            libc::fstatat(
                self.dir.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })?;
        Ok(st)
    }

    fn openat(&self, name: &OsStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
        let c = cstr(name)?;
        // SAFETY: valid fd and NUL-terminated name; the result is checked.
        let fd = unsafe { libc::openat(self.dir.as_raw_fd(), c.as_ptr(), flags, mode) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a fresh fd that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    let c = cstr(dir.as_os_str())?;
    // SAFETY: NUL-terminated path; the result is checked.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from(ErrorKind::InvalidInput))
}

fn cvt(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Refuses anything at the log's name but a regular file.
fn check_kind(path: &Path, mode: u32) -> anyhow::Result<()> {
    let what = match mode & libc::S_IFMT {
        libc::S_IFREG => return Ok(()),
        libc::S_IFDIR => {
            return Err(explain(path, io::Error::from_raw_os_error(libc::EISDIR)));
        }
        libc::S_IFLNK => {
            anyhow::bail!(
                "{}: is a symbolic link: nstrace does not write through links, which \
                 another user could point anywhere; give --output the real path (to print \
                 the log on standard output, use --json without --output)",
                path.display()
            )
        }
        libc::S_IFIFO => "a FIFO",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFSOCK => "a socket",
        _ => "not a regular file",
    };
    anyhow::bail!(
        "{}: is {what}, not a regular file: give --output a file path (to print the log \
         on standard output, use --json without --output)",
        path.display()
    )
}

/// File systems whose files are not storage but controls or views of the
/// kernel: writing a log there changes settings (procfs, sysfs), fills
/// memory nobody reads, or fails halfway. Magic numbers from
/// include/uapi/linux/magic.h (v6.18).
const PSEUDO_FS: [(u32, &str); 24] = [
    (0x9fa0, "procfs"),
    (0x6265_6572, "sysfs"),
    (0x6462_6720, "debugfs"),
    (0x7472_6163, "tracefs"),
    (0x0027_e0eb, "cgroupfs"),
    (0x6367_7270, "cgroup2fs"),
    (0xcafe_4a11, "bpffs"),
    (0x1cd1, "devpts"),
    (0x7365_6373, "securityfs"),
    (0xf97c_ff8c, "selinuxfs"),
    (0x4341_5d53, "smackfs"),
    (0x6165_676c, "pstore"),
    (0xde5e_81e4, "efivarfs"),
    (0x6265_6570, "configfs"),
    (0x6573_5543, "fusectl"),
    (0x4249_4e4d, "binfmt_misc"),
    (0x6e73_6673, "nsfs"),
    (0x1980_0202, "mqueue"),
    (0x9584_58f6, "hugetlbfs"),
    (0x0765_5821, "resctrl"),
    (0x0187, "autofs"),
    (0x5049_5045, "pipefs"),
    (0x534f_434b, "sockfs"),
    (0x0904_1934, "anon_inodefs"),
];

const TMPFS_MAGIC: u32 = 0x0102_1994;

/// Refuses a log whose directory or file lies on a pseudo file system.
/// `shown` is the directory or file named in the message.
fn refuse_pseudo_fs(fd: &impl AsRawFd, path: &Path, shown: &Path) -> anyhow::Result<()> {
    // SAFETY: statfs is plain data that fstatfs fills.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid fd and a statfs to fill.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("{}: cannot tell its file system", path.display()));
    }
    // f_type is a signed or unsigned long depending on the libc; the
    // magic numbers are 32-bit.
    #[allow(clippy::cast_sign_loss, clippy::unnecessary_cast)]
    let magic = (st.f_type as u64 & 0xffff_ffff) as u32;
    let name = match PSEUDO_FS.iter().find(|(m, _)| *m == magic) {
        Some((_, name)) => *name,
        // devtmpfs reports tmpfs' magic: only the mount table tells them apart.
        None if magic == TMPFS_MAGIC && fs_type_name(fd).as_deref() == Some("devtmpfs") => {
            "devtmpfs"
        }
        None => return Ok(()),
    };
    anyhow::bail!(
        "{}: {} is on {name}, a pseudo file system whose files are kernel controls, not \
         storage: choose --output on a real file system (e.g. /var/log/nstrace.jsonl)",
        path.display(),
        shown.display()
    )
}

/// The mount table's name for the file system of `fd` (`mnt_id` from
/// /proc/self/fdinfo, looked up in /proc/self/mountinfo); `None` when /proc
/// cannot tell.
fn fs_type_name(fd: &impl AsRawFd) -> Option<String> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    let mnt_id = info
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))?
        .trim()
        .to_string();
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    table.lines().find_map(|l| {
        if l.split(' ').next()? != mnt_id {
            return None;
        }
        let (_, after) = l.split_once(" - ")?;
        Some(after.split(' ').next()?.to_string())
    })
}

/// Turns an open(2) failure into an error that says what to do.
fn explain(path: &Path, err: io::Error) -> anyhow::Error {
    let shown = path.display();
    let parent = parent_of(path);
    let hint = match err.raw_os_error() {
        Some(libc::ELOOP) => {
            "is a symbolic link: nstrace does not write through links, which another user \
             could point anywhere; give --output the real path (to print the log on standard \
             output, use --json without --output)"
                .to_string()
        }
        Some(libc::ENXIO | libc::EAGAIN) => {
            "is not a regular file: give --output a file path".to_string()
        }
        _ => match err.kind() {
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
        },
    };
    anyhow::Error::new(err).context(format!("{shown}: {hint}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nstrace-create-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn open(path: &Path) -> anyhow::Result<Opened> {
        LogDir::open(path)?.open_log()
    }

    fn error(path: &Path) -> String {
        match open(path) {
            Ok(_) => panic!("{} opened", path.display()),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn links_at_the_name_are_refused_and_their_targets_untouched() {
        let dir = tempdir("links");
        let target = dir.join("target");
        std::fs::write(&target, "precious\n").unwrap();
        let link = dir.join("log.jsonl");
        symlink(&target, &link).unwrap();
        let err = error(&link);
        assert!(
            err.starts_with(&format!(
                "{}: is a symbolic link: nstrace does not write through links",
                link.display()
            )),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        // Dangling: the target must not be created.
        let dangling = dir.join("dangling.jsonl");
        let nowhere = dir.join("created-through-a-link");
        symlink(&nowhere, &dangling).unwrap();
        assert!(error(&dangling).contains("is a symbolic link"));
        let checked = LogDir::open(&dangling).unwrap().check().unwrap_err();
        assert!(format!("{checked:#}").contains("is a symbolic link"));
        assert!(!nowhere.exists());
    }

    #[test]
    fn fifos_and_devices_are_refused_without_opening_them() {
        let dir = tempdir("fifo");
        let fifo = dir.join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // With no reader, opening it would block: refusing it returns.
        assert_eq!(
            error(&fifo),
            format!(
                "{}: is a FIFO, not a regular file: give --output a file path (to print the \
                 log on standard output, use --json without --output)",
                fifo.display()
            )
        );
        let dev = dir.join("null");
        let c = CString::new(dev.as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; /dev/null's device number. Only
        // root may make a device node.
        if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) } == 0 {
            assert!(error(&dev).contains("null: is a character device, not a regular file"));
        }
        let stdout = dir.join("stdout");
        symlink("/proc/self/fd/1", &stdout).unwrap();
        assert!(error(&stdout).contains("stdout: is a symbolic link"));
    }

    #[test]
    fn pseudo_file_systems_are_refused_by_type() {
        let before = std::fs::read("/proc/sys/kernel/hostname").unwrap();
        let err = error(Path::new("/proc/sys/kernel/hostname"));
        assert!(
            err.starts_with(
                "/proc/sys/kernel/hostname: /proc/sys/kernel is on procfs, a pseudo file system"
            ),
            "{err}"
        );
        assert_eq!(std::fs::read("/proc/sys/kernel/hostname").unwrap(), before);
        // A file on procfs reached from a real directory, through a bind
        // mount or not, is refused by the check on the opened file too.
        let fake = LogDir {
            dir: open_dir(Path::new("/proc/sys/kernel")).unwrap(),
            name: "hostname".into(),
            path: PathBuf::from("/x/hostname"),
        };
        let err = format!("{:#}", fake.open_log().err().unwrap());
        assert!(err.contains("/x/hostname is on procfs"), "{err}");
        assert_eq!(std::fs::read("/proc/sys/kernel/hostname").unwrap(), before);
        let err = error(Path::new("/sys/nstrace.jsonl"));
        assert!(
            err.contains("/sys is on sysfs, a pseudo file system"),
            "{err}"
        );
        if Path::new("/dev/shm").exists() {
            // tmpfs stores data: accepted. (devtmpfs at /dev is refused.)
            let p = Path::new("/dev/shm").join(format!("nstrace-{}.jsonl", std::process::id()));
            let ok = open(&p);
            let _ = std::fs::remove_file(&p);
            ok.unwrap();
        }
        if fs_type_name(&File::open("/dev").unwrap()).as_deref() == Some("devtmpfs") {
            let err = error(Path::new("/dev/nstrace-test.jsonl"));
            assert!(err.contains("/dev is on devtmpfs"), "{err}");
            assert!(error(Path::new("/dev/null")).contains("/dev is on devtmpfs"));
        }
    }

    #[test]
    fn a_mode_wider_than_0640_is_narrowed_with_a_note() {
        let dir = tempdir("mode");
        let path = dir.join("log.jsonl");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let opened = open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        assert_eq!(
            opened.notes,
            [format!(
                "{}: mode 0666 let other users read or change the log: set to 0640",
                path.display()
            )]
        );
        // Narrower modes are left alone, silently.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(open(&path).unwrap().notes.is_empty());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o600
        );
    }

    #[test]
    fn a_swapped_directory_does_not_redirect_later_opens() {
        let dir = tempdir("swap");
        let real = dir.join("real");
        let elsewhere = dir.join("elsewhere");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        let logdir = LogDir::open(&real.join("log.jsonl")).unwrap();
        // The directory is replaced by a link to another one.
        std::fs::rename(&real, dir.join("moved")).unwrap();
        symlink(&elsewhere, &real).unwrap();
        logdir.open_log().unwrap();
        assert!(dir.join("moved/log.jsonl").exists());
        assert!(!elsewhere.join("log.jsonl").exists());
    }
}
