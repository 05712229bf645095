//! Routing rules of the planner: offers, accepts, declines, expiry,
//! presence, transfers and wrap-up, and a property test that random
//! routing traffic never over-fills an agent or assigns a chat twice.

use proptest::prelude::*;

use super::World;
use crate::clock::Timestamp;
use crate::command::{Author, Command, NewConversation, NewParticipant};
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{AgentId, ConversationId, OfferId, ParticipantId, QueueId, TaskId, WorkspaceId};
use crate::model::{Attributes, IdleSettings, Role};
use crate::routing::model::{Activity, Agent, OfferState, Ordering, Queue, ReplyTimeout, RouteStep, TaskState};
use crate::timer::{Timer, TimerKind};

struct Setup {
    w: World,
    ws: WorkspaceId,
    queue: QueueId,
}

impl Setup {
    fn new(wrap_up_secs: u32) -> Self {
        let ws = WorkspaceId::new();
        let queue = QueueId::new();
        let mut w = World::default();
        w.queues.insert(
            queue,
            Queue {
                id: queue,
                workspace_id: ws,
                name: "general".into(),
                expression: None,
                ordering: Ordering::LongestIdle,
                offer_timeout_secs: 30,
                wrap_up_secs,
                prefer_previous_agent_secs: None,
                first_reply_secs: None,
                reply_secs: None,
                on_reply_timeout: Default::default(),
                schedule_id: None,
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
            },
        );
        Self { w, ws, queue }
    }

    fn agent(&mut self, capacity: u32, available: bool) -> AgentId {
        let id = AgentId::new();
        let a = Agent {
            id,
            workspace_id: self.ws,
            name: "A".into(),
            login: None,
            attributes: Attributes::new(),
            capacity,
            enabled: true,
            activity: if available { "available" } else { "offline" }.into(),
            available,
            activity_at: Timestamp(0),
            load: 0,
            offers: Vec::new(),
            idle_since: Timestamp(0),
            last_seen_at: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        };
        self.w.agents.insert(id, a);
        id
    }

    /// A new chat of the workspace, with nothing else to it.
    fn conversation(&self, id: ConversationId) -> NewConversation {
        NewConversation {
            id,
            workspace_id: self.ws,
            entry_point_id: None,
            attributes: Attributes::new(),
            record_id: None,
            continues: None,
            idle: IdleSettings::default(),
            ends_at: None,
        }
    }

    /// A chat with a customer, put in line.
    fn chat(&mut self, now: i64) -> (ConversationId, TaskId, ParticipantId) {
        let c = ConversationId::new();
        let customer = ParticipantId::new();
        let conversation = self.conversation(c);
        let p = NewParticipant {
            id: customer,
            role: Role::Customer,
            display_name: "C".into(),
            token: None,
            agent_id: None,
        };
        let task = TaskId::new();
        let step = step(self.queue);
        let out = self.w.run(
            &[
                Command::Create { conversation, participants: vec![p] },
                Command::Enqueue { conversation: c, task, route: vec![step], priority: 0 },
            ],
            now,
        );
        assert!(out.iter().all(Result::is_ok), "{out:?}");
        (c, task, customer)
    }

    fn offer(&mut self, c: ConversationId, task: TaskId, agent: AgentId, now: i64) -> crate::Result<OfferId> {
        let offer = OfferId::new();
        let out =
            self.w.run(&[Command::Offer { conversation: c, task, agent, offer, timeout_secs: 30, why: None }], now);
        out.into_iter().next().unwrap().map(|_| offer)
    }

    fn accept(&mut self, c: ConversationId, offer: OfferId, agent: AgentId, now: i64) -> crate::Result<()> {
        let task = self.w.offers.get(&offer).map_or_else(TaskId::new, |o| o.task_id);
        let participant = agent_member();
        let out = self.w.run(&[Command::Accept { conversation: c, offer, task, agent, participant }], now);
        out.into_iter().next().unwrap().map(drop)
    }

    fn fire_offer_timer(&mut self, c: ConversationId, now: i64) {
        let key = crate::timer::TimerKey { conversation_id: c, participant_id: None, kind: "offer".into() };
        let timer = self.w.timers.get(&key).cloned().expect("an offer timer");
        self.w.run(&[Command::Fire { timer }], now);
    }

    fn load(&self, a: AgentId) -> u32 {
        self.w.agents[&a].load
    }

