//! A consumer that folds what it reads, commits, crashes and restarts.
//!
//! A Kafka consumer keeps two offsets per partition: its *position* (the next offset
//! it will read, held in memory) and its *committed offset* (stored by the broker,
//! survives a crash). An event-sourced consumer also keeps the state it folded. Which
//! of those survive a crash, and whether state and offsets survive *together*, decides
//! whether a restart rebuilds the right state. [`RestartFrom`] names the choices a
//! lesson contrasts.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::SimError;
use super::topic::SimTopic;
use crate::envelope::Envelope;
use crate::fold::{Folder, Mode, View};
use crate::projection::Projection;

/// Where a consumer picks up after a crash, and with which state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartFrom {
    /// Restore the checkpoint taken with the last commit and resume from the committed
    /// offsets. State and offsets were saved together (what Kafka Streams does with a
    /// state store and its changelog, or an application that stores its state and its
    /// offsets in one transaction), so the records read again after the crash are
    /// applied to a state that has not seen them yet: the result is right.
    Committed,
    /// Start from an empty state at the log-start offset of every partition and fold
    /// everything again: slow on a long log, always right while the log is complete.
    Beginning,
    /// The classic mistake: resume from the committed offsets with an empty state
    /// (state kept in memory only, offsets committed to Kafka). The events before the
    /// committed offsets are never applied again, so the state misses them.
    CommittedWithoutState,
    /// The other classic mistake: resume from the committed offsets on top of a state
    /// that was written to an external store after every event, not together with the
    /// offsets. The events between the last commit and the crash are delivered again
    /// (Kafka delivers at least once) and applied twice: a deposit counts double.
    CommittedWithExternalState,
}

/// A consumer of one topic, reading all its partitions and folding each record it
/// returns with a projection.
#[derive(Clone)]
pub struct SimConsumer {
    topic: String,
    mode: Mode,
    folder: Folder,
    /// Next offset to read per partition. Lost in a crash.
    positions: BTreeMap<i32, i64>,
    /// Where the next poll starts its round-robin over partitions.
    next_partition: i32,
    crashed: bool,
    /// Committed offsets per partition. Survive a crash.
    committed: BTreeMap<i32, i64>,
    /// The folded state as of the last commit. Survives a crash.
    checkpoint: Folder,
    /// The state as an external store holds it when every apply writes through to it:
    /// survives a crash with every event applied so far.
    external: Folder,
    /// Highest offset ever delivered per partition. This is the simulator's record of
    /// what happened, not the consumer's memory, so it survives crashes and lets a
    /// lesson count redeliveries.
    highest_delivered: BTreeMap<i32, i64>,
    delivered: i64,
    redelivered: i64,
}

impl SimConsumer {
    /// A consumer of `topic` with nothing read and nothing committed. Its first poll
    /// starts every partition at its log-start offset (`auto.offset.reset=earliest`).
    pub fn new(topic: &SimTopic, projection: Arc<dyn Projection>, mode: Mode) -> SimConsumer {
        let empty = Folder::new(projection, mode);
        SimConsumer {
            topic: topic.name().to_owned(),
            mode,
            folder: empty.clone(),
            positions: BTreeMap::new(),
            next_partition: 0,
            crashed: false,
            committed: BTreeMap::new(),
            checkpoint: empty.clone(),
            external: empty,
            highest_delivered: BTreeMap::new(),
            delivered: 0,
            redelivered: 0,
        }
    }

