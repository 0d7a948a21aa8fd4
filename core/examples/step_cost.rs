//! What the page computes on every step, timed on a big log: the frame every view
//! draws (`Frame::at`, the reference the page already paid for) against what the
//! classroom items add per step, the quiz's question on the step
//! (`quiz::at_step`). Prints the ratio; docs/perf.md records it.
//!
//! `cargo run --release -p eventfold-core --example step_cost [EVENTS]`

use std::hint::black_box;
use std::time::Instant;

use eventfold_core::lesson::Frame;
use eventfold_core::{quiz, sample};

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let trace = sample::import_bank(&sample::bank_ndjson(events));
    let steps = trace.len();
    // Positions spread over the log, as a scrubber visits them.
    let positions: Vec<u64> = (0..200).map(|i| 1 + i * (steps - 1) / 199).collect();
    let time = |f: &dyn Fn(u64)| {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let started = Instant::now();
            for &step in &positions {
                f(step);
            }
            best = best.min(started.elapsed().as_secs_f64() / positions.len() as f64);
        }
        best
    };
    let frame = time(&|step| {
        black_box(Frame::at(&trace, step));
    });
    let question = time(&|step| {
        black_box(quiz::at_step(&trace, step));
    });
    println!(
        "step_cost: {events} events, {steps} steps, {} positions, best of 5: \
         Frame::at {:.1} µs, quiz::at_step {:.1} µs per step ({:.2}x the frame)",
        positions.len(),
        frame * 1e6,
        question * 1e6,
        question / frame
    );
}
