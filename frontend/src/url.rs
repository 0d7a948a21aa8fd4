//! The lesson and step in the address bar (`#scenario=orders&step=4`), so a teacher
//! can send the exact step and a test can open it directly. Older links
//! (`?scenario=orders`) still open their lesson.

use eventfold_core::lesson::Link;
use eventfold_core::scenario;
use wasm_bindgen::JsValue;

/// The lesson (one of `scenario::IDS`, the first when the address names none we
/// know) and step the address names.
pub fn read() -> (&'static str, Option<u64>) {
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
    (id, link.step)
}

/// Puts the lesson and step in the address bar.
pub fn show(id: &str, step: u64) {
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
    let url = format!("{path}{}", Link::hash(id, step));
    let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
}
