//! A flow run and the interpreter that advances it.
//!
//! The interpreter is pure: given the flow, the run as stored, what just
//! happened ([`Input`]) and the chat it runs in, it moves the run along its
//! steps until a step must wait (for the customer, a form, an event, an
//! outside action, a timer) or the run ends, and returns what it asks the
//! world to do ([`Effect`]). The planner applies the effects in the same
//! transaction that stores the run, so a run is always stored at the step it
//! waits in, and resumes there after a restart.

use serde::{Deserialize, Serialize};

use super::form::{FormSpec, Values};
use super::model::{Action, END, Flow, Format, Method, RouteTarget, Sender, Side, Step};
use super::template;
use crate::clock::Timestamp;
use crate::ids::{
    AgentId, ConversationId, FileRequestId, FlowId, FlowRunId, FormId, OutboxId, ParticipantId, WorkspaceId,
};

/// The most steps one activation may take before the run is stopped (a
/// loop of steps that never waits).
pub const MAX_STEPS_PER_WAKE: u32 = 100;
/// The most steps a run may take in its life.
pub const MAX_STEPS_PER_RUN: u32 = 10_000;
/// The largest variables object a run may hold, serialized.
pub const MAX_VARS_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for something ([`Run::wait`]).
    Waiting,
    Completed,
    /// Ended by an error no step handled.
    Failed,
    /// Stopped from outside: the chat ended, or an operator cancelled it.
    Cancelled,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Waiting, Self::Completed, Self::Failed, Self::Cancelled].into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_active(self) -> bool {
        self == Self::Waiting
    }
}

/// What a waiting run waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case")]
pub enum Wait {
    /// The customer's next message (`ask`).
    Message,
    /// A form to be submitted.
    Form { form_id: FormId },
    /// A custom event of this type and key, published at or after `since`.
    Event { event_type: String, key: String, since: Timestamp },
    /// An action done outside the writer (HTTP, route, transfer, launch).
    Action { outbox_id: OutboxId },
    /// A subflow run to finish.
    Subflow { run_id: FlowRunId },
    /// Its own timer (`wait`).
    Timer,
    /// The file it asked for (`request_file` with `into`).
    File { request_id: FileRequestId },
}

/// Who launched a run, when an agent did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launcher {
    pub agent_id: AgentId,
    /// The agent's participant in the conversation (what `as: agent` sends as).
    pub participant_id: ParticipantId,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: FlowRunId,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub flow_id: FlowId,
    pub flow_name: String,
    pub flow_version: i64,
    pub side: Side,
    pub state: RunState,
    /// The step it is in (or ended in).
    pub step: String,
    pub wait: Option<Wait>,
    /// Counts the waits; an outcome names the wait it answers, so a late or
    /// repeated one (a timer that lost to the answer, a redelivered event)
    /// changes nothing.
    pub wait_seq: u32,
    /// Wrong answers to the current `ask`.
    pub attempts: u32,
    pub steps_taken: u32,
    pub params: Values,
    pub vars: Values,
    /// What started it (the event's data, the message, who launched it).
    pub trigger: serde_json::Value,
    pub launcher: Option<Launcher>,
    /// The run that waits for this one (a subflow's caller), and its wait.
    pub parent: Option<(FlowRunId, u32)>,
    pub error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What happened to the step a run waits in.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The run was just created.
    Start,
    /// A message from the customer.
    Message { text: String },
    /// The form was submitted with these (checked) values.
    FormSubmitted { values: Values },
    /// A custom event arrived.
    Event { data: serde_json::Value },
    /// The file asked for arrived (its details).
    File { data: serde_json::Value },
    /// The file request was declined or canceled.
    FileRefused { why: String },
    /// The outside action finished; its result (an HTTP response as
    /// `{status, body}`, a subflow's variables, `null`).
    Done { result: serde_json::Value },
    /// The outside action failed.
    Failed { error: String },
    /// The step's timer fired.
    Timeout,
}

/// An outside action: executed from the outbox, its outcome comes back as
/// an [`Input`] for the wait it was created with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionRequest {
    Http {
        method: Method,
        url: String,
        headers: Vec<(String, String)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<serde_json::Value>,
        timeout_secs: u32,
    },
    Route {
        target: RouteTarget,
        priority: i32,
    },
    Transfer {
        target: RouteTarget,
    },
    /// Starts `flow` (by name, its latest version) as run `run_id`.
    Launch {
        flow: String,
        run_id: FlowRunId,
        params: Values,
        wait: bool,
    },
}

