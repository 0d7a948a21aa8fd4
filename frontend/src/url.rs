//! The lesson, the step and an edited log in the address bar
//! (`#scenario=orders&step=4`, `…&log=3.0.eyJ0…`), so a teacher can send the exact
//! log at the exact step and a test can open it directly. Older links
//! (`?scenario=orders`) still open their lesson. What the log part says is core's
//! ([`eventfold_core::share`]); this module reads and writes the address.

use std::rc::Rc;

use eventfold_core::keep::Session;
use eventfold_core::lesson::Link;
use eventfold_core::scenario;
use eventfold_core::share::{self, LinkError, LinkLog};
use wasm_bindgen::JsValue;
use yew::Reducible;

use crate::state::{Action, Sim};

/// What the address names.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    /// One of `scenario::IDS`: the first when the address names none we know.
    pub id: &'static str,
    pub step: Option<u64>,
    /// The log the address holds, when it holds one: read back, or why not.
    pub log: Option<Result<String, LinkError>>,
}

/// Reads the address bar.
pub fn read() -> Address {
    let location = web_sys::window().map(|window| window.location());
    let hash = location
        .as_ref()
        .and_then(|l| l.hash().ok())
        .unwrap_or_default();
    let mut link = Link::parse(&hash);
    if link.scenario.is_none() {
        let search = location.and_then(|l| l.search().ok()).unwrap_or_default();
        link.scenario = Link::parse(&search).scenario;
    }
    let id = link
        .scenario
        .and_then(|wanted| scenario::IDS.iter().copied().find(|id| *id == wanted))
        .unwrap_or(scenario::IDS[0]);
    let log = share::log_value(&hash)
        .map(|value| share::apply(&share::lesson_text(id).unwrap_or_default(), value));
    Address {
        id,
        step: link.step,
        log,
    }
}

/// The simulator the page opens with: the address's log at its step when it holds
/// one (a shared link wins over what this browser kept), the lesson's own log when
/// that log cannot be read, else the kept session.
pub fn open(address: &Address, saved: Option<Session>) -> Sim {
    match &address.log {
        Some(Ok(text)) => Rc::unwrap_or_clone(
            Rc::new(Sim::open(address.id, None))
                .reduce(Action::EditEvents(text.clone()))
                .reduce(Action::Seek(address.step.unwrap_or(1))),
        ),
        // The note on the page says this is the lesson's own log, so it is.
        Some(Err(_)) => Sim::open(address.id, address.step),
        None => Sim::resume(address.id, address.step, saved),
    }
}

/// The actions that show a link followed in the same tab: another lesson, or a
/// shared log, opens afresh; a step of the open lesson is only a seek, so its
/// edits survive.
pub fn follow(address: Address) -> Vec<Action> {
    match address.log {
        Some(Ok(text)) => vec![
            Action::Open(address.id, None),
            Action::EditEvents(text),
            Action::Seek(address.step.unwrap_or(1)),
        ],
        _ => vec![Action::Follow(address.id, address.step)],
    }
}

/// How the address carries the log typed over lesson `id`'s own.
pub fn link_log(id: &str, text: &str) -> LinkLog {
    share::link_log(&share::lesson_text(id).unwrap_or_default(), text)
}

/// Puts the lesson, step and log in the address bar.
pub fn show(id: &str, step: u64, log: &LinkLog) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(history) = window.history() else {
        return;
    };
    // Replace rather than push: every step would otherwise be a page the Back button
    // walks through. The path is kept and the old `?scenario=` query dropped, so the
    // hash is the one place the lesson is named. A refusal (say, on a file:// page)
    // only costs the link, never the replay, so it is ignored.
    let path = window.location().pathname().unwrap_or_default();
    let url = format!("{path}{}", share::hash(id, step, log));
    let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
}
