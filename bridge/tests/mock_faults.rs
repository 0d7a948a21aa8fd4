//! Faults a real broker cannot be made to produce on demand, injected with librdkafka's
//! MockCluster (an in-process Kafka protocol server that ships with librdkafka): a fetch
//! that hangs, a cluster that is down when the bridge starts, produce requests the broker
//! refuses. The bridge under test is the real one (`serve::run` with the Kafka backend
//! over the mock cluster's listeners) and the client is a real WebSocket client.
//! Everything that needs no fault runs against the real broker in kafka.rs and
//! kafka_ws.rs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::bindings;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use serde_json::{Value, json};

mod common;

use common::served::{Served, Socket, send, text_within};

/// How long a test waits for what it expects.
const WAIT: Duration = Duration::from_secs(20);

/// A mock cluster of three brokers. It lives inside the producer that created it
/// (`test.mock.num.brokers`), which the tests also use to write records.
struct Cluster {
    producer: FutureProducer,
    bootstrap: String,
}

impl Cluster {
    fn new() -> Cluster {
        let producer: FutureProducer = ClientConfig::new()
            .set("test.mock.num.brokers", "3")
            .set("linger.ms", "0")
            .create()
            .expect("a producer with a mock cluster");
        let bootstrap = producer
            .client()
            .mock_cluster()
            .expect("the mock cluster")
            .bootstrap_servers();
        Cluster {
            producer,
            bootstrap,
        }
    }

    fn mock(&self) -> MockCluster<'_, impl ClientContext> {
        self.producer
            .client()
            .mock_cluster()
            .expect("the mock cluster")
    }

    /// A one-partition topic led by broker 1.
    fn topic(&self, name: &str) {
        self.topic_of(name, 1);
    }

    /// A topic of `partitions` partitions, all led by broker 1.
    fn topic_of(&self, name: &str, partitions: i32) {
        let mock = self.mock();
        mock.create_topic(name, partitions, 1)
            .expect("create the topic");
        for p in 0..partitions {
            mock.partition_leader(name, p, Some(1))
                .expect("broker 1 leads it");
        }
    }

    /// The next `count` Fetch requests broker `broker` receives are answered only after
    /// `delay`: a fetch that hangs, as on a half-open connection.
    fn hang_fetches(&self, broker: i32, count: usize, delay: Duration) {
        let mock =
            unsafe { bindings::rd_kafka_handle_mock_cluster(self.producer.client().native_ptr()) };
        assert!(!mock.is_null(), "the producer has a mock cluster");
        for _ in 0..count {
            let err = unsafe {
                bindings::rd_kafka_mock_broker_push_request_error_rtts(
                    mock,
                    broker,
                    RDKafkaApiKey::Fetch as i16,
                    1,
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR as i32,
                    delay.as_millis() as i32,
                )
            };
            assert_eq!(err, RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR);
        }
    }

    /// Appends records with values `values` to partition 0 and returns their offsets.
    async fn produce(&self, topic: &str, values: std::ops::Range<i64>) -> Vec<i64> {
        let mut offsets = Vec::new();
        for amount in values {
            let value = json!({"type":"deposit","amount":amount}).to_string();
            let delivery = self
                .producer
                .send(
                    FutureRecord::to(topic)
                        .partition(0)
                        .key("acct-1")
                        .payload(&value),
                    WAIT,
                )
                .await
                .map_err(|(e, _)| e)
                .expect("produce to the mock cluster");
            offsets.push(delivery.offset);
        }
        offsets
    }
}

/// A running bridge over the mock cluster, and its backend.
struct Bridge {
    served: Served,
    backend: Arc<KafkaBackend>,
}

impl Bridge {
    async fn start(bootstrap: &str, stall_timeout: Duration, allow_produce: bool) -> Bridge {
        let args = KafkaArgs {
            brokers: Some(bootstrap.to_owned()),
            ..KafkaArgs::default()
        };
        let backend = Arc::new(
            KafkaBackend::new(args.client_config().unwrap(), None, allow_produce)
                .unwrap()
                .with_stall_timeout(stall_timeout),
        );
        let served = Served::start(backend.clone(), |config| {
            config.allow_produce = allow_produce;
        })
        .await;
        Bridge { served, backend }
    }
}

/// The next text frame as JSON.
async fn next(socket: &mut Socket) -> Value {
    text_within(socket, WAIT)
        .await
        .expect("a frame within the wait")
}

/// Offsets of the `records` frames that arrive within `wait`, until `count` are seen;
/// fails on any other frame.
async fn offsets_within(socket: &mut Socket, count: usize, wait: Duration) -> Vec<i64> {
    let deadline = Instant::now() + wait;
    let mut offsets = Vec::new();
    while offsets.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = text_within(socket, left).await else {
            break;
        };
        match frame["type"].as_str() {
            Some("records") => offsets.extend(
                frame["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["offset"].as_i64().unwrap()),
            ),
            Some("caught_up") => {}
            _ => panic!("unexpected frame {frame}"),
        }
    }
    offsets
}

