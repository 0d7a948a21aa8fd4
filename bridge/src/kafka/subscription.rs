//! The pump of one subscription: a thread that polls its own consumer, turns records
//! into wire records and hands them to the session in batches.
//!
//! A plain thread rather than a task: librdkafka's poll blocks, and a blocking loop per
//! subscription would starve the async workers. The thread ends when the session drops
//! the [`crate::backend::Subscription`] (the batch channel closes), when a replay to the
//! high watermark is done, or on an error the subscription cannot survive. Everything
//! else, a broker going away included, is logged and waited out: librdkafka reconnects
//! and fetching resumes where it stopped. When the stall watchdog
//! ([`super::watchdog`]) finds the pump stuck while records wait, the pump replaces its
//! consumer with a fresh one assigned at the next offsets it has not delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventfold_core::wire::{ErrorCode, Record, WireBytes, WireHeader};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

use super::backend::kafka_error;
use super::hub::{HANDOVER_EVERY, Hub, Hubs, Offer};
use super::watchdog::{POSITION_EVERY, Watch};
use crate::backend::{BackendError, Batch, Delivery, EncodedRecords, RawRecord};

/// The most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 500;
/// The most wire text in one batch, once a record took it there: a batch is a frame in
/// a browser's outbound queue and in its subscription's channel, so this bounds what a
/// client that stops reading holds there (500 small records are about 70 KB).
pub const MAX_BATCH_BYTES: usize = 16 << 10;
/// The longest a batch is filled. A batch is sent as soon as librdkafka has nothing more
/// fetched, so a live record goes out at once; this bounds a batch of records that
/// trickle in without a pause.
pub const BATCH_LINGER: Duration = Duration::from_millis(5);
/// How long a shared tail ([`Sink::Hub`]) gathers records into a batch once the first
/// arrived, per subscriber, up to [`HUB_LINGER_MAX`]. A hub sends every batch to each of
/// its subscribers, so a batch costs a frame per subscriber: at 200 records/s, a batch per
/// record made 500 tailing browsers 100 000 frames/s. Batching in proportion to the
/// subscribers keeps a lone tail's latency within a millisecond of librdkafka's and
/// 500 tails at 40 ms batches.
pub const HUB_LINGER_PER_SUBSCRIBER: Duration = Duration::from_micros(80);
/// The longest a shared tail gathers records into a batch.
pub const HUB_LINGER_MAX: Duration = Duration::from_millis(40);
/// How long one poll waits when there is nothing to send; it bounds how late the pump
/// notices a closed channel or a pause.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// Where a pump's batches go.
pub(crate) enum Sink {
    /// One subscription's channel: the pump waits while it is full.
    One(mpsc::Sender<Batch>),
    /// Every subscriber of a shared tail, none waited for.
    Hub(Arc<Hub>),
}

/// What the pump thread owns. The fields are dropped in the order they are declared,
/// and two of them must go before the consumer.
pub(crate) struct Pump {
    /// Where the pump reports its progress to the stall watchdog. Dropped first: the
    /// watchdog forgets a subscription the moment its pump ends.
    pub watch: Arc<Watch>,
    /// The consumer's partitions. Dropped before the consumer, because once it has been
    /// handed to `pause` or `resume` each element holds a reference to librdkafka's
    /// partition object, which holds its broker, and `rd_kafka_destroy` waits for the
    /// broker threads, which run until nothing refers to them. Dropped after the
    /// consumer, the list left every pump that had paused (a browser behind on a long
    /// replay) blocked in `rd_kafka_destroy` for good: 78 of 80 pumps after five churn
    /// cycles on a 1 M-record topic. A replay too short to be paused closed fine.
    pub assignment: TopicPartitionList,
    pub consumer: BaseConsumer<QuietEof>,
    pub sink: Sink,
    pub paused: watch::Receiver<bool>,
    /// The high watermark at subscribe time of every partition with records to replay:
    /// the pump sends [`Delivery::Reached`] once a partition's position gets there.
    pub high: BTreeMap<i32, i64>,
    /// A replay to the high watermark: the pump delivers nothing at or past `high` and
    /// ends once every partition reached it.
    pub stop_at_high: bool,
    /// How records are sent: in their wire text ([`Delivery::Encoded`], for a
    /// WebSocket), or as Kafka holds them ([`Delivery::Raw`], for `eventfold replay`).
    pub form: Form,
    pub topic: String,
    /// The consumer's configuration, to build a new one when the watchdog asks (shared:
    /// a thousand tailing subscriptions need not hold a thousand copies).
    pub config: Arc<ClientConfig>,
    /// The shared tails a caught-up, idle subscription is handed over to; `None` for a
    /// pump that must keep its consumer (a replay to the high watermark, a subset of
    /// the partitions, a hub itself).
    pub handover: Option<Arc<Hubs>>,
}

