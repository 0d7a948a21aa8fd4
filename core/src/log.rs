//! A trace's log, stored compactly: the events as text, rebuilt on demand.
//!
//! An [`Envelope`] with its JSON tree costs about 1 KB for a 32-byte event (a map,
//! a string per key and value, the topic's name copied per record). A million-event
//! log kept that way does not fit in a browser tab. [`Log`] keeps each record as a
//! fixed 48-byte header plus its value's JSON text (and key bytes) in a shared byte
//! buffer, and gives back an [`Envelope`] when asked, parsing the text again. Only
//! the rows being shown and the events replayed from a snapshot are rebuilt, so the
//! parse costs a seek at most [`crate::trace::SNAPSHOT_EVERY`] parses.
//!
//! Records live in chunks of [`CHUNK`] behind `Arc`s: cloning a log (a trace kept by
//! the page while a live topic appends to it) copies one pointer per chunk, and an
//! append copies at most the last chunk.

use std::sync::Arc;

use crate::envelope::{Envelope, Header, Payload};

/// Records per chunk.
pub const CHUNK: usize = 4096;

/// `key_len` of a record without a key.
const NO_KEY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Tombstone,
    Raw,
}

/// One record's coordinates and where its bytes are in its chunk.
#[derive(Debug, Clone)]
struct Record {
    offset: i64,
    timestamp: i64,
    /// The value's bytes (JSON text or raw bytes) start here in the chunk's buffer;
    /// the key's bytes follow them.
    start: u32,
    value_len: u32,
    key_len: u32,
    partition: i32,
    /// Index into [`Log::topics`].
    topic: u32,
    kind: Kind,
}

#[derive(Debug, Clone, Default)]
struct Chunk {
    records: Vec<Record>,
    bytes: Vec<u8>,
    /// Headers of the few records that have any, by index in the chunk.
    headers: Vec<(u32, Vec<Header>)>,
    /// Why a raw record's bytes did not decode, by index in the chunk.
    raw_errors: Vec<(u32, String)>,
}

/// The events of a trace, compactly. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Log {
    chunks: Vec<Arc<Chunk>>,
    topics: Vec<Arc<str>>,
    /// Each partition that holds events, with the index of its first event, in order
    /// of first appearance.
    partitions: Vec<(i32, usize)>,
    len: usize,
}

impl Log {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn record(&self, index: usize) -> Option<(&Chunk, &Record)> {
        let chunk = self.chunks.get(index / CHUNK)?;
        Some((chunk, chunk.records.get(index % CHUNK)?))
    }

    /// Event `index`, rebuilt (its JSON value parsed again), or `None` past the end.
    pub fn get(&self, index: usize) -> Option<Envelope> {
        let (chunk, record) = self.record(index)?;
        let within = (index % CHUNK) as u32;
        let start = record.start as usize;
        let value_end = start + record.value_len as usize;
        let value_bytes = &chunk.bytes[start..value_end];
        let value = match record.kind {
            Kind::Tombstone => Payload::Tombstone,
            // The text was printed by serde_json from a `Value`, or is the text the
            // value was parsed from (`push_text`), so it parses back to the same
            // value; were the log corrupted, `decode` makes it a raw payload with its
            // reason rather than panicking.
            Kind::Json => Payload::decode(Some(value_bytes)),
            Kind::Raw => Payload::Raw {
                bytes: value_bytes.to_vec(),
                error: sparse(&chunk.raw_errors, within)
                    .cloned()
                    .unwrap_or_default(),
            },
        };
        let key = (record.key_len != NO_KEY)
            .then(|| chunk.bytes[value_end..value_end + record.key_len as usize].to_vec());
        Some(Envelope {
            topic: self.topics[record.topic as usize].to_string(),
            partition: record.partition,
            offset: record.offset,
            key,
            timestamp: record.timestamp,
            headers: sparse(&chunk.headers, within).cloned().unwrap_or_default(),
            value,
        })
    }

    /// The partition of event `index` (no parsing).
    pub fn partition(&self, index: usize) -> Option<i32> {
        self.record(index).map(|(_, r)| r.partition)
    }

    /// The offset of event `index` (no parsing).
    pub fn offset(&self, index: usize) -> Option<i64> {
        self.record(index).map(|(_, r)| r.offset)
    }

