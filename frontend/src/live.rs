//! Live mode: the page folds a real Kafka topic through `eventfold serve`.
//!
//! The page connects to the bridge's `/ws` (its own origin by default), lists the
//! topics, subscribes with the start and projection the user picked (or the
//! `#live&topic=…` link named), and folds each batch of records into core's
//! [`Trace`](eventfold_core::Trace) as it arrives. Time travel, commands produced to
//! the topic, per-key aggregates and the resume after a lost connection all work on
//! that trace and on the offsets it holds. docs/protocol.md is the contract with the
//! bridge.
//!
//! Live mode is a page of its own (`live.html`, built into `dist/live/` by
//! `scripts/build-live`; its binary is `src/bin/live.rs`), so the simulator's
//! download does not carry it; the simulator sends `#live…` links there.
//!
//! # Layout
//!
//! - [`socket`]: one WebSocket, reported to Yew as plain events.
//! - [`session`]: one replay: the trace, the offsets held, progress, resume.
//! - [`rows`]: the rows around the cursor and the console, on demand from the trace.
//! - [`link`]: `#live&topic=…&projection=…&from=…` in the address bar.
//! - [`timer`]: the reconnect backoff's and batched renders' timer (gloo's), the clock.
//! - [`view`]: the live page, a Yew component that owns the socket and the session.

mod link;
mod rows;
mod session;
mod socket;
mod timer;
mod view;

pub use link::{current_hash, is_live, open_live_page};
pub use view::Live;
