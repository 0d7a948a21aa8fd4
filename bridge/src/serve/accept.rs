//! The accept loop: each TCP connection is served with hyper's HTTP/1 until it ends or
//! becomes a WebSocket, within two bounds that `axum::serve` does not offer.
//!
//! - **Connections before the upgrade** are capped at `--max-http-connections`: a
//!   connection past the cap is closed as soon as it is accepted. Its place is given
//!   back when the connection ends or is upgraded, so WebSocket sessions (capped on
//!   their own by `--max-connections`) never count here and a flood of strangers'
//!   sockets cannot starve them.
//! - **Headers must arrive within `--header-read-timeout`**, on a new connection and
//!   for each next request of a kept-alive one, or hyper drops the connection: half a
//!   request cannot hold a place for longer, and neither can an idle keep-alive.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tracing::{debug, error, info};

use super::metrics::Metrics;
use super::{Limits, ServerState};
use crate::backend::Backend;

/// How long the loop pauses after `accept` fails for a reason other than the client
/// (out of file descriptors, say), rather than spin on the same failure. The pending
/// connections wait in the listen backlog meanwhile. axum's own loop does the same.
pub const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Accepts connections on `listener` and serves `app` on them until `shutdown`
/// completes; then stops accepting and tells every connection and session to close
/// ([`ServerState::begin_shutdown`]). It does not wait for them: see
/// [`ServerState::wait_for_http_connections`].
pub(crate) async fn serve<B: Backend>(
    listener: TcpListener,
    app: Router,
    state: ServerState<B>,
    shutdown: impl Future,
) {
    let http = http1(&state.config().limits);
    let closing = state.shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_client_error(&e) => continue,
                Err(e) => {
                    error!("cannot accept a connection: {e}");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let Some(permit) = state.try_http_connection() else {
            // Dropping the stream closes it at once: nothing is read or written for a
            // connection there is no place for.
            state.metrics().refused_connection("http_connections");
            debug!(
                max = state.config().limits.max_http_connections,
                "closed a connection: too many connections before the upgrade"
            );
            continue;
        };
        let place = Place::new(permit, state.metrics());
        tokio::spawn(serve_connection(
            http.clone(),
            stream,
            app.clone(),
            place,
            closing.clone(),
        ));
    }
    drop(listener);
    info!("shutting down: closing the connections");
    state.begin_shutdown();
}

/// hyper's HTTP/1 server with the header read timeout, which needs a timer to run.
fn http1(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
}

/// Serves one connection until it ends, is upgraded (the WebSocket goes on in its own
/// task, spawned by the upgrade handler) or finishes its request after a shutdown.
async fn serve_connection(
    http: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    app: Router,
    place: Place,
    mut closing: watch::Receiver<bool>,
) {
    let service = TowerToHyperService::new(app);
    let connection = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        // The guard `wait_for` returns is dropped at once: it must not be held across
        // the await below.
        _ = async { closing.wait_for(|closing| *closing).await.map(drop) } => {
            // Finishes the request in progress, if any, and closes.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        // A client that goes away or sends garbage is the client's business; the
        // header read timeout ends up here too.
        debug!("HTTP connection ended: {e}");
    }
    drop(place);
}

/// Whether `accept` failed because of the client that was connecting, not the server.
fn is_client_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A connection's place before its upgrade, counted in the `eventfold_http_connections`
/// gauge while it is held.
struct Place {
    _permit: OwnedSemaphorePermit,
    metrics: Metrics,
}

impl Place {
    fn new(permit: OwnedSemaphorePermit, metrics: &Metrics) -> Place {
        metrics.http_connections.inc();
        Place {
            _permit: permit,
            metrics: metrics.clone(),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.metrics.http_connections.dec();
    }
}
