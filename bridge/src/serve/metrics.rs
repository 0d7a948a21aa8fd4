//! The bridge's Prometheus metrics, served as text at `/metrics`.
//!
//! Each server has its own registry rather than the process-wide default one, so
//! several servers in one process (the tests) count separately.

use eventfold_core::wire::ErrorCode;
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// The counters and gauges a server updates.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub connections: IntGauge,
    /// Connections not (yet) upgraded to WebSockets.
    pub http_connections: IntGauge,
    pub subscriptions: IntGauge,
    pub records_relayed: IntCounter,
    pub bytes_sent: IntCounter,
    pub produce_acks: IntCounter,
    pub produce_errors: IntCounter,
    pub slow_client_closes: IntCounter,
    pub subscription_rebuilds: IntCounter,
    /// `error` frames sent, by code.
    frames_refused: IntCounterVec,
    /// Connections refused, by reason: WebSocket upgrades (origin, token, connections)
    /// and connections closed at accept (http_connections).
    connections_refused: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        // The names and help texts are constants: registering them cannot fail, and a
        // failure here would be a programming error found by every test.
        let gauge = |name: &str, help: &str| {
            let metric = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("unique metric");
            metric
        };
        let counter = |name: &str, help: &str| {
            let metric = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("unique metric");
            metric
        };
        let counter_vec = |name: &str, help: &str, label: &str| {
            let metric = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            registry
                .register(Box::new(metric.clone()))
                .expect("unique metric");
            metric
        };
        Metrics {
            connections: gauge("eventfold_connections", "Open WebSocket connections."),
            http_connections: gauge(
                "eventfold_http_connections",
                "Open connections not upgraded to WebSockets: page downloads and handshakes.",
            ),
            subscriptions: gauge("eventfold_subscriptions", "Running subscriptions."),
            records_relayed: counter(
                "eventfold_records_relayed_total",
                "Records written to WebSocket clients.",
            ),
            bytes_sent: counter(
                "eventfold_bytes_sent_total",
                "Bytes of WebSocket text frames written to clients.",
            ),
            produce_acks: counter(
                "eventfold_produce_acks_total",
                "Produce requests the broker acknowledged.",
            ),
            produce_errors: counter(
                "eventfold_produce_errors_total",
                "Produce requests that failed.",
            ),
            slow_client_closes: counter(
                "eventfold_slow_client_closes_total",
                "Connections closed because the client stayed behind.",
            ),
            subscription_rebuilds: counter(
                "eventfold_subscription_rebuilds_total",
                "Subscriptions rebuilt with a fresh consumer after stalling while records waited.",
            ),
            frames_refused: counter_vec(
                "eventfold_frames_refused_total",
                "Error frames sent to clients, by code.",
                "code",
            ),
            connections_refused: counter_vec(
                "eventfold_connections_refused_total",
                "Connections refused, by reason.",
                "reason",
            ),
            registry,
        }
    }

    pub fn refused_frame(&self, code: ErrorCode) {
        let label = serde_json::to_value(code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        self.frames_refused.with_label_values(&[&label]).inc();
    }

    pub fn refused_connection(&self, reason: &str) {
        self.connections_refused.with_label_values(&[reason]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for lack of space; a failure would mean a
        // malformed metric, which the registry refused already.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("cannot encode the metrics: {e}");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}
