//! Kafka, simulated: partitions and offsets, compaction, consumers that crash and
//! restart, per-key aggregates, and seed 003's values versus deltas.

use std::collections::BTreeMap;
use std::sync::Arc;

use eventfold_core::builtin::bank::Bank;
use eventfold_core::sim::modelling::{OrderDeltas, OrderValues, order_logs};
use eventfold_core::sim::{
    CleanupPolicy, RestartFrom, SimConsumer, SimError, SimTopic, Tombstones, partition_for_key,
};
use eventfold_core::{Envelope, Mode, Payload, Projection, View, fold};
use proptest::prelude::*;
use serde_json::{Value, json};

fn topic(name: &str, partitions: i32, policy: CleanupPolicy) -> SimTopic {
    SimTopic::new(name, partitions, policy).expect("the tests' partition counts are positive")
}

fn bank() -> Arc<dyn Projection> {
    Arc::new(Bank)
}

fn deposit(amount: i64) -> Value {
    json!({"type": "deposit", "amount": amount})
}

fn withdrawal(amount: i64) -> Value {
    json!({"type": "withdrawal", "amount": amount})
}

/// Polls until the consumer has caught up with the topic.
fn drain(consumer: &mut SimConsumer, topic: &SimTopic) -> Vec<Envelope> {
    let mut all = Vec::new();
    loop {
        let batch = consumer.poll(topic, 3).expect("the consumer is running");
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
}

fn balance(view: &View, key: &str) -> Option<i64> {
    view.get(&Some(key.into()))
        .and_then(|state| state.get("balance"))
        .and_then(Value::as_i64)
}

// ---------------------------------------------------------------------------------
// Topics: partitions and offsets

fn check_new(partitions: i32, expected: Result<i32, &str>) {
    let got = SimTopic::new("t", partitions, CleanupPolicy::Delete)
        .map(|t| t.partition_count())
        .map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map_err(str::to_owned),
        "{partitions} partitions"
    );
}

#[test]
fn partition_counts_below_one_are_errors_not_panics() {
    check_new(1, Ok(1));
    check_new(6, Ok(6));
    check_new(1024, Ok(1024));
    check_new(
        1025,
        Err("a simulated topic has at most 1024 partitions, got 1025"),
    );
    check_new(
        i32::MAX,
        Err("a simulated topic has at most 1024 partitions, got 2147483647"),
    );
    check_new(0, Err("a topic needs at least one partition, got 0"));
    check_new(-2, Err("a topic needs at least one partition, got -2"));
    check_new(
        i32::MIN,
        Err("a topic needs at least one partition, got -2147483648"),
    );
}

fn check_produced(partitions: i32, keys: &[Option<&str>], expected: &[(i32, i64)]) {
    let mut t = topic("t", partitions, CleanupPolicy::Delete);
    let got: Vec<(i32, i64)> = keys
        .iter()
        .map(|key| {
            t.produce_json(*key, deposit(1), 0)
                .expect("delete topic takes all")
        })
        .collect();
    assert_eq!(got, expected, "keys {keys:?} on {partitions} partitions");
    for (partition, log) in (0..).zip(t.partitions()) {
        let offsets: Vec<i64> = log.records().iter().map(|r| r.offset).collect();
        let expected: Vec<i64> = (0..log.high_watermark()).collect();
        assert_eq!(
            offsets, expected,
            "partition {partition} counts from 0 without gaps"
        );
        assert!(log.records().iter().all(|r| r.partition == partition));
    }
}

