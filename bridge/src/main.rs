//! `eventfold`: a thin binary over the bridge library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = eventfold_bridge::cli::Cli::parse();
    eventfold_bridge::cli::run(cli)
}
