//! schema/events.schema.json against real records and docs/events.md: every
//! kind and key the tracer writes is in the schema, every key in the schema
//! is documented, and the sample logs validate.
//!
//! No JSON Schema crate is allowed here, so this is a small validator for
//! the keywords the schema uses; it refuses any keyword it does not know, so
//! the schema cannot rely on something unchecked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tracer::decode::Clock;
use tracer::logfile::{header_record, parse_rfc3339, read_logs, LogWriter, Rotation};
use tracer::schema::{Holder, HolderKind, Record, RecordKind};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> Value {
    let path = root().join("schema/events.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Errors of `v` against `s`, with JSON-pointer-ish locations.
fn validate(root: &Value, s: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(obj) = s.as_object() else {
        panic!("schema at {at} is not an object");
    };
    for (kw, arg) in obj {
        match kw.as_str() {
            "$schema" | "$id" | "title" | "description" | "$comment" | "$defs" | "then" => {}
            "$ref" => {
                let name = arg
                    .as_str()
                    .unwrap()
                    .strip_prefix("#/$defs/")
                    .expect("local $ref");
                let target = &root["$defs"][name];
                assert!(!target.is_null(), "dangling $ref {name}");
                validate(root, target, v, at, errs);
            }
            "type" => {
                let ok = match arg.as_str().unwrap() {
                    "object" => v.is_object(),
                    "array" => v.is_array(),
                    "string" => v.is_string(),
                    "integer" => v.is_i64() || v.is_u64(),
                    "boolean" => v.is_boolean(),
                    t => panic!("type {t} not supported"),
                };
                if !ok {
                    errs.push(format!("{at}: {v} is not {arg}"));
                }
            }
            "enum" => {
                if !arg.as_array().unwrap().contains(v) {
                    errs.push(format!("{at}: {v} not in {arg}"));
                }
            }
            "const" => {
                if arg != v {
                    errs.push(format!("{at}: {v} is not {arg}"));
                }
            }
            "minimum" | "maximum" => {
                let n = v.as_i64().map(i128::from).or(v.as_u64().map(i128::from));
                let bound = arg
                    .as_i64()
                    .map(i128::from)
                    .or(arg.as_u64().map(i128::from))
                    .unwrap();
                if let Some(n) = n {
                    if (kw == "minimum" && n < bound) || (kw == "maximum" && n > bound) {
                        errs.push(format!("{at}: {n} breaks {kw} {bound}"));
                    }
                }
            }
            "format" => {
                assert_eq!(arg, "date-time");
                if let Some(t) = v.as_str() {
                    if parse_rfc3339(t).is_none() {
                        errs.push(format!("{at}: {t:?} is not a date-time"));
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for k in arg.as_array().unwrap() {
                        if !o.contains_key(k.as_str().unwrap()) {
                            errs.push(format!("{at}: missing {k}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(o) = v.as_object() {
                    for (k, sub) in arg.as_object().unwrap() {
                        if let Some(x) = o.get(k) {
                            validate(root, sub, x, &format!("{at}/{k}"), errs);
                        }
                    }
                }
            }
            "additionalProperties" => {
                let known = obj.get("properties").and_then(Value::as_object);
                if let Some(o) = v.as_object() {
                    for (k, x) in o {
                        if known.is_some_and(|p| p.contains_key(k)) {
                            continue;
                        }
                        match arg {
                            Value::Bool(false) => errs.push(format!("{at}: key {k:?} not allowed")),
                            Value::Bool(true) => {}
                            sub => validate(root, sub, x, &format!("{at}/{k}"), errs),
                        }
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, x) in a.iter().enumerate() {
                        validate(root, arg, x, &format!("{at}/{i}"), errs);
                    }
                }
            }
            "allOf" => {
                for sub in arg.as_array().unwrap() {
                    validate(root, sub, v, at, errs);
                }
            }
            "if" => {
                let mut probe = Vec::new();
                validate(root, arg, v, at, &mut probe);
                if probe.is_empty() {
                    validate(root, &obj["then"], v, at, errs);
                }
            }
            other => panic!("schema keyword {other} at {at} is not supported by this validator"),
        }
    }
}

fn errors(v: &Value) -> Vec<String> {
    let s = schema();
    let mut errs = Vec::new();
    validate(&s, &s, v, "", &mut errs);
    errs
}

fn assert_valid_file(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        let errs = errors(&v);
        assert!(errs.is_empty(), "{}:{}: {errs:?}", path.display(), i + 1);
    }
}

fn schema_keys_by_kind() -> BTreeMap<String, BTreeSet<String>> {
    let s = schema();
    let mut out = BTreeMap::new();
    for kind in RecordKind::ALL {
        let def = &s["$defs"][kind.name()];
        assert!(def.is_object(), "schema has no $defs/{}", kind.name());
        let keys = def["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        out.insert(kind.name().to_string(), keys);
    }
    out
}

#[test]
fn schema_has_every_kind_and_nothing_else() {
    let s = schema();
    let names: Vec<&str> = RecordKind::ALL.iter().map(|k| k.name()).collect();
    let listed: Vec<&str> = s["properties"]["event"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed, names);
    assert_eq!(s["allOf"].as_array().unwrap().len(), names.len());
    schema_keys_by_kind();
}

/// Every key of `Record` (and of `Holder`) appears in the schema, and the
/// schema names no key `Record` cannot write.
#[test]
fn schema_keys_match_the_record_struct() {
    let mut full = Record::new(
        RecordKind::Birth,
        1,
        "1970-01-01T00:00:00.000000001Z".into(),
    );
    let v = json!({
        "type": "net", "inum": 1, "gen": 1, "ns_id": 1, "pid": 1, "tid": 1, "comm": "x",
        "via": "clone", "flags": 1, "child_pid": 1, "child_tid": 1, "owner": 1, "parent": 1,
        "cookie": 1, "batch": 1, "inums": [1], "delays_ns": [1], "duration_ns": 1,
        "running_ns": 1, "walk_partial": true, "lifetime_ns": 1, "exact": true, "end": "reused", "within_ns": 1,
        "since_last_task_ns": 1,
        "holders": [{"kind": "fd"}], "tasks": 1, "count": 1, "total": 1, "version": "0.1.0",
        "kernel": "k", "methods": {}, "start": "1970-01-01T00:00:00Z", "boot_offset_ns": 1
    });
    let mut merged = serde_json::to_value(&full).unwrap();
    merged
        .as_object_mut()
        .unwrap()
        .extend(v.as_object().unwrap().clone());
    full = serde_json::from_value(merged).unwrap();
    let written: BTreeSet<String> = serde_json::to_value(&full)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let in_schema: BTreeSet<String> = schema_keys_by_kind().into_values().flatten().collect();
    assert_eq!(written, in_schema, "Record keys vs schema keys");

    let holder = Holder {
        kind: HolderKind::Fd,
        pid: Some(1),
        comm: Some("c".into()),
        fd: Some(3),
        path: Some("/p".into()),
        detail: Some("d".into()),
        mount_points: Some(vec!["/p".into()]),
    };
    let hkeys: BTreeSet<String> = serde_json::to_value(&holder)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let s = schema();
    let schema_hkeys: BTreeSet<String> = s["$defs"]["holder"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(hkeys, schema_hkeys);
}

/// Keys in docs/events.md tables: the first column of key tables, and the
/// backticked names of the "extra keys" column of the kinds table.
fn documented_keys() -> BTreeSet<String> {
    let path = root().join("docs/events.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut keys = BTreeSet::new();
    let mut in_kinds = false;
    for line in text.lines() {
        if line.starts_with("| `event` | when") {
            in_kinds = true;
            continue;
        }
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').collect();
        let cell = if in_kinds { cells[3] } else { cells[1] };
        for (i, part) in cell.split('`').enumerate() {
            // Odd parts are inside backticks; skip values like `fentry`.
            let word = part.trim();
            // In the kinds table, backticks also quote values (`fentry`) and
            // other kinds (`lost`): those are not keys.
            let is_value = ["fentry", "kprobe", "tracepoint", "missing"].contains(&word)
                || RecordKind::from_name(word).is_some();
            let is_key = i % 2 == 1
                && !word.is_empty()
                && word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !(in_kinds && is_value);
            if is_key {
                keys.insert(word.to_string());
            }
        }
    }
    keys.insert("event".into());
    keys
}

#[test]
fn schema_keys_are_the_documented_keys() {
    let documented = documented_keys();
    let in_schema: BTreeSet<String> = schema_keys_by_kind().into_values().flatten().collect();
    let undocumented: Vec<_> = in_schema.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&in_schema).collect();
    assert!(
        undocumented.is_empty(),
        "in the schema but not in docs/events.md: {undocumented:?}"
    );
    assert!(
        missing.is_empty(),
        "in docs/events.md but not in the schema: {missing:?}"
    );
}

#[test]
fn sample_logs_validate() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for name in ["sample.jsonl", "sample.jsonl.1", "tracepoint.jsonl"] {
        assert_valid_file(&data.join(name));
    }
    // Every kind is exercised by the sample.
    let read = read_logs(&[data.join("sample.jsonl"), data.join("sample.jsonl.1")]);
    let kinds: BTreeSet<RecordKind> = read.records.iter().map(|r| r.event).collect();
    assert_eq!(kinds.len(), RecordKind::ALL.len(), "{kinds:?}");
}

#[test]
fn written_headers_validate() {
    let dir = tempdir("written");
    let path = dir.join("t.jsonl");
    let methods = BTreeMap::from([("birth".to_string(), "tracepoint".to_string())]);
    let header = header_record(methods, &Clock::now()).unwrap();
    let mut w = LogWriter::create(
        &path,
        Rotation {
            size: Some(600),
            keep: 3,
        },
        &header,
    )
    .unwrap();
    let mut lost = Record::new(RecordKind::Lost, header.mono_ns + 1, header.ts.clone());
    lost.count = Some(1);
    lost.total = Some(1);
    for _ in 0..5 {
        w.write(&lost).unwrap();
    }
    drop(w);
    // The live file and the rotated ones, headers included.
    assert_valid_file(&path);
    assert_valid_file(&dir.join("t.jsonl.1"));
}

#[test]
fn validator_catches_bad_records() {
    let ok = json!({"ts": "2026-11-29T00:00:00.000000000Z", "mono_ns": 5, "event": "lost", "count": 1, "total": 2});
    assert_eq!(errors(&ok), Vec::<String>::new());
    let mut extra = ok.clone();
    extra["surprise"] = json!(1);
    assert_eq!(errors(&extra), vec![r#": key "surprise" not allowed"#]);
    let mut wrong = ok.clone();
    wrong["count"] = json!("1");
    assert_eq!(errors(&wrong), vec![r#"/count: "1" is not "integer""#]);
    let mut missing = ok;
    missing.as_object_mut().unwrap().remove("total");
    assert_eq!(errors(&missing), vec![r#": missing "total""#]);
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nstrace-schema-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A real trace of this host, recorded while this test makes namespaces:
/// every line of it validates.
#[test]
fn a_real_trace_validates() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: nstrace trace needs root (loading eBPF programs)");
        return;
    }
    let dir = tempdir("real");
    let path = dir.join("real.jsonl");
    let mut tracer = std::process::Command::new(env!("CARGO_BIN_EXE_nstrace"))
        .args(["trace", "-d", "10", "--output"])
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The header is written once every program is attached: start the
    // workload only then, however long loading takes on a busy machine.
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&path).is_ok_and(|s| s.contains("\"event\":\"header\"")) {
        assert!(
            started.elapsed().as_secs() < 60,
            "nstrace wrote no header in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Births by unshare and clone, a join by setns (nsenter), and whatever
    // else the host does meanwhile.
    let script = "for i in 1 2 3 4 5; do unshare -n -u -i true; \
                  unshare -m -p -f true; unshare -n sleep 5 & p=$!; sleep 0.1; \
                  nsenter -t $p -n true; kill $p; done";
    let status = std::process::Command::new("sh")
        .args(["-c", script])
        .status()
        .unwrap();
    assert!(status.success());
    // SAFETY: signalling our own child: stop now rather than wait out -d.
    unsafe { libc::kill(tracer.id() as i32, libc::SIGINT) };
    let status = tracer.wait().unwrap();
    assert!(status.success(), "nstrace trace: {status}");
    let read = read_logs(std::slice::from_ref(&path));
    assert_eq!(read.problems, vec![]);
    let kinds: BTreeSet<RecordKind> = read.records.iter().map(|r| r.event).collect();
    for k in [
        RecordKind::Header,
        RecordKind::Present,
        RecordKind::Birth,
        RecordKind::Join,
    ] {
        assert!(kinds.contains(&k), "no {} in {kinds:?}", k.name());
    }
    assert_valid_file(&path);
}
