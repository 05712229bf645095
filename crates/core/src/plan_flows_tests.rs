//! Flow rules of the planner: runs start, wait, wake and end in the same
//! transaction as what woke them; forms are checked and answered once; and
//! a property test that random traffic never lets a run touch a
//! conversation other than its own.

use std::sync::Arc;

use proptest::prelude::*;

use super::{World, create};
use crate::clock::Timestamp;
use crate::command::{Author, Command, NewRun};
use crate::error::ErrorCode;
use crate::event::{ContentType, EventKind};
use crate::flows::form::{Field, FieldKind, FormSpec, Values};
use crate::flows::model::{Action, Flow, Format, Param, Sender, Side, Step, Template, ValueTemplate};
use crate::flows::records::{CustomEvent, DeployedFlow, FormState, Work};
use crate::flows::run::{RunState, Wait};
use crate::ids::{ConversationId, CustomEventId, FlowId, FlowRunId, FormId, ParticipantId, WorkspaceId};
use crate::model::{IdleSettings, Role};
use crate::timer::TimerKind;

fn step(name: &str, action: Action, next: &str) -> Step {
    Step { name: name.into(), action, next: Some(next.into()), on_timeout: None, on_error: None }
}

fn say(text: &str) -> Action {
    Action::SendMessage { text: Template(text.into()), format: Format::Plain, sender: Sender::System }
}

fn object(v: serde_json::Value) -> Values {
    v.as_object().cloned().unwrap_or_default()
}

/// The co-work in one flow: a form, its answer published under `params.key`,
/// a wait for the event under that key, and what arrived written back into
/// the chat and its attributes — each stamped with the run's own chat id.
fn co_work() -> Flow {
    let form = FormSpec {
        name: "f".into(),
        title: "F".into(),
        description: None,
        fields: vec![Field {
            name: "reason".into(),
            label: "Reason".into(),
            kind: FieldKind::Text { pattern: None },
            required: true,
        }],
    };
    let mut ask = step("ask", Action::ShowForm { form, into: "answer".into(), timeout_secs: Some(60) }, "publish");
    ask.on_timeout = Some("end".into());
    let mut wait = step(
        "wait",
        Action::WaitForEvent {
            event: "e".into(),
            key: Template("{{ params.key }}".into()),
            into: Some("result".into()),
            timeout_secs: Some(60),
        },
        "thank",
    );
    wait.on_timeout = Some("end".into());
    Flow {
        name: "co".into(),
        description: None,
        side: Side::Customer,
        trigger: None,
        params: vec![Param { name: "key".into(), required: true, default: None }],
        start: "ask".into(),
        steps: vec![
            ask,
            step(
                "publish",
                Action::PublishEvent {
                    event: "e".into(),
                    key: Template("{{ params.key }}".into()),
                    data: ValueTemplate(serde_json::json!({"reason": "{{ vars.answer.reason }}"})),
                },
                "wait",
            ),
            wait,
            step("thank", say("in {{ chat.id }}: {{ vars.result.reason }}"), "store"),
            step(
                "store",
                Action::SetAttributes {
                    attributes: object(
                        serde_json::json!({"owner": "{{ chat.id }}", "got": "{{ vars.result.reason }}"}),
                    ),
                    record_id: None,
                },
                "end",
            ),
        ],
    }
}

struct Setup {
    w: World,
    ws: WorkspaceId,
    flow: FlowId,
}

impl Setup {
    fn new(flow: Flow) -> Self {
        let ws = WorkspaceId::new();
        let id = FlowId::new();
        let mut w = World::default();
        w.flows.insert(
            id,
            DeployedFlow {
                id,
                workspace_id: ws,
                name: flow.name.clone(),
                version: 1,
                source: String::new(),
                flow: Arc::new(flow),
                created_at: Timestamp(0),
            },
        );
        Self { w, ws, flow: id }
    }

    /// An open chat with a customer.
    fn chat(&mut self, now: i64) -> (ConversationId, ParticipantId) {
        let (cmd, c, ps) = create(IdleSettings::default(), &[Role::Customer]);
        let cmd = match cmd {
            Command::Create { mut conversation, participants } => {
                conversation.workspace_id = self.ws;
                Command::Create { conversation, participants }
            }
            other => other,
        };
        self.w.run(&[cmd], now);
        (c, ps[0])
    }

