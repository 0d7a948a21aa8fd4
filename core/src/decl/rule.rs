//! The rules of a declarative projection and what each does to a state.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use super::text::{Fields, same};

use crate::projection::{ApplyError, json_kind, wrong_type};

/// The rule verbs, in the order messages list them.
pub(crate) const VERBS: [&str; 7] = [
    "add", "subtract", "set", "merge", "delete", "append", "count",
];

/// What a rule does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Adds the number in payload field `from` to state field `to`.
    Add { to: String, from: String },
    /// Subtracts the number in payload field `from` from state field `to`.
    Subtract { to: String, from: String },
    /// Sets state field `to` to a literal.
    Set { to: String, value: Value },
    /// Sets state field `to` to the value of payload field `from`.
    SetFrom { to: String, from: String },
    /// Copies every payload field except those listed into the state.
    Merge { except: Vec<String> },
    /// Deletes the aggregate.
    Delete,
    /// Appends payload field `from` (or the whole payload) to list field `to`.
    Append { to: String, from: Option<String> },
    /// Adds one to integer field `to`.
    Count { to: String },
}

/// One rule of a handler, with the name its errors carry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    /// Where the rule sits and what it says, e.g.
    /// `events.deposit.rules[0] (add balance from amount)`.
    pub(crate) name: String,
    pub(crate) op: Op,
}

impl Op {
    /// A short description for rule names, e.g. `add balance from amount`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Op::Add { to, from } => format!("add {to} from {from}"),
            Op::Subtract { to, from } => format!("subtract {to} from {from}"),
            Op::Set { to, value } => format!("set {to} to {}", short(value)),
            Op::SetFrom { to, from } => format!("set {to} from {from}"),
            Op::Merge { except } if except.is_empty() => "merge payload".into(),
            Op::Merge { except } => format!("merge payload except {}", except.join(", ")),
            Op::Delete => "delete".into(),
            Op::Append { to, from: None } => format!("append payload to {to}"),
            Op::Append {
                to,
                from: Some(from),
            } => format!("append {from} to {to}"),
            Op::Count { to } => format!("count {to}"),
        }
    }
}