    /// Every agent's load is what its offers and chats hold, and within capacity.
    fn check(&self) {
        for a in self.w.agents.values() {
            let pending =
                self.w.offers.values().filter(|o| o.agent_id == a.id && o.state == OfferState::Pending).count();
            let held = self
                .w
                .tasks
                .values()
                .filter(|t| t.agent_id == Some(a.id) && matches!(t.state, TaskState::Assigned | TaskState::WrapUp))
                .count();
            assert_eq!(a.load as usize, pending + held, "agent load out of step with its offers and chats");
            assert!(a.load <= a.capacity, "agent over capacity: {} > {}", a.load, a.capacity);
            assert_eq!(a.offers.len(), pending);
        }
        for t in self.w.tasks.values() {
            let accepted =
                self.w.offers.values().filter(|o| o.task_id == t.id && o.state == OfferState::Accepted).count();
            let pending =
                self.w.offers.values().filter(|o| o.task_id == t.id && o.state == OfferState::Pending).count();
            assert!(pending <= 1, "a task with two pending offers");
            assert_eq!(pending == 1, t.state == TaskState::Offered);
            let agents_in = self
                .w
                .participants
                .values()
                .filter(|p| p.conversation_id == t.conversation_id && p.role == Role::Agent && p.is_active())
                .count();
            assert!(agents_in <= 1, "a chat assigned to two agents at once");
            // A reply clock runs only for an assigned chat, with its stored timer.
            let key = crate::timer::TimerKey {
                conversation_id: t.conversation_id,
                participant_id: None,
                kind: crate::timer::REPLY.into(),
            };
            let stored = self.w.timers.get(&key).map(|timer| timer.due_at);
            assert_eq!(stored, t.reply_due_at, "the task's reply clock and its stored timer disagree");
            if t.reply_due_at.is_some() {
                assert_eq!(t.state, TaskState::Assigned, "a reply clock on a chat nobody has");
            }
            if t.state == TaskState::Assigned {
                let member = t.member_id.and_then(|m| self.w.participants.get(&m));
                assert!(
                    member.is_some_and(|p| p.is_active() && p.agent_id == t.agent_id),
                    "an assigned task remembers its agent's participant"
                );
            }
            // An accepted offer per assignment; transfers may add more over time.
            assert!(accepted <= self.w.offers.values().filter(|o| o.task_id == t.id).count());
        }
    }
}

/// How an agent joins a chat (the planner fills in which agent).
fn agent_member() -> NewParticipant {
    NewParticipant {
        id: ParticipantId::new(),
        role: Role::Agent,
        display_name: "A".into(),
        token: None,
        agent_id: None,
    }
}

fn step(queue: QueueId) -> RouteStep {
    RouteStep::to_queue(queue)
}

#[test]
fn an_accepted_offer_makes_the_agent_a_participant_and_holds_its_slot() {
    let mut s = Setup::new(0);
    let a = s.agent(2, true);
    let (c, task, _) = s.chat(0);
    assert_eq!(s.w.types(c), ["conversation.created", "participant.joined", "conversation.queued"]);
    let offer = s.offer(c, task, a, 1).unwrap();
    assert_eq!(s.load(a), 1);
    assert_eq!(s.w.tasks[&task].state, TaskState::Offered);
    s.accept(c, offer, a, 2).unwrap();
    assert_eq!(s.w.tasks[&task].state, TaskState::Assigned);
    assert_eq!(s.load(a), 1);
    assert_eq!(s.w.types(c).last(), Some(&"participant.joined"));
    let joined = s.w.participants.values().find(|p| p.role == Role::Agent).unwrap();
    assert_eq!(joined.agent_id, Some(a));
    s.check();
}

#[test]
fn a_task_is_offered_once_and_an_agent_never_past_capacity() {
    let mut s = Setup::new(0);
    let a = s.agent(1, true);
    let b = s.agent(1, true);
    let (c1, t1, _) = s.chat(0);
    let (c2, t2, _) = s.chat(0);
    s.offer(c1, t1, a, 1).unwrap();
    assert_eq!(s.offer(c1, t1, b, 1).unwrap_err().code, ErrorCode::Conflict, "offered twice");
    assert_eq!(s.offer(c2, t2, a, 1).unwrap_err().code, ErrorCode::Conflict, "past capacity");
    // Both proposals in one batch: the planner sees the first before the second.
    let (o1, o2) = (OfferId::new(), OfferId::new());
    let out = s.w.run(
        &[
            Command::Offer { conversation: c2, task: t2, agent: b, offer: o1, timeout_secs: 30, why: None },
            Command::Offer { conversation: c2, task: t2, agent: b, offer: o2, timeout_secs: 30, why: None },
        ],
        2,
    );
    assert!(out[0].is_ok());
    assert_eq!(out[1].as_ref().unwrap_err().code, ErrorCode::Conflict);
    s.check();
}

#[test]
fn accepting_twice_or_someone_elses_or_an_expired_offer_is_refused() {
    let mut s = Setup::new(0);
    let a = s.agent(1, true);
    let b = s.agent(1, true);
    let (c, task, _) = s.chat(0);
    let offer = s.offer(c, task, a, 1).unwrap();
    assert_eq!(s.accept(c, offer, b, 2).unwrap_err().code, ErrorCode::Forbidden);
    assert_eq!(s.accept(c, offer, a, 31_001).unwrap_err().code, ErrorCode::Conflict, "expired by the clock");
    s.accept(c, offer, a, 3).unwrap();
    assert_eq!(s.accept(c, offer, a, 4).unwrap_err().code, ErrorCode::Conflict, "accepted twice");
    s.check();
}

