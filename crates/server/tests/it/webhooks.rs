//! Webhooks end to end: a real receiver that is down for a while and then
//! up gets every delivery once, in order, each signature verifying; dead
//! letters are listed and replay; a 410 switches the webhook off; a webhook
//! scoped to one conversation can start a flow; bad webhooks are refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_core::flows::webhooks;
use tokio::sync::mpsc;

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, PROMPTLY, TestApp};

/// One request the receiver got, and what it answered.
#[derive(Debug)]
pub(crate) struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON delivery")
    }
}

/// A webhook receiver on a local port: answers with the status it is set
/// to, and reports every request.
pub(crate) struct Receiver {
    pub(crate) url: String,
    answer: Arc<AtomicU16>,
    got: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub(crate) async fn start(status: u16) -> Self {
        let answer = Arc::new(AtomicU16::new(status));
        let (tx, got) = mpsc::unbounded_channel();
        let state = (answer.clone(), tx);
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(
                    |State((answer, tx)): State<(Arc<AtomicU16>, mpsc::UnboundedSender<Received>)>,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        let status = answer.load(Ordering::SeqCst);
                        let _ = tx.send(Received { headers, body: body.to_vec(), answered: status });
                        AxumStatus::from_u16(status).unwrap_or(AxumStatus::OK)
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, answer, got }
    }

    fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(PROMPTLY, self.got.recv()).await.expect("a delivery in time").expect("the receiver runs")
    }
}

/// Retries come quickly in these tests.
async fn app(backend: Backend, attempts: u32) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.outbox_backoff_ms = 20;
        c.outbox_attempts = attempts;
    })
    .await
}

