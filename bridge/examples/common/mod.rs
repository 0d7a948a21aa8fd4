//! What both benchmarks do the same way: make a fresh one-partition topic, fill it with
//! small JSON records, and time kcat reading it whole (the reference of each run).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

/// Creates `topic` with one partition on the cluster `config` points at.
pub async fn create_topic(config: &ClientConfig, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = config.create().expect("admin client");
    admin
        .create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create topic")
        .into_iter()
        .for_each(|r| {
            r.expect("topic created");
        });
}

/// Produces `count` small bank events keyed by 100 accounts, waiting out a full queue
/// instead of dropping records; returns the bytes of keys and values written.
pub fn fill(config: &ClientConfig, topic: &str, count: u64) -> usize {
    let producer: ThreadedProducer<DefaultProducerContext> = config
        .clone()
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .create()
        .expect("producer");
    let mut bytes = 0usize;
    for i in 0..count {
        let key = format!("acct-{}", i % 100);
        let value = format!(r#"{{"type":"deposit","amount":{}}}"#, i % 1000);
        bytes += key.len() + value.len();
        let mut record = BaseRecord::to(topic).key(&key).payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    bytes
}

/// How long `kcat -C -e -o beginning -q` takes to read the whole topic, output discarded.
pub fn time_kcat(brokers: &str, topic: &str) -> Duration {
    let t = Instant::now();
    let status = Command::new("kcat")
        .args([
            "-C",
            "-b",
            brokers,
            "-t",
            topic,
            "-e",
            "-o",
            "beginning",
            "-q",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("kcat");
    assert!(status.success());
    t.elapsed()
}

/// Deletes the benchmark's topic again.
pub async fn delete_topic(config: &ClientConfig, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = config.create().expect("admin client");
    admin
        .delete_topics(&[topic], &AdminOptions::new())
        .await
        .expect("delete topic");
}
