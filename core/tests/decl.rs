//! Declarative projections: spec errors, rule semantics, and the three twins folding
//! exactly as the built-ins they copy.

use std::sync::Arc;

use eventfold_core::builtin::{self, bank::Bank};
use eventfold_core::decl::{self, Spec};
use eventfold_core::{Envelope, Mode, Payload, Phase, Projection, Trace, fold, scenario};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------
// Spec errors
// ---------------------------------------------------------------------------------

/// Parses `spec` and expects exactly `expected` as the error text.
fn check(spec: &str, expected: &str) {
    match Spec::parse(spec) {
        Ok(_) => panic!("spec parsed, expected error {expected:?}:\n{spec}"),
        Err(error) => assert_eq!(error.to_string(), expected, "spec:\n{spec}"),
    }
}

/// A bank-like spec whose deposit handler has `rules`.
fn with_rules(rules: &str) -> String {
    format!(r#"{{"type_field": "type", "events": {{"deposit": {{"rules": {rules}}}}}}}"#)
}

#[test]
fn spec_mistakes_name_their_place() {
    check(
        &with_rules(
            r#"[{"add": "balance", "from": "amount"}, {"ad": "balance", "from": "amount"}]"#,
        ),
        "events.deposit.rules[1]: unknown rule \"ad\" (expected one of add, subtract, set, merge, delete, append, count)",
    );
    check(
        &with_rules(r#"[{"add": "balance"}]"#),
        "events.deposit.rules[0]: \"add\" needs \"from\" (the payload field to read)",
    );
    check(
        &with_rules(r#"[{"add": "balance", "form": "amount"}]"#),
        "events.deposit.rules[0]: \"add\" does not take \"form\" (it takes \"from\")",
    );
    check(
        &with_rules(r#"[{"add": "balance", "from": "amount", "set": "x", "value": 1}]"#),
        "events.deposit.rules[0]: one rule per object: \"add\" and \"set\" belong in two rules",
    );
    check(
        &with_rules(r#"[{"set": "status"}]"#),
        "events.deposit.rules[0]: \"set\" needs \"value\" (a literal) or \"from\" (a payload field)",
    );
    check(
        &with_rules(r#"[{"set": "status", "value": 1, "from": "s"}]"#),
        "events.deposit.rules[0]: \"set\" takes \"value\" or \"from\", not both",
    );
    check(
        &with_rules(r#"[{"add": 5, "from": "amount"}]"#),
        "events.deposit.rules[0]: \"add\" names a state field: expected a field name, got 5",
    );
    check(
        &with_rules(r#"[{"delete": true}, {"count": "n"}]"#),
        "events.deposit.rules[0]: \"delete\" must be the last rule: the rules after it would run on a deleted aggregate",
    );
    check(
        &with_rules(r#"[{"merge": "yes"}]"#),
        "events.deposit.rules[0]: write {\"merge\": true}, got \"yes\"",
    );
    check(
        &with_rules(r#"["add balance"]"#),
        "events.deposit.rules[0]: a rule is an object like {\"add\": \"balance\", \"from\": \"amount\"}, got \"add balance\"",
    );
    check(
        &with_rules(r#"{"add": "balance"}"#),
        "events.deposit.rules: expected a list of rules, got an object",
    );
    check(
        "{\"type_field\": \"type\",\n \"events\": {\"deposit\": {\"rules\": []}\n",
        "invalid JSON at line 3, column 0: EOF while parsing an object",
    );
    check(
        r#"{"events": {"*": {}}, "events": {"*": {}}}"#,
        "invalid JSON at line 1, column 30: duplicate key \"events\" (JSON would keep only the last one)",
    );
    check(
        r#"{"evnets": {}}"#,
        "unknown top-level key \"evnets\" (expected one of name, description, type_field, aggregate, initial, label, command, produce, apply, output, events)",
    );
    check(
        r#"{"type_field": "type"}"#,
        "missing \"events\": a spec needs at least one event handler",
    );
    check(
        r#"{"events": {"deposit": {"rules": []}}}"#,
        "events.deposit: unreachable: without \"type_field\" every event goes to the \"*\" handler",
    );
    check(
        r#"{"type_field": "type", "events": {"deposit": {"rule": []}}}"#,
        "events.deposit: unknown key \"rule\" (expected one of label, command, produce, apply, fields, rules)",
    );
    check(
        r#"{"type_field": "type", "events": {"deposit": {"fields": {"amount": "int"}}}}"#,
        "events.deposit.fields.amount: unknown kind \"int\" (expected one of any, string, number, integer, boolean, object, array)",
    );
    check(
        r#"{"type_field": "type", "events": {"order placed": {"label": "{orderId"}}}"#,
        "events[\"order placed\"].label: unclosed \"{\" at character 1 (write \"{{\" for a literal brace)",
    );
    check(
        r#"{"aggregate": "userId", "events": {"*": {}}}"#,
        "aggregate: expected \"key\", \"none\" or {\"field\": \"…\"}, got \"userId\"",
    );
    check(
        r#"{"initial": 0, "events": {"*": {}}}"#,
        "initial: the initial state is an object, got 0",
    );
    check(
        r#"{"output": "Balance: {}", "events": {"*": {}}}"#,
        "output: empty placeholder at character 10 (write a field name, e.g. \"{amount}\")",
    );
    check(
        r#"{"label": ["{type} {id}", 5], "events": {"*": {}}}"#,
        "label[1]: expected a template string, got 5",
    );
    check(
        r#"[]"#,
        "a spec is a JSON object like {\"events\": {…}}, got an array",
    );
}

#[test]
fn spec_errors_say_where_for_the_editor() {
    let error = Spec::parse(&with_rules(r#"[{"ad": "x"}]"#)).unwrap_err();
    assert_eq!(error.path(), Some("events.deposit.rules[0]"));
    let error = Spec::parse("{").unwrap_err();
    assert_eq!(error.path(), None);
    assert!(matches!(
        error,
        decl::SpecError::Json {
            line: 1,
            column: 1,
            ..
        }
    ));
}

#[test]
fn a_placeholder_that_never_resolves_is_no_spec_error() {
    let spec =
        Spec::parse(r#"{"type_field": "type", "label": "{nothing} here", "events": {"ping": {}}}"#)
            .unwrap();
    let event = Envelope::json("t", 4, json!({"type": "ping"}));
    // The label falls back to the default: the event's type.
    assert_eq!(spec.label(&event), "ping");
}

// ---------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------

/// Applies `rules` (in a `*` handler) to `state` with `payload`, and expects the new
/// state or the error text. On error the state must be unchanged.
fn check_rules(rules: Value, state: Value, payload: Value, expected: Result<Value, &str>) {
    let text = json!({"initial": {}, "events": {"*": {"rules": rules}}}).to_string();
    let spec = Spec::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut after = state.clone();
    let envelope = Envelope::json("t", 0, payload.clone());
    let got = spec
        .apply(&mut after, &envelope)
        .map(|()| after.clone())
        .map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map_err(str::to_owned),
        "rules {rules} on {state} with {payload}"
    );
    if got.is_err() {
        assert_eq!(after, state, "a failed event changed the state");
    }
}

#[test]
fn add_and_subtract_are_exact_on_integers_and_checked() {
    let add = json!([{"add": "n", "from": "x"}]);
    let sub = json!([{"subtract": "n", "from": "x"}]);
    check_rules(add.clone(), json!({}), json!({"x": 2}), Ok(json!({"n": 2})));
    check_rules(
        add.clone(),
        json!({"n": 1}),
        json!({"x": 0.5}),
        Ok(json!({"n": 1.5})),
    );
    check_rules(
        sub.clone(),
        json!({"n": 10}),
        json!({"x": 4}),
        Ok(json!({"n": 6})),
    );
    check_rules(
        add.clone(),
        json!({"n": i64::MAX}),
        json!({"x": 1}),
        Err("field `n` overflows: 9223372036854775807 + 1 leaves the range of a 64-bit integer"),
    );
    check_rules(
        sub.clone(),
        json!({"n": i64::MIN}),
        json!({"x": 1}),
        Err("field `n` overflows: -9223372036854775808 - 1 leaves the range of a 64-bit integer"),
    );
    check_rules(
        add.clone(),
        json!({"n": 1e308}),
        json!({"x": 1e308}),
        Err("field `n` overflows: 1e+308 + 1e+308 leaves the range of a 64-bit float"),
    );
    check_rules(
        add.clone(),
        json!({"n": 1}),
        json!({}),
        Err("rule events[\"*\"].rules[0] (add n from x): field `x` is missing"),
    );
    check_rules(
        add.clone(),
        json!({"n": 1}),
        json!({"x": "2"}),
        Err("rule events[\"*\"].rules[0] (add n from x): field `x` must be a number, got \"2\""),
    );
    check_rules(
        add,
        json!({"n": "one"}),
        json!({"x": 2}),
        Err(
            "rule events[\"*\"].rules[0] (add n from x): state field `n` must be a number, got \"one\"",
        ),
    );
}

#[test]
fn set_merge_append_count_and_delete() {
    check_rules(
        json!([{"set": "status", "value": {"code": 1}}]),
        json!({"status": "new"}),
        json!({}),
        Ok(json!({"status": {"code": 1}})),
    );
    check_rules(
        json!([{"set": "id", "from": "orderId"}]),
        json!({}),
        json!({"orderId": 123}),
        Ok(json!({"id": 123})),
    );
    check_rules(
        json!([{"set": "id", "from": "orderId"}]),
        json!({}),
        json!({"id": 123}),
        Err("rule events[\"*\"].rules[0] (set id from orderId): field `orderId` is missing"),
    );
    // Merge keeps the state's field order and appends new fields.
    check_rules(
        json!([{"merge": true, "except": ["type"]}]),
        json!({"a": 1, "b": 2}),
        json!({"type": "x", "c": 4, "b": 3}),
        Ok(json!({"a": 1, "b": 3, "c": 4})),
    );
    check_rules(
        json!([{"append": "items", "from": "item"}]),
        json!({}),
        json!({"item": "apple"}),
        Ok(json!({"items": ["apple"]})),
    );
    check_rules(
        json!([{"append": "log"}]),
        json!({"log": [1]}),
        json!({"k": 2}),
        Ok(json!({"log": [1, {"k": 2}]})),
    );
    check_rules(
        json!([{"append": "log"}]),
        json!({"log": 1}),
        json!({"k": 2}),
        Err(
            "rule events[\"*\"].rules[0] (append payload to log): state field `log` must be an array, got 1",
        ),
    );
    check_rules(
        json!([{"count": "n"}]),
        json!({}),
        json!({}),
        Ok(json!({"n": 1})),
    );
    check_rules(
        json!([{"count": "n"}]),
        json!({"n": 41}),
        json!({}),
        Ok(json!({"n": 42})),
    );
    check_rules(
        json!([{"count": "n"}]),
        json!({"n": 1.5}),
        json!({}),
        Err("rule events[\"*\"].rules[0] (count n): state field `n` must be an integer, got 1.5"),
    );
    check_rules(
        json!([{"count": "n"}]),
        json!({"n": i64::MAX}),
        json!({}),
        Err("field `n` overflows: 9223372036854775807 + 1 leaves the range of a 64-bit integer"),
    );
    check_rules(
        json!([{"delete": true}]),
        json!({"n": 1}),
        json!({}),
        Ok(Value::Null),
    );
    // A later rule failing undoes the earlier ones.
    check_rules(
        json!([{"set": "a", "value": 1}, {"count": "n"}, {"set": "b", "from": "missing"}]),
        json!({"n": 0}),
        json!({}),
        Err("rule events[\"*\"].rules[2] (set b from missing): field `missing` is missing"),
    );
    check_rules(
        json!([]),
        json!({"n": 0}),
        json!([1]),
        Err("value is a JSON array, expected an object"),
    );
}

/// Applies `spec` to one event from its initial state and expects the state or error.
fn check_event(spec: &Spec, payload: Value, expected: Result<Value, &str>) {
    let mut state = spec.initial();
    let got = spec
        .apply(&mut state, &Envelope::json("t", 0, payload.clone()))
        .map(|()| state)
        .map_err(|e| e.to_string());
    assert_eq!(got, expected.map_err(str::to_owned), "event {payload}");
}

#[test]
fn events_find_their_handler_by_type() {
    let spec = Spec::parse(
        r#"{"type_field": "kind", "events": {
            "a": {"rules": [{"set": "h", "value": "a"}]},
            "b": {"fields": {"n": "integer", "tags": "array"}, "rules": [{"set": "h", "value": "b"}]},
            "c": {}
        }}"#,
    )
    .unwrap();
    check_event(&spec, json!({"kind": "a"}), Ok(json!({"h": "a"})));
    check_event(&spec, json!({"kind": "c"}), Ok(json!({})));
    check_event(
        &spec,
        json!({"kind": "d"}),
        Err("unknown event type \"d\" in field `kind` (expected \"a\", \"b\" or \"c\")"),
    );
    check_event(&spec, json!({"type": "a"}), Err("field `kind` is missing"));
    check_event(
        &spec,
        json!({"kind": 1}),
        Err("field `kind` must be a string, got 1"),
    );
    check_event(
        &spec,
        json!({"kind": "b", "n": 2.5, "tags": []}),
        Err("field `n` must be an integer, got 2.5"),
    );
    check_event(
        &spec,
        json!({"kind": "b", "n": 2}),
        Err("field `tags` is missing"),
    );
    let wildcard = Spec::parse(
        r#"{"type_field": "kind", "events": {"a": {}, "*": {"rules": [{"count": "other"}]}}}"#,
    )
    .unwrap();
    check_event(&wildcard, json!({"kind": "zzz"}), Ok(json!({"other": 1})));
    check_event(&wildcard, json!({}), Err("field `kind` is missing"));
}

#[test]
fn aggregate_ids_come_from_the_key_a_field_or_nowhere() {
    let spec = |aggregate: &str| {
        Spec::parse(&format!(
            r#"{{"aggregate": {aggregate}, "events": {{"*": {{"rules": [{{"count": "n"}}]}}}}}}"#
        ))
        .unwrap()
    };
    let event = |key: &str, value: Value| Envelope::json("t", 0, value).with_key(key);
    let events = vec![
        event("k1", json!({"user": "ann"})),
        event("k2", json!({"user": 7})),
        event("k1", json!({"user": "ann"})),
    ];
    let view = |spec: Spec| {
        let spec: Arc<dyn Projection> = Arc::new(spec);
        let folded = fold(spec.clone(), Mode::Lenient, &events);
        (folded.view().to_json(&*spec), folded.errors().len())
    };
    assert_eq!(
        view(spec(r#""key""#)),
        (json!({"k1": {"n": 2}, "k2": {"n": 1}}), 0)
    );
    assert_eq!(
        view(spec(r#"{"field": "user"}"#)),
        (json!({"7": {"n": 1}, "ann": {"n": 2}}), 0)
    );
    assert_eq!(view(spec(r#""none""#)), (json!({"n": 3}), 0));
    let by_field = spec(r#"{"field": "user"}"#);
    assert_eq!(
        by_field
            .aggregate_id(&event("k", json!({"user": true})))
            .unwrap_err()
            .to_string(),
        "field `user` must be a string or a number, got true"
    );
}

#[test]
fn labels_narration_and_output_fall_back_to_defaults() {
    let spec = Spec::parse(
        r#"{
            "type_field": "type",
            "label": "{type}!",
            "command": "Receive {type|some} command",
            "output": "n={n}",
            "events": {
                "a": {"label": "A {x}", "apply": "Apply A", "fields": {"x": "integer"}, "rules": [{"count": "n"}]}
            }
        }"#,
    )
    .unwrap();
    let event = |value: Value| Envelope::json("t", 3, value);
    let narration = |value: Value| {
        let n = spec.narration(&event(value));
        (n.command, n.produce, n.apply)
    };
    assert_eq!(spec.label(&event(json!({"type": "a", "x": 1}))), "A 1");
    // `x` is not the integer the handler asks for: the spec-wide label takes over.
    assert_eq!(spec.label(&event(json!({"type": "a", "x": "one"}))), "a!");
    assert_eq!(spec.label(&event(json!({"type": "b"}))), "b!");
    assert_eq!(spec.label(&event(json!({"type": 5}))), "event@3");
    assert_eq!(spec.label(&event(json!([1]))), "event@3");
    assert_eq!(
        narration(json!({"type": "a", "x": 1})),
        (
            "Receive a command".into(),
            "Produce event to Kafka".into(),
            "Apply A".into()
        )
    );
    assert_eq!(
        narration(json!({"kind": "a"})),
        (
            "Receive some command".into(),
            "Produce event to Kafka".into(),
            "Apply event to state".into()
        )
    );
    assert_eq!(spec.render(&json!({"n": 2})), "n=2");
    assert_eq!(spec.render(&json!({"m": 2})), "{m: 2}");
    assert_eq!(spec.render(&Value::Null), "null");
}

// ---------------------------------------------------------------------------------
// Twins fold exactly as the built-ins
// ---------------------------------------------------------------------------------

fn twin(name: &str) -> Arc<dyn Projection> {
    let text = decl::twin(name).unwrap_or_else(|| panic!("no twin {name}"));
    Arc::new(Spec::parse(text).unwrap_or_else(|e| panic!("twin {name}: {e}")))
}

/// Folds `events` with the built-in `name` and its twin, in both modes, and asserts
/// every row and the final view are identical. Error messages may be worded apart;
/// the offsets must match. Returns the lenient fold's errors as (offset, built-in
/// message, twin message).
fn same_fold(
    builtin: Arc<dyn Projection>,
    twin: Arc<dyn Projection>,
    events: &[Envelope],
) -> Vec<(i64, String, String)> {
    for mode in [Mode::Lenient, Mode::Strict] {
        let a = Trace::new(builtin.clone(), mode, events.to_vec());
        let b = Trace::new(twin.clone(), mode, events.to_vec());
        assert_eq!(a.len(), b.len(), "{mode:?}: number of rows");
        for (x, y) in a.steps().zip(b.steps()) {
            let at = format!("{mode:?} step {}", x.step);
            assert_eq!(
                (x.step, x.phase, &x.action, &x.event, x.topic_len),
                (y.step, y.phase, &y.action, &y.event, y.topic_len),
                "{at}"
            );
            assert_eq!((&x.aggregate, &x.state), (&y.aggregate, &y.state), "{at}");
            match (&x.error, &y.error) {
                (None, None) if x.phase == Phase::End && !a.errors().is_empty() => {
                    // A strict end row quotes the error; compare up to its wording.
                    let cut = |s: &str| s.split("): ").next().unwrap_or("").to_owned();
                    assert_eq!(cut(x.output_text()), cut(y.output_text()), "{at}: output");
                }
                (None, None) => assert_eq!(x.output, y.output, "{at}: output"),
                (Some(e), Some(f)) => {
                    assert_eq!((e.partition, e.offset), (f.partition, f.offset), "{at}")
                }
                (e, f) => panic!("{at}: built-in error {e:?}, twin error {f:?}"),
            }
        }
        assert_eq!(a.final_view(), b.final_view(), "{mode:?}: final view");
        assert_eq!(
            a.final_view().to_json(&*builtin),
            b.final_view().to_json(&*twin),
            "{mode:?}: final view as JSON"
        );
    }
    let a = fold(builtin, Mode::Lenient, events);
    let b = fold(twin, Mode::Lenient, events);
    a.errors()
        .iter()
        .zip(b.errors())
        .map(|(x, y)| (x.offset, x.error.to_string(), y.error.to_string()))
        .collect()
}

/// The seed scenario `id` plus `extra` events (value, key) at the following offsets.
fn log(id: &str, extra: Vec<(Payload, Option<&str>)>) -> Vec<Envelope> {
    let scenario = scenario::by_id(id).unwrap();
    let mut events = scenario.events;
    let topic = scenario.topic;
    for (value, key) in extra {
        let offset = events.len() as i64;
        let mut envelope = Envelope {
            value,
            ..Envelope::json(topic, offset, Value::Null)
        }
        .with_timestamp(1_700_000_000_000 + offset);
        if let Some(key) = key {
            envelope = envelope.with_key(key);
        }
        events.push(envelope);
    }
    events
}

fn js(value: Value) -> Payload {
    Payload::Json(value)
}

fn bytes(text: &str) -> Payload {
    Payload::decode(Some(text.as_bytes()))
}

/// Asserts the twin fold of `name` over its scenario plus `extra` matches the
/// built-in, and that the bad events fail at `bad` (offset, field both messages name;
/// "" for errors about the record rather than a field).
fn check_twin(
    name: &str,
    scenario: &str,
    extra: Vec<(Payload, Option<&str>)>,
    bad: &[(i64, &str)],
) {
    let events = log(scenario, extra);
    let errors = same_fold(builtin::by_name(name).unwrap(), twin(name), &events);
    let offsets: Vec<i64> = errors.iter().map(|e| e.0).collect();
    let expected: Vec<i64> = bad.iter().map(|b| b.0).collect();
    assert_eq!(
        offsets, expected,
        "{name}: offsets of bad events: {errors:#?}"
    );
    for ((offset, builtin, twin), (_, field)) in errors.iter().zip(bad) {
        let named = format!("`{field}`");
        for message in [builtin, twin] {
            assert!(
                field.is_empty() || message.contains(&named),
                "{name} offset {offset}: {message:?} does not name {named}"
            );
        }
    }
}

#[test]
fn twins_are_offered_for_every_builtin() {
    assert_eq!(decl::TWINS, builtin::NAMES);
    for name in decl::TWINS {
        assert_eq!(twin(name).name(), name);
    }
    assert_eq!(decl::twin("nope"), None);
}

#[test]
fn bank_twin_folds_exactly_as_the_builtin() {
    for scenario in ["bank", "bank-002"] {
        check_twin("bank", scenario, vec![], &[]);
    }
    check_twin(
        "bank",
        "bank",
        vec![
            (js(json!({"type": "deposit"})), None),                   // 3
            (js(json!({"type": "refund", "amount": 5})), None),       // 4
            (bytes("{\"type\": \"deposit\", amount: 1}"), None),      // 5
            (js(json!({"type": "deposit", "amount": "ten"})), None),  // 6
            (js(json!({"type": "withdrawal", "amount": 1.5})), None), // 7
            (js(json!({"amount": 5})), None),                         // 8
            (js(json!({"type": "deposit", "amount": 10})), Some("acct-a")), // 9
            (js(json!({"type": "deposit", "amount": 7})), Some("acct-b")),
            (
                js(json!({"type": "withdrawal", "amount": 3})),
                Some("acct-a"),
            ),
            (js(json!({"type": "deposit"})), Some("acct-c")), // 12: first event fails
            (
                js(json!({"type": "deposit", "amount": i64::MAX})),
                Some("acct-b"),
            ), // 13
            (Payload::Tombstone, Some("acct-a")),             // 14
            (js(json!({"type": "deposit", "amount": 1})), Some("acct-a")),
            (Payload::Tombstone, None),            // 16
            (js(json!([1, 2])), None),             // 17
            (bytes("\u{0}\u{1}"), Some("acct-b")), // 18
            (
                js(json!({"type": "withdrawal", "amount": 5, "note": "rent"})),
                None,
            ),
        ],
        &[
            (3, "amount"),
            (4, "type"),
            (5, ""),
            (6, "amount"),
            (7, "amount"),
            (8, "type"),
            (12, "amount"),
            (13, "balance"),
            (16, ""),
            (17, ""),
            (18, ""),
        ],
    );
}

#[test]
fn bank_twin_prints_the_seed_table() {
    let events = scenario::by_id("bank").unwrap().events;
    let trace = Trace::new(twin("bank"), Mode::Lenient, events);
    let rows: Vec<(String, String, String)> = trace
        .steps()
        .map(|s| {
            (
                s.action.clone(),
                s.event.clone(),
                s.output_text().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows[0],
        (
            "Receive deposit command".into(),
            "deposit 100".into(),
            "No output".into()
        )
    );
    assert_eq!(rows[14].2, "Current balance: 120");
    assert_eq!(
        trace.final_view().to_json(&**trace.projection()),
        json!({"balance": 120})
    );
}

#[test]
fn orders_twin_folds_exactly_as_the_builtin() {
    check_twin("orders", "orders", vec![], &[]);
    check_twin(
        "orders",
        "orders",
        vec![
            (js(json!({"type": "orderCreated"})), None), // 2
            (
                js(json!({"type": "orderUpdated", "orderId": 123, "status": 5})),
                None,
            ), // 3
            (js(json!({"type": "orderUpdated", "orderId": 123})), None), // 4
            (js(json!({"type": "orderCancelled", "orderId": 123})), None), // 5
            (js(json!({"type": 7})), None),              // 6
            (bytes("orderCreated"), None),               // 7
            (
                js(json!({"type": "orderCreated", "orderId": "o-1"})),
                Some("o-1"),
            ),
            (
                js(json!({"type": "orderCreated", "orderId": {"n": 2}})),
                Some("o-2"),
            ),
            (
                js(json!({"type": "orderUpdated", "status": "shipped"})),
                Some("o-1"),
            ),
            (
                js(json!({"type": "orderUpdated", "status": "lost"})),
                Some("o-3"),
            ), // 11: no create
            (Payload::Tombstone, Some("o-2")),
            (js(json!({"event": "orderCreated"})), Some("o-4")), // 13
        ],
        &[
            (2, "orderId"),
            (3, "status"),
            (4, "status"),
            (5, "type"),
            (6, "type"),
            (7, ""),
            (13, "type"),
        ],
    );
}

#[test]
fn users_twin_folds_exactly_as_the_builtin() {
    check_twin("users", "users", vec![], &[]);
    check_twin(
        "users",
        "users",
        vec![
            (
                js(json!({"event": "UserRegistered", "userId": 789, "timestamp": "t1"})),
                None,
            ),
            (
                js(json!({"event": "UserLoggedIn", "userId": "999", "timestamp": "t2"})),
                None,
            ),
            (
                js(json!({"event": "UserLoggedIn", "userId": "123", "timestamp": "t3"})),
                Some("k"),
            ),
            (
                js(json!({"event": "UserRegistered", "timestamp": "t4"})),
                None,
            ), // 5
            (
                js(json!({"event": "UserRegistered", "userId": true, "timestamp": "t5"})),
                None,
            ), // 6
            (js(json!({"event": "UserLoggedIn", "userId": "789"})), None), // 7
            (js(json!({"event": "UserDeleted", "userId": "789"})), None),  // 8
            (js(json!({"type": "UserLoggedIn", "userId": "789"})), None),  // 9
            (bytes("not json"), None),                                     // 10
            (Payload::Tombstone, Some("123")),
            (
                js(json!({"event": "UserLoggedIn", "userId": "123", "timestamp": "t6"})),
                None,
            ),
            (
                js(
                    json!({"event": "UserRegistered", "userId": "789", "timestamp": "t7", "extra": 1}),
                ),
                None,
            ),
        ],
        &[
            (5, "userId"),
            (6, "userId"),
            (7, "timestamp"),
            (8, "event"),
            (9, "event"),
            (10, ""),
        ],
    );
}

/// A random bank record: mostly good, often keyed, sometimes bad in each way a real
/// topic can be, with amounts large enough to overflow.
fn bank_record() -> impl Strategy<Value = (Option<u8>, u8, i64)> {
    let amount = prop_oneof![-1000i64..1000, Just(i64::MAX), Just(i64::MIN), any::<i64>()];
    (prop::option::of(0u8..3), 0u8..16, amount)
}

fn bank_log(raw: &[(Option<u8>, u8, i64)]) -> Vec<Envelope> {
    raw.iter()
        .enumerate()
        .map(|(i, (key, kind, amount))| {
            let value = match kind {
                0..=4 => js(json!({"type": "deposit", "amount": amount})),
                5..=7 => js(json!({"type": "withdrawal", "amount": amount})),
                8 => js(json!({"type": "deposit"})),
                9 => js(json!({"type": "withdrawal", "amount": amount.to_string()})),
                10 => js(json!({"type": "deposit", "amount": *amount as f64 / 2.0})),
                11 => js(json!({"type": "refund", "amount": amount})),
                12 => js(json!({"amount": amount})),
                13 => Payload::Tombstone,
                14 => bytes("{\"type\":"),
                _ => js(json!(amount)),
            };
            let mut envelope = Envelope {
                value,
                ..Envelope::json("bank", i as i64, Value::Null)
            };
            if let Some(key) = key {
                envelope = envelope.with_key(format!("acct-{key}"));
            }
            envelope
        })
        .collect()
}

proptest! {
    #[test]
    fn random_bank_logs_fold_identically_under_bank_and_its_twin(
        raw in prop::collection::vec(bank_record(), 0..40)
    ) {
        let events = bank_log(&raw);
        let errors = same_fold(Arc::new(Bank), twin("bank"), &events);
        prop_assert_eq!(errors.len(), fold(Arc::new(Bank), Mode::Lenient, &events).errors().len());
    }

    #[test]
    fn a_spec_never_panics_on_random_records(
        bytes_in in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 0..20),
        name in prop::sample::select(vec!["bank", "orders", "users"]),
    ) {
        let events: Vec<Envelope> = bytes_in
            .iter()
            .enumerate()
            .map(|(i, b)| Envelope {
                value: Payload::decode(Some(b)),
                ..Envelope::json("t", i as i64, Value::Null)
            })
            .collect();
        let trace = Trace::new(twin(name), Mode::Lenient, events);
        prop_assert_eq!(trace.steps().count() as u64, trace.len());
    }
}

proptest! {
    #[test]
    fn parsing_a_mangled_twin_never_panics(
        name in prop::sample::select(vec!["bank", "orders", "users"]),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, "[\\[\\]{}\",:a-z0-9 ]{0,3}"), 1..4),
    ) {
        let mut text: Vec<char> = decl::twin(name).unwrap().chars().collect();
        for (at, len, insert) in cuts {
            let start = at.index(text.len() + 1);
            let end = (start + len).min(text.len());
            text.splice(start..end, insert.chars());
        }
        let text: String = text.into_iter().collect();
        // Whatever the damage, the answer is a spec or an error with a message.
        if let Err(error) = Spec::parse(&text) {
            prop_assert!(!error.to_string().is_empty());
        }
    }
}

#[test]
fn a_state_that_is_no_object_is_an_error_and_long_literals_are_cut() {
    check_rules(
        json!([{"set": "note", "value": "a very long literal that goes on and on"}]),
        json!(5),
        json!({}),
        Err(
            "rule events[\"*\"].rules[0] (set note to \"a very long literal that goe…): the state is a JSON number, not an object",
        ),
    );
}

// ---------------------------------------------------------------------------------
// docs/projections.md
// ---------------------------------------------------------------------------------

const DOCS: &str = include_str!("../../docs/projections.md");

/// The ```json blocks of the docs: every one is a spec.
fn doc_specs() -> Vec<&'static str> {
    DOCS.split("```json\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or(""))
        .collect()
}

fn doc_spec(name: &str) -> Spec {
    doc_specs()
        .into_iter()
        .filter_map(|text| Spec::parse(text).ok())
        .find(|spec| spec.name() == name)
        .unwrap_or_else(|| panic!("docs have no spec named {name}"))
}

#[test]
fn every_spec_in_the_docs_parses_and_the_twins_are_quoted_exactly() {
    let specs = doc_specs();
    assert!(specs.len() >= 6, "found {} json blocks", specs.len());
    for text in &specs {
        if let Err(error) = Spec::parse(text) {
            panic!("a spec in docs/projections.md does not parse: {error}\n{text}");
        }
    }
    for name in decl::TWINS {
        let twin = decl::twin(name).unwrap();
        assert!(
            specs.iter().any(|s| s.trim() == twin.trim()),
            "docs/projections.md does not quote core/specs/{name}.json verbatim"
        );
    }
}

#[test]
fn seed_003_values_and_deltas_fold_to_the_same_order() {
    let records = |values: Vec<Value>| -> Vec<Envelope> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Envelope::json("orders", i as i64, v).with_key("order-7"))
            .collect()
    };
    let values = records(vec![
        json!({"type": "Order", "orderId": 7, "amount": 10, "status": "open"}),
        json!({"type": "Order", "orderId": 7, "amount": 5, "status": "open"}),
        json!({"type": "Order", "orderId": 7, "amount": 5, "status": "cancelled"}),
    ]);
    let deltas = records(vec![
        json!({"type": "OrderPlaced", "orderId": 7, "amount": 10}),
        json!({"type": "AmountUpdated", "amount": 5}),
        json!({"type": "OrderCancelled"}),
    ]);
    let fold_with = |name: &str, events: &[Envelope]| {
        let spec: Arc<dyn Projection> = Arc::new(doc_spec(name));
        let folded = fold(spec.clone(), Mode::Strict, events);
        assert_eq!(folded.errors(), &[], "{name}");
        folded.view().to_json(&*spec)
    };
    let expected = json!({"order-7": {"orderId": 7, "amount": 5, "status": "cancelled"}});
    assert_eq!(fold_with("order-values", &values), expected);
    assert_eq!(fold_with("order-deltas", &deltas), expected);
    // Only the values survive compaction: the last record alone still says everything.
    assert_eq!(fold_with("order-values", &values[2..]), expected);
    assert_ne!(fold_with("order-deltas", &deltas[2..]), expected);
}

/// A random JSON object over the fields the three seeds use, with values of every
/// kind: most are bad events, which is the point.
fn seed_like_object() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        prop::sample::select(vec![
            "deposit",
            "withdrawal",
            "orderCreated",
            "orderUpdated",
            "UserRegistered",
            "UserLoggedIn",
            "shipped",
            "123",
            ""
        ])
        .prop_map(Value::from),
        (-3i64..3).prop_map(Value::from),
        Just(json!(i64::MAX)),
        Just(json!(1.5)),
        Just(json!(true)),
        Just(Value::Null),
        Just(json!({"n": 1})),
    ];
    let field = prop::sample::select(vec![
        "type",
        "event",
        "amount",
        "orderId",
        "status",
        "userId",
        "timestamp",
    ]);
    prop::collection::vec((field, value), 0..6).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

proptest! {
    #[test]
    fn random_seed_like_events_fold_identically_under_each_twin(
        objects in prop::collection::vec((prop::option::of(0u8..2), seed_like_object()), 0..12),
        name in prop::sample::select(vec!["bank", "orders", "users"]),
    ) {
        let events: Vec<Envelope> = objects
            .into_iter()
            .enumerate()
            .map(|(i, (key, v))| {
                let e = Envelope::json("t", i as i64, v);
                match key { Some(k) => e.with_key(format!("k{k}")), None => e }
            })
            .collect();
        same_fold(builtin::by_name(name).unwrap(), twin(name), &events);
    }
}
