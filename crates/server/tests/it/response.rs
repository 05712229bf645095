//! Response timers and the ring policy end to end: an agent who does not
//! reply in time loses the chat to the next agent (or it moves to another
//! queue, or supervisors are only alerted), the slot comes back once, the
//! timers survive a restart and fire once with two routers on one
//! PostgreSQL; a chat that rang N agents moves on to the next step.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, TestApp, Ws};
use crate::routing::{agent, offer_for, online, queue, take_chat, waiting_chat};

async fn task_of(app: &TestApp, chat: &str) -> Value {
    app.admin(Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await
}

fn history(task: &Value) -> Vec<String> {
    task["history"].as_array().unwrap().iter().map(|h| h["what"].as_str().unwrap().to_owned()).collect()
}

async fn load(app: &TestApp, agent: &str) -> i64 {
    app.admin(Method::GET, &format!("/api/v1/agents/{agent}"), None).await["load"].as_i64().unwrap()
}

/// The next event on `ws` of one of `types`, skipping the rest.
async fn event_of(ws: &mut Ws, types: &[&str]) -> Value {
    loop {
        let e = ws.event().await;
        if types.iter().any(|t| e["type"] == *t) {
            return e;
        }
    }
}

async fn a_silent_agent_loses_the_chat_to_the_next(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({"first_reply_secs": 3, "reply_secs": 1})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let bob = agent(&app, "Bob", 1, json!({})).await;
    let mut supervisor = app.ws(ADMIN_KEY, None).await;
    // Ann has waited longest: she is offered the chat first, takes it, and says nothing.
    let mut wa = online(&app, &ann).await;
    let mut wb = online(&app, &bob).await;
    let (chat, customer) = take_chat(&app, &mut wa, &q).await;
    let mut cws = app.ws(&customer, None).await;
    let breach = supervisor.frame_of("sla_breached").await;
    assert_eq!(
        (breach["conversation_id"].as_str(), breach["agent_id"].as_str(), breach["timer"].as_str()),
        (Some(chat.as_str()), Some(ann.id.as_str()), Some("first_reply")),
        "{breach}"
    );
    assert_eq!((breach["after_secs"].as_i64(), breach["action"].as_str()), (Some(3), Some("next_agent")));
    assert_eq!(wa.frame_of("released").await["conversation_id"], chat);
    // Bob gets it; Ann's slot came back once.
    let offer = offer_for(&mut wb, &chat).await;
    wb.send(json!({"type": "accept", "ref": "b", "offer_id": offer})).await;
    wb.frame_of("assigned").await;
    // Bob answers in time: no breach for him yet.
    wb.send(json!({"type": "send", "ref": "hi", "conversation_id": chat, "content": "Bob here"})).await;
    wb.frame_of("ack").await;
    assert_eq!((load(&app, &ann.id).await, load(&app, &bob.id).await), (0, 1));
    // The customer does not see the breach: Ann's leave is the next thing it hears.
    let e = event_of(&mut cws, &["task.sla_breached", "participant.left"]).await;
    assert_eq!(e["type"], "participant.left", "{e}");
    // The customer writes; Bob lets it wait.
    app.say(&chat, &customer, "my card is blocked", None).await;
    let second = event_of(&mut wb, &["task.sla_breached"]).await;
    assert_eq!((second["timer"].as_str(), second["agent_id"].as_str()), (Some("reply"), Some(bob.id.as_str())));
    let task = task_of(&app, &chat).await;
    let h = history(&task);
    assert_eq!(h.iter().filter(|w| *w == "sla_breached").count(), 2, "{h:?}");
    assert_eq!(h[..6], ["queued", "offered", "accepted", "sla_breached", "requeued", "offered"], "{h:?}");
    let logged = app.transcript(&chat).await.iter().filter(|e| e["type"] == "task.sla_breached").count();
    assert_eq!(logged, 2);
}

async fn a_missed_reply_moves_the_chat_or_only_alerts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Nobody serves it here: a chat moved there waits.
    let escalations = queue(&app, "escalations", json!({"expression": "has(agent.escalations)"})).await;
    let q = queue(
        &app,
        "general",
        json!({"reply_secs": 1, "on_reply_timeout": "queue", "reply_timeout_queue": "escalations"}),
    )
    .await;
    let view = app.admin(Method::GET, &format!("/api/v1/queues/{q}"), None).await;
    assert_eq!(
        (view["reply_secs"].as_i64(), view["on_reply_timeout"].as_str(), view["reply_timeout_queue_id"].as_str()),
        (Some(1), Some("queue"), Some(escalations.as_str()))
    );
    let ann = agent(&app, "Ann", 2, json!({})).await;
    let mut wa = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut wa, &q).await;
    app.say(&chat, &customer, "hello?", None).await;
    let moved = event_of(&mut wa, &["conversation.transferred"]).await;
    assert_eq!(moved["queue_id"], escalations.as_str());
    assert_eq!(task_of(&app, &chat).await["queue_id"], escalations.as_str());

    // Alert only: Ann keeps the chat; the clock starts again with the next message.
    app.admin(Method::PATCH, &format!("/api/v1/queues/{q}"), Some(json!({"on_reply_timeout": "alert"}))).await;
    let view = app.admin(Method::GET, &format!("/api/v1/queues/{q}"), None).await;
    assert_eq!((view["on_reply_timeout"].as_str(), view["reply_timeout_queue_id"].as_str()), (Some("alert"), None));
    let (chat, customer) = take_chat(&app, &mut wa, &q).await;
    app.say(&chat, &customer, "hello?", None).await;
    let breach = event_of(&mut wa, &["task.sla_breached"]).await;
    assert_eq!(breach["action"], "alert");
    let task = task_of(&app, &chat).await;
    assert_eq!((task["state"].as_str(), task["agent_id"].as_str()), (Some("assigned"), Some(ann.id.as_str())));
    assert_eq!(task["reply_due_at"], Value::Null);
    app.say(&chat, &customer, "anyone there?", None).await;
    assert_eq!(event_of(&mut wa, &["task.sla_breached"]).await["action"], "alert");
}

