//! The stall watchdog: a subscription whose fetching stopped while its partitions still
//! have records to read is rebuilt with a fresh consumer.
//!
//! librdkafka recovers from most faults by itself (a broker going away, a leader moving),
//! but a fetch can hang: a half-open connection answers nothing until
//! `socket.timeout.ms` (60 s by default) tears it down, and librdkafka has had bugs that
//! left a partition unfetched for good. The watchdog notices and the pump starts over
//! from the next offsets it has not delivered, so every (partition, offset) still goes
//! out exactly once.
//!
//! The decision is [`stalled`], a pure function of what the pumps report and the
//! watermarks. Progress is librdkafka's *position* (`Consumer::position`), never the
//! offsets delivered to the browser: the position moves past transaction markers and
//! aborted records, which are never delivered, so a partition that ends in them is not
//! mistaken for a stalled one. The watermarks come from the backend's admin client, which
//! uses the consumers' `isolation.level`: under `read_committed` (the default) its high
//! watermark is the last stable offset, so an open transaction, which holds every
//! `read_committed` consumer at that offset, is not a stall either.
//!
//! A pump that is *held* — paused by the session, or blocked handing a batch to a session
//! whose queue is full — is not fetching on purpose and is never rebuilt; its clock starts
//! again when it is let go.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How long a subscription may make no progress while its partitions have records past
/// its position before it is rebuilt (`eventfold serve --stall-timeout`). Shorter than
/// librdkafka's `socket.timeout.ms` (60 s), after which a hung request fails by itself.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a pump samples its consumer's position.
pub const POSITION_EVERY: Duration = Duration::from_millis(500);
/// The watchdog looks at the subscriptions this many times per stall timeout, so a
/// stall is noticed at most a quarter of the timeout late.
const CHECKS_PER_TIMEOUT: u32 = 4;

/// What the watchdog knows of one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// librdkafka's position per assigned partition: the next offset the consumer will
    /// hand over (the assigned offset until the first record or end of partition).
    pub positions: BTreeMap<i32, i64>,
    /// When a position last moved, the consumer was (re)built, or the pump was let go.
    pub since: Instant,
    /// The pump is not fetching on purpose (paused, or blocked on a full session).
    pub held: bool,
}

/// Whether a subscription has made no progress for `limit` without being held: only
/// such subscriptions need the watermarks looked up.
pub fn overdue(progress: &Progress, now: Instant, limit: Duration) -> bool {
    !progress.held && now.saturating_duration_since(progress.since) >= limit
}

/// Whether to rebuild a subscription: it is [`overdue`], and the high watermark of at
/// least one of its partitions is past that partition's position. A partition whose
/// watermark is unknown (the lookup failed) is not evidence of a stall: with the whole
/// cluster away there is nothing a new consumer could fetch either.
pub fn stalled(
    progress: &Progress,
    high: &BTreeMap<i32, i64>,
    now: Instant,
    limit: Duration,
) -> bool {
    overdue(progress, now, limit)
        && progress
            .positions
            .iter()
            .any(|(p, position)| high.get(p).is_some_and(|high| position < high))
}

/// The subscriptions of `topic` (with their progress) that [`stalled`] says to rebuild,
/// given the high watermarks of that topic's partitions.
pub fn to_rebuild<K: Copy>(
    subscriptions: &[(K, Progress)],
    high: &BTreeMap<i32, i64>,
    now: Instant,
    limit: Duration,
) -> Vec<K> {
    subscriptions
        .iter()
        .filter(|(_, progress)| stalled(progress, high, now, limit))
        .map(|(key, _)| *key)
        .collect()
}

/// The pump's side of the watchdog: where it reports progress and learns that it must
/// rebuild its consumer.
#[derive(Debug)]
pub struct Watch {
    topic: String,
    progress: Mutex<Progress>,
    rebuild: AtomicBool,
}

