//! SIGKILL in the middle of writing: the log keeps every complete line, and
//! at most one torn line, the last; `report` reads every complete line and
//! names the torn one.
//!
//! Two writers are killed: LogWriter itself, in a child process that writes
//! large records without pause (so a kill often lands inside a write(2) and
//! tears a line), and the real `nstrace trace --output` recording namespace
//! churn on this host.

mod support;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tracer::logfile::{read_logs, LogWriter, Rotation};
use tracer::schema::{Holder, HolderKind, Record, RecordKind};
use tracer_common::NsType;

const CHILD_ENV: &str = "NSTRACE_KILL_TEST_CHILD";

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nstrace-kill-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the child does: write 200 KB `linger` records until killed,
/// flushing every third. With
/// `limit`, the file may not grow past that many bytes (RLIMIT_FSIZE): the
/// write(2) that crosses it is cut short, and the next one raises SIGXFSZ,
/// which kills the child mid-line unless `ignore` is set; then the write
/// fails instead, and the child prints the error and exits.
fn write_until_killed(path: &Path, limit: Option<u64>, ignore: bool) -> ! {
    if let Some(limit) = limit {
        let rl = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: plain setrlimit/signal calls on this process.
        unsafe {
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &rl), 0);
            if ignore {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            }
        }
    }
    let mut header = Record::new(
        RecordKind::Header,
        1,
        "2026-11-29T00:00:00.000000001Z".into(),
    );
    header.version = Some(env!("CARGO_PKG_VERSION").into());
    header.kernel = Some("test".into());
    header.methods = Some(Default::default());
    header.start = Some(header.ts.clone());
    header.boot_offset_ns = Some(0);
    let mut w = LogWriter::create(
        path,
        Rotation {
            size: None,
            keep: 0,
        },
        &header,
    )
    .unwrap();
    let holders: Vec<Holder> = (0..2500)
        .map(|i| Holder {
            kind: HolderKind::Fd,
            pid: Some(i),
            fd: Some(3),
            path: Some(format!("/proc/{i}/fd/3")),
            ..Holder::default()
        })
        .collect();
    for n in 2u64.. {
        let mut r = Record::new(
            RecordKind::Linger,
            n,
            "2026-11-29T00:00:00.000000002Z".into(),
        );
        r.ns_type = Some(NsType::Net);
        r.inum = Some(4_026_532_000);
        r.gen = Some(1);
        r.since_last_task_ns = Some(n);
        r.holders = Some(holders.clone());
        // Flushed in batches of three lines, as the tracer flushes once
        // per poll: a kill inside the write(2) of a batch tears it.
        let res = w
            .write(&r)
            .and_then(|()| if n % 3 == 0 { w.flush() } else { Ok(()) });
        if let Err(e) = res {
            println!("{e:#}");
            std::process::exit(0);
        }
    }
    unreachable!()
}

fn kill9(child: &mut Child) {
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    child.wait().unwrap();
}

