//! The live-mode link: `#live&topic=NAME&projection=bank&from=beginning`, so a teacher
//! can share a replay of a real topic and a test can open one directly. `from` takes
//! the text forms core's `StartFrom` parses (`beginning`, `latest`,
//! `offsets:0=5,1=0`, `timestamp:MS`).

use eventfold_core::wire::StartFrom;
use wasm_bindgen::JsValue;

/// What a live link names. Absent fields keep the page's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveLink {
    pub topic: Option<String>,
    pub projection: Option<String>,
    pub from: Option<String>,
    /// Another bridge's WebSocket URL (`bridge=ws://…`), instead of the page's own.
    pub bridge: Option<String>,
    /// The bridge's `--token` (`token=…` in the hash or the query string), sent as
    /// `/ws?token=…`.
    pub token: Option<String>,
}

/// True when the address opens live mode (its hash starts with `#live`).
pub fn is_live(hash: &str) -> bool {
    let rest = hash.trim_start_matches('#');
    rest == "live" || rest.starts_with("live&")
}

/// Opens the live page (`live/`, next to the simulator's) with this address's hash,
/// replacing the simulator in the history: a shared `#live…` link lands there.
pub fn open_live_page() {
    if let Some(window) = web_sys::window() {
        let _ = window
            .location()
            .replace(&format!("live/{}", current_hash()));
    }
}

/// The address bar's hash.
pub fn current_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// Reads a live link; `None` when the hash is not one.
pub fn parse(hash: &str) -> Option<LiveLink> {
    if !is_live(hash) {
        return None;
    }
    let mut link = LiveLink::default();
    for pair in hash.trim_start_matches('#').split('&').skip(1) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = js_sys::decode_uri_component(value)
            .map(String::from)
            .unwrap_or_else(|_| value.to_owned());
        match name {
            "topic" => link.topic = Some(value),
            "projection" => link.projection = Some(value),
            "from" => link.from = Some(value),
            "bridge" => link.bridge = Some(value),
            "token" => link.token = Some(value),
            _ => {}
        }
    }
    if link.token.is_none() {
        link.token = query_token();
    }
    Some(link)
}

/// `token=…` from the address's query string (`/live/?token=…`).
fn query_token() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(|value| {
            js_sys::decode_uri_component(value)
                .map(String::from)
                .unwrap_or_else(|_| value.to_owned())
        })
}

/// `url` with the token as its `token` query parameter.
pub fn with_token(url: String, token: Option<&str>) -> String {
    match token {
        None => url,
        Some(token) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            let token = String::from(js_sys::encode_uri_component(token));
            format!("{url}{separator}token={token}")
        }
    }
}

/// The text form of a start, as the link and the start field write it.
pub fn from_text(from: &StartFrom) -> String {
    match from {
        StartFrom::Beginning(_) => "beginning".into(),
        StartFrom::Latest(_) => "latest".into(),
        StartFrom::Timestamp(ms) => format!("timestamp:{ms}"),
        StartFrom::Offsets(offsets) => {
            let pairs: Vec<String> = offsets.iter().map(|(p, o)| format!("{p}={o}")).collect();
            format!("offsets:{}", pairs.join(","))
        }
    }
}

/// Puts the replay's link in the address bar (replacing, not pushing, the entry).
pub fn show(topic: &str, projection: &str, from: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let encode = |text: &str| String::from(js_sys::encode_uri_component(text));
    // The path and query (which may hold the token) stay; the hash names the replay.
    let path = window.location().pathname().unwrap_or_default();
    let query = window.location().search().unwrap_or_default();
    let url = format!(
        "{path}{query}#live&topic={}&projection={}&from={}",
        encode(topic),
        encode(projection),
        encode(from)
    );
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
    }
}
