//! `nstrace trace` arguments.

use std::path::PathBuf;

use crate::hooks::Method;

#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "EXAMPLES:
    nstrace trace                          # human-readable, until Ctrl-C
    nstrace trace --json -t net            # JSON Lines, net namespaces only
    nstrace trace --output ns.jsonl -d 60  # record a minute to a file
    nstrace trace --pid 1234               # what process 1234 and its descendants do")]
pub struct TraceArgs {
    /// Print JSON Lines (docs/events.md) instead of columns.
    #[arg(long)]
    pub json: bool,
    /// Write JSON Lines to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Start a new file when the log would grow past this many MiB (with
    /// --output; 1 to 1048576). Without it the log is never rotated.
    #[arg(long = "rotate-size", value_name = "MIB", requires = "output",
          value_parser = clap::value_parser!(u64).range(1..=MAX_ROTATE_MIB))]
    pub rotate_size_mib: Option<u64>,
    /// Rotated files to keep as PATH.1 (newest) to PATH.N (1 to 1000); a
    /// rotation deletes the oldest beyond that.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "output",
          value_parser = rotate_keep)]
    pub rotate_keep: usize,
    /// Stop after this many seconds (0 to 31536000, a year).
    #[arg(long, short = 'd', value_name = "SECONDS", allow_negative_numbers = true, value_parser = seconds::<0, 31_536_000>)]
    pub duration: Option<f64>,
    /// Only these namespace types (comma-separated: mnt,uts,ipc,pid,net,user,cgroup,time).
    #[arg(long, short = 't', value_name = "TYPES")]
    pub types: Option<String>,
    /// Only events caused by this process or its descendants, or putting a
    /// new task into them (repeatable). Children made by clone or fork into
    /// new namespaces are followed from their birth records; other
    /// descendants by their parent chain in /proc when their event is read
    /// (about 0.1 s later), so one that exited by then is missed.
    #[arg(long, short = 'p', value_name = "PID")]
    pub pid: Vec<u32>,
    /// Use only this hook method: fentry, kprobe or tracepoint.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Report a namespace that outlives its last task by this many seconds
    /// (0 to 86400).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, allow_negative_numbers = true, value_parser = seconds::<0, 86_400>)]
    pub linger_grace: f64,
    /// Report a net cleanup run still going after this many seconds (0 to
    /// 86400).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, allow_negative_numbers = true, value_parser = seconds::<0, 86_400>)]
    pub slow_cleanup: f64,
    /// Seconds between /proc checks for task counts, what tells that the
    /// last task left (0.1 to 3600). A full scan, which births, joins or an
    /// exited thread ask for, also waits 2,000 times the previous one's
    /// CPU time (times this interval): at most 0.05% of a CPU, and the
    /// last task's departure is then dated within that gap.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, allow_negative_numbers = true, value_parser = scan_interval)]
    pub scan_interval: f64,
    /// Do not scan /proc: no `present` or `linger` records, least overhead.
    #[arg(long)]
    pub no_scan: bool,
    /// Kernel BTF to read structure layouts from.
    #[arg(long, value_name = "PATH", default_value = crate::loader::SYSFS_BTF)]
    pub btf: PathBuf,
    /// Ring buffer size in KiB: a power of two from 4 (one page) to 2097152
    /// (2 GiB, the largest the kernel's u32 map size can hold).
    #[arg(long, value_name = "KIB", default_value_t = 4096, value_parser = buffer_kib)]
    pub buffer_kib: u32,
}

/// `--rotate-size` in MiB: up to a TiB, far beyond any sensible log.
const MAX_ROTATE_MIB: u64 = 1 << 20;

/// A number of seconds from MIN to MAX: finite, so that no later
/// conversion to a `Duration` or an instant can overflow and panic.
fn seconds<const MIN: u32, const MAX: u32>(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if v.is_finite() && (f64::from(MIN)..=f64::from(MAX)).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{s} is out of range: give seconds from {MIN} to {MAX}"
        ))
    }
}

/// A scan interval: below 0.1 s the scans would cost more than they tell.
fn scan_interval(s: &str) -> Result<f64, String> {
    let v = seconds::<0, 3600>(s)
        .map_err(|_| format!("{s} is out of range: give seconds from 0.1 to 3600"))?;
    if v < 0.1 {
        return Err(format!(
            "{s} is out of range: give seconds from 0.1 to 3600"
        ));
    }
    Ok(v)
}

