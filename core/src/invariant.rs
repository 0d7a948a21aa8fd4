//! Invariants checked over a whole log: `balance >= 0`, `status != 'lost'`,
//! `balance >= 0 && balance < 1000`.
//!
//! An invariant is a rule every aggregate's state must keep after every event. The
//! scan folds the log once ([`Trace::steps`]) and checks each apply row's aggregate
//! state, so a log of N events costs one fold, whatever the number of aggregates.
//!
//! The language is small on purpose: `FIELD OP LITERAL`, joined by `&&`. FIELD is a
//! name or a dotted path into the state (`address.city`), OP one of
//! `>= > <= < == !=`, LITERAL a number or a single-quoted string.

use std::cmp::Ordering;

use serde_json::Value;
use thiserror::Error;

use crate::display;
use crate::projection::aggregate_name;
use crate::trace::{Phase, Trace};

/// Why an invariant's text does not parse; `column` is 1-based, in characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("column {column}: expected a field name, such as balance")]
    ExpectedField { column: usize },
    #[error("column {column}: expected one of >= > <= < == !=")]
    ExpectedOperator { column: usize },
    #[error("column {column}: expected a number or a 'quoted string'")]
    ExpectedValue { column: usize },
    #[error("column {column}: the string is not closed with '")]
    UnclosedString { column: usize },
    #[error("column {column}: expected && or the end of the invariant")]
    ExpectedAnd { column: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Ge => ordering != Ordering::Less,
            Op::Gt => ordering == Ordering::Greater,
            Op::Le => ordering != Ordering::Greater,
            Op::Lt => ordering == Ordering::Less,
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    path: Vec<String>,
    op: Op,
    literal: Literal,
}

impl Clause {
    /// The field's value in `state` (`Null` when absent), and whether it keeps the
    /// clause. A missing field or a value of another kind breaks it: a rule about
    /// `balance` on a state without one is a mistake worth showing.
    fn check<'a>(&self, state: &'a Value) -> (&'a Value, bool) {
        let value = self
            .path
            .iter()
            .try_fold(state, |value, name| value.get(name))
            .unwrap_or(&Value::Null);
        let ordering = match (&self.literal, value) {
            (Literal::Number(n), Value::Number(v)) => v.as_f64().and_then(|v| v.partial_cmp(n)),
            (Literal::Text(t), Value::String(v)) => Some(v.as_str().cmp(t.as_str())),
            _ => None,
        };
        (value, ordering.is_some_and(|o| self.op.holds(o)))
    }
}

/// A parsed invariant: every clause must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Invariant {
    clauses: Vec<Clause>,
}

/// One apply row whose aggregate state breaks the invariant.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub step: u64,
    pub partition: i32,
    pub offset: i64,
    /// The aggregate's name ([`aggregate_name`]): `(no key)` for events without an id.
    /// Two aggregates can share a name; the step and offset tell them apart.
    pub aggregate: String,
    /// The first broken clause's field, as written.
    pub field: String,
    /// That field's value in the state (`null` when the state has none).
    pub value: Value,
}

impl Violation {
    /// One line for the violations list: `step 19 · offset 3 · (no key): balance = -380`.
    pub fn text(&self) -> String {
        let partition = if self.partition == 0 {
            String::new()
        } else {
            format!("partition {} ", self.partition)
        };
        format!(
            "step {} · {partition}offset {} · {}: {} = {}",
            self.step,
            self.offset,
            self.aggregate,
            self.field,
            display::js(&self.value)
        )
    }
}

/// A cursor over the invariant's text that knows its column.
struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
}

impl Lexer<'_> {
    fn skip_spaces(&mut self) {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    }

    /// The 1-based column of the next character (one past the end at the end).
    fn column(&mut self) -> usize {
        let at = self.chars.peek().map_or(self.text.len(), |(i, _)| *i);
        self.text[..at].chars().count() + 1
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut taken = String::new();
        while let Some((_, c)) = self.chars.next_if(|(_, c)| keep(*c)) {
            taken.push(c);
        }
        taken
    }

    fn field(&mut self) -> Result<(String, Vec<String>), ParseError> {
        self.skip_spaces();
        let column = self.column();
        let name = self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let path: Vec<String> = name.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(ParseError::ExpectedField { column });
        }
        Ok((name, path))
    }

    fn op(&mut self) -> Result<Op, ParseError> {
        self.skip_spaces();
        let column = self.column();
        let symbol = self.take_while(|c| "<>=!".contains(c));
        Ok(match symbol.as_str() {
            ">=" => Op::Ge,
            ">" => Op::Gt,
            "<=" => Op::Le,
            "<" => Op::Lt,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            _ => return Err(ParseError::ExpectedOperator { column }),
        })
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        self.skip_spaces();
        let column = self.column();
        if self.chars.next_if(|(_, c)| *c == '\'').is_some() {
            let text = self.take_while(|c| c != '\'');
            return match self.chars.next() {
                Some(_) => Ok(Literal::Text(text)),
                None => Err(ParseError::UnclosedString { column }),
            };
        }
        let number = self.take_while(|c| c.is_ascii_digit() || "+-.eE".contains(c));
        // serde_json reads the number: the page already links its parser, and a
        // second float parser (`str::parse::<f64>`) would add to the download.
        serde_json::from_str::<Value>(&number)
            .ok()
            .and_then(|value| value.as_f64())
            .map(Literal::Number)
            .ok_or(ParseError::ExpectedValue { column })
    }
}

