//! One live replay: the topic's records folded as they arrive, and the offsets that
//! let it resume after a lost connection without a gap or a duplicate.
//!
//! Nothing here touches the browser: records come in as `core::wire` types and the
//! fold is `core`'s [`Trace`], grown with [`Trace::extend`] one batch at a time.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use eventfold_core::envelope::{Envelope, Key, Payload};
use eventfold_core::fold::Mode;
use eventfold_core::projection::Projection;
use eventfold_core::wire::{PartitionInfo, Record, StartFrom, WireBytes};
use eventfold_core::{Phase, Trace};

/// Events between two snapshots of a live trace. Smaller than the lessons' 1024: the
/// live view draws the rows around the head after every batch, and each row costs up
/// to this many applies from its snapshot.
pub const LIVE_SNAPSHOT_EVERY: usize = 256;

/// How a replay got to where it is, for the note the page shows after a resume.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeNote {
    /// The offsets the new subscription started from.
    pub offsets: BTreeMap<i32, i64>,
    /// Events held when the connection broke.
    pub events_before: usize,
    /// Why the connection broke.
    pub reason: String,
}

/// Where a folded event came from, kept beside the trace so the view can find
/// records by partition, offset and key without rebuilding events from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub partition: i32,
    pub offset: i64,
    /// The Kafka key, exactly (the aggregate a per-key view follows): the bytes
    /// `41 ff` and the text `0x41ff` are two keys.
    pub key: Option<Rc<Key>>,
}

/// A consumer group against the events held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lag {
    /// Events before the first one the group has not applied.
    pub prefix: usize,
    /// Events held that the group has not applied.
    pub events: usize,
}

/// A replay of one topic with one projection.
pub struct Session {
    pub topic: String,
    /// Where the replay started, as the user asked.
    pub from: StartFrom,
    /// Id of the current subscription; a resume subscribes again under a new one.
    pub sub: String,
    pub trace: Trace,
    /// One entry per event of the trace, in the same order.
    pub index: Vec<Meta>,
    /// The next offset to read per partition: one past the last record folded.
    pub next: BTreeMap<i32, i64>,
    /// The partitions' watermarks when the replay started (progress until caught up).
    pub partitions: Vec<PartitionInfo>,
    /// The bridge said every partition reached these offsets.
    pub caught_up: Option<BTreeMap<i32, i64>>,
    /// Records folded since the replay caught up.
    pub live_records: u64,
    /// Records that arrived at an offset already folded and were dropped.
    pub duplicates: u64,
    /// Each resume after a lost connection.
    pub resumes: Vec<ResumeNote>,
}

impl Session {
    pub fn new(
        topic: String,
        from: StartFrom,
        sub: String,
        projection: Arc<dyn Projection>,
        partitions: Vec<PartitionInfo>,
    ) -> Session {
        Session {
            topic,
            from,
            sub,
            trace: Trace::with_snapshot_every(
                projection,
                Mode::Lenient,
                LIVE_SNAPSHOT_EVERY,
                Vec::new(),
            ),
            index: Vec::new(),
            next: BTreeMap::new(),
            partitions,
            caught_up: None,
            live_records: 0,
            duplicates: 0,
            resumes: Vec::new(),
        }
    }

    /// Folds a batch. A record at an offset already folded (a resume that overlapped)
    /// is dropped and counted, so the fold never applies an event twice. Returns how
    /// many records were folded.
    pub fn accept(&mut self, records: Vec<Record>) -> usize {
        let mut fresh = Vec::with_capacity(records.len());
        for record in records {
            if self.before_start(&record) {
                continue;
            }
            let next = self.next.entry(record.partition).or_insert(i64::MIN);
            if record.offset < *next {
                self.duplicates += 1;
                continue;
            }
            *next = record.offset + 1;
            let envelope = envelope(record);
            self.index.push(Meta {
                partition: envelope.partition,
                offset: envelope.offset,
                key: envelope.aggregate_key().map(Rc::new),
            });
            fresh.push(envelope);
        }
        let folded = fresh.len();
        if self.caught_up.is_some() {
            self.live_records += folded as u64;
        }
        self.trace.extend(fresh);
        folded
    }

