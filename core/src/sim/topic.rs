//! A topic: partitions, each an append-only log with its own offsets.
//!
//! Kafka orders records within a partition, never across partitions. The simulator
//! keeps exactly that: each partition hands out offsets 0, 1, 2, … as records arrive,
//! and the only order between partitions is the one a consumer makes up when it reads
//! them (here, round-robin, so it is the same every time).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::SimError;
use super::partitioner::{partition_for_key, to_positive};
use crate::envelope::{Envelope, Payload};

/// The most partitions a simulated topic may have. Kafka itself sets no hard limit,
/// but every partition here is a log held in memory (in the page, the browser's), so a
/// count typed into a form must not be able to ask for billions of them.
pub const MAX_PARTITIONS: i32 = 1024;

/// What the broker does with old records (`cleanup.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// `delete`: every record stays until retention removes it from the front.
    #[default]
    Delete,
    /// `compact`: the cleaner may drop any record that a later record with the same
    /// key supersedes. Keyless records are refused, since nothing could supersede them.
    Compact,
}

/// What compaction does with tombstones (records whose value is null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tombstones {
    /// A tombstone stays as the last record of its key, so a consumer reading the
    /// compacted log still learns that the key was deleted. Kafka keeps tombstones
    /// this way for `delete.retention.ms` (one day by default).
    Keep,
    /// The tombstones are gone too, as after `delete.retention.ms`: the key vanishes
    /// from the log as if it had never been written. A consumer that read the
    /// tombstone in time deleted its state; one that starts now never hears of the key.
    Remove,
}

/// One partition: its records in offset order, and the two offsets that bound them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartitionLog {
    records: Vec<Envelope>,
    log_start_offset: i64,
    high_watermark: i64,
}

impl PartitionLog {
    /// The records still in the log, in offset order. After compaction the offsets
    /// have gaps: the records that were dropped keep their numbers.
    pub fn records(&self) -> &[Envelope] {
        &self.records
    }

    /// The first offset a consumer can read (0 until records are deleted from the
    /// front). Compaction does not move it.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next record will get: one past the last record ever appended,
    /// even if compaction has since removed that record.
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// The first record at or after `offset`, as a consumer positioned there reads it.
    pub fn first_at_or_after(&self, offset: i64) -> Option<&Envelope> {
        let index = self.records.partition_point(|r| r.offset < offset);
        self.records.get(index)
    }

    fn append(&mut self, mut envelope: Envelope) -> i64 {
        let offset = self.high_watermark;
        envelope.offset = offset;
        self.records.push(envelope);
        self.high_watermark += 1;
        offset
    }

    /// Keeps the last record per key, and drops keyless records as Kafka's cleaner
    /// does (it counts them as invalid and does not retain them).
    fn compact(&mut self, tombstones: Tombstones) {
        let mut last_offset: BTreeMap<&[u8], i64> = BTreeMap::new();
        for record in &self.records {
            if let Some(key) = record.key.as_deref() {
                last_offset.insert(key, record.offset);
            }
        }
        let keep: BTreeSet<i64> = last_offset.into_values().collect();
        self.records.retain(|record| {
            keep.contains(&record.offset)
                && !(tombstones == Tombstones::Remove && record.value == Payload::Tombstone)
        });
    }
}

/// A simulated Kafka topic.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTopic {
    name: String,
    policy: CleanupPolicy,
    partitions: Vec<PartitionLog>,
    /// The keyless-record counter of Java's `RoundRobinPartitioner`; it wraps like
    /// Java's `int` and goes through `toPositive` before the modulo.
    round_robin: i32,
}

