//! `nstrace trace` arguments.

use std::path::PathBuf;

use crate::hooks::Method;

#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "EXAMPLES:
    nstrace trace                          # human-readable, until Ctrl-C
    nstrace trace --json -t net            # JSON Lines, net namespaces only
    nstrace trace --output ns.jsonl -d 60  # record a minute to a file
    nstrace trace --pid 1234               # what process 1234 (and its clones) does")]
pub struct TraceArgs {
    /// Print JSON Lines (docs/events.md) instead of columns.
    #[arg(long)]
    pub json: bool,
    /// Write JSON Lines to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Start a new file when the log would grow past this many MiB (with --output).
    #[arg(long = "rotate-size", value_name = "MIB", requires = "output")]
    pub rotate_size_mib: Option<u64>,
    /// Rotated files to keep as PATH.1 (newest) to PATH.N.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "output")]
    pub rotate_keep: usize,
    /// Stop after this many seconds.
    #[arg(long, short = 'd', value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Only these namespace types (comma-separated: mnt,uts,ipc,pid,net,user,cgroup,time).
    #[arg(long, short = 't', value_name = "TYPES")]
    pub types: Option<String>,
    /// Only events caused by, or putting a new task into, this process (repeatable).
    #[arg(long, short = 'p', value_name = "PID")]
    pub pid: Vec<u32>,
    /// Use only this hook method: fentry, kprobe or tracepoint.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Report a namespace that outlives its last task by this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub linger_grace: f64,
    /// Report a net cleanup run still going after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub slow_cleanup: f64,
    /// Seconds between /proc scans for task counts (what tells that the last
    /// task left).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub scan_interval: f64,
    /// Do not scan /proc: no `present` or `linger` records, least overhead.
    #[arg(long)]
    pub no_scan: bool,
    /// Kernel BTF to read structure layouts from.
    #[arg(long, value_name = "PATH", default_value = crate::loader::SYSFS_BTF)]
    pub btf: PathBuf,
    /// Ring buffer size in KiB (a power of two).
    #[arg(long, value_name = "KIB", default_value_t = 4096)]
    pub buffer_kib: u32,
}
