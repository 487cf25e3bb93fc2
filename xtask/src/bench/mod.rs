//! Benchmarks: `cargo xtask bench [NAME]`.

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Run only this benchmark.
    pub name: Option<String>,
}

pub fn run(_args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench: not built yet")
}
