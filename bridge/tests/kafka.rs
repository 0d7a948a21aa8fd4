//! The rdkafka side against a real broker: `scripts/kafka start` runs one on
//! 127.0.0.1:9092 (scripts/test starts and stops it; `EVENTFOLD_KAFKA` names another).
//! Without a broker these tests fail, saying how to start one: they never skip.
//!
//! Every test works on topics of its own, with unique names, so tests run in parallel
//! and on a broker that already holds other data.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::cargo::CommandCargoExt;
use eventfold_bridge::backend::{
    Backend, BackendError, Batch, Delivery, Health, ProduceRequest, SubscribeRequest,
};
use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
use eventfold_core::sim::partitioner::partition_for_key;
use eventfold_core::wire::{ErrorCode, Record, WireBytes, WireHeader};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use regex::Regex;
use serde_json::{Value, json};

mod common;

use common::{WAIT, broker, client_config, new_topic};

fn kafka_args() -> KafkaArgs {
    KafkaArgs {
        brokers: Some(broker().to_owned()),
        ..KafkaArgs::default()
    }
}

fn backend(allow_produce: bool) -> KafkaBackend {
    let config = kafka_args().client_config().expect("client config");
    KafkaBackend::new(config, None, allow_produce).expect("backend")
}

/// A producer independent of the code under test, placing keys as Java clients do.
fn producer() -> FutureProducer {
    client_config(broker())
        .set("acks", "all")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "0")
        .create()
        .expect("producer")
}

/// A record to seed a topic with: key, value, timestamp (ms).
type Seed<'a> = (Option<&'a str>, Option<&'a [u8]>, Option<i64>);

/// Appends records and returns their (partition, offset).
async fn produce_all(topic: &str, records: &[Seed<'_>]) -> Vec<(i32, i64)> {
    let producer = producer();
    let mut placed = Vec::new();
    for (key, value, timestamp) in records {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic);
        if let Some(key) = key {
            record = record.key(*key);
        }
        if let Some(value) = value {
            record = record.payload(*value);
        }
        if let Some(ms) = timestamp {
            record = record.timestamp(*ms);
        }
        let delivery = producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
        placed.push((delivery.partition, delivery.offset));
    }
    placed
}

async fn produce_json(topic: &str, key: &str, values: &[Value]) {
    let bytes: Vec<Vec<u8>> = values.iter().map(|v| v.to_string().into_bytes()).collect();
    let records: Vec<_> = bytes
        .iter()
        .map(|b| (Some(key), Some(b.as_slice()), None))
        .collect();
    produce_all(topic, &records).await;
}

fn seed_000() -> Vec<Value> {
    vec![
        json!({"type": "deposit", "amount": 100}),
        json!({"type": "withdrawal", "amount": 40}),
        json!({"type": "deposit", "amount": 60}),
    ]
}

fn request(topic: &str, from: &str) -> SubscribeRequest {
    SubscribeRequest {
        topic: topic.to_owned(),
        from: from.parse().expect("from"),
        partitions: None,
    }
}

/// Receives records until there are `count` of them, passing over end-of-partition
/// marks; fails after [`WAIT`].
async fn receive(batches: &mut tokio::sync::mpsc::Receiver<Batch>, count: usize) -> Vec<Record> {
    let mut records = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while records.len() < count {
        match tokio::time::timeout_at(deadline, batches.recv()).await {
            Ok(Some(Ok(Delivery::Records(batch)))) => records.extend(batch),
            Ok(Some(Ok(Delivery::Encoded(batch)))) => {
                let batch = batch.records().expect("the wire text parses as records");
                records.extend(batch);
            }
            Ok(Some(Ok(Delivery::Raw(_)))) => panic!("a subscription sends no raw records"),
            Ok(Some(Ok(Delivery::Reached(_) | Delivery::Rebuilt))) => {}
            Ok(Some(Err(e))) => panic!("subscription error: {e:?}"),
            Ok(None) => panic!("subscription ended after {} records", records.len()),
            Err(_) => panic!("only {} of {count} records within {WAIT:?}", records.len()),
        }
    }
    assert_eq!(records.len(), count, "more records than expected");
    records
}

