//! Delivery over the WebSocket stream: order, resume, idempotency, typing,
//! heartbeats and closing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp};

crate::both_backends!(
    every_participant_sees_every_event_in_order,
    resume_after_a_dropped_socket_has_no_gap_and_no_duplicate,
    a_retried_send_is_stored_once,
    typing_is_delivered_but_never_stored,
    receipts_refer_to_messages,
    deep_heartbeat_round_trips_through_the_store,
    the_socket_closes_after_the_conversation_ends,
    shutdown_closes_sockets_with_going_away,
    a_silent_peer_is_dropped_within_two_heartbeats,
    an_oversized_frame_closes_the_socket,
);

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

async fn every_participant_sees_every_event_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let mut customer = app.ws(&chat.customer, None).await;
    let mut agent = app.ws(&chat.agent, None).await;
    // Both sides send at once over their sockets.
    for i in 0..25 {
        customer.send(json!({"type": "send", "ref": i, "content": format!("c{i}")})).await;
        agent.send(json!({"type": "send", "ref": i, "content": format!("a{i}")})).await;
    }
    let mut seen = [Vec::new(), Vec::new()];
    for (n, ws) in [&mut customer, &mut agent].into_iter().enumerate() {
        while seen[n].len() < 50 {
            seen[n].push(ws.event().await);
        }
    }
    // Created + 2 joined come before the sockets opened.
    assert_eq!(seqs(&seen[0]), (4..=53).collect::<Vec<_>>());
    assert_eq!(seen[0], seen[1], "both sides see the same log");
    // Each sender's own messages keep the order it sent them in.
    let from = |prefix: &str| -> Vec<String> {
        seen[0]
            .iter()
            .filter_map(|e| e["content"].as_str())
            .filter(|c| c.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(from("c"), (0..25).map(|i| format!("c{i}")).collect::<Vec<_>>());
    assert_eq!(from("a"), (0..25).map(|i| format!("a{i}")).collect::<Vec<_>>());
    assert_eq!(seqs(&app.transcript(&chat.id).await), (1..=53).collect::<Vec<_>>());
}

async fn resume_after_a_dropped_socket_has_no_gap_and_no_duplicate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let mut customer = app.ws(&chat.customer, None).await;
    for i in 0..5 {
        app.say(&chat.id, &chat.agent, &format!("before {i}"), None).await;
    }
    let mut last = 0;
    for _ in 0..5 {
        last = customer.event().await["seq"].as_i64().unwrap();
    }
    drop(customer); // the page is refreshed
    for i in 0..7 {
        app.say(&chat.id, &chat.agent, &format!("while away {i}"), None).await;
    }
    let mut customer = app.ws(&chat.customer, Some(last)).await;
    let mut got = Vec::new();
    for _ in 0..7 {
        got.push(customer.event().await);
    }
    app.say(&chat.id, &chat.agent, "live", None).await;
    got.push(customer.event().await);
    assert_eq!(seqs(&got), (last + 1..=last + 8).collect::<Vec<_>>());
    assert_eq!(got[0]["content"], "while away 0");
    assert_eq!(got[7]["content"], "live");
    // Resuming from 0 replays the whole log.
    let mut again = app.ws(&chat.customer, Some(0)).await;
    assert_eq!(again.event().await["type"], "conversation.created");
}

async fn a_retried_send_is_stored_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let first = app.say(&chat.id, &chat.customer, "pay me", Some("k-1")).await;
    let again = app.say(&chat.id, &chat.customer, "pay me", Some("k-1")).await;
    assert_eq!(first, again);
    let mut ws = app.ws(&chat.customer, None).await;
    ws.send(json!({"type": "send", "ref": "r1", "content": "pay me", "client_token": "k-1"})).await;
    let ack = ws.frame_of("ack").await;
    assert_eq!((ack["ref"].clone(), ack["seq"].clone()), (json!("r1"), first["seq"].clone()));
    let log = app.transcript(&chat.id).await;
    assert_eq!(log.iter().filter(|e| e["client_token"] == "k-1").count(), 1);
    assert_eq!(log.len(), 4);
}

async fn typing_is_delivered_but_never_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let mut agent = app.ws(&chat.agent, None).await;
    let mut customer = app.ws(&chat.customer, None).await;
    customer.send(json!({"type": "typing"})).await;
    let typing = agent.frame().await;
    assert_eq!(typing, json!({"type": "typing", "participant_id": chat.customer_id}));
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{}/events", chat.id),
            Some(&chat.agent),
            Some(json!({"type": "typing"})),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(customer.frame().await["participant_id"], chat.agent_id);
    assert_eq!(app.transcript(&chat.id).await.len(), 3, "typing is not in the log");
}

