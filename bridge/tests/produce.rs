//! `produce` over the WebSocket against the real broker from `scripts/kafka`
//! (`EVENTFOLD_KAFKA`, 127.0.0.1:9092 by default): `serve::run` with the Kafka backend
//! and `--allow-produce`, a real WebSocket client (tokio-tungstenite) sending frames
//! back to back without waiting for their acknowledgements, and a consumer independent
//! of the bridge reading back what the broker holds.
//!
//! - frames from one connection are appended in the order they were sent, for one key
//!   and for several, and each `produced` carries the offset the record really has;
//! - headers travel as a list, so a name can repeat.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
use futures_util::{SinkExt, StreamExt};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

mod common;

use common::served::{Served, Socket, send, text_within};
use common::{WAIT, broker, new_topic};

/// A (partition, offset).
type Place = (i32, i64);

/// A bridge over the real broker that lets clients produce.
async fn start() -> Served {
    let args = KafkaArgs {
        brokers: Some(broker().to_owned()),
        ..KafkaArgs::default()
    };
    let backend = KafkaBackend::new(args.client_config().unwrap(), None, true).unwrap();
    Served::start(Arc::new(backend), |c| c.allow_produce = true).await
}

/// A `produce` frame whose id is its index, carrying its index in the value.
fn frame(topic: &str, seq: usize, key: &str) -> Value {
    json!({"type":"produce","id":seq,"topic":topic,"key":key,"value":{"seq":seq}})
}

/// What the client saw of a run of frames.
struct Acks {
    /// Where each frame's record landed, by frame index, as its `produced` said.
    places: Vec<Place>,
    /// From the first send to the acknowledgement of frame 999 (when there are 1,000).
    first_thousand: Option<Duration>,
    /// From the first send to the last acknowledgement.
    all: Duration,
}

