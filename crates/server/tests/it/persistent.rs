//! Persistent chat end to end: a customer continues an ended chat through an
//! entry point with its old token; both rehydration modes' transcripts
//! across segments (content, order, conversation markers, small pages both
//! ways, resuming from a cursor); the refusals; the screens in every
//! segment; and the queue's preference for the previous agent — offered
//! first when present, normal routing after the timeout, at once when absent.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::flow_steps::deploy;
use crate::harness::{ADMIN_KEY, Backend, TestApp, Ws};
use crate::routing::{AgentClient, agent, offer_for, online, queue, take_chat};

pub(crate) const OTHER_KEY: &str = "sbk_test-other-workspace-key";

async fn entry_point(app: &TestApp) -> String {
    app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned()
}

/// Starts a chat through entry point `ep`: `continue_from` and the bearer it needs, when given.
async fn start(app: &TestApp, ep: &str, continue_from: Option<Value>, bearer: Option<&str>) -> (StatusCode, Value) {
    let body = match continue_from {
        Some(c) => json!({"continue_from": c}),
        None => json!({}),
    };
    app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), bearer, Some(body)).await
}

fn from(chat: &str, rehydration: &str) -> Value {
    json!({"conversation_id": chat, "rehydration": rehydration})
}

/// A chat (conversation id, customer token) started as `start` answered it.
fn chat_of(status: StatusCode, started: &Value) -> (String, String) {
    assert_eq!(status, StatusCode::CREATED, "{started}");
    (started["conversation"]["id"].as_str().unwrap().to_owned(), started["token"].as_str().unwrap().to_owned())
}

/// Starts a chat through `ep` that must succeed: its id and customer token.
async fn chat_of_start(
    app: &TestApp,
    ep: &str,
    continue_from: Option<Value>,
    bearer: Option<&str>,
) -> (String, String) {
    let (status, started) = start(app, ep, continue_from, bearer).await;
    chat_of(status, &started)
}

/// The customer says each line, then ends the chat.
async fn talk_and_end(app: &TestApp, chat: &str, customer: &str, lines: &[&str]) {
    for l in lines {
        app.say(chat, customer, l, None).await;
    }
    let (status, body) =
        app.call(Method::POST, &format!("/api/v1/conversations/{chat}/end"), Some(customer), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// One page of the transcript across segments.
async fn page(app: &TestApp, chat: &str, bearer: &str, query: &str) -> (StatusCode, Value) {
    app.call(Method::GET, &format!("/api/v1/conversations/{chat}/transcript?segments=all&{query}"), Some(bearer), None)
        .await
}

/// Every event of the history, page by page of `limit`, in `order`; and how
/// many pages held events of two segments.
async fn read_all(app: &TestApp, chat: &str, bearer: &str, limit: u32, order: &str) -> (Vec<Value>, usize) {
    let (mut out, mut spanning, mut cursor) = (Vec::new(), 0, String::new());
    let (param, next) = if order == "asc" { ("after", "next_after") } else { ("before", "next_before") };
    loop {
        let mut query = format!("limit={limit}&order={order}");
        if !cursor.is_empty() {
            query.push_str(&format!("&{param}={cursor}"));
        }
        let (status, p) = page(app, chat, bearer, &query).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        let events = p["events"].as_array().unwrap();
        assert!(events.len() <= limit as usize);
        let mut seen: Vec<&Value> = events.iter().map(|e| &e["conversation_id"]).collect();
        seen.dedup();
        spanning += usize::from(seen.len() > 1);
        out.extend(events.iter().cloned());
        match p[next].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return (out, spanning),
        }
    }
}

/// Each segment's own transcript, read with the workspace key, one after another.
async fn concatenated(app: &TestApp, segments: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for s in segments {
        out.extend(app.transcript(s).await);
    }
    out
}

fn contents(events: &[Value]) -> Vec<&str> {
    events.iter().filter(|e| e["type"] == "message").map(|e| e["content"].as_str().unwrap()).collect()
}

fn cursor(e: &Value) -> String {
    format!("{}:{}", e["conversation_id"].as_str().unwrap(), e["seq"])
}

/// Reads the history both ways in small pages and from cursors; returns the
/// whole of it as the customer sees it.
async fn check_paging(app: &TestApp, chat: &str, bearer: &str, expected: &[Value]) {
    let (whole, _) = read_all(app, chat, bearer, 500, "asc").await;
    assert_eq!(whole, expected);
    for limit in [1, 2, 3] {
        let (asc, spanning) = read_all(app, chat, bearer, limit, "asc").await;
        assert_eq!(asc, expected, "ascending pages of {limit}");
        assert!(limit == 1 || spanning > 0, "some page of {limit} crosses a segment boundary");
        let (mut desc, _) = read_all(app, chat, bearer, limit, "desc").await;
        desc.reverse();
        assert_eq!(desc, expected, "descending pages of {limit}");
    }
    // From any place, exactly what comes after it (or before it).
    for i in [0, expected.len() / 2, expected.len() - 1] {
        let (status, p) = page(app, chat, bearer, &format!("after={}&limit=500", cursor(&expected[i]))).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["events"].as_array().unwrap(), &expected[i + 1..], "after event {i}");
        let (_, p) = page(app, chat, bearer, &format!("before={}&order=desc&limit=500", cursor(&expected[i]))).await;
        let mut before = p["events"].as_array().unwrap().clone();
        before.reverse();
        assert_eq!(before, &expected[..i], "before event {i}");
    }
}

