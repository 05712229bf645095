//! Routing end to end: agents on real sockets get offers, accept, decline
//! and let them lapse; queues, the workflow, transfers, presence, restarts,
//! and every bad request answered with a clear 4xx.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp, Ws};

/// An agent with a token, and its socket once connected.
pub(crate) struct AgentClient {
    pub(crate) id: String,
    pub(crate) token: String,
}

pub(crate) async fn queue(app: &TestApp, name: &str, body: Value) -> String {
    let mut body = body;
    body["name"] = json!(name);
    app.admin(Method::POST, "/api/v1/queues", Some(body)).await["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn agent(app: &TestApp, name: &str, capacity: i64, attributes: Value) -> AgentClient {
    let a = app
        .admin(
            Method::POST,
            "/api/v1/agents",
            Some(json!({"name": name, "capacity": capacity, "attributes": attributes})),
        )
        .await;
    let id = a["id"].as_str().unwrap().to_owned();
    let t = app.admin(Method::POST, &format!("/api/v1/agents/{id}/tokens"), Some(json!({}))).await;
    AgentClient { id, token: t["token"].as_str().unwrap().to_owned() }
}

/// Connects the agent's socket and makes it available.
pub(crate) async fn online(app: &TestApp, a: &AgentClient) -> Ws {
    let mut ws = app.ws(&a.token, None).await;
    ws.send(json!({"type": "activity", "ref": "on", "activity": "available"})).await;
    let ack = ws.frame_of("ack").await;
    assert_eq!(ack["result"]["available"], true, "{ack}");
    ws
}

/// A conversation with a customer, put in `queue`.
pub(crate) async fn waiting_chat(app: &TestApp, queue: &str) -> (String, String) {
    let chat = app.admin(Method::POST, "/api/v1/conversations", Some(json!({}))).await;
    let id = chat["id"].as_str().unwrap().to_owned();
    let customer = app
        .admin(Method::POST, &format!("/api/v1/conversations/{id}/participants"), Some(json!({"role": "customer"})))
        .await;
    let task =
        app.admin(Method::POST, &format!("/api/v1/conversations/{id}/route"), Some(json!({"queue": queue}))).await;
    // In line; a router (on this node or another) may have offered it
    // already, and on a loaded machine an agent's driver may even have taken
    // and ended it before this answer came back.
    let routed = ["waiting", "offered", "assigned", "wrap_up", "completed"];
    assert!(routed.iter().any(|s| task["state"] == *s), "{task}");
    (id, customer["token"].as_str().unwrap().to_owned())
}

/// Puts a chat in `queue` and has the agent on `ws` take it: offered,
/// accepted, assigned. Returns the conversation and its customer's token.
pub(crate) async fn take_chat(app: &TestApp, ws: &mut Ws, queue: &str) -> (String, String) {
    let (chat, customer) = waiting_chat(app, queue).await;
    let offer = offer_for(ws, &chat).await;
    ws.send(json!({"type": "accept", "ref": "accept", "offer_id": offer})).await;
    ws.frame_of("assigned").await;
    (chat, customer)
}

pub(crate) async fn offer_for(ws: &mut Ws, conversation: &str) -> String {
    let f = ws.frame_of("offer").await;
    assert_eq!(f["offer"]["conversation_id"], conversation, "{f}");
    f["offer"]["id"].as_str().unwrap().to_owned()
}

async fn agent_view(app: &TestApp, id: &str) -> Value {
    app.admin(Method::GET, &format!("/api/v1/agents/{id}"), None).await
}

async fn offer_accept_and_chat(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let a = agent(&app, "Ann", 2, json!({})).await;
    let mut ws = online(&app, &a).await;
    let (chat, customer) = waiting_chat(&app, &q).await;
    let offer = offer_for(&mut ws, &chat).await;
    ws.send(json!({"type": "accept", "ref": 1, "offer_id": offer})).await;
    assert_eq!(ws.frame_of("assigned").await["conversation_id"], chat);
    // The whole log so far arrives on assignment, the agent's join last.
    let mut seen = Vec::new();
    loop {
        let e = ws.event().await;
        seen.push(e["type"].as_str().unwrap().to_owned());
        if e["type"] == "participant.joined" && e["role"] == "agent" {
            break;
        }
    }
    assert_eq!(seen, ["conversation.created", "participant.joined", "conversation.queued", "participant.joined"]);
    // Both ways: the customer's message reaches the agent's socket, and the agent's reaches the customer.
    let mut cws = app.ws(&customer, Some(0)).await;
    app.say(&chat, &customer, "hello", None).await;
    assert_eq!(ws.event().await["content"], "hello");
    ws.send(json!({"type": "send", "ref": "s", "conversation_id": chat, "content": "hi, Ann here"})).await;
    assert!(ws.frame_of("ack").await["result"]["seq"].as_i64().is_some());
    loop {
        let e = cws.event().await;
        if e["type"] == "message" && e["content"] == "hi, Ann here" {
            break;
        }
    }
    assert_eq!(agent_view(&app, &a.id).await["load"], 1);
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
    assert_eq!(task["state"], "assigned");
    let history: Vec<&str> = task["history"].as_array().unwrap().iter().map(|h| h["what"].as_str().unwrap()).collect();
    assert_eq!(history, ["queued", "offered", "accepted"]);
}

async fn decline_timeout_and_longest_idle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({"offer_timeout_secs": 1})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let b = agent(&app, "Bob", 1, json!({})).await;
    // Ann became available first: she has waited longest and is offered first.
    let mut wa = online(&app, &a).await;
    let mut wb = online(&app, &b).await;
    let (chat, _) = waiting_chat(&app, &q).await;
    let offer = offer_for(&mut wa, &chat).await;
    wa.send(json!({"type": "decline", "ref": 1, "offer_id": offer})).await;
    assert_eq!(wa.frame_of("ack").await["result"]["state"], "declined");
    // Declined: Bob next. Bob lets it lapse: back to Ann.
    let offer_b = offer_for(&mut wb, &chat).await;
    let closed = wb.frame_of("offer_closed").await;
    assert_eq!((closed["offer"]["id"].as_str(), closed["state"].as_str()), (Some(offer_b.as_str()), Some("expired")));
    let again = offer_for(&mut wa, &chat).await;
    assert_ne!(again, offer);
    let (status, body) =
        app.call(Method::POST, &format!("/api/v1/offers/{offer_b}/accept"), Some(&b.token), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "an expired offer cannot be accepted: {body}");
    let (status, _) = app.call(Method::POST, &format!("/api/v1/offers/{again}/accept"), Some(&b.token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another agent's offer");
    let (status, _) = app.call(Method::POST, &format!("/api/v1/offers/{again}/accept"), Some(&a.token), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::POST, &format!("/api/v1/offers/{again}/accept"), Some(&a.token), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "accepted twice");
    assert_eq!(agent_view(&app, &b.id).await["load"], 0);
    assert_eq!(agent_view(&app, &a.id).await["load"], 1);
}

async fn going_away_reroutes_a_pending_offer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let b = agent(&app, "Bob", 1, json!({})).await;
    let mut wa = online(&app, &a).await;
    let mut wb = online(&app, &b).await;
    let (chat, _) = waiting_chat(&app, &q).await;
    let offer = offer_for(&mut wa, &chat).await;
    wa.send(json!({"type": "activity", "ref": 2, "activity": "away"})).await;
    let closed = wa.frame_of("offer_closed").await;
    assert_eq!((closed["offer"]["id"].as_str(), closed["state"].as_str()), (Some(offer.as_str()), Some("expired")));
    offer_for(&mut wb, &chat).await;
    // Revoking Ann's tokens closes her open socket (policy violation, 1008).
    app.admin(Method::DELETE, &format!("/api/v1/agents/{}/tokens", a.id), None).await;
    assert_eq!(wa.closed().await, Some(1008));
    let (status, _) = app.call(Method::GET, "/api/v1/offers", Some(&a.token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn capacity_is_never_exceeded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let a = agent(&app, "Ann", 2, json!({})).await;
    let mut ws = online(&app, &a).await;
    let mut chats = Vec::new();
    for _ in 0..5 {
        chats.push(waiting_chat(&app, &q).await.0);
    }
    // Two offers (capacity 2), accepted concurrently, and twice each.
    let o1 = ws.frame_of("offer").await["offer"]["id"].as_str().unwrap().to_owned();
    let o2 = ws.frame_of("offer").await["offer"]["id"].as_str().unwrap().to_owned();
    let accept = |o: String| {
        let app = &app;
        let token = a.token.clone();
        async move { app.call(Method::POST, &format!("/api/v1/offers/{o}/accept"), Some(&token), None).await.0 }
    };
    let results =
        futures_util::future::join_all([accept(o1.clone()), accept(o2.clone()), accept(o1), accept(o2)]).await;
    assert_eq!(results.iter().filter(|s| **s == StatusCode::OK).count(), 2, "{results:?}");
    assert_eq!(results.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 2, "{results:?}");
    let view = agent_view(&app, &a.id).await;
    assert_eq!(view["load"], 2);
    let waiting = {
        let mut n = 0;
        for c in &chats {
            let t = app.admin(Method::GET, &format!("/api/v1/conversations/{c}/task"), None).await;
            n += usize::from(t["state"] == "waiting");
        }
        n
    };
    assert_eq!(waiting, 3, "the rest wait: nobody has a free slot");
}

async fn workflow_routes_and_step_timeout_falls_through(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queue(&app, "experts", json!({"expression": "agent.level >= 3"})).await;
    queue(&app, "general", json!({})).await;
    let yaml = "filters:\n  - name: vip\n    if: chat.attributes.vip == true\n    priority: 5\n    steps:\n      - queue: experts\n        timeout: 1\n      - queue: general\ndefault:\n  queue: general\n";
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(yaml).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let a = agent(&app, "Junior", 1, json!({"level": 1})).await;
    let mut ws = online(&app, &a).await;
    let ep = app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned();
    let (status, started) = app
        .call(
            Method::POST,
            &format!("/api/v1/entry-points/{ep}/chats"),
            None,
            Some(json!({"attributes": {"vip": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let chat = started["conversation"]["id"].as_str().unwrap().to_owned();
    // Nobody in `experts` qualifies; after its 1 s the chat falls through to `general`.
    let offer = ws.frame_of("offer").await;
    assert_eq!(offer["offer"]["conversation_id"], chat);
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
    assert_eq!(task["step"], 1, "{task}");
    assert_eq!(task["priority"], 5);
    let history: Vec<&str> = task["history"].as_array().unwrap().iter().map(|h| h["what"].as_str().unwrap()).collect();
    assert_eq!(history, ["queued", "step", "offered"]);
}

async fn a_restart_resumes_waiting_chats_and_pending_offers(backend: Backend) {
    // A short grace period, so that Ann (whose socket is gone) goes offline soon after the restart.
    let app = TestApp::spawn_with(backend, |c| c.presence_grace_secs = 1).await;
    let q = queue(&app, "general", json!({"offer_timeout_secs": 2})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let b = agent(&app, "Bob", 2, json!({})).await;
    let mut wa = online(&app, &a).await;
    let (chat, _) = waiting_chat(&app, &q).await;
    let offer = offer_for(&mut wa, &chat).await;
    let (second, _) = waiting_chat(&app, &q).await;
    drop(wa);
    let app = app.restart().await;
    // The offer pending at the restart lapses afterwards, and both chats -
    // the offered one and the one that waited through the restart - reach
    // Bob, who comes online after it.
    let mut wb = online(&app, &b).await;
    let mut offered = std::collections::HashMap::new();
    while offered.len() < 2 {
        let f = wb.frame_of("offer").await;
        offered.insert(
            f["offer"]["conversation_id"].as_str().unwrap().to_owned(),
            f["offer"]["id"].as_str().unwrap().to_owned(),
        );
    }
    assert!(offered.contains_key(&second));
    assert_ne!(offered[&chat], offer, "a new offer, not the one from before the restart");
    wb.send(json!({"type": "accept", "ref": 1, "offer_id": offered[&chat]})).await;
    assert_eq!(wb.frame_of("assigned").await["conversation_id"], chat);
    assert_eq!(agent_view(&app, &a.id).await["activity"], "offline", "no socket for longer than the grace period");
}

async fn transfer_to_a_named_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let b = agent(&app, "Bob", 1, json!({"level": 9})).await;
    let mut wa = online(&app, &a).await;
    let (chat, _) = waiting_chat(&app, &q).await;
    let offer = offer_for(&mut wa, &chat).await;
    let mut wb = online(&app, &b).await;
    wa.send(json!({"type": "accept", "ref": 1, "offer_id": offer})).await;
    wa.frame_of("assigned").await;
    let (status, task) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{chat}/transfer"),
            Some(&a.token),
            Some(json!({"agent_id": b.id})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(wa.frame_of("released").await["conversation_id"], chat);
    assert_eq!(agent_view(&app, &a.id).await["load"], 0);
    let offer = offer_for(&mut wb, &chat).await;
    wb.send(json!({"type": "accept", "ref": 1, "offer_id": offer})).await;
    wb.frame_of("assigned").await;
    let types: Vec<String> =
        app.transcript(&chat).await.iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
    assert!(types.iter().any(|t| t == "conversation.transferred"), "{types:?}");
    // Ann is out of the chat now: her toolkit calls are refused.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{chat}/messages"),
            Some(&a.token),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "Ann has left the conversation");
}

async fn toolkit_is_for_the_assigned_agent_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let other = agent(&app, "Eve", 1, json!({})).await;
    let mut wa = online(&app, &a).await;
    let (chat, _) = waiting_chat(&app, &q).await;
    let offer = offer_for(&mut wa, &chat).await;
    wa.send(json!({"type": "accept", "ref": 1, "offer_id": offer})).await;
    wa.frame_of("assigned").await;
    let conv = format!("/api/v1/conversations/{chat}");
    for (path, body) in [
        (format!("{conv}/messages"), json!({"content": "x"})),
        (format!("{conv}/agent-input"), json!({"text": "x"})),
        (format!("{conv}/end"), json!({})),
        (format!("{conv}/transfer"), json!({"queue": "general"})),
    ] {
        let (status, body) = app.call(Method::POST, &path, Some(&other.token), Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    // initFileTransfer: the customer's log gets the request naming the record; it has a state.
    let (status, created) = app
        .call(Method::POST, &format!("{conv}/file-requests"), Some(&a.token), Some(json!({"record_id": "500Kx0001"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["event"]["type"].as_str(), created["event"]["record_id"].as_str()),
        (Some("file.requested"), Some("500Kx0001"))
    );
    let request = created["request"]["id"].as_str().unwrap().to_owned();
    let log = app.transcript(&chat).await;
    assert!(log.iter().any(|e| e["type"] == "file.requested" && e["request_id"] == request.as_str()));
    let (status, _) =
        app.call(Method::POST, &format!("{conv}/file-requests"), Some(&other.token), Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not Eve's chat");
    let cancel = format!("{conv}/file-requests/{request}/cancel");
    let (status, _) = app.call(Method::POST, &cancel, Some(&a.token), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::POST, &cancel, Some(&a.token), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "canceled already");
    let (_, list) = app.call(Method::GET, &format!("{conv}/file-requests"), Some(&a.token), None).await;
    assert_eq!(list[0]["state"], "canceled", "{list}");
    // setAgentInput reaches Ann's socket only, and is not logged.
    let before = app.transcript(&chat).await.len();
    app.call(Method::POST, &format!("{conv}/agent-input"), Some(ADMIN_KEY), Some(json!({"text": "Try a refund"})))
        .await;
    assert_eq!(wa.frame_of("agent_input").await["text"], "Try a refund");
    assert_eq!(app.transcript(&chat).await.len(), before);
    // endChat by the agent; afterwards every toolkit call is a clear 409.
    let (status, _) = app.call(Method::POST, &format!("{conv}/end"), Some(&a.token), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    for (path, body) in [
        (format!("{conv}/messages"), json!({"content": "x"})),
        (format!("{conv}/agent-input"), json!({"text": "x"})),
        (format!("{conv}/file-requests"), json!({"record_id": "500Kx0001"})),
    ] {
        let (status, body) = app.call(Method::POST, &path, Some(&a.token), Some(body)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
    }
    assert_eq!(agent_view(&app, &a.id).await["load"], 0, "no wrap-up: the slot is free");
}

async fn bad_routing_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let cases = [
        ("/api/v1/queues", json!({"name": "x", "expression": "agent.level +"}), "expression"),
        ("/api/v1/queues", json!({"name": "x", "expression": "agent.level + 1"}), "expression"),
        ("/api/v1/queues", json!({"name": "x", "ordering": "random"}), "ordering"),
        ("/api/v1/queues", json!({"name": "x", "offer_timeout_secs": 0}), "offer_timeout_secs"),
        ("/api/v1/agents", json!({"name": "x", "capacity": 0}), "capacity"),
        ("/api/v1/agents", json!({"name": "x", "capacity": "two"}), ""),
        ("/api/v1/agents", json!({"name": "x", "login": "x", "password": "short"}), "password"),
    ];
    for (path, body, field) in cases {
        let (status, err) = app.call(Method::POST, path, Some(ADMIN_KEY), Some(body.clone())).await;
        assert!(status.is_client_error(), "{path} {body}: {status}");
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{err}");
        }
    }
    assert_eq!(app.admin(Method::GET, "/api/v1/queues", None).await.as_array().unwrap().len(), 1);
    assert!(app.admin(Method::GET, "/api/v1/agents", None).await.as_array().unwrap().is_empty());
    let (chat, _) = waiting_chat(&app, &q).await;
    let (status, err) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{chat}/route"),
            Some(ADMIN_KEY),
            Some(json!({"queue": "general"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "already routed: {err}");
    let other =
        app.admin(Method::POST, "/api/v1/conversations", Some(json!({}))).await["id"].as_str().unwrap().to_owned();
    let (status, err) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{other}/route"),
            Some(ADMIN_KEY),
            Some(json!({"queue": "nope"})),
        )
        .await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("queue")));
    // A workflow with a typo names the line; one with an unknown queue names the queue.
    for (yaml, needle) in [
        ("filters:\n  - name: a\n    steps:\n      - queue: general\n        timout: 5\n", "line 5"),
        ("default:\n  queue: missing\n", "missing"),
        ("filters:\n  - name: a\n    if: chat.attributes.x +\n    steps:\n      - queue: general\n", "filters[0].if"),
    ] {
        let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(yaml).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = res.text().await.unwrap();
        assert!(text.contains(needle), "{needle} not in {text}");
    }
    let (status, _) = app.call(Method::GET, "/api/v1/workflow", Some(ADMIN_KEY), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no bad workflow was stored");
}

/// Waits until the customer's socket says the chat stands at `n`.
async fn position_becomes(ws: &mut Ws, n: u64) {
    loop {
        if ws.frame_of("queue_position").await["position"].as_u64() == Some(n) {
            return;
        }
    }
}

async fn queue_positions_move_up_as_chats_ahead_are_taken(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let mut customers = Vec::new();
    for _ in 0..3 {
        let (chat, token) = waiting_chat(&app, &q).await;
        customers.push((chat, app.ws(&token, None).await, token));
    }
    for (i, (_, ws, _)) in customers.iter_mut().enumerate() {
        position_becomes(ws, i as u64 + 1).await;
    }
    // Ann comes online: the first chat is offered, the others move up.
    let mut wa = online(&app, &a).await;
    let offer = offer_for(&mut wa, &customers[0].0).await;
    position_becomes(&mut customers[1].1, 1).await;
    position_becomes(&mut customers[2].1, 2).await;
    wa.send(json!({"type": "accept", "ref": 1, "offer_id": offer})).await;
    wa.frame_of("assigned").await;
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/conversations/{}/queue-position", customers[0].0),
            Some(&customers[0].2),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an assigned chat waits no more");
    // Ann ends her chat: the next is offered to her and the last moves up again.
    app.admin(Method::POST, &format!("/api/v1/conversations/{}/end", customers[0].0), Some(json!({}))).await;
    offer_for(&mut wa, &customers[1].0).await;
    position_becomes(&mut customers[2].1, 1).await;
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/conversations/{}/queue-position", customers[2].0),
            Some(&customers[2].2),
            None,
        )
        .await;
    assert_eq!((status, body["position"].as_u64()), (StatusCode::OK, Some(1)), "{body}");
}

async fn supervisors_see_queues_and_monitor_silently(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let general = queue(&app, "general", json!({})).await;
    queue(&app, "experts", json!({"expression": "agent.level >= 3"})).await;
    let ann = agent(&app, "Ann", 1, json!({"level": 1})).await;
    let bob = agent(&app, "Bob", 1, json!({"level": 5})).await;
    app.admin(Method::PUT, &format!("/api/v1/agents/{}/activity", bob.id), Some(json!({"activity": "away"}))).await;
    let mut wa = online(&app, &ann).await;
    let (first, customer) = waiting_chat(&app, &general).await;
    let offer = offer_for(&mut wa, &first).await;
    let (second, _) = waiting_chat(&app, &general).await;
    let mut sup = app.ws(ADMIN_KEY, None).await;
    let stats = app.admin(Method::GET, "/api/v1/supervisor/queues", None).await;
    let by_name = |name: &str| stats.as_array().unwrap().iter().find(|q| q["name"] == name).unwrap().clone();
    let g = by_name("general");
    assert_eq!((g["waiting"].as_u64(), g["offered"].as_u64()), (Some(1), Some(1)), "{g}");
    assert_eq!(
        (g["agents_available"].as_u64(), g["agents_busy"].as_u64(), g["agents_away"].as_u64()),
        (Some(0), Some(1), Some(1))
    );
    let e = by_name("experts");
    assert_eq!(
        (e["agents_busy"].as_u64(), e["agents_away"].as_u64()),
        (Some(0), Some(1)),
        "only Bob is an expert: {e}"
    );
    // The supervisor's stream follows: after Ann accepts, a frame shows the chat assigned.
    wa.send(json!({"type": "accept", "ref": 1, "offer_id": offer})).await;
    loop {
        let f = sup.frame_of("stats").await;
        let q = f["queues"].as_array().unwrap().iter().find(|q| q["name"] == "general").unwrap().clone();
        if q["assigned"] == 1 {
            let live = f["conversations"].as_array().unwrap();
            assert_eq!(live.len(), 2);
            let mine = live.iter().find(|c| c["conversation_id"] == first).unwrap();
            assert_eq!((mine["state"].as_str(), mine["agent_name"].as_str()), (Some("assigned"), Some("Ann")));
            assert!(live.iter().any(|c| c["conversation_id"] == second && c["state"] == "waiting"));
            break;
        }
    }
    // A monitor joins silently: it reads everything, sends nothing, and
    // neither the customer nor the agent sees it.
    let m = app
        .admin(Method::POST, &format!("/api/v1/conversations/{first}/participants"), Some(json!({"role": "monitor"})))
        .await;
    let monitor = m["token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{first}/messages"),
            Some(&monitor),
            Some(json!({"content": "psst"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let roles = |events: &Value| -> Vec<String> {
        events["events"].as_array().unwrap().iter().filter_map(|e| e["role"].as_str().map(str::to_owned)).collect()
    };
    let path = format!("/api/v1/conversations/{first}/transcript");
    let (_, seen_by_monitor) = app.call(Method::GET, &path, Some(&monitor), None).await;
    let (_, seen_by_customer) = app.call(Method::GET, &path, Some(&customer), None).await;
    let (_, seen_by_agent) = app.call(Method::GET, &path, Some(&ann.token), None).await;
    assert!(roles(&seen_by_monitor).contains(&"monitor".to_owned()));
    assert!(!roles(&seen_by_customer).contains(&"monitor".to_owned()), "{seen_by_customer}");
    assert!(!roles(&seen_by_agent).contains(&"monitor".to_owned()), "{seen_by_agent}");
    // Barging in is visible.
    app.admin(
        Method::POST,
        &format!("/api/v1/conversations/{first}/participants"),
        Some(json!({"role": "supervisor"})),
    )
    .await;
    let (_, seen_by_customer) = app.call(Method::GET, &path, Some(&customer), None).await;
    assert!(roles(&seen_by_customer).contains(&"supervisor".to_owned()));
}

async fn wrap_up_holds_the_slot_then_frees_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({"wrap_up_secs": 1})).await;
    let other = queue(&app, "billing", json!({})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let mut wa = online(&app, &a).await;
    let (first, _) = waiting_chat(&app, &q).await;
    let offer = offer_for(&mut wa, &first).await;
    wa.send(json!({"type": "accept", "ref": 1, "offer_id": offer})).await;
    wa.frame_of("assigned").await;
    let (second, _) = waiting_chat(&app, &q).await;
    app.admin(Method::POST, &format!("/api/v1/conversations/{first}/end"), Some(json!({}))).await;
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{first}/task"), None).await;
    assert_eq!(task["state"], "wrap_up", "{task}");
    assert_eq!(agent_view(&app, &a.id).await["load"], 1, "the slot is held during wrap-up");
    // When wrap-up ends the slot frees and the waiting chat is offered.
    let offer = offer_for(&mut wa, &second).await;
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{first}/task"), None).await;
    assert_eq!(task["state"], "completed");
    // A transfer to another queue: the agent is released, the chat waits there.
    wa.send(json!({"type": "accept", "ref": 2, "offer_id": offer})).await;
    wa.frame_of("assigned").await;
    let (status, task) = app
        .call(
            Method::POST,
            &format!("/api/v1/conversations/{second}/transfer"),
            Some(&a.token),
            Some(json!({"queue": "billing"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!((task["state"].as_str(), task["queue_id"].as_str()), (Some("waiting"), Some(other.as_str())));
    assert_eq!(wa.frame_of("released").await["conversation_id"], second);
    // Ann's slot came back at once (no wrap-up on a transfer): as the only
    // agent, she is offered the chat again in its new queue.
    let again = wa.frame_of("offer").await;
    assert_eq!(
        (again["offer"]["conversation_id"].as_str(), again["offer"]["queue_id"].as_str()),
        (Some(second.as_str()), Some(other.as_str()))
    );
}

both_backends!(
    wrap_up_holds_the_slot_then_frees_it,
    supervisors_see_queues_and_monitor_silently,
    queue_positions_move_up_as_chats_ahead_are_taken,
    offer_accept_and_chat,
    decline_timeout_and_longest_idle,
    going_away_reroutes_a_pending_offer,
    capacity_is_never_exceeded,
    workflow_routes_and_step_timeout_falls_through,
    a_restart_resumes_waiting_chats_and_pending_offers,
    transfer_to_a_named_agent,
    toolkit_is_for_the_assigned_agent_only,
    bad_routing_input_is_refused_and_changes_nothing,
);

/// Two servers, each with its own router, on one PostgreSQL database and
/// joined through NATS. Agents connect to either; chats arrive through
/// either; every offer is accepted over the agent's socket and, at the same
/// moment, over REST on the other server, or declined. Whatever the
/// interleaving: one accept wins, no agent is ever over capacity, and every
/// chat ends up with exactly one agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
async fn two_routers_on_one_postgres_never_double_assign() {
    let (one, two) = TestApp::two_on_one_postgres().await;
    let apps = [&one, &two];
    let q = queue(&one, "general", json!({"offer_timeout_secs": 2})).await;
    const CHATS: usize = 40;
    let mut agents = Vec::new();
    for i in 0..6 {
        agents.push((agent(&one, &format!("agent {i}"), 1 + (i % 3), json!({})).await, 1 + (i % 3)));
    }
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut drivers = Vec::new();
    for (i, (a, _)) in agents.iter().enumerate() {
        let (home, other) = if i % 2 == 0 { (apps[0], apps[1]) } else { (apps[1], apps[0]) };
        let mut ws = online(home, a).await;
        let (token, other_base, http) = (a.token.clone(), other.url(""), other.http.clone());
        let done = done_tx.clone();
        let mut seed = 0x9E37_79B9u64.wrapping_mul(i as u64 + 1);
        drivers.push(tokio::spawn(async move {
            loop {
                let f = ws.frame().await;
                match f["type"].as_str() {
                    Some("offer") => {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        let id = f["offer"]["id"].as_str().unwrap().to_owned();
                        if seed >> 60 < 3 {
                            ws.send(json!({"type": "decline", "ref": id, "offer_id": id})).await;
                        } else {
                            // The same accept on both servers at once.
                            ws.send(json!({"type": "accept", "ref": id, "offer_id": id})).await;
                            let rest = http
                                .post(format!("{other_base}/api/v1/offers/{id}/accept"))
                                .bearer_auth(&token)
                                .send()
                                .await
                                .unwrap()
                                .status();
                            assert!(rest == StatusCode::OK || rest == StatusCode::CONFLICT, "{rest}");
                        }
                    }
                    Some("assigned") => {
                        let c = f["conversation_id"].as_str().unwrap().to_owned();
                        let res = http
                            .post(format!("{other_base}/api/v1/conversations/{c}/end"))
                            .bearer_auth(ADMIN_KEY)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(res.status(), StatusCode::OK);
                        let _ = done.send(c);
                    }
                    _ => {}
                }
            }
        }));
    }
    let mut chats = Vec::new();
    for i in 0..CHATS {
        chats.push(waiting_chat(apps[i % 2], &q).await.0);
    }
    let mut finished = std::collections::HashSet::new();
    while finished.len() < CHATS {
        let Ok(Some(c)) = tokio::time::timeout(std::time::Duration::from_secs(20), done_rx.recv()).await else {
            let agents = one.admin(Method::GET, "/api/v1/agents", None).await;
            let mut states = Vec::new();
            for c in &chats {
                let t = one.admin(Method::GET, &format!("/api/v1/conversations/{c}/task"), None).await;
                states.push(format!("{} {}", t["state"], t["history"]));
            }
            panic!("only {} chats reached an agent; agents {agents:#}; tasks {states:#?}", finished.len());
        };
        assert!(finished.insert(c.clone()), "{c} assigned twice");
        for app in apps {
            for a in app.admin(Method::GET, "/api/v1/agents", None).await.as_array().unwrap() {
                assert!(a["load"].as_u64() <= a["capacity"].as_u64(), "over capacity: {a}");
            }
        }
    }
    for d in drivers {
        d.abort();
    }
    for c in &chats {
        let task = one.admin(Method::GET, &format!("/api/v1/conversations/{c}/task"), None).await;
        let accepted = task["history"].as_array().unwrap().iter().filter(|h| h["what"] == "accepted").count();
        assert_eq!(accepted, 1, "{task}");
        let agents_joined = one
            .transcript(c)
            .await
            .iter()
            .filter(|e| e["type"] == "participant.joined" && e["role"] == "agent")
            .count();
        assert_eq!(agents_joined, 1, "{c}");
    }
    for a in one.admin(Method::GET, "/api/v1/agents", None).await.as_array().unwrap() {
        assert_eq!(a["load"], 0, "every slot given back: {a}");
    }
}
