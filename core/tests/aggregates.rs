//! Aggregate identity: distinct Kafka keys are distinct aggregates, whatever their
//! display (a null key, the text `(no key)`, bytes shown as hex), in the fold, the
//! trace, the event editor's lines and the JSON of a view.

use std::sync::Arc;

use eventfold_core::builtin::bank::Bank;
use eventfold_core::decl::{self, Spec};
use eventfold_core::lesson::{editor_line, parse_editor};
use eventfold_core::{
    Envelope, Key, Mode, Phase, Projection, Trace, aggregate_json, aggregate_name, fold,
};
use serde_json::{Value, json};

/// A deposit of `amount` at `offset` with the key `key` (`None`: no key).
fn deposit(offset: i64, key: Option<&[u8]>, amount: i64) -> Envelope {
    let event = Envelope::json("t", offset, json!({"type": "deposit", "amount": amount}));
    match key {
        Some(key) => event.with_key(key),
        None => event,
    }
}

/// The log of `records` (key, amount), one offset each.
fn log(records: &[(Option<&[u8]>, i64)]) -> Vec<Envelope> {
    records
        .iter()
        .enumerate()
        .map(|(offset, (key, amount))| deposit(offset as i64, *key, *amount))
        .collect()
}

/// Folds `records` with the built-in bank and with its declarative twin, and expects
/// the view's aggregates (exact id and display name, in view order) and its JSON.
fn check(records: &[(Option<&[u8]>, i64)], aggregates: &[(Value, &str, i64)], json: Value) {
    let twin: Arc<dyn Projection> = Arc::new(Spec::parse(decl::twin("bank").unwrap()).unwrap());
    for projection in [Arc::new(Bank) as Arc<dyn Projection>, twin] {
        let folder = fold(projection.clone(), Mode::Lenient, &log(records));
        assert!(folder.errors().is_empty(), "{:?}", folder.errors());
        let got: Vec<(Value, String, i64)> = folder
            .view()
            .iter()
            .map(|(id, state)| {
                (
                    aggregate_json(id),
                    aggregate_name(id).into_owned(),
                    state["balance"].as_i64().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(Value, String, i64)> = aggregates
            .iter()
            .map(|(id, name, balance)| (id.clone(), (*name).to_owned(), *balance))
            .collect();
        assert_eq!(got, expected, "{}", projection.name());
        assert_eq!(
            folder.view().to_json(&*projection),
            json,
            "{}",
            projection.name()
        );

        // The trace names each row's aggregate exactly too, and its final row is the
        // same JSON.
        let trace = Trace::new(projection.clone(), Mode::Lenient, log(records));
        let touched: Vec<Value> = trace
            .steps()
            .filter(|s| s.phase == Phase::Apply)
            .map(|s| aggregate_json(&s.aggregate))
            .collect();
        let keys: Vec<Value> = records
            .iter()
            .map(|(key, _)| aggregate_json(&key.map(Key::from_bytes)))
            .collect();
        assert_eq!(touched, keys, "{}", projection.name());
        assert_eq!(trace.steps().last().unwrap().state, json);
    }
}

#[test]
fn keys_that_look_alike_stay_apart() {
    // A null key and the text key `(no key)`: two aggregates. Their names collide, so
    // the JSON is the exact list rather than an object that would hold only one.
    check(
        &[(None, 1), (Some(b"(no key)"), 10), (None, 100)],
        &[
            (Value::Null, "(no key)", 101),
            (json!("(no key)"), "(no key)", 10),
        ],
        json!([
            {"key": null, "state": {"balance": 101}},
            {"key": "(no key)", "state": {"balance": 10}},
        ]),
    );
    // The bytes 41 ff (not UTF-8, displayed 0x41ff) and the text key `0x41ff`.
    check(
        &[
            (Some(&[0x41, 0xff]), 1),
            (Some(b"0x41ff"), 10),
            (Some(&[0x41, 0xff]), 100),
        ],
        &[
            (json!("0x41ff"), "0x41ff", 10),
            (json!({"bytes_hex": "41ff"}), "0x41ff", 101),
        ],
        json!([
            {"key": "0x41ff", "state": {"balance": 10}},
            {"key": {"bytes_hex": "41ff"}, "state": {"balance": 101}},
        ]),
    );
    // Without a collision the object form stays, bytes under their hex name.
    check(
        &[(None, 1), (Some(b"alice"), 10), (Some(&[0x41, 0xff]), 100)],
        &[
            (Value::Null, "(no key)", 1),
            (json!("alice"), "alice", 10),
            (json!({"bytes_hex": "41ff"}), "0x41ff", 100),
        ],
        json!({
            "(no key)": {"balance": 1},
            "alice": {"balance": 10},
            "0x41ff": {"balance": 100},
        }),
    );
    // One keyless account is the seeds' single state.
    check(
        &[(None, 1), (None, 2)],
        &[(Value::Null, "(no key)", 3)],
        json!({"balance": 3}),
    );
}

/// The aggregate a payload field names, for `userId` values in the users projection.
fn check_field(ids: &[Value], expected: &[&str]) {
    let users = eventfold_core::builtin::by_name("users").unwrap();
    let events: Vec<Envelope> = ids
        .iter()
        .enumerate()
        .map(|(offset, id)| {
            Envelope::json(
                "users",
                offset as i64,
                json!({"event": "UserRegistered", "userId": id, "timestamp": "t"}),
            )
        })
        .collect();
    let folder = fold(users, Mode::Lenient, &events);
    let names: Vec<String> = folder
        .view()
        .iter()
        .map(|(id, _)| aggregate_name(id).into_owned())
        .collect();
    assert_eq!(names, expected, "ids {ids:?}");
}

#[test]
fn a_payload_field_names_its_aggregate_by_its_text() {
    // A number and the string of the same text are one user (one producer writes the
    // id as a number, another as a string); a number's text is its name, so 1.0 and 1
    // are two.
    check_field(&[json!(123), json!("123")], &["123"]);
    check_field(&[json!(1), json!(1.0)], &["1", "1.0"]);
}

/// An event editor line keeps the record's key exactly, text or bytes.
fn check_editor(key: &[u8], line: &str) {
    let event = deposit(0, Some(key), 5);
    assert_eq!(editor_line(&event), line);
    let back = parse_editor("t", line);
    assert_eq!(back.events[0].key.as_deref(), Some(key), "line {line}");
}

#[test]
fn editor_lines_keep_keys_exactly() {
    check_editor(b"alice", r#"{"@key":"alice","type":"deposit","amount":5}"#);
    check_editor(
        &[0x41, 0xff],
        r#"{"@key":{"bytes_hex":"41ff"},"type":"deposit","amount":5}"#,
    );
    check_editor(
        b"0x41ff",
        r#"{"@key":"0x41ff","type":"deposit","amount":5}"#,
    );
}

/// The page's key filter: the aggregate shown under a name.
#[test]
fn a_name_finds_its_key_text_first() {
    let folder = fold(
        Arc::new(Bank),
        Mode::Lenient,
        &log(&[(Some(&[0x41, 0xff]), 1), (Some(b"bob"), 2)]),
    );
    let view = folder.view();
    assert_eq!(view.key_named("0x41ff"), Some(Key::Bytes(vec![0x41, 0xff])));
    assert_eq!(view.key_named("bob"), Some(Key::from("bob")));
    assert_eq!(view.key_named("0x41"), None);
    let folder = fold(
        Arc::new(Bank),
        Mode::Lenient,
        &log(&[(Some(&[0x41, 0xff]), 1), (Some(b"0x41ff"), 2)]),
    );
    assert_eq!(folder.view().key_named("0x41ff"), Some(Key::from("0x41ff")));
}
