//! Overflow to a message end to end: a chat nobody can take becomes a
//! "message us" request, the customer is told and leaves contact details
//! and messages, and an agent picks it up later: joining the chat when the
//! customer is still there, taking the details when not.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp, Ws};
use crate::routing::{agent, queue};

const WORKFLOW: &str = "filters:
  - name: all
    steps:
      - queue: support
        skip_if_nobody_available: true
      - queue: support
        message: \"We are away right now. Leave us a message!\"
default:
  queue: support
";

/// A chat started on the workspace's entry point: its id, the customer's
/// token and socket.
async fn start(app: &TestApp) -> (String, String, Ws) {
    let ep = app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned();
    let (status, started) =
        app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let chat = started["conversation"]["id"].as_str().unwrap().to_owned();
    let token = started["token"].as_str().unwrap().to_owned();
    let ws = app.ws(&token, Some(0)).await;
    (chat, token, ws)
}

/// The next event of `kind` on `ws`.
async fn next(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let e = ws.event().await;
        if e["type"] == kind {
            return e;
        }
    }
}

async fn requests(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, list) = app.call(Method::GET, "/api/v1/message-requests", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().clone()
}

async fn nobody_there_makes_a_message_request_that_an_agent_picks_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let support = queue(&app, "support", json!({})).await;
    queue(&app, "vip", json!({"expression": "has(agent.vip)"})).await;
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(WORKFLOW).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let ann = agent(&app, "Ann", 1, json!({})).await;
    // Nobody is online: the chat skips the first step and overflows.
    let (chat, customer, mut cws) = start(&app).await;
    let told = next(&mut cws, "conversation.overflowed").await;
    assert_eq!(told["text"], "We are away right now. Leave us a message!");
    let form = next(&mut cws, "form").await;
    assert_eq!(form["form_id"], told["form_id"]);
    let fields: Vec<&str> =
        form["form"]["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(fields, ["name", "email", "phone"]);
    let form_id = told["form_id"].as_str().unwrap();
    let submit = format!("/api/v1/conversations/{chat}/forms/{form_id}/submit");
    let (status, err) =
        app.call(Method::POST, &submit, Some(&customer), Some(json!({"values": {"name": "Ada"}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the email is required: {err}");
    let contact = json!({"name": "Ada", "email": "ada@example.com"});
    let (status, body) = app.call(Method::POST, &submit, Some(&customer), Some(json!({"values": contact}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.say(&chat, &customer, "My order never arrived", None).await;

    let listed = requests(&app, &ann.token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let r = &listed[0];
    assert_eq!((r["conversation_id"].as_str(), r["queue_id"].as_str()), (Some(chat.as_str()), Some(support.as_str())));
    assert_eq!((r["state"].clone(), r["open"].clone(), r["contact"].clone()), (json!("message"), json!(true), contact));
    let stats = app.admin(Method::GET, "/api/v1/supervisor/queues", None).await;
    let stats = stats.as_array().unwrap().iter().find(|q| q["queue_id"] == support.as_str()).unwrap().clone();
    assert_eq!((stats["messages"].as_i64(), stats["waiting"].as_i64()), (Some(1), Some(0)), "{stats}");
    let task = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
    let history: Vec<&str> = task["history"].as_array().unwrap().iter().map(|h| h["what"].as_str().unwrap()).collect();
    assert_eq!(history, ["queued", "step", "message"]);

    // Ann picks it up: she joins the chat the customer is still in, and the log so far is hers.
    let mut wa = app.ws(&ann.token, None).await;
    let (status, picked) =
        app.call(Method::POST, &format!("/api/v1/message-requests/{chat}/pick-up"), Some(&ann.token), None).await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    assert_eq!((picked["joined"].clone(), picked["request"]["state"].clone()), (json!(true), json!("assigned")));
    assert_eq!(wa.frame_of("assigned").await["conversation_id"], chat);
    let said = next(&mut wa, "message").await;
    assert_eq!(said["content"], "My order never arrived");
    let joined = next(&mut cws, "participant.joined").await;
    assert_eq!(joined["role"], "agent");
    wa.send(json!({"type": "send", "ref": "s", "conversation_id": chat, "content": "Hi Ada, Ann here"})).await;
    assert_eq!(next(&mut cws, "message").await["content"], "Hi Ada, Ann here");
    assert!(requests(&app, &ann.token).await.is_empty(), "picked up: off the list");
    let (status, _) =
        app.call(Method::POST, &format!("/api/v1/message-requests/{chat}/pick-up"), Some(&ann.token), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "picked up once");
}

async fn a_request_left_by_a_customer_who_has_gone_is_still_followed_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queue(&app, "support", json!({"expression": "has(agent.support)"})).await;
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(WORKFLOW).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ann = agent(&app, "Ann", 1, json!({"support": true})).await;
    let eve = agent(&app, "Eve", 1, json!({})).await;
    let (chat, customer, mut cws) = start(&app).await;
    next(&mut cws, "conversation.overflowed").await;
    app.say(&chat, &customer, "Call me back please", None).await;
    let (status, _) = app.call(Method::POST, &format!("/api/v1/conversations/{chat}/end"), Some(&customer), None).await;
    assert_eq!(status, StatusCode::OK);
    // Eve does not serve the queue: she does not see it and may not take it.
    assert!(requests(&app, &eve.token).await.is_empty());
    let pick = format!("/api/v1/message-requests/{chat}/pick-up");
    let (status, _) = app.call(Method::POST, &pick, Some(&eve.token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let listed = requests(&app, ADMIN_KEY).await;
    assert_eq!((listed.len(), listed[0]["open"].clone()), (1, json!(false)));
    // Bad requests change nothing.
    for (body, code) in [
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"agent_id": "nope"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"agent_id": ann.id, "extra": 1}), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, err) = app.call(Method::POST, &pick, Some(ADMIN_KEY), Some(body)).await;
        assert_eq!(status, code, "{err}");
    }
    let other = "/api/v1/message-requests/cnv_01M90G3EDSD5NAEED66BKQXNPK/pick-up";
    let (status, _) = app.call(Method::POST, other, Some(ADMIN_KEY), Some(json!({"agent_id": ann.id}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(requests(&app, ADMIN_KEY).await.len(), 1);
    // The key hands it to Ann: the chat is over, so she follows it up from the log.
    let (status, picked) = app.call(Method::POST, &pick, Some(ADMIN_KEY), Some(json!({"agent_id": ann.id}))).await;
    assert_eq!(status, StatusCode::OK, "{picked}");
    assert_eq!(
        (picked["joined"].clone(), picked["request"]["state"].clone(), picked["request"]["agent_id"].clone()),
        (json!(false), json!("completed"), json!(ann.id))
    );
    let (status, log) =
        app.call(Method::GET, &format!("/api/v1/conversations/{chat}/transcript"), Some(&ann.token), None).await;
    assert_eq!(status, StatusCode::OK, "the agent who picked it up reads the chat: {log}");
    assert!(requests(&app, ADMIN_KEY).await.is_empty());
}

async fn a_message_step_must_end_its_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queue(&app, "support", json!({})).await;
    for (yaml, field) in [
        (
            "filters:\n  - name: all\n    steps:\n      - queue: support\n        message: true\n      - queue: support\n",
            "filters[0].steps[0].message",
        ),
        (
            "filters:\n  - name: all\n    steps:\n      - queue: support\n        message: true\n        timeout: 5\n",
            "timeout",
        ),
        ("filters:\n  - name: all\n    steps:\n      - queue: support\n        message: 3\n", "message"),
    ] {
        let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(yaml).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let err = res.text().await.unwrap();
        assert!(err.contains(field) && err.contains("line"), "{field}: {err}");
    }
}

both_backends!(
    nobody_there_makes_a_message_request_that_an_agent_picks_up,
    a_request_left_by_a_customer_who_has_gone_is_still_followed_up,
    a_message_step_must_end_its_route,
);
