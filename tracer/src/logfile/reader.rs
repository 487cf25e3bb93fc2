//! Reads logs back: records in write order, and every line that could not be
//! used as a problem naming its file and line. Never panics on any input.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::order::in_write_order;
use super::version::{is_newer_than_ours, OUR_VERSION};
use super::wallclock::parse_rfc3339;
use crate::schema::{Record, RecordKind};

/// Lines longer than this are skipped unread: no record comes close (the
/// longest, a `linger` with many holders, is a few KiB), and a corrupt file
/// without newlines must not be pulled into memory whole.
pub const MAX_LINE: usize = 1 << 20;

/// Problems kept per file; past this only a count is kept, so a garbage file
/// of a million lines costs no memory.
const MAX_PROBLEMS_PER_FILE: usize = 100;

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

/// Streams the records of several logs, oldest file first.
pub struct LogReader {
    files: Vec<PathBuf>,
    opened: usize,
    queue: VecDeque<PathBuf>,
    current: Option<FileLines>,
    problems: Vec<Problem>,
}

struct FileLines {
    path: PathBuf,
    input: BufReader<File>,
    line_no: u64,
    buf: Vec<u8>,
    /// Set by a header from a newer nstrace, until the next header.
    refusing: bool,
    problems: usize,
}

impl LogReader {
    /// Orders `paths` (see `order`) and prepares to read them. Files that
    /// cannot be opened become problems when their turn comes.
    pub fn open(paths: &[PathBuf]) -> LogReader {
        let mut problems = Vec::new();
        let files = in_write_order(paths, &mut problems);
        LogReader {
            queue: files.clone().into(),
            files,
            opened: 0,
            current: None,
            problems,
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
            let path = self.queue.pop_front()?;
            match File::open(&path) {
                Ok(f) if f.metadata().is_ok_and(|m| m.is_dir()) => {
                    self.problems.push(Problem::whole_file(
                        &path,
                        format!(
                            "is a directory: name the log files in it, e.g. {}",
                            path.join("nstrace.jsonl*").display()
                        ),
                    ));
                }
                Ok(f) => {
                    self.opened += 1;
                    self.current = Some(FileLines {
                        path,
                        input: BufReader::with_capacity(256 * 1024, f),
                        line_no: 0,
                        buf: Vec::with_capacity(1024),
                        refusing: false,
                        problems: 0,
                    });
                    return Some(());
                }
                Err(e) => self
                    .problems
                    .push(Problem::whole_file(&path, format!("cannot open: {e}"))),
            }
        }
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
                Step::Record(r) => return Some(*r),
                Step::Skip(what) => {
                    file.problems += 1;
                    if file.problems <= MAX_PROBLEMS_PER_FILE {
                        self.problems.push(Problem {
                            file: file.path.clone(),
                            line: file.line_no,
                            what,
                        });
                    }
                }
                Step::Quiet => {}
                Step::End(err) => {
                    let file = self.current.take()?;
                    if let Some(what) = err {
                        self.problems.push(Problem::whole_file(&file.path, what));
                    }
                    if file.problems > MAX_PROBLEMS_PER_FILE {
                        let more = file.problems - MAX_PROBLEMS_PER_FILE;
                        self.problems.push(Problem::whole_file(
                            &file.path,
                            format!("{more} more bad lines not listed"),
                        ));
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

enum Line {
    Complete,
    Torn,
    TooLong,
    Eof,
}

impl FileLines {
    fn next_record(&mut self) -> Step {
        let line = match self.read_line() {
            Ok(l) => l,
            Err(e) => {
                return Step::End(Some(format!("read error after line {}: {e}", self.line_no)))
            }
        };
        match line {
            Line::Eof => Step::End(None),
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
                Ok(rec) if rec.event == RecordKind::Header => self.accept(rec),
                _ => Step::Quiet,
            },
            Line::Complete => match serde_json::from_slice::<Record>(&self.buf) {
                Ok(rec) => self.accept(rec),
                Err(e) => Step::Skip(format!("{}: skipped", diagnose(&self.buf, &e))),
            },
        }
    }

    /// Checks what serde cannot: whether a header comes from a newer nstrace.
    fn accept(&mut self, rec: Record) -> Step {
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

    /// Reads one line into `buf` without its `\n`, keeping at most MAX_LINE
    /// bytes of it.
    fn read_line(&mut self) -> std::io::Result<Line> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                if !any {
                    return Ok(Line::Eof);
                }
                self.line_no += 1;
                return Ok(if too_long { Line::TooLong } else { Line::Torn });
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long && self.buf.len() + take <= MAX_LINE {
                self.buf.extend_from_slice(&chunk[..take]);
            } else {
                too_long = true;
                self.buf.clear();
            }
            self.input.consume(if done { take + 1 } else { take });
            if done {
                self.line_no += 1;
                return Ok(if too_long {
                    Line::TooLong
                } else {
                    Line::Complete
                });
            }
        }
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
