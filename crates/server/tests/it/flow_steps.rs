//! Every flow step type end to end, each with its error outcome: flows
//! deployed through the API and run in real chats, with the customer and
//! the agents on real sockets, `http_request` against an HTTP server the test
//! runs, on both backends; and runs waiting on a form, an event and an HTTP
//! call across a `kill -9` of the real binary.
//!
//! Each test waits for the event or frame that proves what it claims, or,
//! where nothing is sent, polls the API with a deadline.
//!
//! `post_flow`, `deploy`, `submit`, `next_event` and `bot_says` are small
//! copies of private helpers of `flows.rs` (here over any [`Server`]);
//! `Serve` is a cut-down `durability::launch` on `lock::binary`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_core::clock::Timestamp;
use tokio::process::Child;
use tokio::sync::{Semaphore, mpsc};

use crate::both_backends;
use crate::harness::{ADMIN_KEY, Backend, PROMPTLY, TestApp, Ws, parse_json, read_transcript};
use crate::routing::{agent, offer_for, online, queue, take_chat};

both_backends!(
    send_message_plain_markdown_and_as_the_launching_agent,
    send_message_as_agent_without_an_agent_takes_on_error,
    the_error_is_readable_in_a_template,
    ask_takes_choices_and_patterns_and_asks_again,
    ask_without_a_valid_answer_takes_on_error,
    ask_timeout_takes_on_timeout,
    show_form_submitted,
    show_form_timeout_cancels_the_form,
    set_vars_and_set_attributes,
    set_vars_and_set_attributes_errors_take_on_error,
    branch_cases_default_and_a_failing_condition,
    http_request_reply_and_every_failure,
    a_slow_http_request_holds_up_no_other_run,
    wait_for_event_receives_only_its_own_key,
    publish_event_reaches_runs_here_and_elsewhere,
    wait_for_event_timeout_and_event_step_errors,
    route_to_a_queue_the_workflow_and_nowhere,
    transfer_to_an_agent_and_to_nobody,
    set_agent_input_prefills_the_composer,
    request_file_asks_the_customer,
    request_file_waits_for_the_file_or_its_refusal,
    end_chat_ends_the_conversation_and_its_runs,
    launch_flow_starts_another_flow_and_goes_on,
    subflow_waits_and_returns_its_vars,
    subflow_failure_takes_the_parents_on_error,
    wait_pauses_then_continues,
    a_failed_pre_chat_flow_hands_the_chat_to_the_workflow,
    waiting_runs_survive_kill_9,
);

// --- Talking to a server -----------------------------------------------------------------------

/// A server the helpers talk to: the in-process [`TestApp`], or a
/// `switchboard serve` process ([`Serve`]).
pub(crate) trait Server {
    fn at(&self, path: &str) -> String;
}

impl Server for TestApp {
    fn at(&self, path: &str) -> String {
        self.url(path)
    }
}

/// A request with a bearer and an optional JSON body: status and JSON (`Null` when empty).
async fn call(s: &impl Server, method: Method, path: &str, bearer: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().request(method, s.at(path)).bearer_auth(bearer);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    let json = if text.is_empty() { Value::Null } else { parse_json(&text, path).unwrap_or(Value::String(text)) };
    (status, json)
}

async fn admin(s: &impl Server, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, json) = call(s, method, path, ADMIN_KEY, body).await;
    assert!(status.is_success(), "{path}: {status} {json}");
    json
}

/// Posts a flow file (YAML) for deploying; status and answer.
pub(crate) async fn post_flow(s: &impl Server, source: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(s.at("/api/v1/flows"))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", "application/yaml")
        .body(source.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, parse_json(&text, "deploy").unwrap_or(Value::String(text)))
}

pub(crate) async fn deploy(s: &impl Server, source: &str) -> Value {
    let (status, body) = post_flow(s, source).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Launches `flow` in `chat` as `bearer` (an agent's token or the admin key); the run as started.
async fn launch(s: &impl Server, bearer: &str, flow: &str, chat: &str, params: Value) -> Value {
    let body = json!({"conversation_id": chat, "params": params});
    let (status, run) = call(s, Method::POST, &format!("/api/v1/flows/{flow}/runs"), bearer, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    run
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

async fn run_view(s: &impl Server, id: &str) -> Value {
    admin(s, Method::GET, &format!("/api/v1/flow-runs/{id}"), None).await
}

/// Polls a run until it is in `state`: a run's end is not an event in the
/// chat, so there is nothing else to wait for.
async fn run_becomes(s: &impl Server, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let run = run_view(s, id).await;
        if run["state"] == state {
            return run;
        }
        assert!(Instant::now() < deadline, "the run did not become {state}: {run}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The runs of `flow` in `chat`, newest first.
async fn runs_of(s: &impl Server, flow: &str, chat: &str) -> Vec<Value> {
    let runs = admin(s, Method::GET, &format!("/api/v1/flow-runs?flow={flow}&conversation_id={chat}"), None).await;
    runs.as_array().unwrap().clone()
}

/// The steps a run entered, in order, from its log.
async fn steps_entered(s: &impl Server, run: &str) -> Vec<String> {
    let log = admin(s, Method::GET, &format!("/api/v1/flow-runs/{run}/log"), None).await;
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["what"] == "entered")
        .map(|e| e["detail"].as_str().or(e["step"].as_str()).unwrap().to_owned())
        .collect()
}

/// A conversation with a customer, neither routed nor with an agent: its id
/// and the customer's token.
async fn customer_chat(s: &impl Server, body: Value) -> (String, String) {
    let chat = admin(s, Method::POST, "/api/v1/conversations", Some(body)).await;
    let id = id_of(&chat);
    let customer =
        admin(s, Method::POST, &format!("/api/v1/conversations/{id}/participants"), Some(json!({"role": "customer"})))
            .await;
    (id, customer["token"].as_str().unwrap().to_owned())
}

pub(crate) async fn submit(s: &impl Server, chat: &str, token: &str, form: &str, values: Value) -> (StatusCode, Value) {
    let path = format!("/api/v1/conversations/{chat}/forms/{form}/submit");
    call(s, Method::POST, &path, token, Some(json!({ "values": values }))).await
}

async fn declare_parcel(s: &impl Server) {
    let fields = json!({"fields": [{"name": "status", "type": "text", "required": true}]});
    admin(s, Method::PUT, "/api/v1/event-types/parcel", Some(fields)).await;
}

async fn publish(s: &impl Server, key: &str, status: &str) -> Value {
    let body = json!({"type": "parcel", "key": key, "data": {"status": status}});
    admin(s, Method::POST, "/api/v1/custom-events", Some(body)).await
}

/// Sets the workflow to put every chat in `general`.
async fn workflow_to_general(app: &TestApp) {
    let res = app
        .http
        .put(app.url("/api/v1/workflow"))
        .bearer_auth(ADMIN_KEY)
        .body("default:\n  queue: general\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

// --- What a socket sees ------------------------------------------------------------------------

/// The next event of `kind` on a participant's socket.
pub(crate) async fn next_event(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let e = ws.event().await;
        if e["type"] == kind {
            return e;
        }
    }
}

/// The next message the bot (the system, no participant) sends.
async fn bot_message(ws: &mut Ws) -> Value {
    loop {
        let e = next_event(ws, "message").await;
        if e["participant_id"].is_null() {
            return e;
        }
    }
}

pub(crate) async fn bot_says(ws: &mut Ws) -> String {
    bot_message(ws).await["content"].as_str().unwrap().to_owned()
}

/// A customer's socket on a new chat, replaying it from the start.
async fn watch(app: &TestApp, token: &str) -> Ws {
    app.ws(token, Some(0)).await
}

fn millis(at: &Value) -> i64 {
    Timestamp::parse_rfc3339(at.as_str().unwrap()).unwrap().millis()
}

/// The contents of the messages in a conversation.
async fn messages(s: &impl Server, chat: &str) -> Vec<String> {
    read_transcript(&reqwest::Client::new(), &s.at(""), chat)
        .await
        .iter()
        .filter(|e| e["type"] == "message")
        .map(|e| e["content"].as_str().unwrap().to_owned())
        .collect()
}

/// A template that renders past the 16 KiB limit (1000 × the 20-character
/// `pad` parameter): a step that renders it errs at run time.
const OVERFLOW: &str = "{% for i in range(1000) %}{{ params.pad }}{% endfor %}";
const PAD: &str = "pad: { default: \"0123456789abcdefghij\" }";

// --- send_message ------------------------------------------------------------------------------

const SPEAKER: &str = r#"
name: speaker
params:
  name: { required: true }
steps:
  plain:
    type: send_message
    text: "Hello {{ params.name }}"
    next: markdown
  markdown:
    type: send_message
    format: markdown
    text: "**Welcome** to _support_"
    next: as_agent
  as_agent:
    type: send_message
    as: agent
    text: I am looking at your case now.
    next: end
"#;

/// Plain text and markdown go out as system messages of their content
/// type; `as: agent` in a run an agent launched speaks as that agent.
async fn send_message_plain_markdown_and_as_the_launching_agent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(&app, SPEAKER).await;
    queue(&app, "general", json!({})).await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let mut ann_ws = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut ann_ws, "general").await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, &ann.token, "speaker", &chat, json!({"name": "Ada"})).await;

    let plain = bot_message(&mut ws).await;
    assert_eq!((plain["content"].as_str(), plain["content_type"].as_str()), (Some("Hello Ada"), Some("text/plain")));
    let markdown = bot_message(&mut ws).await;
    assert_eq!(markdown["content"], "**Welcome** to _support_");
    assert_eq!(markdown["content_type"], "text/markdown", "{markdown}");
    let spoken = next_event(&mut ws, "message").await;
    assert_eq!(spoken["content"], "I am looking at your case now.");
    let participants = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}/participants"), None).await;
    let ann_in_chat = participants.as_array().unwrap().iter().find(|p| p["agent_id"] == ann.id.as_str()).unwrap();
    assert_eq!(spoken["participant_id"], ann_in_chat["id"], "spoken as Ann: {spoken}");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["launched_by"], ann.id.as_str());
}

/// `as: agent` in a run nobody launched as an agent is an error: the step's
/// `on_error` is taken, with `vars.error` naming the step and the reason,
/// and nothing is said as anyone.
async fn send_message_as_agent_without_an_agent_takes_on_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(
        &app,
        r#"
name: lonely
steps:
  speak:
    type: send_message
    as: agent
    text: Hello from nobody.
    on_error: fallback
    next: end
  fallback:
    type: send_message
    text: Sorry, please hold on.
    next: end
"#,
    )
    .await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "lonely", &chat, json!({})).await;
    assert_eq!(bot_says(&mut ws).await, "Sorry, please hold on.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(
        done["vars"]["error"],
        json!({"step": "speak", "message": "`as: agent` needs a run launched by an agent"}),
        "{done}"
    );
    assert_eq!(messages(&app, &chat).await, ["Sorry, please hold on."]);
}

