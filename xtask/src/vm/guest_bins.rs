//! Builds what runs in the guest: the tracer package's `vm_*` integration
//! tests and the nstrace binary, as static musl executables, so the
//! initramfs needs no shared libraries.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{ensure, Context as _, Result};
use cargo_metadata::{Artifact, Message, TargetKind};

use crate::setup;

pub(crate) const GUEST_TARGET: &str = "x86_64-unknown-linux-musl";

pub struct TestBinary {
    /// The test target's name (`vm_smoke`), which is also its file name in
    /// the guest.
    pub name: String,
    pub path: PathBuf,
}

pub struct GuestBinaries {
    pub tests: Vec<TestBinary>,
    pub nstrace: PathBuf,
}

/// `filters` are cargo `--test` names or globs; empty means every `vm_*`.
pub fn build(filters: &[String]) -> Result<GuestBinaries> {
    ensure_musl_target()?;
    let mut cmd = setup::cargo();
    cmd.args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .args([
        "--package",
        "tracer",
        "--features",
        "vm-tests",
        "--target",
        GUEST_TARGET,
    ]);
    if filters.is_empty() {
        cmd.args(["--test", "vm_*"]);
    }
    for filter in filters {
        cmd.args(["--test", filter]);
    }
    eprintln!("xtask: vm: building the guest binaries for {GUEST_TARGET}");
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    ensure!(out.status.success(), "{cmd:?} failed with {}", out.status);

    let mut tests = Vec::new();
    let mut nstrace = None;
    for msg in Message::parse_stream(out.stdout.as_slice()) {
        let msg = msg.with_context(|| format!("reading the JSON output of {cmd:?}"))?;
        let Message::CompilerArtifact(Artifact {
            target,
            executable: Some(exe),
            ..
        }) = msg
        else {
            continue;
        };
        let has_kind = |k: TargetKind| target.kind.contains(&k);
        if has_kind(TargetKind::Test) && target.name.starts_with("vm_") {
            tests.push(TestBinary {
                name: target.name.clone(),
                path: exe.into_std_path_buf(),
            });
        } else if has_kind(TargetKind::Bin) && target.name == "nstrace" {
            nstrace = Some(exe.into_std_path_buf());
        }
    }
    ensure!(
        !tests.is_empty(),
        "{cmd:?} built no vm_* test; the in-guest tests are tracer/tests/vm_*.rs with \
         required-features = [\"vm-tests\"]"
    );
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    let nstrace = nstrace.with_context(|| format!("{cmd:?} built no nstrace binary"))?;
    Ok(GuestBinaries { tests, nstrace })
}

/// Installs the musl standard library for the toolchain cargo uses, if it
/// is missing.
pub(crate) fn ensure_musl_target() -> Result<()> {
    let sysroot = setup::output(Command::new("rustc").args(["--print", "sysroot"]))?;
    let lib = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(GUEST_TARGET);
    if lib.is_dir() {
        return Ok(());
    }
    setup::install(
        &format!("the {GUEST_TARGET} target (static guest binaries) with rustup"),
        Command::new("rustup").args(["target", "add", GUEST_TARGET]),
    )
}
