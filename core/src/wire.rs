//! Wire types of the bridge's WebSocket protocol (docs/protocol.md), defined once and
//! used by both the bridge and the page.
//!
//! Values and header values travel as [`WireBytes`]: the JSON value itself when the
//! bytes are JSON, a string when they are other UTF-8 text, and `{"base64":"…"}`
//! otherwise, so nothing a broker holds is lost or crashes a reader. The JSON values
//! that would read as one of the other forms (a JSON string, an object whose one
//! field is `base64` or `json`) travel wrapped as `{"json":…}`. Keys travel as their
//! text or as base64, never parsed: a key names an aggregate, so its bytes must come
//! back exactly (`"k"` with its quotes and `k` are two keys).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::envelope::{Envelope, Header, Payload};

/// Version of the protocol this build speaks. Version 2 (this one) sends keys as text
/// or base64 only and wraps the JSON values that version 1 sent ambiguously (a JSON
/// string read as non-JSON text) in `{"json":…}` (docs/protocol.md, "Bytes").
pub const PROTOCOL_VERSION: i32 = 2;

/// The field of the wrapper that marks a JSON value which would otherwise read as text
/// or base64: `{"json":"hello"}` is the JSON string `"hello"`.
pub const JSON_WRAPPER: &str = "json";

/// Bytes as they travel in a JSON frame. See the module docs for the three forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WireBytes(pub Value);

impl WireBytes {
    /// Encodes a value or header value: JSON as its value (wrapped when it would read
    /// as another form, see [`WireBytes::of_json`]), UTF-8 text as a string, else base64.
    pub fn encode(bytes: &[u8]) -> WireBytes {
        if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
            return WireBytes::of_json(value);
        }
        WireBytes::encode_key(bytes)
    }

    /// Encodes a key: UTF-8 text as a string, else base64. A key is never parsed as
    /// JSON, so it comes back as the very bytes it was (see [`crate::Key`]).
    pub fn encode_key(bytes: &[u8]) -> WireBytes {
        match std::str::from_utf8(bytes) {
            Ok(text) => WireBytes(Value::String(text.to_owned())),
            Err(_) => WireBytes(serde_json::json!({ "base64": BASE64.encode(bytes) })),
        }
    }

    /// A JSON value as it travels: itself, or `{"json":value}` when itself would read
    /// as text (a string), as a tombstone (`null`) or as a wrapper (an object whose one
    /// field is `base64` or `json`).
    pub fn of_json(value: Value) -> WireBytes {
        let ambiguous = match &value {
            Value::String(_) | Value::Null => true,
            Value::Object(map) => map.len() == 1 && is_wrapper_field(map),
            _ => false,
        };
        if ambiguous {
            let mut wrapper = serde_json::Map::new();
            wrapper.insert(JSON_WRAPPER.into(), value);
            WireBytes(Value::Object(wrapper))
        } else {
            WireBytes(value)
        }
    }

    /// The JSON value this stands for, `None` when it stands for text or base64 bytes.
    pub fn json(&self) -> Option<&Value> {
        match &self.0 {
            Value::String(_) => None,
            Value::Object(map) if map.len() == 1 && map.contains_key("base64") => None,
            Value::Object(map) if map.len() == 1 && map.contains_key(JSON_WRAPPER) => {
                map.get(JSON_WRAPPER)
            }
            other => Some(other),
        }
    }

    /// As [`WireBytes::json`], by value.
    pub fn into_json(self) -> Option<Value> {
        self.json()?;
        match self.0 {
            Value::Object(mut map) if map.len() == 1 && map.contains_key(JSON_WRAPPER) => {
                map.shift_remove(JSON_WRAPPER)
            }
            other => Some(other),
        }
    }

    /// The bytes a producer should write for this value: `{"base64":…}` decoded, a
    /// string as its text, `{"json":…}` and any other JSON value serialized.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        if let Some(json) = self.json() {
            return Ok(json.to_string().into_bytes());
        }
        match &self.0 {
            Value::String(text) => Ok(text.as_bytes().to_vec()),
            Value::Object(map) => {
                let text = map["base64"].as_str().ok_or(WireError::Base64NotString)?;
                BASE64
                    .decode(text)
                    .map_err(|e| WireError::Base64(e.to_string()))
            }
            // `json` is `None` only for strings and `{"base64":…}`.
            _ => Ok(Vec::new()),
        }
    }
}

/// Whether a one-field object's field names a wire form (`base64` or `json`).
fn is_wrapper_field(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("base64") || map.contains_key(JSON_WRAPPER)
}

