//! State as the seeds print it: `{orderId: 123, status: 'created'}`.
//!
//! The tutorials show state in JavaScript object notation, not JSON. The process table
//! uses this form so a learner sees the very text of the lesson; JSON output keeps JSON.

use serde_json::Value;

/// Renders a value in JavaScript object-literal style: identifier keys unquoted,
/// strings in single quotes, `, ` between items.
pub fn js(value: &Value) -> String {
    let mut out = String::new();
    write_js(value, &mut out);
    out
}

fn write_js(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_js(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if is_identifier(key) {
                    out.push_str(key);
                } else {
                    quote(key, out);
                }
                out.push_str(": ");
                write_js(item, out);
            }
            out.push('}');
        }
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A list of labels as the seeds print a topic: `[orderCreatedEvent, orderUpdatedEvent]`.
/// Long topics keep their first and last few labels around a count, so a row stays
/// readable for a million-event log.
pub fn topic<S: AsRef<str>>(labels: &[S]) -> String {
    topic_with(labels.len(), |i| labels[i].as_ref().to_owned())
}

/// [`topic`] for a topic of `len` events whose labels are made on demand: only the
/// labels printed are asked for, so a row of a million-event log costs seven labels.
pub fn topic_with(len: usize, mut label: impl FnMut(usize) -> String) -> String {
    const SHOWN_EACH_SIDE: usize = 3;
    let shown: Vec<String> = if len <= 2 * SHOWN_EACH_SIDE + 1 {
        (0..len).map(&mut label).collect()
    } else {
        let hidden = len - 2 * SHOWN_EACH_SIDE;
        let mut shown: Vec<String> = (0..SHOWN_EACH_SIDE).map(&mut label).collect();
        shown.push(format!("… {hidden} more"));
        shown.extend((len - SHOWN_EACH_SIDE..len).map(label));
        shown
    };
    format!("[{}]", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value, expected: &str) {
        assert_eq!(js(&value), expected);
    }

    #[test]
    fn prints_like_the_seeds() {
        check(json!({}), "{}");
        check(
            json!({"orderId": 123, "status": "created"}),
            "{orderId: 123, status: 'created'}",
        );
        check(json!({"balance": -5}), "{balance: -5}");
        check(
            json!({"a b": [1, "x", null, true], "o": {"k": 1.5}}),
            "{'a b': [1, 'x', null, true], o: {k: 1.5}}",
        );
        check(json!("it's"), "'it\\'s'");
    }

    #[test]
    fn topics_print_as_lists_and_shorten() {
        assert_eq!(topic::<&str>(&[]), "[]");
        assert_eq!(
            topic(&["orderCreatedEvent", "orderUpdatedEvent"]),
            "[orderCreatedEvent, orderUpdatedEvent]"
        );
        let many: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
        assert_eq!(topic(&many), "[e0, e1, e2, … 4 more, e7, e8, e9]");
    }
}
