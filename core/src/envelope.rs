//! A Kafka record as the fold sees it.
//!
//! The envelope carries everything Kafka knows about a record (where it sits in the
//! log, its key, its time, its headers) separately from the payload the projection
//! interprets. Ids, offsets and timestamps arrive here from outside: core never reads a
//! clock or invents an offset.

use serde_json::Value;

/// One record header. Kafka allows repeated names and null values, so headers are a
/// list, not a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Option<Vec<u8>>,
}

/// The record's value, decoded once when the envelope is built.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// The value parsed as JSON.
    Json(Value),
    /// A null value: a Kafka tombstone. The fold deletes the record's aggregate.
    Tombstone,
    /// Bytes that are not JSON. The decode error is kept so an error row can say why.
    Raw { bytes: Vec<u8>, error: String },
}

impl Payload {
    /// Decodes raw record bytes: JSON when they parse, otherwise the bytes and the
    /// reason they did not.
    pub fn decode(bytes: Option<&[u8]>) -> Payload {
        let Some(bytes) = bytes else {
            return Payload::Tombstone;
        };
        // JSON is UTF-8 text, so bytes that are not UTF-8 are never JSON. The text is
        // parsed with `Value`'s own `FromStr` rather than the generic
        // `serde_json::from_slice`: that keeps the parser, the hot path of every fold,
        // generated inside serde_json, which the page's profile optimises for speed
        // while eventfold-core stays optimised for size (root Cargo.toml, docs/perf.md).
        let parsed = match std::str::from_utf8(bytes) {
            Ok(text) => text
                .parse::<Value>()
                .map_err(|err| format!("value is not JSON: {err}")),
            Err(utf8) => Err(format!(
                "value is not UTF-8 text (invalid byte at position {})",
                utf8.valid_up_to()
            )),
        };
        match parsed {
            Ok(value) => Payload::Json(value),
            Err(error) => Payload::Raw {
                bytes: bytes.to_vec(),
                error,
            },
        }
    }

    /// The JSON value, if the payload is JSON.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Payload::Json(value) => Some(value),
            _ => None,
        }
    }
}

/// A Kafka record: its coordinates, key, timestamp, headers and decoded value.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// Milliseconds since the Unix epoch, as Kafka stores it.
    pub timestamp: i64,
    pub headers: Vec<Header>,
    pub value: Payload,
}

impl Envelope {
    /// An envelope for a JSON event on partition 0 at `offset`, with no key, no
    /// headers and timestamp 0: what a hand-written lesson needs.
    pub fn json(topic: &str, offset: i64, value: Value) -> Envelope {
        Envelope {
            topic: topic.to_owned(),
            partition: 0,
            offset,
            key: None,
            timestamp: 0,
            headers: Vec::new(),
            value: Payload::Json(value),
        }
    }

    /// The same envelope with a key.
    pub fn with_key(mut self, key: impl Into<Vec<u8>>) -> Envelope {
        self.key = Some(key.into());
        self
    }

    /// The same envelope with a timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Envelope {
        self.timestamp = timestamp;
        self
    }

    /// The same envelope on another partition.
    pub fn with_partition(mut self, partition: i32) -> Envelope {
        self.partition = partition;
        self
    }

    /// The key as text: UTF-8 keys as they are, other bytes as lowercase hex with a
    /// `0x` prefix so they stay distinct and printable.
    pub fn key_text(&self) -> Option<String> {
        self.key.as_deref().map(bytes_as_text)
    }
}

/// Bytes as text: UTF-8 as is, anything else as `0x…` hex.
pub fn bytes_as_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            let mut out = String::with_capacity(2 + bytes.len() * 2);
            out.push_str("0x");
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(bytes: Option<&[u8]>, expected: Payload) {
        assert_eq!(Payload::decode(bytes), expected);
    }

    #[test]
    fn decodes_json_tombstones_and_garbage() {
        check(
            Some(br#"{"type":"deposit","amount":100}"#),
            Payload::Json(json!({"type":"deposit","amount":100})),
        );
        check(None, Payload::Tombstone);
        let Payload::Raw { error, .. } = Payload::decode(Some(b"{\"type\":")) else {
            panic!("truncated JSON must be raw");
        };
        assert!(error.starts_with("value is not JSON: EOF"), "{error}");
        let Payload::Raw { error, bytes } = Payload::decode(Some(&[0x7b, 0xff, 0xfe])) else {
            panic!("non-UTF-8 must be raw");
        };
        assert_eq!(
            error,
            "value is not UTF-8 text (invalid byte at position 1)"
        );
        assert_eq!(bytes, vec![0x7b, 0xff, 0xfe], "raw bytes are kept");
    }

    #[test]
    fn keys_print_as_text_or_hex() {
        let env = Envelope::json("t", 0, json!({})).with_key("order-1");
        assert_eq!(env.key_text().as_deref(), Some("order-1"));
        let env = env.with_key(vec![0xff, 0x01]);
        assert_eq!(env.key_text().as_deref(), Some("0xff01"));
    }
}
