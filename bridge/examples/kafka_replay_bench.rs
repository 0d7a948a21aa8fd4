//! Replay throughput of `KafkaBackend::subscribe` against `kcat -C -e` on the same topic,
//! in the same run (docs/perf.md):
//!
//! ```text
//! scripts/kafka start
//! cargo run --release -p eventfold-bridge --example kafka_replay_bench -- 127.0.0.1:9092 1000000
//! ```
//!
//! It fills a fresh one-partition topic with small JSON records, then alternates three
//! timed reads of the whole topic by kcat (`-C -e -o beginning -q`, output to /dev/null)
//! and three by a subscription from the beginning, drained until the high watermark.
//! Then it measures produce → subscriber latency: `LATENCY_SAMPLES` records, one at a
//! time, each produced with `KafkaBackend::produce` (acks=all) and timed until a
//! subscription from `latest` delivers it.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use eventfold_bridge::backend::{Backend, Delivery, ProduceRequest, SubscribeRequest};
use eventfold_bridge::kafka::{KafkaArgs, KafkaBackend};
use eventfold_core::wire::StartFrom;
use rdkafka::ClientConfig;

const ROUNDS: usize = 3;
const LATENCY_SAMPLES: usize = 1000;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let brokers = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let count: i64 = args
        .next()
        .map(|n| n.parse().expect("record count"))
        .unwrap_or(1_000_000);
    let topic = format!("eventfold-bench-{}", std::process::id());

    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &brokers);
    common::create_topic(&config, &topic).await;

    let started = Instant::now();
    let bytes = common::fill(&config, &topic, count as u64);
    println!(
        "produced {count} records ({} bytes of keys and values) to {topic} in {:.1} s",
        bytes,
        started.elapsed().as_secs_f64()
    );

    let args = KafkaArgs {
        brokers: Some(brokers.clone()),
        ..KafkaArgs::default()
    };
    let backend = KafkaBackend::new(args.client_config().unwrap(), None, true).unwrap();
    let mut kcat_times = Vec::new();
    let mut bridge_times = Vec::new();
    for round in 1..=ROUNDS {
        kcat_times.push(common::time_kcat(&brokers, &topic));

        let t = Instant::now();
        let mut subscription = backend
            .subscribe(SubscribeRequest {
                topic: topic.clone(),
                from: StartFrom::Beginning(true),
                partitions: None,
            })
            .await
            .expect("subscribe");
        let high = subscription.high[&0];
        let mut read = 0i64;
        let mut batches = 0;
        'drain: while let Some(batch) = subscription.batches.recv().await {
            let Delivery::Encoded(batch) = batch.expect("batch") else {
                continue;
            };
            batches += 1;
            read += batch.count as i64;
            if batch.last.iter().any(|&(_, last)| last + 1 >= high) {
                break 'drain;
            }
        }
        bridge_times.push(t.elapsed());
        assert_eq!(read, count);
        println!(
            "round {round}: kcat {:.2} s, subscribe {:.2} s in {batches} batches",
            kcat_times[round - 1].as_secs_f64(),
            bridge_times[round - 1].as_secs_f64()
        );
    }
    let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default();
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    let (kcat, bridge) = (best(&kcat_times), best(&bridge_times));
    println!(
        "best of {ROUNDS}: kcat {:.0} records/s, subscribe {:.0} records/s: {:.2}x kcat",
        rate(kcat),
        rate(bridge),
        rate(bridge) / rate(kcat)
    );

    let mut tail = backend
        .subscribe(SubscribeRequest {
            topic: topic.clone(),
            from: StartFrom::Latest(true),
            partitions: None,
        })
        .await
        .expect("subscribe");
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let t = Instant::now();
        let (_, offset) = backend
            .produce(ProduceRequest {
                topic: topic.clone(),
                key: Some(b"acct-1".to_vec()),
                value: Some(format!(r#"{{"type":"deposit","amount":{i}}}"#).into_bytes()),
                headers: Vec::new(),
            })
            .await
            .expect("produce");
        'wait: while let Some(batch) = tail.batches.recv().await {
            let Delivery::Encoded(batch) = batch.expect("batch") else {
                continue;
            };
            if batch.last.iter().any(|&(_, last)| last >= offset) {
                break 'wait;
            }
        }
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "produce -> subscriber over {LATENCY_SAMPLES} records: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0
    );

    common::delete_topic(&config, &topic).await;
}