/// `vars.error` (`step`, `message`) is usable in a later step's template,
/// as `docs/flows.md` says.
async fn the_error_is_readable_in_a_template(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = post_flow(
        &app,
        r#"
name: reporter
steps:
  speak:
    type: send_message
    as: agent
    text: Hello from nobody.
    on_error: report
    next: end
  report:
    type: send_message
    text: "{{ vars.error.step }} failed: {{ vars.error.message }}"
    next: end
"#,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "a template may read vars.error: {body}");
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    launch(&app, ADMIN_KEY, "reporter", &chat, json!({})).await;
    assert_eq!(bot_says(&mut ws).await, "speak failed: `as: agent` needs a run launched by an agent");
}

// --- ask ---------------------------------------------------------------------------------------

const ASKER: &str = r#"
name: asker
steps:
  topic:
    type: ask
    text: Billing or Technical?
    choices: [Billing, Technical]
    retries: 1
    into: topic
    on_error: gave_up
    next: postcode
  postcode:
    type: ask
    text: Your postcode?
    pattern: "[0-9]{5}"
    into: postcode
    next: done
  done:
    type: send_message
    text: "{{ vars.topic }} for {{ vars.postcode }}"
    next: end
  gave_up:
    type: send_message
    text: Let me find you a person.
    next: end
"#;

/// A choice is stored as written in the flow; an answer that does not match
/// the pattern is asked again, with the reason; a matching one goes on.
async fn ask_takes_choices_and_patterns_and_asks_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(&app, ASKER).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "asker", &chat, json!({})).await;
    assert_eq!(bot_says(&mut ws).await, "Billing or Technical?");
    app.say(&chat, &customer, "  technical ", None).await;
    assert_eq!(bot_says(&mut ws).await, "Your postcode?");
    app.say(&chat, &customer, "7500", None).await;
    assert_eq!(bot_says(&mut ws).await, "That answer is not in the expected form. Your postcode?");
    app.say(&chat, &customer, "75001", None).await;
    assert_eq!(bot_says(&mut ws).await, "Technical for 75001");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"], json!({"topic": "Technical", "postcode": "75001"}));
}

/// Wrong answers past `retries` make the step err: its `on_error` is taken.
async fn ask_without_a_valid_answer_takes_on_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(&app, ASKER).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "asker", &chat, json!({})).await;
    assert_eq!(bot_says(&mut ws).await, "Billing or Technical?");
    app.say(&chat, &customer, "sales", None).await;
    assert_eq!(bot_says(&mut ws).await, "Please answer one of: Billing, Technical. Billing or Technical?");
    app.say(&chat, &customer, "marketing", None).await;
    assert_eq!(bot_says(&mut ws).await, "Let me find you a person.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(
        done["vars"],
        json!({"error": {"step": "topic", "message": "no valid answer: Please answer one of: Billing, Technical."}})
    );
}

/// A question left unanswered for its `timeout` goes to `on_timeout`, not
/// before the timeout.
async fn ask_timeout_takes_on_timeout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(
        &app,
        r#"
name: patient
steps:
  question:
    type: ask
    text: Are you still there?
    into: answer
    timeout: 1s
    on_timeout: nudge
    next: end
  nudge:
    type: send_message
    text: We will be here when you are back.
    next: end
"#,
    )
    .await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "patient", &chat, json!({})).await;
    let asked = bot_message(&mut ws).await;
    assert_eq!(asked["content"], "Are you still there?");
    let nudge = bot_message(&mut ws).await;
    assert_eq!(nudge["content"], "We will be here when you are back.");
    assert!(millis(&nudge["at"]) - millis(&asked["at"]) >= 1000, "not before the timeout: {asked} {nudge}");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"], json!({}), "no answer stored: {done}");
    assert_eq!(steps_entered(&app, &id_of(&run)).await, ["question", "nudge"]);
}

// --- show_form ---------------------------------------------------------------------------------

const CONTACT_FORM: &str = r#"
name: contact-form
steps:
  form:
    type: show_form
    form:
      name: contact
      title: How can we reach you?
      fields:
        - name: email
          type: email
          required: true
        - name: callback
          type: boolean
    into: contact
    next: thanks
  thanks:
    type: send_message
    text: "We will write to {{ vars.contact.email }}."
    next: end
"#;

