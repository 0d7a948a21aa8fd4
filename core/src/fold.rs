//! The fold itself: `state = fold(apply, initial, events)`, one aggregate per id.
//!
//! [`Folder`] consumes envelopes one at a time, so a live topic, a file and a lesson
//! all fold the same way, and folding in chunks equals folding all at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::envelope::{Envelope, Key, Payload};
use crate::projection::{AggregateId, ApplyError, Projection, aggregate_json, aggregate_name};

/// The name under which events without an aggregate id appear when other events of
/// the same log do have one (see [`aggregate_name`]).
pub const NO_ID: &str = "(no key)";

/// An event the projection rejected, with where it sits in the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset} (partition {partition}): {error}")]
pub struct FoldError {
    pub partition: i32,
    pub offset: i64,
    pub error: ApplyError,
}

/// What to do with a bad event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Report it as an error row and keep folding (the default).
    #[default]
    Lenient,
    /// Stop at the first bad event.
    Strict,
}

/// The folded state of every aggregate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    aggregates: BTreeMap<AggregateId, Value>,
}

impl View {
    /// The state of one aggregate, if it has one.
    pub fn get(&self, id: &AggregateId) -> Option<&Value> {
        self.aggregates.get(id)
    }

    /// All aggregates, in id order (the id-less aggregate first).
    pub fn iter(&self) -> impl Iterator<Item = (&AggregateId, &Value)> {
        self.aggregates.iter()
    }

    /// The key of the aggregate shown as `name` (a key the page's filter was given as
    /// text): the text key `name` when the view has one, else the bytes key that
    /// displays as `name` (`0x41ff`), else `None`. A text key wins a tie because it is
    /// what the user typed, letter for letter.
    pub fn key_named(&self, name: &str) -> Option<Key> {
        let text = Some(Key::Text(name.to_owned()));
        if self.aggregates.contains_key(&text) {
            return text;
        }
        let bytes = crate::envelope::unhex(name.strip_prefix("0x")?)?;
        let bytes = Some(Key::Bytes(bytes));
        self.aggregates
            .contains_key(&bytes)
            .then_some(bytes)
            .flatten()
    }

    /// Number of aggregates.
    pub fn len(&self) -> usize {
        self.aggregates.len()
    }

    /// True when no aggregate has state yet.
    pub fn is_empty(&self) -> bool {
        self.aggregates.is_empty()
    }

    /// The view as one JSON value: the state itself when no event carried an aggregate
    /// id (the seeds' single account), otherwise an object from each aggregate's name
    /// ([`aggregate_name`]: the key's text, bytes as `0x…`, id-less events under
    /// [`NO_ID`]) to its state. An empty view is the projection's initial state.
    ///
    /// Names can collide: the text key `(no key)` next to events without a key, or the
    /// text key `0x41ff` next to the bytes `41 ff`. An object cannot hold both, and
    /// merging or dropping one would lie, so a view with a collision is the exact list
    /// of [`View::to_exact_json`] instead. Readers that must never guess use that one.
    pub fn to_json(&self, projection: &dyn Projection) -> Value {
        match self.aggregates.len() {
            0 => projection.initial(),
            1 if self.aggregates.contains_key(&None) => self.aggregates[&None].clone(),
            n => {
                let object: Map<String, Value> = self
                    .aggregates
                    .iter()
                    .map(|(id, state)| (aggregate_name(id).into_owned(), state.clone()))
                    .collect();
                if object.len() == n {
                    Value::Object(object)
                } else {
                    self.to_exact_json()
                }
            }
        }
    }

    /// The view as a list that names each aggregate exactly:
    /// `[{"key":null,"state":…},{"key":"alice","state":…},{"key":{"bytes_hex":"41ff"},"state":…}]`
    /// ([`aggregate_json`]), in the view's order. Distinct aggregates never share an
    /// entry's `key`, whatever their display.
    pub fn to_exact_json(&self) -> Value {
        Value::Array(
            self.aggregates
                .iter()
                .map(|(id, state)| {
                    let mut entry = Map::new();
                    entry.insert("key".into(), aggregate_json(id));
                    entry.insert("state".into(), state.clone());
                    Value::Object(entry)
                })
                .collect(),
        )
    }
}

/// What folding one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The event changed (or deleted) the state of this aggregate.
    Applied(AggregateId),
    /// The projection rejected the event; the state is unchanged.
    Failed(AggregateId, FoldError),
    /// Not folded: an earlier event stopped a strict fold.
    Skipped,
}

impl Outcome {
    /// The aggregate the event touched, if known.
    pub fn aggregate(&self) -> Option<&AggregateId> {
        match self {
            Outcome::Applied(id) | Outcome::Failed(id, _) => Some(id),
            Outcome::Skipped => None,
        }
    }

    /// The error, if the event was rejected.
    pub fn error(&self) -> Option<&FoldError> {
        match self {
            Outcome::Failed(_, error) => Some(error),
            _ => None,
        }
    }
}

/// One event folded by [`Folder::step`]: its outcome and its aggregate's state around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stepped {
    pub outcome: Outcome,
    pub before: Value,
    pub after: Value,
}

/// An incremental fold over one projection.
#[derive(Clone)]
pub struct Folder {
    projection: Arc<dyn Projection>,
    mode: Mode,
    view: View,
    errors: Vec<FoldError>,
    halted: bool,
}