/// A literal as a rule name quotes it: in full when short, cut with `…` otherwise, so
/// a large literal does not swamp every error message of its rule.
fn short(value: &Value) -> String {
    const MAX: usize = 30;
    let text = value.to_string();
    if text.chars().count() <= MAX {
        return text;
    }
    let mut cut: String = text.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

impl Rule {
    /// Runs the rule on `state`. A rule changes the state only once it can no longer
    /// fail, so on error `state` is as it was: a handler of one rule runs it in place.
    /// A later rule of several may still fail after an earlier one changed the state,
    /// so the caller runs several on a copy (`Handler::run_rules`). Keep it so when
    /// adding a verb: read and check everything first, then write.
    pub(crate) fn run<P: Fields + ?Sized>(
        &self,
        state: &mut Value,
        payload: &P,
    ) -> Result<(), ApplyError> {
        if let Op::Delete = self.op {
            // A null state is how a projection deletes its aggregate (see `fold`).
            *state = Value::Null;
            return Ok(());
        }
        let Value::Object(fields) = state else {
            return Err(self.fail(format!(
                "the state is a JSON {}, not an object",
                json_kind(state)
            )));
        };
        match &self.op {
            Op::Add { to, from } => self.arithmetic(fields, to, payload, from, false),
            Op::Subtract { to, from } => self.arithmetic(fields, to, payload, from, true),
            Op::Set { to, value } => {
                fields.insert(to.clone(), value.clone());
                Ok(())
            }
            Op::SetFrom { to, from } => {
                let value = self.read(payload, from)?.into_owned();
                fields.insert(to.clone(), value);
                Ok(())
            }
            Op::Merge { except } => {
                payload.each(&mut |name, value| {
                    if !except.iter().any(|e| e == name) {
                        fields.insert(name.to_owned(), value.clone());
                    }
                });
                Ok(())
            }
            Op::Append { to, from } => {
                let item = match from {
                    Some(from) => self.read(payload, from)?.into_owned(),
                    None => Value::Object(payload.to_map()),
                };
                match fields
                    .entry(to.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(items) => {
                        items.push(item);
                        Ok(())
                    }
                    other => Err(self.fail(format!("state {}", wrong_type(to, "an array", other)))),
                }
            }
            Op::Count { to } => {
                let count = match crate::projection::field(fields, to) {
                    None => 0,
                    Some(value) => value.as_i64().ok_or_else(|| {
                        self.fail(format!("state {}", wrong_type(to, "an integer", value)))
                    })?,
                };
                let next = count.checked_add(1).ok_or_else(|| ApplyError::Overflow {
                    field: to.clone(),
                    message: format!("{count} + 1 leaves the range of a 64-bit integer"),
                })?;
                put(fields, to, Value::from(next));
                Ok(())
            }
            Op::Delete => Ok(()),
        }
    }

    fn fail(&self, message: String) -> ApplyError {
        ApplyError::Rule {
            rule: self.name.clone(),
            message,
        }
    }

    fn read<'a, P: Fields + ?Sized>(
        &self,
        payload: &'a P,
        field: &str,
    ) -> Result<Cow<'a, Value>, ApplyError> {
        payload.value(field).ok_or_else(|| {
            self.fail(
                ApplyError::MissingField {
                    field: field.into(),
                }
                .to_string(),
            )
        })
    }

    /// Adds or subtracts: exact i64 arithmetic when both sides are integers (an
    /// overflow is an error, not a wrap, as in the typed bank), f64 otherwise.
    fn arithmetic<P: Fields + ?Sized>(
        &self,
        fields: &mut Map<String, Value>,
        to: &str,
        payload: &P,
        from: &str,
        subtract: bool,
    ) -> Result<(), ApplyError> {
        // Integers on both sides, the common case: no `Value` built for the amount.
        // Anything else (a float, an overflow, a missing field) takes the general way
        // below, which words the error.
        if let Some(b) = payload.int(from) {
            let apply = |a: i64| {
                if subtract {
                    a.checked_sub(b)
                } else {
                    a.checked_add(b)
                }
            };
            // One lookup, and the number replaced in place.
            match slot(fields, to) {
                Some(Value::Number(n)) => {
                    if let Some(next) = n.as_i64().and_then(apply) {
                        *n = Number::from(next);
                        return Ok(());
                    }
                }
                Some(_) => {}
                None => {
                    if let Some(next) = apply(0) {
                        fields.insert(to.to_owned(), Value::from(next));
                        return Ok(());
                    }
                }
            }
        }
        let amount = self.read(payload, from)?;
        let amount = match &*amount {
            Value::Number(n) => n,
            other => return Err(self.fail(wrong_type(from, "a number", other).to_string())),
        };
        let zero = Number::from(0);
        let current = match crate::projection::field(fields, to) {
            None => &zero,
            Some(Value::Number(n)) => n,
            Some(other) => {
                return Err(self.fail(format!("state {}", wrong_type(to, "a number", other))));
            }
        };
        let sign = if subtract { '-' } else { '+' };
        let overflow = |what: &str| ApplyError::Overflow {
            field: to.into(),
            message: format!("{current} {sign} {amount} leaves the range of {what}"),
        };
        let next = match (current.as_i64(), amount.as_i64()) {
            (Some(a), Some(b)) => {
                let exact = if subtract {
                    a.checked_sub(b)
                } else {
                    a.checked_add(b)
                };
                Number::from(exact.ok_or_else(|| overflow("a 64-bit integer"))?)
            }
            _ => {
                // Every JSON number converts to f64 (large u64 values approximately).
                let a = current.as_f64().unwrap_or(f64::NAN);
                let b = amount.as_f64().unwrap_or(f64::NAN);
                let result = if subtract { a - b } else { a + b };
                Number::from_f64(result).ok_or_else(|| overflow("a 64-bit float"))?
            }
        };
        put(fields, to, Value::Number(next));
        Ok(())
    }
}

/// State field `name`, found as [`put`] finds it.
fn slot<'m>(fields: &'m mut Map<String, Value>, name: &str) -> Option<&'m mut Value> {
    if fields.len() <= 8 {
        fields
            .iter_mut()
            .find_map(|(key, slot)| same(key.as_bytes(), name.as_bytes()).then_some(slot))
    } else {
        fields.get_mut(name)
    }
}

/// Sets state field `name`: in place when it is there (no key to allocate, and for
/// the few fields of a state no hashing either, as [`crate::projection::field`] finds
/// fields), else inserted at the end.
fn put(fields: &mut Map<String, Value>, name: &str, value: Value) {
    match slot(fields, name) {
        Some(slot) => *slot = value,
        None => {
            fields.insert(name.to_owned(), value);
        }
    }
}
