//! `eventfold replay --topic` with the options a Kafka user reaches for, against the
//! real broker (EVENTFOLD_KAFKA): partitions, where to stop, a consumer group's
//! offsets, the tail of each partition, one aggregate, and following a topic live
//! until Ctrl-C.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

use common::{broker, client_config, new_topic};

fn producer() -> FutureProducer {
    client_config(broker())
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()
        .expect("producer")
}

/// Deposits of `amounts` to `partition`, keyed `key`.
async fn deposits(topic: &str, partition: i32, key: &str, amounts: &[i64]) {
    let producer = producer();
    for amount in amounts {
        let value = json!({"type": "deposit", "amount": amount}).to_string();
        producer
            .send(
                FutureRecord::to(topic)
                    .partition(partition)
                    .key(key)
                    .payload(&value),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("produce to {topic}: {e}"));
    }
}

fn eventfold() -> Command {
    let mut command = Command::cargo_bin("eventfold").expect("eventfold binary");
    command.env_remove("EVENTFOLD_BROKERS");
    command
}

/// `replay --topic T --projection bank --output json --final-only EXTRA…`: the report.
fn report(topic: &str, extra: &[&str]) -> Value {
    let output = eventfold()
        .args([
            "replay",
            "--brokers",
            broker(),
            "--topic",
            topic,
            "--projection",
            "bank",
        ])
        .args(["--output", "json", "--final-only"])
        .args(extra)
        .output()
        .expect("eventfold runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{extra:?}: {stderr}");
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

/// A topic of two partitions: partition 0 holds acct-0's deposits 1..=5, partition 1
/// acct-1's 10, 20, 30.
async fn two_partitions(name: &str) -> String {
    let topic = new_topic("eventfold-replay", name, 2).await;
    deposits(&topic, 0, "acct-0", &[1, 2, 3, 4, 5]).await;
    deposits(&topic, 1, "acct-1", &[10, 20, 30]).await;
    topic
}

#[tokio::test(flavor = "multi_thread")]
async fn partitions_until_and_tail_pick_the_records_kcat_would() {
    let topic = two_partitions("options").await;
    let check = |extra: &[&str], events: u64, state: Value| {
        let report = report(&topic, extra);
        assert_eq!(report["events"], events, "{extra:?}: {report}");
        assert_eq!(report["state"], state, "{extra:?}");
    };
    check(
        &[],
        8,
        json!({"acct-0": {"balance": 15}, "acct-1": {"balance": 60}}),
    );
    check(
        &["--partitions", "1"],
        3,
        json!({"acct-1": {"balance": 60}}),
    );
    check(
        &["--partitions", "0,1"],
        8,
        json!({"acct-0": {"balance": 15}, "acct-1": {"balance": 60}}),
    );
    // Before offset 2 of partition 0; partition 1 to its high watermark.
    check(
        &["--until", "offsets:0=2"],
        5,
        json!({"acct-0": {"balance": 3}, "acct-1": {"balance": 60}}),
    );
    check(
        &["--until", "offsets:0=2", "--partitions", "0"],
        2,
        json!({"acct-0": {"balance": 3}}),
    );
    check(
        &["--until", "count:4", "--partitions", "0"],
        4,
        json!({"acct-0": {"balance": 10}}),
    );
    check(&["--until", "timestamp:0"], 0, json!({"balance": 0}));
    // The last two records of each partition.
    check(
        &["--from", "tail:2"],
        4,
        json!({"acct-0": {"balance": 9}, "acct-1": {"balance": 50}}),
    );
    check(&["--from", "tail:0"], 0, json!({"balance": 0}));
    check(&["--key", "acct-1"], 3, json!({"acct-1": {"balance": 60}}));
}

#[tokio::test(flavor = "multi_thread")]
async fn from_group_starts_at_the_committed_offsets_and_commits_nothing() {
    let topic = two_partitions("group").await;
    let group = format!("{topic}-readers");
    let consumer: BaseConsumer = client_config(broker())
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset(&topic, 0, Offset::Offset(3))
        .unwrap();
    consumer.commit(&commit, CommitMode::Sync).expect("commit");
    // Partition 0 from offset 3 (4 + 5); partition 1, never committed, from its start.
    let report = report(&topic, &["--from", &format!("group:{group}")]);
    assert_eq!(
        report["state"],
        json!({"acct-0": {"balance": 9}, "acct-1": {"balance": 60}})
    );
    // Read only: the group's offsets did not move.
    let committed = consumer
        .committed_offsets(
            {
                let mut list = TopicPartitionList::new();
                list.add_partition(&topic, 0);
                list
            },
            Duration::from_secs(10),
        )
        .expect("committed offsets");
    assert_eq!(
        committed.find_partition(&topic, 0).unwrap().offset(),
        Offset::Offset(3)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_topic_options_get_one_clear_line() {
    let topic = two_partitions("wrong").await;
    let output = eventfold()
        .args([
            "replay",
            "--brokers",
            broker(),
            "--topic",
            &topic,
            "--projection",
            "bank",
        ])
        .args(["--partitions", "7"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "eventfold replay: cannot read topic {topic:?}: topic {topic:?} has no partition 7 (its partitions: 0, 1)\n"
        )
    );
    let output = eventfold()
        .args([
            "replay",
            "--brokers",
            broker(),
            "--topic",
            &topic,
            "--projection",
            "bank",
        ])
        .args(["--from", "offsets:0=99"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("offset 99 is out of range for partition 0"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_folds_live_records_until_ctrl_c_then_prints_the_final_state() {
    let topic = two_partitions("follow").await;
    let mut child = eventfold()
        .args([
            "replay",
            "--brokers",
            broker(),
            "--topic",
            &topic,
            "--projection",
            "bank",
        ])
        .args(["--follow", "--output", "ndjson", "--partitions", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let Ok(row) = serde_json::from_str(&line) else {
                return;
            };
            if tx.send(row).is_err() {
                return;
            }
        }
    });
    let wait_for = |offset: i64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let row = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no row for offset {offset} within 30 s"));
            if row["offset"] == offset {
                return row;
            }
        }
    };
    // The three records there were, each printed as it is folded…
    assert_eq!(wait_for(2)["state"], json!({"balance": 60}));
    // …then one produced after the high watermark.
    deposits(&topic, 1, "acct-1", &[7]).await;
    assert_eq!(wait_for(3)["state"], json!({"balance": 67}));
    // Ctrl-C: the end object with the final state, and status 0.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let end = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("an end object after Ctrl-C");
    assert_eq!(end["phase"], "end", "{end}");
    assert_eq!(end["state"], json!({"acct-1": {"balance": 67}}));
    assert_eq!(end["events"], 4);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}