/// Waits until `path` holds `lines` complete lines; false if `child` exited
/// first. Polls the file, with no deadline of its own: cargo's test timeout
/// catches a writer that never writes.
fn wait_for_lines(path: &Path, lines: usize, child: &mut Child) -> bool {
    loop {
        let n = std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        if n >= lines {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Checks the log after a kill; returns whether its last line was torn.
fn check_killed_log(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let complete = bytes.iter().filter(|&&b| b == b'\n').count();
    let torn = bytes.last().is_some_and(|&b| b != b'\n');
    let read = read_logs(&[path.to_path_buf()]);
    assert_eq!(
        read.records.len(),
        complete,
        "every complete line is a record"
    );
    if torn {
        assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
        assert_eq!(read.problems[0].line, complete as u64 + 1);
        assert!(
            read.problems[0].what.starts_with("torn last line ("),
            "{}",
            read.problems[0]
        );
    } else {
        assert_eq!(read.problems, vec![]);
    }
    // And the user's view: `report` exits 1 and names the torn line.
    let out = Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .args(["report", "--json"])
        .arg(path)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["records"], complete as u64);
    if torn {
        assert_eq!(out.status.code(), Some(1));
        let p = json["problems"][0].as_str().unwrap();
        assert!(
            p.starts_with(&format!(
                "{}:{}: torn last line",
                path.display(),
                complete + 1
            )),
            "{p}"
        );
    } else {
        assert_eq!(out.status.code(), Some(0));
    }
    torn
}

/// This test binary again, running only `test`, which finds CHILD_ENV set
/// and becomes the child writer (see `child_if_asked`).
fn child_writer(path: &Path, mode: &str, test: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--quiet"])
        .env(CHILD_ENV, mode)
        .env("NSTRACE_KILL_TEST_PATH", path);
    cmd
}

/// In the child process, runs the writer and never returns.
fn child_if_asked() {
    let Some(mode) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let path = PathBuf::from(std::env::var_os("NSTRACE_KILL_TEST_PATH").unwrap());
    match mode.to_str().unwrap() {
        "run" => write_until_killed(&path, None, false),
        "fsize" => write_until_killed(&path, Some(1_000_000), false),
        "fsize-ignored" => write_until_killed(&path, Some(1_000_000), true),
        m => panic!("unknown child mode {m}"),
    }
}

#[test]
fn sigkill_leaves_complete_lines_and_at_most_one_torn_last_line() {
    child_if_asked();
    let dir = tempdir("sigkill");
    for attempt in 0..10 {
        let path = dir.join(format!("kill-{attempt}.jsonl"));
        let mut child = child_writer(
            &path,
            "run",
            "sigkill_leaves_complete_lines_and_at_most_one_torn_last_line",
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
        assert!(
            wait_for_lines(&path, 3 + attempt % 5, &mut child),
            "the child writer exited"
        );
        kill9(&mut child);
        // A kill inside a write(2) tears its line; between writes, none is.
        check_killed_log(&path);
    }
}

/// A writer killed inside a write(2), every time: the file-size limit cuts
/// the write that crosses it short and SIGXFSZ kills the process on the
/// next. `report` reads every complete line and names the torn one.
#[test]
fn a_writer_killed_mid_line_leaves_a_torn_last_line_that_report_names() {
    child_if_asked();
    let dir = tempdir("xfsz");
    let path = dir.join("torn.jsonl");
    let status = child_writer(
        &path,
        "fsize",
        "a_writer_killed_mid_line_leaves_a_torn_last_line_that_report_names",
    )
    .stdout(Stdio::null())
    .status()
    .unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGXFSZ)
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1_000_000);
    assert!(check_killed_log(&path), "the last line is torn");
}

/// A write that fails partway (file too large, disk full) is cut back, so
/// lines written after it cannot follow a torn one.
#[test]
fn a_failed_write_is_cut_back_to_the_last_complete_line() {
    child_if_asked();
    let dir = tempdir("efbig");
    let path = dir.join("cut.jsonl");
    let out = child_writer(
        &path,
        "fsize-ignored",
        "a_failed_write_is_cut_back_to_the_last_complete_line",
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    assert_eq!(
        // The last line: the test harness prints its own first.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
        format!(
            "{}: cannot write to the log file: File too large (os error 27)",
            path.display()
        )
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() < 1_000_000);
    assert!(!check_killed_log(&path), "no torn line");
}

/// The real tracer, killed while it records namespace churn made by this
/// test: its log reads back line for line.
#[test]
fn killed_tracer_log_reads_back() {
    if !support::root_or_skip("killed_tracer_log_reads_back") {
        return;
    }
    let dir = tempdir("tracer");
    let path = dir.join("trace.jsonl");
    let mut tracer = Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .args(["trace", "--output"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Namespace churn until the tracer has written 200 lines: each
    // `unshare -n -u true` makes two births.
    let mut churn = Command::new("sh")
        .args(["-c", "while :; do unshare -n -u true; done"])
        .process_group(0)
        .spawn()
        .unwrap();
    let recorded = wait_for_lines(&path, 200, &mut tracer);
    kill9(&mut tracer);
    // SAFETY: kill(2) on the churn loop's own process group.
    unsafe { libc::kill(-(churn.id() as i32), libc::SIGKILL) };
    churn.wait().unwrap();
    if !recorded {
        let mut err = String::new();
        std::io::Read::read_to_string(tracer.stderr.as_mut().unwrap(), &mut err).unwrap();
        panic!("nstrace trace exited before writing 200 lines: {err}");
    }
    check_killed_log(&path);
    let read = read_logs(std::slice::from_ref(&path));
    assert_eq!(read.records[0].event, RecordKind::Header);
    let births = read
        .records
        .iter()
        .filter(|r| r.event == RecordKind::Birth && r.comm.as_deref() == Some("unshare"))
        .count();
    assert!(births >= 100, "{births} births by unshare");
}
