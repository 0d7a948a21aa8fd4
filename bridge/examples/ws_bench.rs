//! The bridge measured from a WebSocket client (docs/perf.md): replay throughput against
//! `kcat -C -e` on the same topic in the same run, produce → client latency, and the
//! bridge's memory with many tailing clients.
//!
//! ```text
//! scripts/kafka start
//! cargo build --release -p eventfold-bridge --bin eventfold --example ws_bench
//! target/release/examples/ws_bench 127.0.0.1:9092 1000000 1000
//! ```
//!
//! Arguments: brokers, records, tailing clients. It starts `eventfold serve --brokers …`
//! (the binary next to this example, or `EVENTFOLD_BIN`) on a free loopback port, fills a
//! fresh one-partition topic with small JSON records, then:
//!
//! 1. alternates `ROUNDS` timed reads of the whole topic by kcat (`-C -e -o beginning
//!    -q`, output to /dev/null) and by one WebSocket client subscribed from the
//!    beginning, until its `caught_up` (the client counts the records of each frame
//!    without building a JSON tree, as kcat only copies bytes);
//! 2. produces `LATENCY_SAMPLES` records one at a time (acks=all) and times each from the
//!    send until a client subscribed from `latest` has it;
//! 3. opens the tailing clients, each subscribed from `latest`, waits for every
//!    `caught_up`, and reads the bridge's VmRSS and thread count from /proc.

#[path = "common/mod.rs"]
mod common;

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROUNDS: usize = 3;
const LATENCY_SAMPLES: usize = 1000;

/// The bridge process; killed when dropped.
struct Bridge(Child);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` (MiB) and `Threads` of a process.
fn rss_and_threads(pid: u32) -> (f64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:") as f64 / 1024.0, field("Threads:"))
}

async fn connect(addr: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connect to the bridge");
    let hello = text(&mut socket).await;
    assert!(hello.starts_with(r#"{"type":"hello""#), "{hello}");
    socket
}

async fn text(socket: &mut Socket) -> String {
    loop {
        match socket.next().await.expect("open").expect("frame") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn subscribe(socket: &mut Socket, topic: &str, from: &str) {
    let frame =
        format!(r#"{{"type":"subscribe","id":"s","topic":"{topic}","from":{{"{from}":true}}}}"#);
    socket.send(Message::text(frame)).await.expect("subscribe");
}

/// Records in a `records` frame: one `"offset":` per record (keys and values are JSON
/// strings or objects of the bench's own making, without that text).
fn count_records(frame: &str) -> usize {
    if frame.starts_with(r#"{"type":"records""#) {
        frame.matches(r#""offset":"#).count()
    } else {
        0
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let brokers = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let count: usize = args
        .next()
        .map(|n| n.parse().expect("record count"))
        .unwrap_or(1_000_000);
    let tails: usize = args
        .next()
        .map(|n| n.parse().expect("tailing clients"))
        .unwrap_or(1000);
    let topic = format!("eventfold-ws-bench-{}", std::process::id());

    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &brokers);
    common::create_topic(&config, &topic).await;

    common::fill(&config, &topic, count as u64);
    println!("produced {count} records to {topic}");

    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let bin = std::env::var("EVENTFOLD_BIN").unwrap_or_else(|_| {
        let exe = std::env::current_exe().expect("current exe");
        let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
        dir.join("eventfold").to_string_lossy().into_owned()
    });
    let dist = tempfile_dir();
    let bridge = Bridge(
        Command::new(&bin)
            .args([
                "serve",
                "--brokers",
                &brokers,
                "--bind",
                &addr,
                "--dist",
                &dist,
            ])
            .args(["--max-connections", &(tails + 10).to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}")),
    );
    let pid = bridge.0.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&addr).await.is_err() {
        assert!(Instant::now() < deadline, "the bridge did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut kcat_times = Vec::new();
    let mut ws_times = Vec::new();
    for round in 1..=ROUNDS {
        kcat_times.push(common::time_kcat(&brokers, &topic));

        let t = Instant::now();
        let mut socket = connect(&addr).await;
        subscribe(&mut socket, &topic, "beginning").await;
        let (mut read, mut frames) = (0usize, 0usize);
        loop {
            let frame = text(&mut socket).await;
            if frame.starts_with(r#"{"type":"caught_up""#) {
                break;
            }
            assert!(frame.starts_with(r#"{"type":"records""#), "{frame}");
            read += count_records(&frame);
            frames += 1;
        }
        ws_times.push(t.elapsed());
        assert_eq!(read, count);
        let _ = socket.close(None).await;
        println!(
            "round {round}: kcat {:.2} s, WebSocket {:.2} s in {frames} frames",
            kcat_times[round - 1].as_secs_f64(),
            ws_times[round - 1].as_secs_f64()
        );
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default();
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    let (kcat, ws) = (best(&kcat_times), best(&ws_times));
    println!(
        "best of {ROUNDS}: kcat {:.0} records/s, WebSocket {:.0} records/s: {:.2}x kcat",
        rate(kcat),
        rate(ws),
        rate(ws) / rate(kcat)
    );

    // Latency: one record at a time, from the send until the client has it.
    let mut tail = connect(&addr).await;
    subscribe(&mut tail, &topic, "latest").await;
    assert!(text(&mut tail).await.starts_with(r#"{"type":"caught_up""#));
    let producer: FutureProducer = config
        .clone()
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let value = format!(r#"{{"type":"latency","n":{i}}}"#);
        let needle = format!(r#""n":{i}}}"#);
        let t = Instant::now();
        let send = producer.send(
            FutureRecord::to(&topic).key("acct-1").payload(&value),
            Duration::from_secs(10),
        );
        let receive = async {
            loop {
                if text(&mut tail).await.contains(&needle) {
                    return t.elapsed();
                }
            }
        };
        let (sent, latency) = tokio::join!(send, receive);
        sent.map_err(|(e, _)| e).expect("produce");
        latencies.push(latency);
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "produce -> WebSocket client over {LATENCY_SAMPLES} records: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0
    );
    drop(tail);

    // Tailing clients.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, threads) = rss_and_threads(pid);
    println!("bridge before the tailing clients: {rss:.1} MiB, {threads} threads");
    let mut sockets = Vec::with_capacity(tails);
    let t = Instant::now();
    for _ in 0..tails {
        let mut socket = connect(&addr).await;
        subscribe(&mut socket, &topic, "latest").await;
        sockets.push(socket);
    }
    for socket in &mut sockets {
        let frame = text(socket).await;
        assert!(frame.starts_with(r#"{"type":"caught_up""#), "{frame}");
    }
    println!(
        "{tails} tailing clients subscribed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (rss, threads) = rss_and_threads(pid);
    println!("bridge with {tails} tailing clients: {rss:.1} MiB, {threads} threads");

    drop(sockets);
    drop(bridge);
    common::delete_topic(&config, &topic).await;
}

/// An empty page directory for the bridge (it serves no page in this bench).
fn tempfile_dir() -> String {
    let dir = std::env::temp_dir().join(format!("eventfold-ws-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("page dir");
    std::fs::write(dir.join("index.html"), "<!DOCTYPE html>").expect("index.html");
    dir.to_string_lossy().into_owned()
}
