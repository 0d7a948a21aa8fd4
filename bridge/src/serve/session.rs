//! One WebSocket connection speaking protocol v2 (docs/protocol.md).
//!
//! A session is four kinds of task around one bounded outbound queue:
//!
//! - the writer owns the socket's sink and writes the queued frames, no more than the
//!   send window ahead of what the client has read (pings out, pongs back), and closes
//!   a client that stays behind past the slow-client limit with a `closing` frame; it
//!   remembers the last offset it wrote per subscription and partition, which is what
//!   a `closing` frame offers to resume from;
//! - the reader owns the socket's stream and the connection's subscriptions, answers
//!   requests, passes the client's pongs to the writer, hands produce requests
//!   (bounded) to the connection's producer, and spawns one forwarder per
//!   subscription;
//! - the producer, started by the first `produce`, enqueues the connection's records
//!   one after the other, so they are appended in the order they were sent, and awaits
//!   the broker's acknowledgements together, so a client can pipeline its frames;
//! - a forwarder turns its subscription's batches into `records` and `caught_up`
//!   frames. When the queue is full it pauses its subscription in the backend, and
//!   when the queue stays full past the slow-client limit it closes the connection.
//!
//! Reader and writer abort each other when one ends (the chat example's shape), and a
//! server shutdown closes every session with code 1001 after its `closing` frame.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message};
use eventfold_core::wire::{
    ClientMessage, ErrorCode, PROTOCOL_VERSION, RequestId, Resume, ServerMessage, WireBytes,
    WireError, WireHeader,
};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::metrics::Metrics;
use super::{MAX_PRODUCES_IN_FLIGHT, SHUTDOWN_GRACE, SLOW_CLOSE_GRACE, ServeConfig, ServerState};
use crate::backend::{Backend, BackendError, Batch, Delivery, ProduceRequest, SubscribeRequest};

/// Close codes (RFC 6455 §7.4.1 and the IANA registry).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
const CLOSE_INVALID_DATA: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// How long `hello` waits for the topic names before it goes out without them.
pub const HELLO_TOPICS_WAIT: Duration = Duration::from_secs(2);

/// How long a session waits for the client's answer to its close frame.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(1);

/// A frame waiting in the outbound queue.
enum Outbound {
    /// A serialized server message.
    Frame(String),
    /// A serialized `records` frame, with the next offset per partition once it is
    /// written.
    Records {
        sub: String,
        topic: String,
        text: String,
        count: u64,
        next: Vec<(i32, i64)>,
    },
    /// The subscription is gone: stop offering to resume it.
    Forget(String),
    /// Close after the frames queued before this one (the reader's closes, so its
    /// replies to earlier requests still arrive).
    Close(Close),
}

/// A request to the writer to end the connection.
struct Close {
    code: u16,
    reason: &'static str,
    /// When set, a `closing` frame with this message and the resume offsets goes first.
    closing: Option<String>,
    /// The client stayed behind. Only the writer counts slow-client closes, so a
    /// connection that a forwarder and the writer both find slow counts once.
    slow: bool,
}

/// Why the reader stopped.
enum Ending {
    /// The client closed, or the socket ended.
    Client,
    /// The writer is gone (the socket failed or the connection is being closed).
    Gone,
}

/// Serves one connection until the client leaves, the socket fails or the server
/// shuts down. Errors are logged here, never propagated: one client's trouble is not
/// the server's.
pub async fn run<B, W, R>(sink: W, stream: R, state: ServerState<B>, permit: OwnedSemaphorePermit)
where
    B: Backend,
    W: Sink<Message> + Unpin + Send + 'static,
    W::Error: Display,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin + Send + 'static,
{
    let metrics = state.metrics().clone();
    metrics.connections.inc();
    let limits = state.config().limits;
    let (out, out_rx) = mpsc::channel(limits.outbound_queue);
    let (close, close_rx) = mpsc::channel(1);

    let hello = hello(&state).await;
    // The queue is empty and has room for at least one frame.
    let _ = out.try_send(Outbound::Frame(hello));

    let (acked, acked_rx) = watch::channel(Progress::default());
    let mut writer = tokio::spawn(write_loop(
        sink,
        out_rx,
        close_rx,
        acked_rx,
        metrics.clone(),
        limits,
    ));
    let connection = Connection {
        state: state.clone(),
        out,
        close: close.clone(),
        subscriptions: HashMap::new(),
        acked,
        producer: None,
        produce_permits: Arc::new(Semaphore::new(MAX_PRODUCES_IN_FLIGHT)),
    };
    let mut reader = tokio::spawn(connection.read_loop(stream));
    let mut shutdown = state.shutdown_signal();

    tokio::select! {
        ended = &mut writer => {
            // The writer ended, after a close frame or on a dead socket: give the
            // client time to answer the close, so it sees a clean close. Meanwhile the
            // socket stays open, so a slow client still gets what was written.
            let wait = ended.unwrap_or(CLOSE_REPLY_WAIT);
            if tokio::time::timeout(wait, &mut reader).await.is_err() {
                reader.abort();
            }
        }
        ending = &mut reader => {
            if let Ok(Ending::Client) = ending {
                debug!("client closed the connection");
            }
            // The reader queued any close it wanted before it ended; give the writer
            // the time a slow client gets to flush it.
            if tokio::time::timeout(limits.slow_client_timeout, &mut writer).await.is_err() {
                writer.abort();
            }
        }
        // The guard wait_for returns is not Send: drop it inside.
        _ = async { shutdown.wait_for(|stopping| *stopping).await.is_ok() } => {
            let _ = close.try_send(Close {
                code: CLOSE_GOING_AWAY,
                reason: "the bridge is shutting down",
                closing: Some(
                    "the bridge is shutting down: subscribe again with these offsets to go on".into(),
                ),
                slow: false,
            });
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut writer).await.is_err() {
                writer.abort();
            }
            if tokio::time::timeout(CLOSE_REPLY_WAIT, &mut reader).await.is_err() {
                reader.abort();
            }
        }
    }
    metrics.connections.dec();
    drop(permit);
}

