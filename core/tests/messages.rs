//! Messages a user can act on, and numbers kept exact: what the error row of a bad
//! record says, in every built-in projection, its declarative twin, the NDJSON fast
//! path and the wire.

use std::sync::Arc;

use eventfold_core::builtin::{self, bank};
use eventfold_core::decl::{self, Spec};
use eventfold_core::wire::{Record, WireBytes};
use eventfold_core::{Mode, Payload, Projection, fold, ndjson};
use serde_json::{Value, json};

/// Every projection a user can pick: the built-ins and their declarative twins.
fn projections() -> Vec<Arc<dyn Projection>> {
    builtin::NAMES
        .iter()
        .flat_map(|name| {
            let twin: Arc<dyn Projection> =
                Arc::new(Spec::parse(decl::twin(name).unwrap()).unwrap());
            [builtin::by_name(name).unwrap(), twin]
        })
        .collect()
}

/// The error rows of `lines` (an NDJSON file) folded by `projection`.
fn errors(projection: &Arc<dyn Projection>, lines: &str) -> Vec<String> {
    let events = ndjson::parse("t", lines.as_bytes());
    fold(projection.clone(), Mode::Lenient, &events)
        .errors()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// One record `line` gets `expected` as its error, whatever the projection, from a
/// file, through the bank's fast path and through the wire (as `replay --topic` and
/// the page read a topic).
fn check(line: &str, expected: &str) {
    let row = format!("offset 0 (partition 0): {expected}");
    for projection in projections() {
        assert_eq!(
            errors(&projection, line),
            vec![row.clone()],
            "{} {line}",
            projection.name()
        );
        let record = Record {
            topic: "t".into(),
            partition: 0,
            offset: 0,
            key: Some(WireBytes::encode_key(b"k")),
            timestamp: 0,
            headers: Vec::new(),
            value: Some(WireBytes::encode(line.as_bytes())),
        };
        // Through the frame's text, as a socket carries it.
        let frame: Record = serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        let envelope = frame.to_envelope().unwrap();
        let wire = fold(projection.clone(), Mode::Lenient, &[envelope]);
        let got: Vec<String> = wire.errors().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            vec![row.clone()],
            "{} over the wire: {line}",
            projection.name()
        );
    }
    let (_, fast) = bank::fold_ndjson(line.as_bytes());
    let fast: Vec<String> = fast.iter().map(ToString::to_string).collect();
    assert_eq!(fast, [row], "bank fast path: {line}");
}

#[test]
fn a_value_that_is_no_object_says_what_it_is() {
    check(r#""hello""#, "value is a JSON string, expected an object");
    check("42", "value is a JSON number, expected an object");
    check("[1, 2]", "value is a JSON array, expected an object");
    check("null", "value is a JSON null, expected an object");
    check("true", "value is a JSON boolean, expected an object");
    check(
        "hello",
        "value is not JSON: expected value at line 1 column 1",
    );
}

/// Folds `amounts` (signed: negative is a withdrawal) with the bank and its twin and
/// expects the one error row's text.
fn check_overflow(events: &str, expected: &str) {
    for projection in projections().into_iter().filter(|p| p.name() == "bank") {
        let got = errors(&projection, events);
        assert_eq!(got.len(), 1, "{}: {got:?}", projection.name());
        assert!(
            got[0].ends_with(expected),
            "{}: {}",
            projection.name(),
            got[0]
        );
        assert!(!got[0].contains("Deposit("), "no debug text: {}", got[0]);
    }
}

#[test]
fn overflow_says_which_sum_leaves_the_range() {
    check_overflow(
        "{\"type\":\"deposit\",\"amount\":9223372036854775807}\n{\"type\":\"deposit\",\"amount\":1}",
        "field `balance` overflows: 9223372036854775807 + 1 leaves the range of a 64-bit integer",
    );
    check_overflow(
        "{\"type\":\"withdrawal\",\"amount\":9223372036854775807}\n{\"type\":\"withdrawal\",\"amount\":2}",
        "field `balance` overflows: -9223372036854775807 - 2 leaves the range of a 64-bit integer",
    );
}

#[test]
fn the_bank_refuses_amounts_beyond_64_bits_clearly() {
    let bank: Arc<dyn Projection> = Arc::new(bank::Bank);
    for (line, expected) in [
        (
            r#"{"type":"deposit","amount":9223372036854775808}"#,
            "field `amount` overflows: 9223372036854775808 is beyond the range of a 64-bit integer",
        ),
        (
            r#"{"type":"deposit","amount":12345678901234567890123}"#,
            "field `amount` holds an integer beyond the 64-bit range (about 1.2345678901234568e+22); \
             eventfold keeps numbers exactly and will not round it",
        ),
    ] {
        assert_eq!(
            errors(&bank, line),
            [format!("offset 0 (partition 0): {expected}")]
        );
        let (_, fast) = bank::fold_ndjson(line.as_bytes());
        assert_eq!(fast[0].error.to_string(), expected, "fast path");
    }
}

/// A spec that copies payload values into the state keeps numbers exactly, or says
/// which one it cannot keep.
fn check_exact(line: &str, expected: Result<Value, &str>) {
    let spec = Spec::parse(
        r#"{"events": {"*": {"rules": [{"merge": true}, {"set": "copy", "from": "n"}]}}}"#,
    )
    .unwrap();
    let folder = fold(
        Arc::new(spec.clone()),
        Mode::Lenient,
        &ndjson::parse("t", line.as_bytes()),
    );
    match expected {
        Ok(state) => {
            assert!(folder.errors().is_empty(), "{:?}", folder.errors());
            // The text of the state, as the page and `replay --output json` print it.
            assert_eq!(
                folder.view().to_json(&spec).to_string(),
                state.to_string(),
                "{line}"
            );
        }
        Err(message) => {
            let got: Vec<String> = folder
                .errors()
                .iter()
                .map(|e| e.error.to_string())
                .collect();
            assert_eq!(got, [message], "{line}");
        }
    }
}

#[test]
fn numbers_stay_exact_or_are_refused() {
    check_exact(
        r#"{"n":9223372036854775807}"#,
        Ok(json!({"n": 9223372036854775807i64, "copy": 9223372036854775807i64})),
    );
    check_exact(
        r#"{"n":18446744073709551615}"#,
        Ok(json!({"n": 18446744073709551615u64, "copy": 18446744073709551615u64})),
    );
    check_exact(r#"{"n":0.1}"#, Ok(json!({"n": 0.1, "copy": 0.1})));
    check_exact(
        r#"{"n":12345678901234567890123}"#,
        Err(
            "field `n` holds an integer beyond the 64-bit range (about 1.2345678901234568e+22); \
             eventfold keeps numbers exactly and will not round it",
        ),
    );
    check_exact(
        r#"{"a":[1,{"n":-12345678901234567890123}]}"#,
        Err(
            "field `a[1].n` holds an integer beyond the 64-bit range (about -1.2345678901234568e+22); \
             eventfold keeps numbers exactly and will not round it",
        ),
    );
    check_exact(
        r#"{"n":1e400}"#,
        Err("value is not JSON: number out of range at line 1 column 10"),
    );
    // A spec literal too large is refused where it is written.
    let error = Spec::parse(
        r#"{"events": {"*": {"rules": [{"set": "n", "value": 12345678901234567890123}]}}}"#,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "events.*.rules[0].value: an integer beyond the 64-bit range (about 1.2345678901234568e+22) cannot be kept exactly"
    );
    assert!(matches!(
        Payload::decode(Some(b"12345678901234567890123")),
        Payload::Raw { .. }
    ));
}
