//! Installs what building, running and testing nstrace need, each only if it
//! is missing, and says what it installs. Idempotent and quick when nothing
//! is missing: every check is a file test or one short command.
//!
//! Two sets: `cargo xtask run` needs only the build tools (the nightly's
//! rust-src, bpf-linker); the test, VM and bench commands add the Debian
//! packages the tests use. Installers never write to standard output, which
//! belongs to nstrace: each install is one line on stderr, and the
//! installer's whole output is shown only when it fails.
//!
//! Toolchain choice: the machine's stable rustc (1.95) builds the daemon;
//! the eBPF crate needs a nightly for `-Z build-std=core`, and we pin the
//! machine's `nightly` (1.97, LLVM 22) because bpf-linker must be built
//! against the same LLVM major as the rustc that emits the bitcode, and that
//! nightly ships its own libLLVM: no LLVM download is needed. aya is pinned to
//! 0.14 because 0.16 needs rustc 1.98, which every fresh machine would have to
//! download.

use std::{
    env,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, ensure, Context as _, Result};

/// LLVM major version of the pinned nightly, and so of bpf-linker.
const LLVM_MAJOR: &str = "22";
/// bpf-linker release built against it.
const BPF_LINKER_VERSION: &str = "0.13.0";
/// Debian packages the tests use (the bench adds its own).
pub const TEST_PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("bpftrace", "bpftrace"),
    ("lsns", "util-linux"),
    ("ip", "iproute2"),
    ("busybox", "busybox-static"),
    // The agent's metrics are checked by promtool and scraped by a real
    // Prometheus server.
    ("promtool", "prometheus"),
];
/// Container runtimes the host tests start containers with
/// (tracer/tests/containers_host.rs); `cargo xtask test` only.
/// systemd-container upgrades systemd when installed.
pub const RUNTIME_PACKAGES: &[(&str, &str)] = &[
    ("podman", "podman"),
    ("crun", "crun"),
    ("runc", "runc"),
    ("dockerd", "docker.io"),
    ("bwrap", "bubblewrap"),
    ("systemd-nspawn", "systemd-container"),
];

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

/// target/tools: bpf-linker and the libLLVM link it is built against.
pub fn tools_dir() -> PathBuf {
    workspace_root().join("target/tools")
}

/// The pinned nightly's name, from the file tracer/build.rs reads too.
pub fn nightly() -> Result<String> {
    let path = workspace_root().join("nightly-toolchain");
    let s = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(s.trim().to_string())
}

/// Runs `cmd`, failing with the whole command line and its stderr.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed with {status}");
    Ok(())
}

