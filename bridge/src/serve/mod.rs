//! `eventfold serve`: the built page, the WebSocket at `/ws`, `/healthz` and `/metrics`.
//!
//! # Layout
//!
//! - this file: the command line ([`ServeArgs`]), the checked configuration
//!   ([`ServeConfig`], [`Limits`]) and [`run`], which serves a listener until a shutdown
//!   future completes (the shape of mini-redis's `server::run`).
//! - [`accept`]: the accept loop — the cap on connections before the upgrade, hyper's
//!   HTTP/1 with a header read timeout for each, and the graceful end of them.
//! - [`http`]: the router — static files, the upgrade handler (origin, token and
//!   connection limit, nothing else), `/healthz`, `/metrics`.
//! - [`session`]: one WebSocket connection speaking protocol v2 (docs/protocol.md),
//!   generic over a `Sink`/`Stream` pair so it can be driven without a network.
//! - [`metrics`]: the Prometheus counters and gauges.
//! - [`files`]: the open-file limit: raised at start, and checked against what the
//!   connection limits need.
//!
//! The session is generic over [`Backend`]: `NoKafka` serves the page alone, the
//! Kafka backend relays topics. The bridge keeps no state between connections.

pub mod accept;
pub mod files;
pub mod http;
pub mod metrics;
pub mod session;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use regex::Regex;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::backend::{Backend, BackendError, NoKafka};
use crate::kafka::backend::PREFETCH_KBYTES;
use crate::kafka::watchdog::STALL_TIMEOUT;
use crate::kafka::{ConfigError, KafkaArgs, KafkaBackend};
pub use http::{ServerState, router};

