//! An event's JSON text read for the declarative fast path, without building its tree.
//!
//! A spec reads a few top-level fields of each event: the type, the fields it checks,
//! the ones its rules take from. Parsing the whole event into a `serde_json::Value`
//! costs an ordered map and a string for every key and every string value, most of
//! which are never looked at; over a million-event file that was most of the fold's
//! time. [`TextObject`] keeps the top-level fields with their names borrowed from the
//! text where they need no unescaping, strings likewise, and builds a `Value` only for
//! a field that is read. Nested objects and arrays are parsed as usual.
//!
//! It answers exactly as the `Value` would: a key that appears twice reads as its last
//! value (as `Value`'s map keeps it), and numbers go through `Value`'s own
//! deserialisation.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use smallvec::SmallVec;

/// The top-level fields of an event's JSON object, in text order.
pub enum TextObject<'a> {
    /// Read by hand ([`scan_flat`]): names and strings borrowed, kept inline, small,
    /// so the common event costs no allocation and little copying.
    Flat {
        line: &'a str,
        fields: SmallVec<[(Span, Flat); 4]>,
    },
    /// Read by serde_json's parser.
    Parsed(Vec<(Cow<'a, str>, Field<'a>)>),
}

/// Where a name or a string sits in the line: offsets, not a `&str`, to keep the
/// inline fields small (they are moved with the object; 16-byte slices made it 2.5
/// times larger and a quarter of the fold went to copying it).
#[derive(Clone, Copy)]
pub struct Span(u32, u32);

/// A value [`scan_flat`] read.
#[derive(Clone, Copy)]
pub enum Flat {
    Str(Span),
    Int(i64),
}

impl Span {
    fn len(self) -> usize {
        self.1.saturating_sub(self.0) as usize
    }

    fn bytes(self, line: &str) -> &[u8] {
        line.as_bytes()
            .get(self.0 as usize..self.1 as usize)
            .unwrap_or_default()
    }

    fn of(self, line: &str) -> &str {
        line.get(self.0 as usize..self.1 as usize)
            .unwrap_or_default()
    }
}

/// A top-level field's value from the parser: a string kept as text, or anything else
/// as a `Value`.
pub enum Field<'a> {
    Str(Cow<'a, str>),
    Other(Value),
}

/// A field found in either form.
enum Found<'t> {
    Str(&'t str),
    Int(i64),
    Value(&'t Value),
}

/// Fields of an event, from a parsed map or from the text: what rules read.
pub trait Fields {
    /// The value of field `name`.
    fn value(&self, name: &str) -> Option<Cow<'_, Value>>;
    /// Every field, in order, as a map (for rules that copy the whole payload).
    fn to_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        self.each(&mut |name, value| {
            map.insert(name.to_owned(), value.clone());
        });
        map
    }
    /// Calls `f` with every field, in order (a repeated key once, with its last value).
    fn each(&self, f: &mut dyn FnMut(&str, &Value));
    /// Field `name` when it holds an integer within `i64` (`Value::as_i64`): what the
    /// arithmetic rules and integer fields read, without building a `Value` where
    /// the fields are text.
    fn int(&self, name: &str) -> Option<i64> {
        self.value(name).and_then(|value| value.as_i64())
    }
}

impl Fields for Map<String, Value> {
    fn value(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.get(name).map(Cow::Borrowed)
    }

    fn to_map(&self) -> Map<String, Value> {
        self.clone()
    }

    fn each(&self, f: &mut dyn FnMut(&str, &Value)) {
        for (name, value) in self {
            f(name, value);
        }
    }
}

impl<'a> TextObject<'a> {
    /// The object in `text`, or `None` when the text is not exactly one JSON object
    /// (the general path then says why).
    pub fn parse(text: &'a [u8]) -> Option<TextObject<'a>> {
        if let Some(object) = scan_flat(text) {
            return Some(object);
        }
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        let object = TextObject::deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        // A number the general path refuses (beyond 64 bits) is left to it, so the
        // error row says the same either way.
        if let TextObject::Parsed(fields) = &object {
            let inexact = fields.iter().any(|(_, field)| {
                matches!(field, Field::Other(value) if crate::envelope::inexact_number(value).is_some())
            });
            if inexact {
                return None;
            }
        }
        Some(object)
    }

    fn field(&self, name: &str) -> Option<Found<'_>> {
        // The last of a repeated key wins, as in `Value`'s map.
        match self {
            TextObject::Flat { line, fields } => fields.iter().rev().find_map(|(key, field)| {
                // The name's bytes, not its `&str`: no char-boundary checks per field.
                (key.len() == name.len() && same(key.bytes(line), name.as_bytes())).then(|| {
                    match field {
                        Flat::Str(text) => Found::Str(text.of(line)),
                        Flat::Int(n) => Found::Int(*n),
                    }
                })
            }),
            TextObject::Parsed(fields) => fields.iter().rev().find_map(|(key, field)| {
                (key == name).then(|| match field {
                    Field::Str(text) => Found::Str(text),
                    Field::Other(value) => Found::Value(value),
                })
            }),
        }
    }