/// The context of a subscription's consumer. rdkafka hands every error event to the
/// context before the pump sees it, and the default context logs it as an error: with
/// `enable.partition.eof` on, that is one error line per subscription reaching the end
/// of a partition, which is how a replay knows it caught up, not a failure.
pub(crate) struct QuietEof;

impl ClientContext for QuietEof {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        tracing::error!("librdkafka: {error}: {reason}");
    }
}

impl ConsumerContext for QuietEof {}

/// Starts the pump on a thread of its own.
pub(crate) fn spawn(pump: Pump, topic: &str) -> Result<(), BackendError> {
    let topic = topic.to_owned();
    std::thread::Builder::new()
        .name("eventfold-sub".into())
        .spawn(move || {
            tracing::debug!(topic, "subscription started");
            pump.run();
            super::memory::released();
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
    if !may_be_json(bytes)
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return WireBytes(serde_json::Value::String(text.to_owned()));
    }
    WireBytes::encode(bytes)
}

/// Whether `text`, if it is JSON, may be a value the wire wraps in `{"json":…}`: a
/// string, `null`, or an object naming `base64` or `json` (or using escapes, which
/// could spell them).
fn may_be_wrapped(text: &str) -> bool {
    match text.trim_start().as_bytes().first() {
        Some(b'"' | b'n') => true,
        Some(b'{') => {
            text.contains("\"base64\"") || text.contains("\"json\"") || text.contains("\\u")
        }
        _ => false,
    }
}

/// Whether the first character of `bytes` can start a JSON value.
fn may_be_json(bytes: &[u8]) -> bool {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    matches!(
        first,
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    )
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
        key: message.key().map(WireBytes::encode_key),
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
        headers,
        value: message.payload().map(encode),
    }
}

/// A Kafka record as it is, for [`Delivery::Raw`].
fn raw_record(message: &BorrowedMessage<'_>) -> RawRecord {
    let headers = message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| eventfold_core::Header {
                    name: h.key.to_owned(),
                    value: h.value.map(<[u8]>::to_vec),
                })
                .collect()
        })
        .unwrap_or_default();
    RawRecord {
        partition: message.partition(),
        offset: message.offset(),
        key: message.key().map(<[u8]>::to_vec),
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
        headers,
        value: message.payload().map(<[u8]>::to_vec),
    }
}

/// The form a pump sends its records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// [`Delivery::Encoded`].
    Encoded,
    /// [`Delivery::Raw`].
    Raw,
}

/// A batch being filled, as raw records or as wire text.
struct Batcher {
    form: Form,
    records: Vec<RawRecord>,
    /// `[`, then records separated by commas; `]` is added by `take`.
    json: Vec<u8>,
    count: usize,
    /// The bytes of the raw records held (keys, values, headers).
    raw_bytes: usize,
    last: BTreeMap<i32, i64>,
    /// The topic as a JSON string, written into every record.
    topic_json: String,
}

impl Batcher {
    fn new(form: Form, topic: &str) -> Batcher {
        Batcher {
            form,
            records: Vec::new(),
            json: Vec::new(),
            count: 0,
            raw_bytes: 0,
            last: BTreeMap::new(),
            topic_json: serde_json::to_string(topic).unwrap_or_else(|_| "\"\"".into()),
        }
    }

