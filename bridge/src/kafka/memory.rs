//! Giving memory back to the system once subscriptions end.
//!
//! librdkafka allocates with the C library's `malloc`, from whichever thread fetched or
//! parsed, and glibc keeps what is freed in its per-thread arenas rather than return it:
//! after 200 churn cycles (3,200 subscriptions opened and closed mid-replay) every pump
//! and consumer was gone, yet the bridge still held 118 MiB against 17 MiB idle. So when
//! subscriptions end, [`released`] has the free memory handed back (`malloc_trim`), on
//! one short-lived thread at a time, a moment after the last of a burst of closes; a
//! pump held by a browser that is behind calls it too. [`tune_malloc`] keeps large
//! buffers out of the arenas in the first place.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long the trimming thread waits after a subscription ended before it trims, so a
/// browser closing 16 subscriptions at once costs one trim.
pub const TRIM_DELAY: Duration = Duration::from_millis(500);

/// A subscription ended since the last trim.
static PENDING: AtomicBool = AtomicBool::new(false);
/// The trimming thread is running (at most one is).
static TRIMMING: AtomicBool = AtomicBool::new(false);

/// Notes that a subscription ended and its consumer was dropped, or that a pump stopped
/// because its browser is behind (the buffers it filled are all it will hold until the
/// browser reads): free memory is handed back to the system within about
/// [`TRIM_DELAY`], at most once per [`TRIM_DELAY`] however many call.
pub fn released() {
    PENDING.store(true, Ordering::Release);
    if TRIMMING.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("eventfold-trim".into())
        .spawn(|| {
            loop {
                std::thread::sleep(TRIM_DELAY);
                if PENDING.swap(false, Ordering::AcqRel) {
                    trim();
                    continue;
                }
                TRIMMING.store(false, Ordering::Release);
                // A subscription that ended between the look and the flag going down
                // found TRIMMING set and started no thread: look once more.
                if !PENDING.load(Ordering::Acquire) || TRIMMING.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        });
    if spawned.is_err() {
        TRIMMING.store(false, Ordering::Release);
    }
}

/// The most malloc arenas glibc keeps (`M_ARENA_MAX`; by default eight per core). Each
/// of the hundreds of librdkafka threads allocating buffers would otherwise get an arena
/// of its own, each keeping its freed memory: 128 subscriptions of clients that stopped
/// reading held 302 MiB with the default and 187 MiB with 2.
pub const MALLOC_ARENAS: i32 = 2;

/// Allocations of at least this many bytes get pages of their own (`M_MMAP_THRESHOLD`),
/// handed back to the system the moment they are freed. glibc's default starts at
/// 128 KiB and rises to the largest block freed so far, up to 32 MiB: after the first
/// fetch response of a few hundred KiB was freed, every later one came from the arenas,
/// which kept the pages. Fixed here, 128 unread subscriptions held 76-113 MiB instead of
/// 127-162 MiB (docs/reliability.md, "Memory").
pub const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Sets glibc's malloc up for a process of many librdkafka threads: at most
/// [`MALLOC_ARENAS`] arenas and a fixed [`MMAP_THRESHOLD`]. `eventfold serve` calls it
/// first thing, before any thread starts. An operator's `MALLOC_ARENA_MAX`,
/// `MALLOC_MMAP_THRESHOLD_` or `GLIBC_TUNABLES` naming the same tunable wins.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        let set_by_operator = |env: &str, tunable: &str| {
            std::env::var_os(env).is_some() || tunables.contains(tunable)
        };
        if !set_by_operator("MALLOC_ARENA_MAX", "glibc.malloc.arena_max") {
            // SAFETY: mallopt only sets a glibc tunable; called before other threads run.
            unsafe { libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS) };
        }
        if !set_by_operator("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold") {
            // SAFETY: as above.
            unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks glibc's own heaps under their locks.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::trace!(released, "malloc_trim");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
