//! A link that reproduces an edited log:
//! `#scenario=bank&step=21&log=3.0.{'type':'deposit','amount':50}%0A`.
//!
//! A teacher edits a lesson's log (or issues a command) and sends the address; whoever
//! opens it sees the same log at the same step. The address holds the log as an edit
//! of the lesson's own log, line by line: how many of the lesson's lines stay at the
//! start, how many at the end, and the text that replaces the lines between them
//! (`log=START.END.TEXT`). TEXT stays readable: JSON's own punctuation is kept, each
//! `"` is written `'` (a browser would otherwise turn it into `%22`) and everything
//! else percent-encoded, a literal `'` included, so the address holds no `&`, `#` or
//! space of its own. A command appended to a lesson costs a few dozen characters,
//! fewer than base64 would take, and an unedited lesson keeps its short address,
//! `#scenario=bank&step=5`.
//!
//! A log whose edit would not fit in [`MAX_LOG_CHARS`] is not put in the address at
//! all ([`LinkLog::TooBig`]): the page says so rather than hand out a link that opens
//! something else, or that a mail client or chat cuts short.
//!
//! The projection travels too when it is not the lesson's own ([`LinkProjection`]):
//! `proj=NAME` for a built-in, or `spec=TEXT` for a declarative spec typed in the
//! editor, TEXT written as the log's is and held to the same [`MAX_LOG_CHARS`].

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::lesson::{self, Link};
use crate::{builtin, scenario};

/// The longest `log=` value an address gets, in characters. Browsers take far longer
/// addresses, but links pasted into mail, chats and slides are often cut near a few
/// thousand characters, and a cut link would open a different log.
pub const MAX_LOG_CHARS: usize = 4000;

/// The key of the log in the address.
const LOG_KEY: &str = "log";
/// The key of a built-in projection's name in the address.
const PROJECTION_KEY: &str = "proj";
/// The key of a declarative spec's text in the address.
const SPEC_KEY: &str = "spec";

/// What TEXT keeps as it is: letters, digits, `-._~` and JSON's `{}[]:,`.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'{')
    .remove(b'}')
    .remove(b'[')
    .remove(b']')
    .remove(b':')
    .remove(b',');

/// TEXT for `text`: percent-encoded outside [`ESCAPED`]'s kept characters, then each
/// `"` (now `%22`, as a literal `%` is `%25`) written `'`.
fn encode(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED)
        .to_string()
        .replace("%22", "'")
}

/// The text TEXT stands for.
fn decode(text: &str) -> Result<String, LinkError> {
    percent_decode_str(&text.replace('\'', "%22"))
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| LinkError::NotUtf8)
}

/// What the address says about the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkLog {
    /// The log is the lesson's own: the address names the lesson and step only.
    Unedited,
    /// The `log=` value reproducing the edited log.
    Edited(String),
    /// The edit would take `chars` characters, over [`MAX_LOG_CHARS`]; the address
    /// names the lesson and step only.
    TooBig { chars: usize },
}

/// What the address says about the projection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LinkProjection {
    /// The lesson's own: the address says nothing.
    #[default]
    Lesson,
    /// Another projection the page offers by name: `proj=NAME`.
    Named(String),
    /// The `spec=` value of a declarative spec typed in the editor.
    Spec(String),
    /// The spec would take `chars` characters, over [`MAX_LOG_CHARS`]; the address
    /// leaves the projection out.
    TooBig { chars: usize },
}

/// The projection a link asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picked {
    /// A built-in's (or the lesson's own projection's) name.
    Named(String),
    /// A declarative spec's text.
    Spec(String),
}

/// Why a link's log or projection could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("expected log=START.END.TEXT")]
    Malformed,
    #[error("its text is not UTF-8")]
    NotUtf8,
    #[error("it keeps {kept} lines of a lesson log that has {lines}")]
    DoesNotFit { kept: usize, lines: usize },
    #[error("no projection is called {0}")]
    UnknownProjection(String),
}

/// The lesson's own log as the event editor shows it, or `None` for an unknown lesson.
pub fn lesson_text(scenario_id: &str) -> Option<String> {
    scenario::by_id(scenario_id).map(|lesson| lesson::ndjson_text(&lesson.events))
}

