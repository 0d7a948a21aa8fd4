//! What the page computes on every step, timed on a big log: the frame every view
//! draws (`Frame::at`, the reference the page already paid for) against what the
//! classroom items add per step, the quiz's question on the step
//! (`quiz::at_step`). Also a click on a topic-log button of that log (`edit::delete`,
//! which finds the event's line) against reading the whole text as the editor does
//! (`lesson::parse_editor`). Prints the ratios; docs/perf.md records them.
//!
//! `cargo run --release -p eventfold-core --example step_cost [EVENTS]`

use std::hint::black_box;
use std::time::Instant;

use eventfold_core::lesson::{self, Frame};
use eventfold_core::{edit, quiz, sample};

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let text = sample::bank_ndjson(events);
    let trace = sample::import_bank(&text);
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

    let best_of = |f: &dyn Fn()| {
        (0..3)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let delete = best_of(&|| {
        black_box(edit::delete(&text, 0, events as i64 / 2));
    });
    let parse = best_of(&|| {
        black_box(lesson::parse_editor("bank", &text));
    });
    println!(
        "step_cost: delete the middle event of {events} ({:.1} MB of text): {:.1} ms, \
         against parse_editor {:.1} ms ({:.3}x)",
        text.len() as f64 / 1e6,
        delete * 1e3,
        parse * 1e3,
        delete / parse
    );
}
