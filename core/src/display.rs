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

/// Labels shown at each end of a long topic; the ones between are counted.
pub const SHOWN_EACH_SIDE: usize = 3;

/// The labels a streamed replay needs for the Kafka Topic State column, kept as events
/// arrive without keeping the topic: the first [`SHOWN_EACH_SIDE`] and the last few.
/// It answers for the topic as it stands and as it stood one event earlier (a command
/// row shows the topic before its event was appended), in memory that does not grow
/// with the topic.
#[derive(Debug, Clone, Default)]
pub struct TopicWindow {
    len: usize,
    first: Vec<String>,
    /// The last labels, oldest first: enough for a topic one event shorter than `len`.
    last: std::collections::VecDeque<String>,
}

impl TopicWindow {
    /// Labels kept at the end: the last [`SHOWN_EACH_SIDE`] of a topic one event shorter,
    /// and, while the topic is short enough to show whole, everything after the first.
    const KEPT_LAST: usize = SHOWN_EACH_SIDE + 2;

    /// Appends the next event's label.
    pub fn push(&mut self, label: String) {
        if self.first.len() < SHOWN_EACH_SIDE {
            self.first.push(label.clone());
        }
        if self.last.len() == Self::KEPT_LAST {
            self.last.pop_front();
        }
        self.last.push_back(label);
        self.len += 1;
    }

    /// Events on the topic.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The label of event `index`, if it is still kept.
    fn label(&self, index: usize) -> Option<&str> {
        let last_start = self.len - self.last.len();
        if index >= last_start {
            self.last.get(index - last_start).map(String::as_str)
        } else {
            self.first.get(index).map(String::as_str)
        }
    }

    /// The column's text for the first `len` events, as [`topic_with`] writes it;
    /// `len` is the topic's length or one less.
    pub fn text(&self, len: usize) -> String {
        topic_with(len.min(self.len), |i| {
            self.label(i).unwrap_or_default().to_owned()
        })
    }

    /// The first `len` events as the JSON reports give them: `size`, the labels at the
    /// head and those at the tail, the ones between counted in `size` only.
    pub fn json(&self, len: usize) -> Value {
        let len = len.min(self.len);
        let label = |i: usize| Value::from(self.label(i).unwrap_or_default());
        let (head, tail): (Vec<Value>, Vec<Value>) = if len <= 2 * SHOWN_EACH_SIDE + 1 {
            ((0..len).map(label).collect(), Vec::new())
        } else {
            (
                (0..SHOWN_EACH_SIDE).map(label).collect(),
                (len - SHOWN_EACH_SIDE..len).map(label).collect(),
            )
        };
        serde_json::json!({"size": len, "head": head, "tail": tail})
    }
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

    #[test]
    fn a_topic_window_writes_what_the_whole_topic_would() {
        let labels: Vec<String> = (0..12).map(|i| format!("e{i}")).collect();
        let mut window = TopicWindow::default();
        for (n, label) in labels.iter().enumerate() {
            window.push(label.clone());
            for len in [n, n + 1] {
                let whole = topic_with(len, |i| labels[i].clone());
                assert_eq!(
                    window.text(len),
                    whole,
                    "topic of {len} after {} events",
                    n + 1
                );
            }
        }
        assert_eq!(
            window.json(12),
            json!({"size": 12, "head": ["e0", "e1", "e2"], "tail": ["e9", "e10", "e11"]})
        );
        assert_eq!(
            window.json(11),
            json!({"size": 11, "head": ["e0", "e1", "e2"], "tail": ["e8", "e9", "e10"]})
        );
    }
}
