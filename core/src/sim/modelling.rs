//! Seed 003: the same history modelled as whole-fact values and as deltas.
//!
//! "They can be values: whole facts (an Order, in its entirety) or they can be a set
//! of 'deltas' that must be re-combined (a whole Order message, followed by messages
//! denoting just the state changes: 'amount updated to $5', 'order cancelled')."
//!
//! Both logs fold to the same orders. They differ when Kafka compacts them: a value
//! log keeps the last whole order per key, which is all a fold needs; a delta log
//! keeps only the last change per key, and the order it changed is gone. The page
//! folds the full and the compacted logs side by side to show it.

use serde_json::{Map, Value, json};

use super::SimError;
use super::topic::{CleanupPolicy, SimTopic};
use crate::envelope::Envelope;
use crate::projection::{
    ApplyError, Projection, default_label, int_field, payload_object, str_field,
};

/// The topic of whole orders. Compacted, because a value log is what compaction is for.
pub const VALUES_TOPIC: &str = "order-values";
/// The topic of order deltas. `delete`, because compaction would lose history.
pub const DELTAS_TOPIC: &str = "order-deltas";

/// 2023-10-01T12:00:00Z, the lessons' epoch; each event comes a minute after the last.
const EPOCH_MS: i64 = 1_696_161_600_000;

/// Whole-fact values: each event is the entire order, and applying it replaces the
/// state with it. The state never depends on an earlier event.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderValues;

impl Projection for OrderValues {
    fn name(&self) -> &str {
        "order-values"
    }

    fn initial(&self) -> Value {
        Value::Object(Map::new())
    }

    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError> {
        let order = payload_object(envelope)?;
        *state = Value::Object(order.clone());
        Ok(())
    }

    fn label(&self, envelope: &Envelope) -> String {
        match payload_object(envelope) {
            Ok(order) => format!(
                "Order {} (whole: {}, amount {})",
                envelope.key_text().unwrap_or_default(),
                order.get("status").and_then(Value::as_str).unwrap_or("?"),
                order.get("amount").unwrap_or(&Value::Null),
            ),
            Err(_) => default_label(envelope),
        }
    }
}

/// Deltas: an `OrderPlaced` event carries the whole order, later events only what
/// changed (`AmountUpdated`, `OrderCancelled`). A change to an order that was never
/// placed is an error: there is nothing to change.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderDeltas;

impl Projection for OrderDeltas {
    fn name(&self) -> &str {
        "order-deltas"
    }

    fn initial(&self) -> Value {
        Value::Object(Map::new())
    }

    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError> {
        let event = payload_object(envelope)?;
        let kind = str_field(event, "type")?;
        if kind == "OrderPlaced" {
            let order = json!({
                "orderId": str_field(event, "orderId")?,
                "customer": str_field(event, "customer")?,
                "amount": int_field(event, "amount")?,
                "status": "placed",
            });
            *state = order;
            return Ok(());
        }
        // Every other event changes an order placed before it; check that first so
        // the error names the real problem, not a field.
        let placed = state.get("orderId").is_some();
        let change = match kind {
            "AmountUpdated" => ("amount", Value::from(int_field(event, "amount")?)),
            "OrderCancelled" => ("status", Value::from("cancelled")),
            other => {
                return Err(ApplyError::UnknownEventType {
                    field: "type".into(),
                    got: format!("\"{other}\""),
                    expected: "\"OrderPlaced\", \"AmountUpdated\" or \"OrderCancelled\"".into(),
                });
            }
        };
        if !placed {
            return Err(ApplyError::Rule {
                rule: kind.to_owned(),
                message: format!(
                    "order {} has no OrderPlaced before it, so there is nothing to change",
                    envelope.key_text().unwrap_or_else(|| "(no key)".into())
                ),
            });
        }
        state[change.0] = change.1;
        Ok(())
    }

    fn label(&self, envelope: &Envelope) -> String {
        format!(
            "{} {}",
            default_label(envelope),
            envelope.key_text().unwrap_or_default()
        )
    }
}

/// The two logs of one order history.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderLogs {
    /// Every event is the whole order ([`OrderValues`] folds it).
    pub values: SimTopic,
    /// An `OrderPlaced`, then only changes ([`OrderDeltas`] folds it).
    pub deltas: SimTopic,
}

/// Builds the history twice, keyed by order id on `partitions` partitions: order o-1
/// is placed for 10, order o-2 for 20, o-1's amount is updated to 5, o-1 is
/// cancelled, o-2's amount is updated to 25.
pub fn order_logs(partitions: i32) -> Result<OrderLogs, SimError> {
    let mut values = SimTopic::new(VALUES_TOPIC, partitions, CleanupPolicy::Compact)?;
    let mut deltas = SimTopic::new(DELTAS_TOPIC, partitions, CleanupPolicy::Delete)?;
    // One line per change: the key, the whole order after it, and the delta. Text
    // parsed at run time rather than `json!`, whose expansion is code per field (in
    // the page's wasm this function was 12 KB of it).
    const HISTORY: &str = r#"
["o-1",{"orderId":"o-1","customer":"ada","amount":10,"status":"placed"},{"type":"OrderPlaced","orderId":"o-1","customer":"ada","amount":10}]
["o-2",{"orderId":"o-2","customer":"grace","amount":20,"status":"placed"},{"type":"OrderPlaced","orderId":"o-2","customer":"grace","amount":20}]
["o-1",{"orderId":"o-1","customer":"ada","amount":5,"status":"placed"},{"type":"AmountUpdated","orderId":"o-1","amount":5}]
["o-1",{"orderId":"o-1","customer":"ada","amount":5,"status":"cancelled"},{"type":"OrderCancelled","orderId":"o-1"}]
["o-2",{"orderId":"o-2","customer":"grace","amount":25,"status":"placed"},{"type":"AmountUpdated","orderId":"o-2","amount":25}]
"#;
    for (minute, line) in (0i64..).zip(HISTORY.trim().lines()) {
        let mut row: Value = line.parse().expect("the history is JSON");
        let key = row[0].as_str().unwrap_or_default().to_owned();
        let timestamp = EPOCH_MS + 60_000 * minute;
        values.produce_json(Some(&key), row[1].take(), timestamp)?;
        deltas.produce_json(Some(&key), row[2].take(), timestamp)?;
    }
    Ok(OrderLogs { values, deltas })
}
