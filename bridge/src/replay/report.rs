//! The fold of a replay and what it prints, one event at a time.
//!
//! A [`Report`] folds each event as it is pushed and writes its rows at once: a table
//! ([`StreamTable`]), one JSON object whose `steps` are written as they come, or NDJSON.
//! With `--final-only` it writes no rows and takes the projection's text fast path
//! ([`Folder::push_text`]). It keeps the aggregates, the window of topic labels the
//! Kafka Topic State column needs ([`TopicWindow`]) and the first
//! [`MAX_ERRORS_LISTED`] rejected events; nothing else grows with the log.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::sync::Arc;

use base64::Engine;
use eventfold_core::display::{self, TopicWindow};
use eventfold_core::fold::FoldError;
use eventfold_core::trace::{self, STEPS_PER_EVENT, Step};
use eventfold_core::wire::Record;
use eventfold_core::{
    AggregateId, Envelope, Folder, Key, Mode, Outcome, Payload, Projection, aggregate_json,
    aggregate_name,
};
use serde_json::{Map, Value, json};

use super::table::StreamTable;
use crate::backend::RawRecord;
use crate::cli::{Output, Rows, Until};

/// Rejected events listed at the end of a replay (and in the JSON report's `errors`);
/// past them they are counted (`errors_omitted`). Every one still has its error row.
pub const MAX_ERRORS_LISTED: usize = 1000;

/// What the replay is and how to print it.
pub struct Options {
    pub projection: Arc<dyn Projection>,
    pub mode: Mode,
    /// The topic the events are shown on.
    pub topic: String,
    pub output: Output,
    pub rows: Rows,
    pub final_only: bool,
    /// Only this aggregate.
    pub key: Option<String>,
    /// Headers in the JSON rows.
    pub headers: bool,
    /// The terminal's width, when stdout is one: the table fits it.
    pub terminal_width: Option<usize>,
}

/// How a replay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Events folded (those of `--key`'s aggregate only, with `--key`).
    pub events: u64,
    pub applied: u64,
    pub rejected: u64,
    pub first_error: Option<FoldError>,
}

/// A replay being folded and printed.
pub struct Report<'w, W: Write> {
    options: Options,
    out: &'w mut W,
    folder: Folder,
    topic: TopicWindow,
    table: Option<StreamTable>,
    /// Rows written to the JSON report's `steps` (for its commas).
    json_rows: u64,
    events: u64,
    applied: u64,
    rejected: u64,
    errors: Vec<FoldError>,
}