    /// The timestamp of event `index` (no parsing).
    pub fn timestamp(&self, index: usize) -> Option<i64> {
        self.record(index).map(|(_, r)| r.timestamp)
    }

    /// Each partition holding events, with the index of its first event, in order of
    /// first appearance.
    pub fn partitions(&self) -> &[(i32, usize)] {
        &self.partitions
    }

    /// Number of events of `partition` among events `range`: no scan when the log has
    /// one partition.
    pub fn count_in(&self, partition: i32, range: std::ops::Range<usize>) -> usize {
        let range = range.start.min(self.len)..range.end.min(self.len);
        match self.partitions.as_slice() {
            [(only, _)] => {
                if *only == partition {
                    range.len()
                } else {
                    0
                }
            }
            _ => range
                .filter(|i| self.partition(*i) == Some(partition))
                .count(),
        }
    }

    /// The index of the first event of `partition` in `range`.
    pub fn first_in(&self, partition: i32, range: std::ops::Range<usize>) -> Option<usize> {
        let mut range = range.start.min(self.len)..range.end.min(self.len);
        match self.partitions.as_slice() {
            [(only, _)] => (*only == partition)
                .then_some(range.start)
                .filter(|i| range.contains(i)),
            _ => range.find(|i| self.partition(*i) == Some(partition)),
        }
    }

    /// Every event in order, rebuilt one at a time.
    pub fn iter(&self) -> impl Iterator<Item = Envelope> + '_ {
        (0..self.len).filter_map(|i| self.get(i))
    }

    /// Events `range`, rebuilt one at a time.
    pub fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = Envelope> + '_ {
        range.filter_map(|i| self.get(i))
    }

    /// Every event rebuilt into a vector (what the old `&[Envelope]` gave).
    pub fn to_vec(&self) -> Vec<Envelope> {
        self.iter().collect()
    }

    /// Heap bytes the log holds (headers, text, chunk tables), for measurements.
    pub fn heap_bytes(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| {
                c.records.capacity() * std::mem::size_of::<Record>()
                    + c.bytes.capacity()
                    + c.headers.capacity() * std::mem::size_of::<(u32, Vec<Header>)>()
                    + c.raw_errors
                        .iter()
                        .map(|(_, e)| e.capacity())
                        .sum::<usize>()
            })
            .sum::<usize>()
            + self.chunks.capacity() * std::mem::size_of::<Arc<Chunk>>()
    }

    /// Appends an event.
    pub fn push(&mut self, envelope: &Envelope) {
        self.push_text(envelope, None);
    }

    /// Appends an event whose JSON value was parsed from `json_text`, which is kept as
    /// it is instead of printing the value again: printing was the costliest step of
    /// an import's fold in the page's wasm (docs/perf.md, "Page size"). The text must
    /// parse to the envelope's value; it is ignored unless the value is JSON.
    pub fn push_text(&mut self, envelope: &Envelope, json_text: Option<&[u8]>) {
        let topic = match self.topics.iter().rposition(|t| **t == *envelope.topic) {
            Some(i) => i,
            None => {
                self.topics.push(envelope.topic.as_str().into());
                self.topics.len() - 1
            }
        } as u32;
        if !self
            .partitions
            .iter()
            .any(|(p, _)| *p == envelope.partition)
        {
            self.partitions.push((envelope.partition, self.len));
        }
        if self.len.is_multiple_of(CHUNK) {
            // The full chunk's text buffer grew by doubling: up to twice its text. It
            // takes no more bytes, so it keeps only what it holds (about 10 B an event
            // less for bank events; not when a clone of the log shares the chunk).
            if let Some(full) = self.chunks.last_mut().and_then(Arc::get_mut) {
                full.bytes.shrink_to_fit();
            }
            self.chunks.push(Arc::new(Chunk {
                records: Vec::with_capacity(CHUNK),
                ..Chunk::default()
            }));
        }
        let chunk = Arc::make_mut(self.chunks.last_mut().expect("a chunk was just ensured"));
        let within = chunk.records.len() as u32;
        let start = chunk.bytes.len();
        let kind = match &envelope.value {
            Payload::Json(value) => {
                match json_text {
                    Some(text) => chunk.bytes.extend_from_slice(text),
                    // Writing a `Value` into a Vec cannot fail.
                    None => {
                        let _ = serde_json::to_writer(&mut chunk.bytes, value);
                    }
                }
                Kind::Json
            }
            Payload::Tombstone => Kind::Tombstone,
            Payload::Raw { bytes, error } => {
                chunk.bytes.extend_from_slice(bytes);
                chunk.raw_errors.push((within, error.clone()));
                Kind::Raw
            }
        };
        let value_len = chunk.bytes.len() - start;
        let key_len = match &envelope.key {
            Some(key) => {
                chunk.bytes.extend_from_slice(key);
                key.len() as u32
            }
            None => NO_KEY,
        };
        if !envelope.headers.is_empty() {
            chunk.headers.push((within, envelope.headers.clone()));
        }
        chunk.records.push(Record {
            offset: envelope.offset,
            timestamp: envelope.timestamp,
            start: start as u32,
            value_len: value_len as u32,
            key_len,
            partition: envelope.partition,
            topic,
            kind,
        });
        self.len += 1;
    }
}