/// What the interpreter asks the planner to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The run entered this step (for the run log).
    Entered {
        step: String,
    },
    Send {
        text: String,
        format: Format,
        sender: Sender,
    },
    ShowForm {
        form_id: FormId,
        form: FormSpec,
        to: Side,
    },
    CancelForm {
        form_id: FormId,
    },
    SetAttributes {
        attributes: Values,
        record_id: Option<String>,
    },
    Publish {
        event_type: String,
        key: String,
        data: Values,
    },
    SetAgentInput {
        text: String,
    },
    RequestFile {
        request_id: FileRequestId,
        record_id: Option<String>,
    },
    /// Withdraw a file request the run gave up waiting for.
    CancelFileRequest {
        request_id: FileRequestId,
    },
    EndChat,
    /// Queue an outside action under this id; the run waits for it.
    Outside {
        outbox_id: OutboxId,
        request: ActionRequest,
    },
    /// Start another flow in this conversation once this commits.
    Launch {
        flow: String,
        run_id: FlowRunId,
        params: Values,
    },
    /// Arm the run's timer: the current wait times out after `secs`.
    Timer {
        secs: u32,
    },
    /// The run is over (completed, failed); a failed customer-side run hands
    /// the chat to a human.
    Finished {
        state: RunState,
    },
    /// Tell the parent run (a subflow's caller) how this one ended.
    NotifyParent {
        parent: FlowRunId,
        wait_seq: u32,
        input: Input,
    },
}

/// The chat as flows see it (`chat` in templates and expressions).
pub fn chat_value(c: &crate::model::Conversation) -> serde_json::Value {
    serde_json::json!({
        "id": c.id.to_string(),
        "attributes": c.attributes,
        "record_id": c.record_id,
        "entry_point_id": c.entry_point_id.map(|e| e.to_string()),
        "state": c.state.as_str(),
    })
}

/// How a step ended.
enum Outcome {
    Next,
    To(String),
    Timeout,
    Error(String),
}

/// Advances `run` by `input`, returning the effects to apply. The caller
/// has checked that `input` answers the run's current wait.
pub fn advance(flow: &Flow, run: &mut Run, input: Input, chat: &serde_json::Value, now: Timestamp) -> Vec<Effect> {
    let mut effects = Vec::new();
    run.updated_at = now;
    let outcome = match input {
        Input::Start => {
            run.step = flow.start.clone();
            run.wait = None;
            return enter(flow, run, chat, now, effects);
        }
        other => resume(flow, run, other, chat, &mut effects),
    };
    let Some(outcome) = outcome else {
        // Still waiting in the same step (a wrong answer asked again).
        return effects;
    };
    match transition(flow, run, outcome) {
        Ok(Some(next)) => {
            run.step = next;
            run.wait = None;
            enter(flow, run, chat, now, effects)
        }
        Ok(None) => finish(run, RunState::Completed, None, effects),
        Err(error) => finish(run, RunState::Failed, Some(error), effects),
    }
}

/// Stops a run from outside (the chat ended, an operator): cancels its form.
pub fn cancel(run: &mut Run, reason: &str, now: Timestamp) -> Vec<Effect> {
    run.updated_at = now;
    let mut effects = Vec::new();
    if let Some(Wait::Form { form_id }) = &run.wait {
        effects.push(Effect::CancelForm { form_id: *form_id });
    }
    finish(run, RunState::Cancelled, Some(reason.to_owned()), effects)
}

