//! `eventfold serve` over real sockets: each test binds 127.0.0.1:0, runs the server
//! with `serve::run`, and talks to it with a real WebSocket client (tokio-tungstenite)
//! and a real HTTP client (hyper).
//!
//! The relay tests (records, caught_up, pause, resume offsets) use `Canned`, an
//! in-test backend serving fixed batches. It stands in for Kafka ONLY to test the
//! session's own logic; the tests against a real broker come with the Kafka backend.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use eventfold_bridge::backend::{
    Backend, BackendError, Batch, Delivery, Health, NoKafka, ProduceAck, ProduceRequest,
    SubscribeRequest, Subscription,
};
use eventfold_bridge::serve::ServeConfig;
use eventfold_core::wire::{ErrorCode, PartitionInfo, Record, TopicInfo, WireBytes};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::{self, Message};

mod common;

use common::served::{PAGE, Served, Socket, send, text_within, wasm_like};

/// How long a test waits for a frame it expects.
const WAIT: Duration = Duration::from_secs(5);
/// How long a test watches for a frame it expects NOT to come.
const QUIET: Duration = Duration::from_millis(300);

/// Serves `backend` (see [`Served::start`]).
async fn start<B: Backend>(backend: B, configure: impl FnOnce(&mut ServeConfig)) -> Served {
    Served::start(Arc::new(backend), configure).await
}

/// A `subscribe` frame from `from`, one of the starts without a value (`beginning`,
/// `latest`).
fn subscribe(id: &str, topic: &str, from: &str) -> Value {
    json!({"type": "subscribe", "id": id, "topic": topic, "from": {from: true}})
}

/// The next text frame as JSON, skipping pings.
async fn next(socket: &mut Socket) -> Value {
    text_within(socket, WAIT)
        .await
        .expect("a frame within the wait")
}

/// Reads until the server's close frame and returns its code and reason, collecting
/// the text frames that came before it.
async fn close_code(socket: &mut Socket, before: &mut Vec<Value>) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a close within the wait");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Text(text))) => {
                before.push(serde_json::from_str(text.as_str()).unwrap())
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Asserts nothing arrives for a moment.
async fn quiet(socket: &mut Socket) {
    if let Ok(frame) = tokio::time::timeout(QUIET, socket.next()).await {
        panic!("expected no frame, got {frame:?}");
    }
}

fn record(topic: &str, partition: i32, offset: i64) -> Record {
    Record {
        topic: topic.into(),
        partition,
        offset,
        key: Some(WireBytes(json!("acct-1"))),
        timestamp: 1_700_000_000_000 + offset,
        headers: Vec::new(),
        value: Some(WireBytes(json!({"type":"deposit","amount":offset}))),
    }
}

/// The test's handles on a subscription: the backend's pause switch and its feed.
type Live = (watch::Receiver<bool>, mpsc::Sender<Batch>);

/// A stand-in backend serving fixed batches (see the module docs for why).
#[derive(Clone, Default)]
struct Canned {
    /// Topic → batches, replayed at subscribe; high watermarks follow from them.
    topics: BTreeMap<String, Vec<Vec<Record>>>,
    /// Topic → offsets after the last record of every partition that are never
    /// delivered, as transaction markers are: they raise the high watermark, and only
    /// the backend's `Reached` says the replay got there.
    markers: BTreeMap<String, i64>,
    health: Option<Health>,
    /// Never answer topic_names, like a broker that is away.
    hang_topics: bool,
    /// The latest subscription's pause switch and live feed, for the test to drive.
    live: Arc<Mutex<Option<Live>>>,
    /// (group, topic) → committed offsets.
    groups: BTreeMap<(String, String), BTreeMap<i32, i64>>,
}

impl Canned {
    fn with_topic(mut self, name: &str, batches: Vec<Vec<Record>>) -> Canned {
        self.topics.insert(name.into(), batches);
        self
    }

    fn with_markers(mut self, name: &str, markers: i64) -> Canned {
        self.markers.insert(name.into(), markers);
        self
    }

    /// High watermarks: past the last record, and past the markers after it.
    fn high(&self, topic: &str) -> BTreeMap<i32, i64> {
        let markers = self.markers.get(topic).copied().unwrap_or(0);
        let mut high = high(self.topics.get(topic).map_or(&[][..], Vec::as_slice));
        high.values_mut().for_each(|h| *h += markers);
        high
    }

    fn live(&self) -> Live {
        self.live.lock().unwrap().clone().expect("a subscription")
    }
}

impl Backend for Canned {
    fn produce_allowed(&self) -> bool {
        true
    }

    async fn health(&self) -> Health {
        self.health.clone().unwrap_or(Health::Reachable)
    }

    async fn topic_names(&self) -> Result<Vec<String>, BackendError> {
        if self.hang_topics {
            std::future::pending::<()>().await;
        }
        Ok(self.topics.keys().cloned().collect())
    }

    async fn list_topics(&self) -> Result<Vec<TopicInfo>, BackendError> {
        Ok(self
            .topics
            .keys()
            .map(|name| TopicInfo {
                name: name.clone(),
                partitions: self
                    .high(name)
                    .into_iter()
                    .map(|(id, high)| PartitionInfo { id, low: 0, high })
                    .collect(),
            })
            .collect())
    }

