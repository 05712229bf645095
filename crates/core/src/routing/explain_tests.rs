//! The classification: each reason, in its order, and both orderings with
//! the reason the first one wins.

use serde_json::json;

use super::*;
use crate::ids::{ConversationId, TaskId, WorkspaceId};
use crate::routing::matcher::tests::{agent, queue};
use crate::routing::model::Task;

fn task(ws: WorkspaceId, step: RouteStep) -> Task {
    Task::waiting(TaskId::new(), ws, ConversationId::new(), vec![step], 0, Timestamp(0))
}

/// Classifies `agents` for `t` in `q` (open unless `closed`); the verdicts.
fn check(t: &Task, q: &ReadyQueue, agents: &[Agent], closed: bool) -> Classified {
    let step = t.current().unwrap();
    classify(t, &StepRules { queue: q, step, open: !closed }, agents, 5)
}

#[test]
fn each_agent_gets_the_first_reason_that_holds() {
    let ws = WorkspaceId::new();
    let q = queue(ws, Some("agent.level >= 2"), Ordering::LongestIdle);
    let elsewhere = agent(WorkspaceId::new(), 0, 1, 0, json!({"level": 5}));
    // Disabled and away: disabled comes first.
    let disabled = Agent { enabled: false, available: false, activity: "away".into(), ..agent(ws, 0, 1, 0, json!({})) };
    let away = Agent { available: false, activity: "lunch".into(), ..agent(ws, 0, 1, 0, json!({"level": 5})) };
    let junior = agent(ws, 0, 1, 0, json!({"level": 1}));
    // Full and failing the step condition: the condition comes first.
    let novice = agent(ws, 0, 1, 1, json!({"level": 2}));
    let full = agent(ws, 0, 2, 2, json!({"level": 5}));
    let passed = agent(ws, 1, 1, 0, json!({"level": 5}));
    let fit = agent(ws, 2, 1, 0, json!({"level": 5}));
    let step = RouteStep { agents: Some("agent.level >= 3".into()), ..RouteStep::to_queue(q.queue.id) };
    let mut t = task(ws, step);
    t.passed = vec![passed.id];
    let agents = [elsewhere, disabled, away, junior, novice, full.clone(), passed, fit.clone()];
    let c = check(&t, &q, &agents, false);
    assert_eq!(
        c.verdicts,
        [
            Verdict::OtherWorkspace,
            Verdict::Disabled,
            Verdict::NotPresent { activity: "lunch".into() },
            Verdict::ExpressionFalse { condition: Condition::Queue },
            Verdict::ExpressionFalse { condition: Condition::Step },
            Verdict::AtCapacity { load: 2, capacity: 2 },
            Verdict::DeclinedBefore,
            Verdict::Eligible,
        ]
    );
    assert_eq!(c.ranked, [7]);
    assert_eq!(c.win, Some(Win::OnlyOneEligible));
    let counts: Vec<(Reason, u32)> = c.counts.into_iter().collect();
    assert_eq!(
        counts,
        [
            (Reason::Disabled, 1),
            (Reason::NotPresent, 1),
            (Reason::ExpressionFalse, 2),
            (Reason::AtCapacity, 1),
            (Reason::DeclinedBefore, 1),
            (Reason::Eligible, 1),
        ],
        "other workspaces are never counted"
    );
}

#[test]
fn who_declined_is_eligible_again_when_nobody_else_can_take_it() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LongestIdle);
    let passed = agent(ws, 0, 1, 0, json!({}));
    let full = agent(ws, 1, 1, 1, json!({}));
    let mut t = task(ws, RouteStep::to_queue(q.queue.id));
    t.passed = vec![passed.id];
    let c = check(&t, &q, &[passed, full], false);
    assert_eq!(c.verdicts, [Verdict::Eligible, Verdict::AtCapacity { load: 1, capacity: 1 }]);
    assert_eq!((c.ranked.as_slice(), c.win), (&[0][..], Some(Win::OnlyOneEligible)));
}

#[test]
fn a_step_for_a_named_or_preferred_agent() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LongestIdle);
    let (a, b) = (agent(ws, 0, 1, 0, json!({})), agent(ws, 5, 1, 0, json!({})));
    let named = task(ws, RouteStep { agent: Some(b.id), ..RouteStep::to_queue(q.queue.id) });
    let c = check(&named, &q, &[a.clone(), b.clone()], false);
    assert_eq!(c.verdicts, [Verdict::NotTheNamedAgent, Verdict::Eligible]);
    assert_eq!(c.win, Some(Win::NamedAgent));
    let preferred = task(ws, RouteStep { agent: Some(b.id), preferred: true, ..RouteStep::to_queue(q.queue.id) });
    assert_eq!(check(&preferred, &q, &[a, b], false).win, Some(Win::PreferredAgent));
}

