//! Helpers for the discovery tests: children that sit in, or hold, fresh
//! namespaces made with raw syscalls, and cleanup that runs even when a test
//! fails.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A `sleep` child, killed and reaped on drop.
pub struct Sleeper(pub Child);

impl Sleeper {
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Kills the child and waits, so none of its references remain.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `sleep` after running `setup` in the child between fork and exec.
/// `setup` must only make raw syscalls on data prepared beforehand.
pub fn spawn_with(setup: impl FnMut() -> io::Result<()> + Send + Sync + 'static) -> Sleeper {
    let mut cmd = Command::new("sleep");
    cmd.arg("1000").stdin(Stdio::null());
    // SAFETY: the closures passed by the tests only make raw syscalls.
    unsafe { cmd.pre_exec(setup) };
    Sleeper(cmd.spawn().expect("spawn sleep with namespace setup"))
}

/// Starts `sleep` in fresh namespaces (`CLONE_NEW*` flags).
pub fn spawn_in(flags: i32) -> Sleeper {
    spawn_with(move || check(unsafe { libc::unshare(flags) }))
}

pub fn check(ret: i32) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Opens a file in the child (raw `open`, no allocation).
pub fn open_raw(path: &CString) -> io::Result<i32> {
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    check(fd).map(|_| fd)
}

/// Moves `fd` to `target` in the child, where it survives exec.
pub fn dup_to(fd: i32, target: i32) -> io::Result<()> {
    if fd == target {
        return Ok(());
    }
    // SAFETY: plain fd syscalls.
    check(unsafe { libc::dup2(fd, target) })?;
    // SAFETY: plain fd syscalls.
    unsafe { libc::close(fd) };
    Ok(())
}

/// The inode of `pid`'s namespace `name`, read back from /proc/PID/ns.
pub fn ns_of(pid: u32, name: &str) -> u32 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).unwrap();
    let text = link.to_string_lossy();
    let inner = text.split_once(":[").unwrap().1.trim_end_matches(']');
    inner.parse().unwrap()
}

/// Panics if any thread on the system is in namespace `name:[inum]`.
pub fn assert_no_task_in(name: &str, inum: u32) {
    let want = format!("{name}:[{inum}]");
    for pid in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = pid.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for tid in tasks.flatten() {
            let link = tid.path().join("ns").join(name);
            if let Ok(t) = std::fs::read_link(&link) {
                assert_ne!(
                    t.to_string_lossy(),
                    want,
                    "{} is still inside",
                    link.display()
                );
            }
        }
    }
}

/// A file in /tmp to bind-mount onto; unmounted and removed on drop.
pub struct MountTarget {
    pub path: String,
    pub c: CString,
}

impl MountTarget {
    pub fn new(tag: &str) -> MountTarget {
        let path = format!("/tmp/nstrace-test-{tag}-{}", std::process::id());
        std::fs::write(&path, b"").unwrap();
        MountTarget {
            c: cstr(&path),
            path,
        }
    }

    /// A directory, for a filesystem mount (proc, mqueue).
    pub fn dir(tag: &str) -> MountTarget {
        let path = format!("/tmp/nstrace-test-{tag}-{}", std::process::id());
        std::fs::create_dir_all(&path).unwrap();
        MountTarget {
            c: cstr(&path),
            path,
        }
    }
}

impl Drop for MountTarget {
    fn drop(&mut self) {
        // SAFETY: path is NUL-terminated; failure (not mounted) is fine.
        unsafe { libc::umount2(self.c.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Runs the built `nstrace` binary; returns (exit code, stdout, stderr).
pub fn nstrace(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .args(args)
        .output()
        .expect("run nstrace");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
