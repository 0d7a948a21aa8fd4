//! The HTTP side: the built page, the WebSocket upgrade, `/healthz` and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_http::compression::Compression;
use tower_http::services::{ServeDir, ServeFile};
use tracing::{debug, warn};

use super::metrics::Metrics;
use super::{ServeConfig, parse_origin, session};
use crate::backend::{Backend, Health};

/// How long `/healthz` waits for the backend's answer before calling Kafka unreachable.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// Close code for a connection without the right token (RFC 6455: policy violation).
pub const CLOSE_POLICY: u16 = 1008;

/// How long a refused WebSocket waits for the client's reply to its close frame, so
/// the client reads the close code rather than a reset connection.
pub const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Refused WebSockets that may wait for the client's close reply at once. A stranger
/// who never replies would otherwise hold a socket for [`REFUSAL_LINGER`] per attempt;
/// past this many, a refused socket is closed as soon as its close frame is written
/// (a client that reads it still sees the code).
pub const REFUSAL_LINGER_SLOTS: usize = 64;

/// What every handler and session shares. Cloning it is cheap.
pub struct ServerState<B> {
    inner: Arc<Inner<B>>,
}

struct Inner<B> {
    config: ServeConfig,
    backend: Arc<B>,
    metrics: Metrics,
    /// One permit per WebSocket session (mini-redis's `limit_connections`).
    connections: Arc<Semaphore>,
    /// One permit per connection before its upgrade ([`super::accept`]).
    http_connections: Arc<Semaphore>,
    /// One permit per refused WebSocket waiting for the client's close reply.
    refusal_lingers: Arc<Semaphore>,
    /// Becomes true when the server shuts down; sessions watch it.
    shutdown: watch::Sender<bool>,
}

impl<B> Clone for ServerState<B> {
    fn clone(&self) -> Self {
        ServerState {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<B: Backend> ServerState<B> {
    pub fn new(config: ServeConfig, backend: Arc<B>) -> ServerState<B> {
        let connections = Arc::new(Semaphore::new(config.limits.max_connections));
        let http_connections = Arc::new(Semaphore::new(config.limits.max_http_connections));
        ServerState {
            inner: Arc::new(Inner {
                config,
                backend,
                metrics: Metrics::new(),
                connections,
                http_connections,
                refusal_lingers: Arc::new(Semaphore::new(REFUSAL_LINGER_SLOTS)),
                shutdown: watch::Sender::new(false),
            }),
        }
    }

    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A receiver that sees `true` once the server shuts down, even if it subscribes
    /// after that moment.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Tells every session to close.
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Waits until every session has ended (all permits are back), at most `grace`.
    /// Returns whether they all did.
    pub async fn wait_for_sessions(&self, grace: Duration) -> bool {
        let all = self.inner.config.limits.max_connections;
        all_back(&self.inner.connections, all, grace).await
    }

    /// A place for one more connection before its upgrade, if there is one.
    pub(crate) fn try_http_connection(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.inner.http_connections)
            .try_acquire_owned()
            .ok()
    }

    /// Waits until every connection before its upgrade has ended, at most `grace`.
    /// Returns whether they all did.
    pub(crate) async fn wait_for_http_connections(&self, grace: Duration) -> bool {
        let all = self.inner.config.limits.max_http_connections;
        all_back(&self.inner.http_connections, all, grace).await
    }
}

/// Whether all `permits` of `semaphore` are back within `grace`.
async fn all_back(semaphore: &Semaphore, permits: usize, grace: Duration) -> bool {
    let permits = u32::try_from(permits).unwrap_or(u32::MAX);
    tokio::time::timeout(grace, semaphore.acquire_many(permits))
        .await
        .is_ok()
}

/// The bridge's routes: `/ws`, `/healthz`, `/metrics`, and the page for every other
/// path (a single-page app: unknown paths get index.html). The page's files are
/// gzipped for a browser that accepts it: its wasm is what the page's download budget
/// (250 KB) counts gzipped, and a classroom on one Wi-Fi fetches it many times.
pub fn router<B: Backend>(state: ServerState<B>) -> Router {
    let dist = &state.config().dist;
    let page =
        Compression::new(ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html"))));
    Router::new()
        .route("/ws", get(upgrade::<B>))
        .route("/healthz", get(healthz::<B>))
        .route("/metrics", get(metrics::<B>))
        .fallback_service(page)
        .with_state(state)
}

/// Checks the origin, the token and the connection limit, and upgrades. Everything
/// else happens in the session.
async fn upgrade<B: Backend>(
    State(state): State<ServerState<B>>,
    headers: HeaderMap,
    // Every pair, so that a repeated `token` is seen (and refused) rather than failing
    // the extractor with an HTTP 400 a page could not read.
    Query(query): Query<Vec<(String, String)>>,
    ws: WebSocketUpgrade,
) -> Response {
    let config = state.config();
    if !origin_allowed(&headers, &config.allowed_origins, config.token.is_some()) {
        state.metrics().refused_connection("origin");
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        debug!(origin, "refused a WebSocket from another origin");
        return (
            StatusCode::FORBIDDEN,
            format!(
                "WebSocket connections from {origin} are not allowed: start the bridge with --allowed-origin {origin} to allow them\n"
            ),
        )
            .into_response();
    }
    let max = config.limits.max_frame_bytes;
    let ws = ws
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(WS_READ_BUFFER)
        .on_failed_upgrade(|e| debug!("WebSocket upgrade failed: {e}"));
    // A browser cannot read the HTTP status of a failed WebSocket handshake, but it can
    // read a close code: so a wrong token upgrades and closes with 1008. The token is
    // checked before a session's place is taken, so strangers with wrong tokens never
    // hold one; the refused socket may wait for the client's close reply only in one of
    // the few linger slots.
    if !token_ok(config.token.as_deref(), &query) {
        state.metrics().refused_connection("token");
        return ws.on_upgrade(move |socket| async move {
            let linger = Arc::clone(&state.inner.refusal_lingers)
                .try_acquire_owned()
                .ok();
            refuse(socket, CLOSE_POLICY, "missing or wrong token", linger).await;
        });
    }
    let Ok(permit) = Arc::clone(&state.inner.connections).try_acquire_owned() else {
        state.metrics().refused_connection("connections");
        warn!(
            max = config.limits.max_connections,
            "refused a WebSocket: too many connections"
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the bridge serves at most {} connections (--max-connections); try again later\n",
                config.limits.max_connections
            ),
        )
            .into_response();
    };
    ws.on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        session::run(sink, stream, state, permit).await;
    })
}

