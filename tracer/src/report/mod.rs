//! `nstrace report`: answers the usual questions from JSON Lines logs:
//! what was born and died, how long namespaces lived, what is still alive or
//! lingering and who holds it, how long net cleanup took, who created the
//! most, and where the log cannot be trusted.

mod containers;
mod duration;
mod percentile;
mod select;
mod summary;
mod svg;
mod tail;
mod tally;
mod text;
mod window;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use tracer_common::NsType;

pub use percentile::Spread;
pub use summary::Summary;

use crate::logfile::{parse_rfc3339, LogReader};
use tally::Tally;
use window::Window;

/// The namespace types `-t` accepts.
pub const NS_TYPES: [&str; 8] = ["mnt", "uts", "ipc", "pid", "net", "user", "cgroup", "time"];

/// Arguments of `nstrace report`.
#[derive(clap::Args, Debug, Default)]
#[command(after_help = "\
TIMES:
  --since and --until take an RFC 3339 time (2026-11-29T00:55:52Z, or with an
  offset: 2026-11-29T01:55:52+01:00) or a duration counted back from the last
  record of the logs (10m, 1h30m, 2d, 500ms). They keep the records whose time
  is in the window, as if the logs held only those.

EXIT STATUS:
  0 the report was printed and every line was read; 1 the report was printed
  but some lines or files were skipped, or the logs cannot be vouched for
  (the same record twice, a rotated file missing between two named, time
  running backwards): listed under problems, with file and line; 2 no report
  (an error, printed on stderr).

EXAMPLES:
  nstrace report /var/log/nstrace.jsonl*
  nstrace report --since 10m -t net trace.jsonl
  nstrace report --json trace.jsonl | jq .lifetimes.net
  nstrace report --container web-1 trace.jsonl
  nstrace report --svg trace.jsonl > timeline.svg
  zcat old.jsonl.gz | nstrace report - new.jsonl")]
