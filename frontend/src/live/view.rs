//! The live page: a Yew component that owns the socket and the replay.
//!
//! It is a struct component rather than a reducer: the trace grows in place with
//! every batch (a reducer would clone it), and the socket's closures and timers live
//! exactly as long as the view. Renders are batched to one per [`RENDER_EVERY_MS`]
//! while records stream in, so a fast replay spends its time folding, not drawing.

use std::collections::BTreeMap;
use std::sync::Arc;

use eventfold_core::decl::{self, Spec};
use eventfold_core::projection::Projection;
use eventfold_core::wire::{
    ClientMessage, ErrorCode, PROTOCOL_VERSION, Record, ServerMessage, StartFrom, TopicInfo,
    WireBytes,
};
use eventfold_core::{Key, builtin, display};
use gloo_events::EventListener;
use serde_json::Value;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use super::link::{self, LiveLink};
use super::rows::{self, LiveRow};
use super::session::Session;
use super::socket::{self, Event as SocketEvent, Socket};
use super::timer::{Timeout, now_ms};
use crate::components::process_table;

/// The first wait before reconnecting; each failed attempt doubles it.
pub const BACKOFF_FIRST_MS: i32 = 250;
/// The longest wait between two reconnect attempts.
pub const BACKOFF_MAX_MS: i32 = 8_000;
/// At most one render per this many milliseconds while records stream in.
pub const RENDER_EVERY_MS: f64 = 40.0;
/// Keys the aggregate field suggests; any other key can still be typed.
pub const KEYS_LISTED: usize = 100;
/// The projection-picker value that folds with the declarative spec typed below it.
const SPEC: &str = "spec";

/// The connection as the status line shows it.
#[derive(Debug, Clone, PartialEq)]
enum Conn {
    Connecting,
    Open,
    Reconnecting {
        attempt: u32,
        delay_ms: i32,
        reason: String,
    },
    /// The bridge refused us for good (a token, a protocol we do not speak).
    Failed(String),
}

/// The bridge's answer about a consumer group: `None` while asking, then its
/// committed offsets or the bridge's error.
type GroupAnswer = Option<Result<BTreeMap<i32, i64>, String>>;

/// The last command sent and what became of it.
#[derive(Debug, Clone, PartialEq)]
enum Command {
    Sent { id: String },
    Produced { partition: i32, offset: i64 },
    Failed(String),
}

pub enum Msg {
    Socket(SocketEvent),
    Reconnect,
    Render,
    EditUrl(String),
    Connect,
    PickTopic(String),
    PickProjection(String),
    EditSpec(String),
    EditFrom(String),
    Start,
    Back,
    Forward,
    Seek(u64),
    Follow(bool),
    EditJump(String),
    Jump,
    EditCommand(String),
    EditKey(String),
    Send,
    PickKey(String),
    HashChanged,
    EditGroup(String),
    AskGroup,
}

pub struct Live {
    url: String,
    socket: Option<Socket>,
    conn: Conn,
    /// The bridge's `hello`: may this page produce?
    produce: Option<bool>,
    topics: Vec<TopicInfo>,
    topic: String,
    projection: String,
    spec_text: String,
    from_text: String,
    /// Why the last start was refused (a bad start text, a bad spec) or the bridge's
    /// error about the subscription.
    start_error: Option<String>,
    /// The link asked for a replay: start it once the topics are listed.
    autostart: bool,
    session: Option<Session>,
    subs: u32,
    requests: u32,
    cursor: u64,
    follow: bool,
    jump_text: String,
    jump_error: Option<String>,
    command_text: String,
    command_key: String,
    command: Option<Command>,
    key: Option<Key>,
    group_text: String,
    /// The consumer group asked about, and its committed offsets once the bridge
    /// answered (for the topic of the replay).
    /// `Err` holds the bridge's error about it.
    group: Option<(String, GroupAnswer)>,
    attempts: u32,
    retry: Option<Timeout>,
    /// The `closing` frame's message, the reason of the break that follows it.
    closing: Option<String>,
    /// Why the connection broke, until the replay has resumed on a new one.
    broken: Option<String>,
    last_render: f64,
    render_timer: Option<Timeout>,
    /// The `hashchange` listener: a `#live…` link pasted into this tab starts it.
    _on_hash: Option<EventListener>,
}