#[test]
fn decline_and_expiry_return_the_task_to_its_place_and_free_the_slot() {
    let mut s = Setup::new(0);
    let a = s.agent(1, true);
    let (c, task, _) = s.chat(5);
    let offer = s.offer(c, task, a, 6).unwrap();
    let task_id = task;
    let out = s.w.run(&[Command::Decline { conversation: c, offer, task, agent: a }], 7);
    assert!(out[0].is_ok());
    assert_eq!(s.w.tasks[&task_id].state, TaskState::Waiting);
    assert_eq!(s.w.tasks[&task_id].enqueued_at, Timestamp(5), "keeps its place in line");
    assert_eq!(s.w.tasks[&task_id].passed, vec![a]);
    assert_eq!(s.load(a), 0);
    let offer = s.offer(c, task, a, 8).unwrap();
    s.fire_offer_timer(c, 30_008);
    assert_eq!(s.w.offers[&offer].state, OfferState::Expired);
    assert_eq!(s.w.tasks[&task_id].state, TaskState::Waiting);
    assert_eq!(s.load(a), 0);
    s.check();
}

#[test]
fn going_away_expires_pending_offers_at_once() {
    let mut s = Setup::new(0);
    let a = s.agent(2, true);
    let (c, task, _) = s.chat(0);
    let offer = s.offer(c, task, a, 1).unwrap();
    let away = Activity { name: "away".into(), available: false };
    s.w.run(&[Command::SetActivity { agent: a, activity: away, if_unseen_since: None }], 2);
    let key = crate::timer::TimerKey { conversation_id: c, participant_id: None, kind: "offer".into() };
    assert_eq!(s.w.timers[&key].due_at, Timestamp(2), "the offer lapses now, not in 30 s");
    s.fire_offer_timer(c, 2);
    assert_eq!(s.w.offers[&offer].state, OfferState::Expired);
    assert_eq!(s.load(a), 0);
    assert_eq!(s.offer(c, task, a, 3).unwrap_err().code, ErrorCode::Conflict, "away agents get no offers");
    s.check();
}

#[test]
fn the_presence_sweep_yields_to_a_socket_seen_since() {
    let mut s = Setup::new(0);
    let a = s.agent(1, true);
    s.w.run(&[Command::Seen { agents: vec![a] }], 100);
    let offline = Activity { name: "offline".into(), available: false };
    s.w.run(&[Command::SetActivity { agent: a, activity: offline.clone(), if_unseen_since: Some(Timestamp(50)) }], 101);
    assert!(s.w.agents[&a].available, "seen at 100, after the sweep's cut-off");
    s.w.run(&[Command::SetActivity { agent: a, activity: offline, if_unseen_since: Some(Timestamp(150)) }], 151);
    assert!(!s.w.agents[&a].available);
}

#[test]
fn ending_a_chat_frees_the_slot_after_wrap_up_exactly_once() {
    let mut s = Setup::new(10);
    let a = s.agent(1, true);
    let (c, task, customer) = s.chat(0);
    let offer = s.offer(c, task, a, 1).unwrap();
    s.accept(c, offer, a, 2).unwrap();
    s.w.run(&[Command::End { conversation: c, by: Author::Participant(customer) }], 3);
    assert_eq!(s.w.tasks[&task].state, TaskState::WrapUp);
    assert_eq!(s.load(a), 1, "held during wrap-up");
    let key = crate::timer::TimerKey { conversation_id: c, participant_id: None, kind: "wrap_up".into() };
    let timer = s.w.timers[&key].clone();
    assert_eq!(timer.due_at, Timestamp(10_003));
    s.w.run(&[Command::Fire { timer: timer.clone() }, Command::Fire { timer }], 10_003);
    assert_eq!(s.w.tasks[&task].state, TaskState::Completed);
    assert_eq!(s.load(a), 0, "freed once even though the timer fired twice");
    s.check();
}

#[test]
fn an_agent_who_leaves_a_chat_the_customer_is_still_in_puts_it_back_in_line() {
    let mut s = Setup::new(30);
    let a = s.agent(1, true);
    let (c, task, _) = s.chat(7);
    let offer = s.offer(c, task, a, 8).unwrap();
    s.accept(c, offer, a, 9).unwrap();
    let pa = s.w.participants.values().find(|p| p.agent_id == Some(a)).unwrap().id;
    s.w.run(&[Command::Leave { conversation: c, participant: pa, reason: crate::event::LeaveReason::Left }], 10);
    assert_eq!(s.w.tasks[&task].state, TaskState::Waiting);
    assert_eq!(s.w.tasks[&task].enqueued_at, Timestamp(7), "back at its place");
    assert_eq!(s.load(a), 0, "no wrap-up while the chat goes on");
    assert_eq!(s.w.types(c).iter().rev().take(2).collect::<Vec<_>>(), [&"conversation.queued", &"participant.left"]);
    s.check();
}

