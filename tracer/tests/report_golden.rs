//! `nstrace report` on committed sample logs: the whole text and JSON output
//! against golden files, the figures a user reads checked one by one, the
//! filters, and the errors a user sees.
//!
//! To accept a deliberate change of output: `NSTRACE_BLESS=1 cargo test -p
//! tracer --test report_golden`, then review the diff of tests/data.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Runs nstrace in tests/data, so paths in its output are stable.
fn report(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .arg("report")
        .args(args)
        .current_dir(data())
        .output()
        .expect("run nstrace")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn golden(name: &str, actual: &str) {
    let path = data().join(name);
    if std::env::var_os("NSTRACE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        expected == actual,
        "{} differs; actual output:\n{actual}",
        path.display()
    );
}

// Named newest first on purpose: the reader orders them.
const SAMPLE: [&str; 2] = ["sample.jsonl", "sample.jsonl.1"];

#[test]
fn text_report_matches_golden() {
    let o = report(&SAMPLE);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    golden("sample.report.txt", &stdout(&o));
}

/// Lines read off sample.jsonl{,.1} by hand, not from the code's output:
/// the golden file alone would accept whatever the code printed when it
/// was blessed.
#[test]
fn text_report_says_what_the_sample_holds() {
    let text = stdout(&report(&SAMPLE));
    for line in [
        "nstrace report: 62 records, 2026-11-29T00:10:00.000000000Z to 2026-11-29T00:19:59.000000000Z",
        // 13 births and 10 present, 11 deaths: 12 left.
        "Alive at the end of the log: 12 (cgroup 1, ipc 1, mnt 2, net 3, pid 1, time 1, user 1, uts 2): 2 born during the log, 10 before it",
        "  net:[4026532420] gen 1: born 2026-11-29T00:10:20.000000000Z by ip (pid 2400) via unshare, age 9m39s",
        // Two cleanup runs, the second one reported slow.
        "cleanup_net: 2 runs, 1 still running past the threshold",
        "    held by bind_mount /run/netns/blue [mnt:[4026531841]]",
        "Lost: 4 events in 2 lost records",
        "Problems: 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // Its header names no hook this version knows: every death counts as
    // visible, so nothing is called not observable.
    assert!(!text.contains("not observable"), "{text}");
}

/// tracepoint.jsonl: two runs of a tracepoint-only 6.18 host, read by
/// hand. uts and mnt deaths cannot be seen there; a pid lifetime's number
/// was reused after records were lost; the first run's live namespaces end
/// with it; a net died after its number was reused (its death came at the
/// end of the cleanup run); one death fits no lifetime.
#[test]
fn a_tracepoint_log_says_what_it_could_not_see() {
    let o = report(&["tracepoint.jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for line in [
        // Only the second run's two nets: present, and born at 10:24:50.
        "Alive at the end of the log: 2 (net 2): 1 born during the log, 1 before it",
        "End not observable (no death of their type could be seen): 1 (uts 1)",
        "  uts:[4026532508] gen 1: born 2026-11-30T10:24:50.000001000Z by unshare (pid 1001) via unshare; end not observable (uts deaths are not visible with tracepoint methods)",
        "Ends the log cannot tell: 9",
        "  mnt 1: not observable (mnt deaths are not visible with tracepoint methods)",
        "  net 2: tracer restarted (nstrace stopped at 2026-11-30T10:24:30.000000000Z and started again at 2026-11-30T10:24:40.000000000Z)",
        "  pid 1: records lost (2 events lost from 2026-11-30T10:24:10.000000000Z to 2026-11-30T10:24:15.000000000Z)",
        "  uts 4: not observable (uts deaths are not visible with tracepoint methods)",
        "Deaths tied to no namespace the log knows (end: unidentified): net 1",
        // The net whose death came after its number's reuse, and the user.
        "  net           1     9.03s     9.03s     9.03s     9.03s",
        "  user          1     1.00s     1.00s     1.00s     1.00s",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("uts:[4026532508] gen 1: born 2026-11-30T10:24:50.000001000Z by unshare (pid 1001) via unshare, age"),
        "a uts is not called alive: {text}");

    let j: Value = serde_json::from_str(&stdout(&report(&["--json", "tracepoint.jsonl"]))).unwrap();
    assert_eq!(
        j["end_unknown"],
        serde_json::json!({"mnt": 1, "net": 2, "pid": 2, "uts": 4})
    );
    let causes: Vec<(&str, &str, u64)> = j["unknown_ends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["type"].as_str().unwrap(),
                u["cause"].as_str().unwrap(),
                u["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        causes,
        [
            ("mnt", "not_observable", 1),
            ("net", "tracer_restarted", 2),
            ("pid", "records_lost", 1),
            ("pid", "tracer_restarted", 1),
            ("uts", "not_observable", 4),
        ]
    );
    assert_eq!(j["unidentified_deaths"], serde_json::json!({"net": 1}));
    assert_eq!(j["end_not_observable"][0]["inum"], 4026532508u64);

    let svg = stdout(&report(&["--svg", "tracepoint.jsonl"]));
    assert!(
        svg.contains("uts:[4026532508] gen 1: born 2026-11-30T10:24:50.000001000Z, end not observable (uts deaths are not visible with tracepoint methods)"),
        "{svg}"
    );
    assert!(
        svg.contains(
            "end unknown after 2026-11-30T10:24:16.000000000Z: records lost (2 events lost from"
        ),
        "{svg}"
    );
}

#[test]
fn json_report_matches_golden_and_its_figures() {
    let o = report(&["--json", SAMPLE[0], SAMPLE[1]]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    golden("sample.report.json", &text);
    let j: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        j["files"],
        serde_json::json!(["sample.jsonl.1", "sample.jsonl"])
    );
    assert_eq!(j["records"], 62);
    assert_eq!(
        j["sessions"].as_array().unwrap().len(),
        1,
        "rotation is not a new run"
    );
    assert_eq!(j["counts"]["birth"]["net"], 4);
    assert_eq!(j["counts"]["cleanup_start"]["net"], 2);
    // The container's net is the longest-lived: born 00:10:01.50029, died
    // in the slow cleanup run at 00:15:02.4005.
    let net = &j["lifetimes"]["net"];
    assert_eq!(
        (net["count"].as_u64(), net["max_ns"].as_u64()),
        (Some(3), Some(300_900_210_000))
    );
    assert_eq!(j["lifetimes"]["user"]["p50_ns"], 30_000_300_000u64);
    assert_eq!(j["put_to_death"]["net"]["max_ns"], 152_399_900_000u64);
    let c = &j["cleanup_net"];
    assert_eq!(
        (c["runs"].as_u64(), c["slow_runs"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(c["duration"]["max_ns"], 2_351_000_000u64);
    assert_eq!(c["longest_batch"], 2);
    assert_eq!(c["longest_wait_inum"], 4026532411u64);
    let alive = j["alive_at_end"].as_array().unwrap();
    assert_eq!(alive.len(), 12);
    assert!(alive
        .iter()
        .any(|a| a["inum"] == 4026532420u64 && a["creator"]["comm"] == "ip"));
    let lingered = j["lingered"].as_array().unwrap();
    assert_eq!(lingered.len(), 2);
    assert_eq!(
        lingered[0]["gen"], 2,
        "the reused inode number's second life"
    );
    assert_eq!(lingered[0]["linger"]["holders"][0]["kind"], "fd");
    assert!(lingered[0]["died"].is_string());
    assert_eq!(
        lingered[1]["linger"]["holders"][0]["path"],
        "/run/netns/blue"
    );
    assert!(lingered[1].get("died").is_none(), "still alive");
    assert_eq!(
        j["top_creators_by_comm"][0],
        serde_json::json!({"name": "runc:[1:CHILD]", "births": 6})
    );
    assert_eq!(
        j["top_creators_by_via"][0],
        serde_json::json!({"name": "clone3", "births": 6})
    );
    assert_eq!(
        (j["lost"]["records"].as_u64(), j["lost"]["events"].as_u64()),
        (Some(2), Some(4))
    );
    let untrusted = j["untrusted"].as_array().unwrap();
    assert_eq!(untrusted[0]["why"], "3 events lost");
    assert_eq!(untrusted[1]["from"], "2026-11-29T00:11:00.000000000Z");
    assert_eq!(j["problems"], serde_json::json!([]));
}

#[test]
fn damaged_logs_report_every_problem_and_exit_1() {
    let o = report(&["damaged.jsonl", "damaged-newer.jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    golden("damaged.report.txt", &stdout(&o));
    let text = stdout(&o);
    for line in [
        "damaged.jsonl:3: key `inum`: invalid type: string \"4026532501\", expected u32: skipped",
        "damaged.jsonl:4: unknown event kind \"reparent\" (from a newer nstrace?): skipped",
        "damaged.jsonl:9: torn last line (57 bytes, no newline: the writer stopped mid-line, e.g. killed): skipped",
        "damaged-newer.jsonl:1: written by nstrace 9.0.0, newer than this nstrace",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn type_filter_keeps_only_those_types() {
    let o = report(&["--json", "-t", "user,pid", SAMPLE[0], SAMPLE[1]]);
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let types: std::collections::BTreeSet<&str> = j["counts"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m.as_object().unwrap().keys().map(String::as_str))
        .collect();
    assert_eq!(types, ["-", "pid", "user"].into());
    assert!(
        j["counts"].get("cleanup_start").is_none(),
        "cleanup is net only"
    );
    assert_eq!(j["counts"]["lost"]["-"], 2, "losses concern every type");
}

#[test]
fn since_and_until_cut_the_log() {
    // The last record is at 00:19:59; 2m back is 00:17:59.
    let o = report(&["--json", "--since", "2m", SAMPLE[0], SAMPLE[1]]);
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["first"], "2026-11-29T00:18:00.000000000Z");
    assert_eq!(j["records"], 3, "{}", j["counts"]);
    let o = report(&[
        "--json",
        "--until",
        "2026-11-29T01:10:30+01:00",
        SAMPLE[0],
        SAMPLE[1],
    ]);
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["last"], "2026-11-29T00:10:20.003000000Z");
    assert_eq!(j["counts"]["birth"]["net"], 3);
}

#[test]
fn bad_arguments_say_what_to_type() {
    let cases: [(&[&str], &str); 5] = [
        (&["-t", "nett", "sample.jsonl"], "nstrace: -t \"nett\": not a namespace type; use one or more of mnt,uts,ipc,pid,net,user,cgroup,time\n"),
        (&["--since", "yesterday", "sample.jsonl"], "nstrace: --since \"yesterday\": not an RFC 3339 time (2026-11-29T00:55:52Z) nor a duration before the end of the log (10m, 1h30m, 2d)\n"),
        (&["--since", "1m", "--until", "10m", "sample.jsonl"], "nstrace: --since 1m is after --until 10m: nothing to report; swap them\n"),
        (&["missing.jsonl"], "nstrace: no log could be read: missing.jsonl: cannot open: No such file or directory (os error 2)\n"),
        (&["."], "nstrace: no log could be read: .: is a directory: name the log files in it, e.g. ./nstrace.jsonl*\n"),
    ];
    for (args, message) in cases {
        let o = report(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o), message, "{args:?}");
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn an_empty_log_gives_an_empty_report() {
    let dir = std::env::temp_dir().join(format!("nstrace-golden-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = report(&["--json", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["records"], 0);
    let o = report(&["--svg", empty.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).ends_with("</svg>\n"));
}
