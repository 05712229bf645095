//! Planning routing: tasks, offers, presence and agent slots.
//!
//! The rules of invariant 5 live here and only here: an offer is made only
//! to an enabled agent in an activity that receives chats with `load <
//! capacity`, only for a task that is waiting; accepting needs the pending,
//! unexpired offer made to that very agent; every way an offer or an
//! assignment ends gives the agent's slot back exactly once. Because these
//! run in the writer's transaction over rows it locked (PostgreSQL) or that
//! only it writes (SQLite), two routers proposing at once cannot both win.

use super::Planner;
use crate::bus::{AgentChange, Notice};
use crate::command::{AgentPatch, Author, Committed, NewParticipant};
use crate::error::{Error, ErrorCode, Result};
use crate::event::{EventKind, LeaveReason};
use crate::ids::{AgentId, ConversationId, OfferId, ParticipantId, TaskId};
use crate::model::Role;
use crate::routing::explain::OfferWhy;
use crate::routing::model::{Activity, Agent, HeldOffer, Offer, OfferState, RouteStep, Task, TaskHistory, TaskState};
use crate::timer::{Timer, TimerKey, TimerKind};

pub(super) fn conflict(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::Conflict, message)
}

impl Planner {
    pub(super) fn enqueue(
        &mut self,
        conversation: ConversationId,
        id: TaskId,
        route: &[RouteStep],
        priority: i32,
    ) -> Result<Committed> {
        let c = self.writable(conversation)?;
        if let Some(t) = c.task_id.and_then(|t| self.tasks.get(&t))
            && t.state.is_live()
        {
            return Err(conflict(format!("the conversation is already routed (task {}, {})", t.id, t.state.as_str())));
        }
        let Some(first) = route.first() else {
            return Err(Error::invalid("route", "a route needs at least one step"));
        };
        let preference_ok = |(i, s): (usize, &RouteStep)| i == 0 && s.agent.is_some() && route.len() > 1;
        if !route.iter().enumerate().filter(|(_, s)| s.preferred).all(preference_ok) {
            return Err(Error::internal("a preferred step names an agent and comes first, before another step"));
        }
        if route.iter().rev().skip(1).any(|s| s.message.is_some()) {
            return Err(Error::invalid("route", "a message step is the last step of a route"));
        }
        let task = Task::waiting(id, c.workspace_id, conversation, route.to_vec(), priority, self.now);
        let (queue, workspace) = (first.queue, task.workspace_id);
        self.arm_step(&task);
        self.tasks.insert(id, task);
        self.new_tasks.insert(id);
        self.conversation_mut(conversation).task_id = Some(id);
        self.history(id, "queued", None);
        if first.preferred {
            self.history(id, "preferred", first.agent);
        }
        self.plan.notices.push(Notice::Routing { workspace });
        let mut out = vec![self.emit(conversation, None, EventKind::Queued { task_id: id, queue_id: queue }, None)];
        if first.message.is_some() {
            out.extend(self.overflow(id));
        }
        Ok(out)
    }

    pub(super) fn offer(
        &mut self,
        conversation: ConversationId,
        task_id: TaskId,
        agent_id: AgentId,
        offer_id: OfferId,
        timeout_secs: u32,
        why: Option<&OfferWhy>,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        let task = self.task_in(conversation, task_id)?;
        if task.state != TaskState::Waiting {
            return Err(conflict(format!("the task is {}, not waiting", task.state.as_str())));
        }
        let Some(step) = task.current() else {
            return Err(Error::internal("task has no current route step"));
        };
        if step.agent.is_some_and(|only| only != agent_id) {
            return Err(conflict("this task waits for another agent"));
        }
        let (workspace, queue) = (task.workspace_id, step.queue);
        let agent = self.agents.get(&agent_id).filter(|a| a.workspace_id == workspace);
        let agent = agent.ok_or_else(|| Error::not_found("agent"))?;
        if !agent.can_take() {
            return Err(conflict("the agent is not available or has no free slot"));
        }
        let offer = Offer {
            id: offer_id,
            task_id,
            conversation_id: conversation,
            workspace_id: workspace,
            agent_id,
            queue_id: queue,
            state: OfferState::Pending,
            created_at: self.now,
            expires_at: self.now.plus_secs(timeout_secs.max(1)),
            decided_at: None,
        };
        let now = self.now;
        let t = self.task_mut(task_id);
        t.state = TaskState::Offered;
        t.agent_id = Some(agent_id);
        t.offer_id = Some(offer_id);
        let a = self.agent_mut(agent_id);
        a.load += 1;
        a.idle_since = now;
        a.offers.push(HeldOffer { offer: offer_id, task: task_id, conversation });
        self.set_timer(Timer {
            conversation_id: conversation,
            participant_id: None,
            kind: TimerKind::OfferExpiry { offer: offer_id, task: task_id, agent: agent_id },
            due_at: offer.expires_at,
        });
        let detail = why.and_then(|w| serde_json::to_value(w).ok());
        self.history_with(task_id, "offered", Some(agent_id), detail);
        self.plan
            .notices
            .push(Notice::Agent { agent: agent_id, change: AgentChange::Offered(Box::new(offer.clone())) });
        self.offers.insert(offer_id, offer);
        self.new_offers.insert(offer_id);
        Ok(Vec::new())
    }