#[test]
fn ending_a_waiting_or_offered_chat_cancels_its_task() {
    let mut s = Setup::new(0);
    let a = s.agent(1, true);
    let (c, task, customer) = s.chat(0);
    let offer = s.offer(c, task, a, 1).unwrap();
    s.w.run(&[Command::End { conversation: c, by: Author::Participant(customer) }], 2);
    assert_eq!(s.w.tasks[&task].state, TaskState::Canceled);
    assert_eq!(s.w.offers[&offer].state, OfferState::Revoked);
    assert_eq!(s.load(a), 0);
    s.check();
}

#[test]
fn a_transfer_frees_the_old_agent_and_waits_for_the_named_one() {
    let mut s = Setup::new(0);
    let a = s.agent(1, true);
    let b = s.agent(1, true);
    let (c, task, _) = s.chat(0);
    let offer = s.offer(c, task, a, 1).unwrap();
    s.accept(c, offer, a, 2).unwrap();
    let pa = s.w.participants.values().find(|p| p.agent_id == Some(a)).unwrap().id;
    let to = RouteStep { agent: Some(b), ..step(s.queue) };
    let out = s.w.run(
        &[Command::Transfer { conversation: c, task, to, by: Author::Participant(pa), agent_participant: Some(pa) }],
        3,
    );
    assert!(out[0].is_ok(), "{out:?}");
    assert_eq!(s.load(a), 0);
    assert_eq!(s.w.tasks[&task].state, TaskState::Waiting);
    assert!(!s.w.participants[&pa].is_active());
    assert_eq!(s.offer(c, task, a, 4).unwrap_err().code, ErrorCode::Conflict, "waits for the named agent");
    let offer = s.offer(c, task, b, 5).unwrap();
    s.accept(c, offer, b, 6).unwrap();
    assert_eq!(s.w.types(c).iter().filter(|t| **t == "conversation.transferred").count(), 1);
    s.check();
}

#[test]
fn a_step_timeout_moves_the_task_on_and_the_last_step_keeps_it() {
    let mut s = Setup::new(0);
    let (c, _, _) = s.chat(0);
    let task = TaskId::new();
    let c2 = ConversationId::new();
    let _ = c;
    let conversation = NewConversation {
        id: c2,
        workspace_id: s.ws,
        entry_point_id: None,
        attributes: Attributes::new(),
        record_id: None,
        continues: None,
        idle: IdleSettings::default(),
        ends_at: None,
    };
    let second = QueueId::new();
    let route = vec![RouteStep { timeout_secs: Some(5), ..step(s.queue) }, step(second)];
    s.w.run(
        &[
            Command::Create { conversation, participants: vec![] },
            Command::Enqueue { conversation: c2, task, route, priority: 0 },
        ],
        0,
    );
    let key = crate::timer::TimerKey { conversation_id: c2, participant_id: None, kind: "task_step".into() };
    let timer = s.w.timers[&key].clone();
    assert_eq!(timer.kind, TimerKind::TaskStep { task, step: 0 });
    s.w.run(&[Command::Fire { timer }], 5_000);
    assert_eq!(s.w.tasks[&task].step, 1);
    assert_eq!(s.w.tasks[&task].queue(), Some(second));
    assert!(!s.w.timers.contains_key(&key), "the last step waits for ever");
}

/// The agent's participant in a chat it has.
fn member_of(s: &Setup, c: ConversationId, a: AgentId) -> ParticipantId {
    let p = s.w.participants.values().find(|p| p.conversation_id == c && p.agent_id == Some(a) && p.is_active());
    p.expect("the agent is in the chat").id
}

fn reply_timer(s: &Setup, c: ConversationId) -> Option<Timer> {
    let key = crate::timer::TimerKey { conversation_id: c, participant_id: None, kind: crate::timer::REPLY.into() };
    s.w.timers.get(&key).cloned()
}

/// A queue that times replies: `first` s for the first, `reply` s for the others.
fn timing(s: &mut Setup, first: Option<u32>, reply: Option<u32>, action: ReplyTimeout) {
    let q = s.w.queues.get_mut(&s.queue).unwrap();
    (q.first_reply_secs, q.reply_secs, q.on_reply_timeout) = (first, reply, action);
}

/// A chat offered to and accepted by `a`; returns the chat, its task,
/// the customer and the agent's participant.
fn assigned(s: &mut Setup, a: AgentId, now: i64) -> (ConversationId, TaskId, ParticipantId, ParticipantId) {
    let (c, task, customer) = s.chat(now);
    let offer = s.offer(c, task, a, now).unwrap();
    s.accept(c, offer, a, now).unwrap();
    let member = member_of(s, c, a);
    (c, task, customer, member)
}

