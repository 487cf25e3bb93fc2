//! Reads logs back: records in write order, and every line that could not be
//! used as a problem naming its file and line. Never panics on any input,
//! and reads any input, even one that never ends, in bounded memory and
//! time.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::checks::{Place, Seen, BACKWARDS_SLACK_NS};
pub use super::input::MAX_LINE;
use super::input::{read_line, Input, Kind, Line, BUF};
use super::order::in_write_order;
use super::version::{is_newer_than_ours, OUR_VERSION};
use super::wallclock::parse_rfc3339;
use crate::schema::{Record, RecordKind};

/// Problems kept per file; past this only a count is kept, so a garbage file
/// of a million lines costs no memory.
const MAX_PROBLEMS_PER_FILE: usize = 100;

/// An input that gives no record in this many lines, or this many bytes,
/// is not a log (or never ends, like /dev/urandom): the rest of it is
/// skipped. A real log has a record on every line but a torn one.
const MAX_UNREADABLE_LINES: u64 = 10_000;
const MAX_UNREADABLE_BYTES: u64 = 64 << 20;

/// A line (or a whole file, with `line` 0) that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: u64,
    pub what: String,
}

impl Problem {
    pub fn whole_file(file: &Path, what: String) -> Problem {
        Problem {
            file: file.to_path_buf(),
            line: 0,
            what,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.what)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.what)
        }
    }
}

/// Everything read from a set of logs.
#[derive(Debug, Default)]
pub struct LogRead {
    pub records: Vec<Record>,
    pub problems: Vec<Problem>,
}

/// Reads all of `paths` into memory. `LogReader` streams instead.
pub fn read_logs(paths: &[PathBuf]) -> LogRead {
    let mut reader = LogReader::open(paths);
    let records = reader.by_ref().collect();
    LogRead {
        records,
        problems: reader.into_problems(),
    }
}

/// Streams the records of several logs, oldest file first. `-` names
/// standard input; pipes, FIFOs and devices are read once, as they come.
pub struct LogReader {
    files: Vec<PathBuf>,
    opened: usize,
    queue: VecDeque<Input>,
    current: Option<FileLines>,
    problems: Vec<Problem>,
    seen: Seen,
}

struct FileLines {
    path: PathBuf,
    /// Index in `files`.
    index: usize,
    input: Box<dyn BufRead>,
    line_no: u64,
    buf: Vec<u8>,
    /// Set by a header from a newer nstrace, or a header seen before,
    /// until the next header.
    refusing: bool,
    problems: usize,
    /// Lines and bytes since the last line that held a record.
    unreadable: (u64, u64),
    /// Whether the line just read held a record (used or not).
    parsed: bool,
    /// Wall time and line of the latest record since the last header.
    latest: Option<(i64, u64)>,
}

impl LogReader {
    /// Orders `paths` (see `order`) and prepares to read them. Files that
    /// cannot be opened become problems when their turn comes.
    pub fn open(paths: &[PathBuf]) -> LogReader {
        let mut problems = Vec::new();
        let inputs = in_write_order(paths, &mut problems);
        LogReader {
            files: inputs.iter().map(|i| i.name.clone()).collect(),
            queue: inputs.into(),
            opened: 0,
            current: None,
            problems,
            seen: Seen::default(),
        }
    }

    /// The files, in the order they are read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// How many files could be opened so far.
    pub fn opened(&self) -> usize {
        self.opened
    }

