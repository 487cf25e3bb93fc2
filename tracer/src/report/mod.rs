//! `nstrace report`: answers the usual questions from JSON Lines logs.
//! (Being written: issue 6.)

/// Arguments of `nstrace report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {}

pub fn run(_args: &ReportArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("nstrace report: not built yet")
}