/// The form goes to the customer; once submitted its checked values are in
/// `vars.INTO` and the run goes on.
async fn show_form_submitted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(&app, CONTACT_FORM).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "contact-form", &chat, json!({})).await;
    let form = next_event(&mut ws, "form").await;
    assert_eq!((form["to"].as_str(), form["form"]["name"].as_str()), (Some("customer"), Some("contact")), "{form}");
    let form_id = form["form_id"].as_str().unwrap();
    assert_eq!(run["waiting_for"], json!({"for": "form", "form_id": form_id}), "{run}");
    let values = json!({"email": "ada@example.com", "callback": true});
    let (status, submitted) = submit(&app, &chat, &customer, form_id, values.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    assert_eq!(next_event(&mut ws, "form.submitted").await["values"], values);
    assert_eq!(bot_says(&mut ws).await, "We will write to ada@example.com.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"], json!({"contact": values}));
}

/// A form left for its `timeout` is closed (`form.cancelled`, and can no
/// longer be submitted) and the run goes to `on_timeout`; without
/// `on_timeout`, the timeout is an error that goes to `on_error`.
async fn show_form_timeout_cancels_the_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expiring = r#"
name: expiring-form
steps:
  form:
    type: show_form
    form:
      name: expiring
      title: Quick question
      fields:
        - name: answer
          type: text
    into: reply
    timeout: 1s
    on_timeout: expired
    next: end
  expired:
    type: send_message
    text: The form has expired.
    next: end
"#;
    deploy(&app, expiring).await;
    deploy(&app, &expiring.replace("name: expiring-form", "name: strict-form").replace("on_timeout", "on_error")).await;
    for (flow, outcome) in [("expiring-form", None), ("strict-form", Some("step `form` timed out"))] {
        let (chat, customer) = customer_chat(&app, json!({})).await;
        let mut ws = watch(&app, &customer).await;
        let run = launch(&app, ADMIN_KEY, flow, &chat, json!({})).await;
        let form = next_event(&mut ws, "form").await;
        let cancelled = next_event(&mut ws, "form.cancelled").await;
        assert_eq!(cancelled["form_id"], form["form_id"], "{cancelled}");
        assert!(millis(&cancelled["at"]) - millis(&form["at"]) >= 1000, "not before the timeout");
        assert_eq!(bot_says(&mut ws).await, "The form has expired.");
        let (status, body) =
            submit(&app, &chat, &customer, form["form_id"].as_str().unwrap(), json!({"answer": "late"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "a closed form: {body}");
        let done = run_becomes(&app, &id_of(&run), "completed").await;
        assert_eq!(done["vars"]["error"]["message"].as_str(), outcome, "{flow}: {done}");
    }
}

// --- set_vars, set_attributes ------------------------------------------------------------------

/// `set_vars` stores rendered strings and plain values; `set_attributes`
/// sets keys, removes a key given `null`, keeps the others, links the
/// record id; later steps see both.
async fn set_vars_and_set_attributes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(
        &app,
        r#"
name: recorder
params:
  case: { required: true }
steps:
  remember:
    type: set_vars
    vars:
      greeting: "Case {{ params.case }}"
      tries: 3
    next: store
  store:
    type: set_attributes
    attributes:
      case: "{{ params.case }}"
      greeting: "{{ vars.greeting }}"
      stale: null
    record_id: "{{ params.case }}"
    next: confirm
  confirm:
    type: send_message
    text: "{{ vars.greeting }}, {{ vars.tries }} tries, linked to {{ chat.record_id }} ({{ chat.attributes.case }})"
    next: end
"#,
    )
    .await;
    let (chat, customer) = customer_chat(&app, json!({"attributes": {"stale": "x", "keep": "y"}})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "recorder", &chat, json!({"case": "500AA1"})).await;
    let updated = next_event(&mut ws, "conversation.updated").await;
    assert_eq!(updated["record_id"], "500AA1", "{updated}");
    let c = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}"), None).await;
    assert_eq!(c["attributes"], json!({"case": "500AA1", "greeting": "Case 500AA1", "keep": "y"}), "{c}");
    assert_eq!(c["record_id"], "500AA1");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"], json!({"greeting": "Case 500AA1", "tries": 3}));
    assert_eq!(bot_says(&mut ws).await, "Case 500AA1, 3 tries, linked to 500AA1 (500AA1)");
}

/// A template that fails to render (past the output limit) is an error in
/// `set_vars` and in `set_attributes`: each takes its `on_error`, and
/// neither stores anything.
async fn set_vars_and_set_attributes_errors_take_on_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let flow = format!(
        r#"
name: overflow
params:
  {PAD}
steps:
  remember:
    type: set_vars
    vars:
      blob: "{OVERFLOW}"
    on_error: store
    next: end
  store:
    type: set_attributes
    attributes:
      blob: "{OVERFLOW}"
    on_error: report
    next: end
  report:
    type: send_message
    text: Nothing was stored.
    next: end
"#
    );
    deploy(&app, &flow).await;
    let (chat, customer) = customer_chat(&app, json!({"attributes": {"keep": "y"}})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "overflow", &chat, json!({})).await;
    assert_eq!(bot_says(&mut ws).await, "Nothing was stored.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(steps_entered(&app, &id_of(&run)).await, ["remember", "store", "report"]);
    assert_eq!(done["vars"]["error"]["step"], "store", "{done}");
    assert!(done["vars"]["error"]["message"].as_str().unwrap().contains("16 KiB"), "{done}");
    assert!(done["vars"].get("blob").is_none(), "{done}");
    let c = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}"), None).await;
    assert_eq!(c["attributes"], json!({"keep": "y"}));
}

// --- branch ------------------------------------------------------------------------------------

/// The first case that holds decides, else the default; a condition that
/// cannot be evaluated (a string compared with a number) goes to `on_error`.
async fn branch_cases_default_and_a_failing_condition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(
        &app,
        r#"
name: sorter
params:
  amount: { required: true }
steps:
  pick:
    type: branch
    cases:
      - if: params.amount > 1000
        next: large
      - if: params.amount > 100
        next: medium
    default: small
    on_error: unsure
  large: { type: send_message, text: large, next: end }
  medium: { type: send_message, text: medium, next: end }
  small: { type: send_message, text: small, next: end }
  unsure: { type: send_message, text: unsure, next: end }
"#,
    )
    .await;
    for (amount, said) in
        [(json!(5000), "large"), (json!(500), "medium"), (json!(5), "small"), (json!("lots"), "unsure")]
    {
        let (chat, customer) = customer_chat(&app, json!({})).await;
        let mut ws = watch(&app, &customer).await;
        let run = launch(&app, ADMIN_KEY, "sorter", &chat, json!({"amount": amount})).await;
        assert_eq!(bot_says(&mut ws).await, said, "amount {amount}");
        let done = run_becomes(&app, &id_of(&run), "completed").await;
        if said == "unsure" {
            assert_eq!(done["vars"]["error"]["step"], "pick", "{done}");
            let message = done["vars"]["error"]["message"].as_str().unwrap();
            assert!(message.starts_with("condition `params.amount > 1000`"), "{message}");
        } else {
            assert_eq!(done["vars"], json!({}), "{done}");
        }
    }
}

// --- http_request ------------------------------------------------------------------------------

/// What the test's HTTP server was sent.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    case_header: Option<String>,
    body: Value,
}

/// A small HTTP server for `http_request` steps: `/customers/ID` answers
/// JSON, `/fail/…` 500, `/hang/…` never; `/held/…` says it was called and
/// answers only once `release` is called.
struct Upstream {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: mpsc::UnboundedReceiver<String>,
    gate: Arc<Semaphore>,
}

#[derive(Clone)]
struct UpstreamState {
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: mpsc::UnboundedSender<String>,
    gate: Arc<Semaphore>,
}

