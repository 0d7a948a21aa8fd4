//! The open-file limit (`nofile`, `ulimit -n`): every socket, page file and Kafka client
//! the bridge holds is a file descriptor, and past the limit `accept` fails for everyone.
//!
//! At start the bridge raises its soft limit to the hard one (a process may do that
//! without privileges; many systems start services with a soft limit of 1024 and a much
//! higher hard one), then refuses to start when its connection limits cannot fit under
//! it, rather than advertise `--max-connections` it cannot reach.
//!
//! What the limits need ([`files_needed`]):
//!
//! ```text
//!   max_connections × (1 + KAFKA_FILES_PER_CONNECTION when relaying Kafka)
//! + max_http_connections × 2         (the socket, and the page file it is sending)
//! + REFUSAL_LINGER_SLOTS             (refused WebSockets waiting for the close reply)
//! + FILES_RESERVE                    (stdio, the listener, the runtime, the shared Kafka clients)
//! ```

use thiserror::Error;

use super::Limits;
use super::http::REFUSAL_LINGER_SLOTS;

/// The files the bridge holds whatever its clients do: standard input, output and
/// error, the listener, the async runtime's epoll and wake-up descriptors, the signal
/// handlers, and the Kafka admin and producer clients (each a few descriptors per
/// broker).
pub const FILES_RESERVE: u64 = 64;

/// The files one WebSocket connection's Kafka consumer holds with a one-broker cluster:
/// its sockets to the broker and the wake-up pipes of its threads. Measured on
/// librdkafka 2.12 by counting `/proc/PID/fd` of a bridge before and after ten
/// connections each subscribed and paused (so each kept a consumer of its own): 80 more.
/// A connection replaying a subscription
/// has a consumer of its own; caught-up subscriptions share one per topic. A connection
/// running several replays at once, or a larger cluster, needs more: when descriptors
/// run out, the subscription that could not get its consumer gets an error frame and
/// the other connections go on.
pub const KAFKA_FILES_PER_CONNECTION: u64 = 8;

/// Why `serve` will not start with these limits.
#[derive(Debug, Error)]
pub enum FilesError {
    #[error(
        "--max-connections {max_connections} needs {needed} open files but the open-file limit \
         (ulimit -n) is {limit}: {hint}"
    )]
    TooFew {
        max_connections: usize,
        needed: u64,
        limit: u64,
        hint: String,
    },
}

/// How many file descriptors the bridge may hold at once with these limits (see the
/// formula in the module's documentation).
pub fn files_needed(limits: &Limits, kafka: bool) -> u64 {
    let (fixed, per_connection) = parts(limits, kafka);
    fixed.saturating_add(per_connection.saturating_mul(limits.max_connections as u64))
}

/// The files needed whatever `--max-connections` is, and those each connection adds.
fn parts(limits: &Limits, kafka: bool) -> (u64, u64) {
    let fixed = (limits.max_http_connections as u64)
        .saturating_mul(2)
        .saturating_add(REFUSAL_LINGER_SLOTS as u64)
        .saturating_add(FILES_RESERVE);
    let per_connection = 1 + if kafka { KAFKA_FILES_PER_CONNECTION } else { 0 };
    (fixed, per_connection)
}

/// Refuses limits that need more files than `limit`, naming the `--max-connections`
/// that would fit.
pub fn check(limits: &Limits, kafka: bool, limit: u64) -> Result<(), FilesError> {
    let needed = files_needed(limits, kafka);
    if needed <= limit {
        return Ok(());
    }
    let (fixed, per_connection) = parts(limits, kafka);
    let fits = limit.saturating_sub(fixed) / per_connection;
    let hint = if fits == 0 {
        "raise the hard limit (ulimit -Hn, LimitNOFILE= in a systemd unit) or lower \
         --max-http-connections"
            .to_owned()
    } else {
        format!(
            "lower --max-connections to {fits} or less, or raise the hard limit (ulimit -Hn, \
             LimitNOFILE= in a systemd unit)"
        )
    };
    Err(FilesError::TooFew {
        max_connections: limits.max_connections,
        needed,
        limit,
        hint,
    })
}

/// Raises the soft open-file limit to the hard one. Returns the soft limit before and
/// after, or `None` where there is no such limit to read.
pub fn raise_limit() -> std::io::Result<Option<(u64, u64)>> {
    #[cfg(unix)]
    {
        let (before, _hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
        // Up to the hard limit, and on macOS also to the kernel's per-process maximum,
        // which a larger soft limit would exceed.
        let now = rlimit::increase_nofile_limit(u64::MAX)?;
        Ok(Some((before, now)))
    }
    #[cfg(not(unix))]
    {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize, max_http_connections: usize) -> Limits {
        Limits {
            max_connections,
            max_http_connections,
            ..Limits::default()
        }
    }

    fn check_needed(limits: Limits, kafka: bool, limit: u64, expected: Result<u64, &str>) {
        let needed = files_needed(&limits, kafka);
        match (check(&limits, kafka, limit), expected) {
            (Ok(()), Ok(want)) => assert_eq!(needed, want, "{limits:?}"),
            (Err(got), Err(want)) => {
                let got = got.to_string();
                assert!(got.contains(want), "{limits:?} under {limit}: {got}")
            }
            (got, want) => panic!("{limits:?} under {limit}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn the_limits_must_fit_under_the_open_file_limit() {
        // The defaults without Kafka: 1024 + 512 × 2 + 64 + 64.
        check_needed(Limits::default(), false, 4096, Ok(2176));
        check_needed(Limits::default(), false, 2176, Ok(2176));
        check_needed(
            Limits::default(),
            false,
            1024,
            Err(
                "--max-connections 1024 needs 2176 open files but the open-file limit \
                 (ulimit -n) is 1024: raise the hard limit",
            ),
        );
        // With Kafka each connection counts its consumer: 1024 × 9 + 1152.
        check_needed(Limits::default(), true, 65536, Ok(10368));
        check_needed(
            Limits::default(),
            true,
            4096,
            Err(
                "needs 10368 open files but the open-file limit (ulimit -n) is 4096: lower --max-connections to 327 or less",
            ),
        );
        check_needed(limits(100, 16), false, 1024, Ok(260));
        check_needed(
            limits(1000, 16),
            false,
            1024,
            Err("lower --max-connections to 864 or less"),
        );
        check_needed(limits(864, 16), false, 1024, Ok(1024));
    }
}