#[test]
fn the_first_reply_stops_the_clock_and_customer_messages_restart_it() {
    let mut s = Setup::new(0);
    timing(&mut s, Some(60), Some(30), ReplyTimeout::NextAgent);
    let a = s.agent(2, true);
    let (c, task, customer, member) = assigned(&mut s, a, 1_000);
    let first = reply_timer(&s, c).expect("the first-reply clock runs from the accept");
    assert_eq!(first.due_at, Timestamp(61_000));
    assert!(matches!(first.kind, TimerKind::ReplyDue { first: true, .. }));
    // The customer writing does not move a clock that runs already.
    s.w.run(&[super::say(c, customer, "hello?", None)], 5_000);
    assert_eq!(reply_timer(&s, c).map(|t| t.due_at), Some(Timestamp(61_000)));
    s.w.run(&[super::say(c, member, "Hi, how can I help?", None)], 6_000);
    assert_eq!(reply_timer(&s, c), None, "the agent replied");
    assert_eq!(s.w.tasks[&task].reply_due_at, None);
    // The next customer message starts the reply clock; a second one does not move it.
    s.w.run(&[super::say(c, customer, "my card is blocked", None)], 10_000);
    s.w.run(&[super::say(c, customer, "since this morning", None)], 20_000);
    let clock = reply_timer(&s, c).expect("the reply clock runs");
    assert_eq!((clock.due_at, s.w.tasks[&task].reply_due_at), (Timestamp(40_000), Some(Timestamp(40_000))));
    assert!(matches!(clock.kind, TimerKind::ReplyDue { first: false, .. }));
    s.check();
}

#[test]
fn a_missed_reply_passes_the_chat_to_the_next_agent_and_frees_the_slot_once() {
    let mut s = Setup::new(0);
    timing(&mut s, Some(60), None, ReplyTimeout::NextAgent);
    let a = s.agent(1, true);
    let b = s.agent(1, true);
    let (c, task, _, member) = assigned(&mut s, a, 0);
    assert_eq!(s.load(a), 1);
    let timer = reply_timer(&s, c).unwrap();
    s.w.run(&[Command::Fire { timer: timer.clone() }], 60_000);
    let t = &s.w.tasks[&task];
    assert_eq!((t.state, t.agent_id, t.member_id, t.passed.clone()), (TaskState::Waiting, None, None, vec![a]));
    assert_eq!(s.load(a), 0, "the slot came back");
    assert!(!s.w.participants[&member].is_active(), "the agent left the chat");
    let types = s.w.types(c);
    assert_eq!(types[types.len() - 3..], ["task.sla_breached", "participant.left", "conversation.queued"]);
    let breach = s.w.log(c).into_iter().find(|e| e.kind.type_name() == "task.sla_breached").unwrap();
    assert_eq!(
        breach.kind,
        crate::event::EventKind::SlaBreached {
            task_id: task,
            agent_id: a,
            timer: crate::event::ReplyTimer::FirstReply,
            after_secs: 60,
            action: "next_agent".into()
        }
    );
    assert!(breach.kind.for_agents(), "customers do not see it");
    // The same timer again (a second router, a replay) changes nothing.
    let before = s.w.events.len();
    s.w.run(&[Command::Fire { timer }], 60_001);
    assert_eq!((s.w.events.len(), s.load(a)), (before, 0));
    // The chat goes to the other agent.
    let offer = s.offer(c, task, b, 61_000).unwrap();
    s.accept(c, offer, b, 61_000).unwrap();
    assert_eq!(s.w.tasks[&task].agent_id, Some(b));
    assert_eq!(s.w.history.iter().filter(|h| h.task_id == task && h.what == "sla_breached").count(), 1);
    s.check();
}

#[test]
fn a_missed_reply_can_move_the_chat_to_another_queue_or_only_alert() {
    let mut s = Setup::new(0);
    let other = QueueId::new();
    let mut second = s.w.queues[&s.queue].clone();
    (second.id, second.name) = (other, "escalations".into());
    s.w.queues.insert(other, second);
    timing(&mut s, None, Some(30), ReplyTimeout::Queue(other));
    let a = s.agent(2, true);
    let (c, task, customer, _) = assigned(&mut s, a, 0);
    assert_eq!(reply_timer(&s, c), None, "no first-reply limit");
    s.w.run(&[super::say(c, customer, "hello?", None)], 1_000);
    let timer = reply_timer(&s, c).unwrap();
    s.w.run(&[Command::Fire { timer }], 31_000);
    let t = &s.w.tasks[&task];
    assert_eq!((t.state, t.queue(), s.load(a)), (TaskState::Waiting, Some(other), 0));
    assert_eq!(s.w.types(c).last(), Some(&"conversation.transferred"));

    timing(&mut s, None, Some(30), ReplyTimeout::Alert);
    let (c, task, customer, member) = assigned(&mut s, a, 40_000);
    s.w.run(&[super::say(c, customer, "hello?", None)], 41_000);
    let timer = reply_timer(&s, c).unwrap();
    s.w.run(&[Command::Fire { timer }], 71_000);
    let t = &s.w.tasks[&task];
    assert_eq!((t.state, t.agent_id, t.reply_due_at), (TaskState::Assigned, Some(a), None), "the agent keeps it");
    assert_eq!(s.w.types(c).last(), Some(&"task.sla_breached"));
    assert!(s.w.participants[&member].is_active());
    // The clock starts again with the customer's next message.
    s.w.run(&[super::say(c, customer, "anyone?", None)], 80_000);
    assert_eq!(reply_timer(&s, c).map(|t| t.due_at), Some(Timestamp(110_000)));
    s.check();
}