impl Upstream {
    async fn start() -> Self {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::{HeaderMap, Uri};
        use axum::routing::any;

        async fn customer(
            State(s): State<UpstreamState>,
            UrlPath(id): UrlPath<String>,
            uri: Uri,
            headers: HeaderMap,
            body: String,
        ) -> axum::Json<Value> {
            s.seen.lock().unwrap().push(Seen {
                path: uri.path().to_owned(),
                case_header: headers.get("x-case").and_then(|v| v.to_str().ok()).map(str::to_owned),
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            });
            axum::Json(json!({"id": id, "name": "Ada Lovelace"}))
        }
        async fn fail() -> (axum::http::StatusCode, &'static str) {
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom")
        }
        async fn hang() -> &'static str {
            std::future::pending::<()>().await;
            "never"
        }
        async fn held(State(s): State<UpstreamState>, uri: Uri) -> axum::Json<Value> {
            let _ = s.arrived.send(uri.path().to_owned());
            let _permit = s.gate.acquire().await.unwrap();
            axum::Json(json!({"answer": "late but there"}))
        }

        let (tx, arrived) = mpsc::unbounded_channel();
        let state = UpstreamState { seen: Arc::default(), arrived: tx, gate: Arc::new(Semaphore::new(0)) };
        let app = axum::Router::new()
            .route("/customers/{id}", any(customer))
            .route("/fail/customers/{id}", any(fail))
            .route("/hang/customers/{id}", any(hang))
            .route("/held/customers/{id}", any(held))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base: format!("http://{addr}"), seen: state.seen, arrived, gate: state.gate }
    }

    /// Lets every held request (and every later one) answer.
    fn release(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Waits for a request to reach `/held/…`; its path.
    async fn next_held(&mut self) -> String {
        tokio::time::timeout(PROMPTLY, self.arrived.recv()).await.expect("a request reached the server").unwrap()
    }
}

/// An address where nothing listens: a connection is refused.
fn refusing_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

const LOOKUP: &str = r#"
name: lookup
params:
  base: { required: true }
steps:
  fetch:
    type: http_request
    method: POST
    url: "{{ params.base }}/customers/{{ chat.record_id }}"
    headers:
      x-case: "{{ chat.record_id }}"
    body:
      conversation: "{{ chat.id }}"
    timeout: 5s
    into: customer
    on_error: failed
    next: greet
  greet:
    type: send_message
    text: "Hello {{ vars.customer.body.name }} (HTTP {{ vars.customer.status }})"
    next: end
  failed:
    type: send_message
    text: The lookup failed.
    next: end
"#;

/// A 2xx JSON reply is stored in `into` as `{status, body}` and used by a
/// later template (the request carried the rendered url, header and body);
/// a 500, a refused connection, a reply slower than `timeout` and a URL
/// that is not http(s) each go to `on_error` with their reason.
async fn http_request_reply_and_every_failure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let upstream = Upstream::start().await;
    deploy(&app, LOOKUP).await;
    deploy(&app, &LOOKUP.replace("name: lookup", "name: quick-lookup").replace("timeout: 5s", "timeout: 1s")).await;

    let (chat, customer) = customer_chat(&app, json!({"record_id": "C1"})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "lookup", &chat, json!({"base": upstream.base})).await;
    assert_eq!(bot_says(&mut ws).await, "Hello Ada Lovelace (HTTP 200)");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"], json!({"customer": {"status": 200, "body": {"id": "C1", "name": "Ada Lovelace"}}}));
    let seen = upstream.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/customers/C1");
    assert_eq!(seen[0].case_header.as_deref(), Some("C1"));
    assert_eq!(seen[0].body, json!({"conversation": chat}));

    let refused = format!("http://{}", refusing_address());
    let cases = [
        ("lookup", format!("{}/fail", upstream.base), "the server answered HTTP 500".to_owned()),
        ("lookup", refused, "could not connect".to_owned()),
        // Without `on_timeout`, a timeout is the step's error.
        ("quick-lookup", format!("{}/hang", upstream.base), "step `fetch` timed out".to_owned()),
        ("lookup", "ftp://files.example".to_owned(), "`ftp://files.example/customers/C5` is not an http(s) URL".into()),
    ];
    for (i, (flow, base, reason)) in cases.into_iter().enumerate() {
        let (chat, customer) = customer_chat(&app, json!({"record_id": format!("C{}", i + 2)})).await;
        let mut ws = watch(&app, &customer).await;
        let run = launch(&app, ADMIN_KEY, flow, &chat, json!({"base": base})).await;
        assert_eq!(bot_says(&mut ws).await, "The lookup failed.", "{base}");
        let done = run_becomes(&app, &id_of(&run), "completed").await;
        assert_eq!(done["vars"], json!({"error": {"step": "fetch", "message": reason}}), "{base}");
    }
}

/// Outside work is not done in line behind a slow call: while one run's
/// `http_request` waits for its reply (it may take up to its `timeout`, 60 s
/// at most), another run's `route` is done at once.
async fn a_slow_http_request_holds_up_no_other_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut upstream = Upstream::start().await;
    queue(&app, "billing", json!({})).await;
    deploy(&app, ROUTER).await;
    deploy(&app, &KILL_FLOWS[2].replace("name: kill-http", "name: slow-call")).await;
    let (slow_chat, _) = customer_chat(&app, json!({})).await;
    let slow = launch(&app, ADMIN_KEY, "slow-call", &slow_chat, json!({"base": upstream.base})).await;
    upstream.next_held().await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    launch(&app, ADMIN_KEY, "router", &chat, json!({"to": "billing"})).await;
    // Well within the slow call's 60 s, and within the socket's own patience.
    let queued = tokio::time::timeout(PROMPTLY / 2, next_event(&mut ws, "conversation.queued")).await;
    upstream.release();
    if queued.is_err() {
        next_event(&mut ws, "conversation.queued").await;
        panic!("the route was done only once another run's HTTP call was answered");
    }
    run_becomes(&app, &id_of(&slow), "completed").await;
}

// --- publish_event, wait_for_event -------------------------------------------------------------

const WATCHER: &str = r#"
name: parcel-watch
params:
  key: { required: true }
steps:
  wait:
    type: wait_for_event
    event: parcel
    key: "{{ params.key }}"
    into: parcel
    timeout: 1h
    on_timeout: gone
    on_error: broken
    next: got
  got:
    type: send_message
    text: "Parcel {{ vars.parcel.status }}"
    next: end
  gone:
    type: send_message
    text: No news about the parcel.
    next: end
  broken:
    type: send_message
    text: Cannot watch that parcel.
    next: end
"#;

const NEWS: &str = r#"
name: parcel-news
params:
  key: { required: true }
  status: { required: true }
steps:
  publish:
    type: publish_event
    event: parcel
    key: "{{ params.key }}"
    data:
      status: "{{ params.status }}"
    on_error: broken
    next: done
  done:
    type: send_message
    text: News published.
    next: end
  broken:
    type: send_message
    text: Could not publish.
    next: end
"#;

async fn parcel_flows(app: &TestApp) {
    declare_parcel(app).await;
    deploy(app, WATCHER).await;
    deploy(app, &WATCHER.replace("name: parcel-watch", "name: quick-watch").replace("timeout: 1h", "timeout: 1s"))
        .await;
    deploy(app, NEWS).await;
}

/// A waiting run receives the first event of its type and key published
/// after it began waiting: not one published before, nor one of another key.
async fn wait_for_event_receives_only_its_own_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    parcel_flows(&app).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    publish(&app, "P-1", "too early").await;
    let run = launch(&app, ADMIN_KEY, "parcel-watch", &chat, json!({"key": "P-1"})).await;
    assert_eq!(run["waiting_for"]["for"], "event", "{run}");
    publish(&app, "P-2", "another parcel").await;
    publish(&app, "P-1", "shipped").await;
    assert_eq!(bot_says(&mut ws).await, "Parcel shipped");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"], json!({"parcel": {"status": "shipped"}}));
    assert_eq!(messages(&app, &chat).await, ["Parcel shipped"]);
}

