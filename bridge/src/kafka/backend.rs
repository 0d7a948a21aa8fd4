//! [`KafkaBackend`]: the [`Backend`] of a bridge started with `--brokers`.
//!
//! One admin client answers metadata and watermark questions, one idempotent producer
//! (only with `--allow-produce`) appends records, and every subscription gets a consumer
//! of its own, assigned with explicit offsets: no consumer group is joined and nothing is
//! ever committed, so any number of replays of one topic never disturb each other or the
//! groups of real applications.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use eventfold_core::wire::{ErrorCode, PartitionInfo, StartFrom, TopicInfo};
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use regex::Regex;
use tokio::sync::{mpsc, watch};

use super::hub::{Detached, Hubs, Offer, Spawner};
use super::subscription::{self, Form, Pump, QuietEof, Sink};
use super::watchdog::{Watch, Watchdog};
use crate::backend::{
    Backend, BackendError, Health, ProduceAck, ProduceRequest, SubscribeRequest, Subscription,
};

/// How long a metadata, watermark or timestamp lookup may take before the request fails.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/healthz` waits for the cluster.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a produced record may wait for the broker's acknowledgement (librdkafka's
/// `message.timeout.ms`), e.g. while the broker restarts, before `produce` fails.
pub const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `enqueue` waits before it tries again when librdkafka's queue is full
/// (`queue.buffering.max.messages`); it gives up after [`PRODUCE_TIMEOUT`].
pub const PRODUCE_QUEUE_FULL_RETRY: Duration = Duration::from_millis(10);
/// How long the producer waits to batch records: one browser produces one record at a
/// time, so waiting longer would only add latency.
pub const PRODUCE_LINGER_MS: u32 = 1;
/// librdkafka's prefetch per subscription (`queued.max.messages.kbytes`, the default of
/// `eventfold serve --prefetch-kbytes`): records fetched ahead of the browser. Small,
/// so that subscriptions of browsers that stop reading stay cheap: with librdkafka's
/// default (64 MiB) and then 4 MiB, 128 such subscriptions held 900 MiB; at 256 KiB,
/// 185 MiB.
pub const PREFETCH_KBYTES: u32 = 128;
/// The prefetch of `eventfold replay --topic`, which folds as fast as it can read and has
/// one consumer: a larger prefetch keeps its fetches large.
pub const REPLAY_PREFETCH_KBYTES: u32 = 4096;
/// The most records librdkafka keeps fetched ahead per partition
/// (`queued.min.messages`: it fetches while it holds fewer, 100 000 by default).
pub const PREFETCH_RECORDS: u32 = 20_000;
/// How long librdkafka waits to fetch again once the prefetch is full
/// (`fetch.queue.backoff.ms`). The default, 1 s, stalls a replay that is a little slower
/// than the broker for a second at a time: with it, a replay ran at 0.16× kcat's speed.
pub const FETCH_QUEUE_BACKOFF_MS: u32 = 5;
/// The most one fetch response may carry (`fetch.max.bytes`), when the prefetch is
/// larger.
pub const FETCH_MAX_BYTES: u32 = 4 << 20;
/// The most one partition may add to a fetch response (`max.partition.fetch.bytes`),
/// when the prefetch is larger.
pub const PARTITION_FETCH_MAX_BYTES: u32 = 1 << 20;
/// The most librdkafka calls that block (metadata, watermarks, creating a consumer)
/// the backend runs at once, each on a thread of tokio's blocking pool.
pub const MAX_BLOCKING_CALLS: usize = 8;
/// How long a request meeting a transient error (a partition without a leader yet, as
/// right after its topic was created) is retried before it fails.
pub const TRANSIENT_RETRY: Duration = Duration::from_secs(10);
/// The pause between two tries of a request that met a transient error.
const TRANSIENT_BACKOFF: Duration = Duration::from_millis(100);
/// Record batches a subscription holds for its session before it stops fetching.
pub const BATCH_QUEUE: usize = 2;
/// The group id of every subscription's consumer. Consumers only `assign`: they never
/// join this group and never commit to it, so it stays empty on the cluster.
pub const NEVER_COMMITTED_GROUP: &str = "eventfold-bridge-never-committed";