    fn start(&self, c: ConversationId, key: &str) -> (FlowRunId, Command) {
        let run = NewRun {
            id: FlowRunId::new(),
            conversation: c,
            flow: self.flow,
            params: object(serde_json::json!({ "key": key })),
            trigger: serde_json::Value::Null,
            launcher: None,
            parent: None,
        };
        (run.id, Command::StartRun { run: Box::new(run) })
    }

    fn form_of(&self, run: FlowRunId) -> Option<FormId> {
        match self.w.runs.get(&run)?.wait {
            Some(Wait::Form { form_id }) => Some(form_id),
            _ => None,
        }
    }
}

fn submit(c: ConversationId, p: ParticipantId, form: FormId, reason: &str) -> Command {
    Command::SubmitForm {
        conversation: c,
        form,
        by: Author::Participant(p),
        values: object(serde_json::json!({ "reason": reason })),
    }
}

#[test]
fn a_run_stops_at_the_form_and_goes_on_with_the_answer_in_the_same_transaction() {
    let mut s = Setup::new(co_work());
    let (c, p) = s.chat(1);
    let (run, start) = s.start(c, "k1");
    s.w.run(&[start], 2);
    assert_eq!(s.w.runs[&run].state, RunState::Waiting);
    let form = s.form_of(run).expect("waits for its form");
    assert_eq!(s.w.types(c).last(), Some(&"form"));
    assert_eq!(s.w.conversations[&c].runs, vec![run]);

    // The answer is published and, in the same transaction, reaches the run
    // itself (it waits for that key right after publishing).
    let out = s.w.run(&[submit(c, p, form, "Renovation")], 3);
    let events = out[0].as_ref().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e.kind.type_name()).collect();
    assert_eq!(types, ["form.submitted", "message", "conversation.updated"]);
    assert_eq!(s.w.runs[&run].state, RunState::Completed);
    assert_eq!(s.w.conversations[&c].attributes["got"], "Renovation");
    assert!(s.w.conversations[&c].runs.is_empty(), "a finished run leaves the active list");
    assert_eq!(s.w.forms[&form].state, FormState::Submitted);
    assert_eq!(s.w.custom_events.len(), 1);
    assert!(matches!(s.w.outbox[0].work, Work::Dispatch { .. }), "others get it from the outbox");

    // A second submission is refused and changes nothing.
    let out = s.w.run(&[submit(c, p, form, "Other")], 4);
    assert_eq!(out[0].as_ref().unwrap_err().code, ErrorCode::Conflict);
}

#[test]
fn form_submissions_are_checked_and_only_for_their_addressee() {
    let mut s = Setup::new(co_work());
    let (c, p) = s.chat(1);
    let (other, other_p) = s.chat(1);
    let (run, start) = s.start(c, "k1");
    s.w.run(&[start], 2);
    let form = s.form_of(run).unwrap();
    let before = s.w.events.len();
    let out = s.w.run(&[submit(other, other_p, form, "x")], 3);
    assert_eq!(out[0].as_ref().unwrap_err().code, ErrorCode::NotFound, "another conversation's form");
    let out = s.w.run(&[submit(c, other_p, form, "x")], 3);
    assert_eq!(out[0].as_ref().unwrap_err().code, ErrorCode::Forbidden, "another conversation's participant");
    let empty = Command::SubmitForm { conversation: c, form, by: Author::Participant(p), values: Values::new() };
    let err = s.w.run(&[empty], 3).remove(0).unwrap_err();
    assert_eq!((err.code, err.field.as_deref()), (ErrorCode::InvalidField, Some("values.reason")));
    assert_eq!(s.w.events.len(), before, "refusals write nothing");
    assert_eq!(s.w.forms[&form].state, FormState::Open);
}

#[test]
fn a_timeout_cancels_the_form_and_the_chat_ending_stops_the_run() {
    let mut s = Setup::new(co_work());
    let (c, p) = s.chat(1);
    let (run, start) = s.start(c, "k1");
    s.w.run(&[start], 2);
    let form = s.form_of(run).unwrap();
    let timer = s.w.timers.values().find(|t| matches!(t.kind, TimerKind::FlowWait { .. })).cloned().unwrap();
    assert_eq!(timer.due_at, Timestamp(2).plus_secs(60));
    s.w.run(&[Command::Fire { timer }], 60_002);
    assert_eq!(s.w.runs[&run].state, RunState::Completed, "on_timeout: end");
    assert_eq!(s.w.forms[&form].state, FormState::Cancelled);
    assert_eq!(s.w.types(c).last(), Some(&"form.cancelled"));
    assert_eq!(s.w.run(&[submit(c, p, form, "late")], 60_003)[0].as_ref().unwrap_err().code, ErrorCode::Conflict);

    let (run, start) = s.start(c, "k2");
    s.w.run(&[start], 60_004);
    s.w.run(&[Command::End { conversation: c, by: Author::System }], 60_005);
    assert_eq!(s.w.runs[&run].state, RunState::Cancelled);
    assert!(s.w.timers.values().all(|t| !matches!(t.kind, TimerKind::FlowWait { .. })), "its timer went with it");
}

