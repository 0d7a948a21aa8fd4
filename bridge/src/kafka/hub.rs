//! Shared tails: the subscriptions of a topic that have caught up share one consumer.
//!
//! A subscription starts with a consumer of its own (its pump replays from wherever it
//! starts). Once it has caught up and is idle at the end of the log, its pump hands the
//! subscription over to the topic's [`Hub`] — a pump like the others, whose batches go to
//! every subscriber — and ends, closing its consumer. An idle tail then costs a channel
//! instead of a librdkafka client and five threads.
//!
//! Exactly once across the handover: a hub knows `next`, the position up to which it has
//! fanned out every record (librdkafka's position, so it includes transaction markers),
//! and a pump hands over only when its own position is exactly the hub's `next`, checked
//! under the hub's lock, so the pump delivered every record before that point and the hub
//! delivers every record from it. When the topic has no hub, the first pump to hand over
//! becomes the hub itself, with its consumer: a live record never waits for a new
//! consumer to connect.
//!
//! A hub never waits for a subscriber. One that is paused (by its client, or because its
//! outbound queue is full) or whose channel is full keeps the batches it could not take
//! in a backlog of its own, handed over in order as soon as it has room again: a browser
//! a moment behind — as every browser is now and then when hundreds share two cores —
//! stays on the shared tail. Only a subscriber whose backlog passes
//! [`HUB_BACKLOG_BYTES`] is detached: it goes back to a consumer of its own, assigned at
//! the hub's position from before the first batch it did not take, where pause and
//! back-pressure work as for any subscription. (Detaching at the first full channel made
//! 500 tailing browsers churn through new consumers, five threads each: 2,308 threads
//! and a p99 latency of 5–9 s.) A hub whose subscribers are all gone ends.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

use crate::backend::{Batch, Delivery};

/// How often an idle, caught-up pump tries to hand its subscription over.
pub const HANDOVER_EVERY: Duration = Duration::from_millis(500);

/// The most wire text a hub keeps for one subscriber that is behind (paused, or its
/// channel full) before it detaches it to a consumer of its own.
pub const HUB_BACKLOG_BYTES: usize = 1 << 20;
/// The most batches a hub keeps for one subscriber that is behind, whatever their size
/// (a batch of markers carries no text).
pub const HUB_BACKLOG_BATCHES: usize = 256;

/// How long a hub keeps a paused subscriber. The session pauses a subscription for a
/// moment when its browser's outbound queue is full; a pause that lasts is the
/// client's own, and a paused subscription is cheaper on a consumer of its own, whose
/// fetching stops, than in a backlog that grows.
pub const HUB_PAUSE_GRACE: Duration = Duration::from_secs(1);

/// A subscription going back to a consumer of its own, from `next`.
pub(crate) struct Detached {
    pub topic: String,
    pub tx: mpsc::Sender<Batch>,
    pub paused: watch::Receiver<bool>,
    pub next: BTreeMap<i32, i64>,
}

/// What the hubs need from the backend: give a detached subscription a consumer of its
/// own again.
pub(crate) trait Spawner: Send + Sync {
    fn detach(&self, detached: Detached);
}

/// The answer to a pump offering its subscription to the shared tail.
pub(crate) enum Offer {
    /// The topic's hub took the subscription: the pump ends.
    Taken,
    /// The topic had no hub: the pump is its hub now, with the subscription as its first
    /// subscriber.
    Become(Arc<Hub>),
    /// The hub is elsewhere in the log: the pump goes on and offers again later.
    NotNow,
}

/// The hubs of one backend, one per topic at most.
pub(crate) struct Hubs {
    map: Mutex<HashMap<String, Arc<Hub>>>,
    spawner: Weak<dyn Spawner>,
}

