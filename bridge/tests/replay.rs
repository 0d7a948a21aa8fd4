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
        json!({"size": 2, "head": ["orderCreatedEvent", "orderUpdatedEvent"], "tail": []})
    );
    assert_eq!(
        steps[5]["topic"],
        json!({"size": 1, "head": ["orderCreatedEvent"], "tail": []})
    );
    assert_eq!(
        steps[3]["offset"], 0,
        "event rows carry the record's coordinates"
    );
    assert_eq!(steps[3]["partition"], 0);
    assert_eq!(steps[3]["error"], Value::Null);
    assert_eq!(steps[10]["action"], "No more events");
    assert_eq!(steps[10]["output"], "Stop processing");
    assert_eq!(steps[0]["output"], Value::Null, "no output is null in JSON");
    assert_eq!(
        report["state"],
        json!({"orderId": 123, "status": "shipped"})
    );
    assert_eq!(report["errors"], json!([]));
    assert_eq!(
        (&report["events"], &report["applied"], &report["rejected"]),
        (&json!(2), &json!(2), &json!(0))
    );
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
        json!({
            "steps": [],
            "state": {"balance": 120},
            "aggregates": [{"aggregate": null, "state": {"balance": 120}}],
            "events": 3,
            "applied": 3,
            "rejected": 0,
            "errors": [],
            "errors_omitted": 0,
        })
    );
    let (status, stdout, _) = run(&["replay", "--scenario", "bank", "--final-only"]);
    assert_eq!(status, 0);
    assert_eq!(
        stdout,
        "Replay of topic bank_account_events with projection bank\n3 event(s): 3 applied, 0 rejected\nFinal state: {\"balance\":120}\n"
    );
}

/// `n` bank events as NDJSON, deposits of 1..=n, with a withdrawal of 1 every tenth.
fn bank_events(n: usize) -> String {
    (1..=n)
        .map(|i| {
            if i % 10 == 0 {
                "{\"type\":\"withdrawal\",\"amount\":1}\n".to_owned()
            } else {
                format!("{{\"type\":\"deposit\",\"amount\":{i}}}\n")
            }
        })
        .collect()
}

fn bank_balance(n: usize) -> i64 {
    (1..=n as i64)
        .map(|i| if i % 10 == 0 { -1 } else { i })
        .sum()
}

#[test]
fn json_output_grows_linearly_with_the_log() {
    // Each step used to list the whole topic so far: 10 000 events made 3.7 GB.
    let dir = tempfile::tempdir().unwrap();
    let n = 10_000;
    let events = file(&dir, "big.ndjson", &bank_events(n));
    let path = events.to_str().unwrap();
    let (status, stdout, stderr) = run(&[
        "replay",
        "--events",
        path,
        "--projection",
        "bank",
        "--output",
        "json",
    ]);
    assert_eq!(status, 0, "{stderr}");
    let per_event = stdout.len() / n;
    assert!(
        per_event < 3_000,
        "{per_event} bytes per event: the JSON report must not grow with the topic"
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), n * 5 + 1);
    let last_print = &steps[n * 5 - 1];
    assert_eq!(last_print["topic"]["size"], n);
    assert_eq!(
        last_print["topic"]["tail"],
        json!(["deposit 9998", "deposit 9999", "withdrawal 1"])
    );
    assert_eq!(
        last_print["topic"]["head"],
        json!(["deposit 1", "deposit 2", "deposit 3"])
    );
    assert_eq!(report["state"], json!({"balance": bank_balance(n)}));
}

