//! LogWriter: file mode, errors for bad paths, rotation without loss or
//! duplication, and restarts after a torn line.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tracer::logfile::{read_logs, LogWriter, Rotation};
use tracer::schema::{Record, RecordKind};
use tracer_common::{NsType, Via};

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nstrace-writer-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn header() -> Record {
    let mut h = Record::new(
        RecordKind::Header,
        1_000,
        "2026-11-29T00:00:00.000001000Z".into(),
    );
    h.version = Some(env!("CARGO_PKG_VERSION").into());
    h.kernel = Some("6.18.44".into());
    h.methods = Some(BTreeMap::from([("birth".into(), "tracepoint".into())]));
    h.start = Some(h.ts.clone());
    h.boot_offset_ns = Some(1_795_910_400_000_000_000);
    h
}

/// A `birth` numbered `i`: its mono_ns and inum both carry `i`.
fn birth(i: u64) -> Record {
    let mono = 1_000_000 + i * 1_000;
    let ts = tracer::decode::rfc3339_utc(1_795_910_400_000_000_000 + mono as i64);
    let mut r = Record::new(RecordKind::Birth, mono, ts);
    r.ns_type = Some(NsType::Net);
    r.inum = Some(4_026_532_000 + i as u32);
    r.gen = Some(1);
    r.pid = Some(100);
    r.tid = Some(100);
    r.comm = Some("unshare".into());
    r.via = Some(Via::Unshare);
    r
}

/// A writer on `path` with the test header.
fn writer(path: &Path, size: Option<u64>, keep: usize) -> LogWriter {
    LogWriter::create(path, Rotation { size, keep }, &header()).unwrap()
}

/// The births read back from `files`, which must read without a problem.
fn clean_births(files: &[PathBuf]) -> Vec<Record> {
    let read = read_logs(files);
    assert_eq!(read.problems, vec![]);
    read.records
        .into_iter()
        .filter(|r| r.event == RecordKind::Birth)
        .collect()
}

fn all_files(path: &Path) -> Vec<PathBuf> {
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(name))
        .collect();
    v.sort();
    v
}

#[test]
fn files_are_0640_whatever_the_umask() {
    let dir = tempdir("mode");
    // SAFETY: umask(2) cannot fail. It is process-wide: other tests here may
    // create files meanwhile, which only makes them stricter.
    let old = unsafe { libc::umask(0o077) };
    let path = dir.join("t.jsonl");
    let mut w = writer(&path, Some(400), 2);
    for i in 0..5 {
        w.write(&birth(i)).unwrap();
    }
    w.flush().unwrap();
    unsafe { libc::umask(old) };
    let files = all_files(&path);
    assert!(files.len() >= 2, "rotated files too: {files:?}");
    for f in files {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{}", f.display());
    }
}

fn create_error(path: &Path) -> String {
    match LogWriter::create(
        path,
        Rotation {
            size: None,
            keep: 0,
        },
        &header(),
    ) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn bad_output_paths_name_the_path_and_the_fix() {
    let dir = tempdir("bad");
    let missing = dir.join("no/such/dir/t.jsonl");
    assert_eq!(
        create_error(&missing),
        format!(
            "{0}: directory {1} does not exist: create it (mkdir -p {1}) or choose another --output: No such file or directory (os error 2)",
            missing.display(),
            dir.join("no/such/dir").display()
        )
    );
    assert_eq!(
        create_error(&dir),
        format!(
            "{}: is a directory: give --output a file path, e.g. {}: Is a directory (os error 21)",
            dir.display(),
            dir.join("nstrace.jsonl").display()
        )
    );
    std::fs::write(dir.join("plain"), "x").unwrap();
    let under_file = dir.join("plain/t.jsonl");
    assert_eq!(
        create_error(&under_file),
        format!(
            "{}: a component of {} is not a directory: check the --output path: Not a directory (os error 20)",
            under_file.display(),
            dir.join("plain").display()
        )
    );
    // Pseudo file systems are refused by type, before anything is created
    // or written.
    assert_eq!(
        create_error(Path::new("/sys/nstrace.jsonl")),
        "/sys/nstrace.jsonl: /sys is on sysfs, a pseudo file system whose files are kernel \
         controls, not storage: choose --output on a real file system (e.g. \
         /var/log/nstrace.jsonl)"
    );
    let hostname = std::fs::read("/proc/sys/kernel/hostname").unwrap();
    assert!(create_error(Path::new("/proc/sys/kernel/hostname"))
        .contains("/proc/sys/kernel is on procfs, a pseudo file system"));
    assert_eq!(
        std::fs::read("/proc/sys/kernel/hostname").unwrap(),
        hostname
    );
}

/// Every record written comes back exactly once, in order, from the live
/// file and its rotations, named in any order.
#[test]
fn rotation_loses_and_duplicates_nothing() {
    let dir = tempdir("rotate");
    let path = dir.join("t.jsonl");
    let limit = 4096;
    let mut w = LogWriter::create(
        &path,
        Rotation {
            size: Some(limit),
            keep: 1000,
        },
        &header(),
    )
    .unwrap();
    let n = 2000;
    for i in 0..n {
        w.write(&birth(i)).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let mut files = all_files(&path);
    assert!(files.len() > 20, "{} files", files.len());
    files.reverse();
    let read = read_logs(&files);
    assert_eq!(read.problems, vec![]);
    let births: Vec<Record> = read
        .records
        .iter()
        .filter(|r| r.event == RecordKind::Birth)
        .cloned()
        .collect();
    assert_eq!(births, (0..n).map(birth).collect::<Vec<_>>());
    let mut originals = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.len() as u64 <= limit,
            "{}: {} bytes",
            f.display(),
            text.len()
        );
        let mut lines = text.lines();
        let head: Record = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(head.event, RecordKind::Header, "{}", f.display());
        assert_eq!(head.start, header().start);
        let first: Record = serde_json::from_str(lines.next().unwrap()).unwrap();
        if head.mono_ns == header().mono_ns {
            originals += 1;
        } else {
            // Rotated files' headers carry their first record's time.
            assert_eq!(
                (head.ts.as_str(), head.mono_ns),
                (first.ts.as_str(), first.mono_ns)
            );
        }
    }
    assert_eq!(
        originals, 1,
        "only the oldest file has the run's own header"
    );
}