/// One subscriber of a hub.
struct Subscriber {
    tx: mpsc::Sender<Batch>,
    paused: watch::Receiver<bool>,
    /// Batches it could not take yet, oldest first, each with the hub's position from
    /// before it (where a detached subscriber starts again).
    backlog: VecDeque<(Batch, BTreeMap<i32, i64>)>,
    /// The wire text in `backlog`.
    backlog_bytes: usize,
    /// Since when it has been paused without a break, as the hub last looked.
    paused_since: Option<Instant>,
}

impl Subscriber {
    fn new(tx: mpsc::Sender<Batch>, paused: watch::Receiver<bool>) -> Subscriber {
        Subscriber {
            tx,
            paused,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            paused_since: None,
        }
    }

    /// Whether it is paused now; notes since when.
    fn paused(&mut self) -> bool {
        let paused = *self.paused.borrow();
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(Instant::now()),
            (false, Some(_)) => self.paused_since = None,
            _ => {}
        }
        paused
    }

    /// Hands over what the backlog holds while the subscriber takes it; false when the
    /// subscriber is gone.
    fn flush(&mut self) -> bool {
        if self.paused() {
            return !self.tx.is_closed();
        }
        while let Some((item, before)) = self.backlog.pop_front() {
            let bytes = size(&item);
            match self.tx.try_send(item) {
                Ok(()) => self.backlog_bytes -= bytes,
                Err(TrySendError::Closed(_)) => return false,
                Err(TrySendError::Full(item)) => {
                    self.backlog.push_front((item, before));
                    return true;
                }
            }
        }
        true
    }

    /// Over its backlog's bounds, or paused for longer than a moment of back-pressure
    /// lasts (its client asked for a pause): it goes to a consumer of its own.
    fn too_far_behind(&self) -> bool {
        self.backlog_bytes > HUB_BACKLOG_BYTES
            || self.backlog.len() > HUB_BACKLOG_BATCHES
            || self
                .paused_since
                .is_some_and(|since| since.elapsed() >= HUB_PAUSE_GRACE)
    }

    /// Leaves the hub for a consumer of its own, from the first batch it did not take
    /// (or `next` when it took them all).
    fn detach(&self, topic: &str, next: &BTreeMap<i32, i64>) -> Detached {
        Detached {
            topic: topic.to_owned(),
            tx: self.tx.clone(),
            paused: self.paused.clone(),
            next: self
                .backlog
                .front()
                .map_or_else(|| next.clone(), |(_, at)| at.clone()),
        }
    }
}

/// The wire text of a batch, as a backlog counts it.
fn size(item: &Batch) -> usize {
    match item {
        Ok(Delivery::Encoded(records)) => records.json.len(),
        Ok(Delivery::Records(records)) => {
            records.len() * std::mem::size_of::<eventfold_core::wire::Record>()
        }
        Ok(Delivery::Raw(records)) => records
            .iter()
            .map(|r| {
                std::mem::size_of_val(r)
                    + r.value.as_ref().map_or(0, Vec::len)
                    + r.key.as_ref().map_or(0, Vec::len)
            })
            .sum(),
        _ => 0,
    }
}

struct State {
    /// Every record before these offsets has been fanned out (or was before the hub).
    next: BTreeMap<i32, i64>,
    subscribers: Vec<Subscriber>,
    /// Over: no subscriber is left, or the hub's consumer failed. A new hub takes its
    /// place in [`Hubs`].
    over: bool,
}

