//! `eventfold replay` as a user runs it: the real binary, real files, real exit codes.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};

fn eventfold() -> Command {
    Command::cargo_bin("eventfold").expect("the eventfold binary is built")
}

/// Runs `eventfold args…` and returns (exit status, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = eventfold().args(args).output().expect("eventfold runs");
    (
        out.status.code().expect("exit status"),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

fn json_of(args: &[&str]) -> Value {
    let (status, stdout, stderr) = run(args);
    assert_eq!(status, 0, "stderr: {stderr}");
    serde_json::from_str(&stdout).expect("--output json prints one JSON object")
}

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bank_lesson_prints_the_process_table_ending_at_120() {
    let (status, stdout, _) = run(&["replay", "--scenario", "bank"]);
    assert_eq!(status, 0);
    for header in [
        "Step",
        "Action",
        "Event Produced",
        "Kafka Topic State",
        "State After Event",
        "Output",
    ] {
        assert!(
            stdout.contains(header),
            "missing column {header}:\n{stdout}"
        );
    }
    assert!(stdout.contains("Current balance: 120"), "{stdout}");
    assert!(
        stdout.contains("[deposit 100, withdrawal 40, deposit 60]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Final state: {\"balance\":120}"),
        "{stdout}"
    );
}

#[test]
fn orders_lesson_as_json_matches_seed_001() {
    let report = json_of(&["replay", "--scenario", "orders", "--output", "json"]);
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 11);
    assert_eq!(steps[3]["step"], 4);
    assert_eq!(
        steps[3]["state"],
        json!({"orderId": 123, "status": "created"})
    );
    assert_eq!(
        steps[6]["topic"],
        json!(["orderCreatedEvent", "orderUpdatedEvent"])
    );
    assert_eq!(steps[5]["topic"], json!(["orderCreatedEvent"]));
    assert_eq!(steps[10]["action"], "No more events");
    assert_eq!(steps[10]["output"], "Stop processing");
    assert_eq!(steps[0]["output"], Value::Null, "no output is null in JSON");
    assert_eq!(
        report["state"],
        json!({"orderId": 123, "status": "shipped"})
    );
    assert_eq!(report["errors"], json!([]));
}

#[test]
fn a_file_with_bad_lines_folds_the_rest_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let events = file(
        &dir,
        "bank.ndjson",
        "{\"type\":\"deposit\",\"amount\":100}\n\n{\"type\":\"withdrawal\"}\nnot json\n{\"type\":\"deposit\",\"amount\":20}\n",
    );
    let path = events.to_str().unwrap();
    let report = json_of(&[
        "replay",
        "--events",
        path,
        "--projection",
        "bank",
        "--output",
        "json",
    ]);
    assert_eq!(report["state"], json!({"balance": 120}));
    assert_eq!(
        report["errors"],
        json!([
            {"partition": 0, "offset": 2, "message": "field `amount` is missing"},
            {"partition": 0, "offset": 3, "message": "value is not JSON: expected ident at line 1 column 2"},
        ]),
        "offsets are line indexes; the blank line 1 keeps its index"
    );

    let (status, stdout, stderr) = run(&[
        "replay",
        "--events",
        path,
        "--projection",
        "bank",
        "--strict",
    ]);
    assert_eq!(status, 1, "strict stops with status 1");
    assert_eq!(
        stderr.trim(),
        "eventfold replay: stopped at the first bad event: offset 2 (partition 0): field `amount` is missing"
    );
    assert!(
        stdout.contains("Final state: {\"balance\":100}"),
        "{stdout}"
    );
}

#[test]
fn a_lesson_replays_with_new_logic() {
    // Seed 004: "the system can be re-evaluated with new logic". The orders log through
    // the bank projection: every event is rejected, and nothing is lost.
    let report = json_of(&[
        "replay",
        "--scenario",
        "orders",
        "--projection",
        "bank",
        "--output",
        "json",
    ]);
    assert_eq!(report["state"], json!({"balance": 0}));
    assert_eq!(report["errors"].as_array().unwrap().len(), 2);
}

#[test]
fn a_declarative_spec_file_folds_like_its_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let spec = file(
        &dir,
        "bank.json",
        eventfold_core::decl::twin("bank").unwrap(),
    );
    let events = file(
        &dir,
        "e.ndjson",
        "{\"type\":\"deposit\",\"amount\":100}\n{\"type\":\"withdrawal\",\"amount\":40}\n{\"type\":\"deposit\",\"amount\":60}\n",
    );
    let report = json_of(&[
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--projection",
        spec.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(report["state"], json!({"balance": 120}));
    assert_eq!(report["steps"][14]["output"], "Current balance: 120");
}

/// A command line that cannot start: exit status 2 and one clear line on stderr.
fn check_refused(args: &[&str], expected_stderr: &str) {
    let (status, stdout, stderr) = run(args);
    assert_eq!(status, 2, "{args:?}: stderr {stderr}");
    assert_eq!(stdout, "", "{args:?} prints nothing on stdout");
    assert!(
        stderr.contains(expected_stderr),
        "{args:?}: stderr was {stderr:?}"
    );
}

#[test]
fn bad_command_lines_get_one_clear_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = file(
        &dir,
        "broken.json",
        "{\"type_field\": \"type\", \"events\": {\"deposit\": {\"rules\": [{\"ad\": \"balance\"}]}}}",
    );
    let broken = broken.to_str().unwrap();
    check_refused(
        &["replay", "--scenario", "nope"],
        "eventfold replay: unknown scenario \"nope\" (expected one of: bank, bank-002, orders, users, values-deltas, keys-partitions, compaction, duplicate, duplicate-fixed, ordering, crash-restart, snapshots, blank)\n",
    );
    check_refused(
        &[
            "replay",
            "--events",
            "/no/such/file.ndjson",
            "--projection",
            "bank",
        ],
        "eventfold replay: cannot read events file /no/such/file.ndjson: No such file or directory",
    );
    check_refused(
        &["replay", "--events", "/dev/null"],
        "eventfold replay: --projection is required with --events",
    );
    check_refused(
        &["replay", "--scenario", "bank", "--projection", "bnk"],
        "eventfold replay: unknown projection \"bnk\": not one of bank, orders, users, and it cannot be read as a spec file: No such file or directory",
    );
    check_refused(
        &["replay", "--events", "/dev/null", "--projection", broken],
        "events.deposit.rules[0]",
    );
    check_refused(
        &["replay", "--scenario", "bank", "--output", "xml"],
        "invalid value 'xml' for '--output",
    );
    check_refused(
        &["replay"],
        "the following required arguments were not provided",
    );
    check_refused(
        &["replay", "--scenario", "bank", "--events", "x"],
        "cannot be used with",
    );
}

#[test]
fn final_only_prints_the_state_and_errors_without_steps() {
    let report = json_of(&[
        "replay",
        "--scenario",
        "bank",
        "--output",
        "json",
        "--final-only",
    ]);
    assert_eq!(
        report,
        json!({"steps": [], "state": {"balance": 120}, "errors": []})
    );
    let (status, stdout, _) = run(&["replay", "--scenario", "bank", "--final-only"]);
    assert_eq!(status, 0);
    assert_eq!(
        stdout,
        "Replay of 3 event(s) on topic bank_account_events with projection bank\nFinal state: {\"balance\":120}\n"
    );
}
