//! Everything the page shows of one step besides its process-table row: the process
//! flow stage it lights, the key moment it explains, the topic as a log of offsets
//! with the consumer's position, seed 001's status tracker, and the state with what
//! changed marked. The page renders a [`Frame`]; it decides nothing itself.
//!
//! Also the page's address (`#scenario=bank&step=5`, see [`Link`]) and the log as the
//! event editor's NDJSON text ([`ndjson_text`], [`parse_editor`]).

use serde_json::Value;

use crate::diff::{self, Change, Line};
use crate::display;
use crate::envelope::{Envelope, Key, Payload, bytes_as_text};
use crate::fold::FoldError;
use crate::projection::ApplyError;
use crate::trace::{Phase, Step, Trace};

/// The boxes of the process flow diagram (seed 001's "Process Flow"), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A command arrives.
    Command,
    /// The command becomes an event.
    Event,
    /// The producer appends the event to the topic.
    Append,
    /// The topic keeps the event at its offset.
    Stored,
    /// The consumer reads events back in order.
    Replay,
    /// Applying the event gives the new state.
    State,
}

impl Stage {
    /// Every stage, in the diagram's order.
    pub const ALL: [Stage; 6] = [
        Stage::Command,
        Stage::Event,
        Stage::Append,
        Stage::Stored,
        Stage::Replay,
        Stage::State,
    ];

    /// The diagram's caption for the stage.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Command => "Command",
            Stage::Event => "Event",
            Stage::Append => "Append to topic",
            Stage::Stored => "Stored",
            Stage::Replay => "Replay",
            Stage::State => "State",
        }
    }
}

/// One of seed 001's "Key Moments": a question a learner asks and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMoment {
    pub question: &'static str,
    pub answer: &'static str,
}

/// Seed 001's three key moments, worded for the page (which calls its execution
/// table the process table and its variable tracker the status tracker).
pub const KEY_MOMENTS: [KeyMoment; 3] = [
    KeyMoment {
        question: "Why do we store events instead of just the final state?",
        answer: "Because every change is appended to the Kafka topic as an event and the state \
                 is rebuilt by applying each event in turn, the topic holds the whole history: \
                 we can see every change and rebuild the state at any time.",
    },
    KeyMoment {
        question: "How does the state get updated after producing an event?",
        answer: "The consumer reads the event back from the topic and applies it to the state, \
                 so the state moves forward one event at a time.",
    },
    KeyMoment {
        question: "What happens if the consumer crashes and restarts?",
        answer: "It replays every event on the topic from the first offset (the full list in \
                 the status tracker) and rebuilds exactly the same state as before.",
    },
];

impl Phase {
    /// The process-flow stages a row of this phase lights: receiving a command creates
    /// the event, producing it appends and stores it, consuming it is the replay, and
    /// applying or printing it is the state.
    pub fn stages(self) -> &'static [Stage] {
        match self {
            Phase::Command => &[Stage::Command, Stage::Event],
            Phase::Produce => &[Stage::Append, Stage::Stored],
            Phase::Consume => &[Stage::Replay],
            Phase::Apply | Phase::Print | Phase::End => &[Stage::State],
        }
    }

    /// The key moment that explains a row of this phase: why events are stored
    /// while one is produced, how the state follows while one is consumed, and what a
    /// restart does once the log is replayed to its end.
    pub fn key_moment(self) -> KeyMoment {
        match self {
            Phase::Command | Phase::Produce => KEY_MOMENTS[0],
            Phase::Consume | Phase::Apply | Phase::Print => KEY_MOMENTS[1],
            Phase::End => KEY_MOMENTS[2],
        }
    }

    /// Rows of this phase write their Output to the consumer's console (the seeds'
    /// `print(state)` and the final "Stop processing").
    pub fn writes_console(self) -> bool {
        matches!(self, Phase::Print | Phase::End)
    }
}

/// Topic entries shown around the current event; the rest are counted, so a large
/// log draws a bounded number of boxes.
pub const TOPIC_SHOWN: usize = 40;

/// Events either side of the current one that get status-tracker columns.
pub const TRACKER_EVENTS_EACH_SIDE: usize = 3;

/// One record on the topic as the log view draws it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicEntry {
    pub offset: i64,
    pub label: String,
    /// The consumer has read and applied it.
    pub consumed: bool,
    /// It is the current row's event.
    pub current: bool,
}

