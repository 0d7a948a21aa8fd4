//! `eventfold replay`: fold a lesson, an NDJSON file or a Kafka topic and print the process table.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use comfy_table::{ContentArrangement, Table, presets};
use eventfold_core::{Mode, Projection, Trace, builtin, decl, display, ndjson, scenario};
use serde_json::{Value, json};

use crate::cli::{Output, ReplayArgs};
use crate::kafka;

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
    #[error("cannot write the output: {0}")]
    Write(#[from] io::Error),
}

/// Runs `replay` and maps the outcome to an exit status: 0 folded (bad events are
/// reported, not fatal), 1 a strict replay stopped at a bad event, 2 it could not start.
pub fn main(args: ReplayArgs) -> ExitCode {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run(&args, &mut out).and_then(|trace| {
        out.flush()?;
        Ok(trace)
    });
    match result {
        Ok(trace) if args.strict && !trace.errors().is_empty() => {
            eprintln!(
                "eventfold replay: stopped at the first bad event: {}",
                trace.errors()[0]
            );
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(ReplayError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("eventfold replay: {err}");
            ExitCode::from(2)
        }
    }
}

/// Folds what `args` names and prints it to `out`; returns the trace.
pub fn run(args: &ReplayArgs, out: &mut impl Write) -> Result<Trace, ReplayError> {
    let source = &args.source;
    let (projection, topic, events) = match (&source.scenario, &source.events, &source.topic) {
        (Some(id), _, _) => {
            let lesson =
                scenario::by_id(id).ok_or_else(|| ReplayError::UnknownScenario(id.clone()))?;
            // A lesson brings its projection; --projection replays it with new logic.
            let projection = match &args.projection {
                Some(name) => load_projection(name)?,
                None => lesson.projection,
            };
            (projection, lesson.topic.to_owned(), lesson.events)
        }
        (None, Some(path), _) => {
            let name = args
                .projection
                .as_ref()
                .ok_or(ReplayError::MissingProjection)?;
            let projection = load_projection(name)?;
            let bytes = read_events(path).map_err(|source| ReplayError::ReadEvents {
                path: path.clone(),
                source,
            })?;
            let topic = topic_name(path);
            let events = ndjson::parse(&topic, &bytes);
            (projection, topic, events)
        }
        (None, None, Some(topic)) => {
            let name = args
                .projection
                .as_ref()
                .ok_or(ReplayError::MissingProjection)?;
            let projection = load_projection(name)?;
            let events = kafka::topic::read_topic(&args.kafka, topic, args.from.clone()).map_err(
                |source| ReplayError::Topic {
                    topic: topic.clone(),
                    source,
                },
            )?;
            (projection, topic.clone(), events)
        }
        (None, None, None) => unreachable!("clap requires --scenario, --events or --topic"),
    };
    let mode = if args.strict {
        Mode::Strict
    } else {
        Mode::Lenient
    };
    let trace = Trace::new(projection, mode, events);
    match args.output {
        Output::Table => write_table(&trace, &topic, !args.final_only, out)?,
        Output::Json => write_json(&trace, !args.final_only, out)?,
    }
    Ok(trace)
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

fn read_events(path: &Path) -> io::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        io::stdin().lock().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        fs::read(path)
    }
}

/// A file's events are shown as the topic named after the file (`bank.ndjson` → `bank`).
fn topic_name(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != "-")
        .unwrap_or("stdin")
        .to_owned()
}

fn write_table(trace: &Trace, topic: &str, steps: bool, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "Replay of {} event(s) on topic {topic} with projection {}",
        trace.events().len(),
        trace.projection().name()
    )?;
    if steps {
        writeln!(out, "{}", table(trace))?;
    }
    let state = trace.final_view().to_json(&**trace.projection());
    writeln!(out, "Final state: {state}")?;
    if !trace.errors().is_empty() {
        writeln!(out, "{} bad event(s):", trace.errors().len())?;
        for error in trace.errors() {
            writeln!(out, "  {error}")?;
        }
    }
    Ok(())
}

fn table(trace: &Trace) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "Step",
            "Action",
            "Event Produced",
            "Kafka Topic State",
            "State After Event",
            "Output",
        ]);
    for step in trace.steps() {
        table.add_row([
            step.step.to_string(),
            step.action.clone(),
            step.event.clone(),
            trace.topic_text(step.topic_len),
            display::js(&step.state),
            step.output_text().to_owned(),
        ]);
    }
    table
}

/// Writes the JSON report one step at a time, so a long replay is never held twice.
fn write_json(trace: &Trace, steps: bool, out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"{\"steps\":[")?;
    let rows: Box<dyn Iterator<Item = _>> = if steps {
        Box::new(trace.steps())
    } else {
        Box::new(std::iter::empty())
    };
    for (i, step) in rows.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let row = json!({
            "step": step.step,
            "phase": step.phase,
            "action": step.action,
            "event": step.event,
            "topic": trace.topic_labels(step.topic_len),
            "aggregate": step.aggregate,
            "state": step.state,
            "output": step.output,
        });
        serde_json::to_writer(&mut *out, &row)?;
    }
    out.write_all(b"],\"state\":")?;
    serde_json::to_writer(
        &mut *out,
        &trace.final_view().to_json(&**trace.projection()),
    )?;
    out.write_all(b",\"errors\":")?;
    let errors: Vec<Value> = trace
        .errors()
        .iter()
        .map(|e| json!({"partition": e.partition, "offset": e.offset, "message": e.error.to_string()}))
        .collect();
    serde_json::to_writer(&mut *out, &errors)?;
    out.write_all(b"}\n")
}