/// Runs an installer with its output captured: one line on stderr says what
/// is being installed, and the installer's own output is printed (on stderr)
/// only if it fails, so a first run does not bury nstrace's output.
pub fn install(what: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: installing {what}");
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    if !out.status.success() {
        eprintln!("xtask: {cmd:?} failed; its output:");
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        bail!("installing {what}: {cmd:?} failed with {}", out.status);
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed with {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// PATH with target/tools/bin first, for every cargo we start.
pub fn path_with_tools() -> OsString {
    let mut dirs = vec![tools_dir().join("bin")];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).expect("PATH entries contain no separator")
}

/// What building and running nstrace needs (`cargo xtask run`).
pub fn ensure_build_tools() -> Result<()> {
    ensure_rust_src()?;
    ensure_bpf_linker()
}

/// What the tests need besides: the build tools and the Debian packages.
pub fn ensure_test_tools() -> Result<()> {
    ensure_build_tools()?;
    ensure_apt_packages(TEST_PACKAGES)
}

fn ensure_rust_src() -> Result<()> {
    let nightly = nightly()?;
    let sysroot = output(Command::new("rustc").arg(format!("+{nightly}")).args(["--print", "sysroot"]))
        .with_context(|| {
            format!("the {nightly} toolchain is missing; install it with `rustup toolchain install {nightly}`")
        })?;
    let src = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/core");
    if src.is_dir() {
        return Ok(());
    }
    install(
        &format!("rust-src for {nightly} (the eBPF build compiles core from source)"),
        Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", &nightly]),
    )
}

fn ensure_bpf_linker() -> Result<()> {
    let tools = tools_dir();
    let linker = tools.join("bin/bpf-linker");
    if linker.is_file()
        && output(Command::new(&linker).arg("--version"))
            .map(|v| v.contains(BPF_LINKER_VERSION))
            .unwrap_or(false)
    {
        return Ok(());
    }
    let nightly = nightly()?;
    let sysroot = output(
        Command::new("rustc")
            .arg(format!("+{nightly}"))
            .args(["--print", "sysroot"]),
    )?;
    let libdir = Path::new(sysroot.trim()).join("lib");
    let prefix = format!("libLLVM.so.{LLVM_MAJOR}.");
    let lib = fs::read_dir(&libdir)
        .with_context(|| format!("reading {}", libdir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        });
    let Some(lib) = lib else {
        bail!(
            "{} has no {prefix}* : bpf-linker {BPF_LINKER_VERSION} needs LLVM {LLVM_MAJOR}, \
             the LLVM of the pinned nightly ({nightly}); a different nightly needs a \
             different bpf-linker feature",
            libdir.display()
        );
    };
    let llvm = tools.join("llvm");
    fs::create_dir_all(llvm.join("lib"))?;
    // bpf-linker's build looks for libLLVM.so; the binary it makes asks the
    // loader for the library's soname (its file name) through an rpath to
    // this directory. Both names point at the nightly's own libLLVM.
    let soname = lib.file_name().expect("found by file name").to_owned();
    for name in [std::ffi::OsStr::new("libLLVM.so"), soname.as_os_str()] {
        let link = llvm.join("lib").join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&lib, &link)
            .with_context(|| format!("linking {} to {}", link.display(), lib.display()))?;
    }
    install(
        &format!(
            "bpf-linker {BPF_LINKER_VERSION} into {} against {} (about a minute)",
            tools.display(),
            lib.display()
        ),
        Command::new("cargo")
            .args(["install", "--force", "--locked", "--root"])
            .arg(&tools)
            .args([
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--no-default-features",
                "--features",
                &format!("llvm-{LLVM_MAJOR}"),
            ])
            .env("LLVM_PREFIX", &llvm),
    )
}

/// Installs the Debian packages whose command is missing.
pub fn ensure_apt_packages(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(cmd, _)| !on_path(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    install(
        "the Debian package lists (apt-get update)",
        Command::new("apt-get").arg("update").arg("-qq"),
    )?;
    // One line per package, then one apt-get for all: apt resolves them
    // together faster than one by one.
    for pkg in &missing[1..] {
        eprintln!("xtask: installing the Debian package {pkg}");
    }
    install(
        &format!("the Debian package {}", missing[0]),
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn on_path(cmd: &str) -> bool {
    env::split_paths(&env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .any(|d| d.join(cmd).is_file())
}

/// A cargo command with target/tools on PATH.
pub fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root())
        .env("PATH", path_with_tools());
    cmd
}

/// Builds nstrace (release) and returns the binary's path. Quietly:
/// tracer's build script replays the eBPF build's whole log as warnings on
/// every build, fresh or not; compile errors still show.
pub fn build_nstrace() -> Result<PathBuf> {
    eprintln!("xtask: building nstrace (release; the first build takes a few minutes)");
    run(cargo().args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "tracer",
        "--bin",
        "nstrace",
    ]))?;
    Ok(workspace_root().join("target/release/nstrace"))
}

/// `cargo xtask run -- ARGS`: nstrace as root on the live kernel.
pub fn run_nstrace(args: &[String]) -> Result<()> {
    let bin = build_nstrace()?;
    let mut cmd = if is_root() {
        Command::new(&bin)
    } else {
        eprintln!("xtask: nstrace needs root; running it with sudo");
        let mut c = Command::new("sudo");
        c.arg(&bin);
        c
    };
    let status = cmd
        .args(args)
        .status()
        .with_context(|| format!("failed to run {cmd:?}"))?;
    ensure!(status.success(), "nstrace exited with {status}");
    Ok(())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `cargo xtask test`: unit and host tests, then (unless `vm` is false) the
/// VM tests on every kernel.
pub fn test_all(vm: bool) -> Result<()> {
    ensure!(
        is_root(),
        "the host tests load eBPF programs and make namespaces: run `cargo xtask test` as root"
    );
    ensure_apt_packages(RUNTIME_PACKAGES)?;
    // The default members: the eBPF crate only builds for its own target.
    // One test thread: the host tests share one kernel and its tracepoints.
    // --no-fail-fast: one failing test binary must not hide the others.
    // NSTRACE_REQUIRE_ROOT_TESTS: a test that needs root fails rather than
    // skips (tracer/tests/support: root_or_skip), so a privilege problem
    // here cannot pass as a skip.
    run(cargo()
        .args(["test", "--no-fail-fast", "--", "--test-threads=1"])
        .env("NSTRACE_REQUIRE_ROOT_TESTS", "1"))
    .context("unit and host tests failed")?;
    if vm {
        // Each guest is one TCG thread (tcg,thread=single), so one VM per
        // host CPU runs in parallel without starving another: on CI's
        // two CPUs this halves the longest part of the run.
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let args = crate::vm::VmArgs {
            jobs: Some(jobs),
            ..Default::default()
        };
        crate::vm::run(&args).context("VM tests failed")?;
    }
    Ok(())
}
