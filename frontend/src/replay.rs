//! The process table's rows as text: core folds and narrates, and the rows keep the
//! text the seeds print, so components never touch the domain types.

use std::ops::RangeInclusive;
use std::rc::Rc;

use eventfold_core::trace::STEPS_PER_EVENT;
use eventfold_core::{Phase, Step, Trace, display, scenario};

/// One row of the process table, with the seeds' columns as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub step: u64,
    pub action: String,
    pub event: String,
    /// Kafka Topic State: the log as it stands at this row.
    pub topic: String,
    /// State After Event, printed as the seeds print it.
    pub state: String,
    pub output: String,
    /// The projection rejected this row's event.
    pub failed: bool,
    /// The row's Output goes to the consumer's console.
    pub console: bool,
}

/// Console lines shown: the consumer's last prints; earlier ones are counted in a
/// first line, so a step of a million-event log prints a bounded console.
pub const CONSOLE_SHOWN: usize = 50;

/// Row `step` of the table as text.
pub fn row(trace: &Trace, step: Step) -> Row {
    Row {
        step: step.step,
        topic: trace.topic_text(step.topic_len),
        state: display::js(&step.state),
        output: step.output_text().to_owned(),
        failed: step.error.is_some(),
        console: step.phase.writes_console(),
        action: step.action,
        event: step.event,
    }
}

/// Rows `range` of `trace` (clamped to it), from core's nearest snapshot: the cost
/// of a page of the table, whatever the log's length.
pub fn rows_in(trace: &Trace, range: RangeInclusive<u64>) -> Vec<Row> {
    trace.steps_in(range).map(|step| row(trace, step)).collect()
}

/// Every row of `trace`, computed in one pass (a lesson's whole table).
pub fn rows(trace: &Trace) -> Rc<[Row]> {
    rows_in(trace, 1..=trace.len()).into()
}

/// What the consumer has printed by row `step`: each event's print row up to
/// there, and the final row's line at the end; the last [`CONSOLE_SHOWN`] lines, after
/// a line counting the ones not shown.
pub fn console_at(trace: &Trace, step: u64) -> Vec<String> {
    let step = step.clamp(1, trace.len());
    let printed = (step / STEPS_PER_EVENT) as usize;
    let printed = printed.min(trace.folded_events());
    let first = printed.saturating_sub(CONSOLE_SHOWN);
    let mut lines = Vec::new();
    if first > 0 {
        lines.push(format!("… {first} earlier lines not shown"));
    }
    if first < printed {
        let prints = trace.step_of(first, Phase::Print)..=trace.step_of(printed - 1, Phase::Print);
        lines.extend(
            trace
                .steps_in(prints)
                .filter(|row| row.phase == Phase::Print)
                .map(|row| row.output_text().to_owned()),
        );
    }
    if step == trace.len()
        && let Some(end) = trace.step(step)
    {
        lines.push(end.output_text().to_owned());
    }
    lines
}

/// A lesson the picker offers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub id: &'static str,
    pub title: &'static str,
}

/// The built-in lessons, in the order core lists them.
pub fn choices() -> Rc<[Choice]> {
    scenario::IDS
        .iter()
        .filter_map(|id| scenario::by_id(id))
        .map(|s| Choice {
            id: s.id,
            title: s.title,
        })
        .collect()
}
