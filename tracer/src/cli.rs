//! Command-line interface: argument types and dispatch to the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "nstrace",
    version,
    about = "Follow every Linux namespace from birth to death"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Say more on stderr: -v why each missing hook failed, -vv debug
    /// detail such as whole verifier logs. RUST_LOG, when set, wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Cli {
    /// The log filter `-v` asks for, used when RUST_LOG is not set.
    pub fn log_filter(&self) -> &'static str {
        match self.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Stream namespace births, joins, puts and deaths as they happen.
    Trace(crate::trace::TraceArgs),
    /// Run as a service: the rotated log, Prometheus metrics, and a query
    /// socket that gives `why` each namespace's history.
    Agent(crate::agent::AgentArgs),
    /// Show which hook method each event uses on this kernel, and what is missing.
    Probe(crate::probe::ProbeArgs),
    /// Explain why a namespace is still alive: every holder, of every kind.
    Why(crate::discovery::WhyArgs),
    /// List every namespace on the system, hidden ones included.
    Ls(crate::discovery::LsArgs),
    /// Summarise JSON Lines logs written by `nstrace trace --output`.
    Report(crate::report::ReportArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Trace(args) => crate::trace::run(&args),
        Command::Agent(args) => crate::agent::run(&args),
        Command::Probe(args) => crate::probe::run(&args),
        Command::Why(args) => crate::discovery::why(&args),
        Command::Ls(args) => crate::discovery::ls(&args),
        Command::Report(args) => crate::report::run(&args),
    }
}
