//! The eventfold page's parts, as a library: the page itself (`main.rs`) lays them
//! out, and the component tests (`frontend/tests`) render them one at a time in a
//! real browser.
//!
//! # Layout
//!
//! - [`state`]: the simulator as a Yew reducer ([`state::Sim`], [`state::Action`]).
//! - [`replay`]: the process table's rows as text.
//! - [`url`]: `#scenario=…&step=…` (and a shared log's edits) in the address bar.
//! - [`keep`]: localStorage, downloads and file reads.
//! - [`hooks`]: the play timer, the keyboard and links followed in the same tab.
//! - [`components`]: one component per file.
//! - [`bench`]: the fold exported to JavaScript, for the wasm-vs-native measurement.
//! - [`live`]: live mode, a real Kafka topic folded through `eventfold serve` (`#live…`).

pub mod bench;
pub mod components;
pub mod hooks;
pub mod keep;
pub mod live;
pub mod replay;
pub mod state;
pub mod url;