    /// At [`MAX_BATCH_RECORDS`], or at [`MAX_BATCH_BYTES`] of wire text or raw bytes.
    fn full(&self) -> bool {
        self.count >= MAX_BATCH_RECORDS || self.json.len().max(self.raw_bytes) >= MAX_BATCH_BYTES
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn push(&mut self, message: &BorrowedMessage<'_>) {
        self.count += 1;
        if self.form == Form::Raw {
            let record = raw_record(message);
            self.raw_bytes += record.value.as_ref().map_or(0, Vec::len)
                + record.key.as_ref().map_or(0, Vec::len)
                + record
                    .headers
                    .iter()
                    .map(|h| h.name.len() + h.value.as_ref().map_or(0, Vec::len))
                    .sum::<usize>();
            self.records.push(record);
            return;
        }
        self.json.push(if self.count == 1 { b'[' } else { b',' });
        write_record(&mut self.json, &self.topic_json, message);
        let last = self.last.entry(message.partition()).or_insert(i64::MIN);
        *last = (*last).max(message.offset());
    }

    fn take(&mut self) -> Delivery {
        let count = std::mem::take(&mut self.count);
        if self.form == Form::Raw {
            self.raw_bytes = 0;
            return Delivery::Raw(std::mem::take(&mut self.records));
        }
        let mut json = std::mem::take(&mut self.json);
        json.push(b']');
        // Only JSON text and `str`s were written.
        let json = String::from_utf8(json).unwrap_or_else(|_| "[]".into());
        Delivery::Encoded(EncodedRecords {
            json,
            count,
            last: std::mem::take(&mut self.last).into_iter().collect(),
        })
    }
}

/// Writes one record as [`record`]'s wire form serializes, straight from the message's
/// bytes: a JSON key or value is copied as it is once checked, not parsed into a tree and
/// printed again, which is most of the work of relaying small JSON records.
fn write_record(out: &mut Vec<u8>, topic_json: &str, message: &BorrowedMessage<'_>) {
    out.extend_from_slice(b"{\"topic\":");
    out.extend_from_slice(topic_json.as_bytes());
    let _ = write!(
        out,
        ",\"partition\":{},\"offset\":{},\"key\":",
        message.partition(),
        message.offset()
    );
    write_key(out, message.key());
    let timestamp = message.timestamp().to_millis().unwrap_or(-1);
    let _ = write!(out, ",\"timestamp\":{timestamp},\"headers\":[");
    if let Some(headers) = message.headers() {
        for (i, h) in headers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"name\":");
            let _ = serde_json::to_writer(&mut *out, h.key);
            out.extend_from_slice(b",\"value\":");
            write_bytes(out, h.value);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"],\"value\":");
    write_bytes(out, message.payload());
    out.push(b'}');
}

/// A key as [`WireBytes::encode_key`] has it: its text as a string, else
/// `{"base64":…}`; `null` for none.
fn write_key(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.extend_from_slice(b"null"),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => {
                let _ = serde_json::to_writer(&mut *out, text);
            }
            Err(_) => {
                let _ = serde_json::to_writer(&mut *out, &WireBytes::encode_key(bytes));
            }
        },
    }
}

/// Bytes as [`WireBytes::encode`] has them: JSON as itself, UTF-8 text as a string, else
/// `{"base64":…}`; `null` for none.
fn write_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    let Some(bytes) = bytes else {
        out.extend_from_slice(b"null");
        return;
    };
    match std::str::from_utf8(bytes) {
        // JSON that `WireBytes::of_json` would wrap (a string, an object that may have
        // the one field `base64` or `json`, perhaps spelt with escapes) takes the slow
        // path, which decides exactly; the rest is copied as it is.
        Ok(text) if may_be_wrapped(text) => {
            let _ = serde_json::to_writer(&mut *out, &WireBytes::encode(bytes));
        }
        Ok(text) if may_be_json(bytes) && serde_json::from_str::<ValidJson>(text).is_ok() => {
            out.extend_from_slice(text.as_bytes());
        }
        Ok(text) => {
            let _ = serde_json::to_writer(&mut *out, text);
        }
        Err(_) => {
            let _ = serde_json::to_writer(&mut *out, &WireBytes::encode(bytes));
        }
    }
}

/// Text that `serde_json::Value` would accept, checked without building the value: the
/// same parser runs (`deserialize_any`, so numbers out of f64's range and lone
/// surrogates fail as they do for `Value`), and nothing is kept.
struct ValidJson;

impl<'de> serde::Deserialize<'de> for ValidJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ValidJson, D::Error> {
        deserializer.deserialize_any(ValidJson)
    }
}

