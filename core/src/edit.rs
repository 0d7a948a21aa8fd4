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

/// The 0-based editor line of the event at `offset` of `partition`, counted the way
/// [`lesson::parse_editor`] numbers records: each partition from 0, in line order,
/// blank lines skipped. Only lines that mention a partition are parsed as JSON, so
/// a click on a million-event log scans its text once rather than parsing it.
fn line_of(text: &str, partition: i32, offset: i64) -> Option<usize> {
    let mut next = std::collections::BTreeMap::<i32, i64>::new();
    for (line, bytes) in crate::ndjson::lines(text.as_bytes()) {
        let on = if bytes.windows(9).any(|w| w == b"partition") {
            lesson::parse_editor("", std::str::from_utf8(bytes).unwrap_or_default())
                .events
                .first()
                .map_or(0, |e| e.partition)
        } else {
            0
        };
        let at = next.entry(on).or_insert(0);
        if on == partition && *at == offset {
            return usize::try_from(line).ok();
        }
        *at += 1;
    }
    None
}

/// `text` without the line of the event at `offset` of `partition`; `None` when no
/// event is there.
pub fn delete(text: &str, partition: i32, offset: i64) -> Option<String> {
    let line = line_of(text, partition, offset)?;
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
pub fn insert_copy_before(text: &str, partition: i32, offset: i64) -> Option<String> {
    let line = line_of(text, partition, offset)?;
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

    /// The line of every record, found by the fast scan, is the one the editor's
    /// own reader gives it.
    #[test]
    fn lines_are_found_as_the_editor_reads_them() {
        let text = format!(
            "{TEXT}\n\n{{\"@partition\":1,\"a\":5}}\n{{\"@partition\":9999,\"a\":6}}\n\
             {{\"@partition\":\"2\",\"a\":7}}\n\"partition\"\n{{\"@partition\":2}}\n"
        );
        let log = lesson::parse_editor("t", &text);
        for (event, line) in log.events.iter().zip(&log.lines) {
            assert_eq!(
                line_of(&text, event.partition, event.offset),
                Some(*line as usize),
                "partition {} offset {}",
                event.partition,
                event.offset
            );
        }
        assert_eq!(line_of(&text, 2, 1), None);
    }

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
            delete(TEXT, 0, 1),
            Some("{\"a\":1}\n\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n{\"a\":4}"),
        );
        check(delete(TEXT, 1, 0), Some("{\"a\":1}\n\nnot json\n{\"a\":4}"));
        check(
            delete(TEXT, 0, 2),
            Some("{\"a\":1}\n\nnot json\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n"),
        );
        check(delete(TEXT, 0, 3), None);
        check(delete(TEXT, 2, 0), None);
    }

    #[test]
    fn insert_copies_the_line_before_itself() {
        check(
            insert_copy_before(TEXT, 1, 0),
            Some(
                "{\"a\":1}\n\nnot json\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n\
                 {\"@key\":\"k\",\"@partition\":1,\"a\":3}\n{\"a\":4}",
            ),
        );
        check(
            insert_copy_before(TEXT, 0, 2),
            Some(
                "{\"a\":1}\n\nnot json\n{\"@key\":\"k\",\"@partition\":1,\"a\":3}\n{\"a\":4}\n{\"a\":4}",
            ),
        );
        check(insert_copy_before("", 0, 0), None);
    }
}
