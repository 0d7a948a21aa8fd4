use yew::prelude::*;

/// The localStorage entry that remembers projector mode across reloads.
const PROJECTOR_KEY: &str = "eventfold:projector";
/// The attribute on `<html>` that style.css draws projector mode with (large type,
/// high contrast): `data-projector="on"`. On the root element, so every part of the
/// page, the body's background and rem sizes included, follows it.
const PROJECTOR_ATTRIBUTE: &str = "data-projector";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Projector mode, as last chosen in this browser, and a callback that switches it.
/// A browser that keeps nothing (private mode) starts in the normal mode each time.
#[hook]
pub fn use_projector() -> (bool, Callback<()>) {
    let on = use_state(|| {
        storage()
            .and_then(|s| s.get_item(PROJECTOR_KEY).ok().flatten())
            .is_some_and(|value| value == "on")
    });
    use_effect_with(*on, |on| {
        let root = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element());
        if let Some(root) = root {
            let _ = if *on {
                root.set_attribute(PROJECTOR_ATTRIBUTE, "on")
            } else {
                root.remove_attribute(PROJECTOR_ATTRIBUTE)
            };
        }
        if let Some(storage) = storage() {
            let _ = storage.set_item(PROJECTOR_KEY, if *on { "on" } else { "off" });
        }
    });
    let toggle = {
        let on = on.clone();
        Callback::from(move |()| on.set(!*on))
    };
    (*on, toggle)
}