/// Where the bridge listens unless told otherwise: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Largest WebSocket frame or message a client may send (1 MiB); a larger one closes
/// the connection with code 1009.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Most WebSocket connections served at once; further upgrades get HTTP 503.
pub const MAX_CONNECTIONS: usize = 1024;
/// Most connections held at once before they become WebSockets: page downloads,
/// `/healthz`, `/metrics`, handshakes in progress and idle keep-alive connections.
/// Further connections are closed as soon as they are accepted, so strangers opening
/// sockets cannot use up the bridge's file descriptors; WebSocket sessions do not count
/// here and are not affected. A class of 50 browsers loading the page at once opens
/// about 6 connections each, 300 in all.
pub const MAX_HTTP_CONNECTIONS: usize = 512;
/// How long a client may take to send a request's headers (on a new connection, or
/// the next request of a kept-alive one) before its connection is dropped: a stranger
/// sending half a request cannot hold a connection for longer.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The fewest characters (spaces not counted) a token must have when the bridge listens
/// on an address other machines can reach: 16 random characters from a password
/// generator or `openssl rand -hex 16` are out of reach of guessing over the network.
pub const MIN_PUBLIC_TOKEN_CHARS: usize = 16;
/// Most subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS: usize = 16;
/// Frames waiting to be written to one client. When it is full the client is behind:
/// its subscriptions are paused until there is room. A `records` frame carries up to
/// 500 records (about 100 KB of small JSON events): at 64 frames, eight connections
/// that stopped reading held 55 MiB in these queues alone.
pub const OUTBOUND_QUEUE: usize = 16;
/// How long a client may stay behind (its send window or outbound queue full, or a
/// write not accepted) before the bridge closes it with the offsets to resume from.
pub const SLOW_CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes written to one client that it has not yet read (256 KiB). The bridge learns
/// what a client has read from its answers to pings it sends along the frames; past the
/// window it writes nothing more until the client catches up. The window keeps the
/// kernel's socket buffers (which grow to megabytes) from filling behind a slow client,
/// so its `closing` frame can still be written, and read after at most this much.
pub const SEND_WINDOW: usize = 256 << 10;
/// How long a client closed for being slow is given to read up to its close frame and
/// answer it; the socket stays open meanwhile, so what was written still arrives.
pub const SLOW_CLOSE_GRACE: Duration = Duration::from_secs(30);
/// Produce requests of one connection waiting for the broker's acknowledgement.
pub const MAX_PRODUCES_IN_FLIGHT: usize = 64;
/// How long shutdown waits for connections to send their `closing` frame and close.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `eventfold serve` options. Each can also be set by the environment variable named
/// in `--help`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Any address other than loopback requires a token of at
    /// least 16 characters.
    #[arg(long, env = "EVENTFOLD_BIND", default_value = DEFAULT_BIND, value_name = "ADDR:PORT", value_parser = parse_bind)]
    pub bind: SocketAddr,
    /// The built page (`trunk build --release` writes it to dist/).
    #[arg(
        long,
        env = "EVENTFOLD_DIST",
        default_value = "dist",
        value_name = "DIR"
    )]
    pub dist: PathBuf,
    /// Require this token on WebSocket connections (`/ws?token=TOKEN`). Prefer the
    /// environment variable: an option shows in the process list.
    #[arg(
        long,
        env = "EVENTFOLD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Also accept WebSocket connections from pages served at this origin
    /// (scheme://host[:port]); repeat or separate with commas. The bridge's own page
    /// is always accepted.
    #[arg(
        long = "allowed-origin",
        env = "EVENTFOLD_ALLOWED_ORIGIN",
        value_delimiter = ',',
        value_name = "URL",
        value_parser = parse_origin
    )]
    pub allowed_origins: Vec<String>,
    /// Let clients append records (`produce`); without it the bridge is read-only.
    #[arg(long, env = "EVENTFOLD_ALLOW_PRODUCE")]
    pub allow_produce: bool,
    /// Only topics whose whole name matches this regular expression are listed and
    /// served; the others are invisible.
    #[arg(long, env = "EVENTFOLD_TOPICS", value_name = "REGEX", value_parser = parse_topics)]
    pub topics: Option<Regex>,
    /// Largest frame or message a client may send, in bytes.
    #[arg(long, env = "EVENTFOLD_MAX_FRAME_BYTES", default_value_t = MAX_FRAME_BYTES, value_name = "BYTES", value_parser = at_least_one::<usize>)]
    pub max_frame_bytes: usize,
    /// Most WebSocket connections at once. With the other limits they must fit under
    /// the open-file limit (`ulimit -n`), or the bridge refuses to start.
    #[arg(long, env = "EVENTFOLD_MAX_CONNECTIONS", default_value_t = MAX_CONNECTIONS, value_name = "N", value_parser = at_least_one::<usize>)]
    pub max_connections: usize,
    /// Most connections at once that are not (yet) WebSockets: page downloads and
    /// handshakes; further ones are closed at once.
    #[arg(long, env = "EVENTFOLD_MAX_HTTP_CONNECTIONS", default_value_t = MAX_HTTP_CONNECTIONS, value_name = "N", value_parser = at_least_one::<usize>)]
    pub max_http_connections: usize,
    /// Seconds a client may take to send a request's headers before its connection is
    /// dropped.
    #[arg(long, env = "EVENTFOLD_HEADER_READ_TIMEOUT", default_value_t = HEADER_READ_TIMEOUT.as_secs(), value_name = "SECONDS", value_parser = at_least_one::<u64>)]
    pub header_read_timeout: u64,
    /// Most subscriptions per connection.
    #[arg(long, env = "EVENTFOLD_MAX_SUBSCRIPTIONS", default_value_t = MAX_SUBSCRIPTIONS, value_name = "N", value_parser = at_least_one::<usize>)]
    pub max_subscriptions: usize,
    /// Frames queued for one client before its subscriptions are paused.
    #[arg(long, env = "EVENTFOLD_OUTBOUND_QUEUE", default_value_t = OUTBOUND_QUEUE, value_name = "FRAMES", value_parser = at_least_one::<usize>)]
    pub outbound_queue: usize,
    /// Bytes written to a client and not yet read by it (as its pongs tell) before the
    /// bridge waits for it.
    #[arg(long, env = "EVENTFOLD_SEND_WINDOW", default_value_t = SEND_WINDOW, value_name = "BYTES", value_parser = at_least_one::<usize>)]
    pub send_window: usize,
    /// Seconds a client may stay behind before it is closed with its resume offsets.
    #[arg(long, env = "EVENTFOLD_SLOW_CLIENT_TIMEOUT", default_value_t = SLOW_CLIENT_TIMEOUT.as_secs(), value_name = "SECONDS", value_parser = at_least_one::<u64>)]
    pub slow_client_timeout: u64,
    /// Seconds a subscription may make no progress while its partitions hold records
    /// past its position before its consumer is rebuilt (from the next offsets not yet
    /// delivered, so nothing is lost or repeated).
    #[arg(long, env = "EVENTFOLD_STALL_TIMEOUT", default_value_t = STALL_TIMEOUT.as_secs(), value_name = "SECONDS", value_parser = at_least_one::<u64>)]
    pub stall_timeout: u64,
    /// KiB each subscription's consumer fetches ahead of its client: with
    /// `--max-connections` and `--max-subscriptions`, the main term of the bridge's
    /// memory ceiling (README, "Bounded").
    #[arg(long, env = "EVENTFOLD_PREFETCH_KBYTES", default_value_t = PREFETCH_KBYTES, value_name = "KIB", value_parser = at_least_one::<u32>)]
    pub prefetch_kbytes: u32,
    /// Let clients see Kafka's internal topics (`__consumer_offsets`, …), which
    /// `--topics` never exposes by itself.
    #[arg(long, env = "EVENTFOLD_INTERNAL_TOPICS")]
    pub internal_topics: bool,
    /// The cluster (`--brokers`, `-X`, `--allow-unsafe-client-config`); without
    /// `--brokers` the bridge serves the page alone.
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

