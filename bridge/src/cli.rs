//! The command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use eventfold_core::wire::StartFrom;

use crate::kafka::KafkaArgs;
use crate::{replay, serve};

/// eventfold: see how an event-sourced state is folded from its log, step by step.
#[derive(Debug, Parser)]
#[command(name = "eventfold", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fold a lesson or a file of events and print the process table.
    Replay(ReplayArgs),
    /// Serve the page, and relay Kafka topics to it over a WebSocket at /ws.
    Serve(serve::ServeArgs),
}

/// Where `replay` reads its events from: exactly one of a lesson, a file or a topic.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// A built-in lesson: bank, orders, users, … (a name that is not one lists them all).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// An NDJSON file, one event per line (offset = 0-based line index); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// A Kafka topic (needs --brokers), read from --from up to the high watermarks it
    /// has when the replay starts.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub source: Source,
    /// The projection: bank, orders, users, or a declarative spec file (SPEC.json).
    /// Required with --events and --topic; a lesson brings its own.
    #[arg(long, value_name = "NAME|SPEC.json")]
    pub projection: Option<String>,
    /// How to print the replay.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Stop at the first bad event and exit with status 1.
    #[arg(long)]
    pub strict: bool,
    /// Print only the final state and the errors, not the steps: a long log has five
    /// rows per event, and each row lists the topic so far.
    #[arg(long)]
    pub final_only: bool,
    /// Where --topic starts: beginning, latest, offsets:P=O[,P=O…] or timestamp:MS.
    #[arg(long, value_name = "START", default_value = "beginning")]
    pub from: StartFrom,
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The seeds' process table.
    Table,
    /// One JSON object with `steps`, `state` and `errors`.
    Json,
}

/// Runs a parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Replay(args) => replay::main(args),
        Command::Serve(args) => serve::main(args),
    }
}
