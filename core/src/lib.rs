//! eventfold-core: the event fold, `state = fold(apply, initial, events)`, made visible.
//!
//! This crate is pure: no I/O, no clock, no randomness, no threads. Offsets, keys and
//! timestamps arrive on the [`Envelope`]; everything else is computed from them. It
//! builds for `wasm32-unknown-unknown` and runs the same fold in the page and in the
//! bridge.
//!
//! # Layout
//!
//! - [`envelope`]: a Kafka record as the fold sees it ([`Envelope`], [`Payload`]).
//! - [`projection`]: the [`Projection`] trait (pure, synchronous `apply`) and its errors.
//! - [`decl`]: declarative projections a user writes as JSON ([`decl::Spec`]).
//! - [`builtin`]: the seeds' projections, `bank`, `orders` and `users`, as typed aggregates.
//! - [`fold`](mod@fold): the incremental [`Folder`], per-aggregate [`View`]s, lenient and strict modes.
//! - [`trace`]: the seeds' process table as a [`Trace`] of [`Step`]s, with snapshots for
//!   time travel ([`Cursor`]).
//! - [`scenario`]: the seeds' logs, ready to replay.
//! - [`compare`]: one log folded by two projections, or against its compacted form.
//! - [`sim`]: Kafka simulated: murmur2 partitioner, partitions and offsets, consumers
//!   that crash and restart, log compaction.
//! - [`ndjson`]: logs as NDJSON files (offset = line index).
//! - [`log`](mod@log): a trace's events stored compactly ([`log::Log`]), rebuilt on demand.
//! - [`display`]: state printed as the seeds print it (`{orderId: 123, status: 'created'}`).
//! - [`diff`]: what changed between two states, and state printed with it marked.
//! - [`edit`]: the event editor's text edited by buttons (append, delete, insert a copy).
//! - [`dedupe`]: a projection wrapper that applies each event id once.
//! - [`invariant`]: rules such as `balance >= 0` checked over a whole log.
//! - [`keep`]: a session kept across reloads, and a trace exported as JSON.
//! - [`quiz`]: multiple-choice questions generated from a trace.
//! - [`sample`]: generated logs for measurements (the same events natively and in the page).
//! - [`lesson`]: what the page shows of a step: flow stages, key moments, topic log,
//!   status tracker ([`lesson::Frame`]), and its `#scenario=…&step=…` address.
//! - [`share`]: an edited log in that address, so a link reproduces it.
//! - [`wire`]: the bridge protocol's types, shared by bridge and page.

pub mod builtin;
pub mod compare;
pub mod decl;
pub mod dedupe;
pub mod diff;
pub mod display;
pub mod edit;
pub mod envelope;
pub mod fold;
pub mod invariant;
pub mod keep;
pub mod lesson;
pub mod log;
pub mod ndjson;
pub mod projection;
pub mod quiz;
pub mod sample;
pub mod scenario;
pub mod share;
pub mod sim;
pub mod trace;
pub mod wire;

pub use envelope::{Envelope, Header, Key, Payload};
pub use fold::{FoldError, Folder, Mode, Outcome, Stepped, View, fold};
pub use projection::{
    AggregateId, ApplyError, Narration, Projection, aggregate_json, aggregate_name,
};
pub use scenario::Scenario;
pub use trace::{Cursor, Phase, Step, Trace};
