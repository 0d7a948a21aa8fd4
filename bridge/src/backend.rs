//! What the WebSocket session needs from Kafka, as a trait.
//!
//! The session (`serve`) speaks the protocol of `core::wire`; a [`Backend`] does the
//! Kafka work behind it. `kafka::KafkaBackend` is the real one (rdkafka, assign + seek,
//! no consumer group); [`NoKafka`] is what `eventfold serve` without `--brokers` uses,
//! so the page is served alone and every Kafka request gets a clear error.

use std::collections::BTreeMap;
use std::future::Future;

use eventfold_core::wire::{ErrorCode, Record, StartFrom, TopicInfo, WireBytes};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};

/// A failed request, as the client will see it in an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    pub code: ErrorCode,
    pub message: String,
}

impl BackendError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> BackendError {
        BackendError {
            code,
            message: message.into(),
        }
    }
}

/// A `subscribe` request, validated by the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeRequest {
    pub topic: String,
    pub from: StartFrom,
    /// Only these partitions; all when `None`.
    pub partitions: Option<Vec<i32>>,
}

/// A `produce` request, validated by the session (size, permission).
#[derive(Debug, Clone, PartialEq)]
pub struct ProduceRequest {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// In order; a name may repeat, and a header may have no value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// The broker's answer to an enqueued record: its partition and offset once the broker
/// acknowledged it. It owns what it needs, so the session can await many of them at
/// once while it enqueues the next records.
pub type ProduceAck = BoxFuture<'static, Result<(i32, i64), BackendError>>;

/// What a subscription hands its session, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Records in offset order per partition.
    Records(Vec<Record>),
    /// The same, already in their wire text: what the Kafka backend sends a WebSocket
    /// session, so a record's JSON is copied rather than parsed and printed again.
    Encoded(EncodedRecords),
    /// The same as the bytes Kafka holds, nothing decoded: what `eventfold replay`
    /// folds, so each value is parsed once, by the fold's text fast path, and not into
    /// a JSON tree on the pump's thread first.
    Raw(Vec<RawRecord>),
    /// The partition's position reached the high watermark seen at subscribe time, after
    /// the records sent before this. A partition whose log ends in transaction markers or
    /// aborted records never delivers its offset `high - 1`, so only the backend can
    /// tell (librdkafka's end-of-partition event).
    Reached(i32),
    /// The subscription stalled while records waited and was rebuilt with a fresh
    /// consumer, from the next offsets not yet delivered: nothing is lost or repeated.
    /// The session counts it (`eventfold_subscription_rebuilds_total`).
    Rebuilt,
}

/// A record as Kafka holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// Milliseconds since the epoch, -1 when the broker gave none.
    pub timestamp: i64,
    pub headers: Vec<eventfold_core::Header>,
    pub value: Option<Vec<u8>>,
}

impl RawRecord {
    /// The record in its wire form.
    pub fn to_record(&self, topic: &str) -> Record {
        Record {
            topic: topic.to_owned(),
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_deref().map(WireBytes::encode),
            timestamp: self.timestamp,
            headers: self
                .headers
                .iter()
                .map(|h| eventfold_core::wire::WireHeader {
                    name: h.name.clone(),
                    value: h.value.as_deref().map(WireBytes::encode),
                })
                .collect(),
            value: self.value.as_deref().map(WireBytes::encode),
        }
    }
}

impl Delivery {
    /// The delivery with raw records put in their wire form, for a WebSocket session.
    pub fn wire_form(self, topic: &str) -> Delivery {
        match self {
            Delivery::Raw(raw) => {
                Delivery::Records(raw.iter().map(|r| r.to_record(topic)).collect())
            }
            other => other,
        }
    }
}

/// Records in their wire text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecords {
    /// A JSON array of records, each as `core::wire::Record` serializes.
    pub json: String,
    /// How many records the array holds.
    pub count: usize,
    /// The last offset of every partition in the array.
    pub last: Vec<(i32, i64)>,
}

impl EncodedRecords {
    /// The records, parsed back (for tests and tools; the session sends the text).
    pub fn records(&self) -> Result<Vec<Record>, serde_json::Error> {
        serde_json::from_str(&self.json)
    }
}

/// One item of a subscription's channel.
pub type Batch = Result<Delivery, BackendError>;

