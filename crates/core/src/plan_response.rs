//! Response timers: the assigned agent's reply clock, started at the
//! accept and by the customer's messages, stopped by the agent's, and what
//! a missed reply does (the queue's `on_reply_timeout`). A miss is planned
//! as an ordinary leave or transfer, which gives the agent's slot back once.

use super::Planner;
use crate::bus::{Breach, Notice};
use crate::command::Author;
use crate::event::{EventKind, LeaveReason, ReplyTimer};
use crate::ids::{ConversationId, ParticipantId, TaskId};
use crate::model::Role;
use crate::routing::model::{ReplyTimeout, RouteStep, Task, TaskState};
use crate::timer::{REPLY, Timer, TimerKey, TimerKind};

impl Planner {
    /// A message was logged in a chat: the assigned agent's message stops
    /// its reply clock; a customer's starts it when it is not running (the
    /// oldest unanswered message counts) and the queue times replies.
    pub(super) fn heard(&mut self, conversation: ConversationId, from: ParticipantId, role: Role) {
        let Some(task) = self.conversations.get(&conversation).and_then(|c| c.task_id) else { return };
        let Some(t) = self.tasks.get(&task).filter(|t| t.state == TaskState::Assigned) else { return };
        match role {
            Role::Agent if t.member_id == Some(from) && t.reply_due_at.is_some() => self.stop_reply_clock(task),
            Role::Customer if t.reply_due_at.is_none() => {
                if let Some(secs) = self.queue_of(task).and_then(|q| q.reply_secs) {
                    self.arm_reply(task, secs, false);
                }
            }
            _ => {}
        }
    }

    pub(super) fn queue_of(&self, task: TaskId) -> Option<&crate::routing::model::Queue> {
        self.tasks.get(&task).and_then(Task::queue).and_then(|q| self.queues.get(&q))
    }

    pub(super) fn arm_reply(&mut self, task: TaskId, secs: u32, first: bool) {
        let Some(t) = self.tasks.get(&task) else { return };
        // A chat assigned before replies were timed does not know its agent's participant.
        let (Some(agent), Some(member)) = (t.agent_id, t.member_id) else { return };
        let due_at = self.now.plus_secs(secs);
        let t = self.task_mut(task);
        t.reply_due_at = Some(due_at);
        let conversation = t.conversation_id;
        let kind = TimerKind::ReplyDue { task, agent, member, first };
        self.set_timer(Timer { conversation_id: conversation, participant_id: None, kind, due_at });
    }

    pub(super) fn stop_reply_clock(&mut self, task: TaskId) {
        if self.tasks.get(&task).is_none_or(|t| t.reply_due_at.is_none()) {
            return;
        }
        let t = self.task_mut(task);
        t.reply_due_at = None;
        let key = TimerKey { conversation_id: t.conversation_id, participant_id: None, kind: REPLY.into() };
        self.delete_timer(key);
    }

    /// The assigned agent missed a reply: logged (for agents and
    /// supervisors), supervisors alerted, then the queue's action: the
    /// agent leaves and the chat waits for the next one, the chat moves to
    /// another queue, or (an alert only) the agent keeps it. The agent's
    /// slot is given back by the leave or the transfer, once.
    pub(super) fn breach(&mut self, task: TaskId, first: bool) -> Vec<crate::event::Event> {
        let t = &self.tasks[&task];
        let (conversation, workspace, queue) = (t.conversation_id, t.workspace_id, t.queue());
        let (Some(agent), Some(member)) = (t.agent_id, t.member_id) else { return Vec::new() };
        let q = self.queue_of(task);
        let action = q.map_or_else(ReplyTimeout::default, |q| q.on_reply_timeout);
        let limit = if first { q.and_then(|q| q.first_reply_secs) } else { q.and_then(|q| q.reply_secs) };
        let after_secs = limit.unwrap_or_default();
        let timer = if first { ReplyTimer::FirstReply } else { ReplyTimer::Reply };
        self.stop_reply_clock(task);
        self.history(task, "sla_breached", Some(agent));
        let action_name = action.as_str().to_owned();
        let breach = Breach { conversation, task, agent, queue, timer, after_secs, action: action_name.clone() };
        self.plan.notices.push(Notice::Breach { workspace, breach: Box::new(breach) });
        let kind = EventKind::SlaBreached { task_id: task, agent_id: agent, timer, after_secs, action: action_name };
        let mut out = vec![self.emit(conversation, None, kind, None)];
        match action {
            ReplyTimeout::NextAgent => {
                let kind = EventKind::ParticipantLeft { member_id: member, reason: LeaveReason::Removed };
                out.extend(self.leave(conversation, member, kind, Author::System));
            }
            ReplyTimeout::Queue(queue) => {
                let to = RouteStep::to_queue(queue);
                match self.transfer(conversation, task, &to, Author::System, Some(member)) {
                    Ok(events) => out.extend(events),
                    Err(e) => tracing::warn!(%task, error = %e, "a missed reply could not move the chat"),
                }
            }
            ReplyTimeout::Alert => {}
        }
        out
    }
}