/// The `hello` frame: the protocol version, whether produce is allowed, and the topics
/// this client may see.
async fn hello<B: Backend>(state: &ServerState<B>) -> String {
    let config = state.config();
    // A broker that is away must not hold up the page: past the wait, hello goes out
    // without topics (the simulator still works, and list_topics says why later).
    let names = tokio::time::timeout(HELLO_TOPICS_WAIT, state.backend().topic_names()).await;
    let topics = match names {
        Ok(Ok(names)) => names
            .into_iter()
            .filter(|name| config.topic_visible(name))
            .collect(),
        Ok(Err(e)) => {
            warn!("hello without topics: {e}");
            Vec::new()
        }
        Err(_) => {
            warn!(
                "hello without topics: Kafka did not list them within {} s",
                HELLO_TOPICS_WAIT.as_secs()
            );
            Vec::new()
        }
    };
    to_text(&ServerMessage::Hello {
        protocol: PROTOCOL_VERSION,
        produce: produce_allowed(config, state.backend()),
        topics,
    })
}

fn produce_allowed<B: Backend>(config: &ServeConfig, backend: &B) -> bool {
    config.allow_produce && backend.produce_allowed()
}

fn to_text(message: &ServerMessage) -> String {
    // Server messages are plain data (strings, numbers, JSON values): serializing them
    // cannot fail.
    serde_json::to_string(message).expect("server messages serialize")
}

/// What the reader knows of the client, for the writer's send window.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// The byte count the client's latest pong carried back: it read that much.
    read: u64,
    /// The reader is waiting for the writer (a full outbound queue, or produce replies
    /// to go out), so it reads no pongs meanwhile. The window must not wait for them
    /// then: the writer would wait for the reader, which waits for the writer.
    stalled: bool,
}

/// The writer's view of how far the client has read: bytes written (as WebSocket
/// frames) and what the reader learnt from the client's pongs.
struct Window {
    acked: watch::Receiver<Progress>,
    written: u64,
    /// `written` when the last ping went out.
    pinged: u64,
    size: u64,
    /// Since when the client has been behind, and the count of bytes read that ends
    /// it: the window filled up at that instant, and the client has not read half a
    /// window since.
    behind: Option<(Instant, u64)>,
}

impl Window {
    fn unread(&self) -> u64 {
        self.written.saturating_sub(self.acked.borrow().read)
    }
}

/// What happened while the writer waited for the client.
enum Wait {
    /// The client can take the next frame.
    Room,
    /// A close was requested meanwhile.
    Close(Close),
    /// The client stayed behind for the whole slow-client limit.
    Behind,
    /// The reader is gone: the session is ending.
    Gone,
}

/// The close of a client that stayed behind.
fn slow_close(limit: Duration) -> Close {
    Close {
        code: CLOSE_TRY_AGAIN_LATER,
        reason: "too slow: resume from the closing frame's offsets",
        closing: Some(format!(
            "this client stayed behind for {} s: subscribe again with these offsets",
            limit.as_secs_f64()
        )),
        slow: true,
    }
}