fn parse_topics(text: &str) -> Result<Regex, String> {
    // Checked as written first, so an error shows the user's text; then anchored, so
    // `bank` means the topic `bank` and not every topic containing it.
    Regex::new(text).map_err(|e| e.to_string())?;
    Regex::new(&format!("^(?:{text})$")).map_err(|e| e.to_string())
}

fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| match text.parse::<u16>() {
        Ok(port) => format!("give an address with the port, such as 127.0.0.1:{port}"),
        Err(_) => "expected IP:PORT such as 127.0.0.1:8080 or [::1]:8080 (names are not resolved)"
            .to_owned(),
    })
}

fn at_least_one<T>(text: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    let n: T = text
        .parse()
        .map_err(|e| format!("{e} (expected a whole number)"))?;
    if n < T::from(1) {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

/// Reads an origin as browsers send it (`scheme://host[:port]`, no path) and writes it
/// the way the upgrade handler compares them: lower case, no default port.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let lower = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = lower
        .split_once("://")
        .ok_or_else(|| format!("{text:?} is not an origin like http://host:port"))?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => {
            return Err(format!(
                "{text:?}: an origin starts with http:// or https://"
            ));
        }
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(format!(
            "{text:?}: an origin is scheme://host[:port], without a path or user"
        ));
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Ok(format!("{scheme}://{authority}"))
}

/// The bounds of everything a connection may buffer or hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub max_connections: usize,
    pub max_http_connections: usize,
    pub header_read_timeout: Duration,
    pub max_subscriptions: usize,
    pub outbound_queue: usize,
    pub send_window: usize,
    pub slow_client_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_bytes: MAX_FRAME_BYTES,
            max_connections: MAX_CONNECTIONS,
            max_http_connections: MAX_HTTP_CONNECTIONS,
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_subscriptions: MAX_SUBSCRIPTIONS,
            outbound_queue: OUTBOUND_QUEUE,
            send_window: SEND_WINDOW,
            slow_client_timeout: SLOW_CLIENT_TIMEOUT,
        }
    }
}

/// What [`run`] serves, checked.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The built page.
    pub dist: PathBuf,
    /// The token WebSocket connections must carry, if any.
    pub token: Option<String>,
    /// Other pages' origins allowed to connect, as [`parse_origin`] writes them.
    pub allowed_origins: Vec<String>,
    pub allow_produce: bool,
    /// Anchored filter of the topics clients may see; all when `None`.
    pub topics: Option<Regex>,
    pub limits: Limits,
}

impl ServeConfig {
    /// The defaults of the command line: loopback, read-only, no token, every topic.
    pub fn new(dist: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            dist: dist.into(),
            token: None,
            allowed_origins: Vec::new(),
            allow_produce: false,
            topics: None,
            limits: Limits::default(),
        }
    }

    /// Whether clients may see and use this topic (`--topics`).
    pub fn topic_visible(&self, name: &str) -> bool {
        self.topics.as_ref().is_none_or(|re| re.is_match(name))
    }

    /// Refuses a configuration that would expose the bridge or serve no page.
    pub fn check(&self, addr: SocketAddr) -> Result<(), ServeError> {
        if self.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(ServeError::EmptyToken);
        }
        if !addr.ip().is_loopback() {
            let Some(token) = &self.token else {
                return Err(ServeError::PublicWithoutToken { addr });
            };
            // Spaces are not counted: they add little a guesser would not try first.
            if token.chars().filter(|c| !c.is_whitespace()).count() < MIN_PUBLIC_TOKEN_CHARS {
                return Err(ServeError::ShortToken { addr });
            }
        }
        if !self.dist.join("index.html").is_file() {
            return Err(ServeError::NoPage {
                dir: self.dist.clone(),
            });
        }
        Ok(())
    }
}