/// A `publish_event` step stores the event (with its conversation and run)
/// and hands it to the runs waiting for it: in the same conversation at
/// once, in another through the outbox.
async fn publish_event_reaches_runs_here_and_elsewhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    parcel_flows(&app).await;
    // Another conversation.
    let (watching, watcher) = customer_chat(&app, json!({})).await;
    let mut watcher_ws = watch(&app, &watcher).await;
    let waiting = launch(&app, ADMIN_KEY, "parcel-watch", &watching, json!({"key": "P-3"})).await;
    let (news, news_customer) = customer_chat(&app, json!({})).await;
    let mut news_ws = watch(&app, &news_customer).await;
    let publisher = launch(&app, ADMIN_KEY, "parcel-news", &news, json!({"key": "P-3", "status": "delivered"})).await;
    assert_eq!(bot_says(&mut news_ws).await, "News published.");
    assert_eq!(bot_says(&mut watcher_ws).await, "Parcel delivered");
    run_becomes(&app, &id_of(&waiting), "completed").await;
    let stored = admin(&app, Method::GET, "/api/v1/custom-events?type=parcel&key=P-3", None).await;
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["conversation_id"], news.as_str());
    assert_eq!(stored[0]["run_id"], publisher["id"]);
    assert_eq!(stored[0]["data"], json!({"status": "delivered"}));

    // The same conversation.
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let waiting = launch(&app, ADMIN_KEY, "parcel-watch", &chat, json!({"key": "P-4"})).await;
    launch(&app, ADMIN_KEY, "parcel-news", &chat, json!({"key": "P-4", "status": "returned"})).await;
    let mut said = [bot_says(&mut ws).await, bot_says(&mut ws).await];
    said.sort();
    assert_eq!(said, ["News published.", "Parcel returned"]);
    let done = run_becomes(&app, &id_of(&waiting), "completed").await;
    assert_eq!(done["vars"], json!({"parcel": {"status": "returned"}}));
}

/// No event within the `timeout` goes to `on_timeout`; an empty key is an
/// error in `wait_for_event` and in `publish_event`, each taking `on_error`.
async fn wait_for_event_timeout_and_event_step_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    parcel_flows(&app).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "quick-watch", &chat, json!({"key": "P-5"})).await;
    assert_eq!(bot_says(&mut ws).await, "No news about the parcel.");
    assert!(run_becomes(&app, &id_of(&run), "completed").await["vars"].get("parcel").is_none());

    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let watcher = launch(&app, ADMIN_KEY, "parcel-watch", &chat, json!({"key": " "})).await;
    assert_eq!(bot_says(&mut ws).await, "Cannot watch that parcel.");
    let publisher = launch(&app, ADMIN_KEY, "parcel-news", &chat, json!({"key": "", "status": "lost"})).await;
    assert_eq!(bot_says(&mut ws).await, "Could not publish.");
    for (run, step) in [(watcher, "wait"), (publisher, "publish")] {
        let done = run_becomes(&app, &id_of(&run), "completed").await;
        assert_eq!(done["vars"]["error"], json!({"step": step, "message": "the text rendered empty"}));
    }
    let stored = admin(&app, Method::GET, "/api/v1/custom-events?type=parcel", None).await;
    assert_eq!(stored, json!([]), "nothing published");
}

// --- route, transfer ---------------------------------------------------------------------------

const ROUTER: &str = r#"
name: router
params:
  to: { required: true }
steps:
  pick:
    type: branch
    cases:
      - if: params.to == "billing"
        next: billing
      - if: params.to == "workflow"
        next: workflow
    default: nobody
  billing:
    type: route
    queue: billing
    priority: 5
    on_error: failed
    next: routed
  workflow:
    type: route
    workflow: true
    on_error: failed
    next: routed
  nobody:
    type: route
    agent: nobody-at-all
    on_error: failed
    next: routed
  routed:
    type: send_message
    text: You are in line.
    next: end
  failed:
    type: send_message
    text: Nobody can take this chat.
    next: end
"#;

/// `route` puts the chat in a named queue (with its priority) or where the
/// workflow says, and the run goes on once it is in line; a target that
/// does not exist goes to `on_error`.
async fn route_to_a_queue_the_workflow_and_nowhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let billing = queue(&app, "billing", json!({})).await;
    let general = queue(&app, "general", json!({})).await;
    workflow_to_general(&app).await;
    deploy(&app, ROUTER).await;
    for (to, queue_id) in [("billing", &billing), ("workflow", &general)] {
        let (chat, customer) = customer_chat(&app, json!({})).await;
        let mut ws = watch(&app, &customer).await;
        let run = launch(&app, ADMIN_KEY, "router", &chat, json!({"to": to})).await;
        let queued = next_event(&mut ws, "conversation.queued").await;
        assert_eq!(queued["queue_id"], queue_id.as_str(), "{to}: {queued}");
        assert_eq!(bot_says(&mut ws).await, "You are in line.");
        run_becomes(&app, &id_of(&run), "completed").await;
        let task = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
        assert_eq!(task["priority"], if to == "billing" { 5 } else { 0 }, "{task}");
    }
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "router", &chat, json!({"to": "nobody"})).await;
    assert_eq!(bot_says(&mut ws).await, "Nobody can take this chat.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"]["error"]["step"], "nobody", "{done}");
    assert!(done["vars"]["error"]["message"].as_str().unwrap().contains("nobody-at-all"), "{done}");
    let (status, _) = call(&app, Method::GET, &format!("/api/v1/conversations/{chat}/task"), ADMIN_KEY, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not in line");
}

/// `transfer` moves an assigned chat to a named agent: its agent is
/// released, the named one is offered it, and the run goes on; an agent
/// that does not exist goes to `on_error`.
async fn transfer_to_an_agent_and_to_nobody(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queue(&app, "general", json!({})).await;
    deploy(
        &app,
        r#"
name: mover
params:
  to: { required: true }
steps:
  pick:
    type: branch
    cases:
      - if: params.to == "Bob"
        next: to_bob
    default: to_ghost
  to_bob:
    type: transfer
    agent: Bob
    on_error: failed
    next: moved
  to_ghost:
    type: transfer
    agent: Ghost
    on_error: failed
    next: moved
  moved:
    type: send_message
    text: A colleague takes over.
    next: end
  failed:
    type: send_message
    text: The transfer failed.
    next: end
"#,
    )
    .await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let bob = agent(&app, "Bob", 1, json!({})).await;
    let mut ann_ws = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut ann_ws, "general").await;
    let mut bob_ws = online(&app, &bob).await;
    let mut ws = watch(&app, &customer).await;

    let run = launch(&app, ADMIN_KEY, "mover", &chat, json!({"to": "Bob"})).await;
    assert_eq!(ann_ws.frame_of("released").await["conversation_id"], chat.as_str());
    let offer = offer_for(&mut bob_ws, &chat).await;
    let transferred = next_event(&mut ws, "conversation.transferred").await;
    assert_eq!(transferred["agent_id"], bob.id.as_str(), "{transferred}");
    assert_eq!(bot_says(&mut ws).await, "A colleague takes over.");
    run_becomes(&app, &id_of(&run), "completed").await;
    bob_ws.send(json!({"type": "accept", "ref": "accept", "offer_id": offer})).await;
    assert_eq!(bob_ws.frame_of("assigned").await["conversation_id"], chat.as_str());

    let run = launch(&app, ADMIN_KEY, "mover", &chat, json!({"to": "Ghost"})).await;
    assert_eq!(bot_says(&mut ws).await, "The transfer failed.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"]["error"]["step"], "to_ghost", "{done}");
    assert!(done["vars"]["error"]["message"].as_str().unwrap().contains("Ghost"), "{done}");
    let task = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}/task"), None).await;
    assert_eq!((task["state"].as_str(), task["agent_id"].as_str()), (Some("assigned"), Some(bob.id.as_str())));
}

