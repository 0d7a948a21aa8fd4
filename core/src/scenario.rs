//! The seeds' logs, ready to replay: the lessons the page and `eventfold replay
//! --scenario` start from.
//!
//! Besides the seeds' own logs, the lessons show what Kafka does to a fold: keys and
//! partitions, compaction, duplicate delivery, ordering across partitions, a consumer
//! that crashes and restarts, and snapshots. Those logs are produced through the
//! simulator ([`crate::sim`]), and each lesson's notes are computed by folding, never
//! typed in, so a note cannot claim a result the fold does not give.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::builtin;
use crate::decl::Spec;
use crate::dedupe::Dedupe;
use crate::display;
use crate::envelope::Envelope;
use crate::fold::{Folder, Mode, fold};
use crate::lesson;
use crate::projection::Projection;
use crate::sim::modelling::{self, OrderDeltas, OrderValues};
use crate::sim::{CleanupPolicy, RestartFrom, SimConsumer, SimTopic, Tombstones};

/// A named log and the projection that folds it.
#[derive(Clone)]
pub struct Scenario {
    /// Stable id, used in URLs and on the command line.
    pub id: &'static str,
    pub title: &'static str,
    /// One paragraph on what the lesson shows, for the page.
    pub explanation: &'static str,
    /// Results computed from the lesson's log that the table alone does not show
    /// (a compacted fold, a restart), one sentence each.
    pub notes: Vec<String>,
    /// Commands the page offers; each appends one event to the log.
    pub commands: Vec<Command>,
    pub topic: &'static str,
    pub projection: Arc<dyn Projection>,
    /// The projection as a declarative spec, for the projection editor, when the
    /// lesson's projection is one and not a built-in.
    pub spec: Option<String>,
    pub events: Vec<Envelope>,
}

/// A command a learner can issue: a button that appends one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The button's text, e.g. "Deposit 50".
    pub label: String,
    /// The event as an event-editor line ([`lesson::editor_line`]).
    pub line: String,
    /// The field of the event a learner may set before issuing it (the amount of a
    /// deposit, the order to ship); `None` when the command is fixed.
    pub field: Option<CommandField>,
}

/// A field of a command's event that the learner sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandField {
    /// The event's field, e.g. "amount".
    pub name: &'static str,
    /// Its value in [`Command::line`] and [`Command::label`], as typed ("50", "123").
    pub value: String,
    /// The event holds a number there (else a string).
    pub number: bool,
}

impl Command {
    fn new(label: &str, event: Value) -> Command {
        Command::keyed(label, None, event)
    }

    /// A command whose event is keyed: the partitioner picks its partition among
    /// `partitions`, as the producer would.
    fn keyed(label: &str, key: Option<(&str, i32)>, event: Value) -> Command {
        let mut envelope = Envelope::json("", 0, event);
        if let Some((key, partitions)) = key {
            let partition = crate::sim::partition_for_key(key.as_bytes(), partitions)
                .expect("lessons use a valid partition count");
            envelope = envelope.with_key(key).with_partition(partition);
        }
        Command {
            label: label.to_owned(),
            line: lesson::editor_line(&envelope),
            field: None,
        }
    }

    /// Lets the learner set the event's field `name` before issuing the command.
    fn setting(mut self, name: &'static str) -> Command {
        let value = serde_json::from_str::<Value>(&self.line)
            .ok()
            .and_then(|event| event.get(name).cloned())
            .expect("a command's settable field is in its event");
        self.field = Some(CommandField {
            name,
            number: value.is_number(),
            value: match value {
                Value::String(text) => text,
                other => other.to_string(),
            },
        });
        self
    }

    /// The command with its field set to `value`, as the learner typed it: its label
    /// and event say the new value ("Deposit 75"). A number field takes a number and
    /// a string field any text but none; otherwise the error says what it takes. A
    /// fixed command is itself whatever the value.
    pub fn with_value(&self, value: &str) -> Result<Command, String> {
        let Some(field) = &self.field else {
            return Ok(self.clone());
        };
        let value = value.trim();
        let json = if field.number {
            // serde_json's own number reader: the page already carries it, where
            // str::parse::<f64> would add 14 KB of float parsing to the download.
            serde_json::from_str::<serde_json::Number>(value)
                .ok()
                .map(Value::Number)
                .ok_or_else(|| format!("{} must be a number, not '{value}'", field.name))?
        } else if value.is_empty() {
            return Err(format!("{} must not be empty", field.name));
        } else {
            Value::String(value.to_owned())
        };
        let Ok(Value::Object(mut event)) = serde_json::from_str::<Value>(&self.line) else {
            return Err(format!(
                "the command's event is not a JSON object: {}",
                self.line
            ));
        };
        // Inserting an existing key keeps its place, so the line reads as before.
        event.insert(field.name.to_owned(), json);
        Ok(Command {
            label: self.label.replacen(&field.value, value, 1),
            line: Value::Object(event).to_string(),
            field: Some(CommandField {
                value: value.to_owned(),
                ..field.clone()
            }),
        })
    }
}

/// 2023-10-01T12:00:00Z, the first timestamp of seed 004; lessons without times of
/// their own count minutes from it, so seeking by timestamp has something to find.
const LESSON_EPOCH_MS: i64 = 1_696_161_600_000;