/// One partition of the topic as it stands at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLog {
    pub partition: i32,
    /// Entries not drawn before and after the window around the current event.
    pub hidden_before: usize,
    pub hidden_after: usize,
    pub entries: Vec<TopicEntry>,
    /// The offset the consumer reads next in this partition; `None` when it has read
    /// everything on it.
    pub next_offset: Option<i64>,
}

/// A column of seed 001's status tracker: the topic and the state after one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerColumn {
    /// "Start", "After step 4", "Final".
    pub heading: String,
    /// The row the column stands for (0 for Start).
    pub step: u64,
    pub topic: String,
    pub state: String,
    /// The latest column at or before the current step.
    pub current: bool,
}

/// What the page shows for one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub step: Step,
    /// Rows in the trace.
    pub steps: u64,
    /// What differs from the state the row's aggregate had one step earlier.
    pub changes: Vec<Change>,
    /// The row's state as pretty JSON, changed lines marked.
    pub state: Vec<Line>,
    /// The topic's partitions that hold events at this step, by partition number.
    pub topic: Vec<PartitionLog>,
    pub tracker: Vec<TrackerColumn>,
}

impl Frame {
    /// The frame of row `step` (clamped to the trace). Costs one seek from the
    /// nearest snapshot and a pass over the few events around the row (the row, the
    /// row before it and the tracker's columns), not a replay of the log.
    pub fn at(trace: &Trace, step: u64) -> Frame {
        let steps = trace.len();
        let step = step.clamp(1, steps);
        let folded = trace.folded_events();
        let centre = if step == steps {
            folded
        } else {
            ((step - 1) / crate::trace::STEPS_PER_EVENT) as usize
        };
        let (first, last) = tracker_events(centre, folded);
        let mut from = step.saturating_sub(1).max(1);
        let mut to = step;
        if first < last {
            from = from.min(trace.step_of(first, Phase::Produce));
            to = to.max(trace.step_of(last - 1, Phase::Apply));
        }
        let rows: Vec<Step> = trace.steps_in(from..=to).collect();
        let find = |n: u64| rows.iter().find(|r| r.step == n);
        let row = find(step)
            .cloned()
            .expect("a clamped step is always in the trace");
        let previous = previous_state(trace, &row, find(step.wrapping_sub(1)));
        let changes = diff::changes(&previous, &row.state);
        let state = diff::pretty(&row.state, &changes);
        Frame {
            topic: topic_at(trace, &row),
            tracker: tracker_at(trace, &row, &rows),
            steps,
            changes,
            state,
            step: row,
        }
    }
}

/// The state the row's aggregate had one row earlier (its initial state before its
/// first event), so the diff shows what this row did. Within an event the row before
/// shows the same aggregate (an aggregate absent from the view shows as `null` there
/// and counts as its initial state); a command row and the final row show the state
/// as it stood one row earlier already.
fn previous_state(trace: &Trace, row: &Step, before: Option<&Step>) -> Value {
    match (row.phase, before) {
        (Phase::Produce | Phase::Consume | Phase::Apply | Phase::Print, Some(before)) => {
            if before.state.is_null() {
                trace.projection().initial()
            } else {
                before.state.clone()
            }
        }
        _ => row.state.clone(),
    }
}

/// Events the consumer has read and applied by this row.
fn consumed_at(row: &Step) -> usize {
    match (row.phase, row.event_index) {
        (Phase::Apply | Phase::Print, Some(index)) => index + 1,
        (_, Some(index)) => index,
        (_, None) => row.topic_len,
    }
}