/// The Kafka backend. Cheap to share: wrap it in an `Arc`.
pub struct KafkaBackend {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    brokers: String,
    topics: Option<Regex>,
    /// Internal `__…` topics are visible too (`--internal-topics`, and the terminal's
    /// replay, whose operator names the topic).
    internal: AtomicBool,
    admin: AdminClient<DefaultClientContext>,
    producer: Option<FutureProducer>,
    /// Topics known to exist, so a produce does not ask for metadata every time.
    known_topics: Mutex<HashSet<String>>,
    /// Rebuilds subscriptions that stall while records wait.
    watchdog: Arc<Watchdog>,
    /// The configuration of every subscription's consumer.
    consumer_config: std::sync::RwLock<Arc<ClientConfig>>,
    /// The shared tails that caught-up subscriptions are handed over to.
    hubs: Arc<Hubs>,
    /// This backend, for the threads it starts.
    me: Weak<Inner>,
}

impl KafkaBackend {
    /// A backend over the cluster of `config` (from [`super::KafkaArgs::client_config`]).
    /// `topics` limits what clients see (a topic it does not match is unknown to them);
    /// without it every topic except the internal `__…` ones is visible. No connection
    /// is made here: librdkafka connects on first use and reconnects by itself, so the
    /// bridge starts even when the broker is not up yet.
    pub fn new(
        config: ClientConfig,
        topics: Option<Regex>,
        allow_produce: bool,
    ) -> Result<KafkaBackend, BackendError> {
        let brokers = config.get("bootstrap.servers").unwrap_or("").to_owned();
        let mut admin_config = config.clone();
        // A producer-type client asks the broker to create topics it looks up; a lookup
        // must never create a topic.
        admin_config.set("allow.auto.create.topics", "false");
        let admin = admin_config
            .create()
            .map_err(|e| kafka_error("cannot create the Kafka admin client", e))?;
        let producer = if allow_produce {
            let mut producer_config = config.clone();
            producer_config
                .set("acks", "all")
                .set("enable.idempotence", "true")
                // Keys land where Java clients and the simulator put them.
                .set("partitioner", "murmur2_random")
                .set("allow.auto.create.topics", "false")
                .set("linger.ms", PRODUCE_LINGER_MS.to_string())
                .set(
                    "message.timeout.ms",
                    PRODUCE_TIMEOUT.as_millis().to_string(),
                );
            Some(
                producer_config
                    .create()
                    .map_err(|e| kafka_error("cannot create the Kafka producer", e))?,
            )
        } else {
            None
        };
        Ok(KafkaBackend {
            inner: Arc::new_cyclic(|inner: &Weak<Inner>| {
                let spawner: Weak<dyn Spawner> = inner.clone();
                Inner {
                    config: config.clone(),
                    brokers,
                    topics,
                    internal: AtomicBool::new(false),
                    admin,
                    producer,
                    known_topics: Mutex::new(HashSet::new()),
                    watchdog: Arc::new(Watchdog::default()),
                    consumer_config: std::sync::RwLock::new(Arc::new(consumer_config(
                        &config,
                        PREFETCH_KBYTES,
                    ))),
                    hubs: Arc::new(Hubs::new(spawner)),
                    me: inner.clone(),
                }
            }),
        })
    }

    /// How many topics have a shared tail, and how many caught-up subscriptions those
    /// serve instead of consumers of their own.
    pub fn shared_tails(&self) -> (usize, usize) {
        self.inner.hubs.census()
    }

    /// Sets how much each subscription's consumer fetches ahead of its browser
    /// (`--prefetch-kbytes`; [`PREFETCH_KBYTES`] by default), the main part of what an
    /// open subscription costs in memory.
    pub fn with_prefetch_kbytes(self, kbytes: u32) -> KafkaBackend {
        let config = consumer_config(&self.inner.config, kbytes.max(1));
        *self
            .inner
            .consumer_config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        self
    }

    /// Lets clients see internal `__…` topics too (`--internal-topics`); by default they
    /// are hidden whatever the `--topics` filter matches.
    pub fn with_internal_topics(self, visible: bool) -> KafkaBackend {
        self.inner.internal.store(visible, Ordering::Relaxed);
        self
    }

