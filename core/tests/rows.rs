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

/// The state a row's aggregate had one row earlier, the slow way: the whole view at
/// the row before, from core's time travel (what `Frame::at` did with two seeks).
fn previous_state(trace: &Trace, row: &eventfold_core::Step) -> serde_json::Value {
    if row.step <= 1 {
        return row.state.clone();
    }
    let view = trace.view_at(row.step - 1);
    if row.phase == eventfold_core::Phase::End {
        return view.to_json(&**trace.projection());
    }
    view.get(&row.aggregate)
        .cloned()
        .unwrap_or_else(|| trace.projection().initial())
}

proptest! {
    #[test]
    fn a_frame_from_one_seek_shows_what_time_travel_shows(
        raw in prop::collection::vec((prop::option::of(0u8..4), 0u8..10, -1000i64..1000), 0..40),
        every in 1usize..9,
        step in 1u64..220,
        strict in any::<bool>(),
    ) {
        let mode = if strict { Mode::Strict } else { Mode::Lenient };
        let trace = Trace::with_snapshot_every(Arc::new(Bank), mode, every, log(&raw));
        let frame = eventfold_core::lesson::Frame::at(&trace, step);
        let row = trace.step(step.min(trace.len())).unwrap();
        prop_assert_eq!(&frame.step, &row);
        let changes = eventfold_core::diff::changes(&previous_state(&trace, &row), &row.state);
        prop_assert_eq!(frame.changes, changes);
        for column in frame.tracker.iter().filter(|c| c.step > 0) {
            let at = trace.step(column.step).unwrap();
            prop_assert_eq!(&column.state, &eventfold_core::display::js(&at.state));
            prop_assert_eq!(&column.topic, &trace.topic_text(at.topic_len));
        }
    }
}
