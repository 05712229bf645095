//! The REST side: an admin client for the server's API, used to create the
//! conversations and participants before a run (with bounded concurrency and
//! a progress line) and to read transcripts back afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::client::SIDES;
use crate::report::Progress;

/// One conversation made for the run; `tokens` are indexed like `SIDES`.
pub struct Conversation {
    pub id: String,
    pub tokens: [String; 2],
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    auth: String,
}

enum Body {
    Json(serde_json::Value),
    Text(String),
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Added {
    token: String,
}

/// One page of `GET …/transcript`.
#[derive(Deserialize)]
pub struct TranscriptPage {
    pub events: Vec<TranscriptEvent>,
    #[serde(default)]
    pub next_after_seq: Option<u64>,
}

#[derive(Deserialize)]
pub struct TranscriptEvent {
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub client_token: Option<String>,
}

impl Api {
    pub fn new(url: &str, admin_key: &str, concurrency: usize) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(concurrency)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, base: format!("{}/api/v1", url.trim_end_matches('/')), auth: format!("Bearer {admin_key}") })
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: serde_json::Value) -> Result<T> {
        self.send(reqwest::Method::POST, path, &self.auth, Some(Body::Json(body))).await
    }

    /// POST as someone else (a participant's token).
    pub async fn post_as<T: DeserializeOwned>(&self, token: &str, path: &str, body: serde_json::Value) -> Result<T> {
        self.send(reqwest::Method::POST, path, &format!("Bearer {token}"), Some(Body::Json(body))).await
    }

    /// POST a text body (a flow file).
    pub async fn post_text<T: DeserializeOwned>(&self, path: &str, body: &str) -> Result<T> {
        self.send(reqwest::Method::POST, path, &self.auth, Some(Body::Text(body.to_owned()))).await
    }

    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: serde_json::Value) -> Result<T> {
        self.send(reqwest::Method::PUT, path, &self.auth, Some(Body::Json(body))).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(reqwest::Method::DELETE, path, &self.auth, None).await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(reqwest::Method::GET, path, &self.auth, None).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: &str,
        body: Option<Body>,
    ) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url).header(reqwest::header::AUTHORIZATION, auth);
        request = match body {
            Some(Body::Json(v)) => request.json(&v),
            Some(Body::Text(t)) => request.header(reqwest::header::CONTENT_TYPE, "application/yaml").body(t),
            None => request,
        };
        let response = request.send().await.with_context(|| format!("{method} {url}"))?;
        decode(response, method.as_str(), &url).await
    }

    /// A conversation with a customer and an agent, each with its stream token.
    async fn conversation(&self, index: u32) -> Result<Conversation> {
        let created: Created = self.post("/conversations", serde_json::json!({})).await?;
        let mut tokens: [String; 2] = Default::default();
        for (side, role) in SIDES.iter().enumerate() {
            let body = serde_json::json!({ "role": role, "display_name": format!("{}{index}", &role[..1]) });
            let added: Added = self.post(&format!("/conversations/{}/participants", created.id), body).await?;
            tokens[side] = added.token;
        }
        Ok(Conversation { id: created.id, tokens })
    }

    pub async fn transcript_page(&self, conversation: &str, after_seq: u64, limit: u32) -> Result<TranscriptPage> {
        self.get(&format!("/conversations/{conversation}/transcript?after_seq={after_seq}&limit={limit}")).await
    }
}

/// Success (any 2xx; the API answers 201 to creations) decoded as JSON, or an
/// error carrying the status and the start of the body.
async fn decode<T: DeserializeOwned>(response: reqwest::Response, method: &str, url: &str) -> Result<T> {
    let status = response.status();
    let body = response.bytes().await.with_context(|| format!("{method} {url}: reading the body"))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.chars().take(400).collect();
        bail!("{method} {url}: {status}: {text}");
    }
    // A 204 has no body: read it as null.
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(body).with_context(|| format!("{method} {url}: unexpected response body"))
}

/// Creates `count` conversations, `concurrency` at a time, in index order.
pub async fn create_conversations(api: &Api, count: u32, concurrency: usize) -> Result<Vec<Conversation>> {
    let done = Arc::new(AtomicU64::new(0));
    let _progress = Progress::spawn("setup conversations", done.clone(), u64::from(count));
    let started = std::time::Instant::now();
    let conversations: Vec<Conversation> = stream::iter(0..count)
        .map(|i| {
            let done = done.clone();
            async move {
                let conversation = api.conversation(i).await.with_context(|| format!("setting up conversation {i}"))?;
                done.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(conversation)
            }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    eprintln!("setup: {count} conversations ({} participants) in {:.1} s", count * 2, started.elapsed().as_secs_f64());
    Ok(conversations)
}