    /// How long a subscription may make no progress while records wait before it is
    /// rebuilt (`--stall-timeout`; [`super::watchdog::STALL_TIMEOUT`] by default).
    pub fn with_stall_timeout(self, timeout: Duration) -> KafkaBackend {
        self.inner.watchdog.set_limit(timeout);
        self
    }

    /// Like [`Backend::subscribe`], but the replay ends at the high watermarks seen at
    /// subscribe time: records past them are not delivered, and the channel closes once
    /// every partition reached them. `eventfold replay` reads a topic this way.
    pub async fn replay_to_high_watermark(
        &self,
        request: SubscribeRequest,
    ) -> Result<Subscription, BackendError> {
        self.open(request, true).await
    }

    async fn open(
        &self,
        request: SubscribeRequest,
        until_high: bool,
    ) -> Result<Subscription, BackendError> {
        let inner = self.inner.clone();
        blocking(move || inner.open(request, until_high)).await
    }
}

/// Runs a blocking librdkafka call off the async threads.
///
/// At most [`MAX_BLOCKING_CALLS`] run at once: every `hello` lists topics and every
/// `subscribe` reads metadata and watermarks, and 500 browsers connecting together
/// made tokio start a blocking thread for each (its pool grows to 512).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    static CALLS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_BLOCKING_CALLS);
    let _permit = CALLS
        .acquire()
        .await
        .map_err(|e| BackendError::new(ErrorCode::Kafka, format!("Kafka task failed: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BackendError::new(ErrorCode::Kafka, format!("Kafka task failed: {e}")))?
}

/// Whether `error` is one the cluster gets over by itself within moments: a leader
/// being elected or moving, metadata not yet propagated.
fn transient(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::UnknownLeaderEpoch
                | RDKafkaErrorCode::FencedLeaderEpoch
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::OffsetNotAvailable
        )
    )
}

pub(crate) fn kafka_error(context: &str, error: KafkaError) -> BackendError {
    BackendError::new(ErrorCode::Kafka, format!("{context}: {error}"))
}

/// Whether `topic` is one of Kafka's internal topics (`__consumer_offsets`,
/// `__transaction_state`, …), by the naming rule Kafka reserves for them.
pub fn is_internal(topic: &str) -> bool {
    topic.starts_with("__")
}

fn unknown_topic(topic: &str) -> BackendError {
    BackendError::new(ErrorCode::UnknownTopic, format!("unknown topic {topic:?}"))
}

impl Inner {
    /// The configuration of a new subscription's consumer.
    fn consumer_config(&self) -> Arc<ClientConfig> {
        self.consumer_config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether clients may see `topic`: it matches the `--topics` filter (when there is
    /// one), and it is not an internal `__…` topic unless internal topics were asked for
    /// by name (`--internal-topics`). A filter such as `.*` must not expose
    /// `__consumer_offsets`, which holds every consumer group's commits.
    fn visible(&self, topic: &str) -> bool {
        (self.internal.load(Ordering::Relaxed) || !is_internal(topic))
            && self.topics.as_ref().is_none_or(|f| f.is_match(topic))
    }

    fn unreachable(&self, error: KafkaError) -> BackendError {
        kafka_error(
            &format!(
                "cannot read the metadata of the Kafka cluster at {}",
                self.brokers
            ),
            error,
        )
    }

    /// Visible topic names with their partition ids, from one metadata request for all
    /// topics (asking for one topic by name could create it on brokers that
    /// auto-create).
    fn topic_partitions(&self) -> Result<BTreeMap<String, Vec<i32>>, BackendError> {
        let metadata = self
            .admin
            .inner()
            .fetch_metadata(None, METADATA_TIMEOUT)
            .map_err(|e| self.unreachable(e))?;
        let topics: BTreeMap<String, Vec<i32>> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && self.visible(t.name()))
            .map(|t| {
                let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
                ids.sort_unstable();
                (t.name().to_owned(), ids)
            })
            .collect();
        let mut known = self.known_topics.lock().unwrap_or_else(|e| e.into_inner());
        known.clear();
        known.extend(topics.keys().cloned());
        Ok(topics)
    }

    fn topic(&self, topic: &str) -> Result<Vec<i32>, BackendError> {
        self.topic_partitions()?
            .remove(topic)
            .ok_or_else(|| unknown_topic(topic))
    }

    /// The low and high watermarks of one partition. A partition whose leader is not
    /// known yet — a topic created a moment ago, or a leader moving — answers with a
    /// transient error for a little while; such errors are retried for up to
    /// [`TRANSIENT_RETRY`] before the request fails.
    fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), BackendError> {
        let started = std::time::Instant::now();
        loop {
            match self
                .admin
                .inner()
                .fetch_watermarks(topic, partition, METADATA_TIMEOUT)
            {
                Ok(marks) => return Ok(marks),
                Err(e) if transient(&e) && started.elapsed() < TRANSIENT_RETRY => {
                    tracing::debug!(topic, partition, "watermarks: {e}; retrying");
                    std::thread::sleep(TRANSIENT_BACKOFF);
                }
                Err(e) => {
                    return Err(kafka_error(
                        &format!("cannot read the watermarks of {topic:?} partition {partition}"),
                        e,
                    ));
                }
            }
        }
    }

