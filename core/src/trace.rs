//! The replay trace: seed 001's process table, with time travel.
//!
//! Every event becomes five rows (receive command, produce event, consumer reads,
//! apply, print), and the trace ends with one "no more events" row. Rows are not
//! stored: the trace keeps the log, one outcome per event and a snapshot of the folded
//! view every [`SNAPSHOT_EVERY`] events, and computes any row from the nearest snapshot.
//! Seeking anywhere in a log of N events therefore costs O(K) applies, not O(N), and a
//! million-event log does not hold five million states.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::display;
use crate::envelope::{Envelope, Payload};
use crate::fold::{FoldError, Folder, Mode, Outcome, Stepped, View};
use crate::log::Log;
use crate::projection::{AggregateId, Projection};

/// Events between two snapshots (K). A seek replays at most K events; each snapshot
/// holds a copy of every aggregate's state.
pub const SNAPSHOT_EVERY: usize = 1024;

/// Rows per event in the process table.
pub const STEPS_PER_EVENT: u64 = 5;

/// What a row of the process table shows happening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A command arrives (seed 001 step 1).
    Command,
    /// The event is appended to the topic (step 2).
    Produce,
    /// The consumer reads the event (step 3).
    Consume,
    /// The projection applies it (step 4).
    Apply,
    /// The new state is printed (step 5).
    Print,
    /// No more events (step 11).
    End,
}

/// One row of the process table.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based row number.
    pub step: u64,
    pub phase: Phase,
    /// Index into the log of the row's event; `None` for the final row.
    pub event_index: Option<usize>,
    /// The Action column.
    pub action: String,
    /// The Event Produced column: the event's label, `-` on the final row.
    pub event: String,
    /// Number of events on the topic at this row (the Kafka Topic State column).
    pub topic_len: usize,
    /// The aggregate the row's event belongs to.
    pub aggregate: AggregateId,
    /// State After Event: the aggregate's state (`null` once a tombstone deleted it);
    /// on the final row, the whole folded view.
    pub state: Value,
    /// The Output column; `None` shows as "No output".
    pub output: Option<String>,
    /// Set on the apply row of an event the projection rejected.
    pub error: Option<FoldError>,
}

impl Step {
    /// The Output column as the seeds print it.
    pub fn output_text(&self) -> &str {
        self.output.as_deref().unwrap_or("No output")
    }
}

/// A log folded by one projection, with its process table and snapshots.
///
/// The log is kept compactly ([`Log`]: about 80 bytes for a small event, against
/// about 1 KB as envelopes with JSON trees), with one aggregate index per event and
/// the rejected events on the side; an [`Outcome`] is rebuilt when asked for.
#[derive(Clone)]
pub struct Trace {
    head: Folder,
    log: Log,
    /// Per event: the index in `ids` of the aggregate it touched, or [`SKIPPED`].
    touched: Vec<u32>,
    /// Aggregate ids, each once, in order of first appearance.
    ids: Vec<AggregateId>,
    id_index: BTreeMap<AggregateId, u32>,
    /// The rejected events: their index in the log and the error.
    failures: Vec<(usize, FoldError)>,
    /// `snapshots[j]` is the view before `events[j * snapshot_every]`.
    snapshots: Vec<View>,
    snapshot_every: usize,
}

/// `touched` of an event a strict fold skipped.
const SKIPPED: u32 = u32::MAX;

impl Trace {
    /// Folds `events` and keeps a snapshot every [`SNAPSHOT_EVERY`] events.
    pub fn new(
        projection: Arc<dyn Projection>,
        mode: Mode,
        events: impl IntoIterator<Item = Envelope>,
    ) -> Trace {
        Trace::with_snapshot_every(projection, mode, SNAPSHOT_EVERY, events)
    }

    /// As [`Trace::new`] with another snapshot spacing (at least 1).
    pub fn with_snapshot_every(
        projection: Arc<dyn Projection>,
        mode: Mode,
        snapshot_every: usize,
        events: impl IntoIterator<Item = Envelope>,
    ) -> Trace {
        let mut trace = Trace {
            head: Folder::new(projection, mode),
            log: Log::default(),
            touched: Vec::new(),
            ids: Vec::new(),
            id_index: BTreeMap::new(),
            failures: Vec::new(),
            snapshots: Vec::new(),
            snapshot_every: snapshot_every.max(1),
        };
        trace.extend(events);
        trace
    }

    /// Appends events to the log and folds them (a live topic grows this way). The
    /// cost is the fold of the new events: nothing already folded is looked at again.
    pub fn extend(&mut self, events: impl IntoIterator<Item = Envelope>) {
        self.extend_from_text(events.into_iter().map(|envelope| (envelope, None)));
    }