/// Asserts that no record arrives for a while (end-of-partition marks may).
async fn assert_quiet(batches: &mut tokio::sync::mpsc::Receiver<Batch>, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    while let Ok(got) = tokio::time::timeout_at(deadline, batches.recv()).await {
        if !matches!(got, Some(Ok(Delivery::Reached(_)))) {
            panic!("{what}: expected nothing, got {got:?}");
        }
    }
}

fn offsets(records: &[Record]) -> Vec<(i32, i64)> {
    records.iter().map(|r| (r.partition, r.offset)).collect()
}

fn values(records: &[Record]) -> Vec<Value> {
    records
        .iter()
        .map(|r| r.value.clone().map(|v| v.0).unwrap_or(Value::Null))
        .collect()
}

fn eventfold(args: &[&str]) -> (i32, String, String) {
    let output = Command::cargo_bin("eventfold")
        .expect("eventfold binary")
        .args(args)
        .env_remove("EVENTFOLD_BROKERS")
        .output()
        .expect("run eventfold");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_of_a_topic_prints_the_balance_of_seed_000() {
    let topic = new_topic("eventfold-test", "replay", 1).await;
    produce_json(&topic, "acct-1", &seed_000()).await;

    let (status, stdout, stderr) = eventfold(&[
        "replay",
        "--brokers",
        broker(),
        "--topic",
        &topic,
        "--projection",
        "bank",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("Replay of topic {topic} with projection bank\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 event(s): 3 applied, 0 rejected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("│ 0:2 "),
        "a topic's rows are records by default: {stdout}"
    );
    assert!(stdout.contains("Current balance: 120"), "{stdout}");
    assert!(
        stdout.contains(r#"Final state: {"acct-1":{"balance":120}}"#),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_of_a_topic_starts_where_from_says_and_stops_at_the_high_watermark() {
    let topic = new_topic("eventfold-test", "replay-from", 1).await;
    produce_json(&topic, "acct-1", &seed_000()).await;

    let check = |from: &str, expected_state: Value| {
        let (status, stdout, stderr) = eventfold(&[
            "replay",
            "--brokers",
            broker(),
            "--topic",
            &topic,
            "--projection",
            "bank",
            "--output",
            "json",
            "--final-only",
            "--from",
            from,
        ]);
        assert_eq!(status, 0, "--from {from}: {stderr}");
        let report: Value = serde_json::from_str(&stdout).expect("JSON report");
        assert_eq!(report["state"], expected_state, "--from {from}");
    };
    check("beginning", json!({"acct-1": {"balance": 120}}));
    check("offsets:0=1", json!({"acct-1": {"balance": 20}}));
    // Nothing folded: the projection's initial state.
    check("latest", json!({"balance": 0}));
    check("offsets:0=3", json!({"balance": 0}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_that_is_not_json_is_an_error_row_and_the_balance_stays_right() {
    let topic = new_topic("eventfold-test", "raw", 1).await;
    let payloads: [&[u8]; 5] = [
        br#"{"type":"deposit","amount":100}"#,
        b"not json",
        &[0xff, 0x00, 0x10],
        br#"{"type":"withdrawal","amount":40}"#,
        br#"{"type":"deposit","amount":60}"#,
    ];
    let records: Vec<_> = payloads
        .iter()
        .map(|v| (Some("acct-1"), Some(*v), None))
        .collect();
    produce_all(&topic, &records).await;

    // The wire form: JSON as JSON, text as a string, other bytes as base64.
    let backend = backend(false);
    let mut sub = backend
        .subscribe(request(&topic, "beginning"))
        .await
        .unwrap();
    let got = receive(&mut sub.batches, 5).await;
    assert_eq!(
        values(&got[1..3]),
        vec![json!("not json"), json!({"base64": "/wAQ"})]
    );

    let (status, stdout, stderr) = eventfold(&[
        "replay",
        "--brokers",
        broker(),
        "--topic",
        &topic,
        "--projection",
        "bank",
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("Current balance: 120"), "{stdout}");
    assert!(stdout.contains("2 bad event(s):"), "{stdout}");
    assert!(
        stdout.contains("offset 1 (partition 0): value is not JSON"),
        "{stdout}"
    );
    assert!(
        stdout.contains("offset 2 (partition 0): value is not UTF-8 text"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_from_beginning_delivers_every_partition_in_order_with_its_high_watermark() {
    let topic = new_topic("eventfold-test", "beginning", 3).await;
    let keys: Vec<String> = (0..30).map(|i| format!("acct-{i}")).collect();
    let bodies: Vec<Vec<u8>> = (0..30)
        .map(|i| {
            json!({"type": "deposit", "amount": i})
                .to_string()
                .into_bytes()
        })
        .collect();
    let records: Vec<_> = keys
        .iter()
        .zip(&bodies)
        .map(|(k, v)| (Some(k.as_str()), Some(v.as_slice()), None))
        .collect();
    let placed = produce_all(&topic, &records).await;
    let mut expected_high = BTreeMap::new();
    for (p, o) in &placed {
        let high = expected_high.entry(*p).or_insert(0);
        *high = (*high).max(o + 1);
    }

    let backend = backend(false);
    let mut sub = backend
        .subscribe(request(&topic, "beginning"))
        .await
        .unwrap();
    assert_eq!(sub.high, expected_high, "high watermarks at subscribe time");
    let got = receive(&mut sub.batches, 30).await;
    for p in expected_high.keys() {
        let in_partition: Vec<i64> = got
            .iter()
            .filter(|r| r.partition == *p)
            .map(|r| r.offset)
            .collect();
        let expected: Vec<i64> = (0..expected_high[p]).collect();
        assert_eq!(in_partition, expected, "partition {p} in offset order");
    }
    for record in &got {
        let i = placed
            .iter()
            .position(|po| *po == (record.partition, record.offset))
            .unwrap();
        assert_eq!(record.topic, topic);
        assert_eq!(record.key, Some(WireBytes(json!(keys[i]))));
        assert_eq!(
            record.value,
            Some(WireBytes(json!({"type": "deposit", "amount": i})))
        );
        assert!(record.timestamp > 1_600_000_000_000, "{}", record.timestamp);
    }
    assert_quiet(&mut sub.batches, "after the last record").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_from_offsets_and_timestamps_starts_at_the_right_record() {
    let topic = new_topic("eventfold-test", "start", 1).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = now - 60_000;
    let bodies: Vec<Vec<u8>> = (0..5)
        .map(|i| json!({"n": i}).to_string().into_bytes())
        .collect();
    let records: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| (Some("k"), Some(b.as_slice()), Some(base + 1000 * i as i64)))
        .collect();
    produce_all(&topic, &records).await;
    let backend = backend(false);

    let check = async |from: String, expected: Vec<i64>| {
        let mut sub = backend.subscribe(request(&topic, &from)).await.unwrap();
        let got = if expected.is_empty() {
            Vec::new()
        } else {
            receive(&mut sub.batches, expected.len()).await
        };
        let got_offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
        assert_eq!(got_offsets, expected, "from {from}");
        let high_expected = if expected.is_empty() {
            BTreeMap::new()
        } else {
            BTreeMap::from([(0, 5)])
        };
        assert_eq!(sub.high, high_expected, "high from {from}");
        assert_quiet(&mut sub.batches, &from).await;
    };
    check("offsets:0=2".into(), vec![2, 3, 4]).await;
    check("offsets:0=5".into(), vec![]).await;
    check(format!("timestamp:{}", base + 2000), vec![2, 3, 4]).await;
    check(format!("timestamp:{}", base + 2500), vec![3, 4]).await;
    check(format!("timestamp:{}", base - 5000), vec![0, 1, 2, 3, 4]).await;
    check(format!("timestamp:{}", now + 60_000), vec![]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn latest_delivers_only_records_produced_after_subscribe() {
    let topic = new_topic("eventfold-test", "latest", 1).await;
    produce_json(&topic, "acct-1", &seed_000()).await;
    let backend = backend(false);
    let mut sub = backend.subscribe(request(&topic, "latest")).await.unwrap();
    assert_eq!(
        sub.high,
        BTreeMap::new(),
        "nothing to replay: caught up at once"
    );
    assert_quiet(&mut sub.batches, "before anything is produced").await;

    produce_json(&topic, "acct-1", &[json!({"type": "deposit", "amount": 5})]).await;
    let started = Instant::now();
    let got = receive(&mut sub.batches, 1).await;
    assert_eq!(offsets(&got), vec![(0, 3)]);
    assert_eq!(values(&got), vec![json!({"type": "deposit", "amount": 5})]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a live record took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_subscriptions_are_independent_and_pause_holds_one_back() {
    let topic = new_topic("eventfold-test", "two", 1).await;
    produce_json(&topic, "acct-1", &seed_000()).await;
    let backend = backend(false);
    let mut a = backend
        .subscribe(request(&topic, "beginning"))
        .await
        .unwrap();
    let mut b = backend
        .subscribe(request(&topic, "offsets:0=2"))
        .await
        .unwrap();
    assert_eq!(
        offsets(&receive(&mut a.batches, 3).await),
        vec![(0, 0), (0, 1), (0, 2)]
    );
    assert_eq!(offsets(&receive(&mut b.batches, 1).await), vec![(0, 2)]);

    // A paused subscription gets nothing new; the other goes on.
    a.paused.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    produce_json(&topic, "acct-1", &[json!({"type": "deposit", "amount": 1})]).await;
    assert_eq!(offsets(&receive(&mut b.batches, 1).await), vec![(0, 3)]);
    assert_quiet(&mut a.batches, "while paused").await;
    a.paused.send(false).unwrap();
    assert_eq!(offsets(&receive(&mut a.batches, 1).await), vec![(0, 3)]);

    // Dropping one leaves the other running.
    drop(b);
    produce_json(&topic, "acct-1", &[json!({"type": "deposit", "amount": 2})]).await;
    assert_eq!(offsets(&receive(&mut a.batches, 1).await), vec![(0, 4)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn produce_is_acknowledged_with_its_place_and_read_back_by_a_subscriber_and_kcat() {
    let topic = new_topic("eventfold-test", "produce", 1).await;
    produce_json(&topic, "acct-1", &seed_000()).await;
    let backend = backend(true);
    assert!(backend.produce_allowed());
    let mut sub = backend.subscribe(request(&topic, "latest")).await.unwrap();

    let placed = backend
        .produce(ProduceRequest {
            topic: topic.clone(),
            key: Some(b"acct-1".to_vec()),
            value: Some(br#"{"type":"deposit","amount":7}"#.to_vec()),
            headers: vec![("source".into(), Some(b"page".to_vec()))],
        })
        .await
        .expect("produce");
    assert_eq!(placed, (0, 3));

    let got = receive(&mut sub.batches, 1).await;
    assert_eq!(offsets(&got), vec![(0, 3)]);
    assert_eq!(got[0].key, Some(WireBytes(json!("acct-1"))));
    assert_eq!(values(&got), vec![json!({"type": "deposit", "amount": 7})]);
    assert_eq!(
        got[0].headers,
        vec![WireHeader {
            name: "source".into(),
            value: Some(WireBytes(json!("page")))
        }]
    );

    let kcat = Command::new("kcat")
        .args(["-C", "-b", broker(), "-t", &topic, "-o", "3", "-e", "-q"])
        .args(["-f", "%p %o %k %s\n"])
        .output()
        .expect("kcat (apt-get install kcat; scripts/setup installs it)");
    assert!(kcat.status.success(), "{kcat:?}");
    assert_eq!(
        String::from_utf8_lossy(&kcat.stdout),
        "0 3 acct-1 {\"type\":\"deposit\",\"amount\":7}\n"
    );

    // A tombstone: a key and no value.
    let placed = backend
        .produce(ProduceRequest {
            topic: topic.clone(),
            key: Some(b"acct-1".to_vec()),
            value: None,
            headers: Vec::new(),
        })
        .await
        .expect("produce a tombstone");
    assert_eq!(placed, (0, 4));
    let got = receive(&mut sub.batches, 1).await;
    assert_eq!(got[0].value, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_larger_than_kafka_takes_is_too_large() {
    let topic = new_topic("eventfold-test", "too-large", 1).await;
    let backend = backend(true);
    let result = backend
        .produce(ProduceRequest {
            topic: topic.clone(),
            key: None,
            value: Some(vec![b'x'; 2 << 20]),
            headers: Vec::new(),
        })
        .await;
    match result {
        Err(e) => {
            assert_eq!(e.code, ErrorCode::TooLarge, "{e:?}");
            assert!(
                e.message
                    .starts_with(&format!("cannot produce to {topic:?}: ")),
                "{e:?}"
            );
        }
        Ok(placed) => panic!("a 2 MiB record was accepted at {placed:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_land_in_the_partition_the_simulator_predicts() {
    let topic = new_topic("eventfold-test", "murmur2", 3).await;
    let backend = backend(true);
    for i in 0..24 {
        let key = format!("acct-{i}");
        let (partition, _) = backend
            .produce(ProduceRequest {
                topic: topic.clone(),
                key: Some(key.clone().into_bytes()),
                value: Some(b"{}".to_vec()),
                headers: Vec::new(),
            })
            .await
            .expect("produce");
        assert_eq!(
            partition,
            partition_for_key(key.as_bytes(), 3).unwrap(),
            "key {key}"
        );
    }
}

fn check_refused(
    result: Result<impl std::fmt::Debug, BackendError>,
    code: ErrorCode,
    message: &str,
) {
    match result {
        Err(e) => {
            assert_eq!(e.code, code, "{e:?}");
            assert_eq!(e.message, message);
        }
        Ok(x) => panic!("expected {code:?} {message:?}, got {x:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_topics_are_refused_and_not_created() {
    let missing = format!("eventfold-test-missing-{}", std::process::id());
    let backend = backend(true);
    let message = format!("unknown topic {missing:?}");
    check_refused(
        backend
            .subscribe(request(&missing, "beginning"))
            .await
            .map(|_| ()),
        ErrorCode::UnknownTopic,
        &message,
    );
    check_refused(
        backend
            .produce(ProduceRequest {
                topic: missing.clone(),
                key: None,
                value: Some(b"{}".to_vec()),
                headers: Vec::new(),
            })
            .await,
        ErrorCode::UnknownTopic,
        &message,
    );
    let names = backend.topic_names().await.unwrap();
    assert!(!names.contains(&missing), "{missing} was created");

    let (status, _, stderr) = eventfold(&[
        "replay",
        "--brokers",
        broker(),
        "--topic",
        &missing,
        "--projection",
        "bank",
    ]);
    assert_eq!(status, 2);
    assert_eq!(
        stderr,
        format!("eventfold replay: cannot read topic {missing:?}: unknown topic {missing:?}\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn offsets_outside_the_log_are_refused_with_the_valid_range() {
    let topic = new_topic("eventfold-test", "range", 2).await;
    let records: Vec<_> = (0..3)
        .map(|_| (Some("acct-1"), Some(&b"{}"[..]), None))
        .collect();
    let placed = produce_all(&topic, &records).await;
    let p = placed[0].0;
    let other = 1 - p;
    let backend = backend(false);
    let check = async |from: String, code: ErrorCode, message: String| {
        check_refused(
            backend
                .subscribe(request(&topic, &from))
                .await
                .map(|s| s.high),
            code,
            &message,
        );
    };
    check(
        format!("offsets:{p}=4"),
        ErrorCode::OffsetOutOfRange,
        format!(
            "offset 4 is out of range for partition {p} of {topic:?}: valid offsets are 0..=3 (log start 0, high watermark 3)"
        ),
    )
    .await;
    check(
        format!("offsets:{other}=1"),
        ErrorCode::OffsetOutOfRange,
        format!(
            "offset 1 is out of range for partition {other} of {topic:?}: valid offsets are 0..=0 (log start 0, high watermark 0)"
        ),
    )
    .await;
    check(
        "offsets:7=0".into(),
        ErrorCode::BadRequest,
        format!("topic {topic:?} has no partition 7 (it has partitions 0..=1)"),
    )
    .await;

    // The high watermark itself is a valid start: the replay is empty, then live.
    let mut sub = backend
        .subscribe(request(&topic, &format!("offsets:{p}=3")))
        .await
        .unwrap();
    assert_eq!(sub.high, BTreeMap::new());
    produce_all(&topic, &records[..1]).await;
    assert_eq!(offsets(&receive(&mut sub.batches, 1).await), vec![(p, 3)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_topics_shows_watermarks_and_only_what_the_filter_lets_through() {
    let topic = new_topic("eventfold-test", "list", 2).await;
    produce_all(&topic, &[(Some("acct-1"), Some(&b"{}"[..]), None)]).await;
    let filter = Regex::new(&format!("^{}$", regex::escape(&topic))).unwrap();
    let config = kafka_args().client_config().unwrap();
    let backend = KafkaBackend::new(config, Some(filter), false).unwrap();

    assert_eq!(backend.topic_names().await.unwrap(), vec![topic.clone()]);
    let topics = backend.list_topics().await.unwrap();
    assert_eq!(topics.len(), 1);
    let highs: Vec<(i32, i64, i64)> = topics[0]
        .partitions
        .iter()
        .map(|p| (p.id, p.low, p.high))
        .collect();
    let p = partition_for_key(b"acct-1", 2).unwrap();
    let expected: Vec<(i32, i64, i64)> = (0..2).map(|i| (i, 0, i64::from(i == p))).collect();
    assert_eq!(highs, expected);

    // A topic outside the filter is as unknown as a missing one.
    let other = new_topic("eventfold-test", "list-hidden", 1).await;
    check_refused(
        backend
            .subscribe(request(&other, "beginning"))
            .await
            .map(|_| ()),
        ErrorCode::UnknownTopic,
        &format!("unknown topic {other:?}"),
    );
    check_refused(
        backend
            .produce(ProduceRequest {
                topic: topic.clone(),
                key: None,
                value: None,
                headers: Vec::new(),
            })
            .await,
        ErrorCode::Forbidden,
        "this bridge is read-only: start it with --allow-produce to produce",
    );
}

#[test]
fn unsafe_and_malformed_client_settings_are_refused_on_the_command_line() {
    let check = |setting: &str, expected: &str| {
        let (status, stdout, stderr) = eventfold(&[
            "replay",
            "--brokers",
            "127.0.0.1:9",
            "--topic",
            "t",
            "--projection",
            "bank",
            "-X",
            setting,
        ]);
        assert_eq!(status, 2, "{setting}: {stdout}");
        assert!(stderr.contains(expected), "{setting}: {stderr}");
    };
    check(
        "plugin.library.paths=/tmp/x.so",
        "-X plugin.library.paths: it loads shared libraries; this is refused unless --allow-unsafe-client-config is given",
    );
    check(
        "sasl.kerberos.kinit.cmd=touch /tmp/pwned",
        "-X sasl.kerberos.kinit.cmd: it runs a shell command",
    );
    check(
        "sasl.oauthbearer.token.endpoint.url=http://127.0.0.1:9/",
        "it makes the client fetch a URL",
    );
    check(
        "security.protocol",
        "\"security.protocol\" is not KEY=VALUE",
    );

    let (status, _, stderr) = eventfold(&["replay", "--topic", "t", "--projection", "bank"]);
    assert_eq!(status, 2);
    assert!(
        stderr.contains("no Kafka brokers: pass --brokers HOST:PORT[,…] or set EVENTFOLD_BROKERS"),
        "{stderr}"
    );
}

/// A broker of the test's own, on free ports with its own state directory, so killing
/// it disturbs no other test. It reuses the Kafka jars the shared broker downloaded.
struct OwnBroker {
    cache: tempfile::TempDir,
    port: u16,
    controller_port: u16,
}

impl OwnBroker {
    fn start() -> OwnBroker {
        let cache = tempfile::tempdir().expect("temp dir");
        let shared = std::env::var("EVENTFOLD_CACHE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| {
                std::path::PathBuf::from(std::env::var("HOME").expect("HOME"))
                    .join(".cache/eventfold")
            });
        for entry in std::fs::read_dir(&shared).into_iter().flatten().flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("kafka-") && name != "kafka-run" {
                std::os::unix::fs::symlink(entry.path(), cache.path().join(&name)).unwrap();
            }
        }
        let free_port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let broker = OwnBroker {
            cache,
            port: free_port(),
            controller_port: free_port(),
        };
        broker.run("start");
        broker
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn run(&self, action: &str) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/kafka");
        let output = Command::new(script)
            .arg(action)
            .env("EVENTFOLD_CACHE", self.cache.path())
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_CONTROLLER_PORT", self.controller_port.to_string())
            .output()
            .expect("scripts/kafka runs");
        assert!(
            output.status.success(),
            "scripts/kafka {action}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.run("stop");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_resumes_by_itself_after_the_broker_is_killed_and_restarted() {
    broker();
    let own = OwnBroker::start();
    let address = own.address();
    let admin: AdminClient<DefaultClientContext> = client_config(&address).create().unwrap();
    let topic = "eventfold-test-restart";
    admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap()
        .into_iter()
        .for_each(|r| {
            r.unwrap();
        });
    let args = KafkaArgs {
        brokers: Some(address.clone()),
        ..KafkaArgs::default()
    };
    let backend =
        std::sync::Arc::new(KafkaBackend::new(args.client_config().unwrap(), None, true).unwrap());
    let produce = |amount: i64| {
        let backend = backend.clone();
        async move {
            backend
                .produce(ProduceRequest {
                    topic: topic.to_owned(),
                    key: Some(b"acct-1".to_vec()),
                    value: Some(
                        json!({"type": "deposit", "amount": amount})
                            .to_string()
                            .into_bytes(),
                    ),
                    headers: Vec::new(),
                })
                .await
        }
    };
    for amount in 0..3 {
        produce(amount).await.expect("produce before the crash");
    }
    let mut sub = backend
        .subscribe(request(topic, "beginning"))
        .await
        .unwrap();
    assert_eq!(
        offsets(&receive(&mut sub.batches, 3).await),
        vec![(0, 0), (0, 1), (0, 2)]
    );

    own.run("kill");
    // A record produced while the broker is down is acknowledged once it is back.
    let during = tokio::spawn(produce(3));
    tokio::time::sleep(Duration::from_secs(1)).await;
    own.run("start");
    assert_eq!(
        during.await.unwrap().expect("produce across the restart"),
        (0, 3)
    );
    assert_eq!(produce(4).await.expect("produce after the restart"), (0, 4));

    // The subscription carries on from where it was: every record once, none twice.
    let got = receive(&mut sub.batches, 2).await;
    assert_eq!(offsets(&got), vec![(0, 3), (0, 4)]);
    assert_eq!(values(&got)[1], json!({"type": "deposit", "amount": 4}));
    assert_quiet(&mut sub.batches, "after the restart").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn health_says_whether_the_cluster_answers() {
    let backend = backend(false);
    assert_eq!(backend.health().await, Health::Reachable);

    // Nothing listens on a port just freed: the backend still starts, and says why it
    // is not healthy.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let args = KafkaArgs {
        brokers: Some(format!("127.0.0.1:{port}")),
        ..KafkaArgs::default()
    };
    let started = Instant::now();
    let nowhere = KafkaBackend::new(args.client_config().unwrap(), None, true).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "new() waited for the broker"
    );
    match nowhere.health().await {
        Health::Unreachable(why) => assert!(
            why.starts_with(&format!(
                "cannot read the metadata of the Kafka cluster at 127.0.0.1:{port}: "
            )),
            "{why}"
        ),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}
