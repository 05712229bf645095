//! Planning erasure: a conversation and everything derived from it go, in
//! the same transaction and under the same locks as every other write to
//! it, so an erasure never interleaves with a send to that chat.
//!
//! The planner decides and cleans up around the chat; the store deletes its
//! rows last in the transaction (so rows the same batch wrote for it go
//! too) and writes the audit row with the counts, and the deletion of its
//! files when it has any (most chats have none). Rules: only an ended chat
//! is erased (an open one only when asked to end it first); an agent still
//! wrapping it up gets its slot back; the chats linked to it (persistent
//! chat) lose their link; its files are deleted through the outbox; and for
//! the rest of the batch it does not exist.

use super::Planner;
use crate::bus::{AgentChange, Notice};
use crate::clock::Timestamp;
use crate::command::Committed;
use crate::error::{Error, ErrorCode, Result};
use crate::event::EndReason;
use crate::flows::records::Work;
use crate::ids::{ConversationId, OutboxId};
use crate::model::{Conversation, ConversationState};
use crate::retention::{EraseRequest, PlannedErasure};
use crate::routing::model::TaskState;

impl Planner {
    /// Erases one conversation of the request's workspace; an open one only
    /// with `end`, which ends it first (its readers see it end).
    pub(super) fn erase(&mut self, request: &EraseRequest, end: bool) -> Result<Committed> {
        let c = self
            .conversations
            .get(&request.conversation)
            .filter(|c| c.workspace_id == request.workspace)
            .ok_or_else(|| Error::not_found("conversation"))?;
        if c.state == ConversationState::Open {
            if !end {
                return Err(Error::new(
                    ErrorCode::Conflict,
                    "the conversation is still open; end it first, or erase it with end=true",
                ));
            }
            self.end(request.conversation, None, EndReason::Ended);
        }
        self.wipe(request);
        Ok(Vec::new())
    }

    /// Retention: erases each conversation that is still there, of its
    /// workspace, and ended before `ended_before`; skips the others.
    pub(super) fn purge(&mut self, requests: &[EraseRequest], ended_before: Timestamp) -> Committed {
        for r in requests {
            let due = self.conversations.get(&r.conversation).is_some_and(|c| {
                c.workspace_id == r.workspace
                    && c.state == ConversationState::Ended
                    && c.ended_at.is_some_and(|t| t < ended_before)
            });
            if due {
                self.wipe(r);
            }
        }
        Vec::new()
    }

    /// Takes an ended conversation out of the batch and plans its erasure.
    fn wipe(&mut self, request: &EraseRequest) {
        let id = request.conversation;
        self.release_wrap_up(id);
        let Some(c) = self.conversations.remove(&id) else { return };
        self.new_conversations.remove(&id);
        self.touched_conversations.remove(&id);
        self.unlink(&c);
        // Nothing of it fires or answers later in the batch.
        self.timers.retain(|k, _| k.conversation_id != id);
        self.plan.set_timers.retain(|t| t.conversation_id != id);
        self.sent.retain(|(c, _), _| *c != id);
        // Its files: every object under its prefix, after commit. The item
        // names no conversation, so the erasure's own delete keeps it.
        let prefix = crate::files::conversation_prefix(c.workspace_id, id);
        let files = self.outbox_item(OutboxId::new(), c.workspace_id, None, Work::DeleteFiles { prefix });
        self.plan.erasures.push(PlannedErasure { request: request.clone(), ended_at: c.ended_at, files });
        self.plan.notices.push(Notice::Erased { conversation: id });
    }

    /// An agent still wrapping the chat up is done with it: its slot frees
    /// and its socket lets the chat go.
    fn release_wrap_up(&mut self, conversation: ConversationId) {
        let Some(task) = self.conversations.get(&conversation).and_then(|c| c.task_id) else { return };
        let Some(t) = self.tasks.get(&task) else { return };
        if !matches!(t.state, TaskState::Assigned | TaskState::WrapUp) {
            return;
        }
        if let Some(agent) = t.agent_id {
            self.plan.notices.push(Notice::Agent { agent, change: AgentChange::Released { conversation } });
        }
        self.complete(task);
    }

    /// Persistent chat: the chat that continued this one starts its history
    /// at itself, and the one this continued may be continued again.
    fn unlink(&mut self, c: &Conversation) {
        if let Some(previous) = c.previous_conversation_id
            && self.conversations.get(&previous).is_some_and(|p| p.next_conversation_id == Some(c.id))
        {
            self.conversation_mut(previous).next_conversation_id = None;
        }
        if let Some(next) = c.next_conversation_id
            && self.conversations.get(&next).is_some_and(|n| n.previous_conversation_id == Some(c.id))
        {
            let n = self.conversation_mut(next);
            n.previous_conversation_id = None;
            n.rehydration = None;
        }
    }
}
