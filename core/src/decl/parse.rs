//! From spec text to a [`Spec`], with errors that name the place of each mistake.
//!
//! The spec is read by hand from a JSON tree rather than derived with serde: the page
//! shows these messages next to the editor, so each one says where the mistake is
//! (`events.deposit.rules[1]`) and what would be right, in words a user can act on.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::rule::{Op, Rule, VERBS};
use super::template::Template;
use super::{AggregateFrom, Handler, Kind, Spec, SpecError, Texts, WILDCARD};

/// Keys of the spec object, in the order the docs present them.
const TOP_KEYS: [&str; 11] = [
    "name",
    "description",
    "type_field",
    "aggregate",
    "initial",
    "label",
    "command",
    "produce",
    "apply",
    "output",
    "events",
];

/// Keys of an event handler.
const HANDLER_KEYS: [&str; 6] = ["label", "command", "produce", "apply", "fields", "rules"];

/// Parses spec text.
pub(super) fn spec(text: &str) -> Result<Spec, SpecError> {
    let Strict(value) = serde_json::from_str(text).map_err(json_error)?;
    from_value(&value)
}

fn json_error(err: serde_json::Error) -> SpecError {
    let (line, column) = (err.line(), err.column());
    // serde_json appends the position to its message; the error carries it apart.
    let text = err.to_string();
    let message = text
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&text)
        .to_owned();
    SpecError::Json {
        line,
        column,
        message,
    }
}

fn invalid(path: &str, message: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// A value as a message quotes it: short values in full, containers by kind.
fn got(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        Value::String(s) if s.chars().count() > 40 => "a long string".into(),
        other => other.to_string(),
    }
}

/// A list of names for "expected one of" messages.
fn one_of(items: &[&str]) -> String {
    items.join(", ")
}

/// A key in a path: `deposit` as `.deposit`, anything else as `["…"]`.
fn member(path: &str, key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (true, false) => format!("[{}]", Value::from(key)),
        (false, true) => format!("{path}.{key}"),
        (false, false) => format!("{path}[{}]", Value::from(key)),
    }
}

fn check_keys(path: &str, object: &Map<String, Value>, allowed: &[&str]) -> Result<(), SpecError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) if path.is_empty() => Err(invalid(
            path,
            format!(
                "unknown top-level key \"{key}\" (expected one of {})",
                one_of(allowed)
            ),
        )),
        Some(key) => Err(invalid(
            path,
            format!(
                "unknown key \"{key}\" (expected one of {})",
                one_of(allowed)
            ),
        )),
    }
}

/// A non-empty string naming a field.
fn field_name(path: &str, value: &Value, what: &str) -> Result<String, SpecError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        other => Err(invalid(
            path,
            format!("{what}: expected a field name, got {}", got(other)),
        )),
    }
}

