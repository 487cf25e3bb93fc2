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
