//! Deduplication on an event id: the fix for at-least-once delivery.
//!
//! Kafka delivers at least once: a producer that retries, or a consumer that resumes
//! from an older committed offset, can hand the fold the same event twice, and a
//! deposit applied twice counts double. [`Dedupe`] wraps any projection and remembers
//! the ids of the events it has applied, per aggregate, in the aggregate's own state,
//! so the memory of what was applied is saved and restored with the state it guards.
//! An event whose id was seen already is accepted and changes nothing.

use std::sync::Arc;

use serde_json::Value;

use crate::envelope::Envelope;
use crate::projection::{
    AggregateId, ApplyError, Narration, Projection, json_kind, payload_object, wrong_type,
};

/// The state field that lists the ids applied so far.
pub const SEEN_FIELD: &str = "seenEventIds";

/// A projection that applies each event id at most once per aggregate.
#[derive(Clone)]
pub struct Dedupe {
    inner: Arc<dyn Projection>,
    id_field: String,
    name: String,
}

impl Dedupe {
    /// Wraps `inner`, reading each event's id from the payload field `id_field`
    /// (a string or an integer). The projection is named `<inner>+dedupe`.
    pub fn new(inner: Arc<dyn Projection>, id_field: &str) -> Dedupe {
        Dedupe {
            name: format!("{}+dedupe", inner.name()),
            id_field: id_field.to_owned(),
            inner,
        }
    }

    /// The event's id as text, or why it has none.
    fn event_id(&self, envelope: &Envelope) -> Result<String, ApplyError> {
        let event = payload_object(envelope)?;
        match event.get(&self.id_field) {
            None => Err(ApplyError::MissingField {
                field: self.id_field.clone(),
            }),
            Some(Value::String(id)) => Ok(id.clone()),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            Some(other) => Err(wrong_type(&self.id_field, "a string or an integer", other)),
        }
    }
}

/// The state without the list of seen ids: what the wrapped projection sees.
fn inner_state(state: &Value) -> Value {
    let mut inner = state.clone();
    if let Value::Object(map) = &mut inner {
        map.remove(SEEN_FIELD);
    }
    inner
}

impl Projection for Dedupe {
    fn name(&self) -> &str {
        &self.name
    }

    fn initial(&self) -> Value {
        let mut state = self.inner.initial();
        if let Value::Object(map) = &mut state {
            map.insert(SEEN_FIELD.into(), Value::Array(Vec::new()));
        }
        state
    }

    fn aggregate_id(&self, envelope: &Envelope) -> Result<AggregateId, ApplyError> {
        self.inner.aggregate_id(envelope)
    }

    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError> {
        let id = self.event_id(envelope)?;
        let seen = match state.get(SEEN_FIELD) {
            None => Vec::new(),
            Some(Value::Array(ids)) => ids.clone(),
            Some(other) => {
                return Err(ApplyError::WrongType {
                    field: SEEN_FIELD.into(),
                    expected: "an array",
                    got: json_kind(other).into(),
                });
            }
        };
        if seen.iter().any(|s| s.as_str() == Some(id.as_str())) {
            // Already applied: at-least-once delivery brought it again.
            return Ok(());
        }
        let mut next = inner_state(state);
        self.inner.apply(&mut next, envelope)?;
        match &mut next {
            Value::Object(map) => {
                let mut seen = seen;
                seen.push(Value::String(id));
                map.insert(SEEN_FIELD.into(), Value::Array(seen));
            }
            // The wrapped projection deleted the aggregate: its ids go with it.
            Value::Null => {}
            other => {
                return Err(ApplyError::Rule {
                    rule: "dedupe".into(),
                    message: format!(
                        "the state is a JSON {}, so it has no room to remember event ids",
                        json_kind(other)
                    ),
                });
            }
        }
        *state = next;
        Ok(())
    }

    fn label(&self, envelope: &Envelope) -> String {
        match self.event_id(envelope) {
            Ok(id) => format!("{} ({id})", self.inner.label(envelope)),
            Err(_) => self.inner.label(envelope),
        }
    }

    fn narration(&self, envelope: &Envelope) -> Narration {
        Narration {
            apply: "Apply event unless its id was applied already".into(),
            ..self.inner.narration(envelope)
        }
    }

    fn render(&self, state: &Value) -> String {
        self.inner.render(&inner_state(state))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::builtin;
    use crate::fold::{Mode, fold};

    fn bank_dedupe() -> Arc<dyn Projection> {
        Arc::new(Dedupe::new(builtin::by_name("bank").unwrap(), "eventId"))
    }

    /// Folds `values` (one per offset) and checks the rendered state and the errors.
    fn check(values: Vec<Value>, rendered: &str, errors: &[&str]) {
        let p = bank_dedupe();
        let events: Vec<Envelope> = (0i64..)
            .zip(values)
            .map(|(offset, v)| Envelope::json("t", offset, v))
            .collect();
        let folder = fold(p.clone(), Mode::Lenient, &events);
        assert_eq!(p.render(&folder.view().to_json(&*p)), rendered);
        let got: Vec<String> = folder
            .errors()
            .iter()
            .map(|e| e.error.to_string())
            .collect();
        assert_eq!(got, errors);
    }

    #[test]
    fn a_redelivered_deposit_counts_once() {
        let deposit = json!({"type": "deposit", "amount": 60, "eventId": "e-3"});
        check(
            vec![
                json!({"type": "deposit", "amount": 100, "eventId": "e-1"}),
                json!({"type": "withdrawal", "amount": 40, "eventId": "e-2"}),
                deposit.clone(),
                deposit,
            ],
            "Current balance: 120",
            &[],
        );
    }

    #[test]
    fn integer_ids_work_and_missing_or_odd_ids_are_errors() {
        check(
            vec![
                json!({"type": "deposit", "amount": 5, "eventId": 7}),
                json!({"type": "deposit", "amount": 5, "eventId": 7}),
                json!({"type": "deposit", "amount": 1}),
                json!({"type": "deposit", "amount": 1, "eventId": [1]}),
            ],
            "Current balance: 5",
            &[
                "field `eventId` is missing",
                "field `eventId` must be a string or an integer, got [1]",
            ],
        );
    }

    #[test]
    fn a_rejected_event_is_not_remembered() {
        // The first attempt fails (no amount); a corrected event with the same id
        // must still apply, or a fix could never get through.
        check(
            vec![
                json!({"type": "deposit", "eventId": "e-1"}),
                json!({"type": "deposit", "amount": 9, "eventId": "e-1"}),
            ],
            "Current balance: 9",
            &["field `amount` is missing"],
        );
    }

    #[test]
    fn the_state_shows_the_ids_and_labels_name_them() {
        let p = bank_dedupe();
        let e = Envelope::json(
            "t",
            0,
            json!({"type": "deposit", "amount": 1, "eventId": "a"}),
        );
        let folder = fold(p.clone(), Mode::Lenient, &[e.clone(), e.clone()]);
        assert_eq!(
            folder.view().to_json(&*p),
            json!({"balance": 1, "seenEventIds": ["a"]})
        );
        assert_eq!(p.label(&e), "deposit 1 (a)");
        assert_eq!(p.name(), "bank+dedupe");
    }
}
