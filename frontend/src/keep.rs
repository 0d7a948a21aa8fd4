//! The browser side of keeping a session: web storage, downloads and file reads.
//! What is kept is decided and written by core ([`eventfold_core::keep`]); this
//! module only moves its text in and out of the browser.

use eventfold_core::keep::Session;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, File, HtmlAnchorElement, Url};
use yew::prelude::*;

/// The localStorage entry holding the session.
const SESSION_KEY: &str = "eventfold:session";
/// The step, stored on its own: stepping writes a number, not the whole log again.
const STEP_KEY: &str = "eventfold:step";

/// Logs longer than this (in bytes of NDJSON) are not kept: localStorage holds about
/// five million characters per site, and the session's JSON escapes every quote.
/// The page says so next to the log (see [`kept`]).
pub const KEEP_MAX_BYTES: usize = 2_000_000;

/// True when a log of `bytes` bytes is kept across reloads.
pub fn kept(bytes: usize) -> bool {
    bytes <= KEEP_MAX_BYTES
}

/// Where the session is kept: this tab's sessionStorage, which a reload keeps and
/// another tab does not see, then localStorage, which outlives the tab. Each is
/// written; a reload reads this tab's own first, so two tabs on one lesson each
/// come back to their own step and edits, and a new tab opens the last one written.
fn storages() -> impl Iterator<Item = web_sys::Storage> {
    let window = web_sys::window();
    let tab = window
        .as_ref()
        .and_then(|w| w.session_storage().ok().flatten());
    let site = window.and_then(|w| w.local_storage().ok().flatten());
    tab.into_iter().chain(site)
}

/// The session stored by this tab's last visit, or else the site's last, at its
/// last step.
pub fn load() -> Option<Session> {
    storages().find_map(|storage| {
        let mut session = Session::from_json(&storage.get_item(SESSION_KEY).ok()??)?;
        if let Some(step) = storage
            .get_item(STEP_KEY)
            .ok()
            .flatten()
            .and_then(|s| s.parse().ok())
        {
            session.step = step;
        }
        Some(session)
    })
}

/// Stores the session. A log over [`KEEP_MAX_BYTES`], or one the browser refuses
/// (private mode, over the quota), is not kept: the stored session is removed
/// rather than left behind, so a reload opens the lesson afresh instead of an older
/// edit, and the page has said the log is not kept.
pub fn save(session: &Session) {
    let json = kept(session.events.len()).then(|| session.to_json());
    for storage in storages() {
        let stored = json
            .as_ref()
            .is_some_and(|json| storage.set_item(SESSION_KEY, json).is_ok());
        if !stored {
            let _ = storage.remove_item(SESSION_KEY);
        }
    }
}

/// While an import is under way (`progress` is `Some`), sends `more` once after
/// each change of progress, from a fresh task: the browser paints the progress
/// between two slices of the fold.
#[hook]
pub fn use_import(progress: Option<(usize, usize)>, more: Callback<()>) {
    use_effect_with(progress, move |progress| {
        let window = web_sys::window();
        let closure = Closure::<dyn FnMut()>::new(move || more.emit(()));
        let handle = match (progress, &window) {
            (Some(_), Some(window)) => window
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    closure.as_ref().unchecked_ref(),
                    0,
                )
                .ok(),
            _ => None,
        };
        move || {
            if let (Some(window), Some(handle)) = (window, handle) {
                window.clear_timeout_with_handle(handle);
            }
            drop(closure);
        }
    });
}

/// Stores the step alone, cheap whatever the log's size; written once stepping
/// pauses ([`crate::url::use_address`]).
pub fn save_step(step: u64) {
    for storage in storages() {
        let _ = storage.set_item(STEP_KEY, &step.to_string());
    }
}

/// Offers `text` as a file download named `name`, through a Blob URL, so nothing
/// leaves the browser.
pub fn download(name: &str, mime: &str, text: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let parts = js_sys_array(text);
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(link) = document
        .create_element("a")
        .ok()
        .and_then(|e| e.dyn_into::<HtmlAnchorElement>().ok())
    {
        link.set_href(&url);
        link.set_download(name);
        link.click();
    }
    let _ = Url::revoke_object_url(&url);
}

/// A one-element JS array holding `text`, as `new Blob([text])` takes it.
fn js_sys_array(text: &str) -> JsValue {
    let array = js_sys::Array::new();
    array.push(&JsValue::from_str(text));
    array.into()
}

/// Reads a chosen file as text and hands it to `done`, or `None` when it cannot
/// be read (the log then stays as it was, and the page stops saying it is reading).
pub fn read(file: File, done: impl FnOnce(Option<String>) + 'static) {
    wasm_bindgen_futures::spawn_local(async move {
        let text = JsFuture::from(file.text())
            .await
            .ok()
            .and_then(|text| text.as_string());
        done(text);
    });
}
