//! Bad input against the real server: arbitrary bodies, query strings and
//! WebSocket frames. Whatever comes in, the answer is a 2xx or a 4xx in the
//! error shape, never a 5xx, and nothing already stored is lost.

use futures_util::SinkExt;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::connect::{Socket, connection, native_say};
use crate::harness::{ADMIN_KEY, Backend, TestApp, json_body};

/// Bodies: raw bytes, JSON-looking text, and JSON values of every shape.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let scalar = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
    ];
    let value = scalar.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::hash_map(
                prop_oneof![
                    Just("content".to_owned()),
                    Just("type".to_owned()),
                    Just("role".to_owned()),
                    Just("attributes".to_owned()),
                    Just("client_token".to_owned()),
                    Just("message_id".to_owned()),
                    Just("name".to_owned()),
                    Just("queue".to_owned()),
                    Just("expression".to_owned()),
                    Just("capacity".to_owned()),
                    Just("activity".to_owned()),
                    Just("offer_id".to_owned()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        value.prop_map(|v| v.to_string().into_bytes()),
        r#"\{"[a-z_]{1,12}":[^}]{0,30}\}"#.prop_map(String::into_bytes),
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,10}=[-0-9a-z%]{0,12}(&[a-z_]{1,10}=[-0-9a-z%]{0,12}){0,3}",
        Just("after_seq=-1".to_owned()),
        Just("after_seq=99999999999999999999".to_owned()),
        Just("limit=0&order=desc".to_owned()),
        Just("wait=0&after_seq=0&limit=100000".to_owned()),
    ]
}

/// `n` values drawn from a strategy (the requests are async, so the values
/// are drawn first and sent after; a failure names the input it failed on).
pub(crate) fn samples<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect()
}

crate::both_backends!(
    no_vendor_input_makes_a_5xx_or_breaks_a_socket,
    no_body_or_query_makes_a_5xx,
    no_frame_breaks_a_socket,
    no_routing_input_makes_a_5xx,
    no_frame_breaks_an_agent_socket
);

/// An agent with a token, in the admin's workspace.
async fn agent_token(app: &TestApp) -> (String, String) {
    let a = app.admin(Method::POST, "/api/v1/agents", Some(json!({"name": "Fuzz", "capacity": 2}))).await;
    let id = a["id"].as_str().unwrap().to_owned();
    let t = app.admin(Method::POST, &format!("/api/v1/agents/{id}/tokens"), Some(json!({}))).await;
    (id, t["token"].as_str().unwrap().to_owned())
}

async fn no_routing_input_makes_a_5xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = app.admin(Method::POST, "/api/v1/queues", Some(json!({"name": "general"}))).await;
    let q = q["id"].as_str().unwrap().to_owned();
    let (agent, token) = agent_token(&app).await;
    let chat = app.chat().await;
    let c = &chat.id;
    let admin = ADMIN_KEY.to_owned();
    let calls = [
        (Method::POST, "/api/v1/queues".to_owned(), admin.clone()),
        (Method::PATCH, format!("/api/v1/queues/{q}"), admin.clone()),
        (Method::POST, "/api/v1/agents".to_owned(), admin.clone()),
        (Method::PATCH, format!("/api/v1/agents/{agent}"), admin.clone()),
        (Method::PUT, "/api/v1/agents/me/activity".to_owned(), token.clone()),
        (Method::POST, "/api/v1/activities".to_owned(), admin.clone()),
        (Method::PUT, "/api/v1/workflow".to_owned(), admin.clone()),
        (Method::POST, "/api/v1/agents/login".to_owned(), String::new()),
        (Method::POST, format!("/api/v1/conversations/{c}/route"), admin.clone()),
        (Method::POST, format!("/api/v1/conversations/{c}/transfer"), token.clone()),
        (Method::POST, format!("/api/v1/conversations/{c}/agent-input"), admin.clone()),
        (Method::POST, format!("/api/v1/conversations/{c}/file-requests"), chat.agent.clone()),
        (Method::POST, "/api/v1/offers/ofr_01JDZ3Q5W7Y3J8M2V6X4T9R0PA/accept".to_owned(), token.clone()),
    ];
    for (bytes, i) in samples((body(), 0..calls.len()), 96) {
        let (method, path, bearer) = &calls[i];
        let mut req = app.http.request(method.clone(), app.url(path)).header("content-type", "application/json");
        req = req.body(bytes.clone());
        if !bearer.is_empty() {
            req = req.bearer_auth(bearer);
        }
        check(req.send().await.unwrap(), path, &bytes).await;
    }
    // The queue still routes: a chat put in line reaches the agent.
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let agents = app.admin(Method::GET, "/api/v1/agents", None).await;
    for a in agents.as_array().unwrap() {
        assert!(a["load"].as_u64() <= a["capacity"].as_u64(), "{a}");
    }
}

