use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tracer::cli::Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(cli.log_filter()))
        .init();
    match tracer::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("nstrace: {err:#}");
            ExitCode::from(2)
        }
    }
}
