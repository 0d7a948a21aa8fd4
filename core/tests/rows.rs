//! Rows on demand: any window of the process table, computed from the nearest
//! snapshot, equals the same rows of the full table.

use std::sync::Arc;

use eventfold_core::builtin::bank::Bank;
use eventfold_core::{Envelope, Mode, Payload, Trace};
use proptest::prelude::*;
use serde_json::json;

fn log(raw: &[(Option<u8>, u8, i64)]) -> Vec<Envelope> {
    raw.iter()
        .enumerate()
        .map(|(i, (key, kind, amount))| {
            let value = match kind {
                0..=4 => Payload::Json(json!({"type": "deposit", "amount": amount})),
                5..=7 => Payload::Json(json!({"type": "withdrawal", "amount": amount})),
                8 => Payload::Tombstone,
                _ => Payload::decode(Some(b"{not json")),
            };
            let mut envelope = Envelope {
                value,
                ..Envelope::json("bank", i as i64, json!(null))
            }
            .with_partition(i32::from(*kind % 2));
            if let Some(key) = key {
                envelope = envelope.with_key(format!("acct-{key}"));
            }
            envelope
        })
        .collect()
}

proptest! {
    #[test]
    fn a_window_of_rows_equals_those_rows_of_the_whole_table(
        raw in prop::collection::vec((prop::option::of(0u8..4), 0u8..10, -1000i64..1000), 0..80),
        every in 1usize..9,
        from in 0u64..450,
        count in 0u64..60,
        strict in any::<bool>(),
    ) {
        let mode = if strict { Mode::Strict } else { Mode::Lenient };
        let trace = Trace::with_snapshot_every(Arc::new(Bank), mode, every, log(&raw));
        let all: Vec<_> = trace.steps().collect();
        prop_assert_eq!(all.len() as u64, trace.len());
        let window: Vec<_> = trace.steps_in(from..=from + count).collect();
        let expected: Vec<_> = all
            .into_iter()
            .filter(|s| (from..=from + count).contains(&s.step))
            .collect();
        prop_assert_eq!(window, expected);
        prop_assert_eq!(trace.events().to_vec(), log(&raw));
    }
}
