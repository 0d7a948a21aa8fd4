//! The fold exported to JavaScript for measurements: scripts/page-smoke times
//! `eventfold_bench_fold` in the page and `core/examples/fold_speed.rs` times the
//! same `sample::import_bank` natively on the same generated events, and prints
//! the ratio (docs/perf.md, "Fold speed in wasm vs native").

use std::cell::RefCell;

use eventfold_core::{display, sample};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

thread_local! {
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Generates `events` bank events as NDJSON (`sample::bank_ndjson`), kept for
/// [`eventfold_bench_fold`]; returns the text's length in bytes.
#[wasm_bindgen]
pub fn eventfold_bench_prepare(events: u32) -> u32 {
    let text = sample::bank_ndjson(events as usize);
    let len = text.len() as u32;
    TEXT.with(|cell| *cell.borrow_mut() = text);
    len
}

/// Folds the prepared text as an import does (`sample::import_bank`) and returns
/// the final state as the page prints it, so the caller can check the fold ran.
#[wasm_bindgen]
pub fn eventfold_bench_fold() -> String {
    TEXT.with(|cell| {
        let trace = sample::import_bank(&cell.borrow());
        display::js(&trace.final_view().to_json(&**trace.projection()))
    })
}

/// The balance `sample::bank_ndjson(events)` folds to.
#[wasm_bindgen]
pub fn eventfold_bench_balance(events: u32) -> f64 {
    sample::bank_balance(events as usize) as f64
}

/// Bytes of the page's wasm memory (it only grows): scripts/page-smoke reads it
/// before and after a 1 M-event import for the memory per event.
#[wasm_bindgen]
pub fn eventfold_memory_bytes() -> f64 {
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map_or(0.0, |memory| {
            memory
                .buffer()
                .dyn_into::<js_sys::ArrayBuffer>()
                .map_or(0.0, |buffer| f64::from(buffer.byte_length()))
        })
}