/// The topic's partitions at `row`, drawing [`TOPIC_SHOWN`] entries around the
/// current event. Only the drawn entries are rebuilt from the log, and a log on one
/// partition counts the hidden ones without a scan, so a step of a million-event log
/// costs the same as a step of a lesson.
fn topic_at(trace: &Trace, row: &Step) -> Vec<PartitionLog> {
    let log = trace.events();
    let len = row.topic_len.min(log.len());
    let consumed = consumed_at(row);
    let current = row.event_index.filter(|i| *i < len);
    let centre = current.unwrap_or(len.saturating_sub(1));
    let start = centre
        .saturating_sub(TOPIC_SHOWN / 2)
        .min(len.saturating_sub(TOPIC_SHOWN));
    let end = (start + TOPIC_SHOWN).min(len);
    let shown: Vec<(usize, Envelope)> = (start..end)
        .filter_map(|i| Some((i, log.get(i)?)))
        .collect();

    let mut partitions: Vec<i32> = log
        .partitions()
        .iter()
        .filter(|(_, first)| *first < len)
        .map(|(p, _)| *p)
        .collect();
    partitions.sort_unstable();
    let projection = trace.projection();
    partitions
        .into_iter()
        .map(|partition| {
            let entries = shown
                .iter()
                .filter(|(_, e)| e.partition == partition)
                .map(|(i, e)| TopicEntry {
                    offset: e.offset,
                    label: projection.label(e),
                    consumed: *i < consumed,
                    current: Some(*i) == current,
                })
                .collect();
            let next_offset = log
                .first_in(partition, consumed..len)
                .and_then(|i| log.offset(i));
            PartitionLog {
                partition,
                hidden_before: log.count_in(partition, 0..start),
                hidden_after: log.count_in(partition, end..len),
                entries,
                next_offset,
            }
        })
        .collect()
}

/// The events that get status-tracker columns around event `centre`: `first..last`.
fn tracker_events(centre: usize, folded: usize) -> (usize, usize) {
    let first = centre.saturating_sub(TRACKER_EVENTS_EACH_SIDE);
    let last = (centre + TRACKER_EVENTS_EACH_SIDE + 1).min(folded);
    (first, last)
}

/// The tracker's columns, from `rows` (which hold the produce and apply rows of the
/// tracker's events).
fn tracker_at(trace: &Trace, row: &Step, rows: &[Step]) -> Vec<TrackerColumn> {
    let folded = trace.folded_events();
    let centre = row.event_index.unwrap_or(folded);
    let (first, last) = tracker_events(centre, folded);

    let mut columns = Vec::new();
    if first == 0 {
        columns.push(TrackerColumn {
            heading: "Start".into(),
            step: 0,
            topic: display::topic::<&str>(&[]),
            state: display::js(&trace.projection().initial()),
            current: false,
        });
    }
    let mut column = |step: Option<Step>, heading: String| {
        if let Some(step) = step {
            columns.push(TrackerColumn {
                heading,
                step: step.step,
                topic: trace.topic_text(step.topic_len),
                state: display::js(&step.state),
                current: false,
            });
        }
    };
    let shown = rows.iter().filter(|s| {
        matches!(s.phase, Phase::Produce | Phase::Apply)
            && s.event_index.is_some_and(|i| (first..last).contains(&i))
    });
    for step in shown {
        let n = step.step;
        column(Some(step.clone()), format!("After step {n}"));
    }
    if last == folded {
        column(trace.step(trace.len()), "Final".into());
    }
    if let Some(current) = columns.iter().rposition(|c| c.step <= row.step) {
        columns[current].current = true;
    }
    columns
}

/// The record fields an editor line may carry besides the event: `"@key"` (a string, or
/// `{"bytes_hex":"41ff"}` for a key that is not UTF-8)
/// and `"@partition"` (an integer). A keyed lesson's lines keep their key and
/// partition through an edit this way, and a line typed without them lands on
/// partition 0 with no key, as a plain NDJSON file does.
pub const KEY_FIELD: &str = "@key";
pub const PARTITION_FIELD: &str = "@partition";

/// What the event editor says about its lines, next to it.
pub const EDITOR_HINT: &str = "One JSON event per line. Optional \"@key\" (a string, or \
    {\"bytes_hex\": \"41ff\"} for a key that is not text) and \
    \"@partition\" (a number) fields set the record's key and partition; each partition \
    numbers its records from offset 0.";

/// One event as a line of the event editor: its JSON value, preceded by `"@key"` and
/// `"@partition"` when the record has a key or lives on another partition than 0.
/// Text that was not JSON stays as it was, so a mistake is shown, not dropped.
pub fn editor_line(envelope: &Envelope) -> String {
    let record_fields = envelope.key.is_some() || envelope.partition != 0;
    match &envelope.value {
        Payload::Json(Value::Object(event)) if record_fields => {
            let mut line = serde_json::Map::new();
            // The exact form, so a key that is not UTF-8 comes back as the same bytes.
            if let Some(key) = envelope.aggregate_key() {
                line.insert(KEY_FIELD.into(), key.to_json());
            }
            if envelope.partition != 0 {
                line.insert(PARTITION_FIELD.into(), Value::from(envelope.partition));
            }
            line.extend(event.iter().map(|(k, v)| (k.clone(), v.clone())));
            Value::Object(line).to_string()
        }
        Payload::Json(value) => value.to_string(),
        Payload::Tombstone => "null".into(),
        Payload::Raw { bytes, .. } => bytes_as_text(bytes),
    }
}