async fn reply_timer_settings_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({})).await;
    for (body, field) in [
        (json!({"first_reply_secs": 0}), "first_reply_secs"),
        (json!({"reply_secs": 86_401}), "reply_secs"),
        (json!({"reply_secs": "10"}), "reply_secs"),
        (json!({"on_reply_timeout": "shrug"}), "on_reply_timeout"),
        (json!({"on_reply_timeout": "queue"}), "reply_timeout_queue"),
        (json!({"on_reply_timeout": "queue", "reply_timeout_queue": "nowhere"}), "reply_timeout_queue"),
        (json!({"on_reply_timeout": "queue", "reply_timeout_queue": "general"}), "reply_timeout_queue"),
        (json!({"on_reply_timeout": "alert", "reply_timeout_queue": "general"}), "reply_timeout_queue"),
    ] {
        let (status, err) = app.call(Method::PATCH, &format!("/api/v1/queues/{q}"), Some(ADMIN_KEY), Some(body)).await;
        assert!(status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST, "{status} {err}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    let view = app.admin(Method::GET, &format!("/api/v1/queues/{q}"), None).await;
    assert_eq!(
        (view["first_reply_secs"].clone(), view["reply_secs"].clone(), view["on_reply_timeout"].clone()),
        (Value::Null, Value::Null, json!("next_agent")),
        "nothing changed"
    );
    // A ring policy on the last step of a route has nowhere to go.
    let yaml = "filters:\n  - name: all\n    steps:\n      - queue: general\n        ring: 2\n";
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(yaml).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err = res.text().await.unwrap();
    assert!(err.contains("filters[0].steps[0].ring") && err.contains("line 5"), "{err}");
}

async fn the_ring_policy_moves_on_after_n_agents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queue(&app, "general", json!({"offer_timeout_secs": 1})).await;
    queue(&app, "leads", json!({"expression": "agent.lead == true"})).await;
    let yaml = "filters:\n  - name: all\n    steps:\n      - queue: general\n        agents: \"!has(agent.lead)\"\n        ring: 2\n      - queue: leads\n";
    let res = app.http.put(app.url("/api/v1/workflow")).bearer_auth(ADMIN_KEY).body(yaml).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let bob = agent(&app, "Bob", 1, json!({})).await;
    let lea = agent(&app, "Lea", 1, json!({"lead": true})).await;
    let mut wa = online(&app, &ann).await;
    let mut wb = online(&app, &bob).await;
    let mut wl = online(&app, &lea).await;
    let ep = app.admin(Method::GET, "/api/v1/entry-points", None).await[0]["id"].as_str().unwrap().to_owned();
    let (status, started) =
        app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let chat = started["conversation"]["id"].as_str().unwrap().to_owned();
    // Ann declines, Bob lets the offer lapse: two agents rang, so the lead is next.
    let offer = offer_for(&mut wa, &chat).await;
    wa.send(json!({"type": "decline", "ref": "d", "offer_id": offer})).await;
    offer_for(&mut wb, &chat).await;
    let offer = offer_for(&mut wl, &chat).await;
    wl.send(json!({"type": "accept", "ref": "a", "offer_id": offer})).await;
    wl.frame_of("assigned").await;
    let task = task_of(&app, &chat).await;
    assert_eq!(task["route"][0]["ring"], 2);
    let h = history(&task);
    assert_eq!(h, ["queued", "offered", "declined", "offered", "expired", "rung_out", "step", "offered", "accepted"]);
}