/// The outcome of the step the run waits in, given what happened; `None`
/// when it keeps waiting.
fn resume(
    flow: &Flow,
    run: &mut Run,
    input: Input,
    chat: &serde_json::Value,
    effects: &mut Vec<Effect>,
) -> Option<Outcome> {
    let Some(step) = flow.step(&run.step) else {
        return Some(Outcome::Error(format!("step `{}` is not in this version of the flow", run.step)));
    };
    if input == Input::Timeout {
        match &run.wait {
            Some(Wait::Form { form_id }) => effects.push(Effect::CancelForm { form_id: *form_id }),
            Some(Wait::File { request_id }) => effects.push(Effect::CancelFileRequest { request_id: *request_id }),
            _ => {}
        }
        return Some(match step.action {
            Action::Wait { .. } => Outcome::Next,
            _ => Outcome::Timeout,
        });
    }
    match (&step.action, input) {
        (Action::Ask { choices, pattern, retries, into, text, .. }, Input::Message { text: answer }) => {
            let answer = answer.trim().to_owned();
            match check_answer(choices, pattern.as_deref(), &answer) {
                Ok(value) => {
                    set_var(run, into, serde_json::Value::String(value));
                    Some(Outcome::Next)
                }
                Err(why) if run.attempts < *retries => {
                    run.attempts += 1;
                    let again = match text.as_ref().map(|t| template::render(t, &context(run, chat))) {
                        Some(Ok(question)) => format!("{why} {question}"),
                        _ => why,
                    };
                    effects.push(Effect::Send { text: again, format: Format::Plain, sender: Sender::System });
                    None
                }
                Err(why) => Some(Outcome::Error(format!("no valid answer: {why}"))),
            }
        }
        (Action::ShowForm { into, .. }, Input::FormSubmitted { values }) => {
            set_var(run, into, serde_json::Value::Object(values));
            Some(Outcome::Next)
        }
        (Action::RequestFile { into: Some(into), .. }, Input::File { data }) => {
            set_var(run, into, data);
            Some(Outcome::Next)
        }
        (Action::RequestFile { .. }, Input::FileRefused { why }) => Some(Outcome::Error(why)),
        (Action::WaitForEvent { into, .. }, Input::Event { data }) => {
            if let Some(into) = into {
                set_var(run, into, data);
            }
            Some(Outcome::Next)
        }
        (Action::HttpRequest { into, .. } | Action::Subflow { into, .. }, Input::Done { result }) => {
            if let Some(into) = into {
                set_var(run, into, result);
            }
            Some(Outcome::Next)
        }
        (Action::Route { .. } | Action::Transfer { .. }, Input::Done { .. }) => Some(Outcome::Next),
        (_, Input::Failed { error }) => Some(Outcome::Error(error)),
        (action, input) => Some(Outcome::Error(format!(
            "step `{}` ({}) cannot take {}",
            step.name,
            action.type_name(),
            input_name(&input)
        ))),
    }
}

fn input_name(input: &Input) -> &'static str {
    match input {
        Input::Start => "a start",
        Input::Message { .. } => "a message",
        Input::FormSubmitted { .. } => "a form submission",
        Input::Event { .. } => "an event",
        Input::File { .. } => "a file",
        Input::FileRefused { .. } => "a refused file request",
        Input::Done { .. } => "an action's result",
        Input::Failed { .. } => "an action's failure",
        Input::Timeout => "a timeout",
    }
}

/// Where an outcome leads: `Ok(Some(step))`, `Ok(None)` for the end, or the
/// error that fails the run when no `on_error` catches it.
fn transition(flow: &Flow, run: &mut Run, outcome: Outcome) -> Result<Option<String>, String> {
    let step = flow.step(&run.step).ok_or_else(|| format!("step `{}` is not in this version of the flow", run.step))?;
    let target = match outcome {
        Outcome::Next => step.next.clone().unwrap_or_else(|| END.to_owned()),
        Outcome::To(t) => t,
        Outcome::Timeout => match &step.on_timeout {
            Some(t) => t.clone(),
            None => return caught(run, step, format!("step `{}` timed out", step.name)),
        },
        Outcome::Error(e) => return caught(run, step, e),
    };
    Ok((target != END).then_some(target))
}

/// An error: to the step's `on_error` (with `vars.error` set), or out.
fn caught(run: &mut Run, step: &Step, error: String) -> Result<Option<String>, String> {
    match &step.on_error {
        Some(t) => {
            let value = serde_json::json!({ "step": step.name, "message": error });
            run.vars.insert("error".to_owned(), value);
            Ok((t != END).then(|| t.clone()))
        }
        None => Err(format!("step `{}`: {error}", step.name)),
    }
}

