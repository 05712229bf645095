//! Erasure in the planner: only an ended chat of the workspace (an open one
//! when asked to end it), gone for the rest of the batch with every row of
//! it, an agent in wrap-up freed, persistent-chat links cleared, its files
//! queued for deletion; retention skips what is not due.

use super::World;
use crate::bus::{AgentChange, Notice};
use crate::clock::Timestamp;
use crate::command::{Author, Command, NewConversation, NewParticipant, Snapshot, SnapshotKeys};
use crate::error::ErrorCode;
use crate::event::{ContentType, EventKind};
use crate::flows::records::Work;
use crate::ids::{AgentId, ConversationId, ErasureId, OfferId, ParticipantId, QueueId, TaskId, WorkspaceId};
use crate::model::{Attributes, ConversationState, IdleSettings, Rehydration, Role};
use crate::retention::{EraseRequest, ErasedBy, Reason};
use crate::routing::model::{Agent, Ordering, Queue, RouteStep, TaskState};

const DAY: i64 = 86_400_000;

fn chat(ws: WorkspaceId, continues: Option<ConversationId>) -> (Command, ConversationId, ParticipantId) {
    let id = ConversationId::new();
    let customer = ParticipantId::new();
    let conversation = NewConversation {
        id,
        workspace_id: ws,
        entry_point_id: None,
        attributes: Attributes::new(),
        record_id: None,
        continues: continues.map(|c| (c, Rehydration::EntirePastSession)),
        idle: IdleSettings { idle_after_secs: Some(60), disconnect_after_secs: None },
        ends_at: None,
    };
    let p =
        NewParticipant { id: customer, role: Role::Customer, display_name: "Ann".into(), token: None, agent_id: None };
    (Command::Create { conversation, participants: vec![p] }, id, customer)
}

fn say(c: ConversationId, who: ParticipantId, text: &str) -> Command {
    let kind = EventKind::Message { content_type: ContentType::TextPlain, content: text.into() };
    Command::Append { conversation: c, author: Author::Participant(who), kind, client_token: None }
}

fn end(c: ConversationId) -> Command {
    Command::End { conversation: c, by: Author::System }
}

fn request(ws: WorkspaceId, c: ConversationId) -> EraseRequest {
    EraseRequest {
        id: ErasureId::new(),
        workspace: ws,
        conversation: c,
        by: ErasedBy::Operator,
        reason: Some(Reason::parse("asked").unwrap()),
    }
}

fn erase(ws: WorkspaceId, c: ConversationId, end: bool) -> Command {
    Command::Erase { request: Box::new(request(ws, c)), end }
}

#[test]
fn only_an_ended_chat_of_the_workspace_is_erased_unless_asked_to_end_it() {
    let mut w = World::default();
    let ws = WorkspaceId::new();
    let (create, c, ann) = chat(ws, None);
    w.run(&[create, say(c, ann, "hello")], 0);

    let err = w.run(&[erase(ws, c, false)], 1).remove(0).unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert!(err.message.contains("end=true"), "{}", err.message);
    assert_eq!(w.log(c).len(), 3, "a refused erasure changes nothing");
    assert!(w.erasures.is_empty());
    let err = w.run(&[erase(WorkspaceId::new(), c, true)], 1).remove(0).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "another workspace's chat is not found");
    assert_eq!(w.run(&[erase(ws, ConversationId::new(), true)], 1).remove(0).unwrap_err().code, ErrorCode::NotFound);

    w.run(&[erase(ws, c, true)], 2).remove(0).unwrap();
    assert!(!w.conversations.contains_key(&c));
    assert!(w.log(c).is_empty() && w.participants.is_empty() && w.timers.is_empty(), "every row of it goes");
    assert_eq!(w.erasures.len(), 1);
    let files = &w.erasures[0].files;
    assert_eq!(files.work, Work::DeleteFiles { prefix: format!("{ws}/{c}/") }, "its files go, if it has any");
    assert_eq!(files.conversation_id, None, "the deletion outlives the chat's own outbox rows");
    assert_eq!(w.run(&[erase(ws, c, true)], 3).remove(0).unwrap_err().code, ErrorCode::NotFound, "once");
}