impl Watch {
    pub fn new(topic: &str, positions: BTreeMap<i32, i64>) -> Watch {
        Watch {
            topic: topic.to_owned(),
            progress: Mutex::new(Progress {
                positions,
                since: Instant::now(),
                held: false,
            }),
            rebuild: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports the consumer's positions; the clock starts again when one moved.
    pub fn positions(&self, positions: BTreeMap<i32, i64>) {
        let mut progress = self.lock();
        if progress.positions != positions {
            progress.positions = positions;
            progress.since = Instant::now();
        }
    }

    /// Holds the pump (true) or lets it go (false, and the clock starts again).
    pub fn hold(&self, held: bool) {
        let mut progress = self.lock();
        if progress.held && !held {
            progress.since = Instant::now();
        }
        progress.held = held;
    }

    /// A new consumer took over from `positions`.
    pub fn rebuilt(&self, positions: BTreeMap<i32, i64>) {
        let mut progress = self.lock();
        progress.positions = positions;
        progress.since = Instant::now();
        self.rebuild.store(false, Ordering::Relaxed);
    }

    /// Whether the watchdog asked for a rebuild.
    pub fn must_rebuild(&self) -> bool {
        self.rebuild.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> Progress {
        self.lock().clone()
    }
}

/// The watchdog of one backend: the subscriptions it watches and its thread.
pub struct Watchdog {
    watches: Mutex<Vec<Weak<Watch>>>,
    limit_ms: AtomicU64,
    started: AtomicBool,
}

impl Default for Watchdog {
    fn default() -> Watchdog {
        Watchdog {
            watches: Mutex::new(Vec::new()),
            limit_ms: AtomicU64::new(STALL_TIMEOUT.as_millis() as u64),
            started: AtomicBool::new(false),
        }
    }
}

impl Watchdog {
    pub fn limit(&self) -> Duration {
        Duration::from_millis(self.limit_ms.load(Ordering::Relaxed))
    }

    pub fn set_limit(&self, limit: Duration) {
        self.limit_ms.store(
            limit.as_millis().clamp(1, u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// Watches a new subscription, starting the watchdog thread on first use.
    /// `high_watermarks(topic, partitions)` looks up the watermarks it checks against;
    /// the thread ends once it returns `None` (the backend is gone).
    pub fn watch(
        self: &Arc<Self>,
        watch: &Arc<Watch>,
        high_watermarks: impl Fn(&str, &BTreeSet<i32>) -> Option<BTreeMap<i32, i64>> + Send + 'static,
    ) {
        let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        watches.retain(|w| w.strong_count() > 0);
        watches.push(Arc::downgrade(watch));
        drop(watches);
        if self.started.swap(true, Ordering::Relaxed) {
            return;
        }
        let watchdog = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("eventfold-watchdog".into())
            .spawn(move || {
                while let Some(dog) = watchdog.upgrade() {
                    let pause = dog.limit() / CHECKS_PER_TIMEOUT;
                    drop(dog);
                    std::thread::sleep(pause.max(Duration::from_millis(10)));
                    let Some(dog) = watchdog.upgrade() else {
                        return;
                    };
                    if !dog.check(&high_watermarks) {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            self.started.store(false, Ordering::Relaxed);
            tracing::error!("cannot start the stall watchdog: {e}");
        }
    }

    /// One look at every subscription; false once the watermark source is gone.
    fn check(
        &self,
        high_watermarks: &impl Fn(&str, &BTreeSet<i32>) -> Option<BTreeMap<i32, i64>>,
    ) -> bool {
        let limit = self.limit();
        let now = Instant::now();
        let watches: Vec<Arc<Watch>> = {
            let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
            watches.retain(|w| w.strong_count() > 0);
            watches.iter().filter_map(Weak::upgrade).collect()
        };
        // Only overdue subscriptions cost a watermark lookup, one per topic.
        let mut by_topic: BTreeMap<&str, Vec<(usize, Progress)>> = BTreeMap::new();
        for (i, watch) in watches.iter().enumerate() {
            let progress = watch.snapshot();
            if overdue(&progress, now, limit) {
                by_topic
                    .entry(watch.topic.as_str())
                    .or_default()
                    .push((i, progress));
            }
        }
        for (topic, subscriptions) in by_topic {
            let partitions: BTreeSet<i32> = subscriptions
                .iter()
                .flat_map(|(_, progress)| progress.positions.keys().copied())
                .collect();
            let Some(high) = high_watermarks(topic, &partitions) else {
                return false;
            };
            for i in to_rebuild(&subscriptions, &high, now, limit) {
                let progress = &subscriptions.iter().find(|(j, _)| *j == i).unwrap().1;
                tracing::warn!(
                    topic,
                    positions = ?progress.positions,
                    high = ?high,
                    "a subscription made no progress for {:.1} s while records wait: rebuilding its consumer",
                    limit.as_secs_f64()
                );
                watches[i].rebuild.store(true, Ordering::Relaxed);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(30);

    fn progress(positions: &[(i32, i64)], idle: Duration, held: bool, now: Instant) -> Progress {
        Progress {
            positions: positions.iter().copied().collect(),
            since: now - idle,
            held,
        }
    }

    /// One check per case: positions, time without progress, held, high watermarks →
    /// rebuild or not.
    fn check(
        positions: &[(i32, i64)],
        idle: Duration,
        held: bool,
        high: &[(i32, i64)],
        rebuild: bool,
    ) {
        let now = Instant::now();
        let p = progress(positions, idle, held, now);
        let high: BTreeMap<i32, i64> = high.iter().copied().collect();
        assert_eq!(
            stalled(&p, &high, now, LIMIT),
            rebuild,
            "positions {positions:?}, idle {idle:?}, held {held}, high {high:?}"
        );
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn a_subscription_behind_the_high_watermark_for_the_limit_is_rebuilt() {
        check(&[(0, 5)], LIMIT, false, &[(0, 9)], true);
        check(&[(0, 5)], 10 * LIMIT, false, &[(0, 6)], true);
        // One partition behind is enough.
        check(&[(0, 9), (1, 3)], LIMIT, false, &[(0, 9), (1, 4)], true);
    }

    #[test]
    fn progress_within_the_limit_is_not_a_stall() {
        check(&[(0, 5)], LIMIT - SEC, false, &[(0, 9)], false);
        check(&[(0, 5)], Duration::ZERO, false, &[(0, 9)], false);
    }

    #[test]
    fn a_subscription_at_the_high_watermark_is_idle_not_stalled() {
        // A tail with nothing new: hours without progress are normal.
        check(
            &[(0, 9), (1, 4)],
            100 * LIMIT,
            false,
            &[(0, 9), (1, 4)],
            false,
        );
        // Its position past the watermark looked up a moment earlier.
        check(&[(0, 10)], LIMIT, false, &[(0, 9)], false);
    }

    /// The position moves past transaction markers and aborted records, which are never
    /// delivered; under read_committed the watermark is the last stable offset, which an
    /// open transaction holds back. Neither makes a stall.
    #[test]
    fn markers_and_open_transactions_are_not_stalls() {
        // Records 0..5 delivered, markers at 5 and 6: position 7 = high 7.
        check(&[(0, 7)], 10 * LIMIT, false, &[(0, 7)], false);
        // An open transaction from offset 7: the last stable offset stays at 7.
        check(&[(0, 7)], 10 * LIMIT, false, &[(0, 7)], false);
    }

    #[test]
    fn a_held_pump_is_never_rebuilt() {
        check(&[(0, 5)], 10 * LIMIT, true, &[(0, 9)], false);
    }

    #[test]
    fn an_unknown_watermark_is_no_evidence() {
        check(&[(0, 5)], 10 * LIMIT, false, &[], false);
        check(&[(0, 5), (1, 2)], 10 * LIMIT, false, &[(0, 5)], false);
        // A partition the subscription does not read does not count.
        check(&[(0, 5)], 10 * LIMIT, false, &[(0, 5), (1, 99)], false);
    }

    #[test]
    fn only_the_stalled_subscriptions_of_a_topic_are_picked() {
        let now = Instant::now();
        let high = BTreeMap::from([(0, 100), (1, 50)]);
        let subscriptions = [
            ("stalled", progress(&[(0, 40), (1, 50)], LIMIT, false, now)),
            ("moving", progress(&[(0, 40)], SEC, false, now)),
            ("paused", progress(&[(0, 10)], 5 * LIMIT, true, now)),
            (
                "tailing",
                progress(&[(0, 100), (1, 50)], 5 * LIMIT, false, now),
            ),
            ("one-partition", progress(&[(1, 7)], 2 * LIMIT, false, now)),
        ];
        assert_eq!(
            to_rebuild(&subscriptions, &high, now, LIMIT),
            ["stalled", "one-partition"]
        );
    }

    #[test]
    fn the_watch_restarts_its_clock_on_progress_on_release_and_on_rebuild() {
        let watch = Watch::new("t", BTreeMap::from([(0, 0)]));
        let later = Instant::now() + 2 * LIMIT;
        let overdue_later = |w: &Watch| overdue(&w.snapshot(), later, LIMIT);
        assert!(overdue_later(&watch));

        // The same positions again are no progress.
        let since = watch.snapshot().since;
        watch.positions(BTreeMap::from([(0, 0)]));
        assert_eq!(watch.snapshot().since, since);
        watch.positions(BTreeMap::from([(0, 3)]));
        assert!(watch.snapshot().since >= since);

        watch.hold(true);
        assert!(!overdue_later(&watch), "held");
        let before_release = Instant::now();
        watch.hold(false);
        assert!(watch.snapshot().since >= before_release);

        watch.rebuild.store(true, Ordering::Relaxed);
        assert!(watch.must_rebuild());
        let before_rebuild = Instant::now();
        watch.rebuilt(BTreeMap::from([(0, 3)]));
        assert!(!watch.must_rebuild());
        assert!(watch.snapshot().since >= before_rebuild);
    }
}