#[test]
fn ndjson_output_is_one_object_per_row_then_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let events = file(
        &dir,
        "e.ndjson",
        "{\"type\":\"deposit\",\"amount\":100}\n\"a string\"\n{\"type\":\"deposit\",\"amount\":20}\n",
    );
    let path = events.to_str().unwrap();
    for (rows, lines_expected) in [("process", 16), ("records", 4)] {
        let (status, stdout, stderr) = run(&[
            "replay",
            "--events",
            path,
            "--projection",
            "bank",
            "--output",
            "ndjson",
            "--rows",
            rows,
        ]);
        assert_eq!(status, 0, "{stderr}");
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is one JSON object"))
            .collect();
        assert_eq!(lines.len(), lines_expected, "{rows}: {stdout}");
        let end = lines.last().unwrap();
        assert_eq!(end["phase"], "end", "{rows}");
        assert_eq!(end["state"], json!({"balance": 120}));
        assert_eq!((&end["applied"], &end["rejected"]), (&json!(2), &json!(1)));
        let refused: Vec<&Value> = lines.iter().filter(|l| !l["error"].is_null()).collect();
        assert_eq!(refused.len(), 1, "{rows}: one row carries the error");
        assert_eq!(refused[0]["offset"], 1);
        assert_eq!(
            refused[0]["error"],
            "value is a JSON string, expected an object"
        );
        if rows == "records" {
            assert_eq!(lines[0]["partition"], 0);
            assert_eq!(lines[2]["offset"], 2);
            assert_eq!(lines[2]["state"], json!({"balance": 120}));
            assert_eq!(lines[2]["output"], "Current balance: 120");
            assert_eq!(lines[2]["event"], "deposit 20");
        }
    }
}

#[test]
fn record_rows_show_one_line_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let events = file(&dir, "e.ndjson", &bank_events(3));
    let (status, stdout, _) = run(&[
        "replay",
        "--events",
        events.to_str().unwrap(),
        "--projection",
        "bank",
        "--rows",
        "records",
    ]);
    assert_eq!(status, 0);
    for header in [
        "Partition:Offset",
        "Key",
        "Event",
        "State After Event",
        "Output",
    ] {
        assert!(stdout.contains(header), "{header}: {stdout}");
    }
    assert!(stdout.contains("│ 0:2 "), "{stdout}");
    assert!(stdout.contains("Current balance: 6"), "{stdout}");
    assert_eq!(stdout.matches("deposit ").count(), 3, "{stdout}");
}

#[test]
fn key_folds_and_shows_one_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let events = file(
        &dir,
        "users.ndjson",
        "{\"event\":\"UserRegistered\",\"userId\":\"u1\",\"timestamp\":\"t1\"}\n\
         {\"event\":\"UserRegistered\",\"userId\":\"u2\",\"timestamp\":\"t2\"}\n\
         {\"event\":\"UserLoggedIn\",\"userId\":\"u2\",\"timestamp\":\"t3\"}\n",
    );
    let path = events.to_str().unwrap();
    let everyone = json_of(&[
        "replay",
        "--events",
        path,
        "--projection",
        "users",
        "--output",
        "json",
        "--final-only",
    ]);
    assert_eq!(everyone["aggregates"].as_array().unwrap().len(), 2);
    let report = json_of(&[
        "replay",
        "--events",
        path,
        "--projection",
        "users",
        "--key",
        "u2",
        "--output",
        "json",
    ]);
    assert_eq!(report["events"], 2, "only u2's events: {report}");
    assert_eq!(report["steps"].as_array().unwrap().len(), 11);
    let aggregates = report["aggregates"].as_array().unwrap();
    assert_eq!(aggregates.len(), 1);
    assert_eq!(aggregates[0]["aggregate"], "u2");
    assert_eq!(aggregates[0]["state"], everyone["state"]["u2"]);
}

#[test]
fn a_replay_that_applied_nothing_says_so() {
    let (status, stdout, _) = run(&[
        "replay",
        "--scenario",
        "orders",
        "--projection",
        "bank",
        "--final-only",
    ]);
    assert_eq!(status, 0);
    assert!(
        stdout.contains(
            "2 event(s): 0 applied, 2 rejected. Nothing was applied: projection bank refused every event (the first: offset 0 (partition 0): "
        ),
        "{stdout}"
    );
}

