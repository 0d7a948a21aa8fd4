//! Helpers shared by the bridge's tests: the real broker from `scripts/kafka`, and a
//! running `eventfold serve` with its clients ([`served`]).

#![allow(dead_code)] // Each test file uses its own subset.

pub mod served;

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

/// How long a test waits for records, a frame or a topic before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// The broker's address, checked once: a test without a broker fails with directions.
pub fn broker() -> &'static str {
    static BROKER: OnceLock<String> = OnceLock::new();
    BROKER.get_or_init(|| {
        let address =
            std::env::var("EVENTFOLD_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
        let admin: AdminClient<DefaultClientContext> = client_config(&address)
            .create()
            .expect("create an admin client");
        if let Err(e) = admin.inner().fetch_metadata(None, Duration::from_secs(10)) {
            panic!(
                "no Kafka broker answers at {address} ({e}): start one with `scripts/kafka start` \
                 (or set EVENTFOLD_KAFKA=HOST:PORT); scripts/test does this itself"
            );
        }
        address
    })
}

pub fn client_config(address: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", address);
    config
}

/// Creates a topic with a unique name starting with `{prefix}-{name}-`.
pub async fn new_topic(prefix: &str, name: &str, partitions: i32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let topic = format!("{prefix}-{name}-{}-{nanos}", std::process::id());
    let admin: AdminClient<DefaultClientContext> =
        client_config(broker()).create().expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(
                &topic,
                partitions,
                TopicReplication::Fixed(1),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create_topics");
    for result in results {
        result.unwrap_or_else(|(t, e)| panic!("cannot create topic {t}: {e}"));
    }
    // The broker answers before every partition has a leader; wait until metadata shows
    // them all with one, so the first produce does not race the creation.
    let deadline = Instant::now() + WAIT;
    loop {
        let metadata = admin
            .inner()
            .fetch_metadata(Some(&topic), Duration::from_secs(5))
            .expect("metadata");
        let ready = metadata.topics().iter().any(|t| {
            t.name() == topic
                && t.partitions().len() == partitions as usize
                && t.partitions().iter().all(|p| p.leader() >= 0)
        });
        if ready {
            return topic;
        }
        assert!(Instant::now() < deadline, "topic {topic} has no leaders");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