/// Writes queued frames until the queue closes, a close is requested, or the client
/// stays behind for longer than the slow-client limit. Returns how long the session
/// should wait for the client to answer the close.
///
/// Behind means the client has not read what the send window allows, or did not take a
/// write, for the whole limit. The window is what lets a slow client still get its
/// `closing` frame: the bridge stops writing records long before the kernel's buffers
/// fill, so the `closing` and close frames always fit behind what was written.
async fn write_loop<W>(
    mut sink: W,
    mut out: mpsc::Receiver<Outbound>,
    mut close: mpsc::Receiver<Close>,
    acked: watch::Receiver<Progress>,
    metrics: Metrics,
    limits: super::Limits,
) -> Duration
where
    W: Sink<Message> + Unpin,
    W::Error: Display,
{
    let limit = limits.slow_client_timeout;
    let mut window = Window {
        acked,
        written: 0,
        pinged: 0,
        size: limits.send_window as u64,
        behind: None,
    };
    // Per subscription: its topic and the next offset per partition it was sent.
    let mut sent: BTreeMap<String, (String, BTreeMap<i32, i64>)> = BTreeMap::new();
    loop {
        // A close request jumps the queue: it comes from a shutdown, which should not
        // wait for a backlog, or from a slow client, whose queue is full.
        let item = tokio::select! {
            biased;
            Some(request) = close.recv() => Some(Outbound::Close(request)),
            item = out.recv() => item,
        };
        let item = match item {
            Some(Outbound::Close(request)) => {
                return finish(sink, sent, request, &metrics, limit).await;
            }
            None => {
                // The session is over; flush whatever tungstenite still holds (such as
                // its reply to the client's close).
                let _ = tokio::time::timeout(limit, sink.close()).await;
                return CLOSE_REPLY_WAIT;
            }
            Some(Outbound::Forget(sub)) => {
                sent.remove(&sub);
                continue;
            }
            Some(item) => item,
        };
        match room(&mut window, &mut close, limit).await {
            Wait::Room => {}
            Wait::Close(request) => return finish(sink, sent, request, &metrics, limit).await,
            Wait::Behind => {
                info!(
                    unread = window.unread(),
                    "closing a client that read nothing for {} s",
                    limit.as_secs_f64()
                );
                return finish(sink, sent, slow_close(limit), &metrics, limit).await;
            }
            Wait::Gone => return CLOSE_REPLY_WAIT,
        }
        let (text, records) = match item {
            Outbound::Frame(text) => (text, None),
            Outbound::Records {
                sub,
                topic,
                text,
                count,
                next,
            } => (text, Some((sub, topic, count, next))),
            Outbound::Forget(_) | Outbound::Close(_) => unreachable!("handled above"),
        };
        let bytes = text.len() as u64;
        match write(&mut sink, text, &mut window, limit).await {
            Written::Yes => metrics.bytes_sent.inc_by(bytes),
            Written::Failed => return CLOSE_REPLY_WAIT,
            Written::Late { taken } => {
                info!(
                    "closing a client that took no data for {} s",
                    limit.as_secs_f64()
                );
                // A frame in the sink's buffer goes out ahead of the closing frame, so
                // the client gets it first: count it as written.
                if let Some((sub, topic, count, next)) = records.filter(|_| taken) {
                    metrics.records_relayed.inc_by(count);
                    let entry = sent.entry(sub).or_insert_with(|| (topic, BTreeMap::new()));
                    entry.1.extend(next);
                }
                return finish(sink, sent, slow_close(limit), &metrics, limit).await;
            }
        }
        if let Some((sub, topic, count, next)) = records {
            metrics.records_relayed.inc_by(count);
            let entry = sent.entry(sub).or_insert_with(|| (topic, BTreeMap::new()));
            entry.1.extend(next);
        }
    }
}

/// Waits until the send window has room for another frame, a close is requested, or
/// the slow-client limit passes.
///
/// Once the window is full the client is behind until it has read half a window more
/// (128 KiB by default): so a client must read half the window within the slow-client
/// limit of the window filling up. Meanwhile the writer goes on filling whatever room
/// the client makes. Without this, a client reading a trickle (20 KB/s against a
/// replay's megabytes) made a little room again and again and was never behind for a
/// whole limit at a time, yet it never caught up; a browser on a slow link still reads
/// half the window in a second or two.
async fn room(window: &mut Window, close: &mut mpsc::Receiver<Close>, limit: Duration) -> Wait {
    let (read, stalled) = {
        let progress = window.acked.borrow();
        (progress.read, progress.stalled)
    };
    if stalled || window.behind.is_some_and(|(_, mark)| read >= mark) {
        window.behind = None;
    }
    if stalled || window.unread() < window.size {
        return Wait::Room;
    }
    let (since, _) = *window
        .behind
        .get_or_insert_with(|| (Instant::now(), read + window.size / 2));
    let limit = limit.saturating_sub(since.elapsed());
    let (written, size) = (window.written, window.size);
    let caught_up = window
        .acked
        .wait_for(|progress| progress.stalled || written.saturating_sub(progress.read) < size);
    tokio::select! {
        biased;
        Some(request) = close.recv() => Wait::Close(request),
        waited = tokio::time::timeout(limit, caught_up) => match waited {
            Ok(Ok(_)) => Wait::Room,
            Ok(Err(_)) => Wait::Gone,
            Err(_) => Wait::Behind,
        },
    }
}

