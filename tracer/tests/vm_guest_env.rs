//! Runs inside the QEMU guest only (feature `vm-tests`): checks the guest
//! environment the namespace tests rely on, so a broken /init or runner fails
//! here by name rather than as missing events in a later test.

use std::{fs, os::unix::fs::MetadataExt as _, path::Path};

/// The calling thread's net namespace: libtest may run a test on a thread
/// of its own, and /proc/self names the main thread, which unshare leaves
/// where it was.
fn net_ns_inode() -> u64 {
    fs::metadata("/proc/thread-self/ns/net")
        .expect("stat /proc/thread-self/ns/net")
        .ino()
}

/// Whether `path` is a mount point of file system type `fstype`, from
/// /proc/self/mounts.
fn mounted(path: &str, fstype: &str) -> bool {
    let mounts = fs::read_to_string("/proc/self/mounts").expect("read /proc/self/mounts");
    mounts.lines().any(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        fields.get(1) == Some(&path) && fields.get(2) == Some(&fstype)
    })
}

#[test]
fn unshare_makes_a_new_net_namespace() {
    let before = net_ns_inode();
    // SAFETY: unshare has no memory-safety preconditions. Only this thread
    // moves to the new namespace.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let after = net_ns_inode();
    assert_ne!(
        before, after,
        "unshare(CLONE_NEWNET) left the net namespace inode at {before}"
    );
}

#[test]
fn tracefs_and_bpffs_are_mounted() {
    assert!(
        mounted("/sys/kernel/tracing", "tracefs"),
        "tracefs is not mounted on /sys/kernel/tracing"
    );
    assert!(
        Path::new("/sys/kernel/tracing/events").is_dir(),
        "/sys/kernel/tracing has no events directory"
    );
    assert!(
        mounted("/sys/fs/bpf", "bpf"),
        "bpffs is not mounted on /sys/fs/bpf"
    );
}

#[test]
fn hook_method_is_given() {
    let method = std::env::var("NSTRACE_TEST_METHOD").expect("NSTRACE_TEST_METHOD is not set");
    assert!(
        matches!(method.as_str(), "fentry" | "kprobe"),
        "NSTRACE_TEST_METHOD is {method:?}, not fentry or kprobe"
    );
}

#[test]
fn nstrace_binary_is_given() {
    let bin = std::env::var("NSTRACE_BIN").expect("NSTRACE_BIN is not set");
    let meta = fs::metadata(&bin).unwrap_or_else(|e| panic!("NSTRACE_BIN={bin}: {e}"));
    assert!(
        meta.mode() & 0o111 != 0,
        "NSTRACE_BIN={bin} is not executable"
    );
}

/// /init mounts a v1 hierarchy so that each kernel's verifier checks the
/// programs' walk to a task's v1 cgroup id: without one that code is
/// never loaded in the guest.
#[test]
fn a_cgroup_v1_hierarchy_is_mounted() {
    assert!(
        mounted("/mnt/cgroup-v1-freezer", "cgroup"),
        "no cgroup v1 hierarchy on /mnt/cgroup-v1-freezer"
    );
}