impl Invariant {
    /// Parses `FIELD OP LITERAL [&& FIELD OP LITERAL]...`.
    pub fn parse(text: &str) -> Result<Invariant, ParseError> {
        let mut lexer = Lexer {
            chars: text.char_indices().peekable(),
            text,
        };
        let mut clauses = Vec::new();
        loop {
            let (_, path) = lexer.field()?;
            let op = lexer.op()?;
            let literal = lexer.literal()?;
            clauses.push(Clause { path, op, literal });
            lexer.skip_spaces();
            let column = lexer.column();
            let and = lexer.take_while(|c| c == '&');
            match (and.as_str(), lexer.chars.peek()) {
                ("", None) => return Ok(Invariant { clauses }),
                ("&&", _) => {}
                _ => return Err(ParseError::ExpectedAnd { column }),
            }
        }
    }

    /// The first clause `state` breaks: its field as written and its value there.
    pub fn broken(&self, state: &Value) -> Option<(String, Value)> {
        self.clauses.iter().find_map(|clause| {
            let (value, holds) = clause.check(state);
            (!holds).then(|| (clause.path.join("."), value.clone()))
        })
    }

    /// Every apply row of `trace` whose aggregate state breaks the invariant, in
    /// step order. Rows whose event was rejected left the state as it was and are not
    /// listed again; a deleted aggregate (state `null`, after a tombstone) has no
    /// state to check.
    pub fn scan(&self, trace: &Trace) -> Vec<Violation> {
        let events = trace.events();
        trace
            .steps()
            .filter(|step| step.phase == Phase::Apply && step.error.is_none())
            .filter(|step| !step.state.is_null())
            .filter_map(|step| {
                let (field, value) = self.broken(&step.state)?;
                let event = events.get(step.event_index?)?;
                Some(Violation {
                    step: step.step,
                    partition: event.partition,
                    offset: event.offset,
                    aggregate: aggregate_name(&step.aggregate).into_owned(),
                    field,
                    value,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::{Mode, builtin};

    /// Parses `invariant` and checks it on `state`: `Ok(None)` when it holds, the
    /// broken field and its value when not, or the parse error's message.
    fn check(invariant: &str, state: Value, expected: Result<Option<(&str, Value)>, &str>) {
        let got = Invariant::parse(invariant)
            .map(|i| i.broken(&state))
            .map_err(|e| e.to_string());
        let expected = expected
            .map(|b| b.map(|(f, v)| (f.to_owned(), v)))
            .map_err(str::to_owned);
        assert_eq!(got, expected, "{invariant} on {state}");
    }

    #[test]
    fn invariants_hold_or_name_the_broken_field() {
        check("balance >= 0", json!({"balance": 0}), Ok(None));
        check(
            "balance >= 0",
            json!({"balance": -1}),
            Ok(Some(("balance", json!(-1)))),
        );
        check(
            "balance>0",
            json!({"balance": 0}),
            Ok(Some(("balance", json!(0)))),
        );
        check("balance < 1000.5", json!({"balance": 1000}), Ok(None));
        check("balance <= -1", json!({"balance": -1}), Ok(None));
        check(
            "status == 'shipped'",
            json!({"status": "shipped"}),
            Ok(None),
        );
        check(
            "status != 'lost'",
            json!({"status": "lost"}),
            Ok(Some(("status", json!("lost")))),
        );
        check(
            "balance >= 0 && balance < 100",
            json!({"balance": 150}),
            Ok(Some(("balance", json!(150)))),
        );
        check(
            "address.city == 'Oslo'",
            json!({"address": {"city": "Oslo"}}),
            Ok(None),
        );
    }

    #[test]
    fn a_missing_field_or_another_kind_breaks_the_invariant() {
        check(
            "balance >= 0",
            json!({"status": "open"}),
            Ok(Some(("balance", Value::Null))),
        );
        check(
            "balance >= 0",
            json!({"balance": "10"}),
            Ok(Some(("balance", json!("10")))),
        );
        check(
            "status == 'x'",
            json!({"status": 1}),
            Ok(Some(("status", json!(1)))),
        );
    }

    #[test]
    fn parse_errors_name_the_column() {
        check(
            "",
            json!({}),
            Err("column 1: expected a field name, such as balance"),
        );
        check(
            "balance",
            json!({}),
            Err("column 8: expected one of >= > <= < == !="),
        );
        check(
            "balance => 0",
            json!({}),
            Err("column 9: expected one of >= > <= < == !="),
        );
        check(
            "balance >= x",
            json!({}),
            Err("column 12: expected a number or a 'quoted string'"),
        );
        check(
            "status == 'open",
            json!({}),
            Err("column 11: the string is not closed with '"),
        );
        check(
            "balance >= 0 and",
            json!({}),
            Err("column 14: expected && or the end of the invariant"),
        );
        check(
            "balance >= 0 &&",
            json!({}),
            Err("column 16: expected a field name, such as balance"),
        );
        check(
            "bälance >= 0 ?",
            json!({}),
            Err("column 14: expected && or the end of the invariant"),
        );
    }

    #[test]
    fn the_scan_lists_each_apply_row_that_breaks_it() {
        let events = builtin::bank::log_of_amounts("bank", &[100, -40, 60, -500, 30]);
        let bank = builtin::by_name("bank").unwrap();
        let trace = Trace::new(Arc::clone(&bank), Mode::Lenient, events);
        let found: Vec<String> = Invariant::parse("balance >= 0")
            .unwrap()
            .scan(&trace)
            .iter()
            .map(Violation::text)
            .collect();
        let first = trace.step_of(3, Phase::Apply);
        let second = trace.step_of(4, Phase::Apply);
        assert_eq!(
            found,
            [
                format!("step {first} · offset 3 · (no key): balance = -380"),
                format!("step {second} · offset 4 · (no key): balance = -350"),
            ]
        );
    }
}