/// Writes the `closing` frame a close asks for, with the resume offsets, then the close
/// frame; returns how long to wait for the client's answer.
async fn finish<W>(
    mut sink: W,
    sent: BTreeMap<String, (String, BTreeMap<i32, i64>)>,
    request: Close,
    metrics: &Metrics,
    limit: Duration,
) -> Duration
where
    W: Sink<Message> + Unpin,
    W::Error: Display,
{
    if request.slow {
        metrics.slow_client_closes.inc();
    }
    if let Some(message) = request.closing {
        let resume = sent
            .into_iter()
            .map(|(sub, (topic, offsets))| Resume {
                sub,
                topic,
                offsets,
            })
            .collect();
        let text = to_text(&ServerMessage::Closing { message, resume });
        match tokio::time::timeout(limit, sink.send(Message::Text(text.into()))).await {
            Ok(Ok(())) => {}
            _ => return CLOSE_REPLY_WAIT,
        }
    }
    let frame = CloseFrame {
        code: request.code,
        reason: request.reason.into(),
    };
    let _ = tokio::time::timeout(limit, sink.send(Message::Close(Some(frame)))).await;
    // A slow client reads what was written before it reaches the close frame.
    if request.slow {
        SLOW_CLOSE_GRACE
    } else {
        CLOSE_REPLY_WAIT
    }
}

/// How a write went.
enum Written {
    Yes,
    /// An error: the connection is unusable.
    Failed,
    /// The frame was not sent within the limit: the client is not reading. `taken`
    /// when it is in the sink's buffer, ahead of anything written after it.
    Late {
        taken: bool,
    },
}

/// Writes one text frame, then a ping when a quarter of the window was written since
/// the last one: the client's pong says it read everything before the ping.
async fn write<W>(sink: &mut W, text: String, window: &mut Window, limit: Duration) -> Written
where
    W: Sink<Message> + Unpin,
    W::Error: Display,
{
    let bytes = text.len() as u64;
    let fed_before = window.written;
    let sending = async {
        // Fed first, so a frame that is in the sink's buffer is told apart from one
        // that is not.
        sink.feed(Message::Text(text.into())).await?;
        window.written += bytes;
        if window.written - window.pinged >= window.size / 4 {
            window.pinged = window.written;
            let count = window.written.to_be_bytes().to_vec();
            sink.feed(Message::Ping(count.into())).await?;
        }
        sink.flush().await
    };
    match tokio::time::timeout(limit, sending).await {
        Ok(Ok(())) => Written::Yes,
        Ok(Err(e)) => {
            debug!("write failed: {e}");
            Written::Failed
        }
        Err(_) => Written::Late {
            taken: window.written > fed_before,
        },
    }
}

/// A running subscription as the reader holds it. Dropping it stops the forwarder,
/// which drops the backend's `Subscription`.
struct SubscriptionHandle {
    forwarder: JoinHandle<()>,
    user_paused: watch::Sender<bool>,
    metrics: Metrics,
}

impl Drop for SubscriptionHandle {
    fn drop(&mut self) {
        self.forwarder.abort();
        self.metrics.subscriptions.dec();
    }
}

/// The reader's state.
struct Connection<B> {
    state: ServerState<B>,
    out: mpsc::Sender<Outbound>,
    close: mpsc::Sender<Close>,
    subscriptions: HashMap<String, SubscriptionHandle>,
    /// The bytes the client has read, from its pongs, for the writer's send window.
    acked: watch::Sender<Progress>,
    /// The connection's producer, once it has produced.
    producer: Option<ProducerHandle>,
    /// Produce requests sent to the producer and not yet answered; the reader waits
    /// for one before it hands over the next.
    produce_permits: Arc<Semaphore>,
}

/// A `produce` frame on its way to the connection's producer, with the permit that
/// counts it until its reply is queued.
struct ProduceJob {
    id: RequestId,
    topic: String,
    key: Option<WireBytes>,
    value: Option<WireBytes>,
    headers: Vec<WireHeader>,
    permit: OwnedSemaphorePermit,
}

/// The reader's end of the producer task. Dropping it stops the task: the client is
/// gone, and records already enqueued are appended anyway.
struct ProducerHandle {
    jobs: mpsc::Sender<ProduceJob>,
    task: JoinHandle<()>,
}

impl Drop for ProducerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The outbound queue is closed: the writer has ended.
struct Gone;

