//! The process table's rows as text: core folds and narrates, and the rows keep the
//! text the seeds print, so components never touch the domain types.

use std::rc::Rc;

use eventfold_core::{Trace, display, scenario};

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

/// Every row of `trace`, computed in one pass. The lessons are short, so the table
/// renders them all (a virtualised table for big logs is a later step).
pub fn rows(trace: &Trace) -> Rc<[Row]> {
    trace
        .steps()
        .map(|step| Row {
            step: step.step,
            topic: trace.topic_text(step.topic_len),
            state: display::js(&step.state),
            output: step.output_text().to_owned(),
            failed: step.error.is_some(),
            console: step.phase.writes_console(),
            action: step.action,
            event: step.event,
        })
        .collect()
}

/// What the consumer has printed by row `step`.
pub fn console_until(rows: &[Row], step: u64) -> Vec<String> {
    rows.iter()
        .take_while(|row| row.step <= step)
        .filter(|row| row.console)
        .map(|row| row.output.clone())
        .collect()
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