    /// Checks that `offer` is the pending offer of `task` to `agent`.
    fn pending_offer(
        &self,
        conversation: ConversationId,
        offer_id: OfferId,
        task_id: TaskId,
        agent_id: AgentId,
    ) -> Result<&Offer> {
        let offer = self.offers.get(&offer_id).ok_or_else(|| Error::not_found("offer"))?;
        if offer.agent_id != agent_id {
            return Err(Error::forbidden("this offer was made to another agent"));
        }
        if offer.task_id != task_id || offer.conversation_id != conversation {
            return Err(Error::not_found("offer"));
        }
        if offer.state != OfferState::Pending {
            return Err(conflict(format!("the offer is {}", offer.state.as_str())));
        }
        if offer.expires_at <= self.now {
            return Err(conflict("the offer has expired"));
        }
        Ok(offer)
    }

    pub(super) fn accept(
        &mut self,
        conversation: ConversationId,
        offer_id: OfferId,
        task_id: TaskId,
        agent_id: AgentId,
        participant: &NewParticipant,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        self.pending_offer(conversation, offer_id, task_id, agent_id)?;
        let task = self.task_in(conversation, task_id)?;
        if task.state != TaskState::Offered || task.offer_id != Some(offer_id) {
            return Err(conflict("the offer is no longer current"));
        }
        if self.participants.contains_key(&participant.id) {
            return Err(conflict("participant already exists"));
        }
        let offer = self.close_offer(offer_id, OfferState::Accepted);
        self.agent_mut(agent_id).offers.retain(|h| h.offer != offer_id);
        let t = self.task_mut(task_id);
        t.state = TaskState::Assigned;
        t.offer_id = None;
        t.member_id = Some(participant.id);
        if let Some(secs) = self.queue_of(task_id).and_then(|q| q.first_reply_secs) {
            self.arm_reply(task_id, secs, true);
        }
        let step_key = TimerKey { conversation_id: conversation, participant_id: None, kind: "task_step".into() };
        self.delete_timer(step_key);
        self.history(task_id, "accepted", Some(agent_id));
        self.plan.notices.push(Notice::Agent {
            agent: agent_id,
            change: AgentChange::OfferClosed { offer: Box::new(offer), state: OfferState::Accepted },
        });
        self.plan.notices.push(Notice::Agent { agent: agent_id, change: AgentChange::Assigned { conversation } });
        let workspace = self.tasks[&task_id].workspace_id;
        self.plan.notices.push(Notice::Routing { workspace });
        let np = NewParticipant { role: Role::Agent, agent_id: Some(agent_id), ..participant.clone() };
        Ok(self.join(conversation, &np))
    }

    pub(super) fn decline(
        &mut self,
        conversation: ConversationId,
        offer_id: OfferId,
        task_id: TaskId,
        agent_id: AgentId,
    ) -> Result<Committed> {
        self.pending_offer(conversation, offer_id, task_id, agent_id)?;
        self.lapse(offer_id, OfferState::Declined);
        Ok(Vec::new())
    }

    pub(super) fn skip(&mut self, conversation: ConversationId, task_id: TaskId, step: u32) -> Result<Committed> {
        let task = self.task_in(conversation, task_id)?;
        if task.state != TaskState::Waiting || task.step != step {
            return Err(conflict("the task has moved on"));
        }
        self.advance(task_id);
        Ok(Vec::new())
    }

