//! Tests of batch planning, with no store: a [`World`] plays the database,
//! loading snapshots from and applying plans to plain maps.

use std::collections::HashMap;

use proptest::prelude::*;

use super::plan;
use crate::clock::Timestamp;
use crate::command::{Author, ClientToken, Command, NewConversation, NewParticipant, Snapshot, SnapshotKeys};
use crate::error::ErrorCode;
use crate::event::{ContentType, EndReason, Event, EventKind, LeaveReason};
use crate::ids::{ConversationId, ParticipantId, WorkspaceId};
use crate::model::{Attributes, Conversation, ConversationState, IdleSettings, Participant, Role};
use crate::timer::{InactivityStage, Timer, TimerKey, TimerKind};

/// An in-memory stand-in for the store: enough to run batches back to back.
#[derive(Default)]
pub(super) struct World {
    pub conversations: HashMap<ConversationId, Conversation>,
    pub participants: HashMap<ParticipantId, Participant>,
    pub events: Vec<Event>,
    pub timers: HashMap<TimerKey, Timer>,
    pub agents: HashMap<crate::ids::AgentId, crate::routing::model::Agent>,
    pub tasks: HashMap<crate::ids::TaskId, crate::routing::model::Task>,
    pub offers: HashMap<crate::ids::OfferId, crate::routing::model::Offer>,
    pub queues: HashMap<crate::ids::QueueId, crate::routing::model::Queue>,
    pub file_requests: HashMap<crate::ids::FileRequestId, crate::model::FileRequest>,
    pub runs: HashMap<crate::ids::FlowRunId, crate::flows::run::Run>,
    pub flows: HashMap<crate::ids::FlowId, crate::flows::records::DeployedFlow>,
    pub forms: HashMap<crate::ids::FormId, crate::flows::records::FormRecord>,
    pub custom_events: Vec<crate::flows::records::CustomEvent>,
    pub outbox: Vec<crate::flows::records::OutboxItem>,
    pub hooks: HashMap<WorkspaceId, Vec<crate::flows::webhooks::Hook>>,
    pub history: Vec<crate::routing::model::TaskHistory>,
    pub erasures: Vec<crate::retention::PlannedErasure>,
}

impl World {
    fn load(&self, keys: SnapshotKeys, snap: &mut Snapshot) {
        fn copy<K: std::hash::Hash + Eq + Copy, V: Clone>(ids: Vec<K>, from: &HashMap<K, V>, to: &mut HashMap<K, V>) {
            for id in ids {
                if let Some(v) = from.get(&id) {
                    to.insert(id, v.clone());
                }
            }
        }
        copy(keys.conversations, &self.conversations, &mut snap.conversations);
        copy(keys.participants, &self.participants, &mut snap.participants);
        copy(keys.agents, &self.agents, &mut snap.agents);
        copy(keys.tasks, &self.tasks, &mut snap.tasks);
        copy(keys.offers, &self.offers, &mut snap.offers);
        copy(keys.queues, &self.queues, &mut snap.queues);
        copy(keys.file_requests, &self.file_requests, &mut snap.file_requests);
        copy(keys.runs, &self.runs, &mut snap.runs);
        copy(keys.flows, &self.flows, &mut snap.flows);
        copy(keys.forms, &self.forms, &mut snap.forms);
        for w in keys.hook_workspaces {
            snap.workspace_hooks.insert(w, self.hooks.get(&w).cloned().unwrap_or_default());
        }
        for (c, t) in keys.client_tokens {
            if let Some(e) =
                self.events.iter().find(|e| e.conversation_id == c && e.client_token.as_deref() == Some(&t))
            {
                snap.sent.insert((c, t), e.clone());
            }
        }
        for k in keys.timers {
            if let Some(t) = self.timers.get(&k) {
                snap.timers.insert(k, t.clone());
            }
        }
    }

