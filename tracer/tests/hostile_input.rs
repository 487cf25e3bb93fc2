//! What a user sees when the input is hostile or broken: arguments that
//! would panic, logs that never end or lie, standard output that fails,
//! strings that would drive the terminal. Nothing here loads eBPF.

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{fresh_dir, nstrace, stderr_of};

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tempdir(tag: &str) -> PathBuf {
    fresh_dir(&format!("hostile-{tag}"))
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.jsonl")
}

fn sample1() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.jsonl.1")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn report_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout_of(out), stderr_of(out)))
}

#[test]
fn durations_that_would_panic_are_refused_naming_flag_and_range() {
    for (flag, value, range) in [
        ("-d", "inf", "0 to 31536000"),
        ("-d", "1e300", "0 to 31536000"),
        ("-d", "NaN", "0 to 31536000"),
        ("-d", "-1", "0 to 31536000"),
        ("--linger-grace", "-1", "0 to 86400"),
        ("--slow-cleanup", "inf", "0 to 86400"),
        ("--scan-interval", "inf", "0.1 to 3600"),
        ("--scan-interval", "0", "0.1 to 3600"),
    ] {
        let out = nstrace(&["trace", flag, value]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(&format!("invalid value '{value}' for '"))
                && err.contains(&format!(
                    "{value} is out of range: give seconds from {range}"
                )),
            "{flag} {value}: {err}"
        );
    }
}

