//! Why an agent is, or is not, offered a chat: the one classification the
//! matcher acts on and a supervisor reads.
//!
//! For one task's current step every agent gets exactly one reason, the
//! first that holds in this order: `other_workspace`, `disabled`,
//! `not_present` (its activity does not receive chats), `outside_hours` (the
//! queue's schedule is closed), `not_the_named_agent` (the step is for one
//! agent), `expression_false` (the queue's expression or the step's `agents`
//! condition), `at_capacity`, `declined_before` (it passed on the task and
//! someone else can take it) and `eligible`.
//!
//! The reasons up to `expression_false` hold for a whole routing pass, so the
//! matcher works them out once per step ([`standing`]) and counts them there;
//! the last three change with every offer and are settled in one look along
//! the step's line ([`look`]), which also ranks the eligible in the queue's
//! order. [`Win`] says why the first one wins. [`classify`] is the same
//! classification over a whole workspace, for the live explanation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::ids::AgentId;
use crate::routing::matcher::{Eligibility, ReadyQueue};
use crate::routing::model::{Agent, Ordering, RouteStep, Task};

/// One agent's reason, without what it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    OtherWorkspace,
    Disabled,
    NotPresent,
    OutsideHours,
    NotTheNamedAgent,
    ExpressionFalse,
    AtCapacity,
    DeclinedBefore,
    Eligible,
}

impl Reason {
    /// Every reason, in the order they are checked.
    pub const ALL: [Reason; 9] = [
        Self::OtherWorkspace,
        Self::Disabled,
        Self::NotPresent,
        Self::OutsideHours,
        Self::NotTheNamedAgent,
        Self::ExpressionFalse,
        Self::AtCapacity,
        Self::DeclinedBefore,
        Self::Eligible,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtherWorkspace => "other_workspace",
            Self::Disabled => "disabled",
            Self::NotPresent => "not_present",
            Self::OutsideHours => "outside_hours",
            Self::NotTheNamedAgent => "not_the_named_agent",
            Self::ExpressionFalse => "expression_false",
            Self::AtCapacity => "at_capacity",
            Self::DeclinedBefore => "declined_before",
            Self::Eligible => "eligible",
        }
    }
}

/// Which condition an agent does not meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The queue's `expression`.
    Queue,
    /// The route step's `agents` condition.
    Step,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Step => "step",
        }
    }
}

/// One agent's reason with what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Verdict {
    /// Never shown outside the router.
    OtherWorkspace,
    Disabled,
    /// Its activity does not receive chats.
    NotPresent {
        activity: String,
    },
    /// The queue's schedule is closed.
    OutsideHours,
    /// The step is for one named agent (a transfer, or the previous agent of a continued chat).
    NotTheNamedAgent,
    ExpressionFalse {
        condition: Condition,
    },
    AtCapacity {
        load: u32,
        capacity: u32,
    },
    /// It declined the chat or let the offer lapse, and others can take it.
    DeclinedBefore,
    Eligible,
}

impl Verdict {
    pub fn reason(&self) -> Reason {
        match self {
            Self::OtherWorkspace => Reason::OtherWorkspace,
            Self::Disabled => Reason::Disabled,
            Self::NotPresent { .. } => Reason::NotPresent,
            Self::OutsideHours => Reason::OutsideHours,
            Self::NotTheNamedAgent => Reason::NotTheNamedAgent,
            Self::ExpressionFalse { .. } => Reason::ExpressionFalse,
            Self::AtCapacity { .. } => Reason::AtCapacity,
            Self::DeclinedBefore => Reason::DeclinedBefore,
            Self::Eligible => Reason::Eligible,
        }
    }
}

/// How many agents had each reason.
pub type Counts = BTreeMap<Reason, u32>;

/// Why the first eligible agent wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Win {
    /// The step is for this agent (a transfer to a named agent).
    NamedAgent,
    /// The step prefers this agent, who had the chat this one continues.
    PreferredAgent,
    /// Nobody else could take the chat.
    OnlyOneEligible,
    /// It has waited longest for a chat, since `since`.
    LongestIdle { since: Timestamp },
    /// It has the fewest chats, `load` of `capacity` (ties: the longest idle).
    LeastBusy { load: u32, capacity: u32 },
}

impl Win {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NamedAgent => "named_agent",
            Self::PreferredAgent => "preferred_agent",
            Self::OnlyOneEligible => "only_one_eligible",
            Self::LongestIdle { .. } => "longest_idle",
            Self::LeastBusy { .. } => "least_busy",
        }
    }
}

/// An eligible agent with the keys it is ranked by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranked {
    pub agent_id: AgentId,
    pub idle_since: Timestamp,
    pub load: u32,
    pub capacity: u32,
}