    pub(super) fn transfer(
        &mut self,
        conversation: ConversationId,
        task_id: TaskId,
        to: &RouteStep,
        by: Author,
        agent_participant: Option<ParticipantId>,
    ) -> Result<Committed> {
        self.writable(conversation)?;
        if let Author::Participant(p) = by {
            self.active_member(conversation, p)?;
        }
        let task = self.task_in(conversation, task_id)?;
        let (state, holder) = (task.state, task.agent_id);
        if !matches!(state, TaskState::Waiting | TaskState::Offered | TaskState::Assigned) {
            return Err(conflict(format!("the task is {}; nothing to transfer", task.state.as_str())));
        }
        if to.agent.is_some() && to.agent == holder && state == TaskState::Assigned {
            return Err(conflict("the chat is already with this agent"));
        }
        let leaving = match (state, holder) {
            (TaskState::Assigned, Some(agent)) => {
                let p = agent_participant
                    .ok_or_else(|| Error::internal("transfer of an assigned task without its agent"))?;
                let member = self.active_member(conversation, p)?;
                if member.agent_id != Some(agent) {
                    return Err(Error::internal("transfer named a participant that is not the assigned agent"));
                }
                Some((agent, p))
            }
            _ => None,
        };
        let mut out = Vec::new();
        if state == TaskState::Offered
            && let Some(offer) = self.tasks[&task_id].offer_id
        {
            self.lapse(offer, OfferState::Revoked);
        }
        if let Some((agent, p)) = leaving {
            self.free_slot(agent);
            self.plan.notices.push(Notice::Agent { agent, change: AgentChange::Released { conversation } });
            self.participant_mut(p).left_at = Some(self.now);
            self.conversation_mut(conversation).active_participants -= 1;
            let kind = EventKind::ParticipantLeft { member_id: p, reason: LeaveReason::Removed };
            out.push(self.emit(conversation, by.participant(), kind, None));
        }
        self.stop_reply_clock(task_id);
        let now = self.now;
        let t = self.task_mut(task_id);
        t.state = TaskState::Waiting;
        t.member_id = None;
        t.route = vec![to.clone()];
        t.step = 0;
        t.step_at = now;
        t.agent_id = None;
        t.offer_id = None;
        // The agent who handed it on gets it back only if nobody else can take it.
        t.passed = holder.filter(|_| state == TaskState::Assigned).into_iter().collect();
        let (workspace, snapshot) = (t.workspace_id, t.clone());
        self.arm_step(&snapshot);
        self.history(task_id, "transferred", to.agent);
        self.plan.notices.push(Notice::Routing { workspace });
        let kind = EventKind::Transferred { task_id, queue_id: to.queue, agent_id: to.agent };
        out.push(self.emit(conversation, by.participant(), kind, None));
        Ok(out)
    }

    pub(super) fn set_activity(
        &mut self,
        agent_id: AgentId,
        activity: &Activity,
        if_unseen_since: Option<crate::clock::Timestamp>,
    ) -> Result<Committed> {
        let agent = self.agents.get(&agent_id).ok_or_else(|| Error::not_found("agent"))?;
        if let Some(since) = if_unseen_since
            && agent.last_seen_at.is_some_and(|seen| seen > since)
        {
            return Ok(Vec::new());
        }
        if agent.activity == activity.name && agent.available == activity.available {
            return Ok(Vec::new());
        }
        let (now, became_available) = (self.now, activity.available && !agent.available);
        let a = self.agent_mut(agent_id);
        a.activity = activity.name.clone();
        a.available = activity.available;
        a.activity_at = now;
        if became_available {
            a.idle_since = now;
        }
        let workspace = a.workspace_id;
        if !activity.available {
            self.expire_offers_now(agent_id);
        }
        let change = AgentChange::Presence { activity: activity.name.clone(), available: activity.available };
        self.plan.notices.push(Notice::Agent { agent: agent_id, change });
        self.plan.notices.push(Notice::Routing { workspace });
        Ok(Vec::new())
    }

