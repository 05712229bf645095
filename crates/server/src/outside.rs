//! Flows' HTTP calls, made with reqwest: a bounded reply, a few redirects,
//! the flow's timeout.

use async_trait::async_trait;
use futures_util::StreamExt;
use switchboard_core::flows::model::Method;
use switchboard_core::flows::outside::{HttpCall, HttpClient, HttpFailure, HttpReply};

/// The largest reply body read; more is an error.
const MAX_REPLY_BYTES: usize = 1024 * 1024;

pub struct Reqwest {
    client: reqwest::Client,
}

impl Reqwest {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait]
impl HttpClient for Reqwest {
    async fn send(&self, call: HttpCall) -> Result<HttpReply, HttpFailure> {
        let method = match call.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut req = self.client.request(method, &call.url).timeout(call.timeout);
        for (k, v) in &call.headers {
            req = req.header(k, v);
        }
        if let Some(body) = call.body {
            req = req.body(body);
        }
        let res = req.send().await.map_err(|e| describe(&e))?;
        let status = res.status().as_u16();
        let json = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let mut bytes = Vec::new();
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| describe(&e))?;
            if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(HttpFailure::Failed(format!("the reply is larger than {MAX_REPLY_BYTES} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) if json => v,
            _ => serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        };
        Ok(HttpReply { status, body })
    }
}

fn describe(e: &reqwest::Error) -> HttpFailure {
    if e.is_timeout() {
        HttpFailure::TimedOut
    } else if e.is_connect() {
        HttpFailure::Failed("could not connect".to_owned())
    } else {
        HttpFailure::Failed(format!("the request failed: {e}"))
    }
}
