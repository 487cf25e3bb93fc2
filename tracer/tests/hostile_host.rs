//! Root on a machine with hostile users, on this host's kernel: `--output`
//! never writes through links, into /proc or into a FIFO; the log's life
//! (a wide mode, deletion, logrotate's rename and SIGHUP); a `--method`
//! that attaches nothing; standard output that fails; names that would
//! drive the terminal. Run as root, under the host lock.

mod support;

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;
use tracer_common::NsType;

fn tempdir(tag: &str) -> PathBuf {
    fresh_dir(&format!("hhost-{tag}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

/// Makes uts namespaces (each a `birth`) until `done`; bounded so that a
/// tracer that stopped writing fails the test instead of hanging it.
fn churn_until(what: &str, tracer: &mut Child, done: impl Fn() -> bool) {
    for _ in 0..2000 {
        if done() {
            return;
        }
        if let Some(status) = tracer.try_wait().unwrap() {
            let mut err = String::new();
            let _ = tracer.stderr.as_mut().unwrap().read_to_string(&mut err);
            panic!("nstrace exited ({status}) before {what}: {err}");
        }
        let _ = spawn(Make::Fork, unshare(NsType::Uts.clone_flag()));
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("never {what}");
}

fn stop(mut tracer: Child) -> (std::process::ExitStatus, String) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    let status = tracer.wait().unwrap();
    let mut err = String::new();
    tracer
        .stderr
        .as_mut()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err)
}

#[test]
fn output_never_goes_through_links_into_proc_or_into_a_fifo() {
    let hostname = std::fs::read("/proc/sys/kernel/hostname").unwrap();
    let out = nstrace(&["trace", "--output", "/proc/sys/kernel/hostname", "-d", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains(
            "nstrace: /proc/sys/kernel/hostname: /proc/sys/kernel is on procfs, a pseudo file \
             system whose files are kernel controls, not storage: choose --output on a real \
             file system"
        ),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(
        std::fs::read("/proc/sys/kernel/hostname").unwrap(),
        hostname
    );

    let dir = tempdir("links");
    let target = dir.join("etc-file");
    std::fs::write(&target, "precious\n").unwrap();
    let link = dir.join("log.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = nstrace(&["trace", "--output", s(&link), "-d", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains(&format!(
            "nstrace: {}: is a symbolic link: nstrace does not write through links",
            link.display()
        )),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");

    let dangling = dir.join("planted.jsonl");
    let would_be = dir.join("created-by-root");
    std::os::unix::fs::symlink(&would_be, &dangling).unwrap();
    let out = nstrace(&["trace", "--output", s(&dangling), "-d", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("is a symbolic link"));
    assert!(
        !would_be.exists(),
        "root created a file through a dangling link"
    );

    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = nstrace(&["trace", "--output", s(&fifo), "-d", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains(&format!(
            "{}: is a FIFO, not a regular file: give --output a file path (to print the log on \
             standard output, use --json without --output)",
            fifo.display()
        )),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_world_writable_log_is_narrowed_to_0640_with_a_message() {
    let dir = tempdir("mode");
    let path = dir.join("log.jsonl");
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = nstrace(&["trace", "--output", s(&path), "-d", "0.5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!(
            "nstrace: {}: mode 0666 let other users read or change the log: set to 0640",
            path.display()
        )),
        "{}",
        stderr_of(&out)
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["event"], "header");
}

/// logrotate renames the log and sends SIGHUP; later someone deletes it.
/// The tracer writes on, to a new file each time, and stops only when told.
#[test]
fn sighup_reopens_and_a_deleted_log_is_recreated() {
    let dir = tempdir("life");
    let path = dir.join("ns.jsonl");
    let rotated = dir.join("ns.jsonl.1");
    let mut tracer = Command::new(nstrace_bin())
        .args(["trace", "-t", "uts", "--output", s(&path)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    churn_until("the first births were logged", &mut tracer, || {
        lines(&path) >= 3
    });
    std::fs::rename(&path, &rotated).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGHUP) };
    churn_until("births were logged to a new file", &mut tracer, || {
        lines(&path) >= 3
    });
    std::fs::remove_file(&path).unwrap();
    churn_until("the deleted log was made again", &mut tracer, || {
        lines(&path) >= 3
    });
    let (status, err) = stop(tracer);
    assert!(status.success(), "{status}: {err}");
    assert!(
        err.contains(&format!(
            "nstrace: {}: reopened (SIGHUP): writing to the file now at that path",
            path.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "nstrace: {}: deleted while tracing: recreated, and tracing goes on",
            path.display()
        )),
        "{err}"
    );
    assert!(err.contains("events in"), "the summary: {err}");
    // Each file starts with a header, and together they read cleanly.
    for f in [&rotated, &path] {
        let first = std::fs::read_to_string(f).unwrap();
        assert!(first.starts_with("{\"ts\":"), "{}", f.display());
        assert!(first
            .lines()
            .next()
            .unwrap()
            .contains("\"event\":\"header\""));
    }
    let out = nstrace(&["report", s(&rotated), s(&path)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_method_under_which_nothing_attaches_is_an_error() {
    // This host has no kprobes at all (no perf kprobe PMU): nothing can
    // attach with --method kprobe.
    if Path::new("/sys/bus/event_source/devices/kprobe").exists() {
        panic!("this test is for a kernel without kprobes, as the development host");
    }
    let out = nstrace(&["trace", "--method", "kprobe", "-d", "1"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "nstrace: --method kprobe: no hook can be attached with it on this kernel, so \
             nothing would be traced; use another method or none (`nstrace probe` shows what \
             works here). Reasons: unshare: kprobe: "
        ),
        "{err}"
    );
}

#[test]
fn probe_and_trace_report_a_failing_standard_output() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for args in [
        vec!["probe"],
        vec!["probe", "--json"],
        vec!["trace", "--json", "-d", "1"],
    ] {
        let out = Command::new(nstrace_bin())
            .args(&args)
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("standard output: No space left on device (os error 28)"),
            "{args:?}: {err}"
        );
    }
    let mut child = Command::new(nstrace_bin())
        .arg("probe")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("standard output"));
}

/// A bind mount whose name holds an escape sequence, a newline and a bidi
/// override, as any user who can make a mount namespace can name one.
#[test]
fn why_and_ls_escape_hostile_mount_points() {
    let dir = tempdir("names");
    let evil = dir.join("\x1b[2J\nnet:[1] evil\u{202e}");
    std::fs::write(&evil, "").unwrap();
    let status = Command::new("unshare")
        .arg(format!("--net={}", evil.display()))
        .arg("true")
        .status()
        .unwrap();
    assert!(status.success());
    let shown = format!("{}/\\x1b[2J\\nnet:[1] evil\\u{{202e}}", dir.display());
    let why = nstrace(&["why", s(&evil)]);
    let ls = nstrace(&["ls", "-t", "net"]);
    let why_json = nstrace(&["why", "--json", s(&evil)]);
    let _ = Command::new("umount").arg(&evil).status();
    assert_eq!(why.status.code(), Some(0), "{}", stderr_of(&why));
    for (what, out) in [("why", &why), ("ls", &ls)] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains("\nnet:[1]"),
            "{what} printed the name raw:\n{text}"
        );
        assert!(text.contains(&shown), "{what}:\n{text}");
    }
    // JSON keeps the path exact.
    let v: serde_json::Value = serde_json::from_slice(&why_json.stdout).unwrap();
    assert!(v["holders"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["path"] == s(&evil)));
}

/// A command name with a bidi override (any user can exec a file so
/// named) is escaped in `trace`'s columns.
#[test]
fn trace_columns_escape_command_names() {
    let dir = tempdir("comm");
    let exe = dir.join("\u{202e}evil");
    std::os::unix::fs::symlink("/usr/bin/unshare", &exe).unwrap();
    let mut tracer = Command::new(nstrace_bin())
        .args(["trace", "-t", "uts"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(tracer.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("TIME "), "{line}");
    let mut found = None;
    for _ in 0..200 {
        Command::new(&exe).args(["-u", "true"]).status().unwrap();
        line.clear();
        // The birth comes within a poll; other births may come first.
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        if line.contains("evil") {
            found = Some(line.clone());
            break;
        }
    }
    let (status, err) = stop(tracer);
    assert!(status.success(), "{err}");
    let line = found.expect("a birth by the oddly named command");
    assert!(!line.contains('\u{202e}'), "{line}");
    assert!(line.contains("\\u{202e}evil"), "{line}");
}