    pub(super) fn run(&mut self, commands: &[Command], now: i64) -> Vec<crate::Result<Vec<Event>>> {
        let mut snap = Snapshot::default();
        self.load(SnapshotKeys::of(commands), &mut snap);
        // As the store does: follow what the loaded rows point to.
        for _ in 0..3 {
            let more = SnapshotKeys::derived(commands, &snap);
            if more.is_empty() {
                break;
            }
            self.load(more, &mut snap);
        }
        let (p, outcomes) = plan(commands, snap, Timestamp(now));
        for a in p.agents {
            self.agents.insert(a.id, a);
        }
        for t in p.new_tasks.into_iter().chain(p.tasks) {
            self.tasks.insert(t.id, t);
        }
        for o in p.new_offers.into_iter().chain(p.offers) {
            self.offers.insert(o.id, o);
        }
        for f in p.file_requests {
            self.file_requests.insert(f.id, f);
        }
        for r in p.runs {
            self.runs.insert(r.id, r);
        }
        for f in p.forms {
            self.forms.insert(f.id, f);
        }
        self.custom_events.extend(p.custom_events);
        self.history.extend(p.task_history);
        self.outbox.extend(p.outbox);
        for c in p.new_conversations.into_iter().chain(p.conversations) {
            self.conversations.insert(c.id, c);
        }
        for x in p.new_participants.into_iter().chain(p.participants) {
            self.participants.insert(x.id, x);
        }
        self.events.extend(p.events);
        for c in p.clear_timers {
            self.timers.retain(|k, _| k.conversation_id != c);
        }
        for k in p.delete_timers {
            self.timers.remove(&k);
        }
        for t in p.set_timers {
            self.timers.insert(t.key(), t);
        }
        for e in p.erasures {
            self.erase(e);
        }
        outcomes
    }

    /// As the store does, last in the transaction: the conversation and
    /// every row of it go.
    fn erase(&mut self, e: crate::retention::PlannedErasure) {
        let c = e.request.conversation;
        let tasks: Vec<_> = self.tasks.values().filter(|t| t.conversation_id == c).map(|t| t.id).collect();
        self.conversations.remove(&c);
        self.participants.retain(|_, p| p.conversation_id != c);
        self.events.retain(|x| x.conversation_id != c);
        self.timers.retain(|k, _| k.conversation_id != c);
        self.tasks.retain(|_, t| t.conversation_id != c);
        self.offers.retain(|_, o| o.conversation_id != c);
        self.history.retain(|h| !tasks.contains(&h.task_id));
        self.file_requests.retain(|_, f| f.conversation_id != c);
        self.runs.retain(|_, r| r.conversation_id != c);
        self.forms.retain(|_, f| f.conversation_id != c);
        self.custom_events.retain(|x| x.conversation_id != Some(c));
        self.outbox.retain(|o| o.conversation_id != Some(c));
        self.erasures.push(e);
    }

    pub(super) fn log(&self, c: ConversationId) -> Vec<&Event> {
        self.events.iter().filter(|e| e.conversation_id == c).collect()
    }

    pub(super) fn types(&self, c: ConversationId) -> Vec<&'static str> {
        self.log(c).iter().map(|e| e.kind.type_name()).collect()
    }
}

pub(super) fn create(idle: IdleSettings, roles: &[Role]) -> (Command, ConversationId, Vec<ParticipantId>) {
    let id = ConversationId::new();
    let ps: Vec<NewParticipant> = roles
        .iter()
        .map(|r| NewParticipant {
            id: ParticipantId::new(),
            role: *r,
            display_name: r.as_str().into(),
            token: None,
            agent_id: None,
        })
        .collect();
    let ids = ps.iter().map(|p| p.id).collect();
    let c = NewConversation {
        id,
        workspace_id: WorkspaceId::new(),
        entry_point_id: None,
        attributes: Attributes::new(),
        record_id: None,
        continues: None,
        idle,
        ends_at: None,
    };
    (Command::Create { conversation: c, participants: ps }, id, ids)
}