#[test]
fn keys_pick_partitions_and_each_partition_counts_its_own_offsets() {
    // murmur2 on 4 partitions: "21" → 0, "foobar" → 2, "abc" → 3.
    check_produced(
        4,
        &[
            Some("21"),
            Some("foobar"),
            Some("abc"),
            Some("21"),
            Some("abc"),
        ],
        &[(0, 0), (2, 0), (3, 0), (0, 1), (3, 1)],
    );
    // Keyless records go round-robin, each partition counting from 0.
    check_produced(
        3,
        &[None, None, None, None, None],
        &[(0, 0), (1, 0), (2, 0), (0, 1), (1, 1)],
    );
    // Keyed records do not move the round-robin counter.
    check_produced(
        3,
        &[None, Some("21"), None, Some("21"), None],
        &[(0, 0), (0, 1), (1, 0), (0, 2), (2, 0)],
    );
    check_produced(1, &[Some("abc"), None], &[(0, 0), (0, 1)]);
}

#[test]
fn a_compacted_topic_refuses_keyless_records_with_kafkas_reason() {
    let mut users = topic("users", 2, CleanupPolicy::Compact);
    let refused = users.produce_json(None, json!({"name": "ada"}), 0);
    assert_eq!(
        refused.map_err(|e| e.to_string()),
        Err("Compacted topic cannot accept message without key in topic partition users-0".into())
    );
    assert!(users.is_empty(), "a refused record is not appended");
    assert_eq!(users.high_watermark(0), Ok(0));
    assert_eq!(
        users.produce_json(Some("abc"), json!({"name": "ada"}), 0),
        Ok((1, 0)),
        "keyed records are welcome (\"abc\" hashes to partition 1 of 2)"
    );
}

fn check_unknown(result: Result<impl std::fmt::Debug, SimError>, expected: &str) {
    assert_eq!(
        result.map(|_| ()).map_err(|e| e.to_string()),
        Err(expected.to_owned())
    );
}

#[test]
fn unknown_partitions_and_offsets_are_errors() {
    let mut t = topic("bank", 3, CleanupPolicy::Delete);
    check_unknown(
        t.produce_to(3, None, Payload::Json(deposit(1)), 0),
        "topic `bank` has no partition 3 (it has 3)",
    );
    check_unknown(t.records(-1), "topic `bank` has no partition -1 (it has 3)");
    check_unknown(
        t.high_watermark(7),
        "topic `bank` has no partition 7 (it has 3)",
    );
    check_unknown(
        t.delete_records_before(0, 1),
        "offset 1 is out of range for partition bank-0 (log start 0, high watermark 0)",
    );
    let mut other = topic("other", 3, CleanupPolicy::Delete);
    let mut consumer = SimConsumer::new(&other, bank(), Mode::Lenient);
    check_unknown(
        consumer.poll(&t, 1),
        "consumer of topic `other` cannot poll topic `bank`",
    );
    other
        .produce_json(None, deposit(1), 0)
        .expect("delete topic");
    assert_eq!(consumer.poll(&other, 1).map(|b| b.len()), Ok(1));
    t.produce_to(2, None, Payload::Json(deposit(1)), 0)
        .expect("partition 2 exists");
    assert_eq!(t.records(2).map(<[Envelope]>::len), Ok(1));
}

#[test]
fn deleting_records_moves_the_log_start_and_consumers_start_there() {
    let mut t = topic("bank", 1, CleanupPolicy::Delete);
    for amount in [100, 50, 30] {
        t.produce_json(Some("acct"), deposit(amount), 0)
            .expect("delete topic");
    }
    t.delete_records_before(0, 2)
        .expect("offset 2 is below the high watermark");
    assert_eq!(t.log_start_offset(0), Ok(2));
    assert_eq!(t.high_watermark(0), Ok(3), "offsets are never reused");
    let mut consumer = SimConsumer::new(&t, bank(), Mode::Lenient);
    let read = drain(&mut consumer, &t);
    assert_eq!(read.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![2]);
    assert_eq!(balance(consumer.view(), "acct"), Some(30));
    check_unknown(
        t.delete_records_before(0, 1),
        "offset 1 is out of range for partition bank-0 (log start 2, high watermark 3)",
    );
}

// ---------------------------------------------------------------------------------
// Compaction