    /// Field `name` when it holds an integer within `i64`, as `Value::as_i64` reads
    /// it, without building a `Value`.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.field(name)? {
            Found::Int(n) => Some(n),
            Found::Value(value) => value.as_i64(),
            Found::Str(_) => None,
        }
    }

    /// Field `name` when it holds a string, borrowed when it can be.
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.field(name)? {
            Found::Str(text) => Some(text),
            Found::Int(_) | Found::Value(_) => None,
        }
    }
}

impl Fields for TextObject<'_> {
    fn int(&self, name: &str) -> Option<i64> {
        TextObject::int(self, name)
    }

    fn value(&self, name: &str) -> Option<Cow<'_, Value>> {
        Some(match self.field(name)? {
            Found::Str(text) => Cow::Owned(Value::String(text.to_owned())),
            Found::Int(n) => Cow::Owned(Value::from(n)),
            Found::Value(value) => Cow::Borrowed(value),
        })
    }

    fn each(&self, f: &mut dyn FnMut(&str, &Value)) {
        // Through a map, so a repeated key comes once, at its first place, with its
        // last value, as `Value`'s map orders it.
        let mut map = Map::new();
        match self {
            TextObject::Flat { line, fields } => {
                for (key, field) in fields {
                    let value = match field {
                        Flat::Str(text) => Value::String(text.of(line).to_owned()),
                        Flat::Int(n) => Value::from(*n),
                    };
                    map.insert(key.of(line).to_owned(), value);
                }
            }
            TextObject::Parsed(fields) => {
                for (key, field) in fields {
                    let value = match field {
                        Field::Str(text) => Value::String(text.to_string()),
                        Field::Other(value) => value.clone(),
                    };
                    map.insert(key.to_string(), value);
                }
            }
        }
        for (name, value) in &map {
            f(name, value);
        }
    }
}

/// `a == b` for the short names of an event's fields, byte by byte: the library's
/// comparison calls `memcmp`, which costs more than the whole of a five-letter name
/// (a sixth of a declarative fold, docs/perf.md).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The common case read by hand: a flat object of printable ASCII, keys and values
/// that are strings without escapes or integers within `i64`, with spaces between
/// tokens. Anything else, including every malformed text, gives `None` and is
/// read by serde_json's parser instead, so this decides nothing the parser would
/// decide differently; it only spares the common event the parser's generality. (A
/// million bank events: 0.11 s through the parser, docs/perf.md.)
fn scan_flat(bytes: &[u8]) -> Option<TextObject<'_>> {
    let mut fields = SmallVec::new();
    let line = scan_flat_each(bytes, |_, key, value| fields.push((key, value)))?;
    Some(TextObject::Flat { line, fields })
}

/// One field [`scan_flat_fields`] read, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlatField<'a> {
    Str(&'a str),
    Int(i64),
}

/// The fields of a flat event, handed to `on_field` in text order as [`scan_flat`]
/// reads them (the same events; `None` for anything else, and then perhaps after some
/// fields were handed over, which the caller drops). For a projection that knows the
/// fields it wants and so needs no list of them: the built-in bank reads its events
/// this way, a quarter fewer instructions a million events (docs/perf.md).
pub fn scan_flat_fields<'a>(
    bytes: &'a [u8],
    mut on_field: impl FnMut(&'a str, FlatField<'a>),
) -> Option<()> {
    scan_flat_each(bytes, |line, key, value| {
        let value = match value {
            Flat::Str(text) => FlatField::Str(text.of(line)),
            Flat::Int(n) => FlatField::Int(n),
        };
        on_field(key.of(line), value);
    })
    .map(|_| ())
}

