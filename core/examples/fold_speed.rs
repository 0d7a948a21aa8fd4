//! The fold of an imported log, natively: speed and memory per event.
//!
//! Run: `cargo run --release -p eventfold-core --example fold_speed -- [EVENTS]`
//! (default 200 000). It folds `sample::bank_ndjson(EVENTS)` with
//! `sample::import_bank`, exactly what the page runs on an import and what the page's
//! exported `eventfold_bench_fold` times in the browser, and prints
//!
//! ```text
//! fold_speed: native 200000 events best of 5: 81.2 ms = 2463054 events/s
//! fold_speed: memory per event: trace 95.1 B (compact log 41.3 B), envelopes 1011.6 B
//! ```
//!
//! Memory is counted by a global allocator that tracks live heap bytes: the trace
//! (log, snapshots, outcomes) against the same events held as a `Vec<Envelope>` with
//! JSON trees, which is how the trace kept its log before.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use eventfold_core::{lesson, sample};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("EVENTS must be a number"))
        .unwrap_or(200_000);
    let text = sample::bank_ndjson(events);

    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        let trace = sample::import_bank(black_box(&text));
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(trace.events().len(), events);
        best = best.min(ms);
    }
    println!(
        "fold_speed: native {events} events best of 5: {best:.1} ms = {:.0} events/s",
        events as f64 / best * 1000.0
    );

    let before = live();
    let trace = sample::import_bank(&text);
    let traced = live() - before;
    let log = trace.events().heap_bytes();
    let before = live();
    let envelopes = lesson::parse_editor("bank", &text);
    let enveloped = live() - before;
    let per = |bytes: usize| bytes as f64 / events.max(1) as f64;
    println!(
        "fold_speed: memory per event: trace {:.1} B (compact log {:.1} B), envelopes {:.1} B",
        per(traced),
        per(log),
        per(enveloped)
    );
    black_box((trace, envelopes));
}