/// What an offer keeps of why it was made, bounded whatever the number of agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferWhy {
    /// Why this agent won.
    pub won: Win,
    /// How many agents could take the chat, the winner included.
    pub eligible: u32,
    /// The next eligible agents in the queue's order, best first (at most three).
    pub runners_up: Vec<Ranked>,
    /// The agents the router read and skipped, per reason.
    pub skipped: Counts,
    /// The workspace's agents the router read in that pass: present ones
    /// only (it does not read agents who are away, offline or disabled).
    pub considered: u32,
}

/// What one route step asks of agents.
#[derive(Debug, Clone, Copy)]
pub struct StepRules<'a> {
    pub queue: &'a ReadyQueue,
    pub step: &'a RouteStep,
    /// Whether the queue's schedule is open now; when false, every present
    /// agent is `outside_hours`.
    pub open: bool,
}

impl<'a> StepRules<'a> {
    /// The rules of a step, with the queue open or closed as the caller
    /// found its schedule at the pass's time (`ReadyQueue::open`), for the
    /// matcher and the explanation alike (both build their rules here).
    pub fn new(queue: &'a ReadyQueue, step: &'a RouteStep) -> Self {
        Self { queue, step, open: queue.open }
    }
}

/// The reason that holds for `agent` for the whole pass, or None for a
/// candidate (whose free slots and passes decide).
pub fn standing(agent: &Agent, rules: &StepRules, eligibility: &mut Eligibility) -> Option<Verdict> {
    if agent.workspace_id != rules.queue.queue.workspace_id {
        return Some(Verdict::OtherWorkspace);
    }
    if !agent.enabled {
        return Some(Verdict::Disabled);
    }
    if !agent.available {
        return Some(Verdict::NotPresent { activity: agent.activity.clone() });
    }
    if !rules.open {
        return Some(Verdict::OutsideHours);
    }
    if rules.step.agent.is_some_and(|only| only != agent.id) {
        return Some(Verdict::NotTheNamedAgent);
    }
    let condition = eligibility.check(agent, rules.queue, rules.step.agents.as_deref())?;
    Some(Verdict::ExpressionFalse { condition })
}

/// The free slots the router may fill: none unless the agent can take a chat.
pub fn free_slots(a: &Agent) -> u32 {
    if a.can_take() { a.capacity - a.load } else { 0 }
}

/// Puts candidates (indexes into `agents`) in line: longest idle first, ties by id.
pub fn line_up(line: &mut [usize], agents: &[Agent]) {
    line.sort_by_key(|&i| (agents[i].idle_since, agents[i].id));
}

/// A candidate's reason before the look knows whether anyone else can take the chat.
fn first_round(free: u32, passed: bool) -> Reason {
    match (free, passed) {
        (0, _) => Reason::AtCapacity,
        (_, true) => Reason::DeclinedBefore,
        (_, false) => Reason::Eligible,
    }
}

/// One look along a step's line for one task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Look {
    /// Positions in the line of the best eligible agents, best first.
    pub best: Vec<usize>,
    pub eligible: u32,
    pub at_capacity: u32,
    pub declined: u32,
    /// Nobody who had not passed could take the chat, so those who did are eligible again.
    pub second_round: bool,
}

impl Look {
    /// The reason of a candidate of this look.
    pub fn verdict(&self, free: u32, passed: bool, load: u32, capacity: u32) -> Verdict {
        match first_round(free, passed) {
            Reason::AtCapacity => Verdict::AtCapacity { load, capacity },
            Reason::DeclinedBefore if !self.second_round => Verdict::DeclinedBefore,
            _ => Verdict::Eligible,
        }
    }

    /// Adds the counts of this look to the standing ones.
    pub fn counts(&self, standing: &Counts) -> Counts {
        let mut all = standing.clone();
        for (reason, n) in [
            (Reason::AtCapacity, self.at_capacity),
            (Reason::DeclinedBefore, self.declined),
            (Reason::Eligible, self.eligible),
        ] {
            if n > 0 {
                *all.entry(reason).or_default() += n;
            }
        }
        all
    }
}

/// The `keep` best by (key, position): a short sorted list.
struct Best {
    keep: usize,
    items: Vec<(u32, usize)>,
}

impl Best {
    fn offer(&mut self, key: u32, pos: usize) {
        if self.items.len() == self.keep && self.items.last().is_none_or(|last| *last <= (key, pos)) {
            return;
        }
        let at = self.items.partition_point(|x| *x <= (key, pos));
        self.items.insert(at, (key, pos));
        self.items.truncate(self.keep);
    }
}