impl Folder {
    pub fn new(projection: Arc<dyn Projection>, mode: Mode) -> Folder {
        Folder {
            projection,
            mode,
            view: View::default(),
            errors: Vec::new(),
            halted: false,
        }
    }

    /// Starts from a saved view (a snapshot) instead of the empty one.
    pub fn resume(projection: Arc<dyn Projection>, mode: Mode, view: View) -> Folder {
        Folder {
            view,
            ..Folder::new(projection, mode)
        }
    }

    pub fn projection(&self) -> &Arc<dyn Projection> {
        &self.projection
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// Errors seen so far, in log order.
    pub fn errors(&self) -> &[FoldError] {
        &self.errors
    }

    /// True once a strict fold met a bad event; later events are skipped.
    pub fn halted(&self) -> bool {
        self.halted
    }

    /// Folds one event.
    pub fn push(&mut self, envelope: &Envelope) -> Outcome {
        if self.halted {
            return Outcome::Skipped;
        }
        // A tombstone has no payload to read an id from: its key names the aggregate.
        let id = if envelope.value == Payload::Tombstone {
            Ok(envelope.aggregate_key())
        } else {
            self.projection.aggregate_id(envelope)
        };
        let id = match id {
            Ok(id) => id,
            Err(error) => return self.fail(None, envelope, error),
        };
        match apply_to(&mut self.view, &*self.projection, &id, envelope) {
            Ok(()) => Outcome::Applied(id),
            Err(error) => self.fail(id, envelope, error),
        }
    }

    /// Folds one event whose value is the JSON `text`, through the projection's fast
    /// path when it has one ([`Projection::apply_text`]); otherwise, or when the fast
    /// path declines, `envelope.value` is set to the decoded text and the event is
    /// folded as [`Folder::push`] does. The outcome, the state and the errors are those
    /// of `push` either way. `envelope.value` is read only in the second case.
    pub fn push_text(&mut self, envelope: &mut Envelope, text: &[u8]) -> Outcome {
        if !self.halted
            && let Some(id) = self.projection.aggregate_without_payload(envelope)
        {
            let projection = &*self.projection;
            let applied = match self.view.aggregates.get_mut(&id) {
                Some(state) => projection.apply_text(state, text),
                None => {
                    let mut state = projection.initial();
                    let applied = !state.is_null() && projection.apply_text(&mut state, text);
                    if applied && !state.is_null() {
                        self.view.aggregates.insert(id.clone(), state);
                    }
                    applied
                }
            };
            if applied {
                if self.view.aggregates.get(&id).is_some_and(Value::is_null) {
                    self.view.aggregates.remove(&id);
                }
                return Outcome::Applied(id);
            }
        }
        envelope.value = Payload::decode(Some(text));
        self.push(envelope)
    }

    /// Folds one event as [`Folder::push`] does, and says what its aggregate held
    /// before and after: what a row of the process table shows. `before` is the
    /// projection's initial state for a new aggregate; `after` is `null` once the event
    /// deleted it.
    pub fn step(&mut self, envelope: &Envelope) -> Stepped {
        // The aggregate the outcome will name: none for a skipped event, and none when
        // the projection cannot tell (the outcome is then `Failed(None, …)`).
        let id = if self.halted {
            None
        } else if envelope.value == Payload::Tombstone {
            envelope.aggregate_key()
        } else {
            self.projection.aggregate_id(envelope).unwrap_or(None)
        };
        let before = self
            .view
            .aggregates
            .get(&id)
            .cloned()
            .unwrap_or_else(|| self.projection.initial());
        let outcome = self.push(envelope);
        let after = self
            .view
            .aggregates
            .get(outcome.aggregate().unwrap_or(&None))
            .cloned()
            .unwrap_or(Value::Null);
        Stepped {
            outcome,
            before,
            after,
        }
    }

    /// Folds a batch of events.
    pub fn extend<'a>(&mut self, envelopes: impl IntoIterator<Item = &'a Envelope>) {
        for envelope in envelopes {
            self.push(envelope);
        }
    }

    fn fail(&mut self, id: AggregateId, envelope: &Envelope, error: ApplyError) -> Outcome {
        let error = FoldError {
            partition: envelope.partition,
            offset: envelope.offset,
            error,
        };
        self.errors.push(error.clone());
        if self.mode == Mode::Strict {
            self.halted = true;
        }
        Outcome::Failed(id, error)
    }
}

/// Applies one event to its aggregate in `view`, leaving the view unchanged on error.
fn apply_to(
    view: &mut View,
    projection: &dyn Projection,
    id: &AggregateId,
    envelope: &Envelope,
) -> Result<(), ApplyError> {
    if envelope.value == Payload::Tombstone {
        // A tombstone deletes the aggregate, as log compaction would.
        if id.is_none() {
            return Err(ApplyError::TombstoneWithoutKey);
        }
        view.aggregates.remove(id);
        return Ok(());
    }
    match view.aggregates.get_mut(id) {
        Some(state) => {
            projection.apply(state, envelope)?;
            if state.is_null() {
                view.aggregates.remove(id);
            }
        }
        None => {
            let mut state = projection.initial();
            projection.apply(&mut state, envelope)?;
            if !state.is_null() {
                view.aggregates.insert(id.clone(), state);
            }
        }
    }
    Ok(())
}

/// Folds a whole log at once.
pub fn fold(projection: Arc<dyn Projection>, mode: Mode, events: &[Envelope]) -> Folder {
    let mut folder = Folder::new(projection, mode);
    folder.extend(events);
    folder
}
