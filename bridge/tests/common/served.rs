//! A running `eventfold serve` for the tests: `serve::run` on 127.0.0.1:0 over any
//! backend, with a page of its own, and the clients a test talks to it with (a real
//! WebSocket client, tokio-tungstenite, and a real HTTP client, hyper).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use eventfold_bridge::backend::Backend;
use eventfold_bridge::serve::{self, ServeConfig, ServeError};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a client waits for the hello frame, which the bridge sends on connect
/// before it asks a broker anything.
const HELLO_WAIT: Duration = Duration::from_secs(5);

/// A page file the size of a small wasm module (64 KiB), compressible as code is:
/// repeated runs of a few byte patterns with counters between them.
pub fn wasm_like() -> Vec<u8> {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    let mut n: u32 = 0;
    while bytes.len() < 64 * 1024 {
        bytes.extend_from_slice(&[0x20, 0x00, 0x41]);
        bytes.extend_from_slice(&n.to_le_bytes());
        bytes.extend_from_slice(b"\x6a\x21\x01\x0b");
        n = n.wrapping_mul(31).wrapping_add(7) % 1000;
    }
    bytes
}

/// The page the server serves from its dist directory.
pub const PAGE: &str = "<!DOCTYPE html><title>eventfold test page</title>";

/// A running server and what it takes to stop it.
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServeError>>>,
    _dist: TempDir,
}

impl Served {
    /// Serves `backend` with the default configuration as changed by `configure`.
    pub async fn start<B: Backend>(
        backend: Arc<B>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Served {
        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("index.html"), PAGE).unwrap();
        std::fs::write(dist.path().join("app.js"), "console.log('app')").unwrap();
        std::fs::write(dist.path().join("app.wasm"), wasm_like()).unwrap();
        let mut config = ServeConfig::new(dist.path());
        configure(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve::run(listener, config, backend, async {
            let _ = stopped.await;
        }));
        Served {
            addr,
            stop: Some(stop),
            handle: Some(handle),
            _dist: dist,
        }
    }

    pub async fn connect(&self) -> Socket {
        self.connect_to("/ws", &[]).await.unwrap()
    }

    /// Connects and reads the hello frame.
    pub async fn connect_past_hello(&self) -> Socket {
        let mut socket = self.connect().await;
        let hello = text_within(&mut socket, HELLO_WAIT)
            .await
            .expect("a hello frame on connect");
        assert_eq!(hello["type"], "hello", "{hello}");
        socket
    }

    /// Opens a WebSocket at `path` with extra headers; the handshake's error if any.
    pub async fn connect_to(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Socket, tungstenite::Error> {
        let mut request = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            request.headers_mut().insert(name, value.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(socket, _)| socket)
    }

    /// GET over HTTP/1.1: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = self.get_with(path, &[]).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// GET `path` with extra request headers: the status, the response's headers and
    /// its body as sent (not decompressed).
    pub async fn get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, hyper::HeaderMap, Bytes) {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut request =
            hyper::Request::get(path).header(hyper::header::HOST, self.addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = sender
            .send_request(request.body(Empty::<Bytes>::new()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body)
    }

    /// The line of /metrics that starts with `line_start`.
    pub async fn metric(&self, line_start: &str) -> Option<String> {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find(|line| line.starts_with(line_start))
            .map(str::to_owned)
    }

    /// Starts the shutdown (Ctrl-C) and returns at once: the clients read its frames.
    pub fn shut_down(&mut self) {
        let _ = self.stop.take().expect("shut down once").send(());
    }

    /// Waits up to `wait` for `run` to end after a shutdown and returns what it returned.
    pub async fn stopped(mut self, wait: Duration) -> Result<(), ServeError> {
        let handle = self.handle.take().unwrap();
        tokio::time::timeout(wait, handle)
            .await
            .expect("run ends after shutdown")
            .unwrap()
    }

    /// Triggers shutdown and returns what `run` returned, waiting up to `wait`.
    pub async fn stop(mut self, wait: Duration) -> Result<(), ServeError> {
        self.shut_down();
        self.stopped(wait).await
    }
}

/// The next text frame as JSON within `wait` (pings skipped), or `None` when none came;
/// any other frame fails the test.
pub async fn text_within(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()?;
        match message {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

pub async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::text(frame.to_string())).await.unwrap();
}
