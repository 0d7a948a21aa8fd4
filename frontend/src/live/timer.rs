//! Time for live mode: a one-shot timer cancelled when dropped (gloo's, so a view
//! that replaces or forgets its timer never gets a stale tick) and the clock.

pub use gloo_timers::callback::Timeout;

/// Milliseconds since the epoch, from the browser's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
