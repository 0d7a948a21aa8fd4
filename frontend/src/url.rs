//! The lesson, the step, an edited log and a projection other than the lesson's in
//! the address bar (`#scenario=orders&step=4`, `…&log=3.0.{'type'…`, `…&proj=bank`,
//! `…&spec={'name'…`), so a teacher can send the exact log, folded the same way, at
//! the exact step, and a test can open it directly. Older links (`?scenario=orders`)
//! still open their lesson. What the log and projection parts say is core's
//! ([`eventfold_core::share`]); this module reads and writes the address.

use std::rc::Rc;

use eventfold_core::keep::Session;
use eventfold_core::lesson::Link;
use eventfold_core::scenario;
use eventfold_core::share::{self, LinkError, LinkLog, LinkProjection, Picked};
use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use wasm_bindgen::JsValue;
use yew::prelude::*;

use crate::state::{Action, CUSTOM, Sim};

/// What the address names.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    /// One of `scenario::IDS`: the first when the address names none we know.
    pub id: &'static str,
    pub step: Option<u64>,
    /// The log the address holds, when it holds one: read back, or why not.
    pub log: Option<Result<String, LinkError>>,
    /// The projection the address asks for, when it asks: read back, or why not.
    pub projection: Option<Result<Picked, LinkError>>,
}

impl Address {
    /// What could not be read of the link, for the note on the page.
    pub fn unreadable(&self) -> Option<String> {
        let log = self
            .log
            .as_ref()
            .and_then(|log| log.as_ref().err())
            .map(|why| {
                format!("The link's log could not be read ({why}); this is the lesson's own log.")
            });
        let projection = self
            .projection
            .as_ref()
            .and_then(|projection| projection.as_ref().err())
            .map(|why| {
                format!(
                    "The link's projection could not be read ({why}); this is the lesson's own projection."
                )
            });
        match (log, projection) {
            (Some(log), Some(projection)) => Some(format!("{log} {projection}")),
            (log, projection) => log.or(projection),
        }
    }

    /// The actions that put a fresh lesson in the state the link describes: its log,
    /// then its projection (a part that could not be read is left as the lesson's).
    fn shared(&self) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Some(Ok(text)) = &self.log {
            actions.push(Action::EditEvents(text.clone()));
        }
        match &self.projection {
            Some(Ok(Picked::Named(name))) => actions.push(Action::PickProjection(name.clone())),
            Some(Ok(Picked::Spec(text))) => actions.push(Action::EditProjection(text.clone())),
            _ => {}
        }
        actions
    }
}

/// What the address carries beyond the lesson and the step.
#[derive(Debug, Clone, PartialEq)]
pub struct Carried {
    pub log: LinkLog,
    pub projection: LinkProjection,
}

/// How the address carries `sim`'s log and projection.
pub fn carried(sim: &Sim) -> Carried {
    let id = sim.lesson;
    Carried {
        log: share::link_log(
            &share::lesson_text(id).unwrap_or_default(),
            &sim.events_text,
        ),
        projection: share::link_projection(
            id,
            &sim.projection_name,
            (sim.projection_name == CUSTOM).then_some(sim.projection_text.as_str()),
        ),
    }
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
        projection: share::picked(id, &hash),
    }
}

/// The simulator the page opens with: the address's log and projection at its step
/// when it holds either (a shared link wins over what this browser kept; a part that
/// cannot be read is the lesson's own), else the kept session.
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
    if address.log.is_none() && address.projection.is_none() {
        return Sim::resume(address.id, address.step, saved);
    }
    let actions = address.shared();
    if actions.is_empty() {
        // Nothing could be read: the note on the page says this is the lesson as it is.
        return Sim::open(address.id, address.step);
    }
    let mut sim = Rc::new(Sim::open(address.id, None));
    for action in actions {
        sim = sim.reduce(action);
    }
    Rc::unwrap_or_clone(sim.reduce(Action::Seek(address.step.unwrap_or(1))))
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
/// shared log or projection, opens afresh; a step of the open lesson is only a
/// seek, so its edits survive.
pub fn follow(address: Address) -> Vec<Action> {
    let shared = address.shared();
    if shared.is_empty() {
        return vec![Action::Follow(address.id, address.step)];
    }
    let mut actions = vec![Action::Open(address.id, None)];
    actions.extend(shared);
    actions.push(Action::Seek(address.step.unwrap_or(1)));
    actions
}

/// Puts the lesson, step, log and projection in the address bar.
pub fn show(id: &str, step: u64, carried: &Carried) {
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
    let url = format!(
        "{path}{}",
        share::hash(id, step, &carried.log, &carried.projection)
    );
    let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
}

/// How long stepping must pause before the address and the stored step are written.
/// `history.replaceState` costs about 2.5 ms and the stored step 0.5 ms in Chromium,
/// a fifth of a 16 ms frame; while scrubbing they would be paid on every frame for
/// an address nobody reads until the scrubber stops.
pub const SETTLE_MS: u32 = 250;

/// Keeps the address ([`show`]) and the stored step ([`crate::keep::save_step`])
/// naming lesson `id` at `step` with `log` (its log and projection). Another lesson,
/// log or projection is written at once; a step alone once stepping has paused for [`SETTLE_MS`], and at once
/// when the page is hidden or left (`visibilitychange`, `pagehide`), so a reload
/// still resumes at the step shown and a link copied still names it.
#[hook]
pub fn use_address(id: &'static str, step: u64, log: Rc<Carried>) {
    // What the address should say and does not yet, shared with the listeners.
    let pending = use_mut_ref(|| None::<(&'static str, u64, Rc<Carried>)>);
    // The lesson, log and projection the address last named: a change is written at once.
    let written = use_mut_ref(|| None::<(&'static str, Rc<Carried>)>);
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