/// Whether a query carries the token `expected` (any query does when there is none):
/// exactly one `token` parameter, equal to it. A repeated `token` is refused like a
/// wrong one, whichever of its values is right, so no reading of the query can differ
/// from this one.
fn token_ok(expected: Option<&str>, query: &[(String, String)]) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let mut given = query.iter().filter(|(name, _)| name == "token");
    match (given.next(), given.next()) {
        (Some((_, token)), None) => same_secret(token.as_bytes(), expected.as_bytes()),
        _ => false,
    }
}

/// The chunk a WebSocket reads the client's bytes in. tungstenite zero-fills its whole
/// read chunk (128 KiB by default) before reading into it, so the default costs every
/// connection 128 KiB of resident memory: with it, the bridge held 375 MiB for 1 000
/// idle tailing clients, 254 MiB with 4 KiB (docs/perf.md). Clients send small requests;
/// a larger frame is just read in more chunks.
pub const WS_READ_BUFFER: usize = 4 << 10;

/// Closes a fresh socket with `code` and, given a linger slot, waits up to
/// [`REFUSAL_LINGER`] for the client's close reply, so the client sees the code rather
/// than a connection reset by a close that came before the reply.
async fn refuse(
    mut socket: WebSocket,
    code: u16,
    reason: &'static str,
    linger: Option<OwnedSemaphorePermit>,
) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() || linger.is_none() {
        return;
    }
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Whether a WebSocket handshake may proceed, judged by its Origin header.
///
/// Browsers send Origin on every WebSocket handshake, and a page from another site
/// could otherwise use the visitor's access to the bridge. A request without Origin
/// does not come from a browser page; such a client could send any Origin anyway, so
/// the token, not this check, guards against it.
///
/// The page's own origin (Origin matching Host) counts only when the host is an IP
/// address or `localhost`, or when a token guards the bridge: otherwise a page on an
/// attacker's name that resolves to 127.0.0.1 (DNS rebinding) would pass as the
/// bridge's own. A bridge behind a proxy with a name lists it with --allowed-origin.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String], has_token: bool) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| parse_origin(o).ok()) else {
        // `null` (a sandboxed page or a file) and anything unreadable.
        return false;
    };
    if allowed.contains(&origin) {
        return true;
    }
    // The page's own origin: the same host and port the browser asked this server for.
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(&host);
    authority == host && (has_token || names_this_machine(host))
}

