//! `roster`: the service and its command-line tools.

mod bench;
mod cli;

use clap::Parser;

/// mimalloc instead of the system allocator: a write allocates in many
/// small pieces (requests, rows, JSON), and glibc's malloc and free were
/// about a tenth of the CPU time of a write under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