impl<B: Backend> Connection<B> {
    async fn read_loop<R>(mut self, mut stream: R) -> Ending
    where
        R: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        while let Some(message) = stream.next().await {
            let handled = match message {
                Ok(Message::Text(text)) => self.handle_text(text.as_str()).await,
                Ok(Message::Binary(_)) => {
                    self.error(
                        Value::Null,
                        ErrorCode::BadRequest,
                        "binary frames are not part of the protocol: send JSON text frames",
                    )
                    .await
                }
                // tungstenite answers pings itself.
                Ok(Message::Ping(_)) => Ok(()),
                // The answer to one of the writer's pings: the client has read every
                // byte written before it. Other pongs (a client may send them
                // unasked) carry no count.
                Ok(Message::Pong(payload)) => {
                    if let Ok(count) = <[u8; 8]>::try_from(&payload[..]) {
                        let count = u64::from_be_bytes(count);
                        self.acked.send_if_modified(|progress| {
                            let newer = count > progress.read;
                            progress.read = progress.read.max(count);
                            newer
                        });
                    }
                    Ok(())
                }
                Ok(Message::Close(_)) => return Ending::Client,
                Err(e) => {
                    let Some((code, reason)) = read_error_close(e) else {
                        return Ending::Client;
                    };
                    if code == CLOSE_TOO_BIG {
                        let max = self.state.config().limits.max_frame_bytes;
                        info!(max, "closing a client that sent a frame over the limit");
                    } else {
                        info!(code, "closing a client that broke the protocol: {reason}");
                    }
                    let close = Close {
                        code,
                        reason,
                        closing: None,
                        slow: false,
                    };
                    let _ = self.out.send(Outbound::Close(close)).await;
                    return Ending::Gone;
                }
            };
            if handled.is_err() {
                return Ending::Gone;
            }
        }
        Ending::Client
    }

    async fn send(&self, message: &ServerMessage) -> Result<(), Gone> {
        self.queue(Outbound::Frame(to_text(message))).await
    }

    /// Queues a frame for the writer; while the queue is full the reader reads no
    /// pongs, and says so (see [`Progress::stalled`]).
    async fn queue(&self, frame: Outbound) -> Result<(), Gone> {
        let frame = match self.out.try_send(frame) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(Gone),
            Err(TrySendError::Full(frame)) => frame,
        };
        self.stalled(self.out.send(frame)).await.map_err(|_| Gone)
    }

    /// Awaits `wait`, a wait for the writer, marked as a stall of the reader.
    async fn stalled<T>(&self, wait: impl Future<Output = T>) -> T {
        self.acked.send_modify(|progress| progress.stalled = true);
        let result = wait.await;
        self.acked.send_modify(|progress| progress.stalled = false);
        result
    }

    async fn error(
        &self,
        id: RequestId,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Result<(), Gone> {
        self.state.metrics().refused_frame(code);
        self.send(&ServerMessage::Error {
            id,
            code,
            message: message.into(),
        })
        .await
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), Gone> {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(e) => {
                // Echo the id when the frame is JSON with one, so the client can tell
                // which request failed.
                let id = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(Value::Null);
                return self
                    .error(id, ErrorCode::BadRequest, format!("bad frame: {e}"))
                    .await;
            }
        };
        match message {
            ClientMessage::ListTopics { id } => self.list_topics(id).await,
            ClientMessage::Subscribe {
                id,
                topic,
                from,
                partitions,
            } => {
                self.subscribe(
                    id,
                    SubscribeRequest {
                        topic,
                        from,
                        partitions,
                    },
                )
                .await
            }
            ClientMessage::Unsubscribe { id } => {
                if self.subscriptions.remove(&id).is_some() {
                    self.queue(Outbound::Forget(id)).await
                } else {
                    self.unknown_subscription(id).await
                }
            }
            ClientMessage::Pause { sub } => self.set_paused(sub, true).await,
            ClientMessage::Resume { sub } => self.set_paused(sub, false).await,
            ClientMessage::Produce {
                id,
                topic,
                key,
                value,
                headers,
            } => self.produce(id, topic, key, value, headers).await,
            ClientMessage::GroupOffsets { id, group, topic } => {
                self.group_offsets(id, group, topic).await
            }
        }
    }

    async fn unknown_subscription(&self, sub: String) -> Result<(), Gone> {
        let message = format!("there is no subscription {sub:?} on this connection");
        self.error(Value::String(sub), ErrorCode::BadRequest, message)
            .await
    }

    async fn set_paused(&self, sub: String, paused: bool) -> Result<(), Gone> {
        match self.subscriptions.get(&sub) {
            Some(handle) => {
                handle.user_paused.send_replace(paused);
                Ok(())
            }
            None => self.unknown_subscription(sub).await,
        }
    }

    fn unknown_topic(topic: &str) -> String {
        format!("there is no topic {topic:?} on this bridge")
    }

    async fn list_topics(&self, id: RequestId) -> Result<(), Gone> {
        match self.state.backend().list_topics().await {
            Ok(topics) => {
                let config = self.state.config();
                let topics = topics
                    .into_iter()
                    .filter(|t| config.topic_visible(&t.name))
                    .collect();
                self.send(&ServerMessage::Topics { id, topics }).await
            }
            Err(e) => self.error(id, e.code, e.message).await,
        }
    }

    async fn group_offsets(&self, id: RequestId, group: String, topic: String) -> Result<(), Gone> {
        if group.is_empty() {
            return self
                .error(
                    id,
                    ErrorCode::BadRequest,
                    "`group` is empty: give the id of the consumer group to look at",
                )
                .await;
        }
        if !self.state.config().topic_visible(&topic) {
            let message = Self::unknown_topic(&topic);
            return self.error(id, ErrorCode::UnknownTopic, message).await;
        }
        let backend = self.state.backend();
        match backend.group_offsets(group.clone(), topic.clone()).await {
            Ok(offsets) => {
                self.send(&ServerMessage::GroupOffsets {
                    id,
                    group,
                    topic,
                    offsets,
                })
                .await
            }
            Err(e) => self.error(id, e.code, e.message).await,
        }
    }

    async fn subscribe(&mut self, id: String, request: SubscribeRequest) -> Result<(), Gone> {
        let limits = self.state.config().limits;
        let reply_id = Value::String(id.clone());
        if self.subscriptions.contains_key(&id) {
            let message = format!(
                "subscription {id:?} exists already on this connection: unsubscribe it or pick another id"
            );
            return self.error(reply_id, ErrorCode::BadRequest, message).await;
        }
        if self.subscriptions.len() >= limits.max_subscriptions {
            let message = format!(
                "a connection holds at most {} subscriptions (--max-subscriptions): unsubscribe one first",
                limits.max_subscriptions
            );
            return self.error(reply_id, ErrorCode::BadRequest, message).await;
        }
        if !self.state.config().topic_visible(&request.topic) {
            let message = Self::unknown_topic(&request.topic);
            return self.error(reply_id, ErrorCode::UnknownTopic, message).await;
        }
        let topic = request.topic.clone();
        let subscription = match self.state.backend().subscribe(request).await {
            Ok(subscription) => subscription,
            Err(e) => return self.error(reply_id, e.code, e.message).await,
        };
        let (user_paused, user_paused_rx) = watch::channel(false);
        let metrics = self.state.metrics().clone();
        let forwarder = Forwarder {
            sub: id.clone(),
            topic,
            high: subscription.high,
            paused: subscription.paused,
            user_paused: user_paused_rx,
            out: self.out.clone(),
            close: self.close.clone(),
            metrics: metrics.clone(),
            limit: limits.slow_client_timeout,
        };
        let forwarder = tokio::spawn(forwarder.run(subscription.batches));
        metrics.subscriptions.inc();
        self.subscriptions.insert(
            id,
            SubscriptionHandle {
                forwarder,
                user_paused,
                metrics,
            },
        );
        Ok(())
    }

    /// Hands a `produce` frame to the connection's producer, in the order frames
    /// arrive. The reader waits here while [`MAX_PRODUCES_IN_FLIGHT`] are unanswered.
    async fn produce(
        &mut self,
        id: RequestId,
        topic: String,
        key: Option<WireBytes>,
        value: Option<WireBytes>,
        headers: Vec<WireHeader>,
    ) -> Result<(), Gone> {
        let permits = Arc::clone(&self.produce_permits);
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            // The replies that give permits back wait for the writer.
            Err(_) => match self.stalled(permits.acquire_owned()).await {
                Ok(permit) => permit,
                Err(_) => return Ok(()),
            },
        };
        let producer = self.producer.get_or_insert_with(|| {
            // As many jobs as permits: sending never waits.
            let (jobs, jobs_rx) = mpsc::channel(MAX_PRODUCES_IN_FLIGHT);
            let task = tokio::spawn(produce_loop(self.state.clone(), jobs_rx, self.out.clone()));
            ProducerHandle { jobs, task }
        });
        let job = ProduceJob {
            id,
            topic,
            key,
            value,
            headers,
            permit,
        };
        producer.jobs.send(job).await.map_err(|_| Gone)
    }
}

