//! The Kafka side of the bridge, on rdkafka (librdkafka built from the crate).
//!
//! # Layout
//!
//! - [`config`]: [`KafkaArgs`] (`--brokers`, `-X`, `--allow-unsafe-client-config`) and
//!   the librdkafka client configuration built from them.
//! - [`backend`]: [`KafkaBackend`], the [`crate::backend::Backend`] over a real cluster:
//!   topics and watermarks, subscriptions (assign + explicit offsets, no group, no
//!   commits), idempotent produce with the murmur2 partitioner.
//! - [`subscription`]: the pump thread of one subscription, and [`subscription::record`],
//!   the wire form of a Kafka record.
//! - [`topic`]: reading a topic up to its high watermarks, for `eventfold replay --topic`.
//! - [`memory`]: handing freed memory back to the system when subscriptions end.
//! - `hub`: shared tails — caught-up subscriptions of a topic share one consumer.
//! - [`watchdog`]: rebuilds a subscription that stalls while records wait (the decision
//!   is the pure [`watchdog::stalled`]).

pub mod backend;
pub mod config;
pub(crate) mod hub;
pub mod memory;
pub mod subscription;
pub mod topic;
pub mod watchdog;

pub use backend::KafkaBackend;
pub use config::{ConfigError, KafkaArgs, Setting};
