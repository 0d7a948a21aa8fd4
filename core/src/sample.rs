//! Generated logs for measurements: the same events natively and in the page.
//!
//! `core/examples/fold_speed.rs` folds [`bank_ndjson`] natively and the page exports
//! the same fold to JavaScript (`eventfold_bench_fold`), so scripts/page-smoke can
//! print the speed of the wasm fold as a ratio of the native one on identical input.

use std::sync::Arc;

use crate::builtin::bank::Bank;
use crate::fold::Mode;
use crate::lesson::EditorReader;
use crate::trace::Trace;

/// `n` bank events as NDJSON: deposits of `i % 101` and, every third line,
/// withdrawals of `i % 97` (deterministic, no randomness).
pub fn bank_ndjson(n: usize) -> String {
    let mut out = String::with_capacity(n * 34);
    for i in 0..n {
        if i % 3 == 1 {
            out.push_str(&format!(
                "{{\"type\":\"withdrawal\",\"amount\":{}}}\n",
                i % 97
            ));
        } else {
            out.push_str(&format!(
                "{{\"type\":\"deposit\",\"amount\":{}}}\n",
                i % 101
            ));
        }
    }
    out
}

/// The balance [`bank_ndjson`]`(n)` folds to.
pub fn bank_balance(n: usize) -> i64 {
    (0..n as i64)
        .map(|i| if i % 3 == 1 { -(i % 97) } else { i % 101 })
        .sum()
}

/// What the page does with an imported NDJSON text: read it as the event editor
/// does and fold it with the bank projection into a trace.
pub fn import_bank(text: &str) -> Trace {
    let mut reader = EditorReader::default();
    let events = std::iter::from_fn(|| {
        reader
            .next_event_text("bank", text)
            .map(|(_, envelope, json)| (envelope, json))
    });
    let mut trace = Trace::new(Arc::new(Bank), Mode::Lenient, []);
    trace.extend_from_text(events);
    trace
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display;

    #[test]
    fn the_import_folds_to_the_computed_balance() {
        for n in [0, 1, 2, 3, 1000, 5000] {
            let trace = import_bank(&bank_ndjson(n));
            assert_eq!(trace.events().len(), n);
            assert!(trace.errors().is_empty());
            let state = trace.final_view().to_json(&Bank);
            let expected = if n == 0 {
                "{balance: 0}".to_owned()
            } else {
                format!("{{balance: {}}}", bank_balance(n))
            };
            assert_eq!(display::js(&state), expected, "{n} events");
        }
    }
}
