//! The matcher's policy: best task first, longest-idle (or least busy)
//! eligible agent with a free slot, skips when nobody is there.

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::ids::WorkspaceId;
use crate::routing::model::RouteStep;

pub(crate) fn queue(ws: WorkspaceId, expression: Option<&str>, ordering: Ordering) -> ReadyQueue {
    ReadyQueue::new(Queue {
        id: QueueId::new(),
        workspace_id: ws,
        name: "q".into(),
        expression: expression.map(str::to_owned),
        ordering,
        offer_timeout_secs: 30,
        wrap_up_secs: 0,
        prefer_previous_agent_secs: None,
        first_reply_secs: None,
        reply_secs: None,
        on_reply_timeout: Default::default(),
        schedule_id: None,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    })
}

pub(crate) fn agent(
    ws: WorkspaceId,
    idle_since: i64,
    capacity: u32,
    load: u32,
    attributes: serde_json::Value,
) -> Agent {
    Agent {
        id: AgentId::new(),
        workspace_id: ws,
        name: "a".into(),
        login: None,
        attributes: attributes.as_object().cloned().unwrap_or_default(),
        capacity,
        enabled: true,
        activity: "available".into(),
        available: true,
        activity_at: Timestamp(0),
        load,
        offers: Vec::new(),
        idle_since: Timestamp(idle_since),
        last_seen_at: None,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

fn task(ws: WorkspaceId, route: Vec<RouteStep>) -> Task {
    Task::waiting(TaskId::new(), ws, ConversationId::new(), route, 0, Timestamp(0))
}

fn step(q: &ReadyQueue) -> RouteStep {
    RouteStep::to_queue(q.queue.id)
}

fn offered_to(p: &[Proposal]) -> Vec<AgentId> {
    p.iter()
        .filter_map(|p| match p {
            Proposal::Offer { agent, .. } => Some(*agent),
            Proposal::Skip { .. } => None,
        })
        .collect()
}

#[test]
fn longest_idle_first_and_round_robin_within_a_pass() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LongestIdle);
    let newer = agent(ws, 20, 2, 0, json!({}));
    let older = agent(ws, 10, 2, 0, json!({}));
    let tasks: Vec<Task> = (0..3).map(|_| task(ws, vec![step(&q)])).collect();
    let queues = HashMap::from([(q.queue.id, q.clone())]);
    let p = propose(&tasks, &[newer.clone(), older.clone()], &queues, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [older.id, newer.id, older.id]);
}

#[test]
fn least_busy_prefers_the_emptier_agent() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LeastBusy);
    let busy = agent(ws, 0, 3, 2, json!({}));
    let free = agent(ws, 50, 3, 0, json!({}));
    let queues = HashMap::from([(q.queue.id, q.clone())]);
    let p = propose(&[task(ws, vec![step(&q)])], &[busy, free.clone()], &queues, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [free.id]);
}

#[test]
fn only_eligible_agents_with_free_slots_in_the_same_workspace() {
    let ws = WorkspaceId::new();
    let q = queue(ws, Some(r#""billing" in agent.skills && agent.level >= 2"#), Ordering::LongestIdle);
    let junior = agent(ws, 0, 1, 0, json!({"skills": ["billing"], "level": 1}));
    let full = agent(ws, 1, 1, 1, json!({"skills": ["billing"], "level": 3}));
    let elsewhere = agent(WorkspaceId::new(), 2, 1, 0, json!({"skills": ["billing"], "level": 3}));
    let fit = agent(ws, 3, 1, 0, json!({"skills": ["billing"], "level": 2}));
    let queues = HashMap::from([(q.queue.id, q.clone())]);
    let tasks = [task(ws, vec![step(&q)]), task(ws, vec![step(&q)])];
    let p = propose(&tasks, &[junior, full, elsewhere, fit.clone()], &queues, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [fit.id], "one slot among the eligible: the second task waits");
}

#[test]
fn agents_who_passed_get_it_only_when_nobody_else_can() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LongestIdle);
    let a = agent(ws, 0, 1, 0, json!({}));
    let b = agent(ws, 5, 1, 0, json!({}));
    let queues = HashMap::from([(q.queue.id, q.clone())]);
    let mut t = task(ws, vec![step(&q)]);
    t.passed = vec![a.id];
    let p = propose(std::slice::from_ref(&t), &[a.clone(), b.clone()], &queues, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [b.id]);
    let p = propose(&[t], std::slice::from_ref(&a), &queues, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [a.id]);
}

#[test]
fn a_step_for_a_named_agent_and_a_step_with_its_own_condition() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LongestIdle);
    let a = agent(ws, 0, 1, 0, json!({"level": 1}));
    let b = agent(ws, 5, 1, 0, json!({"level": 5}));
    let queues = HashMap::from([(q.queue.id, q.clone())]);
    let named = task(ws, vec![RouteStep { agent: Some(b.id), ..step(&q) }]);
    let expert = task(ws, vec![RouteStep { agents: Some("agent.level >= 3".into()), ..step(&q) }]);
    let p = propose(&[named], &[a.clone(), b.clone()], &queues, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [b.id]);
    let p = propose(&[expert], &[a, b.clone()], &queues, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [b.id]);
}

#[test]
fn skips_a_step_nobody_can_serve_when_it_says_so() {
    let ws = WorkspaceId::new();
    let empty = queue(ws, Some("agent.level >= 9"), Ordering::LongestIdle);
    let next = queue(ws, None, Ordering::LongestIdle);
    let queues = HashMap::from([(empty.queue.id, empty.clone()), (next.queue.id, next.clone())]);
    let a = agent(ws, 0, 1, 0, json!({"level": 1}));
    let skipping = task(ws, vec![RouteStep { skip_if_nobody_available: true, ..step(&empty) }, step(&next)]);
    let waiting = task(ws, vec![step(&empty), step(&next)]);
    let p = propose(&[skipping.clone(), waiting], &[a], &queues, &mut Eligibility::default());
    assert_eq!(p, [Proposal::Skip { conversation: skipping.conversation_id, task: skipping.id, step: 0 }]);
}

#[test]
fn a_closed_queue_offers_nothing_and_moves_on_only_when_told() {
    let ws = WorkspaceId::new();
    let closed = ReadyQueue { open: false, ..queue(ws, None, Ordering::LongestIdle) };
    let next = queue(ws, None, Ordering::LongestIdle);
    let queues = HashMap::from([(closed.queue.id, closed.clone()), (next.queue.id, next.clone())]);
    let a = agent(ws, 0, 5, 0, json!({}));
    let waits = task(ws, vec![step(&closed), step(&next)]);
    let moves = task(ws, vec![RouteStep { when_closed: WhenClosed::Next, ..step(&closed) }, step(&next)]);
    let last = task(ws, vec![RouteStep { when_closed: WhenClosed::Next, ..step(&closed) }]);
    let p =
        propose(&[waits.clone(), moves.clone(), last], std::slice::from_ref(&a), &queues, &mut Eligibility::default());
    assert_eq!(p, [Proposal::Skip { conversation: moves.conversation_id, task: moves.id, step: 0 }]);
    // Open again: the waiting chat is offered, first in line.
    let opened = HashMap::from([(closed.queue.id, ReadyQueue { open: true, ..closed }), (next.queue.id, next)]);
    let p = propose(&[waits], std::slice::from_ref(&a), &opened, &mut Eligibility::default());
    assert_eq!(offered_to(&p), [a.id]);
}