/// The shared tail of one topic.
pub(crate) struct Hub {
    topic: String,
    state: Mutex<State>,
    hubs: Weak<Hubs>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hubs {
    pub fn new(spawner: Weak<dyn Spawner>) -> Hubs {
        Hubs {
            map: Mutex::new(HashMap::new()),
            spawner,
        }
    }

    /// Offers a caught-up subscription at positions `at` to its topic's hub; see
    /// [`Offer`].
    pub fn join(
        self: &Arc<Self>,
        topic: &str,
        at: &BTreeMap<i32, i64>,
        tx: &mpsc::Sender<Batch>,
        paused: &watch::Receiver<bool>,
    ) -> Offer {
        self.offer(topic, at, tx, paused, |next| next == at)
    }

    /// Joins a new subscription that starts at the end of the log to its topic's hub,
    /// wherever that hub is: its position is an end of the log too, one whose records
    /// are all fanned out, so the subscription misses nothing that came after it
    /// subscribed. Without a hub, the subscription becomes the first subscriber of a new
    /// one at `at` (the high watermarks), whose pump the caller starts: no tailing
    /// subscription needs a consumer of its own.
    pub fn join_tail(
        self: &Arc<Self>,
        topic: &str,
        at: &BTreeMap<i32, i64>,
        tx: &mpsc::Sender<Batch>,
        paused: &watch::Receiver<bool>,
    ) -> Offer {
        self.offer(topic, at, tx, paused, |next| next.keys().eq(at.keys()))
    }

    /// Adds a subscriber to `topic`'s hub when `fits` its position, or starts a hub at
    /// `at` with it when the topic has none.
    fn offer(
        self: &Arc<Self>,
        topic: &str,
        at: &BTreeMap<i32, i64>,
        tx: &mpsc::Sender<Batch>,
        paused: &watch::Receiver<bool>,
        fits: impl Fn(&BTreeMap<i32, i64>) -> bool,
    ) -> Offer {
        let subscriber = || Subscriber::new(tx.clone(), paused.clone());
        let mut map = lock(&self.map);
        if let Some(hub) = map.get(topic) {
            let mut state = lock(&hub.state);
            if !state.over {
                if !fits(&state.next) {
                    return Offer::NotNow;
                }
                state.subscribers.push(subscriber());
                return Offer::Taken;
            }
        }
        let hub = Arc::new(Hub {
            topic: topic.to_owned(),
            state: Mutex::new(State {
                next: at.clone(),
                subscribers: vec![subscriber()],
                over: false,
            }),
            hubs: Arc::downgrade(self),
        });
        map.insert(topic.to_owned(), hub.clone());
        Offer::Become(hub)
    }

    /// The position of `topic`'s hub, if it has one that is not over.
    pub fn position(&self, topic: &str) -> Option<BTreeMap<i32, i64>> {
        let map = lock(&self.map);
        let state = lock(&map.get(topic)?.state);
        (!state.over).then(|| state.next.clone())
    }

    /// Forgets `hub` if it is still the topic's hub.
    fn remove(&self, hub: &Hub) {
        let mut map = lock(&self.map);
        if map
            .get(&hub.topic)
            .is_some_and(|h| std::ptr::eq(Arc::as_ptr(h), hub))
        {
            map.remove(&hub.topic);
        }
    }

    /// How many topics have a hub, and how many subscribers they serve (for tests and
    /// the benchmark's report).
    pub fn census(&self) -> (usize, usize) {
        let map = lock(&self.map);
        let subscribers = map.values().map(|h| lock(&h.state).subscribers.len()).sum();
        (map.len(), subscribers)
    }
}

impl Hub {
    /// Whether the hub is over: its subscribers are all gone (it is then taken out of
    /// [`Hubs`], so no subscription joins it any more) or it failed.
    pub fn is_over(&self) -> bool {
        {
            let mut state = lock(&self.state);
            state.subscribers.retain(|s| !s.tx.is_closed());
            if state.over || !state.subscribers.is_empty() {
                return state.over;
            }
        }
        // Lock order: the map, then the hub.
        let Some(hubs) = self.hubs.upgrade() else {
            return true;
        };
        let mut map = lock(&hubs.map);
        let mut state = lock(&self.state);
        state.subscribers.retain(|s| !s.tx.is_closed());
        if state.subscribers.is_empty() {
            state.over = true;
            if map
                .get(&self.topic)
                .is_some_and(|h| std::ptr::eq(Arc::as_ptr(h), self))
            {
                map.remove(&self.topic);
            }
        }
        state.over
    }

