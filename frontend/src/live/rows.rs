//! The rows the live view draws, computed on demand from core's [`Trace`].
//!
//! A live log grows without end, so the view never holds every row: it asks the
//! trace for the few rows around the cursor (each from the nearest snapshot) and for
//! the consumer's last lines. `key` narrows both to one aggregate (a Kafka key).

use std::rc::Rc;

use eventfold_core::{Key, Phase, Trace};

use super::session::Meta;
use crate::replay::{self, Row};

/// Events drawn before the cursor's event in the process table.
pub const EVENTS_BEFORE: usize = 4;
/// Events drawn after the cursor's event (only when stepping back from the head).
pub const EVENTS_AFTER: usize = 2;
/// Console lines shown: the consumer's last prints up to the cursor.
pub const CONSOLE_LINES: usize = 8;

/// One process-table row as text (the simulator's [`Row`]), with the record it came
/// from.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRow {
    pub row: Row,
    /// `partition/offset` of the row's record; `None` on the final row.
    pub record: Option<(i32, i64)>,
    /// The record's Kafka key, if it has one (exact; shown with its `Display`).
    pub key: Option<Rc<Key>>,
}

/// The event index a step belongs to (the number of events for the final row).
pub fn event_of(trace: &Trace, step: u64) -> usize {
    let folded = trace.folded_events();
    if step >= trace.len() || step == 0 {
        return folded;
    }
    ((step - 1) / eventfold_core::trace::STEPS_PER_EVENT) as usize
}

fn matches(index: &[Meta], event: usize, key: Option<&Key>) -> bool {
    key.is_none() || index.get(event).and_then(|m| m.key.as_deref()) == key
}

/// Up to `count` indices of events (of `key`, when given) before `end`, oldest first.
fn before(index: &[Meta], end: usize, count: usize, key: Option<&Key>) -> Vec<usize> {
    let mut found: Vec<usize> = (0..end)
        .rev()
        .filter(|i| matches(index, *i, key))
        .take(count)
        .collect();
    found.reverse();
    found
}

/// The rows around `cursor`: a few events before it, its own, a few after, and the
/// final row when the cursor is there.
pub fn window(trace: &Trace, index: &[Meta], cursor: u64, key: Option<&Key>) -> Vec<LiveRow> {
    let folded = trace.folded_events();
    let current = event_of(trace, cursor);
    let mut events = before(index, current, EVENTS_BEFORE, key);
    if current < folded && matches(index, current, key) {
        events.push(current);
    }
    events.extend(
        (current + 1..folded)
            .filter(|i| matches(index, *i, key))
            .take(EVENTS_AFTER),
    );
    let mut steps: Vec<u64> = events
        .iter()
        .flat_map(|i| {
            let first = trace.step_of(*i, Phase::Command);
            first..first + eventfold_core::trace::STEPS_PER_EVENT
        })
        .collect();
    if current >= folded || events.last() == Some(&(folded.saturating_sub(1))) {
        steps.push(trace.len());
    }
    steps
        .into_iter()
        .filter_map(|n| row(trace, index, n))
        .collect()
}

fn row(trace: &Trace, index: &[Meta], n: u64) -> Option<LiveRow> {
    let step = trace.step(n)?;
    let meta = step.event_index.and_then(|i| index.get(i));
    let record = meta.map(|m| (m.partition, m.offset));
    let key = meta.and_then(|m| m.key.clone());
    Some(LiveRow {
        row: replay::row(trace, step),
        record,
        key,
    })
}

/// What the consumer printed for the last events up to `cursor`, oldest first.
pub fn console(trace: &Trace, index: &[Meta], cursor: u64, key: Option<&Key>) -> Vec<String> {
    let current = event_of(trace, cursor);
    let mut events = before(index, current, CONSOLE_LINES, key);
    if current < trace.folded_events()
        && matches(index, current, key)
        && cursor >= trace.step_of(current, Phase::Print)
    {
        events.push(current);
    }
    events
        .into_iter()
        .filter_map(|i| trace.step(trace.step_of(i, Phase::Print)))
        .map(|s| s.output_text().to_owned())
        .collect()
}