    /// Whether `record` comes before a `timestamp` start and is read only because a
    /// resume asked for its partition from the beginning. A resume names the offsets
    /// of the partitions read so far, and the protocol starts every other partition
    /// at its beginning; such a partition's records are dropped until the first one at
    /// or after the start time, which is where the broker's lookup by time put the
    /// replay before the break (Kafka's `offsetsForTimes`).
    fn before_start(&self, record: &Record) -> bool {
        match self.from {
            StartFrom::Timestamp(start) => {
                !self.resumes.is_empty()
                    && !self.next.contains_key(&record.partition)
                    && record.timestamp < start
            }
            _ => false,
        }
    }

    /// The bridge's `caught_up`: every partition reached `high`. Positions before the
    /// high watermark hold nothing more to read (transaction markers, aborted
    /// records), so a resume may start there.
    pub fn reach(&mut self, high: BTreeMap<i32, i64>) {
        for (partition, offset) in &high {
            let next = self.next.entry(*partition).or_insert(*offset);
            *next = (*next).max(*offset);
        }
        self.caught_up = Some(high);
    }

    /// A `closing` frame's resume offsets for this subscription: the bridge wrote
    /// records up to there (all of which arrived before the frame).
    pub fn closing(&mut self, offsets: &BTreeMap<i32, i64>) {
        for (partition, offset) in offsets {
            let next = self.next.entry(*partition).or_insert(*offset);
            *next = (*next).max(*offset);
        }
    }

    /// Where a new subscription continues this replay: the offsets held, and for a
    /// partition not read yet the original start (an `offsets` start names its own;
    /// a `beginning` start is what the protocol does for unlisted partitions;
    /// `latest` starts at the watermark seen when the replay began).
    pub fn resume_from(&self) -> StartFrom {
        let mut offsets: BTreeMap<i32, i64> = match &self.from {
            StartFrom::Offsets(given) => given.clone(),
            StartFrom::Latest(_) => self.partitions.iter().map(|p| (p.id, p.high)).collect(),
            StartFrom::Beginning(_) | StartFrom::Timestamp(_) => BTreeMap::new(),
        };
        offsets.extend(self.next.iter().filter(|(_, o)| **o >= 0));
        if offsets.is_empty() {
            return self.from.clone();
        }
        StartFrom::Offsets(offsets)
    }

    /// Subscribes again under `sub` after a break; remembers the note shown.
    pub fn resumed(&mut self, sub: String, from: &StartFrom, reason: String) {
        self.sub = sub;
        let offsets = match from {
            StartFrom::Offsets(offsets) => offsets.clone(),
            _ => BTreeMap::new(),
        };
        self.resumes.push(ResumeNote {
            offsets,
            events_before: self.index.len(),
            reason,
        });
    }

    /// Records read and records to read before the replay catches up, from the
    /// watermarks listed when it began (`None` when they are unknown).
    pub fn progress(&self) -> Option<(i64, i64)> {
        if self.partitions.is_empty() {
            return None;
        }
        let mut done = 0;
        let mut total = 0;
        for p in &self.partitions {
            let start = match &self.from {
                StartFrom::Beginning(_) | StartFrom::Timestamp(_) => p.low,
                StartFrom::Latest(_) => p.high,
                StartFrom::Offsets(o) => o.get(&p.id).copied().unwrap_or(p.low),
            }
            .clamp(p.low, p.high);
            total += p.high - start;
            let next = self.next.get(&p.id).copied().unwrap_or(start);
            done += (next.clamp(start, p.high)) - start;
        }
        Some((done, total))
    }

    /// The process-table row of the event at `(partition, offset)`, once folded.
    pub fn step_of_record(&self, partition: i32, offset: i64) -> Option<u64> {
        self.index
            .iter()
            .rposition(|m| m.partition == partition && m.offset == offset)
            .map(|i| self.trace.step_of(i, Phase::Apply))
    }