// --- set_agent_input, request_file -------------------------------------------------------------

/// `set_agent_input` prefills the composer of the agent who launched the
/// run, else of the assigned agent (an `agent_input` frame on their
/// socket); a text that fails to render goes to `on_error`.
async fn set_agent_input_prefills_the_composer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    queue(&app, "general", json!({})).await;
    deploy(
        &app,
        &format!(
            r#"
name: prefill
params:
  offer: {{ required: true }}
  {PAD}
steps:
  fill:
    type: set_agent_input
    text: "{{% if params.offer == 'huge' %}}{OVERFLOW}{{% else %}}I can offer you {{{{ params.offer }}}}.{{% endif %}}"
    on_error: failed
    next: end
  failed:
    type: send_message
    text: Could not prefill.
    next: end
"#
        ),
    )
    .await;
    let ann = agent(&app, "Ann", 1, json!({})).await;
    let mut ann_ws = online(&app, &ann).await;
    let (chat, customer) = take_chat(&app, &mut ann_ws, "general").await;
    let mut ws = watch(&app, &customer).await;

    for (bearer, offer) in [(ADMIN_KEY, "a 10% discount"), (ann.token.as_str(), "a refund")] {
        let run = launch(&app, bearer, "prefill", &chat, json!({"offer": offer})).await;
        let input = ann_ws.frame_of("agent_input").await;
        assert_eq!(input["conversation_id"], chat.as_str(), "{input}");
        assert_eq!(input["text"], format!("I can offer you {offer}."), "{input}");
        run_becomes(&app, &id_of(&run), "completed").await;
    }
    let run = launch(&app, ADMIN_KEY, "prefill", &chat, json!({"offer": "huge"})).await;
    assert_eq!(bot_says(&mut ws).await, "Could not prefill.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"]["error"]["step"], "fill", "{done}");
}

/// `request_file` asks the customer for a file linked to the record id (a
/// `file.requested` event, and an open file request); a record id that
/// fails to render goes to `on_error`.
async fn request_file_asks_the_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(
        &app,
        &format!(
            r#"
name: ask-for-file
params:
  case: {{ required: true }}
  {PAD}
steps:
  request:
    type: request_file
    record_id: "{{% if params.case == 'huge' %}}{OVERFLOW}{{% else %}}{{{{ params.case }}}}{{% endif %}}"
    on_error: failed
    next: end
  failed:
    type: send_message
    text: Could not ask for the file.
    next: end
"#
        ),
    )
    .await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "ask-for-file", &chat, json!({"case": "500AA1"})).await;
    let requested = next_event(&mut ws, "file.requested").await;
    assert_eq!(requested["record_id"], "500AA1", "{requested}");
    run_becomes(&app, &id_of(&run), "completed").await;
    let requests = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}/file-requests"), None).await;
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["id"], requested["request_id"]);

    let run = launch(&app, ADMIN_KEY, "ask-for-file", &chat, json!({"case": "huge"})).await;
    assert_eq!(bot_says(&mut ws).await, "Could not ask for the file.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"]["error"]["step"], "request", "{done}");
}

const COLLECT_FILE: &str = r#"
name: collect-file
params:
  case: { required: true }
steps:
  request:
    type: request_file
    record_id: "{{ params.case }}"
    into: file
    timeout: 1h
    on_error: refused
    on_timeout: late
    next: thanks
  thanks:
    type: send_message
    text: "Got {{ vars.file.name }} ({{ vars.file.size }} bytes) for {{ vars.file.record_id }}."
    next: end
  refused:
    type: send_message
    text: "No file: {{ vars.error.message }}."
    next: end
  late:
    type: send_message
    text: Too late.
    next: end
"#;

/// `request_file` with `into` waits: the customer's file (approved) moves
/// the run on with its details; a declined or canceled request takes
/// `on_error`; the timeout withdraws the request and takes `on_timeout`.
async fn request_file_waits_for_the_file_or_its_refusal(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(&app, COLLECT_FILE).await;
    deploy(&app, &COLLECT_FILE.replace("collect-file", "collect-quickly").replace("timeout: 1h", "timeout: 1s")).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;

    let run = launch(&app, ADMIN_KEY, "collect-file", &chat, json!({"case": "500AA1"})).await;
    let requested = next_event(&mut ws, "file.requested").await;
    let waiting = run_becomes(&app, &id_of(&run), "waiting").await;
    assert_eq!(waiting["waiting_for"]["for"], "file", "{waiting}");
    let request = requested["request_id"].as_str().unwrap();
    let pdf = crate::files::PDF;
    crate::files::answer_request(&app, &chat, &customer, request, ("id.pdf", "application/pdf", pdf)).await;
    assert_eq!(bot_says(&mut ws).await, format!("Got id.pdf ({} bytes) for 500AA1.", pdf.len()));
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"]["file"]["content_type"], "application/pdf", "{done}");
    assert_eq!(done["vars"]["file"]["request_id"], request, "{done}");

    let run = launch(&app, ADMIN_KEY, "collect-file", &chat, json!({"case": "500AA2"})).await;
    let request = next_event(&mut ws, "file.requested").await["request_id"].as_str().unwrap().to_owned();
    let decline = format!("/api/v1/conversations/{chat}/file-requests/{request}/decline");
    let (status, body) = call(&app, Method::POST, &decline, &customer, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(bot_says(&mut ws).await, "No file: the file request was declined.");
    run_becomes(&app, &id_of(&run), "completed").await;

    let run = launch(&app, ADMIN_KEY, "collect-file", &chat, json!({"case": "500AA3"})).await;
    let request = next_event(&mut ws, "file.requested").await["request_id"].as_str().unwrap().to_owned();
    let cancel = format!("/api/v1/conversations/{chat}/file-requests/{request}/cancel");
    let (status, body) = call(&app, Method::POST, &cancel, ADMIN_KEY, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(bot_says(&mut ws).await, "No file: the file request was canceled.");
    run_becomes(&app, &id_of(&run), "completed").await;

    let run = launch(&app, ADMIN_KEY, "collect-quickly", &chat, json!({"case": "500AA4"})).await;
    let request = next_event(&mut ws, "file.requested").await["request_id"].as_str().unwrap().to_owned();
    let canceled = next_event(&mut ws, "file.request_canceled").await;
    assert_eq!(canceled["request_id"], request.as_str(), "the timeout withdraws the request");
    assert_eq!(bot_says(&mut ws).await, "Too late.");
    run_becomes(&app, &id_of(&run), "completed").await;
    let requests = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}/file-requests"), None).await;
    let states: Vec<&str> = requests.as_array().unwrap().iter().map(|r| r["state"].as_str().unwrap()).collect();
    assert_eq!(states.iter().filter(|s| **s == "canceled").count(), 2, "{states:?}");
    assert!(states.contains(&"fulfilled") && states.contains(&"declined"), "{states:?}");
}

// --- end_chat ----------------------------------------------------------------------------------

/// `end_chat` ends the conversation and completes its run; the other runs
/// of the chat are cancelled and their open form is closed.
async fn end_chat_ends_the_conversation_and_its_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(&app, CONTACT_FORM).await;
    deploy(
        &app,
        r#"
name: closer
steps:
  bye:
    type: send_message
    text: Goodbye!
    next: close
  close:
    type: end_chat
"#,
    )
    .await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let form_run = launch(&app, ADMIN_KEY, "contact-form", &chat, json!({})).await;
    let form = next_event(&mut ws, "form").await;
    let run = launch(&app, ADMIN_KEY, "closer", &chat, json!({})).await;
    assert_eq!(bot_says(&mut ws).await, "Goodbye!");
    let ended = next_event(&mut ws, "conversation.ended").await;
    assert_eq!(ended["reason"], "ended", "{ended}");
    assert_eq!(run_view(&app, &id_of(&run)).await["state"], "completed");
    let cancelled = run_view(&app, &id_of(&form_run)).await;
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["error"].as_str()),
        (Some("cancelled"), Some("the conversation ended"))
    );
    let c = admin(&app, Method::GET, &format!("/api/v1/conversations/{chat}"), None).await;
    assert_eq!(c["state"], "ended");
    let (status, body) =
        submit(&app, &chat, &customer, form["form_id"].as_str().unwrap(), json!({"email": "a@example.com"})).await;
    assert!(status.is_client_error(), "{status} {body}");
    let closed = app
        .transcript(&chat)
        .await
        .into_iter()
        .any(|e| e["type"] == "form.cancelled" && e["form_id"] == form["form_id"]);
    assert!(closed, "the open form is closed (`form.cancelled`) when the chat ends");
}

