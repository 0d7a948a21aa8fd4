//! The pump of one subscription: a thread that polls its own consumer, turns records
//! into wire records and hands them to the session in batches.
//!
//! A plain thread rather than a task: librdkafka's poll blocks, and a blocking loop per
//! subscription would starve the async workers. The thread ends when the session drops
//! the [`crate::backend::Subscription`] (the batch channel closes), when a replay to the
//! high watermark is done, or on an error the subscription cannot survive. Everything
//! else, a broker going away included, is logged and waited out: librdkafka reconnects
//! and fetching resumes where it stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use eventfold_core::wire::{ErrorCode, Record, WireBytes, WireHeader};
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use tokio::sync::{mpsc, watch};

use super::backend::kafka_error;
use crate::backend::{BackendError, Batch, Delivery};

/// The most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 500;
/// The longest a batch is filled. A batch is sent as soon as librdkafka has nothing more
/// fetched, so a live record goes out at once; this bounds a batch of records that
/// trickle in without a pause.
pub const BATCH_LINGER: Duration = Duration::from_millis(5);
/// How long one poll waits when there is nothing to send; it bounds how late the pump
/// notices a closed channel or a pause.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// What the pump thread owns.
pub(crate) struct Pump {
    pub consumer: BaseConsumer,
    pub assignment: TopicPartitionList,
    pub tx: mpsc::Sender<Batch>,
    pub paused: watch::Receiver<bool>,
    /// The high watermark at subscribe time of every partition with records to replay:
    /// the pump sends [`Delivery::Reached`] once a partition's position gets there.
    pub high: BTreeMap<i32, i64>,
    /// A replay to the high watermark: the pump delivers nothing at or past `high` and
    /// ends once every partition reached it.
    pub stop_at_high: bool,
}

/// Starts the pump on a thread of its own.
pub(crate) fn spawn(pump: Pump, topic: &str) -> Result<(), BackendError> {
    let topic = topic.to_owned();
    std::thread::Builder::new()
        .name("eventfold-sub".into())
        .spawn(move || {
            tracing::debug!(topic, "subscription started");
            pump.run();
            tracing::debug!(topic, "subscription ended");
        })
        .map(drop)
        .map_err(|e| {
            BackendError::new(
                ErrorCode::Kafka,
                format!("cannot start a subscription thread: {e}"),
            )
        })
}

/// [`WireBytes::encode`], with a shortcut for the common key that is plain text such as
/// `acct-1`: bytes whose first character cannot start a JSON value are not handed to the
/// JSON parser, whose failure costs an allocated error per record.
fn encode(bytes: &[u8]) -> WireBytes {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let may_be_json = matches!(
        first,
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    );
    if !may_be_json && let Ok(text) = std::str::from_utf8(bytes) {
        return WireBytes(serde_json::Value::String(text.to_owned()));
    }
    WireBytes::encode(bytes)
}

/// The wire form of a Kafka record: key, value and header values as JSON, text or
/// base64; a tombstone's value as `null`; a record without a timestamp as -1, Kafka's
/// "no timestamp".
pub fn record(message: &BorrowedMessage<'_>) -> Record {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| WireHeader {
                    name: h.key.to_owned(),
                    value: h.value.map(encode),
                })
                .collect()
        })
        .unwrap_or_default();
    Record {
        topic: message.topic().to_owned(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(encode),
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
        headers,
        value: message.payload().map(encode),
    }
}

/// The error that ends a subscription, or `None` for one librdkafka recovers from by
/// itself (a broker down, a leader moving).
fn fatal(error: KafkaError) -> Option<BackendError> {
    match error {
        KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset) => {
            Some(BackendError::new(
                ErrorCode::OffsetOutOfRange,
                "the replay's position is no longer in the log (records were deleted by \
                 retention, or the topic was recreated): subscribe again",
            ))
        }
        KafkaError::MessageConsumptionFatal(_) => {
            Some(kafka_error("the subscription's consumer failed", error))
        }
        _ => None,
    }
}

/// How many records the pump takes between looks at the clock, the channel and the
/// pause flag: per record, those looks cost a tenth of a replay's time.
const CHECK_EVERY: usize = 64;

/// What one poll gave.
enum Polled {
    Record,
    Nothing,
    /// The subscription is over (a fatal error was sent, or the channel closed).
    End,
}

