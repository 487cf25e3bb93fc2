//! `--since` / `--until`: absolute RFC 3339 times, or durations counted back
//! from the last record of the logs.

use super::{duration, tail, ReportArgs};
use crate::logfile::parse_rfc3339;

/// The records kept, by wall-clock time in ns since the epoch (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub since: i64,
    pub until: i64,
}

impl Window {
    pub fn from_args(args: &ReportArgs) -> anyhow::Result<Window> {
        let mut end = None;
        let mut resolve = |flag: &str, value: &Option<String>, default: i64| {
            let Some(v) = value else { return Ok(default) };
            if let Some(t) = parse_rfc3339(v) {
                return Ok(t);
            }
            let Some(back) = duration::parse(v) else {
                anyhow::bail!(
                    "{flag} {v:?}: not an RFC 3339 time (2026-11-29T00:55:52Z) nor a \
                     duration before the end of the log (10m, 1h30m, 2d)"
                );
            };
            if end.is_none() {
                let last = tail::log_end(&args.files).map_err(|stream| {
                    anyhow::anyhow!(
                        "{flag} {v}: counts back from the last record, but {} is a stream \
                         whose end cannot be read before it is read; give an RFC 3339 time instead",
                        crate::sanitize::escape(&stream.to_string_lossy())
                    )
                })?;
                end = Some(last.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{flag} {v}: counts back from the last record, but the logs hold none; \
                         give an RFC 3339 time instead"
                    )
                })?);
            }
            let end = end.unwrap_or_default();
            Ok(end.saturating_sub(i64::try_from(back).unwrap_or(i64::MAX)))
        };
        let since = resolve("--since", &args.since, i64::MIN)?;
        let until = resolve("--until", &args.until, i64::MAX)?;
        if since > until {
            anyhow::bail!(
                "--since {} is after --until {}: nothing to report; swap them",
                args.since.as_deref().unwrap_or(""),
                args.until.as_deref().unwrap_or("")
            );
        }
        Ok(Window { since, until })
    }

    pub fn contains(&self, wall: i64) -> bool {
        (self.since..=self.until).contains(&wall)
    }
}
