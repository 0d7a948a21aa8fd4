//! The scenario in the address bar (`?scenario=orders`), so a replay can be linked to
//! and a test can open any scenario directly.

use eventfold_core::scenario;
use wasm_bindgen::JsValue;
use web_sys::UrlSearchParams;

/// The scenario the address names, or the first lesson when it names none we know.
pub fn scenario() -> &'static str {
    let search = web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default();
    let wanted = UrlSearchParams::new_with_str(&search)
        .ok()
        .and_then(|params| params.get("scenario"));
    wanted
        .and_then(|wanted| scenario::IDS.iter().copied().find(|id| *id == wanted))
        .unwrap_or(scenario::IDS[0])
}

/// Puts `id` in the address bar.
pub fn show_scenario(id: &str) {
    let Some(history) = web_sys::window().and_then(|window| window.history().ok()) else {
        return;
    };
    // Replace rather than push: picking another scenario is not a navigation the
    // Back button should undo. A refusal (say, on a file:// page) only costs the
    // link, never the replay, so it is ignored.
    let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("?scenario={id}")));
}
