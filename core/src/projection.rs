//! The projection trait: how one event changes one aggregate's state.
//!
//! A projection is pure and synchronous. It gets the state of the event's aggregate and
//! the envelope, and either changes the state or says why it cannot. It never sees a
//! clock, a socket or another aggregate.

use std::borrow::Cow;

use serde_json::Value;

use crate::envelope::{Envelope, Key, Payload};

/// Which aggregate an event belongs to. `None` is the single aggregate of a log
/// whose events carry no id (the seeds' one bank account); `Some` holds the record's
/// key, or the payload field a projection reads its id from, exactly (see [`Key`]):
/// distinct keys are distinct aggregates, however they are displayed.
pub type AggregateId = Option<Key>;

/// The name an aggregate is shown under, the one display every view uses: the key's
/// text, bytes as `0x…` hex, and [`NO_ID`](crate::fold::NO_ID) (`(no key)`) for the
/// aggregate of events without an id. Two aggregates can share a name (the text key
/// `(no key)` and no key at all); what must tell them apart uses the id itself or
/// [`aggregate_json`].
pub fn aggregate_name(id: &AggregateId) -> Cow<'_, str> {
    match id {
        None => Cow::Borrowed(crate::fold::NO_ID),
        Some(Key::Text(text)) => Cow::Borrowed(text),
        Some(key) => Cow::Owned(key.to_string()),
    }
}

/// An aggregate id's exact JSON form: `null` for no id, a string for a text key,
/// `{"bytes_hex":"41ff"}` for a key that is not UTF-8. Distinct ids have distinct forms.
pub fn aggregate_json(id: &AggregateId) -> Value {
    id.as_ref().map_or(Value::Null, Key::to_json)
}

/// The aggregate id of a payload field: a string is a text key; a number is the text
/// of the number as the payload wrote it, so `123` and `"123"` name one aggregate (an
/// id field that one producer writes as a number and another as a string is still one
/// order), while `1.0` and `1` stay two (their text differs). Anything else is an error.
pub fn field_id(
    map: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<AggregateId, ApplyError> {
    match field(map, name) {
        None => Err(ApplyError::MissingField { field: name.into() }),
        Some(Value::String(s)) => Ok(Some(Key::Text(s.clone()))),
        Some(Value::Number(n)) => Ok(Some(Key::Text(n.to_string()))),
        Some(other) => Err(wrong_type(name, "a string or a number", other)),
    }
}

/// Why a projection could not apply an event. The fold adds the partition and offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Undecodable(String),
    #[error("value is a JSON {0}, expected an object")]
    NotAnObject(&'static str),
    #[error("field `{field}` is missing")]
    MissingField { field: String },
    #[error("field `{field}` must be {expected}, got {got}")]
    WrongType {
        field: String,
        expected: &'static str,
        got: String,
    },
    #[error("unknown event type {got} in field `{field}` (expected {expected})")]
    UnknownEventType {
        field: String,
        got: String,
        expected: String,
    },
    #[error("field `{field}` overflows: {message}")]
    Overflow { field: String, message: String },
    #[error("a tombstone (null value) needs a key to name the aggregate it deletes")]
    TombstoneWithoutKey,
    #[error("rule {rule}: {message}")]
    Rule { rule: String, message: String },
}

/// The texts of one event's rows in the process table (seed 001's Action column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narration {
    /// Step "receive command", e.g. "Receive new order command".
    pub command: String,
    /// Step "produce event", e.g. "Produce event to Kafka".
    pub produce: String,
    /// Step "apply event", e.g. "Apply event to state".
    pub apply: String,
}

impl Default for Narration {
    fn default() -> Self {
        Narration {
            command: "Receive command".into(),
            produce: "Produce event to Kafka".into(),
            apply: "Apply event to state".into(),
        }
    }
}

/// A pure, synchronous fold step over JSON state.
///
/// Contract: when `apply` returns an error, `state` is unchanged. The fold relies on
/// this to keep going after a bad event without losing what came before.
pub trait Projection: Send + Sync {
    /// Short stable name, e.g. `bank`.
    fn name(&self) -> &str;

    /// The state of an aggregate before its first event.
    fn initial(&self) -> Value;

    /// The aggregate an event belongs to. The default is the record's key.
    fn aggregate_id(&self, envelope: &Envelope) -> Result<AggregateId, ApplyError> {
        Ok(envelope.aggregate_key())
    }

