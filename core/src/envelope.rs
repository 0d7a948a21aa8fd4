//! A Kafka record as the fold sees it.
//!
//! The envelope carries everything Kafka knows about a record (where it sits in the
//! log, its key, its time, its headers) separately from the payload the projection
//! interprets. Ids, offsets and timestamps arrive here from outside: core never reads a
//! clock or invents an offset.

use std::fmt;

use serde_json::Value;

/// A Kafka record key (or a payload field naming an aggregate), kept exactly.
///
/// Text and bytes stay apart, so two keys are one aggregate only when their bytes are
/// equal: the bytes `41 ff` (not UTF-8, displayed `0x41ff`) and the text `0x41ff` are
/// two keys. A record with no key has no `Key` at all (`None` in an
/// [`AggregateId`](crate::projection::AggregateId)), so it never meets the text
/// `(no key)` either. The order (text first, then bytes) is the order views list
/// aggregates in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// A key that is UTF-8 text, or a string or number field of the payload.
    Text(String),
    /// A key that is not UTF-8 text.
    Bytes(Vec<u8>),
}

impl Key {
    /// The key of record bytes: UTF-8 text as text, anything else as bytes.
    pub fn from_bytes(bytes: &[u8]) -> Key {
        match std::str::from_utf8(bytes) {
            Ok(text) => Key::Text(text.to_owned()),
            Err(_) => Key::Bytes(bytes.to_vec()),
        }
    }

    /// The text of a text key.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Key::Text(text) => Some(text),
            Key::Bytes(_) => None,
        }
    }

    /// The key's exact, machine-readable JSON form: a text key as a string, bytes as
    /// `{"bytes_hex":"41ff"}`. Unlike [`Display`](fmt::Display), two distinct keys never
    /// have the same form.
    pub fn to_json(&self) -> Value {
        match self {
            Key::Text(text) => Value::String(text.clone()),
            Key::Bytes(bytes) => {
                let mut map = serde_json::Map::new();
                map.insert(BYTES_HEX.into(), Value::String(hex(bytes)));
                Value::Object(map)
            }
        }
    }
}

impl Key {
    /// The key back from its exact JSON form ([`Key::to_json`]); `None` for anything
    /// else (odd or non-hex digits included).
    pub fn from_json(value: &Value) -> Option<Key> {
        match value {
            Value::String(text) => Some(Key::Text(text.clone())),
            Value::Object(map) if map.len() == 1 => {
                let digits = map.get(BYTES_HEX)?.as_str()?;
                unhex(digits).map(Key::Bytes)
            }
            _ => None,
        }
    }

    /// The key's bytes, as Kafka holds them.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Text(text) => text.as_bytes(),
            Key::Bytes(bytes) => bytes,
        }
    }
}

/// Bytes from hex digits, two a byte; `None` unless every pair is hex.
pub(crate) fn unhex(digits: &str) -> Option<Vec<u8>> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The field of a bytes key's exact JSON form, `{"bytes_hex":"41ff"}`.
pub const BYTES_HEX: &str = "bytes_hex";

/// A key as people read it: text as it is, bytes as lowercase hex after `0x`. This is
/// for display only: it can be the same for two keys (see [`Key::to_json`]).
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Text(text) => f.write_str(text),
            Key::Bytes(bytes) => write!(f, "0x{}", hex(bytes)),
        }
    }
}

impl serde::Serialize for Key {
    /// Serializes as [`Key::to_json`]: the exact form, so machine readers can tell a
    /// bytes key from a text key that looks like its hex.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Text(text) => serializer.serialize_str(text),
            Key::Bytes(bytes) => {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(BYTES_HEX, &hex(bytes))?;
                map.end()
            }
        }
    }
}

impl From<&str> for Key {
    fn from(text: &str) -> Key {
        Key::Text(text.to_owned())
    }
}

impl From<String> for Key {
    fn from(text: String) -> Key {
        Key::Text(text)
    }
}

/// Lowercase hex digits of bytes, two a byte.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

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
            Ok(value) => Payload::from_json(value),
            Err(error) => Payload::Raw {
                bytes: bytes.to_vec(),
                error,
            },
        }
    }

    /// A parsed JSON value as a payload, unless it holds a number the fold cannot keep
    /// exactly (see [`inexact_number`]): that one becomes a raw payload whose error names
    /// the field, so the fold shows an error row instead of a rounded number.
    pub fn from_json(value: Value) -> Payload {
        match inexact_number(&value) {
            None => Payload::Json(value),
            Some((path, number)) => {
                let place = if path.is_empty() {
                    "the value".to_owned()
                } else {
                    format!("field `{path}`")
                };
                Payload::Raw {
                    bytes: value.to_string().into_bytes(),
                    error: format!(
                        "{place} holds an integer beyond the 64-bit range (about {number}); \
                         eventfold keeps numbers exactly and will not round it"
                    ),
                }
            }
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

    /// The record's key, exactly: what names its aggregate by default.
    pub fn aggregate_key(&self) -> Option<Key> {
        self.key.as_deref().map(Key::from_bytes)
    }

    /// The key as people read it (see [`Key`]'s `Display`): UTF-8 keys as they are,
    /// other bytes as lowercase hex with a `0x` prefix. For display only: the bytes
    /// `41 ff` and the text `0x41ff` have the same text, so anything that tells keys
    /// apart uses [`Envelope::aggregate_key`].
    pub fn key_text(&self) -> Option<String> {
        self.key.as_deref().map(bytes_as_text)
    }
}

/// The first number in `value` that JSON parsing could not keep exactly, with its
/// path (`items[2].amount`, empty for the value itself).
///
/// serde_json (without its `arbitrary_precision` feature, which costs the page about
/// 20 KB gzipped and the general fold about 30%: docs/perf.md, "Exact numbers") reads
/// an integer beyond `i64`/`u64` as the nearest `f64`: 12345678901234567890123 would
/// come out as 1.2345678901234568e22. Such a number is an `f64` with no fraction at or
/// beyond 2^63 in size, which integers that fit never are, so it is found after the fact.
/// A float written with an exponent that large (`1e22`) is refused too: the fold cannot
/// tell it from a rounded integer.
///
/// The number comes back as serde_json prints it (`1.2345678901234568e22`): its own
/// float printer, already in the page, rather than `{:e}`, which would add Rust's.
pub fn inexact_number(value: &Value) -> Option<(String, serde_json::Number)> {
    // 2^63: at and beyond it an f64 with no fraction is not an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    match value {
        Value::Number(n) => {
            let f = n.as_f64().filter(|_| n.is_f64())?;
            (f.fract() == 0.0 && f.abs() >= LIMIT).then(|| (String::new(), n.clone()))
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let (path, f) = inexact_number(item)?;
            Some((
                format!(
                    "[{i}]{}{path}",
                    if path.starts_with('[') || path.is_empty() {
                        ""
                    } else {
                        "."
                    }
                ),
                f,
            ))
        }),
        Value::Object(map) => map.iter().find_map(|(name, item)| {
            let (path, f) = inexact_number(item)?;
            let sep = if path.starts_with('[') || path.is_empty() {
                ""
            } else {
                "."
            };
            Some((format!("{name}{sep}{path}"), f))
        }),
        _ => None,
    }
}

/// Bytes as text: UTF-8 as is, anything else as `0x…` hex (display only, see [`Key`]).
pub fn bytes_as_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("0x{}", hex(bytes)),
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