#[test]
fn rotation_that_would_drop_records_is_refused() {
    let out = nstrace(&["trace", "-o", "/tmp/x.jsonl", "--rotate-keep", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("0 would delete the log at every rotation: keep 1 to 1000 files"),
        "{}",
        stderr_of(&out)
    );
    let out = nstrace(&["trace", "-o", "/tmp/x.jsonl", "--rotate-size", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out)
            .contains("invalid value '0' for '--rotate-size <MIB>': 0 is not in 1..=1048576"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn report_reads_standard_input_once() {
    let from_file = report_json(&nstrace(&["report", "--json", s(&sample())]));
    let text = std::fs::read(sample()).unwrap();
    // `-`, /dev/stdin and a process substitution, all fed by a pipe.
    for args in [
        vec!["report", "--json", "-"],
        vec!["report", "--json", "/dev/stdin"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nstrace"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&text).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        let json = report_json(&out);
        assert_eq!(json["records"], from_file["records"], "{args:?}");
        assert_eq!(json["counts"], from_file["counts"], "{args:?}");
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} report --json <(cat {})",
            env!("CARGO_BIN_EXE_nstrace"),
            s(&sample())
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(report_json(&out)["counts"], from_file["counts"]);
    // A stream and a file, named in the wrong order: still in write order.
    let mut child = Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .args(["report", "--json", s(&sample()), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(sample1()).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let both = report_json(&nstrace(&["report", "--json", s(&sample()), s(&sample1())]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(report_json(&out)["counts"], both["counts"]);
    assert_eq!(report_json(&out)["files"][0], "<stdin>");
}

#[test]
fn report_waits_for_a_fifo_writer_and_says_so() {
    let dir = tempdir("fifo");
    let fifo = dir.join("log.fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .args(["report", "--json", s(&fifo)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        format!(
            "nstrace: {}: waiting for a writer on this FIFO\n",
            fifo.display()
        )
    );
    std::fs::write(&fifo, std::fs::read(sample()).unwrap()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report_json(&out)["records"], 31);
}

#[test]
fn endless_and_binary_inputs_end_in_bounded_time_with_the_reason() {
    let out = nstrace(&["report", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        "nstrace: no log could be read: /dev/zero: starts with NUL bytes: not a JSON Lines log \
         of nstrace (a binary file, or /dev/zero?); skipped\n"
    );
    let out = nstrace(&["report", "/dev/urandom"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.ends_with(
            "/dev/urandom: no record in 10000 lines up to line 10000: not a JSON Lines log of \
             nstrace; the rest is skipped\n"
        ) || err.contains("/dev/urandom: starts with NUL bytes"),
        "{err}"
    );
    // One endless line without a NUL: `yes | tr -d '\n'`.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "yes | tr -d '\\n' | {} report -",
            env!("CARGO_BIN_EXE_nstrace")
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains(
            "<stdin>: no record in 64 MiB after line 0: not a JSON Lines log of nstrace (or an \
             input that never ends, like /dev/zero); the rest is skipped"
        ),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_log_given_twice_or_copied_is_counted_once() {
    let dir = tempdir("twice");
    let copy = dir.join("copy.jsonl");
    std::fs::copy(sample(), &copy).unwrap();
    let once = report_json(&nstrace(&["report", "--json", s(&sample())]));
    let out = nstrace(&["report", "--json", s(&sample()), s(&copy)]);
    assert_eq!(out.status.code(), Some(1));
    let json = report_json(&out);
    assert_eq!(json["counts"], once["counts"]);
    let p = json["problems"][0].as_str().unwrap();
    assert!(
        p.ends_with(&format!(
            ":1: the same header as {}:1: this log was given twice (or copied); its records up \
             to the next header are skipped",
            sample().display()
        )),
        "{p}"
    );
    // The same file by two names.
    let link = dir.join("hard.jsonl");
    std::fs::hard_link(&copy, &link).unwrap();
    let out = nstrace(&["report", "--json", s(&copy), s(&link)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        report_json(&out)["problems"][0],
        format!(
            "{}: named more than once (also as {}): read once",
            link.display(),
            copy.display()
        )
    );
}

#[test]
fn two_tracers_on_one_file_are_a_problem_and_counted_once() {
    let dir = tempdir("two");
    let path = dir.join("shared.jsonl");
    let text = std::fs::read_to_string(sample()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let other_header = lines[0].replace("00:10:00.000000000Z", "00:10:00.500000000Z");
    // Two tracers started together: two headers, then every event twice.
    let mut both = vec![lines[0].to_string(), other_header];
    for l in &lines[1..] {
        both.push(l.to_string());
        both.push(l.to_string());
    }
    std::fs::write(&path, both.join("\n") + "\n").unwrap();
    let once = report_json(&nstrace(&["report", "--json", s(&sample())]));
    let out = nstrace(&["report", "--json", s(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let json = report_json(&out);
    assert_eq!(json["counts"]["birth"], once["counts"]["birth"]);
    assert_eq!(
        json["problems"][0],
        format!(
            "{0}:4: the same record as {0}:3 (two tracers writing one file, or a log given \
             twice): skipped",
            path.display()
        )
    );
}

#[test]
fn a_missing_rotated_file_between_two_is_a_problem() {
    let dir = tempdir("gap");
    std::fs::copy(sample1(), dir.join("t.jsonl.2")).unwrap();
    std::fs::copy(sample(), dir.join("t.jsonl")).unwrap();
    let out = nstrace(&["report", s(&dir.join("t.jsonl")), s(&dir.join("t.jsonl.2"))]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!(
            "{0}.1: not named, between {0}.2 and {0}: the records written between them are \
             missing from this report; name it too, or the report has a gap there",
            dir.join("t.jsonl").display()
        )),
        "{text}"
    );
}

#[test]
fn time_running_backwards_is_a_problem() {
    let dir = tempdir("reversed");
    let path = dir.join("reversed.jsonl");
    let text = std::fs::read_to_string(sample()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.reverse();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = nstrace(&["report", s(&path)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout_of(&out).contains(&format!("{}:", path.display()))
            && stdout_of(&out).contains(": time runs backwards: 2026-11-29T"),
        "{}",
        stdout_of(&out)
    );
}

#[test]
fn an_unknown_type_names_file_line_and_value() {
    let dir = tempdir("type");
    let path = dir.join("t.jsonl");
    let mut text = std::fs::read_to_string(sample()).unwrap();
    text.push_str(
        r#"{"ts":"2026-11-29T00:20:00.000000000Z","mono_ns":87000000000000,"event":"birth","type":"netns","inum":1}"#,
    );
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    let out = nstrace(&["report", "--json", s(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let p = report_json(&out)["problems"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        p.starts_with(&format!(
            "{}:32: key `type`: unknown variant `netns`, expected one of `mnt`",
            path.display()
        )),
        "{p}"
    );
}

#[test]
fn lost_totals_saturate() {
    let dir = tempdir("lost");
    let path = dir.join("t.jsonl");
    let mut text = std::fs::read_to_string(sample()).unwrap();
    for i in 0..3 {
        text.push_str(&format!(
            r#"{{"ts":"2026-11-29T00:20:0{i}.000000000Z","mono_ns":8700000000000{i},"event":"lost","count":18446744073709551615,"total":18446744073709551615}}"#
        ));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let out = nstrace(&["report", "--json", s(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(report_json(&out)["lost"]["events"], u64::MAX);
}

#[test]
fn log_strings_are_escaped_in_text_and_exact_in_json() {
    let dir = tempdir("escape");
    let path = dir.join("t.jsonl");
    let mut text = std::fs::read_to_string(sample()).unwrap();
    text.push_str(
        r#"{"ts":"2026-11-29T00:20:00.000000000Z","mono_ns":87000000000000,"event":"birth","type":"net","inum":4026599999,"gen":1,"pid":1,"comm":"\u001b[2J\nnstrace report: 0 records\u202e","via":"unshare"}"#,
    );
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    let out = nstrace(&["report", s(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let shown = stdout_of(&out);
    assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'));
    assert!(!shown.contains("\nnstrace report: 0 records"), "{shown}");
    assert!(
        shown.contains(r"by \x1b[2J\nnstrace report: 0 records\u{202e} (pid 1)"),
        "{shown}"
    );
    let json = report_json(&nstrace(&["report", "--json", s(&path)]));
    let creators = json["top_creators_by_comm"].as_array().unwrap();
    assert!(creators
        .iter()
        .any(|c| c["name"] == "\u{1b}[2J\nnstrace report: 0 records\u{202e}"));
}

#[test]
fn a_failing_standard_output_is_an_error_and_a_closed_pipe_is_not() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    for args in [
        vec!["report", s(&sample())],
        vec!["report", "--json", s(&sample())],
        vec!["ls"],
        vec!["why", "/proc/self/ns/uts"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nstrace"))
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
    // A reader that goes away at once: exit 0, nothing on stderr.
    for args in [vec!["report", s(&sample())], vec!["ls"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nstrace"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        // (`ls` may warn about processes it cannot read.)
        assert!(
            !err.contains("standard output") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn why_of_an_exited_process_is_a_dead_namespace() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let out = nstrace(&["why", &format!("/proc/{pid}/ns/net")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "nstrace: no live namespace is /proc/{pid}/ns/net: process {pid} has exited (list \
             live ones with `nstrace ls`)\n"
        )
    );
}

#[test]
fn a_btf_that_never_ends_is_refused_at_once() {
    // As root (the BTF is read after the root check), and before anything
    // is loaded.
    for cmd in ["probe", "trace"] {
        let out = nstrace(&[cmd, "--btf", "/dev/zero"]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            stderr_of(&out),
            "nstrace: /dev/zero: not a regular file: --btf takes a BTF file such as \
             /sys/kernel/btf/vmlinux\n"
        );
    }
}
