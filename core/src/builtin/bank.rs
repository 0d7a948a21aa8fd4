//! Seed 000 and 002: a bank account folded from deposits and withdrawals.
//!
//! Events: `{"type":"deposit"|"withdrawal","amount":N}` with an integer amount.
//! State: `{"balance":N}`, starting at `{"balance":0}`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::decl::text::{self, FlatField, TextObject};
use crate::envelope::Envelope;
use crate::fold::FoldError;
use crate::projection::{
    AggregateId, ApplyError, Narration, Projection, int_field, payload_object, str_field,
};

/// A typed bank event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankEvent {
    Deposit(i64),
    Withdrawal(i64),
}

/// The typed state of one account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Account {
    pub balance: i64,
}

impl Account {
    /// Applies one event. Overflow is an error, not a wrap: a ledger that wraps lies.
    #[inline]
    pub fn apply(&mut self, event: BankEvent) -> Result<(), ApplyError> {
        let (next, sign, amount) = match event {
            BankEvent::Deposit(amount) => (self.balance.checked_add(amount), '+', amount),
            BankEvent::Withdrawal(amount) => (self.balance.checked_sub(amount), '-', amount),
        };
        // Worded as the declarative twin words it (decl::rule), so both say the same.
        self.balance = next.ok_or_else(|| ApplyError::Overflow {
            field: "balance".into(),
            message: format!(
                "{} {sign} {amount} leaves the range of a 64-bit integer",
                self.balance
            ),
        })?;
        Ok(())
    }
}

/// Folds typed events into an account: the whole of event sourcing in one loop.
pub fn fold(events: &[BankEvent]) -> Result<Account, ApplyError> {
    let mut account = Account::default();
    for event in events {
        account.apply(*event)?;
    }
    Ok(account)
}

/// Decodes a bank event from a JSON object.
pub fn decode(map: &serde_json::Map<String, Value>) -> Result<BankEvent, ApplyError> {
    let kind = str_field(map, "type")?;
    let make = match kind {
        "deposit" => BankEvent::Deposit,
        "withdrawal" => BankEvent::Withdrawal,
        other => {
            return Err(ApplyError::UnknownEventType {
                field: "type".into(),
                got: format!("\"{other}\""),
                expected: "\"deposit\" or \"withdrawal\"".into(),
            });
        }
    };
    Ok(make(int_field(map, "amount")?))
}

/// One NDJSON line in the shape the fast path reads without building a JSON tree.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    amount: i64,
}

/// Decodes one NDJSON line of a bank event. Well-formed lines take a fast path that
/// builds no JSON tree; anything else goes through the general decoder, so the error
/// is exactly the one the fold reports.
pub fn decode_line(line: &[u8]) -> Result<BankEvent, ApplyError> {
    if let Ok(fast) = serde_json::from_slice::<Line>(line) {
        match fast.kind.as_ref() {
            "deposit" => return Ok(BankEvent::Deposit(fast.amount)),
            "withdrawal" => return Ok(BankEvent::Withdrawal(fast.amount)),
            _ => {}
        }
    }
    let envelope = Envelope {
        value: crate::envelope::Payload::decode(Some(line)),
        ..Envelope::json("", 0, Value::Null)
    };
    decode(payload_object(&envelope)?)
}

/// Decodes and folds an NDJSON log of bank events for one account in a single pass
/// (offset = line index). Bad lines are collected as errors and skipped; the balance
/// is the one the general fold reaches over the same file.
pub fn fold_ndjson(bytes: &[u8]) -> (Account, Vec<FoldError>) {
    let mut account = Account::default();
    let mut errors = Vec::new();
    for (offset, line) in crate::ndjson::lines(bytes) {
        let applied = decode_line(line).and_then(|event| account.apply(event));
        if let Err(error) = applied {
            errors.push(FoldError {
                partition: 0,
                offset,
                error,
            });
        }
    }
    (account, errors)
}

/// A log of bank events from signed amounts on partition 0 of `topic`: a positive amount
/// is a deposit, a negative one a withdrawal, offsets count from 0. Lessons and tests
/// write their logs this way.
pub fn log_of_amounts(topic: &str, amounts: &[i64]) -> Vec<Envelope> {
    amounts
        .iter()
        .enumerate()
        .map(|(offset, amount)| {
            let kind = if *amount < 0 { "withdrawal" } else { "deposit" };
            Envelope::json(
                topic,
                offset as i64,
                json!({"type": kind, "amount": amount.abs()}),
            )
        })
        .collect()
}

/// The `bank` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bank;

impl Projection for Bank {
    fn name(&self) -> &str {
        "bank"
    }

    fn initial(&self) -> Value {
        json!({"balance": 0})
    }

    fn aggregate_without_payload(&self, envelope: &Envelope) -> Option<AggregateId> {
        Some(envelope.aggregate_key())
    }