/// A one-partition log of profile updates with a tombstone for `bob`.
fn profiles() -> SimTopic {
    let mut t = topic("profiles", 1, CleanupPolicy::Compact);
    let writes = [
        ("ada", json!({"city": "London"})),
        ("bob", json!({"city": "Paris"})),
        ("ada", json!({"city": "Cambridge"})),
        ("cy", json!({"city": "Rome"})),
        ("bob", Value::Null),
        ("cy", json!({"city": "Oslo"})),
    ];
    for (key, value) in writes {
        t.produce_json(Some(key), value, 0).expect("keyed records");
    }
    t
}

fn check_compaction(tombstones: Tombstones, expected: &[(i64, &str, Value)]) {
    let full = profiles();
    let compacted = full.compacted(tombstones);
    let got: Vec<(i64, String, Value)> = compacted
        .records(0)
        .expect("partition 0")
        .iter()
        .map(|r| {
            let value = match &r.value {
                Payload::Json(v) => v.clone(),
                _ => Value::Null,
            };
            (r.offset, r.key_text().unwrap_or_default(), value)
        })
        .collect();
    let expected: Vec<(i64, String, Value)> = expected
        .iter()
        .map(|(o, k, v)| (*o, (*k).to_owned(), v.clone()))
        .collect();
    assert_eq!(got, expected, "{tombstones:?}");
    assert_eq!(full.len(), 6, "compacted() leaves the original alone");
    assert_eq!(compacted.high_watermark(0), Ok(6));
    assert_eq!(compacted.log_start_offset(0), Ok(0));
}

#[test]
fn compaction_keeps_the_last_record_per_key_at_its_offset() {
    check_compaction(
        Tombstones::Keep,
        &[
            (2, "ada", json!({"city": "Cambridge"})),
            (4, "bob", Value::Null),
            (5, "cy", json!({"city": "Oslo"})),
        ],
    );
    check_compaction(
        Tombstones::Remove,
        &[
            (2, "ada", json!({"city": "Cambridge"})),
            (5, "cy", json!({"city": "Oslo"})),
        ],
    );
}

#[test]
fn the_compacted_log_folds_to_the_same_latest_values() {
    let full = profiles();
    let latest = Arc::new(OrderValues);
    let before = fold(latest.clone(), Mode::Strict, &full.interleaved());
    for tombstones in [Tombstones::Keep, Tombstones::Remove] {
        let after = fold(
            latest.clone(),
            Mode::Strict,
            &full.compacted(tombstones).interleaved(),
        );
        assert_eq!(after.view(), before.view(), "{tombstones:?}");
    }
    assert_eq!(before.view().len(), 2, "bob was deleted by his tombstone");
}

#[test]
fn producing_after_compaction_continues_at_the_high_watermark() {
    let mut t = profiles();
    t.compact(Tombstones::Keep);
    assert_eq!(
        t.produce_json(Some("dee"), json!({"city": "Lima"}), 0),
        Ok((0, 6))
    );
    let offsets: Vec<i64> = t
        .records(0)
        .expect("partition 0")
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(
        offsets,
        vec![2, 4, 5, 6],
        "gaps stay, offsets keep increasing"
    );
}

#[test]
fn compacting_drops_keyless_records_like_the_cleaner() {
    let mut t = topic("t", 1, CleanupPolicy::Delete);
    t.produce_json(None, deposit(1), 0).expect("delete topic");
    t.produce_json(Some("k"), deposit(2), 0)
        .expect("delete topic");
    let compacted = t.compacted(Tombstones::Keep);
    let keys: Vec<Option<String>> = compacted
        .interleaved()
        .iter()
        .map(Envelope::key_text)
        .collect();
    assert_eq!(keys, vec![Some("k".to_owned())]);
}