impl SimTopic {
    /// A topic with `partitions` empty partitions (1 to [`MAX_PARTITIONS`]).
    pub fn new(name: &str, partitions: i32, policy: CleanupPolicy) -> Result<SimTopic, SimError> {
        if partitions <= 0 {
            return Err(SimError::BadPartitionCount(partitions));
        }
        if partitions > MAX_PARTITIONS {
            return Err(SimError::TooManyPartitions {
                got: partitions,
                max: MAX_PARTITIONS,
            });
        }
        Ok(SimTopic {
            name: name.to_owned(),
            policy,
            partitions: (0..partitions).map(|_| PartitionLog::default()).collect(),
            round_robin: 0,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn policy(&self) -> CleanupPolicy {
        self.policy
    }

    /// Number of partitions, from 1 to [`MAX_PARTITIONS`]: [`SimTopic::new`] refuses
    /// any other count.
    pub fn partition_count(&self) -> i32 {
        // The count came in as an i32 no larger than MAX_PARTITIONS, so it fits back.
        self.partitions.len() as i32
    }

    /// One partition's log.
    pub fn partition(&self, partition: i32) -> Result<&PartitionLog, SimError> {
        usize::try_from(partition)
            .ok()
            .and_then(|index| self.partitions.get(index))
            .ok_or_else(|| self.unknown(partition))
    }

    /// All partitions, in partition order.
    pub fn partitions(&self) -> &[PartitionLog] {
        &self.partitions
    }

    /// One partition's records, in offset order.
    pub fn records(&self, partition: i32) -> Result<&[Envelope], SimError> {
        Ok(self.partition(partition)?.records())
    }

    /// One partition's high watermark: the offset its next record gets.
    pub fn high_watermark(&self, partition: i32) -> Result<i64, SimError> {
        Ok(self.partition(partition)?.high_watermark())
    }

    /// One partition's log-start offset: the first offset still readable.
    pub fn log_start_offset(&self, partition: i32) -> Result<i64, SimError> {
        Ok(self.partition(partition)?.log_start_offset())
    }

    /// Number of records still in the topic, over all partitions.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(|p| p.records.len()).sum()
    }

    /// True when no partition holds a record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a record where the producer's default partitioning puts it, and
    /// returns its partition and offset.
    ///
    /// A keyed record goes to [`partition_for_key`], so all records of one key share a
    /// partition and keep their order. A keyless record goes round-robin over the
    /// partitions (Java's `RoundRobinPartitioner`). Java's actual default for keyless
    /// records is the sticky partitioner: it fills one partition's batch until
    /// `batch.size` or `linger.ms` closes it, then moves on; librdkafka's
    /// `murmur2_random` picks a random partition. Both depend on timing or chance,
    /// which a pure simulator has neither of, and a lesson's three keyless events
    /// would all land in one partition and hide that partitions exist. Round-robin is a
    /// real Kafka partitioner that spreads them visibly and the same way every time.
    pub fn produce(
        &mut self,
        key: Option<Vec<u8>>,
        value: Payload,
        timestamp: i64,
    ) -> Result<(i32, i64), SimError> {
        let partition = match &key {
            Some(key) => partition_for_key(key, self.partition_count())?,
            None => to_positive(self.round_robin) % self.partition_count(),
        };
        let keyless = key.is_none();
        let placed = self.produce_to(partition, key, value, timestamp)?;
        if keyless {
            // The counter moves only for records the broker took, so a refused
            // record does not shift where the next keyless record lands.
            self.round_robin = self.round_robin.wrapping_add(1);
        }
        Ok(placed)
    }

    /// [`SimTopic::produce`] for lessons: a text key and a JSON value (`null` is a
    /// tombstone, as it would be once serialized).
    pub fn produce_json(
        &mut self,
        key: Option<&str>,
        value: Value,
        timestamp: i64,
    ) -> Result<(i32, i64), SimError> {
        let value = match value {
            Value::Null => Payload::Tombstone,
            value => Payload::Json(value),
        };
        self.produce(key.map(|k| k.as_bytes().to_vec()), value, timestamp)
    }

    /// Appends a record to a partition the producer chose itself (a `ProducerRecord`
    /// with an explicit partition), bypassing the partitioner.
    pub fn produce_to(
        &mut self,
        partition: i32,
        key: Option<Vec<u8>>,
        value: Payload,
        timestamp: i64,
    ) -> Result<(i32, i64), SimError> {
        self.partition(partition)?;
        if self.policy == CleanupPolicy::Compact && key.is_none() {
            return Err(SimError::KeylessRecordOnCompactedTopic {
                topic: self.name.clone(),
                partition,
            });
        }
        let envelope = Envelope {
            topic: self.name.clone(),
            partition,
            offset: 0,
            key,
            timestamp,
            headers: Vec::new(),
            value,
        };
        // `partition` was checked above, so the index is in range.
        let offset = self.partitions[partition as usize].append(envelope);
        Ok((partition, offset))
    }

    /// Deletes one partition's records before `offset` and moves its log-start offset
    /// there, as retention or the admin client's `deleteRecords` does. Offsets are never
    /// reused: the high watermark stays where it is.
    pub fn delete_records_before(&mut self, partition: i32, offset: i64) -> Result<(), SimError> {
        let log = self.partition(partition)?;
        if offset < log.log_start_offset || offset > log.high_watermark {
            return Err(SimError::OffsetOutOfRange {
                topic: self.name.clone(),
                partition,
                offset,
                log_start: log.log_start_offset,
                high_watermark: log.high_watermark,
            });
        }
        let log = &mut self.partitions[partition as usize];
        log.records.retain(|r| r.offset >= offset);
        log.log_start_offset = offset;
        Ok(())
    }

    /// Compacts every partition in place: within each partition, only the last
    /// record of each key remains, at its original offset.
    ///
    /// This is the log Kafka's cleaner converges to once every segment has been
    /// cleaned. (A real broker never cleans the active segment, so the newest records
    /// stay uncompacted for a while; the simulator shows the end result.) It works on
    /// a topic of either policy, so a lesson can show what compaction would do to a
    /// log that should never have been compacted. Keyless records are dropped, as the
    /// cleaner drops them. High watermarks and log-start offsets do not move.
    pub fn compact(&mut self, tombstones: Tombstones) {
        for log in &mut self.partitions {
            log.compact(tombstones);
        }
    }

    /// A compacted copy, leaving this topic as it is, so the full and the compacted
    /// log can be folded side by side.
    pub fn compacted(&self, tombstones: Tombstones) -> SimTopic {
        let mut copy = self.clone();
        copy.compact(tombstones);
        copy
    }

    /// Every record, in the order a consumer reading all partitions round-robin
    /// gets them: the first record of partition 0, of partition 1, …, then the second
    /// record of each, skipping partitions that have run out. Within a partition the
    /// order is the log's; across partitions it is one fixed choice among many, which
    /// is why per-key aggregates (one key, one partition) are what folds reliably.
    pub fn interleaved(&self) -> Vec<Envelope> {
        let mut out = Vec::with_capacity(self.len());
        let longest = self.partitions.iter().map(|p| p.records.len()).max();
        for index in 0..longest.unwrap_or(0) {
            for log in &self.partitions {
                if let Some(record) = log.records.get(index) {
                    out.push(record.clone());
                }
            }
        }
        out
    }

    fn unknown(&self, partition: i32) -> SimError {
        SimError::UnknownPartition {
            topic: self.name.clone(),
            partition,
            partitions: self.partition_count(),
        }
    }
}
