//! What the page shows of a scenario: core folds it once, and the rows are kept as
//! the text the seeds print, so components never touch the domain types.

use std::rc::Rc;

use eventfold_core::{Mode, Phase, Trace, display, scenario};

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
}

/// A scenario replayed: its process table and what its consumer printed.
#[derive(Debug, PartialEq)]
pub struct Replay {
    pub title: &'static str,
    pub topic: &'static str,
    pub rows: Rc<[Row]>,
    /// The Output of every print row and of the final row, in order: what the
    /// seeds' consumer writes to its terminal.
    pub console: Rc<[String]>,
}

impl Replay {
    /// Replays scenario `id` leniently, as the seeds do.
    pub fn of(id: &str) -> Replay {
        // The picker and the address bar offer only `scenario::IDS`, so this
        // fallback is unreachable from the page; it keeps a stray id from blanking it.
        let scenario = scenario::by_id(id).unwrap_or_else(scenario::bank);
        let trace = Trace::new(scenario.projection, Mode::Lenient, scenario.events);

        let mut rows = Vec::new();
        let mut console = Vec::new();
        for step in trace.steps() {
            if matches!(step.phase, Phase::Print | Phase::End) {
                console.push(step.output_text().to_owned());
            }
            rows.push(Row {
                step: step.step,
                topic: trace.topic_text(step.topic_len),
                state: display::js(&step.state),
                output: step.output_text().to_owned(),
                failed: step.error.is_some(),
                action: step.action,
                event: step.event,
            });
        }
        Replay {
            title: scenario.title,
            topic: scenario.topic,
            rows: rows.into(),
            console: console.into(),
        }
    }
}

/// A scenario the picker offers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub id: &'static str,
    pub title: &'static str,
}

/// The built-in scenarios, in the order core lists them.
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