/// The lines of `text`, each with its newline, so joining them gives `text` back.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// How the address carries `edited`, a log typed over the lesson log `original`.
pub fn link_log(original: &str, edited: &str) -> LinkLog {
    if original == edited {
        return LinkLog::Unedited;
    }
    // Whatever the lines kept, the text between them is at least this long (and
    // its encoding no shorter): a log far bigger than its lesson is judged without
    // comparing it line by line.
    let least = edited.len().saturating_sub(original.len());
    if least > MAX_LOG_CHARS {
        return LinkLog::TooBig { chars: least };
    }
    let (old, new) = (lines(original), lines(edited));
    let start = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let end = old[start..]
        .iter()
        .rev()
        .zip(new[start..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let middle: String = new[start..new.len() - end].concat();
    let value = format!("{start}.{end}.{}", encode(&middle));
    if value.len() > MAX_LOG_CHARS {
        LinkLog::TooBig { chars: value.len() }
    } else {
        LinkLog::Edited(value)
    }
}

/// The log a `log=` value makes of the lesson log `original`.
pub fn apply(original: &str, value: &str) -> Result<String, LinkError> {
    let mut parts = value.splitn(3, '.');
    let (Some(start), Some(end), Some(text)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(LinkError::Malformed);
    };
    let (Ok(start), Ok(end)) = (start.parse::<usize>(), end.parse::<usize>()) else {
        return Err(LinkError::Malformed);
    };
    let middle = decode(text)?;
    let old = lines(original);
    if start.saturating_add(end) > old.len() {
        return Err(LinkError::DoesNotFit {
            kept: start.saturating_add(end),
            lines: old.len(),
        });
    }
    let (head, tail) = (old[..start].concat(), old[old.len() - end..].concat());
    Ok(format!("{head}{middle}{tail}"))
}

/// How the address carries the projection `name` folding lesson `scenario_id`'s log;
/// `spec` is the editor's text when the projection is a declarative spec typed there.
pub fn link_projection(scenario_id: &str, name: &str, spec: Option<&str>) -> LinkProjection {
    if let Some(spec) = spec {
        let value = encode(spec);
        return if value.len() > MAX_LOG_CHARS {
            LinkProjection::TooBig { chars: value.len() }
        } else {
            LinkProjection::Spec(value)
        };
    }
    let own = scenario::by_id(scenario_id).map(|lesson| lesson.projection.name().to_owned());
    if own.as_deref() == Some(name) {
        LinkProjection::Lesson
    } else {
        LinkProjection::Named(name.to_owned())
    }
}

/// The projection an address asks lesson `scenario_id` to be folded with, if it asks
/// for one: a name the page offers (a built-in or the lesson's own), or a spec's text.
pub fn picked(scenario_id: &str, hash: &str) -> Option<Result<Picked, LinkError>> {
    if let Some(text) = value(hash, SPEC_KEY) {
        return Some(decode(text).map(Picked::Spec));
    }
    let name = decode(value(hash, PROJECTION_KEY)?);
    Some(name.and_then(|name| {
        let own = scenario::by_id(scenario_id).map(|lesson| lesson.projection.name().to_owned());
        if builtin::by_name(&name).is_some() || own.as_deref() == Some(name.as_str()) {
            Ok(Picked::Named(name))
        } else {
            Err(LinkError::UnknownProjection(name))
        }
    }))
}

/// The address of a lesson at a step, with its log when edited and its projection
/// when not the lesson's own, each when small enough.
pub fn hash(scenario_id: &str, step: u64, log: &LinkLog, projection: &LinkProjection) -> String {
    let mut hash = Link::hash(scenario_id, step);
    if let LinkLog::Edited(value) = log {
        hash.push_str(&format!("&{LOG_KEY}={value}"));
    }
    match projection {
        LinkProjection::Named(name) => {
            hash.push_str(&format!("&{PROJECTION_KEY}={}", encode(name)));
        }
        LinkProjection::Spec(value) => hash.push_str(&format!("&{SPEC_KEY}={value}")),
        LinkProjection::Lesson | LinkProjection::TooBig { .. } => {}
    }
    hash
}

/// The `log=` value of an address (a hash such as `#scenario=bank&log=…`), if any.
pub fn log_value(hash: &str) -> Option<&str> {
    value(hash, LOG_KEY)
}

/// The value of `key` in an address, if it has a non-empty one.
fn value<'h>(hash: &'h str, key: &str) -> Option<&'h str> {
    hash.trim_start_matches(['#', '?'])
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BANK: &str = "{\"type\":\"deposit\",\"amount\":100}\n\
                        {\"type\":\"withdrawal\",\"amount\":40}\n\
                        {\"type\":\"deposit\",\"amount\":60}\n";

    /// `edited` goes into an address and comes back out of it unchanged.
    fn check_round_trip(edited: &str, expected_value: Option<&str>) {
        let log = link_log(BANK, edited);
        let hash = hash("bank", 5, &log, &LinkProjection::Lesson);
        match &log {
            LinkLog::Edited(value) => {
                if let Some(expected) = expected_value {
                    assert_eq!(value, expected, "{edited:?}");
                }
                assert_eq!(log_value(&hash), Some(value.as_str()));
                assert_eq!(apply(BANK, value).as_deref(), Ok(edited), "{hash}");
                // The lesson and step still read as before.
                let link = Link::parse(&hash);
                assert_eq!(
                    (link.scenario.as_deref(), link.step),
                    (Some("bank"), Some(5))
                );
            }
            other => panic!("{edited:?} gave {other:?}"),
        }
    }

    #[test]
    fn an_unedited_lesson_keeps_its_short_address() {
        assert_eq!(link_log(BANK, BANK), LinkLog::Unedited);
        assert_eq!(
            hash("bank", 5, &LinkLog::Unedited, &LinkProjection::Lesson),
            "#scenario=bank&step=5"
        );
        assert_eq!(log_value("#scenario=bank&step=5"), None);
    }

    #[test]
    fn edits_round_trip_through_the_address() {
        // A command appended: all three lines kept at the start.
        check_round_trip(
            &format!("{BANK}{{\"type\":\"deposit\",\"amount\":50}}\n"),
            Some("3.0.{'type':'deposit','amount':50}%0A"),
        );
        // A line deleted: nothing between the kept lines.
        check_round_trip(
            "{\"type\":\"deposit\",\"amount\":100}\n{\"type\":\"deposit\",\"amount\":60}\n",
            Some("1.1."),
        );
        // A line changed in the middle, a line inserted at the start.
        check_round_trip(
            &BANK.replace("40", "400"),
            Some("1.1.{'type':'withdrawal','amount':400}%0A"),
        );
        check_round_trip(
            &format!("{{\"type\":\"deposit\",\"amount\":1}}\n{BANK}"),
            None,
        );
        // Everything gone, a missing last newline, text that is not JSON, non-ASCII.
        check_round_trip("", Some("0.0."));
        check_round_trip(BANK.trim_end(), None);
        check_round_trip(&format!("{BANK}not json ü €\n"), None);
        // Everything the address gives a meaning to, inside the text.
        check_round_trip(
            &format!("{BANK}{{\"note\":\"it's 100% & #1 = 'top' %22\"}}\n"),
            Some("3.0.{'note':'it%27s%20100%25%20%26%20%231%20%3D%20%27top%27%20%2522'}%0A"),
        );
    }

    #[test]
    fn a_blank_lesson_takes_the_whole_log() {
        let edited = "{\"type\":\"deposit\",\"amount\":50}\n";
        let LinkLog::Edited(value) = link_log("", edited) else {
            panic!("an edit of the blank log fits");
        };
        assert_eq!(apply("", &value).as_deref(), Ok(edited));
    }

    #[test]
    fn a_log_too_big_for_a_link_is_left_out() {
        let big: String = (0..200)
            .map(|n| format!("{{\"type\":\"deposit\",\"amount\":{n}}}\n"))
            .collect();
        let log = link_log(BANK, &big);
        let LinkLog::TooBig { chars } = log else {
            panic!("a 6 KB log is too big: {log:?}");
        };
        assert!(chars > MAX_LOG_CHARS, "{chars}");
        assert_eq!(
            hash("bank", 5, &log, &LinkProjection::Lesson),
            "#scenario=bank&step=5"
        );
    }

    fn check_error(value: &str, expected: &str) {
        assert_eq!(
            apply(BANK, value).map_err(|e| e.to_string()),
            Err(expected.to_owned()),
            "{value}"
        );
    }

    #[test]
    fn a_mangled_link_says_why() {
        check_error("3.0", "expected log=START.END.TEXT");
        check_error("x.0.", "expected log=START.END.TEXT");
        check_error("3.0.%FF", "its text is not UTF-8");
        check_error("3.1.", "it keeps 4 lines of a lesson log that has 3");
    }

    /// The projection `name` (with `spec` when typed) goes into lesson `id`'s address
    /// as `expected` and comes back out as `back`.
    fn check_projection(
        id: &str,
        name: &str,
        spec: Option<&str>,
        expected: &str,
        back: Option<Picked>,
    ) {
        let projection = link_projection(id, name, spec);
        let hash = hash(id, 4, &LinkLog::Unedited, &projection);
        assert_eq!(hash, expected, "{name} {spec:?}");
        assert_eq!(picked(id, &hash), back.map(Ok), "{hash}");
        let link = Link::parse(&hash);
        assert_eq!((link.scenario.as_deref(), link.step), (Some(id), Some(4)));
    }

    #[test]
    fn the_projection_travels_when_it_is_not_the_lessons_own() {
        check_projection("bank", "bank", None, "#scenario=bank&step=4", None);
        check_projection(
            "orders",
            "bank",
            None,
            "#scenario=orders&step=4&proj=bank",
            Some(Picked::Named("bank".into())),
        );
        // A lesson's own projection that is not a built-in is named as the page names it.
        let own = scenario::by_id("snapshots")
            .unwrap()
            .projection
            .name()
            .to_owned();
        check_projection("snapshots", &own, None, "#scenario=snapshots&step=4", None);
        let spec =
            "{\"name\": \"n\", \"events\": {\"*\": [{\"op\": \"inc\", \"field\": \"count\"}]}}";
        check_projection(
            "bank",
            "custom",
            Some(spec),
            "#scenario=bank&step=4&spec={'name':%20'n',%20'events':%20{'%2A':%20[{'op':%20'inc',%20'field':%20'count'}]}}",
            Some(Picked::Spec(spec.into())),
        );
        // With an edited log too, both come back.
        let projection = link_projection("bank", "orders", None);
        let hash = hash("bank", 2, &LinkLog::Edited("3.0.".into()), &projection);
        assert_eq!(hash, "#scenario=bank&step=2&log=3.0.&proj=orders");
        assert_eq!(log_value(&hash), Some("3.0."));
        assert_eq!(
            picked("bank", &hash),
            Some(Ok(Picked::Named("orders".into())))
        );
    }

    #[test]
    fn a_projection_too_big_or_unknown_is_left_out_and_named() {
        let spec = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX_LOG_CHARS));
        let projection = link_projection("bank", "custom", Some(&spec));
        assert!(
            matches!(projection, LinkProjection::TooBig { chars } if chars > MAX_LOG_CHARS),
            "{projection:?}"
        );
        assert_eq!(
            hash("bank", 5, &LinkLog::Unedited, &projection),
            "#scenario=bank&step=5"
        );
        let unknown =
            picked("bank", "#scenario=bank&proj=ledger").map(|p| p.map_err(|e| e.to_string()));
        assert_eq!(
            unknown,
            Some(Err("no projection is called ledger".to_owned()))
        );
        let mangled =
            picked("bank", "#scenario=bank&spec=%FF").map(|p| p.map_err(|e| e.to_string()));
        assert_eq!(mangled, Some(Err("its text is not UTF-8".to_owned())));
        assert_eq!(picked("bank", "#scenario=bank&step=5"), None);
    }

    #[test]
    fn every_lesson_has_its_text() {
        for id in scenario::IDS {
            assert!(lesson_text(id).is_some(), "{id}");
        }
        assert_eq!(lesson_text("nope"), None);
    }
}
