//! Declarative projections: a projection written as JSON, folded with no compiling.
//!
//! A user writes a [`Spec`] in the page's editor or passes it to `eventfold replay
//! --projection SPEC.json`. The spec says which payload field names the event type,
//! where the aggregate id comes from, the state before the first event, and per event
//! type a list of rules (add, subtract, set, merge, delete, append, count) plus the
//! texts of the process table. The full format, with examples, is in
//! `docs/projections.md`.
//!
//! ```
//! use eventfold_core::decl::Spec;
//! use eventfold_core::{Envelope, Projection};
//! use serde_json::json;
//!
//! let spec = Spec::parse(r#"{
//!     "type_field": "type",
//!     "initial": {"balance": 0},
//!     "events": {"deposit": {"rules": [{"add": "balance", "from": "amount"}]}}
//! }"#).unwrap();
//! let mut state = spec.initial();
//! let event = Envelope::json("bank", 0, json!({"type": "deposit", "amount": 100}));
//! spec.apply(&mut state, &event).unwrap();
//! assert_eq!(state, json!({"balance": 100}));
//! ```
//!
//! The three built-in projections have declarative twins ([`twin`]) that fold exactly
//! as they do; the page offers them as starting points.

mod parse;
mod rule;
mod template;
pub(crate) mod text;

use std::str::FromStr;

use serde_json::{Map, Value};

use crate::envelope::Envelope;
use crate::projection::{
    AggregateId, ApplyError, Narration, Projection, default_label, field_id, payload_object,
    str_field, wrong_type,
};
use rule::Rule;
use template::{Template, text_of};
use text::{Fields, TextObject};

/// The handler key that takes events of any type not listed (or every event when the
/// spec has no `type_field`).
pub const WILDCARD: &str = "*";

/// Names of the built-ins that have a declarative twin.
pub const TWINS: [&str; 3] = ["bank", "orders", "users"];

/// The spec text of a built-in projection's declarative twin, e.g. `twin("bank")`.
/// Each twin folds any log exactly as its built-in does (checked in `tests/decl.rs`).
pub fn twin(name: &str) -> Option<&'static str> {
    match name {
        "bank" => Some(include_str!("../specs/bank.json")),
        "orders" => Some(include_str!("../specs/orders.json")),
        "users" => Some(include_str!("../specs/users.json")),
        _ => None,
    }
}

/// Why a spec cannot be used. Each error names its place, so the page can show it
/// next to the mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The text is not JSON (or has a key twice in one object).
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// The JSON is not a valid spec. `path` is where, e.g. `events.deposit.rules[1]`;
    /// empty for the spec object itself.
    #[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Invalid { path: String, message: String },
}

impl SpecError {
    /// Where the mistake is: a path such as `events.deposit.rules[1]` (empty for the
    /// whole spec), or `None` for a JSON syntax error, which has a line and column.
    pub fn path(&self) -> Option<&str> {
        match self {
            SpecError::Json { .. } => None,
            SpecError::Invalid { path, .. } => Some(path),
        }
    }
}

/// Where an event's aggregate id comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateFrom {
    /// The Kafka record key (the default): keyless events share one aggregate.
    Key,
    /// A payload field holding a string or a number.
    Field(String),
    /// No aggregates: every event folds into one state, whatever its key.
    None,
}

/// What a payload field must hold for a handler to accept the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    String,
    Number,
    Integer,
    Boolean,
    Object,
    Array,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Any,
        Kind::String,
        Kind::Number,
        Kind::Integer,
        Kind::Boolean,
        Kind::Object,
        Kind::Array,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Any => "any",
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
            Kind::Object => "object",
            Kind::Array => "array",
        }
    }

    fn parse(value: &Value) -> Option<Kind> {
        let name = value.as_str()?;
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The phrase of a wrong-type error, as the built-ins word it.
    fn expected(self) -> &'static str {
        match self {
            Kind::Any => "any value",
            Kind::String => "a string",
            Kind::Number => "a number",
            // Integers are what fits in i64, as for the typed projections.
            Kind::Integer => "an integer",
            Kind::Boolean => "a boolean",
            Kind::Object => "an object",
            Kind::Array => "an array",
        }
    }

    fn admits(self, value: &Value) -> bool {
        match self {
            Kind::Any => true,
            Kind::String => value.is_string(),
            Kind::Number => value.is_number(),
            Kind::Integer => value.as_i64().is_some(),
            Kind::Boolean => value.is_boolean(),
            Kind::Object => value.is_object(),
            Kind::Array => value.is_array(),
        }
    }
}