    pub(super) fn update_agent(&mut self, agent_id: AgentId, patch: &AgentPatch) -> Result<Committed> {
        self.agents.get(&agent_id).ok_or_else(|| Error::not_found("agent"))?;
        if patch.capacity == Some(0) {
            return Err(Error::invalid("capacity", "must be at least 1"));
        }
        let now = self.now;
        let a = self.agent_mut(agent_id);
        if let Some(name) = &patch.name {
            a.name = name.clone();
        }
        if let Some(attributes) = &patch.attributes {
            a.attributes = attributes.clone();
        }
        if let Some(capacity) = patch.capacity {
            a.capacity = capacity;
        }
        if let Some(enabled) = patch.enabled {
            a.enabled = enabled;
        }
        a.updated_at = now;
        let (enabled, workspace) = (a.enabled, a.workspace_id);
        if !enabled {
            self.expire_offers_now(agent_id);
            self.plan.notices.push(Notice::Agent { agent: agent_id, change: AgentChange::SignedOut });
        }
        self.plan.notices.push(Notice::Routing { workspace });
        Ok(Vec::new())
    }

    pub(super) fn seen(&mut self, agents: &[AgentId]) -> Result<Committed> {
        let now = self.now;
        for id in agents {
            if self.agents.contains_key(id) {
                self.agent_mut(*id).last_seen_at = Some(now);
            }
        }
        Ok(Vec::new())
    }

    /// A routing timer came due (already checked to be the stored one).
    pub(super) fn fire_routing(&mut self, timer: &Timer) -> Committed {
        self.delete_timer(timer.key());
        match timer.kind {
            TimerKind::OfferExpiry { offer, .. } => {
                if self.offers.get(&offer).is_some_and(|o| o.state == OfferState::Pending) {
                    self.lapse(offer, OfferState::Expired);
                }
            }
            TimerKind::TaskStep { task, step } => {
                if self.tasks.get(&task).is_some_and(|t| t.state.is_open() && t.step == step) {
                    self.advance(task);
                }
            }
            TimerKind::WrapUp { task, .. } => {
                if self.tasks.get(&task).is_some_and(|t| t.state == TaskState::WrapUp) {
                    self.complete(task);
                }
            }
            TimerKind::ReplyDue { task, agent, member, first } => {
                let due = self.tasks.get(&task).is_some_and(|t| {
                    t.state == TaskState::Assigned
                        && t.agent_id == Some(agent)
                        && t.member_id == Some(member)
                        && t.reply_due_at == Some(timer.due_at)
                });
                if due && self.writable(timer.conversation_id).is_ok() {
                    return self.breach(task, first);
                }
            }
            TimerKind::Inactivity { .. }
            | TimerKind::FlowWait { .. }
            | TimerKind::UploadExpiry { .. }
            | TimerKind::ChatDeadline => {}
        }
        Vec::new()
    }

    /// The ring policy of the task's step: once that many agents have
    /// passed on it, the chat moves on to the next step.
    fn ring_out(&mut self, task: TaskId) {
        let rung_out = self.tasks.get(&task).is_some_and(|t| {
            t.state == TaskState::Waiting
                && t.current().and_then(|s| s.ring).is_some_and(|n| t.passed.len() >= n as usize)
                && (t.step as usize) + 1 < t.route.len()
        });
        if rung_out {
            let passed = self.tasks[&task].passed.len() as u32;
            self.history(task, "rung_out", None);
            tracing::debug!(%task, passed, "ring policy ran out of agents; next step");
            self.advance(task);
        }
    }

    /// The conversation ended: its task is canceled, or its agent wraps up.
    pub(super) fn conversation_ended(&mut self, conversation: ConversationId) {
        let Some(task) = self.conversations.get(&conversation).and_then(|c| c.task_id) else {
            return;
        };
        let Some(t) = self.tasks.get(&task) else {
            return;
        };
        match t.state {
            TaskState::Waiting | TaskState::Offered => {
                if let Some(offer) = t.offer_id.filter(|_| t.state == TaskState::Offered) {
                    self.lapse(offer, OfferState::Revoked);
                }
                let workspace = self.tasks[&task].workspace_id;
                self.set_task_state(task, TaskState::Canceled);
                self.history(task, "canceled", None);
                self.plan.notices.push(Notice::Routing { workspace });
            }
            TaskState::Assigned => self.wrap_up(task),
            // A message request outlives the chat: an agent follows it up later.
            TaskState::WrapUp | TaskState::Completed | TaskState::Canceled | TaskState::Message => {}
        }
    }