impl Component for Live {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let link = link::parse(&link::current_hash()).unwrap_or_default();
        let LiveLink {
            topic,
            projection,
            from,
            bridge,
            token,
        } = link;
        let mut live = Live {
            url: link::with_token(
                bridge.unwrap_or_else(socket::same_origin_url),
                token.as_deref(),
            ),
            socket: None,
            conn: Conn::Connecting,
            produce: None,
            topics: Vec::new(),
            autostart: topic.is_some(),
            topic: topic.unwrap_or_default(),
            projection: projection.unwrap_or_else(|| builtin::NAMES[0].to_owned()),
            spec_text: decl::twin(builtin::NAMES[0]).unwrap_or_default().to_owned(),
            from_text: from.unwrap_or_else(|| "beginning".into()),
            start_error: None,
            session: None,
            subs: 0,
            requests: 0,
            cursor: 1,
            follow: true,
            jump_text: String::new(),
            jump_error: None,
            command_text: r#"{"type":"deposit","amount":50}"#.into(),
            command_key: String::new(),
            command: None,
            key: None,
            group_text: String::new(),
            group: None,
            attempts: 0,
            retry: None,
            closing: None,
            broken: None,
            last_render: 0.0,
            render_timer: None,
            _on_hash: None,
        };
        live._on_hash = listen_hash(ctx.link().callback(|()| Msg::HashChanged));
        live.connect(ctx);
        live
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Socket(event) => return self.on_socket(ctx, event),
            Msg::Reconnect => {
                self.retry = None;
                self.connect(ctx);
            }
            Msg::Render => {
                self.render_timer = None;
                self.last_render = now_ms();
                return true;
            }
            Msg::EditUrl(url) => self.url = url,
            Msg::Connect => {
                // Another bridge may front another cluster: the offsets held mean
                // nothing there, so the replay is dropped rather than resumed.
                self.attempts = 0;
                self.broken = None;
                self.session = None;
                self.start_error = None;
                self.conn = Conn::Connecting;
                self.connect(ctx);
            }
            Msg::PickTopic(topic) => self.topic = topic,
            Msg::PickProjection(name) => {
                if let Some(text) = decl::twin(&name) {
                    self.spec_text = text.to_owned();
                }
                self.projection = name;
            }
            Msg::EditSpec(text) => self.spec_text = text,
            Msg::EditFrom(text) => self.from_text = text,
            Msg::Start => self.start(),
            Msg::Back => {
                self.follow = false;
                self.cursor = self.cursor.saturating_sub(1).max(1);
            }
            Msg::Forward => {
                if let Some(trace) = self.session.as_ref().map(|s| &s.trace) {
                    self.cursor = (self.cursor + 1).min(trace.len());
                }
            }
            Msg::Seek(step) => {
                if let Some(trace) = self.session.as_ref().map(|s| &s.trace) {
                    self.cursor = step.clamp(1, trace.len());
                    self.follow = self.cursor == trace.len();
                }
            }
            Msg::Follow(on) => {
                self.follow = on;
                self.follow_head();
            }
            Msg::EditJump(text) => self.jump_text = text,
            Msg::Jump => self.jump(),
            Msg::EditCommand(text) => self.command_text = text,
            Msg::EditKey(text) => self.command_key = text,
            Msg::Send => self.send_command(),
            Msg::PickKey(key) => {
                // The filter is text: it follows the key shown under that name (a
                // text key before a bytes key with the same `0x…` display), or the
                // text key itself when no record has carried it yet.
                let key = key.trim();
                self.key = (!key.is_empty()).then(|| {
                    let view = self.session.as_ref().map(|s| s.trace.final_view());
                    view.and_then(|v| v.key_named(key))
                        .unwrap_or_else(|| Key::Text(key.to_owned()))
                });
            }
            Msg::HashChanged => {
                // The page's own address updates (replaceState) do not fire this; a
                // link followed or pasted does, and opens its replay.
                let Some(link) = link::parse(&link::current_hash()) else {
                    return false;
                };
                let Some(topic) = link.topic else {
                    return false;
                };
                self.topic = topic;
                if let Some(projection) = link.projection {
                    self.projection = projection;
                }
                if let Some(from) = link.from {
                    self.from_text = from;
                }
                if self.topics.is_empty() {
                    self.autostart = true;
                } else {
                    self.start();
                }
            }
            Msg::EditGroup(text) => self.group_text = text,
            Msg::AskGroup => self.ask_group(),
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <main class="live" data-testid="live">
                <header>
                    <h1>{ "eventfold" }<span class="mode">{ " live" }</span></h1>
                    <a class="mode-switch" href="../#scenario=bank">{ "Back to the lessons" }</a>
                </header>
                { self.status_line() }
                { self.connection_form(link) }
                { self.picker(link) }
                { self.progress() }
                if let Some(session) = &self.session {
                    { self.controls(link, session) }
                    <div class="now">
                        { self.state_view(session) }
                        { self.console(session) }
                    </div>
                    { self.group_view(link, session) }
                    { self.table(link, session) }
                    { self.partitions(session) }
                    { self.errors(link, session) }
                }
                { self.commands(link) }
            </main>
        }
    }
}

impl Live {
    fn connect(&mut self, ctx: &Context<Self>) {
        self.socket = None;
        self.retry = None;
        let report = ctx.link().callback(Msg::Socket);
        match Socket::open(&self.url, report) {
            Ok(socket) => {
                self.socket = Some(socket);
                if !matches!(self.conn, Conn::Reconnecting { .. }) {
                    self.conn = Conn::Connecting;
                }
            }
            Err(error) => self.conn = Conn::Failed(format!("cannot open {}: {error}", self.url)),
        }
    }

    fn send(&self, message: &ClientMessage) -> bool {
        let text = serde_json::to_string(message).expect("wire messages always serialize");
        self.socket.as_ref().is_some_and(|s| s.send(&text))
    }