#[test]
fn rows_stream_while_the_input_is_still_open() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    // A pipe that stays open, as `tail -f log | eventfold replay` would be: the first
    // rows must come out before the input ends.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("eventfold"))
        .args(["replay", "--events", "-", "--projection", "bank"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"type\":\"deposit\",\"amount\":100}\n")
        .unwrap();
    stdin.flush().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.contains("Current balance: 100"))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no row within 10 s while the input is open; got {seen:?}"),
        }
    }
    stdin
        .write_all(b"{\"type\":\"deposit\",\"amount\":20}\n")
        .unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    let rest: Vec<String> = rx.iter().collect();
    assert!(
        rest.iter().any(|l| l == "Final state: {\"balance\":120}"),
        "{rest:?}"
    );
}

#[test]
fn final_only_of_a_long_file_folds_every_event() {
    // The text fast path and the general one agree on the whole file, bad lines too.
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let mut text = bank_events(n);
    text.push_str("{\"type\":\"deposit\",\"amount\":1.5}\nnot json\n");
    let events = file(&dir, "big.ndjson", &text);
    let path = events.to_str().unwrap();
    let spec = file(
        &dir,
        "bank.json",
        eventfold_core::decl::twin("bank").unwrap(),
    );
    for projection in ["bank", spec.to_str().unwrap()] {
        let fast = json_of(&[
            "replay",
            "--events",
            path,
            "--projection",
            projection,
            "--output",
            "json",
            "--final-only",
        ]);
        assert_eq!(
            fast["state"],
            json!({"balance": bank_balance(n)}),
            "{projection}"
        );
        assert_eq!(fast["events"], n + 2);
        assert_eq!(fast["rejected"], 2);
        assert_eq!(
            fast["errors"][0]["message"], "field `amount` must be an integer, got 1.5",
            "{projection}"
        );
        let full = json_of(&[
            "replay",
            "--events",
            path,
            "--projection",
            projection,
            "--output",
            "json",
        ]);
        assert_eq!(full["state"], fast["state"]);
        assert_eq!(full["errors"], fast["errors"]);
    }
}

#[test]
fn options_that_only_apply_to_a_topic_or_are_wrong_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("image.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    check_refused(
        &[
            "replay",
            "--events",
            png.to_str().unwrap(),
            "--projection",
            "bank",
        ],
        "image.png is not a text file of events (a NUL byte at position 8): --events reads NDJSON, one JSON event per line",
    );
    check_refused(
        &[
            "replay",
            "--events",
            dir.path().to_str().unwrap(),
            "--projection",
            "bank",
        ],
        "cannot read events file",
    );
    check_refused(
        &["replay", "--scenario", "bank", "--follow"],
        "eventfold replay: --follow only applies to --topic",
    );
    check_refused(
        &["replay", "--scenario", "bank", "--until", "count:3"],
        "eventfold replay: --until only applies to --topic",
    );
    check_refused(
        &["replay", "--scenario", "bank", "--from", "tail:3"],
        "eventfold replay: --from only applies to --topic",
    );
    check_refused(
        &[
            "replay",
            "--topic",
            "t",
            "--projection",
            "bank",
            "--from",
            "tail:x",
        ],
        "tail:x: expected tail:N with N a whole number ≥ 0",
    );
    check_refused(
        &[
            "replay",
            "--topic",
            "t",
            "--projection",
            "bank",
            "--from",
            "group:",
        ],
        "group: needs a consumer group's name",
    );
    check_refused(
        &[
            "replay",
            "--topic",
            "t",
            "--projection",
            "bank",
            "--from",
            "soon",
        ],
        "expected beginning, latest, offsets:P=O[,P=O…], timestamp:MS, group:NAME or tail:N",
    );
    check_refused(
        &[
            "replay",
            "--topic",
            "t",
            "--projection",
            "bank",
            "--until",
            "later",
        ],
        "expected offsets:P=O[,P=O…], timestamp:MS or count:N",
    );
    check_refused(
        &[
            "replay",
            "--topic",
            "t",
            "--projection",
            "bank",
            "--partitions",
            "0,x",
        ],
        "invalid value 'x' for '--partitions",
    );
    check_refused(
        &["replay", "--scenario", "bank", "--rows", "cells"],
        "invalid value 'cells' for '--rows",
    );
}