impl<'w, W: Write> Report<'w, W> {
    /// Writes what comes before the first row.
    pub fn start(options: Options, out: &'w mut W) -> io::Result<Report<'w, W>> {
        let folder = Folder::new(options.projection.clone(), options.mode);
        let mut table = None;
        match options.output {
            Output::Table => {
                writeln!(
                    out,
                    "Replay of topic {} with projection {}",
                    options.topic,
                    options.projection.name()
                )?;
                if !options.final_only {
                    let header: &[&str] = match options.rows {
                        Rows::Process => &[
                            "Step",
                            "Action",
                            "Event Produced",
                            "Kafka Topic State",
                            "State After Event",
                            "Output",
                        ],
                        Rows::Records => &[
                            "Partition:Offset",
                            "Key",
                            "Event",
                            "State After Event",
                            "Output",
                        ],
                    };
                    table = Some(StreamTable::new(header, options.terminal_width));
                }
            }
            Output::Json => out.write_all(b"{\"steps\":[")?,
            Output::Ndjson => {}
        }
        Ok(Report {
            options,
            out,
            folder,
            topic: TopicWindow::default(),
            table,
            json_rows: 0,
            events: 0,
            applied: 0,
            rejected: 0,
            errors: Vec::new(),
        })
    }

    /// Folds one event and prints its rows. With `text`, the event's value is that JSON
    /// text and `envelope.value` is set from it when needed; without, `envelope.value`
    /// is the event's. `Break` once a strict fold met its first bad event.
    pub fn push(
        &mut self,
        envelope: &mut Envelope,
        text: Option<&[u8]>,
    ) -> io::Result<ControlFlow<()>> {
        if let Some(key) = &self.options.key {
            let projection = &*self.options.projection;
            let id = match projection.aggregate_without_payload(envelope) {
                Some(id) => id,
                None => {
                    if let Some(text) = text {
                        envelope.value = Payload::decode(Some(text));
                    }
                    aggregate_of(projection, envelope)
                }
            };
            if !names(&id, key) {
                return Ok(ControlFlow::Continue(()));
            }
        }
        let index = self.events;
        self.events += 1;
        let outcome = if self.options.final_only {
            match text {
                Some(text) => self.folder.push_text(envelope, text),
                None => self.folder.push(envelope),
            }
        } else {
            // Not per event of a final-only fold: an atomic count costs there.
            let projection = self.options.projection.clone();
            if let Some(text) = text {
                envelope.value = Payload::decode(Some(text));
            }
            let stepped = self.folder.step(envelope);
            let outcome = stepped.outcome.clone();
            match self.options.rows {
                Rows::Process => {
                    self.topic.push(projection.label(envelope));
                    let rows = trace::event_rows(&*projection, index as usize, envelope, stepped);
                    for row in &rows {
                        self.process_row(row, Some(envelope))?;
                    }
                }
                Rows::Records => {
                    let output = trace::record_output(
                        &*projection,
                        envelope,
                        &stepped.outcome,
                        &stepped.after,
                    );
                    self.record_row(envelope, &stepped.outcome, &stepped.after, output)?;
                }
            }
            outcome
        };
        Ok(self.count(outcome))
    }

    /// Folds a batch of records from a topic as Kafka holds them, stopping where
    /// `until` says: each value goes to the fold as its text.
    pub fn push_raw(
        &mut self,
        topic: &str,
        records: &mut Vec<RawRecord>,
        mut until: Option<&mut UntilState>,
    ) -> io::Result<ControlFlow<()>> {
        let mut envelope = Envelope::json(topic, 0, Value::Null);
        for record in records.drain(..) {
            if let Some(until) = until.as_deref_mut() {
                match until.admit(record.partition, record.offset, record.timestamp) {
                    Admit::Yes => {}
                    Admit::Skip => continue,
                    Admit::Done => return Ok(ControlFlow::Break(())),
                }
            }
            envelope.partition = record.partition;
            envelope.offset = record.offset;
            envelope.key = record.key;
            envelope.timestamp = record.timestamp;
            envelope.headers = record.headers;
            let flow = match &record.value {
                Some(text) => self.push(&mut envelope, Some(text))?,
                None => {
                    envelope.value = Payload::Tombstone;
                    self.push(&mut envelope, None)?
                }
            };
            if flow.is_break() || until.as_deref().is_some_and(UntilState::done) {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Folds a batch of records from a topic, stopping where `until` says.
    pub fn push_records(
        &mut self,
        records: impl Iterator<Item = Record>,
        mut until: Option<&mut UntilState>,
    ) -> io::Result<ControlFlow<()>> {
        for record in records {
            if let Some(until) = until.as_deref_mut() {
                match until.admit(record.partition, record.offset, record.timestamp) {
                    Admit::Yes => {}
                    Admit::Skip => continue,
                    Admit::Done => return Ok(ControlFlow::Break(())),
                }
            }
            let mut envelope = match record.to_envelope() {
                Ok(envelope) => envelope,
                Err(error) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("a record from the bridge's consumer cannot be read: {error}"),
                    ));
                }
            };
            if self.push(&mut envelope, None)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
            if until.as_deref().is_some_and(UntilState::done) {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The input paused: prints what the table holds back and flushes.
    pub fn idle(&mut self) -> io::Result<()> {
        if let Some(table) = &mut self.table {
            table.flush(self.out)?;
        }
        self.out.flush()
    }

    fn count(&mut self, outcome: Outcome) -> ControlFlow<()> {
        match outcome {
            Outcome::Applied(_) => self.applied += 1,
            Outcome::Failed(_, error) => {
                self.rejected += 1;
                if self.errors.len() < MAX_ERRORS_LISTED {
                    self.errors.push(error);
                }
                if self.options.mode == Mode::Strict {
                    return ControlFlow::Break(());
                }
            }
            Outcome::Skipped => {}
        }
        ControlFlow::Continue(())
    }

    fn process_row(&mut self, row: &Step, envelope: Option<&Envelope>) -> io::Result<()> {
        match self.options.output {
            Output::Table => {
                let cells = vec![
                    row.step.to_string(),
                    row.action.clone(),
                    row.event.clone(),
                    self.topic.text(row.topic_len),
                    display::js(&row.state),
                    row.output_text().to_owned(),
                ];
                let table = self.table.as_mut().expect("a table report has a table");
                table.row(cells, self.out)
            }
            Output::Json | Output::Ndjson => {
                let mut object = Map::new();
                object.insert("step".into(), json!(row.step));
                object.insert("phase".into(), json!(row.phase));
                object.insert("action".into(), json!(row.action));
                object.insert("event".into(), json!(row.event));
                object.insert("topic".into(), self.topic.json(row.topic_len));
                object.insert("aggregate".into(), aggregate_json(&row.aggregate));
                object.insert("state".into(), row.state.clone());
                object.insert("output".into(), json!(row.output));
                if let Some(envelope) = envelope {
                    object.insert(
                        "error".into(),
                        json!(row.error.as_ref().map(|e| e.error.to_string())),
                    );
                    record_fields(&mut object, envelope, self.options.headers);
                }
                self.json_row(Value::Object(object))
            }
        }
    }

    fn record_row(
        &mut self,
        envelope: &Envelope,
        outcome: &Outcome,
        after: &Value,
        output: String,
    ) -> io::Result<()> {
        let projection = self.options.projection.clone();
        let label = projection.label(envelope);
        match self.options.output {
            Output::Table => {
                let cells = vec![
                    format!("{}:{}", envelope.partition, envelope.offset),
                    key_cell(envelope),
                    label,
                    display::js(after),
                    output,
                ];
                let table = self.table.as_mut().expect("a table report has a table");
                table.row(cells, self.out)
            }
            Output::Json | Output::Ndjson => {
                let mut object = Map::new();
                record_fields(&mut object, envelope, self.options.headers);
                object.insert("event".into(), json!(label));
                object.insert(
                    "aggregate".into(),
                    aggregate_json(outcome.aggregate().unwrap_or(&None)),
                );
                object.insert("state".into(), after.clone());
                object.insert("output".into(), json!(output));
                object.insert(
                    "error".into(),
                    json!(outcome.error().map(|e| e.error.to_string())),
                );
                self.json_row(Value::Object(object))
            }
        }
    }

    fn json_row(&mut self, row: Value) -> io::Result<()> {
        if self.options.output == Output::Json && self.json_rows > 0 {
            self.out.write_all(b",")?;
        }
        self.json_rows += 1;
        serde_json::to_writer(&mut *self.out, &row)?;
        if self.options.output == Output::Ndjson {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Writes the end: the last row, the final state, the counts and the errors.
    pub fn finish(mut self) -> io::Result<Summary> {
        let projection = self.options.projection.clone();
        let state = self.folder.view().to_json(&*projection);
        let halted_by = self
            .errors
            .first()
            .filter(|_| self.folder.halted())
            .cloned();
        if !self.options.final_only && self.options.rows == Rows::Process {
            let end = trace::end_row(
                self.events * STEPS_PER_EVENT + 1,
                self.events as usize,
                halted_by.as_ref(),
                state.clone(),
            );
            if self.options.output == Output::Table {
                self.process_row(&end, None)?;
            } else if self.options.output == Output::Json {
                let mut object = Map::new();
                object.insert("step".into(), json!(end.step));
                object.insert("phase".into(), json!(end.phase));
                object.insert("action".into(), json!(end.action));
                object.insert("event".into(), json!(end.event));
                object.insert("topic".into(), self.topic.json(end.topic_len));
                object.insert("aggregate".into(), Value::Null);
                object.insert("state".into(), end.state.clone());
                object.insert("output".into(), json!(end.output));
                self.json_row(Value::Object(object))?;
            } else {
                // NDJSON ends with one end object, below, that carries this row too.
                self.ndjson_end(Some(&end), &state)?;
            }
        }
        if let Some(table) = self.table.take() {
            table.finish(self.out)?;
        }
        let omitted = self.rejected - self.errors.len() as u64;
        match self.options.output {
            Output::Table => {
                writeln!(self.out, "{}", self.counts_line())?;
                writeln!(self.out, "Final state: {state}")?;
                if !self.errors.is_empty() {
                    writeln!(self.out, "{} bad event(s):", self.rejected)?;
                    for error in &self.errors {
                        writeln!(self.out, "  {error}")?;
                    }
                    if omitted > 0 {
                        writeln!(
                            self.out,
                            "  … and {omitted} more (the first {MAX_ERRORS_LISTED} are listed)"
                        )?;
                    }
                }
            }
            Output::Json => {
                self.out.write_all(b"],\"state\":")?;
                serde_json::to_writer(&mut *self.out, &state)?;
                let errors: Vec<Value> = self.errors.iter().map(error_json).collect();
                let tail = json!({
                    "aggregates": aggregates_json(self.folder.view()),
                    "events": self.events,
                    "applied": self.applied,
                    "rejected": self.rejected,
                    "errors": errors,
                    "errors_omitted": omitted,
                });
                // The object's other members, after `state`.
                let tail = serde_json::to_string(&tail)?;
                self.out.write_all(b",")?;
                self.out.write_all(&tail.as_bytes()[1..])?;
                self.out.write_all(b"\n")?;
            }
            Output::Ndjson => {
                if self.options.final_only || self.options.rows == Rows::Records {
                    self.ndjson_end(None, &state)?;
                }
            }
        }
        Ok(Summary {
            events: self.events,
            applied: self.applied,
            rejected: self.rejected,
            first_error: self.errors.first().cloned(),
        })
    }

    /// The NDJSON end object: `"phase": "end"`, the last process row's fields when there
    /// is one, the final state, the aggregates and the counts.
    fn ndjson_end(&mut self, end: Option<&Step>, state: &Value) -> io::Result<()> {
        let mut object = Map::new();
        object.insert("phase".into(), json!("end"));
        if let Some(end) = end {
            object.insert("step".into(), json!(end.step));
            object.insert("action".into(), json!(end.action));
            object.insert("event".into(), json!(end.event));
            object.insert("topic".into(), self.topic.json(end.topic_len));
            object.insert("output".into(), json!(end.output));
        }
        object.insert("state".into(), state.clone());
        object.insert("aggregates".into(), aggregates_json(self.folder.view()));
        object.insert("events".into(), json!(self.events));
        object.insert("applied".into(), json!(self.applied));
        object.insert("rejected".into(), json!(self.rejected));
        serde_json::to_writer(&mut *self.out, &Value::Object(object))?;
        self.out.write_all(b"\n")
    }

    /// "3 event(s): 3 applied, 0 rejected", and when nothing was applied, why.
    fn counts_line(&self) -> String {
        let mut line = format!(
            "{} event(s): {} applied, {} rejected",
            self.events, self.applied, self.rejected
        );
        if self.applied == 0 && self.rejected > 0 {
            let first = self.errors.first().map(ToString::to_string);
            line.push_str(&format!(
                ". Nothing was applied: projection {} refused every event{}",
                self.options.projection.name(),
                first
                    .map(|e| format!(" (the first: {e})"))
                    .unwrap_or_default()
            ));
        }
        line
    }
}

/// The aggregate an event belongs to, as the fold would name it.
fn aggregate_of(projection: &dyn Projection, envelope: &Envelope) -> AggregateId {
    if envelope.value == Payload::Tombstone {
        return envelope.aggregate_key();
    }
    projection.aggregate_id(envelope).unwrap_or(None)
}

/// Whether `--key NAME` names aggregate `id`: a text key of exactly that text, or a
/// key that is not UTF-8 written as its `0x…` hex.
fn names(id: &AggregateId, name: &str) -> bool {
    match id {
        Some(Key::Text(text)) => text == name,
        Some(key @ Key::Bytes(_)) => key.to_string() == name,
        None => false,
    }
}

/// Every aggregate exactly, as a list: the `state` object names the keyless one
/// `(no key)`, which a real key could also be.
fn aggregates_json(view: &eventfold_core::View) -> Value {
    Value::Array(
        view.iter()
            .map(|(id, state)| json!({"aggregate": aggregate_json(id), "state": state}))
            .collect(),
    )
}

fn error_json(error: &FoldError) -> Value {
    json!({"partition": error.partition, "offset": error.offset, "message": error.error.to_string()})
}

/// A header value in a JSON row: UTF-8 text as a string, other bytes as `{"base64": …}`
/// (as the WebSocket protocol writes bytes), `null` for none.
fn bytes_json(bytes: Option<&[u8]>) -> Value {
    match bytes {
        None => Value::Null,
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => json!(text),
            Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(bytes)}),
        },
    }
}

/// The record's coordinates in a JSON row.
fn record_fields(object: &mut Map<String, Value>, envelope: &Envelope, headers: bool) {
    object.insert("partition".into(), json!(envelope.partition));
    object.insert("offset".into(), json!(envelope.offset));
    // As the aggregate names it: text, or `{"bytes_hex": …}` for bytes that are not UTF-8.
    object.insert("key".into(), aggregate_json(&envelope.aggregate_key()));
    object.insert("timestamp".into(), json!(envelope.timestamp));
    if headers {
        let list: Vec<Value> = envelope
            .headers
            .iter()
            .map(|h| json!({"name": h.name, "value": bytes_json(h.value.as_deref())}))
            .collect();
        object.insert("headers".into(), Value::Array(list));
    }
}

/// The Key column of a record row.
fn key_cell(envelope: &Envelope) -> String {
    aggregate_name(&envelope.aggregate_key()).into_owned()
}

/// The width of the terminal stdout is, if it is one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return None;
    }
    let mut table = comfy_table::Table::new();
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    table.width().map(usize::from)
}

/// Where `--until` stands, per partition.
pub struct UntilState {
    until: Until,
    /// The partitions read, when `--partitions` names them.
    partitions: Option<Vec<i32>>,
    /// Partitions past their end (offsets and timestamps).
    finished: BTreeMap<i32, bool>,
    seen: u64,
}

/// What `--until` says of a record.
pub enum Admit {
    Yes,
    /// Past its partition's end; others may go on.
    Skip,
    /// Past the end of the whole replay.
    Done,
}

impl UntilState {
    pub fn new(until: Until, partitions: Option<Vec<i32>>) -> UntilState {
        UntilState {
            until,
            partitions,
            finished: BTreeMap::new(),
            seen: 0,
        }
    }