/// A produce reply once it is known, with the permit to give back once it is queued.
type Reply = BoxFuture<'static, (String, OwnedSemaphorePermit)>;

/// The connection's producer: it enqueues each job's record before it takes the next
/// job, so records are appended in the order their frames came, and meanwhile awaits
/// the acknowledgements of the records already enqueued. Replies go out in the order
/// the frames came.
async fn produce_loop<B: Backend>(
    state: ServerState<B>,
    mut jobs: mpsc::Receiver<ProduceJob>,
    out: mpsc::Sender<Outbound>,
) {
    let mut replies: FuturesOrdered<Reply> = FuturesOrdered::new();
    loop {
        tokio::select! {
            // Replies first: they give permits back to the reader.
            biased;
            Some((reply, permit)) = replies.next(), if !replies.is_empty() => {
                if out.send(Outbound::Frame(reply)).await.is_err() {
                    return;
                }
                drop(permit);
            }
            job = jobs.recv() => match job {
                Some(job) => replies.push_back(enqueue(&state, job).await),
                // The reader is gone; it ends the session's other tasks too.
                None => return,
            },
        }
    }
}

/// Checks one produce job and enqueues its record; the future of its reply.
async fn enqueue<B: Backend>(state: &ServerState<B>, job: ProduceJob) -> Reply {
    let ProduceJob {
        id,
        topic,
        key,
        value,
        headers,
        permit,
    } = job;
    let refuse = |id, code, message: String, permit| -> Reply {
        state.metrics().refused_frame(code);
        let text = to_text(&ServerMessage::Error { id, code, message });
        futures_util::future::ready((text, permit)).boxed()
    };
    if !state.config().allow_produce {
        let message =
            "this bridge is read-only: start it with --allow-produce to append records".into();
        return refuse(id, ErrorCode::Forbidden, message, permit);
    }
    if !state.config().topic_visible(&topic) {
        let message = Connection::<B>::unknown_topic(&topic);
        return refuse(id, ErrorCode::UnknownTopic, message, permit);
    }
    let bytes = |wire: Option<WireBytes>| wire.map(|w| w.to_bytes()).transpose();
    let request = (|| {
        Ok::<_, WireError>(ProduceRequest {
            topic,
            key: bytes(key)?,
            value: bytes(value)?,
            headers: headers
                .into_iter()
                .map(|h| Ok((h.name, bytes(h.value)?)))
                .collect::<Result<_, _>>()?,
        })
    })();
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            let message = format!("bad produce: {e}");
            return refuse(id, ErrorCode::BadRequest, message, permit);
        }
    };
    let ack = match state.backend().enqueue(request).await {
        Ok(ack) => ack,
        Err(BackendError { code, message }) => {
            state.metrics().produce_errors.inc();
            return refuse(id, code, message, permit);
        }
    };
    let metrics = state.metrics().clone();
    async move {
        let reply = match ack.await {
            Ok((partition, offset)) => {
                metrics.produce_acks.inc();
                ServerMessage::Produced {
                    id,
                    partition,
                    offset,
                }
            }
            Err(BackendError { code, message }) => {
                metrics.produce_errors.inc();
                metrics.refused_frame(code);
                ServerMessage::Error { id, code, message }
            }
        };
        (to_text(&reply), permit)
    }
    .boxed()
}