#[test]
fn a_consumer_skips_the_gaps_compaction_leaves() {
    let t = profiles().compacted(Tombstones::Keep);
    let mut consumer = SimConsumer::new(&t, Arc::new(OrderValues), Mode::Lenient);
    let first = consumer.poll(&t, 1).expect("running");
    assert_eq!(first[0].offset, 2);
    assert_eq!(consumer.position(0), Some(3));
    assert_eq!(consumer.lag(&t), Ok(3), "lag counts offsets, gaps included");
    let rest = drain(&mut consumer, &t);
    assert_eq!(
        rest.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(consumer.lag(&t), Ok(0));
}

// ---------------------------------------------------------------------------------
// Consumption order

fn check_interleaved(batch: usize) {
    let mut t = topic("bank", 3, CleanupPolicy::Delete);
    for (i, key) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
        t.produce_json(Some(key), deposit(i as i64 + 1), 0)
            .expect("delete topic");
    }
    let order = t.interleaved();
    // Round-robin: partition 0, 1, 2, 0, 1, 2, … skipping partitions that ran out.
    let lengths: Vec<usize> = t.partitions().iter().map(|p| p.records().len()).collect();
    let mut expected = Vec::new();
    for index in 0..8 {
        for (partition, len) in (0i32..).zip(&lengths) {
            if index < *len {
                expected.push((partition, index as i64));
            }
        }
    }
    let got: Vec<(i32, i64)> = order.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(got, expected);
    let mut consumer = SimConsumer::new(&t, bank(), Mode::Lenient);
    let mut polled = Vec::new();
    loop {
        let next = consumer.poll(&t, batch).expect("running");
        if next.is_empty() {
            break;
        }
        assert!(next.len() <= batch, "poll returns at most max records");
        polled.extend(next);
    }
    assert_eq!(
        polled, order,
        "polling {batch} at a time reads the interleaved order"
    );
}

#[test]
fn polling_in_any_batch_size_reads_the_interleaved_order() {
    check_interleaved(1);
    check_interleaved(2);
    check_interleaved(5);
    check_interleaved(100);
}

// ---------------------------------------------------------------------------------
// Crashes and restarts

/// Account `acct-1`: deposit 100, deposit 50, withdraw 30 (the right balance: 120).
/// The consumer reads the first deposit and commits, reads the second deposit and
/// crashes before committing it, then restarts and reads to the end.
fn check_restart(from: RestartFrom, expected_balance: i64, expected_redelivered: i64) {
    let mut t = topic("bank", 3, CleanupPolicy::Delete);
    for event in [deposit(100), deposit(50), withdrawal(30)] {
        t.produce_json(Some("acct-1"), event, 0)
            .expect("delete topic");
    }
    let partition = partition_for_key(b"acct-1", 3).expect("3 partitions");
    let mut consumer = SimConsumer::new(&t, bank(), Mode::Lenient);
    assert_eq!(consumer.poll(&t, 1).expect("running")[0].offset, 0);
    consumer.commit().expect("running");
    assert_eq!(consumer.poll(&t, 1).expect("running")[0].offset, 1);
    assert_eq!(balance(consumer.view(), "acct-1"), Some(150));
    consumer.crash();
    assert!(consumer.view().is_empty(), "in-memory state is lost");
    assert_eq!(consumer.position(partition), None, "positions are lost");
    assert_eq!(
        consumer.committed(partition),
        Some(1),
        "committed offsets survive"
    );
    assert_eq!(
        balance(consumer.checkpoint(), "acct-1"),
        Some(100),
        "so does the checkpoint"
    );
    assert_eq!(
        consumer.poll(&t, 1).map_err(|e| e.to_string()),
        Err("the consumer has crashed: restart it before polling".into())
    );
    consumer.restart(from);
    drain(&mut consumer, &t);
    assert_eq!(
        (balance(consumer.view(), "acct-1"), consumer.redelivered()),
        (Some(expected_balance), expected_redelivered),
        "{from:?}: balance and redeliveries"
    );
    assert_eq!(consumer.delivered(), 3 + expected_redelivered);
}

