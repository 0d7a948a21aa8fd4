//! A one-shot browser timer that is cancelled when dropped, so a view that replaces
//! or forgets its timer never gets a stale tick.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// A pending `setTimeout`.
pub struct Timeout {
    handle: i32,
    _closure: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `fire` once after `ms` milliseconds, unless dropped first.
    pub fn new(ms: i32, fire: impl FnOnce() + 'static) -> Option<Timeout> {
        let mut fire = Some(fire);
        let closure = Closure::<dyn FnMut()>::new(move || {
            if let Some(fire) = fire.take() {
                fire();
            }
        });
        let handle = web_sys::window()?
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                closure.as_ref().unchecked_ref(),
                ms,
            )
            .ok()?;
        Some(Timeout {
            handle,
            _closure: closure,
        })
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            window.clear_timeout_with_handle(self.handle);
        }
    }
}

/// Milliseconds since the epoch, from the browser's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
