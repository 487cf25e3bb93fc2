//! `nstrace report`: answers the usual questions from JSON Lines logs:
//! what was born and died, how long namespaces lived, what is still alive or
//! lingering and who holds it, how long net cleanup took, who created the
//! most, and where the log cannot be trusted.

mod duration;
mod percentile;
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
  but some lines or files were skipped (listed under problems, with file and
  line); 2 no report (an error, printed on stderr).

EXAMPLES:
  nstrace report /var/log/nstrace.jsonl*
  nstrace report --since 10m -t net trace.jsonl
  nstrace report --json trace.jsonl | jq .lifetimes.net
  nstrace report --svg trace.jsonl > timeline.svg")]
pub struct ReportArgs {
    /// Logs written by `nstrace trace --output`: the live file and its
    /// rotated PATH.1…PATH.N, named in any order.
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
    let (summary, bars, types, opened) = summarize(args, &window);
    if opened == 0 {
        anyhow::bail!("no log could be read: {}", summary.problems.join("; "));
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
/// says how many files could be opened.
fn summarize(args: &ReportArgs, window: &Window) -> (Summary, Vec<tally::Bar>, Vec<String>, usize) {
    let mut tally = Tally::new(args.svg);
    let mut reader = LogReader::open(&args.files);
    let mut problems_seen = 0;
    while let Some(rec) = reader.next() {
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
        if rec.event == crate::schema::RecordKind::Header {
            tally.add(&rec, wall, in_window);
        } else if in_window && of_type {
            tally.add(&rec, wall, true);
        }
    }
    note_skipped(&mut tally, reader.problems(), &mut problems_seen);
    let (mut summary, bars, types) = tally.finish();
    summary.files = reader
        .files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let opened = reader.opened();
    summary.problems = reader
        .into_problems()
        .iter()
        .map(ToString::to_string)
        .collect();
    (summary, bars, types, opened)
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