    fn apply_text(&self, state: &mut Value, text: &[u8]) -> bool {
        // Read as the general path would read the parsed object (the last of a
        // repeated field wins); anything unexpected goes the general way, which words
        // the errors.
        let (mut kind, mut amount) = (None, None);
        let scanned = text::scan_flat_fields(text, |name, value| match name {
            "type" => kind = Some(value),
            "amount" => amount = Some(value),
            _ => {}
        });
        let (kind, amount) = match scanned {
            // The last of a repeated field wins, as in the parsed object.
            Some(()) => (
                match kind {
                    Some(FlatField::Str(kind)) => Some(kind),
                    _ => None,
                },
                match amount {
                    Some(FlatField::Int(amount)) => Some(amount),
                    _ => None,
                },
            ),
            None => {
                let Some(payload) = TextObject::parse(text) else {
                    return false;
                };
                let amount = payload.int("amount");
                return match (payload.str("type"), amount) {
                    (Some(kind), Some(amount)) => apply_bank_text(state, kind, amount),
                    _ => false,
                };
            }
        };
        match (kind, amount) {
            (Some(kind), Some(amount)) => apply_bank_text(state, kind, amount),
            _ => false,
        }
    }

    fn apply(&self, state: &mut Value, envelope: &Envelope) -> Result<(), ApplyError> {
        let event = decode(payload_object(envelope)?)?;
        let mut account = Account {
            balance: state.get("balance").and_then(Value::as_i64).unwrap_or(0),
        };
        account.apply(event)?;
        // Through `get_mut` first: a one-field map finds its field without hashing.
        match state.get_mut("balance") {
            Some(balance) => *balance = Value::from(account.balance),
            None => state["balance"] = Value::from(account.balance),
        }
        Ok(())
    }

    fn label(&self, envelope: &Envelope) -> String {
        match payload_object(envelope).map(decode) {
            Ok(Ok(BankEvent::Deposit(n))) => format!("deposit {n}"),
            Ok(Ok(BankEvent::Withdrawal(n))) => format!("withdrawal {n}"),
            _ => crate::projection::default_label(envelope),
        }
    }

    fn narration(&self, envelope: &Envelope) -> Narration {
        let kind = payload_object(envelope)
            .ok()
            .and_then(|m| m.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("bank");
        Narration {
            command: format!("Receive {kind} command"),
            ..Narration::default()
        }
    }

    fn render(&self, state: &Value) -> String {
        format!(
            "Current balance: {}",
            state.get("balance").unwrap_or(&Value::Null)
        )
    }
}

/// The bank's event applied to its state, from the fields of the event's text; `false`
/// when the general path must decide (and word the error).
fn apply_bank_text(state: &mut Value, kind: &str, amount: i64) -> bool {
    let event = match kind {
        "deposit" => BankEvent::Deposit(amount),
        "withdrawal" => BankEvent::Withdrawal(amount),
        _ => return false,
    };
    // The state's one field, found without hashing its name.
    let Some(balance) = state.as_object_mut().and_then(|fields| {
        fields
            .iter_mut()
            .find_map(|(key, value)| (key == "balance").then_some(value))
    }) else {
        return false;
    };
    let Some(current) = balance.as_i64() else {
        return false;
    };
    let mut account = Account { balance: current };
    if account.apply(event).is_err() {
        return false;
    }
    *balance = Value::from(account.balance);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Result<BankEvent, &str>) {
        let got = decode_line(line.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "line {line}");
    }

    #[test]
    fn decodes_lines_with_clear_errors() {
        check(
            r#"{"type":"deposit","amount":100}"#,
            Ok(BankEvent::Deposit(100)),
        );
        check(
            r#"{"amount":40,"type":"withdrawal","note":"rent"}"#,
            Ok(BankEvent::Withdrawal(40)),
        );
        check(
            r#"{"type":"depo\u0073it","amount":1}"#,
            Ok(BankEvent::Deposit(1)),
        );
        check(r#"{"type":"deposit"}"#, Err("field `amount` is missing"));
        check(
            r#"{"type":"deposit","amount":"ten"}"#,
            Err("field `amount` must be an integer, got \"ten\""),
        );
        check(
            r#"{"type":"deposit","amount":1.5}"#,
            Err("field `amount` must be an integer, got 1.5"),
        );
        check(
            r#"{"type":"refund","amount":1}"#,
            Err(
                "unknown event type \"refund\" in field `type` (expected \"deposit\" or \"withdrawal\")",
            ),
        );
        check(r#"[1,2]"#, Err("value is a JSON array, expected an object"));
        check(
            r#"{"type":"#,
            Err("value is not JSON: EOF while parsing a value at line 1 column 8"),
        );
    }

    #[test]
    fn the_ndjson_fast_path_agrees_with_the_general_fold() {
        let text = b"{\"type\":\"deposit\",\"amount\":100}\n\n{\"type\":\"deposit\"}\n{\"type\":\"withdrawal\",\"amount\":40}\n";
        let (account, errors) = fold_ndjson(text);
        let folder = crate::fold::fold(
            std::sync::Arc::new(Bank),
            crate::fold::Mode::Lenient,
            &crate::ndjson::parse("bank", text),
        );
        assert_eq!(account.balance, 60);
        assert_eq!(folder.view().to_json(&Bank), json!({"balance": 60}));
        assert_eq!(errors, folder.errors());
    }

    #[test]
    fn seed_000_folds_to_120_and_overflow_is_an_error() {
        let events = [
            BankEvent::Deposit(100),
            BankEvent::Withdrawal(40),
            BankEvent::Deposit(60),
        ];
        assert_eq!(fold(&events), Ok(Account { balance: 120 }));
        let overflow = [BankEvent::Deposit(i64::MAX), BankEvent::Deposit(1)];
        assert!(matches!(fold(&overflow), Err(ApplyError::Overflow { .. })));
    }
}
