//! The port through which flows reach other systems over HTTP. The server
//! implements it; tests may stand a real server behind it.

use std::time::Duration;

use async_trait::async_trait;

use super::model::Method;

/// One HTTP request a flow makes.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub method: Method,
    pub url: String,
    /// Sent as given (a JSON body comes with its `content-type`).
    pub headers: Vec<(String, String)>,
    /// The body's bytes, sent exactly (a webhook's signature covers them).
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// The body as JSON when it is JSON, else as a string.
    pub body: serde_json::Value,
}

/// Why no reply came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    /// No answer within the call's timeout (a flow's `on_timeout`).
    #[error("the request timed out")]
    TimedOut,
    /// Refused, reset, too large, …, with a message for `vars.error`.
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait HttpClient: Send + Sync + 'static {
    /// Sends the request; `Err` when no reply came.
    async fn send(&self, call: HttpCall) -> Result<HttpReply, HttpFailure>;
}
