//! The whole bridge against the real broker from `scripts/kafka` (`EVENTFOLD_KAFKA`,
//! 127.0.0.1:9092 by default): `serve::run` with the Kafka backend, and a real WebSocket
//! client (tokio-tungstenite) reading what a browser would read.
//!
//! - caught_up on partitions whose logs end in transaction markers and aborted records;
//! - reconnect and resume with the offsets last seen, and with the offsets of a shutdown's
//!   `closing` frame: every (partition, offset) exactly once across the break, while
//!   records keep being produced;
//! - a consumer group's committed offsets, read without joining the group or committing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
use futures_util::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

mod common;

use common::served::{Served, Socket, send};
use common::{WAIT, broker, new_topic};

/// A (partition, offset).
type Place = (i32, i64);

/// A client of the broker, independent of the code under test.
fn config() -> ClientConfig {
    common::client_config(broker())
}

/// The high watermark of every partition, as a consumer independent of the bridge sees it.
fn watermarks(topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = config().create().expect("consumer");
    (0..partitions)
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(5))
                .expect("watermarks");
            (p, high)
        })
        .collect()
}

fn new_backend() -> Arc<KafkaBackend> {
    let args = KafkaArgs {
        brokers: Some(broker().to_owned()),
        ..KafkaArgs::default()
    };
    Arc::new(KafkaBackend::new(args.client_config().unwrap(), None, false).unwrap())
}

/// A running bridge over the real broker.
async fn start_with(backend: Arc<KafkaBackend>) -> Served {
    Served::start(backend, |_| {}).await
}

async fn start() -> Served {
    start_with(new_backend()).await
}

