//! What supervisors see: per-queue statistics and the live list of chats
//! with their agents and waits, computed from the stored routing state.

use std::collections::HashMap;

use super::{Caller, Engine};
use crate::access::Action;
use crate::error::Result;
use crate::ids::{AgentId, ConversationId, QueueId, TaskId};
use crate::routing::matcher::{ReadyQueue, agent_variable};
use crate::routing::model::{Agent, OFFLINE, Queue, Task, TaskState};

/// One queue as a supervisor sees it.
#[derive(Debug, Clone)]
pub struct QueueStats {
    pub queue: Queue,
    /// Chats in line (not yet offered).
    pub waiting: u32,
    /// Chats offered to an agent who has not answered yet.
    pub offered: u32,
    /// Chats with an agent (assigned or in wrap-up).
    pub assigned: u32,
    /// "Message us" requests waiting for an agent to pick them up.
    pub messages: u32,
    /// The longest any chat still in line has waited.
    pub longest_wait_secs: u64,
    /// The average wait of the chats still in line.
    pub average_wait_secs: u64,
    /// Eligible agents in an activity that receives chats, with a free slot.
    pub agents_available: u32,
    /// Eligible agents in an activity that receives chats, every slot taken.
    pub agents_busy: u32,
    /// Eligible agents in an activity that does not receive chats (offline ones not counted).
    pub agents_away: u32,
}

/// A chat that needs or has an agent.
#[derive(Debug, Clone)]
pub struct LiveChat {
    pub conversation_id: ConversationId,
    pub task_id: TaskId,
    pub state: TaskState,
    pub queue_id: Option<QueueId>,
    pub priority: i32,
    pub agent_id: Option<AgentId>,
    pub agent_name: Option<String>,
    /// Since the chat got in line.
    pub waiting_secs: u64,
}

impl Engine {
    pub async fn queue_stats(&self, caller: &Caller) -> Result<Vec<QueueStats>> {
        let workspace = self.permit(caller, Action::Supervise, None)?;
        let queues = self.store.queues(workspace).await?;
        let tasks = self.store.live_tasks(workspace).await?;
        // Counted up to a bound: the stats refresh several times a second.
        let messages = self.store.message_tasks(workspace, 10_000).await?;
        let agents = self.store.agents(workspace).await?;
        let now = self.now().millis();
        let vars: Vec<(&Agent, serde_json::Value)> =
            agents.iter().filter(|a| a.enabled).map(|a| (a, agent_variable(a))).collect();
        Ok(queues
            .into_iter()
            .map(|q| {
                let ready = ReadyQueue::new(q.clone());
                let mine: Vec<&Task> = tasks.iter().filter(|t| t.queue() == Some(q.id)).collect();
                let count = |s: &[TaskState]| mine.iter().filter(|t| s.contains(&t.state)).count() as u32;
                let in_line: Vec<u64> = mine
                    .iter()
                    .filter(|t| t.state == TaskState::Waiting)
                    .map(|t| ((now - t.enqueued_at.millis()).max(0) / 1000) as u64)
                    .collect();
                let eligible: Vec<&Agent> = vars
                    .iter()
                    .filter(|(_, v)| ready.expr.as_ref().is_none_or(|e| e.matches(&[("agent", v)])))
                    .map(|(a, _)| *a)
                    .collect();
                QueueStats {
                    waiting: in_line.len() as u32,
                    offered: count(&[TaskState::Offered]),
                    assigned: count(&[TaskState::Assigned, TaskState::WrapUp]),
                    messages: messages.iter().filter(|t| t.queue() == Some(q.id)).count() as u32,
                    longest_wait_secs: in_line.iter().copied().max().unwrap_or(0),
                    average_wait_secs: if in_line.is_empty() {
                        0
                    } else {
                        in_line.iter().sum::<u64>() / in_line.len() as u64
                    },
                    agents_available: eligible.iter().filter(|a| a.available && a.load < a.capacity).count() as u32,
                    agents_busy: eligible.iter().filter(|a| a.available && a.load >= a.capacity).count() as u32,
                    agents_away: eligible.iter().filter(|a| !a.available && a.activity != OFFLINE).count() as u32,
                    queue: q,
                }
            })
            .collect())
    }

    /// Every chat of the workspace that waits for or has an agent, longest waiting first.
    pub async fn live_chats(&self, caller: &Caller) -> Result<Vec<LiveChat>> {
        let workspace = self.permit(caller, Action::Supervise, None)?;
        let tasks = self.store.live_tasks(workspace).await?;
        let names: HashMap<AgentId, String> =
            self.store.agents(workspace).await?.into_iter().map(|a| (a.id, a.name)).collect();
        let now = self.now().millis();
        let mut out: Vec<LiveChat> = tasks
            .into_iter()
            .map(|t| LiveChat {
                conversation_id: t.conversation_id,
                task_id: t.id,
                state: t.state,
                queue_id: t.queue(),
                priority: t.priority,
                agent_name: t.agent_id.and_then(|a| names.get(&a).cloned()),
                agent_id: t.agent_id,
                waiting_secs: ((now - t.enqueued_at.millis()).max(0) / 1000) as u64,
            })
            .collect();
        out.sort_by(|a, b| b.waiting_secs.cmp(&a.waiting_secs).then(a.task_id.cmp(&b.task_id)));
        Ok(out)
    }
}
