//! Reading a topic up to its high watermarks, for `eventfold replay --topic`.
//!
//! The records come through the same subscription as a browser's, so the terminal folds
//! exactly what the page would: each record goes through its wire form and
//! [`Record::to_envelope`](eventfold_core::wire::Record::to_envelope).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use eventfold_core::Envelope;
use eventfold_core::wire::{Record, StartFrom, WireError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use regex::Regex;

use super::{ConfigError, KafkaArgs, KafkaBackend};
use crate::backend::{Backend, BackendError, Delivery, SubscribeRequest};

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
}

/// Reads `topic` from `from` up to the high watermarks it has now, as envelopes in the
/// order they arrived (offset order within each partition).
pub fn read_topic(
    args: &KafkaArgs,
    topic: &str,
    from: StartFrom,
) -> Result<Vec<Envelope>, TopicError> {
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
        let low: BTreeMap<i32, i64> = backend
            .list_topics()
            .await?
            .into_iter()
            .find(|t| t.name == topic)
            .map(|t| t.partitions.iter().map(|p| (p.id, p.low)).collect())
            .unwrap_or_default();
        let mut subscription = backend
            .replay_to_high_watermark(SubscribeRequest {
                topic: topic.to_owned(),
                from,
                partitions: None,
            })
            .await?;
        let progress = Progress::new(&low, &subscription.high);
        let mut envelopes = Vec::new();
        while let Some(batch) = subscription.batches.recv().await {
            let Delivery::Records(batch) = batch? else {
                continue;
            };
            progress.advance(&batch);
            for record in &batch {
                envelopes.push(record.to_envelope()?);
            }
        }
        progress.bar.finish_and_clear();
        Ok(envelopes)
    })
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

    fn advance(&self, batch: &[Record]) {
        self.bar.inc(batch.len() as u64);
    }
}