    /// An assigned agent is leaving the conversation. If others stay (the
    /// customer), the chat goes back in line at its place, so it is not
    /// left without an agent, and its slot frees at once; returns the event
    /// that says so, to log after the agent's leave. If nobody stays, the
    /// chat is about to end and the slot goes to wrap-up.
    pub(super) fn agent_left(&mut self, conversation: ConversationId, who: ParticipantId) -> Option<EventKind> {
        let agent = self.participants.get(&who).and_then(|p| p.agent_id)?;
        let c = self.conversations.get(&conversation)?;
        let (task, others_stay) = (c.task_id?, c.active_participants > 1);
        let t = self.tasks.get(&task).filter(|t| t.state == TaskState::Assigned && t.agent_id == Some(agent))?;
        let queue = t.queue()?;
        self.plan.notices.push(Notice::Agent { agent, change: AgentChange::Released { conversation } });
        if !others_stay {
            self.wrap_up(task);
            return None;
        }
        self.free_slot(agent);
        self.stop_reply_clock(task);
        let t = self.task_mut(task);
        t.state = TaskState::Waiting;
        t.agent_id = None;
        t.member_id = None;
        if !t.passed.contains(&agent) {
            t.passed.push(agent);
        }
        let workspace = t.workspace_id;
        self.history(task, "requeued", Some(agent));
        self.leave_preference(task, agent);
        self.ring_out(task);
        self.plan.notices.push(Notice::Routing { workspace });
        Some(EventKind::Queued { task_id: task, queue_id: queue })
    }

    fn wrap_up(&mut self, task: TaskId) {
        self.stop_reply_clock(task);
        let t = &self.tasks[&task];
        let (conversation, agent) = (t.conversation_id, t.agent_id);
        let secs = t.queue().and_then(|q| self.queues.get(&q)).map_or(0, |q| q.wrap_up_secs);
        match agent {
            Some(agent) if secs > 0 => {
                self.set_task_state(task, TaskState::WrapUp);
                self.history(task, "wrap_up", Some(agent));
                self.set_timer(Timer {
                    conversation_id: conversation,
                    participant_id: None,
                    kind: TimerKind::WrapUp { task, agent },
                    due_at: self.now.plus_secs(secs),
                });
            }
            _ => self.complete(task),
        }
    }

    pub(super) fn complete(&mut self, task: TaskId) {
        let t = &self.tasks[&task];
        let (agent, workspace) = (t.agent_id, t.workspace_id);
        self.set_task_state(task, TaskState::Completed);
        self.history(task, "completed", agent);
        if let Some(agent) = agent {
            self.free_slot(agent);
        }
        self.plan.notices.push(Notice::Routing { workspace });
    }

    /// An offer ends without being accepted: the agent's slot frees and the
    /// task waits again at its original place in line.
    fn lapse(&mut self, offer_id: OfferId, state: OfferState) {
        let offer = self.close_offer(offer_id, state);
        let (task_id, agent_id) = (offer.task_id, offer.agent_id);
        self.agent_mut(agent_id).offers.retain(|h| h.offer != offer_id);
        self.free_slot(agent_id);
        let key = TimerKey { conversation_id: offer.conversation_id, participant_id: None, kind: "offer".into() };
        self.delete_timer(key);
        self.plan.notices.push(Notice::Agent {
            agent: agent_id,
            change: AgentChange::OfferClosed { offer: Box::new(offer.clone()), state },
        });
        if self.tasks.get(&task_id).is_some_and(|t| t.offer_id == Some(offer_id)) {
            let t = self.task_mut(task_id);
            t.state = TaskState::Waiting;
            t.agent_id = None;
            t.offer_id = None;
            if !t.passed.contains(&agent_id) {
                t.passed.push(agent_id);
            }
            let workspace = t.workspace_id;
            self.plan.notices.push(Notice::Routing { workspace });
        }
        self.history(task_id, state.as_str(), Some(agent_id));
        if matches!(state, OfferState::Declined | OfferState::Expired) {
            self.leave_preference(task_id, agent_id);
            self.ring_out(task_id);
        }
    }

    /// The preferred agent of a continued chat passed on it (declined, let
    /// the offer lapse, or left the chat): the chat goes on to normal routing
    /// at once rather than waiting out the preference, and that agent gets it
    /// again only when nobody else can take it.
    fn leave_preference(&mut self, task: TaskId, agent: AgentId) {
        let waiting_on_it = self.tasks.get(&task).is_some_and(|t| {
            t.state == TaskState::Waiting && t.current().is_some_and(|s| s.preferred && s.agent == Some(agent))
        });
        if waiting_on_it {
            self.advance(task);
            self.task_mut(task).passed = vec![agent];
        }
    }

