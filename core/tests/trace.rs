//! Time travel and the fold's laws, checked on random logs.

use std::sync::Arc;

use eventfold_core::builtin::{self, bank::Bank};
use eventfold_core::{
    Cursor, Envelope, Folder, Mode, Outcome, Payload, Phase, Projection, Trace, View, ndjson,
};
use proptest::prelude::*;
use serde_json::json;

/// A random bank event: mostly good, sometimes keyed, sometimes bad in one of the ways
/// a real topic can be.
fn event() -> impl Strategy<Value = (Option<u8>, u8, i64)> {
    (prop::option::of(0u8..4), 0u8..10, -1000i64..1000)
}

fn log(raw: &[(Option<u8>, u8, i64)]) -> Vec<Envelope> {
    raw.iter()
        .enumerate()
        .map(|(i, (key, kind, amount))| {
            let value = match kind {
                0..=4 => Payload::Json(json!({"type": "deposit", "amount": amount})),
                5..=7 => Payload::Json(json!({"type": "withdrawal", "amount": amount})),
                8 => Payload::Json(json!({"type": "refund", "amount": amount})),
                _ => Payload::decode(Some(b"{not json")),
            };
            let mut envelope = Envelope {
                value,
                ..Envelope::json("bank", i as i64, json!(null))
            }
            .with_timestamp(1000 + 10 * i as i64);
            if let Some(key) = key {
                envelope = envelope.with_key(format!("acct-{key}"));
            }
            envelope
        })
        .collect()
}

fn bank() -> Arc<dyn Projection> {
    Arc::new(Bank)
}

fn full_fold(events: &[Envelope]) -> View {
    eventfold_core::fold(bank(), Mode::Lenient, events)
        .view()
        .clone()
}

proptest! {
    #[test]
    fn the_fold_is_deterministic(raw in prop::collection::vec(event(), 0..60)) {
        let events = log(&raw);
        prop_assert_eq!(full_fold(&events), full_fold(&events));
    }

    #[test]
    fn snapshot_plus_tail_equals_full_replay(
        raw in prop::collection::vec(event(), 1..120),
        every in 1usize..9,
        seek in any::<prop::sample::Index>(),
    ) {
        let events = log(&raw);
        let trace = Trace::with_snapshot_every(bank(), Mode::Lenient, every, events.clone());
        let step = seek.index(trace.len() as usize) as u64 + 1;
        let row = trace.step(step).unwrap();
        let prefix = match row.phase {
            Phase::Command | Phase::Produce | Phase::Consume => row.event_index.unwrap(),
            Phase::Apply | Phase::Print => row.event_index.unwrap() + 1,
            Phase::End => events.len(),
        };
        prop_assert_eq!(trace.view_at(step), full_fold(&events[..prefix]));
        // Random access and the sequential walk agree on every field.
        prop_assert_eq!(Some(row), trace.steps().nth(step as usize - 1));
    }

    #[test]
    fn folding_in_chunks_equals_folding_at_once(
        raw in prop::collection::vec(event(), 0..80),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        every in 1usize..6,
    ) {
        let events = log(&raw);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        cuts.sort();
        let mut folder = Folder::new(bank(), Mode::Lenient);
        let mut trace = Trace::with_snapshot_every(bank(), Mode::Lenient, every, Vec::new());
        let mut start = 0;
        for cut in cuts.into_iter().chain([events.len()]) {
            folder.extend(&events[start..cut]);
            trace.extend(events[start..cut].iter().cloned());
            start = cut;
        }
        let at_once = Trace::with_snapshot_every(bank(), Mode::Lenient, every, events.clone());
        prop_assert_eq!(folder.view(), &full_fold(&events));
        prop_assert_eq!(folder.errors(), at_once.errors());
        prop_assert_eq!(trace.steps().collect::<Vec<_>>(), at_once.steps().collect::<Vec<_>>());
    }

    #[test]
    fn random_bytes_never_panic_and_every_bad_line_is_an_error_row(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        name in prop::sample::select(builtin::NAMES.to_vec()),
    ) {
        let events = ndjson::parse("fuzz", &bytes);
        let projection = builtin::by_name(name).unwrap();
        let trace = Trace::new(projection, Mode::Lenient, events.clone());
        let failed = trace.outcomes().iter().filter(|o| o.error().is_some()).count();
        prop_assert_eq!(failed, trace.errors().len());
        prop_assert_eq!(trace.steps().count() as u64, trace.len());
        for (event, outcome) in events.iter().zip(trace.outcomes()) {
            if let Payload::Raw { .. } = event.value {
                prop_assert!(matches!(outcome, Outcome::Failed(..)), "raw bytes must fail");
            }
        }
    }
}