#[test]
fn restarts_from_the_checkpoint_or_the_beginning_are_right_the_shortcuts_are_not() {
    // Checkpoint (100) + deposit 50 read again + withdrawal 30.
    check_restart(RestartFrom::Committed, 120, 1);
    // Everything again from offset 0.
    check_restart(RestartFrom::Beginning, 120, 2);
    // Empty state + 50 − 30: the first deposit is never applied again.
    check_restart(RestartFrom::CommittedWithoutState, 20, 1);
    // State written per event (150) + the redelivered 50 + (−30): a double deposit.
    check_restart(RestartFrom::CommittedWithExternalState, 170, 1);
}

#[test]
fn a_crash_between_poll_and_commit_delivers_the_deposit_twice() {
    let mut t = topic("bank", 1, CleanupPolicy::Delete);
    for event in [deposit(100), deposit(50), deposit(25)] {
        t.produce_json(Some("acct-1"), event, 0)
            .expect("delete topic");
    }
    let mut consumer = SimConsumer::new(&t, bank(), Mode::Lenient);
    let mut seen = consumer.poll(&t, 2).expect("running");
    consumer.commit().expect("running");
    seen.extend(consumer.poll(&t, 1).expect("running"));
    consumer.crash();
    consumer.restart(RestartFrom::CommittedWithExternalState);
    seen.extend(drain(&mut consumer, &t));
    let mut deliveries: BTreeMap<i64, i32> = BTreeMap::new();
    for record in &seen {
        *deliveries.entry(record.offset).or_default() += 1;
    }
    assert_eq!(
        deliveries,
        BTreeMap::from([(0, 1), (1, 1), (2, 2)]),
        "the deposit of 25 read before the crash is delivered again"
    );
    assert_eq!(consumer.redelivered(), 1);
    assert_eq!(
        balance(consumer.view(), "acct-1"),
        Some(200),
        "100 + 50 + 25 + 25"
    );
}

#[test]
fn restarting_a_running_consumer_crashes_it_first_and_commit_needs_a_running_one() {
    let mut t = topic("bank", 2, CleanupPolicy::Delete);
    t.produce_json(Some("acct-1"), deposit(10), 0)
        .expect("delete topic");
    let mut consumer = SimConsumer::new(&t, bank(), Mode::Lenient);
    drain(&mut consumer, &t);
    consumer.restart(RestartFrom::CommittedWithoutState);
    assert!(!consumer.is_crashed());
    assert!(
        consumer.view().is_empty(),
        "nothing was committed, nothing restored"
    );
    consumer.crash();
    assert_eq!(consumer.commit(), Err(SimError::Crashed));
    consumer.restart(RestartFrom::Committed);
    drain(&mut consumer, &t);
    assert_eq!(balance(consumer.view(), "acct-1"), Some(10));
}

/// One step of a consumer's life before the crash: poll this many, maybe commit.
type Steps = Vec<(usize, bool)>;

fn uninterrupted(t: &SimTopic) -> View {
    let mut consumer = SimConsumer::new(t, bank(), Mode::Lenient);
    drain(&mut consumer, t);
    consumer.view().clone()
}

fn bank_events() -> impl Strategy<Value = Vec<(u8, bool, i64)>> {
    prop::collection::vec((0u8..6, any::<bool>(), 1i64..1000), 0..40)
}