async fn webhook(app: &TestApp, body: Value) -> Value {
    let (status, hook) = app.call(Method::POST, "/api/v1/webhooks", Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    hook
}

/// Polls a webhook's deliveries until `done` holds of them (there is no event
/// to wait for: the outbox is not on any socket).
async fn deliveries_until(app: &TestApp, hook: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    loop {
        let list = app.admin(Method::GET, &format!("/api/v1/webhooks/{hook}/deliveries?limit=100"), None).await;
        let list = list.as_array().cloned().unwrap_or_default();
        if done(&list) {
            return list;
        }
        assert!(tokio::time::Instant::now() < deadline, "deliveries never got there: {list:?}");
        tokio::task::yield_now().await;
    }
}

async fn deliveries_survive_an_outage_once_in_order_and_signed(backend: Backend) {
    let app = app(backend, 1000).await;
    let mut receiver = Receiver::start(503).await;
    let hook = webhook(&app, json!({"url": receiver.url, "events": ["message", "event:use_of_funds"]})).await;
    let hook_id = hook["id"].as_str().unwrap();
    let secret = app.admin(Method::GET, "/api/v1/webhook-secret", None).await["secret"].as_str().unwrap().to_owned();
    let chat = app.chat().await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(app.say(&chat.id, &chat.customer, &format!("m{i}"), None).await["id"].as_str().unwrap().to_owned());
    }
    // Down: the first delivery is tried, and tried again, and nothing after it.
    for _ in 0..3 {
        let r = receiver.next().await;
        assert_eq!((r.answered, r.header("switchboard-event-id")), (503, sent[0].as_str()), "in order, one at a time");
    }
    receiver.answer_with(200);
    let mut delivered = Vec::new();
    while delivered.len() < sent.len() {
        let r = receiver.next().await;
        if r.answered != 200 {
            continue;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!(webhooks::verify(&secret, r.header("switchboard-signature"), &r.body, now, 300), "signature of {r:?}");
        let body = r.json();
        assert_eq!(body["id"], r.header("switchboard-event-id"));
        assert_eq!(body["type"], "message");
        assert_eq!(body["conversation_id"], chat.id.as_str());
        assert_eq!(body["data"]["id"], body["id"]);
        delivered.push(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(delivered, sent, "each once, in the order committed");
    deliveries_until(&app, hook_id, |l| l.len() == 5 && l.iter().all(|d| d["state"] == "done")).await;
    assert!(receiver.got.try_recv().is_err(), "nothing delivered twice");

    // A custom event of a kind it asked for.
    app.admin(
        Method::PUT,
        "/api/v1/event-types/use_of_funds",
        Some(json!({"fields": [{"name": "reason", "type": "text"}]})),
    )
    .await;
    let published = app
        .admin(
            Method::POST,
            "/api/v1/custom-events",
            Some(json!({"type": "use_of_funds", "key": "500AA1", "data": {"reason": "Renovation work"}})),
        )
        .await;
    let r = receiver.next().await;
    assert_eq!(r.header("switchboard-event-type"), "event:use_of_funds");
    assert_eq!(r.json()["data"]["data"]["reason"], "Renovation work");
    assert_eq!(r.json()["id"], published["id"]);
}

async fn dead_deliveries_are_listed_and_replay(backend: Backend) {
    let app = app(backend, 2).await;
    let mut receiver = Receiver::start(500).await;
    let hook = webhook(&app, json!({"url": receiver.url, "events": ["message"]})).await;
    let hook_id = hook["id"].as_str().unwrap();
    let chat = app.chat().await;
    let sent = app.say(&chat.id, &chat.customer, "hello", None).await;
    assert_eq!(receiver.next().await.answered, 500);
    assert_eq!(receiver.next().await.answered, 500);
    let dead = deliveries_until(&app, hook_id, |l| l.first().is_some_and(|d| d["state"] == "dead")).await;
    assert_eq!(dead[0]["attempts"], 2);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("500"), "{dead:?}");
    let listed = app.admin(Method::GET, "/api/v1/outbox?state=dead", None).await;
    assert!(listed.as_array().unwrap().iter().any(|d| d["id"] == dead[0]["id"]), "{listed}");

    receiver.answer_with(200);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/outbox/{}/replay", dead[0]["id"].as_str().unwrap()),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let r = receiver.next().await;
    assert_eq!((r.answered, r.header("switchboard-event-id")), (200, sent["id"].as_str().unwrap()));
    deliveries_until(&app, hook_id, |l| l.first().is_some_and(|d| d["state"] == "done")).await;
}

async fn a_gone_receiver_switches_its_webhook_off(backend: Backend) {
    let app = app(backend, 1000).await;
    let mut receiver = Receiver::start(410).await;
    let hook = webhook(&app, json!({"url": receiver.url, "events": ["message"]})).await;
    let hook_id = hook["id"].as_str().unwrap();
    let chat = app.chat().await;
    app.say(&chat.id, &chat.customer, "one", None).await;
    assert_eq!(receiver.next().await.answered, 410);
    let list = deliveries_until(&app, hook_id, |l| l.first().is_some_and(|d| d["state"] == "done")).await;
    assert!(list[0]["last_error"].as_str().unwrap().contains("410"), "{list:?}");
    let hook = app.admin(Method::GET, &format!("/api/v1/webhooks/{hook_id}"), None).await;
    assert_eq!(hook["enabled"], false, "{hook}");
    assert!(hook["disabled_reason"].as_str().unwrap().contains("410"));
    // Switched back on, it is told again.
    receiver.answer_with(200);
    app.admin(Method::PATCH, &format!("/api/v1/webhooks/{hook_id}"), Some(json!({"enabled": true}))).await;
    let two = app.say(&chat.id, &chat.customer, "two", None).await;
    let r = receiver.next().await;
    assert_eq!((r.answered, r.header("switchboard-event-id")), (200, two["id"].as_str().unwrap()));
}

/// Twilio's pattern: a webhook scoped to one conversation whose target is a
/// flow; each customer message starts it there (not in other chats), and the
/// flow's own messages start nothing.
async fn a_scoped_webhook_starts_a_flow_on_messages(backend: Backend) {
    let app = app(backend, 1000).await;
    let echo = "name: echo\nsteps:\n  say:\n    type: send_message\n    text: \"echo: {{ trigger.data.content }}\"\n    next: end\n";
    let res =
        reqwest::Client::new().post(app.url("/api/v1/flows")).bearer_auth(ADMIN_KEY).body(echo).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let chat = app.chat().await;
    let other = app.chat().await;
    webhook(&app, json!({"flow": "echo", "events": ["message"], "conversation_id": chat.id})).await;
    let mut ws = app.ws(&chat.customer, None).await;
    app.say(&chat.id, &chat.customer, "hi", None).await;
    app.say(&other.id, &other.customer, "elsewhere", None).await;
    loop {
        let e = ws.event().await;
        if e["type"] == "message" && e["participant_id"].is_null() {
            assert_eq!(e["content"], "echo: hi");
            break;
        }
    }
    let runs = app.admin(Method::GET, "/api/v1/flow-runs?flow=echo", None).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "one run, in the scoped conversation only: {runs:?}");
    assert_eq!(runs[0]["conversation_id"], chat.id.as_str());
    assert_eq!(runs[0]["state"], "completed");
}

/// Offers are told too: made, then accepted, each once, in that order.
async fn offers_are_told(backend: Backend) {
    let app = app(backend, 1000).await;
    let mut receiver = Receiver::start(200).await;
    webhook(&app, json!({"url": receiver.url, "events": ["offer.created", "offer.accepted", "offer.declined"]})).await;
    crate::routing::queue(&app, "general", json!({})).await;
    let ann = crate::routing::agent(&app, "Ann", 1, json!({})).await;
    let mut ws = crate::routing::online(&app, &ann).await;
    let (chat, _) = crate::routing::take_chat(&app, &mut ws, "general").await;
    let made = receiver.next().await;
    assert_eq!(made.header("switchboard-event-type"), "offer.created");
    let accepted = receiver.next().await;
    assert_eq!(accepted.header("switchboard-event-type"), "offer.accepted");
    let (made, accepted) = (made.json(), accepted.json());
    assert_eq!(made["data"]["id"], accepted["data"]["id"], "the same offer");
    assert_eq!(accepted["data"]["state"], "accepted");
    assert_eq!(accepted["conversation_id"], chat.as_str());
    assert_eq!(accepted["data"]["agent_id"], ann.id.as_str());
    assert_ne!(made["id"], accepted["id"], "each change has its own event id");
}

async fn bad_webhooks_are_refused(backend: Backend) {
    let app = app(backend, 1000).await;
    let cases = [
        (json!({"url": "ftp://example.com/x", "events": ["message"]}), "url"),
        (json!({"url": "not a url", "events": ["message"]}), "url"),
        (json!({"url": "https://example.com/x", "events": ["mesage"]}), "events[0]"),
        (json!({"url": "https://example.com/x", "events": []}), "events"),
        (json!({"flow": "nope", "events": ["message"]}), "flow"),
        (json!({"url": "https://example.com/x", "flow": "x", "events": ["message"]}), "url"),
    ];
    for (body, field) in cases {
        let (status, err) = app.call(Method::POST, "/api/v1/webhooks", Some(ADMIN_KEY), Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {err}");
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
    }
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/webhooks",
            Some(ADMIN_KEY),
            Some(json!({"url": "https://example.com/x", "events": ["message"], "conversation_id": "cnv_01JDZ3Q5W7Y3J8M2V6X4T9R0PA"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let chat = app.chat().await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/webhooks",
            Some(&chat.customer),
            Some(json!({"url": "https://example.com/x", "events": ["message"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let listed = app.admin(Method::GET, "/api/v1/webhooks", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 0, "nothing was added: {listed}");
}

both_backends!(
    deliveries_survive_an_outage_once_in_order_and_signed,
    dead_deliveries_are_listed_and_replay,
    a_gone_receiver_switches_its_webhook_off,
    a_scoped_webhook_starts_a_flow_on_messages,
    offers_are_told,
    bad_webhooks_are_refused,
);