/// The scan itself: each field to `on_field` with the line its spans index, the line
/// at the end when the whole text was one flat object.
fn scan_flat_each<'a>(
    bytes: &'a [u8],
    mut on_field: impl FnMut(&'a str, Span, Flat),
) -> Option<&'a str> {
    // One pass over the line, which the compiler vectorises: printable ASCII and no
    // backslash anywhere, so no string below has an escape or a control character and
    // a string ends at the next quote. (Tabs and line breaks between tokens, rare in
    // an event, go to the parser too.)
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & (0x20..0x7f).contains(&b) & (b != b'\\')
    });
    if !plain {
        return None;
    }
    // ASCII is UTF-8: this only turns the bytes into the `&str` the names borrow,
    // without checking them a second time (a tenth of a million-event fold).
    // SAFETY: every byte is in 0x20..0x7f (checked just above), and a string of
    // ASCII bytes is valid UTF-8.
    let line = unsafe { std::str::from_utf8_unchecked(bytes) };
    let text = line.as_bytes();
    u32::try_from(text.len()).ok()?;
    let mut at = 0;
    let skip_ws = |at: &mut usize| {
        while text.get(*at) == Some(&b' ') {
            *at += 1;
        }
    };
    // A string; `at` is on its opening quote.
    let string = |at: &mut usize| -> Option<Span> {
        let start = *at + 1;
        // Names and values of an event are short: a plain loop finds their end
        // sooner than memchr's vector setup does.
        let len = text.get(start..)?.iter().position(|&b| b == b'"')?;
        *at = start + len + 1;
        // The line's length fits in u32 (checked above).
        Some(Span(start as u32, (start + len) as u32))
    };
    skip_ws(&mut at);
    if text.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    skip_ws(&mut at);
    if text.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            skip_ws(&mut at);
            if text.get(at) != Some(&b'"') {
                return None;
            }
            let key = string(&mut at)?;
            skip_ws(&mut at);
            if text.get(at) != Some(&b':') {
                return None;
            }
            at += 1;
            skip_ws(&mut at);
            let field = match text.get(at)? {
                b'"' => Flat::Str(string(&mut at)?),
                b'-' | b'0'..=b'9' => {
                    let negative = text[at] == b'-';
                    if negative {
                        at += 1;
                    }
                    let digits = at;
                    // Accumulated negatively, so i64::MIN fits; beyond i64 the parser
                    // decides (a u64 or a float).
                    let mut number: i64 = 0;
                    while let Some(digit) = text.get(at).filter(|b| b.is_ascii_digit()) {
                        number = number
                            .checked_mul(10)?
                            .checked_sub(i64::from(digit - b'0'))?;
                        at += 1;
                    }
                    if at == digits
                        || (text[digits] == b'0' && at - digits > 1)
                        || matches!(text.get(at), Some(b'.' | b'e' | b'E'))
                    {
                        return None;
                    }
                    // serde_json reads `-0` as the float -0.0: left to it.
                    let number = match negative {
                        true if number == 0 => return None,
                        true => number,
                        false => number.checked_neg()?,
                    };
                    Flat::Int(number)
                }
                _ => return None,
            };
            on_field(line, key, field);
            skip_ws(&mut at);
            match text.get(at)? {
                b',' => at += 1,
                b'}' => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    skip_ws(&mut at);
    (at == text.len()).then_some(line)
}

impl<'de> Deserialize<'de> for TextObject<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = TextObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(Text(key)) = map.next_key()? {
                    let field = map.next_value_seed(FieldSeed)?;
                    fields.push((key, field));
                }
                Ok(TextObject::Parsed(fields))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// A string, borrowed from the text when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Reads one top-level value: strings as text, everything else through `Value`'s own
/// visitor (numbers, `true`, `null`; objects and arrays via serde's access adapters),
/// so each is the very `Value` the general parse would build.
struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // As `Value` does: a float that is not finite has no JSON form.
        Ok(Field::Other(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Null))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Field::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Field::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The text object answers every field as the parsed `Value` does.
    fn check(text: &str) {
        let value: Value = text.parse().expect("test texts are JSON objects");
        let map = value.as_object().expect("an object");
        let object = TextObject::parse(text.as_bytes()).expect("it parses");
        for name in map.keys().map(String::as_str).chain(["missing"]) {
            assert_eq!(
                object.value(name).map(Cow::into_owned),
                map.get(name).cloned(),
                "{text}: field {name}"
            );
        }
        assert_eq!(&object.to_map(), map, "{text}");
    }

    #[test]
    fn reads_fields_as_the_value_would() {
        check(r#"{"type":"deposit","amount":100}"#);
        check(r#"{"type":"dep\u006fsit","amount":-5,"f":1.5,"big":18446744073709551615}"#);
        check(r#"{"a":{"b":[1,"x",null,true]},"c":[],"d":null,"e":false}"#);
        check(r#"{"a":1,"a":"twice"}"#);
        check(r#"{}"#);
    }

    #[test]
    fn the_hand_scan_reads_what_it_takes_as_the_parser_does() {
        for text in [
            r#"{"type":"deposit","amount":100}"#,
            r#" { "type" : "withdrawal" , "amount" : -7 , "n" : 0 } "#,
            "{\"a\":\"x y\", \"b\":9223372036854775807}",
            r#"{}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"min":-9223372036854775808,"z":0}"#,
        ] {
            assert!(
                scan_flat(text.as_bytes()).is_some(),
                "{text} is scanned by hand"
            );
            check(text);
        }
        // Left to the parser: escapes, non-ASCII, fractions, exponents, big numbers,
        // leading zeros, nesting, literals, and anything malformed.
        for text in [
            r#"{"a":"\u0041"}"#,
            r#"{"a":"é"}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":9223372036854775808}"#,
            r#"{"a":-9223372036854775809}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":-"#,
            r#"{"a":{}}"#,
            r#"{"a":true}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            "{\"a\":\"tab\there\"}",
            "{\"a\":1,\r\n\t\"b\":2}",
        ] {
            assert!(
                scan_flat(text.as_bytes()).is_none(),
                "{text} goes to the parser"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        for text in ["[1]", "\"s\"", "{\"a\":1} x", "{\"a\":}", "", "{\"a\":1}{}"] {
            assert!(TextObject::parse(text.as_bytes()).is_none(), "{text:?}");
        }
        let object = TextObject::parse(br#"{"t":"x","n":1}"#).unwrap();
        assert_eq!(object.str("t"), Some("x"));
        assert_eq!(object.str("n"), None);
        assert_eq!(json!(object.to_map()), json!({"t": "x", "n": 1}));
    }
}