    /// The name of the topic this consumer reads.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn projection(&self) -> &Arc<dyn Projection> {
        self.folder.projection()
    }

    /// The fold so far (its view and its errors). Empty after a crash.
    pub fn folder(&self) -> &Folder {
        &self.folder
    }

    /// The folded state of every aggregate.
    pub fn view(&self) -> &View {
        self.folder.view()
    }

    /// The folded state as one JSON value (see [`View::to_json`]).
    pub fn state(&self) -> Value {
        self.folder.view().to_json(&**self.folder.projection())
    }

    /// The state saved with the last commit.
    pub fn checkpoint(&self) -> &View {
        self.checkpoint.view()
    }

    /// The next offset this consumer reads from `partition`, once it has polled.
    pub fn position(&self, partition: i32) -> Option<i64> {
        self.positions.get(&partition).copied()
    }

    /// Every partition's position.
    pub fn positions(&self) -> &BTreeMap<i32, i64> {
        &self.positions
    }

    /// The committed offset of `partition`: where a restart resumes.
    pub fn committed(&self, partition: i32) -> Option<i64> {
        self.committed.get(&partition).copied()
    }

    /// Every partition's committed offset.
    pub fn committed_offsets(&self) -> &BTreeMap<i32, i64> {
        &self.committed
    }

    /// True between [`SimConsumer::crash`] and [`SimConsumer::restart`].
    pub fn is_crashed(&self) -> bool {
        self.crashed
    }

    /// Records delivered so far, redeliveries included.
    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    /// Records delivered more than once: the price of at-least-once delivery.
    pub fn redelivered(&self) -> i64 {
        self.redelivered
    }

    /// How many offsets are left to read, over all partitions (high watermark minus
    /// position, as Kafka counts lag; after compaction some of those offsets are gaps).
    pub fn lag(&self, topic: &SimTopic) -> Result<i64, SimError> {
        self.check_topic(topic)?;
        Ok((0..topic.partition_count())
            .zip(topic.partitions())
            .map(|(partition, log)| {
                let position = self
                    .position(partition)
                    .unwrap_or(log.log_start_offset())
                    .max(log.log_start_offset());
                (log.high_watermark() - position).max(0)
            })
            .sum())
    }

    /// Reads up to `max` records, one partition at a time in turn (round-robin, as
    /// [`SimTopic::interleaved`] orders them), folds each, and returns them.
    ///
    /// A partition without a position, or whose position fell below the log-start
    /// offset because records were deleted, starts at its log-start offset
    /// (`auto.offset.reset=earliest`). Offsets that compaction removed are skipped.
    pub fn poll(&mut self, topic: &SimTopic, max: usize) -> Result<Vec<Envelope>, SimError> {
        if self.crashed {
            return Err(SimError::Crashed);
        }
        self.check_topic(topic)?;
        let count = topic.partition_count();
        for (partition, log) in (0..count).zip(topic.partitions()) {
            let position = self.positions.entry(partition).or_insert(0);
            *position = (*position).max(log.log_start_offset());
        }
        let mut out = Vec::new();
        while out.len() < max {
            let next = (0..count)
                .map(|step| (self.next_partition + step) % count)
                .find_map(|partition| {
                    let log = topic.partition(partition).ok()?;
                    log.first_at_or_after(self.position(partition).unwrap_or(0))
                });
            let Some(record) = next else { break };
            self.deliver(record, count);
            out.push(record.clone());
        }
        Ok(out)
    }

    /// Commits every partition's position and checkpoints the folded state with them,
    /// in one step, so a restart from [`RestartFrom::Committed`] gets a state that
    /// matches its offsets.
    pub fn commit(&mut self) -> Result<(), SimError> {
        if self.crashed {
            return Err(SimError::Crashed);
        }
        self.committed.extend(&self.positions);
        self.checkpoint = self.folder.clone();
        Ok(())
    }

    /// The process dies: positions and the in-memory state are gone; committed
    /// offsets and the checkpoint remain. Crashing a crashed consumer changes nothing.
    pub fn crash(&mut self) {
        if self.crashed {
            return;
        }
        let empty = self.empty();
        self.external = std::mem::replace(&mut self.folder, empty);
        self.positions.clear();
        self.next_partition = 0;
        self.crashed = true;
    }

    /// Starts again after a crash (a running consumer crashes first). The next poll
    /// reads from where `from` says, folding into the state it says.
    pub fn restart(&mut self, from: RestartFrom) {
        self.crash();
        match from {
            RestartFrom::Committed => {
                self.folder = self.checkpoint.clone();
                self.positions = self.committed.clone();
            }
            RestartFrom::Beginning => {
                // Positions stay empty: the next poll starts at each log-start offset.
            }
            RestartFrom::CommittedWithoutState => {
                self.positions = self.committed.clone();
            }
            RestartFrom::CommittedWithExternalState => {
                self.folder = self.external.clone();
                self.positions = self.committed.clone();
            }
        }
        self.crashed = false;
    }

    fn deliver(&mut self, record: &Envelope, partitions: i32) {
        self.positions.insert(record.partition, record.offset + 1);
        self.next_partition = (record.partition + 1) % partitions;
        let highest = self.highest_delivered.entry(record.partition).or_insert(-1);
        if record.offset <= *highest {
            self.redelivered += 1;
        } else {
            *highest = record.offset;
        }
        self.delivered += 1;
        self.folder.push(record);
    }

    fn empty(&self) -> Folder {
        Folder::new(self.folder.projection().clone(), self.mode)
    }

    fn check_topic(&self, topic: &SimTopic) -> Result<(), SimError> {
        if topic.name() == self.topic {
            Ok(())
        } else {
            Err(SimError::WrongTopic {
                expected: self.topic.clone(),
                got: topic.name().to_owned(),
            })
        }
    }
}
