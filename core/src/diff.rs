//! What changed between two states, for the page's state view.
//!
//! [`changes`] compares two JSON values and names every place that differs as a
//! path (`$.status`, `$.items[2]`, `$["user id"]`). [`pretty`] prints a value exactly
//! as `serde_json::to_string_pretty` does, one [`Line`] per line, each marked when it
//! shows something that changed, so the page can highlight lines without parsing
//! JSON itself.

use serde_json::Value;

/// How one place differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Present after, absent before.
    Added,
    /// Present before, absent after.
    Removed,
    /// Present in both with different values.
    Changed,
}

/// One place that differs between two values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where: `$` is the whole value, `$.a.b` a nested key, `$.list[0]` an item.
    pub path: String,
    pub kind: ChangeKind,
}

/// The places where `after` differs from `before`, in document order. Objects are
/// compared key by key and arrays item by item, so a change deep inside a large state
/// names only that spot; a value whose kind changed (say, a number that became an
/// object) is one change at its own path.
pub fn changes(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    compare(before, after, "$".to_owned(), &mut out);
    out
}

fn compare(before: &Value, after: &Value, path: String, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, value) in new {
                let child = key_path(&path, key);
                match old.get(key) {
                    Some(previous) => compare(previous, value, child, out),
                    None => out.push(Change {
                        path: child,
                        kind: ChangeKind::Added,
                    }),
                }
            }
            for key in old.keys().filter(|key| !new.contains_key(*key)) {
                out.push(Change {
                    path: key_path(&path, key),
                    kind: ChangeKind::Removed,
                });
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            for (i, value) in new.iter().enumerate() {
                let child = format!("{path}[{i}]");
                match old.get(i) {
                    Some(previous) => compare(previous, value, child, out),
                    None => out.push(Change {
                        path: child,
                        kind: ChangeKind::Added,
                    }),
                }
            }
            for i in new.len()..old.len() {
                out.push(Change {
                    path: format!("{path}[{i}]"),
                    kind: ChangeKind::Removed,
                });
            }
        }
        _ if before == after => {}
        _ => out.push(Change {
            path,
            kind: ChangeKind::Changed,
        }),
    }
}

/// `$.key` for identifier-like keys, `$["any key"]` for the rest, so a path reads
/// unambiguously whatever the key holds.
fn key_path(parent: &str, key: &str) -> String {
    let mut chars = key.chars();
    let identifier = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", Value::from(key))
    }
}

/// One line of a pretty-printed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// The line shows a changed or added value (or part of one).
    pub changed: bool,
}

/// `value` printed as `serde_json::to_string_pretty` prints it, line by line; a line
/// is marked when its path, or a path enclosing it, is among `changes` (removals have
/// no line of their own). Joining the texts with `\n` gives the pretty JSON.
pub fn pretty(value: &Value, changes: &[Change]) -> Vec<Line> {
    let marked: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Removed)
        .map(|c| c.path.as_str())
        .collect();
    let mut printer = Printer {
        marked,
        lines: Vec::new(),
        current: String::new(),
        current_changed: false,
    };
    printer.value(value, "$", false, 0);
    printer.finish_line();
    printer.lines
}

struct Printer<'a> {
    marked: Vec<&'a str>,
    lines: Vec<Line>,
    current: String,
    current_changed: bool,
}