    /// Applies one event to its aggregate's state. Setting the state to `null`
    /// deletes the aggregate (what a tombstone does), so its next event starts again
    /// from [`Projection::initial`].
    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError>;

    /// The aggregate of an event when it can be told without reading the payload (the
    /// record's key, or the one aggregate of a projection without ids); `None` when it
    /// comes from the payload. Only a projection that answers here gets the text fast
    /// path ([`Projection::apply_text`]).
    fn aggregate_without_payload(&self, _envelope: &Envelope) -> Option<AggregateId> {
        None
    }

    /// The fast path of a long fold: applies an event given as its JSON text without
    /// building a JSON tree, and returns true; or returns false, with `state`
    /// untouched, when it cannot (any shape it does not expect, any error). The fold
    /// then decodes the text and calls [`Projection::apply`], so results and error
    /// messages are always the general path's. Called only when
    /// [`Projection::aggregate_without_payload`] named the aggregate, and never with a
    /// null state.
    fn apply_text(&self, _state: &mut Value, _text: &[u8]) -> bool {
        false
    }

    /// How the event is named in the table and in the topic, e.g. `orderCreatedEvent`.
    fn label(&self, envelope: &Envelope) -> String {
        default_label(envelope)
    }

    /// The action texts of the event's rows.
    fn narration(&self, _envelope: &Envelope) -> Narration {
        Narration::default()
    }

    /// What "print updated state" prints, e.g. `Current balance: 120`.
    fn render(&self, state: &Value) -> String {
        crate::display::js(state)
    }
}

/// A label for events a projection cannot name: the `type` or `event` field, else the
/// offset.
pub fn default_label(envelope: &Envelope) -> String {
    match &envelope.value {
        Payload::Json(Value::Object(map)) => ["type", "event", "eventType"]
            .iter()
            .find_map(|f| map.get(*f).and_then(Value::as_str))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("event@{}", envelope.offset)),
        Payload::Json(_) => format!("event@{}", envelope.offset),
        Payload::Tombstone => format!("tombstone({})", envelope.key_text().unwrap_or_default()),
        Payload::Raw { .. } => format!("bytes@{}", envelope.offset),
    }
}

/// The JSON object of an event, or why there is none.
pub fn payload_object(envelope: &Envelope) -> Result<&serde_json::Map<String, Value>, ApplyError> {
    match &envelope.value {
        Payload::Json(Value::Object(map)) => Ok(map),
        Payload::Json(other) => Err(ApplyError::NotAnObject(json_kind(other))),
        Payload::Tombstone => Err(ApplyError::NotAnObject("null")),
        Payload::Raw { error, .. } => Err(ApplyError::Undecodable(error.clone())),
    }
}

/// A field of a JSON object. An event has a handful of fields: comparing their names
/// one by one costs less than hashing the name (serde_json's map hashes with SipHash),
/// and it keeps the fold fast in the page's wasm, where eventfold-core is optimised
/// for size and the hasher is not inlined (docs/perf.md, "Page size").
pub fn field<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    if map.len() <= 8 {
        map.iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    } else {
        map.get(name)
    }
}

/// A required string field.
pub fn str_field<'a>(
    map: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<&'a str, ApplyError> {
    match self::field(map, field) {
        None => Err(ApplyError::MissingField {
            field: field.into(),
        }),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// A required integer field (JSON number without a fraction, within i64).
pub fn int_field(map: &serde_json::Map<String, Value>, field: &str) -> Result<i64, ApplyError> {
    match self::field(map, field) {
        None => Err(ApplyError::MissingField {
            field: field.into(),
        }),
        Some(v @ Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(i),
            // A whole number too large for i64 (up to u64's range) is an integer
            // nonetheless: say what is wrong with it, not that it is no integer.
            None if n.is_u64() => Err(ApplyError::Overflow {
                field: field.into(),
                message: format!("{n} is beyond the range of a 64-bit integer"),
            }),
            None => Err(wrong_type(field, "an integer", v)),
        },
        Some(other) => Err(wrong_type(field, "an integer", other)),
    }
}

/// A `WrongType` error quoting (a short form of) the offending value.
pub fn wrong_type(field: &str, expected: &'static str, got: &Value) -> ApplyError {
    let mut text = got.to_string();
    if text.len() > 40 {
        let cut = (0..=37)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    ApplyError::WrongType {
        field: field.into(),
        expected,
        got: text,
    }
}

/// The JSON kind of a value, for messages.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
