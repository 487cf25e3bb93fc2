//! Reading logs back: every bad line is reported with file and line and
//! skipped, files from a newer nstrace are refused, rotated files are put in
//! order, and no input makes the reader panic (property test).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tracer::logfile::{read_logs, OUR_VERSION};
use tracer::schema::{Record, RecordKind};
use tracer_common::NsType;

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nstrace-reader-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

const HEADER: &str = r#"{"ts":"2026-11-29T00:00:00.000000000Z","mono_ns":1000,"event":"header","version":"VERSION","kernel":"6.18.44","methods":{},"start":"2026-11-29T00:00:00.000000000Z","boot_offset_ns":1795910399999999000}"#;

fn header(version: &str) -> String {
    HEADER.replace("VERSION", version)
}

fn lost(mono: u64) -> String {
    format!(
        r#"{{"ts":"2026-11-29T00:00:01.000000000Z","mono_ns":{mono},"event":"lost","count":1,"total":1}}"#
    )
}

fn problems(paths: &[PathBuf]) -> (Vec<u64>, Vec<String>) {
    let read = read_logs(paths);
    let monos = read.records.iter().map(|r| r.mono_ns).collect();
    (
        monos,
        read.problems.iter().map(ToString::to_string).collect(),
    )
}

#[test]
fn bad_lines_are_reported_with_file_and_line() {
    let dir = tempdir("bad");
    let path = dir.join("bad.jsonl");
    let lines = [
        header(OUR_VERSION),
        lost(2),
        r#"{"ts":"2026-11-29T00:00:01.000000000Z","mono_ns":3,"ev"#.to_string(),
        r#"{"ts":"2026-11-29T00:00:01.000000000Z","mono_ns":4,"event":"reborn"}"#.to_string(),
        r#"{"ts":"2026-11-29T00:00:01.000000000Z","mono_ns":5,"event":"birth","type":"net","inum":"4026532000"}"#.to_string(),
        r#"{"ts":"2026-11-29T00:00:01.000000000Z","mono_ns":-6,"event":"lost"}"#.to_string(),
        "hello".to_string(),
        String::new(),
        "[1,2]".to_string(),
        r#"{"ts":"2026-11-29T00:00:01.000000000Z","mono_ns":7}"#.to_string(),
        r#"{"ts":"yesterday","mono_ns":8,"event":"lost","count":1,"total":1}"#.to_string(),
        "\u{0}\u{0}\u{0}".to_string(),
        r#"{"ts":"2026-11-29T00:00:01.000000000Z","mono_ns":9,"event":7}"#.to_string(),
        lost(10),
    ];
    let mut text = lines.join("\n").into_bytes();
    text.extend_from_slice(b"\n\xff\xfe\n");
    text.extend_from_slice(&lost(11).as_bytes()[..30]);
    std::fs::write(&path, text).unwrap();

    let (monos, problems) = problems(std::slice::from_ref(&path));
    assert_eq!(monos, [1000, 2, 10]);
    let p = path.display();
    assert_eq!(
        problems,
        [
            format!("{p}:3: incomplete JSON (the line ends early): skipped"),
            format!("{p}:4: unknown event kind \"reborn\" (from a newer nstrace?): skipped"),
            format!("{p}:5: key `inum`: invalid type: string \"4026532000\", expected u32: skipped"),
            format!("{p}:6: key `mono_ns`: invalid value: integer `-6`, expected u64: skipped"),
            format!("{p}:7: not valid JSON (expected value at line 1 column 1): skipped"),
            format!("{p}:8: empty line: skipped"),
            format!("{p}:9: not a JSON object but an array: skipped"),
            format!("{p}:10: no `event` key: skipped"),
            format!("{p}:11: key `ts`: \"yesterday\" is not an RFC 3339 time: skipped"),
            format!("{p}:12: not valid JSON (expected value at line 1 column 1): skipped"),
            format!("{p}:13: key `event` is a number, expected a string: skipped"),
            format!("{p}:15: not UTF-8 text: skipped"),
            format!("{p}:16: torn last line (30 bytes, no newline: the writer stopped mid-line, e.g. killed): skipped"),
        ]
    );
}

#[test]
fn a_newer_version_is_refused_until_the_next_header() {
    let dir = tempdir("newer");
    let path = dir.join("newer.jsonl");
    let lines = [
        header("99.0.0"),
        lost(2),
        lost(3),
        header(OUR_VERSION),
        lost(4),
    ];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (monos, problems) = problems(std::slice::from_ref(&path));
    assert_eq!(monos, [1000, 4]);
    assert_eq!(
        problems,
        [format!(
            "{}:1: written by nstrace 99.0.0, newer than this nstrace {OUR_VERSION}: its records (to the next header) are skipped; read them with nstrace 99.0.0 or later",
            path.display()
        )]
    );
}

#[test]
fn missing_and_repeated_files_are_reported() {
    let dir = tempdir("missing");
    let gone = dir.join("gone.jsonl");
    let sample = data("sample.jsonl");
    let (monos, problems) = problems(&[sample.clone(), gone.clone(), sample.clone()]);
    assert_eq!(monos.len(), 31);
    assert_eq!(
        problems,
        [
            format!("{}: named more than once: read once", sample.display()),
            format!(
                "{}: cannot open: No such file or directory (os error 2)",
                gone.display()
            ),
        ]
    );
}

