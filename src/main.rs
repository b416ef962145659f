//! The `storyxp` command line: parses arguments and hands over to the library.

use clap::Parser;

/// mimalloc instead of glibc's allocator: a profile of the server under load showed a
/// fifth of its CPU time in glibc malloc/free (and arena lock wake-ups); GraphQL
/// requests allocate many small, short-lived objects across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = storyxp::app::cli::Cli::parse();
    storyxp::app::telemetry::init(cli.log_format);
    match storyxp::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("storyxp: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