/// A record header on the wire. Kafka allows repeated names, so headers are a list.
/// Unknown fields are refused, so a misspelt `value` in a `produce` frame is an error
/// rather than a header without a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
            Payload::Json(value) => Some(WireBytes::of_json(value.clone())),
            Payload::Tombstone => None,
            Payload::Raw { bytes, .. } => Some(WireBytes::encode(bytes)),
        };
        Record {
            topic: envelope.topic.clone(),
            partition: envelope.partition,
            offset: envelope.offset,
            key: envelope.key.as_deref().map(WireBytes::encode_key),
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
    /// becomes a raw payload with that reason (a JSON string arrives as `{"json":…}`
    /// and stays a JSON string); a value that cannot be decoded back to bytes is an
    /// error.
    pub fn to_envelope(&self) -> Result<Envelope, WireError> {
        let value = match &self.value {
            None => Payload::Tombstone,
            Some(wire) => match wire.json() {
                Some(value) => Payload::from_json(value.clone()),
                None => Payload::decode(Some(&wire.to_bytes()?)),
            },
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

/// Where a subscription starts reading, per the `from` field of `subscribe`:
/// `{"beginning":true}`, `{"latest":true}`, `{"offsets":{"0":5,"1":0}}` or
/// `{"timestamp":MS}`. The command line and page URLs write the same as text:
/// `beginning`, `latest`, `offsets:0=5,1=0`, `timestamp:MS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartFrom {
    Beginning(bool),
    Latest(bool),
    /// Next offset to read, per partition; partitions not listed start at the beginning.
    Offsets(#[serde(deserialize_with = "partition_map")] BTreeMap<i32, i64>),
    /// The first record at or after this time (ms since the epoch), per partition.
    Timestamp(i64),
}

/// A `from` text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid start {text:?}: {reason} (expected beginning, latest, offsets:P=O[,P=O…] or timestamp:MS)"
)]
pub struct StartFromError {
    pub text: String,
    pub reason: String,
}

impl std::str::FromStr for StartFrom {
    type Err = StartFromError;

    fn from_str(text: &str) -> Result<StartFrom, StartFromError> {
        let error = |reason: String| StartFromError {
            text: text.to_owned(),
            reason,
        };
        match text.split_once(':') {
            None if text == "beginning" => Ok(StartFrom::Beginning(true)),
            None if text == "latest" => Ok(StartFrom::Latest(true)),
            Some(("timestamp", ms)) => ms
                .parse()
                .map(StartFrom::Timestamp)
                .map_err(|e| error(format!("timestamp {ms:?}: {e}"))),
            Some(("offsets", list)) => {
                let mut offsets = BTreeMap::new();
                for pair in list.split(',') {
                    let (p, o) = pair
                        .split_once('=')
                        .ok_or_else(|| error(format!("{pair:?} is not PARTITION=OFFSET")))?;
                    let p: i32 = p
                        .parse()
                        .map_err(|e| error(format!("partition {p:?}: {e}")))?;
                    let o: i64 = o.parse().map_err(|e| error(format!("offset {o:?}: {e}")))?;
                    if p < 0 || o < 0 {
                        return Err(error(format!(
                            "{pair:?}: partitions and offsets are not negative"
                        )));
                    }
                    if offsets.insert(p, o).is_some() {
                        return Err(error(format!("partition {p} is given twice")));
                    }
                }
                Ok(StartFrom::Offsets(offsets))
            }
            _ => Err(error("unknown start".into())),
        }
    }
}

/// Reads a JSON object keyed by partition number (`{"0":5}`). JSON keys are strings;
/// serde's integer-key support is lost inside internally tagged enums, so parse here.
fn partition_map<'de, D>(deserializer: D) -> Result<BTreeMap<i32, i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = BTreeMap::<String, i64>::deserialize(deserializer)?;
    raw.into_iter()
        .map(|(key, value)| {
            let partition = key.parse::<i32>().map_err(|_| {
                serde::de::Error::custom(format!("partition {key:?} is not a partition number"))
            })?;
            Ok((partition, value))
        })
        .collect()
}

/// Reads `produce` headers as a list of `{"name":…,"value":…}` (the form records
/// carry), or as the older object of name to value.
fn header_list<'de, D>(deserializer: D) -> Result<Vec<WireHeader>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<WireHeader>),
        Object(BTreeMap<String, WireBytes>),
    }
    match Form::deserialize(deserializer) {
        Ok(Form::List(list)) => Ok(list),
        Ok(Form::Object(map)) => Ok(map
            .into_iter()
            .map(|(name, value)| WireHeader {
                name,
                value: Some(value),
            })
            .collect()),
        // The untagged enum's own message ("did not match any variant") names neither
        // form.
        Err(_) => Err(serde::de::Error::custom(
            "`headers` must be a list of {\"name\":…,\"value\":…} (or an object of name to value)",
        )),
    }
}

