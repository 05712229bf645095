//! The router: a loop that matches waiting tasks with present agents, and
//! the presence sweep that takes agents whose sockets are gone offline.
//!
//! The loop wakes on every routing notice (a task waits, an agent freed a
//! slot or came back) and at least once a second, reads the waiting tasks and
//! the present agents, asks the pure matcher for proposals and submits them
//! as commands. Proposals that lost a race (another node's router, an accept
//! in between) are refused by the planner and simply tried again on the next
//! pass. Any number of routers may run against one database.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;

use super::Engine;
use crate::bus::Topic;
use crate::clock::Timestamp;
use crate::command::Command;
use crate::error::{ErrorCode, Result};
use crate::ids::{AgentId, OfferId};
use crate::routing::matcher::{self, Eligibility, Proposal, ReadyQueue};
use crate::routing::model::{Activity, OFFLINE, Ordering};
use crate::routing::position::{QueuePosition, positions};

/// The longest a waiting task waits for a pass when no notice comes.
const IDLE_PASS: Duration = Duration::from_secs(1);
/// Waiting tasks looked at per pass.
pub(super) const PASS_TASKS: u32 = 2_000;

/// How presence follows sockets.
#[derive(Debug, Clone, Copy)]
pub struct PresenceSettings {
    /// How long after its last socket closed an available agent goes offline.
    pub grace: Duration,
}

impl Default for PresenceSettings {
    fn default() -> Self {
        Self { grace: Duration::from_secs(60) }
    }
}

impl PresenceSettings {
    /// How often open sockets vouch for their agents: often enough that a
    /// connected agent is never mistaken for a gone one.
    pub fn heartbeat(&self) -> Duration {
        (self.grace / 3).clamp(Duration::from_millis(200), Duration::from_secs(10))
    }
}

/// An open agent socket. Dropping it records the moment the socket went, so
/// the grace period counts from then.
#[derive(Debug)]
pub struct AgentSocket {
    engine: Arc<Engine>,
    agent: AgentId,
}

impl Drop for AgentSocket {
    fn drop(&mut self) {
        {
            let mut sockets = self.engine.sockets.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = sockets.get_mut(&self.agent) {
                *n -= 1;
                if *n == 0 {
                    sockets.remove(&self.agent);
                }
            }
        }
        let (engine, agent) = (Arc::clone(&self.engine), self.agent);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = engine.agents_seen(vec![agent]).await {
                    tracing::debug!(error = %e, "could not record the end of an agent socket");
                }
            });
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub offered: usize,
    pub skipped: usize,
    /// Proposals the planner refused (lost a race; retried next pass).
    pub refused: usize,
}

impl Engine {
    /// One routing pass over every workspace, then the queue positions of
    /// the chats still waiting.
    pub async fn route_once(&self, eligibility: &mut Eligibility) -> Result<Pass> {
        let (pass, waiting) = self.pass(eligibility).await?;
        let changed = {
            let mut book = self.positions.lock().unwrap_or_else(|e| e.into_inner());
            book.update(&waiting, self.now())
        };
        for p in changed {
            self.bus.publish(crate::bus::Notice::QueuePosition {
                conversation: p.conversation,
                position: p.position,
                estimated_wait_secs: p.estimated_wait_secs,
            });
        }
        Ok(pass)
    }

    /// Where a waiting chat stands, if it waits.
    pub async fn queue_position(
        &self,
        caller: &super::Caller,
        id: crate::ids::ConversationId,
    ) -> Result<Option<QueuePosition>> {
        let c = self.permit_chat(caller, crate::access::Action::QueuePosition, id).await?;
        let Some(task) = c.task_id else { return Ok(None) };
        let waiting = self.store.waiting_tasks(PASS_TASKS).await?;
        let found = positions(&waiting).into_iter().find(|p| p.0 == task);
        Ok(found.map(|(task, conversation, queue, position)| {
            let book = self.positions.lock().unwrap_or_else(|e| e.into_inner());
            let estimated_wait_secs = book.estimate(queue, position, self.now());
            QueuePosition { conversation, task, queue, position, estimated_wait_secs }
        }))
    }