/// How the stalled subscription reads.
#[derive(Clone, Copy, PartialEq)]
enum Reader {
    /// With a consumer of its own (a subscription to a subset of the partitions keeps
    /// one).
    Own,
    /// Through the topic's shared tail, which every caught-up subscription of all
    /// partitions is handed over to.
    Shared,
}

/// Subscribes to a two-partition topic from the beginning (to partition 0 alone for
/// [`Reader::Own`]) and reads the first five records and caught_up; then the next fetch
/// of the partitions' leader hangs for an hour and five more records are
/// produced.
async fn tail_then_hang(cluster: &Cluster, bridge: &Bridge, topic: &str, reader: Reader) -> Socket {
    cluster.topic_of(topic, 2);
    assert_eq!(cluster.produce(topic, 0..5).await, [0, 1, 2, 3, 4]);
    let mut socket = bridge.served.connect_past_hello().await;
    let partitions = match reader {
        Reader::Own => json!([0]),
        Reader::Shared => json!(null),
    };
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":topic,"from":{"beginning":true},
               "partitions":partitions}),
    )
    .await;
    assert_eq!(offsets_within(&mut socket, 5, WAIT).await, [0, 1, 2, 3, 4]);
    assert_eq!(next(&mut socket).await["type"], "caught_up");
    if reader == Reader::Shared {
        // The hang is for the shared tail, once the subscription is handed over to it.
        let deadline = Instant::now() + WAIT;
        while bridge.backend.shared_tails() != (1, 1) {
            assert!(
                Instant::now() < deadline,
                "the subscription was not handed over"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            bridge.backend.shared_tails(),
            (0, 0),
            "a subset keeps its consumer"
        );
    }
    // The consumer long-polls (fetch.wait.max.ms, 500 ms): the fetch in flight ends
    // normally, the next one is the one that hangs.
    cluster.hang_fetches(1, 1, Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cluster.produce(topic, 5..10).await, [5, 6, 7, 8, 9]);
    socket
}

/// The control: without the watchdog (a stall timeout of an hour) the hung fetch holds
/// the live records back — librdkafka itself gives up on the request only after
/// `socket.timeout.ms`, 60 s. This is what the next test's rebuild repairs.
#[tokio::test(flavor = "multi_thread")]
async fn a_hung_fetch_holds_live_records_back() {
    let cluster = Cluster::new();
    let bridge = Bridge::start(&cluster.bootstrap, Duration::from_secs(3600), false).await;
    let mut socket = tail_then_hang(&cluster, &bridge, "hung", Reader::Own).await;
    assert_eq!(
        offsets_within(&mut socket, 5, Duration::from_secs(8)).await,
        Vec::<i64>::new(),
        "the fetch hangs: no live record comes"
    );
    assert_eq!(
        bridge
            .served
            .metric("eventfold_subscription_rebuilds_total")
            .await,
        Some("eventfold_subscription_rebuilds_total 0".to_owned())
    );
}

/// With a stall timeout of 2 s, a subscription whose fetch hangs while the high
/// watermark moves is rebuilt, and the live records arrive, each once and in order —
/// whether it reads with a consumer of its own or through the shared tail.
async fn stalled_subscription_is_rebuilt(reader: Reader) {
    let cluster = Cluster::new();
    let bridge = Bridge::start(&cluster.bootstrap, Duration::from_secs(2), false).await;
    let mut socket = tail_then_hang(&cluster, &bridge, "rebuilt", reader).await;
    let started = Instant::now();
    let offsets = offsets_within(&mut socket, 5, WAIT).await;
    assert_eq!(
        offsets,
        [5, 6, 7, 8, 9],
        "every live record, once, in order"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "rebuilt well before librdkafka's own 60 s timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(
        bridge
            .served
            .metric("eventfold_subscription_rebuilds_total")
            .await,
        Some("eventfold_subscription_rebuilds_total 1".to_owned())
    );
    // Nothing more comes: no record twice.
    assert_eq!(
        offsets_within(&mut socket, 1, Duration::from_millis(1500)).await,
        Vec::<i64>::new()
    );
    // And the rebuilt subscription keeps tailing.
    assert_eq!(cluster.produce("rebuilt", 10..12).await, [10, 11]);
    assert_eq!(offsets_within(&mut socket, 2, WAIT).await, [10, 11]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_stalled_by_a_hung_fetch_is_rebuilt_without_loss_or_duplicate() {
    stalled_subscription_is_rebuilt(Reader::Own).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_tail_stalled_by_a_hung_fetch_is_rebuilt_without_loss_or_duplicate() {
    stalled_subscription_is_rebuilt(Reader::Shared).await;
}

/// A tailing subscription with nothing new to read is idle, not stalled: hours without
/// progress at the high watermark never trigger a rebuild.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_tail_is_not_rebuilt() {
    let cluster = Cluster::new();
    let bridge = Bridge::start(&cluster.bootstrap, Duration::from_secs(1), false).await;
    cluster.topic("idle");
    cluster.produce("idle", 0..3).await;
    let mut socket = bridge.served.connect_past_hello().await;
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":"idle","from":{"beginning":true}}),
    )
    .await;
    assert_eq!(offsets_within(&mut socket, 3, WAIT).await, [0, 1, 2]);
    assert_eq!(next(&mut socket).await["type"], "caught_up");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        bridge
            .served
            .metric("eventfold_subscription_rebuilds_total")
            .await,
        Some("eventfold_subscription_rebuilds_total 0".to_owned())
    );
    let seen: BTreeSet<i64> = cluster.produce("idle", 3..5).await.into_iter().collect();
    assert_eq!(
        offsets_within(&mut socket, 2, WAIT)
            .await
            .into_iter()
            .collect::<BTreeSet<_>>(),
        seen
    );
}

