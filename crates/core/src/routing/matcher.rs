//! Matching waiting tasks to agents: what the router proposes.
//!
//! Pure and deterministic: given the waiting tasks (best first: priority,
//! then time in line), the agents that are present and the queues, it
//! proposes offers and step skips. The proposals are only proposals: the
//! planner re-checks each one under the writer's locks, so a proposal made
//! from a stale read, or by a second router at the same moment, fails
//! harmlessly instead of over-filling an agent or assigning a chat twice.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use crate::clock::Timestamp;
use crate::ids::{AgentId, ConversationId, QueueId, TaskId};
use crate::routing::explain::{
    Condition, Counts, OfferWhy, Reason, StepRules, free_slots, line_up, look, ranked, standing, win,
};
use crate::routing::expr::Expr;
use crate::routing::model::{Agent, Ordering, Queue, Task, WhenClosed};

/// A queue with its eligibility expression compiled, and whether its hours
/// are open in this pass.
#[derive(Debug, Clone)]
pub struct ReadyQueue {
    pub queue: Queue,
    pub expr: Option<Expr>,
    /// False while its schedule is closed: it offers nothing.
    pub open: bool,
}

impl ReadyQueue {
    /// Compiles the stored expression; a stored expression that no longer
    /// compiles (it was checked when saved) matches nobody.
    pub fn new(queue: Queue) -> Self {
        let expr = queue.expression.as_deref().map(|src| Expr::parse("expression", src, &["agent"]));
        match expr {
            Some(Ok(e)) => Self { queue, expr: Some(e), open: true },
            Some(Err(e)) => {
                tracing::error!(queue = %queue.id, error = %e, "stored queue expression does not compile; nobody matches");
                let never = Expr::parse("expression", "false", &["agent"]).ok();
                Self { queue, expr: never, open: true }
            }
            None => Self { queue, expr: None, open: true },
        }
    }
}

/// What the router asks the planner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proposal {
    /// `why` is what the offer records of why this agent.
    Offer {
        conversation: ConversationId,
        task: TaskId,
        agent: AgentId,
        timeout_secs: u32,
        why: Box<OfferWhy>,
    },
    Skip {
        conversation: ConversationId,
        task: TaskId,
        step: u32,
    },
}

/// The `agent` variable routing expressions see: its attributes, plus `id`
/// and `name` unless the attributes set them.
pub fn agent_variable(a: &Agent) -> Value {
    let mut map = a.attributes.clone();
    map.entry("id").or_insert_with(|| Value::String(a.id.to_string()));
    map.entry("name").or_insert_with(|| Value::String(a.name.clone()));
    Value::Object(map)
}

/// (agent, queue, step condition) → (agent version, queue version, verdict).
type Verdicts = HashMap<(AgentId, QueueId, Option<String>), (Timestamp, Timestamp, Option<Condition>)>;

/// Remembers which agents match which (queue, step) pair between passes, so
/// expressions are evaluated again only when an agent or queue changed.
#[derive(Debug, Default)]
pub struct Eligibility {
    seen: Verdicts,
    steps: HashMap<String, Option<Expr>>,
}

impl Eligibility {
    /// The condition `agent` does not meet in `queue` under the step
    /// condition `step_expr`, if any: the queue's expression first.
    pub(crate) fn check(&mut self, agent: &Agent, queue: &ReadyQueue, step_expr: Option<&str>) -> Option<Condition> {
        let key = (agent.id, queue.queue.id, step_expr.map(str::to_owned));
        let stamp = (agent.updated_at, queue.queue.updated_at);
        if let Some((a, q, failed)) = self.seen.get(&key)
            && (*a, *q) == stamp
        {
            return *failed;
        }
        let var = agent_variable(agent);
        let vars = [("agent", &var)];
        let mut failed = (!queue.expr.as_ref().is_none_or(|e| e.matches(&vars))).then_some(Condition::Queue);
        if failed.is_none()
            && let Some(src) = step_expr
        {
            let compiled =
                self.steps.entry(src.to_owned()).or_insert_with(|| Expr::parse("agents", src, &["agent"]).ok());
            failed = (!compiled.as_ref().is_some_and(|e| e.matches(&vars))).then_some(Condition::Step);
        }
        if self.seen.len() > 500_000 {
            self.seen.clear();
        }
        self.seen.insert(key, (stamp.0, stamp.1, failed));
        failed
    }
}