/// Ids of the built-in scenarios, in the order the page lists them.
pub const IDS: [&str; 13] = [
    "bank",
    "bank-002",
    "orders",
    "users",
    "values-deltas",
    "keys-partitions",
    "compaction",
    "duplicate",
    "duplicate-fixed",
    "ordering",
    "crash-restart",
    "snapshots",
    "blank",
];

/// A scenario by id.
pub fn by_id(id: &str) -> Option<Scenario> {
    Some(match id {
        "bank" => bank(),
        "bank-002" => bank_002(),
        "orders" => orders(),
        "users" => users(),
        "values-deltas" => values_deltas(),
        "keys-partitions" => keys_partitions(),
        "compaction" => compaction(),
        "duplicate" => duplicate(false),
        "duplicate-fixed" => duplicate(true),
        "ordering" => ordering(),
        "crash-restart" => crash_restart(),
        "snapshots" => snapshots(),
        "blank" => blank(),
        _ => return None,
    })
}

/// The bank lessons' commands.
fn bank_commands() -> Vec<Command> {
    vec![
        Command::new("Deposit 50", lit(r#"{"type":"deposit","amount":50}"#)).setting("amount"),
        Command::new("Withdraw 500", lit(r#"{"type":"withdrawal","amount":500}"#))
            .setting("amount"),
    ]
}

fn log(topic: &str, values: Vec<Value>) -> Vec<Envelope> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            Envelope::json(topic, i as i64, value)
                .with_timestamp(LESSON_EPOCH_MS + 60_000 * i as i64)
        })
        .collect()
}

fn builtin(name: &str) -> Arc<dyn Projection> {
    builtin::by_name(name).expect("built-in projection names are constants")
}

/// Seed 000: deposit 100, withdraw 40, deposit 60 on `bank_account_events`: balance 120.
pub fn bank() -> Scenario {
    Scenario {
        id: "bank",
        title: "Bank account (seed 000): 100 − 40 + 60",
        explanation: "A bank account is not stored as a balance. Each deposit and withdrawal \
            is appended to a Kafka topic as an event, and the balance is rebuilt by applying \
            the events in order, starting from zero: 0 + 100 − 40 + 60 = 120. Step through \
            the five rows of each event: the command arrives, the event is produced, the \
            consumer reads it, applies it and prints the new balance.",
        notes: Vec::new(),
        commands: bank_commands(),
        topic: "bank_account_events",
        projection: builtin("bank"),
        spec: None,
        events: log(
            "bank_account_events",
            vec![
                lit(r#"{"type":"deposit","amount":100}"#),
                lit(r#"{"type":"withdrawal","amount":40}"#),
                lit(r#"{"type":"deposit","amount":60}"#),
            ],
        ),
    }
}

/// Seed 002: deposit 100, withdraw 30, deposit 50 on `bank-account-events`: balance 120.
pub fn bank_002() -> Scenario {
    Scenario {
        id: "bank-002",
        title: "Bank account (seed 002): 100 − 30 + 50",
        explanation: "The same account with seed 002's amounts. The producer sends three \
            events to the topic; the consumer folds them one by one, printing the balance \
            after each, and stops when there are no more events: 100, then 70, then 120.",
        notes: Vec::new(),
        commands: bank_commands(),
        topic: "bank-account-events",
        projection: builtin("bank"),
        spec: None,
        events: log(
            "bank-account-events",
            vec![
                lit(r#"{"type":"deposit","amount":100}"#),
                lit(r#"{"type":"withdrawal","amount":30}"#),
                lit(r#"{"type":"deposit","amount":50}"#),
            ],
        ),
    }
}

/// Seed 001: order 123 created, then shipped, on `orders`.
pub fn orders() -> Scenario {
    Scenario {
        id: "orders",
        title: "Orders (seed 001): created, then shipped",
        explanation: "An order's life as events: first it is created, then it is shipped. \
            The topic keeps both events, so the status tracker can show the topic and the \
            state after every step, and the state can be rebuilt at any time by replaying \
            the topic from the first offset.",
        notes: Vec::new(),
        commands: vec![
            Command::new(
                "Ship order 123",
                lit(r#"{"type":"orderUpdated","orderId":123,"status":"shipped"}"#),
            )
            .setting("orderId"),
            Command::new(
                "Deliver order 123",
                lit(r#"{"type":"orderUpdated","orderId":123,"status":"delivered"}"#),
            )
            .setting("orderId"),
        ],
        topic: "orders",
        projection: builtin("orders"),
        spec: None,
        events: log(
            "orders",
            vec![
                lit(r#"{"type":"orderCreated","orderId":123}"#),
                lit(r#"{"type":"orderUpdated","orderId":123,"status":"shipped"}"#),
            ],
        ),
    }
}

/// Seed 004: user 123 registers, then logs in, on `events`.
pub fn users() -> Scenario {
    let mut events = log(
        "events",
        vec![
            lit(r#"{"event":"UserRegistered","userId":"123","timestamp":"2023-10-01T12:00:00Z"}"#),
            lit(r#"{"event":"UserLoggedIn","userId":"123","timestamp":"2023-10-01T12:10:00Z"}"#),
        ],
    );
    // The records carry the times the events name.
    events[1].timestamp = LESSON_EPOCH_MS + 10 * 60_000;
    Scenario {
        id: "users",
        title: "User registrations (seed 004)",
        explanation: "User 123 registers and then logs in. The events are the record of \
            what happened; the user's state (registered, last login) is derived from them, \
            so a new version of the projection can replay the same events and build a new \
            view without losing anything.",
        notes: Vec::new(),
        commands: vec![
            Command::new(
                "User 123 logs in",
                lit(
                    r#"{"event":"UserLoggedIn","userId":"123","timestamp":"2023-10-01T12:30:00Z"}"#,
                ),
            )
            .setting("userId"),
            Command::new(
                "Register user 456",
                lit(
                    r#"{"event":"UserRegistered","userId":"456","timestamp":"2023-10-01T12:40:00Z"}"#,
                ),
            )
            .setting("userId"),
        ],
        topic: "events",
        projection: builtin("users"),
        spec: None,
        events,
    }
}

/// A lesson's projection with labels that say whose event it is, so a table of
/// several aggregates reads "alice: deposit 100" rather than "deposit 100". Folding
/// is the wrapped projection's, unchanged.
struct Relabel {
    inner: Arc<dyn Projection>,
    label: fn(&dyn Projection, &Envelope) -> String,
}

impl Projection for Relabel {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn initial(&self) -> Value {
        self.inner.initial()
    }
    fn aggregate_id(
        &self,
        envelope: &Envelope,
    ) -> Result<crate::projection::AggregateId, crate::projection::ApplyError> {
        self.inner.aggregate_id(envelope)
    }
    fn apply(
        &self,
        state: &mut Value,
        envelope: &Envelope,
    ) -> Result<(), crate::projection::ApplyError> {
        self.inner.apply(state, envelope)
    }
    fn label(&self, envelope: &Envelope) -> String {
        (self.label)(&*self.inner, envelope)
    }
    fn narration(&self, envelope: &Envelope) -> crate::projection::Narration {
        self.inner.narration(envelope)
    }
    fn render(&self, state: &Value) -> String {
        self.inner.render(state)
    }
}

/// "alice: deposit 100": the record's key, then the projection's own label.
fn key_label(inner: &dyn Projection, envelope: &Envelope) -> String {
    match envelope.key_text() {
        Some(key) => format!("{key}: {}", inner.label(envelope)),
        None => inner.label(envelope),
    }
}

/// "AmountUpdated o-1 (no key)": the event type and the order it belongs to, and
/// whether the record carried a key.
fn order_label(inner: &dyn Projection, envelope: &Envelope) -> String {
    let order = crate::projection::payload_object(envelope)
        .ok()
        .and_then(|event| {
            Some((
                event.get("type")?.as_str()?,
                event.get("orderId")?.as_str()?,
            ))
        });
    match (order, envelope.key_text()) {
        (Some((kind, id)), Some(key)) => format!("{kind} {id} (key {key})"),
        (Some((kind, id)), None) => format!("{kind} {id} (no key)"),
        (None, _) => inner.label(envelope),
    }
}

/// A JSON literal of a lesson. Lessons spell their events as text rather than with
/// `json!`, whose expansion is code per field: in the page's wasm that cost tens of
/// kilobytes, while parsing text shares one parser.
fn lit(text: &str) -> Value {
    serde_json::from_str(text).expect("lesson literals are JSON")
}

/// A bank event, `{"type": kind, "amount": amount}`: one function the lessons share,
/// because each `json!` is code of its own in the page's wasm.
#[inline(never)]
fn bank_event(kind: &str, amount: i64) -> Value {
    json!({"type": kind, "amount": amount})
}

/// Partitions of the lessons' simulated topics.
const PARTITIONS: i32 = 3;

/// Timestamp of the `i`-th event of a simulated lesson topic.
fn minute(i: usize) -> i64 {
    LESSON_EPOCH_MS + 60_000 * i as i64
}

/// A state printed as the seeds print it.
fn js(state: &Value) -> String {
    display::js(state)
}

/// The whole view a fold of `events` ends with, and its errors as text.
fn fold_text(projection: &Arc<dyn Projection>, events: &[Envelope]) -> (String, Vec<String>) {
    let folder = fold(projection.clone(), Mode::Lenient, events);
    let errors = folder
        .errors()
        .iter()
        .map(|e| format!("partition {} offset {}: {}", e.partition, e.offset, e.error))
        .collect();
    (js(&folder.view().to_json(&**projection)), errors)
}

/// Seed 003: an order history as deltas, with what compaction does to deltas and to
/// values.
pub fn values_deltas() -> Scenario {
    let logs = modelling::order_logs(1).expect("one partition is a valid topic");
    let deltas: Arc<dyn Projection> = Arc::new(OrderDeltas);
    let values: Arc<dyn Projection> = Arc::new(OrderValues);
    let (full, _) = fold_text(&deltas, &logs.deltas.interleaved());
    let (values_compacted, _) = fold_text(
        &values,
        &logs.values.compacted(Tombstones::Keep).interleaved(),
    );
    let compacted_deltas = logs.deltas.compacted(Tombstones::Keep).interleaved();
    let (deltas_compacted, errors) = fold_text(&deltas, &compacted_deltas);
    let notes = vec![
        format!("Folded in full, the deltas give {full}."),
        format!(
            "The same history as whole values, compacted to the last value per order, \
             still gives {values_compacted}."
        ),
        format!(
            "The deltas compacted keep only {} of their {} events and give \
             {deltas_compacted}, with {} error(s): {}.",
            compacted_deltas.len(),
            logs.deltas.len(),
            errors.len(),
            errors.join("; ")
        ),
    ];
    Scenario {
        id: "values-deltas",
        title: "Values vs deltas (seed 003)",
        explanation: "Events can be values, whole facts (the entire order every time), or \
            deltas that must be recombined (the order once, then 'amount updated to 5', \
            'order cancelled'). This log is made of deltas: folding all of it rebuilds both \
            orders. Deltas are small, but each one means nothing without the events before \
            it, so they cannot survive log compaction, which keeps only the last record per \
            key; values can. The notes fold the compacted logs to show it.",
        notes,
        commands: vec![Command::keyed(
            "Cancel order o-2",
            Some(("o-2", 1)),
            lit(r#"{"type":"OrderCancelled","orderId":"o-2"}"#),
        )],
        topic: modelling::DELTAS_TOPIC,
        projection: deltas,
        spec: None,
        events: logs.deltas.interleaved(),
    }
}

/// The keyed bank history of the partition lessons: (account, event, balance after).
fn keyed_bank_history() -> Vec<(&'static str, Value, i64)> {
    let mut balances = std::collections::BTreeMap::<&str, i64>::new();
    [
        ("alice", "deposit", 100),
        ("dave", "deposit", 50),
        ("alice", "withdrawal", 30),
        ("carol", "deposit", 70),
        ("dave", "deposit", 25),
        ("carol", "withdrawal", 20),
        ("alice", "deposit", 10),
    ]
    .into_iter()
    .map(|(account, kind, amount)| {
        let balance = balances.entry(account).or_insert(0);
        *balance += if kind == "deposit" { amount } else { -amount };
        (account, bank_event(kind, amount), *balance)
    })
    .collect()
}

/// Where each account's key lands, e.g. "alice → partition 1".
fn placement(topic: &SimTopic) -> String {
    let mut seen: Vec<(String, i32)> = Vec::new();
    for envelope in topic.interleaved() {
        if let Some(key) = envelope.key_text()
            && !seen.iter().any(|(k, _)| *k == key)
        {
            seen.push((key, envelope.partition));
        }
    }
    seen.sort();
    seen.iter()
        .map(|(key, partition)| format!("{key} → partition {partition}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Three accounts on one topic of three partitions, keyed by account.
pub fn keys_partitions() -> Scenario {
    let mut topic = SimTopic::new("bank-accounts", PARTITIONS, CleanupPolicy::Delete)
        .expect("three partitions is a valid topic");
    for (i, (account, event, _)) in keyed_bank_history().into_iter().enumerate() {
        topic
            .produce_json(Some(account), event, minute(i))
            .expect("a delete topic takes every record");
    }
    let projection: Arc<dyn Projection> = Arc::new(Relabel {
        inner: builtin("bank"),
        label: key_label,
    });
    let (state, _) = fold_text(&projection, &topic.interleaved());
    let notes = vec![
        format!(
            "The partitioner hashes each key (murmur2): {}.",
            placement(&topic)
        ),
        format!("Read partition by partition, the fold still ends with {state}."),
    ];
    Scenario {
        id: "keys-partitions",
        title: "Keys and partitions: one account, one key",
        explanation: "A topic is split into partitions, and Kafka keeps order only within \
            a partition. The producer picks a record's partition by hashing its key, so \
            every event of one account (same key) lands in the same partition, in the order \
            it was produced. The consumer reads the partitions in turn, so events of \
            different accounts interleave, but each account's own events arrive in order \
            and its balance is folded separately, one aggregate per key.",
        notes,
        commands: vec![
            Command::keyed(
                "Deposit 50 to alice",
                Some(("alice", PARTITIONS)),
                lit(r#"{"type":"deposit","amount":50}"#),
            )
            .setting("amount"),
        ],
        topic: "bank-accounts",
        projection,
        spec: None,
        events: topic.interleaved(),
    }
}

/// The projection of the compaction lesson: each record is an account's latest
/// balance, a whole value.
const LATEST_BALANCE: &str = r#"{
  "name": "latest-balance",
  "description": "Each record is an account's balance, a whole value: keep the last.",
  "label": "{account}: {balance}",
  "output": "{account} has {balance}",
  "events": {"*": {"rules": [{"merge": true}]}}
}
"#;

fn latest_balance() -> Arc<dyn Projection> {
    Arc::new(Spec::parse(LATEST_BALANCE).expect("the lesson's spec is valid"))
}

/// The changelog of the keyed accounts (their balance after every event), compacted.
pub fn compaction() -> Scenario {
    let mut topic = SimTopic::new("account-balances", PARTITIONS, CleanupPolicy::Compact)
        .expect("three partitions is a valid topic");
    for (i, (account, _, balance)) in keyed_bank_history().into_iter().enumerate() {
        topic
            .produce_json(
                Some(account),
                json!({"account": account, "balance": balance}),
                minute(i),
            )
            .expect("every record is keyed");
    }
    let compacted = topic.compacted(Tombstones::Keep);
    let projection = latest_balance();
    let (full, _) = fold_text(&projection, &topic.interleaved());
    let (short, _) = fold_text(&projection, &compacted.interleaved());
    let verdict = if full == short {
        "the same"
    } else {
        "NOT the same"
    };
    let notes = vec![
        format!(
            "The full log has {} records and folds to {full}.",
            topic.len()
        ),
        format!(
            "Compacted, it keeps {} (the last per key, at their old offsets) and folds to \
             {short}: {verdict}.",
            compacted.len()
        ),
    ];
    Scenario {
        id: "compaction",
        title: "Log compaction: the last value per key",
        explanation: "This topic holds each account's balance after every change, keyed by \
            account, with cleanup.policy=compact. The log cleaner keeps only the last record \
            of each key, so old balances disappear and the offsets have gaps. Because every \
            record is a whole value, the last one per key is all a fold needs: the \
            compacted log rebuilds exactly the latest balances the full log does, from far \
            fewer records.",
        notes,
        commands: vec![
            Command::keyed(
                "Set dave's balance to 0",
                Some(("dave", PARTITIONS)),
                lit(r#"{"account":"dave","balance":0}"#),
            )
            .setting("balance"),
        ],
        topic: "account-balances",
        projection,
        spec: Some(LATEST_BALANCE.to_owned()),
        events: compacted.interleaved(),
    }
}

/// Seed 000's account with event ids, its last deposit delivered twice; folded as is,
/// or deduplicated on `eventId`.
pub fn duplicate(fixed: bool) -> Scenario {
    let deposit = lit(r#"{"type":"deposit","amount":60,"eventId":"e-3"}"#);
    let events = log(
        "bank_account_events",
        vec![
            lit(r#"{"type":"deposit","amount":100,"eventId":"e-1"}"#),
            lit(r#"{"type":"withdrawal","amount":40,"eventId":"e-2"}"#),
            deposit.clone(),
            deposit,
        ],
    );
    let bank = builtin("bank");
    let deduped: Arc<dyn Projection> = Arc::new(Dedupe::new(bank.clone(), "eventId"));
    let render = |p: &Arc<dyn Projection>| {
        let folder = fold(p.clone(), Mode::Lenient, &events);
        p.render(&folder.view().to_json(&**p))
    };
    let notes = vec![
        format!("Applying every delivery: {}.", render(&bank)),
        format!("Deduplicating on eventId: {}.", render(&deduped)),
    ];
    let commands = vec![
        Command::new(
            "Deposit 50 (eventId e-4)",
            lit(r#"{"type":"deposit","amount":50,"eventId":"e-4"}"#),
        )
        .setting("amount"),
    ];
    let (id, title, explanation, projection) = if fixed {
        (
            "duplicate-fixed",
            "Duplicate delivery, fixed: deduplicate on eventId",
            "The same log, folded by a projection that remembers the id of every event it \
             has applied, in the account's own state (seenEventIds). When e-3 arrives the \
             second time its id is already there, so it is accepted and changes nothing: \
             the balance is 120 again. Because the ids live in the state, a snapshot or a \
             checkpoint saves them together with the balance they protect. Try the command \
             twice: the second e-4 changes nothing.",
            deduped,
        )
    } else {
        (
            "duplicate",
            "Duplicate delivery: a deposit counted twice",
            "Kafka delivers at least once: a producer that retries after a lost \
             acknowledgement, or a consumer that restarts from an older committed offset, \
             can hand the same event over twice. Here the deposit of 60 with eventId e-3 \
             arrives twice, and a projection that applies every delivery counts it twice: \
             the balance ends at 180 instead of 120. The next lesson fixes it.",
            bank,
        )
    };
    Scenario {
        id,
        title,
        explanation,
        notes,
        commands,
        topic: "bank_account_events",
        projection,
        spec: None,
        events,
    }
}

/// One order's deltas produced without a key (spread over the partitions) and
/// another's with one, read back partition by partition.
pub fn ordering() -> Scenario {
    let mut topic = SimTopic::new("order-events", PARTITIONS, CleanupPolicy::Delete)
        .expect("three partitions is a valid topic");
    let history = [
        (
            Some("o-2"),
            lit(r#"{"type":"OrderPlaced","orderId":"o-2","customer":"grace","amount":20}"#),
        ),
        (
            None,
            lit(r#"{"type":"OrderPlaced","orderId":"o-1","customer":"ada","amount":10}"#),
        ),
        (
            None,
            lit(r#"{"type":"AmountUpdated","orderId":"o-1","amount":5}"#),
        ),
        (
            Some("o-2"),
            lit(r#"{"type":"AmountUpdated","orderId":"o-2","amount":25}"#),
        ),
        (None, lit(r#"{"type":"OrderCancelled","orderId":"o-1"}"#)),
        (
            Some("o-2"),
            lit(r#"{"type":"OrderCancelled","orderId":"o-2"}"#),
        ),
    ];
    let produced: Vec<String> = history
        .iter()
        .map(|(_, e)| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap_or("?"),
                e["orderId"].as_str().unwrap_or("?")
            )
        })
        .collect();
    for (i, (key, event)) in history.into_iter().enumerate() {
        topic
            .produce_json(key, event, minute(i))
            .expect("a delete topic takes every record");
    }
    let read = topic.interleaved();
    let projection: Arc<dyn Projection> = Arc::new(Relabel {
        inner: Arc::new(OrderDeltas),
        label: order_label,
    });
    let (state, errors) = fold_text(&projection, &read);
    let read_order: Vec<String> = read
        .iter()
        .map(|e| match &e.value {
            crate::envelope::Payload::Json(v) => format!(
                "{} {}",
                v["type"].as_str().unwrap_or("?"),
                v["orderId"].as_str().unwrap_or("?")
            ),
            _ => "?".into(),
        })
        .collect();
    let notes = vec![
        format!("Produced: {}.", produced.join(", ")),
        format!("Read partition by partition: {}.", read_order.join(", ")),
        format!(
            "The fold ends with {state} and {} error(s): {}.",
            errors.len(),
            errors.join("; ")
        ),
    ];
    Scenario {
        id: "ordering",
        title: "Ordering across partitions: one aggregate, one key",
        explanation: "Order o-1's events were produced without a key, so the producer \
            spread them over the three partitions; order o-2's were produced with the key \
            o-2, so they share one partition. Kafka orders records only within a \
            partition: reading the partitions in turn, the consumer gets o-1's events in \
            another order than they happened, and a change arrives before the order it \
            changes (an error, and a wrong final state). o-2 folds right. Every event of \
            one aggregate must carry the aggregate's key.",
        notes,
        commands: vec![Command::keyed(
            "Place order o-3 (keyed)",
            Some(("o-3", PARTITIONS)),
            lit(r#"{"type":"OrderPlaced","orderId":"o-3","customer":"alan","amount":30}"#),
        )],
        topic: "order-events",
        projection,
        spec: None,
        events: read,
    }
}

/// A bank consumer that commits after three events, reads two more and crashes.
pub fn crash_restart() -> Scenario {
    let mut topic = SimTopic::new("bank_account_events", 1, CleanupPolicy::Delete)
        .expect("one partition is a valid topic");
    let amounts = [
        ("deposit", 100),
        ("withdrawal", 40),
        ("deposit", 60),
        ("deposit", 25),
        ("withdrawal", 15),
        ("deposit", 10),
    ];
    for (i, (kind, amount)) in amounts.into_iter().enumerate() {
        topic
            .produce_json(None, bank_event(kind, amount), minute(i))
            .expect("a delete topic takes every record");
    }
    let projection = builtin("bank");
    let crashed = || {
        let mut consumer = SimConsumer::new(&topic, projection.clone(), Mode::Lenient);
        consumer
            .poll(&topic, 3)
            .expect("the consumer reads its topic");
        consumer.commit().expect("a running consumer commits");
        consumer
            .poll(&topic, 2)
            .expect("the consumer reads its topic");
        let before = projection.render(&consumer.state());
        consumer.crash();
        (consumer, before)
    };
    let resume = |from: RestartFrom| {
        let (mut consumer, _) = crashed();
        consumer.restart(from);
        let start = consumer.state();
        consumer
            .poll(&topic, usize::MAX)
            .expect("the consumer reads its topic");
        (
            projection.render(&start),
            projection.render(&consumer.state()),
            consumer.redelivered(),
        )
    };
    let (_, before) = crashed();
    let (start, committed, redelivered) = resume(RestartFrom::Committed);
    let (_, beginning, _) = resume(RestartFrom::Beginning);
    let (_, lost, _) = resume(RestartFrom::CommittedWithoutState);
    let notes = vec![
        format!(
            "The consumer reads offsets 0–2, commits offset 3 with a checkpoint of its \
             state, reads offsets 3–4 ({before}) and crashes."
        ),
        format!(
            "Resume from the committed offset with the checkpoint ({start}): offsets 3–4 \
             are read again ({redelivered} redelivered) and it ends with {committed}."
        ),
        format!("Replay from the beginning with an empty state: {beginning}."),
        format!(
            "The mistake: resume from the committed offset with an empty state (offsets \
             saved, state not): {lost}."
        ),
    ];
    Scenario {
        id: "crash-restart",
        title: "Consumer crash and restart",
        explanation: "A consumer remembers where it is with committed offsets, stored by \
            Kafka, and its state in memory. When it crashes, the memory is gone. It can \
            replay the topic from the beginning and rebuild the state from nothing, or \
            resume from its committed offset if the state was checkpointed together with \
            that offset; both give the same balance, because the state is a function of the \
            events. Resuming from the offset without the state it belongs to does not.",
        notes,
        commands: bank_commands(),
        topic: "bank_account_events",
        projection,
        spec: None,
        events: topic.interleaved(),
    }
}

/// Events of the snapshots lesson, and where its snapshot is taken.
const SNAPSHOT_LOG: usize = 60;
const SNAPSHOT_AT: usize = 48;

/// A long bank log, with a snapshot plus its tail compared to the full replay.
pub fn snapshots() -> Scenario {
    let values = (0..SNAPSHOT_LOG)
        .map(|i| {
            if i % 3 == 2 {
                bank_event("withdrawal", 5 * (i as i64 % 4 + 1))
            } else {
                bank_event("deposit", 10 * (i as i64 % 5 + 1))
            }
        })
        .collect();
    let events = log("bank_account_events", values);
    let projection = builtin("bank");
    let mut folder = Folder::new(projection.clone(), Mode::Lenient);
    for envelope in &events[..SNAPSHOT_AT] {
        folder.push(envelope);
    }
    let snapshot = folder.view().to_json(&*projection);
    for envelope in &events[SNAPSHOT_AT..] {
        folder.push(envelope);
    }
    let resumed = folder.view().to_json(&*projection);
    let full = fold(projection.clone(), Mode::Lenient, &events)
        .view()
        .to_json(&*projection);
    let verdict = if resumed == full {
        "equal"
    } else {
        "NOT equal"
    };
    let notes = vec![
        format!(
            "Snapshot after {SNAPSHOT_AT} events (offsets 0–{}): {}.",
            SNAPSHOT_AT - 1,
            js(&snapshot)
        ),
        format!(
            "Snapshot + the tail of {} events (offsets {SNAPSHOT_AT}–{}): {}.",
            SNAPSHOT_LOG - SNAPSHOT_AT,
            SNAPSHOT_LOG - 1,
            js(&resumed)
        ),
        format!(
            "Full replay of all {SNAPSHOT_LOG} events: {}: {verdict}.",
            js(&full)
        ),
    ];
    Scenario {
        id: "snapshots",
        title: "Snapshots: snapshot + tail == full replay",
        explanation: "Replaying a long log from the first offset gets slow. A snapshot is \
            the state saved after some offset; to rebuild, start from the snapshot and \
            apply only the events after it (the tail). Because applying events is \
            deterministic, snapshot + tail gives exactly the state a full replay gives. This \
            page does the same to jump to any step: it keeps a snapshot every 256 events \
            and replays only from the nearest one.",
        notes,
        commands: bank_commands(),
        topic: "bank_account_events",
        projection,
        spec: None,
        events,
    }
}

/// An empty log for the learner's own events.
pub fn blank() -> Scenario {
    Scenario {
        id: "blank",
        title: "A blank log of your own",
        explanation: "An empty topic and the bank projection. Issue commands, or type \
            events in the editor below, one JSON object per line (for example \
            {\"type\":\"deposit\",\"amount\":100}), and the whole history re-folds after \
            every change. Pick another projection, or write your own, in the projection \
            editor.",
        notes: Vec::new(),
        commands: bank_commands(),
        topic: "my-events",
        projection: builtin("bank"),
        spec: None,
        events: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Trace;

    /// The final row's output and the whole final state of lesson `id`, and its
    /// errors.
    fn check(id: &str, final_state: &str, errors: usize) {
        let s = by_id(id).unwrap_or_else(|| panic!("{id} is a lesson"));
        assert_eq!(s.id, id);
        assert!(!s.explanation.is_empty() && !s.title.is_empty(), "{id}");
        let trace = Trace::new(s.projection.clone(), Mode::Lenient, s.events.clone());
        let state = js(&trace.final_view().to_json(&*s.projection));
        assert_eq!(state, final_state, "{id}");
        assert_eq!(
            trace.errors().len(),
            errors,
            "errors of {id}: {:?}",
            trace.errors()
        );
    }

    /// Command `label` of lesson `id` with `value` typed: its label and line, or why not.
    fn check_value(id: &str, label: &str, value: &str, expected: Result<(&str, &str), &str>) {
        let lesson = by_id(id).unwrap();
        let command = lesson.commands.iter().find(|c| c.label == label).unwrap();
        let got = command.with_value(value).map(|c| (c.label, c.line));
        let expected = expected
            .map(|(label, line)| (label.to_owned(), line.to_owned()))
            .map_err(str::to_owned);
        assert_eq!(got, expected, "{id}: {label} with {value:?}");
    }

    #[test]
    fn commands_take_the_learners_value() {
        check_value(
            "bank",
            "Deposit 50",
            "75",
            Ok(("Deposit 75", r#"{"type":"deposit","amount":75}"#)),
        );
        check_value(
            "bank",
            "Withdraw 500",
            " 12.5 ",
            Ok(("Withdraw 12.5", r#"{"type":"withdrawal","amount":12.5}"#)),
        );
        check_value(
            "bank",
            "Deposit 50",
            "fifty",
            Err("amount must be a number, not 'fifty'"),
        );
        check_value(
            "orders",
            "Ship order 123",
            "7",
            Ok((
                "Ship order 7",
                r#"{"type":"orderUpdated","orderId":7,"status":"shipped"}"#,
            )),
        );
        check_value(
            "users",
            "Register user 456",
            "",
            Err("userId must not be empty"),
        );
        check_value(
            "users",
            "Register user 456",
            "ada",
            Ok((
                "Register user ada",
                r#"{"event":"UserRegistered","userId":"ada","timestamp":"2023-10-01T12:40:00Z"}"#,
            )),
        );
        // A keyed command keeps its key and partition.
        check_value(
            "keys-partitions",
            "Deposit 50 to alice",
            "5",
            Ok((
                "Deposit 5 to alice",
                r#"{"@key":"alice","type":"deposit","amount":5}"#,
            )),
        );
        // A fixed command is itself.
        let lesson = by_id("values-deltas").unwrap();
        assert_eq!(lesson.commands[0].field, None);
        assert_eq!(
            lesson.commands[0].with_value("x"),
            Ok(lesson.commands[0].clone())
        );
    }

    #[test]
    fn every_lesson_folds_to_what_it_teaches() {
        check("bank", "{balance: 120}", 0);
        check(
            "values-deltas",
            "{'o-1': {orderId: 'o-1', customer: 'ada', amount: 5, status: 'cancelled'}, 'o-2': {orderId: 'o-2', customer: 'grace', amount: 25, status: 'placed'}}",
            0,
        );
        check(
            "keys-partitions",
            "{alice: {balance: 80}, carol: {balance: 50}, dave: {balance: 75}}",
            0,
        );
        check(
            "compaction",
            "{alice: {account: 'alice', balance: 80}, carol: {account: 'carol', balance: 50}, dave: {account: 'dave', balance: 75}}",
            0,
        );
        check("duplicate", "{balance: 180}", 0);
        check(
            "duplicate-fixed",
            "{balance: 120, seenEventIds: ['e-1', 'e-2', 'e-3']}",
            0,
        );
        check("crash-restart", "{balance: 140}", 0);
        check("blank", "{balance: 0}", 0);
        for id in IDS {
            assert!(by_id(id).is_some(), "{id}");
        }
    }

    fn notes(id: &str) -> String {
        by_id(id).unwrap().notes.join("\n")
    }

    #[test]
    fn the_notes_show_what_the_table_does_not() {
        let n = notes("compaction");
        assert!(n.contains("The full log has 7 records"), "{n}");
        assert!(n.contains("keeps 3") && n.contains(": the same."), "{n}");
        let n = notes("crash-restart");
        assert!(n.contains("(Current balance: 130) and crashes"), "{n}");
        assert!(n.contains("checkpoint (Current balance: 120)"), "{n}");
        assert!(
            n.contains("2 redelivered) and it ends with Current balance: 140"),
            "{n}"
        );
        assert!(
            n.contains("Replay from the beginning with an empty state: Current balance: 140."),
            "{n}"
        );
        assert!(n.contains("state not): Current balance: 20."), "{n}");
        let n = notes("snapshots");
        assert!(n.contains(": equal."), "{n}");
        let n = notes("values-deltas");
        assert!(n.contains("still gives {'o-1': {orderId: 'o-1'"), "{n}");
        assert!(n.contains("has no OrderPlaced"), "{n}");
        let n = notes("duplicate");
        assert!(
            n.contains("Applying every delivery: Current balance: 180."),
            "{n}"
        );
        assert!(
            n.contains("Deduplicating on eventId: Current balance: 120."),
            "{n}"
        );
    }

    #[test]
    fn keyless_events_fold_out_of_order_and_keyed_ones_do_not() {
        let s = ordering();
        let trace = Trace::new(s.projection.clone(), Mode::Lenient, s.events.clone());
        assert!(!trace.errors().is_empty(), "o-1 must break");
        let view = trace.final_view().to_json(&*s.projection);
        assert_eq!(
            js(&view["o-2"]),
            "{orderId: 'o-2', customer: 'grace', amount: 25, status: 'cancelled'}"
        );
        let partitions: std::collections::BTreeSet<i32> = s
            .events
            .iter()
            .filter(|e| e.key.is_none())
            .map(|e| e.partition)
            .collect();
        assert_eq!(partitions.len(), 3, "o-1 is spread over every partition");
    }

    #[test]
    fn keyed_lessons_label_whose_event_it_is() {
        let check_labels = |id: &str, first: &[&str]| {
            let s = by_id(id).unwrap();
            let labels: Vec<String> = s.events.iter().map(|e| s.projection.label(e)).collect();
            assert_eq!(&labels[..first.len()], first, "{id}");
        };
        check_labels(
            "keys-partitions",
            &[
                "alice: deposit 100",
                "dave: deposit 50",
                "carol: deposit 70",
            ],
        );
        check_labels(
            "ordering",
            &["OrderPlaced o-2 (key o-2)", "AmountUpdated o-1 (no key)"],
        );
    }

    #[test]
    fn commands_are_editor_lines_that_fold() {
        for id in IDS {
            let s = by_id(id).unwrap();
            assert!(!s.commands.is_empty(), "{id} offers commands");
            for command in &s.commands {
                let mut text = lesson::ndjson_text(&s.events);
                text.push_str(&command.line);
                let log = lesson::parse_editor(s.topic, &text);
                assert_eq!(log.events.len(), s.events.len() + 1, "{id}");
                let trace = Trace::new(s.projection.clone(), Mode::Lenient, log.events);
                let before = Trace::new(s.projection.clone(), Mode::Lenient, s.events.clone());
                assert_eq!(
                    trace.errors().len(),
                    before.errors().len(),
                    "{id}: {} folds",
                    command.label
                );
            }
        }
        let bank = by_id("bank").unwrap();
        assert_eq!(bank.commands[0].label, "Deposit 50");
        let keyed = &by_id("keys-partitions").unwrap().commands[0];
        assert!(
            keyed.line.starts_with(r#"{"@key":"alice""#),
            "{}",
            keyed.line
        );
    }
}