#[test]
fn an_erased_chat_is_gone_for_the_rest_of_its_batch() {
    let mut w = World::default();
    let ws = WorkspaceId::new();
    let (create, c, ann) = chat(ws, None);
    w.run(&[create], 0);
    w.run(&[end(c)], 1);
    let out = w.run(&[say(c, ann, "before"), erase(ws, c, false), say(c, ann, "after"), end(c)], 2);
    assert_eq!(out[0].as_ref().unwrap_err().code, ErrorCode::ConversationEnded);
    assert!(out[1].is_ok(), "{out:?}");
    assert_eq!(out[2].as_ref().unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(out[3].as_ref().unwrap_err().code, ErrorCode::NotFound);

    // Open, ended by the erasure in the batch: its readers hear it end, then go.
    let (create, d, bob) = chat(ws, None);
    w.run(&[create], 3);
    let commands = [say(d, bob, "last words"), erase(ws, d, true)];
    let mut snap = Snapshot::default();
    snap.conversations.insert(d, w.conversations[&d].clone());
    snap.participants.insert(bob, w.participants[&bob].clone());
    let keys = SnapshotKeys::of(&commands);
    assert_eq!(keys.conversations, vec![d]);
    let (plan, out) = super::plan(&commands, snap, Timestamp(4));
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let types: Vec<_> = plan.events.iter().map(|e| e.kind.type_name()).collect();
    assert_eq!(types.first(), Some(&"message"), "{types:?}");
    assert_eq!(types.last(), Some(&"conversation.ended"), "{types:?}");
    assert!(plan.conversations.iter().all(|x| x.id != d), "the erased row is not written back");
    assert!(plan.set_timers.iter().all(|t| t.conversation_id != d), "nothing of it is armed again");
    assert!(
        matches!(plan.notices.last(), Some(Notice::Erased { conversation }) if *conversation == d),
        "{:?}",
        plan.notices
    );
    assert_eq!(plan.erasures.len(), 1);
    assert!(plan.erasures[0].ended_at.is_some(), "when it ended goes into the audit row");
}

fn agent(id: AgentId, ws: WorkspaceId) -> Agent {
    Agent {
        id,
        workspace_id: ws,
        name: "Dee".into(),
        login: None,
        attributes: Attributes::new(),
        capacity: 1,
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

/// A chat assigned to an agent through a queue with a wrap-up time.
fn assigned(w: &mut World, ws: WorkspaceId, dee: AgentId) -> (ConversationId, TaskId) {
    let queue = QueueId::new();
    w.queues.insert(
        queue,
        Queue {
            id: queue,
            workspace_id: ws,
            name: "general".into(),
            expression: None,
            ordering: Ordering::LongestIdle,
            offer_timeout_secs: 30,
            wrap_up_secs: 600,
            prefer_previous_agent_secs: None,
            first_reply_secs: None,
            reply_secs: None,
            on_reply_timeout: Default::default(),
            schedule_id: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        },
    );
    let (create, c, _) = chat(ws, None);
    let (task, offer) = (TaskId::new(), OfferId::new());
    let step = RouteStep::to_queue(queue);
    let participant = NewParticipant {
        id: ParticipantId::new(),
        role: Role::Agent,
        display_name: "Dee".into(),
        token: None,
        agent_id: None,
    };
    let out = w.run(
        &[
            create,
            Command::Enqueue { conversation: c, task, route: vec![step], priority: 0 },
            Command::Offer { conversation: c, task, agent: dee, offer, timeout_secs: 30, why: None },
            Command::Accept { conversation: c, offer, task, agent: dee, participant },
        ],
        0,
    );
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    (c, task)
}

#[test]
fn an_agent_wrapping_the_chat_up_gets_its_slot_back() {
    let mut w = World::default();
    let (ws, dee) = (WorkspaceId::new(), AgentId::new());
    w.agents.insert(dee, agent(dee, ws));
    let (c, task) = assigned(&mut w, ws, dee);
    w.run(&[end(c)], 1);
    assert_eq!((w.tasks[&task].state, w.agents[&dee].load), (TaskState::WrapUp, 1), "wrapping up holds the slot");

    let commands = [erase(ws, c, false)];
    let mut snap = Snapshot::default();
    snap.conversations.insert(c, w.conversations[&c].clone());
    snap.tasks.insert(task, w.tasks[&task].clone());
    snap.agents.insert(dee, w.agents[&dee].clone());
    let (plan, _) = super::plan(&commands, snap, Timestamp(2));
    let released = |n: &Notice| matches!(n, Notice::Agent { agent, change: AgentChange::Released { conversation } } if *agent == dee && *conversation == c);
    assert!(plan.notices.iter().any(released), "the agent's socket lets the chat go: {:?}", plan.notices);

    w.run(&commands, 2).remove(0).unwrap();
    assert_eq!(w.agents[&dee].load, 0);
    assert!(w.tasks.is_empty() && w.offers.is_empty(), "its routing rows go");
    assert!(w.history.is_empty(), "and the task's history");

    // Open and assigned, erased with end: the same.
    let (c, _) = assigned(&mut w, ws, dee);
    assert_eq!(w.agents[&dee].load, 1);
    w.run(&[erase(ws, c, true)], 3).remove(0).unwrap();
    assert_eq!(w.agents[&dee].load, 0);
}

#[test]
fn the_chats_linked_to_an_erased_one_lose_their_link() {
    let mut w = World::default();
    let ws = WorkspaceId::new();
    let (create, a, _) = chat(ws, None);
    w.run(&[create, end(a)], 0);
    let (create, b, _) = chat(ws, Some(a));
    w.run(&[create, end(b)], 1);
    let (create, c, _) = chat(ws, Some(b));
    w.run(&[create], 2);
    assert_eq!(w.conversations[&a].next_conversation_id, Some(b));

    let keys = SnapshotKeys::derived(&[erase(ws, b, false)], &{
        let mut s = Snapshot::default();
        s.conversations.insert(b, w.conversations[&b].clone());
        s
    });
    assert_eq!(
        keys.conversations,
        {
            let mut v = vec![a, c];
            v.sort();
            v
        },
        "its neighbours are loaded with it"
    );

    w.run(&[erase(ws, b, false)], 3).remove(0).unwrap();
    assert_eq!(w.conversations[&a].next_conversation_id, None, "the chat it continued may be continued again");
    let c_row = &w.conversations[&c];
    assert_eq!((c_row.previous_conversation_id, c_row.rehydration), (None, None), "its continuation starts at itself");
    assert_eq!(c_row.state, ConversationState::Open, "and goes on");
    let (again, d, _) = chat(ws, Some(a));
    w.run(&[again], 4).remove(0).unwrap();
    assert_eq!(w.conversations[&a].next_conversation_id, Some(d));
}

#[test]
fn retention_erases_only_what_is_due_and_still_there() {
    let mut w = World::default();
    let (ws, other_ws) = (WorkspaceId::new(), WorkspaceId::new());
    let mut ids = Vec::new();
    for ended_at in [0, DAY, 3 * DAY] {
        let (create, c, _) = chat(ws, None);
        w.run(&[create], 0);
        w.run(&[end(c)], ended_at);
        ids.push(c);
    }
    let (create, open, _) = chat(ws, None);
    w.run(&[create], 0);
    let (create, foreign, _) = chat(other_ws, None);
    w.run(&[create, end(foreign)], 0);

    let mut requests: Vec<EraseRequest> = ids.iter().chain([&open]).map(|c| request(ws, *c)).collect();
    requests.push(request(ws, foreign));
    requests.push(request(ws, ConversationId::new()));
    requests.push(request(ws, ids[0]));
    let out = w.run(&[Command::Purge { requests, ended_before: Timestamp(2 * DAY) }], 4 * DAY);
    assert!(out[0].is_ok(), "a purge never fails on one chat: {out:?}");
    let erased: Vec<_> = w.erasures.iter().map(|e| e.request.conversation).collect();
    assert_eq!(erased, [ids[0], ids[1]], "ended before the limit, once each");
    for kept in [ids[2], open, foreign] {
        assert!(w.conversations.contains_key(&kept));
    }
}
