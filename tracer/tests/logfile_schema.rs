//! schema/events.schema.json against real records and docs/events.md: every
//! kind and key the tracer writes is in the schema, every key in the schema
//! is documented, and the sample logs validate.
//!
//! Validation is the jsonschema crate's, with formats (date-time) checked.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use tracer::decode::Clock;
use tracer::logfile::{header_record, read_logs, LogWriter, Rotation};
use tracer::schema::{Container, Holder, Record, RecordKind, Runtime};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> Value {
    let path = root().join("schema/events.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Errors of `v` against the schema, each with its location.
fn errors(v: &Value) -> Vec<String> {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema())
            .unwrap_or_else(|e| panic!("schema/events.schema.json is not a valid schema: {e}"))
    });
    validator
        .iter_errors(v)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The field names serde knows for `T`: its derived Deserialize hands them
/// to `deserialize_struct`, where this deserializer takes them and stops.
/// So the list comes from the type itself, not from a copy kept here.
fn field_names<T: serde::de::DeserializeOwned>() -> BTreeSet<String> {
    use serde::de::{self, value::Error, Visitor};
    #[derive(Default)]
    struct Names(Option<&'static [&'static str]>);
    impl<'de> de::Deserializer<'de> for &mut Names {
        type Error = Error;
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Error> {
            self.0 = Some(fields);
            Err(de::Error::custom("field names taken"))
        }
        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
            Err(de::Error::custom("not a struct"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut names = Names::default();
    let _ = T::deserialize(&mut names);
    names
        .0
        .expect("a struct with derived Deserialize")
        .iter()
        .map(|s| s.to_string())
        .collect()
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

/// The keys of a JSON object.
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Every key of `Record` (and of `Holder`) appears in the schema, and the
/// schema names no key `Record` cannot write. The keys come from the types
/// through serde, so a field added to either is checked without editing
/// this test.
#[test]
fn schema_keys_match_the_record_struct() {
    let written = field_names::<Record>();
    assert!(
        written.contains("type") && written.contains("holders"),
        "{written:?}"
    );
    let in_schema: BTreeSet<String> = schema_keys_by_kind().into_values().flatten().collect();
    assert_eq!(written, in_schema, "Record keys vs schema keys");

    let hkeys = field_names::<Holder>();
    let s = schema();
    assert_eq!(hkeys, keys(&s["$defs"]["holder"]["properties"]));

    // Every key of the container object, with every runtime's name.
    let ckeys = field_names::<Container>();
    let def = &s["$defs"]["container"];
    assert_eq!(ckeys, keys(&def["properties"]));
    let names: Vec<Value> = Runtime::ALL
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    assert_eq!(
        def["properties"]["runtime"]["enum"].as_array().unwrap(),
        &names
    );
    let mut birth = json!({"ts": "2026-11-29T00:00:00.000000000Z", "mono_ns": 5,
        "event": "birth", "type": "pid", "inum": 4026532251u32, "gen": 1, "pid": 24573,
        "tid": 24573, "comm": "runc:[1:CHILD]", "via": "unshare", "cgroup_id": 367,
        "init_pid": 24575, "init_comm": "sleep"});
    let mut c = Container::new(Runtime::Docker, "i");
    c.name = Some("n".into());
    c.image = Some("im".into());
    c.pod = Some("p".into());
    c.pod_namespace = Some("ns".into());
    c.pod_uid = Some("u".into());
    birth["container"] = serde_json::to_value(&c).unwrap();
    assert_eq!(errors(&birth), Vec::<String>::new());
    birth["container"]["surprise"] = json!(1);
    let errs = errors(&birth);
    assert!(
        errs.len() == 1 && errs[0].starts_with("/container") && errs[0].contains("surprise"),
        "{errs:?}"
    );
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
    let header = header_record(methods, &Clock::now(), Clock::boot_ns()).unwrap();
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

/// The validator is live: a record with an unknown key, a wrong type, a
/// missing key or a bad time fails, each at its key.
#[test]
fn validator_catches_bad_records() {
    let ok = json!({"ts": "2026-11-29T00:00:00.000000000Z", "mono_ns": 5, "event": "lost", "count": 1, "total": 2});
    assert_eq!(errors(&ok), Vec::<String>::new());
    let mut extra = ok.clone();
    extra["surprise"] = json!(1);
    let errs = errors(&extra);
    assert!(errs.iter().any(|e| e.contains("surprise")), "{errs:?}");
    let mut wrong = ok.clone();
    wrong["count"] = json!("1");
    let errs = errors(&wrong);
    assert!(errs.iter().any(|e| e.starts_with("/count: ")), "{errs:?}");
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("total");
    let errs = errors(&missing);
    assert!(errs.iter().any(|e| e.contains("\"total\"")), "{errs:?}");
    let mut bad_time = ok;
    bad_time["ts"] = json!("2026-02-30T00:00:00Z");
    let errs = errors(&bad_time);
    assert!(errs.iter().any(|e| e.starts_with("/ts: ")), "{errs:?}");
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
    if !support::root_or_skip("a_real_trace_validates") {
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