/// Optional templates for the three narrated rows of an event.
#[derive(Debug, Clone, Default)]
struct Texts {
    command: Option<Template>,
    produce: Option<Template>,
    apply: Option<Template>,
}

/// What a spec does with one event type.
#[derive(Debug, Clone)]
struct Handler {
    event_type: String,
    label: Option<Template>,
    texts: Texts,
    /// Payload fields the event must carry, checked before any rule runs.
    fields: Vec<(String, Kind)>,
    rules: Vec<Rule>,
}

impl Handler {
    fn kind_of(&self, field: &str) -> Option<Kind> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, kind)| *kind)
    }

    fn check_fields<P: Fields + ?Sized>(&self, payload: &P) -> Result<(), ApplyError> {
        for (field, kind) in &self.fields {
            // An integer, the common field, is checked without building its `Value`.
            if let Some(n) = payload.int(field)
                && kind.admits(&Value::from(n))
            {
                continue;
            }
            match payload.value(field) {
                None => {
                    return Err(ApplyError::MissingField {
                        field: field.clone(),
                    });
                }
                Some(value) if !kind.admits(&value) => {
                    return Err(wrong_type(field, kind.expected(), &value));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Runs the rules on `state`, which is left as it was when one fails (the
    /// `Projection` contract). Each rule alone changes the state only once it cannot
    /// fail any more, so a single rule runs in place; several run on a copy, kept only
    /// when all of them succeed.
    fn run_rules<P: Fields + ?Sized>(
        &self,
        initial: &Value,
        state: &mut Value,
        payload: &P,
    ) -> Result<(), ApplyError> {
        if state.is_null() {
            let mut next = initial.clone();
            for rule in &self.rules {
                rule.run(&mut next, payload)?;
            }
            *state = next;
            return Ok(());
        }
        if let [rule] = self.rules.as_slice() {
            return rule.run(state, payload);
        }
        let mut next = state.clone();
        for rule in &self.rules {
            rule.run(&mut next, payload)?;
        }
        *state = next;
        Ok(())
    }
}

/// A declarative projection, parsed and checked. See the module docs and
/// `docs/projections.md` for the format.
#[derive(Debug, Clone)]
pub struct Spec {
    name: String,
    description: Option<String>,
    type_field: Option<String>,
    aggregate: AggregateFrom,
    initial: Value,
    label: Option<Template>,
    output: Option<Template>,
    texts: Texts,
    /// Handlers of listed event types, in spec order.
    handlers: Vec<Handler>,
    wildcard: Option<Handler>,
    /// The listed types, worded for an unknown-type error.
    expected: String,
}

impl Spec {
    /// Parses and checks spec text. The error names the place of the first mistake.
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        parse::spec(text)
    }

    /// The spec's `description`, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The payload field naming the event type, if any.
    pub fn type_field(&self) -> Option<&str> {
        self.type_field.as_deref()
    }

    /// Where aggregate ids come from.
    pub fn aggregate(&self) -> &AggregateFrom {
        &self.aggregate
    }

    /// The listed event types, in spec order (without the `*` handler).
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.handlers.iter().map(|h| h.event_type.as_str())
    }

    /// True when a `*` handler takes unlisted types.
    pub fn has_wildcard(&self) -> bool {
        self.wildcard.is_some()
    }

    /// The handler of an event, or why there is none.
    fn handler(&self, payload: &Map<String, Value>) -> Result<&Handler, ApplyError> {
        let Some(field) = &self.type_field else {
            // Parsing guarantees a `*` handler when there is no type field.
            return self.wildcard.as_ref().ok_or_else(|| ApplyError::Rule {
                rule: "events".into(),
                message: "the spec has no \"*\" handler".into(),
            });
        };
        let event_type = str_field(payload, field)?;
        self.handlers
            .iter()
            .find(|h| h.event_type == event_type)
            .or(self.wildcard.as_ref())
            .ok_or_else(|| ApplyError::UnknownEventType {
                field: field.clone(),
                got: format!("\"{event_type}\""),
                expected: self.expected.clone(),
            })
    }

    /// Renders templates for an event: its handler's first, then the spec's, then
    /// `default`. A field renders only when it holds what the spec expects there: the
    /// type field a string, a field the handler lists in `fields` its kind.
    fn event_text(
        &self,
        envelope: &Envelope,
        pick: impl Fn(&Handler) -> Option<&Template>,
        top: Option<&Template>,
        default: impl FnOnce() -> String,
    ) -> String {
        let payload = payload_object(envelope).ok();
        let handler = payload.and_then(|p| self.handler(p).ok());
        let resolve = |name: &str| -> Option<String> {
            let value = payload?.get(name)?;
            if self.type_field.as_deref() == Some(name) {
                return value.as_str().map(str::to_owned);
            }
            match handler.and_then(|h| h.kind_of(name)) {
                Some(kind) if !kind.admits(value) => None,
                _ => Some(text_of(value)),
            }
        };
        handler
            .and_then(&pick)
            .and_then(|t| t.render(&resolve))
            .or_else(|| top.and_then(|t| t.render(&resolve)))
            .unwrap_or_else(default)
    }
}

impl FromStr for Spec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text)
    }
}