#[test]
fn leaving_transferring_or_ending_stops_the_reply_clock() {
    let mut s = Setup::new(5);
    timing(&mut s, Some(60), Some(30), ReplyTimeout::NextAgent);
    let a = s.agent(3, true);
    let (c, task, customer, _) = assigned(&mut s, a, 0);
    s.w.run(&[Command::End { conversation: c, by: Author::Participant(customer) }], 1_000);
    assert_eq!((reply_timer(&s, c), s.w.tasks[&task].reply_due_at), (None, None));
    assert_eq!(s.w.tasks[&task].state, TaskState::WrapUp);
    let (c, task, _, member) = assigned(&mut s, a, 2_000);
    let other = QueueId::new();
    let step = RouteStep::to_queue(other);
    let out = s.w.run(
        &[Command::Transfer {
            conversation: c,
            task,
            to: step,
            by: Author::Participant(member),
            agent_participant: Some(member),
        }],
        3_000,
    );
    assert!(out[0].is_ok(), "{out:?}");
    assert_eq!((reply_timer(&s, c), s.w.tasks[&task].reply_due_at, s.w.tasks[&task].member_id), (None, None, None));
    s.check();
}

#[test]
fn the_ring_policy_moves_on_after_n_agents_passed() {
    let mut s = Setup::new(0);
    let (a, b, x) = (s.agent(1, true), s.agent(1, true), s.agent(1, true));
    let next = QueueId::new();
    let c = ConversationId::new();
    let task = TaskId::new();
    let route = vec![RouteStep { ring: Some(2), ..step(s.queue) }, step(next)];
    let conversation = s.conversation(c);
    s.w.run(
        &[
            Command::Create { conversation, participants: vec![] },
            Command::Enqueue { conversation: c, task, route, priority: 0 },
        ],
        0,
    );
    let offer = s.offer(c, task, a, 1).unwrap();
    s.w.run(&[Command::Decline { conversation: c, offer, task, agent: a }], 2);
    assert_eq!(s.w.tasks[&task].step, 0, "one agent passed: still ringing");
    s.offer(c, task, b, 3).unwrap();
    s.fire_offer_timer(c, 40_000);
    let t = &s.w.tasks[&task];
    assert_eq!((t.step, t.queue(), t.passed.len()), (1, Some(next), 0), "two passed: the next step");
    let what: Vec<&str> = s.w.history.iter().filter(|h| h.task_id == task).map(|h| h.what.as_str()).collect();
    assert_eq!(what[what.len() - 3..], ["expired", "rung_out", "step"]);
    // On its last step the chat waits for anyone, as before.
    assert!(s.offer(c, task, x, 40_001).is_ok());
    s.check();
}

/// A chat with a customer along `route`; returns the chat, its task and the customer.
fn routed(s: &mut Setup, route: Vec<RouteStep>, now: i64) -> (ConversationId, TaskId, ParticipantId) {
    let (c, task, customer) = (ConversationId::new(), TaskId::new(), ParticipantId::new());
    let p =
        NewParticipant { id: customer, role: Role::Customer, display_name: "C".into(), token: None, agent_id: None };
    let out = s.w.run(
        &[
            Command::Create { conversation: s.conversation(c), participants: vec![p] },
            Command::Enqueue { conversation: c, task, route, priority: 0 },
        ],
        now,
    );
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    (c, task, customer)
}

fn message_step(queue: QueueId) -> RouteStep {
    RouteStep { message: Some("Leave us a message".into()), ..step(queue) }
}

fn pick_up(s: &mut Setup, c: ConversationId, task: TaskId, agent: AgentId, now: i64) -> crate::Result<Vec<Event>> {
    let participant = agent_member();
    let out = s.w.run(&[Command::PickUp { conversation: c, task, agent, participant }], now);
    out.into_iter().next().unwrap()
}

