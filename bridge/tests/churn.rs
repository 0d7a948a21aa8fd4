//! Subscriptions opened and closed the way browsers do, against the real broker from
//! `scripts/kafka` (`EVENTFOLD_KAFKA`, 127.0.0.1:9092 by default).
//!
//! Its own test binary, so the threads it counts (`/proc/self/task`) are this file's
//! alone: a pump thread is named `eventfold-sub`, librdkafka's threads `rdk:…`.
//!
//! - subscriptions closed mid-replay release their consumer and thread (they used to sit
//!   in `rd_kafka_destroy` for good);
//! - tailing subscriptions share one consumer instead of one each;
//! - internal topics stay hidden whatever `--topics` matches;
//! - a subscribe right after a topic was created waits out its leader election.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventfold_bridge::backend::{Backend, SubscribeRequest};
use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
use eventfold_core::wire::StartFrom;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use regex::Regex;
use serde_json::{Value, json};
use tokio::sync::Mutex;

mod common;

use common::served::{Served, Socket, send, text_within};
use common::{WAIT, broker, client_config, new_topic};

/// The tests of this file count the process's threads: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn backend(topics: Option<Regex>) -> KafkaBackend {
    let args = KafkaArgs {
        brokers: Some(broker().to_owned()),
        ..KafkaArgs::default()
    };
    KafkaBackend::new(args.client_config().unwrap(), topics, false).unwrap()
}

/// The names of this process's threads.
fn threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

fn count(names: &[String], prefix: &str) -> usize {
    names.iter().filter(|n| n.starts_with(prefix)).count()
}

