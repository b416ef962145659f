//! The `storyxp` command line: parses arguments and hands over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = storyxp::cli::Cli::parse();
    storyxp::telemetry::init();
    match storyxp::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("storyxp: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
