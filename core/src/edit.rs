//! Edits of the event editor's text made with buttons: append a command's event,
//! delete an event, insert a copy of one before it.
//!
//! Each edit changes one line of the text and leaves every other line exactly as
//! typed, mistakes included, so nothing already entered is lost. Events are named
//! the way the topic log shows them, by partition and offset; the line that holds
//! one is found by reading the text as the editor does ([`lesson::parse_editor`]).

use crate::lesson;

/// `text` with `line` appended as a line of its own.
pub fn append(text: &str, line: &str) -> String {
    let mut out = String::with_capacity(text.len() + line.len() + 2);
    out.push_str(text);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// The 0-based editor line of the event at `offset` of `partition`.
fn line_of(topic: &str, text: &str, partition: i32, offset: i64) -> Option<usize> {
    let log = lesson::parse_editor(topic, text);
    let index = log
        .events
        .iter()
        .position(|e| e.partition == partition && e.offset == offset)?;
    usize::try_from(*log.lines.get(index)?).ok()
}

/// `text` without the line of the event at `offset` of `partition`; `None` when no
/// event is there.
pub fn delete(topic: &str, text: &str, partition: i32, offset: i64) -> Option<String> {
    let line = line_of(topic, text, partition, offset)?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    Some(
        lines
            .iter()
            .enumerate()
            .filter(|(n, _)| *n != line)
            .map(|(_, l)| *l)
            .collect(),
    )
}

/// `text` with a copy of the line of the event at `offset` of `partition` inserted
/// before it (the learner then edits the copy, or keeps it as a duplicate delivery);
/// `None` when no event is there.
pub fn insert_copy_before(topic: &str, text: &str, partition: i32, offset: i64) -> Option<String> {
    let line = line_of(topic, text, partition, offset)?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let copy = lines.get(line)?;
    let mut out = String::with_capacity(text.len() + copy.len() + 1);
    for (n, l) in lines.iter().enumerate() {
        if n == line {
            out.push_str(copy.trim_end_matches(['\n', '\r']));
            out.push('\n');
        }
        out.push_str(l);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "{\"a\":1}\n\nnot json\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n{\"a\":4}";

    fn check(got: Option<String>, expected: Option<&str>) {
        assert_eq!(got.as_deref(), expected);
    }

    #[test]
    fn append_puts_the_event_on_a_line_of_its_own() {
        assert_eq!(append("", "{\"a\":1}"), "{\"a\":1}\n");
        assert_eq!(append("x\n", "{\"a\":1}"), "x\n{\"a\":1}\n");
        assert_eq!(append("x", "{\"a\":1}"), "x\n{\"a\":1}\n");
    }

    #[test]
    fn delete_removes_only_the_events_line() {
        // Partition 0 numbers its records 0 ("a":1), 1 (not json), 2 ("a":4).
        check(
            delete("t", TEXT, 0, 1),
            Some("{\"a\":1}\n\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n{\"a\":4}"),
        );
        check(
            delete("t", TEXT, 1, 0),
            Some("{\"a\":1}\n\nnot json\n{\"a\":4}"),
        );
        check(
            delete("t", TEXT, 0, 2),
            Some("{\"a\":1}\n\nnot json\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n"),
        );
        check(delete("t", TEXT, 0, 3), None);
        check(delete("t", TEXT, 2, 0), None);
    }

    #[test]
    fn insert_copies_the_line_before_itself() {
        check(
            insert_copy_before("t", TEXT, 1, 0),
            Some(
                "{\"a\":1}\n\nnot json\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n\
                 {\"@key\":\"k\",\"@partition\":1,\"a\":3}\n{\"a\":4}",
            ),
        );
        check(
            insert_copy_before("t", TEXT, 0, 2),
            Some(
                "{\"a\":1}\n\nnot json\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n{\"a\":4}\n{\"a\":4}",
            ),
        );
        check(insert_copy_before("t", "", 0, 0), None);
    }
}