async fn entire_past_session_carries_the_whole_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ep = entry_point(&app).await;
    let body = json!({"display_name": "Jane", "record_id": "500XY"});
    let (status, started) = app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), None, Some(body)).await;
    let (a, a_token) = chat_of(status, &started);
    talk_and_end(&app, &a, &a_token, &["a1", "a2"]).await;
    let (status, started) = start(&app, &ep, Some(from(&a, "entire_past_session")), Some(&a_token)).await;
    let (b, b_token) = chat_of(status, &started);
    assert_eq!(started["conversation"]["previous_conversation_id"], a.as_str());
    assert_eq!(started["conversation"]["rehydration"], "entire_past_session");
    assert_eq!(started["conversation"]["next_conversation_id"], Value::Null);
    // The same customer, under the same name and record.
    assert_eq!(started["participant"]["display_name"], "Jane");
    assert_eq!(started["conversation"]["record_id"], "500XY");
    let source = app.admin(Method::GET, &format!("/api/v1/conversations/{a}"), None).await;
    assert_eq!(source["next_conversation_id"], b.as_str(), "the source links forward");
    talk_and_end(&app, &b, &b_token, &["b1"]).await;
    let (status, started) = start(&app, &ep, Some(from(&b, "entire_past_session")), Some(&b_token)).await;
    let (c, c_token) = chat_of(status, &started);
    app.say(&c, &c_token, "c1", None).await;

    let expected = concatenated(&app, &[&a, &b, &c]).await;
    assert_eq!(contents(&expected), ["a1", "a2", "b1", "c1"]);
    let (_, first) = page(&app, &c, &c_token, "limit=500").await;
    assert_eq!(first["segments"], json!([a, b, c]));
    assert!(first["next_after"].is_null(), "a page that was not full has no next cursor: {first}");
    // Oldest segment first, seqs in order within each, every event marked.
    let marks: Vec<(&str, i64)> =
        expected.iter().map(|e| (e["conversation_id"].as_str().unwrap(), e["seq"].as_i64().unwrap())).collect();
    let mut sorted = marks.clone();
    let rank = |id: &str| [&a, &b, &c].iter().position(|s| s.as_str() == id).unwrap();
    sorted.sort_by_key(|(id, seq)| (rank(id), *seq));
    assert_eq!(marks, sorted);
    check_paging(&app, &c, &c_token, &expected).await;

    // A cursor at the end picks up what comes next, in the newest segment.
    let last = cursor(expected.last().unwrap());
    app.say(&c, &c_token, "c2", None).await;
    let (_, p) = page(&app, &c, &c_token, &format!("after={last}")).await;
    assert_eq!(contents(p["events"].as_array().unwrap()), ["c2"]);

    // The middle segment's history stops at itself; the default is the current log only.
    let (_, p) = page(&app, &b, ADMIN_KEY, "limit=500").await;
    assert_eq!(p["segments"], json!([a, b]));
    assert_eq!(contents(p["events"].as_array().unwrap()), ["a1", "a2", "b1"]);
    let (_, plain) =
        app.call(Method::GET, &format!("/api/v1/conversations/{c}/transcript?limit=500"), Some(&c_token), None).await;
    assert!(plain["events"].as_array().unwrap().iter().all(|e| e["conversation_id"] == c.as_str()), "{plain}");
    assert!(plain.get("segments").is_none() && plain.get("next_after").is_none(), "{plain}");
}