// --- launch_flow, subflow ----------------------------------------------------------------------

/// `launch_flow` starts another flow in the conversation, with rendered
/// parameters, and goes on at once; parameters that fail to render go to
/// `on_error` and start nothing.
async fn launch_flow_starts_another_flow_and_goes_on(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(
        &app,
        r#"
name: greeting-child
params:
  greeting: { required: true }
steps:
  say:
    type: send_message
    text: "{{ params.greeting }}, from the launched flow"
    next: end
"#,
    )
    .await;
    deploy(
        &app,
        &format!(
            r#"
name: launcher
params:
  name: {{ required: true }}
  {PAD}
steps:
  go:
    type: launch_flow
    flow: greeting-child
    params:
      greeting: "{{% if params.name == 'huge' %}}{OVERFLOW}{{% else %}}Hi {{{{ params.name }}}}{{% endif %}}"
    on_error: failed
    next: after
  after:
    type: send_message
    text: The launcher goes on.
    next: end
  failed:
    type: send_message
    text: Could not launch.
    next: end
"#
        ),
    )
    .await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "launcher", &chat, json!({"name": "Ada"})).await;
    assert_eq!(bot_says(&mut ws).await, "The launcher goes on.");
    assert_eq!(bot_says(&mut ws).await, "Hi Ada, from the launched flow");
    run_becomes(&app, &id_of(&run), "completed").await;
    let children = runs_of(&app, "greeting-child", &chat).await;
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0]["params"], json!({"greeting": "Hi Ada"}));
    run_becomes(&app, &id_of(&children[0]), "completed").await;

    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "launcher", &chat, json!({"name": "huge"})).await;
    assert_eq!(bot_says(&mut ws).await, "Could not launch.");
    let done = run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(done["vars"]["error"]["step"], "go", "{done}");
    assert_eq!(runs_of(&app, "greeting-child", &chat).await, Vec::<Value>::new());
}

const CALLER: &str = r#"
name: caller
params:
  child: { required: true }
steps:
  pick:
    type: branch
    cases:
      - if: params.child == "word"
        next: call_word
    default: call_failing
  call_word:
    type: subflow
    flow: word-child
    params:
      n: "7"
    into: result
    on_error: failed
    next: use
  call_failing:
    type: subflow
    flow: failing-child
    into: result
    on_error: failed
    next: use
  use:
    type: send_message
    text: "The child said {{ vars.result.answer }}."
    next: end
  failed:
    type: send_message
    text: The child failed.
    next: end
"#;

async fn subflows(app: &TestApp) {
    deploy(
        app,
        r#"
name: word-child
params:
  n: { required: true }
steps:
  ask:
    type: ask
    text: Give me a word.
    into: word
    next: combine
  combine:
    type: set_vars
    vars:
      answer: "{{ vars.word }}-{{ params.n }}"
    next: end
"#,
    )
    .await;
    deploy(
        app,
        r#"
name: failing-child
steps:
  speak:
    type: send_message
    as: agent
    text: I cannot say this.
    next: end
"#,
    )
    .await;
    deploy(app, CALLER).await;
}

/// `subflow` waits while the child runs (here, for the customer's answer to
/// the child's question); the child's variables come back in `into`.
async fn subflow_waits_and_returns_its_vars(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    subflows(&app).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let parent = launch(&app, ADMIN_KEY, "caller", &chat, json!({"child": "word"})).await;
    assert_eq!(bot_says(&mut ws).await, "Give me a word.");
    let waiting = run_view(&app, &id_of(&parent)).await;
    assert_eq!(
        (waiting["state"].as_str(), waiting["step"].as_str()),
        (Some("waiting"), Some("call_word")),
        "{waiting}"
    );
    let child = runs_of(&app, "word-child", &chat).await.remove(0);
    assert_eq!((child["state"].as_str(), child["params"].clone()), (Some("waiting"), json!({"n": "7"})));
    app.say(&chat, &customer, "blue", None).await;
    assert_eq!(bot_says(&mut ws).await, "The child said blue-7.");
    let done = run_becomes(&app, &id_of(&parent), "completed").await;
    assert_eq!(done["vars"], json!({"result": {"word": "blue", "answer": "blue-7"}}));
    run_becomes(&app, &id_of(&child), "completed").await;
}

/// A child that fails sends its parent to `on_error`; as the parent handles
/// it, the chat is not handed to the workflow.
async fn subflow_failure_takes_the_parents_on_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    subflows(&app).await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let parent = launch(&app, ADMIN_KEY, "caller", &chat, json!({"child": "failing"})).await;
    assert_eq!(bot_says(&mut ws).await, "The child failed.");
    let done = run_becomes(&app, &id_of(&parent), "completed").await;
    assert_eq!(done["vars"]["error"]["step"], "call_failing", "{done}");
    assert!(done["vars"]["error"]["message"].as_str().unwrap().contains("`as: agent`"), "{done}");
    let child = runs_of(&app, "failing-child", &chat).await.remove(0);
    assert_eq!(child["state"], "failed", "{child}");
    let outbox = admin(&app, Method::GET, "/api/v1/outbox", None).await;
    let handoffs: Vec<&Value> = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "handoff" && o["conversation_id"] == chat.as_str())
        .collect();
    assert!(handoffs.is_empty(), "{handoffs:?}");
}

// --- wait --------------------------------------------------------------------------------------

/// `wait` holds the run for its time (`for: 1s`) and then goes on.
async fn wait_pauses_then_continues(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    deploy(
        &app,
        r#"
name: pause
steps:
  before:
    type: send_message
    text: One moment...
    next: pause
  pause:
    type: wait
    for: 1s
    next: after
  after:
    type: send_message
    text: Thanks for waiting.
    next: end
"#,
    )
    .await;
    let (chat, customer) = customer_chat(&app, json!({})).await;
    let mut ws = watch(&app, &customer).await;
    let run = launch(&app, ADMIN_KEY, "pause", &chat, json!({})).await;
    assert_eq!((run["step"].as_str(), run["waiting_for"].clone()), (Some("pause"), json!({"for": "timer"})), "{run}");
    let before = bot_message(&mut ws).await;
    let after = bot_message(&mut ws).await;
    assert_eq!(
        (before["content"].as_str(), after["content"].as_str()),
        (Some("One moment..."), Some("Thanks for waiting."))
    );
    assert!(millis(&after["at"]) - millis(&before["at"]) >= 1000, "{before} {after}");
    run_becomes(&app, &id_of(&run), "completed").await;
    assert_eq!(steps_entered(&app, &id_of(&run)).await, ["before", "pause", "after"]);
}

// --- a pre-chat flow that fails ----------------------------------------------------------------