fn say(c: ConversationId, p: ParticipantId, text: &str, token: Option<&str>) -> Command {
    Command::Append {
        conversation: c,
        author: Author::Participant(p),
        kind: EventKind::Message { content_type: ContentType::TextPlain, content: text.into() },
        client_token: token.map(|t| ClientToken::parse(t).unwrap()),
    }
}

#[test]
fn seqs_are_consecutive_per_conversation_within_and_across_batches() {
    let mut w = World::default();
    let (c1, a, pa) = create(IdleSettings::default(), &[Role::Customer, Role::Agent]);
    let (c2, b, pb) = create(IdleSettings::default(), &[Role::Customer]);
    w.run(&[c1, c2], 0);
    let batch: Vec<Command> = (0..5).flat_map(|i| [say(a, pa[i % 2], "x", None), say(b, pb[0], "y", None)]).collect();
    assert!(w.run(&batch, 1).iter().all(Result::is_ok));
    w.run(&[say(a, pa[0], "z", None)], 2);
    let seqs = |c| w.log(c).iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(a), (1..=9).collect::<Vec<_>>());
    assert_eq!(seqs(b), (1..=7).collect::<Vec<_>>());
    assert_eq!(w.conversations[&a].last_seq, 9);
}

#[test]
fn a_repeated_client_token_stores_one_event_and_returns_the_first() {
    let mut w = World::default();
    let (c, id, p) = create(IdleSettings::default(), &[Role::Customer]);
    w.run(&[c], 0);
    let out = w.run(&[say(id, p[0], "first", Some("t-1")), say(id, p[0], "second", Some("t-1"))], 1);
    let first = out[0].as_ref().unwrap().last().unwrap().clone();
    assert_eq!(out[1].as_ref().unwrap(), &vec![first.clone()]);
    let again = w.run(&[say(id, p[0], "third", Some("t-1"))], 2);
    assert_eq!(again[0].as_ref().unwrap(), &vec![first]);
    assert_eq!(w.types(id), ["conversation.created", "participant.joined", "message"]);
}

#[test]
fn failed_commands_write_nothing_and_do_not_stop_the_batch() {
    let mut w = World::default();
    let (c, id, p) = create(IdleSettings::default(), &[Role::Customer, Role::Agent]);
    let (c2, other, _) = create(IdleSettings::default(), &[Role::Customer]);
    w.run(&[c, c2], 0);
    let stranger = ParticipantId::new();
    let out = w.run(
        &[
            say(id, stranger, "no", None),
            say(other, p[0], "wrong conversation", None),
            Command::Leave { conversation: id, participant: p[1], reason: LeaveReason::Left },
            say(id, p[1], "after leaving", None),
            say(id, p[0], "ok", None),
            Command::End { conversation: id, by: Author::System },
            say(id, p[0], "after the end", None),
            say(ConversationId::new(), p[0], "nowhere", None),
        ],
        1,
    );
    let codes: Vec<_> = out.iter().map(|o| o.as_ref().err().map(|e| e.code)).collect();
    assert_eq!(
        codes,
        [
            Some(ErrorCode::Forbidden),
            Some(ErrorCode::Forbidden),
            None,
            Some(ErrorCode::ParticipantLeft),
            None,
            None,
            Some(ErrorCode::ConversationEnded),
            Some(ErrorCode::NotFound),
        ]
    );
    assert_eq!(
        w.types(id),
        [
            "conversation.created",
            "participant.joined",
            "participant.joined",
            "participant.left",
            "message",
            "conversation.ended"
        ]
    );
    assert_eq!(w.conversations[&id].state, ConversationState::Ended);
}

#[test]
fn the_last_participant_leaving_ends_the_conversation() {
    let mut w = World::default();
    let (c, id, p) = create(IdleSettings::default(), &[Role::Customer]);
    w.run(&[c], 0);
    w.run(&[Command::Leave { conversation: id, participant: p[0], reason: LeaveReason::Left }], 1);
    assert_eq!(w.types(id)[2..], ["participant.left", "conversation.ended"]);
    assert_eq!(w.conversations[&id].active_participants, 0);
}

