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
    Offer { conversation: ConversationId, task: TaskId, agent: AgentId, timeout_secs: u32 },
    Skip { conversation: ConversationId, task: TaskId, step: u32 },
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
type Verdicts = HashMap<(AgentId, QueueId, Option<String>), (Timestamp, Timestamp, bool)>;

/// Remembers which agents match which (queue, step) pair between passes, so
/// expressions are evaluated again only when an agent or queue changed.
#[derive(Debug, Default)]
pub struct Eligibility {
    seen: Verdicts,
    steps: HashMap<String, Option<Expr>>,
}

impl Eligibility {
    fn check(&mut self, agent: &Agent, queue: &ReadyQueue, step_expr: Option<&str>) -> bool {
        let key = (agent.id, queue.queue.id, step_expr.map(str::to_owned));
        let stamp = (agent.updated_at, queue.queue.updated_at);
        if let Some((a, q, ok)) = self.seen.get(&key)
            && (*a, *q) == stamp
        {
            return *ok;
        }
        let var = agent_variable(agent);
        let vars = [("agent", &var)];
        let mut ok = queue.expr.as_ref().is_none_or(|e| e.matches(&vars));
        if ok && let Some(src) = step_expr {
            let compiled =
                self.steps.entry(src.to_owned()).or_insert_with(|| Expr::parse("agents", src, &["agent"]).ok());
            ok = compiled.as_ref().is_some_and(|e| e.matches(&vars));
        }
        if self.seen.len() > 500_000 {
            self.seen.clear();
        }
        self.seen.insert(key, (stamp.0, stamp.1, ok));
        ok
    }
}

/// Whether `agent` serves `queue` under the step condition `step_agents`:
/// the matcher's test, for one agent.
pub fn eligible(agent: &Agent, queue: &Queue, step_agents: Option<&str>) -> bool {
    Eligibility::default().check(agent, &ReadyQueue::new(queue.clone()), step_agents)
}

/// The agents eligible for one (queue, step expression, named agent) group,
/// in the order the queue offers to them.
struct Group {
    line: VecDeque<usize>,
    ordering: Ordering,
    /// Nobody in line has a free slot left in this pass.
    exhausted: bool,
}

/// Proposes offers for `tasks` (best first) among `agents` (the present
/// ones, whatever their load).
pub fn propose(
    tasks: &[Task],
    agents: &[Agent],
    queues: &HashMap<QueueId, ReadyQueue>,
    eligibility: &mut Eligibility,
) -> Vec<Proposal> {
    let mut free: Vec<u32> = agents.iter().map(|a| if a.can_take() { a.capacity - a.load } else { 0 }).collect();
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
        let group = groups.entry(key).or_insert_with(|| {
            let mut line: Vec<usize> = (0..agents.len())
                .filter(|&i| {
                    let a = &agents[i];
                    a.workspace_id == queue.queue.workspace_id
                        && a.enabled
                        && a.available
                        && step.agent.is_none_or(|only| only == a.id)
                        && eligibility.check(a, queue, step.agents.as_deref())
                })
                .collect();
            line.sort_by_key(|&i| (agents[i].idle_since, agents[i].id));
            Group { line: line.into(), ordering: queue.queue.ordering, exhausted: false }
        });
        if group.line.is_empty() && step.skip_if_nobody_available && !last_step {
            out.push(Proposal::Skip { conversation: task.conversation_id, task: task.id, step: task.step });
            continue;
        }
        if group.exhausted {
            continue;
        }
        let pick =
            choose(group, &free, &load, agents, &task.passed).or_else(|| choose(group, &free, &load, agents, &[]));
        let Some(pos) = pick else {
            group.exhausted = true;
            continue;
        };
        let Some(i) = group.line.remove(pos) else { continue };
        free[i] -= 1;
        load[i] += 1;
        // Just offered: to the back of the line, as its idle time restarts.
        group.line.push_back(i);
        out.push(Proposal::Offer {
            conversation: task.conversation_id,
            task: task.id,
            agent: agents[i].id,
            timeout_secs: queue.queue.offer_timeout_secs,
        });
    }
    out
}

/// The position in `group.line` of the agent to offer to, skipping `passed`.
fn choose(group: &Group, free: &[u32], load: &[u32], agents: &[Agent], passed: &[AgentId]) -> Option<usize> {
    let open = |&(_, &i): &(usize, &usize)| free[i] > 0 && !passed.contains(&agents[i].id);
    match group.ordering {
        Ordering::LongestIdle => group.line.iter().enumerate().find(open).map(|(pos, _)| pos),
        Ordering::LeastBusy => {
            group.line.iter().enumerate().filter(open).min_by_key(|(_, i)| load[**i]).map(|(pos, _)| pos)
        }
    }
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
