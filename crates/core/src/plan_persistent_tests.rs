//! Persistent chat in the planner: which chats may be continued (ended, same
//! workspace, once), and the routing step that prefers the previous agent:
//! offered only to it, then normal routing after the timeout, at once when it
//! declines, lets the offer lapse or leaves the chat.

use super::World;
use crate::clock::Timestamp;
use crate::command::{Author, Command, NewConversation, NewParticipant};
use crate::error::ErrorCode;
use crate::event::LeaveReason;
use crate::ids::{AgentId, ConversationId, OfferId, ParticipantId, QueueId, TaskId, WorkspaceId};
use crate::model::{Attributes, ConversationState, IdleSettings, Rehydration, Role};
use crate::routing::model::{Agent, Ordering, Queue, RouteStep, TaskState};
use crate::timer::TimerKey;

fn new_chat(ws: WorkspaceId, continues: Option<(ConversationId, Rehydration)>) -> (Command, ConversationId) {
    let id = ConversationId::new();
    let conversation = NewConversation {
        id,
        workspace_id: ws,
        entry_point_id: None,
        attributes: Attributes::new(),
        record_id: None,
        continues,
        idle: IdleSettings::default(),
        ends_at: None,
    };
    let customer = NewParticipant {
        id: ParticipantId::new(),
        role: Role::Customer,
        display_name: "C".into(),
        token: None,
        agent_id: None,
    };
    (Command::Create { conversation, participants: vec![customer] }, id)
}

fn end(c: ConversationId) -> Command {
    Command::End { conversation: c, by: Author::System }
}

#[test]
fn only_an_ended_chat_of_the_workspace_is_continued_and_only_once() {
    let mut w = World::default();
    let ws = WorkspaceId::new();
    let (create, source) = new_chat(ws, None);
    w.run(&[create], 0);

    let (early, early_id) = new_chat(ws, Some((source, Rehydration::EntirePastSession)));
    let err = w.run(&[early], 1).remove(0).unwrap_err();
    assert_eq!((err.code, err.field.as_deref()), (ErrorCode::Conflict, Some("continue_from.conversation_id")));
    assert!(err.message.contains("has not ended"), "{}", err.message);
    assert!(!w.conversations.contains_key(&early_id), "a refused chat writes nothing");
    assert_eq!(w.conversations[&source].next_conversation_id, None);

    w.run(&[end(source)], 2);
    let (elsewhere, _) = new_chat(WorkspaceId::new(), Some((source, Rehydration::FromSegment)));
    assert_eq!(w.run(&[elsewhere], 3).remove(0).unwrap_err().code, ErrorCode::NotFound);
    let (nowhere, _) = new_chat(ws, Some((ConversationId::new(), Rehydration::FromSegment)));
    assert_eq!(w.run(&[nowhere], 3).remove(0).unwrap_err().code, ErrorCode::NotFound);

    // Two at once, in one batch: the first wins, the second is told which.
    let (first, first_id) = new_chat(ws, Some((source, Rehydration::FromSegment)));
    let (second, second_id) = new_chat(ws, Some((source, Rehydration::EntirePastSession)));
    let mut out = w.run(&[first, second], 4);
    assert!(out[0].is_ok(), "{out:?}");
    let err = out.remove(1).unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert!(err.message.contains(&first_id.to_string()), "names the chat that continues it: {}", err.message);
    assert!(!w.conversations.contains_key(&second_id));

    let c = &w.conversations[&first_id];
    assert_eq!((c.previous_conversation_id, c.rehydration), (Some(source), Some(Rehydration::FromSegment)));
    assert_eq!(c.state, ConversationState::Open);
    assert_eq!(w.conversations[&source].next_conversation_id, Some(first_id));
    assert_eq!(w.conversations[&source].state, ConversationState::Ended, "the source stays ended");

    // Later, too.
    let (again, _) = new_chat(ws, Some((source, Rehydration::FromSegment)));
    let err = w.run(&[again], 5).remove(0).unwrap_err();
    assert!(err.message.contains(&first_id.to_string()), "{}", err.message);
}

struct Routing {
    w: World,
    ws: WorkspaceId,
    queue: QueueId,
    previous: AgentId,
    other: AgentId,
}

