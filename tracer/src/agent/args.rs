//! `nstrace agent` arguments.

use std::{net::SocketAddr, path::PathBuf};

use crate::hooks::Method;

/// Where the agent's query socket is unless `--socket` says otherwise;
/// `nstrace why` asks there.
pub const DEFAULT_SOCKET: &str = "/run/nstrace/nstrace.sock";
pub const DEFAULT_LOG: &str = "/var/log/nstrace/nstrace.jsonl";

#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "The agent runs until SIGTERM or SIGINT; SIGHUP reopens the log (after logrotate
renamed it). It answers `nstrace why` on its socket with each namespace's history,
rebuilt from its log when it starts again. The socket protocol and the metrics are
described in docs/agent.md; dist/nstrace.service runs it under systemd.

EXAMPLES:
    nstrace agent                                  # log, socket, no metrics
    nstrace agent --metrics 127.0.0.1:9464         # and Prometheus metrics
    nstrace agent --log /tmp/ns.jsonl --socket /tmp/nstrace/ns.sock"
)]
pub struct AgentArgs {
    /// The JSON Lines log; rotated files are kept beside it.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_LOG)]
    pub log: PathBuf,
    /// Start a new log file when it would grow past this many MiB.
    #[arg(long = "rotate-size", value_name = "MIB", default_value_t = 64)]
    pub rotate_size_mib: u64,
    /// Rotated log files to keep as PATH.1 (newest) to PATH.N.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub rotate_keep: usize,
    /// The query socket (root only).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Serve Prometheus metrics at this address (GET /metrics), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Earlier lifetimes to remember per namespace number.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub history: usize,
    /// Earlier lifetimes to remember in all.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub history_total: usize,
    /// Report a namespace that outlives its last task by this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub linger_grace: f64,
    /// Report a net cleanup run still going after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub slow_cleanup: f64,
    /// Seconds between checks for namespaces that lost their last task.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub scan_interval: f64,
    /// Do not scan /proc: no `present` or `linger` records, least overhead.
    #[arg(long)]
    pub no_scan: bool,
    /// Use only this hook method: fentry, kprobe or tracepoint.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Kernel BTF to read structure layouts from.
    #[arg(long, value_name = "PATH", default_value = crate::loader::SYSFS_BTF)]
    pub btf: PathBuf,
    /// Ring buffer size in KiB (a power of two).
    #[arg(long, value_name = "KIB", default_value_t = 4096)]
    pub buffer_kib: u32,
}
