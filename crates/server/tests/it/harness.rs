//! The test harness: a real server on a random port with a fresh database
//! (SQLite in a temporary directory, or a fresh PostgreSQL schema), a typed
//! HTTP client and real WebSocket clients.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::Config;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const ADMIN_KEY: &str = "sbk_test-admin-key";
/// How long a test waits for something that should happen promptly.
pub const PROMPTLY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub config: Config,
    /// The server's own engine, for what a test drives on a clock of its
    /// own (a retention pass as of a later day) through the server's writer.
    pub engine: std::sync::Arc<switchboard_core::engine::Engine>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

/// A conversation with a customer and an agent, made through the admin API.
#[derive(Debug, Clone)]
pub struct Chat {
    pub id: String,
    pub customer: String,
    pub customer_id: String,
    pub agent: String,
    pub agent_id: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let mut config = Config::with_defaults("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.admin_key = Some(ADMIN_KEY.into());
        config.sends_per_second = 0;
        if backend == Backend::Postgres {
            config.storage.database_url = Some(switchboard_store::testing::fresh_postgres_url().await);
        }
        tweak(&mut config);
        Self::start(config, dir).await
    }

    async fn start(mut config: Config, dir: std::sync::Arc<tempfile::TempDir>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        config.listen = addr;
        let (stop, stopped) = oneshot::channel::<()>();
        let (started, engine) = oneshot::channel();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(switchboard::serve_with(listener, config.clone(), shutdown, move |engine| {
            let _ = started.send(engine);
        }));
        let engine = engine.await.expect("the server started");
        let app =
            Self { addr, http: reqwest::Client::new(), config, engine, stop: Some(stop), task: Some(task), _dir: dir };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + PROMPTLY;
        loop {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "server did not become ready");
            tokio::task::yield_now().await;
        }
    }

    /// Shuts the server down gracefully and waits until it has.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Two servers on one fresh PostgreSQL database, each with its own
    /// router and timer worker, joined through NATS on a subject of their own.
    pub async fn two_on_one_postgres() -> (Self, Self) {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let subject = format!("switchboard.test.{}.{nanos}", std::process::id());
        let nats = |c: &mut Config| {
            c.nats_url = Some("nats://127.0.0.1:4222".into());
            c.nats_subject = subject.clone();
        };
        let one = Self::spawn_with(Backend::Postgres, nats).await;
        let url = one.config.storage.database_url.clone();
        let two = Self::spawn_with(Backend::Postgres, |c| {
            nats(c);
            c.storage.database_url = url;
        })
        .await;
        (one, two)
    }

    /// Stops the server and starts another on the same database.
    pub async fn restart(mut self) -> Self {
        self.stop().await;
        Self::start(self.config.clone(), self._dir.clone()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request with an optional bearer and JSON body; returns status and JSON (Null if no body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            parse_json(&text, &format!("{path}: {status}")).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, json) = self.call(method, path, Some(ADMIN_KEY), body).await;
        assert!(status.is_success(), "{path}: {status} {json}");
        json
    }

    pub async fn chat(&self) -> Chat {
        create_chat(&self.http, &self.url("")).await
    }

    /// Sends a message over REST and returns its committed event.
    pub async fn say(&self, chat: &str, token: &str, text: &str, client_token: Option<&str>) -> Value {
        let path = format!("/api/v1/conversations/{chat}/messages");
        let (status, json) = self
            .call(Method::POST, &path, Some(token), Some(json!({"content": text, "client_token": client_token})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }

    /// Every event of a conversation, read page by page.
    pub async fn transcript(&self, chat: &str) -> Vec<Value> {
        read_transcript(&self.http, &self.url(""), chat).await
    }

    pub async fn ws(&self, token: &str, after_seq: Option<i64>) -> Ws {
        let mut url = format!("ws://{}/api/v1/stream?token={token}", self.addr);
        if let Some(n) = after_seq {
            url.push_str(&format!("&after_seq={n}"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
        let mut ws = Ws { stream };
        let hello = ws.frame().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        ws
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Opens a conversation with a customer and an agent through the admin API of the server at `base`.
pub async fn create_chat(http: &reqwest::Client, base: &str) -> Chat {
    let post = |path: String, body: Value| {
        let req = http.post(format!("{base}{path}")).bearer_auth(ADMIN_KEY).json(&body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            assert!(status.is_success(), "{path}: {status}");
            json_body(&res.text().await.unwrap(), &path)
        }
    };
    let c = post("/api/v1/conversations".into(), json!({})).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let customer = post(format!("/api/v1/conversations/{id}/participants"), json!({"role": "customer"})).await;
    let agent = post(format!("/api/v1/conversations/{id}/participants"), json!({"role": "agent"})).await;
    Chat {
        id,
        customer: customer["token"].as_str().unwrap().to_owned(),
        customer_id: customer["participant"]["id"].as_str().unwrap().to_owned(),
        agent: agent["token"].as_str().unwrap().to_owned(),
        agent_id: agent["participant"]["id"].as_str().unwrap().to_owned(),
    }
}

/// Every event of a conversation on the server at `base`, read page by page.
pub async fn read_transcript(http: &reqwest::Client, base: &str, chat: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let url = format!("{base}/api/v1/conversations/{chat}/transcript?after_seq={after}&limit=500");
        let res = http.get(&url).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let page = json_body(&res.text().await.unwrap(), &url);
        out.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_after_seq"].as_i64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

/// Parses JSON the server wrote, refusing an object that repeats a key (at
/// any depth): strict parsers reject those, so the server must never write
/// one. Panics naming the key and showing `text`; `None` if `text` is not
/// JSON at all. `what` says where it came from.
pub fn parse_json(text: &str, what: &str) -> Option<Value> {
    match switchboard_core::strict_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) if serde_json::from_str::<Value>(text).is_ok() => {
            panic!("{what}: the server wrote JSON with a repeated key: {e}\n{text}")
        }
        Err(_) => None,
    }
}

/// Like [`parse_json`], but the body must be JSON.
pub fn json_body(text: &str, what: &str) -> Value {
    parse_json(text, what).unwrap_or_else(|| panic!("{what}: not JSON: {text}"))
}

#[test]
#[should_panic(expected = "duplicate key `participant_id`")]
fn a_repeated_key_fails_the_test() {
    json_body(r#"{"event":{"participant_id":"prt_1","type":"participant.joined","participant_id":"prt_2"}}"#, "frame");
}

#[test]
fn bodies_that_are_not_json_are_kept_as_text() {
    assert_eq!(parse_json("ok", "body"), None);
    assert_eq!(parse_json(r#"{"a":{"a":1}}"#, "body"), Some(json!({"a": {"a": 1}})));
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// The next JSON frame; panics if none comes promptly or the socket closes.
    pub async fn frame(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(PROMPTLY, self.stream.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("socket closed")
                .expect("socket error");
            match msg {
                Message::Text(t) => return json_body(t.as_str(), "websocket frame"),
                Message::Close(c) => panic!("socket closed: {c:?}"),
                _ => {}
            }
        }
    }

    /// The next `event` frame's event, skipping other frames.
    pub async fn event(&mut self) -> Value {
        loop {
            let f = self.frame().await;
            if f["type"] == "event" {
                return f["event"].clone();
            }
        }
    }

    /// The next frame of the given type, skipping others.
    pub async fn frame_of(&mut self, kind: &str) -> Value {
        loop {
            let f = self.frame().await;
            if f["type"] == kind {
                return f;
            }
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream.send(Message::Text(frame.to_string().into())).await.unwrap();
    }

    /// Waits for the server to close the socket; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(PROMPTLY, self.stream.next()).await.expect("timed out waiting for close") {
                Some(Ok(Message::Close(c))) => return c.map(|c| c.code.into()),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }
}

/// Writes each test twice: for SQLite and for PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::harness::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
            async fn $name() { super::$name($crate::harness::Backend::Postgres).await }
            )*
        }
    };
}
