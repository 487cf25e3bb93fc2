//! Project tasks: `cargo xtask <command>`. Every command installs what it
//! is missing first (see `setup.rs`), so a fresh machine needs nothing else:
//! `run` only the build tools, the test commands the test tools too.

mod bench;
mod setup;
mod vm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what building and testing need: the nightly's rust-src,
    /// bpf-linker (under target/tools) and the Debian packages the tests use.
    Setup,
    /// Build nstrace and run it as root on the live kernel.
    Run {
        /// Arguments for nstrace, after `--`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run every test: unit, host integration (root) and VM.
    Test(TestArgs),
    /// Boot Debian kernels in QEMU and run the in-guest tests.
    Vm(vm::VmArgs),
    /// Run the benchmarks and print their figures.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct TestArgs {
    /// Skip the VM tests (unit and host tests only).
    #[arg(long)]
    no_vm: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Setup => setup::ensure_test_tools(),
        Command::Run { args } => {
            setup::ensure_build_tools().and_then(|_| setup::run_nstrace(&args))
        }
        Command::Test(args) => {
            setup::ensure_test_tools().and_then(|_| setup::test_all(!args.no_vm))
        }
        Command::Vm(args) => setup::ensure_test_tools().and_then(|_| vm::run(&args)),
        Command::Bench(args) if args.is_internal() => bench::run(&args),
        Command::Bench(args) => setup::ensure_test_tools().and_then(|_| bench::run(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