/// The log as the event editor shows it: one [`editor_line`] per event, in log order.
pub fn ndjson_text(events: &[Envelope]) -> String {
    let mut out = String::new();
    for envelope in events {
        out.push_str(&editor_line(envelope));
        out.push('\n');
    }
    out
}

/// The event editor's text read back as a log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EditorLog {
    pub events: Vec<Envelope>,
    /// The 0-based editor line of each event.
    pub lines: Vec<i64>,
}

/// Reads the event editor's text: one event per non-blank line, `"@key"` and
/// `"@partition"` lifted out of the event onto the record. Each partition numbers its
/// records 0, 1, 2, … in line order, as a topic does; a log on partition 0 alone
/// therefore keeps offset = line index only when it has no blank lines, which is why
/// [`EditorLog::lines`] keeps the line of each event for error messages.
pub fn parse_editor(topic: &str, text: &str) -> EditorLog {
    let mut reader = EditorReader::default();
    let mut log = EditorLog::default();
    while let Some((line, envelope)) = reader.next_event(topic, text) {
        log.lines.push(line);
        log.events.push(envelope);
    }
    log
}

/// [`parse_editor`] one event at a time, resumable: it keeps its place in the text
/// (a byte position) and each partition's next offset, so a big import can be read
/// and folded in slices between two frames of the page, and nothing but the events
/// being folded is held as envelopes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditorReader {
    /// Byte position of the next line in the text.
    position: usize,
    /// 0-based index of the next line.
    line: i64,
    next_offset: std::collections::BTreeMap<i32, i64>,
}

impl EditorReader {
    /// Bytes of the text read so far.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The next event of `text` (always the same text) with its editor line, or
    /// `None` at the end.
    pub fn next_event(&mut self, topic: &str, text: &str) -> Option<(i64, Envelope)> {
        self.next_event_text(topic, text)
            .map(|(line, envelope, _)| (line, envelope))
    }

    /// As [`EditorReader::next_event`], with the line's text when it is exactly the
    /// JSON of the event's value (no `"@key"` or `"@partition"` lifted out of it), for
    /// [`Trace::extend_from_text`].
    pub fn next_event_text<'t>(
        &mut self,
        topic: &str,
        text: &'t str,
    ) -> Option<(i64, Envelope, Option<&'t [u8]>)> {
        let bytes = text.as_bytes();
        loop {
            if self.position >= bytes.len() {
                return None;
            }
            let rest = &bytes[self.position..];
            let (line, advance) = match rest.iter().position(|b| *b == b'\n') {
                Some(end) => (&rest[..end], end + 1),
                None => (rest, rest.len()),
            };
            self.position += advance;
            let index = self.line;
            self.line += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let (envelope, lifted) = self.envelope(topic, line);
            let json_text = (!lifted && matches!(envelope.value, Payload::Json(_))).then_some(line);
            return Some((index, envelope, json_text));
        }
    }

    /// The event of one line, and whether a field was lifted out of its value.
    fn envelope(&mut self, topic: &str, line: &[u8]) -> (Envelope, bool) {
        let mut lifted = false;
        let mut envelope = Envelope {
            topic: topic.to_owned(),
            partition: 0,
            offset: 0,
            key: None,
            timestamp: 0,
            headers: Vec::new(),
            value: Payload::decode(Some(line)),
        };
        if let Payload::Json(Value::Object(event)) = &mut envelope.value {
            // `"@key"` is a string, or `{"bytes_hex":"41ff"}` for a key that is not text.
            let key = crate::projection::field(event, KEY_FIELD).and_then(Key::from_json);
            if let Some(key) = key {
                envelope.key = Some(key.as_bytes().to_vec());
                event.shift_remove(KEY_FIELD);
                lifted = true;
            }
            let partition = crate::projection::field(event, PARTITION_FIELD)
                .and_then(Value::as_i64)
                .and_then(|p| i32::try_from(p).ok())
                .filter(|p| (0..crate::sim::MAX_PARTITIONS).contains(p));
            if let Some(partition) = partition {
                envelope.partition = partition;
                event.shift_remove(PARTITION_FIELD);
                lifted = true;
            }
        }
        let offset = self.next_offset.entry(envelope.partition).or_insert(0);
        envelope.offset = *offset;
        *offset += 1;
        (envelope, lifted)
    }
}

