//! What a user sees when they get something wrong: the message names the
//! input and the fix, and the exit code is 2.

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    process::{Command, Output},
};

fn nstrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .args(args)
        .output()
        .expect("running nstrace")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_fails_with(out: &Output, expected: &str) {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(err.contains(expected), "stderr lacks {expected:?}:\n{err}");
}

#[test]
fn non_root_is_told_which_capabilities_to_grant() {
    // A copy the unprivileged user can surely execute, whatever the
    // permissions of the checkout's directories.
    let dir = std::env::temp_dir().join(format!("nstrace-nonroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("nstrace");
    std::fs::copy(env!("CARGO_BIN_EXE_nstrace"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let load = "CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH and CAP_SYSLOG to load and attach \
                eBPF programs and read tracefs and kernel symbols";
    let scan = "CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_ADMIN and \
                CAP_SYS_CHROOT to see every process's namespaces, fds, sockets and mounts";
    let bin_s = bin.display();
    for (args, want) in [
        (
            &["probe"][..],
            format!(
                "nstrace: nstrace probe needs {load}; it lacks CAP_BPF, CAP_PERFMON, \
                 CAP_DAC_READ_SEARCH and CAP_SYSLOG. Run it as root (sudo), or give the binary \
                 these capabilities: sudo setcap \
                 cap_bpf,cap_perfmon,cap_dac_read_search,cap_syslog+ep {bin_s}"
            ),
        ),
        (
            &["trace"][..],
            format!(
                "nstrace: nstrace trace needs {load}, and {scan}; it lacks CAP_BPF, \
                 CAP_PERFMON, CAP_DAC_READ_SEARCH, CAP_SYSLOG, CAP_SYS_PTRACE, CAP_NET_ADMIN, \
                 CAP_SYS_ADMIN and CAP_SYS_CHROOT. Run it as root (sudo), or give the binary \
                 these capabilities: sudo setcap cap_bpf,cap_perfmon,cap_dac_read_search,\
                 cap_syslog,cap_sys_ptrace,cap_net_admin,cap_sys_admin,cap_sys_chroot+ep \
                 {bin_s}; or pass --no-scan, which needs only the first set (and writes no \
                 linger records)"
            ),
        ),
    ] {
        let out = Command::new(&bin)
            .args(args)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("running nstrace as nobody");
        assert_fails_with(&out, &want);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_btf_names_the_file_and_the_fix() {
    let out = nstrace(&["trace", "--btf", "/nonexistent/vmlinux"]);
    assert_fails_with(
        &out,
        "nstrace: reading kernel BTF from /nonexistent/vmlinux: nstrace needs a kernel built \
         with CONFIG_DEBUG_INFO_BTF=y, or a BTF file for it passed with --btf PATH: No such \
         file or directory (os error 2)",
    );
}

#[test]
fn unreadable_or_corrupt_btf_is_refused() {
    let out = nstrace(&["trace", "--btf", "/proc"]);
    assert_fails_with(&out, "nstrace: reading kernel BTF from /proc: ");
    assert!(
        stderr_of(&out).contains("Is a directory"),
        "{}",
        stderr_of(&out)
    );

    let garbage = std::env::temp_dir().join(format!("nstrace-garbage-btf-{}", std::process::id()));
    std::fs::write(&garbage, [0x7fu8, b'E', b'L', b'F'].repeat(16)).unwrap();
    let out = nstrace(&["probe", "--btf", garbage.to_str().unwrap()]);
    std::fs::remove_file(&garbage).unwrap();
    assert_fails_with(
        &out,
        &format!(
            "nstrace: parsing BTF in {}: not BTF: magic 0x457f",
            garbage.display()
        ),
    );
}

#[test]
fn unknown_type_lists_the_valid_ones() {
    let out = nstrace(&["trace", "--types", "net,netns"]);
    assert_fails_with(
        &out,
        "nstrace: --types: unknown namespace type 'netns'; valid types: mnt, uts, ipc, pid, net, \
         user, cgroup, time",
    );
}

#[test]
fn bad_output_path_names_the_directory_to_create() {
    let out = nstrace(&["trace", "--output", "/nonexistent-dir/ns.jsonl", "-d", "1"]);
    assert_fails_with(
        &out,
        "/nonexistent-dir/ns.jsonl: directory /nonexistent-dir does not exist: create it \
         (mkdir -p /nonexistent-dir) or choose another --output",
    );
    let out = nstrace(&["trace", "--output", "/tmp", "-d", "1"]);
    assert_fails_with(&out, "give --output a file path");
}

#[test]
fn unknown_method_and_bad_buffer_are_refused() {
    let out = nstrace(&["trace", "--method", "kprobes"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown method 'kprobes': use one of fentry, kprobe, tracepoint"),
        "{err}"
    );
    for bad in ["100", "4194304"] {
        let out = nstrace(&["trace", "--buffer-kib", bad]);
        assert_fails_with(
            &out,
            &format!(
                "invalid value '{bad}' for '--buffer-kib <KIB>': {bad}: the ring buffer must be \
                 a power of two KiB from 4 to 2097152 (4 KiB to 2 GiB), e.g. 4096"
            ),
        );
    }
}
