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
use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use wasm_bindgen::JsValue;
use yew::prelude::*;

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
    // A reload shows the step this tab was on: the address may not say it yet (it is
    // written once stepping pauses, and a reload's address is taken before the page
    // can write it on leaving), the stored step always does.
    let reloaded_step = saved
        .as_ref()
        .filter(|saved| reloaded() && saved.lesson == address.id)
        .map(|saved| saved.step);
    let address = &Address {
        step: reloaded_step.or(address.step),
        ..address.clone()
    };
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

/// True when this page was loaded by a reload (the Navigation Timing entry's type).
fn reloaded() -> bool {
    let Some(performance) = web_sys::window().and_then(|w| w.performance()) else {
        return false;
    };
    let entry = performance.get_entries_by_type("navigation").get(0);
    js_sys::Reflect::get(&entry, &JsValue::from_str("type"))
        .ok()
        .and_then(|kind| kind.as_string())
        .is_some_and(|kind| kind == "reload")
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

/// How long stepping must pause before the address and the stored step are written.
/// `history.replaceState` costs about 2.5 ms and the stored step 0.5 ms in Chromium,
/// a fifth of a 16 ms frame; while scrubbing they would be paid on every frame for
/// an address nobody reads until the scrubber stops.
pub const SETTLE_MS: u32 = 250;

/// Keeps the address ([`show`]) and the stored step ([`crate::keep::save_step`])
/// naming lesson `id` at `step` with `log`. Another lesson or another log is written
/// at once; a step alone once stepping has paused for [`SETTLE_MS`], and at once
/// when the page is hidden or left (`visibilitychange`, `pagehide`), so a reload
/// still resumes at the step shown and a link copied still names it.
#[hook]
pub fn use_address(id: &'static str, step: u64, log: Rc<LinkLog>) {
    // What the address should say and does not yet, shared with the listeners.
    let pending = use_mut_ref(|| None::<(&'static str, u64, Rc<LinkLog>)>);
    // The lesson and log the address last named: a change of either is written at once.
    let written = use_mut_ref(|| None::<(&'static str, Rc<LinkLog>)>);
    let flush = {
        let pending = pending.clone();
        move || {
            if let Some((id, step, log)) = pending.borrow_mut().take() {
                show(id, step, &log);
                crate::keep::save_step(step);
            }
        }
    };
    use_effect_with((), {
        let flush = Rc::new(flush.clone());
        move |_| {
            let listeners = web_sys::window().map(|window| {
                let on_hide = {
                    let flush = flush.clone();
                    EventListener::new(&window, "pagehide", move |_| flush())
                };
                let on_hidden = window.document().map(|document| {
                    EventListener::new(&document, "visibilitychange", move |_| flush())
                });
                (on_hide, on_hidden)
            });
            move || drop(listeners)
        }
    });
    use_effect_with((id, step, log), move |(id, step, log)| {
        *pending.borrow_mut() = Some((id, *step, log.clone()));
        let same = written
            .borrow()
            .as_ref()
            .is_some_and(|(was, was_log)| was == id && was_log == log);
        let timeout = if same {
            Some(Timeout::new(SETTLE_MS, flush))
        } else {
            *written.borrow_mut() = Some((id, log.clone()));
            flush();
            None
        };
        // A newer step cancels this one's write (it replaced what is pending).
        move || drop(timeout)
    });
}