async fn no_frame_breaks_an_agent_socket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, token) = agent_token(&app).await;
    let mut ws = app.ws(&token, None).await;
    for f in samples(body(), 64) {
        let msg = match String::from_utf8(f) {
            Ok(t) => Message::Text(t.into()),
            Err(e) => Message::Binary(e.into_bytes().into()),
        };
        ws.stream.send(msg).await.unwrap();
    }
    // Still answering commands in order after all that.
    ws.send(json!({"type": "activity", "ref": "last", "activity": "away"})).await;
    loop {
        let f = ws.frame().await;
        if f["type"] == "ack" && f["ref"] == "last" {
            assert_eq!(f["result"]["activity"], "away");
            break;
        }
        if f["type"] == "error" {
            assert!(f["error"]["code"].is_string());
        }
    }
}

async fn no_body_or_query_makes_a_5xx(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let before = app.transcript(&chat.id).await;
    let ep = app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned();
    let c = &chat.id;
    let posts = [
        (format!("/api/v1/conversations/{c}/messages"), chat.customer.clone()),
        (format!("/api/v1/conversations/{c}/events"), chat.agent.clone()),
        (format!("/api/v1/conversations/{c}"), ADMIN_KEY.to_owned()),
        (format!("/api/v1/conversations/{c}/participants"), ADMIN_KEY.to_owned()),
        (format!("/api/v1/entry-points/{ep}/chats"), String::new()),
        ("/api/v1/entry-points".to_owned(), ADMIN_KEY.to_owned()),
    ];
    let gets = [
        format!("/api/v1/conversations/{c}/transcript"),
        format!("/api/v1/conversations/{c}/poll"),
        "/api/v1/conversations".to_owned(),
    ];

    for (bytes, q, post, get) in samples((body(), query(), 0..posts.len(), 0..gets.len()), 64) {
        let (path, token) = &posts[post];
        let method = if path.ends_with(c.as_str()) { Method::PATCH } else { Method::POST };
        let mut req =
            app.http.request(method, app.url(path)).header("content-type", "application/json").body(bytes.clone());
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        check(res, path, &bytes).await;
        let path = format!("{}?{q}", gets[get]);
        let res = app.http.get(app.url(&path)).bearer_auth(ADMIN_KEY).send().await.unwrap();
        check(res, &path, q.as_bytes()).await;
    }
    // What was stored before is all still there, in order.
    let after = app.transcript(&chat.id).await;
    assert_eq!(after[..before.len()], before[..]);
    let seqs: Vec<i64> = after.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=after.len() as i64).collect::<Vec<_>>());
}

async fn check(res: reqwest::Response, path: &str, input: &[u8]) {
    let status = res.status();
    assert!(!status.is_server_error(), "{path} answered {status} to {:?}", String::from_utf8_lossy(input));
    if status.is_client_error() {
        let text = res.text().await.unwrap();
        let body = crate::harness::parse_json(&text, path)
            .unwrap_or_else(|| panic!("{path} {status}: error body is not JSON: {text}"));
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{path}: {body}");
    }
}

async fn no_frame_breaks_a_socket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let mut ws = app.ws(&chat.customer, None).await;
    for f in samples(body(), 64) {
        let msg = match String::from_utf8(f) {
            Ok(t) => Message::Text(t.into()),
            Err(e) => Message::Binary(e.into_bytes().into()),
        };
        ws.stream.send(msg).await.unwrap();
    }
    // The socket still works: a real send is acknowledged after all that.
    ws.send(json!({"type": "send", "ref": "last", "content": "still here"})).await;
    loop {
        let f = ws.frame().await;
        if f["type"] == "ack" && f["ref"] == "last" {
            break;
        }
        if f["type"] == "error" {
            assert!(f["error"]["code"].is_string());
        }
    }
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
}