#[test]
fn customer_inactivity_goes_idle_returns_and_disconnects() {
    let mut w = World::default();
    let idle = IdleSettings { idle_after_secs: Some(60), disconnect_after_secs: Some(120) };
    let (c, id, p) = create(idle, &[Role::Customer, Role::Agent]);
    w.run(&[c], 0);
    let key = TimerKey { conversation_id: id, participant_id: Some(p[0]), kind: "inactivity".into() };
    let armed = w.timers[&key].clone();
    assert_eq!(armed.due_at, Timestamp(60_000));
    assert!(!w.timers.keys().any(|k| k.participant_id == Some(p[1])), "agents have no inactivity timer");

    // Idle at 60 s; the timer moves on to the disconnect stage.
    w.run(&[Command::Fire { timer: armed.clone() }], 60_000);
    assert!(w.participants[&p[0]].idle);
    let next = w.timers[&key].clone();
    assert_eq!(next.due_at, Timestamp(120_000));
    assert!(matches!(next.kind, TimerKind::Inactivity { stage: InactivityStage::Disconnect, .. }));

    // Firing the old timer again does nothing.
    assert_eq!(w.run(&[Command::Fire { timer: armed }], 61_000)[0].as_ref().unwrap().len(), 0);

    // The customer speaks: returned, and the clock starts again.
    w.run(&[say(id, p[0], "back", None)], 70_000);
    assert!(!w.participants[&p[0]].idle);
    assert_eq!(w.timers[&key].due_at, Timestamp(130_000));
    // The disconnect timer claimed before the message is stale now.
    assert!(w.run(&[Command::Fire { timer: next }], 120_000)[0].as_ref().unwrap().is_empty());

    let t = w.timers[&key].clone();
    w.run(&[Command::Fire { timer: t }], 130_000);
    let t = w.timers[&key].clone();
    w.run(&[Command::Fire { timer: t }], 190_000);
    assert_eq!(
        w.types(id)[3..],
        ["participant.idle", "participant.returned", "message", "participant.idle", "participant.autodisconnection"]
    );
    assert!(w.participants[&p[0]].left_at.is_some());
    assert!(w.timers.is_empty());
    assert_eq!(w.conversations[&id].state, ConversationState::Open, "the agent is still there");
}

#[test]
fn ending_clears_timers() {
    let mut w = World::default();
    let idle = IdleSettings { idle_after_secs: None, disconnect_after_secs: Some(5) };
    let (c, id, _) = create(idle, &[Role::Customer]);
    w.run(&[c], 0);
    assert_eq!(w.timers.len(), 1);
    w.run(&[Command::End { conversation: id, by: Author::System }], 1);
    assert!(w.timers.is_empty());
}

