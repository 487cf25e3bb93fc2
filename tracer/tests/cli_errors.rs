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
fn non_root_is_told_to_use_sudo() {
    // A copy the unprivileged user can surely execute, whatever the
    // permissions of the checkout's directories.
    let dir = std::env::temp_dir().join(format!("nstrace-nonroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("nstrace");
    std::fs::copy(env!("CARGO_BIN_EXE_nstrace"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for cmd in ["trace", "probe"] {
        let out = Command::new(&bin)
            .arg(cmd)
            .uid(65534)
            .gid(65534)
            .output()
            .expect("running nstrace as nobody");
        assert_fails_with(
            &out,
            &format!(
                "nstrace: nstrace {cmd} needs root: loading eBPF programs takes CAP_BPF and \
                 CAP_PERFMON (run it with sudo)"
            ),
        );
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