    /// As [`Trace::extend`], each event with the JSON text its value was parsed from
    /// when there is one, which the log keeps as it is ([`Log::push_text`]).
    pub fn extend_from_text<'t>(
        &mut self,
        events: impl IntoIterator<Item = (Envelope, Option<&'t [u8]>)>,
    ) {
        for (envelope, text) in events {
            let index = self.log.len();
            if index.is_multiple_of(self.snapshot_every) {
                self.snapshots.push(self.head.view().clone());
            }
            let outcome = self.head.push(&envelope);
            let touched = match outcome.aggregate() {
                Some(id) => self.intern(id),
                None => SKIPPED,
            };
            self.touched.push(touched);
            if let Outcome::Failed(_, error) = outcome {
                self.failures.push((index, error));
            }
            self.log.push_text(&envelope, text);
        }
    }

    fn intern(&mut self, id: &AggregateId) -> u32 {
        if let Some(index) = self.id_index.get(id) {
            return *index;
        }
        let index = self.ids.len() as u32;
        self.ids.push(id.clone());
        self.id_index.insert(id.clone(), index);
        index
    }

    pub fn projection(&self) -> &Arc<dyn Projection> {
        self.head.projection()
    }

    /// The whole log, including events a strict fold skipped.
    pub fn events(&self) -> &Log {
        &self.log
    }

    /// What folding event `index` did.
    pub fn outcome(&self, index: usize) -> Option<Outcome> {
        let touched = *self.touched.get(index)?;
        if touched == SKIPPED {
            return Some(Outcome::Skipped);
        }
        let id = self.ids[touched as usize].clone();
        Some(match self.failure(index) {
            Some(error) => Outcome::Failed(id, error.clone()),
            None => Outcome::Applied(id),
        })
    }

    /// What folding each event did, in log order (built for the whole log: for
    /// tests and short logs; [`Trace::outcome`] and [`Trace::failures`] are cheap).
    pub fn outcomes(&self) -> Vec<Outcome> {
        (0..self.log.len())
            .filter_map(|i| self.outcome(i))
            .collect()
    }

    /// The rejected events, in log order, with their index in the log.
    pub fn failures(&self) -> &[(usize, FoldError)] {
        &self.failures
    }