/// A running subscription. Dropping it stops the replay and frees its consumer.
pub struct Subscription {
    /// High watermark per partition at subscribe time: the session sends `caught_up`
    /// once every listed partition was [`Delivery::Reached`] or its delivered offset
    /// reached `high - 1`, and at once when none is listed. So leave out the partitions
    /// with nothing to replay (empty, or a start at or past the high watermark, as
    /// `latest` has): otherwise `caught_up` never comes.
    pub high: BTreeMap<i32, i64>,
    /// Record batches and end-of-replay marks. The channel is bounded; a full channel
    /// means the browser is behind, and the backend stops fetching.
    pub batches: mpsc::Receiver<Batch>,
    /// Set to true to pause fetching (flow control), false to resume.
    pub paused: watch::Sender<bool>,
}

/// Whether the backend can reach Kafka, as `/healthz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No Kafka behind this bridge (`NoKafka`): the page is served alone.
    NotConfigured,
    /// The cluster answered.
    Reachable,
    /// The cluster did not answer; why, for the operator.
    Unreachable(String),
}

/// The Kafka operations behind the protocol.
pub trait Backend: Send + Sync + 'static {
    /// Whether Kafka can be reached now, for `/healthz`. The default suits a backend
    /// without Kafka; the Kafka backend asks the cluster.
    fn health(&self) -> impl Future<Output = Health> + Send {
        async { Health::NotConfigured }
    }

    /// Whether `produce` is allowed (`--allow-produce`), announced in `hello`.
    fn produce_allowed(&self) -> bool;

    /// Topic names for `hello` (those the `--topics` filter lets through).
    fn topic_names(&self) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;

    /// Topics with partitions and watermarks, for `list_topics`.
    fn list_topics(&self) -> impl Future<Output = Result<Vec<TopicInfo>, BackendError>> + Send;

    /// Starts a replay: assign + seek, no consumer group, no commits.
    fn subscribe(
        &self,
        request: SubscribeRequest,
    ) -> impl Future<Output = Result<Subscription, BackendError>> + Send;

    /// Puts a record in the producer's queue, and returns the broker's acknowledgement
    /// to await.
    ///
    /// This future resolves once the record's place in the append order is fixed:
    /// records enqueued one after the other (each `enqueue` awaited before the next
    /// starts) are appended in that order, per partition, however their acks are
    /// awaited. That is how a connection's produce frames keep the order they were sent
    /// in without waiting for each acknowledgement before sending the next.
    fn enqueue(
        &self,
        request: ProduceRequest,
    ) -> impl Future<Output = Result<ProduceAck, BackendError>> + Send;

    /// Appends a record; resolves once the broker acknowledged it, with its partition
    /// and offset.
    fn produce(
        &self,
        request: ProduceRequest,
    ) -> impl Future<Output = Result<(i32, i64), BackendError>> + Send {
        async move { self.enqueue(request).await?.await }
    }

    /// The offsets consumer group `group` has committed on `topic`: per partition, the
    /// next offset the group will read. Partitions the group committed nothing to are
    /// left out. Only reads: it never joins the group and never commits.
    fn group_offsets(
        &self,
        group: String,
        topic: String,
    ) -> impl Future<Output = Result<BTreeMap<i32, i64>, BackendError>> + Send;
}

/// The backend of a bridge started without `--brokers`: it serves the page alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKafka;

fn no_kafka() -> BackendError {
    BackendError::new(
        ErrorCode::Kafka,
        "this bridge serves the page alone: start it with --brokers HOST:PORT to reach Kafka",
    )
}

impl Backend for NoKafka {
    fn produce_allowed(&self) -> bool {
        false
    }

    async fn topic_names(&self) -> Result<Vec<String>, BackendError> {
        Ok(Vec::new())
    }

    async fn list_topics(&self) -> Result<Vec<TopicInfo>, BackendError> {
        Err(no_kafka())
    }

    async fn subscribe(&self, _request: SubscribeRequest) -> Result<Subscription, BackendError> {
        Err(no_kafka())
    }

    async fn enqueue(&self, _request: ProduceRequest) -> Result<ProduceAck, BackendError> {
        Err(no_kafka())
    }

    async fn group_offsets(
        &self,
        _group: String,
        _topic: String,
    ) -> Result<BTreeMap<i32, i64>, BackendError> {
        Err(no_kafka())
    }
}

/// Encodes bytes for the wire; re-exported so backends need not import core::wire.
pub fn wire_bytes(bytes: &[u8]) -> WireBytes {
    WireBytes::encode(bytes)
}
