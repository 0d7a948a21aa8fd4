//! Seed 001: an order created, then shipped.
//!
//! Events: `{"type":"orderCreated","orderId":123}` and
//! `{"type":"orderUpdated","orderId":123,"status":"shipped"}`.
//! State: `{}` before the first event, then `{"orderId":123,"status":"created"}`.

use serde_json::{Value, json};

use crate::envelope::Envelope;
use crate::projection::{ApplyError, Narration, Projection, payload_object, str_field};

/// A typed order event.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    Created { order_id: Value },
    Updated { status: String },
}

/// Decodes an order event from a JSON object.
pub fn decode(map: &serde_json::Map<String, Value>) -> Result<OrderEvent, ApplyError> {
    match str_field(map, "type")? {
        "orderCreated" => {
            let order_id = map.get("orderId").ok_or_else(|| ApplyError::MissingField {
                field: "orderId".into(),
            })?;
            Ok(OrderEvent::Created {
                order_id: order_id.clone(),
            })
        }
        "orderUpdated" => Ok(OrderEvent::Updated {
            status: str_field(map, "status")?.to_owned(),
        }),
        other => Err(ApplyError::UnknownEventType {
            field: "type".into(),
            got: format!("\"{other}\""),
            expected: "\"orderCreated\" or \"orderUpdated\"".into(),
        }),
    }
}

/// The `orders` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orders;

impl Projection for Orders {
    fn name(&self) -> &str {
        "orders"
    }

    fn initial(&self) -> Value {
        json!({})
    }

    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError> {
        match decode(payload_object(envelope)?)? {
            OrderEvent::Created { order_id } => {
                state["orderId"] = order_id;
                state["status"] = Value::from("created");
            }
            OrderEvent::Updated { status } => state["status"] = Value::from(status),
        }
        Ok(())
    }

    fn label(&self, envelope: &Envelope) -> String {
        match payload_object(envelope)
            .ok()
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str)
        {
            Some(kind) => format!("{kind}Event"),
            None => crate::projection::default_label(envelope),
        }
    }

    fn narration(&self, envelope: &Envelope) -> Narration {
        let kind = payload_object(envelope)
            .ok()
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str);
        match kind {
            // Seed 001's own words for the two events of its table.
            Some("orderCreated") => Narration {
                command: "Receive new order command".into(),
                produce: "Produce event to Kafka".into(),
                apply: "Apply event to state".into(),
            },
            Some("orderUpdated") => Narration {
                command: "Receive update command".into(),
                produce: "Produce update event".into(),
                apply: "Apply update event to state".into(),
            },
            _ => Narration::default(),
        }
    }
}
