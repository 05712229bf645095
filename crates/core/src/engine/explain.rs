//! Why a chat is, or is not, offered to each agent: the live explanation
//! behind `GET /conversations/{id}/task/explain`.
//!
//! A waiting chat is classified now, over every agent of the workspace read
//! fresh, by the same rules the matcher follows
//! ([`crate::routing::explain`]); what the answer lists is bounded (the
//! best few eligible, the first skipped) and every agent is counted. A chat
//! already offered, assigned or ended is explained by its stored history,
//! where each offer kept why it was made.

use super::{Caller, Engine};
use crate::access::Action;
use crate::clock::Timestamp;
use crate::error::Result;
use crate::ids::ConversationId;
use crate::routing::explain::{Counts, Ranked, StepRules, Verdict, Win, classify, ranked};
use crate::routing::matcher::ReadyQueue;
use crate::routing::model::{Queue, Task, TaskHistory, TaskState};
use crate::routing::position::positions;

/// Eligible agents listed, best first.
pub const TOP_ELIGIBLE: usize = 5;
/// Skipped agents listed.
pub const LISTED_SKIPPED: usize = 10;

/// An eligible agent in the explanation, with its rank (1 is next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibleAgent {
    pub rank: u32,
    pub name: String,
    pub keys: Ranked,
}

/// A skipped agent and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedAgent {
    pub agent_id: crate::ids::AgentId,
    pub name: String,
    pub verdict: Verdict,
}

/// The classification of a waiting chat as of `at`.
#[derive(Debug, Clone)]
pub struct LiveExplanation {
    pub at: Timestamp,
    /// Its place in its queue's line (1: next). Chats before it are
    /// offered first, so an eligible agent may go to one of them.
    pub position: Option<u32>,
    /// The best eligible agents, best first (at most [`TOP_ELIGIBLE`]).
    pub eligible: Vec<EligibleAgent>,
    /// Why the first would win.
    pub win: Option<Win>,
    /// Skipped agents, those nearest to eligible first (at most [`LISTED_SKIPPED`]).
    pub skipped: Vec<SkippedAgent>,
    /// Every agent of the workspace, by reason.
    pub counts: Counts,
    /// The workspace's agents.
    pub agents: u32,
}

/// A chat's routing, explained.
#[derive(Debug, Clone)]
pub struct TaskExplanation {
    /// When it was explained.
    pub at: Timestamp,
    pub task: Task,
    /// The queue of the current step, if it still exists.
    pub queue: Option<Queue>,
    /// The task's history; `offered` lines carry why.
    pub history: Vec<TaskHistory>,
    /// For a waiting chat: who could take it now, and why not the others.
    pub now: Option<LiveExplanation>,
}

impl Engine {
    /// Explains the routing of conversation `id`'s current task (workspace keys only).
    pub async fn explain_task(&self, caller: &Caller, id: ConversationId) -> Result<TaskExplanation> {
        let c = self.permit_chat(caller, Action::ExplainTask, id).await?;
        let task = self.task_of(&c).await?;
        let history = self.store.task_history(task.id).await?;
        let queue = match task.queue() {
            Some(q) => self.store.queue(q).await?.filter(|q| q.workspace_id == task.workspace_id),
            None => None,
        };
        let now = match (&queue, task.state) {
            (Some(q), TaskState::Waiting) => Some(self.explain_now(&task, q).await?),
            _ => None,
        };
        let at = now.as_ref().map_or_else(|| self.now(), |n| n.at);
        Ok(TaskExplanation { at, task, queue, history, now })
    }

    async fn explain_now(&self, task: &Task, queue: &Queue) -> Result<LiveExplanation> {
        let agents = self.store.agents(task.workspace_id).await?;
        let waiting = self.store.waiting_tasks(super::router::PASS_TASKS).await?;
        let position = positions(&waiting).into_iter().find(|p| p.0 == task.id).map(|p| p.3);
        let at = self.now();
        // Open or closed now, as the router would find the queue's schedule.
        let mut one = std::collections::HashMap::from([(queue.id, ReadyQueue::new(queue.clone()))]);
        self.open_or_closed(&mut one).await?;
        let ready = one.remove(&queue.id).ok_or_else(|| crate::Error::internal("the queue went missing"))?;
        let Some(step) = task.current() else {
            return Err(crate::Error::internal("a waiting task has no current route step"));
        };
        let found = classify(task, &StepRules::new(&ready, step), &agents, TOP_ELIGIBLE);
        let eligible = (found.ranked.iter().enumerate())
            .map(|(n, &i)| EligibleAgent {
                rank: n as u32 + 1,
                name: agents[i].name.clone(),
                keys: ranked(&agents[i], agents[i].load),
            })
            .collect();
        let mut skipped: Vec<(usize, &Verdict)> =
            found.verdicts.iter().enumerate().filter(|(_, v)| !matches!(v, Verdict::Eligible)).collect();
        // Nearest to eligible first (declined before, at capacity, …), then by id.
        skipped.sort_by_key(|(i, v)| (std::cmp::Reverse(v.reason()), agents[*i].id));
        let skipped = (skipped.into_iter().take(LISTED_SKIPPED))
            .map(|(i, v)| SkippedAgent { agent_id: agents[i].id, name: agents[i].name.clone(), verdict: v.clone() })
            .collect();
        Ok(LiveExplanation {
            at,
            position,
            eligible,
            win: found.win,
            skipped,
            counts: found.counts,
            agents: agents.len() as u32,
        })
    }
}
