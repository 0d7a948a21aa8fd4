//! Wire types of the bridge's WebSocket protocol (docs/protocol.md), defined once and
//! used by both the bridge and the page.
//!
//! Keys, values and header values travel as [`WireBytes`]: the JSON value itself when
//! the bytes are JSON, a string when they are other UTF-8 text, and
//! `{"base64":"…"}` otherwise, so nothing a broker holds is lost or crashes a reader.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::{Envelope, Header, Payload};

/// Version of the protocol this build speaks.
pub const PROTOCOL_VERSION: i32 = 1;

/// Bytes as they travel in a JSON frame. See the module docs for the three forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WireBytes(pub Value);

impl WireBytes {
    /// Encodes bytes: JSON as its value, UTF-8 text as a string, else base64.
    pub fn encode(bytes: &[u8]) -> WireBytes {
        if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
            return WireBytes(value);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => WireBytes(Value::String(text.to_owned())),
            Err(_) => WireBytes(serde_json::json!({ "base64": BASE64.encode(bytes) })),
        }
    }

    /// The bytes a producer should write for this value: `{"base64":…}` decoded, a
    /// string as its text, any other JSON value serialized.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        match &self.0 {
            Value::String(text) => Ok(text.as_bytes().to_vec()),
            Value::Object(map) if map.len() == 1 && map.contains_key("base64") => {
                let text = map["base64"].as_str().ok_or(WireError::Base64NotString)?;
                BASE64
                    .decode(text)
                    .map_err(|e| WireError::Base64(e.to_string()))
            }
            other => Ok(other.to_string().into_bytes()),
        }
    }
}

/// A record header on the wire. Kafka allows repeated names, so headers are a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireHeader {
    pub name: String,
    pub value: Option<WireBytes>,
}

/// A Kafka record as the bridge sends it in a `records` batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<WireBytes>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    #[serde(default)]
    pub headers: Vec<WireHeader>,
    /// `null` for a tombstone.
    pub value: Option<WireBytes>,
}

/// A wire value that cannot be turned back into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("`base64` must be a string")]
    Base64NotString,
    #[error("invalid base64: {0}")]
    Base64(String),
}

impl Record {
    /// The wire form of an envelope.
    pub fn from_envelope(envelope: &Envelope) -> Record {
        let value = match &envelope.value {
            Payload::Json(value) => Some(WireBytes(value.clone())),
            Payload::Tombstone => None,
            Payload::Raw { bytes, .. } => Some(WireBytes::encode(bytes)),
        };
        Record {
            topic: envelope.topic.clone(),
            partition: envelope.partition,
            offset: envelope.offset,
            key: envelope.key.as_deref().map(WireBytes::encode),
            timestamp: envelope.timestamp,
            headers: envelope
                .headers
                .iter()
                .map(|h| WireHeader {
                    name: h.name.clone(),
                    value: h.value.as_deref().map(WireBytes::encode),
                })
                .collect(),
            value,
        }
    }

    /// The envelope the fold sees. A string value is text that was not JSON, so it
    /// becomes a raw payload with that reason; a value that cannot be decoded back to
    /// bytes is an error.
    pub fn to_envelope(&self) -> Result<Envelope, WireError> {
        let value = match &self.value {
            None => Payload::Tombstone,
            Some(wire) if is_text_or_base64(wire) => Payload::decode(Some(&wire.to_bytes()?)),
            Some(WireBytes(value)) => Payload::Json(value.clone()),
        };
        let headers = self
            .headers
            .iter()
            .map(|h| {
                Ok(Header {
                    name: h.name.clone(),
                    value: h.value.as_ref().map(WireBytes::to_bytes).transpose()?,
                })
            })
            .collect::<Result<_, WireError>>()?;
        Ok(Envelope {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            key: self.key.as_ref().map(WireBytes::to_bytes).transpose()?,
            timestamp: self.timestamp,
            headers,
            value,
        })
    }
}

fn is_text_or_base64(value: &WireBytes) -> bool {
    match value {
        WireBytes(Value::String(_)) => true,
        WireBytes(Value::Object(map)) => map.len() == 1 && map.contains_key("base64"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(bytes: &[u8], wire: Value) {
        let encoded = WireBytes::encode(bytes);
        assert_eq!(encoded.0, wire, "encoding {bytes:?}");
        if !matches!(wire, Value::String(_)) || serde_json::from_slice::<Value>(bytes).is_err() {
            assert_eq!(encoded.to_bytes().unwrap(), bytes, "round trip of {wire}");
        }
    }

    #[test]
    fn bytes_travel_as_json_text_or_base64() {
        check(
            br#"{"type":"deposit","amount":100}"#,
            json!({"type":"deposit","amount":100}),
        );
        check(b"hello world", json!("hello world"));
        check(&[0xff, 0x00, 0x10], json!({"base64": "/wAQ"}));
        check(b"42", json!(42));
    }

    #[test]
    fn records_round_trip_through_envelopes() {
        let envelope = Envelope {
            key: Some(b"acct-1".to_vec()),
            headers: vec![Header {
                name: "trace".into(),
                value: Some(vec![0xfe]),
            }],
            ..Envelope::json("bank", 7, json!({"type":"deposit","amount":5})).with_timestamp(99)
        };
        let record = Record::from_envelope(&envelope);
        let text = serde_json::to_value(&record).unwrap();
        assert_eq!(
            text,
            json!({"topic":"bank","partition":0,"offset":7,"key":"acct-1","timestamp":99,
                   "headers":[{"name":"trace","value":{"base64":"/g=="}}],
                   "value":{"type":"deposit","amount":5}})
        );
        assert_eq!(record.to_envelope().unwrap(), envelope);

        let raw = Envelope {
            value: Payload::decode(Some(&[0xff, 0x01])),
            ..envelope.clone()
        };
        assert_eq!(Record::from_envelope(&raw).to_envelope().unwrap(), raw);
        let tombstone = Envelope {
            value: Payload::Tombstone,
            ..envelope
        };
        assert_eq!(
            Record::from_envelope(&tombstone).to_envelope().unwrap(),
            tombstone
        );
    }
}