    fn close_offer(&mut self, offer_id: OfferId, state: OfferState) -> Offer {
        let now = self.now;
        if !self.new_offers.contains(&offer_id) {
            self.touched_offers.insert(offer_id);
        }
        let o = self.offers.get_mut(&offer_id).expect("checked before planning");
        o.state = state;
        o.decided_at = Some(now);
        o.clone()
    }

    fn free_slot(&mut self, agent: AgentId) {
        if self.agents.contains_key(&agent) {
            let a = self.agent_mut(agent);
            a.load = a.load.saturating_sub(1);
            let workspace = a.workspace_id;
            self.plan.notices.push(Notice::Routing { workspace });
        }
    }

    /// Makes the agent's pending offers lapse now (it went away): their
    /// timers are moved to now, so the timer loop expires them at once.
    fn expire_offers_now(&mut self, agent: AgentId) {
        let held = self.agents[&agent].offers.clone();
        for h in held {
            self.set_timer(Timer {
                conversation_id: h.conversation,
                participant_id: None,
                kind: TimerKind::OfferExpiry { offer: h.offer, task: h.task, agent },
                due_at: self.now,
            });
        }
    }

    /// Moves a task to the next step of its route; the last step keeps it.
    /// Leaving the step that prefers a continued chat's previous agent is
    /// the `fallback` to normal routing.
    fn advance(&mut self, task: TaskId) {
        let now = self.now;
        let t = self.task_mut(task);
        if (t.step as usize) + 1 >= t.route.len() {
            return;
        }
        let preferred = t.current().filter(|s| s.preferred).and_then(|s| s.agent);
        t.step += 1;
        t.step_at = now;
        t.passed.clear();
        let (snapshot, workspace) = (t.clone(), t.workspace_id);
        self.arm_step(&snapshot);
        match preferred {
            Some(agent) => self.history(task, "fallback", Some(agent)),
            None => self.history(task, "step", None),
        }
        self.plan.notices.push(Notice::Routing { workspace });
        if snapshot.current().is_some_and(|s| s.message.is_some()) {
            self.overflow(task);
        }
    }

    fn arm_step(&mut self, task: &Task) {
        let key = TimerKey { conversation_id: task.conversation_id, participant_id: None, kind: "task_step".into() };
        match task.current().and_then(|s| s.timeout_secs) {
            Some(secs) if (task.step as usize) + 1 < task.route.len() => self.set_timer(Timer {
                conversation_id: task.conversation_id,
                participant_id: None,
                kind: TimerKind::TaskStep { task: task.id, step: task.step },
                due_at: task.step_at.plus_secs(secs),
            }),
            _ => self.delete_timer(key),
        }
    }

    pub(super) fn task_in(&self, conversation: ConversationId, id: TaskId) -> Result<&Task> {
        self.tasks.get(&id).filter(|t| t.conversation_id == conversation).ok_or_else(|| Error::not_found("task"))
    }

    pub(super) fn task_mut(&mut self, id: TaskId) -> &mut Task {
        if !self.new_tasks.contains(&id) {
            self.touched_tasks.insert(id);
        }
        let now = self.now;
        let t = self.tasks.get_mut(&id).expect("checked before planning");
        t.updated_at = now;
        t
    }

    fn set_task_state(&mut self, id: TaskId, state: TaskState) {
        self.task_mut(id).state = state;
    }

    pub(super) fn agent_mut(&mut self, id: AgentId) -> &mut Agent {
        self.touched_agents.insert(id);
        self.agents.get_mut(&id).expect("checked before planning")
    }

    pub(super) fn history(&mut self, task: TaskId, what: &str, agent: Option<AgentId>) {
        self.history_with(task, what, agent, None);
    }

    fn history_with(&mut self, task: TaskId, what: &str, agent: Option<AgentId>, detail: Option<serde_json::Value>) {
        let queue = self.tasks.get(&task).and_then(Task::queue);
        self.plan.task_history.push(TaskHistory {
            task_id: task,
            at: self.now,
            what: what.to_owned(),
            agent_id: agent,
            queue_id: queue,
            detail,
        });
    }

    pub(super) fn delete_timer(&mut self, key: TimerKey) {
        self.timers.remove(&key);
        self.plan.set_timers.retain(|t| t.key() != key);
        self.plan.delete_timers.push(key);
    }
}