async fn reply_timers_survive_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = queue(&app, "general", json!({"first_reply_secs": 2})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let bob = agent(&app, "Bob", 1, json!({})).await;
    let mut wa = online(&app, &ann).await;
    let (chat, _) = take_chat(&app, &mut wa, &q).await;
    assert!(task_of(&app, &chat).await["reply_due_at"].is_string());
    drop(wa);
    let app = app.restart().await;
    // The timer stored before the restart fires after it: Bob gets the chat.
    let mut wb = online(&app, &bob).await;
    let offer = offer_for(&mut wb, &chat).await;
    wb.send(json!({"type": "accept", "ref": "b", "offer_id": offer})).await;
    wb.frame_of("assigned").await;
    assert_eq!(load(&app, &ann.id).await, 0);
    let breaches = app.transcript(&chat).await.iter().filter(|e| e["type"] == "task.sla_breached").count();
    assert_eq!(breaches, 1);
}

both_backends!(
    a_silent_agent_loses_the_chat_to_the_next,
    a_missed_reply_moves_the_chat_or_only_alerts,
    reply_timer_settings_are_checked,
    the_ring_policy_moves_on_after_n_agents,
    reply_timers_survive_a_restart,
);

/// Two servers with their own routers and timer workers on one PostgreSQL:
/// every agent takes its chats and never replies; each chat's timer fires
/// once (one breach logged per chat, however many workers saw it due) and
/// every slot comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(not(postgres_tests), ignore = "set SWITCHBOARD_TEST_POSTGRES_URL to run")]
async fn two_servers_fire_each_reply_timer_once() {
    let (one, two) = TestApp::two_on_one_postgres().await;
    let q = queue(&one, "general", json!({"first_reply_secs": 1, "on_reply_timeout": "alert"})).await;
    const CHATS: usize = 12;
    let mut sockets = Vec::new();
    for i in 0..3 {
        let a = agent(&one, &format!("agent {i}"), 4, json!({})).await;
        sockets.push(online(if i % 2 == 0 { &one } else { &two }, &a).await);
    }
    let mut chats = Vec::new();
    for i in 0..CHATS {
        chats.push(waiting_chat(if i % 2 == 0 { &one } else { &two }, &q).await.0);
    }
    // Each socket accepts what it is offered and reports what it hears
    // (alert only: the agents keep their chats).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    for mut ws in sockets {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let f = ws.frame().await;
                match f["type"].as_str() {
                    Some("offer") => {
                        let id = f["offer"]["id"].as_str().unwrap().to_owned();
                        ws.send(json!({"type": "accept", "ref": id, "offer_id": id})).await;
                    }
                    Some("assigned") => {
                        let _ = tx.send(("assigned".into(), f["conversation_id"].as_str().unwrap().to_owned()));
                    }
                    Some("event") if f["event"]["type"] == "task.sla_breached" => {
                        let _ = tx.send(("breach".into(), f["event"]["conversation_id"].as_str().unwrap().to_owned()));
                    }
                    _ => {}
                }
            }
        });
    }
    let (mut assigned, mut breached) = (0, std::collections::HashSet::new());
    while assigned < CHATS || breached.len() < CHATS {
        let heard = tokio::time::timeout(std::time::Duration::from_secs(20), rx.recv()).await;
        let Ok(Some((what, chat))) = heard else {
            panic!("{assigned} chats assigned, {} breached, then nothing", breached.len());
        };
        match what.as_str() {
            "assigned" => assigned += 1,
            _ => assert!(breached.insert(chat.clone()), "chat {chat} breached twice"),
        }
    }
    for c in &chats {
        let logged = one.transcript(c).await.iter().filter(|e| e["type"] == "task.sla_breached").count();
        assert_eq!(logged, 1, "chat {c}: one breach, whichever server's worker claimed the timer");
    }
}
