//! Kafka, simulated faithfully: what a topic does to the events a projection folds.
//!
//! The simulator is pure like the rest of core. There is no broker, no clock and no
//! randomness: records get their partition from Kafka's own partitioner and their
//! offset from the partition they land in, and every timestamp is passed in.
//!
//! # Layout
//!
//! - [`partitioner`]: the Java client's default partitioner for keyed records
//!   (`murmur2`, `toPositive(h) % n`), which librdkafka's `murmur2_random` matches.
//! - [`topic`]: a [`SimTopic`] of partitions, each an append-only log with offsets,
//!   a high watermark and a log-start offset; log compaction with tombstones.
//! - [`consumer`]: a [`SimConsumer`] with positions and committed offsets that polls,
//!   folds, commits, crashes and restarts.
//! - [`modelling`]: seed 003's lesson, one order history modelled as whole-fact values
//!   and as deltas, and what compaction does to each.

pub mod consumer;
pub mod modelling;
pub mod partitioner;
pub mod topic;

pub use consumer::{RestartFrom, SimConsumer};
pub use partitioner::{murmur2, partition_for_key, to_positive};
pub use topic::{CleanupPolicy, MAX_PARTITIONS, PartitionLog, SimTopic, Tombstones};

/// Why the simulator refused a request. Each message says what a Kafka user would
/// see, so a lesson can show it as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// Kafka refuses to create a topic with no partitions; so does the simulator,
    /// rather than dividing by zero when it picks a partition.
    #[error("a topic needs at least one partition, got {0}")]
    BadPartitionCount(i32),
    /// Every simulated partition lives in memory, so their number is bounded.
    #[error("a simulated topic has at most {max} partitions, got {got}")]
    TooManyPartitions { got: i32, max: i32 },
    /// A request named a partition the topic does not have.
    #[error("topic `{topic}` has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        topic: String,
        partition: i32,
        partitions: i32,
    },
    /// The broker's own reason for refusing a record without a key on a compacted
    /// topic: compaction keeps the last record per key, and a keyless record has none.
    #[error(
        "Compacted topic cannot accept message without key in topic partition {topic}-{partition}"
    )]
    KeylessRecordOnCompactedTopic { topic: String, partition: i32 },
    /// Records can be deleted up to the high watermark, not beyond it.
    #[error(
        "offset {offset} is out of range for partition {topic}-{partition} \
         (log start {log_start}, high watermark {high_watermark})"
    )]
    OffsetOutOfRange {
        topic: String,
        partition: i32,
        offset: i64,
        log_start: i64,
        high_watermark: i64,
    },
    /// A consumer reads the topic it was created for, never another one.
    #[error("consumer of topic `{expected}` cannot poll topic `{got}`")]
    WrongTopic { expected: String, got: String },
    /// A crashed consumer has no positions and no state until it restarts.
    #[error("the consumer has crashed: restart it before polling")]
    Crashed,
}