    fn on_socket(&mut self, ctx: &Context<Self>, event: SocketEvent) -> bool {
        match event {
            SocketEvent::Open => {
                self.conn = Conn::Open;
                true
            }
            SocketEvent::Closed { code, reason } => {
                self.socket = None;
                self.produce = None;
                let reason = self.closing.take().unwrap_or_else(|| {
                    if reason.is_empty() {
                        format!("connection lost (close code {code})")
                    } else {
                        format!("{reason} (close code {code})")
                    }
                });
                if code == 1008 {
                    self.conn = Conn::Failed(format!("the bridge refused this page: {reason}"));
                    return true;
                }
                if matches!(self.conn, Conn::Failed(_)) {
                    return true;
                }
                self.broken = Some(reason.clone());
                self.attempts += 1;
                let delay_ms = BACKOFF_FIRST_MS
                    .saturating_mul(1 << (self.attempts - 1).min(15))
                    .min(BACKOFF_MAX_MS);
                self.conn = Conn::Reconnecting {
                    attempt: self.attempts,
                    delay_ms,
                    reason,
                };
                let link = ctx.link().clone();
                self.retry = Some(Timeout::new(delay_ms as u32, move || {
                    link.send_message(Msg::Reconnect)
                }));
                true
            }
            SocketEvent::Text(text) => match serde_json::from_str::<ServerMessage>(&text) {
                Ok(message) => self.on_message(ctx, message),
                Err(error) => {
                    self.start_error = Some(format!(
                        "the bridge sent a frame this page cannot read: {error}"
                    ));
                    true
                }
            },
        }
    }

