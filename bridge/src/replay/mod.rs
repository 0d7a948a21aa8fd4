//! `eventfold replay`: fold a lesson, an NDJSON file or a Kafka topic and print it as it
//! goes.
//!
//! The replay streams: each event is read, folded and printed before the next is read,
//! and nothing grows with the log but the aggregates (and at most
//! [`MAX_ERRORS_LISTED`] rejected events for the closing list). So the first row of a
//! table is out at once whatever the input's length, `--final-only` holds only the
//! aggregates, and a topic is folded while the consumer fetches. The rows come from
//! core ([`trace::event_rows`]), the very rows the page's process table shows.
//!
//! # Layout
//!
//! - [`input`]: events from a file or stdin, read in blocks, one line at a time.
//! - [`report`]: the fold and its output (a table, JSON or NDJSON; process or record
//!   rows).
//! - [`table`]: a table printed row by row.

mod input;
mod report;
mod table;

use std::fs;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use eventfold_core::{Mode, Projection, builtin, decl, scenario};

use crate::cli::{ReplayArgs, ReplayStart, Rows};
use crate::kafka::{self, topic};

pub use report::{MAX_ERRORS_LISTED, Report, Summary};

/// Why a replay could not start. Each prints as one line and exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("unknown scenario {0:?} (expected one of: {list})", list = scenario::IDS.join(", "))]
    UnknownScenario(String),
    #[error(
        "--projection is required with --events or --topic (bank, orders, users or a SPEC.json file)"
    )]
    MissingProjection,
    #[error("cannot read events file {path}: {source}")]
    ReadEvents { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a text file of events ({why}): --events reads NDJSON, one JSON event per line"
    )]
    NotText { path: PathBuf, why: String },
    #[error(
        "unknown projection {name:?}: not one of {list}, and it cannot be read as a spec file: {source}",
        list = builtin::NAMES.join(", ")
    )]
    ReadSpec { name: String, source: io::Error },
    #[error("invalid projection spec {path}: {source}")]
    BadSpec {
        path: PathBuf,
        source: decl::SpecError,
    },
    #[error("cannot read topic {topic:?}: {source}")]
    Topic {
        topic: String,
        source: kafka::topic::TopicError,
    },
    #[error("{0} only applies to --topic")]
    TopicOnly(&'static str),
    #[error("cannot write the output: {0}")]
    Write(#[from] io::Error),
}

/// Runs `replay` and maps the outcome to an exit status: 0 folded (bad events are
/// reported, not fatal), 1 a strict replay stopped at a bad event, 2 it could not start.
pub fn main(args: ReplayArgs) -> ExitCode {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = run(&args, &mut out).and_then(|summary| {
        out.flush()?;
        Ok(summary)
    });
    match result {
        Ok(summary) if args.strict && summary.first_error.is_some() => {
            let error = summary.first_error.expect("checked above");
            eprintln!("eventfold replay: stopped at the first bad event: {error}");
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(ReplayError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(ReplayError::Topic { source, .. }) if matches!(&source, topic::TopicError::Runtime(e) if e.kind() == io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(err) => {
            // What was printed so far stays printed; the reason goes last.
            let _ = out.flush();
            eprintln!("eventfold replay: {err}");
            ExitCode::from(2)
        }
    }
}

/// Folds what `args` names and prints it to `out` as it goes; returns the summary.
pub fn run(args: &ReplayArgs, out: &mut impl Write) -> Result<Summary, ReplayError> {
    let source = &args.source;
    if source.topic.is_none() {
        let topic_only = [
            (args.follow, "--follow"),
            (args.until.is_some(), "--until"),
            (args.partitions.is_some(), "--partitions"),
            (
                args.from != ReplayStart::Wire(eventfold_core::wire::StartFrom::Beginning(true)),
                "--from",
            ),
        ];
        if let Some((_, option)) = topic_only.iter().find(|(given, _)| *given) {
            return Err(ReplayError::TopicOnly(option));
        }
    }
    let mode = if args.strict {
        Mode::Strict
    } else {
        Mode::Lenient
    };
    let projection_arg = || {
        args.projection
            .as_deref()
            .ok_or(ReplayError::MissingProjection)
            .and_then(load_projection)
    };
    let options =
        |projection: Arc<dyn Projection>, topic: String, default_rows: Rows| report::Options {
            projection,
            mode,
            topic,
            output: args.output,
            rows: args.rows.unwrap_or(default_rows),
            final_only: args.final_only,
            key: args.key.clone(),
            headers: args.headers,
            terminal_width: report::terminal_width(),
        };
    match (&source.scenario, &source.events, &source.topic) {
        (Some(id), _, _) => {
            let lesson =
                scenario::by_id(id).ok_or_else(|| ReplayError::UnknownScenario(id.clone()))?;
            // A lesson brings its projection; --projection replays it with new logic.
            let projection = match &args.projection {
                Some(name) => load_projection(name)?,
                None => lesson.projection,
            };
            let mut report = Report::start(
                options(projection, lesson.topic.to_owned(), Rows::Process),
                out,
            )?;
            for mut envelope in lesson.events {
                if report.push(&mut envelope, None)?.is_break() {
                    break;
                }
            }
            Ok(report.finish()?)
        }
        (None, Some(path), _) => {
            let projection = projection_arg()?;
            let mut events = input::Lines::open(path).map_err(|source| match source {
                input::OpenError::Io(source) => ReplayError::ReadEvents {
                    path: path.clone(),
                    source,
                },
                input::OpenError::NotText(why) => ReplayError::NotText {
                    path: path.clone(),
                    why,
                },
            })?;
            let mut envelope =
                eventfold_core::Envelope::json(&topic_name(path), 0, serde_json::Value::Null);
            let mut report = Report::start(
                options(projection, envelope.topic.clone(), Rows::Process),
                out,
            )?;
            loop {
                // A failed flush is the output's error, a failed read the file's.
                let mut write_error = None;
                let next = events.next(|| {
                    report.idle().map_err(|error| {
                        let stop = io::Error::new(error.kind(), "the output failed");
                        write_error = Some(error);
                        stop
                    })
                });
                if let Some(error) = write_error {
                    return Err(ReplayError::Write(error));
                }
                let next = next.map_err(|source| ReplayError::ReadEvents {
                    path: path.clone(),
                    source,
                })?;
                let Some((offset, line)) = next else {
                    break;
                };
                envelope.offset = offset;
                if report.push(&mut envelope, Some(line))?.is_break() {
                    break;
                }
            }
            Ok(report.finish()?)
        }
        (None, None, Some(name)) => {
            let projection = projection_arg()?;
            let mut report = Report::start(options(projection, name.clone(), Rows::Records), out)?;
            let mut until = args
                .until
                .clone()
                .map(|until| report::UntilState::new(until, args.partitions.clone()));
            let read = topic::TopicRead {
                topic: name.clone(),
                from: match &args.from {
                    ReplayStart::Wire(from) => topic::Start::Wire(from.clone()),
                    ReplayStart::Group(group) => topic::Start::Group(group.clone()),
                    ReplayStart::Tail(n) => topic::Start::Tail(*n),
                },
                partitions: args.partitions.clone(),
                follow: args.follow,
            };
            let mut write_error = None;
            let read = topic::read_topic(&args.kafka, read, |batch| {
                let flow = match batch {
                    topic::Read::Idle => report.idle().map(|()| ControlFlow::Continue(())),
                    topic::Read::Raw(records) => report.push_raw(name, records, until.as_mut()),
                    topic::Read::Records(records) => {
                        report.push_records(records.drain(..), until.as_mut())
                    }
                };
                // The writer's error is the replay's; the reader only needs to stop.
                flow.or_else(|error| {
                    write_error = Some(error);
                    Ok(ControlFlow::Break(()))
                })
            });
            if let Some(error) = write_error {
                return Err(ReplayError::Write(error));
            }
            read.map_err(|source| ReplayError::Topic {
                topic: name.clone(),
                source,
            })?;
            Ok(report.finish()?)
        }
        (None, None, None) => unreachable!("clap requires --scenario, --events or --topic"),
    }
}

/// A built-in projection by name, or a declarative spec read from a file.
pub fn load_projection(name: &str) -> Result<Arc<dyn Projection>, ReplayError> {
    if let Some(projection) = builtin::by_name(name) {
        return Ok(projection);
    }
    let path = PathBuf::from(name);
    let text = fs::read_to_string(&path).map_err(|source| ReplayError::ReadSpec {
        name: name.to_owned(),
        source,
    })?;
    let spec = decl::Spec::parse(&text).map_err(|source| ReplayError::BadSpec { path, source })?;
    Ok(Arc::new(spec))
}

/// A file's events are shown as the topic named after the file (`bank.ndjson` → `bank`).
fn topic_name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != "-")
        .unwrap_or("stdin")
        .to_owned()
}