    fn failure(&self, index: usize) -> Option<&FoldError> {
        self.failures
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|i| &self.failures[i].1)
    }

    /// Rejected events, in log order.
    pub fn errors(&self) -> &[FoldError] {
        self.head.errors()
    }

    /// The view after the last folded event.
    pub fn final_view(&self) -> &View {
        self.head.view()
    }

    /// Events that have rows: all of them, or in a strict fold those up to and
    /// including the first bad one.
    pub fn folded_events(&self) -> usize {
        if self.head.halted() {
            self.failures.first().map_or(self.log.len(), |(i, _)| i + 1)
        } else {
            self.log.len()
        }
    }

    /// Number of rows (steps).
    pub fn len(&self) -> u64 {
        self.folded_events() as u64 * STEPS_PER_EVENT + 1
    }

    /// A trace always has its final row, so it is never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The row for an event and phase.
    pub fn step_of(&self, event_index: usize, phase: Phase) -> u64 {
        let within = match phase {
            Phase::Command => 1,
            Phase::Produce => 2,
            Phase::Consume => 3,
            Phase::Apply => 4,
            Phase::Print => 5,
            Phase::End => return self.len(),
        };
        event_index as u64 * STEPS_PER_EVENT + within
    }

    /// The view before `events[index]` (after all events when `index` is past the
    /// end), from the nearest snapshot: O(K) applies.
    pub fn view_before(&self, index: usize) -> View {
        let index = index.min(self.folded_events());
        self.folder_before(index).view().clone()
    }

    /// The whole folded view as it stands at row `step` (clamped to the trace).
    pub fn view_at(&self, step: u64) -> View {
        let (index, phase) = self.locate(step);
        match phase {
            Phase::Command | Phase::Produce | Phase::Consume => self.view_before(index),
            Phase::Apply | Phase::Print => self.view_before(index + 1),
            Phase::End => self.final_view().clone(),
        }
    }

    /// Row `step` (1-based), or `None` past the end.
    pub fn step(&self, step: u64) -> Option<Step> {
        if step == 0 || step > self.len() {
            return None;
        }
        let (index, phase) = self.locate(step);
        if phase == Phase::End {
            return Some(self.end_step());
        }
        let mut folder = self.folder_before(index);
        let rows = self.event_rows(index, &mut folder);
        rows.into_iter().find(|row| row.phase == phase)
    }

    /// Every row in order, computed in one pass over the log.
    pub fn steps(&self) -> impl Iterator<Item = Step> + '_ {
        self.steps_in(1..=self.len())
    }

    /// Rows `range` (clamped to the trace) in order: one seek from the nearest
    /// snapshot, then one pass over the events the rows belong to. A page of the
    /// process table costs this, whatever the log's length.
    pub fn steps_in(
        &self,
        range: std::ops::RangeInclusive<u64>,
    ) -> impl Iterator<Item = Step> + '_ {
        let first = (*range.start()).max(1);
        let last = (*range.end()).min(self.len());
        let folded = self.folded_events();
        // The events whose rows fall in the range (the end row has no event).
        let start = ((first - 1) / STEPS_PER_EVENT) as usize;
        let end = ((last.saturating_sub(1) / STEPS_PER_EVENT) as usize + 1).min(folded);
        let events = if first <= last && start < end {
            start..end
        } else {
            0..0
        };
        let mut folder = (!events.is_empty()).then(|| self.folder_before(events.start));
        events
            .flat_map(move |index| {
                let folder = folder
                    .as_mut()
                    .expect("a folder exists when there are events");
                self.event_rows(index, folder)
            })
            .chain(
                std::iter::once_with(move || {
                    (first <= last && last == self.len()).then(|| self.end_step())
                })
                .flatten(),
            )
            .filter(move |row| (first..=last).contains(&row.step))
    }

    /// The apply row of the first event of `partition` at or after `offset`.
    pub fn seek_offset(&self, partition: i32, offset: i64) -> Option<u64> {
        (0..self.folded_events())
            .position(|i| {
                self.log.partition(i) == Some(partition)
                    && self.log.offset(i).is_some_and(|o| o >= offset)
            })
            .map(|i| self.step_of(i, Phase::Apply))
    }

    /// The apply row of the first event with a timestamp at or after `timestamp`
    /// (what Kafka's offsets-for-times answers).
    pub fn seek_timestamp(&self, timestamp: i64) -> Option<u64> {
        (0..self.folded_events())
            .position(|i| self.log.timestamp(i).is_some_and(|t| t >= timestamp))
            .map(|i| self.step_of(i, Phase::Apply))
    }

    /// Labels of the first `len` events of the topic.
    pub fn topic_labels(&self, len: usize) -> Vec<String> {
        let projection = self.projection();
        self.log
            .range(0..len.min(self.log.len()))
            .map(|e| projection.label(&e))
            .collect()
    }

    /// The Kafka Topic State column for a topic of `len` events, computing only the
    /// labels that are shown.
    pub fn topic_text(&self, len: usize) -> String {
        let projection = self.projection();
        display::topic_with(len.min(self.log.len()), |i| {
            self.log
                .get(i)
                .map(|e| projection.label(&e))
                .unwrap_or_default()
        })
    }

    fn locate(&self, step: u64) -> (usize, Phase) {
        let step = step.clamp(1, self.len());
        if step == self.len() {
            return (self.folded_events(), Phase::End);
        }
        let index = ((step - 1) / STEPS_PER_EVENT) as usize;
        let phase = match (step - 1) % STEPS_PER_EVENT {
            0 => Phase::Command,
            1 => Phase::Produce,
            2 => Phase::Consume,
            3 => Phase::Apply,
            _ => Phase::Print,
        };
        (index, phase)
    }

    /// A lenient folder holding the view before `events[index]`.
    fn folder_before(&self, index: usize) -> Folder {
        let snapshot = (index / self.snapshot_every).min(self.snapshots.len().saturating_sub(1));
        let start = snapshot * self.snapshot_every;
        let view = self.snapshots.get(snapshot).cloned().unwrap_or_default();
        let mut folder = Folder::resume(self.projection().clone(), Mode::Lenient, view);
        for envelope in self.log.range(start..index) {
            folder.push(&envelope);
        }
        folder
    }

    /// The five rows of `events[index]`; `folder` holds the view before it and is
    /// advanced past it.
    fn event_rows(&self, index: usize, folder: &mut Folder) -> [Step; 5] {
        let envelope = self
            .log
            .get(index)
            .expect("rows are only asked of logged events");
        let stepped = folder.step(&envelope);
        event_rows(&**self.projection(), index, &envelope, stepped)
    }

    fn end_step(&self) -> Step {
        let folded = self.folded_events();
        let halted_by = self
            .failures
            .iter()
            .rev()
            .find(|(i, _)| *i < folded)
            .map(|(_, error)| error)
            .filter(|_| self.head.halted());
        end_row(
            self.len(),
            folded,
            halted_by,
            self.final_view().to_json(&**self.projection()),
        )
    }
}