    async fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription, BackendError> {
        let Some(batches) = self.topics.get(&request.topic).cloned() else {
            return Err(BackendError::new(ErrorCode::UnknownTopic, "no such topic"));
        };
        let (tx, rx) = mpsc::channel(2);
        let (paused, paused_rx) = watch::channel(false);
        *self.live.lock().unwrap() = Some((paused_rx, tx.clone()));
        let high = self.high(&request.topic);
        let partitions: Vec<i32> = high.keys().copied().collect();
        tokio::spawn(async move {
            for batch in batches {
                if tx.send(Ok(Delivery::Records(batch))).await.is_err() {
                    return;
                }
            }
            // Every partition is at its end, as the Kafka backend's end-of-partition
            // events say.
            for p in partitions {
                if tx.send(Ok(Delivery::Reached(p))).await.is_err() {
                    return;
                }
            }
            // Stay open like a live tail until the session drops the subscription.
            tx.closed().await;
        });
        Ok(Subscription {
            high,
            batches: rx,
            paused,
        })
    }

    async fn enqueue(&self, request: ProduceRequest) -> Result<ProduceAck, BackendError> {
        match self.topics.get(&request.topic) {
            Some(_) => {
                let offset = self.high(&request.topic).get(&0).copied().unwrap_or(0);
                Ok(Box::pin(async move { Ok((0, offset)) }))
            }
            None => Err(BackendError::new(ErrorCode::UnknownTopic, "no such topic")),
        }
    }

    async fn group_offsets(
        &self,
        group: String,
        topic: String,
    ) -> Result<BTreeMap<i32, i64>, BackendError> {
        if !self.topics.contains_key(&topic) {
            return Err(BackendError::new(ErrorCode::UnknownTopic, "no such topic"));
        }
        Ok(self
            .groups
            .get(&(group, topic))
            .cloned()
            .unwrap_or_default())
    }
}

fn high(batches: &[Vec<Record>]) -> BTreeMap<i32, i64> {
    let mut high = BTreeMap::new();
    for record in batches.iter().flatten() {
        let h = high.entry(record.partition).or_insert(0);
        *h = (*h).max(record.offset + 1);
    }
    high
}

/// bank: partition 0 offsets 0..5 in two batches, partition 1 offsets 0..2.
fn bank() -> Canned {
    Canned::default().with_topic(
        "bank",
        vec![
            (0..3).map(|o| record("bank", 0, o)).collect(),
            (0..2).map(|o| record("bank", 1, o)).collect(),
            (3..5).map(|o| record("bank", 0, o)).collect(),
        ],
    )
}

#[tokio::test]
async fn hello_on_connect_lists_only_visible_topics() {
    let backend = bank()
        .with_topic("orders", Vec::new())
        .with_topic("secret", Vec::new());
    let server = start(backend, |c| {
        c.topics = Some(regex::Regex::new("^(?:bank|orders)$").unwrap());
    })
    .await;
    let mut socket = server.connect().await;
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"hello","protocol":2,"produce":false,"topics":["bank","orders"]})
    );
    send(&mut socket, json!({"type":"list_topics","id":7})).await;
    let topics = next(&mut socket).await;
    assert_eq!(topics["id"], 7);
    let names: Vec<&str> = topics["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bank", "orders"]);
    assert_eq!(
        topics["topics"][0]["partitions"],
        json!([{"id":0,"low":0,"high":5},{"id":1,"low":0,"high":2}])
    );
}

#[tokio::test]
async fn hello_does_not_wait_for_a_broker_that_is_away() {
    let backend = Canned {
        hang_topics: true,
        ..bank()
    };
    let server = start(backend, |_| {}).await;
    let started = std::time::Instant::now();
    let mut socket = server.connect().await;
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"hello","protocol":2,"produce":false,"topics":[]})
    );
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "hello took {waited:?}");
    // The connection works.
    send(&mut socket, json!({"type":"list_topics","id":1})).await;
    assert_eq!(next(&mut socket).await["type"], "topics");
}

#[tokio::test]
async fn the_page_is_served_with_index_html_for_unknown_paths() {
    let server = start(NoKafka, |_| {}).await;
    let check = |path: &'static str, status: u16, body: &'static str| {
        let server = &server;
        async move {
            assert_eq!(server.get(path).await, (status, body.to_owned()), "{path}");
        }
    };
    check("/", 200, PAGE).await;
    check("/app.js", 200, "console.log('app')").await;
    check("/lesson/bank", 200, PAGE).await;
}

