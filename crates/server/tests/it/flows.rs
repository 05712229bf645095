//! Flows end to end: the shipped examples deployed through the API, run in
//! real chats with an agent and a customer on real sockets, across restarts,
//! and every bad request refused without a trace.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::flow_steps::{bot_says, deploy, next_event, post_flow, submit};
use crate::harness::{ADMIN_KEY, Backend, TestApp, Ws};
use crate::routing::{AgentClient, agent, offer_for, online, queue};
use crate::webhooks::Receiver;

const CUSTOMER_FLOW: &str = include_str!("../../../../examples/use-of-funds/customer.yaml");
const AGENT_FLOW: &str = include_str!("../../../../examples/use-of-funds/agent.yaml");
const EVENT_TYPE: &str = include_str!("../../../../examples/use-of-funds/event-type.json");
const GREETER: &str = include_str!("../../../../examples/greeter/greeter.yaml");

/// Declares the event type and deploys both sides of the co-work example.
async fn use_of_funds(app: &TestApp) {
    let event_type: Value = serde_json::from_str(EVENT_TYPE).unwrap();
    app.admin(Method::PUT, "/api/v1/event-types/use_of_funds", Some(event_type)).await;
    deploy(app, CUSTOMER_FLOW).await;
    deploy(app, AGENT_FLOW).await;
}

/// A chat linked to `record`, with a customer, taken by the agent on `ws`.
async fn case_chat(app: &TestApp, ws: &mut Ws, queue_name: &str, record: &str) -> (String, String) {
    let chat = app.admin(Method::POST, "/api/v1/conversations", Some(json!({"record_id": record}))).await;
    let id = chat["id"].as_str().unwrap().to_owned();
    let customer = app
        .admin(Method::POST, &format!("/api/v1/conversations/{id}/participants"), Some(json!({"role": "customer"})))
        .await;
    app.admin(Method::POST, &format!("/api/v1/conversations/{id}/route"), Some(json!({"queue": queue_name}))).await;
    let offer = offer_for(ws, &id).await;
    ws.send(json!({"type": "accept", "ref": "accept", "offer_id": offer})).await;
    ws.frame_of("assigned").await;
    (id, customer["token"].as_str().unwrap().to_owned())
}

/// The agent's socket: the next `flow.run` frame of this run in `state`.
async fn run_frame(ws: &mut Ws, state: &str) -> Value {
    loop {
        let f = ws.frame_of("flow.run").await;
        if f["state"] == state {
            return f;
        }
    }
}