impl Projection for Spec {
    fn name(&self) -> &str {
        &self.name
    }

    fn initial(&self) -> Value {
        self.initial.clone()
    }

    fn aggregate_without_payload(&self, envelope: &Envelope) -> Option<AggregateId> {
        match &self.aggregate {
            AggregateFrom::Key => Some(envelope.aggregate_key()),
            AggregateFrom::None => Some(None),
            AggregateFrom::Field(_) => None,
        }
    }

    fn apply_text(&self, state: &mut Value, text: &[u8]) -> bool {
        // Whatever would be an error is left to `apply`, which words it.
        let Some(payload) = TextObject::parse(text) else {
            return false;
        };
        let handler = match &self.type_field {
            None => self.wildcard.as_ref(),
            Some(field) => payload.str(field).and_then(|event_type| {
                self.handlers
                    .iter()
                    .find(|h| text::same(h.event_type.as_bytes(), event_type.as_bytes()))
                    .or(self.wildcard.as_ref())
            }),
        };
        let Some(handler) = handler else {
            return false;
        };
        handler.check_fields(&payload).is_ok()
            && handler.run_rules(&self.initial, state, &payload).is_ok()
    }

    fn aggregate_id(&self, envelope: &Envelope) -> Result<AggregateId, ApplyError> {
        match &self.aggregate {
            AggregateFrom::Key => Ok(envelope.aggregate_key()),
            AggregateFrom::None => Ok(None),
            AggregateFrom::Field(field) => field_id(payload_object(envelope)?, field),
        }
    }

    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError> {
        let payload = payload_object(envelope)?;
        let handler = self.handler(payload)?;
        handler.check_fields(payload)?;
        handler.run_rules(&self.initial, state, payload)
    }

    fn label(&self, envelope: &Envelope) -> String {
        // A record that is no JSON object (a tombstone, bytes) keeps the label that
        // says what it is.
        if payload_object(envelope).is_err() {
            return default_label(envelope);
        }
        self.event_text(
            envelope,
            |h| h.label.as_ref(),
            self.label.as_ref(),
            || default_label(envelope),
        )
    }

    fn narration(&self, envelope: &Envelope) -> Narration {
        let default = Narration::default();
        Narration {
            command: self.event_text(
                envelope,
                |h| h.texts.command.as_ref(),
                self.texts.command.as_ref(),
                || default.command,
            ),
            produce: self.event_text(
                envelope,
                |h| h.texts.produce.as_ref(),
                self.texts.produce.as_ref(),
                || default.produce,
            ),
            apply: self.event_text(
                envelope,
                |h| h.texts.apply.as_ref(),
                self.texts.apply.as_ref(),
                || default.apply,
            ),
        }
    }

    fn render(&self, state: &Value) -> String {
        let resolve = |name: &str| state.get(name).map(text_of);
        self.output
            .as_ref()
            .and_then(|t| t.render(&resolve))
            .unwrap_or_else(|| crate::display::js(state))
    }
}