/// Whether `agent` serves `queue` under the step condition `step_agents`:
/// the matcher's test, for one agent.
pub fn eligible(agent: &Agent, queue: &Queue, step_agents: Option<&str>) -> bool {
    Eligibility::default().check(agent, &ReadyQueue::new(queue.clone()), step_agents).is_none()
}

/// The candidates of one (queue, step expression, named agent) group, in
/// the order the queue offers to them, with the reasons of the others.
struct Group {
    line: VecDeque<usize>,
    ordering: Ordering,
    /// Nobody in line has a free slot left in this pass.
    exhausted: bool,
    /// The workspace's agents read, skipped for a reason that holds all pass.
    standing: Counts,
    /// The workspace's agents read.
    considered: u32,
}

impl Group {
    fn new(agents: &[Agent], rules: &StepRules, eligibility: &mut Eligibility) -> Self {
        let (mut line, mut standing, mut considered) = (Vec::new(), Counts::new(), 0);
        for (i, a) in agents.iter().enumerate() {
            match standing_of(a, rules, eligibility) {
                None => line.push(i),
                Some(Reason::OtherWorkspace) => continue,
                Some(reason) => *standing.entry(reason).or_default() += 1,
            }
            considered += 1;
        }
        line_up(&mut line, agents);
        Self { line: line.into(), ordering: rules.queue.queue.ordering, exhausted: false, standing, considered }
    }
}

fn standing_of(a: &Agent, rules: &StepRules, eligibility: &mut Eligibility) -> Option<Reason> {
    standing(a, rules, eligibility).map(|v| v.reason())
}

/// How many eligible agents an offer keeps: the winner and three runners-up.
const KEEP: usize = 4;

/// Proposes offers for `tasks` (best first) among `agents` (the present
/// ones, whatever their load).
pub fn propose(
    tasks: &[Task],
    agents: &[Agent],
    queues: &HashMap<QueueId, ReadyQueue>,
    eligibility: &mut Eligibility,
) -> Vec<Proposal> {
    let mut free: Vec<u32> = agents.iter().map(free_slots).collect();
    let mut load: Vec<u32> = agents.iter().map(|a| a.load).collect();
    let mut groups: HashMap<(QueueId, Option<String>, Option<AgentId>), Group> = HashMap::new();
    let mut out = Vec::new();
    for task in tasks {
        let Some(step) = task.current() else { continue };
        let Some(queue) = queues.get(&step.queue) else { continue };
        let last_step = (task.step as usize) + 1 >= task.route.len();
        if !queue.open {
            // Closed: the chat keeps its place, or moves on if the step says so.
            if step.when_closed == WhenClosed::Next && !last_step {
                out.push(Proposal::Skip { conversation: task.conversation_id, task: task.id, step: task.step });
            }
            continue;
        }
        let key = (step.queue, step.agents.clone(), step.agent);
        let group = groups.entry(key).or_insert_with(|| Group::new(agents, &StepRules::new(queue, step), eligibility));
        if group.line.is_empty() && step.skip_if_nobody_available && !last_step {
            out.push(Proposal::Skip { conversation: task.conversation_id, task: task.id, step: task.step });
            continue;
        }
        if group.exhausted {
            continue;
        }
        let seen = look(group.line.iter().copied(), group.ordering, agents, &free, &load, &task.passed, KEEP);
        let Some(&pos) = seen.best.first() else {
            group.exhausted = true;
            continue;
        };
        let runners_up = seen.best[1..].iter().map(|&p| ranked(&agents[group.line[p]], load[group.line[p]])).collect();
        let Some(i) = group.line.remove(pos) else { continue };
        let why = OfferWhy {
            won: win(step, group.ordering, seen.eligible, &agents[i], load[i]),
            eligible: seen.eligible,
            runners_up,
            skipped: seen.counts(&group.standing).into_iter().filter(|(r, _)| *r != Reason::Eligible).collect(),
            considered: group.considered,
        };
        free[i] -= 1;
        load[i] += 1;
        // Just offered: to the back of the line, as its idle time restarts.
        group.line.push_back(i);
        out.push(Proposal::Offer {
            conversation: task.conversation_id,
            task: task.id,
            agent: agents[i].id,
            timeout_secs: queue.queue.offer_timeout_secs,
            why: Box::new(why),
        });
    }
    out
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
pub(crate) mod tests;