impl<'de> serde::de::Visitor<'de> for ValidJson {
    type Value = ValidJson;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_i64<E>(self, _: i64) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_u64<E>(self, _: u64) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_f64<E>(self, _: f64) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_str<E>(self, _: &str) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_unit<E>(self) -> Result<ValidJson, E> {
        Ok(ValidJson)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ValidJson, A::Error> {
        while seq.next_element::<ValidJson>()?.is_some() {}
        Ok(ValidJson)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ValidJson, A::Error> {
        while map.next_entry::<ValidJson, ValidJson>()?.is_some() {}
        Ok(ValidJson)
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
        let mut batch = Batcher::new(self.form, &self.topic);
        let mut paused = false;
        let mut done = BTreeSet::new();
        // The next offset not yet delivered, per assigned partition: where a rebuilt
        // consumer starts, and below which a record is never delivered again.
        let mut next: BTreeMap<i32, i64> = self
            .assignment
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(n) => Some((e.partition(), n)),
                _ => None,
            })
            .collect();
        let mut sampled = Instant::now();
        let mut tried_handover = Instant::now();
        let mut idle = false;
        loop {
            if self.closed() {
                return;
            }
            if let Sink::Hub(hub) = &self.sink {
                hub.flush();
            }
            if self.finished(&done) {
                if !batch.is_empty() {
                    let _ = self.send(Ok(batch.take()));
                }
                return;
            }
            if sampled.elapsed() >= POSITION_EVERY {
                sampled = Instant::now();
                let positions = self.positions(&next);
                if let Sink::Hub(hub) = &self.sink {
                    // Nothing polled is unsent here: markers read while idle move the
                    // hub's position on, so subscriptions past them can join.
                    hub.advance(&positions);
                }
                self.watch.positions(positions);
            }
            // A caught-up subscription idle at the end of the log goes to the shared
            // tail, and this pump and its consumer end.
            if idle
                && !paused
                && done.len() >= self.high.len()
                && tried_handover.elapsed() >= HANDOVER_EVERY
                && let (Some(hubs), Sink::One(tx)) = (&self.handover, &self.sink)
            {
                tried_handover = Instant::now();
                match hubs.join(&self.topic, &self.positions(&next), tx, &self.paused) {
                    Offer::Taken => {
                        tracing::debug!(
                            topic = self.topic,
                            "subscription handed over to the shared tail"
                        );
                        return;
                    }
                    Offer::Become(hub) => {
                        // This pump is the topic's shared tail now, with its consumer.
                        tracing::debug!(topic = self.topic, "subscription became the shared tail");
                        self.sink = Sink::Hub(hub);
                        self.handover = None;
                        // A hub is never paused: a subscriber that wants a pause leaves it.
                        self.paused = watch::channel(false).1;
                        self.high.clear();
                    }
                    Offer::NotNow => {}
                }
            }
            if self.watch.must_rebuild() && !paused {
                if !batch.is_empty() && !self.send(Ok(batch.take())) {
                    return;
                }
                match self.rebuild(&next) {
                    Ok(()) => {
                        if !self.send(Ok(Delivery::Rebuilt)) {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!(
                            topic = self.topic,
                            "cannot rebuild a stalled subscription: {e}"
                        );
                        let _ = self.send(Err(e));
                        return;
                    }
                }
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
                self.watch.hold(paused);
            }

            // Fill a batch: wait for a first record (at most IDLE_POLL, so a closed
            // channel or a pause is noticed soon), then take what librdkafka already
            // holds, up to MAX_BATCH_RECORDS, MAX_BATCH_BYTES or BATCH_LINGER, looking
            // at the clock only now and then.
            match self.poll(IDLE_POLL, &mut batch, &mut done, &mut next) {
                Polled::End => return,
                Polled::Nothing => {
                    idle = batch.is_empty();
                    continue;
                }
                Polled::Record => idle = false,
            }
            let start = Instant::now();
            // A shared tail waits for more records (HUB_LINGER_PER_SUBSCRIBER); a
            // subscription of its own takes only what librdkafka already holds.
            let linger = match &self.sink {
                Sink::Hub(hub) => hub.linger(HUB_LINGER_PER_SUBSCRIBER, HUB_LINGER_MAX),
                Sink::One(_) => Duration::ZERO,
            };
            'fill: while !batch.full()
                && start.elapsed() < BATCH_LINGER.max(linger)
                && !self.finished(&done)
            {
                for _ in 0..CHECK_EVERY {
                    // Without a linger, no clock per record: reading it was a seventh
                    // of a topic replay's time (docs/perf.md).
                    let wait = match linger.is_zero() {
                        true => Duration::ZERO,
                        false => linger.saturating_sub(start.elapsed()),
                    };
                    match self.poll(wait, &mut batch, &mut done, &mut next) {
                        Polled::End => return,
                        Polled::Nothing if wait.is_zero() => break 'fill,
                        Polled::Nothing => {}
                        Polled::Record if batch.full() => break 'fill,
                        Polled::Record => {}
                    }
                }
            }
            // A full channel blocks here: the session is behind, and librdkafka stops
            // fetching once its small prefetch is full.
            if !batch.is_empty() && !self.send(Ok(batch.take())) {
                return;
            }
        }
    }

    /// Hands an item to the session; false when it is gone. While the channel is full
    /// the pump is held: it is not fetching because the browser is behind, which the
    /// watchdog must not take for a stall.
    ///
    /// A hub hands the item to every subscriber without waiting, with the consumer's
    /// position after the item's records: false once the hub is over.
    fn send(&self, item: Batch) -> bool {
        let tx = match &self.sink {
            Sink::One(tx) => tx,
            Sink::Hub(hub) => {
                let positions = self.positions(&hub.next());
                return hub.fan_out(item, &positions);
            }
        };
        match tx.try_send(item) {
            Ok(()) => true,
            Err(TrySendError::Closed(_)) => false,
            Err(TrySendError::Full(item)) => {
                self.watch.hold(true);
                // Held until the browser reads: what it freed so far can go back.
                super::memory::released();
                let sent = tx.blocking_send(item).is_ok();
                self.watch.hold(false);
                sent
            }
        }
    }

    /// Whether nobody takes the batches any more.
    fn closed(&self) -> bool {
        match &self.sink {
            Sink::One(tx) => tx.is_closed(),
            Sink::Hub(hub) => hub.is_over(),
        }
    }

    /// librdkafka's position per assigned partition: the offset after the last record or
    /// transaction marker it handed over. Before the first, the next offset to deliver.
    fn positions(&self, next: &BTreeMap<i32, i64>) -> BTreeMap<i32, i64> {
        let mut positions = next.clone();
        if let Ok(list) = self.consumer.position() {
            for e in list.elements() {
                if let (Offset::Offset(n), Some(at)) =
                    (e.offset(), positions.get_mut(&e.partition()))
                {
                    *at = (*at).max(n);
                }
            }
        }
        positions
    }

    /// Replaces the consumer with a new one assigned at `next`, the offsets not yet
    /// delivered. The old one is closed on a thread of its own: a consumer with a hung
    /// request may take a while to close, and the replay should not wait for it.
    fn rebuild(&mut self, next: &BTreeMap<i32, i64>) -> Result<(), BackendError> {
        let consumer: BaseConsumer<QuietEof> = self
            .config
            .create_with_context(QuietEof)
            .map_err(|e| kafka_error("cannot create a Kafka consumer", e))?;
        let mut assignment = TopicPartitionList::with_capacity(next.len());
        for (&p, &offset) in next {
            assignment
                .add_partition_offset(&self.topic, p, Offset::Offset(offset))
                .map_err(|e| kafka_error("cannot build the assignment", e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error(&format!("cannot assign {:?}", self.topic), e))?;
        let old = std::mem::replace(&mut self.consumer, consumer);
        self.assignment = assignment;
        let _ = std::thread::Builder::new()
            .name("eventfold-close".into())
            .spawn(move || drop(old));
        self.watch.rebuilt(next.clone());
        tracing::info!(topic = self.topic, ?next, "subscription rebuilt");
        Ok(())
    }

    fn finished(&self, done: &BTreeSet<i32>) -> bool {
        self.stop_at_high && done.len() >= self.high.len()
    }

    /// Marks partition `p` as having reached its subscribe-time high watermark: the
    /// records before it go out first, then [`Delivery::Reached`], once per partition.
    /// False when the session is gone.
    fn reached(&self, p: i32, batch: &mut Batcher, done: &mut BTreeSet<i32>) -> bool {
        if !self.high.contains_key(&p) || !done.insert(p) {
            return true;
        }
        if !batch.is_empty() && !self.send(Ok(batch.take())) {
            return false;
        }
        self.send(Ok(Delivery::Reached(p)))
    }

    /// Polls once; a record goes into `batch` unless it lies past a replay's end or was
    /// delivered already.
    fn poll(
        &mut self,
        timeout: Duration,
        batch: &mut Batcher,
        done: &mut BTreeSet<i32>,
        next: &mut BTreeMap<i32, i64>,
    ) -> Polled {
        match self.consumer.poll(timeout) {
            Some(Ok(message)) => {
                let (p, offset) = (message.partition(), message.offset());
                let high = self.high.get(&p).copied();
                let fresh = next.get(&p).is_none_or(|&n| offset >= n);
                // A replay to the high watermark delivers nothing past it (a partition
                // without records to replay is not even assigned).
                if fresh && (!self.stop_at_high || high.is_some_and(|high| offset < high)) {
                    batch.push(&message);
                    next.insert(p, offset + 1);
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
                if !batch.is_empty() && !self.send(Ok(batch.take())) {
                    return Polled::End;
                }
                let _ = self.send(Err(error));
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

    /// The text a WebSocket gets for a key or value means what `WireBytes::encode`'s
    /// value means, including for what `serde_json::Value` refuses.
    #[test]
    fn the_wire_text_of_bytes_parses_to_what_encode_gives() {
        let check = |bytes: Option<&[u8]>, expected: serde_json::Value| {
            let mut out = Vec::new();
            write_bytes(&mut out, bytes);
            let parsed: serde_json::Value = serde_json::from_slice(&out)
                .unwrap_or_else(|e| panic!("{bytes:?} gave {out:?}: {e}"));
            assert_eq!(parsed, expected, "{bytes:?}");
            if let Some(bytes) = bytes {
                assert_eq!(WireBytes::encode(bytes).0, expected, "{bytes:?}");
            }
        };
        check(None, json!(null));
        check(Some(b"null"), json!({"json": null}));
        check(
            Some(br#" {"type":"deposit","amount":5} "#),
            json!({"type":"deposit","amount":5}),
        );
        check(
            Some(b"[1, 2.5, -3, true, null]"),
            json!([1, 2.5, -3, true, null]),
        );
        check(Some(b"acct-1"), json!("acct-1"));
        check(Some(b""), json!(""));
        // A JSON string and objects that look like the wire's own forms are wrapped.
        check(Some(br#""quoted""#), json!({"json": "quoted"}));
        check(
            Some(br#"{"base64":"aGk="}"#),
            json!({"json": {"base64": "aGk="}}),
        );
        check(Some(br#" {"json":1} "#), json!({"json": {"json": 1}}));
        check(Some(br#"{"\u006ason":1}"#), json!({"json": {"json": 1}}));
        check(
            Some(br#"{"json":1,"other":2}"#),
            json!({"json": 1, "other": 2}),
        );
        check(Some(b"nope"), json!("nope"));
        check(Some(b"42abc"), json!("42abc"));
        // Out of f64's range: Value refuses it, so it is text, not a bare 1e999 that
        // a JSON parser could not read back.
        check(Some(b"1e999"), json!("1e999"));
        check(Some(br#"{"a":1e999}"#), json!(r#"{"a":1e999}"#));
        check(Some(br#""\ud800""#), json!(r#""\ud800""#));
        let deep = "[".repeat(200) + &"]".repeat(200);
        check(Some(deep.as_bytes()), json!(deep));
        check(Some(&[0xff, 0x00]), json!({"base64": "/wA="}));
        check(Some(b"\"caf\xc3\xa9\""), json!({"json": "caf\u{e9}"}));
    }

    /// Keys travel as their text, never parsed, so their bytes come back exactly.
    #[test]
    fn keys_are_written_as_their_text() {
        for (key, expected) in [
            (None, json!(null)),
            (Some(&b"acct-1"[..]), json!("acct-1")),
            (Some(br#""acct-1""#), json!("\"acct-1\"")),
            (Some(b"42"), json!("42")),
            (Some(&[0x41, 0xff]), json!({"base64": "Qf8="})),
        ] {
            let mut out = Vec::new();
            write_key(&mut out, key);
            let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(parsed, expected, "{key:?}");
            if let Some(key) = key {
                assert_eq!(WireBytes::encode_key(key).0, expected, "{key:?}");
            }
        }
    }
}