#[test]
fn overlong_lines_are_skipped_unread() {
    let dir = tempdir("long");
    let path = dir.join("long.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, "{}", lost(1)).unwrap();
    f.write_all(&vec![b'x'; 3 << 20]).unwrap();
    writeln!(f).unwrap();
    writeln!(f, "{}", lost(2)).unwrap();
    drop(f);
    let (monos, problems) = problems(std::slice::from_ref(&path));
    assert_eq!(monos, [1, 2]);
    assert_eq!(
        problems,
        [format!(
            "{}:2: line longer than 1048576 bytes: skipped",
            path.display()
        )]
    );
}

#[test]
fn rotated_files_are_read_oldest_first_whatever_the_order_given() {
    let right = [data("sample.jsonl.1"), data("sample.jsonl")];
    let wrong = [data("sample.jsonl"), data("sample.jsonl.1")];
    let a = read_logs(&right);
    let b = read_logs(&wrong);
    assert_eq!(a.problems, vec![]);
    assert_eq!(a.records, b.records);
    let monos: Vec<u64> = a.records.iter().map(|r| r.mono_ns).collect();
    assert!(monos.windows(2).all(|w| w[0] <= w[1]), "{monos:?}");
    assert_eq!(
        a.records
            .iter()
            .filter(|r| r.event == RecordKind::Header)
            .count(),
        2
    );
}

/// Lines for a property test: real records of several kinds.
fn arb_record() -> impl Strategy<Value = Record> {
    (
        0u64..1 << 50,
        prop::sample::select(vec![
            RecordKind::Birth,
            RecordKind::Death,
            RecordKind::Lost,
            RecordKind::Linger,
        ]),
        any::<u32>(),
        "[a-z\\\\\"/ ]{0,16}",
    )
        .prop_map(|(mono, kind, inum, comm)| {
            let mut r = Record::new(kind, mono, tracer::decode::rfc3339_utc(mono as i64));
            if kind == RecordKind::Lost {
                r.count = Some(1);
                r.total = Some(u64::from(inum));
            } else {
                r.ns_type = Some(NsType::Net);
                r.inum = Some(inum);
                r.comm = Some(comm);
            }
            r
        })
}

/// Records in time order, as a log holds them (a reader reports time that
/// runs backwards).
fn sorted_records(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec(arb_record(), n).prop_map(|mut v| {
        v.sort_by_key(|r| r.mono_ns);
        v
    })
}

fn write_case(tag: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nstrace-reader-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("case.jsonl");
    std::fs::write(&path, bytes).unwrap();
    path
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A log cut at any byte (a kill -9, a full disk) gives back every
    /// complete line, and at most the one torn line as a problem.
    #[test]
    fn a_cut_log_reads_every_complete_line(recs in sorted_records(1..40), cut in any::<prop::sample::Index>()) {
        let text: Vec<u8> = recs.iter().flat_map(|r| {
            let mut l = serde_json::to_vec(r).unwrap();
            l.push(b'\n');
            l
        }).collect();
        let cut = cut.index(text.len() + 1);
        let path = write_case("cut", &text[..cut]);
        let read = read_logs(&[path]);
        let mut complete = text[..cut].iter().filter(|&&b| b == b'\n').count();
        // Cut just before a newline: the record itself is whole and is read.
        let whole_but_newline = cut > 0 && text[cut - 1] != b'\n' && text.get(cut) == Some(&b'\n');
        if whole_but_newline {
            complete += 1;
        }
        prop_assert_eq!(&read.records[..], &recs[..complete]);
        let torn = cut > 0 && text[cut - 1] != b'\n' && !whole_but_newline;
        prop_assert_eq!(read.problems.len(), usize::from(torn));
        if torn {
            prop_assert_eq!(read.problems[0].line, complete as u64 + 1);
        }
    }

    /// Any bytes at all: no panic, and every line ends up either as a
    /// record or as a problem naming it.
    #[test]
    fn any_bytes_every_line_accounted_for(
        recs in sorted_records(0..20),
        noise in prop::collection::vec((any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..8)), 0..6),
    ) {
        let mut text: Vec<u8> = recs.iter().flat_map(|r| {
            let mut l = serde_json::to_vec(r).unwrap();
            l.push(b'\n');
            l
        }).collect();
        for (at, bytes) in noise {
            let at = at.index(text.len() + 1);
            text.splice(at..at, bytes);
        }
        let path = write_case("noise", &text);
        let read = read_logs(&[path]);
        // A file that starts with NUL is binary or /dev/zero: refused
        // whole, in one problem that names no line.
        if text.first() == Some(&0) {
            prop_assert!(read.records.is_empty());
            prop_assert_eq!(read.problems.len(), 1);
            prop_assert_eq!(read.problems[0].line, 0);
            prop_assert!(read.problems[0].what.contains("starts with NUL bytes"), "{}", read.problems[0].what);
            return Ok(());
        }
        let lines = text.split(|&b| b == b'\n').count() - usize::from(text.last().is_none_or(|&b| b == b'\n'));
        prop_assert_eq!(read.records.len() + read.problems.len(), lines);
        for p in &read.problems {
            prop_assert!(p.line >= 1 && p.line <= lines as u64);
        }
    }
}