    /// The file being read now.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|f| f.path.as_path())
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    pub fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    fn next_file(&mut self) -> Option<()> {
        loop {
            let Input {
                name: path, kind, ..
            } = self.queue.pop_front()?;
            let index = self.files.len() - self.queue.len() - 1;
            let input: Box<dyn BufRead> = match kind {
                Kind::Stream(r) => r,
                Kind::Unusable(why) => {
                    self.problems.push(Problem::whole_file(&path, why));
                    continue;
                }
                Kind::Regular => match File::open(&path) {
                    Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
                        self.problems.push(Problem::whole_file(
                            &path,
                            format!(
                                "is a directory: name the log files in it, e.g. {}",
                                path.join("nstrace.jsonl*").display()
                            ),
                        ));
                        continue;
                    }
                    Ok(f) => Box::new(BufReader::with_capacity(BUF, f)),
                    Err(e) => {
                        self.problems
                            .push(Problem::whole_file(&path, format!("cannot open: {e}")));
                        continue;
                    }
                },
            };
            self.opened += 1;
            self.current = Some(FileLines {
                path,
                index,
                input,
                line_no: 0,
                buf: Vec::with_capacity(1024),
                refusing: false,
                problems: 0,
                unreadable: (0, 0),
                parsed: false,
                latest: None,
            });
            return Some(());
        }
    }

    fn problem(&mut self, what: String) {
        let Some(file) = self.current.as_mut() else {
            return;
        };
        file.problems += 1;
        if file.problems <= MAX_PROBLEMS_PER_FILE {
            self.problems.push(Problem {
                file: file.path.clone(),
                line: file.line_no,
                what,
            });
        }
    }

    /// Checks a record against the others: the same record twice is
    /// skipped, time running backwards is reported and the record kept.
    fn vouch(&mut self, rec: Box<Record>) -> Option<Record> {
        let file = self.current.as_mut()?;
        let here: Place = (file.index, file.line_no);
        if let Some((f, line)) = self.seen.repeat_of(&rec, here) {
            let at = format!("{}:{line}", self.files[f].display());
            if rec.event == RecordKind::Header {
                file.refusing = true;
                self.problem(format!(
                    "the same header as {at}: this log was given twice (or copied); its \
                     records up to the next header are skipped"
                ));
            } else {
                self.problem(format!(
                    "the same record as {at} (two tracers writing one file, or a log given \
                     twice): skipped"
                ));
            }
            return None;
        }
        let wall = parse_rfc3339(&rec.ts).unwrap_or_default();
        if rec.event == RecordKind::Header {
            // A new run may have a clock of its own.
            file.latest = Some((wall, file.line_no));
            return Some(*rec);
        }
        match file.latest {
            Some((latest, line)) if wall < latest.saturating_sub(BACKWARDS_SLACK_NS) => {
                let back = latest.saturating_sub(wall) as f64 / 1e9;
                self.problem(format!(
                    "time runs backwards: {} is {back:.3} s before the record at line {line} \
                     (lines out of order, or logs spliced)",
                    rec.ts
                ));
            }
            _ => file.latest = Some((wall, file.line_no)),
        }
        Some(*rec)
    }
}

impl Iterator for LogReader {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if self.current.is_none() {
                self.next_file()?;
            }
            let file = self.current.as_mut()?;
            match file.next_record() {
                Step::Record(r) => {
                    if let Some(r) = self.vouch(r) {
                        return Some(r);
                    }
                }
                Step::Skip(what) => self.problem(what),
                Step::Quiet => {}
                Step::End(err) => {
                    let file = self.current.take()?;
                    if file.problems > MAX_PROBLEMS_PER_FILE {
                        let more = file.problems - MAX_PROBLEMS_PER_FILE;
                        self.problems.push(Problem::whole_file(
                            &file.path,
                            format!("{more} more bad lines not listed"),
                        ));
                    }
                    // Last: why the rest of the input was not read.
                    if let Some(what) = err {
                        self.problems.push(Problem::whole_file(&file.path, what));
                    }
                }
            }
        }
    }
}

enum Step {
    Record(Box<Record>),
    /// A line that could not be used, and why.
    Skip(String),
    /// A line skipped without a problem of its own (already explained).
    Quiet,
    /// End of file, or a read error ending it.
    End(Option<String>),
}

impl FileLines {
    fn next_record(&mut self) -> Step {
        // A log never holds a NUL byte; an input that starts with one is
        // binary, or /dev/zero. (A NUL run later, as a power loss can
        // leave at a file's end, is skipped line by line.)
        if self.line_no == 0 && self.input.fill_buf().is_ok_and(|c| c.first() == Some(&0)) {
            return Step::End(Some(
                "starts with NUL bytes: not a JSON Lines log of nstrace (a binary file, or \
                 /dev/zero?); skipped"
                    .to_string(),
            ));
        }
        self.parsed = false;
        let budget = MAX_UNREADABLE_BYTES.saturating_sub(self.unreadable.1);
        let line = match read_line(&mut self.input, &mut self.buf, budget) {
            Ok(l) => l,
            Err(e) => {
                return Step::End(Some(format!("read error after line {}: {e}", self.line_no)))
            }
        };
        if line != Line::Eof && line != Line::Endless {
            self.line_no += 1;
        }
        let step = self.step(line);
        match &step {
            _ if self.parsed => self.unreadable = (0, 0),
            Step::Record(_) => self.unreadable = (0, 0),
            Step::Skip(_) | Step::Quiet => {
                self.unreadable.0 += 1;
                self.unreadable.1 += self.buf.len() as u64 + 1;
                if self.unreadable.0 >= MAX_UNREADABLE_LINES {
                    return Step::End(Some(format!(
                        "no record in {MAX_UNREADABLE_LINES} lines up to line {}: not a JSON \
                         Lines log of nstrace; the rest is skipped",
                        self.line_no
                    )));
                }
            }
            Step::End(_) => {}
        }
        step
    }