/// The five rows of one event, the `index`-th of its log (0-based), from what folding
/// it did ([`Folder::step`]). The trace computes its rows with this, and so does a
/// replay that streams its rows without keeping a trace (`eventfold replay`).
pub fn event_rows(
    projection: &dyn Projection,
    index: usize,
    envelope: &Envelope,
    stepped: Stepped,
) -> [Step; 5] {
    let Stepped {
        outcome,
        before,
        after,
    } = stepped;
    let aggregate = outcome.aggregate().cloned().unwrap_or(None);
    let error = outcome.error().cloned();
    let printed = printed(projection, envelope, &outcome, &after);
    let narration = projection.narration(envelope);
    let label = projection.label(envelope);
    let first = index as u64 * STEPS_PER_EVENT;
    let row = |n: u64, phase: Phase, action: String, topic_len, state: &Value, output| Step {
        step: first + n,
        phase,
        event_index: Some(index),
        action,
        event: label.clone(),
        topic_len,
        aggregate: aggregate.clone(),
        state: state.clone(),
        output,
        error: None,
    };
    let apply_output = match &error {
        Some(error) => format!("Error: {error}"),
        None => printed.clone(),
    };
    let mut apply = row(
        4,
        Phase::Apply,
        narration.apply,
        index + 1,
        &after,
        Some(apply_output),
    );
    apply.error = error;
    [
        row(1, Phase::Command, narration.command, index, &before, None),
        row(
            2,
            Phase::Produce,
            narration.produce,
            index + 1,
            &before,
            None,
        ),
        row(
            3,
            Phase::Consume,
            format!("Consumer reads {label}"),
            index + 1,
            &before,
            None,
        ),
        apply,
        row(
            5,
            Phase::Print,
            "Print updated state".into(),
            index + 1,
            &after,
            Some(printed),
        ),
    ]
}

/// What the print row of an event shows: the projection's rendering of the state
/// after it, or what a tombstone deleted.
fn printed(
    projection: &dyn Projection,
    envelope: &Envelope,
    outcome: &Outcome,
    after: &Value,
) -> String {
    if envelope.value == Payload::Tombstone && outcome.error().is_none() {
        let aggregate = outcome.aggregate().cloned().unwrap_or(None);
        format!("Deleted {}", crate::projection::aggregate_name(&aggregate))
    } else {
        projection.render(after)
    }
}

/// The Output of an event in one row per record: its apply row's, the error when the
/// projection refused it, else what its print row shows.
pub fn record_output(
    projection: &dyn Projection,
    envelope: &Envelope,
    outcome: &Outcome,
    after: &Value,
) -> String {
    match outcome.error() {
        Some(error) => format!("Error: {error}"),
        None => printed(projection, envelope, outcome, after),
    }
}

/// The last row of a replay: row `step`, after `folded` events, with the whole
/// folded `state`; `halted_by` is the error a strict fold stopped at.
pub fn end_row(step: u64, folded: usize, halted_by: Option<&FoldError>, state: Value) -> Step {
    let (action, output) = match halted_by {
        Some(error) => (
            "Stop at the first bad event (strict)".to_owned(),
            format!("Stop processing: {error}"),
        ),
        None => ("No more events".to_owned(), "Stop processing".to_owned()),
    };
    Step {
        step,
        phase: Phase::End,
        event_index: None,
        action,
        event: "-".into(),
        topic_len: folded,
        aggregate: None,
        state,
        output: Some(output),
        error: None,
    }
}

/// A position in a trace, as the page's step controls move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    step: u64,
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor { step: 1 }
    }
}

impl Cursor {
    /// The current row (1-based).
    pub fn step(self) -> u64 {
        self.step
    }

    /// Moves one row forward; false at the last row.
    pub fn forward(&mut self, trace: &Trace) -> bool {
        self.seek(self.step + 1, trace)
    }

    /// Moves one row back; false at the first row.
    pub fn back(&mut self, trace: &Trace) -> bool {
        self.seek(self.step.saturating_sub(1), trace)
    }

    /// Moves to row `step`, clamped to the trace; false if the row did not change.
    pub fn seek(&mut self, step: u64, trace: &Trace) -> bool {
        let next = step.clamp(1, trace.len());
        let moved = next != self.step;
        self.step = next;
        moved
    }

    /// Moves to the last row.
    pub fn to_end(&mut self, trace: &Trace) -> bool {
        self.seek(trace.len(), trace)
    }
}