    fn on_message(&mut self, ctx: &Context<Self>, message: ServerMessage) -> bool {
        match message {
            ServerMessage::Hello {
                protocol,
                produce,
                topics,
            } => {
                if protocol != PROTOCOL_VERSION {
                    self.conn = Conn::Failed(format!(
                        "the bridge speaks protocol {protocol}; this page speaks {PROTOCOL_VERSION}"
                    ));
                    self.socket = None;
                    return true;
                }
                self.produce = Some(produce);
                if self.topic.is_empty() {
                    self.topic = topics.first().cloned().unwrap_or_default();
                }
                self.list_topics();
                self.resume();
                true
            }
            ServerMessage::Topics { topics, .. } => {
                // Fresher watermarks make the progress bar truer until the replay
                // catches up (a `latest` start keeps the ones it started from: its
                // resume offsets come from them).
                if let Some(session) = &mut self.session
                    && session.caught_up.is_none()
                    && !matches!(session.from, StartFrom::Latest(_))
                    && let Some(info) = topics.iter().find(|t| t.name == session.topic)
                {
                    session.partitions = info.partitions.clone();
                }
                self.topics = topics;
                if std::mem::take(&mut self.autostart) {
                    self.start();
                }
                true
            }
            ServerMessage::Records { sub, records } => {
                self.on_records(&sub, records);
                self.render_soon(ctx)
            }
            ServerMessage::CaughtUp { sub, high } => {
                if let Some(session) = self.session.as_mut().filter(|s| s.sub == sub) {
                    session.reach(high);
                    self.follow_head();
                    self.list_topics();
                }
                true
            }
            ServerMessage::Produced {
                id,
                partition,
                offset,
            } => {
                if matches!(&self.command, Some(Command::Sent { id: sent }) if id == sent.as_str())
                {
                    self.command = Some(Command::Produced { partition, offset });
                    self.list_topics();
                }
                true
            }
            ServerMessage::Error { id, code, message } => {
                let about_command = matches!(&self.command, Some(Command::Sent { id: sent }) if id == sent.as_str());
                let about_group = id.as_str().is_some_and(|id| id.starts_with('g'));
                let text = format!("{}: {message}", code_text(code));
                if about_command {
                    self.command = Some(Command::Failed(text));
                } else if about_group {
                    if let Some((_, answer)) = &mut self.group {
                        *answer = Some(Err(text));
                    }
                } else {
                    // A refused subscription (an unknown topic, an offset out of
                    // range) leaves no replay to show, only the reason.
                    if self
                        .session
                        .as_ref()
                        .is_some_and(|session| id == session.sub.as_str())
                    {
                        self.session = None;
                    }
                    self.start_error = Some(text);
                }
                true
            }
            ServerMessage::GroupOffsets { group, offsets, .. } => {
                if let Some((asked, answer)) = &mut self.group
                    && *asked == group
                {
                    *answer = Some(Ok(offsets));
                }
                true
            }
            ServerMessage::Closing { message, resume } => {
                if let Some(session) = &mut self.session {
                    let sub = session.sub.clone();
                    for r in resume.iter().filter(|r| r.sub == sub) {
                        session.closing(&r.offsets);
                    }
                }
                self.closing = Some(format!("the bridge closed the connection: {message}"));
                true
            }
            // Messages added to the protocol after this page was built are not ours.
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    fn on_records(&mut self, sub: &str, records: Vec<Record>) {
        let Some(session) = self.session.as_mut().filter(|s| s.sub == sub) else {
            return;
        };
        session.accept(records);
        if self.follow {
            self.cursor = session.trace.len();
        }
    }

    /// Renders now if the last render is old enough, else once the period is over.
    fn render_soon(&mut self, ctx: &Context<Self>) -> bool {
        let now = now_ms();
        if now - self.last_render >= RENDER_EVERY_MS {
            self.last_render = now;
            self.render_timer = None;
            return true;
        }
        if self.render_timer.is_none() {
            let link = ctx.link().clone();
            let wait = (RENDER_EVERY_MS - (now - self.last_render)).max(0.0) as u32;
            self.render_timer = Some(Timeout::new(wait, move || link.send_message(Msg::Render)));
        }
        false
    }

    fn follow_head(&mut self) {
        if let Some(session) = &self.session
            && self.follow
        {
            self.cursor = session.trace.len();
        }
    }

    fn projection(&self) -> Result<Arc<dyn Projection>, String> {
        if self.projection == SPEC {
            return Spec::parse(&self.spec_text)
                .map(|spec| Arc::new(spec) as Arc<dyn Projection>)
                .map_err(|e| format!("the spec is not usable: {e}"));
        }
        builtin::by_name(&self.projection)
            .ok_or_else(|| format!("no projection named {:?}", self.projection))
    }

    /// Starts a replay of the picked topic from the picked start.
    fn start(&mut self) {
        self.start_error = None;
        let from: StartFrom = match self.from_text.trim().parse() {
            Ok(from) => from,
            Err(error) => {
                self.start_error = Some(error.to_string());
                return;
            }
        };
        let projection = match self.projection() {
            Ok(projection) => projection,
            Err(error) => {
                self.start_error = Some(error);
                return;
            }
        };
        if self.topic.is_empty() {
            self.start_error = Some("pick a topic first".into());
            return;
        }
        if let Some(old) = self.session.take() {
            self.send(&ClientMessage::Unsubscribe { id: old.sub });
        }
        self.subs += 1;
        let sub = format!("s{}", self.subs);
        let partitions = self
            .topics
            .iter()
            .find(|t| t.name == self.topic)
            .map(|t| t.partitions.clone())
            .unwrap_or_default();
        self.send(&ClientMessage::Subscribe {
            id: sub.clone(),
            topic: self.topic.clone(),
            from: from.clone(),
            partitions: None,
        });
        self.list_topics();
        link::show(&self.topic, &self.projection, &link::from_text(&from));
        self.session = Some(Session::new(
            self.topic.clone(),
            from,
            sub,
            projection,
            partitions,
        ));
        self.cursor = 1;
        self.follow = true;
        self.key = None;
    }

    /// After a reconnect: subscribe again from the offsets held.
    fn resume(&mut self) {
        let Some(reason) = self.broken.take() else {
            return;
        };
        self.attempts = 0;
        let Some(session) = &self.session else {
            return;
        };
        self.subs += 1;
        let sub = format!("s{}", self.subs);
        let from = session.resume_from();
        let message = ClientMessage::Subscribe {
            id: sub.clone(),
            topic: session.topic.clone(),
            from: from.clone(),
            partitions: None,
        };
        if self.send(&message)
            && let Some(session) = &mut self.session
        {
            session.resumed(sub, &from, reason);
        }
    }

    /// Asks for the topics and their watermarks again (on connect, when a replay
    /// starts or catches up, after a produce), so the picker's figures stay current.
    fn list_topics(&mut self) {
        self.requests += 1;
        self.send(&ClientMessage::ListTopics {
            id: Value::from(format!("t{}", self.requests)),
        });
    }

    /// Asks the bridge for a consumer group's committed offsets on the replay's topic.
    fn ask_group(&mut self) {
        let group = self.group_text.trim().to_owned();
        let Some(session) = &self.session else {
            return;
        };
        if group.is_empty() {
            self.group = None;
            return;
        }
        self.requests += 1;
        let message = ClientMessage::GroupOffsets {
            id: Value::from(format!("g{}", self.requests)),
            group: group.clone(),
            topic: session.topic.clone(),
        };
        self.send(&message);
        self.group = Some((group, None));
    }

    fn jump(&mut self) {
        self.jump_error = None;
        let Some(session) = &self.session else {
            return;
        };
        let text = self.jump_text.trim();
        let (partition, offset) = match text.split_once(':') {
            Some((p, o)) => (p.trim().parse::<i32>(), o.trim().parse::<i64>()),
            None => (Ok(0), text.parse::<i64>()),
        };
        let (Ok(partition), Ok(offset)) = (partition, offset) else {
            self.jump_error = Some(format!(
                "{text:?} is not an offset (write OFFSET, or PARTITION:OFFSET)"
            ));
            return;
        };
        match session.trace.seek_offset(partition, offset) {
            Some(step) => {
                self.cursor = step;
                self.follow = false;
            }
            None => {
                self.jump_error = Some(format!(
                    "no record at or after offset {offset} in partition {partition} yet"
                ))
            }
        }
    }

    fn send_command(&mut self) {
        let value: Value = match serde_json::from_str(&self.command_text) {
            Ok(value) => value,
            Err(error) => {
                self.command = Some(Command::Failed(format!("the event is not JSON: {error}")));
                return;
            }
        };
        let topic = self
            .session
            .as_ref()
            .map(|s| s.topic.clone())
            .unwrap_or_else(|| self.topic.clone());
        self.requests += 1;
        let id = format!("p{}", self.requests);
        let key = self.command_key.trim();
        let message = ClientMessage::Produce {
            id: Value::from(id.as_str()),
            topic,
            key: (!key.is_empty()).then(|| WireBytes(Value::String(key.to_owned()))),
            value: Some(WireBytes::of_json(value)),
            headers: Vec::new(),
        };
        self.command = Some(if self.send(&message) {
            Command::Sent { id }
        } else {
            Command::Failed("not connected to the bridge; try again once it is".into())
        });
    }

    /// `data-state` and the words of the status line.
    fn status(&self) -> (&'static str, String) {
        match &self.conn {
            Conn::Connecting => ("connecting", format!("Connecting to {}…", self.url)),
            Conn::Reconnecting {
                attempt,
                delay_ms,
                reason,
            } => (
                "reconnecting",
                format!(
                    "Reconnecting (attempt {attempt}, after {:.1} s): {reason}",
                    f64::from(*delay_ms) / 1000.0
                ),
            ),
            Conn::Failed(message) => ("error", format!("Error: {message}")),
            Conn::Open => match (&self.start_error, &self.session) {
                (Some(error), _) => ("error", format!("Error: {error}")),
                (None, None) => ("connected", format!("Connected to {}", self.url)),
                (None, Some(s)) => match &s.caught_up {
                    None => (
                        "connected",
                        format!(
                            "Connected; replaying {} ({} events so far)",
                            s.topic,
                            s.count()
                        ),
                    ),
                    Some(_) if s.live_records == 0 => (
                        "caught_up",
                        format!(
                            "Caught up with {} ({} events); waiting for new records",
                            s.topic,
                            s.count()
                        ),
                    ),
                    Some(_) => (
                        "live",
                        format!(
                            "Live on {}: {} events, {} since caught up",
                            s.topic,
                            s.count(),
                            s.live_records
                        ),
                    ),
                },
            },
        }
    }

    fn status_line(&self) -> Html {
        let (state, text) = self.status();
        let resume = self
            .session
            .as_ref()
            .and_then(|s| s.resumes.last().map(|r| (s, r)));
        html! {
            <section class="live-status">
                <p class={classes!("connection", state)} data-testid="connection-status"
                    data-state={state} role="status" aria-live="polite">
                    <span class="dot" aria-hidden="true"></span>{ text }
                </p>
                if let Some((session, note)) = resume {
                    <p class="resume-note" data-testid="resume-note"
                        data-resumes={session.resumes.len().to_string()}
                        data-duplicates={session.duplicates.to_string()}>
                        { format!(
                            "Resumed {} time{} after a break ({}): subscribed again from {} with {} events held, \
                             so nothing was skipped; {} repeated record{} dropped.",
                            session.resumes.len(),
                            if session.resumes.len() == 1 { "" } else { "s" },
                            note.reason,
                            offsets_text(&note.offsets),
                            note.events_before,
                            session.duplicates,
                            if session.duplicates == 1 { "" } else { "s" },
                        ) }
                    </p>
                }
            </section>
        }
    }

    fn connection_form(&self, link: &html::Scope<Self>) -> Html {
        let oninput = link.callback(|e: InputEvent| Msg::EditUrl(input_value(&e)));
        let onsubmit = link.callback(|e: SubmitEvent| {
            e.prevent_default();
            Msg::Connect
        });
        html! {
            <form class="bridge" {onsubmit}>
                <label>{ "Bridge " }
                    <input data-testid="bridge-url" value={self.url.clone()} {oninput}
                        size="36" spellcheck="false" />
                </label>
                <button type="submit">{ "Connect" }</button>
            </form>
        }
    }

    fn picker(&self, link: &html::Scope<Self>) -> Html {
        let on_topic = link.callback(|e: Event| Msg::PickTopic(select_value(&e)));
        let on_projection = link.callback(|e: Event| Msg::PickProjection(select_value(&e)));
        let on_from = link.callback(|e: InputEvent| Msg::EditFrom(input_value(&e)));
        let on_spec = link.callback(|e: InputEvent| Msg::EditSpec(textarea_value(&e)));
        let onsubmit = link.callback(|e: SubmitEvent| {
            e.prevent_default();
            Msg::Start
        });
        let listed = self.topics.iter().any(|t| t.name == self.topic);
        let selected = self.topics.iter().find(|t| t.name == self.topic);
        html! {
            <form class="live-picker" {onsubmit}>
                <label>{ "Topic " }
                    <select data-testid="topic-select" onchange={on_topic}>
                        if !listed {
                            <option value={self.topic.clone()} selected=true>
                                { if self.topic.is_empty() { "(no topics yet)".to_owned() } else { self.topic.clone() } }
                            </option>
                        }
                        { for self.topics.iter().map(|t| html! {
                            <option value={t.name.clone()} selected={t.name == self.topic}>
                                { format!("{} ({} partition{}, {} records)", t.name, t.partitions.len(),
                                    if t.partitions.len() == 1 { "" } else { "s" },
                                    t.partitions.iter().map(|p| p.high - p.low).sum::<i64>()) }
                            </option>
                        }) }
                    </select>
                </label>
                <label>{ "Start " }
                    <input data-testid="from-input" value={self.from_text.clone()} oninput={on_from}
                        size="18" spellcheck="false"
                        title="beginning, latest, offsets:0=5,1=0 or timestamp:MS" />
                </label>
                <label>{ "Projection " }
                    <select data-testid="projection-select" onchange={on_projection}>
                        { for builtin::NAMES.iter().map(|name| html! {
                            <option value={*name} selected={self.projection == *name}>{ *name }</option>
                        }) }
                        <option value={SPEC} selected={self.projection == SPEC}>{ "declarative spec…" }</option>
                    </select>
                </label>
                <button type="submit" data-testid="live-start">{ "Start replay" }</button>
                if let Some(topic) = selected {
                    <table class="watermarks" data-testid="topic-partitions">
                        <thead><tr><th>{ "partition" }</th><th>{ "low" }</th><th>{ "high" }</th></tr></thead>
                        <tbody>
                            { for topic.partitions.iter().map(|p| html! {
                                <tr data-partition={p.id.to_string()}>
                                    <td>{ p.id }</td><td>{ p.low }</td><td>{ p.high }</td>
                                </tr>
                            }) }
                        </tbody>
                    </table>
                }
                if self.projection == SPEC {
                    <textarea data-testid="live-spec" class="spec" rows="8" spellcheck="false"
                        value={self.spec_text.clone()} oninput={on_spec} />
                }
            </form>
        }
    }

    fn progress(&self) -> Html {
        let Some(session) = &self.session else {
            return html! {};
        };
        if session.caught_up.is_some() {
            return html! {};
        }
        let Some((done, total)) = session.progress() else {
            return html! { <p class="progress muted">{ "Replaying…" }</p> };
        };
        let percent = if total == 0 { 100 } else { done * 100 / total };
        html! {
            <p class="progress">
                <progress data-testid="live-progress" max={total.max(1).to_string()}
                    value={done.to_string()}></progress>
                { format!(" {done} of {total} records to the caught-up point ({percent}%)") }
            </p>
        }
    }

    fn controls(&self, link: &html::Scope<Self>, session: &Session) -> Html {
        let steps = session.trace.len();
        let on_scrub =
            link.callback(|e: InputEvent| Msg::Seek(input_value(&e).parse().unwrap_or(1)));
        let on_follow = link.callback(|e: Event| {
            Msg::Follow(
                e.target_dyn_into::<HtmlInputElement>()
                    .is_some_and(|i| i.checked()),
            )
        });
        let on_jump_text = link.callback(|e: InputEvent| Msg::EditJump(input_value(&e)));
        let on_jump = link.callback(|e: SubmitEvent| {
            e.prevent_default();
            Msg::Jump
        });
        let view = session.trace.final_view();
        let keys = view
            .iter()
            .filter_map(|(id, _)| id.as_ref().map(Key::to_string));
        let on_key = link.callback(|e: Event| {
            Msg::PickKey(
                e.target_dyn_into::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default(),
            )
        });
        html! {
            <div class="controls live-controls" role="toolbar" aria-label="Time travel">
                <button data-testid="step-back" onclick={link.callback(|_| Msg::Back)}
                    disabled={self.cursor <= 1}>{ "◀ Back" }</button>
                <button data-testid="step-forward" onclick={link.callback(|_| Msg::Forward)}
                    disabled={self.cursor >= steps}>{ "Forward ▶" }</button>
                <label class="follow">
                    <input type="checkbox" data-testid="follow-live" checked={self.follow}
                        onchange={on_follow} />
                    { " Follow live" }
                </label>
                <input type="range" class="scrubber" data-testid="scrubber" aria-label="Step"
                    min="1" max={steps.to_string()} value={self.cursor.to_string()} oninput={on_scrub} />
                <span class="counter" data-testid="step-counter" data-step={self.cursor.to_string()}
                    data-steps={steps.to_string()}>
                    { format!("Step {} of {}", self.cursor, steps) }
                </span>
                <form class="jump" onsubmit={on_jump}>
                    <input data-testid="jump-offset" placeholder="offset or partition:offset"
                        value={self.jump_text.clone()} oninput={on_jump_text} size="18" />
                    <button type="submit" data-testid="jump">{ "Jump" }</button>
                    if let Some(error) = &self.jump_error {
                        <span class="error" role="alert">{ error }</span>
                    }
                </form>
                <label title="A Kafka key to follow; empty for every key">{ "Aggregate " }
                    <input data-testid="key-filter" list="live-keys" placeholder="all keys"
                        value={self.key.as_ref().map(Key::to_string).unwrap_or_default()} onchange={on_key}
                        size="16" spellcheck="false" />
                    <datalist id="live-keys">
                        { for keys.take(KEYS_LISTED).map(|k| html! { <option value={k} /> }) }
                    </datalist>
                    <span class="muted">{ format!(" {} key{}", view.len(), if view.len() == 1 { "" } else { "s" }) }</span>
                </label>
            </div>
        }
    }

    fn state_view(&self, session: &Session) -> Html {
        let trace = &session.trace;
        let view = trace.view_at(self.cursor);
        let projection = trace.projection();
        let state = match &self.key {
            Some(key) => view
                .get(&Some(key.clone()))
                .cloned()
                .unwrap_or_else(|| projection.initial()),
            None => view.to_json(&**projection),
        };
        let count = session.count();
        let errors = trace.errors().len();
        html! {
            <section class="state" aria-labelledby="live-state-heading">
                <h3 id="live-state-heading">
                    { "State" }
                    if let Some(key) = &self.key {
                        <span class="aggregate">{ " of " }<code>{ key.to_string() }</code></span>
                    }
                    { format!(" at step {}", self.cursor) }
                </h3>
                <pre data-testid="live-state">{ serde_json::to_string_pretty(&state).unwrap_or_default() }</pre>
                <p class="muted" data-testid="live-count" data-count={count.to_string()}
                    data-errors={errors.to_string()}
                    data-duplicates={session.duplicates.to_string()}>
                    { format!("{count} events folded, {errors} rejected; printed: {}", display::js(&state)) }
                </p>
            </section>
        }
    }

    fn console(&self, session: &Session) -> Html {
        let lines = rows::console(
            &session.trace,
            &session.index,
            self.cursor,
            self.key.as_ref(),
        );
        html! {
            <section class="console-box" aria-labelledby="live-console-heading">
                <h3 id="live-console-heading">{ "Console" }</h3>
                <pre class="console" data-testid="output" aria-label="Console output">
                    { lines.join("\n") }
                </pre>
            </section>
        }
    }

    /// A consumer group's view of the topic: the state up to its committed offsets
    /// next to the state at the head, and its lag in events not yet applied.
    fn group_view(&self, link: &html::Scope<Self>, session: &Session) -> Html {
        let oninput = link.callback(|e: InputEvent| Msg::EditGroup(input_value(&e)));
        let onsubmit = link.callback(|e: SubmitEvent| {
            e.prevent_default();
            Msg::AskGroup
        });
        let answer = match &self.group {
            None => html! {},
            Some((group, None)) => html! {
                <p class="muted">{ format!("Asking the bridge for {group}'s committed offsets…") }</p>
            },
            Some((group, Some(Err(error)))) => html! {
                <p class="error" data-testid="group-error" role="alert">
                    { format!("The bridge could not read {group}'s offsets: {error}") }
                </p>
            },
            Some((group, Some(Ok(committed)))) => {
                let lag = session.behind(committed);
                let applied = session.count() - lag.events;
                let projection = session.trace.projection();
                let group_state = session.trace.view_before(lag.prefix).to_json(&**projection);
                let head_state = session.trace.final_view().to_json(&**projection);
                html! {
                    <div class="group-answer" data-testid="group-view"
                        data-lag={lag.events.to_string()} data-applied={applied.to_string()}>
                        <p>
                            { format!("Group {group} has committed {}: it has applied {applied} of the {} events held; lag {} event{} not yet applied.",
                                if committed.is_empty() { "nothing on this topic".to_owned() } else { offsets_text(committed) },
                                session.count(), lag.events, if lag.events == 1 { "" } else { "s" }) }
                        </p>
                        if lag.prefix + lag.events != session.count() {
                            <p class="muted">{ "Its partitions are interleaved in this replay: the state shown is up to the first event it has not applied." }</p>
                        }
                        <table class="sides">
                            <tr><th>{ format!("as {group} sees it") }</th>
                                <td><pre data-testid="group-state">{ serde_json::to_string_pretty(&group_state).unwrap_or_default() }</pre></td></tr>
                            <tr><th>{ "at the head" }</th>
                                <td><pre data-testid="head-state">{ serde_json::to_string_pretty(&head_state).unwrap_or_default() }</pre></td></tr>
                        </table>
                    </div>
                }
            }
        };
        html! {
            <section class="group" aria-labelledby="group-heading">
                <h3 id="group-heading">{ "Consumer group" }</h3>
                <form class="jump" {onsubmit}>
                    <input data-testid="group-input" placeholder="group id" value={self.group_text.clone()}
                        {oninput} size="24" spellcheck="false" />
                    <button type="submit" data-testid="group-show">{ "Show its state" }</button>
                    <span class="muted">{ " (read from its committed offsets; the bridge never commits)" }</span>
                </form>
                { answer }
            </section>
        }
    }

    fn table(&self, link: &html::Scope<Self>, session: &Session) -> Html {
        let rows = rows::window(
            &session.trace,
            &session.index,
            self.cursor,
            self.key.as_ref(),
        );
        let row = |r: &LiveRow| {
            let step = r.row.step;
            let current = step == self.cursor;
            let onclick = link.callback(move |_: MouseEvent| Msg::Seek(step));
            html! {
                <tr key={step} data-step={step.to_string()} {onclick}
                    data-partition={r.record.map(|(p, _)| p.to_string())}
                    data-offset={r.record.map(|(_, o)| o.to_string())}
                    aria-current={current.then_some("step")}
                    class={classes!(r.row.failed.then_some("failed"), current.then_some("current"))}>
                    <td class="step">{ step }</td>
                    <td class="record">{ r.record.map(|(p, o)| format!("{p}/{o}")).unwrap_or_default() }</td>
                    <td class="record">{ r.key.as_ref().map(|k| k.to_string()).unwrap_or_default() }</td>
                    <td>{ &r.row.action }</td>
                    <td><code>{ &r.row.event }</code></td>
                    <td><code>{ &r.row.topic }</code></td>
                    <td><code>{ &r.row.state }</code></td>
                    <td>{ &r.row.output }</td>
                </tr>
            }
        };
        html! {
            <div class="table-scroll">
                <table class="process" data-testid="process-table">
                    <thead>
                        <tr>
                            <th>{ "Step" }</th>
                            <th title="partition/offset">{ "Record" }</th>
                            <th>{ "Key" }</th>
                            { process_table::seed_heads() }
                        </tr>
                    </thead>
                    <tbody>{ for rows.iter().map(row) }</tbody>
                </table>
            </div>
        }
    }

    fn partitions(&self, session: &Session) -> Html {
        let high = session.caught_up.clone().unwrap_or_default();
        html! {
            <section class="topic-log" aria-label="Offsets held">
                <h3>{ "Topic " }<code>{ &session.topic }</code></h3>
                <table class="watermarks" data-testid="live-offsets">
                    <thead><tr>
                        <th>{ "partition" }</th><th>{ "next offset held" }</th><th>{ "caught up at" }</th>
                    </tr></thead>
                    <tbody>
                        { for session.next.iter().map(|(p, next)| html! {
                            <tr data-partition={p.to_string()} data-next={next.to_string()}>
                                <td>{ p }</td><td>{ next }</td>
                                <td>{ high.get(p).map(|h| h.to_string()).unwrap_or_else(|| "-".into()) }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </section>
        }
    }

    fn errors(&self, link: &html::Scope<Self>, session: &Session) -> Html {
        let errors = session.trace.errors();
        if errors.is_empty() {
            return html! {};
        }
        const SHOWN: usize = 20;
        html! {
            <section class="live-errors" data-testid="live-errors">
                <h3>{ format!("Rejected records ({})", errors.len()) }</h3>
                <ul>
                    { for errors.iter().rev().take(SHOWN).map(|e| {
                        let (partition, offset) = (e.partition, e.offset);
                        let step = session.trace.seek_offset(partition, offset);
                        let onclick = link.callback(move |_: MouseEvent| Msg::Seek(step.unwrap_or(1)));
                        html! {
                            <li data-partition={partition.to_string()} data-offset={offset.to_string()}>
                                <button class="link" {onclick}>{ e.to_string() }</button>
                            </li>
                        }
                    }) }
                </ul>
            </section>
        }
    }

    fn commands(&self, link: &html::Scope<Self>) -> Html {
        let read_only = self.produce == Some(false);
        let on_text = link.callback(|e: InputEvent| Msg::EditCommand(textarea_value(&e)));
        let on_key = link.callback(|e: InputEvent| Msg::EditKey(input_value(&e)));
        let onsubmit = link.callback(|e: SubmitEvent| {
            e.prevent_default();
            Msg::Send
        });
        let topic = self
            .session
            .as_ref()
            .map_or(self.topic.as_str(), |s| s.topic.as_str());
        let folded_at = match (&self.command, &self.session) {
            (Some(Command::Produced { partition, offset }), Some(session)) => {
                session.step_of_record(*partition, *offset)
            }
            _ => None,
        };
        html! {
            <form class="live-commands" {onsubmit} aria-labelledby="command-heading">
                <h3 id="command-heading">{ "Command: append an event to " }<code>{ topic }</code></h3>
                if read_only {
                    <p class="muted" data-testid="command-readonly">
                        { "This bridge is read-only (it runs without --allow-produce): commands are disabled." }
                    </p>
                }
                <fieldset disabled={self.produce != Some(true)} data-testid="command-form">
                    <label>{ "Event (JSON) " }
                        <textarea data-testid="command-input" rows="2" spellcheck="false"
                            value={self.command_text.clone()} oninput={on_text} />
                    </label>
                    <label>{ "Key " }
                        <input data-testid="command-key" value={self.command_key.clone()}
                            oninput={on_key} placeholder="(none)" size="14" />
                    </label>
                    <button type="submit" data-testid="command-send">{ "Produce" }</button>
                </fieldset>
                { match &self.command {
                    None => html! {},
                    Some(Command::Sent { .. }) => html! {
                        <p data-testid="produced" data-state="sent">{ "Sent; waiting for the broker's acknowledgement…" }</p>
                    },
                    Some(Command::Produced { partition, offset }) => html! {
                        <p data-testid="produced" data-state={if folded_at.is_some() { "folded" } else { "acked" }}
                            data-partition={partition.to_string()} data-offset={offset.to_string()}>
                            { format!("Produced to partition {partition} at offset {offset}; ") }
                            { match folded_at {
                                Some(step) => format!("it came back from the topic and was folded at step {step}."),
                                None => "waiting for it to come back from the topic before folding it…".to_owned(),
                            } }
                        </p>
                    },
                    Some(Command::Failed(error)) => html! {
                        <p class="error" data-testid="command-error" role="alert">{ error }</p>
                    },
                } }
            </form>
        }
    }
}

/// Listens for `hashchange` on the window; the listener goes when it is dropped.
fn listen_hash(changed: Callback<()>) -> Option<EventListener> {
    let window = web_sys::window()?;
    Some(EventListener::new(&window, "hashchange", move |_| {
        changed.emit(())
    }))
}

fn code_text(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "bad_request",
        ErrorCode::UnknownTopic => "unknown_topic",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::TooLarge => "too_large",
        ErrorCode::OffsetOutOfRange => "offset_out_of_range",
        ErrorCode::Kafka => "kafka",
    }
}

fn offsets_text(offsets: &BTreeMap<i32, i64>) -> String {
    if offsets.is_empty() {
        return "the original start".into();
    }
    let pairs: Vec<String> = offsets
        .iter()
        .map(|(p, o)| format!("partition {p} offset {o}"))
        .collect();
    pairs.join(", ")
}

fn input_value(e: &InputEvent) -> String {
    e.target_dyn_into::<HtmlInputElement>()
        .map(|i| i.value())
        .unwrap_or_default()
}

fn textarea_value(e: &InputEvent) -> String {
    e.target_dyn_into::<HtmlTextAreaElement>()
        .map(|i| i.value())
        .unwrap_or_default()
}

fn select_value(e: &Event) -> String {
    e.target_dyn_into::<HtmlSelectElement>()
        .map(|s| s.value())
        .unwrap_or_default()
}