    fn admit(&mut self, partition: i32, offset: i64, timestamp: i64) -> Admit {
        let past = match &self.until {
            Until::Count(n) => {
                if self.seen >= *n {
                    return Admit::Done;
                }
                self.seen += 1;
                false
            }
            Until::Offsets(ends) => match ends.get(&partition) {
                Some(end) if offset >= *end => true,
                Some(end) => {
                    // The partition's last record before its end: nothing more from it.
                    if offset + 1 >= *end {
                        self.finished.insert(partition, true);
                    }
                    false
                }
                None => false,
            },
            Until::Timestamp(ms) => {
                self.finished.get(&partition).copied().unwrap_or(false) || timestamp >= *ms
            }
        };
        if past {
            self.finished.insert(partition, true);
            return Admit::Skip;
        }
        Admit::Yes
    }

    /// True once nothing more can be admitted: the count is reached, or every
    /// partition read is past its end (known only when `--partitions` names them;
    /// otherwise the partitions `offsets:` leaves out, or a timestamp's, are read to
    /// the high watermark).
    fn done(&self) -> bool {
        let finished = |p: &i32| self.finished.get(p).copied().unwrap_or(false);
        match (&self.until, &self.partitions) {
            (Until::Count(n), _) => self.seen >= *n,
            (Until::Offsets(ends), Some(read)) => {
                read.iter().all(|p| ends.contains_key(p) && finished(p))
            }
            (Until::Timestamp(_), Some(read)) => read.iter().all(finished),
            (_, None) => false,
        }
    }
}