    /// The hub's consumer is at `positions` with nothing polled but unsent: every
    /// record before them has been fanned out.
    pub fn advance(&self, positions: &BTreeMap<i32, i64>) {
        let mut state = lock(&self.state);
        advance(&mut state.next, positions);
    }

    /// Hands the subscribers that are behind what their backlogs hold, as far as they
    /// take it; called by the hub's pump between polls, so a backlog drains even when no
    /// new record arrives.
    pub fn flush(&self) {
        let detached = {
            let mut state = lock(&self.state);
            let next = state.next.clone();
            let mut detached = Vec::new();
            state.subscribers.retain_mut(|s| {
                if !s.flush() {
                    return false;
                }
                if s.too_far_behind() {
                    detached.push(s.detach(&self.topic, &next));
                    return false;
                }
                true
            });
            detached
        };
        self.detach_all(detached);
    }

    /// How long to gather records into a batch: `per_subscriber` times the subscribers,
    /// at most `max`.
    pub fn linger(&self, per_subscriber: Duration, max: Duration) -> Duration {
        let subscribers = lock(&self.state).subscribers.len();
        per_subscriber
            .saturating_mul(u32::try_from(subscribers).unwrap_or(u32::MAX))
            .min(max)
    }

    /// The offsets before which every record has been fanned out.
    pub fn next(&self) -> BTreeMap<i32, i64> {
        lock(&self.state).next.clone()
    }

    /// Sends `item` to every subscriber, without waiting for any: a paused subscriber,
    /// or one whose channel is full, keeps it in its backlog, and one whose backlog is
    /// over its bounds is detached from the hub's position before the first batch it did
    /// not take. `positions` is where the hub's consumer is once the item's records were
    /// polled. An error ends the hub: every subscriber goes back to a consumer of its
    /// own, which meets the error itself if it lasts. False when the hub is over.
    pub fn fan_out(&self, item: Batch, positions: &BTreeMap<i32, i64>) -> bool {
        let detached = {
            let mut state = lock(&self.state);
            let before = state.next.clone();
            let failed = item.is_err();
            let bytes = size(&item);
            let mut detached = Vec::new();
            state.subscribers.retain_mut(|s| {
                if !failed {
                    if !s.flush() {
                        return false;
                    }
                    let item = if s.backlog.is_empty() && !s.paused() {
                        match s.tx.try_send(item.clone()) {
                            Ok(()) => return true,
                            Err(TrySendError::Closed(_)) => return false,
                            Err(TrySendError::Full(item)) => item,
                        }
                    } else {
                        item.clone()
                    };
                    s.backlog.push_back((item, before.clone()));
                    s.backlog_bytes += bytes;
                    if !s.too_far_behind() {
                        return true;
                    }
                }
                detached.push(s.detach(&self.topic, &before));
                false
            });
            advance(&mut state.next, positions);
            if failed {
                state.over = true;
            }
            detached
        };
        self.detach_all(detached);
        let over = lock(&self.state).over;
        if over && let Some(hubs) = self.hubs.upgrade() {
            hubs.remove(self);
        }
        !over
    }