proptest! {
    #[test]
    fn restarts_from_committed_or_beginning_reach_the_uninterrupted_view(
        events in bank_events(),
        partitions in 1i32..5,
        produced_before_crash in 0usize..40,
        steps in prop::collection::vec((0usize..6, any::<bool>()), 0..10),
    ) {
        let steps: Steps = steps;
        let mut t = topic("bank", partitions, CleanupPolicy::Delete);
        let produce = |t: &mut SimTopic, slice: &[(u8, bool, i64)]| {
            for (key, is_deposit, amount) in slice {
                let value = if *is_deposit { deposit(*amount) } else { withdrawal(*amount) };
                t.produce_json(Some(&format!("acct-{key}")), value, 0).expect("delete topic");
            }
        };
        let split = produced_before_crash.min(events.len());
        produce(&mut t, &events[..split]);
        let mut before_crash = SimConsumer::new(&t, bank(), Mode::Lenient);
        for (batch, commit) in &steps {
            before_crash.poll(&t, *batch).expect("running");
            if *commit {
                before_crash.commit().expect("running");
            }
        }
        before_crash.crash();
        produce(&mut t, &events[split..]);

        let expected = uninterrupted(&t);
        let folded = fold(bank(), Mode::Lenient, &t.interleaved());
        prop_assert_eq!(&expected, folded.view());
        for from in [RestartFrom::Committed, RestartFrom::Beginning] {
            let mut consumer = before_crash.clone();
            consumer.restart(from);
            drain(&mut consumer, &t);
            prop_assert_eq!(consumer.view(), &expected, "{:?}", from);
            prop_assert!(consumer.delivered() >= t.len() as i64);
        }
    }
}

// ---------------------------------------------------------------------------------
// Per-key aggregates

#[test]
fn every_key_stays_in_one_partition_in_order_and_folds_to_one_state() {
    let keys = ["acct-1", "acct-2", "acct-3", "acct-4", "acct-5"];
    let mut t = topic("bank", 3, CleanupPolicy::Delete);
    let mut produced: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for i in 0..30i64 {
        let key = keys[(i * 7 % 5) as usize];
        t.produce_json(Some(key), deposit(i + 1), 1_000 + i)
            .expect("delete topic");
        produced.entry(key).or_default().push(i + 1);
    }
    let mut partitions_used = std::collections::BTreeSet::new();
    for key in keys {
        let expected_partition = partition_for_key(key.as_bytes(), 3).expect("3 partitions");
        let mut amounts = Vec::new();
        for (partition, log) in (0..).zip(t.partitions()) {
            for record in log.records() {
                if record.key_text().as_deref() == Some(key) {
                    assert_eq!(
                        partition, expected_partition,
                        "{key} stays in one partition"
                    );
                    amounts.push(record.value.json().and_then(|v| v["amount"].as_i64()));
                }
            }
        }
        let expected: Vec<Option<i64>> = produced[key].iter().map(|a| Some(*a)).collect();
        assert_eq!(
            amounts, expected,
            "{key}'s events in the order they were produced"
        );
        partitions_used.insert(expected_partition);
    }
    assert!(partitions_used.len() > 1, "the keys spread over partitions");
    let mut consumer = SimConsumer::new(&t, bank(), Mode::Strict);
    drain(&mut consumer, &t);
    assert_eq!(consumer.view().len(), keys.len(), "one state per key");
    for key in keys {
        let total: i64 = produced[key].iter().sum();
        assert_eq!(balance(consumer.view(), key), Some(total), "{key}");
    }
}

// ---------------------------------------------------------------------------------
// Seed 003: values versus deltas

fn final_orders() -> Value {
    json!({
        "o-1": {"orderId": "o-1", "customer": "ada", "amount": 5, "status": "cancelled"},
        "o-2": {"orderId": "o-2", "customer": "grace", "amount": 25, "status": "placed"},
    })
}

