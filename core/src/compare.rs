//! One log folded two ways, side by side: with another projection ("replay with new
//! logic", seed 004), or compacted to the last record per key.
//!
//! Both comparisons take the trace the page already folded, so each costs one more
//! fold, not two.

use std::collections::HashMap;
use std::sync::Arc;

use crate::display;
use crate::trace::Trace;
use crate::{Envelope, Mode, Projection};

/// One side of a comparison: what was folded and what it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// The projection's name.
    pub projection: String,
    /// Number of records folded.
    pub records: usize,
    /// The final state, printed as the seeds print it.
    pub state: String,
}

impl Side {
    fn of(trace: &Trace) -> Side {
        let projection = trace.projection();
        Side {
            projection: projection.name().to_owned(),
            records: trace.events().len(),
            state: display::js(&trace.final_view().to_json(projection.as_ref())),
        }
    }
}

/// Two folds of the same history.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub left: Side,
    pub right: Side,
    /// The first row where the two process tables show a different state or one
    /// shows an error the other does not; `None` when they agree on every row or,
    /// for a compacted log, when the rows do not line up and only the final
    /// states are compared.
    pub first_difference: Option<u64>,
    /// One sentence saying whether the two agree.
    pub verdict: String,
}

/// `trace`'s log folded again with `other`, row by row against `trace`.
pub fn projections(trace: &Trace, other: Arc<dyn Projection>) -> Comparison {
    let right = Trace::new(other, Mode::Lenient, trace.events().iter());
    // The same log gives the same rows in both tables (five per event, then the
    // end), so they are compared in one pass over both.
    let first_difference = trace
        .steps()
        .zip(right.steps())
        .find(|(a, b)| a.state != b.state || a.error.is_some() != b.error.is_some())
        .map(|(a, _)| a.step);
    let verdict = match first_difference {
        None => "Both projections give the same state at every step.".to_owned(),
        Some(step) => format!("The projections first differ at step {step}."),
    };
    Comparison {
        left: Side::of(trace),
        right: Side::of(&right),
        first_difference,
        verdict,
    }
}

/// `trace`'s log against its compacted form ([`compact`]), folded by the same
/// projection.
pub fn compaction(trace: &Trace) -> Comparison {
    let compacted = Trace::new(
        trace.projection().clone(),
        Mode::Lenient,
        compact(&trace.events().to_vec()),
    );
    let (left, right) = (Side::of(trace), Side::of(&compacted));
    let verdict = if left.records == right.records {
        "Nothing to compact: no key has two records.".to_owned()
    } else if left.state == right.state {
        format!(
            "Compaction kept {} of {} records and the same final state.",
            right.records, left.records
        )
    } else {
        format!(
            "Compaction kept {} of {} records and changed the final state: \
             the dropped records carried history the projection needs.",
            right.records, left.records
        )
    };
    Comparison {
        left,
        right,
        first_difference: None,
        verdict,
    }
}

/// The log as Kafka's log cleaner leaves it: the last record of each key in each
/// partition, tombstones included, in log order. Records without a key cannot be
/// compacted (a compacted topic refuses them) and stay, so a keyless log folds
/// exactly as before.
pub fn compact(events: &[Envelope]) -> Vec<Envelope> {
    let mut last: HashMap<(i32, &[u8]), usize> = HashMap::new();
    for (index, event) in events.iter().enumerate() {
        if let Some(key) = event.key.as_deref() {
            last.insert((event.partition, key), index);
        }
    }
    events
        .iter()
        .enumerate()
        .filter(|(index, event)| match event.key.as_deref() {
            Some(key) => last.get(&(event.partition, key)) == Some(index),
            None => true,
        })
        .map(|(_, event)| event.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::builtin;
    use crate::decl::Spec;

    fn bank_log(amounts: &[i64]) -> Vec<Envelope> {
        builtin::bank::log_of_amounts("bank", amounts)
    }

    /// The bank twin spec with one text replaced: the same events, new logic.
    fn bank_with(from: &str, to: &str) -> Arc<dyn Projection> {
        let spec = crate::decl::twin("bank").unwrap().replace(from, to);
        Arc::new(Spec::parse(&spec).unwrap())
    }

    /// Folds `amounts` with the bank projection and compares it with `other`:
    /// both final states and the first differing step.
    fn check(amounts: &[i64], other: Arc<dyn Projection>, expected: (&str, &str, Option<u64>)) {
        let trace = Trace::new(
            builtin::by_name("bank").unwrap(),
            Mode::Lenient,
            bank_log(amounts),
        );
        let got = projections(&trace, other);
        assert_eq!(
            (
                got.left.state.as_str(),
                got.right.state.as_str(),
                got.first_difference
            ),
            expected
        );
    }

    #[test]
    fn another_projection_is_compared_row_by_row() {
        let bank = builtin::by_name("bank").unwrap();
        check(
            &[100, -40, 60],
            bank,
            ("{balance: 120}", "{balance: 120}", None),
        );
        // The Command row already shows the state before the event, so another
        // start state differs from step 1.
        let richer = bank_with(
            r#""initial": {"balance": 0}"#,
            r#""initial": {"balance": 1000}"#,
        );
        check(
            &[100, -40],
            richer,
            ("{balance: 60}", "{balance: 1060}", Some(1)),
        );
        // Withdrawals that add: the first difference is the withdrawal's apply row
        // (the third event's fourth row).
        let adding = bank_with(r#"{"subtract": "balance""#, r#"{"add": "balance""#);
        check(
            &[100, 20, -40, 5],
            adding,
            ("{balance: 85}", "{balance: 165}", Some(14)),
        );
        let orders = builtin::by_name("orders").unwrap();
        let got = projections(
            &Trace::new(
                builtin::by_name("bank").unwrap(),
                Mode::Lenient,
                bank_log(&[100]),
            ),
            orders,
        );
        assert_eq!(
            (got.first_difference, got.right.projection.as_str()),
            (Some(1), "orders")
        );
    }

    fn keyed(key: &str, partition: i32, offset: i64, value: Value) -> Envelope {
        Envelope::json("t", offset, value)
            .with_key(key)
            .with_partition(partition)
    }

    #[test]
    fn compaction_keeps_the_last_record_per_key_and_partition_and_every_keyless_one() {
        let log = vec![
            keyed("a", 0, 0, json!(1)),
            keyed("b", 0, 1, json!(2)),
            keyed("a", 0, 2, json!(3)),
            keyed("a", 1, 0, json!(4)),
            Envelope::json("t", 3, json!(5)),
            Envelope::json("t", 4, json!(6)),
        ];
        let kept: Vec<(i32, i64)> = compact(&log)
            .iter()
            .map(|e| (e.partition, e.offset))
            .collect();
        assert_eq!(kept, [(0, 1), (0, 2), (1, 0), (0, 3), (0, 4)]);
    }

    #[test]
    fn a_compacted_keyless_log_folds_as_before() {
        let trace = Trace::new(
            builtin::by_name("bank").unwrap(),
            Mode::Lenient,
            bank_log(&[100, -40]),
        );
        let got = compaction(&trace);
        assert_eq!(
            (got.left.state, got.right.state, got.verdict),
            (
                "{balance: 60}".to_owned(),
                "{balance: 60}".to_owned(),
                "Nothing to compact: no key has two records.".to_owned()
            )
        );
    }
}
