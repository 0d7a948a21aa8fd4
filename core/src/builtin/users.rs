//! Seed 004: user registrations and log-ins, one aggregate per user.
//!
//! Events: `{"event":"UserRegistered"|"UserLoggedIn","userId":"123","timestamp":"…"}`.
//! The aggregate is the `userId` field, so the folded view maps each user id to
//! `{"userId":…,"registeredAt":…,"logins":N,"lastLogin":…}`.

use serde_json::{Value, json};

use crate::envelope::Envelope;
use crate::projection::{
    AggregateId, ApplyError, Narration, Projection, field_id, payload_object, str_field,
};

/// The `users` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Users;

fn timestamp(map: &serde_json::Map<String, Value>) -> Result<Value, ApplyError> {
    map.get("timestamp")
        .cloned()
        .ok_or_else(|| ApplyError::MissingField {
            field: "timestamp".into(),
        })
}

impl Projection for Users {
    fn name(&self) -> &str {
        "users"
    }

    fn initial(&self) -> Value {
        json!({})
    }

    fn aggregate_id(&self, envelope: &Envelope) -> Result<AggregateId, ApplyError> {
        field_id(payload_object(envelope)?, "userId")
    }

    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError> {
        let map = payload_object(envelope)?;
        match str_field(map, "event")? {
            "UserRegistered" => {
                let at = timestamp(map)?;
                state["userId"] = map["userId"].clone();
                state["registeredAt"] = at;
                state["logins"] = Value::from(0);
            }
            "UserLoggedIn" => {
                let at = timestamp(map)?;
                let logins = state.get("logins").and_then(Value::as_i64).unwrap_or(0);
                // An error, not a saturation: a count stuck at its maximum would lie.
                let next = logins.checked_add(1).ok_or_else(|| ApplyError::Overflow {
                    field: "logins".into(),
                    message: format!("{logins} + 1 leaves the range of a 64-bit integer"),
                })?;
                state["logins"] = Value::from(next);
                state["lastLogin"] = at;
            }
            other => {
                return Err(ApplyError::UnknownEventType {
                    field: "event".into(),
                    got: format!("\"{other}\""),
                    expected: "\"UserRegistered\" or \"UserLoggedIn\"".into(),
                });
            }
        }
        Ok(())
    }

    fn label(&self, envelope: &Envelope) -> String {
        let Ok(map) = payload_object(envelope) else {
            return crate::projection::default_label(envelope);
        };
        let event = map.get("event").and_then(Value::as_str).unwrap_or("event");
        match map.get("userId") {
            Some(Value::String(id)) => format!("{event} {id}"),
            Some(other) => format!("{event} {other}"),
            None => event.to_owned(),
        }
    }

    fn narration(&self, envelope: &Envelope) -> Narration {
        let event = payload_object(envelope)
            .ok()
            .and_then(|m| m.get("event"))
            .and_then(Value::as_str);
        let command = match event {
            Some("UserRegistered") => "Receive register user command",
            Some("UserLoggedIn") => "Receive log in command",
            _ => "Receive command",
        };
        Narration {
            command: command.into(),
            ..Narration::default()
        }
    }
}
