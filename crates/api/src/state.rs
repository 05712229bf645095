//! What every handler is given: the engine, the metrics, the settings of the
//! edge, and the shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use switchboard_core::engine::Engine;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;

/// Settings of the HTTP and WebSocket edge, with their defaults.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The base URL clients reach this server at (used in URLs it hands out).
    pub public_url: String,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest WebSocket message (and frame), in bytes.
    pub max_frame_bytes: usize,
    /// WebSocket ping interval; a silent peer is dropped after two.
    pub heartbeat: Duration,
    /// Longest long-poll wait a client may ask for.
    pub max_poll_wait: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            max_frame_bytes: 64 * 1024,
            heartbeat: Duration::from_secs(20),
            max_poll_wait: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    pub config: Arc<ApiConfig>,
    /// Cancelled when the server begins to shut down: sockets close, polls end.
    pub shutdown: CancellationToken,
    /// The WebSocket tasks, so shutdown can wait for their close frames
    /// before the store goes away.
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish()
    }
}