/// Runs steps from `run.step` until one waits or the run ends.
fn enter(
    flow: &Flow,
    run: &mut Run,
    chat: &serde_json::Value,
    now: Timestamp,
    mut effects: Vec<Effect>,
) -> Vec<Effect> {
    // The steps after a `set_attributes` or `end_chat` in this activation
    // see the chat as it will be once the effects are applied.
    let mut chat = chat.clone();
    let mut taken = 0;
    loop {
        taken += 1;
        run.steps_taken += 1;
        run.attempts = 0;
        if taken > MAX_STEPS_PER_WAKE || run.steps_taken > MAX_STEPS_PER_RUN {
            let error = format!("stopped after {} steps without waiting (a loop?)", taken - 1);
            return finish(run, RunState::Failed, Some(error), effects);
        }
        let Some(step) = flow.step(&run.step) else {
            let error = format!("step `{}` is not in this version of the flow", run.step);
            return finish(run, RunState::Failed, Some(error), effects);
        };
        effects.push(Effect::Entered { step: step.name.clone() });
        let before = effects.len();
        let outcome = match execute(step, run, &chat, now, &mut effects) {
            Executed::Waits => return effects,
            Executed::Done(outcome) => outcome,
        };
        for effect in &effects[before..] {
            reflect(&mut chat, effect);
        }
        match transition(flow, run, outcome) {
            Ok(Some(next)) => run.step = next,
            Ok(None) => return finish(run, RunState::Completed, None, effects),
            Err(error) => return finish(run, RunState::Failed, Some(error), effects),
        }
    }
}

/// Applies a step's change of the conversation to `chat` as the planner
/// applies it to the conversation (a `null` attribute removes the key, an
/// empty record id unlinks it).
fn reflect(chat: &mut serde_json::Value, effect: &Effect) {
    match effect {
        Effect::SetAttributes { attributes, record_id } => {
            if !chat["attributes"].is_object() {
                chat["attributes"] = serde_json::json!({});
            }
            if let Some(current) = chat["attributes"].as_object_mut() {
                for (k, v) in attributes {
                    if v.is_null() {
                        current.remove(k);
                    } else {
                        current.insert(k.clone(), v.clone());
                    }
                }
            }
            if let Some(r) = record_id {
                chat["record_id"] = if r.is_empty() { serde_json::Value::Null } else { r.clone().into() };
            }
        }
        Effect::EndChat => chat["state"] = "ended".into(),
        _ => {}
    }
}

/// What a step's action did.
enum Did {
    Next,
    GoTo(String),
    Wait((Wait, Option<u32>)),
}

enum Executed {
    Done(Outcome),
    Waits,
}