/// Connect-shaped bodies: JSON objects with the vendor's member names and
/// values of every shape, JSON of other shapes, and raw bytes.
fn connect_body() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,30}".prop_map(Value::from),
        Just(json!("text/plain")),
        Just(json!("application/vnd.amazonaws.connect.event.message.read")),
        Just(json!("application/vnd.amazonaws.connect.message.interactive.response")),
        Just(json!("FORWARD")),
        Just(json!(["WEBSOCKET", 7])),
    ];
    let value = scalar.prop_recursive(2, 16, 5, |inner| {
        let key = prop_oneof![
            Just("ContentType"),
            Just("Content"),
            Just("ClientToken"),
            Just("Type"),
            Just("MaxResults"),
            Just("NextToken"),
            Just("ScanDirection"),
            Just("SortOrder"),
            Just("StartPosition"),
            Just("Id"),
            Just("AbsoluteTime"),
            Just("MostRecent"),
            Just("AttachmentIds"),
            Just("AttachmentId"),
            Just("AttachmentName"),
            Just("AttachmentSizeInBytes"),
            Just("ConnectParticipant"),
            Just("UrlExpiryInSeconds"),
            Just("ContactId"),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::hash_map(key.prop_map(str::to_owned), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..200), value.prop_map(|v| v.to_string().into_bytes()),]
}

/// Whatever comes in, every Participant Service call answers 2xx or a 4xx
/// in AWS's shape, never a 5xx; the socket answers every frame and stays
/// up; and the log keeps what it had, in order.
async fn no_vendor_input_makes_a_5xx_or_breaks_a_socket(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    native_say(&app, &chat, &chat.agent, "before").await;
    let before = app.transcript(&chat.id).await;
    let (url, conn) = connection(&app, &chat.customer).await;
    let paths = [
        ("/participant/connection", chat.customer.as_str()),
        ("/participant/message", conn.as_str()),
        ("/participant/event", conn.as_str()),
        ("/participant/transcript", conn.as_str()),
        ("/participant/start-attachment-upload", conn.as_str()),
        ("/participant/complete-attachment-upload", conn.as_str()),
        ("/participant/attachment", conn.as_str()),
        ("/participant/disconnect", "sbc_not-this-one"),
    ];
    for (bytes, i) in samples((connect_body(), 0..paths.len()), 160) {
        let (path, bearer) = paths[i];
        let res = app.http.post(app.url(path)).header("x-amz-bearer", bearer).body(bytes.clone()).send().await.unwrap();
        let status = res.status();
        let input = String::from_utf8_lossy(&bytes).into_owned();
        assert!(!status.is_server_error(), "{path} answered {status} to {input:?}");
        if status.is_client_error() {
            let kind = res.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_owned());
            let body = json_body(&res.text().await.unwrap(), path);
            assert!(kind.is_some_and(|k| k.contains("Exception")), "{path} {input:?}: {body}");
            assert!(body["message"].is_string(), "{path} {input:?}: {body}");
        }
    }
    let mut socket = Socket::open(&url).await;
    for f in samples(connect_body(), 64) {
        let frame = match String::from_utf8(f) {
            Ok(t) => Message::Text(t.into()),
            Err(e) => Message::Binary(e.into_bytes().into()),
        };
        socket.0.stream.send(frame).await.unwrap();
    }
    // Still answering, in order, after all that.
    socket.send(json!({"topic": "aws/ping"})).await;
    loop {
        let f = socket.reply().await;
        if f["topic"] == "aws/ping" {
            assert_eq!(f["statusCode"], 200);
            break;
        }
        assert_eq!(f["message"], "Forbidden", "{f}");
    }
    let after = app.transcript(&chat.id).await;
    assert_eq!(after[..before.len()], before[..]);
    let seqs: Vec<i64> = after.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=after.len() as i64).collect::<Vec<_>>());
}