    /// How far a consumer group with these committed offsets (the next offset it
    /// reads per partition) is behind the events held.
    pub fn behind(&self, committed: &BTreeMap<i32, i64>) -> Lag {
        let applied = |m: &Meta| {
            committed
                .get(&m.partition)
                .is_some_and(|next| m.offset < *next)
        };
        Lag {
            prefix: self
                .index
                .iter()
                .position(|m| !applied(m))
                .unwrap_or(self.index.len()),
            events: self.index.iter().filter(|m| !applied(m)).count(),
        }
    }

    /// Events folded so far.
    pub fn count(&self) -> usize {
        self.index.len()
    }
}

/// A wire record as the fold sees it. A JSON value (the common case) moves into the
/// envelope rather than being cloned by `Record::to_envelope`. A value the wire
/// cannot turn back into bytes (a malformed `base64`) still becomes an event, a raw
/// one with the reason, so the fold shows it as an error row instead of losing it.
fn envelope(mut record: Record) -> Envelope {
    let json = record
        .value
        .take_if(|value| value.json().is_some())
        .and_then(WireBytes::into_json);
    match record.to_envelope() {
        Ok(mut envelope) => {
            if let Some(value) = json {
                envelope.value = Payload::from_json(value);
            }
            envelope
        }
        Err(error) => Envelope {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            key: None,
            timestamp: record.timestamp,
            headers: Vec::new(),
            value: Payload::Raw {
                bytes: Vec::new(),
                error: format!("the bridge sent bytes that do not decode: {error}"),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventfold_core::builtin::bank::Bank;
    use serde_json::json;

    fn deposit(partition: i32, offset: i64, timestamp: i64, amount: i64) -> Record {
        Record {
            topic: "t".into(),
            partition,
            offset,
            key: None,
            timestamp,
            headers: Vec::new(),
            value: Some(WireBytes(json!({"type": "deposit", "amount": amount}))),
        }
    }

    fn balance(session: &Session) -> serde_json::Value {
        session.trace.final_view().to_json(&Bank)
    }

    #[test]
    fn a_resume_of_a_timestamp_start_folds_nothing_from_before_it() {
        let mut session = Session::new(
            "t".into(),
            StartFrom::Timestamp(1_000),
            "s1".into(),
            Arc::new(Bank),
            Vec::new(),
        );
        // Before the break: partition 0 from its first record at or after 1 000;
        // partition 1 had not sent anything yet.
        assert_eq!(
            session.accept(vec![deposit(0, 5, 1_000, 10), deposit(0, 6, 1_100, 20)]),
            2
        );
        let from = session.resume_from();
        assert_eq!(from, StartFrom::Offsets(BTreeMap::from([(0, 7)])));
        session.resumed("s2".into(), &from, "connection lost".into());
        // After it, partition 1 comes from its beginning: its records before 1 000 are
        // not the replay's; from its first one at or after the start, all are (a later
        // record with an earlier time included, as the broker's seek would give it).
        let folded = session.accept(vec![
            deposit(1, 0, 900, 1_000),
            deposit(1, 1, 999, 1_000),
            deposit(1, 2, 1_200, 1),
            deposit(1, 3, 950, 2),
            deposit(0, 7, 1_300, 4),
        ]);
        assert_eq!(folded, 3);
        assert_eq!(balance(&session), json!({"balance": 37}));
        assert_eq!(session.next, BTreeMap::from([(0, 8), (1, 4)]));
        assert_eq!(session.duplicates, 0);
    }

    #[test]
    fn other_starts_fold_every_record_a_resume_brings() {
        let mut session = Session::new(
            "t".into(),
            StartFrom::Beginning(true),
            "s1".into(),
            Arc::new(Bank),
            Vec::new(),
        );
        session.accept(vec![deposit(0, 0, 5, 10)]);
        let from = session.resume_from();
        session.resumed("s2".into(), &from, "connection lost".into());
        assert_eq!(
            session.accept(vec![deposit(1, 0, 1, 5), deposit(0, 0, 5, 10)]),
            1
        );
        assert_eq!(balance(&session), json!({"balance": 15}));
        assert_eq!(session.duplicates, 1, "offset 0 of partition 0 again");
    }
}