/// Waits up to `wait` for `done` to hold of the thread names; the names last seen.
async fn threads_until(wait: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + wait;
    loop {
        let names = threads();
        if done(&names) || Instant::now() >= deadline {
            return names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fills `topic` (one partition) with `n` bank events keyed acct-0..acct-99.
async fn fill(topic: &str, n: usize) {
    let producer: FutureProducer = client_config(broker())
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer");
    for i in 0..n {
        let key = format!("acct-{}", i % 100);
        let value = json!({"type": "deposit", "amount": i % 1000}).to_string();
        producer
            .send_result(FutureRecord::to(topic).key(&key).payload(&value))
            .map_err(|(e, _)| e)
            .expect("enqueue");
    }
    producer.flush(WAIT).expect("flush");
}

fn subscribe(id: &str, topic: &str, from: &str) -> Value {
    json!({"type": "subscribe", "id": id, "topic": topic, "from": {from: true}})
}

/// Records frames for `wait`, failing on an error frame; how many records came.
async fn read_records(socket: &mut Socket, wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    let mut records = 0;
    while Instant::now() < deadline {
        let wait = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = text_within(socket, wait).await else {
            break;
        };
        assert_ne!(frame["type"], "error", "{frame}");
        if frame["type"] == "records" {
            records += frame["records"].as_array().unwrap().len();
        }
    }
    records
}

/// The length of the churn test's topic: far more than the 16 replays relay in the
/// second they are read.
const TOPIC_RECORDS: usize = 400_000;

/// Browsers that leave in the middle of a replay: 3 cycles of 16 subscriptions from the
/// beginning of a topic far longer than what a subscription fetches ahead, read for a
/// second, left unread for two (the bridge pauses them), then closed. Every pump thread and consumer must be gone within 10 s of
/// the last close, as the churn soak asks.
#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_closed_mid_replay_release_their_consumers() {
    let _one = ONE_AT_A_TIME.lock().await;
    let topic = new_topic("eventfold-churn", "midway", 1).await;
    fill(&topic, TOPIC_RECORDS).await;
    let served = Served::start(Arc::new(backend(None)), |_| {}).await;
    // The admin client's threads exist once the first hello listed the topics.
    drop(served.connect_past_hello().await);
    let idle = threads_until(Duration::from_secs(2), |_| false).await;
    let idle_rdk = count(&idle, "rdk:");

    for cycle in 0..3 {
        let mut socket = served.connect_past_hello().await;
        for i in 0..16 {
            send(
                &mut socket,
                subscribe(&format!("s{i}"), &topic, "beginning"),
            )
            .await;
        }
        let records = read_records(&mut socket, Duration::from_millis(1000)).await;
        assert!(
            records > 0,
            "cycle {cycle}: no records within 1 s of 16 subscriptions"
        );
        assert!(
            records < 16 * TOPIC_RECORDS,
            "cycle {cycle}: every replay finished ({records} records): none was closed midway"
        );
        // A tab in the background reads nothing for a while: the bridge's outbound
        // queue fills and it pauses the subscriptions, as it does for a slow browser.
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Then the tab closes: the socket goes without a close handshake.
        drop(socket);
    }

    let names = threads_until(Duration::from_secs(10), |names| {
        count(names, "eventfold-sub") == 0 && count(names, "rdk:") <= idle_rdk
    })
    .await;
    let (_, metrics) = served.get("/metrics").await;
    assert_eq!(
        count(&names, "eventfold-sub"),
        0,
        "pump threads still alive 10 s after the last close: {names:?}\n{metrics}"
    );
    assert!(
        count(&names, "rdk:") <= idle_rdk,
        "librdkafka threads: {} 10 s after the last close, {idle_rdk} before the churn ({names:?})",
        count(&names, "rdk:")
    );
    assert_eq!(
        served.metric("eventfold_subscriptions ").await.as_deref(),
        Some("eventfold_subscriptions 0")
    );
}

/// 40 browsers tailing one topic share one consumer: librdkafka's threads grow by one
/// client's worth, not forty, and each browser gets every new record once, in order.
#[tokio::test(flavor = "multi_thread")]
async fn tailing_subscriptions_share_one_consumer() {
    let _one = ONE_AT_A_TIME.lock().await;
    let topic = new_topic("eventfold-churn", "tails", 2).await;
    fill(&topic, 10).await;
    let served = Served::start(Arc::new(backend(None)), |_| {}).await;
    drop(served.connect_past_hello().await);
    let idle = threads_until(Duration::from_secs(2), |_| false).await;
    let idle_rdk = count(&idle, "rdk:");

    let mut sockets = Vec::new();
    for _ in 0..40 {
        let mut socket = served.connect_past_hello().await;
        send(&mut socket, subscribe("tail", &topic, "latest")).await;
        let caught_up = text_within(&mut socket, WAIT).await.expect("caught_up");
        assert_eq!(caught_up["type"], "caught_up", "{caught_up}");
        sockets.push(socket);
    }
    let names = threads();
    // One consumer: its main and internal threads, one per broker and the bootstrap.
    let one_consumer = 6;
    assert!(
        count(&names, "rdk:") <= idle_rdk + one_consumer,
        "40 tails hold {} librdkafka threads, {idle_rdk} before them",
        count(&names, "rdk:")
    );
    assert_eq!(count(&names, "eventfold-sub"), 1, "{names:?}");

    fill(&topic, 100).await;
    for (i, socket) in sockets.iter_mut().enumerate() {
        let mut seen: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        let deadline = Instant::now() + WAIT;
        while seen.values().map(Vec::len).sum::<usize>() < 100 {
            let frame = text_within(socket, deadline.saturating_duration_since(Instant::now()))
                .await
                .unwrap_or_else(|| panic!("tail {i}: only {seen:?} within the wait"));
            assert_eq!(frame["type"], "records", "{frame}");
            for r in frame["records"].as_array().unwrap() {
                seen.entry(r["partition"].as_i64().unwrap())
                    .or_default()
                    .push(r["offset"].as_i64().unwrap());
            }
        }
        for (p, offsets) in &seen {
            let expected: Vec<i64> = (offsets[0]..offsets[0] + offsets.len() as i64).collect();
            assert_eq!(
                offsets, &expected,
                "tail {i} partition {p}: gaps or repeats"
            );
        }
        // The ten records from before the subscriptions are not replayed.
        assert!(seen.values().all(|o| o[0] >= 0), "{seen:?}");
        assert_eq!(seen.values().map(Vec::len).sum::<usize>(), 100, "tail {i}");
    }
    drop(sockets);
    let names = threads_until(Duration::from_secs(10), |names| {
        count(names, "eventfold-sub") == 0
    })
    .await;
    assert_eq!(count(&names, "eventfold-sub"), 0, "{names:?}");
}

async fn names(backend: &KafkaBackend) -> Vec<String> {
    backend.topic_names().await.expect("topic names")
}

/// `--topics '.*'` matches `__consumer_offsets`, which holds every group's commits: it
/// stays hidden unless internal topics are asked for by name.
#[tokio::test(flavor = "multi_thread")]
async fn internal_topics_stay_hidden_whatever_the_filter() {
    let _one = ONE_AT_A_TIME.lock().await;
    // A group commit makes sure the broker has created __consumer_offsets.
    let topic = new_topic("eventfold-churn", "internal", 1).await;
    fill(&topic, 1).await;
    let consumer: BaseConsumer = client_config(broker())
        .set("group.id", format!("{topic}-group"))
        .create()
        .expect("consumer");
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(&topic, 0, Offset::Offset(1))
        .unwrap();
    consumer.commit(&offsets, CommitMode::Sync).expect("commit");

    let everything = Some(Regex::new("^(?:.*)$").unwrap());
    let shown = names(&backend(everything.clone())).await;
    assert!(shown.contains(&topic), "{shown:?}");
    assert!(
        !shown.iter().any(|t| t.starts_with("__")),
        "internal topics shown for --topics '.*': {shown:?}"
    );
    let shown = names(&backend(everything).with_internal_topics(true)).await;
    assert!(
        shown.iter().any(|t| t == "__consumer_offsets"),
        "--internal-topics: {shown:?}"
    );
    let refused = backend(None)
        .subscribe(SubscribeRequest {
            topic: "__consumer_offsets".into(),
            from: StartFrom::Beginning(true),
            partitions: None,
        })
        .await
        .err()
        .expect("an internal topic is unknown to clients");
    assert!(refused.message.contains("unknown topic"), "{refused}");
}

/// A topic a moment old may have partitions without a leader yet: a subscribe then waits
/// the election out instead of failing with `NotLeaderForPartition`.
#[tokio::test(flavor = "multi_thread")]
async fn a_subscribe_right_after_the_topic_was_created_succeeds() {
    let _one = ONE_AT_A_TIME.lock().await;
    let admin: AdminClient<DefaultClientContext> = client_config(broker()).create().expect("admin");
    let backend = backend(None);
    for round in 0..3 {
        let topic = format!(
            "eventfold-churn-fresh-{}-{round}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        );
        let created = admin
            .create_topics(
                &[NewTopic::new(&topic, 4, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .expect("create_topics");
        assert!(created.iter().all(Result::is_ok), "{created:?}");
        // No wait for leaders: at once, as a script that creates then subscribes would.
        let started = Instant::now();
        let subscription = loop {
            match backend
                .subscribe(SubscribeRequest {
                    topic: topic.clone(),
                    from: StartFrom::Beginning(true),
                    partitions: None,
                })
                .await
            {
                Ok(subscription) => break subscription,
                // Metadata may not list the topic for a moment; that is `unknown_topic`,
                // which a client may retry. Anything else is the failure under test.
                Err(e) if e.message.contains("unknown topic") && started.elapsed() < WAIT => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("round {round}: subscribe right after creation: {e}"),
            }
        };
        assert!(
            subscription.high.is_empty(),
            "an empty topic has nothing to replay"
        );
    }
}