/// (lines of NDJSON, mode) → (final state JSON, error messages, rows).
fn check_file(text: &str, mode: Mode, state: serde_json::Value, errors: &[&str], rows: u64) {
    let trace = Trace::new(bank(), mode, ndjson::parse("bank", text.as_bytes()));
    assert_eq!(
        trace.final_view().to_json(&Bank),
        state,
        "state of {text:?}"
    );
    let got: Vec<String> = trace.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(got, errors, "errors of {text:?}");
    assert_eq!(trace.len(), rows, "rows of {text:?}");
}

#[test]
fn bad_events_are_error_rows_and_the_fold_goes_on() {
    let text = r#"{"type":"deposit","amount":100}
{"type":"deposit"}
{"type":"withdrawal","amount":"40"}
{"type":"refund","amount":5}
{"type":
{"type":"deposit","amount":20}"#;
    check_file(
        text,
        Mode::Lenient,
        json!({"balance": 120}),
        &[
            "offset 1 (partition 0): field `amount` is missing",
            "offset 2 (partition 0): field `amount` must be an integer, got \"40\"",
            "offset 3 (partition 0): unknown event type \"refund\" in field `type` (expected \"deposit\" or \"withdrawal\")",
            "offset 4 (partition 0): value is not JSON: EOF while parsing a value at line 1 column 8",
        ],
        31,
    );
    // Strict mode stops at the first bad event: rows for events 0 and 1, then the end.
    check_file(
        text,
        Mode::Strict,
        json!({"balance": 100}),
        &["offset 1 (partition 0): field `amount` is missing"],
        11,
    );
    let trace = Trace::new(bank(), Mode::Strict, ndjson::parse("bank", text.as_bytes()));
    let end = trace.step(trace.len()).unwrap();
    assert_eq!(
        end.output_text(),
        "Stop processing: offset 1 (partition 0): field `amount` is missing"
    );
    let apply = trace.step(trace.step_of(1, Phase::Apply)).unwrap();
    assert_eq!(
        apply.output_text(),
        "Error: offset 1 (partition 0): field `amount` is missing"
    );
    assert_eq!(
        apply.state,
        json!({"balance": 100}),
        "a bad event leaves the state as it was"
    );
}

#[test]
fn keyed_events_fold_per_aggregate_and_tombstones_delete() {
    let events = vec![
        Envelope::json("b", 0, json!({"type":"deposit","amount":5})).with_key("a"),
        Envelope::json("b", 1, json!({"type":"deposit","amount":7})).with_key("b"),
        Envelope::json("b", 2, json!({"type":"withdrawal","amount":2})).with_key("a"),
        Envelope {
            value: Payload::Tombstone,
            ..Envelope::json("b", 3, json!(null)).with_key("b")
        },
    ];
    let trace = Trace::new(bank(), Mode::Lenient, events);
    assert_eq!(
        trace.view_at(trace.step_of(2, Phase::Apply)).to_json(&Bank),
        json!({"a": {"balance": 3}, "b": {"balance": 7}})
    );
    assert_eq!(
        trace.final_view().to_json(&Bank),
        json!({"a": {"balance": 3}})
    );
    let deleted = trace.step(trace.step_of(3, Phase::Print)).unwrap();
    assert_eq!(
        (deleted.output_text(), &deleted.state),
        ("Deleted b", &json!(null))
    );
}

#[test]
fn seeks_land_on_the_apply_row_and_the_cursor_clamps() {
    let s = eventfold_core::scenario::bank();
    let trace = Trace::new(s.projection.clone(), Mode::Lenient, s.events.clone());
    assert_eq!(trace.seek_offset(0, 1), Some(9));
    assert_eq!(trace.seek_offset(0, 3), None, "past the end");
    assert_eq!(trace.seek_offset(1, 0), None, "no such partition");
    assert_eq!(trace.seek_timestamp(s.events[2].timestamp - 1), Some(14));
    assert_eq!(trace.seek_timestamp(i64::MIN), Some(4));
    let mut cursor = Cursor::default();
    assert!(!cursor.back(&trace), "already at the first row");
    assert!(cursor.forward(&trace));
    assert_eq!(cursor.step(), 2);
    assert!(cursor.to_end(&trace));
    assert_eq!(cursor.step(), 16);
    assert!(!cursor.forward(&trace), "already at the last row");
    assert!(cursor.seek(0, &trace));
    assert_eq!(cursor.step(), 1);
}