#[test]
fn a_chat_that_waited_too_long_becomes_a_message_request_with_a_contact_form() {
    let mut s = Setup::new(0);
    let a = s.agent(1, true);
    let route = vec![RouteStep { timeout_secs: Some(60), ..step(s.queue) }, message_step(s.queue)];
    let (c, task, customer) = routed(&mut s, route, 0);
    let key = crate::timer::TimerKey { conversation_id: c, participant_id: None, kind: "task_step".into() };
    let timer = s.w.timers[&key].clone();
    s.w.run(&[Command::Fire { timer }], 60_000);
    assert_eq!(s.w.tasks[&task].state, TaskState::Message);
    assert_eq!(s.w.types(c)[3..], ["conversation.overflowed", "form"]);
    let what: Vec<&str> = s.w.history.iter().filter(|h| h.task_id == task).map(|h| h.what.as_str()).collect();
    assert_eq!(what, ["queued", "step", "message"]);
    // Nobody is offered a message request.
    assert_eq!(s.offer(c, task, a, 60_001).unwrap_err().code, ErrorCode::Conflict);
    // The customer leaves contact details; they become the chat's `contact`.
    let form = *s.w.forms.keys().next().unwrap();
    let values = serde_json::json!({"name": "Ada", "email": "ada@example.com"}).as_object().cloned().unwrap();
    let out = s.w.run(
        &[Command::SubmitForm { conversation: c, form, by: Author::Participant(customer), values: values.clone() }],
        61_000,
    );
    assert!(out[0].is_ok(), "{out:?}");
    assert_eq!(s.w.conversations[&c].attributes["contact"], serde_json::Value::Object(values));
    // The customer goes; the request stays for an agent to follow up.
    s.w.run(&[Command::End { conversation: c, by: Author::Participant(customer) }], 62_000);
    assert_eq!(s.w.tasks[&task].state, TaskState::Message);
    assert_eq!(pick_up(&mut s, c, task, a, 63_000).unwrap(), Vec::<Event>::new(), "nobody to join");
    let t = &s.w.tasks[&task];
    assert_eq!((t.state, t.agent_id, s.load(a)), (TaskState::Completed, Some(a), 0));
    assert_eq!(pick_up(&mut s, c, task, a, 63_001).unwrap_err().code, ErrorCode::Conflict, "picked up once");
    s.check();
}

#[test]
fn picking_up_a_request_while_the_customer_is_there_joins_the_agent() {
    let mut s = Setup::new(0);
    let (a, full) = (s.agent(1, false), s.agent(1, true));
    let route = vec![message_step(s.queue)];
    let (c, task, _) = routed(&mut s, route, 0);
    assert_eq!(s.w.tasks[&task].state, TaskState::Message, "a route that starts with a message step");
    let (busy, btask, _) = s.chat(1);
    let offer = s.offer(busy, btask, full, 2).unwrap();
    s.accept(busy, offer, full, 3).unwrap();
    assert_eq!(pick_up(&mut s, c, task, full, 4).unwrap_err().code, ErrorCode::Conflict, "no free slot");
    // An agent who is away may still pick a request up by hand.
    let events = pick_up(&mut s, c, task, a, 5).unwrap();
    assert_eq!(events.iter().map(|e| e.kind.type_name()).collect::<Vec<_>>(), ["participant.joined"]);
    let t = &s.w.tasks[&task];
    assert_eq!((t.state, t.agent_id, s.load(a)), (TaskState::Assigned, Some(a), 1));
    assert_eq!(t.member_id, Some(member_of(&s, c, a)));
    s.check();
}

#[test]
fn a_message_step_is_the_last_of_its_route() {
    let mut s = Setup::new(0);
    let c = ConversationId::new();
    s.w.run(&[Command::Create { conversation: s.conversation(c), participants: vec![] }], 0);
    let route = vec![message_step(s.queue), step(s.queue)];
    let out = s.w.run(&[Command::Enqueue { conversation: c, task: TaskId::new(), route, priority: 0 }], 1);
    assert_eq!(out[0].as_ref().unwrap_err().code, ErrorCode::InvalidField);
}

#[derive(Debug, Clone)]
enum Op {
    Arrive,
    Offer { task: usize, agent: usize },
    Accept { offer: usize, as_agent: usize },
    Decline { offer: usize },
    Expire { offer: usize },
    Away { agent: usize },
    Back { agent: usize },
    End { task: usize },
    Wrap { task: usize },
    CustomerSays { task: usize },
    AgentSays { task: usize },
    MissReply { task: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Arrive),
        4 => (0..20usize, 0..4usize).prop_map(|(task, agent)| Op::Offer { task, agent }),
        3 => (0..20usize, 0..4usize).prop_map(|(offer, as_agent)| Op::Accept { offer, as_agent }),
        1 => (0..20usize).prop_map(|offer| Op::Decline { offer }),
        1 => (0..20usize).prop_map(|offer| Op::Expire { offer }),
        1 => (0..4usize).prop_map(|agent| Op::Away { agent }),
        1 => (0..4usize).prop_map(|agent| Op::Back { agent }),
        1 => (0..20usize).prop_map(|task| Op::End { task }),
        1 => (0..20usize).prop_map(|task| Op::Wrap { task }),
        2 => (0..20usize).prop_map(|task| Op::CustomerSays { task }),
        1 => (0..20usize).prop_map(|task| Op::AgentSays { task }),
        2 => (0..20usize).prop_map(|task| Op::MissReply { task }),
    ]
}