#[test]
fn a_closed_queue_skips_everyone_present_as_outside_hours() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LongestIdle);
    let away = Agent { available: false, activity: "offline".into(), ..agent(ws, 0, 1, 0, json!({})) };
    let here = agent(ws, 0, 1, 0, json!({}));
    let c = check(&task(ws, RouteStep::to_queue(q.queue.id)), &q, &[away, here], true);
    assert_eq!(c.verdicts, [Verdict::NotPresent { activity: "offline".into() }, Verdict::OutsideHours]);
    assert_eq!((c.ranked.len(), c.win), (0, None));
}

#[test]
fn longest_idle_ranks_by_idle_since_then_id() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LongestIdle);
    let agents: Vec<Agent> = [40, 10, 30, 10, 20, 50, 60].iter().map(|&t| agent(ws, t, 2, 1, json!({}))).collect();
    let c = check(&task(ws, RouteStep::to_queue(q.queue.id)), &q, &agents, false);
    let (first_tie, second_tie) = if agents[1].id < agents[3].id { (1, 3) } else { (3, 1) };
    assert_eq!(c.ranked, [first_tie, second_tie, 4, 2, 0], "the top five, oldest first");
    assert_eq!(c.eligible, 7);
    assert_eq!(c.win, Some(Win::LongestIdle { since: Timestamp(10) }));
}

#[test]
fn least_busy_ranks_by_load_then_idle() {
    let ws = WorkspaceId::new();
    let q = queue(ws, None, Ordering::LeastBusy);
    let busy_old = agent(ws, 0, 4, 3, json!({}));
    let light_new = agent(ws, 50, 4, 1, json!({}));
    let light_old = agent(ws, 20, 4, 1, json!({}));
    let empty = agent(ws, 90, 4, 0, json!({}));
    let c = check(&task(ws, RouteStep::to_queue(q.queue.id)), &q, &[busy_old, light_new, light_old, empty], false);
    assert_eq!(c.ranked, [3, 2, 1, 0]);
    assert_eq!(c.win, Some(Win::LeastBusy { load: 0, capacity: 4 }));
}

#[test]
fn a_look_keeps_only_the_best_and_counts_the_rest() {
    let ws = WorkspaceId::new();
    let agents: Vec<Agent> = (0..10).map(|i| agent(ws, i, 1, 0, json!({}))).collect();
    let free: Vec<u32> = (0..10).map(|i| u32::from(i % 3 != 0)).collect();
    let load = vec![0; 10];
    let seen = look(0..10, Ordering::LongestIdle, &agents, &free, &load, &[agents[1].id], 3);
    assert_eq!(seen.best, [2, 4, 5]);
    assert_eq!((seen.eligible, seen.at_capacity, seen.declined, seen.second_round), (5, 4, 1, false));
}

#[test]
fn an_offer_says_why_from_the_same_rules() {
    use crate::routing::matcher::{Proposal, propose};
    let ws = WorkspaceId::new();
    let q = queue(ws, Some("agent.level >= 2"), Ordering::LongestIdle);
    let away = Agent { available: false, activity: "away".into(), ..agent(ws, 0, 1, 0, json!({"level": 5})) };
    let junior = agent(ws, 0, 1, 0, json!({"level": 1}));
    let full = agent(ws, 0, 1, 1, json!({"level": 5}));
    let passed = agent(ws, 1, 1, 0, json!({"level": 5}));
    let (first, second, third) = (
        agent(ws, 2, 1, 0, json!({"level": 5})),
        agent(ws, 3, 1, 0, json!({"level": 5})),
        agent(ws, 4, 2, 1, json!({"level": 5})),
    );
    let elsewhere = agent(WorkspaceId::new(), 0, 1, 0, json!({"level": 5}));
    let mut t = task(ws, RouteStep::to_queue(q.queue.id));
    t.passed = vec![passed.id];
    let agents = [away, junior, full, passed, first.clone(), second.clone(), third.clone(), elsewhere];
    let queues = std::collections::HashMap::from([(q.queue.id, q.clone())]);
    let p = propose(&[t], &agents, &queues, &mut Eligibility::default());
    let [Proposal::Offer { agent, why, .. }] = p.as_slice() else { panic!("one offer: {p:?}") };
    assert_eq!(*agent, first.id);
    let expected = OfferWhy {
        won: Win::LongestIdle { since: Timestamp(2) },
        eligible: 3,
        runners_up: vec![ranked(&second, 0), ranked(&third, 1)],
        skipped: Counts::from([
            (Reason::NotPresent, 1),
            (Reason::ExpressionFalse, 1),
            (Reason::AtCapacity, 1),
            (Reason::DeclinedBefore, 1),
        ]),
        considered: 7,
    };
    assert_eq!(**why, expected);
}

#[test]
fn names_on_the_wire_are_the_stored_ones() {
    for r in Reason::ALL {
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    for c in [Condition::Queue, Condition::Step] {
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
    }
    let wins = [
        Win::NamedAgent,
        Win::PreferredAgent,
        Win::OnlyOneEligible,
        Win::LongestIdle { since: Timestamp(0) },
        Win::LeastBusy { load: 1, capacity: 2 },
    ];
    for w in wins {
        assert_eq!(serde_json::to_value(w).unwrap()["reason"], w.as_str());
    }
}
