//! What the page keeps: a session that survives a reload, and a trace exported as
//! JSON. Both are plain text here; the page does the storing and downloading.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::trace::Trace;

/// A learner's session: the lesson, the log and projection as edited, and the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub lesson: String,
    /// The event editor's text, exactly as typed.
    pub events: String,
    /// The projection picker's choice (`custom` for the editor's spec).
    pub projection: String,
    /// The projection editor's text, exactly as typed.
    pub spec: String,
    pub step: u64,
}

impl Session {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A stored session, or `None` when the text is not one (say, left by an older
    /// page), so a bad entry only costs the session, never the page.
    pub fn from_json(text: &str) -> Option<Session> {
        serde_json::from_str(text).ok()
    }
}

/// The process table as JSON: one object per row, with the seeds' columns and the
/// state as JSON, for a learner to keep or a tool to read.
pub fn trace_json(trace: &Trace) -> String {
    let rows: Vec<Value> = trace
        .steps()
        .map(|step| {
            let event = step.event_index.and_then(|i| trace.events().get(i));
            let event = event.as_ref();
            json!({
                "step": step.step,
                "phase": step.phase,
                "partition": event.map(|e| e.partition),
                "offset": event.map(|e| e.offset),
                "action": step.action,
                "event": step.event,
                "topic": trace.topic_text(step.topic_len),
                "state": step.state,
                "output": step.output_text(),
                "error": step.error.map(|e| e.to_string()),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({
        "projection": trace.projection().name(),
        "steps": rows,
    }))
    .unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mode, builtin, scenario};

    #[test]
    fn a_session_survives_its_json_and_a_bad_entry_is_none() {
        let session = Session {
            lesson: "bank".to_owned(),
            events: "{\"type\":\"deposit\",\"amount\":5}\n{bad".to_owned(),
            projection: "custom".to_owned(),
            spec: "{".to_owned(),
            step: 7,
        };
        assert_eq!(Session::from_json(&session.to_json()), Some(session));
        assert_eq!(Session::from_json("{\"lesson\":\"bank\"}"), None);
    }

    #[test]
    fn the_trace_json_has_every_row_with_its_state() {
        let lesson = scenario::bank();
        let trace = Trace::new(
            builtin::by_name("bank").unwrap(),
            Mode::Lenient,
            lesson.events,
        );
        let json: Value = serde_json::from_str(&trace_json(&trace)).unwrap();
        let steps = json["steps"].as_array().unwrap();
        assert_eq!(
            (
                steps.len(),
                &steps[3]["phase"],
                &steps[3]["state"],
                &steps[15]["output"]
            ),
            (
                16,
                &json!("apply"),
                &json!({"balance": 100}),
                &json!("Stop processing")
            )
        );
    }
}
