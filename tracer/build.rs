//! Builds the kernel programs (tracer-ebpf) for the bpfel target with the
//! pinned nightly, so `include_bytes_aligned!` in `loader.rs` embeds them.

use std::{env, path::PathBuf};

use anyhow::{anyhow, Context as _};

fn main() -> anyhow::Result<()> {
    // `cargo xtask setup` installs bpf-linker under target/tools/bin; put it
    // on PATH so a plain `cargo build` finds it too, without a global install.
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let tools = manifest_dir.join("../target/tools/bin");
    let path = env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![tools.clone()];
    dirs.extend(env::split_paths(&path));
    // SAFETY: build scripts are single-threaded; the variable is read by the
    // cargo child aya-build spawns.
    unsafe { env::set_var("PATH", env::join_paths(dirs)?) };
    println!(
        "cargo:rerun-if-changed={}",
        tools.join("bpf-linker").display()
    );

    let root_dir = manifest_dir.join("../tracer-ebpf");
    let root_dir = root_dir
        .to_str()
        .ok_or_else(|| anyhow!("{} is not UTF-8", root_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "tracer-ebpf",
            root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(include_str!("../nightly-toolchain").trim()),
    )
    .context(
        "building the eBPF programs failed; `cargo xtask setup` installs what they need \
         (the nightly's rust-src and bpf-linker)",
    )
}