/// The close code and reason a read error calls for: 1009 for a frame or message over
/// the size limit, 1007 for a text frame that is not UTF-8, 1002 for any other breach of
/// RFC 6455 (a reserved opcode, an unmasked client frame, …). `None` when the socket
/// just ended: there is nobody to tell.
fn read_error_close(error: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::ProtocolError;
    let inner = error.into_inner();
    match inner.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => {
            Some((CLOSE_TOO_BIG, "frame too large (--max-frame-bytes)"))
        }
        tungstenite::Error::Utf8(_) => Some((CLOSE_INVALID_DATA, "a text frame must be UTF-8")),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        tungstenite::Error::Protocol(ProtocolError::UnmaskedFrameFromClient) => Some((
            CLOSE_PROTOCOL_ERROR,
            "protocol error: client frames must be masked",
        )),
        tungstenite::Error::Protocol(
            ProtocolError::InvalidOpcode(_)
            | ProtocolError::UnknownDataFrameType(_)
            | ProtocolError::UnknownControlFrameType(_),
        ) => Some((CLOSE_PROTOCOL_ERROR, "protocol error: reserved opcode")),
        tungstenite::Error::Protocol(_) => Some((CLOSE_PROTOCOL_ERROR, "protocol error")),
        _ => None,
    }
}

/// Turns one subscription's batches into frames.
struct Forwarder {
    sub: String,
    topic: String,
    high: BTreeMap<i32, i64>,
    /// The backend's pause switch: on while the client asked for a pause or the
    /// outbound queue is full.
    paused: watch::Sender<bool>,
    user_paused: watch::Receiver<bool>,
    out: mpsc::Sender<Outbound>,
    close: mpsc::Sender<Close>,
    metrics: Metrics,
    limit: Duration,
}

