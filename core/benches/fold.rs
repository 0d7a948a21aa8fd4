//! Fold speed, measured against references run in the same process.
//!
//! Run: `cargo bench -p eventfold-core --bench fold`. docs/perf.md records the figures
//! and the ratios between each measurement and its reference.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eventfold_core::builtin::bank::{self, Bank, BankEvent};
use eventfold_core::trace::SNAPSHOT_EVERY;
use eventfold_core::{Envelope, Mode, Trace, fold, ndjson};
use serde_json::json;

const EVENTS: usize = 1_000_000;

/// A deterministic mix of deposits and withdrawals (no randomness needed).
fn typed_events() -> Vec<BankEvent> {
    (0..EVENTS as i64)
        .map(|i| {
            if i % 3 == 1 {
                BankEvent::Withdrawal(i % 97)
            } else {
                BankEvent::Deposit(i % 101)
            }
        })
        .collect()
}

fn ndjson_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    for event in typed_events() {
        let line = match event {
            BankEvent::Deposit(n) => format!("{{\"type\":\"deposit\",\"amount\":{n}}}\n"),
            BankEvent::Withdrawal(n) => format!("{{\"type\":\"withdrawal\",\"amount\":{n}}}\n"),
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn typed_fold(c: &mut Criterion) {
    let events = typed_events();
    let amounts: Vec<i64> = events
        .iter()
        .map(|e| match e {
            BankEvent::Deposit(n) => *n,
            BankEvent::Withdrawal(n) => -n,
        })
        .collect();
    let mut group = c.benchmark_group("typed_fold");
    group.throughput(Throughput::Elements(EVENTS as u64));
    // Reference: summing the same amounts as plain integers, the floor for any fold.
    group.bench_function("reference_sum_i64", |b| {
        b.iter(|| black_box(&amounts).iter().sum::<i64>())
    });
    group.bench_function("bank_fold", |b| b.iter(|| bank::fold(black_box(&events))));
    group.finish();
}

fn ndjson_fold(c: &mut Criterion) {
    let bytes = ndjson_bytes();
    let mut group = c.benchmark_group("ndjson_fold");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(10);
    // Reference: serde_json parsing every line into a JSON tree and nothing else.
    group.bench_function("reference_parse_value", |b| {
        b.iter(|| {
            ndjson::lines(black_box(&bytes))
                .filter(|(_, line)| serde_json::from_slice::<serde_json::Value>(line).is_ok())
                .count()
        })
    });
    group.bench_function("bank_fast_path", |b| {
        b.iter(|| bank::fold_ndjson(black_box(&bytes)))
    });
    group.bench_function("general_fold", |b| {
        b.iter(|| {
            let events = ndjson::parse("bank", black_box(&bytes));
            fold(Arc::new(Bank), Mode::Lenient, &events).view().len()
        })
    });
    group.finish();
}

fn seek(c: &mut Criterion) {
    let events: Vec<Envelope> = typed_events()
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let value = match e {
                BankEvent::Deposit(n) => json!({"type": "deposit", "amount": n}),
                BankEvent::Withdrawal(n) => json!({"type": "withdrawal", "amount": n}),
            };
            Envelope::json("bank", i as i64, value)
        })
        .collect();
    let trace = Trace::new(Arc::new(Bank), Mode::Lenient, events.clone());
    let mut group = c.benchmark_group("seek_1m");
    // The worst case is the row just before a snapshot: K-1 events to replay.
    let worst = |trace: &Trace, k: usize| trace.step_of(k - 1, eventfold_core::Phase::Print);
    for step in [trace.len() / 2, worst(&trace, SNAPSHOT_EVERY)] {
        group.bench_with_input(BenchmarkId::new("step", step), &step, |b, &step| {
            b.iter(|| trace.step(black_box(step)))
        });
    }
    // The same worst case with snapshots twice as far apart, in the same run: the
    // seek's cost is linear in K.
    let sparse =
        Trace::with_snapshot_every(Arc::new(Bank), Mode::Lenient, 2 * SNAPSHOT_EVERY, events);
    let step = worst(&sparse, 2 * SNAPSHOT_EVERY);
    group.bench_with_input(BenchmarkId::new("step_k2x", step), &step, |b, &step| {
        b.iter(|| sparse.step(black_box(step)))
    });
    group.bench_function("view_at_middle", |b| {
        b.iter(|| trace.view_at(black_box(trace.len() / 2 + 4093)))
    });
    group.finish();
}

criterion_group!(benches, typed_fold, ndjson_fold, seek);
criterion_main!(benches);