pub struct ReportArgs {
    /// Logs written by `nstrace trace --output`: the live file and its
    /// rotated PATH.1…PATH.N, named in any order. `-` reads standard
    /// input; pipes and FIFOs are read once, as they come.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the summary as one JSON object instead of text.
    #[arg(long, conflicts_with = "svg")]
    pub json: bool,
    /// Print an SVG timeline instead of text: one bar per namespace, coloured
    /// by type, from birth through lingering to death.
    #[arg(long)]
    pub svg: bool,
    /// Only records at or after TIME (see TIMES below).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only records at or before TIME (see TIMES below).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only these namespace types, comma-separated:
    /// mnt,uts,ipc,pid,net,user,cgroup,time.
    #[arg(
        short = 't',
        long = "type",
        value_name = "TYPES",
        value_delimiter = ','
    )]
    pub types: Vec<String>,
    /// Only the namespaces a container made or entered, named by its name,
    /// id, id prefix (4+ characters) or pod name; with their later records.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Only the namespaces tasks with this command name made or entered.
    #[arg(long, value_name = "COMM")]
    pub comm: Option<String>,
    /// Only the namespaces this process (or its clone child, or the init a
    /// runtime helper started) made or entered.
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    for t in &args.types {
        if !NS_TYPES.contains(&t.as_str()) {
            anyhow::bail!(
                "-t {t:?}: not a namespace type; use one or more of {}",
                NS_TYPES.join(",")
            );
        }
    }
    let window = Window::from_args(args)?;
    let (summary, bars, types, read) = summarize(args, &window);
    if read == 0 && !summary.problems.is_empty() {
        // Nothing to report on: an error, not a report of nothing. The
        // first problems, and the last, which says why reading stopped.
        let p = &summary.problems;
        let shown = if p.len() <= 3 {
            p.join("; ")
        } else {
            format!(
                "{}; {}; ... ({} more); {}",
                p[0],
                p[1],
                p.len() - 3,
                p[p.len() - 1]
            )
        };
        anyhow::bail!("no log could be read: {shown}");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &summary)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else if args.svg {
        for p in &summary.problems {
            eprintln!("nstrace: {}", crate::sanitize::Esc(p));
        }
        out.write_all(svg::render(&summary, &bars, &types).as_bytes())
    } else {
        out.write_all(text::render(&summary).as_bytes())
    };
    // A closed pipe (`| head`) ends quietly in main.
    written
        .and_then(|()| out.flush())
        .context("cannot write the report to standard output")?;
    Ok(if summary.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads every file once, streaming, into the summary (and the bars), and
/// says how many records were read.
fn summarize(args: &ReportArgs, window: &Window) -> (Summary, Vec<tally::Bar>, Vec<String>, u64) {
    let mut tally = Tally::new(args.svg);
    let mut by_container = containers::ContainerTally::default();
    let mut select = select::Select::new(args.container.clone(), args.comm.clone(), args.pid);
    let mut reader = LogReader::open(&args.files);
    let mut problems_seen = 0;
    let mut read = 0u64;
    while let Some(rec) = reader.next() {
        read += 1;
        note_skipped(&mut tally, reader.problems(), &mut problems_seen);
        // The reader refuses records whose `ts` does not parse.
        let wall = parse_rfc3339(&rec.ts).unwrap_or_default();
        let in_window = window.contains(wall);
        let of_type = args.types.is_empty()
            || match rec.ns_type.map(NsType::name) {
                Some(t) => args.types.iter().any(|x| x == t),
                None if rec.event.name().starts_with("cleanup_") => {
                    args.types.iter().any(|x| x == "net")
                }
                None => true,
            };
        let selected = |s: &mut Option<select::Select>| s.as_mut().is_none_or(|s| s.keep(&rec));
        if rec.event == crate::schema::RecordKind::Header {
            selected(&mut select);
            tally.add(&rec, wall, in_window);
            by_container.add(&rec);
        } else if in_window && of_type && selected(&mut select) {
            tally.add(&rec, wall, true);
            by_container.add(&rec);
        }
    }
    note_skipped(&mut tally, reader.problems(), &mut problems_seen);
    let (mut summary, bars, types) = tally.finish();
    summary.containers = by_container.finish();
    summary.files = reader
        .files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    summary.problems = reader
        .into_problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    (summary, bars, types, read)
}

/// Tells the tally about lines skipped since the last record, so the stretch
/// around them is marked as not to be trusted.
fn note_skipped(tally: &mut Tally, problems: &[crate::logfile::Problem], seen: &mut usize) {
    let new = &problems[*seen..];
    *seen = problems.len();
    if let Some(first) = new.iter().find(|p| p.line > 0) {
        let lines = new.iter().filter(|p| p.line > 0).count();
        tally.skipped_lines(lines, first.to_string().trim_end_matches(": skipped"));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Lines a log might hold, hostile or broken: real records with odd
    /// values, fragments, control characters, NUL runs, huge numbers.
    fn arb_line() -> impl Strategy<Value = Vec<u8>> {
        let kinds = prop::sample::select(vec![
            "header",
            "present",
            "birth",
            "join",
            "put",
            "death",
            "linger",
            "lost",
            "cleanup_start",
            "cleanup_end",
            "cleanup_slow",
            "bogus",
        ]);
        let types = prop::sample::select(vec!["net", "uts", "pid", "user", "nett", "\u{202e}x"]);
        prop_oneof![
            (kinds, types, any::<u64>(), any::<u32>(), any::<u64>(), "[\\x00-\\x7f\\u{202e}\\u{85}a-z]{0,12}", 0i64..4_102_444_800)
                .prop_map(|(k, t, mono, inum, n, comm, secs)| {
                    let ts = crate::decode::rfc3339_utc(secs * 1_000_000_000);
                    serde_json::json!({
                        "ts": ts, "mono_ns": mono, "event": k, "type": t, "inum": inum,
                        "gen": n % 3, "comm": comm, "count": n, "total": n,
                        "lifetime_ns": n, "since_last_task_ns": n, "duration_ns": n,
                        "batch": n, "inums": [inum], "delays_ns": [n],
                        "holders": [{"kind": "bind_mount", "path": comm}],
                        "version": "0.1.0", "start": ts, "boot_offset_ns": mono as i64,
                    })
                    .to_string()
                    .into_bytes()
                }),
            prop::collection::vec(any::<u8>(), 0..64),
            Just(vec![0u8; 100]),
            Just(b"{\"ts\":\"9999-12-31T23:59:59Z\",\"mono_ns\":18446744073709551615,\"event\":\"lost\",\"count\":18446744073709551615}".to_vec()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// `report` on any lines: no panic, every output form renders, and
        /// a bad line becomes a problem.
        #[test]
        fn report_survives_any_lines(lines in prop::collection::vec(arb_line(), 0..60)) {
            let dir = std::env::temp_dir().join(format!("nstrace-report-prop-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("case.jsonl");
            std::fs::write(&path, lines.join(&b'\n')).unwrap();
            for svg in [false, true] {
                let args = ReportArgs { files: vec![path.clone()], svg, ..ReportArgs::default() };
                let window = Window::from_args(&args).unwrap();
                let (summary, bars, types, _) = summarize(&args, &window);
                let text = text::render(&summary);
                let raw = text.contains('\u{1b}') || text.contains('\u{202e}');
                prop_assert!(!raw, "raw control or bidi character in the text report");
                let _ = svg::render(&summary, &bars, &types);
                let _ = serde_json::to_string(&summary).unwrap();
            }
        }
    }
}