/// `--rotate-keep`: at least one finished file, or a rotation would throw
/// the log away; at most 1000, since each rotation renames every one.
fn rotate_keep(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        Ok(0) => Err("0 would delete the log at every rotation: keep 1 to 1000 files".to_string()),
        _ => Err(format!("{s:?} is not a count from 1 to 1000")),
    }
}

/// `--buffer-kib`: the kernel wants a ring of a power of two pages, and
/// its size is a u32 of bytes.
fn buffer_kib(s: &str) -> Result<u32, String> {
    let bad = || {
        format!(
            "{s}: the ring buffer must be a power of two KiB from 4 to 2097152 (4 KiB to 2 GiB), e.g. 4096"
        )
    };
    let v: u32 = s.trim().parse().map_err(|_| bad())?;
    if v.is_power_of_two() && (4..=2_097_152).contains(&v) {
        Ok(v)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use proptest::prelude::*;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<super::TraceArgs, String> {
        let argv = ["nstrace", "trace"].iter().chain(args);
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Trace(t),
                ..
            }) => Ok(t),
            Ok(other) => Err(format!("parsed as {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn durations_that_cannot_be_waited_for_are_refused_with_the_range() {
        for (flag, bad) in [
            ("-d", "inf"),
            ("-d", "1e300"),
            ("-d", "NaN"),
            ("-d", "-1"),
            ("--linger-grace", "-1"),
            ("--slow-cleanup", "inf"),
            ("--scan-interval", "inf"),
            ("--scan-interval", "0"),
        ] {
            let err = parse(&[flag, bad]).unwrap_err();
            assert!(err.contains(&format!("invalid value '{bad}' for")), "{err}");
            assert!(err.contains("is out of range: give seconds from"), "{err}");
        }
        let err = parse(&["-d", "soon"]).unwrap_err();
        assert!(err.contains("\"soon\" is not a number of seconds"), "{err}");
        let t = parse(&["-d", "2.5", "--scan-interval", "0.1"]).unwrap();
        assert_eq!((t.duration, t.scan_interval), (Some(2.5), 0.1));
    }

    #[test]
    fn rotation_that_would_discard_the_log_is_refused() {
        let err = parse(&["-o", "x", "--rotate-size", "0"]).unwrap_err();
        assert!(err.contains("0 is not in 1..=1048576"), "{err}");
        let err = parse(&["-o", "x", "--rotate-keep", "0"]).unwrap_err();
        assert!(
            err.contains("0 would delete the log at every rotation"),
            "{err}"
        );
    }

    #[test]
    fn buffer_size_names_the_real_limits() {
        for bad in ["100", "0", "2", "4194304", "99999999999"] {
            let err = parse(&["--buffer-kib", bad]).unwrap_err();
            assert!(
                err.contains("must be a power of two KiB from 4 to 2097152 (4 KiB to 2 GiB)"),
                "{err}"
            );
        }
        assert_eq!(
            parse(&["--buffer-kib", "2097152"]).unwrap().buffer_kib,
            2_097_152
        );
    }

    proptest! {
        /// Whatever the value, parsing gives a usable number or an error,
        /// never a panic, and a number is one every later step can use.
        #[test]
        fn any_value_parses_or_is_refused(v in any::<String>(), f in any::<f64>()) {
            for flag in ["-d", "--linger-grace", "--slow-cleanup", "--scan-interval", "--buffer-kib", "--rotate-keep"] {
                for value in [v.as_str(), &f.to_string()] {
                    if let Ok(t) = parse(&["-o", "x", flag, value]) {
                        for secs in [t.duration.unwrap_or(0.0), t.linger_grace, t.slow_cleanup, t.scan_interval] {
                            prop_assert!(secs.is_finite() && secs >= 0.0);
                            let _ = std::time::Duration::from_secs_f64(secs);
                        }
                        prop_assert!(t.buffer_kib.is_power_of_two());
                        prop_assert!(t.buffer_kib.checked_mul(1024).is_some());
                        prop_assert!(t.rotate_keep >= 1);
                    }
                }
            }
        }
    }
}