impl Pump {
    fn run(mut self) {
        let mut batch: Vec<Record> = Vec::with_capacity(MAX_BATCH_RECORDS);
        let mut paused = false;
        let mut done = BTreeSet::new();
        loop {
            if self.tx.is_closed() {
                return;
            }
            if self.finished(&done) {
                if !batch.is_empty() {
                    let _ = self.tx.blocking_send(Ok(Delivery::Records(batch)));
                }
                return;
            }
            let want_paused = *self.paused.borrow_and_update();
            if want_paused != paused {
                let result = if want_paused {
                    self.consumer.pause(&self.assignment)
                } else {
                    self.consumer.resume(&self.assignment)
                };
                if let Err(e) = result {
                    tracing::warn!("cannot pause or resume a subscription: {e}");
                }
                paused = want_paused;
            }

            // Fill a batch: wait for a first record (at most IDLE_POLL, so a closed
            // channel or a pause is noticed soon), then take what librdkafka already
            // holds, up to MAX_BATCH_RECORDS or BATCH_LINGER, looking at the clock only
            // now and then.
            match self.poll(IDLE_POLL, &mut batch, &mut done) {
                Polled::End => return,
                Polled::Nothing => continue,
                Polled::Record => {}
            }
            let start = Instant::now();
            'fill: while batch.len() < MAX_BATCH_RECORDS
                && start.elapsed() < BATCH_LINGER
                && !self.finished(&done)
            {
                for _ in 0..CHECK_EVERY {
                    match self.poll(Duration::ZERO, &mut batch, &mut done) {
                        Polled::End => return,
                        Polled::Nothing => break 'fill,
                        Polled::Record if batch.len() >= MAX_BATCH_RECORDS => break 'fill,
                        Polled::Record => {}
                    }
                }
            }
            // A full channel blocks here: the session is behind, and librdkafka stops
            // fetching once its small prefetch is full.
            if !batch.is_empty()
                && self
                    .tx
                    .blocking_send(Ok(Delivery::Records(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(MAX_BATCH_RECORDS),
                    ))))
                    .is_err()
            {
                return;
            }
        }
    }

    fn finished(&self, done: &BTreeSet<i32>) -> bool {
        self.stop_at_high && done.len() >= self.high.len()
    }

    /// Marks partition `p` as having reached its subscribe-time high watermark: the
    /// records before it go out first, then [`Delivery::Reached`], once per partition.
    /// False when the session is gone.
    fn reached(&self, p: i32, batch: &mut Vec<Record>, done: &mut BTreeSet<i32>) -> bool {
        if !self.high.contains_key(&p) || !done.insert(p) {
            return true;
        }
        if !batch.is_empty()
            && self
                .tx
                .blocking_send(Ok(Delivery::Records(std::mem::take(batch))))
                .is_err()
        {
            return false;
        }
        self.tx.blocking_send(Ok(Delivery::Reached(p))).is_ok()
    }

    /// Polls once; a record goes into `batch` unless it lies past a replay's end.
    fn poll(
        &mut self,
        timeout: Duration,
        batch: &mut Vec<Record>,
        done: &mut BTreeSet<i32>,
    ) -> Polled {
        match self.consumer.poll(timeout) {
            Some(Ok(message)) => {
                let (p, offset) = (message.partition(), message.offset());
                let high = self.high.get(&p).copied();
                // A replay to the high watermark delivers nothing past it (a partition
                // without records to replay is not even assigned).
                if !self.stop_at_high || high.is_some_and(|high| offset < high) {
                    batch.push(record(&message));
                }
                if high.is_some_and(|high| offset + 1 >= high) && !self.reached(p, batch, done) {
                    return Polled::End;
                }
                Polled::Record
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                // The position is at the end of the log: every record before the
                // subscribe-time high watermark has been seen, even when the last offsets
                // were transaction markers or aborted records that are never delivered.
                // librdkafka sends this again after every live record; only the first
                // counts.
                if !self.reached(p, batch, done) {
                    return Polled::End;
                }
                Polled::Record
            }
            Some(Err(error)) => {
                let Some(error) = fatal(error.clone()) else {
                    tracing::warn!("subscription: {error} (librdkafka retries by itself)");
                    return Polled::Nothing;
                };
                if !batch.is_empty()
                    && self
                        .tx
                        .blocking_send(Ok(Delivery::Records(std::mem::take(batch))))
                        .is_err()
                {
                    return Polled::End;
                }
                let _ = self.tx.blocking_send(Err(error));
                Polled::End
            }
            None => Polled::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shortcut_encodes_as_the_wire_does() {
        let samples: [&[u8]; 10] = [
            b"acct-1",
            b"  acct-1",
            b"",
            b"   ",
            b"42",
            br#"{"type":"deposit"}"#,
            b"null",
            b"nope",
            &[0xff, 0x00],
            "caf\u{e9}".as_bytes(),
        ];
        for bytes in samples {
            assert_eq!(encode(bytes), WireBytes::encode(bytes), "{bytes:?}");
        }
        assert_eq!(encode(b"acct-1").0, json!("acct-1"));
    }
}