#[tokio::test]
async fn the_page_is_gzipped_for_a_browser_that_accepts_it() {
    use std::io::Read;
    let server = start(NoKafka, |_| {}).await;
    let original = wasm_like();
    let (status, headers, body) = server
        .get_with("/app.wasm", &[("accept-encoding", "gzip, deflate, br")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["content-type"], "application/wasm");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert!(unzipped == original, "the gzipped body is the file");
    assert!(
        body.len() * 2 < original.len(),
        "{} bytes sent for {}",
        body.len(),
        original.len()
    );
    // A client that does not ask gets the file as it is.
    let (status, headers, body) = server.get_with("/app.wasm", &[]).await;
    assert_eq!(status, 200);
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    assert!(body[..] == original[..], "the file as it is");
    // So does the API: /healthz and /metrics are not the page.
    let (_, headers, _) = server
        .get_with("/metrics", &[("accept-encoding", "gzip")])
        .await;
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
}

#[tokio::test]
async fn healthz_reports_kafka() {
    let check = |health: Option<Health>, status: u16, body: Value| async move {
        let backend = Canned {
            health,
            ..Canned::default()
        };
        let server = start(backend, |_| {}).await;
        let (got_status, got_body) = server.get("/healthz").await;
        assert_eq!(
            (
                got_status,
                serde_json::from_str::<Value>(&got_body).unwrap()
            ),
            (status, body)
        );
    };
    check(
        Some(Health::NotConfigured),
        200,
        json!({"ok":true,"kafka":"not configured"}),
    )
    .await;
    check(
        Some(Health::Reachable),
        200,
        json!({"ok":true,"kafka":"reachable"}),
    )
    .await;
    check(
        Some(Health::Unreachable("connection refused".into())),
        503,
        json!({"ok":false,"kafka":"unreachable","error":"connection refused"}),
    )
    .await;

    // The bridge without --brokers.
    let server = start(NoKafka, |_| {}).await;
    assert_eq!(
        server.get("/healthz").await,
        (200, r#"{"ok":true,"kafka":"not configured"}"#.to_owned())
    );
}

#[tokio::test]
async fn metrics_count_connections_subscriptions_records_and_refusals() {
    let server = start(bank(), |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, json!({"type":"nonsense"})).await;
    assert_eq!(next(&mut socket).await["code"], "bad_request");
    send(&mut socket, subscribe("s1", "bank", "beginning")).await;
    let mut records = 0;
    loop {
        let frame = next(&mut socket).await;
        match frame["type"].as_str().unwrap() {
            "records" => records += frame["records"].as_array().unwrap().len(),
            "caught_up" => break,
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    assert_eq!(records, 7);
    let check = |line: &'static str| {
        let server = &server;
        async move {
            assert_eq!(
                server.metric(line).await.as_deref(),
                Some(line),
                "in /metrics"
            );
        }
    };
    check("eventfold_connections 1").await;
    check("eventfold_subscriptions 1").await;
    check("eventfold_records_relayed_total 7").await;
    check("eventfold_frames_refused_total{code=\"bad_request\"} 1").await;
    let bytes = server.metric("eventfold_bytes_sent_total ").await.unwrap();
    let bytes: u64 = bytes.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(bytes > 500, "bytes sent: {bytes}");

    send(&mut socket, json!({"type":"unsubscribe","id":"s1"})).await;
    socket.close(None).await.unwrap();
    // The session ends asynchronously after the close.
    for _ in 0..50 {
        if server.metric("eventfold_connections ").await.as_deref()
            == Some("eventfold_connections 0")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check("eventfold_connections 0").await;
    check("eventfold_subscriptions 0").await;
}

#[tokio::test]
async fn bad_frames_get_bad_request_and_the_connection_stays_usable() {
    let server = start(bank(), |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    let mut check = async |frame: Message, id: Value, message: &str| {
        socket.send(frame).await.unwrap();
        let reply = next(&mut socket).await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "bad_request", "{reply}");
        assert_eq!(reply["id"], id, "{reply}");
        let text = reply["message"].as_str().unwrap();
        assert!(
            text.contains(message),
            "{text:?} should contain {message:?}"
        );
        // The next request still works.
        send(&mut socket, json!({"type":"list_topics","id":"after"})).await;
        let topics = next(&mut socket).await;
        assert_eq!(
            (&topics["type"], &topics["id"]),
            (&json!("topics"), &json!("after"))
        );
    };
    check(
        Message::text("{not json"),
        Value::Null,
        "bad frame: key must be a string",
    )
    .await;
    check(
        Message::text(r#"{"type":"drop_topic","id":3}"#),
        json!(3),
        "unknown variant `drop_topic`",
    )
    .await;
    check(
        Message::text(r#"{"type":"list_topics","id":4,"brokers":"evil:9092"}"#),
        json!(4),
        "unknown field `brokers`",
    )
    .await;
    check(
        Message::text(r#"{"type":"subscribe","id":"s1","topic":"bank","from":{"earliest":true}}"#),
        json!("s1"),
        "unknown variant `earliest`",
    )
    .await;
    check(
        Message::binary(vec![1u8, 2, 3]),
        Value::Null,
        "binary frames are not part of the protocol",
    )
    .await;
    check(
        Message::text(r#"{"type":"pause","sub":"nope"}"#),
        json!("nope"),
        "there is no subscription \"nope\"",
    )
    .await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let server = start(bank(), |c| c.limits.max_frame_bytes = 1024).await;
    let mut socket = server.connect_past_hello().await;
    // Just under the limit is fine.
    let padding = "x".repeat(900);
    send(&mut socket, json!({"type":"list_topics","id":padding})).await;
    assert_eq!(next(&mut socket).await["type"], "topics");
    // Requests sent just before the oversized frame still get their answers.
    send(&mut socket, json!({"type":"list_topics","id":"before"})).await;
    send(&mut socket, json!({"type":"pause","sub":"nope"})).await;
    let padding = "x".repeat(2000);
    send(&mut socket, json!({"type":"list_topics","id":padding})).await;
    let mut before = Vec::new();
    let (code, reason) = close_code(&mut socket, &mut before).await;
    assert_eq!(code, 1009, "{reason}");
    let answers: Vec<(&Value, &Value)> = before.iter().map(|f| (&f["type"], &f["id"])).collect();
    assert_eq!(
        answers,
        [
            (&json!("topics"), &json!("before")),
            (&json!("error"), &json!("nope"))
        ]
    );
    // The server survives.
    server.connect_past_hello().await;
}

/// Upgrades a raw TCP connection to a WebSocket by hand, so a test can send bytes no
/// WebSocket library would send. Returns the stream and whatever followed the response.
async fn raw_upgrade(server: &Served) -> (tokio::net::TcpStream, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = Vec::new();
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            assert!(head.starts_with("HTTP/1.1 101"), "{head}");
            return (stream, buffer.split_off(end + 4));
        }
        let mut chunk = [0u8; 1024];
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("the upgrade's response")
            .unwrap();
        assert!(n > 0, "the server closed during the upgrade");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Reads the server's frames (unmasked, as RFC 6455 has them) until its close frame, and
/// returns the close code; `None` if the connection ended without one.
async fn raw_close_code(stream: &mut tokio::net::TcpStream, mut buffer: Vec<u8>) -> Option<u16> {
    use tokio::io::AsyncReadExt;
    loop {
        // A whole frame in the buffer: its opcode and payload.
        if buffer.len() >= 2 {
            let (length, start) = match buffer[1] & 0x7f {
                126 if buffer.len() >= 4 => {
                    (u16::from_be_bytes([buffer[2], buffer[3]]) as usize, 4)
                }
                127 if buffer.len() >= 10 => (
                    u64::from_be_bytes(buffer[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => (usize::MAX, 0),
                n => (n as usize, 2),
            };
            if length != usize::MAX && buffer.len() >= start + length {
                let opcode = buffer[0] & 0x0f;
                let payload = buffer[start..start + length].to_vec();
                buffer.drain(..start + length);
                if opcode == 0x8 {
                    return Some(u16::from_be_bytes([payload[0], payload[1]]));
                }
                continue;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("a close within the wait")
            .ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// A client frame with FIN set: `first` is the first byte (FIN and opcode), the payload
/// masked with `mask` unless it is `None`.
fn raw_frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut frame = vec![first];
    match mask {
        Some(mask) => {
            frame.push(0x80 | payload.len() as u8);
            frame.extend_from_slice(&mask);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => {
            frame.push(payload.len() as u8);
            frame.extend_from_slice(payload);
        }
    }
    frame
}

/// Frames that break RFC 6455 close the connection with the code it names: 1007 for a
/// text frame that is not UTF-8, 1002 for a reserved opcode or an unmasked client frame.
/// A frame the protocol allows, sent the same way, is answered.
#[tokio::test]
async fn protocol_violations_close_with_1002_or_1007() {
    use tokio::io::AsyncWriteExt;
    let server = start(bank(), |_| {}).await;
    let mask = Some([0x37, 0xfa, 0x21, 0x3d]);
    let check = |bytes: Vec<u8>, code: Option<u16>| {
        let server = &server;
        async move {
            let (mut stream, buffer) = raw_upgrade(server).await;
            stream.write_all(&bytes).await.unwrap();
            match code {
                Some(code) => {
                    assert_eq!(raw_close_code(&mut stream, buffer).await, Some(code));
                }
                None => {
                    // The hand-made upgrade and framing are right: a valid request is
                    // answered and the connection stays open.
                    let mut buffer = buffer;
                    let deadline = tokio::time::Instant::now() + WAIT;
                    while !String::from_utf8_lossy(&buffer).contains(r#""type":"topics""#) {
                        let mut chunk = [0u8; 4096];
                        let n = tokio::time::timeout_at(
                            deadline,
                            tokio::io::AsyncReadExt::read(&mut stream, &mut chunk),
                        )
                        .await
                        .expect("an answer")
                        .unwrap();
                        assert!(n > 0, "the server closed a valid connection");
                        buffer.extend_from_slice(&chunk[..n]);
                    }
                }
            }
        }
    };
    check(
        raw_frame(0x81, br#"{"type":"list_topics","id":1}"#, mask),
        None,
    )
    .await;
    // Invalid UTF-8 in a text frame.
    check(raw_frame(0x81, &[b'"', 0xff, 0xfe, b'"'], mask), Some(1007)).await;
    // A reserved data opcode (3) and a reserved control opcode (11).
    check(raw_frame(0x83, b"{}", mask), Some(1002)).await;
    check(raw_frame(0x8b, b"", mask), Some(1002)).await;
    // A client frame without a mask.
    check(
        raw_frame(0x81, br#"{"type":"list_topics","id":1}"#, None),
        Some(1002),
    )
    .await;
}

#[tokio::test]
async fn upgrades_from_other_origins_get_403() {
    let server = start(NoKafka, |c| {
        c.allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let own = format!("http://{}", server.addr);
    let check = |origin: Option<&str>, allowed: bool| {
        let server = &server;
        let origin = origin.map(str::to_owned);
        async move {
            let headers: Vec<(&str, &str)> =
                origin.iter().map(|o| ("origin", o.as_str())).collect();
            match server.connect_to("/ws", &headers).await {
                Ok(_) => assert!(allowed, "origin {origin:?} was let in"),
                Err(tungstenite::Error::Http(response)) => {
                    assert!(!allowed, "origin {origin:?} was refused");
                    assert_eq!(response.status().as_u16(), 403, "origin {origin:?}");
                }
                Err(e) => panic!("origin {origin:?}: {e}"),
            }
        }
    };
    check(Some(&own), true).await;
    check(Some("https://app.example"), true).await;
    check(None, true).await;
    check(Some("https://evil.example"), false).await;
    check(Some("http://127.0.0.1:1"), false).await;
    check(Some("null"), false).await;
    assert_eq!(
        server
            .metric("eventfold_connections_refused_total{reason=\"origin\"}")
            .await
            .as_deref(),
        Some("eventfold_connections_refused_total{reason=\"origin\"} 3")
    );
}

#[tokio::test]
async fn past_max_connections_upgrades_get_503_until_one_leaves() {
    let server = start(NoKafka, |c| c.limits.max_connections = 2).await;
    let first = server.connect_past_hello().await;
    let _second = server.connect_past_hello().await;
    match server.connect_to("/ws", &[]).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 503),
        other => panic!("expected 503, got {other:?}"),
    }
    // The page itself is still served.
    assert_eq!(server.get("/").await.0, 200);
    drop(first);
    // The session ends once the server notices the dropped socket.
    let mut third = None;
    for _ in 0..50 {
        if let Ok(socket) = server.connect_to("/ws", &[]).await {
            third = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut third = third.expect("a place frees up when a client leaves");
    assert_eq!(next(&mut third).await["type"], "hello");
}

#[tokio::test]
async fn without_the_token_a_socket_is_closed_with_1008() {
    let server = start(NoKafka, |c| c.token = Some("s3cret".into())).await;
    let check = |path: &'static str, expected: Result<(), u16>| {
        let server = &server;
        async move {
            let mut socket = server.connect_to(path, &[]).await.unwrap();
            let first = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
            match (first, expected) {
                (Some(Ok(Message::Text(text))), Ok(())) => {
                    assert!(text.as_str().contains("\"hello\""), "{path}: {text}")
                }
                (Some(Ok(Message::Close(Some(frame)))), Err(code)) => {
                    assert_eq!(u16::from(frame.code), code, "{path}");
                    assert_eq!(frame.reason.as_str(), "missing or wrong token");
                }
                (got, want) => panic!("{path}: got {got:?}, want {want:?}"),
            }
        }
    };
    check("/ws", Err(1008)).await;
    check("/ws?token=wrong", Err(1008)).await;
    check("/ws?token=s3cre", Err(1008)).await;
    // A repeated token is refused like a wrong one, whichever copy is right.
    check("/ws?token=s3cret&token=s3cret", Err(1008)).await;
    check("/ws?token=wrong&token=s3cret", Err(1008)).await;
    check("/ws?token=s3cret&token=wrong", Err(1008)).await;
    check("/ws?token=s3cret", Ok(())).await;
    check("/ws?other=1&token=s3cret", Ok(())).await;
    assert_eq!(
        server
            .metric("eventfold_connections_refused_total{reason=\"token\"}")
            .await
            .as_deref(),
        Some("eventfold_connections_refused_total{reason=\"token\"} 6")
    );
}

#[tokio::test]
async fn produce_is_forbidden_unless_allowed() {
    let read_only = start(bank(), |_| {}).await;
    let mut socket = read_only.connect_past_hello().await;
    send(
        &mut socket,
        json!({"type":"produce","id":"p1","topic":"bank","key":"acct-1","value":{"type":"deposit","amount":5}}),
    )
    .await;
    let reply = next(&mut socket).await;
    assert_eq!(
        (&reply["id"], &reply["code"]),
        (&json!("p1"), &json!("forbidden")),
        "{reply}"
    );
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("--allow-produce")
    );

    let writable = start(bank(), |c| {
        c.allow_produce = true;
        c.topics = Some(regex::Regex::new("^bank$").unwrap());
    })
    .await;
    let mut socket = writable.connect().await;
    assert_eq!(next(&mut socket).await["produce"], true);
    let mut check = async |frame: Value, expected: Value| {
        send(&mut socket, frame).await;
        assert_eq!(next(&mut socket).await, expected);
    };
    check(
        json!({"type":"produce","id":"p2","topic":"bank","key":"acct-1","value":{"type":"deposit","amount":5},"headers":{"source":"test"}}),
        json!({"type":"produced","id":"p2","partition":0,"offset":5}),
    )
    .await;
    check(
        json!({"type":"produce","id":"p3","topic":"secret","value":1}),
        json!({"type":"error","id":"p3","code":"unknown_topic","message":"there is no topic \"secret\" on this bridge"}),
    )
    .await;
    check(
        json!({"type":"produce","id":"p4","topic":"bank","value":{"base64":"%%"}}),
        json!({"type":"error","id":"p4","code":"bad_request","message":"bad produce: invalid base64: Invalid symbol 37, offset 0."}),
    )
    .await;
    assert_eq!(
        writable
            .metric("eventfold_produce_acks_total")
            .await
            .as_deref(),
        Some("eventfold_produce_acks_total 1")
    );
}

#[tokio::test]
async fn subscriptions_are_limited_per_connection_and_ids_are_unique() {
    let server = start(bank().with_topic("orders", Vec::new()), |c| {
        c.limits.max_subscriptions = 2;
        c.topics = Some(regex::Regex::new("^(?:bank|orders)$").unwrap());
    })
    .await;
    let mut socket = server.connect_past_hello().await;
    // An empty topic is caught up at once.
    send(&mut socket, subscribe("a", "orders", "latest")).await;
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"caught_up","sub":"a","high":{}})
    );
    let check = async |socket: &mut Socket, frame: Value, code: &str, message: &str| {
        send(socket, frame).await;
        let reply = next(socket).await;
        assert_eq!(reply["code"], code, "{reply}");
        let text = reply["message"].as_str().unwrap();
        assert!(
            text.contains(message),
            "{text:?} should contain {message:?}"
        );
    };
    check(
        &mut socket,
        subscribe("a", "orders", "latest"),
        "bad_request",
        "exists already",
    )
    .await;
    check(
        &mut socket,
        subscribe("b", "secret", "latest"),
        "unknown_topic",
        "no topic \"secret\"",
    )
    .await;
    send(&mut socket, subscribe("b", "orders", "latest")).await;
    assert_eq!(next(&mut socket).await["type"], "caught_up");
    check(
        &mut socket,
        subscribe("c", "orders", "latest"),
        "bad_request",
        "at most 2 subscriptions",
    )
    .await;
    // Unsubscribing frees a place.
    send(&mut socket, json!({"type":"unsubscribe","id":"a"})).await;
    send(&mut socket, subscribe("c", "orders", "latest")).await;
    assert_eq!(next(&mut socket).await["sub"], "c");
}

/// A log ending in transaction markers never delivers its offset `high - 1`: caught_up
/// comes from the backend's word that the partition reached its end.
/// `group_offsets` is answered with the backend's offsets; a bad request, a topic
/// outside `--topics` or a backend error gets an `error` frame with the request's id,
/// and the connection stays usable.
#[tokio::test]
async fn group_offsets_are_relayed_and_refused_as_documented() {
    let mut canned = bank().with_topic("secret", vec![vec![record("secret", 0, 0)]]);
    canned.groups.insert(
        ("billing".into(), "bank".into()),
        BTreeMap::from([(0, 3), (1, 0)]),
    );
    let server = start(canned, |config| {
        config.topics = Some(regex::Regex::new("^bank$").unwrap());
    })
    .await;
    let mut socket = server.connect_past_hello().await;
    let mut check = async |frame: Value, expected: Value| {
        send(&mut socket, frame).await;
        let reply = next(&mut socket).await;
        if expected["type"] == "error" {
            assert_eq!(
                (&reply["type"], &reply["id"], &reply["code"]),
                (&expected["type"], &expected["id"], &expected["code"]),
                "{reply}"
            );
        } else {
            assert_eq!(reply, expected);
        }
    };
    check(
        json!({"type":"group_offsets","id":1,"group":"billing","topic":"bank"}),
        json!({"type":"group_offsets","id":1,"group":"billing","topic":"bank","offsets":{"0":3,"1":0}}),
    )
    .await;
    check(
        json!({"type":"group_offsets","id":"g","group":"new","topic":"bank"}),
        json!({"type":"group_offsets","id":"g","group":"new","topic":"bank","offsets":{}}),
    )
    .await;
    check(
        json!({"type":"group_offsets","id":2,"group":"","topic":"bank"}),
        json!({"type":"error","id":2,"code":"bad_request"}),
    )
    .await;
    check(
        json!({"type":"group_offsets","id":3,"group":"billing","topic":"secret"}),
        json!({"type":"error","id":3,"code":"unknown_topic"}),
    )
    .await;
    check(
        json!({"type":"group_offsets","id":4,"group":"billing"}),
        json!({"type":"error","id":4,"code":"bad_request"}),
    )
    .await;
    check(
        json!({"type":"group_offsets","id":5,"group":"billing","topic":"bank"}),
        json!({"type":"group_offsets","id":5,"group":"billing","topic":"bank","offsets":{"0":3,"1":0}}),
    )
    .await;
}

#[tokio::test]
async fn caught_up_comes_when_the_backend_says_a_partition_ending_in_markers_reached_its_end() {
    let batches = vec![(0..3).map(|o| record("txn", 0, o)).collect()];
    let backend = Canned::default()
        .with_topic("txn", batches)
        .with_markers("txn", 2);
    let server = start(backend, |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, subscribe("t", "txn", "beginning")).await;
    let records = next(&mut socket).await;
    assert_eq!(records["records"].as_array().unwrap().len(), 3);
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"caught_up","sub":"t","high":{"0":5}})
    );
}

#[tokio::test]
async fn a_subscription_relays_records_then_caught_up_then_live_records() {
    let backend = bank();
    let server = start(backend.clone(), |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, subscribe("s1", "bank", "beginning")).await;
    let mut seen: Vec<(i64, i64)> = Vec::new();
    loop {
        let frame = next(&mut socket).await;
        match frame["type"].as_str().unwrap() {
            "records" => {
                assert_eq!(frame["sub"], "s1");
                for r in frame["records"].as_array().unwrap() {
                    seen.push((
                        r["partition"].as_i64().unwrap(),
                        r["offset"].as_i64().unwrap(),
                    ));
                }
            }
            "caught_up" => {
                assert_eq!(
                    frame,
                    json!({"type":"caught_up","sub":"s1","high":{"0":5,"1":2}})
                );
                break;
            }
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    assert_eq!(
        seen,
        [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (0, 3), (0, 4)]
    );

    // A live record after caught_up.
    let (_, live) = backend.live();
    live.send(Ok(Delivery::Records(vec![record("bank", 1, 2)])))
        .await
        .unwrap();
    let frame = next(&mut socket).await;
    assert_eq!(frame["records"][0]["offset"], 2);
    assert_eq!(
        frame["records"][0]["value"],
        json!({"type":"deposit","amount":2})
    );

    // After unsubscribe nothing more comes, and the backend's subscription is dropped.
    send(&mut socket, json!({"type":"unsubscribe","id":"s1"})).await;
    tokio::time::timeout(WAIT, live.closed())
        .await
        .expect("subscription dropped");
    quiet(&mut socket).await;
}

/// A rebuilt subscription (the backend's stall watchdog gave it a fresh consumer) sends
/// the client nothing of its own: the records go on, and /metrics counts the rebuild.
#[tokio::test]
async fn a_rebuild_is_counted_and_invisible_to_the_client() {
    let backend = bank();
    let server = start(backend.clone(), |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, subscribe("s1", "bank", "beginning")).await;
    while next(&mut socket).await["type"] != "caught_up" {}
    assert_eq!(
        server.metric("eventfold_subscription_rebuilds_total").await,
        Some("eventfold_subscription_rebuilds_total 0".into())
    );
    let (_, live) = backend.live();
    live.send(Ok(Delivery::Rebuilt)).await.unwrap();
    live.send(Ok(Delivery::Records(vec![record("bank", 0, 5)])))
        .await
        .unwrap();
    let frame = next(&mut socket).await;
    assert_eq!(
        (&frame["type"], &frame["records"][0]["offset"]),
        (&json!("records"), &json!(5)),
        "{frame}"
    );
    quiet(&mut socket).await;
    assert_eq!(
        server.metric("eventfold_subscription_rebuilds_total").await,
        Some("eventfold_subscription_rebuilds_total 1".into())
    );
}

#[tokio::test]
async fn backend_errors_reach_the_client_with_their_code() {
    let backend = bank();
    let server = start(backend.clone(), |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    // The backend refuses a topic the filter lets through.
    send(&mut socket, subscribe("s9", "gone", "beginning")).await;
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"error","id":"s9","code":"unknown_topic","message":"no such topic"})
    );
    // An error in the middle of a subscription.
    send(&mut socket, subscribe("s1", "bank", "beginning")).await;
    while next(&mut socket).await["type"] != "caught_up" {}
    let (_, live) = backend.live();
    live.send(Err(BackendError::new(
        ErrorCode::OffsetOutOfRange,
        "offset 99 is past 5",
    )))
    .await
    .unwrap();
    assert_eq!(
        next(&mut socket).await,
        json!({"type":"error","id":"s1","code":"offset_out_of_range","message":"offset 99 is past 5"})
    );

    // Without Kafka, every Kafka request says how to get it.
    let server = start(NoKafka, |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, json!({"type":"list_topics","id":1})).await;
    let reply = next(&mut socket).await;
    assert_eq!(reply["code"], "kafka");
    assert!(reply["message"].as_str().unwrap().contains("--brokers"));
}

#[tokio::test]
async fn pause_stops_the_backend_and_the_frames_until_resume() {
    let backend = Canned::default().with_topic("bank", Vec::new());
    let server = start(backend.clone(), |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, subscribe("s1", "bank", "latest")).await;
    assert_eq!(next(&mut socket).await["type"], "caught_up");
    let (mut paused, live) = backend.live();

    send(&mut socket, json!({"type":"pause","sub":"s1"})).await;
    tokio::time::timeout(WAIT, paused.wait_for(|p| *p))
        .await
        .expect("the backend is told to pause")
        .unwrap();
    live.send(Ok(Delivery::Records(vec![record("bank", 0, 0)])))
        .await
        .unwrap();
    quiet(&mut socket).await;

    send(&mut socket, json!({"type":"resume","sub":"s1"})).await;
    let frame = next(&mut socket).await;
    assert_eq!(
        (&frame["type"], &frame["records"][0]["offset"]),
        (&json!("records"), &json!(0))
    );
    assert!(!*paused.borrow(), "the backend is resumed");
}

#[tokio::test]
async fn graceful_shutdown_closes_sockets_with_resume_offsets_and_ends_run() {
    let server = start(bank(), |_| {}).await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, subscribe("s1", "bank", "beginning")).await;
    while next(&mut socket).await["type"] != "caught_up" {}
    let stopping = tokio::spawn(server.stop(Duration::from_secs(10)));
    let mut before = Vec::new();
    let (code, _) = close_code(&mut socket, &mut before).await;
    assert_eq!(code, 1001);
    assert_eq!(
        before,
        [json!({"type":"closing",
                "message":"the bridge is shutting down: subscribe again with these offsets to go on",
                "resume":[{"sub":"s1","topic":"bank","offsets":{"0":5,"1":2}}]})]
    );
    stopping.await.unwrap().expect("run ends cleanly");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_paused_then_closed() {
    // Endless batches of large records, as a busy topic would give.
    let backend = Canned::default().with_topic("bank", Vec::new());
    let server = start(backend.clone(), |c| {
        c.limits.outbound_queue = 2;
        c.limits.slow_client_timeout = Duration::from_millis(500);
    })
    .await;
    let mut socket = server.connect_past_hello().await;
    send(&mut socket, subscribe("s1", "bank", "latest")).await;
    assert_eq!(next(&mut socket).await["type"], "caught_up");
    let (mut paused, live) = backend.live();
    let feeder = tokio::spawn(async move {
        let big = "x".repeat(64 * 1024);
        for offset in 0.. {
            let mut r = record("bank", 0, offset);
            r.value = Some(WireBytes(json!(big)));
            if live.send(Ok(Delivery::Records(vec![r]))).await.is_err() {
                return offset;
            }
        }
        unreachable!()
    });
    // The client reads nothing: once the socket buffers are full the bridge pauses the
    // subscription, and closes the connection after the slow-client limit.
    tokio::time::timeout(Duration::from_secs(20), paused.wait_for(|p| *p))
        .await
        .expect("paused when the client stops reading")
        .unwrap();
    let fed = tokio::time::timeout(Duration::from_secs(20), feeder)
        .await
        .expect("the subscription is dropped when the client is closed")
        .unwrap();
    assert_eq!(
        server
            .metric("eventfold_slow_client_closes_total")
            .await
            .as_deref(),
        Some("eventfold_slow_client_closes_total 1"),
        "after {fed} records"
    );
    // What was written can still be read, and then the connection ends.
    let mut records = 0;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(WAIT, socket.next()).await {
        if let Message::Text(text) = message
            && text.as_str().contains("\"records\"")
        {
            records += 1;
        }
    }
    assert!(records > 0 && records < fed, "read {records} of {fed} fed");
}

/// The whole bridge against the real broker (`scripts/kafka start`; scripts/test starts
/// it, `EVENTFOLD_KAFKA` names another): produce over the WebSocket, then a second
/// client replays the topic, catches up, and sees a live record.
#[tokio::test]
async fn the_bridge_relays_a_real_topic_and_produces_back() {
    use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;

    let broker = std::env::var("EVENTFOLD_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let args = KafkaArgs {
        brokers: Some(broker.clone()),
        ..KafkaArgs::default()
    };
    let client = args.client_config().unwrap();
    let admin: AdminClient<DefaultClientContext> = client.create().unwrap();
    let topic = format!(
        "eventfold-test-serve-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap_or_else(|e| {
            panic!("no Kafka broker at {broker} ({e}): start one with `scripts/kafka start`")
        });
    for result in created {
        result.unwrap();
    }
    let backend = KafkaBackend::new(client, None, true).unwrap();
    let server = start(backend, |c| c.allow_produce = true).await;
    assert_eq!(
        server.get("/healthz").await,
        (200, r#"{"ok":true,"kafka":"reachable"}"#.to_owned())
    );

    let mut writer = server.connect().await;
    assert_eq!(next(&mut writer).await["produce"], true);
    let produce = async |socket: &mut Socket, amount: i64| {
        send(
            socket,
            json!({"type":"produce","id":amount,"topic":topic,"key":"acct-1",
                   "value":{"type":"deposit","amount":amount}}),
        )
        .await;
        // The first produce may wait for the new topic's leader.
        let reply = tokio::time::timeout(Duration::from_secs(30), next(socket))
            .await
            .unwrap();
        assert_eq!(
            reply,
            json!({"type":"produced","id":amount,"partition":0,"offset":amount})
        );
    };
    for amount in 0..3 {
        produce(&mut writer, amount).await;
    }

    let mut reader = server.connect_past_hello().await;
    send(&mut reader, subscribe("s1", &topic, "beginning")).await;
    let mut offsets = Vec::new();
    loop {
        let frame = next(&mut reader).await;
        match frame["type"].as_str().unwrap() {
            "records" => offsets.extend(
                frame["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["offset"].as_i64().unwrap()),
            ),
            "caught_up" => {
                assert_eq!(frame["high"], json!({"0":3}));
                break;
            }
            other => panic!("unexpected {other}: {frame}"),
        }
    }
    assert_eq!(offsets, [0, 1, 2]);
    produce(&mut writer, 3).await;
    let live = next(&mut reader).await;
    assert_eq!(
        (&live["records"][0]["offset"], &live["records"][0]["value"]),
        (&json!(3), &json!({"type":"deposit","amount":3}))
    );
}

/// The command line refuses unsafe or impossible settings before binding anything.
#[test]
fn serve_refuses_to_start_with_a_clear_message() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), PAGE).unwrap();
    let dist = dist.path().to_str().unwrap().to_owned();
    let check = |args: &[&str], message: &str| {
        let output = Command::cargo_bin("eventfold")
            .unwrap()
            .arg("serve")
            .args(args)
            .env_remove("EVENTFOLD_TOKEN")
            .timeout(Duration::from_secs(10))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    };
    check(
        &["--bind", "0.0.0.0:0", "--dist", &dist],
        "refusing to listen on 0.0.0.0:0 without --token",
    );
    check(
        &["--dist", "/nonexistent/dist"],
        "no built page in /nonexistent/dist/: build it first with `trunk build --release`",
    );
    check(
        &["--dist", &dist, "--topics", "ba(nk"],
        "invalid value 'ba(nk' for '--topics <REGEX>'",
    );
    check(
        &["--dist", &dist, "--allowed-origin", "evil.example"],
        "is not an origin like http://host:port",
    );
    check(
        &["--dist", &dist, "--max-subscriptions", "0"],
        "must be at least 1",
    );
    check(&["--dist", &dist, "--token", ""], "--token is empty");
    check(
        &["--dist", &dist, "--token", "  "],
        "--token is empty or blank",
    );
    // Other machines can reach a public address: its token must be long.
    check(
        &["--bind", "0.0.0.0:0", "--dist", &dist, "--token", " "],
        "--token is empty or blank",
    );
    check(
        &["--bind", "0.0.0.0:0", "--dist", &dist, "--token", "s3cret"],
        "the token is too short to listen on 0.0.0.0:0: other machines could guess it. \
         Give one of at least 16 characters (not counting spaces)",
    );
    check(
        &[
            "--bind",
            "0.0.0.0:0",
            "--dist",
            &dist,
            "--token",
            "     15 characters",
        ],
        "the token is too short to listen on 0.0.0.0:0",
    );
    check(
        &["--bind", "8080"],
        "give an address with the port, such as 127.0.0.1:8080",
    );
    check(&["--slow-client-timeout", "0"], "must be at least 1");
    check(
        &[
            "--dist",
            &dist,
            "--brokers",
            "127.0.0.1:9092",
            "-X",
            "plugin.library.paths=/tmp/x.so",
        ],
        "-X plugin.library.paths: it loads shared libraries; this is refused unless --allow-unsafe-client-config is given",
    );
}