impl Routing {
    fn new() -> Self {
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
                wrap_up_secs: 0,
                prefer_previous_agent_secs: Some(5),
                first_reply_secs: None,
                reply_secs: None,
                on_reply_timeout: Default::default(),
                schedule_id: None,
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
            },
        );
        let mut s = Self { w, ws, queue, previous: AgentId::new(), other: AgentId::new() };
        for id in [s.previous, s.other] {
            s.w.agents.insert(id, agent(id, ws));
        }
        s
    }

    /// A chat put in line with the preferred step first.
    fn continued_chat(&mut self) -> (ConversationId, TaskId) {
        let (create, c) = new_chat(self.ws, None);
        let task = TaskId::new();
        let plain = RouteStep::to_queue(self.queue);
        let preferred = RouteStep {
            timeout_secs: Some(5),
            skip_if_nobody_available: true,
            agent: Some(self.previous),
            preferred: true,
            ..plain.clone()
        };
        let route = vec![preferred, plain];
        let out = self.w.run(&[create, Command::Enqueue { conversation: c, task, route, priority: 0 }], 0);
        assert!(out.iter().all(Result::is_ok), "{out:?}");
        (c, task)
    }

    fn offer(&mut self, c: ConversationId, task: TaskId, agent: AgentId, now: i64) -> crate::Result<OfferId> {
        let offer = OfferId::new();
        let out =
            self.w.run(&[Command::Offer { conversation: c, task, agent, offer, timeout_secs: 30, why: None }], now);
        out.into_iter().next().unwrap().map(|_| offer)
    }

    fn history(&self, task: TaskId) -> Vec<(&str, Option<AgentId>)> {
        self.w.history.iter().filter(|h| h.task_id == task).map(|h| (h.what.as_str(), h.agent_id)).collect()
    }

    fn fire(&mut self, c: ConversationId, kind: &str, now: i64) {
        let key = TimerKey { conversation_id: c, participant_id: None, kind: kind.to_owned().into() };
        let timer = self.w.timers.get(&key).cloned().unwrap_or_else(|| panic!("a {kind} timer"));
        self.w.run(&[Command::Fire { timer }], now);
    }
}

fn agent(id: AgentId, ws: WorkspaceId) -> Agent {
    Agent {
        id,
        workspace_id: ws,
        name: "A".into(),
        login: None,
        attributes: Attributes::new(),
        capacity: 2,
        enabled: true,
        activity: "available".into(),
        available: true,
        activity_at: Timestamp(0),
        load: 0,
        offers: Vec::new(),
        idle_since: Timestamp(0),
        last_seen_at: None,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

#[test]
fn the_previous_agent_alone_is_offered_the_chat_until_the_preference_times_out() {
    let mut s = Routing::new();
    let (c, task) = s.continued_chat();
    assert_eq!(s.history(task), [("queued", None), ("preferred", Some(s.previous))]);
    let other = s.other;
    assert_eq!(s.offer(c, task, other, 1).unwrap_err().code, ErrorCode::Conflict, "only the previous agent");
    s.fire(c, "task_step", 5_000);
    let t = &s.w.tasks[&task];
    assert_eq!((t.step, t.state), (1, TaskState::Waiting));
    assert_eq!(t.enqueued_at, Timestamp(0), "it keeps its place in line");
    assert_eq!(s.history(task).last(), Some(&("fallback", Some(s.previous))));
    s.offer(c, task, other, 5_001).unwrap();
}

#[test]
fn a_decline_or_a_lapsed_offer_falls_back_at_once() {
    let mut s = Routing::new();
    let previous = s.previous;
    let (c, task) = s.continued_chat();
    let offer = s.offer(c, task, previous, 1).unwrap();
    s.w.run(&[Command::Decline { conversation: c, offer, task, agent: previous }], 2);
    let t = &s.w.tasks[&task];
    assert_eq!((t.step, t.state, t.passed.clone()), (1, TaskState::Waiting, vec![previous]));
    let whats: Vec<&str> = s.history(task).iter().map(|h| h.0).collect();
    assert_eq!(whats, ["queued", "preferred", "offered", "declined", "fallback"]);

    let (c, task) = s.continued_chat();
    s.offer(c, task, previous, 1).unwrap();
    s.fire(c, "offer", 30_001);
    let t = &s.w.tasks[&task];
    assert_eq!((t.step, t.state, t.passed.clone()), (1, TaskState::Waiting, vec![previous]));
    let whats: Vec<&str> = s.history(task).iter().map(|h| h.0).collect();
    assert_eq!(whats, ["queued", "preferred", "offered", "expired", "fallback"]);
}

#[test]
fn the_previous_agent_leaving_the_chat_sends_it_to_normal_routing() {
    let mut s = Routing::new();
    let previous = s.previous;
    let (c, task) = s.continued_chat();
    let offer = s.offer(c, task, previous, 1).unwrap();
    let pa = ParticipantId::new();
    let participant =
        NewParticipant { id: pa, role: Role::Agent, display_name: "A".into(), token: None, agent_id: None };
    let out = s.w.run(&[Command::Accept { conversation: c, offer, task, agent: previous, participant }], 2);
    assert!(out[0].is_ok(), "{out:?}");
    s.w.run(&[Command::Leave { conversation: c, participant: pa, reason: LeaveReason::Left }], 3);
    let t = &s.w.tasks[&task];
    assert_eq!((t.step, t.state), (1, TaskState::Waiting));
    assert_eq!(s.history(task).last(), Some(&("fallback", Some(previous))));
    assert_eq!(s.w.agents[&previous].load, 0);
}

#[test]
fn a_preferred_step_names_an_agent_and_comes_first() {
    let mut s = Routing::new();
    let plain = RouteStep::to_queue(s.queue);
    let nobody = RouteStep { preferred: true, ..plain.clone() };
    let alone = RouteStep { preferred: true, agent: Some(s.previous), ..plain.clone() };
    for route in [vec![nobody, plain.clone()], vec![alone.clone()], vec![plain, alone]] {
        let (create, c) = new_chat(s.ws, None);
        let out = s.w.run(&[create, Command::Enqueue { conversation: c, task: TaskId::new(), route, priority: 0 }], 0);
        assert_eq!(out[1].as_ref().unwrap_err().code, ErrorCode::Internal);
    }
}