    fn step(&mut self, line: Line) -> Step {
        match line {
            Line::Eof => Step::End(None),
            Line::Endless => Step::End(Some(format!(
                "no record in {} MiB after line {}: not a JSON Lines log of nstrace (or an \
                 input that never ends, like /dev/zero); the rest is skipped",
                MAX_UNREADABLE_BYTES >> 20,
                self.line_no
            ))),
            Line::TooLong => Step::Skip(format!("line longer than {} bytes: skipped", MAX_LINE)),
            Line::Torn => match serde_json::from_slice::<Record>(&self.buf) {
                // Only the newline is missing: the closing brace proves the
                // record itself is whole.
                Ok(rec) => self.accept(rec),
                Err(_) => Step::Skip(format!(
                    "torn last line ({} bytes, no newline: the writer stopped mid-line, e.g. killed): skipped",
                    self.buf.len()
                )),
            },
            Line::Complete if self.buf.is_empty() => Step::Skip("empty line: skipped".to_string()),
            // Only a header can end a refused stretch.
            Line::Complete if self.refusing => match serde_json::from_slice::<Record>(&self.buf) {
                Ok(rec) if rec.event == RecordKind::Header => {
                    self.refusing = false;
                    self.accept(rec)
                }
                Ok(_) => {
                    self.parsed = true;
                    Step::Quiet
                }
                Err(_) => Step::Quiet,
            },
            Line::Complete => match serde_json::from_slice::<Record>(&self.buf) {
                Ok(rec) => self.accept(rec),
                Err(e) => Step::Skip(format!("{}: skipped", diagnose(&self.buf, &e))),
            },
        }
    }

    /// Checks what serde cannot: whether a header comes from a newer nstrace.
    fn accept(&mut self, rec: Record) -> Step {
        self.parsed = true;
        if parse_rfc3339(&rec.ts).is_none() {
            return Step::Skip(format!(
                "key `ts`: {:?} is not an RFC 3339 time: skipped",
                rec.ts
            ));
        }
        if rec.event == RecordKind::Header {
            let version = rec.version.as_deref().unwrap_or("");
            match is_newer_than_ours(version) {
                Some(true) => {
                    self.refusing = true;
                    return Step::Skip(format!(
                        "written by nstrace {version}, newer than this nstrace {OUR_VERSION}: \
                         its records (to the next header) are skipped; read them with nstrace {version} or later"
                    ));
                }
                Some(false) => self.refusing = false,
                None => {
                    self.refusing = false;
                    return Step::Skip(format!(
                        "header version {version:?} is not MAJOR.MINOR.PATCH: header skipped, records read"
                    ));
                }
            }
        }
        if self.refusing {
            return Step::Quiet;
        }
        Step::Record(Box::new(rec))
    }
}

/// Says which part of a line is wrong, for a line serde refused. Only bad
/// lines pay for this.
fn diagnose(line: &[u8], err: &serde_json::Error) -> String {
    let obj: Map<String, Value> = match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(o)) => o,
        Ok(other) => return format!("not a JSON object but {}", json_type(&other)),
        Err(e) if e.is_eof() => return "incomplete JSON (the line ends early)".to_string(),
        Err(_) if std::str::from_utf8(line).is_err() => return "not UTF-8 text".to_string(),
        Err(e) => return format!("not valid JSON ({e})"),
    };
    match obj.get("event") {
        None => return "no `event` key".to_string(),
        Some(Value::String(kind)) if RecordKind::from_name(kind).is_none() => {
            return format!("unknown event kind {kind:?} (from a newer nstrace?)");
        }
        Some(Value::String(_)) => {}
        Some(other) => return format!("key `event` is {}, expected a string", json_type(other)),
    }
    // Try each key alone among valid stand-ins for the required ones; the
    // first that fails is the culprit, and serde's message for it names the
    // expected type.
    let stand_ins =
        serde_json::json!({"ts": "1970-01-01T00:00:00Z", "mono_ns": 0, "event": "lost"});
    for (key, value) in &obj {
        let mut one = stand_ins.clone();
        one[key] = value.clone();
        if let Err(e) = Record::deserialize(one) {
            return format!("key `{key}`: {e}");
        }
    }
    err.to_string()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
