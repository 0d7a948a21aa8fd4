//! Reading a topic as it arrives, for `eventfold replay --topic`.
//!
//! The records come through the same subscription as a browser's, so the terminal folds
//! exactly what the page would: each record goes through its wire form and
//! [`Record::to_envelope`](eventfold_core::wire::Record::to_envelope).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::time::Duration;

use eventfold_core::wire::{Record, StartFrom, WireError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use regex::Regex;

use super::{ConfigError, KafkaArgs, KafkaBackend};
use crate::backend::{Backend, BackendError, Delivery, RawRecord, SubscribeRequest};

/// A replay shows a progress bar (on a terminal) when it has at least this many
/// records to read.
pub const PROGRESS_MIN_RECORDS: i64 = 10_000;

/// Why a topic could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Kafka(#[from] BackendError),
    #[error("a record of the topic cannot be decoded: {0}")]
    Wire(#[from] WireError),
    #[error("cannot start the Kafka client: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("topic {topic:?} has no partition {partition} (its partitions: {ids})")]
    NoPartition {
        partition: i32,
        topic: String,
        ids: String,
    },
}

/// What `eventfold replay --topic` reads: where it starts and stops, and which
/// partitions.
#[derive(Debug, Clone)]
pub struct TopicRead {
    pub topic: String,
    pub from: Start,
    pub partitions: Option<Vec<i32>>,
    /// Keep reading past the high watermarks until Ctrl-C or SIGTERM.
    pub follow: bool,
}

/// Where a topic read starts: a start the protocol knows, or one resolved here first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Wire(StartFrom),
    /// A consumer group's committed offsets (read, never joined); partitions it
    /// committed nothing to start at their beginning.
    Group(String),
    /// The last N records of each partition.
    Tail(i64),
}

/// What the reader hands the fold, in order.
pub enum Read<'a> {
    /// Records in offset order per partition, as Kafka holds them (a replay to the
    /// high watermarks).
    Raw(&'a mut Vec<RawRecord>),
    /// Records in offset order per partition, in their wire form (a followed topic).
    Records(&'a mut Vec<Record>),
    /// Nothing came for [`IDLE_AFTER`]: a followed topic is quiet, a good moment to
    /// flush what is printed.
    Idle,
}

/// A read that received nothing for this long says so ([`Read::Idle`]).
pub const IDLE_AFTER: Duration = Duration::from_millis(100);

/// Reads a topic and hands each batch of records to `each` as it arrives, so the fold
/// runs while the consumer fetches: up to the high watermarks the topic has at the
/// start, or on and on with [`TopicRead::follow`] until Ctrl-C or SIGTERM. `each`
/// returns `Break` to stop early (a strict fold's first bad event, `--until`).
pub fn read_topic(
    args: &KafkaArgs,
    read: TopicRead,
    mut each: impl FnMut(Read<'_>) -> std::io::Result<ControlFlow<()>>,
) -> Result<(), TopicError> {
    let config = args.client_config()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // The terminal is the operator's own: every topic is visible, internal ones too.
        let everything = Regex::new("").expect("the empty pattern compiles");
        let backend = KafkaBackend::new(config, Some(everything), false)?
            .with_internal_topics(true)
            .with_prefetch_kbytes(super::backend::REPLAY_PREFETCH_KBYTES);
        let marks: BTreeMap<i32, (i64, i64)> = backend
            .list_topics()
            .await?
            .into_iter()
            .find(|t| t.name == read.topic)
            .map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (p.id, (p.low, p.high)))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(wanted) = &read.partitions
            && !marks.is_empty()
            && let Some(missing) = wanted.iter().find(|p| !marks.contains_key(p))
        {
            return Err(TopicError::NoPartition {
                partition: *missing,
                topic: read.topic.clone(),
                ids: marks
                    .keys()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let from = match read.from {
            Start::Wire(from) => from,
            Start::Group(group) => {
                StartFrom::Offsets(backend.group_offsets(group, read.topic.clone()).await?)
            }
            Start::Tail(n) => StartFrom::Offsets(
                marks
                    .iter()
                    .map(|(&p, &(low, high))| (p, (high - n).max(low)))
                    .collect(),
            ),
        };
        let request = SubscribeRequest {
            topic: read.topic.clone(),
            from,
            partitions: read.partitions.clone(),
        };
        let mut subscription = if read.follow {
            backend.subscribe(request).await?
        } else {
            backend.replay_to_high_watermark(request).await?
        };
        let low = marks.iter().map(|(&p, &(low, _))| (p, low)).collect();
        let progress = Progress::new(&low, &subscription.high);
        let mut stop = std::pin::pin!(stop_signal());
        loop {
            let batch = tokio::select! {
                batch = tokio::time::timeout(IDLE_AFTER, subscription.batches.recv()) => batch,
                () = &mut stop, if read.follow => break,
            };
            let flow = match batch {
                Err(_) => each(Read::Idle)?,
                Ok(None) => break,
                Ok(Some(batch)) => match batch? {
                    Delivery::Raw(mut records) => {
                        progress.advance(records.len());
                        each(Read::Raw(&mut records))?
                    }
                    Delivery::Records(mut records) => {
                        progress.advance(records.len());
                        each(Read::Records(&mut records))?
                    }
                    Delivery::Encoded(encoded) => {
                        let mut records = encoded.records().map_err(|e| {
                            TopicError::Kafka(BackendError::new(
                                eventfold_core::wire::ErrorCode::Kafka,
                                format!("a batch of records did not parse: {e}"),
                            ))
                        })?;
                        progress.advance(records.len());
                        each(Read::Records(&mut records))?
                    }
                    Delivery::Reached(_) | Delivery::Rebuilt => continue,
                },
            };
            if flow.is_break() {
                break;
            }
        }
        progress.bar.finish_and_clear();
        Ok(())
    })
}

/// Ctrl-C or SIGTERM: how a followed replay is ended.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The progress bar on stderr: records read, out of the records between the log start
/// and the high watermarks (fewer when the replay starts later in the log).
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new(low: &BTreeMap<i32, i64>, high: &BTreeMap<i32, i64>) -> Progress {
        let total: i64 = high
            .iter()
            .map(|(p, h)| h - low.get(p).copied().unwrap_or(0))
            .sum();
        let bar = if total >= PROGRESS_MIN_RECORDS && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(
                Some(total.unsigned_abs()),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {bar:40} {human_pos}/{human_len} records ({elapsed}, about {eta} left)",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar }
    }

    fn advance(&self, records: usize) {
        self.bar.inc(records as u64);
    }
}
