//! One WebSocket to the bridge, as a handle that reports to a Yew callback.
//!
//! The browser's `WebSocket` calls JavaScript closures; this wraps them so the live
//! view receives plain [`Event`]s and never touches `web-sys` types. Dropping the
//! handle detaches the closures first (so a socket being torn down reports nothing
//! more) and then closes it.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

/// What the socket reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The handshake succeeded.
    Open,
    /// A text frame.
    Text(String),
    /// The socket closed (or never opened): the close code and reason the bridge
    /// gave, `1006` when the connection was lost without one.
    Closed { code: u16, reason: String },
}

/// An open (or opening) WebSocket. Sends are best effort: a socket that is not open
/// drops the frame and says so, and the close that follows triggers the resume.
pub struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url` (`ws://…` or `wss://…`); events go to `report`.
    pub fn open(url: &str, report: Callback<Event>) -> Result<Socket, String> {
        let ws = WebSocket::new(url).map_err(|e| describe(&e))?;
        let on_open = Closure::<dyn FnMut()>::new({
            let report = report.clone();
            move || report.emit(Event::Open)
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
            let report = report.clone();
            move |event: MessageEvent| {
                // The bridge only sends text frames; anything else is not ours to read.
                if let Some(text) = event.data().as_string() {
                    report.emit(Event::Text(text));
                }
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            report.emit(Event::Closed {
                code: event.code(),
                reason: event.reason(),
            })
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Sends one text frame; `false` when the socket is not open.
    pub fn send(&self, text: &str) -> bool {
        self.ws.ready_state() == WebSocket::OPEN && self.ws.send_with_str(text).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// The text of a JavaScript exception (a `SyntaxError` for a malformed URL).
fn describe(error: &wasm_bindgen::JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the browser refused to open the WebSocket".into())
}

/// The bridge's own `/ws`, on the origin that served the page (`wss://` under https).
pub fn same_origin_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let (protocol, host) = location
        .map(|l| {
            (
                l.protocol().unwrap_or_default(),
                l.host().unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/ws")
}