fn template(path: &str, value: Option<&Value>) -> Result<Option<Template>, SpecError> {
    match value {
        None => Ok(None),
        Some(Value::String(text)) => Template::parse(text)
            .map(Some)
            .map_err(|message| invalid(path, message)),
        // A list is a chain of alternatives: the first that renders wins.
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("{path}[{i}]");
                match item {
                    Value::String(text) => {
                        Template::parse(text).map_err(|message| invalid(&at, message))
                    }
                    other => Err(invalid(
                        &at,
                        format!("expected a template string, got {}", got(other)),
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|alternatives| Some(Template::first_of(alternatives))),
        Some(other) => Err(invalid(
            path,
            format!(
                "expected a template string or a list of them, got {}",
                got(other)
            ),
        )),
    }
}

fn texts(path: &str, object: &Map<String, Value>) -> Result<Texts, SpecError> {
    Ok(Texts {
        command: template(&member(path, "command"), object.get("command"))?,
        produce: template(&member(path, "produce"), object.get("produce"))?,
        apply: template(&member(path, "apply"), object.get("apply"))?,
    })
}

fn from_value(value: &Value) -> Result<Spec, SpecError> {
    // A literal the JSON parser rounded (an integer beyond 64 bits) would fold to a
    // number the user did not write.
    if let Some((path, number)) = crate::envelope::inexact_number(value) {
        return Err(invalid(
            &path,
            format!("an integer beyond the 64-bit range (about {number}) cannot be kept exactly"),
        ));
    }
    let Value::Object(top) = value else {
        return Err(invalid(
            "",
            format!(
                "a spec is a JSON object like {{\"events\": {{…}}}}, got {}",
                got(value)
            ),
        ));
    };
    check_keys("", top, &TOP_KEYS)?;
    let name = match top.get("name") {
        None => "custom".to_owned(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(other) => {
            return Err(invalid(
                "name",
                format!("expected a non-empty string, got {}", got(other)),
            ));
        }
    };
    let description = match top.get("description") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(invalid(
                "description",
                format!("expected a string, got {}", got(other)),
            ));
        }
    };
    let type_field = top
        .get("type_field")
        .map(|v| field_name("type_field", v, "the payload field naming the event type"))
        .transpose()?;
    let aggregate = aggregate(top.get("aggregate"))?;
    let initial = match top.get("initial") {
        None => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => {
            return Err(invalid(
                "initial",
                format!("the initial state is an object, got {}", got(other)),
            ));
        }
    };
    let label = template("label", top.get("label"))?;
    let texts = texts("", top)?;
    let output = template("output", top.get("output"))?;

    let events = match top.get("events") {
        None => {
            return Err(invalid(
                "",
                "missing \"events\": a spec needs at least one event handler",
            ));
        }
        Some(Value::Object(events)) if events.is_empty() => {
            return Err(invalid(
                "events",
                "no handlers: add one per event type, e.g. {\"deposit\": {\"rules\": […]}}",
            ));
        }
        Some(Value::Object(events)) => events,
        Some(other) => {
            return Err(invalid(
                "events",
                format!(
                    "expected an object from event type to handler, got {}",
                    got(other)
                ),
            ));
        }
    };
    let mut handlers = Vec::new();
    let mut wildcard = None;
    for (event_type, value) in events {
        let path = member("events", event_type);
        if type_field.is_none() && event_type != WILDCARD {
            return Err(invalid(
                &path,
                "unreachable: without \"type_field\" every event goes to the \"*\" handler",
            ));
        }
        let handler = handler(&path, event_type, value)?;
        if event_type == WILDCARD {
            wildcard = Some(handler);
        } else {
            handlers.push(handler);
        }
    }
    let expected = expected_types(&handlers);
    Ok(Spec {
        name,
        description,
        type_field,
        aggregate,
        initial,
        label,
        output,
        texts,
        handlers,
        wildcard,
        expected,
    })
}

/// The `expected` text of an unknown-type error: `"a" or "b"`, `"a", "b" or "c"`.
fn expected_types(handlers: &[Handler]) -> String {
    let quoted: Vec<String> = handlers
        .iter()
        .map(|h| format!("\"{}\"", h.event_type))
        .collect();
    match quoted.split_last() {
        None => "no typed events".into(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn aggregate(value: Option<&Value>) -> Result<AggregateFrom, SpecError> {
    let wrong = |value: &Value| {
        invalid(
            "aggregate",
            format!(
                "expected \"key\", \"none\" or {{\"field\": \"…\"}}, got {}",
                got(value)
            ),
        )
    };
    match value {
        None => Ok(AggregateFrom::Key),
        Some(Value::String(s)) if s == "key" => Ok(AggregateFrom::Key),
        Some(Value::String(s)) if s == "none" => Ok(AggregateFrom::None),
        Some(Value::Object(object)) => {
            check_keys("aggregate", object, &["field"])?;
            match object.get("field") {
                Some(field) => Ok(AggregateFrom::Field(field_name(
                    "aggregate.field",
                    field,
                    "the payload field holding the aggregate id",
                )?)),
                None => Err(wrong(&Value::Object(object.clone()))),
            }
        }
        Some(other) => Err(wrong(other)),
    }
}

fn handler(path: &str, event_type: &str, value: &Value) -> Result<Handler, SpecError> {
    let Value::Object(object) = value else {
        return Err(invalid(
            path,
            format!(
                "a handler is an object like {{\"rules\": […]}}, got {}",
                got(value)
            ),
        ));
    };
    check_keys(path, object, &HANDLER_KEYS)?;
    let fields = match object.get("fields") {
        None => Vec::new(),
        Some(Value::Object(fields)) => fields
            .iter()
            .map(|(name, kind)| {
                let at = member(&member(path, "fields"), name);
                Kind::parse(kind)
                    .map(|kind| (name.clone(), kind))
                    .ok_or_else(|| {
                        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                        invalid(
                            &at,
                            format!(
                                "unknown kind {} (expected one of {})",
                                got(kind),
                                one_of(&names)
                            ),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(invalid(
                &member(path, "fields"),
                format!(
                    "expected an object from payload field to kind, like {{\"amount\": \"integer\"}}, got {}",
                    got(other)
                ),
            ));
        }
    };
    let rules_path = member(path, "rules");
    let rules = match object.get("rules") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| rule(&format!("{rules_path}[{i}]"), item))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(invalid(
                &rules_path,
                format!("expected a list of rules, got {}", got(other)),
            ));
        }
    };
    if let Some(i) = rules.iter().position(|r| r.op == Op::Delete)
        && i + 1 < rules.len()
    {
        return Err(invalid(
            &format!("{rules_path}[{i}]"),
            "\"delete\" must be the last rule: the rules after it would run on a deleted aggregate",
        ));
    }
    Ok(Handler {
        event_type: event_type.to_owned(),
        label: template(&member(path, "label"), object.get("label"))?,
        texts: texts(path, object)?,
        fields,
        rules,
    })
}

/// Parses one rule: exactly one verb key, plus the options that verb takes.
fn rule(path: &str, value: &Value) -> Result<Rule, SpecError> {
    let Value::Object(object) = value else {
        return Err(invalid(
            path,
            format!(
                "a rule is an object like {{\"add\": \"balance\", \"from\": \"amount\"}}, got {}",
                got(value)
            ),
        ));
    };
    let verbs: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| VERBS.contains(k))
        .collect();
    let verb = match verbs.as_slice() {
        [verb] => *verb,
        [] => {
            const OPTIONS: [&str; 3] = ["from", "value", "except"];
            let message = match object.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
                Some(key) => format!(
                    "unknown rule \"{key}\" (expected one of {})",
                    one_of(&VERBS)
                ),
                None => format!("a rule needs one of {}", one_of(&VERBS)),
            };
            return Err(invalid(path, message));
        }
        [first, second, ..] => {
            return Err(invalid(
                path,
                format!("one rule per object: \"{first}\" and \"{second}\" belong in two rules"),
            ));
        }
    };
    let options: &[&str] = match verb {
        "add" | "subtract" => &["from"],
        "set" => &["value", "from"],
        "merge" => &["except"],
        "append" => &["from"],
        _ => &[],
    };
    if let Some(key) = object
        .keys()
        .find(|k| k.as_str() != verb && !options.contains(&k.as_str()))
    {
        let message = if options.is_empty() {
            format!("\"{verb}\" takes no options, got \"{key}\"")
        } else {
            let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
            format!(
                "\"{verb}\" does not take \"{key}\" (it takes {})",
                quoted.join(" or ")
            )
        };
        return Err(invalid(path, message));
    }
    let target = || {
        field_name(
            path,
            &object[verb],
            &format!("\"{verb}\" names a state field"),
        )
    };
    let from = || match object.get("from") {
        None => Ok(None),
        Some(v) => field_name(path, v, "\"from\" names a payload field").map(Some),
    };
    let needs_from = || {
        from()?.ok_or_else(|| {
            invalid(
                path,
                format!("\"{verb}\" needs \"from\" (the payload field to read)"),
            )
        })
    };
    let op = match verb {
        "add" => Op::Add {
            to: target()?,
            from: needs_from()?,
        },
        "subtract" => Op::Subtract {
            to: target()?,
            from: needs_from()?,
        },
        "set" => match (object.get("value"), from()?) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    path,
                    "\"set\" takes \"value\" or \"from\", not both",
                ));
            }
            (Some(value), None) => Op::Set {
                to: target()?,
                value: value.clone(),
            },
            (None, Some(from)) => Op::SetFrom {
                to: target()?,
                from,
            },
            (None, None) => {
                return Err(invalid(
                    path,
                    "\"set\" needs \"value\" (a literal) or \"from\" (a payload field)",
                ));
            }
        },
        "merge" => {
            flag(path, verb, &object[verb])?;
            let except = match object.get("except") {
                None => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| field_name(path, item, "\"except\" lists payload fields"))
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(invalid(
                        path,
                        format!(
                            "\"except\" lists payload fields: expected an array, got {}",
                            got(other)
                        ),
                    ));
                }
            };
            Op::Merge { except }
        }
        "delete" => {
            flag(path, verb, &object[verb])?;
            Op::Delete
        }
        "append" => Op::Append {
            to: target()?,
            from: from()?,
        },
        _ => Op::Count { to: target()? },
    };
    Ok(Rule {
        name: format!("{path} ({})", op.describe()),
        op,
    })
}

/// `merge` and `delete` are switched on with `true`; anything else is a mistake.
fn flag(path: &str, verb: &str, value: &Value) -> Result<(), SpecError> {
    match value {
        Value::Bool(true) => Ok(()),
        other => Err(invalid(
            path,
            format!("write {{\"{verb}\": true}}, got {}", got(other)),
        )),
    }
}

/// A JSON value read like `serde_json::Value`, except that an object with the same
/// key twice is an error: serde_json would keep the last one silently, and a spec
/// with two `deposit` handlers would lose the first without a word.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key \"{key}\" (JSON would keep only the last one)"
                )));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}