impl Forwarder {
    async fn run(mut self, mut batches: mpsc::Receiver<Batch>) {
        // Partitions still short of the high watermark seen at subscribe time.
        let mut behind: BTreeMap<i32, i64> = self
            .high
            .iter()
            .filter(|(_, high)| **high > 0)
            .map(|(p, high)| (*p, *high))
            .collect();
        let mut caught_up = false;
        loop {
            if !caught_up && behind.is_empty() {
                caught_up = true;
                let frame = ServerMessage::CaughtUp {
                    sub: self.sub.clone(),
                    high: self.high.clone(),
                };
                if self
                    .enqueue(Outbound::Frame(to_text(&frame)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if *self.user_paused.borrow_and_update() {
                self.paused.send_replace(true);
                if self.user_paused.wait_for(|paused| !*paused).await.is_err() {
                    return;
                }
                self.paused.send_replace(false);
            }
            let batch = tokio::select! {
                batch = batches.recv() => batch,
                changed = self.user_paused.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
            };
            // A backend's raw records go out as the protocol writes records.
            let batch = batch.map(|b| b.map(|d| d.wire_form(&self.topic)));
            let frame = match batch {
                None => {
                    let frame = ServerMessage::Error {
                        id: Value::String(self.sub.clone()),
                        code: ErrorCode::Kafka,
                        message: format!("subscription {:?} ended", self.sub),
                    };
                    self.metrics.refused_frame(ErrorCode::Kafka);
                    let _ = self.enqueue(Outbound::Frame(to_text(&frame))).await;
                    return;
                }
                Some(Err(e)) => {
                    self.metrics.refused_frame(e.code);
                    Outbound::Frame(to_text(&ServerMessage::Error {
                        id: Value::String(self.sub.clone()),
                        code: e.code,
                        message: e.message,
                    }))
                }
                Some(Ok(Delivery::Reached(p))) => {
                    behind.remove(&p);
                    continue;
                }
                Some(Ok(Delivery::Rebuilt)) => {
                    self.metrics.subscription_rebuilds.inc();
                    continue;
                }
                Some(Ok(Delivery::Encoded(batch))) if batch.count == 0 => continue,
                Some(Ok(Delivery::Encoded(batch))) => {
                    for &(p, last) in &batch.last {
                        if behind.get(&p).is_some_and(|high| last >= high - 1) {
                            behind.remove(&p);
                        }
                    }
                    // The frame `ServerMessage::Records` would print, around records
                    // already in their wire text.
                    let sub = serde_json::to_string(&self.sub).expect("a string serializes");
                    let text = format!(
                        r#"{{"type":"records","sub":{sub},"records":{}}}"#,
                        batch.json
                    );
                    Outbound::Records {
                        sub: self.sub.clone(),
                        topic: self.topic.clone(),
                        text,
                        count: batch.count as u64,
                        next: batch
                            .last
                            .iter()
                            .map(|&(p, last)| (p, last.saturating_add(1)))
                            .collect(),
                    }
                }
                // Put in their wire form above.
                Some(Ok(Delivery::Raw(_))) => continue,
                Some(Ok(Delivery::Records(records))) if records.is_empty() => continue,
                Some(Ok(Delivery::Records(records))) => {
                    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
                    for record in &records {
                        let n = next.entry(record.partition).or_insert(record.offset + 1);
                        *n = (*n).max(record.offset.saturating_add(1));
                        if behind
                            .get(&record.partition)
                            .is_some_and(|high| record.offset >= high - 1)
                        {
                            behind.remove(&record.partition);
                        }
                    }
                    let count = records.len() as u64;
                    let text = to_text(&ServerMessage::Records {
                        sub: self.sub.clone(),
                        records,
                    });
                    Outbound::Records {
                        sub: self.sub.clone(),
                        topic: self.topic.clone(),
                        text,
                        count,
                        next: next.into_iter().collect(),
                    }
                }
            };
            if self.enqueue(frame).await.is_err() {
                return;
            }
        }
    }

    /// Queues a frame. A full queue means the client is behind: the subscription is
    /// paused in the backend until there is room, and if there is none within the
    /// slow-client limit the connection is closed with the offsets to resume from.
    async fn enqueue(&mut self, frame: Outbound) -> Result<(), Gone> {
        let frame = match self.out.try_send(frame) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(Gone),
            Err(TrySendError::Full(frame)) => frame,
        };
        self.paused.send_replace(true);
        match tokio::time::timeout(self.limit, self.out.send(frame)).await {
            Ok(Ok(())) => {
                let user = *self.user_paused.borrow();
                self.paused.send_replace(user);
                Ok(())
            }
            Ok(Err(_)) => Err(Gone),
            Err(_) => {
                info!(sub = %self.sub, "closing a client that stayed behind");
                let _ = self.close.try_send(slow_close(self.limit));
                Err(Gone)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::NoKafka;
    use futures_util::{sink, stream};

    /// The session is generic over its socket, so channels can stand in for one: no
    /// network, no HTTP upgrade.
    #[tokio::test]
    async fn a_session_runs_over_channels() {
        let state = ServerState::new(ServeConfig::new("dist"), Arc::new(NoKafka));
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let (to_client, mut client_rx) = mpsc::channel::<Message>(8);
        let (client_tx, from_client) = mpsc::channel::<Message>(8);
        let sink = Box::pin(sink::unfold(to_client, |tx, message| async move {
            tx.send(message).await.map(|()| tx)
        }));
        let stream = Box::pin(stream::unfold(from_client, |mut rx| async move {
            rx.recv().await.map(|message| (Ok(message), rx))
        }));
        let session = tokio::spawn(run(sink, stream, state.clone(), permit));

        let mut check = async |frame: Option<&str>, expected: Value| {
            if let Some(frame) = frame {
                client_tx.send(Message::Text(frame.into())).await.unwrap();
            }
            let Some(Message::Text(text)) = client_rx.recv().await else {
                panic!("expected a text frame");
            };
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
        };
        check(
            None,
            serde_json::json!({"type":"hello","protocol":2,"produce":false,"topics":[]}),
        )
        .await;
        check(
            Some(r#"{"type":"resume","sub":"s9"}"#),
            serde_json::json!({"type":"error","id":"s9","code":"bad_request",
                               "message":"there is no subscription \"s9\" on this connection"}),
        )
        .await;

        // The client leaves: the session ends and gives its permit back.
        client_tx.send(Message::Close(None)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), session)
            .await
            .expect("the session ends")
            .unwrap();
        assert_eq!(state.metrics().connections.get(), 0);
    }
}
