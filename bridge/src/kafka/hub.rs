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
//! outbound queue is full) or whose channel is full is detached: it goes back to a
//! consumer of its own, assigned at the hub's `next` from before the batch it did not
//! take, where pause and back-pressure work as for any subscription. A hub whose
//! subscribers are all gone ends.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

use crate::backend::Batch;

/// How often an idle, caught-up pump tries to hand its subscription over.
pub const HANDOVER_EVERY: Duration = Duration::from_millis(500);

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
        let subscriber = || Subscriber {
            tx: tx.clone(),
            paused: paused.clone(),
        };
        let mut map = lock(&self.map);
        if let Some(hub) = map.get(topic) {
            let mut state = lock(&hub.state);
            if !state.over {
                if state.next != *at {
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

    /// The offsets before which every record has been fanned out.
    pub fn next(&self) -> BTreeMap<i32, i64> {
        lock(&self.state).next.clone()
    }

    /// Sends `item` to every subscriber, without waiting for any: a paused subscriber,
    /// or one whose channel is full, is detached from the offsets before this item.
    /// `positions` is where the hub's consumer is once the item's records were polled.
    /// An error ends the hub: every subscriber goes back to a consumer of its own, which
    /// meets the error itself if it lasts. False when the hub is over.
    pub fn fan_out(&self, item: Batch, positions: &BTreeMap<i32, i64>) -> bool {
        let detached = {
            let mut state = lock(&self.state);
            let before = state.next.clone();
            let mut detached = Vec::new();
            let failed = item.is_err();
            state.subscribers.retain(|s| {
                if failed || *s.paused.borrow() {
                    detached.push((s.tx.clone(), s.paused.clone()));
                    return false;
                }
                match s.tx.try_send(item.clone()) {
                    Ok(()) => true,
                    Err(TrySendError::Closed(_)) => false,
                    Err(TrySendError::Full(_)) => {
                        detached.push((s.tx.clone(), s.paused.clone()));
                        false
                    }
                }
            });
            advance(&mut state.next, positions);
            if failed {
                state.over = true;
            }
            detached
                .into_iter()
                .map(|(tx, paused)| Detached {
                    topic: self.topic.clone(),
                    tx,
                    paused,
                    next: before.clone(),
                })
                .collect::<Vec<_>>()
        };
        if !detached.is_empty() {
            let spawner = self.hubs.upgrade().and_then(|h| h.spawner.upgrade());
            for d in detached {
                match &spawner {
                    Some(spawner) => spawner.detach(d),
                    // The backend is gone: dropping the sender ends the subscription.
                    None => drop(d),
                }
            }
        }
        let over = lock(&self.state).over;
        if over && let Some(hubs) = self.hubs.upgrade() {
            hubs.remove(self);
        }
        !over
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
    fn full_and_paused_subscribers_are_detached_from_before_the_batch() {
        let (recorder, hubs) = setup();
        let (full, _full_rx, p1) = subscriber(1);
        let (paused, _paused_rx, p2) = subscriber(4);
        let (fine, mut fine_rx, p3) = subscriber(4);
        for (tx, p) in [(&full, &p1), (&paused, &p2), (&fine, &p3)] {
            assert!(!matches!(
                hubs.join("t", &at(&[(0, 5)]), tx, &p.subscribe()),
                Offer::NotNow
            ));
        }
        let hub = lock(&hubs.map)["t"].clone();
        assert!(hub.fan_out(batch(5), &at(&[(0, 6)])));
        assert!(lock(&recorder.detached).is_empty());
        p2.send_replace(true);
        assert!(hub.fan_out(batch(6), &at(&[(0, 7)])));
        // The full one could not take offset 6, the paused one was not sent it: both go
        // back to a consumer of their own from 6.
        assert_eq!(*lock(&recorder.detached), [at(&[(0, 6)]), at(&[(0, 6)])]);
        assert_eq!(fine_rx.try_recv().unwrap(), batch(5));
        assert_eq!(fine_rx.try_recv().unwrap(), batch(6));
        assert_eq!(hubs.census(), (1, 1));
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
