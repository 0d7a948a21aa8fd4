//! Slow clients against the real broker from `scripts/kafka` (`EVENTFOLD_KAFKA`,
//! 127.0.0.1:9092 by default): `serve::run` with the Kafka backend and the default
//! limits except a short `--slow-client-timeout`, replaying a topic of a few MB to a
//! real WebSocket client (tokio-tungstenite over loopback TCP) that stops reading, or
//! reads 20 KB/s. Either way the bridge closes it with a `closing` frame carrying the
//! offsets to resume from and close code 1013, and resuming from them delivers every
//! record exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
use eventfold_bridge::serve::SLOW_CLIENT_TIMEOUT;
use futures_util::StreamExt;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

mod common;

use common::served::{Served, Socket, send};
use common::{WAIT, broker, new_topic};

/// Records in the topic: about 6 MB on the wire, far more than the send window and the
/// socket buffers hold.
const RECORDS: i64 = 40_000;
/// How long the client may stay behind (`--slow-client-timeout`).
const LIMIT: Duration = Duration::from_secs(2);
/// The trickle reader's pace.
const TRICKLE_BYTES_PER_SECOND: f64 = 20_000.0;

/// Fills a one-partition topic with `RECORDS` records of about 150 bytes.
async fn filled_topic(name: &str) -> String {
    let topic = new_topic("eventfold-slow", name, 1).await;
    let producer: FutureProducer = common::client_config(broker())
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let pad = "x".repeat(100);
    let mut deliveries = Vec::new();
    for seq in 0..RECORDS {
        let value = json!({"type":"deposit","amount":seq,"pad":pad}).to_string();
        let record = FutureRecord::to(&topic).key("acct-1").payload(&value);
        let delivery = producer
            .send_result(record)
            .unwrap_or_else(|(e, _)| panic!("cannot queue record {seq}: {e}"));
        deliveries.push(delivery);
    }
    for delivery in deliveries {
        delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
    topic
}

/// A bridge over the real broker whose clients may stay behind for `limit`.
async fn start(limit: Duration) -> Served {
    let args = KafkaArgs {
        brokers: Some(broker().to_owned()),
        ..KafkaArgs::default()
    };
    let backend = KafkaBackend::new(args.client_config().unwrap(), None, false).unwrap();
    Served::start(Arc::new(backend), |c| c.limits.slow_client_timeout = limit).await
}

/// What a client read up to the end of its connection.
#[derive(Default)]
struct Read {
    offsets: Vec<i64>,
    closing: Option<Value>,
    close_code: Option<u16>,
}

/// Reads frames until the connection ends, sleeping after each as long as `pace` says
/// its bytes take.
async fn read_to_the_end(socket: &mut Socket, pace: Option<f64>) -> Read {
    let mut read = Read::default();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("the connection ends within a minute");
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                read.close_code = frame.map(|f| u16::from(f.code));
                continue;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return read,
        };
        if let Some(rate) = pace {
            tokio::time::sleep(Duration::from_secs_f64(text.len() as f64 / rate)).await;
        }
        let frame: Value = serde_json::from_str(&text).unwrap();
        match frame["type"].as_str().unwrap() {
            "records" => read.offsets.extend(
                frame["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["offset"].as_i64().unwrap()),
            ),
            "closing" => read.closing = Some(frame),
            other => panic!("unexpected {other}: {frame}"),
        }
    }
}

/// A client subscribes to the whole topic and reads as `first_read` does; the bridge
/// must close it as slow with a `closing` frame and 1013, and a second connection
/// resuming from the closing frame's offsets gets the rest, each record once.
async fn check_slow_close(name: &str, pace: Option<f64>) {
    let topic = filled_topic(name).await;
    let bridge = start(LIMIT).await;
    let mut socket = bridge.connect_past_hello().await;
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":topic,"from":{"beginning":true}}),
    )
    .await;
    let started = Instant::now();
    if pace.is_none() {
        // Not a byte read until the bridge has given up on this client, as a page in a
        // tab the browser froze; then it reads what is there.
        let deadline = Instant::now() + WAIT;
        while bridge.metric("eventfold_slow_client_closes_total").await
            != Some("eventfold_slow_client_closes_total 1".into())
        {
            assert!(
                Instant::now() < deadline,
                "the client was not closed as slow"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let first = read_to_the_end(&mut socket, pace).await;
    let elapsed = started.elapsed();
    assert_eq!(
        first.close_code,
        Some(1013),
        "closed with 1013 after {} records",
        first.offsets.len()
    );
    let closing = first.closing.expect("a closing frame");
    assert_eq!(
        (&closing["resume"][0]["sub"], &closing["resume"][0]["topic"]),
        (&json!("s"), &json!(topic))
    );
    let resume = closing["resume"][0]["offsets"]["0"]
        .as_i64()
        .expect("a resume offset for partition 0");
    let expected: Vec<i64> = (0..resume).collect();
    assert_eq!(
        first.offsets, expected,
        "every record before the resume offset, once, in order"
    );
    assert!(resume < RECORDS, "the client was closed before the end");
    eprintln!(
        "{name}: closed with 1013 after {resume} records, the closing frame read {elapsed:?} after subscribing"
    );

    // The rest is read by a client at full speed, from a bridge with the default limit:
    // this test client (a debug build parsing every frame) on a loaded machine could
    // fall below the short limit's pace, which is not what is tested here.
    let bridge = start(SLOW_CLIENT_TIMEOUT).await;
    let mut socket = bridge.connect_past_hello().await;
    send(
        &mut socket,
        json!({"type":"subscribe","id":"s","topic":topic,"from":{"offsets":{"0":resume}}}),
    )
    .await;
    let mut seen = first.offsets;
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame within the wait");
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            // The bridge's pings, which tungstenite answers.
            Some(Ok(Message::Ping(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        match frame["type"].as_str().unwrap() {
            "records" => seen.extend(
                frame["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["offset"].as_i64().unwrap()),
            ),
            "caught_up" => break,
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    let counts = seen.iter().fold(BTreeMap::new(), |mut counts, o| {
        *counts.entry(*o).or_insert(0) += 1;
        counts
    });
    assert!(counts.values().all(|&n| n == 1), "a record delivered twice");
    assert_eq!(
        seen,
        (0..RECORDS).collect::<Vec<_>>(),
        "every record, in order"
    );
}

/// A client that stops reading, then reads again once the bridge gave up on it.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_gets_closing_and_1013() {
    check_slow_close("stopped", None).await;
}

/// A client that reads steadily, at 20 KB/s: far slower than the replay.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_reading_20_kb_a_second_gets_closing_and_1013() {
    check_slow_close("trickle", Some(TRICKLE_BYTES_PER_SECOND)).await;
}