/// Looks along `line` (indexes into `agents`, in line order) for one task
/// that `passed` agents passed on: counts who is full, who passed and who is
/// eligible, and keeps the `keep` best eligible in the queue's `ordering`:
/// longest idle is the line's order; least busy is the fewest `load`, ties in
/// line order. `free` and `load` are per agent, as the pass has them now.
pub fn look(
    line: impl IntoIterator<Item = usize>,
    ordering: Ordering,
    agents: &[Agent],
    free: &[u32],
    load: &[u32],
    passed: &[AgentId],
    keep: usize,
) -> Look {
    let mut fresh = Best { keep, items: Vec::new() };
    let mut again = Best { keep, items: Vec::new() };
    let (mut eligible, mut at_capacity, mut declined) = (0, 0, 0);
    for (pos, i) in line.into_iter().enumerate() {
        let key = match ordering {
            Ordering::LongestIdle => 0,
            Ordering::LeastBusy => load[i],
        };
        match first_round(free[i], free[i] > 0 && passed.contains(&agents[i].id)) {
            Reason::AtCapacity => at_capacity += 1,
            Reason::DeclinedBefore => {
                declined += 1;
                again.offer(key, pos);
            }
            _ => {
                eligible += 1;
                fresh.offer(key, pos);
            }
        }
    }
    let positions = |b: Best| b.items.into_iter().map(|(_, pos)| pos).collect();
    if eligible > 0 || declined == 0 {
        Look { best: positions(fresh), eligible, at_capacity, declined, second_round: false }
    } else {
        Look { best: positions(again), eligible: declined, at_capacity, declined: 0, second_round: true }
    }
}

/// Why `winner` wins among `eligible` agents of a step.
pub fn win(step: &RouteStep, ordering: Ordering, eligible: u32, winner: &Agent, load: u32) -> Win {
    match (step.agent.is_some(), step.preferred) {
        (true, true) => return Win::PreferredAgent,
        (true, false) => return Win::NamedAgent,
        _ => {}
    }
    if eligible == 1 {
        return Win::OnlyOneEligible;
    }
    match ordering {
        Ordering::LongestIdle => Win::LongestIdle { since: winner.idle_since },
        Ordering::LeastBusy => Win::LeastBusy { load, capacity: winner.capacity },
    }
}

/// An agent with its ranking keys.
pub fn ranked(a: &Agent, load: u32) -> Ranked {
    Ranked { agent_id: a.id, idle_since: a.idle_since, load, capacity: a.capacity }
}

/// Every agent of a workspace classified for one task's current step.
#[derive(Debug, Clone)]
pub struct Classified {
    /// One per agent given, in the same order.
    pub verdicts: Vec<Verdict>,
    /// The best eligible (indexes into the agents), best first, at most `keep`.
    pub ranked: Vec<usize>,
    /// How many were eligible.
    pub eligible: u32,
    /// Why the first of `ranked` would win.
    pub win: Option<Win>,
    /// Every agent counted by reason (`other_workspace` never).
    pub counts: Counts,
}

/// Classifies `agents` (the workspace's, as they are now) for `task`'s
/// current step under `rules`, ranking the `keep` best eligible: what the
/// matcher would do on its next pass, had it read every agent.
pub fn classify(task: &Task, rules: &StepRules, agents: &[Agent], keep: usize) -> Classified {
    let mut eligibility = Eligibility::default();
    let mut verdicts: Vec<Option<Verdict>> = agents.iter().map(|a| standing(a, rules, &mut eligibility)).collect();
    let mut line: Vec<usize> = (0..agents.len()).filter(|&i| verdicts[i].is_none()).collect();
    line_up(&mut line, agents);
    let free: Vec<u32> = agents.iter().map(free_slots).collect();
    let load: Vec<u32> = agents.iter().map(|a| a.load).collect();
    let ordering = rules.queue.queue.ordering;
    let seen = look(line.iter().copied(), ordering, agents, &free, &load, &task.passed, keep);
    for &i in &line {
        let a = &agents[i];
        verdicts[i] = Some(seen.verdict(free[i], task.passed.contains(&a.id), a.load, a.capacity));
    }
    let verdicts: Vec<Verdict> = verdicts.into_iter().map(|v| v.unwrap_or(Verdict::Eligible)).collect();
    let mut counts = Counts::new();
    for v in verdicts.iter().filter(|v| !matches!(v, Verdict::OtherWorkspace)) {
        *counts.entry(v.reason()).or_default() += 1;
    }
    let ranked: Vec<usize> = seen.best.iter().map(|&pos| line[pos]).collect();
    let win = ranked.first().map(|&i| win(rules.step, ordering, seen.eligible, &agents[i], agents[i].load));
    Classified { verdicts, ranked, eligible: seen.eligible, win, counts }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
