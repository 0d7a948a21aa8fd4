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
    /// How to print the replay: a table, one JSON object, or one JSON object per row
    /// (NDJSON, streamed, for jq and scripts).
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Which rows: the seeds' process table (five rows an event), or one row per record
    /// (partition:offset, key, event, state after, output). Default: process for
    /// lessons and files, records for --topic.
    #[arg(long, value_enum, value_name = "process|records")]
    pub rows: Option<Rows>,
    /// Stop at the first bad event and exit with status 1.
    #[arg(long)]
    pub strict: bool,
    /// Print only the final state and the errors, not the rows: the fold then keeps
    /// nothing but the aggregates, whatever the length of the log.
    #[arg(long)]
    pub final_only: bool,
    /// Fold and show only the aggregate with this id (the record key, or the payload
    /// field the projection takes its ids from).
    #[arg(long, value_name = "ID")]
    pub key: Option<String>,
    /// Add each record's headers to the JSON and NDJSON rows.
    #[arg(long)]
    pub headers: bool,
    /// Where --topic starts: beginning, latest, offsets:P=O[,P=O…], timestamp:MS,
    /// group:NAME (a consumer group's committed offsets, read only; partitions it
    /// committed nothing to from their beginning) or tail:N (the last N records of each
    /// partition).
    #[arg(long, value_name = "START", default_value = "beginning")]
    pub from: ReplayStart,
    /// Where --topic stops, besides the high watermarks it has when the replay starts
    /// (or instead of them with --follow): offsets:P=O[,P=O…] (before offset O of
    /// partition P), timestamp:MS (before the first record at or after MS) or count:N
    /// (after N records).
    #[arg(long, value_name = "END")]
    pub until: Option<Until>,
    /// Only these partitions of --topic, e.g. 0,2.
    #[arg(long, value_name = "P[,P…]", value_delimiter = ',')]
    pub partitions: Option<Vec<i32>>,
    /// Keep folding records as they arrive after the high watermark; Ctrl-C (or
    /// SIGTERM) prints the final state and exits 0.
    #[arg(long)]
    pub follow: bool,
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table: the seeds' process table, or one row per record.
    Table,
    /// One JSON object with `steps`, `state`, counts and `errors`.
    Json,
    /// One JSON object per row, then one for the end (`"phase": "end"`).
    Ndjson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Rows {
    /// Five rows an event: command, produce, consume, apply, print (seed 001).
    Process,
    /// One row per record.
    Records,
}

/// Where `replay --topic` starts: what the protocol's `from` says, or a start only the
/// terminal has (it needs a lookup before the subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayStart {
    Wire(StartFrom),
    /// The committed offsets of a consumer group (read, never joined).
    Group(String),
    /// The last N records of each partition.
    Tail(i64),
}

impl std::str::FromStr for ReplayStart {
    type Err = String;

    fn from_str(text: &str) -> Result<ReplayStart, String> {
        match text.split_once(':') {
            Some(("group", "")) => Err("group: needs a consumer group's name (group:NAME)".into()),
            Some(("group", name)) => Ok(ReplayStart::Group(name.to_owned())),
            Some(("tail", n)) => match n.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(ReplayStart::Tail(n)),
                _ => Err(format!(
                    "tail:{n}: expected tail:N with N a whole number ≥ 0"
                )),
            },
            _ => text
                .parse::<StartFrom>()
                .map(ReplayStart::Wire)
                .map_err(|e| {
                    format!(
                        "{}: expected beginning, latest, offsets:P=O[,P=O…], timestamp:MS, \
                         group:NAME or tail:N",
                        e.reason
                    )
                }),
        }
    }
}

/// Where `replay --topic` stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// Per partition, the first offset not read.
    Offsets(std::collections::BTreeMap<i32, i64>),
    /// The first timestamp not read (milliseconds since the epoch).
    Timestamp(i64),
    /// Records in all.
    Count(u64),
}

impl std::str::FromStr for Until {
    type Err = String;

    fn from_str(text: &str) -> Result<Until, String> {
        let bad = |why: &str| format!("{text:?}: {why}");
        match text.split_once(':') {
            Some(("count", n)) => n
                .parse()
                .map(Until::Count)
                .map_err(|_| bad("expected count:N, N a whole number")),
            Some(("timestamp", ms)) => ms
                .parse()
                .map(Until::Timestamp)
                .map_err(|_| bad("expected timestamp:MS, milliseconds since the epoch")),
            Some(("offsets", _)) => match text.parse::<StartFrom>() {
                Ok(StartFrom::Offsets(offsets)) => Ok(Until::Offsets(offsets)),
                Ok(_) => Err(bad("expected offsets:P=O[,P=O…]")),
                Err(e) => Err(e.to_string()),
            },
            _ => Err(bad("expected offsets:P=O[,P=O…], timestamp:MS or count:N")),
        }
    }
}

/// Runs a parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Replay(args) => replay::main(args),
        Command::Serve(args) => serve::main(args),
    }
}