/// Sends `frames` back to back on `socket` while reading the replies, as a pipelining
/// client does, and returns once every frame is acknowledged.
async fn produce_all(socket: &mut Socket, frames: Vec<Value>) -> Acks {
    let count = frames.len();
    let (mut sink, mut stream) = socket.split();
    let started = Instant::now();
    let sending = async move {
        for frame in frames {
            sink.feed(Message::text(frame.to_string())).await.unwrap();
        }
        sink.flush().await.unwrap();
    };
    let receiving = async {
        let mut places: Vec<Option<Place>> = vec![None; count];
        let mut first_thousand = None;
        let mut acked = 0;
        while acked < count {
            let message = tokio::time::timeout(WAIT, stream.next())
                .await
                .expect("an acknowledgement within the wait");
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                // The bridge's pings (tungstenite answers them as it reads).
                Some(Ok(Message::Ping(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            };
            acked += 1;
            let reply: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(reply["type"], "produced", "{reply}");
            let seq = reply["id"].as_u64().unwrap() as usize;
            let place = (
                reply["partition"].as_i64().unwrap() as i32,
                reply["offset"].as_i64().unwrap(),
            );
            assert!(
                places[seq].replace(place).is_none(),
                "frame {seq} acked twice"
            );
            if seq == 999 {
                first_thousand = Some(started.elapsed());
            }
        }
        (places, first_thousand)
    };
    let ((), (places, first_thousand)) = tokio::join!(sending, receiving);
    Acks {
        places: places.into_iter().map(Option::unwrap).collect(),
        first_thousand,
        all: started.elapsed(),
    }
}

/// A record as the broker holds it.
struct Stored {
    place: Place,
    key: String,
    value: Value,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// The first `count` records of `topic`, read from the beginning of every partition by
/// a consumer independent of the bridge, in offset order per partition.
fn read_back(topic: &str, partitions: i32, count: usize) -> Vec<Stored> {
    // assign() needs a group id; the consumer never joins the group or commits to it.
    let consumer: BaseConsumer = common::client_config(broker())
        .set("group.id", "eventfold-test-read-back")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut stored = Vec::with_capacity(count);
    while stored.len() < count {
        assert!(
            Instant::now() < deadline,
            "read {} of {count} records back",
            stored.len()
        );
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.expect("a record");
        let headers = message.headers().map_or_else(Vec::new, |headers| {
            headers
                .iter()
                .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                .collect()
        });
        stored.push(Stored {
            place: (message.partition(), message.offset()),
            key: String::from_utf8(message.key().unwrap().to_vec()).unwrap(),
            value: serde_json::from_slice(message.payload().unwrap()).unwrap(),
            headers,
        });
    }
    stored.sort_by_key(|s| s.place);
    stored
}

/// Checks the broker's records against the frames sent: per key, the records in offset
/// order carry the frames' indexes in the order they were sent (no inversion), and
/// every frame's `produced` names the place its record has.
fn check_order(stored: &[Stored], sent: &BTreeMap<String, Vec<usize>>, acks: &Acks) {
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for record in stored {
        let seq = record.value["seq"].as_u64().unwrap() as usize;
        by_key.entry(record.key.clone()).or_default().push(seq);
        assert_eq!(
            acks.places[seq], record.place,
            "frame {seq}'s acknowledgement names the place of its record"
        );
    }
    for (key, appended) in &by_key {
        let inversions = appended.windows(2).filter(|w| w[1] < w[0]).count();
        assert_eq!(inversions, 0, "key {key}: records appended out of order");
        assert_eq!(Some(appended), sent.get(key), "key {key}: the frames sent");
    }
    assert_eq!(by_key.len(), sent.len(), "every key sent was appended");
}

/// Sends `count` frames over `keys` (round robin) on one socket, back to back, and
/// checks the broker holds them in the order sent.
async fn check_pipelined(name: &str, keys: &[&str], count: usize) {
    let partitions = 3;
    let topic = new_topic("eventfold-produce", name, partitions).await;
    let bridge = start().await;
    let mut socket = bridge.connect_past_hello().await;
    let mut sent: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let frames = (0..count)
        .map(|seq| {
            let key = keys[seq % keys.len()];
            sent.entry(key.to_owned()).or_default().push(seq);
            frame(&topic, seq, key)
        })
        .collect();
    let acks = produce_all(&mut socket, frames).await;
    eprintln!(
        "{count} produce frames over {} key(s): the first 1,000 acknowledged in {:?}, all in {:?} ({:.0} frames/s)",
        keys.len(),
        acks.first_thousand.unwrap(),
        acks.all,
        count as f64 / acks.all.as_secs_f64()
    );
    let stored = read_back(&topic, partitions, count);
    check_order(&stored, &sent, &acks);
}

/// 10,000 frames for one key, sent without waiting for acknowledgements: the broker
/// holds them in the order sent.
#[tokio::test(flavor = "multi_thread")]
async fn produce_frames_for_one_key_are_appended_in_the_order_sent() {
    check_pipelined("one-key", &["acct-1"], 10_000).await;
}

/// The same with frames for five keys interleaved (three partitions): each key's records
/// keep their order.
#[tokio::test(flavor = "multi_thread")]
async fn produce_frames_for_several_keys_each_keep_the_order_sent() {
    let keys = ["acct-1", "acct-2", "acct-3", "acct-4", "acct-5"];
    check_pipelined("keys", &keys, 10_000).await;
}

/// Three frames sent back to back, twenty times over on one socket: each time they land
/// in the order sent (the first produce to a topic the bridge had not seen included).
#[tokio::test(flavor = "multi_thread")]
async fn three_frames_sent_back_to_back_land_in_order_every_time() {
    let topic = new_topic("eventfold-produce", "three", 1).await;
    let bridge = start().await;
    let mut socket = bridge.connect_past_hello().await;
    let mut sent: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut places = Vec::new();
    for round in 0..20 {
        let frames: Vec<Value> = (0..3)
            .map(|i| {
                let seq = round * 3 + i;
                sent.entry("acct-1".into()).or_default().push(seq);
                frame(&topic, seq, "acct-1")
            })
            .collect();
        // Ids restart at each round's first index: produce_all indexes from 0.
        let frames = frames
            .into_iter()
            .enumerate()
            .map(|(i, mut f)| {
                f["id"] = json!(i);
                f
            })
            .collect();
        let acks = produce_all(&mut socket, frames).await;
        let offsets: Vec<i64> = acks.places.iter().map(|p| p.1).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "round {round}: offsets {offsets:?} for frames sent in order"
        );
        places.extend(acks.places);
    }
    let acks = Acks {
        places,
        first_thousand: None,
        all: Duration::ZERO,
    };
    let stored = read_back(&topic, 1, 60);
    check_order(&stored, &sent, &acks);
}

/// Headers are a list of `{"name","value"}`, as records carry them: two headers of one
/// name arrive both, in order, and a header may have no value. The older object form
/// is still read.
#[tokio::test(flavor = "multi_thread")]
async fn produce_headers_may_repeat_a_name() {
    let topic = new_topic("eventfold-produce", "headers", 1).await;
    let bridge = start().await;
    let mut socket = bridge.connect_past_hello().await;
    let mut check = async |headers: Value, offset: i64| {
        send(
            &mut socket,
            json!({"type":"produce","id":offset,"topic":topic,"key":"acct-1",
                   "value":{"seq":offset},"headers":headers}),
        )
        .await;
        let reply = text_within(&mut socket, WAIT).await.expect("a reply");
        assert_eq!(
            reply,
            json!({"type":"produced","id":offset,"partition":0,"offset":offset})
        );
    };
    check(
        json!([{"name":"trace","value":"first"},{"name":"trace","value":{"base64":"/wA="}},
               {"name":"flag","value":null}]),
        0,
    )
    .await;
    check(json!({"source":"page"}), 1).await;

    // The broker holds them as sent.
    let stored = read_back(&topic, 1, 2);
    assert_eq!(
        stored[0].headers,
        [
            ("trace".to_owned(), Some(b"first".to_vec())),
            ("trace".to_owned(), Some(vec![0xff, 0x00])),
            ("flag".to_owned(), None),
        ]
    );
    assert_eq!(
        stored[1].headers,
        [("source".to_owned(), Some(b"page".to_vec()))]
    );

    // And the bridge relays them as a list, in order.
    let mut reader = bridge.connect_past_hello().await;
    send(
        &mut reader,
        json!({"type":"subscribe","id":"s","topic":topic,"from":{"beginning":true}}),
    )
    .await;
    let mut records = Vec::new();
    while records.len() < 2 {
        let frame = text_within(&mut reader, WAIT).await.expect("records");
        if frame["type"] == "records" {
            records.extend(frame["records"].as_array().unwrap().iter().cloned());
        }
    }
    assert_eq!(
        records[0]["headers"],
        json!([{"name":"trace","value":"first"},{"name":"trace","value":{"base64":"/wA="}},
               {"name":"flag","value":null}])
    );
}