#[test]
fn a_late_or_repeated_outcome_changes_nothing() {
    let mut s = Setup::new(co_work());
    let (c, p) = s.chat(1);
    let (run, start) = s.start(c, "k1");
    s.w.run(&[start], 2);
    let form = s.form_of(run).unwrap();
    let stale = s.w.runs[&run].wait_seq;
    s.w.run(&[submit(c, p, form, "A")], 3);
    let late = Command::Resume {
        conversation: c,
        run,
        wait_seq: stale,
        input: crate::flows::run::Input::Timeout,
        outbox: None,
    };
    let before = s.w.events.len();
    let out = s.w.run(&[late], 4);
    assert!(out[0].as_ref().unwrap().is_empty());
    assert_eq!(s.w.events.len(), before);
}

#[test]
fn an_unhandled_failure_in_a_customer_flow_hands_the_chat_to_a_human() {
    let flow = Flow {
        name: "bot".into(),
        description: None,
        side: Side::Customer,
        trigger: None,
        params: Vec::new(),
        start: "a".into(),
        steps: vec![step(
            "a",
            Action::SendMessage { text: Template("hi".into()), format: Format::Plain, sender: Sender::Agent },
            "end",
        )],
    };
    let mut s = Setup::new(flow);
    let (c, _) = s.chat(1);
    let (run, start) = s.start(c, "k");
    s.w.run(&[start], 2);
    let r = &s.w.runs[&run];
    assert_eq!(r.state, RunState::Failed);
    assert!(r.error.as_deref().unwrap().contains("launched by an agent"), "{:?}", r.error);
    assert!(s.w.outbox.iter().any(|o| matches!(o.work, Work::Handoff { run_id } if run_id == run)));
}

#[test]
fn a_customer_message_answers_an_ask() {
    let ask = Action::Ask {
        text: Some(Template("Which?".into())),
        choices: vec!["A".into(), "B".into()],
        pattern: None,
        retries: 1,
        into: "pick".into(),
        timeout_secs: None,
    };
    let flow = Flow {
        name: "ask".into(),
        description: None,
        side: Side::Customer,
        trigger: None,
        params: Vec::new(),
        start: "q".into(),
        steps: vec![step("q", ask, "done"), step("done", say("you chose {{ vars.pick }}"), "end")],
    };
    let mut s = Setup::new(flow);
    let (c, p) = s.chat(1);
    let (run, start) = s.start(c, "k");
    s.w.run(&[start], 2);
    assert_eq!(s.w.runs[&run].wait, Some(Wait::Message));
    let msg = |text: &str| Command::Append {
        conversation: c,
        author: Author::Participant(p),
        kind: EventKind::Message { content_type: ContentType::TextPlain, content: text.into() },
        client_token: None,
    };
    s.w.run(&[msg("b")], 3);
    assert_eq!(s.w.runs[&run].state, RunState::Completed);
    let last = s.w.log(c).last().cloned().cloned().unwrap();
    assert!(matches!(last.kind, EventKind::Message { ref content, .. } if content == "you chose B"));
}

#[derive(Debug, Clone)]
enum Op {
    Chat,
    Start { chat: usize, key: usize },
    Submit { run: usize, as_chat: usize, reason: usize },
    Publish { key: usize, reason: usize },
    Timeout { run: usize },
    End { chat: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Chat),
        3 => (0..8usize, 0..6usize).prop_map(|(chat, key)| Op::Start { chat, key }),
        4 => (0..16usize, 0..8usize, 0..4usize).prop_map(|(run, as_chat, reason)| Op::Submit { run, as_chat, reason }),
        1 => (0..6usize, 0..4usize).prop_map(|(key, reason)| Op::Publish { key, reason }),
        1 => (0..16usize).prop_map(|run| Op::Timeout { run }),
        1 => (0..8usize).prop_map(|chat| Op::End { chat }),
    ]
}

