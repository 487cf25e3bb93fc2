//! Finds every namespace on the system and everyone who holds it.
//! (Being written: issue 5.)

/// Arguments of `nstrace why`.
#[derive(clap::Args, Debug)]
pub struct WhyArgs {}

/// Arguments of `nstrace ls`.
#[derive(clap::Args, Debug)]
pub struct LsArgs {}

pub fn why(_args: &WhyArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("nstrace why: not built yet")
}

pub fn ls(_args: &LsArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("nstrace ls: not built yet")
}