#[test]
fn a_chat_with_a_deadline_ends_by_itself_then_and_not_before() {
    let mut w = World::default();
    let (c, id, p) = create(IdleSettings::default(), &[Role::Customer, Role::Agent]);
    let Command::Create { mut conversation, participants } = c else { unreachable!() };
    conversation.ends_at = Some(Timestamp(3_600_000));
    w.run(&[Command::Create { conversation, participants }], 0);
    let key = TimerKey { conversation_id: id, participant_id: None, kind: "deadline".into() };
    let deadline = w.timers[&key].clone();
    assert_eq!((deadline.due_at, &deadline.kind), (Timestamp(3_600_000), &TimerKind::ChatDeadline));

    // Talking does not move it.
    w.run(&[say(id, p[0], "hello", None)], 60_000);
    assert_eq!(w.timers[&key], deadline);
    let ended = w.run(&[Command::Fire { timer: deadline.clone() }], 3_600_000);
    assert_eq!(ended[0].as_ref().unwrap().len(), 1);
    assert!(matches!(w.log(id).last().unwrap().kind, EventKind::ConversationEnded { reason: EndReason::Expired }));
    assert_eq!(w.conversations[&id].state, ConversationState::Ended);
    assert!(w.timers.is_empty());
    // A second firing (another node claimed it too) does nothing.
    assert!(w.run(&[Command::Fire { timer: deadline }], 3_600_001)[0].as_ref().unwrap().is_empty());

    // A chat ended earlier drops its deadline with its other timers.
    let (c, id, _) = create(IdleSettings::default(), &[Role::Customer]);
    let Command::Create { mut conversation, participants } = c else { unreachable!() };
    conversation.ends_at = Some(Timestamp(3_600_000));
    w.run(&[Command::Create { conversation, participants }], 0);
    w.run(&[Command::End { conversation: id, by: Author::System }], 1);
    assert!(w.timers.is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    Say { conv: usize, who: usize, token: Option<u8> },
    Leave { conv: usize, who: usize },
    End { conv: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, 0..3usize, proptest::option::of(0..4u8)).prop_map(|(conv, who, token)| Op::Say { conv, who, token }),
        1 => (0..3usize, 0..3usize).prop_map(|(conv, who)| Op::Leave { conv, who }),
        1 => (0..3usize).prop_map(|conv| Op::End { conv }),
    ]
}

proptest! {
    /// Whatever the commands and however they are cut into batches, every
    /// log is 1..n with no gap, a failed command adds nothing, and a client
    /// token is stored at most once per conversation.
    #[test]
    fn logs_stay_gapless_and_tokens_unique(ops in proptest::collection::vec(op(), 1..60), cuts in proptest::collection::vec(1..8usize, 1..20)) {
        let mut w = World::default();
        let mut convs = Vec::new();
        let mut creates = Vec::new();
        for _ in 0..3 {
            let (c, id, p) = create(IdleSettings::default(), &[Role::Customer, Role::Agent, Role::Agent]);
            creates.push(c);
            convs.push((id, p));
        }
        w.run(&creates, 0);
        let commands: Vec<Command> = ops.iter().map(|o| match o {
            Op::Say { conv, who, token } => {
                let (id, p) = &convs[*conv];
                say(*id, p[*who], "m", token.map(|t| format!("tok-{t}")).as_deref())
            }
            Op::Leave { conv, who } => {
                let (id, p) = &convs[*conv];
                Command::Leave { conversation: *id, participant: p[*who], reason: LeaveReason::Left }
            }
            Op::End { conv } => Command::End { conversation: convs[*conv].0, by: Author::System },
        }).collect();
        let mut rest = &commands[..];
        for (t, cut) in (1..).zip(cuts.iter().cycle()) {
            if rest.is_empty() { break; }
            let n = (*cut).min(rest.len());
            let before = w.events.len();
            let out = w.run(&rest[..n], t);
            // A repeated token returns the first event again: count events once.
            let mut added: Vec<_> = out.iter().filter_map(|o| o.as_ref().ok()).flatten().filter(|e| e.at == Timestamp(t)).map(|e| e.id).collect();
            added.sort();
            added.dedup();
            prop_assert_eq!(w.events.len() - before, added.len());
            rest = &rest[n..];
        }
        for (id, _) in &convs {
            let log = w.log(*id);
            let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
            prop_assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>());
            prop_assert_eq!(w.conversations[id].last_seq, log.len() as i64);
            let mut tokens: Vec<_> = log.iter().filter_map(|e| e.client_token.clone()).collect();
            let n = tokens.len();
            tokens.sort();
            tokens.dedup();
            prop_assert_eq!(tokens.len(), n);
        }
    }
}

#[path = "plan_routing_tests.rs"]
mod routing;

#[path = "plan_flows_tests.rs"]
mod flows;

#[path = "plan_persistent_tests.rs"]
mod persistent;

#[path = "plan_retention_tests.rs"]
mod retention;