/// The bridge starts while no broker of its cluster answers: `/healthz` says it is not
/// ready (503) and `hello` still comes; once the brokers are up, the same bridge, not
/// restarted, reports ready and relays the topic.
#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_starts_without_a_cluster_and_is_ready_once_it_is_up() {
    let cluster = Cluster::new();
    cluster.topic("later");
    cluster.mock().broker_down(-1).expect("every broker down");
    let bridge = Bridge::start(&cluster.bootstrap, Duration::from_secs(30), false).await;

    let (status, body) = bridge.served.get("/healthz").await;
    assert_eq!(status, 503, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&health["ok"], &health["kafka"]),
        (&json!(false), &json!("unreachable"))
    );
    let mut socket = bridge.served.connect_past_hello().await;
    send(&mut socket, json!({"type":"list_topics","id":1})).await;
    let reply = next(&mut socket).await;
    assert_eq!(
        (&reply["type"], &reply["code"]),
        (&json!("error"), &json!("kafka")),
        "{reply}"
    );

    cluster.mock().broker_up(-1).expect("every broker up");
    let deadline = Instant::now() + WAIT;
    let body = loop {
        let (status, body) = bridge.served.get("/healthz").await;
        if status == 200 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "still not ready: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ok":true,"kafka":"reachable"})
    );
    cluster.produce("later", 0..3).await;
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":"later","from":{"beginning":true}}),
    )
    .await;
    assert_eq!(offsets_within(&mut socket, 3, WAIT).await, [0, 1, 2]);
}

/// Produce requests the broker refuses: retriable errors (the partition's leader moved)
/// are retried by the idempotent producer and the client gets `produced`; a permanent
/// one (not authorized) gets an `error` frame with code `kafka`, and produce works again
/// once librdkafka has refreshed the topic. Either way the connection stays usable and
/// the offsets are the broker's: nothing of the refused record is in the log.
#[tokio::test(flavor = "multi_thread")]
async fn refused_produce_requests_are_retried_or_reported_and_the_connection_goes_on() {
    let cluster = Cluster::new();
    cluster.topic("orders");
    let bridge = Bridge::start(&cluster.bootstrap, Duration::from_secs(30), true).await;
    let mut socket = bridge.served.connect_past_hello().await;
    let produce = |id: &str| {
        json!({"type":"produce","id":id,"topic":"orders","key":"acct-1",
               "value":{"type":"deposit","amount":5}})
    };

    send(&mut socket, produce("warm-up")).await;
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"produced","id":"warm-up","partition":0,"offset":0})
    );

    cluster.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        ],
    );
    send(&mut socket, produce("retried")).await;
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"produced","id":"retried","partition":0,"offset":1})
    );

    cluster.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED],
    );
    send(&mut socket, produce("refused")).await;
    let reply = next(&mut socket).await;
    assert_eq!(
        (&reply["type"], &reply["id"], &reply["code"]),
        (&json!("error"), &json!("refused"), &json!("kafka")),
        "{reply}"
    );
    assert!(
        reply["message"].as_str().unwrap().contains("orders"),
        "the message names the topic: {reply}"
    );

    // librdkafka remembers the topic's error until it refreshes the topic's metadata
    // (about a second here): produce requests meanwhile fail at once, with the same
    // code. Then the same connection produces again.
    let mut errors = 1;
    let deadline = Instant::now() + WAIT;
    loop {
        send(&mut socket, produce("after")).await;
        let reply = next(&mut socket).await;
        if reply["type"] == "produced" {
            assert_eq!(
                reply,
                json!({"type":"produced","id":"after","partition":0,"offset":2})
            );
            break;
        }
        assert_eq!(
            (&reply["type"], &reply["code"]),
            (&json!("error"), &json!("kafka")),
            "{reply}"
        );
        errors += 1;
        assert!(
            Instant::now() < deadline,
            "produce never recovered: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        bridge.served.metric("eventfold_produce_errors_total").await,
        Some(format!("eventfold_produce_errors_total {errors}"))
    );
    // The log holds the three acknowledged records, nothing of the refused one.
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":"orders","from":{"beginning":true}}),
    )
    .await;
    assert_eq!(offsets_within(&mut socket, 3, WAIT).await, [0, 1, 2]);
    assert_eq!(
        offsets_within(&mut socket, 1, Duration::from_millis(1000)).await,
        Vec::<i64>::new()
    );
}
