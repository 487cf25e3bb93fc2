use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracer::startup::tune_allocator();
    let cli = tracer::cli::Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(cli.log_filter()))
        .init();
    match tracer::cli::run(cli) {
        Ok(code) => code,
        // A reader that went away (`nstrace ls | head`) is not an error.
        Err(err) if tracer::stdout::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line; escaped,
            // since it may quote a path or a log line.
            eprintln!("nstrace: {}", tracer::sanitize::escape(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}