/// The entry for `index` in a sparse list sorted by index.
fn sparse<T>(list: &[(u32, T)], index: u32) -> Option<&T> {
    list.binary_search_by_key(&index, |(i, _)| *i)
        .ok()
        .map(|i| &list[i].1)
}

impl Extend<Envelope> for Log {
    fn extend<I: IntoIterator<Item = Envelope>>(&mut self, events: I) {
        for envelope in events {
            self.push(&envelope);
        }
    }
}

impl FromIterator<Envelope> for Log {
    fn from_iter<I: IntoIterator<Item = Envelope>>(events: I) -> Log {
        let mut log = Log::default();
        log.extend(events);
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Envelopes of every shape go in and come back out equal.
    #[test]
    fn every_envelope_comes_back_as_it_went_in() {
        let events = [
            Envelope::json("bank", 0, json!({"type": "deposit", "amount": 100})),
            Envelope::json("bank", 1, json!({"z": 1.5, "a": [1, "x", null], "m": -0.0}))
                .with_key("acct-1")
                .with_partition(3)
                .with_timestamp(1_700_000_000_000),
            Envelope {
                value: Payload::Tombstone,
                ..Envelope::json("other", 2, json!(null)).with_key(vec![0xff, 0])
            },
            Envelope {
                value: Payload::decode(Some(b"{not json")),
                headers: vec![Header {
                    name: "h".into(),
                    value: Some(b"v".to_vec()),
                }],
                ..Envelope::json("bank", 3, json!(null)).with_key("")
            },
            Envelope::json("bank", 4, json!(u64::MAX)),
        ];
        // More than a chunk, so records cross a chunk boundary.
        let many: Vec<Envelope> = (0..CHUNK + 10)
            .map(|i| events[i % events.len()].clone())
            .collect();
        let log: Log = many.iter().cloned().collect();
        assert_eq!(log.len(), many.len());
        assert_eq!(log.to_vec(), many);
        assert_eq!(log.get(many.len()), None);
        assert_eq!(log.partition(1), Some(3));
        assert_eq!(log.offset(CHUNK + 1), Some(many[CHUNK + 1].offset));
        assert_eq!(log.timestamp(1), Some(1_700_000_000_000));
    }

    #[test]
    fn a_clone_shares_its_chunks_and_appends_apart() {
        let mut log: Log = (0..10)
            .map(|i| Envelope::json("t", i, json!({ "n": i })))
            .collect();
        let before = log.clone();
        log.push(&Envelope::json("t", 10, json!({"n": 10})));
        assert_eq!(before.len(), 10);
        assert_eq!(log.len(), 11);
        assert_eq!(before.get(10), None);
        assert_eq!(log.get(10).unwrap().value, Payload::Json(json!({"n": 10})));
    }

    #[test]
    fn a_small_event_costs_under_a_hundred_bytes() {
        let log: Log = (0..100_000)
            .map(|i| Envelope::json("bank", i, json!({"type": "deposit", "amount": i % 1000})))
            .collect();
        let per_event = log.heap_bytes() / log.len();
        assert!(per_event < 100, "{per_event} bytes per event");
    }
}