async fn receipts_refer_to_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let msg = app.say(&chat.id, &chat.agent, "hello", None).await;
    let mut ws = app.ws(&chat.customer, None).await;
    ws.send(json!({"type": "receipt", "ref": 1, "receipt": "delivered", "message_id": msg["id"]})).await;
    ws.send(json!({"type": "receipt", "ref": 2, "receipt": "read", "message_id": msg["id"]})).await;
    ws.send(json!({"type": "receipt", "ref": 3, "receipt": "read", "message_id": "evt_01JDZ3Q5W7Y3J8M2V6X4T9R0PD"}))
        .await;
    assert_eq!(ws.frame_of("ack").await["ref"], 1);
    assert_eq!(ws.frame_of("ack").await["ref"], 2);
    let err = ws.frame_of("error").await;
    assert_eq!((err["ref"].clone(), err["error"]["code"].clone()), (json!(3), json!("invalid_field")));
    let log = app.transcript(&chat.id).await;
    let kinds: Vec<_> = log.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[4..], ["message.delivered", "message.read"]);
    assert_eq!(log[5]["message_id"], msg["id"]);
}

async fn deep_heartbeat_round_trips_through_the_store(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let mut ws = app.ws(&chat.customer, None).await;
    ws.send(json!({"type": "deep_heartbeat", "ref": "h"})).await;
    assert_eq!(ws.frame().await, json!({"type": "deep_heartbeat", "ref": "h", "status": "ok"}));
    ws.send(json!({"type": "ping", "ref": 7})).await;
    assert_eq!(ws.frame().await, json!({"type": "pong", "ref": 7}));
    ws.send(json!({"type": "nonsense"})).await;
    assert_eq!(ws.frame().await["error"]["code"], "malformed_request");
}

async fn the_socket_closes_after_the_conversation_ends(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let mut ws = app.ws(&chat.customer, None).await;
    app.admin(Method::POST, &format!("/api/v1/conversations/{}/end", chat.id), None).await;
    assert_eq!(ws.event().await["type"], "conversation.ended");
    assert_eq!(ws.closed().await, Some(1000));
    // A socket opened on an ended conversation gets the backlog, then the close.
    let mut late = app.ws(&chat.customer, Some(3)).await;
    assert_eq!(late.event().await["type"], "conversation.ended");
    assert_eq!(late.closed().await, Some(1000));
}

async fn shutdown_closes_sockets_with_going_away(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let chat = app.chat().await;
    let mut ws = app.ws(&chat.customer, None).await;
    let closing = tokio::spawn(async move { ws.closed().await });
    app.stop().await;
    assert_eq!(closing.await.unwrap(), Some(1001));
}

/// Open WebSocket connections, as the server's metrics count them.
pub(crate) async fn open_sockets(app: &TestApp) -> i64 {
    let text = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("switchboard_websocket_connections "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

async fn a_silent_peer_is_dropped_within_two_heartbeats(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.heartbeat_secs = 1).await;
    let chat = app.chat().await;
    // A client that never reads never answers the server's pings.
    let silent = app.ws(&chat.customer, None).await;
    assert_eq!(open_sockets(&app).await, 1);
    let opened = std::time::Instant::now();
    while open_sockets(&app).await > 0 {
        assert!(opened.elapsed() < crate::harness::PROMPTLY, "the silent socket was never dropped");
        tokio::task::yield_now().await;
    }
    let took = opened.elapsed();
    // Two intervals of one second, with a second of slack for a busy machine.
    assert!(took >= std::time::Duration::from_secs(1), "dropped after {took:?}: before one interval");
    assert!(took < std::time::Duration::from_secs(3), "dropped after {took:?}: not within two intervals");
    drop(silent);
}

async fn an_oversized_frame_closes_the_socket(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.max_frame_bytes = 4096).await;
    let chat = app.chat().await;
    let mut ws = app.ws(&chat.customer, None).await;
    ws.send(json!({"type": "send", "content": "x".repeat(5000)})).await;
    assert_eq!(ws.closed().await, Some(1009), "message too big");
    // Nothing was stored, and the token still works.
    assert_eq!(app.transcript(&chat.id).await.len(), 3);
    app.ws(&chat.customer, None).await;
}