impl Printer<'_> {
    fn finish_line(&mut self) {
        self.lines.push(Line {
            text: std::mem::take(&mut self.current),
            changed: std::mem::take(&mut self.current_changed),
        });
    }

    fn start_line(&mut self, depth: usize, changed: bool) {
        self.finish_line();
        self.current.push_str(&"  ".repeat(depth));
        self.current_changed = changed;
    }

    /// Prints `value` at the end of the current line; `inherited` is true inside a
    /// changed value, so all its lines are marked.
    fn value(&mut self, value: &Value, path: &str, inherited: bool, depth: usize) {
        let changed = inherited || self.marked.contains(&path);
        self.current_changed |= changed;
        match value {
            Value::Object(map) if !map.is_empty() => {
                self.current.push('{');
                for (i, (key, item)) in map.iter().enumerate() {
                    let child = key_path(path, key);
                    let child_changed = changed || self.marked.contains(&child.as_str());
                    self.start_line(depth + 1, child_changed);
                    self.current
                        .push_str(&Value::from(key.as_str()).to_string());
                    self.current.push_str(": ");
                    self.value(item, &child, changed, depth + 1);
                    if i + 1 < map.len() {
                        self.current.push(',');
                    }
                }
                self.start_line(depth, changed);
                self.current.push('}');
            }
            Value::Array(items) if !items.is_empty() => {
                self.current.push('[');
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    self.start_line(depth + 1, changed);
                    self.value(item, &child, changed, depth + 1);
                    if i + 1 < items.len() {
                        self.current.push(',');
                    }
                }
                self.start_line(depth, changed);
                self.current.push(']');
            }
            // Scalars and empty containers print as compact JSON does.
            other => self.current.push_str(&other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(before: Value, after: Value, expected: &[(&str, ChangeKind)]) {
        let got: Vec<(String, ChangeKind)> = changes(&before, &after)
            .into_iter()
            .map(|c| (c.path, c.kind))
            .collect();
        let expected: Vec<(String, ChangeKind)> = expected
            .iter()
            .map(|(p, k)| ((*p).to_owned(), *k))
            .collect();
        assert_eq!(got, expected, "changes from {before} to {after}");
    }

    #[test]
    fn names_the_places_that_changed() {
        use ChangeKind::*;
        check(json!({"balance": 100}), json!({"balance": 100}), &[]);
        check(
            json!({"balance": 100}),
            json!({"balance": 60}),
            &[("$.balance", Changed)],
        );
        check(
            json!({}),
            json!({"orderId": 123, "status": "created"}),
            &[("$.orderId", Added), ("$.status", Added)],
        );
        check(
            json!({"orderId": 123, "status": "created"}),
            json!({"orderId": 123, "status": "shipped"}),
            &[("$.status", Changed)],
        );
        check(
            json!({"a": {"b": 1, "c": 2}}),
            json!({"a": {"b": 1}}),
            &[("$.a.c", Removed)],
        );
        check(
            json!({"log": [1, 2, 3]}),
            json!({"log": [1, 5]}),
            &[("$.log[1]", Changed), ("$.log[2]", Removed)],
        );
        check(
            json!({"123": {"n": 1}}),
            json!({"123": {"n": 2}, "user id": 1}),
            &[("$[\"123\"].n", Changed), ("$[\"user id\"]", Added)],
        );
        check(json!({"x": 1}), Value::Null, &[("$", Changed)]);
        check(json!(5), json!({"x": 1}), &[("$", Changed)]);
    }

    fn check_pretty(before: Value, after: Value, expected_marked: &[&str]) {
        let lines = pretty(&after, &changes(&before, &after));
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            text.join("\n"),
            serde_json::to_string_pretty(&after).unwrap(),
            "pretty text of {after}"
        );
        let marked: Vec<&str> = lines
            .iter()
            .filter(|l| l.changed)
            .map(|l| l.text.trim())
            .collect();
        assert_eq!(marked, expected_marked, "marked lines of {after}");
    }

    #[test]
    fn prints_like_serde_json_and_marks_changed_lines() {
        check_pretty(json!({}), json!({}), &[]);
        check_pretty(
            json!({"balance": 100}),
            json!({"balance": 60}),
            &["\"balance\": 60"],
        );
        check_pretty(
            json!({"orderId": 123, "status": "created"}),
            json!({"orderId": 123, "status": "shipped"}),
            &["\"status\": \"shipped\""],
        );
        check_pretty(
            json!({"a": 1}),
            json!({"a": 1, "b": {"c": [1, "x\"y"], "d": {}}}),
            &[
                "\"b\": {",
                "\"c\": [",
                "1,",
                "\"x\\\"y\"",
                "],",
                "\"d\": {}",
                "}",
            ],
        );
        check_pretty(json!(null), json!([]), &["[]"]);
        check_pretty(json!([1]), json!([1, null, 2.5]), &["null,", "2.5"]);
        check_pretty(json!("same"), json!("same"), &[]);
    }
}