/// Does one step: its effects, and whether it is done or waits.
fn execute(
    step: &Step,
    run: &mut Run,
    chat: &serde_json::Value,
    now: Timestamp,
    effects: &mut Vec<Effect>,
) -> Executed {
    let ctx = context(run, chat);
    let render = |t: &super::model::Template| template::render(t, &ctx);
    let result: Result<Did, String> = (|| {
        match &step.action {
            Action::SendMessage { text, format, sender } => {
                if *sender == Sender::Agent && run.launcher.is_none() {
                    return Err("`as: agent` needs a run launched by an agent".to_owned());
                }
                let text = nonempty(render(text)?)?;
                effects.push(Effect::Send { text, format: *format, sender: *sender });
                Ok(Did::Next)
            }
            Action::Ask { text, timeout_secs, .. } => {
                if let Some(text) = text {
                    let text = nonempty(render(text)?)?;
                    effects.push(Effect::Send { text, format: Format::Plain, sender: Sender::System });
                }
                Ok(Did::Wait((Wait::Message, *timeout_secs)))
            }
            Action::ShowForm { form, timeout_secs, .. } => {
                let form_id = FormId::new();
                effects.push(Effect::ShowForm { form_id, form: form.clone(), to: run.side });
                Ok(Did::Wait((Wait::Form { form_id }, *timeout_secs)))
            }
            Action::SetAttributes { attributes, record_id } => {
                let rendered = template::render_value(&super::model::ValueTemplate(attributes.clone().into()), &ctx)?;
                let attributes = rendered.as_object().cloned().unwrap_or_default();
                let record_id = record_id.as_ref().map(render).transpose()?;
                effects.push(Effect::SetAttributes { attributes, record_id });
                Ok(Did::Next)
            }
            Action::SetVars { vars } => {
                let rendered = template::render_value(&super::model::ValueTemplate(vars.clone().into()), &ctx)?;
                for (k, v) in rendered.as_object().cloned().unwrap_or_default() {
                    set_var(run, &k, v);
                }
                Ok(Did::Next)
            }
            Action::Branch { cases, default } => {
                let vars: Vec<(&str, &serde_json::Value)> = template::VARS.iter().map(|v| (*v, &ctx[*v])).collect();
                for case in cases {
                    match case.condition.eval(&vars) {
                        Ok(true) => return Ok(Did::GoTo(case.next.clone())),
                        Ok(false) => {}
                        Err(e) => return Err(format!("condition `{}`: {e}", case.condition.source())),
                    }
                }
                Ok(Did::GoTo(default.clone()))
            }
            Action::HttpRequest { method, url, headers, body, timeout_secs, .. } => {
                let url = render(url)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!("`{}` is not an http(s) URL", truncate(&url)));
                }
                let headers =
                    headers.iter().map(|(k, v)| Ok((k.clone(), render(v)?))).collect::<Result<Vec<_>, String>>()?;
                let body = body.as_ref().map(|b| template::render_value(b, &ctx)).transpose()?;
                let request = ActionRequest::Http { method: *method, url, headers, body, timeout_secs: *timeout_secs };
                Ok(Did::Wait(outside(effects, request)))
            }
            Action::PublishEvent { event, key, data } => {
                let key = nonempty(render(key)?)?;
                let data = template::render_value(data, &ctx)?.as_object().cloned().unwrap_or_default();
                effects.push(Effect::Publish { event_type: event.clone(), key, data });
                Ok(Did::Next)
            }
            Action::WaitForEvent { event, key, timeout_secs, .. } => {
                let key = nonempty(render(key)?)?;
                Ok(Did::Wait((Wait::Event { event_type: event.clone(), key, since: now }, *timeout_secs)))
            }
            Action::Route { target, priority } => {
                Ok(Did::Wait(outside(effects, ActionRequest::Route { target: target.clone(), priority: *priority })))
            }
            Action::Transfer { target } => {
                Ok(Did::Wait(outside(effects, ActionRequest::Transfer { target: target.clone() })))
            }
            Action::SetAgentInput { text } => {
                effects.push(Effect::SetAgentInput { text: render(text)? });
                Ok(Did::Next)
            }
            Action::RequestFile { record_id, into, timeout_secs } => {
                let record_id = record_id.as_ref().map(render).transpose()?.filter(|r| !r.is_empty());
                let request_id = FileRequestId::new();
                effects.push(Effect::RequestFile { request_id, record_id });
                Ok(match into {
                    Some(_) => Did::Wait((Wait::File { request_id }, *timeout_secs)),
                    None => Did::Next,
                })
            }
            Action::EndChat => {
                effects.push(Effect::EndChat);
                Ok(Did::Next)
            }
            Action::LaunchFlow { flow, params } => {
                // Started after this transaction commits; this run goes on at
                // once, so a step after it (waiting for the other side's
                // answer) is in place before the other side can answer.
                let params = template::render_value(&super::model::ValueTemplate(params.clone().into()), &ctx)?;
                let params = params.as_object().cloned().unwrap_or_default();
                effects.push(Effect::Launch { flow: flow.clone(), run_id: FlowRunId::new(), params });
                Ok(Did::Next)
            }
            Action::Subflow { flow, params, .. } => {
                let params = template::render_value(&super::model::ValueTemplate(params.clone().into()), &ctx)?;
                let request = ActionRequest::Launch {
                    flow: flow.clone(),
                    run_id: FlowRunId::new(),
                    params: params.as_object().cloned().unwrap_or_default(),
                    wait: true,
                };
                Ok(Did::Wait(outside(effects, request)))
            }
            Action::Wait { secs } => Ok(Did::Wait((Wait::Timer, Some(*secs)))),
        }
    })();
    match result {
        Ok(Did::Next) => Executed::Done(Outcome::Next),
        Ok(Did::GoTo(target)) => Executed::Done(Outcome::To(target)),
        Ok(Did::Wait((wait, timeout))) => {
            run.wait = Some(wait);
            run.wait_seq += 1;
            if let Some(secs) = timeout {
                effects.push(Effect::Timer { secs });
            }
            Executed::Waits
        }
        Err(e) => Executed::Done(Outcome::Error(e)),
    }
}