async fn launch(app: &TestApp, a: &AgentClient, record: &str) -> Value {
    let (status, run) = app
        .call(
            Method::POST,
            "/api/v1/flows/use-of-funds-agent/runs",
            Some(&a.token),
            Some(json!({"record_id": record, "params": {"record_id": record}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    run
}

/// Seed 001's scenario: the agent launches its flow against the case's
/// record id; the customer gets the form and the scripted message, answers,
/// and the agent's flow receives the answer under that key only.
async fn use_of_funds_co_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    use_of_funds(&app).await;
    let mut receiver = Receiver::start(200).await;
    let hook = json!({"url": receiver.url, "events": ["event:use_of_funds"]});
    app.admin(Method::POST, "/api/v1/webhooks", Some(hook)).await;
    queue(&app, "loans", json!({})).await;
    let a = agent(&app, "Ann", 2, json!({})).await;
    let mut agent_ws = online(&app, &a).await;
    let (chat, customer) = case_chat(&app, &mut agent_ws, "loans", "500AA1").await;
    let mut customer_ws = app.ws(&customer, None).await;

    let run = launch(&app, &a, "500AA1").await;
    assert_eq!(run["conversation_id"], chat.as_str(), "{run}");
    assert_eq!(run["state"], "waiting", "{run}");

    // The agent's flow says so in the chat, then the customer's side sends the form.
    let scripted = next_event(&mut customer_ws, "message").await;
    assert!(scripted["content"].as_str().unwrap().starts_with("A form regarding the use of funds"), "{scripted}");
    let form = next_event(&mut customer_ws, "form").await;
    assert_eq!(form["form"]["name"], "use_of_funds", "{form}");
    assert_eq!(form["to"], "customer");

    let form_id = form["form_id"].as_str().unwrap();
    let (status, submitted) = submit(&app, &chat, &customer, form_id, json!({"reason": "renovation work"})).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    assert_eq!(submitted["type"], "form.submitted");
    assert_eq!(submitted["values"]["reason"], "Renovation work", "the choice as written in the form");

    // The agent's flow gets the answer, thanks the customer and stores it.
    let done = run_frame(&mut agent_ws, "completed").await;
    assert_eq!(done["vars"]["result"]["reason"], "Renovation work", "{done}");
    let thanks = next_event(&mut customer_ws, "message").await;
    assert!(thanks["content"].as_str().unwrap().contains("concerns Renovation work"), "{thanks}");
    let c = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}"), None).await;
    assert_eq!(c["attributes"]["use_of_funds"], "Renovation work", "{c}");
    // The answer reaches the webhook receiver, keyed by the case.
    let told = receiver.next().await.json();
    assert_eq!(
        (told["data"]["key"].as_str(), told["data"]["data"]["reason"].as_str()),
        (Some("500AA1"), Some("Renovation work"))
    );

    // A second submission is refused; the run log tells the story.
    let (status, again) = submit(&app, &chat, &customer, form_id, json!({"reason": "Purchase"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let log = app.admin(Method::GET, &format!("/api/v1/flow-runs/{}/log", run["id"].as_str().unwrap()), None).await;
    let whats: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["what"].as_str().unwrap()).collect();
    assert_eq!(whats.first(), Some(&"started"), "{log}");
    assert_eq!(whats.last(), Some(&"completed"), "{log}");
}

/// Many conversations run the co-work at once; each agent flow receives
/// only its own customer's answer.
async fn concurrent_co_work_sees_only_its_own_answer(backend: Backend, chats: usize) {
    let app = TestApp::spawn(backend).await;
    use_of_funds(&app).await;
    queue(&app, "loans", json!({})).await;
    let a = agent(&app, "Ann", chats as i64, json!({})).await;
    let mut agent_ws = online(&app, &a).await;
    let reasons = ["Renovation work", "Purchase", "Refinancing", "Other"];
    let mut chats_of = Vec::new();
    for i in 0..chats {
        let record = format!("500C{i:04}");
        let (chat, customer) = case_chat(&app, &mut agent_ws, "loans", &record).await;
        chats_of.push((chat, customer, record));
    }
    let mut runs = Vec::new();
    for (_, _, record) in &chats_of {
        runs.push(launch(&app, &a, record).await["id"].as_str().unwrap().to_owned());
    }
    // Each customer answers its own form when it arrives, all at once.
    let mut answering = tokio::task::JoinSet::new();
    for (i, (chat, customer, _)) in chats_of.iter().enumerate() {
        let mut ws = app.ws(customer, Some(0)).await;
        let (app_url, chat, customer) = (app.url(""), chat.clone(), customer.clone());
        let reason = reasons[i % reasons.len()];
        answering.spawn(async move {
            let form = next_event(&mut ws, "form").await;
            let form = form["form_id"].as_str().unwrap();
            let res = reqwest::Client::new()
                .post(format!("{app_url}/api/v1/conversations/{chat}/forms/{form}/submit"))
                .bearer_auth(&customer)
                .json(&json!({"values": {"reason": reason}}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::CREATED);
        });
    }
    while let Some(r) = answering.join_next().await {
        r.unwrap();
    }
    let mut done = 0;
    while done < chats {
        let f = run_frame(&mut agent_ws, "completed").await;
        let i = runs.iter().position(|r| f["run_id"] == r.as_str()).expect("a run of this test");
        assert_eq!(f["conversation_id"], chats_of[i].0.as_str());
        assert_eq!(f["vars"]["result"]["reason"], reasons[i % reasons.len()], "run {i} saw another's answer: {f}");
        done += 1;
    }
    for (i, (chat, _, _)) in chats_of.iter().enumerate() {
        let c = app.admin(Method::GET, &format!("/api/v1/conversations/{chat}"), None).await;
        assert_eq!(c["attributes"]["use_of_funds"], reasons[i % reasons.len()]);
    }
}

async fn two_conversations_at_once(backend: Backend) {
    concurrent_co_work_sees_only_its_own_answer(backend, 2).await;
}

async fn a_hundred_conversations_at_once(backend: Backend) {
    concurrent_co_work_sees_only_its_own_answer(backend, 100).await;
}

/// The pre-chat bot: greets, asks, re-asks a wrong answer, branches on the
/// answer and routes to that queue.
async fn greeter_routes_by_the_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queue(&app, "billing", json!({})).await;
    queue(&app, "technical", json!({})).await;
    let website = app
        .admin(Method::POST, "/api/v1/entry-points", Some(json!({"name": "website", "allowed_origins": ["*"]})))
        .await;
    deploy(&app, GREETER).await;
    let ep = website["id"].as_str().unwrap();
    let (status, started) =
        app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let chat = started["conversation"]["id"].as_str().unwrap().to_owned();
    let token = started["token"].as_str().unwrap().to_owned();
    let mut ws = app.ws(&token, Some(0)).await;
    assert_eq!(bot_says(&mut ws).await, "Hi! Thanks for reaching out.");
    assert!(bot_says(&mut ws).await.starts_with("What can we help"));
    app.say(&chat, &token, "bananas", None).await;
    let again = bot_says(&mut ws).await;
    assert!(again.starts_with("Please answer one of: Billing, Technical."), "{again}");
    app.say(&chat, &token, "billing", None).await;
    let queued = next_event(&mut ws, "conversation.queued").await;
    let billing = app.admin(Method::GET, "/api/v1/queues", None).await;
    let billing_id = billing.as_array().unwrap().iter().find(|q| q["name"] == "billing").unwrap()["id"].clone();
    assert_eq!(queued["queue_id"], billing_id, "{queued}");
    assert_eq!(bot_says(&mut ws).await, "Thanks, an agent from Billing will be with you shortly.");
}

/// A flow triggered by messages on an entry point answers each customer
/// message in chats started there, once per message, and not its own.
async fn message_added_flows_answer_messages_on_their_entry_point(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let website = app
        .admin(Method::POST, "/api/v1/entry-points", Some(json!({"name": "website", "allowed_origins": ["*"]})))
        .await;
    let echo = "name: echo\ntrigger:\n  message_added: [website]\nsteps:\n  say:\n    type: send_message\n    \
                text: \"you said {{ trigger.data.content }}\"\n    next: end\n";
    deploy(&app, echo).await;
    let ep = website["id"].as_str().unwrap();
    let (_, started) = app.call(Method::POST, &format!("/api/v1/entry-points/{ep}/chats"), None, Some(json!({}))).await;
    let chat = started["conversation"]["id"].as_str().unwrap().to_owned();
    let token = started["token"].as_str().unwrap().to_owned();
    let mut ws = app.ws(&token, Some(0)).await;
    app.say(&chat, &token, "hello", None).await;
    assert_eq!(bot_says(&mut ws).await, "you said hello");
    app.say(&chat, &token, "again", None).await;
    assert_eq!(bot_says(&mut ws).await, "you said again");
    let runs = app.admin(Method::GET, &format!("/api/v1/flow-runs?flow=echo&conversation_id={chat}"), None).await;
    assert_eq!(runs.as_array().unwrap().len(), 2, "one run per customer message: {runs}");
    // It listens through a webhook scoped to that chat, and to no other.
    let other = app.chat().await;
    let hooks = app.admin(Method::GET, "/api/v1/webhooks", None).await;
    let scoped: Vec<&Value> = hooks.as_array().unwrap().iter().filter(|h| h["flow"] == "echo").collect();
    assert_eq!(scoped.len(), 1, "{hooks}");
    assert_eq!(scoped[0]["conversation_id"], chat.as_str());
    assert_ne!(scoped[0]["conversation_id"], other.id.as_str());
}

/// An agent-side flow's form goes to the agent: the agent answers it, and
/// the customer sees neither the form nor the answer.
async fn agent_side_forms_are_the_agents_own(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let checklist = "name: checklist\nside: agent\nsteps:\n  ask:\n    type: show_form\n    form:\n      name: notes\n      \
                     title: Call notes\n      fields:\n        - { name: outcome, type: text, required: true }\n    into: notes\n    \
                     next: end\n";
    deploy(&app, checklist).await;
    queue(&app, "loans", json!({})).await;
    let a = agent(&app, "Ann", 1, json!({})).await;
    let mut agent_ws = online(&app, &a).await;
    let (chat, customer) = case_chat(&app, &mut agent_ws, "loans", "500CC1").await;
    let (status, run) = app
        .call(Method::POST, "/api/v1/flows/checklist/runs", Some(&a.token), Some(json!({"conversation_id": chat})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let form = loop {
        let f = agent_ws.frame_of("event").await;
        if f["event"]["type"] == "form" {
            break f["event"].clone();
        }
    };
    assert_eq!(form["to"], "agent");
    let form_id = form["form_id"].as_str().unwrap();
    let (status, body) = submit(&app, &chat, &customer, form_id, json!({"outcome": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the customer cannot answer the agent's form: {body}");
    let (status, body) = submit(&app, &chat, &a.token, form_id, json!({"outcome": "approved"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    run_frame(&mut agent_ws, "completed").await;
    let (_, seen) = app
        .call(Method::GET, &format!("/api/v1/conversations/{chat}/transcript?limit=100"), Some(&customer), None)
        .await;
    let types: Vec<&str> = seen["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(!types.iter().any(|t| t.starts_with("form")), "the customer saw the agent's form: {types:?}");
    let all = app.transcript(&chat).await;
    assert!(all.iter().any(|e| e["type"] == "form.submitted" && e["to"] == "agent"), "the key sees it");
}

/// Opens the custom-event stream with `query`; the hello's cursor and the socket.
async fn event_stream(app: &TestApp, query: &str) -> (i64, Ws) {
    let url = format!("ws://{}/api/v1/custom-events/stream?{query}", app.addr);
    let (stream, _) = tokio_tungstenite::connect_async(url).await.expect("the event stream opens");
    let mut ws = Ws { stream };
    let hello = ws.frame().await;
    assert_eq!(hello["type"], "hello", "{hello}");
    (hello["after"].as_i64().unwrap(), ws)
}

async fn publish(app: &TestApp, key: &str, reason: &str) -> Value {
    let body = json!({"type": "use_of_funds", "key": key, "data": {"reason": reason}});
    app.admin(Method::POST, "/api/v1/custom-events", Some(body)).await
}

/// A WebSocket subscriber gets the events of its type and key kept after its
/// replay id, then each one as it is published; after a reconnect with the
/// last id it got, exactly what it missed.
async fn custom_event_streams_replay_and_follow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    use_of_funds(&app).await;
    let e1 = publish(&app, "A", "one").await;
    publish(&app, "B", "not for us").await;
    let (after, mut ws) = event_stream(&app, &format!("token={ADMIN_KEY}&type=use_of_funds&key=A&after=0")).await;
    assert_eq!(after, 0);
    let got = ws.frame_of("custom_event").await;
    assert_eq!((got["event"]["id"].clone(), got["event"]["data"]["reason"].clone()), (e1["id"].clone(), json!("one")));
    let e3 = publish(&app, "A", "three").await;
    let got = ws.frame_of("custom_event").await;
    assert_eq!(got["event"]["id"], e3["id"], "live, and not key B's");
    drop(ws);
    let e4 = publish(&app, "A", "four").await;
    let resume = format!("token={ADMIN_KEY}&type=use_of_funds&key=A&after={}", e3["replay_id"]);
    let (_, mut ws) = event_stream(&app, &resume).await;
    assert_eq!(ws.frame_of("custom_event").await["event"]["id"], e4["id"], "exactly what it missed");
    // Without `after`, only what comes next; an agent token may follow too.
    let a = agent(&app, "Ann", 1, json!({})).await;
    let (after, mut next) = event_stream(&app, &format!("token={}&type=use_of_funds", a.token)).await;
    assert_eq!(after, e4["replay_id"].as_i64().unwrap());
    let e5 = publish(&app, "C", "five").await;
    assert_eq!(next.frame_of("custom_event").await["event"]["id"], e5["id"]);
    // A participant may not.
    let chat = app.chat().await;
    let url = format!("ws://{}/api/v1/custom-events/stream?token={}", app.addr, chat.customer);
    let refused = tokio_tungstenite::connect_async(url).await.expect_err("refused before the upgrade");
    assert!(refused.to_string().contains("403"), "{refused}");
}

/// A run waiting on a form, one waiting on an event, and a new version
/// deployed meanwhile: after a restart each goes on where it was, on the
/// version it started with.
async fn runs_resume_after_a_restart(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    use_of_funds(&app).await;
    queue(&app, "loans", json!({})).await;
    let a = agent(&app, "Ann", 2, json!({})).await;
    let mut agent_ws = online(&app, &a).await;
    let (chat, customer) = case_chat(&app, &mut agent_ws, "loans", "500RR1").await;
    let run = launch(&app, &a, "500RR1").await;
    let run_id = run["id"].as_str().unwrap().to_owned();
    let mut customer_ws = app.ws(&customer, Some(0)).await;
    let form = next_event(&mut customer_ws, "form").await;
    drop(customer_ws);
    drop(agent_ws);
    // Version 2 thanks differently; the running run keeps version 1.
    deploy(&app, &AGENT_FLOW.replace("Thank you for completing", "Version two thanks you for")).await;

    let app = app.restart().await;
    let mut agent_ws = online(&app, &a).await;
    let (status, _) =
        submit(&app, &chat, &customer, form["form_id"].as_str().unwrap(), json!({"reason": "Purchase"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let done = run_frame(&mut agent_ws, "completed").await;
    assert_eq!(done["run_id"], run_id.as_str());
    let finished = app.admin(Method::GET, &format!("/api/v1/flow-runs/{run_id}"), None).await;
    assert_eq!(finished["state"], "completed", "{finished}");
    assert_eq!(finished["flow_version"], 1);
    let events = app.transcript(&chat).await;
    let last_message = events.iter().rev().find(|e| e["type"] == "message").unwrap();
    assert!(last_message["content"].as_str().unwrap().starts_with("Thank you for completing"), "{last_message}");
}

/// Bad input: each a clear 4xx, and nothing changes.
async fn bad_flow_input_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    use_of_funds(&app).await;
    // An invalid file names the line and field of every problem.
    let broken = "name: broken\nsteps:\n  a:\n    type: send_mesage\n    next: b\n";
    let (status, body) = post_flow(&app, broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["error"]["errors"].as_array().cloned().unwrap_or_default();
    assert!(!errors.is_empty(), "{body}");
    assert!(
        errors.iter().any(|e| e["field"] == "steps.a.type" && e["message"].as_str().unwrap().starts_with("line 4")),
        "{body}"
    );
    let flows = app.admin(Method::GET, "/api/v1/flows", None).await;
    assert_eq!(flows.as_array().unwrap().len(), 2, "nothing deployed: {flows}");

    // An event that does not fit its type.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/custom-events",
            Some(ADMIN_KEY),
            Some(json!({"type": "use_of_funds", "key": "k", "data": {"reason": 5}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "data.reason");
    let (status, body) = app
        .call(Method::POST, "/api/v1/custom-events", Some(ADMIN_KEY), Some(json!({"type": "nope", "key": "k"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let published = app.admin(Method::GET, "/api/v1/custom-events", None).await;
    assert_eq!(published.as_array().unwrap().len(), 0, "{published}");

    // A form of another conversation, and a wrong value, with the customer's token.
    queue(&app, "loans", json!({})).await;
    let a = agent(&app, "Ann", 2, json!({})).await;
    let mut agent_ws = online(&app, &a).await;
    let (chat, customer) = case_chat(&app, &mut agent_ws, "loans", "500BB1").await;
    let (other, other_customer) = case_chat(&app, &mut agent_ws, "loans", "500BB2").await;
    launch(&app, &a, "500BB1").await;
    let mut customer_ws = app.ws(&customer, Some(0)).await;
    let form = next_event(&mut customer_ws, "form").await;
    let form_id = form["form_id"].as_str().unwrap();
    let (status, body) = submit(&app, &other, &other_customer, form_id, json!({"reason": "Purchase"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another conversation's form: {body}");
    let (status, body) = submit(&app, &chat, &other_customer, form_id, json!({"reason": "Purchase"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another conversation's token: {body}");
    let (status, body) = submit(&app, &chat, &customer, form_id, json!({"reason": "Lottery"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "values.reason");
    let (status, body) = submit(&app, &chat, &customer, form_id, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Still open: the right answer goes through.
    let (status, _) = submit(&app, &chat, &customer, form_id, json!({"reason": "Other"})).await;
    assert_eq!(status, StatusCode::CREATED);

    // A launch against a record with no open conversation, and with a missing parameter.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/flows/use-of-funds-agent/runs",
            Some(ADMIN_KEY),
            Some(json!({"record_id": "no-such-case", "params": {"record_id": "x"}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/flows/use-of-funds-agent/runs",
            Some(ADMIN_KEY),
            Some(json!({"conversation_id": chat})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "params");
    // A customer cannot launch flows.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/flows/use-of-funds-agent/runs",
            Some(&customer),
            Some(json!({"conversation_id": chat, "params": {"record_id": "x"}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

both_backends!(
    use_of_funds_co_work,
    two_conversations_at_once,
    a_hundred_conversations_at_once,
    greeter_routes_by_the_answer,
    message_added_flows_answer_messages_on_their_entry_point,
    agent_side_forms_are_the_agents_own,
    custom_event_streams_replay_and_follow,
    runs_resume_after_a_restart,
    bad_flow_input_is_refused,
);