/// A request id, echoed in the reply. Clients may use strings or numbers.
pub type RequestId = Value;

/// A frame from the page (or any client) to the bridge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    ListTopics {
        #[serde(default)]
        id: RequestId,
    },
    Subscribe {
        id: String,
        topic: String,
        from: StartFrom,
        /// Only these partitions; all of them when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partitions: Option<Vec<i32>>,
    },
    Unsubscribe {
        id: String,
    },
    Pause {
        sub: String,
    },
    Resume {
        sub: String,
    },
    Produce {
        #[serde(default)]
        id: RequestId,
        topic: String,
        #[serde(default)]
        key: Option<WireBytes>,
        value: Option<WireBytes>,
        /// In order, repeated names allowed, as records carry them. The older object
        /// form (`{"name":value}`) is still read; it cannot repeat a name.
        #[serde(default, deserialize_with = "header_list")]
        headers: Vec<WireHeader>,
    },
    /// The offsets consumer group `group` has committed on `topic`: what that group has
    /// applied so far. The bridge only reads them; it never joins the group or commits.
    GroupOffsets {
        #[serde(default)]
        id: RequestId,
        group: String,
        topic: String,
    },
}

/// One partition of a topic, with its watermarks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    pub id: i32,
    /// Log-start offset (the first readable record).
    pub low: i64,
    /// High watermark (the offset the next record will get).
    pub high: i64,
}

/// A topic as `topics` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
}

/// Why a request failed. The connection stays usable after any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    UnknownTopic,
    Forbidden,
    TooLarge,
    OffsetOutOfRange,
    Kafka,
}

/// A frame from the bridge to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello {
        protocol: i32,
        produce: bool,
        topics: Vec<String>,
    },
    Topics {
        id: RequestId,
        topics: Vec<TopicInfo>,
    },
    Records {
        sub: String,
        records: Vec<Record>,
    },
    CaughtUp {
        sub: String,
        /// High watermark per partition seen at subscribe time.
        #[serde(deserialize_with = "partition_map")]
        high: BTreeMap<i32, i64>,
    },
    Produced {
        id: RequestId,
        partition: i32,
        offset: i64,
    },
    Error {
        #[serde(default)]
        id: RequestId,
        code: ErrorCode,
        message: String,
    },
    /// Reply to `group_offsets`: the committed offset (the next offset the group will
    /// read) per partition. A partition the group has committed nothing to is left out.
    GroupOffsets {
        id: RequestId,
        group: String,
        topic: String,
        #[serde(deserialize_with = "partition_map")]
        offsets: BTreeMap<i32, i64>,
    },
    /// The last frame before the bridge closes the connection on its own (the client
    /// fell too far behind, or the bridge is shutting down): where each subscription
    /// stopped, so subscribing again with these offsets continues without a gap or a
    /// duplicate.
    Closing {
        message: String,
        resume: Vec<Resume>,
    },
}