fn check_modelling(partitions: i32) {
    let logs = order_logs(partitions).expect("positive partition count");
    let values: Arc<dyn Projection> = Arc::new(OrderValues);
    let deltas: Arc<dyn Projection> = Arc::new(OrderDeltas);
    assert_eq!(logs.values.len(), 5);
    assert_eq!(logs.deltas.len(), 5);

    let full_values = fold(values.clone(), Mode::Strict, &logs.values.interleaved());
    let full_deltas = fold(deltas.clone(), Mode::Strict, &logs.deltas.interleaved());
    assert_eq!(
        full_values.view().to_json(&*values),
        final_orders(),
        "{partitions}p values"
    );
    assert_eq!(
        full_deltas.view().to_json(&*deltas),
        final_orders(),
        "{partitions}p deltas"
    );

    let compacted_values = logs.values.compacted(Tombstones::Keep);
    let compacted_deltas = logs.deltas.compacted(Tombstones::Keep);
    assert_eq!(compacted_values.len(), 2, "one whole order per key");
    assert_eq!(compacted_deltas.len(), 2, "one change per key");
    let values_after = fold(
        values.clone(),
        Mode::Lenient,
        &compacted_values.interleaved(),
    );
    assert_eq!(values_after.view().to_json(&*values), final_orders());
    assert!(values_after.errors().is_empty());

    let deltas_after = fold(
        deltas.clone(),
        Mode::Lenient,
        &compacted_deltas.interleaved(),
    );
    assert_ne!(deltas_after.view().to_json(&*deltas), final_orders());
    assert!(
        deltas_after.view().is_empty(),
        "both orders lost their OrderPlaced"
    );
    let mut errors: Vec<String> = deltas_after
        .errors()
        .iter()
        .map(|e| e.error.to_string())
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            "rule AmountUpdated: order o-2 has no OrderPlaced before it, so there is nothing to change",
            "rule OrderCancelled: order o-1 has no OrderPlaced before it, so there is nothing to change",
        ]
    );
}

#[test]
fn values_survive_compaction_deltas_do_not() {
    check_modelling(1);
    check_modelling(3);
}

#[test]
fn the_order_logs_keep_offsets_through_compaction_and_refuse_bad_counts() {
    let logs = order_logs(1).expect("one partition");
    let offsets: Vec<i64> = logs
        .values
        .compacted(Tombstones::Keep)
        .interleaved()
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, vec![3, 4], "o-1's last value at 3, o-2's at 4");
    assert_eq!(
        order_logs(0).map(|_| ()),
        Err(SimError::BadPartitionCount(0))
    );
}

fn check_delta(state: Value, event: Value, expected: Result<Value, &str>) {
    let envelope = Envelope::json("order-deltas", 0, event).with_key("o-9");
    let mut got = state;
    let result = OrderDeltas.apply(&mut got, &envelope).map(|()| got);
    assert_eq!(
        result.map_err(|e| e.to_string()),
        expected.map_err(str::to_owned)
    );
}

#[test]
fn deltas_apply_to_a_placed_order_and_name_what_is_wrong() {
    let placed = json!({"orderId": "o-9", "customer": "bo", "amount": 7, "status": "placed"});
    check_delta(
        json!({}),
        json!({"type": "OrderPlaced", "orderId": "o-9", "customer": "bo", "amount": 7}),
        Ok(placed.clone()),
    );
    check_delta(
        placed.clone(),
        json!({"type": "AmountUpdated", "amount": 3}),
        Ok(json!({"orderId": "o-9", "customer": "bo", "amount": 3, "status": "placed"})),
    );
    check_delta(
        placed.clone(),
        json!({"type": "OrderCancelled"}),
        Ok(json!({"orderId": "o-9", "customer": "bo", "amount": 7, "status": "cancelled"})),
    );
    check_delta(
        placed.clone(),
        json!({"type": "AmountUpdated", "amount": "five"}),
        Err("field `amount` must be an integer, got \"five\""),
    );
    check_delta(
        placed,
        json!({"type": "OrderShipped"}),
        Err(
            "unknown event type \"OrderShipped\" in field `type` (expected \"OrderPlaced\", \"AmountUpdated\" or \"OrderCancelled\")",
        ),
    );
    check_delta(
        json!({}),
        json!({"type": "OrderCancelled"}),
        Err(
            "rule OrderCancelled: order o-9 has no OrderPlaced before it, so there is nothing to change",
        ),
    );
}