    /// Gives each of `detached` a consumer of its own again.
    fn detach_all(&self, detached: Vec<Detached>) {
        if detached.is_empty() {
            return;
        }
        let spawner = self.hubs.upgrade().and_then(|h| h.spawner.upgrade());
        for d in detached {
            match &spawner {
                Some(spawner) => spawner.detach(d),
                // The backend is gone: dropping the sender ends the subscription.
                None => drop(d),
            }
        }
    }
}

/// Moves `next` forward to `positions` (never back: a rebuilt consumer reports no
/// position until its first record).
fn advance(next: &mut BTreeMap<i32, i64>, positions: &BTreeMap<i32, i64>) {
    for (p, n) in next.iter_mut() {
        if let Some(&at) = positions.get(p) {
            *n = (*n).max(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Delivery;

    /// A spawner that records what it was asked to do.
    #[derive(Default)]
    struct Recorder {
        detached: Mutex<Vec<BTreeMap<i32, i64>>>,
    }

    impl Spawner for Recorder {
        fn detach(&self, detached: Detached) {
            lock(&self.detached).push(detached.next);
        }
    }

    fn at(pairs: &[(i32, i64)]) -> BTreeMap<i32, i64> {
        pairs.iter().copied().collect()
    }

    fn setup() -> (Arc<Recorder>, Arc<Hubs>) {
        let recorder = Arc::new(Recorder::default());
        let spawner: Arc<dyn Spawner> = recorder.clone();
        // The recorder's Arc keeps the spawner alive.
        let hubs = Arc::new(Hubs::new(Arc::downgrade(&spawner)));
        (recorder, hubs)
    }

    fn subscriber(
        room: usize,
    ) -> (
        mpsc::Sender<Batch>,
        mpsc::Receiver<Batch>,
        watch::Sender<bool>,
    ) {
        let (tx, rx) = mpsc::channel(room);
        let (paused, _) = watch::channel(false);
        (tx, rx, paused)
    }

    fn batch(n: usize) -> Batch {
        Ok(Delivery::Records(vec![
            serde_json::from_value(serde_json::json!({
                "topic":"t","partition":0,"offset":n,"key":null,"timestamp":0,"headers":[],"value":n
            }))
            .unwrap(),
        ]))
    }

    #[test]
    fn a_subscription_joins_only_at_the_hubs_position() {
        let (recorder, hubs) = setup();
        let (tx, _rx, paused) = subscriber(4);
        // The first becomes the hub.
        let joined = hubs.join("t", &at(&[(0, 5), (1, 2)]), &tx, &paused.subscribe());
        let Offer::Become(hub) = joined else {
            panic!("the first subscription becomes the hub");
        };
        assert_eq!(hub.next(), at(&[(0, 5), (1, 2)]));

        let (tx2, _rx2, paused2) = subscriber(4);
        // Behind or ahead of the hub, or on other partitions: not now.
        assert!(matches!(
            hubs.join("t", &at(&[(0, 4), (1, 2)]), &tx2, &paused2.subscribe()),
            Offer::NotNow
        ));
        assert!(matches!(
            hubs.join("t", &at(&[(0, 6), (1, 2)]), &tx2, &paused2.subscribe()),
            Offer::NotNow
        ));
        assert!(matches!(
            hubs.join("t", &at(&[(0, 5)]), &tx2, &paused2.subscribe()),
            Offer::NotNow
        ));
        assert!(!matches!(
            hubs.join("t", &at(&[(0, 5), (1, 2)]), &tx2, &paused2.subscribe()),
            Offer::NotNow
        ));
        assert_eq!(hubs.census(), (1, 2));
        assert!(lock(&recorder.detached).is_empty());
    }

    #[test]
    fn fan_out_reaches_every_subscriber_and_moves_the_hubs_position() {
        let (_recorder, hubs) = setup();
        let (tx1, mut rx1, p1) = subscriber(4);
        let (tx2, mut rx2, p2) = subscriber(4);
        assert!(!matches!(
            hubs.join("t", &at(&[(0, 5)]), &tx1, &p1.subscribe()),
            Offer::NotNow
        ));
        assert!(!matches!(
            hubs.join("t", &at(&[(0, 5)]), &tx2, &p2.subscribe()),
            Offer::NotNow
        ));
        let hub = lock(&hubs.map)["t"].clone();
        assert!(hub.fan_out(batch(5), &at(&[(0, 6)])));
        assert_eq!(rx1.try_recv().unwrap(), batch(5));
        assert_eq!(rx2.try_recv().unwrap(), batch(5));
        assert_eq!(hub.next(), at(&[(0, 6)]));
        // Markers polled while idle move the position on.
        hub.advance(&at(&[(0, 8)]));
        assert_eq!(hub.next(), at(&[(0, 8)]));
        // Never back.
        hub.advance(&at(&[(0, 3)]));
        assert_eq!(hub.next(), at(&[(0, 8)]));
    }

    #[test]
    fn subscribers_behind_keep_a_backlog_and_leave_only_past_its_bound() {
        let (recorder, hubs) = setup();
        let (full, mut full_rx, p1) = subscriber(1);
        let (paused, mut paused_rx, p2) = subscriber(4);
        let (fine, mut fine_rx, p3) = subscriber(4);
        for (tx, p) in [(&full, &p1), (&paused, &p2), (&fine, &p3)] {
            assert!(!matches!(
                hubs.join("t", &at(&[(0, 5)]), tx, &p.subscribe()),
                Offer::NotNow
            ));
        }
        let hub = lock(&hubs.map)["t"].clone();
        assert!(hub.fan_out(batch(5), &at(&[(0, 6)])));
        p2.send_replace(true);
        assert!(hub.fan_out(batch(6), &at(&[(0, 7)])));
        // The full one could not take offset 6 and the paused one was not sent it: both
        // keep it, and stay on the shared tail.
        assert!(lock(&recorder.detached).is_empty());
        assert_eq!(hubs.census(), (1, 3));
        assert_eq!(fine_rx.try_recv().unwrap(), batch(5));
        assert_eq!(fine_rx.try_recv().unwrap(), batch(6));

        // Room again, and the pause is over: the backlogs go out in order.
        assert_eq!(full_rx.try_recv().unwrap(), batch(5));
        p2.send_replace(false);
        hub.flush();
        assert_eq!(full_rx.try_recv().unwrap(), batch(6));
        assert_eq!(paused_rx.try_recv().unwrap(), batch(5));
        assert_eq!(paused_rx.try_recv().unwrap(), batch(6));
        assert!(full_rx.try_recv().is_err() && paused_rx.try_recv().is_err());

        // Paused for good: past the bound it goes to a consumer of its own, from the
        // first offset it did not take.
        p2.send_replace(true);
        for n in 7..7 + HUB_BACKLOG_BATCHES + 1 {
            assert!(hub.fan_out(batch(n), &at(&[(0, n as i64 + 1)])));
            assert_eq!(fine_rx.try_recv().unwrap(), batch(n));
            assert_eq!(full_rx.try_recv().unwrap(), batch(n));
        }
        assert_eq!(*lock(&recorder.detached), [at(&[(0, 7)])]);
        assert_eq!(hubs.census(), (1, 2));
    }

    #[test]
    fn a_hub_without_subscribers_is_over_and_replaced() {
        let (_recorder, hubs) = setup();
        let (tx, rx, p) = subscriber(4);
        assert!(!matches!(
            hubs.join("t", &at(&[(0, 5)]), &tx, &p.subscribe()),
            Offer::NotNow
        ));
        let hub = lock(&hubs.map)["t"].clone();
        assert!(!hub.is_over());
        drop((tx, rx));
        assert!(hub.is_over());
        assert_eq!(hubs.census(), (0, 0));
        // The next subscription starts a new hub wherever it is.
        let (tx, _rx, p) = subscriber(4);
        assert!(matches!(
            hubs.join("t", &at(&[(0, 9)]), &tx, &p.subscribe()),
            Offer::Become(_)
        ));
        assert_eq!(hubs.census(), (1, 1));
    }

    #[test]
    fn an_error_ends_the_hub_and_detaches_everyone() {
        let (recorder, hubs) = setup();
        let (tx, _rx, p) = subscriber(4);
        assert!(!matches!(
            hubs.join("t", &at(&[(0, 5)]), &tx, &p.subscribe()),
            Offer::NotNow
        ));
        let hub = lock(&hubs.map)["t"].clone();
        let error =
            crate::backend::BackendError::new(eventfold_core::wire::ErrorCode::Kafka, "gone");
        assert!(!hub.fan_out(Err(error), &at(&[(0, 5)])));
        assert_eq!(*lock(&recorder.detached), [at(&[(0, 5)])]);
        assert_eq!(hubs.census(), (0, 0));
    }
}