proptest! {
    /// Random chats, runs (keys shared between chats or not), submissions
    /// from the right and the wrong chat, published events, timeouts and
    /// ends, cut into random batches. Whatever happens: every message and
    /// attribute a run writes carries its own chat's id and lands in that
    /// chat; a run's forms are in its chat; a run never changes chats; and a
    /// run whose key no other chat uses only ever receives its own answer.
    #[test]
    fn no_run_touches_another_conversation(ops in proptest::collection::vec(op(), 1..80), cuts in proptest::collection::vec(1..5usize, 1..40)) {
        let mut s = Setup::new(co_work());
        let mut chats: Vec<(ConversationId, ParticipantId)> = Vec::new();
        let mut runs: Vec<(FlowRunId, ConversationId, String)> = Vec::new();
        let reasons = ["r0", "r1", "r2", "r3"];
        let mut now = 10;
        let mut i = 0;
        let mut cut = cuts.iter().cycle();
        while i < ops.len() {
            let n = (*cut.next().unwrap()).min(ops.len() - i);
            let mut batch = Vec::new();
            for op in &ops[i..i + n] {
                match op.clone() {
                    Op::Chat => chats.push(s.chat(now)),
                    Op::Start { chat, key } if !chats.is_empty() => {
                        let (c, _) = chats[chat % chats.len()];
                        let key = format!("k{key}");
                        let (run, cmd) = s.start(c, &key);
                        runs.push((run, c, key));
                        batch.push(cmd);
                    }
                    Op::Submit { run, as_chat, reason } if !runs.is_empty() && !chats.is_empty() => {
                        let (id, c, _) = &runs[run % runs.len()];
                        let (_, p) = chats[as_chat % chats.len()];
                        if let Some(form) = s.form_of(*id) {
                            // The reason names the chat whose customer sent it.
                            let sender = chats.iter().find(|(_, q)| *q == p).map(|(x, _)| *x).unwrap();
                            batch.push(submit(*c, p, form, &format!("{}:{sender}", reasons[reason])));
                        }
                    }
                    Op::Publish { key, reason } => {
                        let e = CustomEvent {
                            id: CustomEventId::new(),
                            workspace_id: s.ws,
                            event_type: "e".into(),
                            key: format!("k{key}"),
                            data: object(serde_json::json!({"reason": format!("{}:api", reasons[reason])})),
                            conversation_id: None,
                            run_id: None,
                            replay_id: 0,
                            published_at: Timestamp(now),
                        };
                        batch.push(Command::Publish { event: Box::new(e) });
                    }
                    Op::Timeout { run } if !runs.is_empty() => {
                        let (id, _, _) = &runs[run % runs.len()];
                        let timer = s.w.timers.values().find(|t| matches!(t.kind, TimerKind::FlowWait { run, .. } if run == *id)).cloned();
                        if let Some(timer) = timer {
                            batch.push(Command::Fire { timer });
                        }
                    }
                    Op::End { chat } if !chats.is_empty() => {
                        let (c, _) = chats[chat % chats.len()];
                        batch.push(Command::End { conversation: c, by: Author::System });
                    }
                    _ => {}
                }
            }
            now += 70_000;
            s.w.run(&batch, now);
            i += n;
        }
        for e in &s.w.events {
            if let EventKind::Message { content, .. } = &e.kind {
                let stamped = content.strip_prefix("in ").and_then(|r| r.split(':').next()).unwrap_or_default();
                prop_assert_eq!(stamped, e.conversation_id.to_string(), "a message written into another chat");
            }
        }
        for c in s.w.conversations.values() {
            if let Some(owner) = c.attributes.get("owner") {
                prop_assert_eq!(owner.as_str().unwrap_or_default(), c.id.to_string());
            }
        }
        for f in s.w.forms.values() {
            let run = &s.w.runs[&f.run_id.unwrap()];
            prop_assert_eq!(f.conversation_id, run.conversation_id);
        }
        for (id, c, key) in &runs {
            let Some(run) = s.w.runs.get(id) else { continue };
            prop_assert_eq!(run.conversation_id, *c);
            let shared = runs.iter().any(|(o, oc, ok)| o != id && ok == key && oc != c);
            let published_by_api = s.w.custom_events.iter().any(|e| e.key == *key && e.run_id.is_none());
            if let (Some(got), false, false) = (run.vars.get("result"), shared, published_by_api) {
                let answer = got["reason"].as_str().unwrap_or_default().to_owned();
                let from = answer.split(':').nth(1).unwrap_or_default();
                prop_assert_eq!(from, c.to_string(), "run {} got another chat's answer {}", id, answer);
            }
        }
    }
}