impl ServeArgs {
    /// The configuration these options describe, checked for `--bind`.
    pub fn config(&self) -> Result<ServeConfig, ServeError> {
        let config = ServeConfig {
            dist: self.dist.clone(),
            token: self.token.clone(),
            allowed_origins: self.allowed_origins.clone(),
            allow_produce: self.allow_produce,
            topics: self.topics.clone(),
            limits: Limits {
                max_frame_bytes: self.max_frame_bytes,
                max_connections: self.max_connections,
                max_http_connections: self.max_http_connections,
                header_read_timeout: Duration::from_secs(self.header_read_timeout),
                max_subscriptions: self.max_subscriptions,
                outbound_queue: self.outbound_queue,
                send_window: self.send_window,
                slow_client_timeout: Duration::from_secs(self.slow_client_timeout),
            },
        };
        config.check(self.bind)?;
        Ok(config)
    }
}

/// Why the bridge would not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {addr} without --token: other machines could reach the bridge. \
         Set EVENTFOLD_TOKEN to a secret of at least {MIN_PUBLIC_TOKEN_CHARS} characters (--token shows in \
         the process list), or bind a loopback address such as 127.0.0.1:8080"
    )]
    PublicWithoutToken { addr: SocketAddr },
    #[error("--token is empty or blank: give a secret, or leave --token out on a loopback address")]
    EmptyToken,
    #[error(
        "the token is too short to listen on {addr}: other machines could guess it. Give one of at least \
         {MIN_PUBLIC_TOKEN_CHARS} characters (not counting spaces), such as the output of `openssl rand -hex 16`, \
         in EVENTFOLD_TOKEN"
    )]
    ShortToken { addr: SocketAddr },
    #[error(transparent)]
    Files(#[from] files::FilesError),
    #[error(
        "no built page in {}: build it first with `trunk build --release` (it writes dist/), or point --dist at one",
        display_dir(dir)
    )]
    NoPage { dir: PathBuf },
    #[error(transparent)]
    Kafka(#[from] ConfigError),
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(#[source] io::Error),
}

fn display_dir(dir: &Path) -> String {
    format!("{}/", dir.display().to_string().trim_end_matches('/'))
}

/// Serves `listener` until `shutdown` completes, then tells every connection to close
/// (each gets a `closing` frame with its resume offsets and close code 1001) and waits
/// up to [`SHUTDOWN_GRACE`] for them.
pub async fn run<B: Backend>(
    listener: TcpListener,
    config: ServeConfig,
    backend: Arc<B>,
    shutdown: impl Future + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    config.check(addr)?;
    let state = ServerState::new(config, backend);
    let app = router(state.clone());
    tracing::debug!(%addr, "listening");
    accept::serve(listener, app, state.clone(), shutdown).await;
    // Every HTTP connection and every session holds a permit while it runs, so having
    // all of them back means everything has ended. Both were told to close at once,
    // so they are waited for together.
    let (http_closed, sessions_closed) = tokio::join!(
        state.wait_for_http_connections(SHUTDOWN_GRACE),
        state.wait_for_sessions(SHUTDOWN_GRACE)
    );
    if !(http_closed && sessions_closed) {
        warn!("some connections did not close within {:?}", SHUTDOWN_GRACE);
    }
    info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// `eventfold serve`: checks the options, binds, and serves until Ctrl-C or SIGTERM.
pub fn main(args: ServeArgs) -> ExitCode {
    init_logging();
    crate::kafka::memory::tune_malloc();
    let checked = args.config().and_then(|config| {
        let kafka = match args.kafka.enabled() {
            true => Some(args.kafka.client_config()?),
            false => None,
        };
        Ok((config, kafka))
    });
    let (config, kafka) = match checked {
        Ok(checked) => checked,
        Err(err) => {
            eprintln!("eventfold serve: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = open_file_limit(&config.limits, kafka.is_some()) {
        eprintln!("eventfold serve: {err}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("eventfold serve: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let listener = TcpListener::bind(args.bind)
            .await
            .map_err(|source| ServeError::Bind {
                addr: args.bind,
                source,
            })?;
        info!(
            "serving the page from {} on http://{}",
            display_dir(&config.dist),
            listener.local_addr().map_err(ServeError::Serve)?
        );
        match kafka {
            Some(client) => {
                // librdkafka connects on first use and reconnects by itself: the bridge
                // starts even when the broker is not up yet (/healthz says so).
                let backend =
                    KafkaBackend::new(client, config.topics.clone(), config.allow_produce)?
                        .with_stall_timeout(Duration::from_secs(args.stall_timeout))
                        .with_prefetch_kbytes(args.prefetch_kbytes)
                        .with_internal_topics(args.internal_topics);
                info!(
                    brokers = args.kafka.brokers.as_deref().unwrap_or_default(),
                    "relaying Kafka"
                );
                run(listener, config, Arc::new(backend), shutdown_signal()).await
            }
            None => {
                info!("no --brokers: serving the page alone");
                run(listener, config, Arc::new(NoKafka), shutdown_signal()).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("eventfold serve: {err}");
            ExitCode::from(1)
        }
    }
}

/// Raises the open-file limit to the hard one and refuses limits that cannot fit under
/// it (see [`files`]).
fn open_file_limit(limits: &Limits, kafka: bool) -> Result<(), ServeError> {
    let needed = files::files_needed(limits, kafka);
    match files::raise_limit() {
        Ok(Some((before, now))) => {
            // Checked before anything is logged, so a refusal is the only line printed.
            files::check(limits, kafka, now)?;
            if now > before {
                info!(
                    "open-file limit (nofile): raised from {before} to {now}, the hard limit; the connection limits need {needed}"
                );
            } else {
                info!(
                    "open-file limit (nofile): {now}, the hard limit; the connection limits need {needed}"
                );
            }
        }
        Ok(None) => {}
        // Not knowing the limit is no reason to refuse: the limits are then unchecked.
        Err(e) => warn!("cannot read or raise the open-file limit (nofile): {e}"),
    }
    Ok(())
}

/// Structured logs on stderr, filtered by RUST_LOG (default: info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (a test calling main twice) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<&str, &str>) {
        let got = parse_origin(text);
        match (got, expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn a_public_address_needs_a_long_token() {
        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("index.html"), "page").unwrap();
        let check = |bind: &str, token: Option<&str>, expected: Result<(), &str>| {
            let mut config = ServeConfig::new(dist.path());
            config.token = token.map(str::to_owned);
            let got = config.check(bind.parse().unwrap());
            match (got, expected) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(want)) => {
                    assert!(got.to_string().contains(want), "{bind} {token:?}: {got}")
                }
                (got, want) => panic!("{bind} {token:?}: got {got:?}, want {want:?}"),
            }
        };
        check("127.0.0.1:8080", None, Ok(()));
        check("127.0.0.1:8080", Some("s3cret"), Ok(()));
        check("[::1]:8080", Some("s3cret"), Ok(()));
        check(
            "127.0.0.1:8080",
            Some(" \t"),
            Err("--token is empty or blank"),
        );
        check("0.0.0.0:8080", None, Err("without --token"));
        check("0.0.0.0:8080", Some(""), Err("--token is empty or blank"));
        check(
            "0.0.0.0:8080",
            Some("                "),
            Err("--token is empty or blank"),
        );
        check("0.0.0.0:8080", Some("0123456789abcde"), Err("too short"));
        check("192.0.2.1:8080", Some("0123456789 abcde"), Err("too short"));
        check("0.0.0.0:8080", Some("0123456789abcdef"), Ok(()));
        check("[::]:8080", Some("correct horse battery staple"), Ok(()));
    }

    #[test]
    fn origins_are_normalised_or_refused() {
        check("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080"));
        check("HTTPS://Example.com:443/", Ok("https://example.com"));
        check("http://example.com:80", Ok("http://example.com"));
        check("example.com", Err("is not an origin"));
        check("ftp://example.com", Err("starts with http"));
        check("http://example.com/page", Err("without a path"));
    }
}