async fn from_segment_carries_only_the_source(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ep = entry_point(&app).await;
    let (a, a_token) = chat_of_start(&app, &ep, None, None).await;
    talk_and_end(&app, &a, &a_token, &["a1"]).await;
    let (b, b_token) = chat_of_start(&app, &ep, Some(from(&a, "entire_past_session")), Some(&a_token)).await;
    talk_and_end(&app, &b, &b_token, &["b1", "b2"]).await;
    let (status, started) = start(&app, &ep, Some(from(&b, "from_segment")), Some(&b_token)).await;
    let (c, c_token) = chat_of(status, &started);
    assert_eq!(started["conversation"]["rehydration"], "from_segment");
    app.say(&c, &c_token, "c1", None).await;

    let expected = concatenated(&app, &[&b, &c]).await;
    let (_, p) = page(&app, &c, &c_token, "limit=500").await;
    assert_eq!(p["segments"], json!([b, c]), "the segment continued and itself: nothing from before it");
    assert_eq!(contents(&expected), ["b1", "b2", "c1"]);
    check_paging(&app, &c, &c_token, &expected).await;

    // A later entire_past_session does not bring back what from_segment left out.
    talk_and_end(&app, &c, &c_token, &["c2"]).await;
    let (d, d_token) = chat_of_start(&app, &ep, Some(from(&c, "entire_past_session")), Some(&c_token)).await;
    let (_, p) = page(&app, &d, &d_token, "limit=500").await;
    assert_eq!(p["segments"], json!([b, c, d]));
    let expected = concatenated(&app, &[&b, &c, &d]).await;
    assert_eq!(contents(&expected), ["b1", "b2", "c1", "c2"]);
    check_paging(&app, &d, &d_token, &expected).await;

    // A cursor outside the history, or unreadable: 400.
    for bad in [format!("after={}:1", a), "after=nonsense".into(), format!("before={c}:x"), format!("after={c}:-2")] {
        let (status, body) = page(&app, &d, &d_token, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "malformed_request", "{body}");
    }
    let path = format!("/api/v1/conversations/{d}/transcript");
    let (status, _) = app.call(Method::GET, &format!("{path}?segments=all&after_seq=1"), Some(&d_token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "seq cursors do not page a history");
    let (status, _) = app.call(Method::GET, &format!("{path}?after={c}:1"), Some(&d_token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "history cursors need segments=all");
    let (status, _) = app.call(Method::GET, &format!("{path}?segments=some"), Some(&d_token), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The earlier segments are read through the new chat only.
    let (status, _) =
        app.call(Method::GET, &format!("/api/v1/conversations/{b}/transcript"), Some(&d_token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Stops the server, adds a second workspace with its own key straight in
/// the store, and starts the server again on the same database.
pub(crate) async fn with_second_workspace(mut app: TestApp) -> TestApp {
    use switchboard_core::clock::{Clock, SystemClock};
    use switchboard_core::ids::{ApiKeyId, WorkspaceId};
    use switchboard_core::model::{ApiKey, Workspace};
    app.stop().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let bus = Arc::new(switchboard_core::bus::LocalBus::new(16));
    let store = switchboard_store::open(&switchboard::store_config(&app.config.storage, None), bus, clock.clone())
        .await
        .unwrap();
    let w = Workspace { id: WorkspaceId::new(), name: "Other".into(), created_at: clock.now() };
    store.create_workspace(&w).await.unwrap();
    let key = ApiKey {
        id: ApiKeyId::new(),
        workspace_id: w.id,
        name: "other".into(),
        created_at: clock.now(),
        revoked_at: None,
    };
    store.create_api_key(&key, &switchboard_core::token::SecretHash::of(OTHER_KEY)).await.unwrap();
    drop(store);
    app.restart().await
}

async fn continuing_is_refused_with_a_clear_error_and_creates_nothing(backend: Backend) {
    let app = with_second_workspace(TestApp::spawn(backend).await).await;
    let ep = entry_point(&app).await;
    let (a, a_token) = chat_of_start(&app, &ep, None, None).await;
    let before = conversation_count(&app).await;

    // Not ended yet.
    let (status, body) = start(&app, &ep, Some(from(&a, "entire_past_session")), Some(&a_token)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["field"], "continue_from.conversation_id");
    assert!(body["error"]["message"].as_str().unwrap().contains("has not ended"), "{body}");
    let agent_token = app
        .admin(Method::POST, &format!("/api/v1/conversations/{a}/participants"), Some(json!({"role": "agent"})))
        .await;
    talk_and_end(&app, &a, &a_token, &["a1"]).await;

    // Strangers: no token, another chat's customer, the chat's own agent, a workspace key.
    let other = app.chat().await;
    let (status, body) = start(&app, &ep, Some(from(&a, "entire_past_session")), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for token in [other.customer.as_str(), agent_token["token"].as_str().unwrap(), ADMIN_KEY] {
        let (status, body) = start(&app, &ep, Some(from(&a, "from_segment")), Some(token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, _) = start(&app, &ep, Some(from(&a, "from_segment")), Some("sbp_not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Unreadable requests.
    let (status, body) = start(&app, &ep, Some(from(&a, "everything")), Some(&a_token)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("continue_from.rehydration"))
    );
    let (status, _) = start(&app, &ep, Some(from("cnv_nope", "from_segment")), Some(&a_token)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another workspace: its key cannot continue this workspace's chat, nor
    // can the customer's own token through the other workspace's entry point.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/conversations",
            Some(OTHER_KEY),
            Some(json!({"continue_from": from(&a, "from_segment")})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let other_ep = app
        .call(
            Method::POST,
            "/api/v1/entry-points",
            Some(OTHER_KEY),
            Some(json!({"name": "Other", "allowed_origins": ["*"]})),
        )
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = start(&app, &other_ep, Some(from(&a, "from_segment")), Some(&a_token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(conversation_count(&app).await, before + 1, "only the stranger's own chat was made");

    // The customer, or the workspace key: once. A second time names the first.
    let (b, _) = chat_of_start(&app, &ep, Some(from(&a, "from_segment")), Some(&a_token)).await;
    let (status, body) = start(&app, &ep, Some(from(&a, "from_segment")), Some(&a_token)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&b), "names the chat that continues it: {body}");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/conversations",
            Some(ADMIN_KEY),
            Some(json!({"continue_from": from(&a, "entire_past_session")})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The key continues its own ended chats.
    talk_and_end(&app, &other.id, &other.customer, &[]).await;
    let made = app
        .admin(
            Method::POST,
            "/api/v1/conversations",
            Some(json!({"continue_from": from(&other.id, "entire_past_session")})),
        )
        .await;
    assert_eq!(made["previous_conversation_id"], other.id.as_str());
    assert_eq!(conversation_count(&app).await, before + 3);
}

async fn conversation_count(app: &TestApp) -> usize {
    app.admin(Method::GET, "/api/v1/conversations?limit=500", None).await["conversations"].as_array().unwrap().len()
}

/// The queue prefers the previous agent for `secs`; the workflow sends every
/// chat started through an entry point there.
async fn preferring_queue(app: &TestApp, secs: u32) {
    queue(app, "general", json!({"prefer_previous_agent_secs": secs, "offer_timeout_secs": 60})).await;
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body("default:\n  queue: general\n");
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

/// A chat started through `ep` (continuing `continue_from` with `bearer`), taken by the agent on `ws`.
async fn taken(
    app: &TestApp,
    ws: &mut Ws,
    ep: &str,
    continue_from: Option<Value>,
    bearer: Option<&str>,
) -> (String, String) {
    let (chat, token) = chat_of_start(app, ep, continue_from, bearer).await;
    let offer = offer_for(ws, &chat).await;
    ws.send(json!({"type": "accept", "ref": "take", "offer_id": offer})).await;
    assert_eq!(ws.frame_of("assigned").await["conversation_id"], chat.as_str());
    (chat, token)
}

async fn history(app: &TestApp, chat: &str) -> Vec<(String, Option<String>)> {
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
    let rows = task["history"].as_array().unwrap().iter();
    rows.map(|h| (h["what"].as_str().unwrap().to_owned(), h["agent_id"].as_str().map(str::to_owned))).collect()
}

fn step(what: &str, agent: Option<&AgentClient>) -> (String, Option<String>) {
    (what.to_owned(), agent.map(|a| a.id.clone()))
}

async fn pending_offers(app: &TestApp, a: &AgentClient) -> usize {
    let (status, offers) = app.call(Method::GET, "/api/v1/offers", Some(&a.token), None).await;
    assert_eq!(status, StatusCode::OK, "{offers}");
    offers.as_array().unwrap().len()
}

async fn the_previous_agent_is_offered_the_continued_chat_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    preferring_queue(&app, 600).await;
    let ep = entry_point(&app).await;
    let bob = agent(&app, "Bob", 2, json!({})).await;
    let ann = agent(&app, "Ann", 2, json!({})).await;
    let mut bob_ws = online(&app, &bob).await;
    let (a, a_token) = taken(&app, &mut bob_ws, &ep, None, None).await;
    talk_and_end(&app, &a, &a_token, &["hello Bob"]).await;
    // Bob has waited longest, so a new chat goes to him; then Ann has. The
    // continued chat is Bob's all the same.
    let mut ann_ws = online(&app, &ann).await;
    taken(&app, &mut bob_ws, &ep, None, None).await;
    let (b, _) = chat_of_start(&app, &ep, Some(from(&a, "entire_past_session")), Some(&a_token)).await;
    let offer = offer_for(&mut bob_ws, &b).await;
    assert_eq!(pending_offers(&app, &ann).await, 0, "only the previous agent is offered it");
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{b}/task"), None).await;
    assert_eq!(task["route"][0]["preferred"], true, "{task}");
    assert_eq!(task["route"][0]["agent_id"], bob.id.as_str());
    assert_eq!(
        history(&app, &b).await,
        [step("queued", None), step("preferred", Some(&bob)), step("offered", Some(&bob))]
    );
    bob_ws.send(json!({"type": "accept", "ref": "again", "offer_id": offer})).await;
    assert_eq!(bob_ws.frame_of("assigned").await["conversation_id"], b.as_str());

    // Bob reads the earlier chat through the new one; Ann, who had neither, cannot.
    let (status, p) = page(&app, &b, &bob.token, "limit=500").await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(contents(p["events"].as_array().unwrap()), ["hello Bob"]);
    let (status, _) = page(&app, &b, &ann.token, "limit=500").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A chat that continues nothing goes the usual way: to Ann, who waited longest.
    let (c, _) = chat_of_start(&app, &ep, None, None).await;
    offer_for(&mut ann_ws, &c).await;
}

async fn the_preference_falls_back_to_normal_routing_after_its_timeout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    preferring_queue(&app, 1).await;
    let ep = entry_point(&app).await;
    let bob = agent(&app, "Bob", 1, json!({})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let mut bob_ws = online(&app, &bob).await;
    let (a, a_token) = taken(&app, &mut bob_ws, &ep, None, None).await;
    talk_and_end(&app, &a, &a_token, &["hello Bob"]).await;
    // Bob is present but busy: the continued chat waits for him, then goes to Ann.
    take_chat(&app, &mut bob_ws, "general").await;
    let mut ann_ws = online(&app, &ann).await;
    let (b, _) = chat_of_start(&app, &ep, Some(from(&a, "from_segment")), Some(&a_token)).await;
    offer_for(&mut ann_ws, &b).await;
    assert_eq!(
        history(&app, &b).await,
        [
            step("queued", None),
            step("preferred", Some(&bob)),
            step("fallback", Some(&bob)),
            step("offered", Some(&ann))
        ]
    );
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{b}/task"), None).await;
    assert_eq!(task["step"], 1, "{task}");
}

async fn an_absent_previous_agent_means_normal_routing_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    preferring_queue(&app, 600).await;
    let ep = entry_point(&app).await;
    let bob = agent(&app, "Bob", 1, json!({})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let mut bob_ws = online(&app, &bob).await;
    let (a, a_token) = taken(&app, &mut bob_ws, &ep, None, None).await;
    talk_and_end(&app, &a, &a_token, &["hello Bob"]).await;
    bob_ws.send(json!({"type": "activity", "ref": "off", "activity": "away"})).await;
    let ack = loop {
        let f = bob_ws.frame_of("ack").await;
        if f["ref"] == "off" {
            break f;
        }
    };
    assert_eq!(ack["result"]["available"], false, "{ack}");
    let mut ann_ws = online(&app, &ann).await;
    // Ten minutes of preference would show; the offer comes at once.
    let (b, _) = chat_of_start(&app, &ep, Some(from(&a, "entire_past_session")), Some(&a_token)).await;
    offer_for(&mut ann_ws, &b).await;
    assert_eq!(history(&app, &b).await, [step("queued", None), step("offered", Some(&ann))]);
}

/// Silent monitors and agent-side forms of an earlier segment are hidden as
/// in the current one: from the customer both, from the agent the monitors;
/// the workspace key sees everything.
async fn screens_apply_in_every_segment(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    preferring_queue(&app, 600).await;
    let checklist = "name: checklist\nside: agent\nsteps:\n  ask:\n    type: show_form\n    form:\n      name: notes\n      \
                     title: Call notes\n      fields:\n        - { name: outcome, type: text, required: true }\n    into: notes\n    \
                     next: end\n";
    deploy(&app, checklist).await;
    let ep = entry_point(&app).await;
    let bob = agent(&app, "Bob", 2, json!({})).await;
    let mut bob_ws = online(&app, &bob).await;
    let (a, a_token) = taken(&app, &mut bob_ws, &ep, None, None).await;
    let monitor = app
        .admin(Method::POST, &format!("/api/v1/conversations/{a}/participants"), Some(json!({"role": "monitor"})))
        .await;
    let monitor = monitor["participant"]["id"].clone();
    let (status, run) = app
        .call(Method::POST, "/api/v1/flows/checklist/runs", Some(&bob.token), Some(json!({"conversation_id": a})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    loop {
        if bob_ws.event().await["type"] == "form" {
            break;
        }
    }
    // The monitor goes again: a page that starts after its arrival must still hide its leaving.
    let mid = monitor.as_str().unwrap();
    app.admin(Method::DELETE, &format!("/api/v1/conversations/{a}/participants/{mid}"), None).await;
    talk_and_end(&app, &a, &a_token, &["a1"]).await;
    let (b, b_token) = taken(&app, &mut bob_ws, &ep, Some(from(&a, "entire_past_session")), Some(&a_token)).await;

    let (_, all) = page(&app, &b, ADMIN_KEY, "limit=500").await;
    let all = all["events"].as_array().unwrap().clone();
    let is_form = |e: &Value| e["type"].as_str().unwrap().starts_with("form");
    let is_monitor = |e: &Value| e["participant_id"] == monitor || e["member_id"] == monitor;
    assert!(all.iter().any(is_form) && all.iter().any(is_monitor), "the key sees everything");
    let (_, customer) = page(&app, &b, &b_token, "limit=500").await;
    let customer = customer["events"].as_array().unwrap().clone();
    assert!(!customer.iter().any(|e| is_form(e) || is_monitor(e)), "{customer:?}");
    assert_eq!(customer.len(), all.iter().filter(|e| !is_form(e) && !is_monitor(e)).count());
    let (_, agent_view) = page(&app, &b, &bob.token, "limit=500").await;
    let agent_view = agent_view["events"].as_array().unwrap().clone();
    assert!(agent_view.iter().any(is_form) && !agent_view.iter().any(is_monitor));
    // Small pages move past hidden events and lose nothing, both ways.
    for limit in [1, 2] {
        let (paged, _) = read_all(&app, &b, &b_token, limit, "asc").await;
        assert_eq!(paged, customer);
        let (mut paged, _) = read_all(&app, &b, &bob.token, limit, "desc").await;
        paged.reverse();
        assert_eq!(paged, agent_view);
    }
}

both_backends!(
    entire_past_session_carries_the_whole_chain,
    from_segment_carries_only_the_source,
    continuing_is_refused_with_a_clear_error_and_creates_nothing,
    the_previous_agent_is_offered_the_continued_chat_first,
    the_preference_falls_back_to_normal_routing_after_its_timeout,
    an_absent_previous_agent_means_normal_routing_at_once,
    screens_apply_in_every_segment,
);
