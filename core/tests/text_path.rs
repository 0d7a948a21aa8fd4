//! The fold's text fast path (`Folder::push_text`) against the general path: the same
//! states, the same outcomes and the same error messages, event for event, for the
//! built-in bank, the declarative twins and specs with several rules, on logs that mix
//! good events with every kind of bad one.

use std::sync::Arc;

use eventfold_core::builtin::{bank::Bank, orders::Orders};
use eventfold_core::decl::{Spec, twin};
use eventfold_core::{Envelope, Folder, Mode, Payload, Projection};
use proptest::prelude::*;

fn spec(text: &str) -> Arc<dyn Projection> {
    Arc::new(Spec::parse(text).expect("test specs parse"))
}

/// Folds `lines` (with keys) both ways and checks every outcome and the final view.
fn check_same(projection: Arc<dyn Projection>, mode: Mode, lines: &[(Option<&str>, Vec<u8>)]) {
    let mut general = Folder::new(projection.clone(), mode);
    let mut fast = Folder::new(projection.clone(), mode);
    for (offset, (key, text)) in lines.iter().enumerate() {
        let mut envelope = Envelope::json("t", offset as i64, serde_json::Value::Null);
        envelope.key = key.map(|k| k.as_bytes().to_vec());
        let mut decoded = envelope.clone();
        decoded.value = Payload::decode(Some(text));
        let expected = general.push(&decoded);
        let got = fast.push_text(&mut envelope, text);
        assert_eq!(
            got,
            expected,
            "{}: line {offset} {:?}",
            projection.name(),
            String::from_utf8_lossy(text)
        );
        assert_eq!(
            fast.view(),
            general.view(),
            "{}: after line {offset}",
            projection.name()
        );
    }
    assert_eq!(fast.errors(), general.errors());
    assert_eq!(fast.halted(), general.halted());
}

const MULTI: &str = r#"{
  "type_field": "kind",
  "initial": {"total": 0, "n": 0},
  "events": {
    "add": {"fields": {"x": "integer"}, "rules": [{"add": "total", "from": "x"}, {"count": "n"}, {"append": "seen", "from": "x"}]},
    "note": {"rules": [{"merge": true, "except": ["kind"]}]},
    "reset": {"rules": [{"set": "total", "value": 0}, {"delete": true}]},
    "*": {"rules": [{"append": "other"}]}
  }
}"#;

fn projections() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(Bank),
        spec(twin("bank").unwrap()),
        spec(twin("users").unwrap()),
        spec(MULTI),
        Arc::new(Orders),
        spec(twin("orders").unwrap()),
    ]
}

#[test]
fn hand_picked_lines_fold_the_same_both_ways() {
    let lines: Vec<&[u8]> = vec![
        br#"{"type":"deposit","amount":100}"#,
        br#"{"type":"withdrawal","amount":40}"#,
        br#"{"type":"deposit","amount":9223372036854775807}"#,
        br#"{"type":"deposit","amount":1.5}"#,
        br#"{"type":"deposit","amount":"7"}"#,
        br#"{"type":"deposit"}"#,
        br#"{"type":"loan","amount":1}"#,
        br#"{"type":7,"amount":1}"#,
        br#"{"amount":1,"type":"deposit","type":"withdrawal"}"#,
        br#"{"type":"dep\u006fsit","amount":3,"extra":{"a":[1,2]}}"#,
        br#""a string""#,
        br#"[1,2]"#,
        b"not json",
        b"{\"type\":\"deposit\",\"amount\":1} trailing",
        b"\xff\xfe",
        br#"{"kind":"add","x":5}"#,
        br#"{"kind":"add","x":-9223372036854775808}"#,
        br#"{"kind":"note","a":1,"b":"two","kind":"note"}"#,
        br#"{"kind":"reset"}"#,
        br#"{"kind":"zzz","q":null}"#,
        br#"{"kind":"add","x":"no"}"#,
        br#"{"userId":"u1","type":"UserRegistered","name":"Ann","email":"a@x"}"#,
    ];
    let keys = [None, Some("acct-1"), Some("acct-2")];
    let lines: Vec<(Option<&str>, Vec<u8>)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (keys[i % 3], l.to_vec()))
        .collect();
    for projection in projections() {
        check_same(projection.clone(), Mode::Lenient, &lines);
        check_same(projection, Mode::Strict, &lines);
    }
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop::sample::select(vec![
        "\"deposit\"",
        "\"withdrawal\"",
        "\"add\"",
        "\"note\"",
        "\"reset\"",
        "\"x\"",
        "1",
        "null",
    ]);
    let amount = prop::sample::select(vec![
        "1",
        "-3",
        "100",
        "0",
        "1.0",
        "\"5\"",
        "9223372036854775807",
        "18446744073709551616",
        "null",
        "[1]",
        "{\"a\":1}",
    ]);
    (kind, amount, any::<u8>(), 0usize..4).prop_map(|(kind, amount, shape, cut)| {
        let mut text = match shape % 5 {
            0 => format!("{{\"type\":{kind},\"amount\":{amount}}}"),
            1 => format!("{{\"kind\":{kind},\"x\":{amount}}}"),
            2 => format!("{{\"amount\":{amount},\"type\":{kind},\"type\":{kind}}}"),
            3 => format!("{{\"kind\":{kind},\"x\":{amount},\"kind\":\"add\"}}"),
            _ => format!("{{\"type\":{kind}}}"),
        }
        .into_bytes();
        // Now and then a line cut short or with a stray byte.
        if shape > 240 {
            text.truncate(text.len().saturating_sub(cut + 1));
        } else if shape > 230 {
            text.insert(cut.min(text.len()), b'\xc3');
        }
        text
    })
}

proptest! {
    #[test]
    fn random_lines_fold_the_same_both_ways(
        lines in prop::collection::vec((prop::option::of(prop::sample::select(vec!["a", "b"])), line()), 0..40),
        strict in any::<bool>(),
    ) {
        let mode = if strict { Mode::Strict } else { Mode::Lenient };
        for projection in projections() {
            check_same(projection, mode, &lines);
        }
    }
}