    /// Proposes and submits; returns what it did and the tasks left waiting.
    async fn pass(&self, eligibility: &mut Eligibility) -> Result<(Pass, Vec<crate::routing::model::Task>)> {
        let tasks = self.store.waiting_tasks(PASS_TASKS).await?;
        if tasks.is_empty() {
            return Ok((Pass::default(), tasks));
        }
        let mut queues: HashMap<_, _> =
            self.store.all_queues().await?.into_iter().map(|q| (q.id, ReadyQueue::new(q))).collect();
        self.open_or_closed(&mut queues).await?;
        // Reading every present agent costs the most in a pass. When no
        // waiting chat needs the whole picture (a step that skips when
        // nobody is there, a least-busy queue), the longest-idle agents with
        // a free slot are enough; only if some chat then finds nobody among
        // them is everyone read.
        let needs_all = tasks.iter().any(|t| {
            t.current().is_some_and(|s| s.skip_if_nobody_available)
                || t.queue().and_then(|q| queues.get(&q)).is_some_and(|q| q.queue.ordering == Ordering::LeastBusy)
        });
        let page = (tasks.len() as u32).saturating_mul(8).saturating_add(32);
        let mut agents = self.store.present_agents((!needs_all).then_some(page)).await?;
        let mut proposals = matcher::propose(&tasks, &agents, &queues, eligibility);
        let offered = proposals.iter().filter(|p| matches!(p, Proposal::Offer { .. })).count();
        if !needs_all && agents.len() as u32 == page && offered < tasks.len() {
            agents = self.store.present_agents(None).await?;
            proposals = matcher::propose(&tasks, &agents, &queues, eligibility);
        }
        let mut set = tokio::task::JoinSet::new();
        for p in proposals {
            let store = Arc::clone(&self.store);
            let command = match p {
                Proposal::Offer { conversation, task, agent, timeout_secs, why } => {
                    Command::Offer { conversation, task, agent, offer: OfferId::new(), timeout_secs, why: Some(why) }
                }
                Proposal::Skip { conversation, task, step } => Command::Skip { conversation, task, step },
            };
            let task = match &command {
                Command::Offer { task, .. } => Some(*task),
                _ => None,
            };
            set.spawn(async move { (task, store.apply(command).await) });
        }
        let mut pass = Pass::default();
        let mut offered = std::collections::HashSet::new();
        while let Some(done) = set.join_next().await {
            match done {
                Ok((Some(task), Ok(_))) => {
                    pass.offered += 1;
                    offered.insert(task);
                }
                Ok((None, Ok(_))) => pass.skipped += 1,
                Ok((_, Err(e))) if matches!(e.code, ErrorCode::Conflict | ErrorCode::NotFound) => pass.refused += 1,
                Ok((_, Err(e))) if e.code == ErrorCode::ConversationEnded => pass.refused += 1,
                Ok((_, Err(e))) => return Err(e),
                Err(e) => return Err(crate::Error::internal(e.to_string())),
            }
        }
        let waiting = tasks.into_iter().filter(|t| !offered.contains(&t.id)).collect();
        Ok((pass, waiting))
    }

    /// Marks the queues whose schedule is closed now. Schedules are read
    /// only when some queue follows one; a schedule gone missing closes nothing.
    pub(super) async fn open_or_closed(&self, queues: &mut HashMap<crate::ids::QueueId, ReadyQueue>) -> Result<()> {
        let mut ids: Vec<_> = queues.values().filter_map(|q| q.queue.schedule_id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort();
        ids.dedup();
        let now = self.now();
        let open: HashMap<_, _> =
            self.store.schedules_by_ids(&ids).await?.into_iter().map(|s| (s.id, s.hours.is_open(now))).collect();
        for q in queues.values_mut() {
            q.open = q.queue.schedule_id.and_then(|id| open.get(&id).copied()).unwrap_or(true);
        }
        Ok(())
    }

    /// Routes until `shutdown` completes.
    pub async fn run_router(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut notices = self.bus.subscribe(Topic::Routing);
        let mut eligibility = Eligibility::default();
        let mut again = true;
        loop {
            if !again {
                tokio::select! {
                    () = &mut shutdown => return,
                    _ = notices.recv() => {}
                    () = tokio::time::sleep(IDLE_PASS) => {}
                }
            }
            // Everything that arrived until now is covered by this pass.
            while let Ok(_) | Err(TryRecvError::Lagged(_)) = notices.try_recv() {}
            again = match self.route_once(&mut eligibility).await {
                // Something moved or lost a race: look again at once.
                Ok(pass) => pass.offered + pass.skipped + pass.refused > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "routing pass failed");
                    false
                }
            };
        }
    }

    /// Counts an open socket of `agent` until the guard drops; presence
    /// follows: an agent with a socket is vouched for on every heartbeat.
    pub async fn agent_connected(self: &Arc<Self>, agent: AgentId) -> Result<AgentSocket> {
        *self.sockets.lock().unwrap_or_else(|e| e.into_inner()).entry(agent).or_default() += 1;
        let guard = AgentSocket { engine: Arc::clone(self), agent };
        self.agents_seen(vec![agent]).await?;
        Ok(guard)
    }

    /// The agents with an open socket on this node.
    pub fn connected_agents(&self) -> Vec<AgentId> {
        self.sockets.lock().map(|m| m.keys().copied().collect()).unwrap_or_default()
    }

    /// Vouches for connected agents and takes the gone ones offline, until
    /// `shutdown` completes.
    pub async fn run_presence(self: Arc<Self>, settings: PresenceSettings, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(settings.heartbeat()) => {}
            }
            if let Err(e) = self.agents_seen(self.connected_agents()).await {
                tracing::warn!(error = %e, "presence heartbeat failed");
            }
            if let Err(e) = self.sweep_presence(settings).await {
                tracing::warn!(error = %e, "presence sweep failed");
            }
        }
    }

    /// Records that `agents` have open sockets here (the presence heartbeat).
    pub async fn agents_seen(&self, agents: Vec<AgentId>) -> Result<()> {
        if agents.is_empty() {
            return Ok(());
        }
        self.store.apply(Command::Seen { agents }).await.map(drop)
    }

    /// Takes offline the available agents no socket has vouched for within
    /// the grace period. Returns how many went offline.
    pub async fn sweep_presence(&self, settings: PresenceSettings) -> Result<usize> {
        let now = self.now();
        let before = Timestamp(now.millis() - settings.grace.as_millis() as i64);
        let mut n = 0;
        for agent in self.store.unseen_agents(before).await? {
            let activity = Activity { name: OFFLINE.into(), available: false };
            let command = Command::SetActivity { agent: agent.id, activity, if_unseen_since: Some(before) };
            self.store.apply(command).await?;
            tracing::info!(agent = %agent.id, "agent went offline: no socket within the grace period");
            n += 1;
        }
        Ok(n)
    }
}
