use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

/// Calls `on_change` when the address's hash changes under the page: a link to
/// another step pasted into the same tab, or the Back button. The page's own
/// updates (`history.replaceState`) do not fire it.
#[hook]
pub fn use_hash_change(on_change: Callback<()>) {
    use_effect_with((), move |_| {
        let window = web_sys::window();
        let listener = Closure::<dyn FnMut()>::new(move || on_change.emit(()));
        if let Some(window) = &window {
            let _ = window
                .add_event_listener_with_callback("hashchange", listener.as_ref().unchecked_ref());
        }
        move || {
            if let Some(window) = window {
                let _ = window.remove_event_listener_with_callback(
                    "hashchange",
                    listener.as_ref().unchecked_ref(),
                );
            }
        }
    });
}