    fn list_topics(&self) -> Result<Vec<TopicInfo>, BackendError> {
        self.topic_partitions()?
            .into_iter()
            .map(|(name, ids)| {
                let partitions = ids
                    .into_iter()
                    .map(|id| {
                        let (low, high) = self.watermarks(&name, id)?;
                        Ok(PartitionInfo { id, low, high })
                    })
                    .collect::<Result<_, BackendError>>()?;
                Ok(TopicInfo { name, partitions })
            })
            .collect()
    }
}

/// The configuration of a subscription's consumer: `config` plus what makes it a
/// replay that joins no group, commits nothing and prefetches little.
///
/// A fetch response is held whole while librdkafka parses it, beside the prefetch: so
/// fetches are no larger than the prefetch either, and a subscription holds at most about
/// twice `prefetch_kbytes` in librdkafka (a single record larger than that is still
/// fetched: the broker always returns at least one record batch).
fn consumer_config(config: &ClientConfig, prefetch_kbytes: u32) -> ClientConfig {
    let prefetch = prefetch_kbytes.saturating_mul(1024);
    let partition_fetch_max = PARTITION_FETCH_MAX_BYTES.min(prefetch);
    let fetch_max = FETCH_MAX_BYTES.min(prefetch).max(partition_fetch_max);
    let mut config = config.clone();
    config
        .set("group.id", NEVER_COMMITTED_GROUP)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // A position that leaves the log (retention deleted it) is an error the
        // browser hears about, not a silent jump.
        .set("auto.offset.reset", "error")
        .set("allow.auto.create.topics", "false")
        // The pump needs to know when a partition reaches its end: its last
        // offsets may be transaction markers or aborted records that are never
        // delivered, and only the end-of-partition event says caught_up.
        .set("enable.partition.eof", "true")
        // KIP-714 client metrics keep histograms per broker connection: half the
        // memory of an idle subscription (0.23 instead of 0.5 MiB), for metrics
        // nobody asked a throwaway consumer for.
        .set("enable.metrics.push", "false")
        .set("queued.max.messages.kbytes", prefetch_kbytes.to_string())
        .set("queued.min.messages", PREFETCH_RECORDS.to_string())
        .set("fetch.queue.backoff.ms", FETCH_QUEUE_BACKOFF_MS.to_string())
        .set("fetch.max.bytes", fetch_max.to_string())
        // librdkafka wants fetch.max.bytes at least message.max.bytes, the largest
        // request this client sends (fetch requests are small).
        .set("message.max.bytes", fetch_max.max(1000).to_string())
        .set("max.partition.fetch.bytes", partition_fetch_max.to_string());
    config
}