/// A customer-side flow started by a chat that fails unhandled - after
/// waiting (no valid answer) or at its first step - hands the chat to the
/// workflow, which puts it in line.
async fn a_failed_pre_chat_flow_hands_the_chat_to_the_workflow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let general = queue(&app, "general", json!({})).await;
    workflow_to_general(&app).await;
    deploy(
        &app,
        r#"
name: order-bot
trigger:
  chat_started: [website]
steps:
  hello:
    type: send_message
    text: Hi! I am the order bot.
    next: order
  order:
    type: ask
    text: Your order number?
    pattern: "[0-9]+"
    retries: 0
    into: order
    next: end
"#,
    )
    .await;
    deploy(
        &app,
        r#"
name: broken-bot
trigger:
  chat_started: [help]
steps:
  hello:
    type: send_message
    as: agent
    text: This cannot be said.
    next: end
"#,
    )
    .await;
    for name in ["website", "help"] {
        let ep =
            admin(&app, Method::POST, "/api/v1/entry-points", Some(json!({"name": name, "allowed_origins": ["*"]})))
                .await;
        let (status, started) =
            app.call(Method::POST, &format!("/api/v1/entry-points/{}/chats", id_of(&ep)), None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::CREATED, "{started}");
        let chat = started["conversation"]["id"].as_str().unwrap().to_owned();
        let token = started["token"].as_str().unwrap().to_owned();
        let mut ws = watch(&app, &token).await;
        if name == "website" {
            assert_eq!(bot_says(&mut ws).await, "Hi! I am the order bot.");
            assert_eq!(bot_says(&mut ws).await, "Your order number?");
            app.say(&chat, &token, "no idea", None).await;
        }
        let queued = next_event(&mut ws, "conversation.queued").await;
        assert_eq!(queued["queue_id"], general.as_str(), "{name}: {queued}");
        let flow = if name == "website" { "order-bot" } else { "broken-bot" };
        let run = runs_of(&app, flow, &chat).await.remove(0);
        assert_eq!(run["state"], "failed", "{run}");
        let expected = if name == "website" {
            "step `order`: no valid answer: That answer is not in the expected form."
        } else {
            "step `hello`: `as: agent` needs a run launched by an agent"
        };
        assert_eq!(run["error"], expected);
    }
}

// --- kill -9 -----------------------------------------------------------------------------------

/// `switchboard serve` as a process on a data dir (and a PostgreSQL
/// database), on a port of its own, leasing outbox work for 2 s (not 90):
/// what a killed server had taken is taken again 2 s later.
struct Serve {
    child: Child,
    base: String,
}

impl Server for Serve {
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Serve {
    async fn start(data_dir: &Path, database_url: Option<&str>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = crate::lock::binary(&["serve", "--listen", &format!("127.0.0.1:{port}")], data_dir);
        cmd.env("SWITCHBOARD_ADMIN_KEY", ADMIN_KEY)
            .env("SWITCHBOARD_SENDS_PER_SECOND", "0")
            .env("SWITCHBOARD_OUTBOX_LEASE_SECS", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = database_url {
            cmd.env("SWITCHBOARD_DATABASE_URL", url);
        }
        let child = cmd.spawn().expect("start the server binary");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PROMPTLY;
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
                && r.status() == StatusCode::OK
            {
                return Self { child, base };
            }
            assert!(Instant::now() < deadline, "the binary did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no clean-up of any kind.
    async fn kill_9(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

const KILL_FLOWS: [&str; 3] = [
    r#"
name: kill-form
steps:
  form:
    type: show_form
    form:
      name: reason
      title: Why?
      fields:
        - name: reason
          type: choice
          choices: [Purchase, Other]
          required: true
    into: answer
    next: thanks
  thanks:
    type: send_message
    text: "Form says {{ vars.answer.reason }}"
    next: end
"#,
    r#"
name: kill-event
steps:
  wait:
    type: wait_for_event
    event: parcel
    key: K-9
    into: parcel
    next: got
  got:
    type: send_message
    text: "Event says {{ vars.parcel.status }}"
    next: end
"#,
    r#"
name: kill-http
params:
  base: { required: true }
steps:
  fetch:
    type: http_request
    url: "{{ params.base }}/held/customers/{{ chat.id }}"
    timeout: 60s
    into: reply
    next: said
  said:
    type: send_message
    text: "HTTP says {{ vars.reply.body.answer }}"
    next: end
"#,
];

/// Runs waiting on a form, on an event and on an HTTP call that is in
/// flight when the server is SIGKILLed: after a restart on the same data,
/// each resumes in the step it was in and completes once. The call's
/// outbox item is taken again once the killed server's lease (2 s here)
/// lapses: the call is made twice, its reply recorded once.
async fn waiting_runs_survive_kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(switchboard_store::testing::fresh_postgres_url().await),
    };
    let mut upstream = Upstream::start().await;
    let server = Serve::start(dir.path(), db.as_deref()).await;
    declare_parcel(&server).await;
    for flow in KILL_FLOWS {
        deploy(&server, flow).await;
    }
    let (form_chat, customer) = customer_chat(&server, json!({})).await;
    let form_run = launch(&server, ADMIN_KEY, "kill-form", &form_chat, json!({})).await;
    let form_id = form_run["waiting_for"]["form_id"].as_str().expect("waits for its form").to_owned();
    let (event_chat, _) = customer_chat(&server, json!({})).await;
    let event_run = launch(&server, ADMIN_KEY, "kill-event", &event_chat, json!({})).await;
    assert_eq!(event_run["waiting_for"]["for"], "event", "{event_run}");
    let (http_chat, _) = customer_chat(&server, json!({})).await;
    let http_run = launch(&server, ADMIN_KEY, "kill-http", &http_chat, json!({"base": upstream.base})).await;
    let outbox_id = http_run["waiting_for"]["outbox_id"].as_str().expect("waits for its call").to_owned();
    let held = format!("/held/customers/{http_chat}");
    assert_eq!(upstream.next_held().await, held, "the call is in flight");

    server.kill_9().await;
    let server = Serve::start(dir.path(), db.as_deref()).await;

    let (status, body) = submit(&server, &form_chat, &customer, &form_id, json!({"reason": "Purchase"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let done = run_becomes(&server, &id_of(&form_run), "completed").await;
    assert_eq!(done["vars"], json!({"answer": {"reason": "Purchase"}}));
    assert_eq!(steps_entered(&server, &id_of(&form_run)).await, ["form", "thanks"]);
    assert_eq!(messages(&server, &form_chat).await, ["Form says Purchase"]);

    // The restarted server makes the call again once the lease lapses; until
    // it is answered the run waits where it was, for the same item.
    assert_eq!(upstream.next_held().await, held, "the call is made again");
    let still = run_view(&server, &id_of(&http_run)).await;
    assert_eq!((still["state"].as_str(), still["step"].as_str()), (Some("waiting"), Some("fetch")), "{still}");
    assert_eq!(still["waiting_for"], json!({"for": "action", "outbox_id": outbox_id}));
    upstream.release();
    let done = run_becomes(&server, &id_of(&http_run), "completed").await;
    assert_eq!(done["vars"], json!({"reply": {"status": 200, "body": {"answer": "late but there"}}}));
    assert_eq!(steps_entered(&server, &id_of(&http_run)).await, ["fetch", "said"]);
    assert_eq!(messages(&server, &http_chat).await, ["HTTP says late but there"]);
    let outbox = admin(&server, Method::GET, "/api/v1/outbox", None).await;
    let item = outbox.as_array().unwrap().iter().find(|o| o["id"] == outbox_id.as_str()).expect("the item is listed");
    assert_eq!(item["state"], "done", "{item}");
    assert!(upstream.arrived.try_recv().is_err(), "no third call");

    publish(&server, "K-9", "arrived").await;
    let done = run_becomes(&server, &id_of(&event_run), "completed").await;
    assert_eq!(done["vars"], json!({"parcel": {"status": "arrived"}}));
    assert_eq!(steps_entered(&server, &id_of(&event_run)).await, ["wait", "got"]);
    assert_eq!(messages(&server, &event_chat).await, ["Event says arrived"]);
    server.kill_9().await;
}