/// Queues an outside action; the run waits for its outcome.
fn outside(effects: &mut Vec<Effect>, request: ActionRequest) -> (Wait, Option<u32>) {
    let outbox_id = OutboxId::new();
    effects.push(Effect::Outside { outbox_id, request });
    (Wait::Action { outbox_id }, None)
}

fn finish(run: &mut Run, state: RunState, error: Option<String>, mut effects: Vec<Effect>) -> Vec<Effect> {
    run.state = state;
    run.wait = None;
    run.error = error.clone();
    effects.push(Effect::Finished { state });
    if let Some((parent, wait_seq)) = run.parent {
        let input = match (state, error) {
            (RunState::Completed, _) => Input::Done { result: serde_json::Value::Object(run.vars.clone()) },
            (_, error) => Input::Failed { error: error.unwrap_or_else(|| format!("subflow {}", state.as_str())) },
        };
        effects.push(Effect::NotifyParent { parent, wait_seq, input });
    }
    effects
}

/// The variables templates and expressions see.
pub fn context(run: &Run, chat: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "params": run.params,
        "vars": run.vars,
        "chat": chat,
        "trigger": run.trigger,
    })
}

fn set_var(run: &mut Run, name: &str, value: serde_json::Value) {
    run.vars.insert(name.to_owned(), value);
    let size = serde_json::to_string(&run.vars).map_or(usize::MAX, |s| s.len());
    if size > MAX_VARS_BYTES {
        // Keep the run storable: the oversized value is replaced by a note.
        run.vars.insert(name.to_owned(), serde_json::json!({ "truncated": true }));
    }
}

fn nonempty(s: String) -> Result<String, String> {
    if s.trim().is_empty() { Err("the text rendered empty".to_owned()) } else { Ok(s) }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Checks an answer against an `ask`'s choices and pattern; returns the
/// value to store (a choice as written in the flow).
fn check_answer(choices: &[String], pattern: Option<&str>, answer: &str) -> Result<String, String> {
    if answer.is_empty() {
        return Err("Please answer.".to_owned());
    }
    if !choices.is_empty() {
        return choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(answer))
            .cloned()
            .ok_or_else(|| format!("Please answer one of: {}.", choices.join(", ")));
    }
    if let Some(p) = pattern {
        let ok = super::form::compile_pattern(p).map(|re| re.is_match(answer)).unwrap_or(false);
        if !ok {
            return Err("That answer is not in the expected form.".to_owned());
        }
    }
    Ok(answer.to_owned())
}

/// The run's first state, before [`advance`] with [`Input::Start`].
#[allow(clippy::too_many_arguments)]
pub fn new_run(
    id: FlowRunId,
    workspace_id: WorkspaceId,
    conversation_id: ConversationId,
    flow_id: FlowId,
    flow: &Flow,
    version: i64,
    params: Values,
    trigger: serde_json::Value,
    launcher: Option<Launcher>,
    parent: Option<(FlowRunId, u32)>,
    now: Timestamp,
) -> Run {
    let mut all = Values::new();
    for p in &flow.params {
        if let Some(v) = params.get(&p.name).cloned().or_else(|| p.default.clone()) {
            all.insert(p.name.clone(), v);
        }
    }
    // Parameters the flow does not declare are passed through as well.
    for (k, v) in params {
        all.entry(k).or_insert(v);
    }
    Run {
        id,
        workspace_id,
        conversation_id,
        flow_id,
        flow_name: flow.name.clone(),
        flow_version: version,
        side: flow.side,
        state: RunState::Waiting,
        step: flow.start.clone(),
        wait: None,
        wait_seq: 0,
        attempts: 0,
        steps_taken: 0,
        params: all,
        vars: Values::new(),
        trigger,
        launcher,
        parent,
        error: None,
        created_at: now,
        updated_at: now,
    }
}

/// Required parameters a launch did not pass.
pub fn missing_params(flow: &Flow, params: &Values) -> Vec<String> {
    flow.params.iter().filter(|p| p.required && !params.contains_key(&p.name)).map(|p| p.name.clone()).collect()
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
