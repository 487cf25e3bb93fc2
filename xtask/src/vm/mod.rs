//! VM test runner (being written).

#[derive(clap::Args, Default)]
pub struct VmArgs {}

pub fn run(_args: &VmArgs) -> anyhow::Result<()> {
    anyhow::bail!("vm: not built yet")
}