/// An error of a log typed in the event editor, naming the editor line (0-based
/// `line`) and the record: `line 3 (offset 2): value is not JSON: ...`, with the
/// partition too when it is not 0.
pub fn editor_error(line: i64, error: &FoldError) -> String {
    let reason = match &error.error {
        // The JSON parser saw one record, so it always says "line 1"; beside the
        // editor's own line number that reads as a contradiction. The column stays.
        ApplyError::Undecodable(message) => {
            message.replacen(" at line 1 column ", " at column ", 1)
        }
        other => other.to_string(),
    };
    let place = match error.partition {
        0 => format!("offset {}", error.offset),
        p => format!("partition {p}, offset {}", error.offset),
    };
    format!("line {} ({place}): {reason}", line + 1)
}

/// The page's address: a lesson and a step, `#scenario=orders&step=4`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    pub scenario: Option<String>,
    pub step: Option<u64>,
}

impl Link {
    /// Reads a hash (`#scenario=orders&step=4`) or a query (`?scenario=orders`, the
    /// older form); unknown keys and unreadable values are ignored, so a mangled
    /// link still opens the page.
    pub fn parse(text: &str) -> Link {
        let text = text.trim_start_matches(['#', '?']);
        let mut link = Link::default();
        for pair in text.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "scenario" if !value.is_empty() => link.scenario = Some(value.to_owned()),
                "step" => link.step = value.parse().ok().or(link.step),
                _ => {}
            }
        }
        link
    }

    /// The hash for a lesson and step. Scenario ids are URL-safe already.
    pub fn hash(scenario: &str, step: u64) -> String {
        format!("#scenario={scenario}&step={step}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::Mode;
    use crate::scenario;
    use std::sync::Arc;

    fn orders() -> Trace {
        let s = scenario::orders();
        Trace::new(s.projection, Mode::Lenient, s.events)
    }

    fn check_link(text: &str, scenario: Option<&str>, step: Option<u64>) {
        assert_eq!(
            Link::parse(text),
            Link {
                scenario: scenario.map(str::to_owned),
                step
            },
            "{text}"
        );
    }

    #[test]
    fn links_name_a_lesson_and_a_step() {
        check_link("#scenario=orders&step=4", Some("orders"), Some(4));
        check_link("?scenario=bank-002", Some("bank-002"), None);
        check_link("#step=7", None, Some(7));
        check_link("#scenario=&step=x&other=1", None, None);
        check_link("", None, None);
        assert_eq!(Link::hash("bank", 5), "#scenario=bank&step=5");
        let back = Link::parse(&Link::hash("users", 11));
        assert_eq!(back.scenario.as_deref(), Some("users"));
        assert_eq!(back.step, Some(11));
    }

    fn check_flow(step: u64, stages: &[Stage], question_starts: &str) {
        let frame = Frame::at(&orders(), step);
        assert_eq!(frame.step.phase.stages(), stages, "stages at step {step}");
        let moment = frame.step.phase.key_moment();
        assert!(
            moment.question.starts_with(question_starts),
            "step {step}: {}",
            moment.question
        );
    }

    #[test]
    fn each_row_lights_its_stage_and_explains_itself() {
        check_flow(1, &[Stage::Command, Stage::Event], "Why do we store events");
        check_flow(2, &[Stage::Append, Stage::Stored], "Why do we store events");
        check_flow(3, &[Stage::Replay], "How does the state");
        check_flow(4, &[Stage::State], "How does the state");
        check_flow(11, &[Stage::State], "What happens if the consumer");
    }

    fn check_state(step: u64, pretty: &str, changed: &[&str]) {
        let frame = Frame::at(&orders(), step);
        let text: Vec<&str> = frame.state.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(text.join("\n"), pretty, "state at step {step}");
        let paths: Vec<&str> = frame.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, changed, "changes at step {step}");
    }

    #[test]
    fn the_state_view_marks_what_the_row_changed() {
        check_state(1, "{}", &[]);
        check_state(3, "{}", &[]);
        check_state(
            4,
            "{\n  \"orderId\": 123,\n  \"status\": \"created\"\n}",
            &["$.orderId", "$.status"],
        );
        check_state(
            5,
            "{\n  \"orderId\": 123,\n  \"status\": \"created\"\n}",
            &[],
        );
        check_state(
            9,
            "{\n  \"orderId\": 123,\n  \"status\": \"shipped\"\n}",
            &["$.status"],
        );
        check_state(
            11,
            "{\n  \"orderId\": 123,\n  \"status\": \"shipped\"\n}",
            &[],
        );
    }

    /// (offset, consumed, current) of each entry, and the consumer's next offset.
    fn check_topic(step: u64, entries: &[(i64, bool, bool)], next: Option<i64>) {
        let frame = Frame::at(&orders(), step);
        let got: Vec<(i64, bool, bool)> = frame
            .topic
            .iter()
            .flat_map(|p| p.entries.iter())
            .map(|e| (e.offset, e.consumed, e.current))
            .collect();
        assert_eq!(got, entries, "topic at step {step}");
        assert_eq!(
            frame.topic.first().and_then(|p| p.next_offset),
            next,
            "consumer position at step {step}"
        );
    }

    #[test]
    fn the_topic_shows_offsets_and_the_consumer_position() {
        check_topic(1, &[], None);
        check_topic(2, &[(0, false, true)], Some(0));
        check_topic(4, &[(0, true, true)], None);
        check_topic(7, &[(0, true, false), (1, false, true)], Some(1));
        check_topic(11, &[(0, true, false), (1, true, false)], None);
    }

    #[test]
    fn a_long_topic_draws_a_window_around_the_current_event() {
        let s = scenario::bank();
        let events: Vec<Envelope> = (0..500)
            .map(|i| {
                Envelope::json(
                    s.topic,
                    i,
                    serde_json::json!({"type": "deposit", "amount": 1}),
                )
            })
            .collect();
        let trace = Trace::new(s.projection, Mode::Lenient, events);
        let frame = Frame::at(&trace, trace.step_of(250, Phase::Apply));
        let log = &frame.topic[0];
        assert_eq!(log.entries.len(), TOPIC_SHOWN);
        assert_eq!(
            log.hidden_before + log.entries.len() + log.hidden_after,
            251
        );
        assert!(log.entries.iter().any(|e| e.current && e.offset == 250));
        assert!(frame.tracker.len() <= 2 * (2 * TRACKER_EVENTS_EACH_SIDE + 1) + 2);
    }

    #[test]
    fn the_tracker_is_seed_001s_status_tracker() {
        let frame = Frame::at(&orders(), 9);
        let columns: Vec<(&str, &str, &str, bool)> = frame
            .tracker
            .iter()
            .map(|c| {
                (
                    c.heading.as_str(),
                    c.topic.as_str(),
                    c.state.as_str(),
                    c.current,
                )
            })
            .collect();
        let both = "[orderCreatedEvent, orderUpdatedEvent]";
        assert_eq!(
            columns,
            vec![
                ("Start", "[]", "{}", false),
                ("After step 2", "[orderCreatedEvent]", "{}", false),
                (
                    "After step 4",
                    "[orderCreatedEvent]",
                    "{orderId: 123, status: 'created'}",
                    false
                ),
                (
                    "After step 7",
                    both,
                    "{orderId: 123, status: 'created'}",
                    false
                ),
                (
                    "After step 9",
                    both,
                    "{orderId: 123, status: 'shipped'}",
                    true
                ),
                ("Final", both, "{orderId: 123, status: 'shipped'}", false),
            ]
        );
    }

    #[test]
    fn keyed_lines_keep_their_key_and_partition() {
        let events = vec![
            Envelope::json("t", 0, serde_json::json!({"type": "deposit", "amount": 5}))
                .with_key("alice")
                .with_partition(2),
            Envelope::json("t", 0, serde_json::json!({"type": "deposit", "amount": 1})),
            Envelope::json("t", 1, serde_json::json!({"type": "deposit", "amount": 7}))
                .with_key("bob")
                .with_partition(2),
        ];
        let text = ndjson_text(&events);
        assert_eq!(
            text.lines().next(),
            Some(r#"{"@key":"alice","@partition":2,"type":"deposit","amount":5}"#)
        );
        let log = parse_editor("t", &format!("\n{text}"));
        assert_eq!(log.lines, vec![1, 2, 3]);
        let back: Vec<(Option<String>, i32, i64)> = log
            .events
            .iter()
            .map(|e| (e.key_text(), e.partition, e.offset))
            .collect();
        assert_eq!(
            back,
            vec![
                (Some("alice".into()), 2, 0),
                (None, 0, 0),
                (Some("bob".into()), 2, 1)
            ]
        );
        assert_eq!(log.events[0].value, events[0].value);
        // A partition the simulator cannot have stays in the event, visible.
        let odd = parse_editor("t", r#"{"@partition":-1,"type":"x"}"#);
        assert_eq!(odd.events[0].partition, 0);
        assert_eq!(
            odd.events[0].value,
            Payload::Json(serde_json::json!({"@partition": -1, "type": "x"}))
        );
    }

    #[test]
    fn a_trace_that_keeps_the_lines_as_typed_gives_back_the_same_events() {
        // Spacing, a lifted key and partition (the line is then not the value's JSON),
        // a key that is not a string (kept in the value), a duplicate field (the last
        // wins, as when parsing the value), a line that is not JSON and a blank line.
        let text = concat!(
            "{ \"type\" : \"deposit\", \"amount\": 5 }\n",
            "{\"@key\":\"alice\",\"@partition\":1,\"type\":\"deposit\",\"amount\":2}\r\n",
            "{\"@key\":7,\"type\":\"withdrawal\",\"amount\":1}\n",
            "\n",
            "{\"type\":\"deposit\",\"amount\":1,\"amount\":3}\n",
            "{\"type\":deposit}\n",
        );
        let mut reader = EditorReader::default();
        let mut read = Vec::new();
        while let Some((_, envelope, json)) = reader.next_event_text("t", text) {
            read.push((
                envelope,
                json.map(|j| String::from_utf8_lossy(j).into_owned()),
            ));
        }
        let kept: Vec<Option<&str>> = read.iter().map(|(_, j)| j.as_deref()).collect();
        assert_eq!(
            kept,
            vec![
                Some("{ \"type\" : \"deposit\", \"amount\": 5 }"),
                None,
                Some("{\"@key\":7,\"type\":\"withdrawal\",\"amount\":1}"),
                Some("{\"type\":\"deposit\",\"amount\":1,\"amount\":3}"),
                None,
            ]
        );
        let envelopes: Vec<Envelope> = read.iter().map(|(e, _)| e.clone()).collect();
        let printed = Trace::new(
            Arc::new(crate::builtin::bank::Bank),
            Mode::Lenient,
            envelopes.clone(),
        );
        let mut typed = Trace::new(Arc::new(crate::builtin::bank::Bank), Mode::Lenient, []);
        typed.extend_from_text(
            read.iter()
                .map(|(e, j)| (e.clone(), j.as_deref().map(str::as_bytes))),
        );
        assert_eq!(typed.events().to_vec(), envelopes);
        assert_eq!(printed.events().to_vec(), envelopes);
        assert_eq!(typed.final_view(), printed.final_view());
        assert_eq!(typed.errors(), printed.errors());
    }

    #[test]
    fn the_editor_round_trips_a_lesson_and_names_bad_lines() {
        let s = scenario::bank();
        let text = ndjson_text(&s.events);
        assert_eq!(
            text.lines().next(),
            Some(r#"{"type":"deposit","amount":100}"#)
        );
        let mut text = text.replacen("{\"type\":\"withdrawal\"", "{\"type\":withdrawal", 1);
        text.push_str("{\"type\":\"deposit\",\"amount\":40}\n");
        let log = parse_editor(s.topic, &text);
        let trace = Trace::new(s.projection, Mode::Lenient, log.events);
        let errors: Vec<String> = trace.errors().iter().map(|e| editor_error(1, e)).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0],
            "line 2 (offset 1): value is not JSON: expected value at column 9"
        );
        assert_eq!(
            trace.final_view().to_json(&**trace.projection()),
            serde_json::json!({"balance": 200}),
            "the good lines still fold"
        );
    }
}