impl Inner {
    /// Resolves the start of every partition, assigns a fresh consumer and starts its
    /// pump thread.
    fn open(
        self: &Arc<Self>,
        request: SubscribeRequest,
        until_high: bool,
    ) -> Result<Subscription, BackendError> {
        let topic = request.topic.as_str();
        let all = self.topic(topic)?;
        let selected = match &request.partitions {
            None => all.clone(),
            Some(list) => {
                if list.is_empty() {
                    return Err(BackendError::new(
                        ErrorCode::BadRequest,
                        "`partitions` is empty: list some partitions, or leave it out for all",
                    ));
                }
                let mut list = list.clone();
                list.sort_unstable();
                list.dedup();
                list
            }
        };
        let exists = |p: &i32| all.binary_search(p).is_ok();
        let requested = selected
            .iter()
            .chain(match &request.from {
                StartFrom::Offsets(offsets) => offsets.keys().collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .find(|p| !exists(p));
        if let Some(p) = requested {
            return Err(BackendError::new(
                ErrorCode::BadRequest,
                format!(
                    "topic {topic:?} has no partition {p} (it has {})",
                    partition_range(&all)
                ),
            ));
        }

        // Only a tail of every partition can share the topic's consumer.
        let shareable = !until_high && selected == all;
        if shareable && matches!(request.from, StartFrom::Latest(_)) {
            return self.open_tail(topic, &all);
        }

        let mut marks = BTreeMap::new();
        for &p in &selected {
            marks.insert(p, self.watermarks(topic, p)?);
        }
        let consumer: BaseConsumer<QuietEof> = self
            .consumer_config()
            .create_with_context(QuietEof)
            .map_err(|e| kafka_error("cannot create a Kafka consumer", e))?;
        let starts = start_offsets(&consumer, topic, &request.from, &marks)?;

        let mut assignment = TopicPartitionList::with_capacity(starts.len());
        let mut high = BTreeMap::new();
        for (&p, &start) in &starts {
            let (_, h) = marks[&p];
            // The session waits for every listed partition, so list only those with
            // records to replay.
            if start < h {
                high.insert(p, h);
            }
            if until_high && start >= h {
                continue;
            }
            assignment
                .add_partition_offset(topic, p, Offset::Offset(start))
                .map_err(|e| kafka_error("cannot build the assignment", e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error(&format!("cannot assign {topic:?}"), e))?;

        let (tx, batches) = mpsc::channel(BATCH_QUEUE);
        let (paused, paused_rx) = watch::channel(false);
        let pump = Pump {
            consumer,
            assignment,
            sink: Sink::One(tx),
            paused: paused_rx,
            high: high.clone(),
            stop_at_high: until_high,
            // A replay to the high watermark feeds `eventfold replay`, which folds the
            // bytes; a subscription feeds a WebSocket, which sends text.
            form: if until_high { Form::Raw } else { Form::Encoded },
            topic: topic.to_owned(),
            config: self.consumer_config(),
            watch: self.new_watch(topic, &starts),
            handover: shareable.then(|| self.hubs.clone()),
        };
        subscription::spawn(pump, topic)?;
        Ok(Subscription {
            high,
            batches,
            paused,
        })
    }

    /// A subscription of every partition of `topic` from the end of the log: it joins
    /// the topic's shared tail, and only when there is none yet does it start one, with
    /// a consumer at the high watermarks. Either way `high` is empty (nothing to replay,
    /// so `caught_up` comes at once).
    fn open_tail(self: &Arc<Self>, topic: &str, all: &[i32]) -> Result<Subscription, BackendError> {
        let (tx, batches) = mpsc::channel(BATCH_QUEUE);
        let (paused, paused_rx) = watch::channel(false);
        let subscription = Subscription {
            high: BTreeMap::new(),
            batches,
            paused,
        };
        // Where a new hub starts; a hub that exists is at an end of the log already.
        let at: BTreeMap<i32, i64> = match self.hubs.position(topic) {
            Some(at) if at.keys().copied().eq(all.iter().copied()) => at,
            _ => all
                .iter()
                .map(|&p| Ok((p, self.watermarks(topic, p)?.1)))
                .collect::<Result<_, BackendError>>()?,
        };
        let hub = match self.hubs.join_tail(topic, &at, &tx, &paused_rx) {
            Offer::Become(hub) => hub,
            Offer::Taken => return Ok(subscription),
            // The hub follows other partitions (the topic grew since): a consumer of its
            // own, which hands over to a hub later.
            Offer::NotNow => {
                self.tail(topic, &at, Sink::One(tx), paused_rx)?;
                return Ok(subscription);
            }
        };
        let at = hub.next();
        // A hub is never paused: a subscriber that wants a pause stays behind in its
        // backlog, then leaves.
        let started = self.tail(topic, &at, Sink::Hub(hub.clone()), watch::channel(false).1);
        if let Err(e) = started {
            // Every subscriber that joined meanwhile goes to a consumer of its own, which
            // meets the error itself if it lasts.
            hub.fan_out(Err(e.clone()), &at);
            return Err(e);
        }
        Ok(subscription)
    }

    /// The committed offsets of `group` on every partition of `topic`. The consumer
    /// carries the group's id only to ask its coordinator (OffsetFetch): it subscribes
    /// to nothing and is assigned nothing, so it never joins the group, and with
    /// auto-commit off and no offsets stored it has nothing it could commit.
    fn group_offsets(&self, group: &str, topic: &str) -> Result<BTreeMap<i32, i64>, BackendError> {
        let partitions = self.topic(topic)?;
        let mut config = self.config.clone();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("allow.auto.create.topics", "false")
            .set("enable.metrics.push", "false");
        let consumer: BaseConsumer<QuietEof> = config
            .create_with_context(QuietEof)
            .map_err(|e| kafka_error("cannot create a Kafka consumer", e))?;
        let mut query = TopicPartitionList::with_capacity(partitions.len());
        for &p in &partitions {
            query
                .add_partition_offset(topic, p, Offset::Invalid)
                .map_err(|e| kafka_error("cannot build the offset query", e))?;
        }
        let context = || format!("cannot read the offsets group {group:?} committed on {topic:?}");
        let committed = consumer
            .committed_offsets(query, METADATA_TIMEOUT)
            .map_err(|e| kafka_error(&context(), e))?;
        let mut offsets = BTreeMap::new();
        for element in committed.elements_for_topic(topic) {
            element.error().map_err(|e| kafka_error(&context(), e))?;
            if let Offset::Offset(n) = element.offset() {
                offsets.insert(element.partition(), n);
            }
        }
        Ok(offsets)
    }

    /// A stall watch for a pump starting at `positions`, under the watchdog.
    fn new_watch(self: &Arc<Self>, topic: &str, positions: &BTreeMap<i32, i64>) -> Arc<Watch> {
        let stall_watch = Arc::new(Watch::new(topic, positions.clone()));
        self.watch(&stall_watch);
        stall_watch
    }

    /// A consumer assigned to `topic` at `at`.
    fn consumer_at(
        &self,
        topic: &str,
        at: &BTreeMap<i32, i64>,
    ) -> Result<(BaseConsumer<QuietEof>, TopicPartitionList), BackendError> {
        let consumer: BaseConsumer<QuietEof> = self
            .consumer_config()
            .create_with_context(QuietEof)
            .map_err(|e| kafka_error("cannot create a Kafka consumer", e))?;
        let mut assignment = TopicPartitionList::with_capacity(at.len());
        for (&p, &offset) in at {
            assignment
                .add_partition_offset(topic, p, Offset::Offset(offset))
                .map_err(|e| kafka_error("cannot build the assignment", e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| kafka_error(&format!("cannot assign {topic:?}"), e))?;
        Ok((consumer, assignment))
    }

    /// Starts a pump at `at` feeding `sink`: a tail with nothing more to replay. A tail
    /// of its own hands itself over to the shared tail once idle; a hub's pump is the
    /// shared tail.
    fn tail(
        self: &Arc<Self>,
        topic: &str,
        at: &BTreeMap<i32, i64>,
        sink: Sink,
        paused: watch::Receiver<bool>,
    ) -> Result<(), BackendError> {
        let (consumer, assignment) = self.consumer_at(topic, at)?;
        let handover = match sink {
            Sink::One(_) => Some(self.hubs.clone()),
            Sink::Hub(_) => None,
        };
        let pump = Pump {
            consumer,
            assignment,
            sink,
            paused,
            high: BTreeMap::new(),
            stop_at_high: false,
            form: Form::Encoded,
            topic: topic.to_owned(),
            config: self.consumer_config(),
            watch: self.new_watch(topic, at),
            handover,
        };
        subscription::spawn(pump, topic)
    }

    /// Puts a subscription under the stall watchdog, whose watermarks come from the
    /// admin client (independent of the subscriptions' own broker connections). The
    /// watchdog holds the backend weakly: it stops once the backend is dropped.
    fn watch(self: &Arc<Self>, stall_watch: &Arc<Watch>) {
        let inner = Arc::downgrade(self);
        self.watchdog.watch(stall_watch, move |topic, partitions| {
            let inner = inner.upgrade()?;
            Some(
                partitions
                    .iter()
                    .filter_map(|&p| inner.watermarks(topic, p).ok().map(|(_, high)| (p, high)))
                    .collect(),
            )
        });
    }

    fn topic_known(&self, topic: &str) -> bool {
        self.known_topics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(topic)
    }

    fn ensure_topic(&self, topic: &str) -> Result<(), BackendError> {
        if self.topic_known(topic) || self.topic_partitions()?.contains_key(topic) {
            Ok(())
        } else {
            Err(unknown_topic(topic))
        }
    }
}

impl Spawner for Inner {
    fn detach(&self, detached: Detached) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        // Creating a consumer takes a while; the hub does not wait for it.
        let spawned = std::thread::Builder::new()
            .name("eventfold-detach".into())
            .spawn(move || {
                let Detached {
                    topic,
                    tx,
                    paused,
                    next,
                } = detached;
                if let Err(e) = me.tail(&topic, &next, Sink::One(tx.clone()), paused) {
                    let _ = tx.blocking_send(Err(e));
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a thread for a detached subscription: {e}");
        }
    }
}

/// `0..=2`, or the list when the ids are not contiguous.
fn partition_range(ids: &[i32]) -> String {
    match (ids.first(), ids.last()) {
        (Some(first), Some(last)) if (last - first) as usize + 1 == ids.len() => {
            format!("partitions {first}..={last}")
        }
        (Some(_), Some(_)) => format!("partitions {ids:?}"),
        _ => "no partitions".to_owned(),
    }
}

/// The first offset to read in each partition, checked against the watermarks.
fn start_offsets(
    consumer: &BaseConsumer<QuietEof>,
    topic: &str,
    from: &StartFrom,
    marks: &BTreeMap<i32, (i64, i64)>,
) -> Result<BTreeMap<i32, i64>, BackendError> {
    match from {
        StartFrom::Beginning(_) => Ok(marks.iter().map(|(&p, &(low, _))| (p, low)).collect()),
        StartFrom::Latest(_) => Ok(marks.iter().map(|(&p, &(_, high))| (p, high)).collect()),
        StartFrom::Offsets(offsets) => marks
            .iter()
            .map(|(&p, &(low, high))| {
                let Some(&offset) = offsets.get(&p) else {
                    return Ok((p, low));
                };
                if (low..=high).contains(&offset) {
                    Ok((p, offset))
                } else {
                    Err(BackendError::new(
                        ErrorCode::OffsetOutOfRange,
                        format!(
                            "offset {offset} is out of range for partition {p} of {topic:?}: \
                             valid offsets are {low}..={high} (log start {low}, high watermark {high})"
                        ),
                    ))
                }
            })
            .collect(),
        StartFrom::Timestamp(ms) => {
            let mut query = TopicPartitionList::with_capacity(marks.len());
            for &p in marks.keys() {
                query
                    .add_partition_offset(topic, p, Offset::Offset(*ms))
                    .map_err(|e| kafka_error("cannot build the timestamp query", e))?;
            }
            let found = consumer
                .offsets_for_times(query, METADATA_TIMEOUT)
                .map_err(|e| kafka_error(&format!("cannot look up timestamp {ms}"), e))?;
            marks
                .iter()
                .map(|(&p, &(_, high))| {
                    let offset = found
                        .find_partition(topic, p)
                        .map(|e| e.offset())
                        .unwrap_or(Offset::End);
                    match offset {
                        Offset::Offset(n) => Ok((p, n)),
                        // No record at or after the time: start at the end.
                        _ => Ok((p, high)),
                    }
                })
                .collect()
        }
    }
}

impl Backend for KafkaBackend {
    async fn health(&self) -> Health {
        let inner = self.inner.clone();
        let result = blocking(move || {
            inner
                .admin
                .inner()
                .fetch_metadata(None, HEALTH_TIMEOUT)
                .map(|_| ())
                .map_err(|e| inner.unreachable(e))
        })
        .await;
        match result {
            Ok(()) => Health::Reachable,
            Err(e) => Health::Unreachable(e.message),
        }
    }

    fn produce_allowed(&self) -> bool {
        self.inner.producer.is_some()
    }

    async fn topic_names(&self) -> Result<Vec<String>, BackendError> {
        let inner = self.inner.clone();
        blocking(move || Ok(inner.topic_partitions()?.into_keys().collect())).await
    }

    async fn list_topics(&self) -> Result<Vec<TopicInfo>, BackendError> {
        let inner = self.inner.clone();
        blocking(move || inner.list_topics()).await
    }

    async fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription, BackendError> {
        self.open(request, false).await
    }

    async fn enqueue(&self, request: ProduceRequest) -> Result<ProduceAck, BackendError> {
        let Some(producer) = &self.inner.producer else {
            return Err(BackendError::new(
                ErrorCode::Forbidden,
                "this bridge is read-only: start it with --allow-produce to produce",
            ));
        };
        // A known topic is checked without a thread: most produces go to a topic
        // produced to before, and this runs once per record, in order.
        if !self.inner.topic_known(&request.topic) {
            let inner = self.inner.clone();
            let topic = request.topic.clone();
            blocking(move || inner.ensure_topic(&topic)).await?;
        }
        let delivery = enqueue_record(producer, &request).await?;
        let topic = request.topic;
        Ok(Box::pin(async move {
            match delivery.await {
                Ok(Ok(delivery)) => Ok((delivery.partition, delivery.offset)),
                Ok(Err((error, _))) => Err(produce_error(&topic, error)),
                Err(_) => Err(BackendError::new(
                    ErrorCode::Kafka,
                    format!(
                        "cannot produce to {topic:?}: the producer stopped before the broker answered"
                    ),
                )),
            }
        }))
    }

    async fn group_offsets(
        &self,
        group: String,
        topic: String,
    ) -> Result<BTreeMap<i32, i64>, BackendError> {
        let inner = self.inner.clone();
        blocking(move || inner.group_offsets(&group, &topic)).await
    }
}

/// Hands a record to librdkafka's queue. `send_result` enqueues at once, so records
/// are queued in call order, and the idempotent producer keeps that order per
/// partition across retries. A full queue is waited out (up to [`PRODUCE_TIMEOUT`])
/// here, before the record has a place, so waiting cannot reorder records.
async fn enqueue_record(
    producer: &FutureProducer,
    request: &ProduceRequest,
) -> Result<DeliveryFuture, BackendError> {
    let deadline = tokio::time::Instant::now() + PRODUCE_TIMEOUT;
    loop {
        let mut headers = OwnedHeaders::new_with_capacity(request.headers.len());
        for (name, value) in &request.headers {
            headers = headers.insert(Header {
                key: name,
                value: value.as_ref(),
            });
        }
        let mut record: FutureRecord<'_, Vec<u8>, Vec<u8>> =
            FutureRecord::to(&request.topic).headers(headers);
        if let Some(key) = &request.key {
            record = record.key(key);
        }
        if let Some(value) = &request.value {
            record = record.payload(value);
        }
        let error = match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((error, _)) => error,
        };
        let full = error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull);
        if !full || tokio::time::Instant::now() >= deadline {
            return Err(produce_error(&request.topic, error));
        }
        tokio::time::sleep(PRODUCE_QUEUE_FULL_RETRY).await;
    }
}

fn produce_error(topic: &str, error: KafkaError) -> BackendError {
    let code = match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            return unknown_topic(topic);
        }
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::MessageBatchTooLarge) => {
            ErrorCode::TooLarge
        }
        _ => ErrorCode::Kafka,
    };
    BackendError::new(code, format!("cannot produce to {topic:?}: {error}"))
}
