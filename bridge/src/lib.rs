//! eventfold-bridge: the `eventfold` command.
//!
//! # Layout
//!
//! - [`backend`]: what a WebSocket session needs from Kafka ([`backend::Backend`]), and
//!   [`backend::NoKafka`] for a bridge that serves the page alone.
//! - [`cli`]: the command line (clap), dispatching to the subcommands.
//! - [`kafka`]: the rdkafka side: `--brokers`/`-X` options, [`kafka::KafkaBackend`]
//!   (subscriptions by assign + seek, no group, no commits; idempotent produce), and
//!   reading a topic for `replay --topic`.
//! - [`replay`]: `eventfold replay`, the fold of a lesson or an NDJSON file printed as
//!   the seeds' process table or as JSON.
//! - [`serve`]: `eventfold serve`, the page, the WebSocket at `/ws` (protocol v1,
//!   docs/protocol.md), `/healthz` and `/metrics`, generic over the backend.
//!
//! The Kafka side (`eventfold serve`, `replay` over a topic) is built on the same
//! core fold; see ARCHITECTURE.md.

pub mod backend;
pub mod cli;
pub mod kafka;
pub mod replay;
pub mod serve;