proptest! {
    /// Random arrivals, offers (including ones that lose races), accepts by
    /// the right and the wrong agent, declines, expiries, presence changes,
    /// ends and wrap-ups, customer and agent messages and missed replies
    /// (whatever the queue does about them), cut into random batches: no
    /// agent ever holds more than its capacity, its load always equals what
    /// it holds (a slot is given back exactly once), a reply clock runs only
    /// for an assigned chat and always with its stored timer, and no chat
    /// has two agents.
    #[test]
    fn capacity_holds_and_no_chat_is_assigned_twice(ops in proptest::collection::vec(op(), 1..120), cuts in proptest::collection::vec(1..6usize, 1..60), action in 0..3usize) {
        let mut s = Setup::new(3);
        let other = QueueId::new();
        let mut second = s.w.queues[&s.queue].clone();
        (second.id, second.name) = (other, "escalations".into());
        s.w.queues.insert(other, second);
        let action = [ReplyTimeout::NextAgent, ReplyTimeout::Queue(other), ReplyTimeout::Alert][action];
        timing(&mut s, Some(60), Some(30), action);
        let agents: Vec<AgentId> = (0..4).map(|i| s.agent(1 + i % 3, true)).collect();
        let mut chats: Vec<(ConversationId, TaskId, ParticipantId)> = Vec::new();
        let mut offers: Vec<OfferId> = Vec::new();
        let mut now = 0;
        let mut i = 0;
        let mut cut = cuts.iter().cycle();
        while i < ops.len() {
            let n = (*cut.next().unwrap()).min(ops.len() - i);
            let mut batch = Vec::new();
            for op in &ops[i..i + n] {
                match op.clone() {
                    Op::Arrive => {
                        let (c, t, p) = s.chat(now);
                        chats.push((c, t, p));
                    }
                    Op::Offer { task, agent } if !chats.is_empty() => {
                        let (c, t, _) = chats[task % chats.len()];
                        let offer = OfferId::new();
                        offers.push(offer);
                        batch.push(Command::Offer { conversation: c, task: t, agent: agents[agent], offer, timeout_secs: 30, why: None });
                    }
                    Op::Accept { offer, as_agent } if !offers.is_empty() => {
                        let id = offers[offer % offers.len()];
                        if let Some(o) = s.w.offers.get(&id) {
                            let participant = agent_member();
                            batch.push(Command::Accept { conversation: o.conversation_id, offer: id, task: o.task_id, agent: agents[as_agent], participant });
                        }
                    }
                    Op::Decline { offer } if !offers.is_empty() => {
                        let id = offers[offer % offers.len()];
                        if let Some(o) = s.w.offers.get(&id) {
                            batch.push(Command::Decline { conversation: o.conversation_id, offer: id, task: o.task_id, agent: o.agent_id });
                        }
                    }
                    Op::Expire { offer } if !offers.is_empty() => {
                        let id = offers[offer % offers.len()];
                        if let Some(o) = s.w.offers.get(&id) {
                            let key = crate::timer::TimerKey { conversation_id: o.conversation_id, participant_id: None, kind: "offer".into() };
                            if let Some(timer) = s.w.timers.get(&key) {
                                batch.push(Command::Fire { timer: Timer { due_at: timer.due_at, ..timer.clone() } });
                            }
                        }
                    }
                    Op::Away { agent } => batch.push(Command::SetActivity { agent: agents[agent], activity: Activity { name: "away".into(), available: false }, if_unseen_since: None }),
                    Op::Back { agent } => batch.push(Command::SetActivity { agent: agents[agent], activity: Activity { name: "available".into(), available: true }, if_unseen_since: None }),
                    Op::End { task } if !chats.is_empty() => {
                        let (c, _, p) = chats[task % chats.len()];
                        batch.push(Command::End { conversation: c, by: Author::Participant(p) });
                    }
                    Op::CustomerSays { task } if !chats.is_empty() => {
                        let (c, _, p) = chats[task % chats.len()];
                        batch.push(super::say(c, p, "hello?", None));
                    }
                    Op::AgentSays { task } if !chats.is_empty() => {
                        let (c, _, _) = chats[task % chats.len()];
                        let member = s.w.participants.values().find(|p| p.conversation_id == c && p.role == Role::Agent && p.is_active());
                        if let Some(m) = member {
                            batch.push(super::say(c, m.id, "on it", None));
                        }
                    }
                    Op::MissReply { task } if !chats.is_empty() => {
                        let (c, _, _) = chats[task % chats.len()];
                        if let Some(timer) = reply_timer(&s, c) {
                            batch.push(Command::Fire { timer });
                        }
                    }
                    Op::Wrap { task } if !chats.is_empty() => {
                        let (c, _, _) = chats[task % chats.len()];
                        let key = crate::timer::TimerKey { conversation_id: c, participant_id: None, kind: "wrap_up".into() };
                        if let Some(timer) = s.w.timers.get(&key) {
                            batch.push(Command::Fire { timer: timer.clone() });
                        }
                    }
                    _ => {}
                }
            }
            now += 1;
            s.w.run(&batch, now);
            s.check();
            i += n;
        }
    }
}