#[test]
fn rotation_keeps_the_newest_files_only() {
    let dir = tempdir("keep");
    let path = dir.join("t.jsonl");
    let mut w = writer(&path, Some(1024), 3);
    for i in 0..500 {
        w.write(&birth(i)).unwrap();
    }
    drop(w);
    let files = all_files(&path);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["t.jsonl", "t.jsonl.1", "t.jsonl.2", "t.jsonl.3"]);
    let births = clean_births(&files);
    // A gapless run ending with the last record written.
    let first = births[0].inum.unwrap() - 4_026_532_000;
    assert_eq!(
        births,
        (u64::from(first)..500).map(birth).collect::<Vec<_>>()
    );
}

#[test]
fn a_limit_below_one_line_still_makes_progress() {
    let dir = tempdir("tiny");
    let path = dir.join("t.jsonl");
    let mut w = writer(&path, Some(10), 10);
    for i in 0..5 {
        w.write(&birth(i)).unwrap();
    }
    drop(w);
    let files = all_files(&path);
    assert_eq!(files.len(), 5, "{files:?}");
    for f in &files {
        let read = read_logs(std::slice::from_ref(f));
        assert_eq!(read.problems, vec![]);
        let kinds: Vec<RecordKind> = read.records.iter().map(|r| r.event).collect();
        assert_eq!(
            kinds,
            [RecordKind::Header, RecordKind::Birth],
            "{}: header and one record",
            f.display()
        );
    }
    // Every record comes back once, in order, whole.
    let births = clean_births(&files);
    assert_eq!(births, (0..5).map(birth).collect::<Vec<_>>());
}

#[test]
fn rotation_keeping_no_file_is_refused() {
    let dir = tempdir("keep0");
    let err = match LogWriter::create(
        &dir.join("t.jsonl"),
        Rotation {
            size: Some(1 << 20),
            keep: 0,
        },
        &header(),
    ) {
        Ok(_) => panic!("keep 0 accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.ends_with(
            "rotation keeping no finished file would delete the log at every rotation: keep \
             at least 1"
        ),
        "{err}"
    );
}

/// Records wait in the buffer until `flush`, which writes them all.
#[test]
fn records_are_written_at_flush() {
    let dir = tempdir("batch");
    let path = dir.join("t.jsonl");
    let mut w = writer(&path, None, 1);
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
    assert_eq!(lines(&path), 1, "the header is written at once");
    for i in 0..100 {
        w.write(&birth(i)).unwrap();
    }
    assert_eq!(lines(&path), 1, "nothing written before flush");
    w.flush().unwrap();
    assert_eq!(lines(&path), 101);
    let read = read_logs(std::slice::from_ref(&path));
    assert_eq!(read.records[1..], (0..100).map(birth).collect::<Vec<_>>());
}

