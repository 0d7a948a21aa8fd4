//! Logs as NDJSON files: one event per line.
//!
//! An event's offset is its 0-based line index. Blank lines are skipped but keep
//! their index, like the gaps a compacted topic leaves in its offsets.

use crate::envelope::{Envelope, Payload};

/// Reads NDJSON bytes into envelopes on partition 0 of `topic`. Lines that are not
/// JSON (or not UTF-8) become raw payloads, so the fold reports them with their offset
/// instead of the reader failing.
pub fn parse(topic: &str, bytes: &[u8]) -> Vec<Envelope> {
    lines(bytes)
        .map(|(offset, line)| Envelope {
            topic: topic.to_owned(),
            partition: 0,
            offset,
            key: None,
            timestamp: 0,
            headers: Vec::new(),
            value: Payload::decode(Some(line)),
        })
        .collect()
}

/// The non-blank lines of `bytes` with their 0-based line index, `\r\n` endings
/// trimmed.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (i64, &[u8])> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .map(move |end| {
            let line = &bytes[start..end];
            start = end + 1;
            line.strip_suffix(b"\r").unwrap_or(line)
        })
        .enumerate()
        .map(|(i, line)| (i as i64, line))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_line_indexes_and_blank_lines_keep_theirs() {
        let text = b"{\"a\":1}\n\n  \r\n{\"a\":2}\r\nnot json\n";
        let events = parse("t", text);
        let offsets: Vec<i64> = events.iter().map(|e| e.offset).collect();
        assert_eq!(offsets, vec![0, 3, 4]);
        assert_eq!(events[1].value, Payload::Json(serde_json::json!({"a": 2})));
        assert!(matches!(events[2].value, Payload::Raw { .. }));
    }
}
