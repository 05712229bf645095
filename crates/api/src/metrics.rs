//! Prometheus metrics, served at `/metrics`.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use switchboard_core::store::CommitObserver;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub websocket_connections: Gauge,
    pub events_appended: Counter,
    pub commit_batch_commands: Histogram,
    pub commit_seconds: Histogram,
    pub http_seconds: Family<HttpLabels, Histogram>,
    resident_memory: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let websocket_connections = Gauge::default();
        registry.register("websocket_connections", "Open WebSocket connections", websocket_connections.clone());
        let events_appended = Counter::default();
        registry.register("events_appended", "Events committed to conversation logs", events_appended.clone());
        let commit_batch_commands = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register(
            "commit_batch_commands",
            "Commands per group-commit transaction",
            commit_batch_commands.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 16));
        registry.register("commit_seconds", "Duration of a group-commit transaction", commit_seconds.clone());
        let http_seconds = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_request_seconds", "HTTP request latency", http_seconds.clone());
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the server process",
            resident_memory.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            websocket_connections,
            events_appended,
            commit_batch_commands,
            commit_seconds,
            http_seconds,
            resident_memory,
        }
    }

    pub fn render(&self) -> String {
        if let Some(rss) = resident_bytes() {
            self.resident_memory.set(rss);
        }
        let mut out = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        }
        out
    }
}

impl CommitObserver for Metrics {
    fn batch_committed(&self, commands: usize, events: usize, micros: u64) {
        self.events_appended.inc_by(events as u64);
        self.commit_batch_commands.observe(commands as f64);
        self.commit_seconds.observe(micros as f64 / 1e6);
    }
}

/// The process's resident set, from /proc (Linux); `None` elsewhere.
fn resident_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Times every request, labelled by its route pattern (not its path, so ids
/// do not explode the label set).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let res = next.run(req).await;
    let labels = HttpLabels { method, route, status: res.status().as_u16() };
    state.metrics.http_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    res
}

/// GET /metrics
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