/// A log deleted while tracing is made again at the next flush, with a
/// header, and the records after the deletion are in it.
#[test]
fn a_deleted_log_is_recreated() {
    let dir = tempdir("deleted");
    let path = dir.join("t.jsonl");
    let mut w = writer(&path, Some(4096), 2);
    w.write(&birth(0)).unwrap();
    w.flush().unwrap();
    std::fs::remove_file(&path).unwrap();
    for i in 1..4 {
        w.write(&birth(i)).unwrap();
    }
    w.flush().unwrap();
    let read = read_logs(std::slice::from_ref(&path));
    assert_eq!(read.problems, vec![]);
    assert_eq!(read.records[0].event, RecordKind::Header);
    // The new header takes the time of the first record after it.
    assert_eq!(read.records[0].mono_ns, birth(1).mono_ns);
    assert_eq!(read.records[1..], (1..4).map(birth).collect::<Vec<_>>());
    // Rotation goes on in the new file.
    for i in 4..100 {
        w.write(&birth(i)).unwrap();
    }
    w.flush().unwrap();
    let read = read_logs(&all_files(&path));
    assert_eq!(read.problems, vec![]);
    let last = read.records.last().unwrap();
    assert_eq!(last, &birth(99));
}

/// logrotate's way: rename the log, then SIGHUP (`reopen`). Lines buffered
/// before the signal go to the renamed file, later ones to a new file
/// under the name; together they hold every record once.
#[test]
fn reopen_after_a_rename_starts_a_new_file() {
    let dir = tempdir("reopen");
    let path = dir.join("t.jsonl");
    let moved = dir.join("t.jsonl-20261129");
    let mut w = writer(&path, None, 1);
    w.write(&birth(0)).unwrap();
    w.flush().unwrap();
    w.write(&birth(1)).unwrap();
    std::fs::rename(&path, &moved).unwrap();
    w.reopen().unwrap();
    w.write(&birth(2)).unwrap();
    w.flush().unwrap();
    let old = read_logs(std::slice::from_ref(&moved));
    assert_eq!(old.records[1..], [birth(0), birth(1)]);
    let new = read_logs(std::slice::from_ref(&path));
    assert_eq!(new.records[0].event, RecordKind::Header);
    assert_eq!(new.records[1..], [birth(2)]);
    let both = read_logs(&[path.clone(), moved.clone()]);
    assert_eq!(both.problems, vec![]);
    // A reopen with nothing renamed keeps the same file.
    w.reopen().unwrap();
    w.write(&birth(3)).unwrap();
    drop(w);
    let new = read_logs(std::slice::from_ref(&path));
    assert_eq!(new.records[1..], [birth(2), birth(3)]);
}

/// A log renamed without a SIGHUP (or deleted during a rotation) is
/// followed too: rotation does not fail, and no record is lost.
#[test]
fn a_log_renamed_before_rotation_does_not_stop_the_writer() {
    let dir = tempdir("renamed");
    let path = dir.join("t.jsonl");
    let mut w = writer(&path, Some(2048), 50);
    for i in 0..5 {
        w.write(&birth(i)).unwrap();
    }
    w.flush().unwrap();
    let aside = dir.join("aside.jsonl");
    std::fs::rename(&path, &aside).unwrap();
    // Enough for several rotations in one batch.
    for i in 5..60 {
        w.write(&birth(i)).unwrap();
    }
    w.flush().unwrap();
    let mut files = all_files(&path);
    files.push(aside);
    let births = clean_births(&files);
    assert_eq!(births, (0..60).map(birth).collect::<Vec<_>>());
}

/// A tracer killed mid-line, then restarted on the same --output: the old
/// records, the torn line (reported where it is) and the new run all read.
#[test]
fn restart_after_a_torn_line_keeps_both_runs() {
    let dir = tempdir("restart");
    let path = dir.join("t.jsonl");
    let mut w = writer(&path, None, 0);
    w.write(&birth(0)).unwrap();
    drop(w);
    let torn = serde_json::to_string(&birth(1)).unwrap();
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(&torn.as_bytes()[..40]);
    std::fs::write(&path, &text).unwrap();

    // The second run: its own start.
    let mut second = header();
    second.mono_ns += 1_000_000_000;
    second.ts = "2026-11-29T00:00:01.000001000Z".into();
    second.start = Some(second.ts.clone());
    let mut w = LogWriter::create(
        &path,
        Rotation {
            size: None,
            keep: 0,
        },
        &second,
    )
    .unwrap();
    w.write(&birth(2)).unwrap();
    drop(w);
    let read = read_logs(std::slice::from_ref(&path));
    let kinds: Vec<(RecordKind, Option<u32>)> =
        read.records.iter().map(|r| (r.event, r.inum)).collect();
    assert_eq!(
        kinds,
        [
            (RecordKind::Header, None),
            (RecordKind::Birth, Some(4_026_532_000)),
            (RecordKind::Header, None),
            (RecordKind::Birth, Some(4_026_532_002)),
        ]
    );
    let problems: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [format!(
            "{}:3: incomplete JSON (the line ends early): skipped",
            path.display()
        )]
    );
}
