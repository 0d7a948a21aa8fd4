use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

/// Calls `tick` every `period_ms` milliseconds while `period_ms` is `Some`; a new
/// period restarts the timer and `None` stops it. `tick` should be stable (built
/// from a reducer's dispatcher), as the timer keeps the one it started with.
#[hook]
pub fn use_interval(period_ms: Option<i32>, tick: Callback<()>) {
    use_effect_with(period_ms, move |period_ms| {
        let window = web_sys::window();
        let closure = Closure::<dyn FnMut()>::new(move || tick.emit(()));
        let handle = match (period_ms, &window) {
            (Some(period), Some(window)) => window
                .set_interval_with_callback_and_timeout_and_arguments_0(
                    closure.as_ref().unchecked_ref(),
                    *period,
                )
                .ok(),
            _ => None,
        };
        move || {
            if let (Some(window), Some(handle)) = (window, handle) {
                window.clear_interval_with_handle(handle);
            }
            drop(closure);
        }
    });
}