/// Whether `host[:port]` names the machine by address or as `localhost`.
fn names_this_machine(authority: &str) -> bool {
    if authority.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    let name = match authority.rsplit_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok() => name,
        _ => authority,
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok()
}

/// Compares secrets in time independent of where they differ.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// `{"ok":true,"kafka":"reachable"|"not configured"}` with 200, or
/// `{"ok":false,"kafka":"unreachable","error":…}` with 503, so a load balancer can
/// route around a bridge whose broker is away.
async fn healthz<B: Backend>(State(state): State<ServerState<B>>) -> Response {
    let health = tokio::time::timeout(HEALTH_TIMEOUT, state.backend().health())
        .await
        .unwrap_or_else(|_| {
            Health::Unreachable(format!("no answer within {} s", HEALTH_TIMEOUT.as_secs()))
        });
    let (status, body) = match health {
        Health::NotConfigured => (
            StatusCode::OK,
            serde_json::json!({"ok": true, "kafka": "not configured"}),
        ),
        Health::Reachable => (
            StatusCode::OK,
            serde_json::json!({"ok": true, "kafka": "reachable"}),
        ),
        Health::Unreachable(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"ok": false, "kafka": "unreachable", "error": error}),
        ),
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics<B: Backend>(State(state): State<ServerState<B>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(origin: Option<&str>, host: &str, allowed: &[&str], expected: bool) {
        check_with_token(origin, host, allowed, false, expected);
    }

    fn check_with_token(
        origin: Option<&str>,
        host: &str,
        allowed: &[&str],
        token: bool,
        expected: bool,
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        let allowed: Vec<String> = allowed.iter().map(|a| parse_origin(a).unwrap()).collect();
        assert_eq!(
            origin_allowed(&headers, &allowed, token),
            expected,
            "origin {origin:?}, host {host}, allowed {allowed:?}"
        );
    }

    #[test]
    fn only_the_pages_own_origin_or_listed_ones_may_connect() {
        check(Some("http://127.0.0.1:8080"), "127.0.0.1:8080", &[], true);
        check(Some("http://LOCALHOST:8080"), "localhost:8080", &[], true);
        check(Some("http://[::1]:8080"), "[::1]:8080", &[], true);
        // A name is the page's own only with a token: DNS rebinding could fake it.
        check(
            Some("http://evil.example:8080"),
            "evil.example:8080",
            &[],
            false,
        );
        check_with_token(
            Some("https://bridge.example"),
            "bridge.example:443",
            &[],
            true,
            true,
        );
        check(
            Some("https://bridge.example"),
            "bridge.example",
            &["https://bridge.example"],
            true,
        );
        check(Some("http://127.0.0.1:9999"), "127.0.0.1:8080", &[], false);
        check(Some("https://evil.example"), "127.0.0.1:8080", &[], false);
        check(Some("null"), "127.0.0.1:8080", &[], false);
        check(
            Some("https://app.example"),
            "127.0.0.1:8080",
            &["https://app.example/"],
            true,
        );
        check(None, "127.0.0.1:8080", &[], true);
    }

    #[test]
    fn exactly_one_right_token_is_accepted() {
        let check = |expected: Option<&str>, query: &[(&str, &str)], ok: bool| {
            let query: Vec<(String, String)> = query
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect();
            assert_eq!(token_ok(expected, &query), ok, "{expected:?} {query:?}");
        };
        check(Some("s3cret"), &[("token", "s3cret")], true);
        check(Some("s3cret"), &[("other", "x"), ("token", "s3cret")], true);
        check(Some("s3cret"), &[], false);
        check(Some("s3cret"), &[("token", "wrong")], false);
        check(
            Some("s3cret"),
            &[("token", "s3cret"), ("token", "s3cret")],
            false,
        );
        check(
            Some("s3cret"),
            &[("token", "wrong"), ("token", "s3cret")],
            false,
        );
        check(
            Some("s3cret"),
            &[("token", "s3cret"), ("token", "wrong")],
            false,
        );
        check(None, &[], true);
        check(None, &[("token", "a"), ("token", "b")], true);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cres", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }
}