/// The next text frame as JSON, or `None` once the bridge closed the socket.
async fn frame(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame within the wait");
        match message {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => return None,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn next(socket: &mut Socket) -> Value {
    frame(socket).await.expect("the socket is open")
}

/// The places of a `records` frame's records.
fn places(frame: &Value) -> Vec<Place> {
    frame["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap() as i32,
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Partitions ending in a committed transaction's marker, and in an aborted
/// transaction's records and marker: their last offsets are never delivered, and
/// caught_up still comes, with the high watermarks the broker reports.
#[tokio::test(flavor = "multi_thread")]
async fn caught_up_arrives_when_partitions_end_in_transaction_markers() {
    let topic = new_topic("eventfold-ws", "txn", 2).await;
    let producer: FutureProducer = config()
        .set("transactional.id", format!("{topic}-producer"))
        .set("linger.ms", "0")
        .create()
        .expect("transactional producer");
    producer.init_transactions(WAIT).expect("init_transactions");
    let mut committed = BTreeSet::new();
    producer.begin_transaction().unwrap();
    for i in 0..10 {
        let value = json!({"type":"deposit","amount":i}).to_string();
        let record = FutureRecord::to(&topic)
            .partition(i % 2)
            .key("acct-1")
            .payload(&value);
        let delivery = producer
            .send(record, WAIT)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        committed.insert((delivery.partition, delivery.offset));
    }
    producer.commit_transaction(WAIT).unwrap();
    // An aborted transaction after it: its records and marker end the log.
    producer.begin_transaction().unwrap();
    for i in 0..4 {
        let record = FutureRecord::to(&topic)
            .partition(i % 2)
            .key("acct-1")
            .payload("aborted");
        producer
            .send(record, WAIT)
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.abort_transaction(WAIT).unwrap();
    // 5 records, a commit marker, 2 aborted records and an abort marker per partition.
    // The coordinator writes the markers after abort_transaction returns, so wait for them.
    let expected = BTreeMap::from([(0, 9), (1, 9)]);
    let deadline = std::time::Instant::now() + WAIT;
    let mut high = watermarks(&topic, 2);
    while high != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        high = watermarks(&topic, 2);
    }
    assert_eq!(high, expected);

    let bridge = start().await;
    let mut socket = bridge.connect_past_hello().await;
    send(
        &mut socket,
        json!({"type":"subscribe","id":"t","topic":topic,"from":{"beginning":true}}),
    )
    .await;
    let mut seen = BTreeSet::new();
    loop {
        let frame = next(&mut socket).await;
        match frame["type"].as_str().unwrap() {
            "records" => seen.extend(places(&frame)),
            "caught_up" => {
                assert_eq!(frame["high"], json!({"0":9,"1":9}));
                break;
            }
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    assert_eq!(
        seen, committed,
        "the committed records, and nothing aborted"
    );
}

/// Produces `count` records to `topic` (keys spread over its partitions) at a steady
/// pace, and returns where they landed.
fn produce_in_background(topic: &str, count: usize) -> JoinHandle<BTreeSet<Place>> {
    let topic = topic.to_owned();
    tokio::spawn(async move {
        let producer: FutureProducer = config()
            .set("acks", "all")
            .set("linger.ms", "0")
            .create()
            .expect("producer");
        let mut placed = BTreeSet::new();
        for i in 0..count {
            let key = format!("acct-{}", i % 17);
            let value = json!({"type":"deposit","amount":i}).to_string();
            let record = FutureRecord::to(&topic).key(&key).payload(&value);
            let delivery = producer
                .send(record, WAIT)
                .await
                .map_err(|(e, _)| e)
                .unwrap();
            placed.insert((delivery.partition, delivery.offset));
            if i % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        placed
    })
}

/// Reads `records` frames of subscription `sub` into `seen` (every delivery, duplicates
/// included) until `stop` says so or the socket closes; returns the `closing` frame if
/// one came.
async fn read(
    socket: &mut Socket,
    seen: &Mutex<Vec<Place>>,
    mut stop: impl FnMut(usize) -> bool,
) -> Option<Value> {
    while !stop(seen.lock().unwrap().len()) {
        let frame = frame(socket).await?;
        match frame["type"].as_str().unwrap() {
            "records" => seen.lock().unwrap().extend(places(&frame)),
            "caught_up" => {}
            "closing" => return Some(frame),
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    None
}

/// The next offset of every partition in `seen`, as a `subscribe`'s offsets.
fn resume_from(seen: &[Place]) -> Value {
    let mut next: BTreeMap<String, i64> = BTreeMap::new();
    for (p, o) in seen {
        let n = next.entry(p.to_string()).or_insert(0);
        *n = (*n).max(o + 1);
    }
    json!({ "offsets": next })
}

/// Every place delivered once, and every place produced delivered.
fn assert_exactly_once(seen: &[Place], produced: &BTreeSet<Place>) {
    let distinct: BTreeSet<Place> = seen.iter().copied().collect();
    assert_eq!(seen.len(), distinct.len(), "a record delivered twice");
    assert_eq!(
        &distinct, produced,
        "the delivered records are the produced ones"
    );
}

const TOTAL: usize = 2_000;

/// A browser reads part of a topic while records are produced, loses its connection,
/// and subscribes again from the offsets after the last records it saw.
#[tokio::test(flavor = "multi_thread")]
async fn reconnecting_with_the_offsets_last_seen_delivers_every_record_exactly_once() {
    let topic = new_topic("eventfold-ws", "reconnect", 3).await;
    let producing = produce_in_background(&topic, TOTAL);
    let bridge = start().await;
    let seen = Mutex::new(Vec::new());

    let mut first = bridge.connect_past_hello().await;
    send(
        &mut first,
        json!({"type":"subscribe","id":"s","topic":topic,"from":{"beginning":true}}),
    )
    .await;
    read(&mut first, &seen, |n| n >= TOTAL / 3).await;
    // The connection drops with frames still in flight: those were never seen.
    drop(first);

    let from = resume_from(&seen.lock().unwrap());
    let mut second = bridge.connect_past_hello().await;
    send(
        &mut second,
        json!({"type":"subscribe","id":"s","topic":topic,"from":from}),
    )
    .await;
    read(&mut second, &seen, |n| n >= TOTAL).await;
    let produced = producing.await.unwrap();
    // Nothing more than the produced records comes.
    assert!(
        tokio::time::timeout(
            Duration::from_millis(700),
            read(&mut second, &seen, |_| false)
        )
        .await
        .is_err()
    );
    assert_exactly_once(&seen.lock().unwrap(), &produced);
}

/// The bridge shuts down mid-replay; its `closing` frame says where each subscription
/// stopped, and a new bridge resumes from there.
#[tokio::test(flavor = "multi_thread")]
async fn the_offsets_of_a_shutdowns_closing_frame_resume_exactly_once() {
    let topic = new_topic("eventfold-ws", "closing", 3).await;
    let producing = produce_in_background(&topic, TOTAL);
    let mut bridge = start().await;
    let seen = Mutex::new(Vec::new());

    let mut socket = bridge.connect_past_hello().await;
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":topic,"from":{"beginning":true}}),
    )
    .await;
    read(&mut socket, &seen, |n| n >= TOTAL / 3).await;
    bridge.shut_down();
    // Every frame written before the closing frame still arrives, then the closing frame.
    let closing = read(&mut socket, &seen, |_| false)
        .await
        .expect("a closing frame");
    bridge.stopped(WAIT).await.unwrap();
    assert_eq!(closing["resume"][0]["sub"], "s");
    assert_eq!(closing["resume"][0]["topic"], json!(topic));
    let offsets = closing["resume"][0]["offsets"].clone();
    assert_eq!(
        json!({ "offsets": offsets }),
        resume_from(&seen.lock().unwrap()),
        "the closing frame resumes after the last record the client got"
    );

    let bridge = start().await;
    let mut socket = bridge.connect_past_hello().await;
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":topic,"from":{"offsets":offsets}}),
    )
    .await;
    read(&mut socket, &seen, |n| n >= TOTAL).await;
    let produced = producing.await.unwrap();
    assert!(
        tokio::time::timeout(
            Duration::from_millis(700),
            read(&mut socket, &seen, |_| false)
        )
        .await
        .is_err()
    );
    assert_exactly_once(&seen.lock().unwrap(), &produced);
}

/// The offsets `group` has committed on `topic`, read by a consumer independent of the
/// bridge.
fn committed(group: &str, topic: &str, partitions: i32) -> BTreeMap<i32, Offset> {
    let consumer: BaseConsumer = config().set("group.id", group).create().expect("consumer");
    let mut query = TopicPartitionList::new();
    for p in 0..partitions {
        query.add_partition(topic, p);
    }
    consumer
        .committed_offsets(query, WAIT)
        .expect("committed offsets")
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset()))
        .collect()
}

/// The group as the broker describes it: its state and how many members it has; `None`
/// when there is no such group.
fn describe(group: &str) -> Option<(String, usize)> {
    let consumer: BaseConsumer = config().create().expect("consumer");
    let list = consumer
        .fetch_group_list(Some(group), WAIT)
        .expect("group list");
    list.groups()
        .iter()
        .find(|g| g.name() == group && g.state() != "Dead")
        .map(|info| (info.state().to_owned(), info.members().len()))
}

/// `group_offsets` answers with what an application's consumer group committed, and
/// asking never joins the group, never commits and never creates it.
#[tokio::test(flavor = "multi_thread")]
async fn group_offsets_are_the_groups_commits_read_without_joining_or_committing() {
    let topic = new_topic("eventfold-ws", "group", 3).await;
    let group = format!("{topic}-billing");
    let bridge = start().await;
    let mut socket = bridge.connect_past_hello().await;
    let ask = async |socket: &mut Socket, id: i64, group: &str, topic: &str| {
        send(
            socket,
            json!({"type":"group_offsets","id":id,"group":group,"topic":topic}),
        )
        .await;
        next(socket).await
    };

    // A group that never committed: no offsets, and asking did not create it.
    assert_eq!(
        ask(&mut socket, 1, &group, &topic).await,
        json!({"type":"group_offsets","id":1,"group":group,"topic":topic,"offsets":{}})
    );
    assert_eq!(describe(&group), None, "no such group");

    // An application's consumer commits 5 on partition 0 and 0 on partition 1, nothing
    // on partition 2.
    let placed = produce_in_background(&topic, 30).await.unwrap();
    assert_eq!(placed.len(), 30);
    let application: BaseConsumer = config()
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset(&topic, 0, Offset::Offset(5))
        .unwrap();
    commit
        .add_partition_offset(&topic, 1, Offset::Offset(0))
        .unwrap();
    application
        .commit(&commit, CommitMode::Sync)
        .expect("commit");
    drop(application);
    let before = committed(&group, &topic, 3);

    for id in 2..5 {
        assert_eq!(
            ask(&mut socket, id, &group, &topic).await,
            json!({"type":"group_offsets","id":id,"group":group,"topic":topic,
                   "offsets":{"0":5,"1":0}})
        );
    }
    assert_eq!(
        committed(&group, &topic, 3),
        before,
        "the bridge committed nothing"
    );
    assert_eq!(before[&2], Offset::Invalid, "partition 2 has no commit");
    assert_eq!(
        describe(&group),
        Some(("Empty".to_owned(), 0)),
        "the bridge never joined the group"
    );

    // Errors leave the connection usable.
    let reply = ask(&mut socket, 5, "", &topic).await;
    assert_eq!(
        (reply["id"].clone(), reply["code"].clone()),
        (json!(5), json!("bad_request")),
        "{reply}"
    );
    let reply = ask(&mut socket, 6, &group, "no-such-topic-eventfold").await;
    assert_eq!(
        (reply["id"].clone(), reply["code"].clone()),
        (json!(6), json!("unknown_topic")),
        "{reply}"
    );
    assert_eq!(
        ask(&mut socket, 7, &group, &topic).await["offsets"],
        json!({"0":5,"1":0})
    );
}

/// Caught-up subscriptions of a topic share one consumer: twelve clients (half replayed
/// the topic from the beginning, half tail it from `latest`) end up served by one shared
/// tail, and every client still gets every record exactly once while records are
/// produced. A client that pauses leaves the shared tail for a consumer of its own and,
/// resumed, gets what it missed, once.
#[tokio::test(flavor = "multi_thread")]
async fn caught_up_tails_share_one_consumer_and_still_get_every_record_once() {
    let topic = new_topic("eventfold-ws", "shared", 2).await;
    let before = produce_in_background(&topic, 60).await.unwrap();
    let backend = new_backend();
    let bridge = start_with(backend.clone()).await;

    const CLIENTS: usize = 12;
    let mut sockets = Vec::new();
    for i in 0..CLIENTS {
        let mut socket = bridge.connect_past_hello().await;
        let from = if i % 2 == 0 {
            json!({"beginning":true})
        } else {
            json!({"latest":true})
        };
        send(
            &mut socket,
            json!({"type":"subscribe","id":"s","topic":topic,"from":from}),
        )
        .await;
        sockets.push((socket, Vec::<Place>::new(), i % 2 == 0));
    }
    // Replays run to caught_up; then every subscription is handed over.
    for (socket, seen, _) in &mut sockets {
        loop {
            let frame = next(socket).await;
            match frame["type"].as_str().unwrap() {
                "records" => seen.extend(places(&frame)),
                "caught_up" => break,
                other => panic!("unexpected {other}: {frame}"),
            }
        }
    }
    let deadline = std::time::Instant::now() + WAIT;
    while backend.shared_tails() != (1, CLIENTS) {
        assert!(
            std::time::Instant::now() < deadline,
            "not all tails shared: {:?}",
            backend.shared_tails()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Live records reach every client once.
    let live = produce_in_background(&topic, 200).await.unwrap();
    // One client pauses now and resumes later.
    send(&mut sockets[1].0, json!({"type":"pause","sub":"s"})).await;
    let more = produce_in_background(&topic, 40).await.unwrap();
    // The shared tail did not wait for it: it has a consumer of its own again.
    let deadline = std::time::Instant::now() + WAIT;
    while backend.shared_tails() != (1, CLIENTS - 1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the paused client was not detached: {:?}",
            backend.shared_tails()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send(&mut sockets[1].0, json!({"type":"resume","sub":"s"})).await;

    let all: BTreeSet<Place> = before.iter().chain(&live).chain(&more).copied().collect();
    let new: BTreeSet<Place> = live.iter().chain(&more).copied().collect();
    for (i, (socket, seen, from_beginning)) in sockets.iter_mut().enumerate() {
        let expected = if *from_beginning { &all } else { &new };
        while seen.len() < expected.len() {
            let frame = next(socket).await;
            match frame["type"].as_str().unwrap() {
                "records" => seen.extend(places(&frame)),
                other => panic!("client {i}: unexpected {other}: {frame}"),
            }
        }
        let distinct: BTreeSet<Place> = seen.iter().copied().collect();
        assert_eq!(seen.len(), distinct.len(), "client {i}: a record twice");
        assert_eq!(&distinct, expected, "client {i}: the produced records");
    }
    // The paused client came back to the shared tail once idle.
    let deadline = std::time::Instant::now() + WAIT;
    while backend.shared_tails() != (1, CLIENTS) {
        assert!(
            std::time::Instant::now() < deadline,
            "the resumed client did not rejoin: {:?}",
            backend.shared_tails()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing more arrives.
    for (socket, _, _) in &mut sockets {
        assert!(
            tokio::time::timeout(Duration::from_millis(200), socket.next())
                .await
                .is_err()
        );
    }
    // Leaving clients leave the tail; the last one ends it.
    drop(sockets);
    let deadline = std::time::Instant::now() + WAIT;
    while backend.shared_tails() != (0, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the shared tail outlived its clients: {:?}",
            backend.shared_tails()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