/// Where a subscription stopped, in a `closing` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub sub: String,
    pub topic: String,
    /// The next offset to read per partition, for every partition of which records were
    /// sent; the others resume from the subscription's original `from`.
    #[serde(deserialize_with = "partition_map")]
    pub offsets: BTreeMap<i32, i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Encodes `bytes` as a value and expects `wire`, which must decode back to the
    /// same bytes and to the same payload.
    fn check(bytes: &[u8], wire: Value) {
        let encoded = WireBytes::encode(bytes);
        assert_eq!(encoded.0, wire, "encoding {bytes:?}");
        assert_eq!(encoded.to_bytes().unwrap(), bytes, "round trip of {wire}");
        let payload = match encoded.json() {
            Some(value) => Payload::Json(value.clone()),
            None => Payload::decode(Some(&encoded.to_bytes().unwrap())),
        };
        assert_eq!(payload, Payload::decode(Some(bytes)), "payload of {wire}");
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
        // The JSON values version 1 sent ambiguously travel wrapped.
        check(br#""hello""#, json!({"json": "hello"}));
        check(br#"{"base64":"aGk="}"#, json!({"json": {"base64": "aGk="}}));
        check(br#"{"json":1}"#, json!({"json": {"json": 1}}));
        // The JSON null, which is not a tombstone (no value at all).
        check(b"null", json!({"json": null}));
    }

    /// Keys are never parsed: `"k"` with its quotes and `k` stay two keys.
    #[test]
    fn keys_travel_as_their_text_or_base64() {
        for (key, wire) in [
            (&b"acct-1"[..], json!("acct-1")),
            (br#""acct-1""#, json!("\"acct-1\"")),
            (b"123", json!("123")),
            (br#"{"id": 1}"#, json!("{\"id\": 1}")),
            (&[0x41, 0xff], json!({"base64": "Qf8="})),
        ] {
            let encoded = WireBytes::encode_key(key);
            assert_eq!(encoded.0, wire, "key {key:?}");
            assert_eq!(encoded.to_bytes().unwrap(), key, "key {key:?}");
        }
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

    fn check_from(text: &str, expected: Result<StartFrom, &str>) {
        assert_eq!(
            text.parse::<StartFrom>().map_err(|e| e.to_string()),
            expected.map_err(str::to_owned),
            "{text}"
        );
    }

    #[test]
    fn start_positions_parse_from_text() {
        check_from("beginning", Ok(StartFrom::Beginning(true)));
        check_from("latest", Ok(StartFrom::Latest(true)));
        check_from(
            "timestamp:1696161600000",
            Ok(StartFrom::Timestamp(1_696_161_600_000)),
        );
        check_from(
            "offsets:0=5,1=0",
            Ok(StartFrom::Offsets(BTreeMap::from([(0, 5), (1, 0)]))),
        );
        check_from(
            "offsets:0=5,0=6",
            Err(
                "invalid start \"offsets:0=5,0=6\": partition 0 is given twice (expected beginning, latest, offsets:P=O[,P=O…] or timestamp:MS)",
            ),
        );
        check_from(
            "offsets:0=-1",
            Err(
                "invalid start \"offsets:0=-1\": \"0=-1\": partitions and offsets are not negative (expected beginning, latest, offsets:P=O[,P=O…] or timestamp:MS)",
            ),
        );
        check_from(
            "offsets:x",
            Err(
                "invalid start \"offsets:x\": \"x\" is not PARTITION=OFFSET (expected beginning, latest, offsets:P=O[,P=O…] or timestamp:MS)",
            ),
        );
        check_from(
            "earliest",
            Err(
                "invalid start \"earliest\": unknown start (expected beginning, latest, offsets:P=O[,P=O…] or timestamp:MS)",
            ),
        );
    }

    fn check_client(text: &str, expected: Result<ClientMessage, &str>) {
        let got = serde_json::from_str::<ClientMessage>(text).map_err(|e| e.to_string());
        match (got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn client_frames_parse_as_documented() {
        check_client(
            r#"{"type":"list_topics","id":1}"#,
            Ok(ClientMessage::ListTopics { id: json!(1) }),
        );
        check_client(
            r#"{"type":"subscribe","id":"s1","topic":"bank","from":{"offsets":{"0":5,"1":0}}}"#,
            Ok(ClientMessage::Subscribe {
                id: "s1".into(),
                topic: "bank".into(),
                from: StartFrom::Offsets(BTreeMap::from([(0, 5), (1, 0)])),
                partitions: None,
            }),
        );
        check_client(
            r#"{"type":"subscribe","id":"s2","topic":"bank","from":{"beginning":true},"partitions":[1]}"#,
            Ok(ClientMessage::Subscribe {
                id: "s2".into(),
                topic: "bank".into(),
                from: StartFrom::Beginning(true),
                partitions: Some(vec![1]),
            }),
        );
        check_client(
            r#"{"type":"produce","id":"p1","topic":"bank","key":"acct-1","value":{"type":"deposit","amount":50},"headers":{"source":"page"}}"#,
            Ok(ClientMessage::Produce {
                id: json!("p1"),
                topic: "bank".into(),
                key: Some(WireBytes(json!("acct-1"))),
                value: Some(WireBytes(json!({"type":"deposit","amount":50}))),
                headers: vec![WireHeader {
                    name: "source".into(),
                    value: Some(WireBytes(json!("page"))),
                }],
            }),
        );
        // The list form, as records carry headers: repeated names, in order, and a
        // header without a value.
        check_client(
            r#"{"type":"produce","topic":"bank","value":1,"headers":[{"name":"trace","value":"a"},{"name":"trace","value":{"base64":"/w=="}},{"name":"flag","value":null}]}"#,
            Ok(ClientMessage::Produce {
                id: Value::Null,
                topic: "bank".into(),
                key: None,
                value: Some(WireBytes(json!(1))),
                headers: vec![
                    WireHeader {
                        name: "trace".into(),
                        value: Some(WireBytes(json!("a"))),
                    },
                    WireHeader {
                        name: "trace".into(),
                        value: Some(WireBytes(json!({"base64":"/w=="}))),
                    },
                    WireHeader {
                        name: "flag".into(),
                        value: None,
                    },
                ],
            }),
        );
        check_client(
            r#"{"type":"produce","topic":"bank","value":1,"headers":[{"name":"trace","vaule":"a"}]}"#,
            Err("`headers` must be a list of {\"name\":…,\"value\":…}"),
        );
        check_client(
            r#"{"type":"produce","topic":"bank","value":1,"headers":"trace=a"}"#,
            Err("`headers` must be a list of {\"name\":…,\"value\":…}"),
        );
        check_client(
            r#"{"type":"group_offsets","id":7,"group":"billing","topic":"bank"}"#,
            Ok(ClientMessage::GroupOffsets {
                id: json!(7),
                group: "billing".into(),
                topic: "bank".into(),
            }),
        );
        check_client(
            r#"{"type":"group_offsets","id":7,"topic":"bank"}"#,
            Err("missing field `group`"),
        );
        check_client(
            r#"{"type":"group_offsets","group":"g","topic":"bank","commit":{"0":5}}"#,
            Err("unknown field `commit`"),
        );
        check_client(
            r#"{"type":"pause","sub":"s1"}"#,
            Ok(ClientMessage::Pause { sub: "s1".into() }),
        );
        check_client(
            r#"{"type":"subscribe","id":"s1","topic":"t","from":{"earliest":true}}"#,
            Err("unknown variant `earliest`"),
        );
        check_client(
            r#"{"type":"drop_topic","id":1}"#,
            Err("unknown variant `drop_topic`"),
        );
        check_client(
            r#"{"type":"list_topics","brokers":"evil:9092"}"#,
            Err("unknown field `brokers`"),
        );
    }

    #[test]
    fn server_frames_serialize_as_documented() {
        let check = |message: ServerMessage, expected: Value| {
            assert_eq!(serde_json::to_value(&message).unwrap(), expected);
            assert_eq!(
                serde_json::from_value::<ServerMessage>(expected).unwrap(),
                message
            );
        };
        check(
            ServerMessage::Hello {
                protocol: PROTOCOL_VERSION,
                produce: false,
                topics: vec!["bank".into()],
            },
            json!({"type":"hello","protocol":2,"produce":false,"topics":["bank"]}),
        );
        check(
            ServerMessage::CaughtUp {
                sub: "s1".into(),
                high: BTreeMap::from([(0, 42)]),
            },
            json!({"type":"caught_up","sub":"s1","high":{"0":42}}),
        );
        check(
            ServerMessage::Error {
                id: json!("p1"),
                code: ErrorCode::OffsetOutOfRange,
                message: "offset 99 is past the high watermark 42 of partition 0".into(),
            },
            json!({"type":"error","id":"p1","code":"offset_out_of_range","message":"offset 99 is past the high watermark 42 of partition 0"}),
        );
        check(
            ServerMessage::Topics {
                id: json!(1),
                topics: vec![TopicInfo {
                    name: "bank".into(),
                    partitions: vec![PartitionInfo {
                        id: 0,
                        low: 0,
                        high: 3,
                    }],
                }],
            },
            json!({"type":"topics","id":1,"topics":[{"name":"bank","partitions":[{"id":0,"low":0,"high":3}]}]}),
        );
        check(
            ServerMessage::Closing {
                message: "too slow".into(),
                resume: vec![Resume {
                    sub: "s1".into(),
                    topic: "bank".into(),
                    offsets: BTreeMap::from([(0, 43), (1, 7)]),
                }],
            },
            json!({"type":"closing","message":"too slow","resume":[{"sub":"s1","topic":"bank","offsets":{"0":43,"1":7}}]}),
        );
        check(
            ServerMessage::GroupOffsets {
                id: json!("g1"),
                group: "billing".into(),
                topic: "bank".into(),
                offsets: BTreeMap::from([(0, 5), (2, 0)]),
            },
            json!({"type":"group_offsets","id":"g1","group":"billing","topic":"bank","offsets":{"0":5,"2":0}}),
        );
        check(
            ServerMessage::GroupOffsets {
                id: json!(null),
                group: "new-group".into(),
                topic: "bank".into(),
                offsets: BTreeMap::new(),
            },
            json!({"type":"group_offsets","id":null,"group":"new-group","topic":"bank","offsets":{}}),
        );
    }
}
